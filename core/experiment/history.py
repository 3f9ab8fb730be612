"""The life of the artifacts: per-epoch metrics of every trained variant.

Training (:mod:`core.train`) evaluates *every* epoch and writes one row per epoch to
``<root>/<variant>/history.csv`` (:data:`HISTORY_COLUMNS`), while only some epochs are
stored as checkpoints. The "artifacts' life" view reads those files through
:func:`read_histories` and reduces them with :func:`checkerboard_ratio`: how many
times more checkerboard a variant carries than the artifact-free reference, epoch by
epoch. That ratio is the post's claim made measurable: the artifacts appear at once
(Figure 5) and, under a pixel loss, the network slowly learns to hide them.

A run without ``history.csv`` files (the first release's experiment, or a folder from
an older version) is read from its checkpoints instead (:func:`history_from_checkpoints`):
the metrics stored in each file's metadata, plus the phase-gain imbalance computed
from its weights.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..io.files import atomic_write_bytes
from ..io.text import clip, escape, is_utf8, plain, safe_text
from .shipped import HISTORY_NAME
from .tables import read_csv_table

#: Columns of ``<variant>/history.csv`` (one row per epoch, stored or not).
HISTORY_COLUMNS = ("epoch", "stored", "train_loss", "val_psnr", "val_ssim", "checkerboard",
                   "contrast", "unseen_psnr", "unseen_ssim", "unseen_checkerboard",
                   "unseen_contrast", "imbalance_up1", "imbalance_up2", "lr",
                   "epoch_seconds", "images_per_s")

#: Columns of HISTORY_COLUMNS that hold numbers (``stored`` is a flag).
NUMBER_COLUMNS = tuple(c for c in HISTORY_COLUMNS if c not in ("epoch", "stored"))


def read_history(path: str | Path) -> list[dict[str, Any]]:
    """Rows of one ``history.csv`` (``[]`` when there is none), checked by
    :func:`core.experiment.tables.read_csv_table` (``ValueError`` naming the file when it is a
    link, not a regular file, too large, not UTF-8 CSV, lacks ``epoch`` or holds an
    impossible epoch) and here: a number column (:data:`NUMBER_COLUMNS`) holding text
    is refused, naming the row and the column. Every column of :data:`HISTORY_COLUMNS`
    the file lacks (an older file without the imbalance) comes back empty (NaN)."""
    p = Path(path)
    if not p.exists() and not p.is_symlink():
        return []
    df = read_csv_table(p, ("epoch",), "history")
    for col in NUMBER_COLUMNS:
        if col not in df.columns:
            df[col] = math.nan
            continue
        raw = df[col]
        values = pd.to_numeric(raw, errors="coerce")
        bad = values.isna() & raw.notna()
        if bad.any():
            i = int(bad.to_numpy().nonzero()[0][0])
            raise ValueError(f"history {clip(safe_text(p), 300)!r}, row {i + 2}: column "
                             f"{col!r} holds {clip(repr(raw.iloc[i]), 40)}, not a number")
        df[col] = values.astype(float)
    if "stored" not in df.columns:
        df["stored"] = False
    return df.to_dict("records")


def history_row(epoch: int, stored: bool, metrics: dict[str, Any]) -> dict[str, Any]:
    """One row of a history: the epoch, whether its checkpoint is stored, and the metrics
    of :data:`HISTORY_COLUMNS` (an evaluation's per-image breakdown is not kept)."""
    return {"epoch": int(epoch), "stored": stored,
            **{k: v for k, v in metrics.items() if k in NUMBER_COLUMNS}}


def write_history(path: str | Path, rows: list[dict[str, Any]]) -> None:
    """Write ``rows`` as a ``history.csv`` (HISTORY_COLUMNS; missing values empty), atomically."""
    df = pd.DataFrame([{c: r.get(c, math.nan) for c in HISTORY_COLUMNS} for r in rows],
                      columns=list(HISTORY_COLUMNS))
    atomic_write_bytes(Path(path), df.to_csv(index=False).encode())


def history_from_checkpoints(root: str | Path, variant: str) -> list[dict[str, Any]]:
    """History rows rebuilt from the stored checkpoints of ``<root>/<variant>``: the
    metrics each readable file's metadata records (a header read), and the imbalance
    computed from its weights only when the metadata lacks it."""
    from .checkpoints import list_checkpoints, load_model, read_metadata
    from .evaluation import upsampler_imbalance

    df = list_checkpoints(root)
    df = df[df["ok"] & (df["variant"] == variant)].sort_values("epoch")
    rows = []
    for _, r in df.iterrows():
        metrics = read_metadata(r["path"]).get("metrics")
        metrics = metrics if isinstance(metrics, dict) else {}
        row = history_row(r["epoch"], True, metrics)
        for c in ("train_loss", "val_psnr", "val_ssim", "checkerboard"):
            if c not in row and c in r and pd.notna(r[c]):
                row[c] = float(r[c])
        if "imbalance_up1" not in row:
            row |= upsampler_imbalance(load_model(r["path"]))
        rows.append(row)
    return rows


def backfill_histories(root: str | Path) -> list[str]:
    """Write ``history.csv`` for every variant folder of ``root`` that has none (from its
    checkpoints); returns the variants written."""
    from .checkpoints import list_checkpoints

    root = Path(root)
    written = []
    df = list_checkpoints(root)
    for variant in sorted(set(df.loc[df["ok"], "variant"])):
        target = root / variant / HISTORY_NAME
        if not target.exists():
            write_history(target, history_from_checkpoints(root, variant))
            written.append(variant)
    return written


def read_histories(root: str | Path) -> pd.DataFrame:
    """Every ``<root>/<variant>/history.csv`` as one frame with a ``variant`` column
    (empty frame with HISTORY_COLUMNS when there is none). Unreadable files are skipped
    and named in ``frame.attrs["problems"]``. Variant folders that are links are not
    followed."""
    root = Path(root)
    frames, problems = [], []
    if root.is_dir() and not root.is_symlink():
        for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.is_symlink()):
            if not is_utf8(folder.name):  # would crash whatever encodes it (a page's cache)
                problems.append(f"folder {safe_text(folder.name)!r} in "
                                f"{clip(safe_text(root), 200)!r}: its name is not UTF-8 "
                                "text; skipped (rename it)")
                continue
            try:
                rows = read_history(folder / HISTORY_NAME)
            except ValueError as exc:
                problems.append(str(exc))
                continue
            if rows:
                frames.append(pd.DataFrame(rows).assign(variant=folder.name))
    if not frames:
        out = pd.DataFrame(columns=["variant", *HISTORY_COLUMNS])
    else:
        out = pd.concat(frames, ignore_index=True)
        out = out.sort_values(["variant", "epoch"]).drop_duplicates(["variant", "epoch"],
                                                                    keep="last")
    out.attrs["problems"] = problems
    return out.reset_index(drop=True)


