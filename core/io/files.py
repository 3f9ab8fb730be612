"""Files written and read by the project: atomic writes and bounded, checked CSV reading.

Nothing here knows what the files mean; the experiment's readers add their own checks.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

__all__ = ["atomic_write_bytes", "clip", "read_csv_file"]


def clip(text: str, limit: int = 400) -> str:
    """``text`` cut to ``limit`` characters (an ellipsis marks the cut)."""
    text = str(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


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


def read_csv_file(path: str | Path, required: tuple[str, ...] = (), what: str = "table",
                  max_bytes: int = 16 * 2**20) -> pd.DataFrame:
    """A CSV file as a DataFrame, or a ``ValueError`` naming the file and the problem when
    it is a link, not a regular file, larger than ``max_bytes``, not UTF-8, not CSV, or
    lacks a ``required`` column."""
    p = Path(path)
    where = f"{what} {clip(str(p), 300)!r}"
    if p.is_symlink():
        raise ValueError(f"{where} is a symbolic link: not followed")
    try:
        size = p.stat().st_size
        if size > max_bytes:
            raise ValueError(f"{where} is {size} bytes, more than {max_bytes}")
        df = pd.read_csv(p, encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{where} is not UTF-8 text ({clip(str(exc), 120)})") from exc
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise ValueError(f"{where} cannot be read: {clip(str(exc), 200)}") from exc
    missing = set(required) - set(df.columns)
    if missing:
        raise ValueError(f"{where} lacks columns {sorted(missing)}")
    return df
