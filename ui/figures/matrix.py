"""The matrix figures (C, C transposed, the padded input, the kernel, the output) and the renderers the matrix page and the story share."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
import streamlit as st

from core.io.text import md_escape
from core.maths.matrix import (
    DeconvComparison,
    DeconvCosts,
    zero_inserted_input,
)
from core.maths.matrix_case import (
    MatrixCase,
    MatrixSpec,
    build_case,
    format_number,
    pair_text,
)
from ui.common import explain, lazy_section
from ui.plots import scale_for, show_plot, show_table
from ui.urlstate import IntParam

#: The kernel position a link may name (``?mx_pos=N``); past C's last row, the last row.
POSITION_PARAM = IntParam(0, 255)

#: Most cells of C that get their weight written in; larger matrices are hover-only.
MAX_ANNOTATED_CELLS = 1600


#: Largest side of a grid (input, output, …) whose values are written in the cells.
MAX_ANNOTATED_SIDE = 14


#: Most cells of C given a detailed hover (kernel position, input cell, weight name).
MAX_HOVER_CELLS = 20_000


#: Most terms written out in the equation of one row of C.
MAX_TERMS = 12


#: Outline of highlighted cells (kernel footprint, the selected row of C).
HIGHLIGHT = "#ff00aa"


#: Text of cells that are structurally zero.
FAINT_TEXT = "rgba(140, 140, 140, 0.7)"


def _colour_at(scale: list[list], zmin: float, zmax: float, value: float) -> str:
    """The colour ``scale`` (``[position, "rgb(...)"]`` stops) gives ``value`` on
    ``[zmin, zmax]``, as an ``rgb(...)`` string."""
    from plotly.colors import sample_colorscale

    t = 0.0 if zmax <= zmin else min(1.0, max(0.0, (value - zmin) / (zmax - zmin)))
    return sample_colorscale(scale, [t], colortype="rgb")[0]


def _text_format(values: np.ndarray) -> str:
    finite = values[np.isfinite(values)]
    return ".0f" if finite.size and np.all(finite == np.round(finite)) else ".2f"


def grid_figure(
    values: np.ndarray,
    title: str,
    *,
    x_title: str = "column",
    y_title: str = "row",
    faint: np.ndarray | None = None,
    highlight: Iterable[tuple[int, int]] = (),
    hover: np.ndarray | None = None,
    x: Iterable[int] | None = None,
    y: Iterable[int] | None = None,
    annotate: bool | None = None,
    faint_label: str = "0",
) -> go.Figure:
    """An annotated heatmap of a small grid: a diverging scale centred on zero for
    data of both signs, the sequential scale otherwise (counts, positive weights).

    ``faint``: boolean mask of cells drawn pale grey with a pale label (padding, inserted
    zeros, cells of C the kernel does not cover). ``highlight``: ``(row, col)`` cells,
    in the coordinates ``x``/``y`` (defaults 0..n-1), outlined. ``hover``: per-cell text.
    """
    values = np.asarray(values, dtype=np.float64)
    h, w = values.shape
    if annotate is None:  # numbers in the cells only while they stay legible
        annotate = max(h, w) <= MAX_ANNOTATED_SIDE
    xs = list(range(w)) if x is None else list(x)
    ys = list(range(h)) if y is None else list(y)
    scale, *zrange = scale_for(values)  # diverging only for signed data
    # A structural zero is drawn in the scale's own colour for 0 (dark on a sequential
    # scale, the neutral middle on a diverging one): never lighter than a weight of 1.
    zero_fill = _colour_at(scale, *zrange, 0.0)
    # large, unlabelled grids: faint cells become gaps over a faint background (one trace,
    # float32): C of a 16x16 input has up to 256 x 256 cells
    light = not annotate and faint is not None
    drawn = np.where(faint, np.nan, values).astype(np.float32) if light else values
    fig = px.imshow(
        drawn,
        x=xs,
        y=ys,
        text_auto=_text_format(values) if annotate else False,
        color_continuous_scale=scale,
        range_color=tuple(zrange),
        aspect="equal",
    )
    gap = 1 if max(h, w) <= 64 else 0
    if annotate and faint is not None:
        # the values' own labels, blank on faint cells (the overlay below labels those)
        fmt = _text_format(values)
        labels = np.array([[("" if f else format(v, fmt)) for v, f in zip(row, frow, strict=True)]
                           for row, frow in zip(values, faint, strict=True)], dtype=object)
        fig.update_traces(text=labels, texttemplate="%{text}")
    fig.update_traces(
        customdata=hover,  # per-cell strings only where given: large grids stay light
        hovertemplate=f"{y_title} %{{y}}, {x_title} %{{x}}<br>value <b>%{{z:.4~g}}</b>"
        + ("<br>%{customdata}" if hover is not None else "") + "<extra></extra>",
        xgap=gap,
        ygap=gap,
    )
    if light:
        fig.update_layout(plot_bgcolor=zero_fill)
    elif faint is not None and np.any(faint):
        fig.add_trace(
            go.Heatmap(
                z=np.where(faint, 0.0, np.nan), x=xs, y=ys,
                colorscale=[[0, zero_fill], [1, zero_fill]], showscale=False,
                hoverinfo="skip", xgap=gap, ygap=gap,
                text=np.where(faint, faint_label, ""), texttemplate="%{text}",
                textfont={"color": FAINT_TEXT},
            )
        )
    # one layout update for all outlines (add_shape per cell is quadratic in plotly)
    fig.update_layout(shapes=[
        {"type": "rect", "x0": c - 0.5, "x1": c + 0.5, "y0": r - 0.5, "y1": r + 0.5,
         "line": {"color": HIGHLIGHT, "width": 3 if max(h, w) <= 32 else 1}}
        for r, c in highlight
    ])
    small = max(h, w) <= MAX_ANNOTATED_SIDE
    fig.update_layout(
        title=title,
        xaxis={"title": x_title, "dtick": 1 if small else None},
        yaxis={"title": y_title, "dtick": 1 if small else None},
        coloraxis_showscale=False,
        margin={"l": 10, "r": 10, "t": 60, "b": 10},
    )
    return fig


#: The tallest chart of the compact matrix view (the story, presenting).
COMPACT_HEIGHT = 240


def _height(rows: int, cols: int, width: int = 640, lo: int = 220, hi: int = 720) -> int:
    """Figure height for a grid drawn with square cells in about ``width`` pixels."""
    cell = min(48.0, width / max(cols, 1))
    return int(min(hi, max(lo, rows * cell + 110)))


def matrix_figure(case: MatrixCase, *, transpose: bool = False, row: int | None = None) -> go.Figure:
    """C (or C^T) as an annotated heatmap: covered cells show their weight, the rest faint.

    Rows of C are kernel positions (= output cells, row-major), columns input cells.
    ``row``: the kernel position to outline (a row of C, a column of C^T).
    """
    taps, mat = case.taps, case.matrix
    o_w, n_w, (k_h, k_w) = case.output_shape[1], case.spec.in_w, case.spec.kernel_shape
    n_out, n_in = taps.shape
    faint = taps < 0
    annotate = taps.size <= MAX_ANNOTATED_CELLS
    if transpose:
        mat, faint = mat.T, faint.T
        title = f"Cᵀ: {n_in} x {n_out}, a column per kernel position"
        x_title, y_title = "output cell (kernel position)", "input cell (row-major)"
    else:
        title = f"C: {n_out} x {n_in}, a row per kernel position"
        x_title, y_title = "input cell (row-major: row·width + column)", "kernel position"
    if not annotate:
        title = title.split(",")[0] + " (hover a cell for its weight)"
    fig = grid_figure(mat, title, x_title=x_title, y_title=y_title, faint=faint,
                      annotate=annotate, faint_label="·")
    if taps.size <= MAX_HOVER_CELLS:
        # per cell: kernel position, its output (i, j), input cell index and (r, c), weight name
        names = np.array([f"weight K[{a},{b}] = {format_number(case.kernel[a, b])}"
                          for a in range(k_h) for b in range(k_w)]
                         + ["not covered by the kernel: 0"], dtype=object)
        rows = np.broadcast_to(np.arange(n_out)[:, None], taps.shape)
        cols = np.broadcast_to(np.arange(n_in)[None, :], taps.shape)
        data = np.stack([rows, rows // o_w, rows % o_w, cols, cols // n_w, cols % n_w,
                         names[taps]], axis=-1)  # (n_out, n_in, 7); taps -1 -> last name
        fig.data[0].update(
            customdata=data.transpose(1, 0, 2) if transpose else data,
            hovertemplate="kernel position %{customdata[0]} → output (%{customdata[1]}, "
            "%{customdata[2]})<br>input cell %{customdata[3]} = (%{customdata[4]}, "
            "%{customdata[5]})<br><b>%{customdata[6]}</b><extra></extra>",
        )
    else:
        fig.data[0].update(customdata=None, hovertemplate=f"{y_title} %{{y}}<br>{x_title} "
                           "%{x}<br>value <b>%{z:.4~g}</b><extra></extra>")
    if row is not None:
        h, w = mat.shape
        if transpose:
            fig.add_shape(type="rect", x0=row - 0.5, x1=row + 0.5, y0=-0.5, y1=h - 0.5,
                          line={"color": HIGHLIGHT, "width": 3})
        else:
            fig.add_shape(type="rect", x0=-0.5, x1=w - 0.5, y0=row - 0.5, y1=row + 0.5,
                          line={"color": HIGHLIGHT, "width": 3})
    return fig


def padded_input_figure(case: MatrixCase, pos: int | None = None) -> go.Figure:
    """The input with its padding ring (faint zeros); the kernel's cells at ``pos`` outlined."""
    s = case.spec
    p = s.padding
    padded = np.pad(case.x, p)
    faint = np.pad(np.zeros(case.x.shape, dtype=bool), p, constant_values=True)
    hover = np.full(padded.shape, "input value", dtype=object)
    hover[faint] = "padding (zero)"
    highlight = []
    if pos is not None:
        taps = case.footprint(pos)
        highlight = [(r, c) for r, c, _, _ in taps]
        for r, c, a, b in taps:
            hover[r + p, c + p] += f"<br>× K[{a},{b}] at kernel position {pos}"
    title = f"Input x: {s.in_h}x{s.in_w}" + (f", padded by {p}" if p else "")
    return grid_figure(padded, title, faint=faint, highlight=highlight, hover=hover,
                       x=range(-p, s.in_w + p), y=range(-p, s.in_h + p))


