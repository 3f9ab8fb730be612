"""Every integer a page reads from its URL, at both ends of its range and one past each
(issue 28): ``lo`` and ``hi`` open without a warning and show that value; ``lo - 1`` and
``hi + 1`` are named in a warning and the control keeps its default. A one-line change of
a bound (``?step=8`` refused, say) fails here.

Each case opens the page four times (every parameter of the page at once: all at the
lowest, all at the highest, all one below, all one above), not four times per parameter.
"""

from __future__ import annotations

import pytest

from tests.conftest import TINY_EPOCHS, assert_clean, open_page
from ui.coverage import URL_PARAMS as COVERAGE
from ui.layers import URL_PARAMS as LAB
from ui.matrix import URL_PARAMS as MATRIX
from ui.size_calculator import calc_params
from ui.story import STEPS
from ui.urlstate import IntParam


def _ints(spec: dict) -> dict[str, tuple[int, int]]:
    return {k: (r.lo, r.hi) for k, r in spec.items() if isinstance(r, IntParam)}


CASES = {
    "coverage": ("pages/coverage.py", _ints(COVERAGE)),
    # the kernel position's range depends on the sizes: its own test below
    "matrix": ("pages/matrix.py", {k: v for k, v in _ints(MATRIX).items() if k != "mx_pos"}),
    "calculator": ("pages/matrix.py", _ints(calc_params())),
    "layer_lab": ("pages/layer_lab.py", _ints(LAB)),
    "story": ("pages/story.py", {"step": (1, len(STEPS))}),
}
ENDS = ("lo", "hi", "below", "above")


def _value(at, name):
    return at.session_state[name] if name in at.session_state else None


def _check(page: str, bounds: dict[str, tuple[int, int]], end: str) -> None:
    pick = {"lo": lambda lo, hi: lo, "hi": lambda lo, hi: hi,
            "below": lambda lo, hi: lo - 1, "above": lambda lo, hi: hi + 1}[end]
    query = {name: str(pick(lo, hi)) for name, (lo, hi) in bounds.items()}
    at = open_page(page, query, timeout=300)
    assert_clean(at)
    warned = " ".join(w.value for w in at.warning)
    for name, raw in query.items():
        if end in ("lo", "hi"):
            assert f"{name}={raw}" not in warned, (name, warned)
            assert _value(at, name) == int(raw), (name, raw, _value(at, name))
        else:
            assert f"{name}={raw}" in warned, (name, warned)
            assert _value(at, name) != int(raw), (name, raw)


@pytest.mark.parametrize("end", ENDS)
@pytest.mark.parametrize("case", list(CASES))
def test_url_integers_at_their_bounds(case, end):
    page, bounds = CASES[case]
    _check(page, bounds, end)


@pytest.mark.parametrize("end", ENDS)
def test_comparison_epochs_at_their_bounds(tiny, end):
    _check("pages/comparison.py",
           {"a_epoch": (0, TINY_EPOCHS), "b_epoch": (0, TINY_EPOCHS)}, end)


def test_story_at_its_last_step_has_previous_on_and_next_off():
    at = open_page("pages/story.py", {"step": str(len(STEPS))}, timeout=300)
    assert not at.warning, [w.value for w in at.warning]
    assert at.header[0].value.startswith(f"Step {len(STEPS)} of {len(STEPS)}")
    assert not at.button(key="story-prev").disabled and at.button(key="story-next").disabled
    first = open_page("pages/story.py", {"step": "1"}, timeout=300)
    assert first.button(key="story-prev").disabled and not first.button(key="story-next").disabled


def test_audit_layer_at_its_bounds():
    at = open_page("pages/audit.py", timeout=300)
    n = len(at.selectbox(key="layer").options)
    for raw, ok in (("0", True), (str(n - 1), True), ("-1", False), (str(n), False)):
        at = open_page("pages/audit.py", {"layer": raw}, timeout=300)
        warned = " ".join(w.value for w in at.warning)
        assert (f"layer={raw}" in warned) != ok, (raw, warned)
        assert (at.selectbox(key="layer").value == int(raw)) == ok, raw


def test_matrix_kernel_position_at_its_bounds():
    """``mx_pos`` from 0 to the last row of C (the default figure's), -1 and 256 (the
    URL's own limit, 255, plus one) warned; a position past C's last row shows the last,
    and says so (it showed row 0 silently)."""
    last = int(open_page("pages/matrix.py", timeout=300).slider(key="mx_pos").max)
    for raw in ("0", str(last)):
        at = open_page("pages/matrix.py", {"mx_pos": raw}, timeout=300)
        assert not [w.value for w in at.warning if "mx_pos" in w.value], raw
        assert at.slider(key="mx_pos").value == int(raw), raw
    at = open_page("pages/matrix.py", {"mx_pos": "255"}, timeout=300)
    assert at.slider(key="mx_pos").value == last
    assert any(f"shows the last one, row {last}" in w.value for w in at.warning)
    for raw in ("-1", "256"):
        at = open_page("pages/matrix.py", {"mx_pos": raw}, timeout=300)
        assert any(f"mx_pos={raw}" in w.value for w in at.warning), raw
        assert at.slider(key="mx_pos").value == 0, raw


@pytest.mark.parametrize("hidden", ["\u200b", "\u202e", "\ufeff"],
                         ids=["zero-width space", "right-to-left override", "byte-order mark"])
def test_an_invisible_character_in_a_url_integer_is_named_not_hidden(hidden):
    """``?step=8`` followed by an invisible character (a link pasted from a chat) is refused
    with a warning that shows the character as its escape, so the reader sees why an '8'
    was not taken; the story stays at its first step."""
    at = open_page("pages/story.py", {"step": f"8{hidden}"}, timeout=300)
    assert_clean(at)
    escaped = f"\\u{ord(hidden):04x}"
    warnings = [w.value for w in at.warning]
    assert any(f"step=8{escaped}" in w for w in warnings), warnings
    assert not any(hidden in w for w in warnings), "the raw character reached the page"
    assert at.header[0].value.startswith("Step 1 of ")
