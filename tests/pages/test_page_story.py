"""The story page: every ?step=N renders live content; previous/next move through steps."""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import ROOT, assert_clean, open_page, plotly_data
from ui.story import STEPS

#: The step that compares the fixes (step 8; the sound step follows it).
FIXES = next(i for i, s in enumerate(STEPS, 1) if s.title.startswith("The fixes compared"))

STORY = "pages/story.py"


def live_elements(at) -> int:
    """Charts, images and tables: what makes a step 'live' rather than text."""
    return len(at.get("plotly_chart")) + len(at.get("image")) + len(at.dataframe)


def test_at_least_seven_steps_each_with_text_and_a_full_page():
    assert len(STEPS) >= 7
    for step in STEPS:
        assert step.text.count(".") >= 2  # two or three sentences
        assert step.page.startswith("pages/")


@pytest.mark.parametrize("number", range(1, len(STEPS) + 1))
def test_each_step_opens_from_the_url_with_live_content(number):
    at = open_page(STORY, {"step": str(number)}, timeout=240)
    assert_clean(at)
    assert not at.error, [e.value for e in at.error]
    assert at.segmented_control(key="step").value == number
    assert at.header[0].value.startswith(f"Step {number} of {len(STEPS)}: ")
    assert not at.get("progress"), "one step control, not a slider and a progress bar"
    assert live_elements(at) >= 1
    assert at.get("page_link"), "each step links to its full page"
    # Step.charts is honest: a picture-only step adds one empty hidden chart (the chart
    # library loads there, not on the next press of Next); a step with charts adds none
    charts = [plotly_data(at, i) for i in range(len(at.get("plotly_chart")))]
    drawn = [traces for traces in charts if traces]
    assert bool(drawn) == STEPS[number - 1].charts
    assert len(charts) - len(drawn) == (0 if STEPS[number - 1].charts else 1)


def test_next_and_previous_move_through_the_steps():
    at = open_page(STORY, timeout=240)
    assert at.segmented_control(key="step").value == 1
    assert at.button(key="story-prev").disabled
    at.button(key="story-next").click().run()
    assert at.segmented_control(key="step").value == 2
    assert at.header[0].value.startswith("Step 2 of ")
    at.button(key="story-next").click().run()
    at.button(key="story-prev").click().run()
    assert at.segmented_control(key="step").value == 2
    at.segmented_control(key="step").set_value(5).run()  # jump straight to a step
    assert at.header[0].value.startswith("Step 5 of ")
    assert_clean(at)


def test_nonsense_step_warns_and_opens_step_one():
    at = open_page(STORY, {"step": "99"})
    assert_clean(at)
    assert any("step=99" in w.value for w in at.warning)
    assert at.segmented_control(key="step").value == 1


def test_presentation_mode_hides_explanations_on_the_story():
    at = open_page(None, {"present": "true"})
    at.switch_page(STORY)
    at.run()
    assert_clean(at)
    assert at.session_state["present"] is True
    assert not [m.value for m in at.markdown if "Previous / Next" in m.value]
    plain = open_page(STORY)
    assert [m.value for m in plain.markdown if "Previous / Next" in m.value]


def test_the_fixes_step_plots_sharpness_against_checkerboard_from_the_stored_data(monkeypatch):
    """Step 8: two pictures (held-out, unseen), one point per variant and stored epoch
    (1, 10, 40) read from the histories, sentences computed from the same points, and the
    costs from the stored benchmark (no live timing on a visitor's request)."""
    import ui.layers
    from core.experiment.front import answer, front_points
    from core.experiment.history import read_histories

    def no_live_timing(*args, **kwargs):
        raise AssertionError("the story must not time upsamplers live")

    monkeypatch.setattr(ui.layers, "cost_rows", no_live_timing)
    fixes = next(i for i, s in enumerate(STEPS, start=1) if s.title.startswith("The fixes"))
    at = open_page(STORY, {"step": str(fixes)}, timeout=240)
    assert_clean(at)
    charts = [plotly_data(at, i) for i in range(len(at.get("plotly_chart")))]
    assert len(charts) == 2
    hist = read_histories(ROOT / "checkpoints")
    for traces, which in zip(charts, ("held-out", "unseen"), strict=True):
        points = front_points(hist, (1, 10, 40), which)
        shown = {t["name"]: (list(t["x"]), list(t["y"])) for t in traces}
        assert set(shown) == set(points["variant"])
        for variant, (xs, ys) in shown.items():
            rows = points[points["variant"] == variant].sort_values("epoch")
            np.testing.assert_allclose(xs, rows["score"], rtol=1e-6)
            np.testing.assert_allclose(ys, rows["psnr"], rtol=1e-6)
        words = " ".join(answer(points, 40, which).sentences())
        assert any(words in m.value for m in at.markdown), which
    costs = at.dataframe[-1].value
    assert "deconv3" in costs.index and (costs["network parameters"] > 0).all()


