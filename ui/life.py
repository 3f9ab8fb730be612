"""The artifacts' life: how much more checkerboard ``deconv3`` carries than
``resize_nearest``, at every epoch, and whether its layers learn balanced phases.

Reads the per-epoch histories (:mod:`core.experiment.history`) of the shipped experiment and of
the first release's small model (``checkpoints/small``); every number is measured by
training on the stored weights, none is drawn by hand.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from core.experiment.catalog import variant_order
from core.experiment.history import checkerboard_ratio
from core.io.text import escape, md_escape
from core.maths.metrics import SCORE_UNIT
from ui.catalog import histories
from ui.common import explain
from ui.figures.front import render_front
from ui.figures.regions import variant_colour
from ui.plots import show_plot

VARIANT, REFERENCE = "deconv3", "resize_nearest"
SMALL = "small"  # the first release's experiment, inside the checkpoint folder


def ratio_figure(lines: dict[str, pd.DataFrame]) -> go.Figure:
    """One line per labelled ratio frame (:func:`core.experiment.history.checkerboard_ratio`), log y."""
    fig = go.Figure()
    styles = (("#1f77b4", "solid"), ("#ff7f0e", "dot"), ("#7f7f7f", "dash"))
    top = 1.0
    for i, (raw, df) in enumerate(lines.items()):
        label = escape(raw, "plotly")  # a folder name is never live markup
        df = df[(df["epoch"] >= 1) & np.isfinite(df["ratio"])]
        top = max(top, float(df["ratio"].max()) if len(df) else 1.0)
        colour, dash = styles[i % len(styles)]
        fig.add_trace(go.Scatter(
            x=df["epoch"], y=df["ratio"], mode="lines+markers", name=label,
            line={"dash": dash, "width": 3, "color": colour}, marker={"color": colour},
            hovertemplate=f"{label}<br>epoch %{{x}}: {VARIANT} has %{{y:.1f}}x the "
                          f"checkerboard of {REFERENCE}<extra></extra>"))
    # the label as an annotation on the line itself (y = 1 on the log axis is 0 in its
    # coordinates; add_hline's own annotation was placed near 8x)
    fig.add_hline(y=1, line={"color": "grey", "dash": "dash"})
    fig.add_annotation(x=1, xref="x domain", y=0, yref="y", text="equal (no extra checkerboard)",
                       showarrow=False, xanchor="right", yanchor="bottom")
    fig.update_layout(
        title=f"Checkerboard of {VARIANT} ÷ checkerboard of {REFERENCE}, epoch by epoch",
        xaxis_title="epoch", yaxis_title="ratio (log scale)", hovermode="closest",
        legend={"orientation": "h", "y": -0.25}, margin={"t": 60})
    ticks = [t for t in (0.5, 1, 2, 3, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000)
             if t <= top * 1.5]
    fig.update_yaxes(type="log", tickvals=ticks, ticktext=[f"{t:g}x" for t in ticks])
    return fig


def imbalance_figure(frames: dict[str, pd.DataFrame]) -> go.Figure:
    """Phase-gain imbalance of each upsampling layer per epoch (0 = a constant input gives
    a constant output)."""
    fig = go.Figure()
    for raw, df in frames.items():
        variant = raw.split(" ")[0]
        colour = variant_colour(variant) if "first release" not in raw else "#7f7f7f"
        label = escape(raw, "plotly")  # a folder name is never live markup
        for col, layer, dash in (("imbalance_up1", "first upsampler", "solid"),
                                 ("imbalance_up2", "second upsampler", "dot")):
            if col not in df.columns:
                continue
            d = df[["epoch", col]].dropna()
            fig.add_trace(go.Scatter(
                x=d["epoch"], y=d[col], mode="lines+markers", name=f"{label}: {layer}",
                line={"dash": dash, "width": 3, "color": colour}, marker={"color": colour},
                hovertemplate=f"{label}, {layer}<br>epoch %{{x}}: imbalance %{{y:.3f}}"
                              "<extra></extra>"))
    fig.update_layout(
        title="Phase-gain imbalance of the trained upsampling layers",
        xaxis_title="epoch", yaxis_title="imbalance (0 = balanced phases)",
        legend={"orientation": "h", "y": -0.25}, margin={"t": 60})
    fig.update_yaxes(rangemode="tozero")
    return fig


def _at(df: pd.DataFrame, epoch: int) -> float | None:
    row = df[df["epoch"] == epoch]
    return float(row["ratio"].iloc[0]) if len(row) and np.isfinite(row["ratio"].iloc[0]) \
        else None


def summary_text(full: pd.DataFrame, last_epoch: int, hist: pd.DataFrame) -> str:
    """What the data says, in words, computed from it (no hand-written numbers)."""
    parts = []
    picks = [e for e in (1, 5, 10, 20, last_epoch) if _at(full, e) is not None]
    picks = list(dict.fromkeys(picks))
    if picks:
        said = ", ".join(f"**{_at(full, e):.1f}x** at epoch {e}" for e in picks)
        parts.append(f"On the held-out photographs `{VARIANT}` carries {said} the "
                     f"checkerboard of `{REFERENCE}`.")
        first, last = _at(full, picks[0]), _at(full, picks[-1])
        if first and last and last < first / 2:
            rest = ("though not all" if last > 1.5 else
                    f"until at epoch {picks[-1]} it is about `{REFERENCE}`'s level")
            parts.append("The artifact is there from the first epoch, as the post says, "
                         "and then shrinks: under a pixel loss the network learns to hide "
                         f"most of it ({first:.1f}x → {last:.1f}x), {rest}.")
        elif first and last:
            parts.append("The artifact is there from the first epoch and stays: training "
                         f"does not remove it ({first:.1f}x → {last:.1f}x).")
    d = hist[hist["variant"] == VARIANT].sort_values("epoch")
    if len(d) >= 2 and "imbalance_up1" in d:
        a, b = float(d["imbalance_up1"].iloc[0]), float(d["imbalance_up1"].iloc[-1])
        if np.isfinite(a) and np.isfinite(b) and a > 0:
            change = (a - b) / a
            how = ("barely changes" if abs(change) < 0.25 else
                   "falls" if change > 0 else "grows")
            parts.append(
                f"The phase-gain imbalance of its first transposed convolution {how} "
                f"({a:.2f} at initialisation, {b:.2f} at epoch {int(d['epoch'].iloc[-1])})"
                + (": the layer itself stays uneven, so the compensation happens in the "
                   "layers after it (the 9x9 last convolution smooths the pattern away)."
                   if how == "barely changes" else "."))
    return " ".join(parts)


def render_choice(root: Path) -> None:
    """The section "What should I use?": every trained variant's sharpness against its
    checkerboard (the front), from the stored histories."""
    hist = histories(root)
    for problem in hist.attrs.get("problems", []):
        st.warning(md_escape(problem))  # names of files and folders: text, not Markdown
    explain("Each point is one stored epoch of one trained variant (epochs 1, 10 and the last; "
            "the label is the epoch), measured on photographs it never saw; the dotted line "
            "joins a variant's own points in epoch order. Up is sharper, left is cleaner; a "
            "black ring marks the front: no other variant is both sharper and cleaner there.")
    render_front(hist, key="life-front")


def render_life(root: Path) -> None:
    """The section: ratio over every epoch (full-strength and small model), imbalance."""
    st.subheader("The artifacts' life")
    hist = histories(root)
    small = histories(root / SMALL) if (root / SMALL).is_dir() else pd.DataFrame()
    for problem in hist.attrs.get("problems", []) + small.attrs.get("problems", []):
        st.warning(md_escape(problem))  # names of files and folders: text, not Markdown
    full = checkerboard_ratio(hist, VARIANT, REFERENCE)
    if full.empty:
        st.info(f"This checkpoint folder has no per-epoch history of both `{VARIANT}` and "
                f"`{REFERENCE}` (`<variant>/history.csv`, written by `python -m core.train`).")
        return
    lines = {"this experiment, held-out photographs": full}
    unseen = checkerboard_ratio(hist, VARIANT, REFERENCE, column="unseen_checkerboard")
    if not unseen.empty and np.isfinite(unseen["ratio"]).any():
        lines["this experiment, detailed unseen photograph"] = unseen
    small_ratio = checkerboard_ratio(small, VARIANT, REFERENCE) if not small.empty else None
    if small_ratio is not None and not small_ratio.empty:
        lines["first release (small model, 10 epochs)"] = small_ratio
    last = int(full["epoch"].max())
    explain(
        "Every epoch of training was measured (not only the stored ones): the checkerboard "
        f"score of each model on photographs it never saw (shown elsewhere in {SCORE_UNIT}; "
        f"a ratio has no unit), and the ratio of `{VARIANT}`'s to `{REFERENCE}`'s. Epoch 0 (random "
        "initialisation) is left out: there the resize model's output is nearly flat and "
        "the ratio is meaningless."
    )
    show_plot(ratio_figure(lines), key="life-ratio", height=420)
    st.markdown(summary_text(full, last, hist))
    frames = {}
    for variant in variant_order(sorted(set(hist["variant"]))):
        d = hist[hist["variant"] == variant]
        values = d[["imbalance_up1", "imbalance_up2"]].to_numpy(dtype=float)
        if np.nanmax(np.abs(values), initial=0.0) > 1e-6:  # resize layers: 0 throughout
            frames[f"{variant} (this experiment)"] = d
    if not small.empty:
        frames[f"{VARIANT} (first release)"] = small[small["variant"] == VARIANT]
    show_plot(imbalance_figure(frames), key="life-imbalance", height=380)
    explain(
        "Imbalance: for each output phase of a stride-2 layer, the sum of the kernel taps "
        "that reach it (its gain on a constant input), spread across the four phases "
        "relative to their size (`core.maths.metrics.gain_imbalance`). Zero means a constant "
        "input gives a constant output, the condition for a checkerboard-free upsampler "
        "(Sugawara et al. 2019). The resize-convolution variants are zero at every epoch by "
        "construction and are not drawn. A 4x4 transposed convolution overlaps evenly, "
        "yet its learnt phases need not be balanced."
    )
