"""Convolution as a matrix, and the three equal ways to compute its transpose.

The blog post's Figures 2 and 3 as numbers. Everything here is single-channel and 2-D
unless a docstring says otherwise; arrays are indexed ``[row, column]`` and flattened
row-major (``x.ravel()``, C order), exactly as ``torch.Tensor.flatten`` does.

Convolution (PyTorch's ``F.conv2d`` is a cross-correlation, the kernel is *not* flipped)::

    y[i, j] = sum_{a, b} K[a, b] * x[i*s_h + a*d_h - p_h,  j*s_w + b*d_w - p_w]

with stride ``s``, zero padding ``p`` and dilation ``d``; reads outside ``x`` are zeros
(the padding). Because ``y`` is linear in ``x`` there is a matrix ``C`` with
``y.ravel() == C @ x.ravel()``: row ``i*out_w + j`` holds, in column ``r*in_w + c``, the
kernel weight ``K[a, b]`` that lands on input cell ``(r, c)`` when the kernel sits at
output position ``(i, j)``, and zero where the kernel does not cover the cell (Figure 2).

The *transposed* convolution is ``C.T``: it maps an output-shaped array back to the
input's shape. It is not an inverse (``C.T @ C != I``): it is the adjoint, the map the
backward pass of ``conv2d`` applies to gradients. Three constructions compute it:

1. ``C.T @ y.ravel()`` with the dense matrix (:func:`conv_matrix`);
2. zero insertion, the "fractionally strided" view (:func:`transposed_via_zero_insertion`):
   put ``s - 1`` zeros between the inputs, pad by ``d*(k-1) - p`` on each side, convolve
   directly at stride 1 with the flipped kernel (Figure 3);
3. ``F.conv_transpose2d`` itself, which scatters every input value times the whole kernel
   into the output (``o = j*s - p + b*d``) and never builds either of the above.

A fourth view (:func:`resize_conv_as_transposed_kernel`): nearest-neighbour upsampling by
``s`` followed by a ``k x k`` convolution *is* one transposed convolution at stride ``s``
with a ``(k+s-1) x (k+s-1)`` kernel. The reverse is not true: a general transposed
convolution kernel is not such a box-smoothed kernel, which is where the checkerboard
comes from (see ``core/overlap.py``).

Sizes (Dumoulin & Visin, "A guide to convolution arithmetic", 2018)::

    conv:            out = floor((n + 2p - d*(k-1) - 1) / s) + 1
    transposed conv: out = (n - 1)*s - 2p + d*(k-1) + output_padding + 1

Several input sizes ``n`` of a strided conv give the same ``out``; ``output_padding``
(``0 <= output_padding < max(s, d)``, PyTorch's rule) picks which one the transpose returns.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from .overlap import conv_transpose_output_size

__all__ = [
    "MAX_DENSE_INPUT",
    "DeconvComparison",
    "DeconvCosts",
    "SizeReport",
    "compare_deconvolutions",
    "conv_inputs_with_same_output",
    "conv_matrix",
    "conv_matrix_taps",
    "conv_output_shape",
    "conv_output_size",
    "conv_transpose_output_shape",
    "conv_transpose_output_size",
    "conv_transpose_via_matrix",
    "correlate2d",
    "deconv_costs",
    "fold_resize_kernel",
    "output_padding_for",
    "resize_conv_as_transposed_kernel",
    "resize_conv_transposed_padding",
    "size_report",
    "transposed_via_zero_insertion",
    "valid_output_paddings",
    "zero_insert",
    "zero_inserted_input",
    "zero_insertion_pads",
]

#: The dense-matrix view refuses inputs larger than this on either side: a 16x16 input
#: already gives C with 256 columns; the figure (and the browser) would not survive more.
MAX_DENSE_INPUT = 16

Pair = tuple[int, int]


# ----------------------------------------------------------------------------------------
# argument normalisation
# ----------------------------------------------------------------------------------------


def _pair(value: Any, name: str, *, minimum: int) -> Pair:
    """An int or a pair of ints -> a ``(h, w)`` pair, each ``>= minimum``, else ValueError."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        pair = (int(value), int(value))
    else:
        try:
            items = tuple(value)
        except TypeError:
            raise ValueError(f"{name} must be an int or a pair of ints, got {value!r}") from None
        if len(items) != 2 or not all(
            isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in items
        ):
            raise ValueError(f"{name} must be an int or a pair of ints, got {value!r}")
        pair = (int(items[0]), int(items[1]))
    if min(pair) < minimum:
        raise ValueError(f"{name} must be >= {minimum} on both axes, got {pair}")
    return pair


