"""Shared Streamlit helpers: navigation registry, presentation mode, URL state, output.

Every page uses these instead of calling ``st.plotly_chart``/``st.image`` directly, so
presentation mode (wide layout, larger type, helper text folded away, high-contrast
colour scales) and the PNG downloads apply everywhere from one place.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from core.io.pixels import Region, content_hash, crop_region, magnify_nearest, to_png_bytes
from core.maths.metrics import fine_detail

ROOT = Path(__file__).resolve().parent.parent

PRESENT_KEY = "present"


@dataclass(frozen=True)
class PageSpec:
    """One entry of the navigation: file under ``pages/``, title, icon, URL path."""

    path: str
    title: str
    icon: str
    url_path: str
    blurb: str


#: The one registry of pages, in navigation order (home is ``dashboard.py`` itself).
PAGES: tuple[PageSpec, ...] = (
    PageSpec("pages/coverage.py", "Kernel coverage", ":material/grid_on:", "coverage",
             "How a transposed convolution paints its output: Figures 4 and 6, any settings."),
    PageSpec("pages/matrix.py", "Convolution as a matrix", ":material/table:", "matrix",
             "C, its transpose, and the three equal ways to deconvolve (Figures 2 and 3)."),
    PageSpec("pages/layer_lab.py", "Layer lab", ":material/layers:", "layer_lab",
             "Every upsampler side by side at initialisation, with an artifact score and costs."),
    PageSpec("pages/gallery.py", "Training gallery", ":material/photo_library:", "gallery",
             "Watch artifacts appear epoch by epoch in the stored checkpoints (Figure 5)."),
    PageSpec("pages/comparison.py", "Compare models", ":material/compare:", "comparison",
             "Deconvolution vs resize-convolution on any image (Figure 7)."),
    PageSpec("pages/story.py", "The story", ":material/slideshow:", "story",
             "The whole argument of the post as live steps, ready for a meeting."),
    PageSpec("pages/audit.py", "Audit your network", ":material/troubleshoot:", "audit",
             "Upload an ONNX model: where its checkerboard comes from, how strong, the fix."),
)


def available_pages() -> list[PageSpec]:
    """The registered pages whose file exists (all of them in a complete checkout)."""
    return [p for p in PAGES if (ROOT / p.path).exists()]


# --------------------------------------------------------------------------- routing


def route_through_dashboard() -> None:
    """First line of every page: make sure ``dashboard.py`` (the router) is in charge.

    Streamlit treats a ``pages/`` folder as the legacy multipage layout until
    ``st.navigation`` has run once in the server process. So when a page's own URL is
    the first thing a fresh server is asked for, Streamlit runs the page file directly,
    skipping ``dashboard.py`` (no navigation, no presentation switch). Here we detect
    that case, switch the process to ``st.navigation`` mode and rerun: the rerun goes
    through ``dashboard.py``, which resolves the same URL to the same page.
    """
    from streamlit.runtime.pages_manager import PagesManager

    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.rerun()


# --------------------------------------------------------------------------- presentation


def presenting() -> bool:
    """Is presentation mode on? (The sidebar toggle, bound to ``?present=true``.)"""
    return bool(st.session_state.get(PRESENT_KEY, False))


def presentation_toggle() -> bool:
    """The one "Presentation mode" switch, in the sidebar of every page."""
    return st.sidebar.toggle(
        "Presentation mode",
        key=PRESENT_KEY,
        bind="query-params",
        help="Wide layout, larger type and figures, explanations folded away, "
        "high-contrast colours: for a projector.",
    )


#: Presentation mode's type, main area only (the sidebar keeps its size). Every rule is
#: more specific than the paragraph rule, so metric values, slider numbers and table
#: cells are not shrunk back to the paragraph size by it.
_PRESENT_CSS = """
<style>
[data-testid="stMain"] [data-testid="stMarkdownContainer"] p,
[data-testid="stMain"] [data-testid="stMarkdownContainer"] li { font-size: 1.3rem; }
[data-testid="stMain"] h1 { font-size: 3rem !important; }
[data-testid="stMain"] h2 { font-size: 2.3rem !important; }
[data-testid="stMain"] h3 { font-size: 1.9rem !important; }
[data-testid="stMain"] [data-testid="stMetricLabel"] [data-testid="stMarkdownContainer"] p {
  font-size: 1.25rem; }
[data-testid="stMain"] [data-testid="stMetricValue"],
[data-testid="stMain"] [data-testid="stMetricValue"] [data-testid="stMarkdownContainer"] p {
  font-size: 2.8rem; line-height: 1.25; }
[data-testid="stMain"] [data-testid="stSliderThumbValue"] [data-testid="stMarkdownContainer"] p,
[data-testid="stMain"] [data-testid="stSliderTickBar"] [data-testid="stMarkdownContainer"] p {
  font-size: 1.15rem; line-height: 1.3; }
