"""Views of a convolution as a matrix C and of its transpose (matrix page, story page).

Figures 2 and 3 of the post: the input, the kernel, the matrix ``C`` (one row per kernel
position), the output; then ``C^T`` taking an output-shaped array back to the input's
shape, computed three equal ways. All numbers come from ``core.maths.matrix``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
import streamlit as st

from core.maths.matrix import (
    DeconvComparison,
    DeconvCosts,
    compare_deconvolutions,
    conv_matrix_taps,
    conv_output_shape,
    deconv_costs,
    size_report,
    zero_inserted_input,
)
from ui.common import (
    ChoiceParam,
    IntParam,
    check_query_params,
    explain,
    preset_button,
    scale_for,
    show_plot,
    show_table,
)

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
#: Background and text of cells that are structurally zero.
FAINT_FILL = "rgba(200, 200, 200, 0.25)"
FAINT_TEXT = "rgba(140, 140, 140, 0.7)"

#: Where the kernel and input values come from (the options are what the URL holds).
VALUE_MODES = ("integers", "random", "typed")
#: What the transposed convolution is fed: 1, 2, 3, … or the conv's output y = C x.
Y_MODES = ("integers", "conv output")


# --------------------------------------------------------------------------- settings


def parse_grid(text: str, shape: tuple[int, int], name: str) -> np.ndarray:
    """Parse ``"1 2 3; 4 5 6"`` (rows split by ``;`` or new lines, values by spaces or commas).

    Raises ValueError with a message a newcomer can act on when the text is not numbers
    or does not have ``shape``.
    """
    rows = [r for r in re.split(r"[;\n]", text.strip()) if r.strip()]
    if not rows:
        raise ValueError(f"the {name} values are empty: type {shape[0]} rows of {shape[1]} numbers, "
                         "rows separated by ';'")
    values = []
    for i, row in enumerate(rows):
        items = [v for v in re.split(r"[,\s]+", row.strip()) if v]
        try:
            values.append([float(v) for v in items])
        except ValueError:
            bad = next(v for v in items if not _is_number(v))
            raise ValueError(f"the {name} values: {bad!r} in row {i + 1} is not a number") from None
    lengths = {len(r) for r in values}
    if len(values) != shape[0] or lengths != {shape[1]}:
        got = f"{len(values)} rows of {'/'.join(str(n) for n in sorted(lengths))} numbers"
        raise ValueError(
            f"the typed {name} has {got} but the {name} size is {shape[0]}x{shape[1]}: "
            f"type {shape[0]} rows of {shape[1]} numbers, or change the size"
        )
    arr = np.array(values, dtype=np.float64)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"the {name} values must be finite numbers")
    return arr


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def format_grid(values: np.ndarray) -> str:
    """The inverse of :func:`parse_grid`: ``"1 2 3; 4 5 6"``."""
    return "; ".join(" ".join(_fmt(v) for v in row) for row in np.asarray(values))


def _pair_text(pair: tuple[int, int]) -> str:
    """``(1, 1)`` -> ``"1"``; ``(0, 1)`` -> ``"(0, 1)"`` (as one would write it in PyTorch)."""
    return str(pair[0]) if pair[0] == pair[1] else str(tuple(pair))


def _fmt(v: float) -> str:
    v = float(v)
    return str(int(v)) if v.is_integer() else f"{v:.3g}"


def small_integer_kernel(shape: tuple[int, int]) -> np.ndarray:
    """``1, 2, …, k_h*k_w`` in raster order: every weight distinct, so C reads easily."""
    return np.arange(1, shape[0] * shape[1] + 1, dtype=np.float64).reshape(shape)


def small_integer_input(shape: tuple[int, int], seed: int) -> np.ndarray:
    """Integers 0..3 drawn from ``seed`` (seed 0: the same picture every time)."""
    return np.random.default_rng(seed).integers(0, 4, size=shape).astype(np.float64)


@dataclass(frozen=True)
class MatrixSpec:
    """The settings of the matrix view: one-channel conv ``x -> y`` and the values used."""

    in_h: int = 4
    in_w: int = 4
    k_h: int = 3
    k_w: int = 3
    stride: int = 1
    padding: int = 0
    dilation: int = 1
    values: str = "integers"  # one of VALUE_MODES
    seed: int = 0
    kernel_text: str = ""
    input_text: str = ""
    y_values: str = "integers"  # one of Y_MODES

    @property
    def input_shape(self) -> tuple[int, int]:
        return (self.in_h, self.in_w)

    @property
    def kernel_shape(self) -> tuple[int, int]:
        return (self.k_h, self.k_w)

    def kernel(self) -> np.ndarray:
        if self.values == "typed":
            return parse_grid(self.kernel_text, self.kernel_shape, "kernel")
        if self.values == "random":
            return np.round(np.random.default_rng([self.seed, 1]).normal(size=self.kernel_shape), 2)
        return small_integer_kernel(self.kernel_shape)

    def x(self) -> np.ndarray:
        if self.values == "typed":
            return parse_grid(self.input_text, self.input_shape, "input")
        if self.values == "random":
            return np.round(np.random.default_rng([self.seed, 2]).normal(size=self.input_shape), 2)
        return small_integer_input(self.input_shape, self.seed)

    def torch_conv(self) -> str:
        return (f"F.conv2d(x, K, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation})")


@dataclass(frozen=True, eq=False)
class MatrixCase:
    """Everything computed for one :class:`MatrixSpec` (raises ValueError when impossible)."""

    spec: MatrixSpec
    kernel: np.ndarray  # (k_h, k_w)
    x: np.ndarray  # (in_h, in_w)

    @cached_property
    def taps(self) -> np.ndarray:
        """(out_h*out_w, in_h*in_w): flat tap index per cell of C, -1 where not covered."""
        s = self.spec
        return conv_matrix_taps(s.input_shape, s.kernel_shape, stride=s.stride,
                                padding=s.padding, dilation=s.dilation)

    @cached_property
    def matrix(self) -> np.ndarray:
        """The dense C (same structure as ``taps``)."""
        return np.where(self.taps >= 0, self.kernel.ravel()[np.maximum(self.taps, 0)], 0.0)

    @property
    def output_shape(self) -> tuple[int, int]:
        s = self.spec
        return conv_output_shape(s.input_shape, s.kernel_shape, stride=s.stride,
                                 padding=s.padding, dilation=s.dilation)

    @cached_property
    def y(self) -> np.ndarray:
        """The conv output ``C @ x`` reshaped, (out_h, out_w)."""
        return (self.matrix @ self.x.ravel()).reshape(self.output_shape)

    @cached_property
    def y_back(self) -> np.ndarray:
        """What the transposed convolution is fed (output-shaped)."""
        if self.spec.y_values == "conv output":
            return self.y
        o = self.output_shape
        return np.arange(1, o[0] * o[1] + 1, dtype=np.float64).reshape(o)

    @cached_property
    def comparison(self) -> DeconvComparison:
        s = self.spec
        return compare_deconvolutions(self.y_back, self.kernel, s.input_shape, stride=s.stride,
                                      padding=s.padding, dilation=s.dilation)

    @cached_property
    def costs(self) -> DeconvCosts:
        s = self.spec
        return deconv_costs(self.output_shape, s.kernel_shape, stride=s.stride, padding=s.padding,
                            dilation=s.dilation, output_padding=self.comparison.output_padding)

    def footprint(self, pos: int) -> list[tuple[int, int, int, int]]:
        """Kernel position ``pos`` (a row of C): ``(row, col, a, b)`` of every tap, in input
        coordinates, padding included (rows/cols may be negative or past the input)."""
        s = self.spec
        i, j = divmod(pos, self.output_shape[1])
        return [
            (i * s.stride + a * s.dilation - s.padding, j * s.stride + b * s.dilation - s.padding,
             a, b)
            for a in range(s.k_h)
            for b in range(s.k_w)
        ]


def build_case(spec: MatrixSpec) -> MatrixCase:
    """Check and compute; ValueError (naming the rule) for impossible settings."""
    kernel, x = spec.kernel(), spec.x()
    case = MatrixCase(spec, kernel, x)
    case.taps  # noqa: B018  (validates the sizes now, not halfway through drawing)
    return case


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
    "mx_pos": IntParam(0, 255),
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
    cols = st.columns(3)
    with cols[0]:
        preset_button("Figure 2: 4x4 input, 3x3 kernel", FIGURE_2, key="preset-fig2",
                      help="The post's Figure 2: stride 1, a 2x2 output, C is 4x16.")
    with cols[1]:
        preset_button("Figure 3 left: 2x2 → 6x6 → 4x4", FIGURE_3_LEFT, key="preset-fig3-left",
                      help="Figure 2 read backwards: the transposed convolution takes the 2x2 "
                      "output back to 4x4, as a 3x3 convolution over the input padded to 6x6.")
    with cols[2]:
        preset_button("Figure 3 right: 2x2 → 5x5", FIGURE_3_RIGHT, key="preset-fig3-right",
                      help="Stride 2: a zero between the input elements, padded to 7x7, a 3x3 "
                      "convolution gives 5x5 (the 'fractionally strided' view).")
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


# --------------------------------------------------------------------------- figures


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
        fig.update_layout(plot_bgcolor=FAINT_FILL)
    elif faint is not None and np.any(faint):
        fig.add_trace(
            go.Heatmap(
                z=np.where(faint, 0.0, np.nan), x=xs, y=ys,
                colorscale=[[0, FAINT_FILL], [1, FAINT_FILL]], showscale=False,
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
        names = np.array([f"weight K[{a},{b}] = {_fmt(case.kernel[a, b])}"
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
            xv = _fmt(case.x[r, c])
            terms.append(f"{_fmt(case.kernel[a, b])}·{f'({xv})' if xv.startswith('-') else xv}")
    shown = " + ".join(terms[:MAX_TERMS]) + (" + …" if len(terms) > MAX_TERMS else "")
    if not terms:
        shown = "0 (the kernel covers only padding here)"
    return f"y[{i},{j}] = (row {pos} of C) · x = {shown} = {_fmt(case.y[i, j])}"


# --------------------------------------------------------------------------- components


def position_stepper(n_positions: int, *, key: str = "mx_pos") -> int:
    """Pick a kernel position (= a row of C): a slider with previous/next buttons, in the URL."""
    if n_positions <= 1:
        st.caption("The kernel has a single position here: C has one row.")
        return 0
    last = n_positions - 1
    if int(st.session_state.get(key, 0)) > last:
        st.session_state[key] = last

    def step(delta: int) -> None:
        st.session_state[key] = min(last, max(0, int(st.session_state.get(key, 0)) + delta))

    a, b, c = st.columns([1, 6, 1], vertical_alignment="bottom")
    a.button("◀", key=f"{key}-prev", on_click=step, args=(-1,), help="Previous kernel position")
    c.button("▶", key=f"{key}-next", on_click=step, args=(1,), help="Next kernel position")
    with b:
        return st.slider("Kernel position (row of C)", 0, last, key=key, bind="query-params")


def render_matrix_view(case: MatrixCase, *, pos: int | None = None, key: str = "mx") -> int:
    """Figure 2, live: input, kernel, C with one row outlined, output; the row's equation.

    ``pos=None`` draws the kernel-position stepper (URL key ``{key}_pos``); returns the
    position shown.
    """
    n_pos = case.taps.shape[0]
    if pos is None:
        pos = position_stepper(n_pos, key=f"{key}_pos")
    pos = min(max(0, pos), n_pos - 1)
    o = case.output_shape
    left, mid, right = st.columns([5, 3, 3])
    with left:
        show_plot(padded_input_figure(case, pos), key=f"{key}-input",
                  height=_height(case.spec.in_h + 2 * case.spec.padding,
                                 case.spec.in_w + 2 * case.spec.padding, 280))
    with mid:
        show_plot(kernel_figure(case.kernel), key=f"{key}-kernel",
                  height=_height(*case.kernel.shape, 240))
    with right:
        show_plot(output_figure(case.y, f"Output y = C x: {o[0]}x{o[1]}", cell=pos),
                  key=f"{key}-output", height=_height(*o, 240))
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
    return pos


def show_matrix_c(spec: MatrixSpec, *, pos: int | None = 0, key: str = "mx") -> MatrixCase | None:
    """The matrix-C view for fixed settings (for the story page): build, then draw or explain.

    ``pos=None`` adds the stepper (URL key ``{key}_pos``). Returns the case, or None after
    an ``st.error`` naming the rule when the settings make no convolution.
    """
    try:
        case = build_case(spec)
    except ValueError as err:
        st.error(f"These settings do not make a convolution: {err}.", icon=":material/block:")
        return None
    render_matrix_view(case, pos=pos, key=key)
    return case


def render_transpose_view(case: MatrixCase, *, key: str = "mx") -> DeconvComparison:
    """Figure 3 and C^T: back to the input's shape, three equal constructions, their costs."""
    s = case.spec
    cmp = case.comparison
    op = cmp.output_padding
    o = case.output_shape
    y = case.y_back
    st.markdown(
        f"The transposed convolution goes the other way: an output-shaped array "
        f"({o[0]}x{o[1]}) back to the input's shape ({s.in_h}x{s.in_w})."
    )
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
        f"`dilation·(k - 1) - padding` (plus `output_padding = {_pair_text(op)}` at the "
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

    st.markdown("**Three constructions, one result**")
    cols = st.columns(3)
    results = (
        ("1. Cᵀ y, reshaped", cmp.via_matrix),
        ("2. zero insertion + conv", cmp.via_zero_insertion),
        ("3. F.conv_transpose2d", cmp.via_torch),
    )
    for col, (title, values), name in zip(cols, results, ("ct", "zi", "torch"), strict=True):
        with col:
            show_plot(output_figure(values, title), key=f"{key}-res-{name}",
                      height=_height(*values.shape, 180, hi=420))
    diffs = cmp.max_abs_differences
    cols = st.columns(3)
    for col, short, (label, value) in zip(cols, ("max |1 − 2|", "max |1 − 3|", "max |2 − 3|"),
                                          diffs.items(), strict=True):
        col.metric(short, f"{value:.1e}", help=f"Largest absolute difference, {label}.")
    if cmp.max_abs_difference < 1e-9:
        st.success("All three agree (differences are floating-point rounding at most).",
                   icon=":material/check_circle:")
    else:  # would be a bug in core.maths.matrix: say so rather than hide it
        st.error(f"The constructions disagree by {cmp.max_abs_difference:.3g}.")
    st.code(
        f"F.conv_transpose2d(y, K, stride={s.stride}, padding={s.padding}, "
        f"dilation={s.dilation}, output_padding={_pair_text(op)})",
        language="python", wrap_lines=True,
    )
    st.markdown("**What each construction costs** (this configuration, one channel)")
    show_table(costs_table(costs), hide_index=True)
    explain(
        "The dense matrix multiplies every one of its cells, almost all zeros; zero "
        "insertion convolves mostly zeros; `conv_transpose2d` multiplies each input value by "
        "each weight once and adds the products into place. Same numbers, very different work."
    )
    return cmp


