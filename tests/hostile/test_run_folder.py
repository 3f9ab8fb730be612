"""The run folder (issue 20, third round): one training per ``--output`` at a time, a
dead training never holds the folder, no kill loses an epoch's row, and settings the
loader would refuse are refused before any work, in one line, with exit status 2.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import core.experiment.train as train_mod
from core.experiment.checkpoints import (
    CheckpointError,
    check_model_config,
    config_from_metadata,
)
from core.experiment.cli import main
from core.experiment.models import VARIANTS
from core.experiment.runfolder import LOCK_NAME, RunFolderBusy, run_lock
from core.experiment.train import TrainConfig, run
from tests.conftest import forbid, make_image_folder, tiny_train_config

ROOT = Path(__file__).resolve().parents[2]

# ----------------------------------------------------------------------------- settings


@pytest.mark.parametrize("argv, words", [
    (["--width", "100000"], "'width' is 100000"),
    (["--res-blocks", "65"], "'res_blocks' is 65"),
    (["--width", "512", "--res-blocks", "64"], "parameters"),
    (["--crops-per-epoch", "10000000000"], "--crops-per-epoch must be from 1 to 1,000,000"),
    (["--epochs", "20000"], "--epochs must be from 1 to 10,000"),
    (["--crop-size", "4096"], "--crop-size"),
])
def test_settings_the_loader_refuses_are_refused_before_any_work(tmp_path, capsys, argv,
                                                                 words):
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as exit_:
        main(["--variants", "deconv3", "--output", str(out), *argv])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and words in err
    assert err.count("\n") == 1 and "Traceback" not in err  # one line
    assert not out.exists()


def test_training_and_the_loader_share_one_validator():
    raw = VARIANTS["deconv3"].to_dict() | {"res_blocks": 65}
    with pytest.raises(ValueError) as lib:
        check_model_config(raw)
    with pytest.raises(CheckpointError) as loader:
        config_from_metadata("x.safetensors", raw)
    with pytest.raises(ValueError) as training:
        TrainConfig(variants=("deconv3",), res_blocks=65)
    assert str(lib.value) in loader.value.problem and str(lib.value) in str(training.value)
    # every shipped variant passes (deconv_foh's fixed kernel builds on the meta device)
    for config in VARIANTS.values():
        check_model_config(config.to_dict())


def test_data_proc_is_refused_in_one_line(tmp_path, capsys):
    code = main(["--variants", "deconv3", "--data", "/proc", "--output", str(tmp_path / "o"),
                 "--epochs", "1"])
    err = capsys.readouterr().err
    assert code == 2 and "'/proc'" in err and err.count("\n") == 1
    assert not (tmp_path / "o").exists()


# ----------------------------------------------------------------------------- lock


def test_a_second_training_on_a_held_folder_is_refused_at_once(tmp_path, monkeypatch):
    """Refused before any variant trains (``train_variant`` is forbidden while the folder
    is held; a lock that waited would hang here until pytest's timeout). The refusal's
    time is ``benchmarks/robustness.py``'s row "run folder: a second training on a held
    --output (refused)"."""
    folder = make_image_folder(tmp_path / "imgs")
    cfg = tiny_train_config(tmp_path, folder, epochs=1)
    with run_lock(cfg.output), monkeypatch.context() as m:
        trained = forbid(m, train_mod, "train_variant", "training a variant")
        with pytest.raises(RunFolderBusy, match="another training"):
            run(cfg, log=lambda *_: None)
    assert not trained
    assert not list(Path(cfg.output).rglob("epoch_*.safetensors"))
    run(cfg, log=lambda *_: None)  # released: the same run now goes through


_HOLD = ("import sys, time\nfrom core.experiment.runfolder import run_lock\n"
         "with run_lock(sys.argv[1]):\n    print('held', flush=True)\n    time.sleep(600)\n")


def _holder(out: Path) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", _HOLD, str(out)], cwd=ROOT,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_two_trainings_on_one_output_the_second_exits_2_naming_the_first(tmp_path, capsys):
    folder = make_image_folder(tmp_path / "imgs")
    out = tmp_path / "out"
    first = _holder(out)  # a training that holds the folder
    try:
        code = main(["--variants", "deconv3", "--data", str(folder), "--output", str(out),
                     "--epochs", "1", "--width", "4", "--res-blocks", "1", "--crop-size", "32",
                     "--crops-per-epoch", "16", "--batch-size", "8", "--no-progress"])
        err = capsys.readouterr().err
        assert code == 2 and f"pid {first.pid}" in err and "another training" in err
        assert not list(out.rglob("epoch_*.safetensors"))
    finally:
        first.kill()
        first.wait()


def test_a_killed_training_does_not_hold_the_folder(tmp_path):
    out = tmp_path / "out"
    holder = _holder(out)
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    assert (out / LOCK_NAME).exists()  # the file stays; the lock went with the process
    with run_lock(out):
        pass


# ----------------------------------------------------------------------------- kills


class Killed(BaseException):
    """Stands for ``kill -9`` right after one write (nothing after it runs)."""


@pytest.mark.parametrize("write", ["write_history", "save_checkpoint", "_save_resume"])
def test_a_kill_after_any_write_loses_no_epoch_row_after_resume(tmp_path, monkeypatch, write):
    folder = make_image_folder(tmp_path / "imgs")
    cfg = tiny_train_config(tmp_path, folder, epochs=3, keep="all")
    real = getattr(train_mod, write)
    calls = {"n": 0}

    def then_killed(*args, **kwargs):
        real(*args, **kwargs)
        calls["n"] += 1
        if calls["n"] == 2:  # epoch 1 (epoch 0 is the first call)
            raise Killed

    monkeypatch.setattr(train_mod, write, then_killed)
    with pytest.raises(Killed):
        run(cfg, log=lambda *_: None)
    monkeypatch.setattr(train_mod, write, real)
    run(TrainConfig(**{**cfg.__dict__, "resume": True}), log=lambda *_: None)
    hist = pd.read_csv(Path(cfg.output) / "deconv3" / "history.csv")
    assert list(hist["epoch"]) == [0, 1, 2, 3]
