"""Words that match the data (issue 23): each sentence of the story, the gallery, Compare
and the life view that states a comparison or a trend in fixed words is checked here
against the data it describes; sentences with numbers are computed by a function, and
that function is checked against the same data (and against a made-up case where the
words must change)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from core.experiment.catalog import PERIOD, POST_EPOCH
from core.experiment.history import read_histories
from core.experiment.models import build_model
from core.maths.metrics import checkerboard_score, format_score
from tests.conftest import ROOT, assert_clean, open_page
from ui.catalog import heldout, heldout_digests, heldout_scores, load_catalog, model_output
from ui.figures.coverage import FIGURE_4, FIGURE_6
from ui.figures.firstlook import LookPanel, look_panels, plainness_sentence
from ui.figures.regions import PLAIN_LEVELS, artifact_region
from ui.gallery import photographs_own_sentence
from ui.story import DECONV, EVEN, RESIZE, STEPS, STORY_IMAGE, figure_spec, scores_sentence

CATALOG = load_catalog()
HIST = read_histories(ROOT / "checkpoints")
pytestmark = pytest.mark.skipif(not {DECONV, EVEN, RESIZE} <= set(CATALOG.variants),
                                reason="no stored checkpoints of the story's variants")


def _score(variant: str, epoch: int, column: str = "checkerboard") -> float:
    d = HIST[(HIST["variant"] == variant) & (HIST["epoch"] == epoch)]
    return float(d[column].iloc[0])


def _step(title_start: str):
    return next(s for s in STEPS if s.title.startswith(title_start))


def test_step_4_four_times_twice_and_once():
    """"some output cells are painted four times, the cells beside them twice and those on
    their diagonals once": the heatmap beside it (FIGURE_4), read at an interior 4. It
    said "their neighbours once", but a 4's direct neighbours are 2s (issue 28)."""
    assert ("four times, the cells beside them twice and those on their diagonals once"
            in _step("Uneven overlap").text)
    report = figure_spec(FIGURE_4).report()
    counts = np.asarray(report.counts)
    r, c = next((r, c) for r, c in zip(*np.nonzero(counts == 4), strict=True)
                if 0 < r < counts.shape[0] - 1 and 0 < c < counts.shape[1] - 1)
    assert {counts[r - 1, c], counts[r + 1, c], counts[r, c - 1], counts[r, c + 1]} == {2}
    assert {counts[r - 1, c - 1], counts[r - 1, c + 1], counts[r + 1, c - 1],
            counts[r + 1, c + 1]} == {1}


def test_step_6_even_interior_uneven_borders_unequal_learnt_phases():
    """"overlaps evenly in the interior ... The borders stay uneven, and training can
    still learn unequal weights for the four phases": FIGURE_6's coverage, and the trained
    4x4 network's phase-gain imbalance at every stored epoch after initialisation."""
    text = _step("Even overlap").text
    assert "evenly in the interior" in text and "borders stay uneven" in text
    report = figure_spec(FIGURE_6).report()
    assert report.interior_even and report.border_stats.min < report.interior_stats.max
    assert "unequal weights for the four phases" in text
    for epoch in CATALOG.epochs(EVEN):
        if epoch >= 1:
            assert _score(EVEN, epoch, "imbalance_up1") > 0.5, epoch


def test_step_1_and_7_say_the_posts_ten_epochs():
    """Steps 1 and 7 say they show the post's ten epochs: the story opens there."""
    assert "the post's ten epochs" in _step("What checkerboard").text
    assert "ten epochs, as in the post" in _step("Deconvolution vs").text
    assert POST_EPOCH == 10
    assert CATALOG.default_epoch(DECONV) == CATALOG.default_epoch(RESIZE) == POST_EPOCH


def test_step_5_trained_longer_the_networks_hide_most_of_it():
    """"Trained longer, our networks learn to hide most of it": deconv3's score at the
    last epoch is under half its score at the post's epoch 10, and so is its excess over
    resize_nearest."""
    assert "learn to hide most of it" in _step("Artifacts from the first").text
    last = CATALOG.last_epoch(DECONV)
    assert last > POST_EPOCH
    assert _score(DECONV, last) < 0.5 * _score(DECONV, POST_EPOCH)
    excess = [_score(DECONV, e) - _score(RESIZE, e) for e in (POST_EPOCH, last)]
    assert excess[1] < 0.5 * excess[0]