def costs_table(costs: DeconvCosts) -> pd.DataFrame:
    frame = pd.DataFrame(costs.rows())
    frame["useful share of multiply-adds"] = frame["useful share of multiply-adds"].map(
        lambda v: f"{v:.0%}")
    return frame


# --------------------------------------------------------------------------- sizes


#: The calculator's fields: (suffix, label, lowest, highest, fallback default).
_CALC_FIELDS = (("n", "Input size n", 1, 4096, 6), ("k", "Kernel k", 1, 15, 3),
                ("s", "Stride s", 1, 8, 2), ("p", "Padding p", 0, 16, 1),
                ("d", "Dilation d", 1, 8, 1))


def calc_params(key: str = "calc") -> dict[str, IntParam]:
    """URL parameters of the size calculator drawn with ``key`` (``calc_n``, ``calc_k``, …)."""
    return {f"{key}_{name}": IntParam(lo, hi) for name, _, lo, hi, _ in _CALC_FIELDS}


CALC_PARAMS = calc_params()


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
    base = (n - 1) * s - 2 * p + d * (k - 1) + 1
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


__all__ = [
    "CALC_PARAMS",
    "FIGURE_2",
    "FIGURE_3_LEFT",
    "FIGURE_3_RIGHT",
    "URL_PARAMS",
    "MatrixCase",
    "MatrixSpec",
    "build_case",
    "calc_params",
    "costs_table",
    "format_grid",
    "grid_figure",
    "kernel_figure",
    "matrix_controls",
    "matrix_figure",
    "output_figure",
    "padded_input_figure",
    "parse_grid",
    "position_stepper",
    "render_matrix_view",
    "render_size_calculator",
    "render_transpose_view",
    "row_equation",
    "show_matrix_c",
]
