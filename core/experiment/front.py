"""What to use, answered with the experiment's data: sharpness against checkerboard.

Every trained variant at a few epochs (1, the post's 10, the last) is one point: its PSNR
(sharpness, dB, higher is better) and its reference-free checkerboard score (×10⁻³, lower
is better), on the held-out photographs and on the unseen one. A variant is **on the
front** at an epoch when no other variant is both sharper and cleaner there (Pareto
optimal). Every number comes from the stored ``history.csv`` files
(:func:`core.experiment.history.read_histories`); nothing is smoothed or fitted.

:func:`answer` turns the points into the sentences the story, the gallery and the README
show ("which variants are on the front", "what the post's recommendation costs"), so the
words are computed from the data they describe.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..maths.metrics import SCORE_SCALE
from .shipped import DECONV, HISTORY_NAME, KEEP_CAPACITY, POST_FIX, QUOTED, SHIPPED

__all__ = ["SETS", "SHIPPED", "Answer", "answer", "computed_remedy_lines", "front_points",
           "on_front", "points_at", "variant_costs"]

#: (label, PSNR column, checkerboard column) of the two photograph sets.
SETS = {
    "held-out": ("val_psnr", "checkerboard"),
    "unseen": ("unseen_psnr", "unseen_checkerboard"),
}
#: The post's recommendation (POST_FIX) and the layer it replaces (DECONV); KEEP_CAPACITY:
#: variants whose upsampler is a transposed convolution followed by a fixed smoothing, or a
#: sub-pixel convolution followed by one: the remedies that keep the learned upsampler
#: (all three in :mod:`core.experiment.shipped`).


def front_points(histories: pd.DataFrame, epochs: tuple[int, ...] = (1, 10, 40),
                 which: str = "held-out") -> pd.DataFrame:
    """One row per (variant, epoch) at ``epochs`` (those the variant has): ``variant``,
    ``epoch``, ``psnr`` (dB), ``score`` (checkerboard ×10⁻³) and ``on_front`` (no other
    variant at that epoch is both sharper and cleaner). ``which`` is a key of :data:`SETS`.
    Rows with a missing or non-finite value are left out."""
    if which not in SETS:
        raise ValueError(f"which must be one of {sorted(SETS)}, got {which!r}")
    psnr_col, score_col = SETS[which]
    cols = ["variant", "epoch", "psnr", "score", "on_front"]
    if histories.empty or not {psnr_col, score_col, "epoch", "variant"} <= set(histories):
        return pd.DataFrame(columns=cols)
    df = histories[histories["epoch"].isin(epochs)].copy()
    df["psnr"] = pd.to_numeric(df[psnr_col], errors="coerce")
    df["score"] = pd.to_numeric(df[score_col], errors="coerce") * SCORE_SCALE
    df = df[np.isfinite(df["psnr"]) & np.isfinite(df["score"])]
    df = df[["variant", "epoch", "psnr", "score"]].astype({"epoch": int})
    df["on_front"] = False
    for _, group in df.groupby("epoch"):
        flags = on_front(group["psnr"].to_numpy(), group["score"].to_numpy())
        df.loc[group.index, "on_front"] = flags
    return df.sort_values(["epoch", "variant"]).reset_index(drop=True)[cols]


def on_front(psnr: np.ndarray, score: np.ndarray) -> np.ndarray:
    """For each point, whether no other point is at least as sharp and at least as clean
    and strictly better in one of the two (the Pareto front of max PSNR, min score)."""
    psnr, score = np.asarray(psnr, dtype=float), np.asarray(score, dtype=float)
    flags = np.ones(len(psnr), dtype=bool)
    for i in range(len(psnr)):
        better = (psnr >= psnr[i]) & (score <= score[i]) & ((psnr > psnr[i]) | (score < score[i]))
        flags[i] = not better.any()
    return flags


def points_at(points: pd.DataFrame, epoch: int) -> dict[str, tuple[float, float]]:
    """``variant -> (psnr, score)`` at ``epoch``."""
    rows = points[points["epoch"] == epoch]
    return {r.variant: (float(r.psnr), float(r.score)) for r in rows.itertuples()}


@dataclass(frozen=True)
class Answer:
    """The data's answer at one epoch: the front, the post's cost, the favoured remedy."""

    epoch: int
    which: str
    front: tuple[str, ...]
    #: PSNR the post's fix gives up against deconv3 (dB; positive = the fix is blurrier).
    post_cost_db: float
    #: The post's fix's checkerboard as a share of deconv3's.
    post_score_ratio: float
    #: The remedy the data favours (the sharpest of :data:`KEEP_CAPACITY` and the post's
    #: fix whose checkerboard is at most the post's fix's), or None.
    favoured: str | None
    favoured_psnr_gain_db: float  # against the post's fix
    favoured_score_ratio: float  # its checkerboard / the post's fix's

    def sentences(self) -> list[str]:
        """The answer in words, every number from the data."""
        where = "the held-out photographs" if self.which == "held-out" else "the unseen photograph"
        out = [f"At epoch {self.epoch}, on {where}, no variant is both sharper and cleaner "
               f"than {_names(self.front)}: they are the front."]
        if math.isfinite(self.post_cost_db):
            trade = "gives up" if self.post_cost_db >= 0 else "gains"
            out.append(f"The post's fix (`{POST_FIX}`) {trade} {abs(self.post_cost_db):.1f} dB "
                       f"of PSNR against `{DECONV}` and has "
                       f"{_times(self.post_score_ratio)} checkerboard.")
        if self.favoured is not None:
            clean = "at least as clean as" if self.favoured_score_ratio <= 1.0001 else \
                "closest in cleanness to"
            out.append(f"Of the remedies that keep a learned upsampler and add a fixed "
                       f"smoothing, `{self.favoured}` is the sharpest {clean} the post's fix: "
                       f"{self.favoured_psnr_gain_db:+.1f} dB against it, with "
                       f"{_times(self.favoured_score_ratio)} checkerboard.")
        return out


def _names(names: tuple[str, ...]) -> str:
    quoted = [f"`{n}`" for n in names]
    if len(quoted) <= 1:
        return "".join(quoted) or "none"
    return ", ".join(quoted[:-1]) + " and " + quoted[-1]


def _times(ratio: float) -> str:
    """``0.52`` -> "1.9 times less"; ``1.3`` -> "1.3 times more"; 1 -> "as much"."""
    if not math.isfinite(ratio) or ratio <= 0:
        return "an unmeasured amount of"
    if abs(ratio - 1) < 0.05:
        return "about as much"
    return f"{1 / ratio:.2g} times less" if ratio < 1 else f"{ratio:.2g} times more"


def answer(points: pd.DataFrame, epoch: int, which: str = "held-out") -> Answer:
    """:class:`Answer` at ``epoch`` from :func:`front_points` rows (of set ``which``)."""
    at = points_at(points, epoch)
    front = tuple(sorted(points[(points["epoch"] == epoch) & points["on_front"]]["variant"]))
    nan = float("nan")
    post, deconv = at.get(POST_FIX), at.get(DECONV)
    cost = deconv[0] - post[0] if post and deconv else nan
    ratio = post[1] / deconv[1] if post and deconv and deconv[1] > 0 else nan
    favoured, gain, fav_ratio = None, nan, nan
    if post:
        candidates = [(v, p, s) for v, (p, s) in at.items()
                      if v in KEEP_CAPACITY and s <= post[1] * 1.0001]
        if not candidates:  # none as clean: the cleanest of them
            candidates = sorted(((v, p, s) for v, (p, s) in at.items() if v in KEEP_CAPACITY),
                                key=lambda t: t[2])[:1]
        if candidates:
            favoured, p, s = max(candidates, key=lambda t: t[1])
            gain = p - post[0]
            fav_ratio = s / post[1] if post[1] > 0 else nan
    return Answer(epoch, which, front, cost, ratio, favoured, gain, fav_ratio)


#: The stored upsampler benchmark's row (``benchmarks/upsampling.py``) of each variant's
#: upsampler: the layer its network is built with.
BENCH_ROW = {"deconv3": "deconv k3", "deconv3_small_last": "deconv k3", "deconv4": "deconv k4",
             "resize_nearest": "fused_resize", "resize_bilinear": "resize_bilinear",
             "subpixel": "subpixel", "subpixel_icnr": "subpixel", "deconv_zoh": "deconv_zoh",
             "deconv_foh": "deconv_foh", "subpixel_icnr_blur": "subpixel_icnr_blur"}


def variant_costs(variants: list[str], benchmark: dict | None) -> pd.DataFrame:
    """What each variant costs: the whole network's parameters, and its upsampler's
    multiply-adds and measured forward time at the stored benchmark's first shape
    (``benchmark`` is ``benchmarks/results/upsampling.json`` as a dict; times are NaN when
    it is missing or lacks the layer). ``resize_nearest`` trains and runs through the fused
    layer (the same function), so its time is ``fused_resize``'s."""
    from ..upsamplers.registry import count_macs, count_parameters, make_upsampler
    from .models import VARIANTS, build_model

    rows = [r for r in (benchmark or {}).get("rows", []) if isinstance(r, dict)]
    shape = rows[0].get("shape") if rows else None
    timed = {r.get("upsampler"): r for r in rows if r.get("shape") == shape}  # by label
    c_in, c_out, size = ((shape["C_in"], shape["C_out"], shape["H"]) if shape else (64, 32, 128))
    out = []
    for v in variants:
        if v not in VARIANTS:
            continue
        cfg = VARIANTS[v]
        layer = make_upsampler(cfg.upsampler, c_in, c_out, kernel_size=cfg.up_kernel)
        row = timed.get(BENCH_ROW.get(v, ""), {})
        out.append({"variant": v, "network parameters": count_parameters(build_model(v)),
                    "upsampler MACs (M)": count_macs(layer, size, size) / 1e6,
                    "upsampler forward (ms)": float(row.get("forward_ms", float("nan")))})
    return pd.DataFrame(out).set_index("variant") if out else pd.DataFrame()


