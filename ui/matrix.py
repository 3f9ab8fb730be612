"""Views of a convolution as a matrix C and of its transpose (matrix page, story page).

Figures 2 and 3 of the post: the input, the kernel, the matrix ``C`` (one row per kernel
position), the output; then ``C^T`` taking an output-shaped array back to the input's
shape, computed three equal ways. All numbers come from ``core.maths.matrix``.
"""

from __future__ import annotations

import streamlit as st

from core.maths.matrix_case import (
    VALUE_MODES,
    Y_MODES,
    MatrixSpec,
    format_grid,
    small_integer_input,
    small_integer_kernel,
)
from ui.figures.matrix import POSITION_PARAM
from ui.urlstate import ChoiceParam, IntParam, Preset, check_query_params, preset_row

# --------------------------------------------------------------------------- settings


FIGURE_2 = {"mx_in_h": 4, "mx_in_w": 4, "mx_k_h": 3, "mx_k_w": 3, "mx_stride": 1,
            "mx_padding": 0, "mx_dilation": 1, "mx_pos": 0}
#: Figure 3 left is Figure 2 read backwards: 2x2 -> padded to 6x6 -> 3x3 conv -> 4x4.
FIGURE_3_LEFT = {**FIGURE_2, "mx_y": "integers"}
#: Figure 3 right: stride 2, so 2x2 -> zeros between (3x3) -> padded to 7x7 -> 5x5.
FIGURE_3_RIGHT = {**FIGURE_2, "mx_in_h": 5, "mx_in_w": 5, "mx_stride": 2, "mx_y": "integers"}

_DEFAULTS: dict[str, object] = {**FIGURE_2, "mx_values": "integers", "mx_seed": 0,
                                "mx_kernel": "", "mx_input": "", "mx_y": "integers"}

URL_PARAMS = {
    "mx_in_h": IntParam(1, 16),
    "mx_in_w": IntParam(1, 16),
    "mx_k_h": IntParam(1, 7),
    "mx_k_w": IntParam(1, 7),
    "mx_stride": IntParam(1, 4),
    "mx_padding": IntParam(0, 4),
    "mx_dilation": IntParam(1, 3),
    "mx_values": ChoiceParam(VALUE_MODES),
    "mx_seed": IntParam(0, 9999),
    "mx_y": ChoiceParam(Y_MODES),
    "mx_pos": POSITION_PARAM,
}


def _default(key: str) -> int:
    """A widget's default, passed as its ``value``.

    Deliberately not through a session-state default: a bound widget drops its URL parameter when
    the value equals the widget's *own* default (``min_value`` when no ``value`` is
    given), so with session-state defaults ``?mx_in_h=1`` would be ignored and a view
    with one input row could not be linked to.
    """
    return int(_DEFAULTS[key])  # type: ignore[call-overload]


def _state_spec() -> MatrixSpec:
    ss = st.session_state
    return MatrixSpec(ss["mx_in_h"], ss["mx_in_w"], ss["mx_k_h"], ss["mx_k_w"])


def _fill_typed() -> None:
    """Switching to typed values (or pressing "fill"): start from the small integers."""
    spec, ss = _state_spec(), st.session_state
    ss["mx_kernel"] = format_grid(small_integer_kernel(spec.kernel_shape))
    ss["mx_input"] = format_grid(small_integer_input(spec.input_shape, int(ss.get("mx_seed", 0))))


def _on_values_change() -> None:
    if st.session_state.get("mx_values") == "typed":
        _fill_typed()


def _randomise() -> None:
    st.session_state["mx_seed"] = (int(st.session_state.get("mx_seed", 0)) + 1) % 10_000
    if st.session_state.get("mx_values") == "typed":
        st.session_state["mx_values"] = "random"