[data-testid="stMain"] [data-testid="stSliderThumbValue"] { top: auto; bottom: calc(100% + 2px); }
[data-testid="stMain"] [data-testid="stSlider"] [role="group"] { padding-top: 0.5rem; }
[data-testid="stMain"] [data-testid="stTable"] th,
[data-testid="stMain"] [data-testid="stTable"] td { font-size: 1.25rem; white-space: normal;
  overflow-wrap: anywhere; }
[data-testid="stMain"] [data-testid="stTable"] [data-testid="stMarkdownContainer"] p {
  font-size: inherit; }
[data-testid="stMain"] [data-testid="stTable"]:has(th:nth-child(8)) :is(th, td) {
  font-size: 1.05rem; padding: 0.3rem 0.4rem; }
[data-testid="stMain"] [data-testid="stCode"] code { font-size: 1.05rem; }
[data-testid="stMain"] [data-baseweb="select"] div,
[data-testid="stMain"] [data-baseweb="tag"] span,
[data-testid="stMain"] [data-baseweb="input"] input,
[data-testid="stMain"] [data-testid="stNumberInputField"] { font-size: 1.15rem; }
[data-testid="stMain"] [data-testid="stCaptionContainer"] { display: none; }
</style>
"""


#: Always on: a code line wraps rather than hiding in a sideways scroll nobody notices.
_BASE_CSS = """
<style>
[data-testid="stMain"] [data-testid="stCode"] code { white-space: pre-wrap !important;
  overflow-wrap: anywhere; }
</style>
"""


def setup_app() -> bool:
    """Called once per run by ``dashboard.py`` before the page runs: sidebar + layout."""
    on = presentation_toggle()
    st.set_page_config(
        page_title="Checkerboard Lab",
        page_icon=":material/grid_4x4:",
        layout="wide" if on else "centered",
        initial_sidebar_state="collapsed" if on else "auto",
    )
    st.html(_BASE_CSS + (_PRESENT_CSS if on else ""))
    return on


def explain(markdown: str) -> None:
    """Explanatory text: shown normally, folded away in presentation mode."""
    if not presenting():
        st.markdown(markdown)


def secondary() -> st.delta_generator.DeltaGenerator:
    """A container for secondary controls: an expander, collapsed when presenting."""
    return st.expander("More settings", expanded=not presenting())


# --------------------------------------------------------------------------- URL state


@dataclass(frozen=True)
class IntParam:
    """An integer URL parameter in ``[lo, hi]``."""

    lo: int
    hi: int

    def accepts(self, raw: str) -> bool:
        try:
            value = int(raw)
        except ValueError:
            return False
        return self.lo <= value <= self.hi

    def describe(self) -> str:
        return f"an integer from {self.lo} to {self.hi}"


@dataclass(frozen=True)
class ChoiceParam:
    """A URL parameter taking one of ``options`` (several if ``multi``)."""

    options: tuple[str, ...]
    multi: bool = False

    def accepts(self, raw: str) -> bool:
        return raw in self.options

    def describe(self) -> str:
        return "one of " + ", ".join(self.options)


def check_query_params(spec: dict[str, IntParam | ChoiceParam]) -> list[str]:
    """Warn about URL parameters that make no sense; bound widgets then use defaults.

    Call before the widgets are created (they drop invalid values from the URL). Unknown
    parameter names are ignored silently (they may belong to another page).
    Returns the warnings shown (for tests and callers).
    """
    warnings = []
    for name, rule in spec.items():
        if name not in st.query_params:
            continue
        values = st.query_params.get_all(name)
        if getattr(rule, "multi", False):
            # A cleared multiselect writes an empty value: that is a choice, not an error
            # (the page says what to pick instead).
            values = [v for v in values if v != ""]
        elif len(values) > 1:
            warnings.append(f"URL parameter `{name}` was given {len(values)} times; using the default.")
            continue
        bad = [v for v in values if not rule.accepts(v)]
        if bad:
            warnings.append(
                f"Ignored URL parameter `{name}={bad[0]}`: expected {rule.describe()}; "
                "using the default."
            )
    for text in warnings:
        st.warning(text, icon=":material/link_off:")
    return warnings


def preset_button(label: str, values: dict[str, object], *, key: str, help: str | None = None) -> None:
    """A button that sets several bound widgets at once (runs before they are drawn).

    Give those widgets their default with ``value=`` (not through session state): a
    bound widget drops a URL value equal to its own default, which is its minimum when
    no ``value=`` is given, so ``?kernel=1`` would be lost.
    """

    def apply() -> None:
        for name, value in values.items():
            st.session_state[name] = value

    st.button(label, key=key, on_click=apply, help=help)


# --------------------------------------------------------------------------- output


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
              present_height: int | None = None) -> None:
    """Render a plotly figure: toolbar PNG export, every text larger when presenting.

    ``height`` is scaled by 1.3 when presenting, unless ``present_height`` says exactly
    (for panels whose height must match their width in the wide layout).
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
    st.plotly_chart(fig, key=key, config=PLOTLY_CONFIG, theme="streamlit")


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