def kernel_figure(kernel: np.ndarray, title: str = "Kernel K", *, flipped: bool = False) -> go.Figure:
    kh, kw = kernel.shape
    hover = np.array([[f"K[{kh - 1 - a},{kw - 1 - b}]" if flipped else f"K[{a},{b}]"
                       for b in range(kw)] for a in range(kh)], dtype=object)
    return grid_figure(kernel, title, x_title="tap column", y_title="tap row", hover=hover)


def output_figure(values: np.ndarray, title: str, *, cell: int | None = None) -> go.Figure:
    h, w = values.shape
    highlight = [divmod(cell, w)] if cell is not None else []
    return grid_figure(values, title, highlight=highlight)


def row_equation(case: MatrixCase, pos: int) -> str:
    """Row ``pos`` of C times x, written out: ``y[i,j] = 1·x[0,0] + … = value``."""
    i, j = divmod(pos, case.output_shape[1])
    terms = []
    for r, c, a, b in case.footprint(pos):
        if 0 <= r < case.spec.in_h and 0 <= c < case.spec.in_w:
            xv = format_number(case.x[r, c])
            terms.append(f"{format_number(case.kernel[a, b])}·{f'({xv})' if xv.startswith('-') else xv}")
    shown = " + ".join(terms[:MAX_TERMS]) + (" + …" if len(terms) > MAX_TERMS else "")
    if not terms:
        shown = "0 (the kernel covers only padding here)"
    return f"y[{i},{j}] = (row {pos} of C) · x = {shown} = {format_number(case.y[i, j])}"


