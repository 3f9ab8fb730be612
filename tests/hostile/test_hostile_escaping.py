"""Names that reach HTML, plotly text or Markdown go through one escaping helper,
``@`` included, and shown text keeps invisible characters visible (issue 30)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pandas as pd
import pytest

from core.io.text import escape, md_code, md_escape
from tests.hostile.test_hostile_links import outside_code

ROOT = Path(__file__).resolve().parents[2]
#: A folder name that is a live link in HTML and plotly, and a mention on GitHub.
EVIL = "<a href='http://evil.example'>click</a>@octo-team%{x}"


def _no_live_mention(markdown: str) -> None:
    """Outside code spans, every ``@`` is followed by the zero-width space entity."""
    text = outside_code(markdown)
    assert not re.search(r"@(?!&#8203;)", text), text


def test_the_one_helper_makes_names_inert_everywhere():
    for to in ("html", "plotly"):
        out = escape(EVIL, to)
        assert "<" not in out and ">" not in out and "@" not in out
    assert "%{" not in escape(EVIL, "plotly")
    _no_live_mention(escape(EVIL, "markdown"))
    _no_live_mention(md_escape("mail me @someone"))
    with pytest.raises(ValueError):
        escape("x", "latex")


def test_invisible_characters_are_shown_not_dropped():
    # the URL warning's value: '8' then a zero-width space must not read as '8'
    assert md_code("step=8\u200b") == "`step=8\\u200b`"
    assert "\\u202e" in md_escape("abc\u202edef")
    assert "\\x07" in escape("bell\x07", "html")


def _history_folder(root: Path, name: str) -> None:
    src = ROOT / "checkpoints" / "deconv3" / "history.csv"
    (root / name).mkdir(parents=True)
    shutil.copy(src, root / name / "history.csv")


def test_history_names_reach_plotly_as_text(tmp_path):
    from core.experiment.history import checkerboard_ratio, read_histories
    from ui.figures.front import front_figure
    from ui.life import imbalance_figure, ratio_figure

    _history_folder(tmp_path, EVIL.replace("/", "_"))
    hist = read_histories(tmp_path)
    name = hist["variant"].iloc[0]
    ratio = checkerboard_ratio(pd.concat([hist, hist.assign(variant="resize_nearest")]),
                               variant=name)
    figures = [ratio_figure({f"{name} (this experiment)": ratio}),
               imbalance_figure({f"{name} (this experiment)": hist}),
               front_figure(pd.DataFrame({"variant": [name], "epoch": [1], "score": [1.0],
                                          "psnr": [20.0], "on_front": [True]}), "t")]
    for fig in figures:
        for trace in fig.data:
            for text in (trace.name, trace.hovertemplate):
                assert "<a" not in text and "@octo" not in text, text
                assert "&lt;a href" in text


def test_history_command_escapes_folder_names(tmp_path, capsys):
    from core.experiment.history import main

    _history_folder(tmp_path, EVIL.replace("/", "_"))
    assert main([str(tmp_path), "--epochs", "1"]) == 0
    table = capsys.readouterr().out
    assert "\\<a href" in table and not re.search(r"(?<!\\)<", table)  # shown, not live
    _no_live_mention(table)


def test_history_command_says_when_the_epochs_asked_are_missing(tmp_path, capsys):
    from core.experiment.history import main

    _history_folder(tmp_path, "deconv3")
    assert main([str(tmp_path), "--epochs", "99999"]) == 1
    out = capsys.readouterr().out
    assert "no stored epoch among --epochs 99999" in out and "no readable" not in out


def test_markdown_report_names_make_no_mention():
    from core.audit.onnx_graph import audit_onnx
    from core.audit.render import to_html, to_markdown
    from tests.hostile.test_hostile_audit import deconv, inp, model, out, weight

    report = audit_onnx(model([deconv(name="@octo-team/up")], [inp()], [out()], [weight()]),
                        probes=False, name="@octo-team/model.onnx")
    _no_live_mention(to_markdown(report, images=False))
    assert "@octo" not in to_html(report)


def test_markdown_cut_never_lands_inside_a_code_block(monkeypatch):
    import core.audit.render as render
    from core.audit.cli import markdown_comment

    text = "# Report\n\n```python\n" + "x = 1\n" * 20_000 + "```\n\nend\n"
    monkeypatch.setattr(render, "to_markdown", lambda report, images=False: text)
    cut = markdown_comment(None, limit=65_000)
    assert len(cut) <= 65_000
    fences = [ln for ln in cut.splitlines() if ln.lstrip().startswith("```")]
    assert len(fences) % 2 == 0, "the note would be inside the code block"
    assert cut.rstrip().endswith("everything.*")
