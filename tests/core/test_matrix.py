"""core.maths.matrix against torch.nn.functional: C, C^T, zero insertion, the resize fold, sizes, costs."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from core.maths.matrix import (
    MAX_DENSE_INPUT,
    compare_deconvolutions,
    conv_inputs_with_same_output,
    conv_matrix,
    conv_matrix_taps,
    conv_output_shape,
    conv_output_size,
    conv_transpose_output_shape,
    conv_transpose_output_size,
    conv_transpose_via_matrix,
    correlate2d,
    deconv_costs,
    fold_resize_kernel,
    output_padding_for,
    resize_conv_as_transposed_kernel,
    resize_conv_transposed_padding,
    size_report,
    transposed_via_zero_insertion,
    valid_output_paddings,
    zero_insert,
    zero_inserted_input,
)

SETTINGS = settings(max_examples=150, deadline=None, derandomize=True)


def t4(a: np.ndarray) -> torch.Tensor:
    """(H, W) numpy -> (1, 1, H, W) float64 tensor."""
    return torch.from_numpy(np.ascontiguousarray(a, dtype=np.float64))[None, None]


def torch_conv(x, k, **kw) -> np.ndarray:
    return F.conv2d(t4(x), t4(k), **kw)[0, 0].numpy()


def torch_deconv(y, k, **kw) -> np.ndarray:
    return F.conv_transpose2d(t4(y), t4(k), **kw)[0, 0].numpy()


@st.composite
def conv_configs(draw, max_input: int = 9):
    """A valid single-channel conv: (input shape, kernel, stride, padding, dilation), pairs."""
    k = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    s = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    d = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    p = (draw(st.integers(0, 3)), draw(st.integers(0, 3)))
    n = []
    for i in range(2):
        lo = max(1, d[i] * (k[i] - 1) + 1 - 2 * p[i])  # smallest input with a valid position
        n.append(draw(st.integers(lo, max(lo, max_input))))
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    kernel = rng.normal(size=k)
    return tuple(n), kernel, s, p, d, rng


# ----------------------------------------------------------------------------- Figure 2


def test_figure2_matrix_layout():
    """4x4 input, 3x3 kernel, stride 1: C is 4x16 with the kernel rows laid out as in the post."""
    k = np.arange(1, 10, dtype=float).reshape(3, 3)
    c = conv_matrix((4, 4), k)
    assert c.shape == (4, 16)
    expected_row0 = [1, 2, 3, 0, 4, 5, 6, 0, 7, 8, 9, 0, 0, 0, 0, 0]
    np.testing.assert_array_equal(c[0], expected_row0)
    # every next kernel position is the same row shifted: by 1 (next column), by 4 (next row)
    np.testing.assert_array_equal(c[1], np.roll(expected_row0, 1))
    np.testing.assert_array_equal(c[2], np.roll(expected_row0, 4))
    np.testing.assert_array_equal(c[3], np.roll(expected_row0, 5))
    x = np.arange(16, dtype=float).reshape(4, 4)
    np.testing.assert_array_equal((c @ x.ravel()).reshape(2, 2), torch_conv(x, k))


def test_taps_structure_independent_of_values():
    k = np.zeros((3, 3))
    taps = conv_matrix_taps((4, 4), k.shape)
    assert (taps >= 0).sum(axis=1).tolist() == [9, 9, 9, 9]
    assert np.all(conv_matrix((4, 4), k) == 0)
    # row 0 covers input cells (0..2, 0..2) with taps 0..8 in raster order
    cols = np.flatnonzero(taps[0] >= 0)
    np.testing.assert_array_equal(cols, [0, 1, 2, 4, 5, 6, 8, 9, 10])
    np.testing.assert_array_equal(taps[0, cols], np.arange(9))


# ------------------------------------------------------------------ C and C^T vs torch


@SETTINGS
@given(conv_configs())
def test_conv_matrix_equals_conv2d(cfg):
    n, k, s, p, d, rng = cfg
    x = rng.normal(size=n)
    c = conv_matrix(n, k, stride=s, padding=p, dilation=d)
    ref = torch_conv(x, k, stride=s, padding=p, dilation=d)
    assert c.shape == (ref.size, x.size)
    np.testing.assert_allclose(c @ x.ravel(), ref.ravel(), rtol=0, atol=1e-12)


@SETTINGS
@given(conv_configs())
def test_conv_matrix_transpose_equals_conv_transpose2d(cfg):
    n, k, s, p, d, rng = cfg
    o = conv_output_shape(n, k.shape, stride=s, padding=p, dilation=d)
    y = rng.normal(size=o)
    op = output_padding_for(n, k.shape, stride=s, padding=p, dilation=d)
    assert all(0 <= op[i] < s[i] for i in range(2))
    c = conv_matrix(n, k, stride=s, padding=p, dilation=d)
    ref = torch_deconv(y, k, stride=s, padding=p, dilation=d, output_padding=op)
    assert ref.shape == tuple(n)  # that output_padding recovers the input size
    np.testing.assert_allclose(c.T @ y.ravel(), ref.ravel(), rtol=0, atol=1e-12)
    np.testing.assert_allclose(
        conv_transpose_via_matrix(y, k, n, stride=s, padding=p, dilation=d), ref, atol=1e-12)


@SETTINGS
@given(conv_configs())
def test_adjoint_identity(cfg):
    """<C x, y> == <x, C^T y>: the transpose is the adjoint (not the inverse)."""
    n, k, s, p, d, rng = cfg
    c = conv_matrix(n, k, stride=s, padding=p, dilation=d)
    x = rng.normal(size=c.shape[1])
    y = rng.normal(size=c.shape[0])
    assert np.isclose((c @ x) @ y, x @ (c.T @ y), atol=1e-10)


def test_transpose_is_not_inverse():
    k = np.arange(1, 10, dtype=float).reshape(3, 3)
    c = conv_matrix((4, 4), k)
    x = np.arange(16, dtype=float).reshape(4, 4)
    assert not np.allclose(c.T @ (c @ x.ravel()), x.ravel())


def test_integer_pairs_and_numpy_ints_accepted():
    k = np.ones((2, 3))
    a = conv_matrix((5, 6), k, stride=np.int64(2), padding=(1, np.int32(0)), dilation=[1, 2])
    b = conv_matrix([5, 6], k.tolist(), stride=(2, 2), padding=(1, 0), dilation=(1, 2))
    np.testing.assert_array_equal(a, b)


# ---------------------------------------------------------------------- zero insertion


@SETTINGS
@given(conv_configs(max_input=6), st.data())
def test_zero_insertion_equals_conv_transpose2d(cfg, data):
    """Any valid transposed conv (any output_padding PyTorch accepts), rectangular, dilated."""
    n, k, s, p, d, rng = cfg
    op = (data.draw(st.sampled_from(valid_output_paddings(s[0], d[0]))),
          data.draw(st.sampled_from(valid_output_paddings(s[1], d[1]))))
    try:
        out_shape = conv_transpose_output_shape(n, k.shape, stride=s, padding=p, dilation=d,
                                                output_padding=op)
    except ValueError:
        # padding crops everything away: torch must refuse too
        with pytest.raises(RuntimeError):
            torch_deconv(rng.normal(size=n), k, stride=s, padding=p, dilation=d, output_padding=op)
        with pytest.raises(ValueError, match="crops away"):
            transposed_via_zero_insertion(rng.normal(size=n), k, stride=s, padding=p,
                                          dilation=d, output_padding=op)
        return
    y = rng.normal(size=n)  # here n is the transposed conv's input
    ref = torch_deconv(y, k, stride=s, padding=p, dilation=d, output_padding=op)
    got = transposed_via_zero_insertion(y, k, stride=s, padding=p, output_padding=op, dilation=d)
    assert got.shape == ref.shape == out_shape
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-12)


def test_figure3_left_pad_to_6x6():
    """2x2 input padded to 6x6 then a 3x3 convolution: a 4x4 output, 4 of 36 cells informative."""
    y = np.array([[1.0, 2.0], [3.0, 4.0]])
    z = zero_inserted_input(y, (3, 3), stride=1)
    assert z.shape == (6, 6)
    np.testing.assert_array_equal(z[2:4, 2:4], y)
    assert np.count_nonzero(z) == 4
    k = np.arange(1, 10, dtype=float).reshape(3, 3)
    out = transposed_via_zero_insertion(y, k)
    assert out.shape == (4, 4)
    np.testing.assert_allclose(out, torch_deconv(y, k))
    costs = deconv_costs((2, 2), (3, 3))
    assert (costs.info_cells, costs.zero_inserted_cells) == (4, 36)
    assert costs.info_share == pytest.approx(4 / 36)


def test_figure3_right_zero_between_elements():
    """2x2 input with a zero between elements (stride 2): padded to 7x7, a 5x5 output."""
    y = np.array([[1.0, 2.0], [3.0, 4.0]])
    np.testing.assert_array_equal(zero_insert(y, 2), [[1, 0, 2], [0, 0, 0], [3, 0, 4]])
    z = zero_inserted_input(y, (3, 3), stride=2)
    assert z.shape == (7, 7)
    np.testing.assert_array_equal(z[2:5:2, 2:5:2], y)
    k = np.arange(1, 10, dtype=float).reshape(3, 3)
    out = transposed_via_zero_insertion(y, k, stride=2)
    assert out.shape == (5, 5)
    np.testing.assert_allclose(out, torch_deconv(y, k, stride=2))
    assert deconv_costs((2, 2), (3, 3), stride=2).info_share == pytest.approx(4 / 49)


def test_zero_inserted_input_crops_when_padding_exceeds_kernel():
    y = np.arange(1, 10, dtype=float).reshape(3, 3)
    z = zero_inserted_input(y, (2, 2), stride=2, padding=2)  # d*(k-1) - p = -1: crop one
    assert z.shape == (3, 3)
    np.testing.assert_array_equal(z, [[0, 0, 0], [0, 5, 0], [0, 0, 0]])
    costs = deconv_costs((3, 3), (2, 2), stride=2, padding=2)
    assert (costs.info_cells, costs.zero_inserted_cells) == (1, 9)


def test_zero_inserted_mask_keeps_bool_dtype():
    m = zero_inserted_input(np.ones((2, 3), dtype=bool), (3, 3), stride=2, padding=1)
    assert m.dtype == bool and m.sum() == 6


@SETTINGS
@given(conv_configs())
def test_three_constructions_agree(cfg):
    n, k, s, p, d, rng = cfg
    o = conv_output_shape(n, k.shape, stride=s, padding=p, dilation=d)
    cmp = compare_deconvolutions(rng.normal(size=o), k, n, stride=s, padding=p, dilation=d)
    assert cmp.via_matrix.shape == cmp.via_zero_insertion.shape == cmp.via_torch.shape == tuple(n)
    assert cmp.max_abs_difference < 1e-12
    assert set(cmp.max_abs_differences) == {
        "C^T vs zero insertion", "C^T vs conv_transpose2d", "zero insertion vs conv_transpose2d"}


def test_correlate2d_matches_conv2d_dilated():
    rng = np.random.default_rng(0)
    x, k = rng.normal(size=(9, 8)), rng.normal(size=(3, 2))
    np.testing.assert_allclose(correlate2d(x, k, dilation=(2, 3)),
                               torch_conv(x, k, dilation=(2, 3)), atol=1e-12)


# ---------------------------------------------------------------------- resize fold


@SETTINGS
@given(
    st.integers(1, 5), st.integers(1, 5), st.integers(1, 3), st.integers(1, 3),
    st.integers(1, 6), st.integers(1, 6), st.data(),
)
def test_resize_conv_equals_folded_transposed_conv_numpy(kh, kw, sh, sw, nh, nw, data):
    """nearest-upsample(s) + conv2d(K, padding p)  ==  conv_transpose2d(fold(K), stride s, padding k-1-p)."""
    p = (data.draw(st.integers(0, kh - 1)), data.draw(st.integers(0, kw - 1)))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**31 - 1)))
    k = rng.normal(size=(kh, kw))
    x = rng.normal(size=(nh, nw))
    up = F.interpolate(t4(x), scale_factor=(sh, sw), mode="nearest")
    if up.shape[-2] + 2 * p[0] < kh or up.shape[-1] + 2 * p[1] < kw:
        return  # conv impossible on the upsampled image; nothing to compare
    ref = F.conv2d(up, t4(k), padding=p)[0, 0].numpy()
    w = resize_conv_as_transposed_kernel(k, (sh, sw))
    assert isinstance(w, np.ndarray) and w.shape == (kh + sh - 1, kw + sw - 1)
    got = torch_deconv(x, w, stride=(sh, sw), padding=resize_conv_transposed_padding((kh, kw), p))
    assert got.shape == ref.shape
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-12)


def test_resize_fold_k3_s2_is_flipped_kernel_box_blurred():
    k = np.arange(1, 10, dtype=float).reshape(3, 3)
    w = resize_conv_as_transposed_kernel(k, 2)
    f = k[::-1, ::-1]
    expected = np.zeros((4, 4))
    for u in range(2):
        for v in range(2):
            expected[u:u + 3, v:v + 3] += f
    np.testing.assert_array_equal(w, expected)
    assert resize_conv_transposed_padding(3, 1) == (1, 1)
    # every output phase of stride 2 receives the same total weight: no checkerboard
    phase_sums = [w[a::2, b::2].sum() for a in range(2) for b in range(2)]
    assert np.allclose(phase_sums, k.sum())


@pytest.mark.parametrize(("k", "s", "p", "c_in", "c_out"), [(3, 2, 1, 3, 4), (4, 3, 2, 2, 1), (1, 2, 0, 2, 2), (3, 2, 0, 1, 3)])
def test_fold_resize_kernel_torch_multichannel(k, s, p, c_in, c_out):
    g = torch.Generator().manual_seed(k * 100 + s)
    weight = torch.randn(c_out, c_in, k, k, generator=g, dtype=torch.float64)
    bias = torch.randn(c_out, generator=g, dtype=torch.float64)
    x = torch.randn(2, c_in, 5, 7, generator=g, dtype=torch.float64)
    ref = F.conv2d(F.interpolate(x, scale_factor=s, mode="nearest"), weight, bias, padding=p)
    w = fold_resize_kernel(weight, s)
    assert w.shape == (c_in, c_out, k + s - 1, k + s - 1)
    got = F.conv_transpose2d(x, w, bias, stride=s, padding=resize_conv_transposed_padding(k, p))
    assert got.shape == ref.shape
    assert torch.max(torch.abs(got - ref)).item() < 1e-12
    torch.testing.assert_close(resize_conv_as_transposed_kernel(weight, s), w)


def test_fold_resize_kernel_is_differentiable():
    weight = torch.randn(2, 3, 3, 3, dtype=torch.float64, requires_grad=True)
    fold_resize_kernel(weight, 2).sum().backward()
    # every tap lands in s*s = 4 folded cells
    torch.testing.assert_close(weight.grad, torch.full_like(weight, 4.0))


def test_resize_fold_2d_torch_and_refusals():
    k = torch.arange(9, dtype=torch.float64).reshape(3, 3)
    np.testing.assert_array_equal(resize_conv_as_transposed_kernel(k, 2).numpy(),
                                  resize_conv_as_transposed_kernel(k.numpy(), 2))
    with pytest.raises(ValueError, match="at most k-1"):
        resize_conv_transposed_padding(3, 3)
    with pytest.raises(ValueError, match="torch tensor"):
        fold_resize_kernel(np.ones((1, 1, 3, 3)), 2)
    with pytest.raises(ValueError, match="scale must be >= 1"):
        resize_conv_as_transposed_kernel(np.ones((3, 3)), 0)


# ---------------------------------------------------------------------- sizes


@SETTINGS
@given(conv_configs(max_input=40))
def test_output_sizes_match_torch(cfg):
    n, k, s, p, d, rng = cfg
    o = conv_output_shape(n, k.shape, stride=s, padding=p, dilation=d)
    assert o == torch_conv(np.zeros(n), k, stride=s, padding=p, dilation=d).shape
    # every input size in the "same output" list maps to o, and op = its offset from the first
    for axis in range(2):
        same = conv_inputs_with_same_output(o[axis], k.shape[axis], s[axis], p[axis], d[axis])
        assert n[axis] in same
        assert all(conv_output_size(m, k.shape[axis], s[axis], p[axis], d[axis]) == o[axis]
                   for m in same)
        assert len(same) <= s[axis]
        op = output_padding_for(n, k.shape, stride=s, padding=p, dilation=d)[axis]
        # op is n's offset from the smallest candidate (which may be < 1 and so not listed)
        base = (o[axis] - 1) * s[axis] + d[axis] * (k.shape[axis] - 1) + 1 - 2 * p[axis]
        assert n[axis] - base == op
        assert same == [m for m in range(base, base + s[axis]) if m >= 1]
        assert conv_transpose_output_size(o[axis], k.shape[axis], s[axis], p[axis], d[axis], op) == n[axis]


def test_same_output_inputs_stride2():
    """The usual confusion: a 3x3/s2/p1 conv maps 5 and 6 to 3, so the transpose needs op."""
    assert conv_inputs_with_same_output(3, 3, 2, 1) == [5, 6]
    assert conv_transpose_output_size(3, 3, 2, 1, 1, 0) == 5
    assert conv_transpose_output_size(3, 3, 2, 1, 1, 1) == 6
    assert valid_output_paddings(2) == [0, 1]
    assert valid_output_paddings(1, dilation=3) == [0, 1, 2]


def test_size_report_numbers():
    r = size_report(5, 3, stride=2, padding=1)
    assert r.conv_out == 3 and r.conv_error is None
    assert r.conv_formula.endswith("= 3")
    assert "floor((5 + 2*1 - 1*(3-1) - 1) / 2)" in r.conv_formula
    assert r.transpose_outs == {0: 9, 1: 10}
    assert r.same_output_inputs == (5, 6) and r.recovering_output_padding == 0
    bad = size_report(2, 5)
    assert bad.conv_out is None and "kernel extent" in bad.conv_error
    assert bad.transpose_outs == {0: 6}


def test_transpose_size_refusals():
    with pytest.raises(ValueError, match="output_padding must be smaller than max"):
        conv_transpose_output_size(3, 3, stride=2, output_padding=2)
    with pytest.raises(ValueError, match="crops away"):
        conv_transpose_output_size(1, 1, stride=1, padding=1)
    with pytest.raises(ValueError, match="output_padding must be smaller"):
        zero_inserted_input(np.ones((2, 2)), (3, 3), stride=1, output_padding=1)


# ---------------------------------------------------------------------- refusals


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: conv_matrix((3, 3), np.ones((5, 5))), "kernel extent"),
        (lambda: conv_matrix((4, 4), np.ones((3, 3)), dilation=2), r"kernel extent d\*\(k-1\)\+1 = 5"),
        (lambda: conv_matrix((17, 4), np.ones((3, 3))), "at most 16x16"),
        (lambda: conv_matrix((4, 40), np.ones((3, 3))), "at most 16x16"),
        (lambda: conv_matrix((4, 4), np.ones((3, 3)), stride=0), "stride must be >= 1"),
        (lambda: conv_matrix((4, 4), np.ones((3, 3)), padding=-1), "padding must be >= 0"),
        (lambda: conv_matrix((4, 4), np.ones((3, 3)), dilation=(1, 0)), "dilation must be >= 1"),
        (lambda: conv_matrix((0, 4), np.ones((3, 3))), "input_shape must be >= 1"),
        (lambda: conv_matrix((4, 4), np.ones(3)), "kernel must be a non-empty 2-D"),
        (lambda: conv_matrix((4, 4), np.ones((3, 3)), stride=1.5), "int or a pair"),
        (lambda: conv_matrix((4, 4), np.ones((3, 3)), stride=(1, 2, 3)), "int or a pair"),
        (lambda: conv_matrix((4, 4), np.ones((3, 3)), stride=True), "int or a pair"),
        (lambda: conv_transpose_via_matrix(np.ones((3, 3)), np.ones((3, 3)), (4, 4)), "output shape"),
        (lambda: correlate2d(np.ones((2, 2)), np.ones((3, 3))), "no valid position"),
        (lambda: conv_output_size(4, 3, stride=0), "stride must be an integer >= 1"),
        (lambda: conv_inputs_with_same_output(0, 3), "output size must be"),
        (lambda: deconv_costs((2, 2), (3, 3), channels_in=0), "channels_in"),
    ],
)
def test_refusals_name_the_rule(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_cap_boundary_is_inclusive():
    c = conv_matrix((MAX_DENSE_INPUT, MAX_DENSE_INPUT), np.ones((3, 3)))
    assert c.shape == (14 * 14, 256)


# ---------------------------------------------------------------------- costs


@SETTINGS
@given(conv_configs(max_input=7), st.integers(1, 3), st.integers(1, 3))
def test_costs_match_the_arrays(cfg, c_in, c_out):
    """Analytic counts equal what the explicit constructions actually build."""
    n, k, s, p, d, rng = cfg
    # n is the *conv* input here; the transposed conv goes from its output back to n
    o = conv_output_shape(n, k.shape, stride=s, padding=p, dilation=d)
    op = output_padding_for(n, k.shape, stride=s, padding=p, dilation=d)
    costs = deconv_costs(o, k.shape, stride=s, padding=p, dilation=d, output_padding=op,
                         channels_in=c_in, channels_out=c_out)
    assert costs.output_shape == tuple(n)
    z = zero_inserted_input(np.ones(o, dtype=bool), k.shape, stride=s, padding=p,
                            output_padding=op, dilation=d)
    assert costs.zero_inserted_shape == z.shape
    assert costs.info_cells == int(z.sum())
    assert costs.zero_inserted_cells == z.size
    taps = conv_matrix_taps(n, k.shape, stride=s, padding=p, dilation=d)
    assert costs.dense_values == taps.size * c_in * c_out
    assert costs.dense_nonzeros == costs.useful_macs == int((taps >= 0).sum()) * c_in * c_out
    assert costs.zero_insertion_macs == n[0] * n[1] * k.size * c_in * c_out
    assert costs.direct_macs == o[0] * o[1] * k.size * c_in * c_out
    assert costs.useful_macs <= min(costs.direct_macs, costs.zero_insertion_macs, costs.dense_macs)
    assert [r["construction"] for r in costs.rows()] == [
        "dense matrix C^T", "zero insertion + direct conv", "conv_transpose2d (scatter)"]


def test_costs_bytes_and_hashable():
    c = deconv_costs((2, 2), (3, 3), stride=2, bytes_per_value=8)
    assert c.output_shape == (5, 5) and c.zero_inserted_shape == (7, 7)
    assert c.dense_values == 25 * 4 and c.dense_bytes == 800
    assert c.zero_insertion_macs == 25 * 9 and c.direct_macs == 4 * 9
    assert c.zero_inserted_bytes == 49 * 8 and c.direct_bytes == 25 * 8
    assert hash(c) == hash(deconv_costs((2, 2), (3, 3), stride=2, bytes_per_value=8))
    big = deconv_costs((128, 128), (3, 3), stride=2, padding=1, output_padding=1,
                       channels_in=64, channels_out=32)
    assert big.output_shape == (256, 256)
    assert big.info_share == pytest.approx(128 * 128 / (258 * 258))