def position_stepper(n_positions: int, *, key: str = "mx_pos") -> int:
    """Pick a kernel position (= a row of C): a slider with previous/next buttons, in the URL."""
    if n_positions <= 1:
        st.caption("The kernel has a single position here: C has one row.")
        return 0
    last = n_positions - 1
    raw = st.query_params.get(key)
    if key not in st.session_state and raw is not None and POSITION_PARAM.accepts(raw) \
            and int(raw) > last:  # a link made for a larger C: its last row, said so
        st.warning(f"C has rows 0 to {last} here; `{key}={raw}` shows the last one, row "
                   f"{last}.", icon=":material/link_off:")
        st.session_state[key] = last
    if int(st.session_state.get(key, 0)) > last:
        st.session_state[key] = last

    def step(delta: int) -> None:
        st.session_state[key] = min(last, max(0, int(st.session_state.get(key, 0)) + delta))

    a, b, c = st.columns([1, 6, 1], vertical_alignment="bottom")
    a.button("◀", key=f"{key}-prev", on_click=step, args=(-1,), help="Previous kernel position")
    c.button("▶", key=f"{key}-next", on_click=step, args=(1,), help="Next kernel position")
    with b:
        return st.slider("Kernel position (row of C)", 0, last, key=key, bind="query-params")