def test_next_logs_no_session_state_warning(monkeypatch):
    """Next writes the step into Session State; a control created with a default too made
    Streamlit log a warning with a stack trace on every server (issue 28, item 17). The
    warning only fires with a runtime, so this test says there is one and records it."""
    from streamlit.elements.lib import policies

    seen = []
    monkeypatch.setattr(policies.runtime, "exists", lambda: True)
    monkeypatch.setattr(policies, "_shown_default_value_warning", False)
    monkeypatch.setattr(policies._LOGGER, "warning", lambda msg, *a, **k: seen.append(msg % a))
    at = open_page(STORY, {"step": "3"}, timeout=240)
    assert at.segmented_control(key="step").value == 3
    at.button(key="story-next").click().run()
    assert at.segmented_control(key="step").value == 4
    at.button(key="story-prev").click().run()
    assert at.segmented_control(key="step").value == 3
    assert_clean(at)
    assert not seen, seen


def test_the_fixes_step_links_to_the_page_that_holds_its_chart():
    """Step 8's "Open the full page" led to the Layer lab, which has no such chart; the
    gallery's artifacts' life section (opened by the link) draws it."""
    step = STEPS[FIXES - 1]
    at = open_page(STORY, {"step": str(FIXES)}, timeout=240)
    titles = {d["layout"]["title"]["text"] for d in _figures(at)}
    assert titles
    full = open_page(step.page, step.page_params, timeout=300)
    assert_clean(full)
    assert titles & {d["layout"]["title"]["text"] for d in _figures(full)}


def _figures(at) -> list[dict]:
    import json

    return [json.loads(c.proto.spec) for c in at.get("plotly_chart")
            if json.loads(c.proto.spec).get("layout", {}).get("title")]


def test_an_untrained_flat_frame_has_no_score_beside_it():
    """Epoch 0's output is a near-black square; its score (0.47 ×10⁻³) read as if it were
    as clean as the photograph (issue 28, item 11). Its frame now says it is flat."""
    from ui.catalog import frame_caption

    assert frame_caption(0, np.zeros((8, 8, 3)), 4.7e-4) == "epoch 0 · flat, no score"
    ramp = np.linspace(0, 1, 64 * 3).reshape(8, 8, 3)
    assert frame_caption(5, ramp, 2.1e-3, unit=False) == "epoch 5 · 2.10"
    at = open_page(STORY, {"step": "5"}, timeout=240)
    captions = [img.caption for el in at.get("image") for img in el.proto.imgs]
    assert "epoch 0 · flat, no score" in captions, captions
    assert any(c.startswith("epoch 1 · ") and "flat" not in c for c in captions), captions


def test_the_fixes_chart_tells_variants_apart_and_spreads_its_labels():
    """Issue 28, item 14: deconv3 (blue) and deconv_foh (cyan) looked alike from 4 m, and
    the epoch-40 labels sat on top of each other. Every pair of variants on the chart
    differs by a clear colour distance (RGB, no closer than blue and cyan were);
    neighbouring variants put their labels on other sides."""
    from ui.figures.regions import variant_colour

    def rgb(c):
        return np.array([int(c[i:i + 2], 16) for i in (1, 3, 5)], dtype=float)

    at = open_page(STORY, {"step": str(FIXES)}, timeout=240)
    traces = plotly_data(at, 0)
    names = [t["name"] for t in traces]
    assert {"deconv3", "deconv_foh"} <= set(names)
    colours = {n: rgb(variant_colour(n)) for n in names}
    for a in names:  # blue against cyan was 76 apart in RGB
        for b in names:
            if a < b:
                assert np.linalg.norm(colours[a] - colours[b]) > 65, (a, b)
    assert np.linalg.norm(colours["deconv3"] - colours["deconv_foh"]) > 150
    sides = [t["textposition"] for t in traces]
    assert all(x != y for x, y in zip(sides, sides[1:], strict=False)), sides