def test_step_7_every_cell_painted_equally_and_the_scores_computed():
    """"Resizing ... paints every output cell equally": resize_nearest's phase-gain
    imbalance is zero at every epoch. The scores and their multiples of the original's
    are computed (:func:`ui.story.scores_sentence`) from the step's own photograph."""
    assert "paints every output cell equally" in _step("Deconvolution vs").text
    assert (HIST[HIST["variant"] == RESIZE][["imbalance_up1", "imbalance_up2"]] == 0).all().all()
    images, digests = heldout(), heldout_digests()
    image = images[STORY_IMAGE]
    scores = {"the original": checkerboard_score(image, PERIOD)}
    for variant in (DECONV, RESIZE):
        out = model_output(CATALOG, variant, POST_EPOCH, image, digests[STORY_IMAGE])
        scores[f"`{variant}`"] = out.score
    sentence = scores_sentence(scores)
    base = scores["the original"]
    for who, value in scores.items():
        assert f"{who} {format_score(value)}" in sentence
        if who != "the original":
            assert f"({value / base:.1f}x the original's)" in sentence
    # the story shows it
    at = open_page("pages/story.py", {"step": str(STEPS.index(_step("Deconvolution vs")) + 1)},
                   timeout=240)
    assert_clean(at)
    assert sentence in [m.value for m in at.markdown]
    assert "b 3.00 ×10⁻³ (3.0x the original's)" in scores_sentence({"a": 1e-3, "b": 3e-3})


def test_the_gallery_says_which_transposed_convolutions_paint_a_checkerboard():
    """The gallery's intro: "The learnt transposed convolutions (deconv3, deconv4) paint a
    checkerboard from the first epoch on; resize-convolution does not": over the post's
    ten epochs both score at least twice resize_nearest, whose phases stay balanced. (The
    fixed-kernel transposed convolutions deconv_zoh / deconv_foh do not, hence "learnt".)"""
    text = (ROOT / "pages" / "gallery.py").read_text()
    assert "learnt transposed convolutions (`deconv3`, `deconv4`)" in text
    for variant in (DECONV, EVEN):
        for epoch in range(1, POST_EPOCH + 1):
            assert _score(variant, epoch) >= 2 * _score(RESIZE, epoch), (variant, epoch)
    for fixed in ("deconv_zoh", "deconv_foh"):
        if fixed in CATALOG.variants:
            assert _score(fixed, 1) < 2 * _score(RESIZE, 1)


def test_the_photographs_own_scores_are_computed():
    """The gallery's reference line names the held-out photographs' own range, and the
    README's "a clean photograph reads about 0.5-0.7" holds for them."""
    own = heldout_scores()
    sentence = photographs_own_sentence(own)
    lo, hi = min(own.values()), max(own.values())
    assert f"{format_score(lo, unit=False)}-{format_score(hi)}" in sentence
    assert photographs_own_sentence({"one": 0.001}).startswith(
        "The photographs themselves read 1.00 ×10⁻³")
    assert photographs_own_sentence({}) == ""
    readme = (ROOT / "README.md").read_text()
    assert "A clean photograph reads about 0.5-0.7 ×10⁻³" in readme
    assert 0.45 <= lo * 1e3 and hi * 1e3 <= 0.75


def test_too_faint_only_when_it_is():
    """The first look calls the grid "too faint for a projector" only below the visible
    level, and the README's grey levels are those of the first looks at epoch 10."""
    view = np.zeros((4, 4, 3))
    faint = LookPanel("deconv3 · epoch 10", view, PLAIN_LEVELS - 1.6, 40.0, "k")
    plain = LookPanel("deconv3 · epoch 1", view, PLAIN_LEVELS + 3, 60.0, "k")
    assert "too faint for a projector" in plainness_sentence(faint)
    assert "visible even without amplification" in plainness_sentence(plain)
    assert "too faint" not in plainness_sentence(plain)
    images, digests = heldout(), heldout_digests()
    plain_levels, detail_levels = [], []
    for name, image in images.items():
        region = artifact_region(CATALOG, image, digests[name])
        out = model_output(CATALOG, DECONV, POST_EPOCH, image, digests[name])
        look = look_panels([(DECONV, out.pixels, out.key)], region)[0]
        plain_levels.append(look.plain_levels)
        detail_levels.append(look.detail_levels)
    readme = (ROOT / "README.md").read_text()
    said = (f"about {min(plain_levels):.0f}-{max(plain_levels):.0f} grey levels out of 255",
            f"at {min(detail_levels):.0f}-{max(detail_levels):.0f} grey levels")
    for words in said:
        assert words in readme, words
    assert max(plain_levels) < PLAIN_LEVELS  # "too little to see on a projector"


def test_the_life_view_names_the_real_last_convolution():
    """The life view explains deconv3's compensation by "the 9x9 last convolution": the
    network it describes ends in one (the first release's small variant does not)."""
    from ui.life import VARIANT

    text = (ROOT / "ui" / "life.py").read_text()
    assert "the 9x9 last convolution" in text
    convs = [m for m in build_model(VARIANT).modules() if isinstance(m, torch.nn.Conv2d)]
    assert convs[-1].kernel_size == (9, 9)
    small = [m for m in build_model("deconv3_small_last").modules()
             if isinstance(m, torch.nn.Conv2d)]
    assert small[-1].kernel_size != (9, 9)  # the check can fail


def test_step_8_names_the_epochs_it_plots():
    """Step 8 says "at epochs 1, 10 and 40": the front plots epochs 1, 10 and the last
    stored one (``ui.figures.front.render_front``), which is 40."""
    assert "at epochs 1, 10 and 40" in _step("The fixes compared").text
    assert int(HIST["epoch"].max()) == 40
