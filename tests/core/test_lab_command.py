"""``checkerboard-lab`` (core/lab.py): which clone it starts, what it runs there, and what it
says when there is none. Starting a real server is left to ``make run``; the installed
command is run by tests/install/test_install.py."""

from __future__ import annotations

import json
import shlex
import sys
from importlib import metadata
from pathlib import Path

import pytest

from core import lab

ROOT = Path(__file__).resolve().parents[2]


def fake_clone(folder: Path, skip: str | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name in lab.CLONE_FILES:
        if name != skip:
            path = folder / name
            path.mkdir(parents=True) if "." not in name else path.write_text("")
    return folder


def test_this_checkout_is_a_clone_and_a_partial_one_is_not(tmp_path):
    assert lab.is_clone(ROOT)
    for name in lab.CLONE_FILES:
        assert not lab.is_clone(fake_clone(tmp_path / name, skip=name)), name
    assert lab.is_clone(fake_clone(tmp_path / "whole"))


def test_find_clone_order(tmp_path, monkeypatch):
    one, two = fake_clone(tmp_path / "one"), fake_clone(tmp_path / "two")
    monkeypatch.setattr(lab, "installed_from", lambda: (two, None))
    assert lab.find_clone(one, cwd=tmp_path) == one.resolve()
    assert lab.find_clone(tmp_path, cwd=one) is None  # an explicit non-clone is refused
    assert lab.find_clone(None, cwd=one) == one.resolve()
    assert lab.find_clone(None, cwd=tmp_path) == two.resolve()  # where pip installed from
    monkeypatch.setattr(lab, "installed_from", lambda: (tmp_path, None))
    assert lab.find_clone(None, cwd=tmp_path / "one" / "pages") is None


def test_dry_run_prints_what_make_run_runs(capsys):
    assert lab.main(["--clone", str(ROOT), "--port", "8611", "--dry-run"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"cd {shlex.quote(str(ROOT.resolve()))}"
    assert shlex.split(out[1]) == [sys.executable, "-m", "core.outputs", "--root", "checkpoints"]
    assert shlex.split(out[2]) == [sys.executable, "-m", "streamlit", "run", "dashboard.py",
                                   "--server.port", "8611"]
    make = (ROOT / "Makefile").read_text()
    assert "-m core.outputs --root checkpoints" in make and "run dashboard.py" in make


def test_without_a_clone_it_says_what_it_needs(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(lab, "installed_from",
                        lambda: (None, "https://example.org/lab.git"))
    assert lab.main([]) == 2
    err = capsys.readouterr().err
    assert "this folder is not a clone" in err
    assert "dashboard.py, pages/ and ui/" in err and "checkpoints/" in err
    assert "git clone https://example.org/lab.git checkerboard-lab" in err
    assert lab.main(["--clone", str(tmp_path)]) == 2
    assert "(no dashboard.py, pages, ui, core, checkpoints)" in capsys.readouterr().err
    monkeypatch.setattr(lab, "installed_from", lambda: (tmp_path / "gone", None))
    assert lab.main([]) == 2
    err = capsys.readouterr().err
    assert f"{tmp_path / 'gone'}, where this package was installed from" in err
    assert "<this repository's URL>" in err


class _Dist:
    def __init__(self, text):
        self.text = text

    def read_text(self, name):
        assert name == "direct_url.json"
        return self.text


@pytest.mark.parametrize(("direct_url", "expected"), [
    ({"url": "file:///home/me/check%20lab", "dir_info": {}}, (Path("/home/me/check lab"), None)),
    ({"url": "file:///home/me/lab", "dir_info": {"editable": True}}, (Path("/home/me/lab"), None)),
    ({"url": "https://github.com/o/checkerboard-lab",
      "vcs_info": {"vcs": "git", "commit_id": "ab"}},
     (None, "https://github.com/o/checkerboard-lab")),
    ({"url": "https://files.example/checkerboard_lab-0.1.0.whl", "archive_info": {}},
     (None, None)),
    ("not json", (None, None)),
    (None, (None, None)),
])
def test_installed_from_reads_direct_url(monkeypatch, direct_url, expected):
    text = direct_url if direct_url is None or isinstance(direct_url, str) else json.dumps(
        direct_url)
    monkeypatch.setattr(metadata, "distribution", lambda name: _Dist(text))
    assert lab.installed_from() == expected
