"""The worked example of the matrix view, as a pure model: a convolution's spec, its matrix C, the deconvolution built three ways. No streamlit."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from .matrix import (
    DeconvComparison,
    DeconvCosts,
    compare_deconvolutions,
    conv_matrix_taps,
    conv_output_shape,
    deconv_costs,
)

#: Where the kernel and input values come from (the options are what the URL holds).
VALUE_MODES = ("integers", "random", "typed")


#: Largest magnitude of a typed value: the products and sums of the three constructions
#: stay far inside float64 (1e200 squared overflows to inf, then inf - inf is NaN).
MAX_TYPED_ABS = 1e6

#: What the transposed convolution is fed: 1, 2, 3, … or the conv's output y = C x.
Y_MODES = ("integers", "conv output")


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
    if not np.all(np.isfinite(arr)) or np.abs(arr).max() > MAX_TYPED_ABS:
        bad = next(v for v in arr.ravel() if not abs(v) <= MAX_TYPED_ABS)
        raise ValueError(f"the {name} values must be finite numbers from {-MAX_TYPED_ABS:g} "
                         f"to {MAX_TYPED_ABS:g}; {bad:g} is not (larger ones overflow the "
                         "products of the three constructions)")
    return arr


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def format_grid(values: np.ndarray) -> str:
    """The inverse of :func:`parse_grid`: ``"1 2 3; 4 5 6"``."""
    return "; ".join(" ".join(format_number(v) for v in row) for row in np.asarray(values))


def pair_text(pair: tuple[int, int]) -> str:
    """``(1, 1)`` -> ``"1"``; ``(0, 1)`` -> ``"(0, 1)"`` (as one would write it in PyTorch)."""
    return str(pair[0]) if pair[0] == pair[1] else str(tuple(pair))


def format_number(v: float) -> str:
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
