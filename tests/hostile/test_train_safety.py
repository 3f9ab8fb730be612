"""Training never fails silently and never destroys work (issue 11, items 6-8).

Each test drives a real (tiny) training run: a finished run asked for more epochs, a
resume with other settings, a diverging learning rate, a collapsed model, Ctrl-C, and
folders that hold unreadable files or a single image.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

import core.experiment.cli as train_cli
import core.experiment.train as train_mod
from core.experiment.checkpoints import list_checkpoints, read_metadata
from core.experiment.cli import main, resume_command
from core.experiment.evaluation import collapse_problem, evaluate
from core.experiment.history import HISTORY_COLUMNS
from core.experiment.models import TransformNet
from core.experiment.train import (
    RESULT_SETTINGS,
    TrainConfig,
    TrainingError,
    keep_epoch,
    run,
    setting_differences,
)
from tests.conftest import TINY, make_image_folder, tiny_train_config

ROOT = Path(__file__).resolve().parents[2]


def _files(folder: str | Path) -> dict[str, int]:
    """Checkpoint files under ``folder`` -> modification time (ns)."""
    return {p.name: p.stat().st_mtime_ns for p in Path(folder).rglob("epoch_*.safetensors")}


def _interrupt_after_epoch_1(cfg: TrainConfig) -> None:
    """Run ``cfg`` and stop it right after epoch 1 is written (as a crash would)."""

    class Stop(Exception):
        pass

    def stop(msg, *_):
        if "epoch  1" in str(msg):
            raise Stop

    with pytest.raises(Stop):
        run(cfg, log=stop)


# ----------------------------------------------------------------------------- epochs kept


def test_keep_epoch_log_schedule_and_history_has_every_epoch(tmp_path):
    kept = [e for e in range(41) if keep_epoch(e, 40)]
    assert kept == [0, 1, 2, 3, 5, 7, 10, 15, 20, 30, 40]
    assert keep_epoch(13, 13) and all(keep_epoch(e, 40, "all") for e in range(41))

    folder = make_image_folder(tmp_path / "imgs")
    cfg = tiny_train_config(tmp_path, folder, epochs=6)
    run(cfg, log=lambda *_: None)
    assert list(list_checkpoints(cfg.output)["epoch"]) == [0, 1, 2, 3, 5, 6]
    hist = pd.read_csv(Path(cfg.output) / "deconv3" / "history.csv")
    assert list(hist.columns) == list(HISTORY_COLUMNS)
    assert list(hist["epoch"]) == list(range(7))
    assert list(hist["stored"]) == [True, True, True, True, False, True, True]
    assert np.isfinite(hist["val_psnr"]).all() and (hist["imbalance_up1"] > 0).all()
    # the history's numbers are those stored in the checkpoints
    meta = read_metadata(Path(cfg.output) / "deconv3" / "epoch_005.safetensors")
    assert hist.loc[5, "val_psnr"] == pytest.approx(meta["metrics"]["val_psnr"], rel=1e-12)


# ----------------------------------------------------------------------------- resume


def test_resume_of_a_finished_run_with_more_epochs_refuses_and_keeps_files(tmp_path):
    folder = make_image_folder(tmp_path / "imgs")
    cfg = tiny_train_config(tmp_path, folder, epochs=3)
    run(cfg, log=lambda *_: None)
    before = _files(cfg.output)
    with pytest.raises(TrainingError, match=r"--epochs: 3 -> 4"):
        run(dataclasses.replace(cfg, epochs=4, resume=True), log=lambda *_: None)
    assert _files(cfg.output) == before  # nothing rewritten


@pytest.mark.parametrize("change,flag", [
    ({"crops_per_epoch": 64}, "--crops-per-epoch: 48 -> 64"),
    ({"lr": 1e-3}, "--lr: 0.003 -> 0.001"),
    ({"batch_size": 4}, "--batch-size: 8 -> 4"),
    ({"seed": 4}, "--seed: 3 -> 4"),
    ({"width": 8}, "model config"),
    ({"adam_beta2": 0.95}, "--adam-beta2: "),
])
def test_resume_with_other_settings_names_them(tmp_path, change, flag):
    folder = make_image_folder(tmp_path / "imgs")
    cfg = tiny_train_config(tmp_path, folder, epochs=2)
    _interrupt_after_epoch_1(cfg)
    before = _files(cfg.output)
    with pytest.raises(TrainingError) as err:
        run(dataclasses.replace(cfg, resume=True, **change), log=lambda *_: None)
    assert flag in str(err.value)
    assert _files(cfg.output) == before


def test_a_run_stored_before_adam_beta2_was_recorded_counts_as_torch_default():
    """Runs stored before ``adam_beta2`` existed used Adam's 0.999: resuming them with
    0.999 is the same run; with another value it is named."""
    cfg = TrainConfig(variants=("deconv3",), adam_beta2=0.999)
    model_cfg = cfg.model_config("deconv3")
    training = {k: getattr(cfg, k) for k in RESULT_SETTINGS if k != "adam_beta2"}
    stored = {"training": training, "epochs": cfg.epochs, "config": model_cfg.to_dict(),
              "data": {}}
    assert setting_differences(stored, cfg, model_cfg, {}) == []
    newer = dataclasses.replace(cfg, adam_beta2=0.99)
    assert setting_differences(stored, newer, model_cfg, {}) == ["--adam-beta2: 0.999 -> 0.99"]


@pytest.mark.parametrize("beta2", [0.0, 1.0, -0.5, float("nan")])
def test_adam_beta2_outside_the_open_unit_interval_is_refused(beta2):
    with pytest.raises(ValueError, match="adam_beta2"):
        TrainConfig(adam_beta2=beta2)


def test_resume_without_resume_state_refuses_instead_of_starting_over(tmp_path):
    folder = make_image_folder(tmp_path / "imgs")
    cfg = tiny_train_config(tmp_path, folder, epochs=3)
    _interrupt_after_epoch_1(cfg)
    (Path(cfg.output) / "deconv3" / ".resume.safetensors").unlink()
    before = _files(cfg.output)
    with pytest.raises(TrainingError, match="no resume state"):
        run(dataclasses.replace(cfg, resume=True), log=lambda *_: None)
    assert _files(cfg.output) == before


# ----------------------------------------------------------------------------- divergence


def test_non_finite_loss_stops_the_run_and_stores_nothing_of_that_epoch(tmp_path):
    folder = make_image_folder(tmp_path / "imgs")
    out = tmp_path / "out"
    argv = ["--variants", "deconv3", "--epochs", "3", "--data", str(folder), "--output",
            str(out), "--lr", "1e9", "--grad-clip", "0", "--warmup", "1", "--width", "4",
            "--res-blocks", "1", "--crop-size", "32", "--crops-per-epoch", "48",
            "--batch-size", "8", "--no-progress"]
    proc = subprocess.run([sys.executable, "-m", "core.train", *argv], cwd=ROOT,
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "diverged" in proc.stderr and "--lr" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert sorted(_files(out)) == ["epoch_000.safetensors"]  # only the initialisation


class _Flat(TransformNet):
    """A network that has collapsed: its output ignores the input (a learnt flat colour)."""

    def __init__(self, config=None) -> None:
        super().__init__(config)
        self.colour = torch.nn.Parameter(torch.full((1, 3, 1, 1), 0.5))

    def forward(self, x):
        y = self.colour.expand(x.shape[0], 3, *x.shape[2:]) + 0 * super().forward(x)
        return y if self.training else y.clamp(0.0, 1.0)


def test_collapse_is_detected_stopped_and_not_stored(tmp_path, monkeypatch):
    # the detector itself, on a genuinely flat model and on a working one
    flat = _Flat(TransformNet().config).eval()
    imgs = {"ramp": np.tile(np.linspace(0, 1, 32, dtype=np.float32)[:, None, None], (1, 32, 3))}
    assert "near-constant" in collapse_problem(evaluate(flat, imgs, torch.device("cpu")))
    healthy = {"contrast": 0.8, "val_psnr": 25.0}
    assert collapse_problem(healthy) is None

    monkeypatch.setattr(train_mod, "TransformNet", _Flat)
    folder = make_image_folder(tmp_path / "imgs")
    cfg = tiny_train_config(tmp_path, folder, epochs=3, collapse_min_steps=0)
    with pytest.raises(TrainingError, match=r"collapsed at epoch 1.*--lr"):
        run(cfg, log=lambda *_: None)
    assert sorted(_files(cfg.output)) == ["epoch_000.safetensors"]
    # a model that has barely trained is not judged: tiny runs finish
    run(dataclasses.replace(cfg, overwrite=True, collapse_min_steps=10_000),
        log=lambda *_: None)
    assert len(_files(cfg.output)) == 4


# ----------------------------------------------------------------------------- Ctrl-C


@pytest.mark.parametrize("jobs", [1, 2])
def test_ctrl_c_says_what_is_safe_and_how_to_resume(tmp_path, jobs):
    folder = make_image_folder(tmp_path / "imgs")
    out = tmp_path / "out"
    variants = ["deconv3", "resize_nearest"][:jobs]
    argv = ["--variants", *variants, "--epochs", "200", "--data", str(folder), "--output",
            str(out), "--width", "4", "--res-blocks", "1", "--crop-size", "32",
            "--crops-per-epoch", "48", "--batch-size", "8", "--no-progress",
            "--jobs", str(jobs)]
    # a new session, so that the signal goes to the whole group as a terminal's Ctrl-C does
    proc = subprocess.Popen([sys.executable, "-m", "core.train", *argv], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "OMP_NUM_THREADS": "1"},
                            start_new_session=True)
    histories = [out / v / "history.csv" for v in variants]
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        # rows of epochs 0-2: epoch 1 is safe (its row is written first, its resume
        # state before epoch 2's row)
        if all(h.exists() and len(h.read_text().splitlines()) >= 4 for h in histories):
            break
        time.sleep(0.1)
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=90)
    assert proc.returncode == 130, err[-2000:]
    assert "Traceback" not in err and "KeyboardInterrupt" not in err
    for v in variants:  # every process says which of its epochs is safe
        assert f"{v} after epoch" in err
        safe = int(err.split(f"{v} after epoch ")[1].split(";")[0].split(",")[0])
        assert safe >= 1
    assert "--resume" in err and "--epochs 200" in err
    assert (f"--jobs {jobs}" in err) == (jobs > 1)


def test_resume_command_round_trips_through_the_parser():
    cfg = TrainConfig(variants=("deconv3",), epochs=7, lr=5e-4, output="runs/x",
                      overwrite=True, fast_resize=False)
    cmd = resume_command(cfg, jobs=2)
    args = cmd.split()[3:]
    assert "--overwrite" not in args and "--resume" in args and args[-2:] == ["--jobs", "2"]
    again = train_cli.parse_args(args[:-2])
    assert again == dataclasses.replace(cfg, resume=True, overwrite=False)


# ----------------------------------------------------------------------------- --data


def test_data_folder_names_skipped_files_and_warns_when_nothing_is_held_out(tmp_path, capsys):
    folder = make_image_folder(tmp_path / "imgs")
    logs: list[str] = []
    run(tiny_train_config(tmp_path, folder, epochs=1), log=logs.append)
    assert any("skipped" in m and "broken.png" in m for m in logs)

    one = tmp_path / "one"
    one.mkdir()
    (folder / "a" / "im1.bmp").rename(one / "only.bmp")
    logs.clear()
    cfg = tiny_train_config(tmp_path / "o", one, epochs=1)
    history = run(cfg, log=logs.append)["deconv3"]
    assert any(m.startswith("WARNING") and "nothing is held out" in m for m in logs)
    assert all(np.isfinite(h["val_psnr"]) for h in history)
    meta = read_metadata(Path(cfg.output) / "deconv3" / "epoch_001.safetensors")
    assert "nothing is held out" in meta["data"]["warning"]


def test_data_folder_without_usable_images_says_why(tmp_path, capsys):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "x.png").write_bytes(b"not a png")
    code = main(["--variants", "deconv3", "--data", str(bad), "--output", str(tmp_path / "o"),
                 "--epochs", "1", *sum(([f"--{k.replace('_', '-')}", str(v)]
                                        for k, v in TINY.items()), [])])
    err = capsys.readouterr().err
    assert code == 2 and "x.png" in err and "cannot read" in err