def _spd(stride: Any, padding: Any, dilation: Any) -> tuple[Pair, Pair, Pair]:
    """Normalise (stride >= 1, padding >= 0, dilation >= 1) to pairs."""
    return (
        _pair(stride, "stride", minimum=1),
        _pair(padding, "padding", minimum=0),
        _pair(dilation, "dilation", minimum=1),
    )


def _shape(value: Any, name: str) -> Pair:
    return _pair(value, name, minimum=1)


def _kernel2d(kernel: Any) -> np.ndarray:
    """A 2-D kernel as a float64 array, refusing anything else."""
    return _array2d(kernel, "kernel")


def _array2d(value: Any, name: str) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    a = np.asarray(value, dtype=np.float64)
    if a.ndim != 2 or min(a.shape) < 1:
        raise ValueError(f"{name} must be a non-empty 2-D array, got shape {a.shape}")
    return a


# ----------------------------------------------------------------------------------------
# output sizes
# ----------------------------------------------------------------------------------------


def conv_output_size(
    n: int, k: int, stride: int = 1, padding: int = 0, dilation: int = 1
) -> int:
    """Output length of a convolution along one axis.

    ``out = floor((n + 2p - d*(k-1) - 1) / s) + 1``. The kernel's extent ``d*(k-1) + 1``
    must fit inside the padded input ``n + 2p``; otherwise there is no valid position and
    a ValueError names the rule.
    """
    for value, name, lo in ((n, "input size", 1), (k, "kernel size", 1), (stride, "stride", 1),
                            (padding, "padding", 0), (dilation, "dilation", 1)):
        if int(value) != value or value < lo:
            raise ValueError(f"{name} must be an integer >= {lo}, got {value!r}")
    extent = dilation * (k - 1) + 1
    if extent > n + 2 * padding:
        raise ValueError(
            f"kernel extent d*(k-1)+1 = {extent} exceeds the padded input n+2p = "
            f"{n + 2 * padding}: a convolution needs at least one full kernel position"
        )
    return (n + 2 * padding - extent) // stride + 1


def conv_output_shape(
    input_shape: Any, kernel_shape: Any, *, stride: Any = 1, padding: Any = 0, dilation: Any = 1
) -> Pair:
    """:func:`conv_output_size` on both axes; ints or ``(h, w)`` pairs everywhere."""
    (n_h, n_w), (k_h, k_w) = _shape(input_shape, "input_shape"), _shape(kernel_shape, "kernel_shape")
    s, p, d = _spd(stride, padding, dilation)
    return (conv_output_size(n_h, k_h, s[0], p[0], d[0]), conv_output_size(n_w, k_w, s[1], p[1], d[1]))


def valid_output_paddings(stride: int, dilation: int = 1) -> list[int]:
    """The ``output_padding`` values PyTorch accepts: ``0 <= op < max(stride, dilation)``."""
    return list(range(max(int(stride), int(dilation))))


def conv_transpose_output_shape(
    input_shape: Any, kernel_shape: Any, *, stride: Any = 1, padding: Any = 0, dilation: Any = 1,
    output_padding: Any = 0,
) -> Pair:
    """:func:`conv_transpose_output_size` on both axes."""
    (n_h, n_w), (k_h, k_w) = _shape(input_shape, "input_shape"), _shape(kernel_shape, "kernel_shape")
    s, p, d = _spd(stride, padding, dilation)
    op = _pair(output_padding, "output_padding", minimum=0)
    return (
        conv_transpose_output_size(n_h, k_h, s[0], p[0], d[0], op[0]),
        conv_transpose_output_size(n_w, k_w, s[1], p[1], d[1], op[1]),
    )


def output_padding_for(
    input_shape: Any, kernel_shape: Any, *, stride: Any = 1, padding: Any = 0, dilation: Any = 1
) -> Pair:
    """The ``output_padding`` that makes ``conv_transpose2d`` return ``input_shape``.

    A strided conv floors: ``op = (n + 2p - d*(k-1) - 1) mod s`` is the remainder it
    dropped, and the transpose must add it back. Always ``< s``, so always valid.
    """
    n, k = _shape(input_shape, "input_shape"), _shape(kernel_shape, "kernel_shape")
    s, p, d = _spd(stride, padding, dilation)
    conv_output_shape(n, k, stride=s, padding=p, dilation=d)  # validates the sizes
    return tuple((n[i] + 2 * p[i] - d[i] * (k[i] - 1) - 1) % s[i] for i in range(2))  # type: ignore[return-value]


