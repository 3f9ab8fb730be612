"""Views of how a transposed convolution paints its output (coverage page, home, story)."""

from __future__ import annotations

import streamlit as st

from ui.figures.coverage import FIGURE_4, FIGURE_6, CoverageSpec
from ui.urlstate import ChoiceParam, IntParam, Preset, check_query_params, preset_row

_DEFAULTS = FIGURE_4
_DIMS = ("1-D", "2-D")

URL_PARAMS = {
    "dims": ChoiceParam(_DIMS),
    "kernel": IntParam(1, 9),
    "stride": IntParam(1, 5),
    "padding": IntParam(0, 8),
    "dilation": IntParam(1, 4),
    "output_padding": IntParam(0, 4),
    "size": IntParam(2, 32),
    "layers": IntParam(1, 3),
}


def kernel_controls() -> CoverageSpec:
    """The coverage controls, bound to the URL; returns the chosen spec."""
    check_query_params(URL_PARAMS)
    # Defaults go to the widgets themselves (value=): a bound widget drops a URL value
    # equal to its default, so a default left implicit (the minimum) would lose ?kernel=1.
    d = _DEFAULTS
    cols = preset_row([
        Preset("Figure 4: 3x3, stride 2", FIGURE_4, "preset-fig4",
               "Uneven overlap: some cells painted 4 times, others once."),
        Preset("Figure 6: 4x4, stride 2", FIGURE_6, "preset-fig6",
               "Kernel divisible by stride: even overlap in the interior."),
    ], columns=3)
    with cols[2]:
        dims = st.segmented_control("View", _DIMS, default=d["dims"], key="dims", bind="query-params",
                                    label_visibility="collapsed") or "2-D"
    cols = st.columns(4)
    kernel = cols[0].slider("Kernel size", 1, 9, d["kernel"], key="kernel", bind="query-params")
    stride = cols[1].slider("Stride", 1, 5, d["stride"], key="stride", bind="query-params")
    size = cols[2].slider("Input size", 2, 32, d["size"], key="size", bind="query-params")
    layers = cols[3].slider("Stacked layers", 1, 3, d["layers"], key="layers", bind="query-params",
                            help="Chain identical layers: the count becomes the number of paths.")
    unusual = any(st.session_state.get(k, d[k]) != d[k] or k in st.query_params
                  for k in ("padding", "dilation", "output_padding"))
    with st.expander("Padding, dilation, output padding", expanded=unusual):
        cols = st.columns(3)
        padding = cols[0].slider("Padding", 0, 8, d["padding"], key="padding", bind="query-params",
                                 help="PyTorch crops this many cells from each end of the output.")
        dilation = cols[1].slider("Dilation", 1, 4, d["dilation"], key="dilation", bind="query-params")
        output_padding = cols[2].slider(
            "Output padding", 0, 4, d["output_padding"], key="output_padding", bind="query-params",
            help="Extra cells at the far end; must be smaller than stride or dilation.")
    return CoverageSpec(1 if dims == "1-D" else 2, kernel, stride, padding, dilation,
                        output_padding, size, layers)


