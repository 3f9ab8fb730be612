"""What a checkpoint folder holds, and running its models: the pure part (no Streamlit).

* :func:`build_catalog` lists a checkpoint folder (:func:`core.experiment.checkpoints.list_checkpoints`)
  and its manifest into a :class:`Catalog`: the usable checkpoints, the broken files
  with their reasons, and the per-epoch series the training curves draw. Epochs may be
  sparse (0, 1, 2, 3, 5, 7, 10, ...): nothing here assumes consecutive epochs.
* :func:`load_model_fast` and :func:`apply_model` load a checkpoint and run it on one
  image the way the pages do.

The Streamlit caching around these lives in :mod:`ui.catalog`.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from ..io.text import safe_text
from .checkpoints import list_checkpoints, load_model, read_manifest
from .history import HISTORY_NAME, read_histories
from .models import FACTOR, VARIANTS

#: The project folder: paths inside it are shown relative to it.
PROJECT_ROOT = Path(__file__).resolve().parents[2]
#: The command that regenerates the shipped experiment.
REGENERATE = "make experiment"
#: Period of the network's artifact: the product of its two upsampling strides.
PERIOD = FACTOR


#: The training curves: manifest column, title, log scale.
CURVES = (
    ("train_loss", "Training loss (MSE)", True),
    ("val_psnr", "Validation PSNR (dB)", False),
    ("val_ssim", "Validation SSIM", False),
    ("checkerboard", "Checkerboard score", True),
)

Series = dict[str, dict[str, tuple[list[int], list[float]]]]


def shown_path(path: str | Path) -> str:
    """A path as the visitor should read it: relative to the project when inside it."""
    p = Path(path)
    try:
        return str(p.resolve().relative_to(PROJECT_ROOT))
    except ValueError:
        return str(p)


def variant_order(names: Sequence[str]) -> list[str]:
    """Variants in the registry's order (the experiment's), unknown names after."""
    known = [v for v in VARIANTS if v in names]
    return known + sorted(set(names) - set(known))


#: The post's Figure 7 compares networks trained for 10 epochs; the pages open at that
#: epoch when it is stored. Later epochs show how far training hides the artifact (the
#: gallery's "artifacts' life").
POST_EPOCH = 10


@dataclass(frozen=True)
class Catalog:
    """What the checkpoint folder holds.

    table: usable checkpoints (header readable), columns of ``list_checkpoints``.
    broken: files whose header is unreadable (``path``, ``error``).
    curves: per-epoch metrics for the plots: the history (every epoch, stored or not)
        when there is one and it is readable, else the manifest, else ``table``. Epochs
        may be sparse: nothing assumes they are consecutive.
    index: ``(variant, epoch) -> path`` of every usable checkpoint (fast lookups).
    series: ``variant -> metric -> (epochs, values)`` from ``curves``, finite values only.
    """

    root: str
    table: pd.DataFrame
    broken: pd.DataFrame
    curves: pd.DataFrame
    curves_source: str
    manifest_problem: str | None
    index: dict[tuple[str, int], str]
    series: Series

    @property
    def variants(self) -> list[str]:
        return variant_order(sorted({v for v, _ in self.index}))

    def epochs(self, variant: str) -> list[int]:
        return sorted(e for v, e in self.index if v == variant)

    def last_epoch(self, variant: str | None = None) -> int:
        return max((e for v, e in self.index if variant is None or v == variant), default=0)

    def default_epoch(self, variant: str | None = None) -> int:
        """The epoch the pages open at: :data:`POST_EPOCH` (the post's Figure 7 length)
        when it is stored for ``variant`` (any variant when None), else the last one."""
        stored = {e for v, e in self.index if variant is None or v == variant}
        return POST_EPOCH if POST_EPOCH in stored else self.last_epoch(variant)

    def path(self, variant: str, epoch: int) -> str | None:
        return self.index.get((variant, int(epoch)))

    @property
    def empty(self) -> bool:
        return not self.index


def folder_signature(root: Path) -> tuple:
    """(name, mtime, size) of every file the catalog reads: its cache key."""
    if not root.is_dir():
        return ("missing",)
    files = sorted(root.glob("*/epoch_*.safetensors"))
    files += sorted(root.glob(f"*/{HISTORY_NAME}"))
    for name in ("manifest.csv", HISTORY_NAME):
        if (root / name).exists():
            files.append(root / name)
    out = []
    for f in files:
        try:
            s = f.stat()
        except OSError:
            continue
        # safe_text: a name that is not UTF-8 must not crash the cache's hashing
        out.append((safe_text(f.relative_to(root)), s.st_mtime_ns, s.st_size))
    return tuple(out)


def build_catalog(root: str | Path) -> Catalog:
    """The catalog of the checkpoint folder ``root`` (headers only; fast)."""
    root = str(root)
    df = list_checkpoints(root)
    table = df[df["ok"]].reset_index(drop=True)
    broken = df[~df["ok"]][["variant", "epoch", "path", "error"]].reset_index(drop=True)
    problems = []
    curves, source = table, "checkpoint headers"
    if (Path(root) / "manifest.csv").exists():
        try:
            curves, source = read_manifest(root), "manifest.csv"
        except ValueError as err:
            problems.append(str(err))
    elif not table.empty:
        problems.append(f"no manifest.csv in {shown_path(root)!r}; curves are read from the "
                        "checkpoints")
    history, history_problem = read_curves(root)
    if history is not None:
        curves, source = history, HISTORY_NAME
        problems = []
    if history_problem:
        problems.append(history_problem)
    index = {(str(r.variant), int(r.epoch)): str(r.path) for r in table.itertuples()}
    return Catalog(root, table, broken, curves, source, "; ".join(problems) or None, index,
                   series(curves))


def read_curves(root: str | Path) -> tuple[pd.DataFrame | None, str | None]:
    """The per-epoch metrics of every epoch (stored or not) and a problem, if any:
    every ``<root>/<variant>/history.csv`` (:func:`core.experiment.history.read_histories`).
    ``(None, None)`` when there is no history; ``(None, reason)`` when a file is
    unreadable (the caller falls back to the manifest)."""
    frame = read_histories(root)
    problems = frame.attrs.get("problems", [])
    if problems:
        return None, "; ".join(problems)
    return (None, None) if frame.empty else (frame, None)


def series(curves: pd.DataFrame) -> Series:
    """Per variant and metric, the (epochs, values) with a finite value, sorted by epoch."""
    out: Series = {}
    for variant, rows in curves.groupby("variant", sort=False):
        rows = rows.sort_values("epoch")
        out[str(variant)] = {}
        for col, _, _ in CURVES:
            if col not in rows.columns:
                continue
            values = pd.to_numeric(rows[col], errors="coerce").to_numpy(dtype=float)
            keep = np.isfinite(values)
            out[str(variant)][col] = (
                rows["epoch"].to_numpy()[keep].astype(int).tolist(),
                values[keep].tolist(),
            )
    return out


# --------------------------------------------------------------------------- models


def file_stamp(path: str | Path) -> tuple[int, int]:
    """(mtime_ns, size) of a file, (0, 0) if it is gone: part of every cache key."""
    try:
        s = Path(path).stat()
    except OSError:
        return (0, 0)
    return (s.st_mtime_ns, s.st_size)


@contextmanager
def torch_threads(n: int):
    """Run the block with ``n`` intra-op threads in this thread (restored afterwards).

    Loading a checkpoint is hundreds of tiny tensor operations (fp16 -> fp32 casts,
    copies into the fresh model); with a thread pool each one waits for a second
    thread, which on a busy CPU (other visitors, a training run) may not be scheduled
    for milliseconds. Measured on the 2-core machine while training ran: all 77
    shipped checkpoints in 0.3-0.4 s with one thread, 1-8 s with two.
    """
    previous = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def load_model_fast(path: str | Path) -> torch.nn.Module:
    """:func:`core.experiment.checkpoints.load_model` with one thread, gradients off (see above)."""
    with torch_threads(1):
        model = load_model(path)
    for p in model.parameters():
        p.requires_grad_(False)
    return model


def apply_model(model: torch.nn.Module, image: np.ndarray) -> np.ndarray:
    """Run a model on one float (H, W, 3) image in [0, 1]; returns float32 (H, W, 3)."""
    x = torch.from_numpy(np.array(image, dtype=np.float32, copy=True))  # (H, W, 3)
    x = x.permute(2, 0, 1).unsqueeze(0)  # (1, 3, H, W)
    with torch.inference_mode():
        y = model(x)  # (1, 3, H, W)
    out = y[0].permute(1, 2, 0).clamp(0.0, 1.0).numpy()  # (H, W, 3)
    return np.ascontiguousarray(out, dtype=np.float32)


@dataclass(frozen=True)
class Unavailable:
    """Why a checkpoint's output cannot be shown: ``kind`` is ``"missing"`` (no checkpoint
    for that epoch: a gap, not an error) or ``"broken"`` (the file is refused; the pages say
    how to regenerate it). ``message`` is one line for the page."""

    kind: str
    message: str

    def __post_init__(self) -> None:
        if self.kind not in ("missing", "broken"):
            raise ValueError(f"kind must be 'missing' or 'broken', got {self.kind!r}")