def conv_inputs_with_same_output(
    out: int, k: int, stride: int = 1, padding: int = 0, dilation: int = 1
) -> list[int]:
    """Every input length a conv maps to output length ``out`` (one axis).

    ``n`` ranges over ``(out-1)*s + d*(k-1) + 1 - 2p + r`` for ``r = 0 .. s-1`` (those
    ``>= 1``): the floor in the conv formula forgets ``r``. The transposed convolution of
    an ``out``-long input returns the ``r = output_padding`` member of this list; this is
    the usual "why does my decoder come out one pixel short" confusion.
    """
    if int(out) != out or out < 1:
        raise ValueError(f"output size must be an integer >= 1, got {out!r}")
    base = (out - 1) * stride + dilation * (k - 1) + 1 - 2 * padding
    sizes = [base + r for r in range(stride) if base + r >= 1]
    return [n for n in sizes if conv_output_size(n, k, stride, padding, dilation) == out]


@dataclass(frozen=True)
class SizeReport:
    """The output-size calculator for one axis: conv and transposed conv, with the numbers.

    ``conv_out`` is ``None`` (and ``conv_error`` says why) when the conv is impossible.
    ``transpose_outs`` maps every valid ``output_padding`` to the transposed output size.
    """

    n: int
    k: int
    stride: int
    padding: int
    dilation: int
    conv_out: int | None
    conv_formula: str
    conv_error: str | None
    transpose_outs: dict[int, int]
    transpose_formula: str
    same_output_inputs: tuple[int, ...]
    recovering_output_padding: int | None


def size_report(n: int, k: int, stride: int = 1, padding: int = 0, dilation: int = 1) -> SizeReport:
    """Everything the size calculator shows for input length ``n`` along one axis.

    The conv maps ``n -> conv_out``; the transposed conv (same k, s, p, d) maps an
    ``n``-long input to ``transpose_outs[op]``; ``same_output_inputs`` lists the conv
    inputs that collapse onto ``conv_out`` and ``recovering_output_padding`` the ``op``
    that sends ``conv_out`` back to ``n``.
    """
    extent = dilation * (k - 1) + 1
    conv_formula = (
        f"floor(({n} + 2*{padding} - {dilation}*({k}-1) - 1) / {stride}) + 1"
    )
    conv_out: int | None
    try:
        conv_out = conv_output_size(n, k, stride, padding, dilation)
        conv_error = None
        conv_formula += f" = floor({n + 2 * padding - extent} / {stride}) + 1 = {conv_out}"
        same = tuple(conv_inputs_with_same_output(conv_out, k, stride, padding, dilation))
        op_back: int | None = (n + 2 * padding - extent) % stride
    except ValueError as err:
        conv_out, conv_error, same, op_back = None, str(err), (), None
    outs: dict[int, int] = {}
    for op in valid_output_paddings(stride, dilation):
        try:
            outs[op] = conv_transpose_output_size(n, k, stride, padding, dilation, op)
        except ValueError:
            pass
    base = conv_transpose_output_size(n, k, stride, padding, dilation, validate=False)
    transpose_formula = f"({n}-1)*{stride} - 2*{padding} + {dilation}*({k}-1) + op + 1 = {base} + op"
    return SizeReport(
        n=n, k=k, stride=stride, padding=padding, dilation=dilation, conv_out=conv_out,
        conv_formula=conv_formula, conv_error=conv_error, transpose_outs=outs,
        transpose_formula=transpose_formula, same_output_inputs=same,
        recovering_output_padding=op_back,
    )


# ----------------------------------------------------------------------------------------
# the matrix C
# ----------------------------------------------------------------------------------------


def conv_matrix_taps(
    input_shape: Any, kernel_shape: Any, *, stride: Any = 1, padding: Any = 0, dilation: Any = 1,
    cap: int | None = MAX_DENSE_INPUT,
) -> np.ndarray:
    """The *structure* of C: which kernel tap each cell holds, ``-1`` where none.

    Returns an int array of shape ``(out_h*out_w, in_h*in_w)``; cell ``[row, col]`` is the
    flat tap index ``a*k_w + b`` of the weight ``K[a, b]`` that multiplies input cell ``col``
    at kernel position ``row``. Independent of the kernel's values, so a zero weight still
    shows up as "covered" (the page's stepper highlights covered cells this way).

    Built by index arithmetic, no loop over cells: for output ``(i, j)`` and tap ``(a, b)``
    the input cell is ``r = i*s_h + a*d_h - p_h``, ``c = j*s_w + b*d_w - p_w``; taps landing
    in the padding (``r`` or ``c`` outside the input) have no column. Within one row two
    taps never share a cell (``d >= 1`` keeps ``a*d`` distinct), so a plain scatter is exact.
    """
    n_h, n_w = _shape(input_shape, "input_shape")
    k_h, k_w = _shape(kernel_shape, "kernel_shape")
    s, p, d = _spd(stride, padding, dilation)
    if cap is not None and max(n_h, n_w) > cap:
        raise ValueError(
            f"the dense matrix view is limited to inputs of at most {cap}x{cap} "
            f"(C would have {n_h * n_w} columns); got {n_h}x{n_w}"
        )
    o_h, o_w = conv_output_shape((n_h, n_w), (k_h, k_w), stride=s, padding=p, dilation=d)

    rows_in = np.arange(o_h)[:, None] * s[0] + np.arange(k_h)[None, :] * d[0] - p[0]  # (o_h, k_h)
    cols_in = np.arange(o_w)[:, None] * s[1] + np.arange(k_w)[None, :] * d[1] - p[1]  # (o_w, k_w)
    # broadcast to (o_h, o_w, k_h, k_w): one entry per (kernel position, tap)
    r = rows_in[:, None, :, None]
    c = cols_in[None, :, None, :]
    valid = (r >= 0) & (r < n_h) & (c >= 0) & (c < n_w)  # (o_h, o_w, k_h, k_w)
    out_row = (np.arange(o_h)[:, None] * o_w + np.arange(o_w)[None, :])[:, :, None, None]
    in_col = r * n_w + c
    tap = (np.arange(k_h)[:, None] * k_w + np.arange(k_w)[None, :])[None, None, :, :]
    out_row, in_col, tap = np.broadcast_arrays(out_row, in_col, tap)

    taps = np.full((o_h * o_w, n_h * n_w), -1, dtype=np.int64)
    taps[out_row[valid], in_col[valid]] = tap[valid]
    return taps