def computed_remedy_lines(root: str | None = None) -> tuple[str, ...]:
    """Comment lines for the audit's fix code, computed from ``root``'s histories (default:
    the shipped ones): what the experiment measured for the post's fix and the remedies at
    its last epoch and at the post's epoch 10 (held-out photographs), and the remedy the
    data favours (:func:`answer`). Empty when the histories are missing or unreadable: the
    audit then quotes nothing. The audit reads them through
    :func:`core.experiment.remedies.remedy_lines` (stored lines while current)."""
    # the few history files, by core.experiment.history.read_history (torch-free: an
    # ONNX-only audit must not import torch); an unreadable one is left out
    from .history import read_history

    frames = []
    for variant in QUOTED:
        try:
            rows = read_history(Path(root or SHIPPED) / variant / HISTORY_NAME)
        except (OSError, ValueError):
            continue
        if rows:
            frames.append(pd.DataFrame(rows).assign(variant=variant))
    if not frames:
        return ()
    hist = pd.concat(frames, ignore_index=True)
    last = int(hist["epoch"].max())
    epochs = tuple(dict.fromkeys((10, last)))
    points = front_points(hist, epochs, "held-out")
    final = answer(points, last)
    if final.favoured is None:
        return ()
    lines = ["# Measured in this lab's shipped experiment (held-out photographs; PSNR, dB /"
             " checkerboard, x1e-3; `python -m core.history checkpoints`):"]
    for variant in QUOTED:
        cells = []
        for epoch in epochs:
            at = points_at(points, epoch).get(variant)
            if at:
                cells.append(f"epoch {epoch}: {at[0]:.1f} dB / {at[1]:.2f}")
        if cells:
            lines.append(f"#   {variant:<20} " + ", ".join(cells))
    lines.append(f"# The data favours `{final.favoured}` among the remedies that keep a learned "
                 f"upsampler: {final.favoured_psnr_gain_db:+.1f} dB against {POST_FIX} at epoch "
                 f"{last}, with {_times(final.favoured_score_ratio)} checkerboard.")
    return tuple(lines)