def page_links(pages: Sequence[PageSpec] | None = None) -> None:
    """Links to pages with their one-line descriptions."""
    for page in pages if pages is not None else available_pages():
        st.page_link(page.path, label=f"**{page.title}**: {page.blurb}", icon=page.icon)


# --------------------------------------------------------------------------- pixels

#: Width in screen pixels a magnified crop is enlarged to (integer factor below it).
MAGNIFIED_WIDTH = 256

# Nearest-neighbour in the browser too, for every image inside a container whose key
# starts with "pixels": a magnified crop shrunk to fit a narrow column stays crisp.
PIXELATED_CSS = """
<style>
[class*="st-key-pixels"] img { image-rendering: pixelated; }
</style>
"""


@st.cache_data(max_entries=768, show_spinner=False)
def _png(key: str, factor: int, _image: np.ndarray) -> bytes:
    return to_png_bytes(magnify_nearest(_image, factor) if factor > 1 else _image)


def png_of(image: np.ndarray, key: str | None = None, factor: int = 1) -> bytes:
    """PNG bytes of ``image`` enlarged ``factor`` times (nearest), cached by ``key``."""
    return _png(key or content_hash(image), int(factor), image)


def show_pixels(
    image: np.ndarray,
    caption: str | None = None,
    *,
    key: str | None = None,
    factor: int = 1,
    width: int | str = "stretch",
    file_name: str | None = None,
    png: bytes | None = None,
) -> None:
    """Draw an image losslessly (PNG, never JPEG); with ``factor`` > 1 enlarged by
    nearest neighbour, so one-pixel patterns stay visible. Every image gets a PNG
    download of the pixels shown (``file_name``, or one made from the caption).

    ``key`` names the image's content for the PNG cache (a content hash when omitted);
    ``png``, the image already encoded (a stored output), skips the encoding.
    Presentation mode hides captions, so there the caption is written above the image.
    """
    if caption and presenting():
        st.markdown(f"**{caption}**")
    png = png if png is not None and factor == 1 else png_of(image, key, factor)
    st.image(png, caption=caption, width=width, output_format="PNG")
    file_name = file_name or f"{_slug(caption or 'image')}.png"
    ident = hashlib.blake2b(f"{key}|{factor}|{caption}|{file_name}".encode(),
                            digest_size=8).hexdigest()
    st.download_button("PNG", data=lambda: png, file_name=file_name, mime="image/png",
                       key=f"png-{ident}", icon=":material/download:", type="tertiary",
                       help="Download these pixels as a PNG (lossless)")


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower()[:60] or "image"


def pixelated_container(key: str):
    """A container whose images the browser scales with nearest neighbour."""
    st.html(PIXELATED_CSS)
    return st.container(key=f"pixels-{key}")


def magnify_factor(size: int, target: int = MAGNIFIED_WIDTH) -> int:
    """Integer enlargement that makes a ``size``-pixel crop about ``target`` pixels wide."""
    return max(1, target // max(1, size))


#: How much the fine-detail view amplifies the high-passed image.
DETAIL_GAIN = 10.0


@st.cache_data(max_entries=256, show_spinner=False)
def _fine_detail(key: str, period: int, gain: float, _image: np.ndarray) -> np.ndarray:
    return fine_detail(_image, period, gain)


def show_magnified(
    pixels: np.ndarray,
    region: Region,
    label: str,
    *,
    key: str,
    factor: int,
    period: int = 4,
    width: int | str = "content",
    detail: bool = True,
) -> None:
    """A region of ``pixels`` enlarged ``factor`` times (nearest neighbour) and, under
    it, the same region's fine detail (:func:`core.maths.metrics.fine_detail`: the
    high-passed image x10 around grey), where a checkerboard too faint to see in the
    crop is plain. ``key`` names ``pixels`` for the caches. Draw inside a
    :func:`pixelated_container` so the browser keeps the blocks sharp.
    """
    region = region.clamped(pixels.shape)
    rkey = f"{region.top},{region.left},{region.height},{region.width}"
    show_pixels(crop_region(pixels, region), f"{label} ×{factor}", key=f"{key}|crop|{rkey}",
                factor=factor, width=width, file_name=f"{_slug(label)}-crop.png")
    if detail:
        try:
            fine = _fine_detail(key, period, DETAIL_GAIN, pixels)
        except ValueError:  # an image too small for the high-pass
            return
        show_pixels(crop_region(fine, region), f"fine detail ×{DETAIL_GAIN:g}",
                    key=f"{key}|fine|{rkey}", factor=factor, width=width,
                    file_name=f"{_slug(label)}-fine-detail.png")