def conv_matrix(
    input_shape: Any, kernel: Any, *, stride: Any = 1, padding: Any = 0, dilation: Any = 1
) -> np.ndarray:
    """The dense matrix C of a single-channel 2-D convolution, shape ``(out_h*out_w, in_h*in_w)``.

    Contract (float64, row-major flattening)::

        C @ x.ravel()   == F.conv2d(x, K, stride=s, padding=p, dilation=d).ravel()
        C.T @ y.ravel() == F.conv_transpose2d(y, K, stride=s, padding=p, dilation=d,
                                              output_padding=op).ravel()

    where ``x`` has ``input_shape``, ``y`` the conv's output shape, and
    ``op = output_padding_for(input_shape, K.shape, ...)`` = ``(n + 2p - d*(k-1) - 1) mod s``
    per axis: the output_padding under which the transposed convolution returns exactly
    ``input_shape``. (The same kernel ``K``, unflipped, goes into both torch calls: the
    transposed convolution is the adjoint of the convolution, not its inverse.)

    ``stride``, ``padding`` and ``dilation`` are ints or ``(h, w)`` pairs; the kernel may
    be rectangular. Inputs larger than :data:`MAX_DENSE_INPUT` on a side are refused with
    a ValueError (the matrix grows as the square of the image), as are impossible sizes.
    """
    k = _kernel2d(kernel)
    taps = conv_matrix_taps(input_shape, k.shape, stride=stride, padding=padding, dilation=dilation)
    # gather: each covered cell takes the weight of its tap, the rest are zeros
    return np.where(taps >= 0, k.ravel()[np.maximum(taps, 0)], 0.0)


def conv_transpose_via_matrix(
    y: Any, kernel: Any, input_shape: Any, *, stride: Any = 1, padding: Any = 0, dilation: Any = 1
) -> np.ndarray:
    """``C.T @ y.ravel()`` reshaped to ``input_shape``: construction 1 of the transposed conv.

    ``y`` must have the conv's output shape for ``input_shape``.
    """
    y = _array2d(y, "y")
    c = conv_matrix(input_shape, kernel, stride=stride, padding=padding, dilation=dilation)
    n = _shape(input_shape, "input_shape")
    o = conv_output_shape(n, np.shape(kernel), stride=stride, padding=padding, dilation=dilation)
    if y.shape != o:
        raise ValueError(
            f"y must have the convolution's output shape {o} for input {n}, got {y.shape}"
        )
    return (c.T @ y.ravel()).reshape(n)


# ----------------------------------------------------------------------------------------
# zero insertion ("fractionally strided" convolution)
# ----------------------------------------------------------------------------------------


def correlate2d(x: Any, kernel: Any, *, dilation: Any = 1) -> np.ndarray:
    """Direct 'valid' cross-correlation at stride 1 (what ``F.conv2d`` computes, no padding).

    ``out[i, j] = sum_{a,b} K[a, b] * x[i + a*d_h, j + b*d_w]``, shape
    ``(H - d_h*(k_h-1), W - d_w*(k_w-1))``. Vectorised over the output: one shifted-slice
    multiply-add per kernel tap.
    """
    x = _array2d(x, "x")
    k = _kernel2d(kernel)
    d = _pair(dilation, "dilation", minimum=1)
    o_h = x.shape[0] - d[0] * (k.shape[0] - 1)
    o_w = x.shape[1] - d[1] * (k.shape[1] - 1)
    if o_h < 1 or o_w < 1:
        raise ValueError(
            f"kernel extent {(d[0] * (k.shape[0] - 1) + 1, d[1] * (k.shape[1] - 1) + 1)} "
            f"exceeds the input {x.shape}: no valid position"
        )
    out = np.zeros((o_h, o_w))
    for a in range(k.shape[0]):
        for b in range(k.shape[1]):
            out += k[a, b] * x[a * d[0]: a * d[0] + o_h, b * d[1]: b * d[1] + o_w]
    return out