def render_matrix_view(case: MatrixCase, *, pos: int | None = None, key: str = "mx",
                       compact: bool = False) -> int:
    """Figure 2, live: input, kernel, C with one row outlined, output; the row's equation.

    ``pos=None`` draws the kernel-position stepper (URL key ``{key}_pos``); returns the
    position shown. ``compact`` (the story, presenting): input, C and output in one row so
    the whole of C is on the first screen; the kernel (C's rows hold it) follows.
    """
    n_pos = case.taps.shape[0]
    if pos is None:
        pos = position_stepper(n_pos, key=f"{key}_pos")
    pos = min(max(0, pos), n_pos - 1)
    o = case.output_shape
    n_in = (case.spec.in_h + 2 * case.spec.padding, case.spec.in_w + 2 * case.spec.padding)
    input_fig = padded_input_figure(case, pos)
    # compact: the output's column is narrow (a presenting screen's ninth), so the short title
    title = f"y = C x: {o[0]}x{o[1]}" if compact else f"Output y = C x: {o[0]}x{o[1]}"
    output_fig = output_figure(case.y, title, cell=pos)
    if compact:  # at most COMPACT_HEIGHT: the row's sentence below on a 1280x720 screen
        left, mid, right = st.columns([2, 6, 1.4])
        with left:
            show_plot(input_fig, key=f"{key}-input",
                      height=_height(*n_in, 260, hi=COMPACT_HEIGHT))
        with mid:
            show_plot(matrix_figure(case, row=pos), key=f"{key}-matrix",
                      height=_height(*case.taps.shape, 720, hi=COMPACT_HEIGHT))
        with right:
            show_plot(output_fig, key=f"{key}-output", height=_height(*o, 160, hi=COMPACT_HEIGHT))
    else:
        left, mid, right = st.columns([5, 3, 3])
        with left:
            show_plot(input_fig, key=f"{key}-input", height=_height(*n_in, 280))
        with mid:
            show_plot(kernel_figure(case.kernel), key=f"{key}-kernel",
                      height=_height(*case.kernel.shape, 240))
        with right:
            show_plot(output_fig, key=f"{key}-output", height=_height(*o, 240))
        show_plot(matrix_figure(case, row=pos), key=f"{key}-matrix",
                  height=_height(*case.taps.shape))
    st.markdown(f"**Kernel position {pos}:** `{row_equation(case, pos)}`")
    explain(
        "Each **row** of C is one position of the kernel: it holds the kernel's weights in "
        "the columns of the input cells the kernel covers there, and zeros (faint grey) "
        "everywhere else. Multiplying C by the flattened input gives the flattened output. "
        f"C is {case.taps.shape[0]} x {case.taps.shape[1]}, but only "
        f"{int((case.taps >= 0).sum())} of its {case.taps.size} cells hold a kernel weight."
    )
    if compact:
        more = lazy_section("The kernel K", f"{key}-more-kernel")
        with more:
            if more.open:
                show_plot(kernel_figure(case.kernel), key=f"{key}-kernel",
                          height=_height(*case.kernel.shape, 240))
    return pos


