"""The maths at every rank: 1-D (a sound) and 3-D (a volume) against hand-computed
cases and against torch, with the 2-D results unchanged (core/maths/overlap.py,
core/maths/metrics.py, core/maths/phase_gains.py)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from core.maths.metrics import (
    artifact_frequencies,
    checkerboard_score,
    gain_imbalance,
    high_pass,
    log_power_spectrum,
    phase_pattern,
    polyphase_gains,
)
from core.maths.overlap import coverage_map, coverage_report, output_size
from core.maths.phase_gains import phase_gains
from core.upsamplers.registry import make_upsampler

# --- coverage --------------------------------------------------------------------------


def test_1d_coverage_by_hand():
    # k=3, s=2, n=4: tap t of input i lands on 2i + t; full length (4-1)*2 + 3 = 9
    assert coverage_map(3, 2, 4).tolist() == [1, 1, 2, 1, 2, 1, 2, 1, 1]
    assert coverage_map(3, 2, (4,)).tolist() == [1, 1, 2, 1, 2, 1, 2, 1, 1]
    # k=16, s=8 (MelGAN's first layer), padding 4: every interior sample twice
    counts = coverage_map(16, 8, 6, padding=4)
    assert counts.size == (6 - 1) * 8 - 8 + 16 == 48
    assert set(counts[8:-8].tolist()) == {2}


def test_3d_coverage_by_hand_and_against_torch():
    counts = coverage_map(3, 2, (2, 2, 2))
    assert counts.shape == (5, 5, 5)
    line = np.array([1, 1, 2, 1, 1])  # the 1-D map of n=2
    assert counts[2, 2, 2] == 8 and counts[0, 0, 0] == 1 and counts[2, 0, 2] == 4
    np.testing.assert_array_equal(counts, line[:, None, None] * line[None, :, None] * line)
    got = coverage_map((3, 4, 2), (2, 3, 2), (3, 4, 5), padding=(1, 0, 1))
    ref = F.conv_transpose3d(torch.ones(1, 1, 3, 4, 5, dtype=torch.float64),
                             torch.ones(1, 1, 3, 4, 2, dtype=torch.float64),
                             stride=(2, 3, 2), padding=(1, 0, 1))[0, 0]
    np.testing.assert_array_equal(got, ref.numpy().astype(np.int64))
    assert output_size(3, 2, (2, 3, 4)) == (5, 7, 9)


def test_3d_report_phase_pattern_is_the_outer_product():
    report = coverage_report(3, 2, (6, 6, 6))
    assert report.phase_pattern.shape == (2, 2, 2)
    assert sorted(report.phase_pattern.ravel().tolist()) == [1, 2, 2, 2, 4, 4, 4, 8]
    assert (report.interior_stats.min, report.interior_stats.max) == (1, 8)
    assert report.periods == (2, 2, 2) and not report.interior_even
    assert coverage_report(4, 2, (6, 6, 6)).interior_even
    one = coverage_report(3, 2, 8)
    assert one.phase_pattern.tolist() in ([2, 1], [1, 2]) and one.counts.ndim == 1


def test_2d_coverage_unchanged():
    np.testing.assert_array_equal(coverage_map(3, 2, (2, 2)),
                                  np.outer([1, 1, 2, 1, 1], [1, 1, 2, 1, 1]))
    with pytest.raises(ValueError, match="input_size"):
        coverage_map(3, 2, (2, 2, 2, 2))


# --- the checkerboard score ---------------------------------------------------------------


def test_1d_score_of_an_alternation_on_a_ramp_is_its_amplitude():
    n = 64
    ramp = 0.2 + 0.5 * np.arange(n) / n  # removed exactly by the triangle high-pass
    assert checkerboard_score(ramp, 2, dims=1) < 1e-12
    sign = np.where(np.arange(n) % 2 == 0, 1.0, -1.0)
    q = phase_pattern(ramp + 0.05 * sign, 2, dims=1)
    np.testing.assert_allclose(q, [0.05, -0.05], atol=1e-12)
    assert checkerboard_score(ramp + 0.05 * sign, 2, dims=1) == pytest.approx(0.05)
    # a period-4 pattern [3, -1, -1, -1] * a: RMS a * sqrt(12 / 4) = a * sqrt(3)
    pattern = np.tile([3.0, -1.0, -1.0, -1.0], n // 4)
    assert checkerboard_score(0.5 + 0.01 * pattern, 4, dims=1) == pytest.approx(0.01 * 3 ** 0.5)
    stereo = np.stack([0.5 + 0.01 * pattern, 0.5 - 0.01 * pattern], axis=1)  # (L, 2)
    assert phase_pattern(stereo, 4, dims=1).shape == (4, 2)
    residual, x0 = high_pass(ramp, 4, dims=1)
    assert x0 == 4 and residual.shape[0] % 4 == 0


def test_3d_score_of_a_3d_checkerboard_is_its_amplitude():
    z, y, x = np.indices((16, 16, 16))
    cube = 0.5 + 0.04 * np.where((z + y + x) % 2 == 0, 1.0, -1.0)
    assert checkerboard_score(cube, 2, dims=3) == pytest.approx(0.04)
    q = phase_pattern(cube, 2, dims=3)
    assert q.shape == (2, 2, 2) and q[0, 0, 0] == pytest.approx(0.04) \
        and q[0, 0, 1] == pytest.approx(-0.04)
    # a dot at one phase is found at that phase
    dot = np.full((16, 16, 16), 0.5)
    dot[1::4, 2::4, 3::4] += 0.1
    q = phase_pattern(dot, 4, dims=3)
    assert np.unravel_index(np.argmax(q), q.shape) == (1, 2, 3)


def test_2d_score_unchanged_and_rank_errors():
    yy, xx = np.indices((32, 32))
    img = 0.5 + 0.05 * np.where((yy + xx) % 2 == 0, 1.0, -1.0)
    assert checkerboard_score(img, 2) == pytest.approx(0.05)
    assert checkerboard_score(img, 2, dims=2) == checkerboard_score(img, 2)
    with pytest.raises(ValueError, match="dims"):
        checkerboard_score(img, 2, dims=4)
    with pytest.raises(ValueError, match=r"\(L\) or \(L, C\)"):
        checkerboard_score(img[None], 2, dims=1)
    with pytest.raises(ValueError, match="at least 4\\*period = 16 samples"):
        checkerboard_score(np.zeros(15), 4, dims=1)
    with pytest.raises(ValueError, match="16x16x10"):
        checkerboard_score(np.zeros((16, 16, 10)), 4, dims=3)


# --- spectra ------------------------------------------------------------------------------


def test_1d_and_3d_artifact_frequencies():
    assert artifact_frequencies(4, dims=1)[:, 0].tolist() == [-0.5, -0.25, 0.25]
    pts = artifact_frequencies(2, dims=3)
    assert pts.shape == (7, 3) and [0.0, 0.0, 0.0] not in pts.tolist()
    assert artifact_frequencies(4).shape == (15, 2)  # 2-D unchanged


def test_1d_spectrum_peaks_at_the_alternation():
    n = 256
    sign = np.where(np.arange(n) % 2 == 0, 1.0, -1.0)
    noise = np.random.default_rng(0).normal(scale=0.01, size=n)
    spec = log_power_spectrum(noise + 0.1 * sign, 2, dims=1)
    assert spec.log_power.shape == (n,) and len(spec.freqs) == 1
    assert spec.fx[np.argmax(spec.log_power)] == -0.5  # +/- alternation: 1/2 cycle/sample
    assert spec.markers.tolist() == [[-0.5]]


def test_3d_spectrum_peaks_at_the_corner():
    z, y, x = np.indices((16, 16, 16))
    cube = 0.04 * np.where((z + y + x) % 2 == 0, 1.0, -1.0)
    spec = log_power_spectrum(cube, 2, dims=3)
    assert spec.log_power.shape == (16, 16, 16)
    peak = np.unravel_index(np.argmax(spec.log_power), spec.log_power.shape)
    assert all(spec.freqs[a][i] == -0.5 for a, i in enumerate(peak))


# --- phase gains --------------------------------------------------------------------------


def test_1d_polyphase_gains_and_imbalance_by_hand():
    # taps [1, 2, 3] at stride 2: phase 0 gets 1 + 3, phase 1 gets 2
    assert polyphase_gains(np.array([1.0, 2.0, 3.0]), 2, dims=1).tolist() == [4.0, 2.0]
    # spread 2, RMS sqrt((16 + 4) / 2)
    assert gain_imbalance([4.0, 2.0], dims=1) == pytest.approx(2 / 10 ** 0.5)
    w = torch.ones(2, 3, 16)  # (C_in, C_out, k): k = 16, s = 8: two taps per phase
    g = polyphase_gains(w, 8, dims=1)
    assert g.shape == (2, 3, 8) and np.all(g == 2.0) and gain_imbalance(g, dims=1) == 0.0


def test_3d_polyphase_gains_by_hand():
    g = polyphase_gains(np.ones((3, 3, 3)), 2, dims=3)
    assert g.shape == (2, 2, 2)
    assert g[0, 0, 0] == 8 and g[1, 1, 1] == 1 and g[0, 1, 0] == 4 and g[1, 1, 0] == 2
    assert polyphase_gains(np.ones((1, 1, 3, 3, 3)), (2, 1, 2), dims=3).shape == (1, 1, 2, 1, 2)
    with pytest.raises(ValueError, match=r"\(k, k, k\)"):
        polyphase_gains(np.ones((3, 3)), 2, dims=3)


@pytest.mark.parametrize("dims", [1, 3])
def test_measured_phase_gains_match_the_weights_at_every_rank(dims):
    torch.manual_seed(0)
    layer = make_upsampler("deconv", 2, 3, scale=2, kernel_size=3, dims=dims).double()
    from_response = phase_gains(layer, 2, 2, dims=dims)
    from_weights = polyphase_gains(layer.deconv.weight, 2, dims=dims)
    flip = (Ellipsis, *([slice(None, None, -1)] * dims))  # padding 1 swaps the phases
    np.testing.assert_allclose(from_response, from_weights[flip], atol=1e-10)
    assert from_response.shape == (2, 3) + (2,) * dims
    fixed = make_upsampler("resize_nearest", 2, 3, scale=2, kernel_size=3, dims=dims).double()
    assert gain_imbalance(phase_gains(fixed, 2, 2, dims=dims), dims=dims) < 1e-12


def test_spectrum_figures_at_every_rank():
    from core.maths.metrics import spectrum_figure

    n = 256
    sign = np.where(np.arange(n) % 2 == 0, 1.0, -1.0)
    one = spectrum_figure(log_power_spectrum(0.5 + 0.1 * sign, 4, dims=1), "sound")
    line, marks = one.data
    assert line.type == "scatter" and min(line.x) == 0.0 and max(line.x) == 0.5
    assert sorted(marks.x) == [0.25, 0.5]  # k/4 for k = 1, 2 (the positive half)
    z, y, x = np.indices((16, 16, 16))
    three = spectrum_figure(log_power_spectrum(np.where((z + y + x) % 2, 1.0, -1.0), 2, dims=3))
    assert three.data[0].type == "heatmap" and np.shape(three.data[0].z) == (16, 16)
    assert len(three.data[1].x) == 3  # the (0, fy, fx) artifact points of the central slice
