"""How a transposed convolution paints its output: the overlap (coverage) map.

A transposed convolution ("deconvolution") with stride ``s``, kernel size ``k`` and
dilation ``d`` takes every input cell ``i`` and *paints* the kernel onto the output,
starting at ``i * s``: tap ``t`` of the kernel lands on the (uncropped, "full") output
index::

    f = i * s + t * d,          0 <= i < n,   0 <= t < k                      (1)

The *coverage* of an output cell is the number of (input cell, kernel tap) pairs that
write it. With every weight and every input equal to one, the transposed convolution
computes exactly this count, which is what ``coverage_map`` returns (tests check it
against ``torch.nn.functional.conv_transpose1d/2d``).

Why the overlap is uneven (the blog post's Figure 4, Odena et al. 2016). Away from the
borders, cell ``f`` is written once for every tap ``t`` with ``t * d = f (mod s)``.
For ``d = 1`` the taps are split into ``s`` residue classes ("phases") and phase ``r``
receives::

    c(r) = ceil((k - r) / s)   taps,     r = 0 .. s-1                          (2)

so whenever ``s`` does not divide ``k`` some phases get one tap more than others: 3x3 at
stride 2 gives the 1-D pattern ``2, 1, 2, 1, ...`` and, as the 2-D count is the outer
product of the row and column counts, the 2-D pattern ``4 2 / 2 1``: some cells are
painted four times, others once. With ``k = 4, s = 2`` every phase gets exactly two taps
and the interior is even (Figure 6); only the borders stay uneven.

PyTorch's arguments, all honoured here:

- ``padding`` p crops ``p`` cells from both ends of the full output,
- ``output_padding`` adds cells at the far end (which no tap writes: count 0),
- output size per dimension: ``(n - 1) * s - 2 p + d (k - 1) + output_padding + 1``.

Everything is separable: with an all-ones kernel on an all-ones input, the number of
pairs ``(i_h, i_w, t_h, t_w)`` writing output ``(y, x)`` is the product of the 1-D
counts, so the 2-D map is ``np.multiply.outer(rows, cols)``, and a map of any rank (a
1-D signal, a 3-D volume ``(D, H, W)``) is the outer product of its per-axis 1-D maps:
one code path for every rank, nothing copied per dimension. Stacking ``layers``
identical layers feeds each count map into the next all-ones transposed convolution,
so the final number is the number of *paths* from the input to an output cell (the
stacked figure of the Distill article); it stays separable because every layer is.

All loops below run over kernel taps (at most a few dozen), never over cells.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

Pair = tuple[int, ...]  # one int per spatial axis (1-D, 2-D or 3-D)

#: Names of the spatial axes by rank, used in error messages.
AXES = {1: ("",), 2: ("height", "width"), 3: ("depth", "height", "width")}

#: Largest map (in cells) that ``coverage_map`` builds; beyond it a ValueError.
MAX_CELLS = 64_000_000


def _pair(value: int | tuple[int, ...] | list[int], name: str, dims: int) -> tuple[int, ...]:
    """Normalise an int or a pair into a ``dims``-tuple of Python ints."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return (int(value),) * dims
    if isinstance(value, (tuple, list)) and len(value) == dims:
        if all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in value):
            return tuple(int(v) for v in value)
    raise ValueError(f"{name} must be an int or a sequence of {dims} ints, got {value!r}")


def conv_transpose_output_size(
    n: int, k: int, stride: int = 1, padding: int = 0, dilation: int = 1, output_padding: int = 0,
    *, validate: bool = True,
) -> int:
    """Output length of a transposed convolution along one axis: the one place this
    formula lives (the overlap maps, the matrices, the audit and the size calculator call it).

    ``out = (n - 1)*s - 2p + d*(k-1) + output_padding + 1``. With ``validate`` (the
    default), ``output_padding`` must be in ``range(max(s, d))`` (PyTorch's rule) and
    ``out`` at least 1 (padding crops the full output ``(n-1)*s + d*(k-1) + 1`` by ``p``
    on each side, it cannot crop it all); ``validate=False`` returns the formula's value
    as is (possibly < 1), for callers that check it themselves.
    """
    out = (n - 1) * stride - 2 * padding + dilation * (k - 1) + output_padding + 1
    if not validate:
        return int(out)
    for value, name, lo in ((n, "input size", 1), (k, "kernel size", 1), (stride, "stride", 1),
                            (padding, "padding", 0), (dilation, "dilation", 1),
                            (output_padding, "output_padding", 0)):
        if int(value) != value or value < lo:
            raise ValueError(f"{name} must be an integer >= {lo}, got {value!r}")
    if output_padding >= max(stride, dilation):
        raise ValueError(
            f"output_padding must be smaller than max(stride, dilation) = {max(stride, dilation)}"
            f", got {output_padding}"
        )
    if out < 1:
        raise ValueError(
            f"transposed convolution output (n-1)*s - 2p + d*(k-1) + output_padding + 1 = {out}"
            f" < 1: padding {padding} crops away the whole output"
        )
    return out