def show_matrix_c(spec: MatrixSpec, *, pos: int | None = 0, key: str = "mx",
                  compact: bool = False) -> MatrixCase | None:
    """The matrix-C view for fixed settings (for the story page): build, then draw or explain.

    ``pos=None`` adds the stepper (URL key ``{key}_pos``). Returns the case, or None after
    an ``st.error`` naming the rule when the settings make no convolution.
    """
    case = case_or_error(spec)
    if case is not None:
        render_matrix_view(case, pos=pos, key=key, compact=compact)
    return case


def case_or_error(spec: MatrixSpec) -> MatrixCase | None:
    """The case of ``spec``, or None after an ``st.error`` naming the rule the settings
    break (they make no convolution)."""
    try:
        return build_case(spec)
    except ValueError as err:
        st.error(f"These settings do not make a convolution: {md_escape(err)}.",
                 icon=":material/block:")
        return None


def render_transpose_view(case: MatrixCase, *, key: str = "mx",
                          compact: bool = False) -> DeconvComparison:
    """Figure 3 and C^T: back to the input's shape, three equal constructions, their costs.

    ``compact`` (the story, presenting): the array fed in and the three equal results in
    one row on the first screen; C^T, zero insertion, the code and the costs in a section
    built when opened.
    """
    s = case.spec
    o = case.output_shape
    if not compact:  # compact: the story's own sentence says this
        st.markdown(
            f"The transposed convolution goes the other way: an output-shaped array "
            f"({o[0]}x{o[1]}) back to the input's shape ({s.in_h}x{s.in_w})."
        )
    if not compact:
        _transpose_constructions(case, key)
        return _three_results(case, key)
    cmp = _three_results(case, key, fed_in=True)
    more = lazy_section("How each is built: Cᵀ, zero insertion, the code and the costs",
                        f"{key}-more-how")
    with more:
        if more.open:
            _transpose_constructions(case, key)
            _transpose_costs(case)
    return cmp


def _transpose_constructions(case: MatrixCase, key: str) -> None:
    """The array fed in beside C^T; zero insertion beside the flipped kernel."""
    s = case.spec
    op = case.comparison.output_padding
    o = case.output_shape
    y = case.y_back
    a, b = st.columns([2, 3])
    with a:
        show_plot(output_figure(y, f"Fed to the transpose: {o[0]}x{o[1]}"), key=f"{key}-y",
                  height=_height(*o, 300))
    with b:
        show_plot(matrix_figure(case, transpose=True), key=f"{key}-matrix-t",
                  height=_height(case.taps.shape[1], case.taps.shape[0], 420))

    zmask = zero_inserted_input(np.ones(o, dtype=bool), s.kernel_shape, stride=s.stride,
                                padding=s.padding, output_padding=op, dilation=s.dilation)
    zvals = zero_inserted_input(y, s.kernel_shape, stride=s.stride, padding=s.padding,
                                output_padding=op, dilation=s.dilation)
    costs = case.costs
    explain(
        "**Zero insertion** builds the same result with an ordinary convolution: put "
        f"`stride - 1 = {s.stride - 1}` zeros between the values, pad by "
        f"`dilation·(k - 1) - padding` (plus `output_padding = {pair_text(op)}` at the "
        "bottom/right), "
        "and slide the **flipped** kernel over it at stride 1."
    )
    a, b = st.columns([3, 2])
    with a:
        show_plot(
            grid_figure(zvals, f"Zero-inserted and padded: {zvals.shape[0]}x{zvals.shape[1]}",
                        faint=~zmask, highlight=list(zip(*np.nonzero(zmask), strict=True)),
                        hover=np.where(zmask, "a value of the input", "inserted zero / padding")),
            key=f"{key}-zero-inserted", height=_height(*zvals.shape, 420))
    with b:
        show_plot(kernel_figure(case.kernel[::-1, ::-1], "Flipped kernel", flipped=True),
                  key=f"{key}-flipped", height=_height(*case.kernel.shape, 260))
        st.metric("Cells carrying information",
                  f"{costs.info_cells} of {costs.zero_inserted_cells}",
                  help=f"{costs.info_share:.0%} of the enlarged input holds a value of the "
                  "input; the rest are inserted zeros and padding (the post's '4 out of 36').")


