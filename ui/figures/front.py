"""Sharpness against checkerboard: every trained variant at epochs 1, 10 and the last, with
the path each takes over training (the gallery's life section and story step 8).

Every point is a measurement of a stored checkpoint (:mod:`core.experiment.front`); the
lines only join a variant's own measurements in epoch order, they are not fitted.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from core.experiment.catalog import PROJECT_ROOT, variant_order
from core.experiment.front import answer, front_points, variant_costs
from core.io.text import escape
from core.maths.metrics import SCORE_UNIT
from core.upsamplers.timing import stored_cost_rows
from ui.common import explain, lazy_section
from ui.figures.regions import variant_colour
from ui.plots import show_plot, show_table

#: The stored upsampler benchmark (``python benchmarks/upsampling.py``).
UPSAMPLING_RESULTS = PROJECT_ROOT / "benchmarks" / "results" / "upsampling.json"
SYMBOLS = {1: "circle-open", 10: "circle", 40: "diamond"}
#: Where each variant's epoch labels sit, in turn: variants that end close together (the
#: epoch-40 points) put their labels on different sides instead of on top of each other.
LABEL_SIDES = ("top center", "bottom center", "middle right", "middle left")


def front_figure(points: pd.DataFrame, title: str) -> go.Figure:
    """PSNR (y, dB) against checkerboard (x, ×10⁻³, log axis): one marker per variant and
    epoch, a line joining each variant's epochs in order, front members ringed in black."""
    fig = go.Figure()
    for i, raw in enumerate(variant_order(sorted(set(points["variant"])))):
        rows = points[points["variant"] == raw].sort_values("epoch")
        colour = variant_colour(raw)
        variant = escape(raw, "plotly")  # a folder name is never live markup
        fig.add_trace(go.Scatter(
            x=rows["score"], y=rows["psnr"], mode="lines+markers+text", name=variant,
            text=[f"{e}" for e in rows["epoch"]], textposition=LABEL_SIDES[i % len(LABEL_SIDES)],
            textfont={"color": colour},
            line={"color": colour, "width": 1.5, "dash": "dot"},
            marker={"color": colour, "size": [16 if f else 10 for f in rows["on_front"]],
                    "symbol": [SYMBOLS.get(int(e), "square") for e in rows["epoch"]],
                    "line": {"color": ["black" if f else colour for f in rows["on_front"]],
                             "width": [3 if f else 1 for f in rows["on_front"]]}},
            customdata=np.stack([rows["epoch"], rows["on_front"].map({True: "on the front",
                                                                     False: "not on the front"})],
                                axis=1),
            hovertemplate=(f"<b>{variant}</b>, epoch %{{customdata[0]}}<br>"
                           "PSNR %{y:.2f} dB (sharper is higher)<br>"
                           f"checkerboard %{{x:.3g}} {SCORE_UNIT} (cleaner is left)<br>"
                           "%{customdata[1]}<extra></extra>"),
        ))
    fig.update_layout(
        title=title, legend={"title": "variant (label: epoch)"},
        xaxis={"title": f"checkerboard score {SCORE_UNIT} (log scale; cleaner to the left)",
               "type": "log"},
        yaxis={"title": "PSNR, dB (sharper is higher)"},
        margin={"l": 10, "r": 10, "t": 60, "b": 10},
    )
    return fig


def stored_benchmark() -> dict | None:
    try:
        return json.loads(UPSAMPLING_RESULTS.read_text())
    except (OSError, ValueError):
        return None


def render_front(histories: pd.DataFrame, *, key: str, epochs: tuple[int, ...] | None = None,
                 which: tuple[str, ...] = ("held-out", "unseen"), compact: bool = False) -> None:
    """The two pictures (held-out and unseen photographs) of ``histories``
    (:func:`ui.catalog.histories`), the computed answer under each, and what each variant
    costs. ``compact`` (the story, presenting: one screen): the first picture with its
    answer beside it; the others and the costs in sections built when opened."""
    if histories is None or histories.empty:
        st.info("No training history in this checkpoint folder: nothing to plot.",
                icon=":material/insights:")
        return
    last = int(histories["epoch"].max())
    epochs = epochs or tuple(dict.fromkeys((1, 10, last)))
    if compact:
        chart, words = st.columns([3, 2], vertical_alignment="center")
        _front_picture(histories, epochs, which[0], key, chart, words, height=370,
                       say=st.markdown)
        for name in which[1:]:
            more = lazy_section(f"The same on the {_photos(name)}", f"{key}-more-{name}")
            with more:
                if more.open:
                    _front_picture(histories, epochs, name, key, st.container(),
                                   st.container(), height=440)
        more = lazy_section("What each costs", f"{key}-more-costs")
        with more:
            if more.open:
                _costs(histories)
        return
    for col, name in zip(st.columns(len(which)), which, strict=True):
        _front_picture(histories, epochs, name, key, col, col, height=460)
    _costs(histories)


def _photos(name: str) -> str:
    return "held-out photographs" if name == "held-out" else "unseen photograph"


def _front_picture(histories: pd.DataFrame, epochs: tuple[int, ...], name: str, key: str,
                   chart, words, *, height: int, say=explain) -> None:
    """One picture (``name``'s photographs) in ``chart``, its computed answer in ``words``
    (by ``say``: :func:`ui.common.explain` folds it away when presenting)."""
    points = front_points(histories, epochs, name)
    if points.empty:
        with chart:
            st.info(f"No {name} measurements stored.", icon=":material/insights:")
        return
    with chart:
        show_plot(front_figure(points, f"Sharpness vs checkerboard, {_photos(name)}"),
                  key=f"{key}-{name}", height=height)
    with words:
        say(" ".join(answer(points, epochs[-1], name).sentences()))


def _costs(histories: pd.DataFrame) -> None:
    bench = stored_benchmark()
    costs = variant_costs(variant_order(sorted(set(histories["variant"]))), bench)
    if not costs.empty:
        _, about = stored_cost_rows(bench)
        when = (f", {about['date']}, {about['cpu_count']} CPU cores, load "
                f"{float(about['load'] or 0):.1f}" if about else "")
        st.markdown("**What each costs** (network parameters; the upsampler's multiply-adds "
                    "and stored forward time at 64 → 32 channels, 128 → 256 px, "
                    f"`benchmarks/upsampling.py`{when})")
        show_table(costs.style.format({"network parameters": "{:,}",
                                       "upsampler MACs (M)": "{:.0f}",
                                       "upsampler forward (ms)": "{:.2g}"}, na_rep="—"))
