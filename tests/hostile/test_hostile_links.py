"""Hostile links and folders through the pages (issue 20, third round): non-UTF-8 names in
the checkpoint folder, Markdown smuggled in through a URL value or a folder name, digits
that only look like digits, too many names, overflowing typed values, damaged histories.
Each page must stay clean and say what it refused; no value may leave its code span.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

from core.experiment.history import write_history
from core.io.text import md_code
from tests.conftest import assert_clean, make_checkpoints, open_page
from ui.catalog import CHECKPOINTS_ENV

GALLERY, COMPARE, STORY, AUDIT = ("pages/gallery.py", "pages/comparison.py",
                                  "pages/story.py", "pages/audit.py")
COVERAGE, LAB, MATRIX = "pages/coverage.py", "pages/layer_lab.py", "pages/matrix.py"
#: A value that, echoed raw inside `...`, closes the span and adds a live link and image.
EVIL = "1`[click](http://evil.example) ![x](http://evil.example/x.png)`"


def outside_code(markdown: str) -> str:
    """``markdown`` with its inline code spans removed (CommonMark: a run of n backticks
    opens a span closed by the next run of exactly n)."""
    out, i = [], 0
    while i < len(markdown):
        m = re.compile(r"`+").search(markdown, i)
        if not m:
            out.append(markdown[i:])
            break
        out.append(markdown[i:m.start()])
        close = re.compile(r"(?<!`)" + "`" * len(m.group(0)) + r"(?!`)").search(markdown,
                                                                              m.end())
        if not close:
            out.append(markdown[m.start():])
            break
        i = close.end()
    return "".join(out)


def assert_no_live_markup(texts: list[str]) -> None:
    for text in texts:
        rest = outside_code(text)
        assert "](" not in rest and "<" not in rest, text


@pytest.fixture(scope="module")
def clean(tmp_path_factory) -> Path:
    return make_checkpoints(tmp_path_factory.mktemp("links-clean"))


@pytest.fixture
def root(clean, tmp_path, monkeypatch) -> Path:
    out = tmp_path / "checkpoints"
    shutil.copytree(clean, out)
    monkeypatch.setenv(CHECKPOINTS_ENV, str(out))
    return out


def texts(at, kind: str) -> list[str]:
    return [e.value for e in getattr(at, kind)]


def rendered(markdown: str) -> str:
    """What a reader sees of escaped Markdown text (backslash escapes resolved)."""
    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", markdown)


# ----------------------------------------------------------------------------- names


@pytest.mark.parametrize("page", [GALLERY, COMPARE, STORY, AUDIT])
def test_non_utf8_names_in_the_checkpoint_folder_do_not_crash_a_page(root, page):
    good = root / "deconv3" / "epoch_001.safetensors"
    raw = os.fsencode(root)
    shutil.copy(good, os.fsdecode(raw + b"/deconv3/epoch_\xff01.safetensors"))
    os.mkdir(raw + b"/dec\xffonv")
    shutil.copy(good, os.fsdecode(raw + b"/dec\xffonv/epoch_001.safetensors"))
    at = open_page(page)
    assert_clean(at)
    if page != AUDIT:  # the pages that list broken files name them, bytes escaped
        assert any("\\xff" in e and "not UTF-8" in rendered(e) for e in texts(at, "error"))


def test_a_folder_name_with_backticks_cannot_inject_markdown_into_the_broken_files_error(root):
    evil = root / "x`[a](evil.example)`"  # no "/" in a folder name
    evil.mkdir()
    shutil.copy(root / "deconv3" / "epoch_001.safetensors", evil / "epoch_001.safetensors")
    at = open_page(GALLERY)
    assert_clean(at)
    errors = [e for e in texts(at, "error") if "cannot be read" in e]
    assert errors and "evil.example" in errors[0]
    assert_no_live_markup(errors)


# ----------------------------------------------------------------------------- URL values


@pytest.mark.parametrize("page, name", [(COVERAGE, "kernel"), (COMPARE, "a_epoch"),
                                        (AUDIT, "example")])
def test_a_url_value_cannot_leave_its_code_span(root, page, name):
    at = open_page(page, {name: EVIL})
    assert_clean(at)
    warnings = [w for w in texts(at, "warning") if "Ignored URL parameter" in w]
    assert warnings and md_code(f"{name}={EVIL}", 120) in warnings[0]
    assert_no_live_markup(warnings)


def test_a_step_in_arabic_indic_digits_is_refused_with_a_warning(root):
    at = open_page(STORY, {"step": "\u0662"})  # Arabic-Indic two: int() reads it as 2
    assert_clean(at)
    assert any("step=\u0662" in w for w in texts(at, "warning"))


def test_more_upsamplers_than_shown_are_named_in_a_warning():
    from core.upsamplers.registry import upsampler_names

    names = list(upsampler_names())[:8]
    at = open_page(LAB, {"lab_ups": names})
    assert_clean(at)
    assert any("names 8 values; only the first 4 are shown" in w for w in texts(at, "warning"))


def test_overflowing_typed_matrix_values_are_refused_not_called_a_disagreement():
    at = open_page(MATRIX, {"mx_values": "typed", "mx_kernel": "1e200 1 1; 1 1 1; 1 1 1"})
    assert_clean(at)
    shown = rendered(" ".join(texts(at, "error")))
    assert "finite numbers from -1e+06 to 1e+06" in shown and "disagree" not in shown


# ----------------------------------------------------------------------------- life view


@pytest.mark.parametrize("content", [
    "epoch,stored,checkerboard\n0,True,0.1\n1,True,lots\n",  # text in a number column
    "epoch,stored,checkerboard\n0,True,0.1\n1,True,0.05\n2,True,0.02\n",  # no imbalance
])
def test_the_life_view_survives_a_damaged_history(root, content):
    (root / "deconv3" / "history.csv").write_text(content)
    write_history(root / "resize_nearest" / "history.csv",
                  [{"epoch": e, "stored": True, "checkerboard": 0.01} for e in range(3)])
    at = open_page(GALLERY, {"life": "true"})
    assert_clean(at)
    assert any(h.value == "The artifacts' life" for h in at.subheader)


def test_an_epoch_with_an_underscore_is_refused_not_read_as_another_epoch():
    """``?a_epoch=1_3``: Python's int() reads 13 (not stored), which the page once "moved
    to the nearest stored epoch, 15"; it is refused like any malformed value, with the
    one warning, and model A opens at its default epoch."""
    at = open_page(COMPARE, {"a_epoch": "1_3"}, timeout=240)
    assert_clean(at)
    warnings = texts(at, "warning")
    assert any("a_epoch=1_3" in w for w in warnings)
    assert not any("no stored epoch" in w for w in warnings)
    assert at.select_slider(key="a_epoch").value == 10


def test_a_step_with_an_underscore_opens_step_one_with_its_neighbours_named():
    """``?step=0_3`` is not step 3: step 1 opens, Previous is off and Next names step 2."""
    at = open_page(STORY, {"step": "0_3"})
    assert_clean(at)
    assert any("step=0_3" in w for w in texts(at, "warning"))
    assert at.segmented_control(key="step").value == 1
    assert at.button(key="story-prev").disabled
    assert at.button(key="story-next").proto.label.startswith("2. ")