def difference_text(value: float) -> str:
    """A difference as a person reads it: ``0`` is "0 (identical)"; ``4.4e-16`` is
    "4.4 × 10⁻¹⁶ (floating-point rounding)" when tiny; else the number."""
    if value == 0:
        return "0 (identical)"
    exponent = int(np.floor(np.log10(abs(value))))
    if exponent > -6:
        return f"{value:.3g}"
    digits = str(exponent).translate(str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹"))
    return f"{value / 10.0 ** exponent:.1f} × 10{digits} (floating-point rounding)"


def _three_results(case: MatrixCase, key: str, *, fed_in: bool = False) -> DeconvComparison:
    """The three constructions' results side by side (after the array fed in, when
    ``fed_in``), their largest differences and the agreement line; then, unless ``fed_in``
    (the compact view shows them when opened), the call and the costs."""
    cmp = case.comparison
    o = case.output_shape
    st.markdown("**Three constructions, one result**")
    results = (
        ("1. Cᵀ y, reshaped", cmp.via_matrix),
        ("2. zero insertion + conv", cmp.via_zero_insertion),
        ("3. F.conv_transpose2d", cmp.via_torch),
    )
    cols = st.columns(4 if fed_in else 3)
    if fed_in:
        with cols[0]:
            show_plot(output_figure(case.y_back, f"Fed in: {o[0]}x{o[1]}"), key=f"{key}-y",
                      height=_height(*results[0][1].shape, 180, hi=COMPACT_HEIGHT + 20))
        cols = cols[1:]
    for col, (title, values), name in zip(cols, results, ("ct", "zi", "torch"), strict=True):
        with col:
            show_plot(output_figure(values, title), key=f"{key}-res-{name}",
                      height=_height(*values.shape, 180,
                                     hi=COMPACT_HEIGHT + 20 if fed_in else 420))
    # Relative to the values' size: summed in other orders, large values round apart.
    if cmp.max_abs_difference < 1e-9 * max(1.0, float(np.abs(cmp.via_matrix).max())):
        st.success("All three agree: the largest difference between any two results is "
                   f"{difference_text(cmp.max_abs_difference)}.",
                   icon=":material/check_circle:")
    else:  # would be a bug in core.maths.matrix: say so rather than hide it
        st.error(f"The constructions disagree by {cmp.max_abs_difference:.3g}.")
    if not fed_in:
        _transpose_costs(case)
    return cmp


def _transpose_costs(case: MatrixCase) -> None:
    """The call that does it, and what each construction costs."""
    s = case.spec
    st.code(
        f"F.conv_transpose2d(y, K, stride={s.stride}, padding={s.padding}, "
        f"dilation={s.dilation}, output_padding={pair_text(case.comparison.output_padding)})",
        language="python", wrap_lines=True,
    )
    st.markdown("**What each construction costs** (this configuration, one channel)")
    show_table(costs_table(case.costs), hide_index=True)
    explain(
        "The dense matrix multiplies every one of its cells, almost all zeros; zero "
        "insertion convolves mostly zeros; `conv_transpose2d` multiplies each input value by "
        "each weight once and adds the products into place. Same numbers, very different work."
    )


def costs_table(costs: DeconvCosts) -> pd.DataFrame:
    frame = pd.DataFrame(costs.rows())
    frame["useful share of multiply-adds"] = frame["useful share of multiply-adds"].map(
        lambda v: f"{v:.0%}")
    return frame