def matrix_controls() -> MatrixSpec:
    """The matrix-page controls, bound to the URL (``mx_*``); returns the chosen spec."""
    check_query_params(URL_PARAMS)
    preset_row([
        Preset("Figure 2: 4x4 input, 3x3 kernel", FIGURE_2, "preset-fig2",
               "The post's Figure 2: stride 1, a 2x2 output, C is 4x16."),
        Preset("Figure 3 left: 2x2 → 6x6 → 4x4", FIGURE_3_LEFT, "preset-fig3-left",
               "Figure 2 read backwards: the transposed convolution takes the 2x2 output back "
               "to 4x4, as a 3x3 convolution over the input padded to 6x6."),
        Preset("Figure 3 right: 2x2 → 5x5", FIGURE_3_RIGHT, "preset-fig3-right",
               "Stride 2: a zero between the input elements, padded to 7x7, a 3x3 "
               "convolution gives 5x5 (the 'fractionally strided' view)."),
    ])
    cols = st.columns(4)
    in_h = cols[0].slider("Input rows", 1, 16, _default("mx_in_h"), key="mx_in_h",
                          bind="query-params")
    in_w = cols[1].slider("Input columns", 1, 16, _default("mx_in_w"), key="mx_in_w",
                          bind="query-params")
    k_h = cols[2].slider("Kernel rows", 1, 7, _default("mx_k_h"), key="mx_k_h",
                         bind="query-params")
    k_w = cols[3].slider("Kernel columns", 1, 7, _default("mx_k_w"), key="mx_k_w",
                         bind="query-params")
    cols = st.columns(3)
    stride = cols[0].slider("Stride", 1, 4, key="mx_stride", bind="query-params",
                            help="How far the kernel moves between positions (rows of C).")
    padding = cols[1].slider("Padding", 0, 4, key="mx_padding", bind="query-params",
                             help="Zeros added around the input before the kernel slides.")
    dilation = cols[2].slider("Dilation", 1, 3, key="mx_dilation", bind="query-params",
                              help="Spacing between kernel taps: 2 skips every other cell.")
    unusual = any(st.session_state.get(k) != _DEFAULTS[k] or k in st.query_params
                  for k in ("mx_values", "mx_seed", "mx_y"))
    with st.expander("Values: integers, random or typed", expanded=unusual):
        a, b, c = st.columns([3, 2, 2], vertical_alignment="bottom")
        with a:
            values = st.segmented_control(
                "Kernel and input values", VALUE_MODES, default="integers", key="mx_values",
                bind="query-params", on_change=_on_values_change,
                help="integers: kernel 1, 2, 3, … and input 0-3 (from the seed); random: "
                "reals from the seed; typed: your own numbers.",
            ) or "integers"
        seed = b.number_input("Random seed", 0, 9999, key="mx_seed", bind="query-params",
                              help="Picks the input values (small integers or random reals).")
        c.button("Randomise", key="mx-randomise", on_click=_randomise,
                 icon=":material/casino:", help="A new seed: new input values.")
        kernel_text = input_text = ""
        if values == "typed":
            a, b = st.columns(2)
            kernel_text = a.text_input(
                "Kernel values", key="mx_kernel", bind="query-params",
                help="Rows separated by ';', values by spaces or commas, e.g. '1 2 3; 4 5 6; 7 8 9'.")
            input_text = b.text_input("Input values", key="mx_input", bind="query-params",
                                      help="Same format, one row per input row.")
            st.button("Fill with small integers", key="mx-fill", on_click=_fill_typed)
        y_values = st.radio(
            "Values fed to the transposed convolution", Y_MODES, key="mx_y",
            bind="query-params", horizontal=True,
            help="integers: 1, 2, 3, … in reading order; conv output: the output y = C x "
            "above (Cᵀ y is not x again: the transpose is not an inverse).",
        )
    return MatrixSpec(in_h, in_w, k_h, k_w, stride, padding, dilation, values, int(seed),
                      kernel_text or "", input_text or "", y_values or "integers")


__all__ = [
    "FIGURE_2",
    "FIGURE_3_LEFT",
    "FIGURE_3_RIGHT",
    "URL_PARAMS",
    "MatrixSpec",
    "format_grid",
    "matrix_controls",
]
