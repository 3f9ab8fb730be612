"""``python -m core.train`` checks every argument before writing anything and answers
every OS error in one line (issue 30): an ``--output`` that is a file or cannot be made,
a FIFO in place of the lock file, a seed numpy refuses."""

from __future__ import annotations

import os

import pytest

from core.experiment.cli import main
from core.experiment.runfolder import RunFolderError, run_lock


def _refused(argv, capsys) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    return err


def test_output_naming_an_existing_file_is_refused(tmp_path, capsys):
    target = tmp_path / "notes.txt"
    target.write_text("keep me")
    err = _refused(["--output", str(target), "--epochs", "1"], capsys)
    assert "is not a folder" in err and target.read_text() == "keep me"


def test_output_that_cannot_be_created_is_refused(capsys):
    err = _refused(["--output", "/proc/x/y", "--epochs", "1"], capsys)
    assert "cannot be created" in err


def test_a_fifo_lock_file_is_one_refusal(tmp_path):
    os.mkfifo(tmp_path / ".train.lock")
    with pytest.raises(RunFolderError, match="not a regular file"):
        with run_lock(tmp_path):
            pass


@pytest.mark.parametrize("seed", ["-1", str(2**32)])
def test_a_seed_numpy_refuses_is_refused_before_any_file(tmp_path, capsys, seed):
    out = tmp_path / "run"
    with pytest.raises(SystemExit) as exit_:
        main(["--output", str(out), "--seed", seed, "--epochs", "1"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "--seed must be from 0" in err and "Traceback" not in err
    assert not out.exists()
