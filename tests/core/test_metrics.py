"""Tests of core/metrics.py on real photographs shipped inside scikit-image."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import skimage
import torch
from PIL import Image

from core.maths.metrics import (
    artifact_frequencies,
    checkerboard_score,
    gain_imbalance,
    high_pass,
    log_power_spectrum,
    phase_pattern,
    polyphase_gains,
    spectrum_figure,
    to_unit_range,
)
from core.upsamplers.registry import make_upsampler

DATA = Path(skimage.__file__).parent / "data"


def photo(name: str) -> np.ndarray:
    """A bundled colour photograph as float64 (H, W, 3) in [0, 1]."""
    with Image.open(DATA / name) as img:
        return np.asarray(img.convert("RGB"), dtype=np.float64) / 255.0


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    return photo("astronaut.png")


def checkerboard(h: int, w: int) -> np.ndarray:
    yy, xx = np.mgrid[:h, :w]
    return np.where((yy + xx) % 2 == 0, 1.0, -1.0)


@pytest.mark.parametrize("name", ["astronaut.png", "coffee.png", "chelsea.png",
                                  "motorcycle_left.png"])
@pytest.mark.parametrize("period", [2, 4, 8])
def test_clean_photographs_score_near_zero(name, period):
    assert checkerboard_score(photo(name), period) < 2e-3


def test_score_grows_monotonically_with_checkerboard_amplitude(astronaut):
    cb = checkerboard(*astronaut.shape[:2])[:, :, None]
    amps = [0.0, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2]
    scores = [checkerboard_score(astronaut + a * cb, 4) for a in amps]
    assert all(b > a for a, b in zip(scores, scores[1:], strict=False)), scores
    # and it reads the amplitude itself (the +/-1 pattern passes the high-pass unchanged)
    for a, s in zip(amps[2:], scores[2:], strict=True):
        assert s == pytest.approx(a, rel=0.1)


def test_score_is_exact_for_a_pattern_on_a_smooth_ramp():
    h, w = 64, 96
    yy, xx = np.mgrid[:h, :w]
    ramp = 0.2 + 0.5 * yy / h + 0.2 * xx / w  # a linear ramp is removed exactly
    assert checkerboard_score(ramp, 4) < 1e-12
    pattern = np.random.default_rng(0).normal(size=(4, 4))
    pattern -= pattern.mean()
    tiled = np.tile(pattern, (h // 4, w // 4))
    q = phase_pattern(ramp + 0.01 * tiled, 4)
    np.testing.assert_allclose(q, 0.01 * pattern, atol=1e-12)


def test_score_does_not_depend_on_image_size(astronaut):
    for crop in (64, 128, 256, 512):
        img = astronaut[:crop, :crop]
        cb = checkerboard(crop, crop)[:, :, None]
        assert checkerboard_score(img + 0.03 * cb, 4) == pytest.approx(0.03, rel=0.1)
    # a pure pattern on a flat image: identical at every size
    scores = {n: checkerboard_score(0.5 + 0.05 * checkerboard(n, n), 2) for n in (16, 50, 300)}
    assert np.allclose(list(scores.values()), 0.05)


def test_grey_and_colour_inputs(astronaut):
    grey = astronaut.mean(axis=2)
    assert phase_pattern(grey, 4).shape == (4, 4)
    assert phase_pattern(astronaut, 4).shape == (4, 4, 3)
    q = phase_pattern(astronaut, 4)
    np.testing.assert_allclose(q.mean(axis=(0, 1)), 0, atol=1e-15)


def test_phase_alignment_follows_the_image_grid():
    img = np.full((40, 40), 0.5)
    img[1::4, 2::4] += 0.1  # a dot at phase (1, 2)
    q = phase_pattern(img, 4)
    assert np.unravel_index(np.argmax(q), q.shape) == (1, 2)
    residual, y0, x0 = high_pass(img, 4)
    assert y0 % 4 == 0 and x0 % 4 == 0 and residual.shape[0] % 4 == 0


def test_deconv_output_scores_far_above_resize_at_init(astronaut):
    """Real artifacts (random transposed convolutions) read high; the fixes read low."""
    x = torch.from_numpy(astronaut[::4, ::4].astype(np.float32)).permute(2, 0, 1)[None]
    scores = {}
    for name in ("deconv", "resize_nearest", "subpixel_icnr"):
        torch.manual_seed(0)
        net = torch.nn.Sequential(make_upsampler(name, 3, 8), torch.nn.ReLU(),
                                  make_upsampler(name, 8, 3))
        with torch.no_grad():
            y = net(x)[0].permute(1, 2, 0).numpy().astype(np.float64)
        y = (y - y.min()) / (y.max() - y.min())
        scores[name] = checkerboard_score(y, 4)
    assert scores["deconv"] > 10 * scores["resize_nearest"]
    assert scores["deconv"] > 10 * scores["subpixel_icnr"]


def test_input_errors():
    with pytest.raises(ValueError, match="period"):
        checkerboard_score(np.zeros((32, 32)), 1)
    with pytest.raises(ValueError, match="at least"):
        checkerboard_score(np.zeros((10, 64)), 4)
    with pytest.raises(ValueError, match="shape"):
        checkerboard_score(np.zeros((2, 32, 32, 3)), 2)
    with pytest.raises(ValueError, match="finite"):
        checkerboard_score(np.full((32, 32), np.nan), 2)


def test_spectrum_marks_the_artifact_peaks(astronaut):
    cb = checkerboard(*astronaut.shape[:2])[:, :, None]
    spec = log_power_spectrum(astronaut + 0.05 * cb, 4)
    assert spec.log_power.shape == astronaut.shape[:2]
    assert spec.markers.shape == (15, 2)
    assert [-0.5, -0.5] in spec.markers.tolist() and [0.0, 0.0] not in spec.markers.tolist()
    # the +/- checkerboard lives at (0.5, 0.5) = (-0.5, -0.5) after fftshift
    i, j = np.argmin(np.abs(spec.fy + 0.5)), np.argmin(np.abs(spec.fx + 0.5))
    assert spec.log_power[i, j] > np.percentile(spec.log_power, 99.9)
    fig = spectrum_figure(spec, title="t")
    assert len(fig.data) == 2
    assert artifact_frequencies(2).tolist() == [[-0.5, -0.5], [-0.5, 0.0], [0.0, -0.5]]


def test_polyphase_gains():
    w = np.arange(9.0).reshape(3, 3)
    g = polyphase_gains(w, 2)
    # taps (t, u) with t, u even / odd
    np.testing.assert_allclose(g, [[0 + 2 + 6 + 8, 1 + 7], [3 + 5, 4]])
    assert g.sum() == w.sum()
    # a 4x4 box-folded kernel (resize-convolution) has equal gains
    folded = np.convolve([1.0, 2.0, 3.0], [1.0, 1.0])
    np.testing.assert_allclose(polyphase_gains(np.outer(folded, folded), 2), 36.0)
    layer = make_upsampler("deconv", 3, 2, kernel_size=3)
    gt = polyphase_gains(layer.deconv.weight, 2)
    assert gt.shape == (3, 2, 2, 2)
    np.testing.assert_allclose(gt.sum(axis=(-2, -1)),
                               layer.deconv.weight.detach().sum(dim=(-2, -1)).numpy(),
                               rtol=1e-6, atol=1e-6)
    with pytest.raises(ValueError, match="weight"):
        polyphase_gains(np.zeros(3), 2)


def test_gain_imbalance_and_unit_range():
    assert gain_imbalance(np.full((2, 3, 2, 2), 0.7)) == 0.0
    assert gain_imbalance(np.zeros((2, 2))) == 0.0
    assert gain_imbalance(np.array([[1.0, 0.0], [0.0, 0.0]])) == pytest.approx(2.0)
    layer = make_upsampler("deconv", 3, 3, kernel_size=3)
    assert gain_imbalance(polyphase_gains(layer.deconv.weight, 2)) > 0.1
    x = np.array([[-2.0, 0.0], [2.0, 6.0]])
    np.testing.assert_allclose(to_unit_range(x), [[0.0, 0.25], [0.5, 1.0]])
    np.testing.assert_array_equal(to_unit_range(np.full((3, 3), 7.0)), 0.5)


def test_spectrum_of_an_image_shorter_than_four_periods():
    spec = log_power_spectrum(np.random.default_rng(0).random((32, 32)), 16)
    assert spec.log_power.shape == (32, 32) and len(spec.markers) == 255
    with pytest.raises(ValueError, match="at least 2 pixels"):
        log_power_spectrum(np.zeros((1, 8)), 2)


# --------------------------------------------------------------------------- one unit, local map


def test_format_score_is_the_one_unit():
    from core.maths.metrics import SCORE_SCALE, SCORE_UNIT, format_score

    assert SCORE_SCALE == 1e3 and SCORE_UNIT == "×10⁻³"
    assert format_score(0.0019) == "1.90 ×10⁻³"
    assert format_score(0.0902) == "90.2 ×10⁻³"
    assert format_score(0.1234) == "123 ×10⁻³"
    assert format_score(0.0019, unit=False) == "1.90"
    assert format_score(float("nan")) == "—"


def test_local_map_windows_match_the_score_of_the_residual_inside_them(astronaut):
    from core.maths.metrics import local_checkerboard_map

    img = astronaut[:96, :128]
    scores, y0, x0 = local_checkerboard_map(img, 4, 16)
    residual, ry0, rx0 = high_pass(img, 4)
    assert (y0, x0) == (ry0, rx0)
    assert scores.shape == (residual.shape[0] // 4 - 3, residual.shape[1] // 4 - 3)
    for i, j in [(0, 0), (3, 5), (scores.shape[0] - 1, scores.shape[1] - 1)]:
        window = residual[4 * i:4 * i + 16, 4 * j:4 * j + 16]
        q = window.reshape(4, 4, 4, 4, 3).mean(axis=(0, 2))
        q = q - q.mean(axis=(0, 1), keepdims=True)
        assert scores[i, j] == pytest.approx(np.sqrt(np.mean(q ** 2)), rel=1e-9)


def test_most_artifacted_region_finds_a_hidden_checkerboard_patch(astronaut):
    from core.maths.metrics import most_artifacted_region

    img = astronaut[:256, :256].copy()
    cb = checkerboard(32, 32)[:, :, None]
    img[160:192, 40:72] += 0.03 * cb  # a faint patch, invisible at a glance
    region = most_artifacted_region(img, 4, 32)
    assert (region.height, region.width) == (32, 32)
    assert abs(region.top - 160) <= 4 and abs(region.left - 40) <= 4
    assert region.top % 4 == 0 and region.left % 4 == 0  # the image's own phase


def test_most_artifacted_region_on_a_tiny_image_is_the_whole_image():
    from core.maths.metrics import most_artifacted_region

    region = most_artifacted_region(np.zeros((10, 12, 3)), 4, 32)
    assert (region.top, region.left, region.height, region.width) == (0, 0, 10, 12)


def test_most_artifacted_region_over_several_images_is_strong_in_all():
    """Two 'epochs': each has its own strongest patch, and one patch plain in both."""
    from core.maths.metrics import local_checkerboard_map, most_artifacted_region

    rng = np.random.default_rng(1)
    base = 0.5 + 0.02 * rng.standard_normal((256, 256, 3))  # grain, no structure
    cb = checkerboard(32, 32)[:, :, None]
    early, late = base.copy(), base.copy()
    early[0:32, 0:32] += 0.08 * cb  # only early
    late[200:232, 200:232] += 0.08 * cb  # only late
    for img in (early, late):
        img[96:128, 128:160] += 0.015 * cb  # in both, fainter than either peak
    region = most_artifacted_region([early, late], 4, 32)
    assert abs(region.top - 96) <= 4 and abs(region.left - 128) <= 4
    single = most_artifacted_region(early, 4, 32)
    assert single.top <= 4 and single.left <= 4  # alone, the early peak
    scores, y0, x0 = local_checkerboard_map(late, 4, 32)
    i, j = (region.top - y0) // 4, (region.left - x0) // 4
    assert scores[i, j] > np.median(scores) * 3


def test_fine_detail_shows_a_faint_checkerboard_and_keeps_the_size(astronaut):
    from core.maths.metrics import fine_detail

    img = astronaut[:128, :128].copy()
    flat = np.full_like(img, 0.4)
    flat[32:64, 32:64] += 0.01 * checkerboard(32, 32)[:, :, None]
    detail = fine_detail(flat, 4)
    assert detail.shape == flat.shape and detail.dtype == np.float32
    patch = detail[36:60, 36:60]
    assert patch.max() - patch.min() > 0.15  # 0.02 peak to peak, x10, visible
    np.testing.assert_allclose(detail[:4], 0.5)  # border the filter cannot reach: grey
    np.testing.assert_allclose(detail[80:120, 80:120], 0.5, atol=1e-6)  # flat stays grey
    assert fine_detail(img[:, :, 0], 4).shape == (128, 128)


def test_most_artifacted_region_picks_the_grid_a_person_sees_not_busy_texture():
    """Busy texture leaks into any local reading; the region is where the periodic part
    is the larger share of the fine detail: a faint grid on a smooth area."""
    from core.maths.metrics import local_checkerboard_map, most_artifacted_region

    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:192, 0:192] / 192.0
    img = np.repeat((0.3 + 0.4 * yy + 0.1 * xx)[:, :, None], 3, axis=2)  # smooth
    img[16:80, 112:176] += 0.25 * rng.standard_normal((64, 64, 3))  # busy texture
    img[120:152, 24:56] += 0.006 * checkerboard(32, 32)[:, :, None]  # a faint grid
    raw, y0, x0 = local_checkerboard_map(img, 4, 32)
    i, j = np.unravel_index(np.argmax(raw), raw.shape)
    assert 16 <= y0 + 4 * i < 80 and 112 - 32 < x0 + 4 * j < 176  # the raw peak: texture
    region = most_artifacted_region(img, 4, 32)
    assert abs(region.top - 120) <= 4 and abs(region.left - 24) <= 4
    share, _, _ = local_checkerboard_map(img, 4, 32, share=True)
    assert share.max() <= 1.0 + 1e-9 and share[(120 - y0) // 4, (24 - x0) // 4] > 0.5