@dataclass(frozen=True)
class Dim:
    """The arguments of one spatial dimension of a transposed convolution."""

    n: int  # input size
    k: int  # kernel size
    s: int  # stride
    p: int = 0  # padding (cropped from both ends)
    d: int = 1  # dilation
    op: int = 0  # output_padding (added at the far end)

    @property
    def full_size(self) -> int:
        """Length of the uncropped output: last index of (1) plus one."""
        return (self.n - 1) * self.s + self.d * (self.k - 1) + 1

    @property
    def out_size(self) -> int:
        """PyTorch's output size: (n - 1) s - 2p + d (k - 1) + output_padding + 1."""
        return conv_transpose_output_size(self.n, self.k, self.s, self.p, self.d, self.op,
                                          validate=False)

    def validate(self, axis: str = "") -> None:
        """Refuse what ``torch.nn.ConvTranspose`` refuses, naming the rule."""
        where = f" ({axis})" if axis else ""
        for name, value, low in (
            ("input size", self.n, 1),
            ("kernel size", self.k, 1),
            ("stride", self.s, 1),
            ("dilation", self.d, 1),
            ("padding", self.p, 0),
            ("output padding", self.op, 0),
        ):
            if value < low:
                raise ValueError(f"{name}{where} must be at least {low}, got {value}")
        if self.op >= self.s and self.op >= self.d:
            raise ValueError(
                f"output padding{where} must be smaller than either stride or dilation: "
                f"output_padding={self.op}, stride={self.s}, dilation={self.d}"
            )
        if self.out_size < 1:
            raise ValueError(
                f"output size{where} would be {self.out_size} < 1: "
                f"(n-1)*stride - 2*padding + dilation*(kernel-1) + output_padding + 1 = "
                f"({self.n}-1)*{self.s} - 2*{self.p} + {self.d}*({self.k}-1) + {self.op} + 1; "
                "reduce the padding"
            )

    def next_layer(self) -> Dim:
        """The same layer applied to this layer's output (for stacking)."""
        return Dim(self.out_size, self.k, self.s, self.p, self.d, self.op)


def _paint_full(x: np.ndarray, dim: Dim) -> np.ndarray:
    """All-ones transposed convolution of ``x`` (1-D), *before* cropping.

    ``full[i * s + t * d] += x[i]`` for every tap ``t``: one strided slice per tap.
    """
    full = np.zeros(dim.full_size, dtype=np.int64)
    span = (dim.n - 1) * dim.s + 1
    for t in range(dim.k):
        full[t * dim.d : t * dim.d + span : dim.s] += x
    return full


def _crop(full: np.ndarray, dim: Dim) -> np.ndarray:
    """PyTorch's cropping: drop ``p`` cells at each end, then ``output_padding`` zeros."""
    out = np.zeros(dim.out_size, dtype=np.int64)
    kept = full[dim.p : dim.p + dim.out_size]
    out[: kept.size] = kept
    return out


def _paths_1d(dim: Dim, layers: int) -> np.ndarray:
    """Number of paths from the input to each output cell through ``layers`` layers."""
    x = np.ones(dim.n, dtype=np.int64)
    for _ in range(layers):
        x = _crop(_paint_full(x, dim), dim)
        dim = dim.next_layer()
    return x


def _interior_1d(dim: Dim, layers: int) -> tuple[np.ndarray, np.ndarray]:
    """Interior mask and the count an infinitely long input would give, per output cell.

    A cell is *interior* when no path reaches it from beyond the input's ends, i.e. the
    finite input gives the same count as an infinite one. We embed the input in a longer
    one with ``m`` extra cells at each end (``m`` larger than the reach of all layers) and
    follow the original cells' offsets through every layer: cropping only shifts them.
    """
    m = dim.k * dim.d * layers + 2
    offset = m  # where original index 0 sits in the extended signal
    x = np.ones(dim.n + 2 * m, dtype=np.int64)
    cur = dim
    for _ in range(layers):
        ext = Dim(x.size, cur.k, cur.s, cur.p, cur.d, cur.op)
        x = _paint_full(x, ext)  # (full_ext,) never cropped: the infinite world
        offset = offset * cur.s + cur.p  # original output j sits at ext index j + offset
        cur = cur.next_layer()
    infinite = x[offset : offset + cur.n]  # cur.n is the final output size
    finite = _paths_1d(dim, layers)
    return finite == infinite, infinite


