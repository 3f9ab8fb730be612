"""One training per output folder at a time: the run folder's lock.

``python -m core.train --output DIR`` holds an exclusive ``fcntl.flock`` on
``DIR/.train.lock`` (:data:`LOCK_NAME`) for as long as it writes there. The lock
belongs to the open file, so the kernel drops it when the process ends in any way
(``kill -9`` included): a dead training never holds a folder, and no stale pid file
needs cleaning. A second training on the same folder, started a millisecond or an hour
later, is refused at once (:class:`RunFolderBusy`, exit status 2) with the pid of the one
that holds it.

``--jobs N`` trains each variant in a child process: the parent holds the lock and hands
its children the folder in :data:`HELD_ENV`, so they write under its lock.
"""

from __future__ import annotations

import fcntl
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..io.text import safe_text

LOCK_NAME = ".train.lock"
#: Set by a parent that holds the lock of this (resolved) output folder for its children.
HELD_ENV = "CHECKERBOARD_RUN_LOCK_HELD"


class RunFolderError(ValueError):
    """The output folder cannot hold a training (not a folder, not writable)."""


class RunFolderBusy(RunFolderError):
    """Another training is writing to this output folder."""


def _holder(fd: int) -> str:
    try:
        text = os.pread(fd, 64, 0).decode("ascii", "replace").strip()
    except OSError:
        return ""
    return text if text.isdigit() else ""


@contextmanager
def run_lock(output: str | Path) -> Iterator[None]:
    """Hold ``output``'s training lock for the block (the folder is created if needed);
    :class:`RunFolderBusy` at once when another process holds it. Does nothing when this
    process's parent already holds it (:data:`HELD_ENV`)."""
    out = Path(output)
    if os.environ.get(HELD_ENV) and os.environ[HELD_ENV] == str(out.resolve()):
        yield
        return
    check_output_folder(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RunFolderError(f"--output {safe_text(out)!r} cannot be created "
                             f"({exc.strerror or exc})") from exc
    path = out / LOCK_NAME
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0)
                     | getattr(os, "O_NONBLOCK", 0), 0o644)
    except OSError as exc:
        raise RunFolderBusy(f"cannot open the lock file {safe_text(path)!r} "
                            f"({exc.strerror or exc})") from exc
    if not stat.S_ISREG(os.fstat(fd).st_mode):  # a FIFO or device named .train.lock
        os.close(fd)
        raise RunFolderError(f"the lock file {safe_text(path)!r} is not a regular file: "
                             "remove it, or choose another --output")
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        pid = _holder(fd)
        os.close(fd)
        raise RunFolderBusy(
            f"another training{f' (pid {pid})' if pid else ''} is writing to "
            f"{safe_text(out)!r}; wait for it to end, or choose another --output") from None
    try:
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        except OSError as exc:
            raise RunFolderError(f"the lock file {safe_text(path)!r} cannot be written "
                                 f"({exc.strerror or exc})") from exc
        yield
    finally:
        os.close(fd)  # releases the lock; the file stays (removing it would race)


def check_output_folder(output: str | Path) -> None:
    """Refuse (:class:`RunFolderError`, one line) an ``--output`` that cannot be a training
    folder, before anything is written: an existing file or other non-folder, or a path
    whose nearest existing parent is not a writable folder (``/proc/x``)."""
    out = Path(output)
    if out.exists() or out.is_symlink():
        if not out.is_dir():
            raise RunFolderError(f"--output {safe_text(out)!r} exists and is not a folder: "
                                 "choose a folder")
        if not os.access(out, os.W_OK | os.X_OK):
            raise RunFolderError(f"--output {safe_text(out)!r} is not writable")
        return
    parent = out.absolute().parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK) \
            or str(parent).startswith(("/proc", "/sys")):
        raise RunFolderError(f"--output {safe_text(out)!r} cannot be created: "
                             f"{safe_text(parent)!r} is not a writable folder")


def held_env(output: str | Path) -> dict[str, str]:
    """The environment entry that tells child processes the lock of ``output`` is held."""
    return {HELD_ENV: str(Path(output).resolve())}
