"""A network's grid saved as JPEG: the encoder's block echoes of it are not the grid's
periods (core.diagnose.compression.block_growth_p and block_periods within the block,
core.diagnose.lattice.echo_periods beyond it), and a JPEG's own blocks are still
compression, not a grid."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from core.diagnose import diagnose
from core.diagnose.compression import block_growth_p, block_periods, reachable
from tests.core.test_diagnose import jpeg, photo, with_grid

#: The crop side the tests below read unless they say another (photo's own default is 256).
SIDE = 300


def luma(img: np.ndarray, quality: int) -> np.ndarray:
    """``img`` saved as JPEG at ``quality`` and decoded: its luma, as the block tests read it."""
    decoded = np.asarray(Image.open(io.BytesIO(jpeg(img, quality))).convert("RGB"), float)
    return decoded @ np.array([0.299, 0.587, 0.114])


def test_the_coefficients_a_period_reaches_in_a_block():
    assert reachable(8).all() and list(np.nonzero(reachable(1))[0]) == [0]
    assert list(np.nonzero(~reachable(4))[0]) == [2, 6]  # cos((2y+1) k pi / 16), k = 2, 6
    assert list(np.nonzero(~reachable(2))[0]) == [2, 4, 6]


@pytest.mark.parametrize("name", ["astronaut", "chelsea", "coffee", "motorcycle_left"])
def test_a_4x4_grid_in_a_jpeg_q75_is_not_read_4x8(name):
    """The encoder echoes a strong 4x4 grid at 4x8 or 8x4 (before: read 4x8 on all four)."""
    result = diagnose(jpeg(with_grid(photo(name, SIDE), 4, 4, 8.0, seed=32), 75))
    assert result.jpeg_blocks and result.grid and result.period == (4, 4), result.period


@pytest.mark.parametrize("name, levels", [("astronaut", 8.0), ("chelsea", 8.0),
                                          ("coffee", 2.0), ("motorcycle_left", 2.0)])
def test_a_4x8_grid_in_a_jpeg_q75_reads_4x8(name, levels):
    result = diagnose(jpeg(with_grid(photo(name, SIDE), 4, 8, levels, seed=36), 75))
    assert result.jpeg_blocks and result.grid and result.period == (4, 8), result.period


@pytest.mark.parametrize("name", ["astronaut", "chelsea", "coffee"])
def test_a_period_2_grid_in_a_jpeg_reads_2x2(name):
    """2x4 before: the echo of a 2x2 grid at the block's period, or (the old share rule) a
    2x4 grid's weaker quarter-period frequencies refused."""
    result = diagnose(jpeg(with_grid(photo(name, SIDE), 2, 2, 4.0, seed=16), 85))
    assert result.jpeg_blocks and result.grid and result.period == (2, 2), result.period
    result = diagnose(jpeg(with_grid(photo(name, SIDE), 2, 4, 8.0, seed=18), 75))
    assert result.period == (2, 4), result.period


@pytest.mark.parametrize("name", ["astronaut", "chelsea", "coffee", "motorcycle_left"])
def test_a_jpegs_own_blocks_still_read_as_compression(name):
    for quality in (50, 75):
        result = diagnose(jpeg(photo(name, SIDE), quality))
        assert result.jpeg_blocks and not result.grid, (quality, result.period)


def test_the_echo_test_tells_an_echo_from_a_grid():
    """Growth 4x4 -> 8x4 in a JPEG: an echo of a 4x4 grid stays on the coefficients a
    4x4 pattern reaches (p not small), an 8x4 grid does not (p tiny)."""
    echo = luma(with_grid(photo("astronaut", SIDE), 4, 4, 8.0, seed=32), 75)
    grid = luma(with_grid(photo("astronaut", SIDE), 8, 4, 8.0, seed=60), 75)
    assert block_growth_p(echo, (4, 4), (8, 4)) > 0.01
    assert block_growth_p(grid, (4, 4), (8, 4)) < 1e-6


@pytest.mark.parametrize("rows, cols, seed", [(4, 2, 1), (4, 2, 2), (2, 4, 0)])
def test_a_grid_within_the_block_is_trimmed_to_what_the_blocks_hold(rows, cols, seed):
    """Strong 4x2 and 2x4 grids in a JPEG q85 read 8x8, 4x8 or 2x8 before: the growth
    beyond them was real block power, but on DCT coefficients the smaller grid reaches
    (its echo); the smallest periods that explain the block pattern are the grid's."""
    result = diagnose(jpeg(with_grid(photo("coffee", 240), rows, cols, 8.0, seed=seed), 85))
    assert result.jpeg_blocks and result.grid and result.period == (rows, cols), result.period


def test_block_periods_keeps_what_the_blocks_need():
    g = luma(with_grid(photo("coffee", 240), 4, 2, 8.0, seed=1), 85)
    assert block_periods(g, (8, 8)) == (4, 2)
    assert block_periods(g, (4, 2)) == (4, 2)
    g = luma(with_grid(photo("coffee", 240), 8, 4, 8.0, seed=60), 75)
    assert block_periods(g, (8, 4)) == (8, 4)
    assert block_periods(g, (3, 5)) == (3, 5)  # beyond the block: not its business


def test_a_12x12_grid_in_a_jpeg_is_not_read_at_its_lcm_with_the_block():
    """lcm(12, 8) = 24: the blocks requantise the grid differently at each of its three
    phases against them, an echo every 24 rows (read 24x12 before); the 12x12 part holds
    over nine tenths of the power."""
    result = diagnose(jpeg(with_grid(photo("chelsea", 288), 12, 12, 4.0, seed=2), 85))
    assert result.jpeg_blocks and result.grid and result.period == (12, 12), result.period


@pytest.mark.parametrize("name", ["coffee", "chelsea", "motorcycle_left"])
def test_a_trim_keeps_nine_tenths_of_the_grids_power(name):
    """A 4x2 grid whose period-4 rows sit on odd block DCT coefficients (which a period-2
    pattern reaches too): the block test alone would trim it to 2x2, but the 2x2 part
    holds too little of the power the spectrum sees for the rest to be its echo."""
    rows = np.array([[1.35], [0.78], [0.26], [-0.31]])
    cols = np.array([[1.46], [1.96], [1.80], [1.32]]) * np.array([[0.2, -0.2]])
    pattern = rows + cols  # (4, 2)
    pattern = (pattern - pattern.mean()) / np.sqrt(np.mean((pattern - pattern.mean()) ** 2))
    img = photo(name, 200).astype(np.float64)
    h, w = img.shape[:2]
    x = img + 2.0 * np.tile(pattern, (h // 4 + 1, w // 2 + 1))[:h, :w, None]
    result = diagnose(jpeg(np.clip(np.rint(x), 0, 255).astype(np.uint8), 85))
    assert result.jpeg_blocks and result.grid and result.period == (4, 2), result.period
