"""Plot output: colour scales that read right in both modes, presentation fonts, and one way to show a plotly figure or a table."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from ui.common import hidden_container, presenting

#: Colour scales by kind and mode: perceptual and monotonic in luminance (sequential),
#: light in the middle and dark at both ends, centred on zero (diverging: signed data only).
_SCALES = {
    ("sequential", False): "Viridis",
    ("sequential", True): "Inferno",
    ("diverging", False): "RdBu_r",
    ("diverging", True): "PuOr_r",
}


#: Streamlit's plotly theme sends its own colours as placeholders ``#000001``-``#000040``
#: and its frontend swaps them for theme colours *wherever they occur in the figure*.
#: Inferno and Magma start at ``#000004`` (black), which became Streamlit's 4th
#: category colour, pink ``#ffabab``: a cell painted once looked lighter than one painted
#: twice. Colours are therefore always sent as ``rgb(...)`` strings, never as hex.
_PLACEHOLDER = re.compile(r"^#0000[0-4][0-9]$", re.IGNORECASE)


def _rgb(colour: str) -> str:
    from plotly.colors import hex_to_rgb

    if isinstance(colour, str) and colour.startswith("#") and len(colour) == 7:
        r, g, b = hex_to_rgb(colour)
        return f"rgb({r}, {g}, {b})"
    return colour


def scale_stops(name: str) -> list[list]:
    """A named plotly colour scale as explicit ``[position, "rgb(r, g, b)"]`` stops."""
    from plotly.colors import get_colorscale

    return [[float(pos), _rgb(colour)] for pos, colour in get_colorscale(name)]


def colorscale(kind: str = "sequential") -> list[list]:
    """The colour scale of ``kind`` ("sequential" or "diverging") for the current mode:
    Viridis / RdBu when reading, the higher-contrast Inferno / PuOr when presenting.
    Explicit rgb stops (see ``_PLACEHOLDER``)."""
    return scale_stops(_SCALES[("diverging" if kind == "diverging" else "sequential",
                                presenting())])


def scale_for(values) -> tuple[list[list], float, float]:
    """Colour scale and range for ``values``: diverging and centred on zero when they
    take both signs, sequential from zero (or to zero) otherwise. NaNs are ignored."""
    arr = np.asarray(values, dtype=np.float64)
    finite = arr[np.isfinite(arr)]
    lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    if lo < 0 < hi:
        limit = max(-lo, hi)
        return colorscale("diverging"), -limit, limit
    zmin, zmax = min(lo, 0.0), max(hi, 0.0)
    if zmin == zmax:
        zmax = zmin + 1.0
    return colorscale(), zmin, zmax


def integer_colorbar(zmin: float, zmax: float, title: str) -> dict:
    """Colour bar for integer counts: ticks on whole numbers only (never 1.5, 2.5)."""
    span = max(1, int(np.ceil(zmax)) - int(np.floor(zmin)))
    step = max(1, int(np.ceil(span / 8)))
    return {"title": {"text": title}, "tickmode": "linear", "tick0": int(np.floor(zmin)),
            "dtick": step, "tickformat": "d"}


PLOTLY_CONFIG = {
    "displaylogo": False,
    "toImageButtonOptions": {"format": "png", "scale": 2, "filename": "checkerboard-lab"},
}


#: Presentation-mode type sizes in plotly figures (pixels).
PRESENT_FONT = {"base": 20, "title": 26, "tick": 18, "axis_title": 21, "cell": 20}


def _safe_colours(fig: go.Figure) -> None:
    """Rewrite hex colour-scale stops as rgb() so Streamlit's theme cannot swap them."""
    def fix(scale):
        if isinstance(scale, list | tuple) and scale and isinstance(scale[0], list | tuple):
            if any(isinstance(c, str) and _PLACEHOLDER.match(c) for _, c in scale):
                return [[p, _rgb(c)] for p, c in scale]
        return None

    for trace in fig.data:
        scale = fix(getattr(trace, "colorscale", None)) if "colorscale" in trace else None
        if scale is not None:
            trace.colorscale = scale
    for name in [k for k in fig.layout if k.startswith("coloraxis")]:
        axis = fig.layout[name]
        scale = fix(axis.colorscale)
        if scale is not None:
            axis.colorscale = scale


def present_fonts(fig: go.Figure) -> go.Figure:
    """Every text of a figure at projector size: title, tick labels, axis titles, colour
    bars, legend, cell numbers and annotations (Streamlit's theme sets tick and axis
    title sizes itself, so a base font size alone leaves them at 12 and 14 px)."""
    f = PRESENT_FONT
    fig.update_layout(font={"size": f["base"]}, title_font={"size": f["title"]},
                      legend={"font": {"size": f["tick"]}},
                      hoverlabel={"font": {"size": f["tick"]}})
    fig.update_xaxes(tickfont={"size": f["tick"]}, title_font={"size": f["axis_title"]})
    fig.update_yaxes(tickfont={"size": f["tick"]}, title_font={"size": f["axis_title"]})
    bar = {"tickfont": {"size": f["tick"]}, "title": {"font": {"size": f["axis_title"]}}}
    for trace in fig.data:
        if "colorbar" in trace:
            trace.update(colorbar=bar)
        if "textfont" in trace and trace.type in ("heatmap", "bar"):
            trace.update(textfont={"size": f["cell"]})
    for name in [k for k in fig.layout if k.startswith("coloraxis")]:
        fig.layout[name].update(colorbar=bar)
    for ann in fig.layout.annotations or ():
        ann.update(font={"size": f["axis_title"]})
    return fig


def show_plot(fig: go.Figure, *, key: str | None = None, height: int | None = None,
              present_height: int | None = None, width: int | None = None) -> None:
    """Render a plotly figure: toolbar PNG export, every text larger when presenting.

    ``height`` is scaled by 1.3 when presenting, unless ``present_height`` says exactly
    (for panels whose height must match their width in the wide layout). ``width``: the
    figure's own width in pixels (at most its column's) instead of the column's, for a
    square grid whose colour bar should sit beside it.
    """
    _safe_colours(fig)
    if presenting():
        present_fonts(fig)
        if present_height:
            height = present_height
        elif height:
            height = int(height * 1.3)
    if height:
        fig.update_layout(height=height)
    if width:
        fig.update_layout(width=width)
    st.plotly_chart(fig, key=key, config=PLOTLY_CONFIG, theme="streamlit",
                    width="content" if width else "stretch")


def preload_charts(key: str) -> None:
    """An empty chart the viewer never sees: the browser fetches and starts the chart
    library while a view without charts is on screen, so the next view that has charts
    does not wait for it (about 0.9 s on this machine: the story's Next from step 1 to
    the matrix C took 1.4 s without it, 0.5 s once the library was loaded;
    ``benchmarks/presenter.py``)."""
    with hidden_container(key):
        st.plotly_chart(go.Figure(), key=f"{key}-chart", config={"staticPlot": True})


def show_table(data, *, hide_index: bool = False) -> None:
    """A table: the interactive grid when reading, an HTML table when presenting.

    ``st.dataframe`` draws on a canvas whose type size CSS cannot change; presentation
    mode needs every text larger, so there the same frame (or Styler) is an
    ``st.table``, sized by the presentation CSS.
    """
    if presenting():
        styler = data if hasattr(data, "hide") else pd.DataFrame(data).style
        st.table(styler.hide(axis="index") if hide_index else styler)
    else:
        st.dataframe(data, hide_index=hide_index)