def zero_insert(y: Any, stride: Any) -> np.ndarray:
    """Put ``s - 1`` zeros between neighbouring values: ``(h, w) -> ((h-1)*s_h+1, (w-1)*s_w+1)``.

    Keeps ``y``'s dtype (a boolean ``y`` gives the mask of cells carrying information).
    """
    y = np.asarray(y)
    if y.ndim != 2 or min(y.shape) < 1:
        raise ValueError(f"y must be a non-empty 2-D array, got shape {y.shape}")
    s = _pair(stride, "stride", minimum=1)
    z = np.zeros(((y.shape[0] - 1) * s[0] + 1, (y.shape[1] - 1) * s[1] + 1), dtype=y.dtype)
    z[:: s[0], :: s[1]] = y
    return z


def zero_insertion_pads(
    kernel_shape: Any, *, padding: Any = 0, output_padding: Any = 0, dilation: Any = 1
) -> tuple[Pair, Pair]:
    """Border added around the zero-inserted input: ``((top, bottom), (left, right))``.

    ``near = d*(k-1) - p`` and ``far = near + output_padding``. Transposed conv padding
    ``p`` *removes* ``p`` cells from each side of the full output, so the direct view pads
    by ``p`` less than the "full" border ``d*(k-1)``; a negative value means cropping.
    """
    k = _shape(kernel_shape, "kernel_shape")
    p = _pair(padding, "padding", minimum=0)
    d = _pair(dilation, "dilation", minimum=1)
    op = _pair(output_padding, "output_padding", minimum=0)
    near = [d[i] * (k[i] - 1) - p[i] for i in range(2)]
    return ((near[0], near[0] + op[0]), (near[1], near[1] + op[1]))


def zero_inserted_input(
    y: Any, kernel_shape: Any, *, stride: Any = 1, padding: Any = 0, output_padding: Any = 0,
    dilation: Any = 1,
) -> np.ndarray:
    """The enlarged input of construction 2: zeros inserted, then padded (or cropped).

    Figure 3 of the post: a 2x2 ``y`` with ``k=3, s=1, p=0`` becomes 6x6 (4 of its 36
    cells carry information); with ``s=2`` it becomes 7x7 with a zero between elements.
    Keeps ``y``'s dtype.
    """
    s = _pair(stride, "stride", minimum=1)
    d = _pair(dilation, "dilation", minimum=1)
    op = _pair(output_padding, "output_padding", minimum=0)
    for i in range(2):
        if op[i] >= max(s[i], d[i]):
            raise ValueError(
                f"output_padding must be smaller than max(stride, dilation) = "
                f"{max(s[i], d[i])}, got {op[i]}"
            )
    z = zero_insert(y, s)
    (t, b), (left, right) = zero_insertion_pads(
        kernel_shape, padding=padding, output_padding=op, dilation=d)
    # pad the positive parts, then crop the negative ones (padding larger than d*(k-1))
    z = np.pad(z, ((max(t, 0), max(b, 0)), (max(left, 0), max(right, 0))))
    h, w = z.shape
    z = z[max(-t, 0): h - max(-b, 0), max(-left, 0): w - max(-right, 0)]
    return z


def transposed_via_zero_insertion(
    y: Any, kernel: Any, *, stride: Any = 1, padding: Any = 0, output_padding: Any = 0,
    dilation: Any = 1,
) -> np.ndarray:
    """Transposed convolution as a direct convolution: construction 2, equal to ``F.conv_transpose2d``.

    1. insert ``s-1`` zeros between the values of ``y``;
    2. pad by ``d*(k-1) - p`` on each side, plus ``output_padding`` on the far (bottom /
       right) side (crop where negative);
    3. cross-correlate at stride 1 (dilation ``d``) with the kernel flipped in both axes.

    Why the flip: ``conv_transpose2d`` scatters ``y[j]`` to output ``j*s - p + b*d`` with
    weight ``K[b]``; read from the output's side, output ``o`` gathers ``K[b]`` from the
    zero-inserted cell ``o + p - b*d``, i.e. the kernel runs backwards.
    Output shape: ``(n-1)*s - 2p + d*(k-1) + output_padding + 1`` per axis.
    """
    y = _array2d(y, "y")
    k = _kernel2d(kernel)
    conv_transpose_output_shape(y.shape, k.shape, stride=stride, padding=padding,
                                dilation=dilation, output_padding=output_padding)  # validates
    z = zero_inserted_input(y, k.shape, stride=stride, padding=padding,
                            output_padding=output_padding, dilation=dilation)
    return correlate2d(z, k[::-1, ::-1], dilation=dilation)


