"""The story page: every ?step=N renders live content; previous/next move through steps."""

from __future__ import annotations

import pytest

from tests.conftest import assert_clean, open_page
from ui.story import STEPS

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


def test_the_fixes_step_shows_the_stored_benchmark_not_a_live_timing(monkeypatch):
    """Step 8 reads benchmarks/results/upsampling.json: no timing on a visitor's request,
    times rounded to two significant figures, and a clear note when the file is gone."""
    import ui.layers
    import ui.story

    def no_live_timing(*args, **kwargs):
        raise AssertionError("the story must not time upsamplers live")

    monkeypatch.setattr(ui.layers, "cost_rows", no_live_timing)
    stored = ui.story.stored_costs()
    assert stored is not None, "benchmarks/results/upsampling.json is part of the repository"
    table, note = stored
    assert "resize_nearest" in table.index and "subpixel_icnr" not in table.index
    assert table.loc["resize_nearest", "vs resize_nearest"] == 1.0
    for value in table["forward (ms)"]:
        assert float(f"{value:.2g}") == value  # two significant figures, no false precision
    assert "median of" in note
    at = open_page(STORY, {"step": str(len(STEPS))}, timeout=240)
    assert_clean(at)
    shown = at.dataframe[-1].value
    assert list(shown.index) == list(table.index)
    assert ui.story.stored_costs("/nonexistent/upsampling.json") is None
