"""benchmarks/collapse_probe.py: the spike measure and the per-run summary read from a
real (tiny) training run's files."""

from __future__ import annotations

import csv
import math

import pytest

from benchmarks.collapse_probe import SPIKE_RATIO, max_spike, summarise
from core.experiment.evaluation import COLLAPSE_CONTRAST
from core.experiment.train import run
from tests.conftest import make_image_folder, tiny_train_config


@pytest.mark.parametrize("losses,expected", [
    ([0.05, 0.01, 0.005, 0.004], 1.0),           # always improving
    ([0.05, 0.002, 2.4, 0.01, 0.003], 1200.0),   # the lr 1e-3 resize_nearest spike
    ([0.01, 0.02], 2.0),
    ([None, 0.01, None, 0.03], 3.0),             # missing epochs are skipped
    ([], 1.0),
])
def test_max_spike_is_the_worst_ratio_to_the_best_loss_before(losses, expected):
    assert max_spike(losses) == pytest.approx(expected)


def test_summary_of_a_real_run_reads_its_settings_and_flags_a_spike(tmp_path):
    folder = make_image_folder(tmp_path / "imgs")
    cfg = tiny_train_config(tmp_path, folder, epochs=3, adam_beta2=0.98)
    run(cfg, log=lambda *_: None)
    [row] = summarise(tmp_path / "out")
    assert (row["variant"], row["seed"], row["lr"], row["adam_beta2"]) == ("deconv3", 3, 3e-3, 0.98)
    assert row["epochs_done"] == 3 and row["crops"] == 3 * cfg.crops_per_epoch
    assert row["finished"]
    assert math.isfinite(row["final_val_psnr"])
    # a 3-epoch toy run is far from trained: the rule is applied, whatever it says
    assert row["collapsed"] == (row["min_contrast_from_epoch_1"] < COLLAPSE_CONTRAST)
    assert not row["spiked"]

    # the same run with its epoch-2 loss blown up 1000x reads as spiked
    hist = tmp_path / "out" / "deconv3" / "history.csv"
    rows = list(csv.DictReader(hist.open()))
    rows[2]["train_loss"] = str(float(rows[1]["train_loss"]) * 1000)
    with hist.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    [row] = summarise(tmp_path / "out")
    assert row["spiked"] and row["max_loss_spike"] > SPIKE_RATIO