# ----------------------------------------------------------------------------------------
# the resize-convolution view
# ----------------------------------------------------------------------------------------


def resize_conv_transposed_padding(kernel_size: Any, padding: Any) -> Pair:
    """Padding ``P`` of the transposed conv equal to nearest-upsample + conv(padding ``p``).

    ``P = k - 1 - p`` per axis (with ``output_padding = 0``); both sides then have output
    length ``s*n + 2p - k + 1``. PyTorch needs ``P >= 0``, i.e. ``p <= k - 1``: the usual
    "same" padding ``p = (k-1)//2`` gives ``P = k - 1 - (k-1)//2`` (1 for k=3).
    """
    k = _shape(kernel_size, "kernel_size")
    p = _pair(padding, "padding", minimum=0)
    if p[0] > k[0] - 1 or p[1] > k[1] - 1:
        raise ValueError(
            f"conv padding {p} must be at most k-1 = {(k[0] - 1, k[1] - 1)} for the "
            "resize-conv to be one transposed convolution (its padding k-1-p would be negative)"
        )
    return (k[0] - 1 - p[0], k[1] - 1 - p[1])


def _box_fold(flipped: torch.Tensor, s: Pair) -> torch.Tensor:
    """Full 2-D convolution of ``(..., k_h, k_w)`` with an ``s_h x s_w`` box of ones.

    Sum of ``s_h*s_w`` shifted copies, ``(..., k_h+s_h-1, k_w+s_w-1)``; differentiable.
    """
    parts = [
        F.pad(flipped, (v, s[1] - 1 - v, u, s[0] - 1 - u))
        for u in range(s[0])
        for v in range(s[1])
    ]
    return torch.stack(parts, dim=0).sum(dim=0)


def fold_resize_kernel(weight: torch.Tensor, scale: Any) -> torch.Tensor:
    """The ``conv_transpose2d`` weight equal to nearest-upsample by ``scale`` + ``conv2d(weight)``.

    ``weight`` is a ``conv2d`` weight ``(C_out, C_in, k_h, k_w)``; the result is a
    ``conv_transpose2d`` weight ``(C_in, C_out, k_h+s_h-1, k_w+s_w-1)`` such that::

        F.conv2d(F.interpolate(x, scale_factor=s, mode="nearest"), weight, bias, padding=p)
        == F.conv_transpose2d(x, fold_resize_kernel(weight, s), bias, stride=s,
                              padding=resize_conv_transposed_padding(k, p))

    Derivation (one axis): the upsampled input is ``u[m] = x[m // s]``, so conv output
    ``z[i] = sum_a K[a] u[i+a-p]`` collects ``x[j]`` through every tap ``a`` with
    ``j*s <= i+a-p < j*s+s``. A transposed conv collects ``x[j]`` at ``i = j*s - P + b``
    with weight ``W[b]``; matching gives ``W[b] = sum_a K[a] [0 <= b+a-P-p < s]``, which
    with ``P = k-1-p`` is ``(flip(K) * box_s)[b]`` (full convolution with ``s`` ones).
    So W is the *flipped* kernel smoothed by an ``s x s`` box: every output phase sees
    the same total weight, which is why resize-convolution cannot make a checkerboard.
    The channel axes swap because ``conv_transpose2d`` stores ``(C_in, C_out, ...)``.
    Differentiable in ``weight``, so a layer can train ``weight`` and run the fast form.
    """
    if not isinstance(weight, torch.Tensor) or weight.ndim != 4:
        raise ValueError(
            "weight must be a torch tensor (C_out, C_in, k_h, k_w), got "
            f"{type(weight).__name__} with shape {tuple(getattr(weight, 'shape', ()))}"
        )
    s = _pair(scale, "scale", minimum=1)
    flipped = torch.flip(weight, dims=(-2, -1))  # (C_out, C_in, k_h, k_w)
    folded = _box_fold(flipped, s)  # (C_out, C_in, k_h+s_h-1, k_w+s_w-1)
    return folded.transpose(0, 1)  # (C_in, C_out, k_h+s_h-1, k_w+s_w-1)


