"""Figures of many panels on one scale: pixel grids, phase patterns and phase gains (the layer lab, Compare, the audit and the story use them)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from core.maths.metrics import (
    SCORE_SCALE,
    SCORE_UNIT,
)
from ui.plots import colorscale


def _tick_step(n: int) -> int:
    """Axis tick spacing for an n-cell side: every cell up to 8, about 8 ticks beyond."""
    return 1 if n <= 8 else max(1, n // 8)


def shared_grid_figure(panels: Sequence[tuple[str, np.ndarray, np.ndarray | None]], *,
                       axis: str, bar_title: str, hover: str,
                       per_row: int | None = None) -> go.Figure:
    """Small square grids side by side on ONE diverging colour scale centred on zero,
    with its colour bar: ``panels`` is ``(name, values, text or None)``; the strongest
    panel sets the limit, so a flat panel reads flat. Tick labels on the outer panels
    only; about 8 ticks a side at most."""
    from plotly.subplots import make_subplots

    n = len(panels)
    per_row = max(1, min(per_row or n, n))
    rows = -(-n // per_row)
    lim = max((float(np.nanmax(np.abs(z))) for _, z, _ in panels if np.size(z)),
              default=0.0) or 1.0
    fig = make_subplots(rows=rows, cols=per_row, subplot_titles=[name for name, _, _ in panels],
                        horizontal_spacing=0.04, vertical_spacing=0.14 if rows > 1 else 0.0)
    for i, (name, z, text) in enumerate(panels):
        p = z.shape[0]
        r, c = divmod(i, per_row)
        fig.add_trace(go.Heatmap(
            z=z, coloraxis="coloraxis", name=name,
            text=text, texttemplate="%{text}" if text is not None else None,
            hovertemplate=f"{name}<br>row {axis} %{{y}}, col {axis} %{{x}}<br>{hover}"
                          "<extra></extra>",
            xgap=1 if p <= 32 else 0, ygap=1 if p <= 32 else 0), row=r + 1, col=c + 1)
        step = _tick_step(p)
        fig.update_xaxes(dtick=step, range=[-0.5, p - 0.5], constrain="domain",
                         title_text=f"col {axis}" if r == rows - 1 else None,
                         row=r + 1, col=c + 1)
        fig.update_yaxes(dtick=step, range=[p - 0.5, -0.5], constrain="domain",
                         scaleanchor=f"x{i + 1 if i else ''}", showticklabels=c == 0,
                         title_text=f"row {axis}" if c == 0 else None, row=r + 1, col=c + 1)
    # room for every line of the panel titles at presentation size (26 px a line)
    lines = max((name.count("<br>") + 1 for name, _, _ in panels), default=1)
    fig.update_layout(
        coloraxis={"colorscale": colorscale("diverging"), "cmin": -lim, "cmax": lim,
                   "colorbar": {"title": {"text": bar_title}}},
        margin={"l": 10, "r": 10, "t": 16 + 30 * lines, "b": 10},
    )
    return fig


def patterns_figure(patterns: Sequence[tuple[str, np.ndarray]], *,
                    per_row: int | None = None) -> go.Figure:
    """Phase patterns side by side on ONE colour scale with its colour bar
    (:func:`shared_grid_figure`): a pattern is zero-mean, so signed, and diverging
    colours centred on zero fit it. Values in the score's unit (×10⁻³ of the range),
    written in the cells up to period 8."""
    panels = []
    for name, q in patterns:
        z = np.asarray(q, dtype=np.float64) * SCORE_SCALE
        panels.append((name, z, np.round(z, 1) if z.shape[0] <= 8 else None))
    return shared_grid_figure(panels, axis="mod P", bar_title=SCORE_UNIT,
                              hover=f"%{{z:.2f}} {SCORE_UNIT}", per_row=per_row)


def panel_height(rows: int) -> tuple[int, int]:
    """(reading, presenting) heights of a row of square panels: a centred page holds two
    per row, the wide layout all of them in one row at 1280 px."""
    return 40 + 320 * rows, 40 + 330 * rows


def gains_panels_figure(gains: Sequence[tuple[str, np.ndarray]], *,
                        per_row: int | None = None) -> go.Figure:
    """The s x s phase gains of channel pair 0 -> 0 of each layer, the gains written in
    the cells and coloured by the very value written (its sign and size, on one scale
    centred on zero for all layers): a cell reading -0.089 is never painted as a
    positive one (:func:`shared_grid_figure`). A balanced layer has four equal cells."""
    panels = []
    for name, g in gains:
        g = np.asarray(g, dtype=np.float64)[0, 0]
        panels.append((name, g, np.round(g, 3)))
    return shared_grid_figure(panels, axis="phase", bar_title="phase gain",
                              hover="gain %{z:.3f}", per_row=per_row)


def gains_figure(gains: np.ndarray, title: str) -> go.Figure:
    """One layer's phase gains (channel pair 0 -> 0), see :func:`gains_panels_figure`."""
    return gains_panels_figure([(title, gains)])