def checkerboard_ratio(histories: pd.DataFrame, variant: str = "deconv3",
                       reference: str = "resize_nearest",
                       column: str = "checkerboard") -> pd.DataFrame:
    """``variant``'s ``column`` divided by ``reference``'s, at every epoch both have.

    Returns columns ``epoch``, ``variant``, ``reference``, ``ratio`` (NaN where the
    reference is 0 or missing). Epoch 0 (initialisation) is included.
    """
    cols = ["epoch", "variant", "reference", "ratio"]
    if histories.empty or column not in histories.columns:
        return pd.DataFrame(columns=cols)
    a = histories.loc[histories["variant"] == variant, ["epoch", column]]
    b = histories.loc[histories["variant"] == reference, ["epoch", column]]
    merged = a.merge(b, on="epoch", suffixes=("_v", "_r")).sort_values("epoch")
    num = pd.to_numeric(merged[f"{column}_v"], errors="coerce").to_numpy(dtype=float)
    den = pd.to_numeric(merged[f"{column}_r"], errors="coerce").to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(den > 0, num / den, np.nan)
    return pd.DataFrame({"epoch": merged["epoch"].astype(int).to_numpy(), "variant": variant,
                         "reference": reference, "ratio": ratio}, columns=cols)


def summary_table(histories: pd.DataFrame, epochs: list[int] | None = None,
                  reference: str = "resize_nearest") -> pd.DataFrame:
    """One row per (variant, epoch) for ``epochs`` (default: the epochs stored as
    checkpoints): held-out and unseen PSNR, SSIM, checkerboard (×10⁻³), its ratio to
    ``reference`` at the same epoch, and both upsamplers' imbalance."""
    if histories.empty:
        return pd.DataFrame()
    h = histories.copy()
    if epochs is None:
        stored = h["stored"].astype(str).str.lower().isin(("true", "1", "1.0"))
        h = h[stored]
    else:
        h = h[h["epoch"].isin(epochs)]
    ref = histories.loc[histories["variant"] == reference, ["epoch", "checkerboard",
                                                           "unseen_checkerboard"]]
    h = h.merge(ref, on="epoch", how="left", suffixes=("", "_ref"))
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = h["checkerboard"] / h["checkerboard_ref"]
        unseen_ratio = h["unseen_checkerboard"] / h["unseen_checkerboard_ref"]
    out = pd.DataFrame({
        "variant": h["variant"], "epoch": h["epoch"].astype(int),
        "PSNR held-out (dB)": h["val_psnr"].round(2),
        "PSNR unseen (dB)": h["unseen_psnr"].round(2),
        "SSIM held-out": h["val_ssim"].round(3),
        "checkerboard ×10⁻³": (h["checkerboard"] * 1e3).round(3),
        f"÷ {reference}": ratio.round(1),
        f"÷ {reference}, unseen": unseen_ratio.round(1),
        "imbalance up1 / up2": [f"{a:.2f} / {b:.2f}" for a, b in
                                zip(h["imbalance_up1"], h["imbalance_up2"], strict=True)],
    })
    return out.sort_values(["variant", "epoch"]).reset_index(drop=True)


