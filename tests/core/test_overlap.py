"""core.maths.overlap: coverage maps against PyTorch itself, the phase formula, the refusals."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from core.maths.overlap import (
    Dim,
    contributors,
    coverage_map,
    coverage_report,
    even_interior_kernels,
    output_size,
    phase_formula,
    phase_pattern_1d,
)


def torch_counts(k, s, n, p=0, d=1, op=0, layers=1):
    """conv_transpose with all-ones weights on an all-ones input: the reference count."""
    if isinstance(n, int):
        x = torch.ones(1, 1, n, dtype=torch.float64)
        w = torch.ones(1, 1, *((k,) if isinstance(k, int) else k), dtype=torch.float64)
        fn = F.conv_transpose1d
    else:
        x = torch.ones(1, 1, *n, dtype=torch.float64)
        kk = (k, k) if isinstance(k, int) else k
        w = torch.ones(1, 1, *kk, dtype=torch.float64)
        fn = F.conv_transpose2d
    for _ in range(layers):
        x = fn(x, w, stride=s, padding=p, output_padding=op, dilation=d)
    return x[0, 0].numpy()


small = st.integers


@settings(max_examples=300, deadline=None)
@given(k=small(1, 6), s=small(1, 4), d=small(1, 3), p=small(0, 4), op=small(0, 3),
       n=small(1, 9), layers=small(1, 3))
def test_1d_matches_conv_transpose1d_or_both_refuse(k, s, d, p, op, n, layers):
    try:
        ref = torch_counts(k, s, n, p, d, op, layers)
        torch_ok = ref.size > 0
    except RuntimeError:
        torch_ok = False
    if torch_ok:
        got = coverage_map(k, s, n, padding=p, dilation=d, output_padding=op, layers=layers)
        assert got.dtype.kind == "i"
        np.testing.assert_array_equal(got, ref)
    else:
        with pytest.raises(ValueError):
            coverage_map(k, s, n, padding=p, dilation=d, output_padding=op, layers=layers)


@settings(max_examples=120, deadline=None)
@given(kh=small(1, 5), kw=small(1, 5), sh=small(1, 3), sw=small(1, 3), dh=small(1, 2),
       dw=small(1, 2), ph=small(0, 2), pw=small(0, 2), h=small(1, 7), w=small(1, 7),
       layers=small(1, 2))
def test_2d_matches_conv_transpose2d(kh, kw, sh, sw, dh, dw, ph, pw, h, w, layers):
    # output padding must be < stride or dilation; use the largest legal value on one axis.
    oph, opw = max(sh, dh) - 1, 0
    try:
        ref = torch_counts((kh, kw), (sh, sw), (h, w), (ph, pw), (dh, dw), (oph, opw), layers)
        torch_ok = ref.size > 0
    except RuntimeError:
        torch_ok = False
    args = dict(padding=(ph, pw), dilation=(dh, dw), output_padding=(oph, opw), layers=layers)
    if torch_ok:
        np.testing.assert_array_equal(coverage_map((kh, kw), (sh, sw), (h, w), **args), ref)
    else:
        with pytest.raises(ValueError):
            coverage_map((kh, kw), (sh, sw), (h, w), **args)


def test_figure_4_uneven_and_figure_6_even():
    fig4 = coverage_map(3, 2, (5, 5))
    assert fig4.max() == 4 and fig4.min() == 1
    interior4 = coverage_report(3, 2, (5, 5))
    np.testing.assert_array_equal(interior4.phase_pattern, [[4, 2], [2, 1]])
    assert not interior4.interior_even and interior4.interior_stats.ratio == 4.0
    fig6 = coverage_report(4, 2, (5, 5), padding=1)
    assert fig6.interior_even and fig6.periods == (1, 1)
    assert set(np.unique(fig6.counts[fig6.interior])) == {4}
    assert fig6.border_stats.min < 4  # borders stay uneven


@pytest.mark.parametrize("k", range(1, 10))
@pytest.mark.parametrize("s", range(1, 6))
@pytest.mark.parametrize("p", [0, 1, 2])
def test_phase_pattern_is_formula_2(k, s, p):
    """Interior count of output phase q is ceil((k - r)/s) with r = (q + p) mod s."""
    pattern = phase_pattern_1d(Dim(n=10, k=k, s=s, p=p))
    expected = [phase_formula(k, s, (q + p) % s) for q in range(s)]
    np.testing.assert_array_equal(pattern, expected)


def test_interior_cells_follow_the_phase_pattern():
    for k, s, d, layers in [(3, 2, 1, 1), (5, 3, 1, 1), (3, 2, 2, 1), (3, 2, 1, 3), (4, 3, 1, 2)]:
        report = coverage_report(k, s, 30, dilation=d, layers=layers)
        period = s**layers
        idx = np.flatnonzero(report.interior)
        assert idx.size > 0
        np.testing.assert_array_equal(report.counts[idx], report.phase_pattern[idx % period])


def test_stacked_layers_multiply_the_unevenness():
    one = coverage_report(3, 2, 16)
    three = coverage_report(3, 2, 16, layers=3)
    assert three.phase_pattern.size == 8
    assert three.interior_stats.ratio > one.interior_stats.ratio


def test_even_kernels_are_the_multiples_of_the_stride():
    for s in range(1, 6):
        for k in range(1, 10):
            even = coverage_report(k, s, 20).interior_even
            assert even == (k in even_interior_kernels(s)), (k, s)


def test_contributors_agree_with_counts():
    dim = Dim(n=6, k=3, s=2, p=1)
    counts = coverage_map(3, 2, 6, padding=1)
    for j in range(counts.size):
        pairs = contributors(dim, j)
        assert len(pairs) == counts[j]
        for i, t in pairs:
            assert i * 2 + t - 1 == j


@pytest.mark.parametrize(
    ("kwargs", "rule"),
    [
        (dict(kernel_size=3, stride=2, input_size=4, output_padding=2), "smaller than either stride"),
        (dict(kernel_size=1, stride=1, input_size=1, padding=1), "output size"),
        (dict(kernel_size=0, stride=1, input_size=4), "kernel size"),
        (dict(kernel_size=3, stride=0, input_size=4), "stride"),
        (dict(kernel_size=3, stride=1, input_size=(4, 4, 4, 4)), "input_size"),
        (dict(kernel_size=(3, 3, 3), stride=1, input_size=(4, 4)), "kernel_size"),
        (dict(kernel_size=3, stride=2, input_size=4, layers=0), "layers"),
        (dict(kernel_size=9, stride=5, input_size=(4000, 4000), layers=3), "cells"),
    ],
)
def test_refusals_name_the_rule(kwargs, rule):
    with pytest.raises(ValueError, match=rule):
        coverage_map(**kwargs)


def test_output_size_is_pytorch_formula():
    assert output_size(3, 2, (4, 5), padding=1, output_padding=1) == (8, 10)
    layer = torch.nn.ConvTranspose2d(1, 1, 3, stride=2, padding=1, output_padding=1)
    assert tuple(layer(torch.zeros(1, 1, 4, 5)).shape[-2:]) == (8, 10)
