"""Shared Streamlit helpers: navigation registry, presentation mode, URL state, output.

Every page uses these instead of calling ``st.plotly_chart``/``st.image`` directly, so
presentation mode (wide layout, larger type, helper text folded away, high-contrast
colour scales) and the PNG downloads apply everywhere from one place.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import streamlit as st

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
    PageSpec("pages/hear_it.py", "Hear it", ":material/graphic_eq:", "hear_it",
             "The checkerboard in sound: a 1-D upsampler's tones, played and drawn."),
    PageSpec("pages/gallery.py", "Training gallery", ":material/photo_library:", "gallery",
             "Watch artifacts appear epoch by epoch in the stored checkpoints (Figure 5)."),
    PageSpec("pages/comparison.py", "Compare models", ":material/compare:", "comparison",
             "Deconvolution vs resize-convolution on any image (Figure 7)."),
    PageSpec("pages/story.py", "The story", ":material/slideshow:", "story",
             "The whole argument of the post as live steps, ready for a meeting."),
    PageSpec("pages/audit.py", "Audit your network", ":material/troubleshoot:", "audit",
             "Upload an ONNX model: where its checkerboard comes from, how strong, the fix."),
    PageSpec("pages/diagnose.py", "Diagnose a picture", ":material/image_search:", "diagnose",
             "No network at hand? Find the grid in pictures it made: period, strength, fix."),
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
[data-testid="stMain"] [data-testid="stSelectbox"] input,
[data-testid="stMain"] [data-testid="stMultiSelect"] input,
[data-testid="stMain"] [data-testid="stMultiSelect"] [data-tag] span,
[data-testid="stMain"] [data-testid="stTextInput"] input,
[data-testid="stMain"] [data-testid="stNumberInputField"] { font-size: 1.25rem; }
[data-testid="stMain"] [data-testid="stMultiSelect"] [data-tag] { height: auto; }
[data-testid="stMain"] [data-testid="stCaptionContainer"] { display: none; }
[data-testid="stMain"] [data-testid="stDownloadButton"] { display: none; }
.st-key-present-exit { position: fixed; top: 0.55rem; right: 4.5rem; z-index: 999991;
  width: auto; }
[data-testid="stMainBlockContainer"] { padding-top: 3.6rem; }
[data-testid="stMain"] h1 { padding-top: 0.6rem; padding-bottom: 0.6rem; }
/* A short screen (1280x720, a laptop on a projector): smaller type, and of the views
   drawn twice (ui.common.by_screen_height) the one for short screens. */
@media (max-height: 800px) {
  [data-testid="stMainBlockContainer"] { padding-top: 3.2rem; }
  [data-testid="stMain"] [data-testid="stMarkdownContainer"] p,
  [data-testid="stMain"] [data-testid="stMarkdownContainer"] li { font-size: 1.1rem; }
  [data-testid="stMain"] h1 { font-size: 2.2rem !important; padding-top: 0.3rem;
    padding-bottom: 0.3rem; }
  [data-testid="stMain"] [data-testid="stMetricValue"],
  [data-testid="stMain"] [data-testid="stMetricValue"] [data-testid="stMarkdownContainer"] p {
    font-size: 2rem; }
  [data-testid="stMain"] [class*="st-key-tall-screen-"] { display: none; }
}
@media (min-height: 801px) {
  [data-testid="stMain"] [class*="st-key-short-screen-"] { display: none; }
}
</style>
"""


def _stop_presenting() -> None:
    st.session_state[PRESENT_KEY] = False


def presentation_exit() -> None:
    """The visible way out of presentation mode (the sidebar, where the switch lives, is
    folded away): a small button fixed at the top right of the window."""
    with st.container(key="present-exit"):
        st.button("Exit presentation", key="present-exit-button", on_click=_stop_presenting,
                  icon=":material/close_fullscreen:", type="secondary",
                  help="Back to the reading layout (the switch is in the sidebar too).")


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
    if on:
        presentation_exit()
    return on


def explain(markdown: str) -> None:
    """Explanatory text: shown normally, folded away in presentation mode."""
    if not presenting():
        st.markdown(markdown)


def by_screen_height(key: str) -> tuple[st.delta_generator.DeltaGenerator,
                                          st.delta_generator.DeltaGenerator]:
    """Two containers, presenting: the first shown on screens taller than 800 px, the
    second on shorter ones (the presentation CSS hides the other). For pictures whose
    whole-pixel magnification must be smaller on a 1280x720 screen: the server does not
    know the screen, so such a view is drawn twice, once at each magnification."""
    return st.container(key=f"tall-screen-{key}"), st.container(key=f"short-screen-{key}")


def hidden_container(key: str) -> st.delta_generator.DeltaGenerator:
    """A container drawn but never shown (``display: none``): keys a clicker sends, a
    chart that only loads the chart library."""
    st.html(f"<style>.st-key-{key} {{ display: none; }}</style>")
    return st.container(key=key)


def lazy_section(title: str, key: str, *, in_url: bool = False):
    """A collapsed section whose content is built only once someone opens it (Streamlit's
    lazy expander); ``in_url`` binds it to ``?{key}=true``, so a link can open it.
    Returns the expander; draw into it only ``if section.open``. A plotly chart costs each
    new visitor's browser CPU time (its library is loaded and compiled), which ten
    visitors at once on two cores feel: charts and details wait for a click."""
    return st.expander(title, key=key, on_change="rerun",
                       **({"bind": "query-params"} if in_url else {}))


def secondary() -> st.delta_generator.DeltaGenerator:
    """A container for secondary controls: an expander, collapsed when presenting."""
    return st.expander("More settings", expanded=not presenting())


def page_links(pages: Sequence[PageSpec] | None = None) -> None:
    """Links to pages with their one-line descriptions."""
    for page in pages if pages is not None else available_pages():
        st.page_link(page.path, label=f"**{page.title}**: {page.blurb}", icon=page.icon)


# --------------------------------------------------------------------------- pixels


