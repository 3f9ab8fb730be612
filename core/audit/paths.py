"""Output paths that must not be any file the run reads or imports.

``python -m core.audit --json/--html/--markdown FILE`` (and any later report flag) writes
after the audit; :func:`check_output_paths` is the one check before every write: an
output may not be the model, its external data files, the weights, the probe image,
the module's source or any file of a module this process imported (the user's package
included), nor another output. Files are compared by identity (device and inode), so a
symbolic link, a hard link or another spelling of the same path is seen.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

from .limits import AuditError

__all__ = ["check_output_paths", "imported_files"]

PathLike = str | os.PathLike


def _identity(path: PathLike) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None
    return st.st_dev, st.st_ino


def imported_files() -> list[str]:
    """The file of every module imported in this process (``--module``'s package, its
    dependencies): none of them may be overwritten by a report."""
    files = []
    for module in list(sys.modules.values()):
        name = getattr(module, "__file__", None)
        if isinstance(name, str):
            files.append(name)
    return files


def _paths(value) -> list[PathLike]:
    if value is None or value == "":
        return []
    if isinstance(value, (str, os.PathLike)):
        return [value]
    if isinstance(value, Iterable):
        return [v for v in value if v]
    return []


def check_output_paths(outputs: Mapping[str, PathLike | None],
                       inputs: Mapping[str, PathLike | Iterable[PathLike] | None]) -> None:
    """Refuse (:class:`AuditError`, one line) an output path that is an input or another
    output. ``outputs``: ``{flag: path or None}`` (``{"--json": "r.json"}``); ``inputs``:
    ``{what: path, paths or None}`` (``{"model": "m.onnx", "external data file":
    [...]}``). Existing files are compared by device and inode; paths that do not exist
    yet by their resolved spelling (two outputs naming one new file)."""
    named = [(flag, Path(path)) for flag, path in outputs.items() if path]
    if not named:
        return
    sources: dict[tuple[int, int], str] = {}
    for what, value in inputs.items():
        for path in _paths(value):
            ident = _identity(path)
            if ident is not None:
                sources.setdefault(ident, what)
    seen: dict[object, str] = {}
    for flag, out in named:
        ident = _identity(out)
        if ident is not None and ident in sources:
            raise AuditError(f"{flag} {out} would overwrite the {sources[ident]}: "
                             "write the report elsewhere")
        key = ident if ident is not None else str(out.resolve())
        if key in seen:
            raise AuditError(f"{seen[key]} and {flag} both write {out}")
        seen[key] = flag