def resize_conv_as_transposed_kernel(kernel: Any, scale: Any) -> Any:
    """The transposed-convolution kernel of "nearest upsample by ``scale``, then conv with ``kernel``".

    * 2-D numpy array (or nested list) ``(k_h, k_w)``: returns the 2-D numpy kernel
      ``flip(K) * box`` of shape ``(k_h+s_h-1, k_w+s_w-1)`` for single-channel
      ``F.conv_transpose2d`` (as a ``(1, 1, ., .)`` weight);
    * 4-D torch tensor ``(C_out, C_in, k_h, k_w)``: as :func:`fold_resize_kernel`, returns
      ``(C_in, C_out, k_h+s_h-1, k_w+s_w-1)``.

    Use it at stride ``scale``, ``output_padding=0`` and padding
    ``P = k - 1 - p`` (:func:`resize_conv_transposed_padding`) where ``p`` is the padding
    of the conv after the upsample; the outputs are then equal (float64: to ~1e-15).
    Example: ``k=3, p=1, s=2`` gives the familiar 4x4, stride-2, padding-1 deconvolution,
    but with a kernel that is a 2x2 box-blur of the 3x3 one.
    """
    if isinstance(kernel, torch.Tensor):
        if kernel.ndim == 2:
            return fold_resize_kernel(kernel[None, None], scale)[0, 0]
        return fold_resize_kernel(kernel, scale)
    k = _kernel2d(kernel)
    s = _pair(scale, "scale", minimum=1)
    return _box_fold(torch.from_numpy(k[::-1, ::-1].copy()), s).numpy()


# ----------------------------------------------------------------------------------------
# the three constructions side by side
# ----------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class DeconvComparison:
    """The transposed convolution of ``y`` computed three ways, and how far apart they are."""

    via_matrix: np.ndarray  # C.T @ y, reshaped to the conv's input shape
    via_zero_insertion: np.ndarray  # direct conv of the zero-inserted, padded y
    via_torch: np.ndarray  # F.conv_transpose2d in float64
    output_padding: Pair  # the one that recovers the conv's input shape

    @property
    def max_abs_differences(self) -> dict[str, float]:
        """Pairwise max |a - b| between the three results."""
        m, z, t = self.via_matrix, self.via_zero_insertion, self.via_torch
        return {
            "C^T vs zero insertion": float(np.max(np.abs(m - z))),
            "C^T vs conv_transpose2d": float(np.max(np.abs(m - t))),
            "zero insertion vs conv_transpose2d": float(np.max(np.abs(z - t))),
        }

    @property
    def max_abs_difference(self) -> float:
        return max(self.max_abs_differences.values())


def compare_deconvolutions(
    y: Any, kernel: Any, input_shape: Any, *, stride: Any = 1, padding: Any = 0, dilation: Any = 1
) -> DeconvComparison:
    """Transpose the conv ``input_shape -> y.shape`` three ways (dense C^T, zero insertion, torch).

    ``output_padding`` is :func:`output_padding_for` the conv, so all three return
    ``input_shape``.
    """
    y = _array2d(y, "y")
    k = _kernel2d(kernel)
    op = output_padding_for(input_shape, k.shape, stride=stride, padding=padding, dilation=dilation)
    via_matrix = conv_transpose_via_matrix(
        y, k, input_shape, stride=stride, padding=padding, dilation=dilation)
    via_zero = transposed_via_zero_insertion(
        y, k, stride=stride, padding=padding, output_padding=op, dilation=dilation)
    s, p, d = _spd(stride, padding, dilation)
    via_torch = F.conv_transpose2d(
        torch.from_numpy(y)[None, None], torch.from_numpy(k)[None, None],
        stride=s, padding=p, dilation=d, output_padding=op,
    )[0, 0].numpy()
    return DeconvComparison(via_matrix, via_zero, via_torch, op)


