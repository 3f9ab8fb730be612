"""Checkerboard Lab: the home page and the router of the multipage dashboard.

Run with ``streamlit run dashboard.py`` (or ``make run``). Streamlit always runs this
script first, for every page: it sets up navigation and the presentation-mode switch,
then runs the page the URL names.
"""

from __future__ import annotations

import streamlit as st

from core.maths.overlap import coverage_map
from ui.common import available_pages, explain, page_links, setup_app
from ui.errors import error_boundary
from ui.plots import show_plot


def home() -> None:
    """The landing page: what checkerboard artifacts are, in the blog post's terms."""
    from ui.figures.coverage import coverage_heatmap  # the same view as the coverage page

    st.title("Checkerboard Lab")
    st.markdown(
        "See, measure and fix the **checkerboard artifacts** of transposed "
        "convolutions (\"deconvolutions\")."
    )
    explain(
        "A transposed convolution upsamples by *painting* a copy of its kernel, scaled by "
        "each input value, onto the output every `stride` cells. When the kernel size is "
        "not divisible by the stride the copies **overlap unevenly**: with a 3x3 kernel at "
        "stride 2 some output cells are painted four times and others once (the post's "
        "Figure 4). That uneven overlap is a fixed pattern that repeats every two pixels: "
        "the checkerboard. A 4x4 kernel at stride 2 overlaps evenly in the interior "
        "(Figure 6), and resizing first, then convolving, removes the pattern altogether "
        "(Figure 7)."
    )
    left, right = st.columns(2)
    with left:
        show_plot(coverage_heatmap(coverage_map(3, 2, (4, 4)),
                                   "3x3 kernel, stride 2: uneven (Figure 4)"),
                  key="home-fig4", height=360)
    with right:
        show_plot(coverage_heatmap(coverage_map(4, 2, (4, 4), padding=1),
                                   "4x4 kernel, stride 2: even inside (Figure 6)"),
                  key="home-fig6", height=360)
    st.subheader("Explore")
    page_links()
    explain(
        "Turn on **Presentation mode** in the sidebar for a projector: wide layout, larger "
        "type, explanations folded away. Every view keeps its settings in the URL, so a "
        "copied link reopens it exactly."
    )


def main() -> None:
    pages = [st.Page(home, title="Home", icon=":material/home:", default=True)]
    pages += [
        st.Page(p.path, title=p.title, icon=p.icon, url_path=p.url_path)
        for p in available_pages()
    ]
    navigation = st.navigation(pages)
    setup_app()
    with error_boundary(navigation.title):  # a short message, never a traceback
        navigation.run()


main()
