"""Files written and read by the project: atomic writes and bounded, checked CSV reading.

Nothing here knows what the files mean; the experiment's readers add their own checks.
"""

from __future__ import annotations

import io
import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from .text import clip, safe_text

if TYPE_CHECKING:  # pandas takes a quarter to half a second to import: only read_csv_file
    import pandas as pd  # needs it, and the diagnose command's every process opens files

__all__ = ["atomic_write_bytes", "open_regular", "read_csv_file"]


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically: temporary file, fsync, rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")  # unique per writer process
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def open_regular(path: str | Path, max_bytes: int, what: str = "file", *,
                 fail: Callable[[str], Exception] | None = None) -> tuple[int, int]:
    """Open ``path`` for reading only when it is a regular file (never a link, a FIFO, a
    device or a socket: opened with ``O_NONBLOCK``, so a FIFO cannot block, then checked
    with ``fstat``) of at most ``max_bytes``. Returns ``(fd, size)``; the caller closes
    ``fd``. A refused file raises ``fail(problem)`` (the problem alone, e.g. "a symbolic
    link: not followed"); by default a ``ValueError`` naming the file
    (:func:`core.io.text.safe_text`) and the problem."""
    p = Path(path)
    if fail is None:
        where = f"{what} {clip(safe_text(p), 300)!r}"

        def fail(problem: str) -> Exception:
            return ValueError(f"{where}: {problem}")

    if p.is_symlink():
        raise fail("a symbolic link: not followed")
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(p, flags)
    except OSError as exc:
        raise fail(f"cannot be opened ({exc.strerror or exc})") from exc
    st_ = os.fstat(fd)
    if not stat.S_ISREG(st_.st_mode):
        os.close(fd)
        raise fail("not a regular file (a FIFO, device, socket or folder): not read")
    if st_.st_size > max_bytes:
        os.close(fd)
        raise fail(f"{st_.st_size} bytes, more than {max_bytes}")
    return fd, st_.st_size


def read_csv_file(path: str | Path, required: tuple[str, ...] = (), what: str = "table",
                  max_bytes: int = 16 * 2**20) -> pd.DataFrame:
    """A CSV file as a DataFrame, or a ``ValueError`` naming the file and the problem when
    it is a link, not a regular file (a FIFO is refused, never waited on), larger than
    ``max_bytes``, not UTF-8, not CSV, or lacks a ``required`` column."""
    import pandas as pd

    p = Path(path)
    where = f"{what} {clip(safe_text(p), 300)!r}"
    fd, size = open_regular(p, max_bytes, what)
    try:
        with os.fdopen(fd, "rb") as f:
            data = f.read(size + 1)
        df = pd.read_csv(io.BytesIO(data), encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{where} is not UTF-8 text ({clip(str(exc), 120)})") from exc
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise ValueError(f"{where} cannot be read: {clip(safe_text(exc), 200)}") from exc
    missing = set(required) - set(df.columns)
    if missing:
        raise ValueError(f"{where} lacks columns {sorted(missing)}")
    return df