# ----------------------------------------------------------------------------------------
# cost figures
# ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DeconvCosts:
    """What each construction of one transposed convolution costs (inference, one image).

    Multiply-adds ("MACs") and values stored, for ``channels_in -> channels_out``:

    * dense matrix: ``C^T`` as a dense ``(H*W) x (h*w)`` matrix per channel pair; a
      mat-vec touches every cell, zero or not.
    * zero insertion: a stride-1 direct conv over the zero-inserted, padded input
      ``Z_h x Z_w``: ``H*W*k_h*k_w`` MACs per channel pair, most of them on zeros.
    * direct transposed conv (what ``conv_transpose2d`` does): each input value times each
      tap, scattered into the output: ``h*w*k_h*k_w`` MACs per channel pair, some landing
      in the padding and cropped (``useful_macs`` counts those that are not).

    ``info_cells / zero_inserted_cells`` is the share of the zero-inserted input that holds
    one of ``y``'s values: the post's "4 out of 36" for Figure 3 (left).
    """

    input_shape: Pair  # (h, w): the transposed conv's input
    kernel_shape: Pair
    output_shape: Pair  # (H, W)
    zero_inserted_shape: Pair  # (Z_h, Z_w)
    channels_in: int
    channels_out: int
    bytes_per_value: int
    dense_macs: int
    dense_values: int
    dense_nonzeros: int
    zero_insertion_macs: int
    zero_inserted_values: int
    direct_macs: int
    direct_values: int  # the output buffer the scatter accumulates into
    useful_macs: int  # products that end up in the output (= nonzeros of C^T)
    info_cells: int
    zero_inserted_cells: int

    @property
    def info_share(self) -> float:
        return self.info_cells / self.zero_inserted_cells

    @property
    def dense_bytes(self) -> int:
        return self.dense_values * self.bytes_per_value

    @property
    def zero_inserted_bytes(self) -> int:
        return self.zero_inserted_values * self.bytes_per_value

    @property
    def direct_bytes(self) -> int:
        return self.direct_values * self.bytes_per_value

    def rows(self) -> list[dict[str, Any]]:
        """One row per construction, for a table."""
        return [
            {"construction": "dense matrix C^T", "multiply-adds": self.dense_macs,
             "values stored": self.dense_values, "bytes": self.dense_bytes,
             "useful share of multiply-adds": self.useful_macs / self.dense_macs},
            {"construction": "zero insertion + direct conv", "multiply-adds": self.zero_insertion_macs,
             "values stored": self.zero_inserted_values, "bytes": self.zero_inserted_bytes,
             "useful share of multiply-adds": self.useful_macs / self.zero_insertion_macs},
            {"construction": "conv_transpose2d (scatter)", "multiply-adds": self.direct_macs,
             "values stored": self.direct_values, "bytes": self.direct_bytes,
             "useful share of multiply-adds": self.useful_macs / self.direct_macs},
        ]


def _hits_1d(n: int, k: int, s: int, p: int, d: int, out: int) -> int:
    """Number of (input j, tap a) pairs whose scatter target ``j*s + a*d - p`` is in ``[0, out)``."""
    target = np.arange(n)[:, None] * s + np.arange(k)[None, :] * d - p
    return int(np.count_nonzero((target >= 0) & (target < out)))


def _info_1d(n: int, s: int, near: int, size: int) -> int:
    """Values of ``y`` that survive in the zero-inserted input (``near < 0`` crops some)."""
    pos = np.arange(n) * s + near
    return int(np.count_nonzero((pos >= 0) & (pos < size)))


def deconv_costs(
    input_shape: Any, kernel_shape: Any, *, stride: Any = 1, padding: Any = 0, dilation: Any = 1,
    output_padding: Any = 0, channels_in: int = 1, channels_out: int = 1, bytes_per_value: int = 4,
) -> DeconvCosts:
    """Cost figures of the transposed conv ``input_shape -> output`` for each construction.

    ``input_shape`` is the *transposed* conv's input (the small one, ``y``). Counts are
    exact and analytic (no arrays of the full size are built), so large configurations
    are fine here even though the dense matrix itself is capped elsewhere.
    """
    n = _shape(input_shape, "input_shape")
    k = _shape(kernel_shape, "kernel_shape")
    s, p, d = _spd(stride, padding, dilation)
    op = _pair(output_padding, "output_padding", minimum=0)
    if channels_in < 1 or channels_out < 1 or bytes_per_value < 1:
        raise ValueError("channels_in, channels_out and bytes_per_value must be >= 1")
    o = conv_transpose_output_shape(n, k, stride=s, padding=p, dilation=d, output_padding=op)
    pads = zero_insertion_pads(k, padding=p, output_padding=op, dilation=d)
    z = tuple((n[i] - 1) * s[i] + 1 + pads[i][0] + pads[i][1] for i in range(2))
    cc = channels_in * channels_out
    useful = _hits_1d(n[0], k[0], s[0], p[0], d[0], o[0]) * _hits_1d(n[1], k[1], s[1], p[1], d[1], o[1])
    info = _info_1d(n[0], s[0], pads[0][0], z[0]) * _info_1d(n[1], s[1], pads[1][0], z[1])
    return DeconvCosts(
        input_shape=n, kernel_shape=k, output_shape=o, zero_inserted_shape=z,  # type: ignore[arg-type]
        channels_in=channels_in, channels_out=channels_out, bytes_per_value=bytes_per_value,
        dense_macs=o[0] * o[1] * n[0] * n[1] * cc,
        dense_values=o[0] * o[1] * n[0] * n[1] * cc,
        dense_nonzeros=useful * cc,
        zero_insertion_macs=o[0] * o[1] * k[0] * k[1] * cc,
        zero_inserted_values=z[0] * z[1] * channels_in,
        direct_macs=n[0] * n[1] * k[0] * k[1] * cc,
        direct_values=o[0] * o[1] * channels_out,
        useful_macs=useful * cc,
        info_cells=info,
        zero_inserted_cells=z[0] * z[1],
    )