def main(argv: list[str] | None = None) -> int:
    """``python -m core.history ROOT [--epochs 1 10 40]``: the summary table as Markdown."""
    import argparse

    p = argparse.ArgumentParser(prog="python -m core.history", description=main.__doc__)
    p.add_argument("root", nargs="?", default="checkpoints")
    p.add_argument("--epochs", type=int, nargs="+", default=None,
                   help="epochs to list (default: the stored ones)")
    p.add_argument("--backfill", action="store_true",
                   help="first write history.csv for variants that have none (from checkpoints)")
    a = p.parse_args(argv)
    try:
        if a.backfill:
            backfill_histories(a.root)
        histories = read_histories(a.root)
    except (OSError, ValueError) as exc:  # an unreadable folder, a refused checkpoint
        print(f"error: {plain(exc)}", file=sys.stderr)
        return 2
    for problem in histories.attrs.get("problems", []):
        print(f"skipped: {plain(problem)}", file=sys.stderr)
    table = summary_table(histories, a.epochs)
    if table.empty and not histories.empty:
        epochs = sorted(int(e) for e in histories["epoch"].dropna().unique())
        print(f"no stored epoch among --epochs {' '.join(map(str, a.epochs or []))}: the "
              f"histories under {plain(repr(a.root))} hold epochs {epochs[0]} to {epochs[-1]}"
              if a.epochs and epochs else
              f"no stored epoch in the histories under {plain(repr(a.root))}")
        return 1
    if table.empty:
        print(f"no readable history.csv under {plain(repr(a.root))}")
        return 1
    print(markdown_table(table))
    return 0


def markdown_table(df: pd.DataFrame) -> str:
    """``df`` as a GitHub Markdown table (NaN as an em dash)."""
    def cell(v, outside: bool = False) -> str:
        if isinstance(v, float) and not np.isfinite(v):
            return "—"
        if outside:  # a folder name: no link, HTML or mention can form
            return escape(v, "markdown")
        return plain(v).replace("|", "\\|")  # a cell cannot end the row or the line

    names = [c in ("variant", "reference") for c in df.columns]
    lines = ["| " + " | ".join(map(cell, df.columns)) + " |",
             "|" + "---|" * len(df.columns)]
    lines += ["| " + " | ".join(cell(v, o) for v, o in zip(row, names, strict=True)) + " |"
              for row in df.itertuples(index=False)]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
