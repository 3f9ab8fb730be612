"""Issue 23: the first look's grey levels are those of the arrays it draws, and the square
it opens on shows the network's grid, not the photograph's own texture; story step 5's
comparison is computed from the curves it describes."""

from __future__ import annotations

import pytest

from core.maths.metrics import grey_levels_at_period
from ui.catalog import heldout, heldout_digests, load_catalog, model_output
from ui.figures.firstlook import look_panels
from ui.figures.regions import artifact_region
from ui.story import DECONV, RESIZE, first_epoch_sentence

CATALOG = load_catalog()
pytestmark = pytest.mark.skipif(DECONV not in CATALOG.variants,
                                reason="no stored deconv3 checkpoints")


def _looks(name: str):
    images, digests = heldout(), heldout_digests()
    image, digest = images[name], digests[name]
    region = artifact_region(CATALOG, image, digest)
    out = model_output(CATALOG, DECONV, CATALOG.default_epoch(DECONV), image, digest)
    return look_panels([("original", image, digest), (DECONV, out.pixels, out.key)], region)


def test_levels_are_measured_on_the_drawn_arrays():
    """The gallery's default image (the first held-out one): the number the page prints
    is grey_levels_at_period of the very view it draws, and the grid is plain in it."""
    original, deconv = _looks(next(iter(heldout())))
    for look in (original, deconv):
        assert look.detail_levels == grey_levels_at_period(look.view, 4)
    assert deconv.detail_levels >= 6
    assert deconv.detail_levels >= 2 * original.detail_levels


@pytest.mark.parametrize("name", sorted(heldout()))
def test_every_held_out_photograph_opens_on_a_plain_grid(name):
    """Chelsea's strongest square was fur (the original's own period-4 level 31, deconv3's
    47): the first look now opens where the original's own level is low."""
    original, deconv = _looks(name)
    assert deconv.detail_levels >= 6, name
    assert deconv.detail_levels >= 2 * original.detail_levels, (name, deconv.detail_levels,
                                                                 original.detail_levels)


def test_step_5_sentence_is_computed_from_the_curves():
    series = CATALOG.series
    sentence = first_epoch_sentence(series)
    curves = [dict(zip(*series[v]["checkerboard"], strict=True)) for v in (DECONV, RESIZE)]
    ratios = [curves[0][e] / curves[1][e] for e in range(1, 11)
              if e in curves[0] and e in curves[1] and curves[1][e] > 0]
    assert f"{min(ratios):.1f}x to {max(ratios):.1f}x" in sentence
    assert ("well above" in sentence) == (min(ratios) >= 2)
    # a made-up history where resize_nearest's score passes deconv3's: no "above" claim
    fake = {DECONV: {"checkerboard": ([1, 2], [1.0, 1.0])},
            RESIZE: {"checkerboard": ([1, 2], [0.5, 2.0])}}
    assert "not always above" in first_epoch_sentence(fake, 1, 2)
    assert "0.5x to 2.0x" in first_epoch_sentence(fake, 1, 2)


def test_step_5_sentence_says_which_photographs_each_ratio_is_about():
    """The curves' ratios are over every held-out photograph; the frames on screen are one
    photograph: the sentence gives both and names each (issue 28, item 8)."""
    fake = {DECONV: {"checkerboard": ([1, 2], [3.0, 3.0])},
            RESIZE: {"checkerboard": ([1, 2], [1.0, 1.0])}}
    shown = {DECONV: {1: 2.0, 2: 8.0}, RESIZE: {1: 1.0, 2: 1.0}}
    sentence = first_epoch_sentence(fake, 1, 2, shown=shown, photo="coffee")
    assert "3.0x to 3.0x it over all the held-out photographs" in sentence
    assert "in the frames above, on coffee, 2.0x to 8.0x" in sentence
