"""The experiment's CSV tables (manifest, history) read and checked, without torch.

What a row may hold is bounded here (:data:`MAX_EPOCH`, :data:`VARIANT_RE`), so the
history readers and an ONNX-only audit (which quotes the shipped histories) need not
import the checkpoint loader, and torch with it. :mod:`core.experiment.checkpoints`
uses the same bounds for the files' metadata.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..io.files import read_csv_file
from ..io.text import clip, safe_text

#: Largest epoch number taken seriously (the experiments store tens).
MAX_EPOCH = 10_000
#: Largest manifest / history CSV read.
MAX_CSV_BYTES = 16 * 2**20
#: What a variant name may look like (it is a folder name).
VARIANT_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def show_value(value: Any) -> str:
    """A short repr of an untrusted value for a message (a numpy number as the number:
    ``-1``, not ``np.int64(-1)``)."""
    if isinstance(value, np.generic):
        value = value.item()
    return clip(repr(value), 40)


def read_csv_table(path: str | Path, required: tuple[str, ...] = ("variant", "epoch"),
                   what: str = "table") -> pd.DataFrame:
    """A CSV written by this project (manifest, history), checked: ``ValueError`` naming
    the file and the problem when it is a link, too large, not UTF-8, not CSV, lacks a
    ``required`` column, or has a row whose ``epoch`` is not an integer in 0..MAX_EPOCH
    or whose ``variant`` is not a variant name. ``epoch`` comes back as int."""
    p = Path(path)
    where = f"{what} {clip(safe_text(p), 300)!r}"
    df = read_csv_file(p, required, what, MAX_CSV_BYTES)
    if "epoch" in df.columns:
        epochs = pd.to_numeric(df["epoch"], errors="coerce")
        bad = ~(epochs.notna() & (epochs == epochs.round()) & (epochs >= 0)
                & (epochs <= MAX_EPOCH))
        if bad.any():
            i = int(bad.to_numpy().nonzero()[0][0])
            raise ValueError(f"{where}, row {i + 2}: epoch {show_value(df['epoch'].iloc[i])} "
                             f"is not an integer from 0 to {MAX_EPOCH}")
        df["epoch"] = epochs.astype(int)
    if "variant" in df.columns:
        ok = df["variant"].map(lambda v: isinstance(v, str) and bool(VARIANT_RE.match(v)))
        if not ok.all():
            i = int((~ok).to_numpy().nonzero()[0][0])
            raise ValueError(f"{where}, row {i + 2}: variant "
                             f"{show_value(df['variant'].iloc[i])} is not a variant name")
    return df
