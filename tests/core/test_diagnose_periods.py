"""core.diagnose reads a grid's periods whole: a grid clipped at black is not stalled on
the class it already holds, a stride-3 layer may triple the grid, and a period needs six
repeats in the picture, not eight."""

from __future__ import annotations

import numpy as np
import pytest

from core.diagnose import diagnose
from core.io.photos import read_rgb, skimage_data_dir
from tests.core.test_diagnose import photo, with_grid


def tiled(pattern: np.ndarray, h: int, w: int) -> np.ndarray:
    """``pattern`` (zero mean, unit RMS) tiled over ``(h, w)``."""
    p = pattern - pattern.mean()
    p = p / np.sqrt(np.mean(p ** 2))
    return np.tile(p, (h // p.shape[0] + 1, w // p.shape[1] + 1))[:h, :w]


@pytest.mark.parametrize("seed", [0, 2])
def test_a_grid_clipped_at_black_reads_its_whole_period(seed):
    """The retina's black corner clips a strong 4x8 grid: after its 4x4 part is peeled off,
    the class (4, 4) stays significant (the grid's amplitude varies over the picture), and
    a round that took it again grew nothing and stalled every later round (read 4x4)."""
    img = read_rgb(skimage_data_dir() / "retina.jpg")
    crop = np.ascontiguousarray(img[:135, :170])
    result = diagnose(with_grid(crop, 4, 8, 8.0, seed=seed))
    assert result.grid and result.period == (4, 8), result.period


@pytest.mark.parametrize("name", ["astronaut", "chelsea"])
def test_a_16x16_grid_in_a_picture_100_rows_tall(name):
    """Six repeats of 16 fit in 100 rows (eight did not: read 8x8)."""
    img = np.ascontiguousarray(photo(name, 300)[:100])
    result = diagnose(with_grid(img, 16, 16, 4.0, seed=5))
    assert result.grid and result.period == (16, 16), result.period


def test_a_6x6_grid_whose_period_2_part_is_strongest():
    """The round after the 2x2 part finds the stride-3 layer's part (x3; before: at most x2
    a round, read 2x2)."""
    rng = np.random.default_rng(0)
    for _ in range(2):  # the third pair of draws makes the case
        rng.standard_normal((2, 2)), rng.standard_normal((3, 3))
    pattern = 2.0 * np.tile(rng.standard_normal((2, 2)), (3, 3)) \
        + np.tile(rng.standard_normal((3, 3)), (2, 2))
    img = photo("coffee", 200).astype(np.float64)
    x = img + 4.0 * tiled(pattern, *img.shape[:2])[:, :, None]
    result = diagnose(np.clip(np.rint(x), 0, 255).astype(np.uint8))
    assert result.grid and result.period == (6, 6), result.period


@pytest.mark.parametrize("name", ["astronaut", "coffee"])
def test_a_faint_stride_3_trace_does_not_triple_a_strong_grid(name):
    """A 5x5 grid of 4 grey levels with a 3x1 trace of 0.3 (half a percent of its power):
    tripling needs a tenth of the grid's power (without: read 15x5)."""
    rng = np.random.default_rng(4)
    g5, g3 = rng.standard_normal((5, 5)), rng.standard_normal((3, 1))
    img = photo(name, 300).astype(np.float64)
    h, w = img.shape[:2]
    x = img + (4.0 * tiled(g5, h, w) + 0.3 * tiled(g3, h, w))[:, :, None]
    result = diagnose(np.clip(np.rint(x), 0, 255).astype(np.uint8))
    assert result.grid and result.period == (5, 5), result.period