def _validate(dims: list[Dim], layers: int, axes: list[str]) -> None:
    if not isinstance(layers, (int, np.integer)) or isinstance(layers, bool) or layers < 1:
        raise ValueError(f"layers must be an int of at least 1, got {layers!r}")
    for dim, axis in zip(dims, axes, strict=True):
        cur = dim
        for layer in range(layers):
            cur.validate(axis if layers == 1 else f"{axis + ', ' if axis else ''}layer {layer + 1}")
            cur = cur.next_layer()


def _dims(
    kernel_size, stride, input_size, padding, dilation, output_padding
) -> tuple[list[Dim], list[str]]:
    if isinstance(input_size, (int, np.integer)) and not isinstance(input_size, bool):
        nd = 1
    elif isinstance(input_size, (tuple, list)) and len(input_size) in AXES:
        nd = len(input_size)
    else:
        raise ValueError("input_size must be an int (1-D), a pair (h, w) (2-D) or a triple "
                         f"(d, h, w) (3-D), got {input_size!r}")
    ns = _pair(input_size, "input_size", nd)
    ks = _pair(kernel_size, "kernel_size", nd)
    ss = _pair(stride, "stride", nd)
    ps = _pair(padding, "padding", nd)
    ds = _pair(dilation, "dilation", nd)
    ops = _pair(output_padding, "output_padding", nd)
    dims = [Dim(*args) for args in zip(ns, ks, ss, ps, ds, ops, strict=True)]
    return dims, list(AXES[nd])


def output_size(
    kernel_size, stride, input_size, *, padding=0, dilation=1, output_padding=0, layers=1
) -> tuple[int, ...]:
    """Output size of ``layers`` stacked transposed convolutions (validated)."""
    dims, axes = _dims(kernel_size, stride, input_size, padding, dilation, output_padding)
    _validate(dims, layers, axes)
    sizes = []
    for dim in dims:
        for _ in range(layers):
            dim = dim.next_layer()
        sizes.append(dim.n)
    return tuple(sizes)


def coverage_map(
    kernel_size: int | Pair,
    stride: int | Pair,
    input_size: int | Pair,
    *,
    padding: int | Pair = 0,
    dilation: int | Pair = 1,
    output_padding: int | Pair = 0,
    layers: int = 1,
) -> np.ndarray:
    """How many (input cell, kernel tap) pairs write each output cell.

    Exactly ``conv_transpose1d/2d(ones(input), ones(kernel), stride, padding,
    output_padding, dilation=dilation)`` chained ``layers`` times, as integers.
    ``input_size`` an int (or a 1-tuple) gives a 1-D map of shape ``(out,)``; a pair
    ``(h, w)`` a 2-D map ``(out_h, out_w)``; a triple ``(d, h, w)`` a 3-D map
    ``(out_d, out_h, out_w)``: the outer product of the per-axis 1-D maps (see the module
    docstring). Raises ``ValueError`` naming the rule for configurations PyTorch
    refuses.
    """
    dims, axes = _dims(kernel_size, stride, input_size, padding, dilation, output_padding)
    _validate(dims, layers, axes)
    sizes = output_size(
        kernel_size, stride, input_size, padding=padding, dilation=dilation,
        output_padding=output_padding, layers=layers,
    )
    if int(np.prod(sizes)) > MAX_CELLS:
        raise ValueError(
            f"the map would have {'x'.join(map(str, sizes))} cells, more than {MAX_CELLS:,}; "
            "use a smaller input, stride or fewer layers"
        )
    return outer_product([_paths_1d(dim, layers) for dim in dims])  # (out_1, ..., out_n)


def outer_product(factors: list[np.ndarray]) -> np.ndarray:
    """``factors[0] (x) factors[1] (x) ...``: the one way a separable per-axis quantity
    (counts, masks, phase patterns) becomes its n-D map. One factor is returned as is."""
    out = factors[0]
    for factor in factors[1:]:
        out = np.multiply.outer(out, factor)
    return out


