"""The coverage view: how often a transposed convolution paints each output cell (the coverage page, the audit, the story and the home page use it)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from core.maths.overlap import CoverageReport, Dim, contributors, coverage_report
from ui.common import explain, lazy_section, presenting
from ui.plots import colorscale, integer_colorbar, show_plot, show_table

#: Largest side of the heatmap drawn; bigger maps show their top-left corner.
MAX_DRAWN = 160


#: Largest side at which the counts are written into the cells.
MAX_ANNOTATED = 24


#: Most (input, tap) pairs listed in a hover.
MAX_PAIRS = 6


@dataclass(frozen=True)
class CoverageSpec:
    """The settings of the coverage view (one spatial size and square kernel)."""

    dims: int = 2
    kernel: int = 3
    stride: int = 2
    padding: int = 0
    dilation: int = 1
    output_padding: int = 0
    size: int = 5
    layers: int = 1

    @property
    def input_size(self) -> int | tuple[int, int]:
        return self.size if self.dims == 1 else (self.size, self.size)

    def report(self) -> CoverageReport:
        return coverage_report(
            self.kernel, self.stride, self.input_size, padding=self.padding,
            dilation=self.dilation, output_padding=self.output_padding, layers=self.layers,
        )

    @property
    def dim(self) -> Dim:
        return Dim(self.size, self.kernel, self.stride, self.padding, self.dilation,
                   self.output_padding)

    def torch_line(self) -> str:
        cls = "ConvTranspose1d" if self.dims == 1 else "ConvTranspose2d"
        line = (
            f"nn.{cls}(in_channels, out_channels, kernel_size={self.kernel}, "
            f"stride={self.stride}, padding={self.padding}, "
            f"output_padding={self.output_padding}, dilation={self.dilation})"
        )
        return line if self.layers == 1 else f"nn.Sequential(*[{line} for _ in range({self.layers})])"


FIGURE_4 = {"dims": "2-D", "kernel": 3, "stride": 2, "padding": 0, "dilation": 1,
            "output_padding": 0, "size": 5, "layers": 1}


FIGURE_6 = {**FIGURE_4, "kernel": 4, "padding": 1}


def _pairs_text(pairs: list[tuple], limit: int = MAX_PAIRS) -> str:
    shown = "<br>".join(pairs[:limit])
    return shown + (f"<br>… and {len(pairs) - limit} more" if len(pairs) > limit else "")


def _hover_1d(spec: CoverageSpec, n_out: int) -> list[str]:
    """Per output cell: which (input cell, tap) pairs write it."""
    dim = spec.dim
    texts = []
    for j in range(n_out):
        pairs = [f"input {i} × tap {t}" for i, t in contributors(dim, j)]
        texts.append(_pairs_text(pairs) if pairs else "nothing (output padding / cropped)")
    return texts


def _hover_2d(spec: CoverageSpec, shape: tuple[int, int]) -> np.ndarray:
    dim = spec.dim
    rows = [contributors(dim, r) for r in range(shape[0])]
    cols = [contributors(dim, c) for c in range(shape[1])]
    text = np.empty(shape, dtype=object)
    for r in range(shape[0]):
        for c in range(shape[1]):
            pairs = [
                f"input ({i},{j}) × tap ({a},{b})" for i, a in rows[r] for j, b in cols[c]
            ]
            text[r, c] = _pairs_text(pairs) if pairs else "nothing (output padding / cropped)"
    return text


def coverage_heatmap(
    counts: np.ndarray, title: str, *, spec: CoverageSpec | None = None
) -> go.Figure:
    """Heatmap of a coverage map (1-D maps as one row), counts written in small grids.

    With ``spec`` (one layer) the hover lists the input cells and taps writing each cell.
    """
    grid = counts if counts.ndim == 2 else counts[None, :]
    full_shape = grid.shape
    grid = grid[:MAX_DRAWN, :MAX_DRAWN]
    h, w = grid.shape
    paths = spec is not None and spec.layers > 1
    what = "paths from the input" if paths else "times painted"
    if spec is not None and spec.layers == 1:
        if counts.ndim == 1:
            detail = np.array([_hover_1d(spec, w)], dtype=object)
        else:
            detail = _hover_2d(spec, (h, w))
    else:
        detail = np.full((h, w), "", dtype=object)
    fig = go.Figure(
        go.Heatmap(
            z=grid,
            colorscale=colorscale(),
            zmin=float(grid.min()) if grid.size else 0.0,
            zmax=float(max(grid.max(), grid.min() + 1)) if grid.size else 1.0,
            customdata=detail,
            text=grid if max(h, w) <= MAX_ANNOTATED else None,
            texttemplate="%{text}" if max(h, w) <= MAX_ANNOTATED else None,
            hovertemplate=(
                ("output cell %{x}" if counts.ndim == 1 else "output cell (row %{y}, col %{x})")
                + f"<br><b>%{{z}}</b> {what}<br>%{{customdata}}<extra></extra>"
            ),
            colorbar=integer_colorbar(grid.min() if grid.size else 0,
                                      grid.max() if grid.size else 1, what),
            xgap=1 if max(h, w) <= 64 else 0,
            ygap=1 if max(h, w) <= 64 else 0,
        )
    )
    if full_shape != grid.shape:
        title += f" (top-left {h}x{w} of {full_shape[0]}x{full_shape[1]})"
    fig.update_layout(
        title=title,
        xaxis={"title": "output column", "constrain": "domain"},
        yaxis={"title": "output row" if counts.ndim == 2 else "", "autorange": "reversed",
               "scaleanchor": "x", "constrain": "domain",
               "showticklabels": counts.ndim == 2},
        margin={"l": 10, "r": 10, "t": 60, "b": 10},
    )
    return fig


def painting_figure(spec: CoverageSpec) -> go.Figure:
    """1-D: every input cell's kernel copy as a row of squares, then the counts per layer.

    The Distill-style picture: row ``i`` shows where input cell ``i`` paints (tap ``t``
    at output ``i*s + t*d - padding``); the bottom rows give the total count after each
    stacked layer.
    """
    dim = spec.dim
    n_out = dim.out_size
    xs, ys, texts = [], [], []
    for i in range(spec.size):
        for t in range(spec.kernel):
            j = i * spec.stride + t * spec.dilation - spec.padding
            if 0 <= j < n_out:
                xs.append(j)
                ys.append(f"input {i}")
                texts.append(f"input {i} × tap {t} → output {j}")
    fig = go.Figure(
        go.Scatter(
            x=xs, y=ys, mode="markers", marker={"symbol": "square", "size": 14, "opacity": 0.6},
            hovertext=texts, hoverinfo="text", name="kernel copies",
        )
    )
    spec_1l = spec
    top = 1
    for layer in range(1, spec.layers + 1):
        layer_spec = CoverageSpec(1, spec_1l.kernel, spec_1l.stride, spec_1l.padding,
                                  spec_1l.dilation, spec_1l.output_padding, spec.size, layer)
        counts = layer_spec.report().counts
        top = max(top, int(counts.max()) if counts.size else 1)
        fig.add_trace(
            go.Bar(
                x=np.arange(counts.size), y=counts, name=f"count after layer {layer}",
                opacity=0.5 if layer < spec.layers else 0.9, yaxis="y2",
                hovertemplate=f"layer {layer}, output %{{x}}: %{{y}}<extra></extra>",
            )
        )
    fig.update_layout(
        title="Painting in 1-D: each input cell paints one copy of the kernel",
        xaxis={"title": "output cell (first layer)" if spec.layers > 1 else "output cell",
               "anchor": "y2"},
        yaxis={"title": "input cell", "domain": [0.45, 1.0], "autorange": "reversed"},
        yaxis2={"title": "count", "domain": [0.0, 0.38], "tickformat": "d",  # whole counts
                "dtick": max(1, int(np.ceil(top / 4)))},
        barmode="overlay",
        legend={"orientation": "h", "y": -0.2},
        margin={"l": 10, "r": 10, "t": 60, "b": 10},
    )
    return fig


def phase_table(report: CoverageReport) -> pd.DataFrame:
    """The interior count of each output phase, as a small table."""
    pattern = report.phase_pattern
    if pattern.ndim == 1:
        return pd.DataFrame({"interior count": pattern},
                            index=[f"column ≡ {a}" for a in range(pattern.size)])
    return pd.DataFrame(
        pattern,
        index=[f"row ≡ {a}" for a in range(pattern.shape[0])],
        columns=[f"col ≡ {b}" for b in range(pattern.shape[1])],
    )


def output_formula(spec: CoverageSpec) -> str:
    """The output-size formula with this configuration's numbers (LaTeX, one step a
    line so that it never needs a sideways scroll)."""
    dim = spec.dim
    lines = [
        r"\text{out} &= (n-1)\,s - 2p + d\,(k-1) + \text{output\_padding} + 1",
        rf"&= ({dim.n}-1)\cdot{dim.s} - 2\cdot{dim.p} + {dim.d}\cdot({dim.k}-1) + {dim.op} + 1"
        rf" = {dim.out_size}",
    ]
    if spec.layers > 1:
        sizes = [dim.out_size]
        cur = dim.next_layer()
        for _ in range(spec.layers - 1):
            sizes.append(cur.out_size)
            cur = cur.next_layer()
        lines.append(r"&\text{stacked: }" + r"\;\to\;".join(str(s) for s in sizes))
    return r"\begin{aligned}" + r" \\ ".join(lines) + r"\end{aligned}"


#: The coverage page's heatmap height when presenting.
PRESENT_HEIGHT = 480


def render_coverage(spec: CoverageSpec, *, key: str = "coverage",
                    height: int | None = None, fold: str | None = None
                    ) -> CoverageReport | None:
    """The full coverage view for ``spec``: heatmap, statistics, phases, formula, code.
    ``height``: the heatmap's, when a layout needs it smaller (the story, presenting).
    ``fold``: the title of a section, opened on demand, that holds everything below the
    heatmap (the story, presenting: one figure per screen).

    Shows an ``st.error`` naming the rule for configurations PyTorch refuses and returns
    None; otherwise returns the report.
    """
    try:
        report = spec.report()
    except ValueError as err:
        st.error(f"This layer cannot be built: {err}.", icon=":material/block:")
        return None
    k, s = spec.kernel, spec.stride
    title = f"{k}x{k} kernel, stride {s}: times each output cell is painted"
    if spec.layers > 1:
        title = f"{spec.layers} stacked {k}x{k}/stride {s} layers: paths to each output cell"
    figure = coverage_heatmap(report.counts, title, spec=spec)
    if fold is None and presenting() and spec.dims == 2:
        # the page, presenting: the heatmap in three fifths of the width (its colour bar
        # beside it, not 400 px away), low enough for its column axis on the first
        # screen, its statistics beside it, the rest below
        left, right = st.columns([3, 2])
        rows, cols = np.shape(report.counts)[:2]
        side = PRESENT_HEIGHT - 150  # the grid's height: less the title and the axis
        with left:
            show_plot(figure, key=f"{key}-heatmap", present_height=PRESENT_HEIGHT,
                      width=int(side * cols / max(rows, 1)) + 230)
        with right:  # two columns: a label in a third of this column was cut at 1280 px
            _coverage_stats(report, columns=2)
        _coverage_numbers(spec, report, stats=False)
        return report
    show_plot(figure, key=f"{key}-heatmap", height=height or (560 if spec.dims == 2 else 240))
    if spec.dims == 1:
        show_plot(painting_figure(spec), key=f"{key}-painting", height=420)
    if fold is None:
        _coverage_numbers(spec, report)
        return report
    numbers = lazy_section(fold, f"{key}-numbers")
    with numbers:
        if numbers.open:
            _coverage_numbers(spec, report)
    return report


def _coverage_stats(report: CoverageReport, columns: int = 3) -> None:
    """The six statistics, in ``columns`` columns."""
    interior = report.interior_stats
    border = report.border_stats
    cols = st.columns(columns)
    metrics = [
        ("Output size", " x ".join(map(str, report.output_size)), None),
        ("Interior even?", "yes" if report.interior_even else "no", None),
        ("Period", " x ".join(map(str, report.periods)),
         "Smallest repeat of the interior pattern, in output cells."),
        ("Interior min / max", f"{interior.min} / {interior.max}", None),
        ("Interior max/min", "∞" if interior.min == 0 else f"{interior.ratio:.2f}",
         "1.00 means every interior cell is painted equally often."),
        ("Border min / max", "—" if border is None else f"{border.min} / {border.max}", None),
    ]
    for i, (label, value, help_text) in enumerate(metrics):
        cols[i % columns].metric(label, value, help=help_text)


def _coverage_numbers(spec: CoverageSpec, report: CoverageReport, *,
                      stats: bool = True) -> None:
    """The statistics (unless drawn already), the count per phase, the output-size formula
    and the code."""
    if stats:
        _coverage_stats(report)
    if not report.interior_in_map:
        st.info("This input is too small to have interior cells: the interior figures "
                "are those of a long input.")
    phases = phase_table(report)
    # A stacked layer's period is 4, 8, ...: its table needs the full width.
    wide = presenting() or phases.shape[1] > 4
    table, text = (st.container(), st.container()) if wide else st.columns([2, 3])
    with table:
        st.markdown("**Interior count per output phase**")
        show_table(phases)
    with text:
        explain(
            "Phase = output index modulo the stride. Away from the borders every cell of "
            "a phase is painted the same number of times, "
            r"$\lceil (k - r)/s \rceil$ for phase $r$ (dilation 1, no padding): equal "
            "phases mean no checkerboard."
        )
    st.latex(output_formula(spec))
    st.code(("import torch.nn as nn\n" + spec.torch_line()), language="python",
            wrap_lines=True)
