"""The size calculator: output sizes and costs of a convolution and its transpose for any n, k, s, p."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core.maths.matrix import (
    size_report,
)
from core.maths.matrix_case import (
    MatrixSpec,
)
from core.maths.overlap import conv_transpose_output_size
from ui.plots import show_table
from ui.urlstate import IntParam, check_query_params

#: The calculator's fields: (suffix, label, lowest, highest, fallback default).
_CALC_FIELDS = (("n", "Input size n", 1, 4096, 6), ("k", "Kernel k", 1, 15, 3),
                ("s", "Stride s", 1, 8, 2), ("p", "Padding p", 0, 16, 1),
                ("d", "Dilation d", 1, 8, 1))


def calc_params(key: str = "calc") -> dict[str, IntParam]:
    """URL parameters of the size calculator drawn with ``key`` (``calc_n``, ``calc_k``, …)."""
    return {f"{key}_{name}": IntParam(lo, hi) for name, _, lo, hi, _ in _CALC_FIELDS}



def calc_defaults(spec: MatrixSpec | None) -> dict[str, int]:
    """What the calculator shows until a field is typed in: the page's own settings
    (rows of the input and kernel, stride, padding, dilation), so its formulas and its
    note describe the convolution above, not a fixed example."""
    if spec is None:
        return {name: default for name, _, _, _, default in _CALC_FIELDS}
    return {"n": spec.in_h, "k": spec.k_h, "s": spec.stride, "p": spec.padding,
            "d": spec.dilation}


def render_size_calculator(spec: MatrixSpec | None = None, *, key: str = "calc") -> None:
    """Output sizes of conv and transposed conv for one axis, with the numbers (URL ``{key}_*``).

    An empty field follows ``spec`` (the page's settings, see :func:`calc_defaults`);
    a typed value overrides it and goes to the URL. Clearing the field follows again.
    """
    check_query_params(calc_params(key))
    defaults = calc_defaults(spec)
    cols = st.columns(len(_CALC_FIELDS))
    values = []
    for col, (name, label, lo, hi, _) in zip(cols, _CALC_FIELDS, strict=True):
        typed = col.number_input(
            label, lo, hi, value=None, key=f"{key}_{name}", bind="query-params",
            placeholder=f"{defaults[name]}" + (" (as above)" if spec is not None else ""),
            help="Empty: the value of the convolution above. Type a number to try another.")
        values.append(int(typed) if typed is not None else int(defaults[name]))
    n, k, s, p, d = values
    rep = size_report(n, k, s, p, d)
    st.markdown("**Convolution** (`F.conv2d`, one axis)")
    general = r"\text{out} &= \left\lfloor \frac{n + 2p - d\,(k-1) - 1}{s} \right\rfloor + 1"
    if rep.conv_out is None:
        st.latex(r"\begin{aligned}" + general + r"\end{aligned}")
        st.error(f"No convolution: {rep.conv_error}.", icon=":material/block:")
    else:
        st.latex(
            r"\begin{aligned}" + general
            + rf" \\ &= \left\lfloor \frac{{{n} + 2\cdot{p} - {d}\cdot({k}-1) - 1}}{{{s}}}"
            rf" \right\rfloor + 1 = {rep.conv_out}\end{{aligned}}"
        )
    st.markdown(f"**Transposed convolution** of an n = {n} input (`F.conv_transpose2d`, one axis)")
    base = conv_transpose_output_size(n, k, s, p, d, validate=False)  # output_padding 0
    st.latex(
        r"\begin{aligned}\text{out} &= (n-1)\,s - 2p + d\,(k-1) + \text{output\_padding} + 1"
        rf" \\ &= ({n}-1)\cdot{s} - 2\cdot{p} + {d}\cdot({k}-1) + \text{{output\_padding}} + 1"
        rf" \\ &= {base} + \text{{output\_padding}}\end{{aligned}}"
    )
    if rep.transpose_outs:
        show_table(
            pd.DataFrame({"output_padding": list(rep.transpose_outs),
                          "output size": list(rep.transpose_outs.values())}),
            hide_index=True,
        )
        st.caption(f"Valid output_padding: 0 to {max(s, d) - 1} (PyTorch needs it smaller "
                   "than the stride or the dilation).")
    else:
        st.error("No transposed convolution: the padding crops away the whole output.",
                 icon=":material/block:")
    if rep.conv_out is not None:
        same = ", ".join(str(v) for v in rep.same_output_inputs)
        st.info(
            f"A stride-{s} convolution maps every input size in **{{{same}}}** to "
            f"{rep.conv_out}: the floor forgets the difference. Going back, "
            f"`conv_transpose2d` of a {rep.conv_out}-long input returns "
            f"{n - rep.recovering_output_padding} + output_padding, so `output_padding = "
            f"{rep.recovering_output_padding}` recovers n = {n}.",
            icon=":material/straighten:",
        )