def contributors(dim_args: Dim, out_index: int) -> list[tuple[int, int]]:
    """The (input cell, kernel tap) pairs that write output cell ``out_index`` (1 layer).

    Solves (1) for ``f = out_index + p``: every tap ``t`` with ``f - t d`` a multiple of
    ``s`` inside the input.
    """
    f = out_index + dim_args.p
    pairs = []
    for t in range(dim_args.k):
        q = f - t * dim_args.d
        if q >= 0 and q % dim_args.s == 0 and q // dim_args.s < dim_args.n:
            pairs.append((q // dim_args.s, t))
    return pairs


@dataclass(frozen=True)
class Stats:
    """min, max and max/min of a set of counts (ratio is inf when some cell gets 0)."""

    min: int
    max: int

    @property
    def ratio(self) -> float:
        return float("inf") if self.min == 0 else self.max / self.min


def _stats(values: np.ndarray) -> Stats | None:
    if values.size == 0:
        return None
    return Stats(int(values.min()), int(values.max()))


def _period(pattern: np.ndarray) -> int:
    """Smallest ``q`` dividing ``len(pattern)`` with ``pattern`` q-periodic."""
    n = pattern.size
    for q in range(1, n + 1):
        if n % q == 0 and np.array_equal(pattern, np.tile(pattern[:q], n // q)):
            return q
    return n


@dataclass(frozen=True)
class CoverageReport:
    """Everything the coverage page shows about one configuration.

    ``phase_pattern`` is the interior count of each output phase: entry ``[a]`` (1-D),
    ``[a, b]`` (2-D) or ``[a, b, c]`` (3-D) is the count of interior cells whose output
    index is ``a`` (row ``a``, column ``b``; slice ``a``, row ``b``, column ``c``)
    modulo the total stride ``stride ** layers``. For one layer with
    dilation 1 it is formula (2) shifted by the padding.
    """

    counts: np.ndarray  # (out,), (out_h, out_w) or (out_d, out_h, out_w)
    interior: np.ndarray  # bool mask, same shape: no path from beyond the input's ends
    phase_pattern: np.ndarray  # (P,), (P_h, P_w) or (P_d, P_h, P_w)
    periods: tuple[int, ...]  # smallest period of the interior pattern, per dimension
    interior_stats: Stats  # over the infinite-input (steady-state) pattern
    border_stats: Stats | None  # over this map's non-interior cells (None: no border)
    interior_in_map: bool  # does this map contain any interior cell at all?
    output_size: tuple[int, ...]

    @property
    def interior_even(self) -> bool:
        return self.interior_stats.min == self.interior_stats.max


def phase_pattern_1d(dim: Dim, layers: int = 1) -> np.ndarray:
    """Interior counts per output phase ``j mod s**layers`` (length ``s**layers``).

    Measured on an input long enough to have interior cells of every phase.
    """
    period = dim.s**layers
    n_big = 2 * period + 2 * dim.k * dim.d * layers + 4
    big = Dim(n_big, dim.k, dim.s, dim.p, dim.d, dim.op)
    mask, infinite = _interior_1d(big, layers)
    idx = np.flatnonzero(mask)
    pattern = np.zeros(period, dtype=np.int64)
    pattern[idx % period] = infinite[idx]
    return pattern


def phase_formula(k: int, s: int, r: int) -> int:
    """Formula (2): interior taps for full-index phase ``r`` (dilation 1)."""
    return max(0, -(-(k - r) // s))


def coverage_report(
    kernel_size, stride, input_size, *, padding=0, dilation=1, output_padding=0, layers=1
) -> CoverageReport:
    """Counts plus the per-phase view and statistics (see ``CoverageReport``)."""
    counts = coverage_map(
        kernel_size, stride, input_size, padding=padding, dilation=dilation,
        output_padding=output_padding, layers=layers,
    )
    dims, _ = _dims(kernel_size, stride, input_size, padding, dilation, output_padding)
    masks = [_interior_1d(dim, layers)[0] for dim in dims]
    patterns = [phase_pattern_1d(dim, layers) for dim in dims]
    interior = outer_product(masks).astype(bool)  # product of bools = and
    pattern = outer_product(patterns)
    border = counts[~interior]
    return CoverageReport(
        counts=counts,
        interior=interior,
        phase_pattern=pattern,
        periods=tuple(_period(p) for p in patterns),
        interior_stats=_stats(pattern),
        border_stats=_stats(border),
        interior_in_map=bool(interior.any()),
        output_size=counts.shape,
    )


def even_interior_kernels(stride: int, max_kernel: int = 9) -> list[int]:
    """Kernel sizes up to ``max_kernel`` whose interior is even at this stride (d = 1).

    From (2): even exactly when ``s`` divides ``k`` (or ``s = 1``).
    """
    return [k for k in range(1, max_kernel + 1) if k % stride == 0 or stride == 1]

