"""Per-epoch histories (core.experiment.history) and the artifacts' life view in the gallery."""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.experiment.history import (
    HISTORY_COLUMNS,
    backfill_histories,
    checkerboard_ratio,
    history_from_checkpoints,
    read_histories,
    read_history,
    write_history,
)
from core.experiment.models import VARIANTS
from tests.conftest import assert_clean, make_checkpoints, open_page, plotly_data
from ui.catalog import CHECKPOINTS_ENV
from ui.life import summary_text

GALLERY = "pages/gallery.py"


def _rows(checker: list[float], imbalance: float = 0.0) -> list[dict]:
    return [{"epoch": e, "stored": e % 2 == 0, "train_loss": 0.1 / (e + 1), "val_psnr": 20.0 + e,
             "checkerboard": c, "unseen_checkerboard": 2 * c, "imbalance_up1": imbalance,
             "imbalance_up2": imbalance / 2} for e, c in enumerate(checker)]


def test_write_read_round_trip_and_ratio(tmp_path):
    write_history(tmp_path / "deconv3" / "history.csv", _rows([1e-3, 8e-3, 4e-3, 2e-3], 1.9))
    write_history(tmp_path / "resize_nearest" / "history.csv", _rows([1e-5, 1e-3, 1e-3, 0.0]))
    rows = read_history(tmp_path / "deconv3" / "history.csv")
    assert [r["epoch"] for r in rows] == [0, 1, 2, 3]
    assert list(pd.read_csv(tmp_path / "deconv3" / "history.csv").columns) == list(HISTORY_COLUMNS)
    hist = read_histories(tmp_path)
    assert sorted(set(hist["variant"])) == ["deconv3", "resize_nearest"]
    ratio = checkerboard_ratio(hist)
    assert list(ratio["epoch"]) == [0, 1, 2, 3]
    np.testing.assert_allclose(ratio["ratio"][:3], [100.0, 8.0, 4.0])
    assert math.isnan(ratio["ratio"][3])  # reference 0: no ratio, not infinity
    unseen = checkerboard_ratio(hist, column="unseen_checkerboard")
    np.testing.assert_allclose(unseen["ratio"][1], 8.0)
    assert checkerboard_ratio(hist, "deconv4").empty  # no such variant


@pytest.mark.parametrize("content", [
    b"epoch,val_psnr\nabc,1\n",            # epoch not a number
    b"epoch,val_psnr\n-3,1\n",             # negative epoch
    b"epoch,val_psnr\n99999999,1\n",        # absurd epoch
    b"val_psnr\n1\n",                      # no epoch column
    b"\xff\xfe\x00bad",                   # not text
])
def test_hostile_history_files_are_refused_by_name(tmp_path, content):
    f = tmp_path / "deconv3" / "history.csv"
    f.parent.mkdir()
    f.write_bytes(content)
    with pytest.raises(ValueError, match="history"):
        read_history(f)
    hist = read_histories(tmp_path)  # the folder still reads, the problem is named
    assert hist.empty and "deconv3" in hist.attrs["problems"][0]


def test_symlinked_history_is_not_followed(tmp_path):
    target = tmp_path / "elsewhere.csv"
    write_history(target, _rows([1e-3]))
    (tmp_path / "deconv3").mkdir()
    os.symlink(target, tmp_path / "deconv3" / "history.csv")
    with pytest.raises(ValueError, match="symbolic link"):
        read_history(tmp_path / "deconv3" / "history.csv")


def test_backfill_from_checkpoints_uses_their_metrics_and_weights(tmp_path):
    root = make_checkpoints(tmp_path / "cp", variants=("deconv3", "resize_nearest"), epochs=2)
    assert backfill_histories(root) == ["deconv3", "resize_nearest"]
    assert backfill_histories(root) == []  # never overwrites
    hist = read_histories(root)
    d = hist[hist["variant"] == "deconv3"]
    r = hist[hist["variant"] == "resize_nearest"]
    assert list(d["epoch"]) == [0, 1, 2]
    assert (d["imbalance_up1"] > 0.1).all()  # a 3x3 stride-2 deconv is unbalanced
    np.testing.assert_allclose(r["imbalance_up1"], 0.0, atol=1e-9)  # resize is balanced
    rebuilt = history_from_checkpoints(root, "deconv3")
    assert rebuilt[1]["checkerboard"] == pytest.approx(0.05 / 2)


def test_shipped_small_model_history_matches_its_checkpoints():
    root = Path(__file__).resolve().parents[2] / "checkpoints" / "small"
    hist = read_histories(root)
    ratio = checkerboard_ratio(hist).set_index("epoch")["ratio"]
    assert ratio[1] > 3 and ratio[10] > 1  # the first release's finding
    assert set(hist["variant"]) == {"deconv3", "resize_nearest"}
    assert VARIANTS  # models importable beside the history


def test_summary_text_says_what_the_numbers_say():
    hist = pd.DataFrame(_rows([1e-3, 9e-3, 5e-3, 2e-3], 1.9)).assign(variant="deconv3")
    ref = pd.DataFrame(_rows([1e-5, 1e-3, 1e-3, 1e-3])).assign(variant="resize_nearest")
    both = pd.concat([hist, ref])
    text = summary_text(checkerboard_ratio(both), 3, both)
    assert "**9.0x** at epoch 1" in text and "**2.0x** at epoch 3" in text
    assert "hide" in text and "barely changes" in text
    flat = pd.concat([pd.DataFrame(_rows([1e-3, 5e-3, 5e-3, 5e-3], 1.9)).assign(variant="deconv3"),
                      ref])
    assert "stays" in summary_text(checkerboard_ratio(flat), 3, flat)
    assert "though not all" in text  # 2.0x at the end: not hidden entirely
    gone = pd.concat([pd.DataFrame(_rows([1e-3, 9e-3, 5e-3, 1.2e-3], 1.9))
                      .assign(variant="deconv3"), ref])
    text = summary_text(checkerboard_ratio(gone), 3, gone)
    assert "**1.2x** at epoch 3" in text and "about `resize_nearest`'s level" in text
    assert "though not all" not in text


def test_gallery_shows_the_artifacts_life_from_the_histories(tmp_path, monkeypatch):
    root = make_checkpoints(tmp_path / "cp", variants=("deconv3", "resize_nearest"), epochs=2)
    write_history(root / "deconv3" / "history.csv", _rows([1e-3, 8e-3, 6e-3, 3e-3], 1.9))
    write_history(root / "resize_nearest" / "history.csv", _rows([1e-5, 1e-3, 1e-3, 1e-3]))
    small = root / "small"
    write_history(small / "deconv3" / "history.csv", _rows([1e-3, 2e-2, 5e-3], 2.0))
    write_history(small / "resize_nearest" / "history.csv", _rows([1e-5, 1e-3, 1e-3]))
    monkeypatch.setenv(CHECKPOINTS_ENV, str(root))
    at = open_page(GALLERY, {"life": "true"})  # the section opened (drawn on demand)
    assert_clean(at)
    assert any(h.value == "The artifacts' life" for h in at.subheader)
    charts = [plotly_data(at, i) for i in range(len(at.get("plotly_chart")))]
    life = [c for c in charts if any("first release" in str(t.get("name")) for t in c)]
    assert life, "no ratio chart"
    by_name = {t["name"]: t for t in life[0]}
    held = by_name["this experiment, held-out photographs"]
    assert list(held["x"]) == [1, 2, 3]  # epoch 0 left out
    np.testing.assert_allclose(held["y"], [8.0, 6.0, 3.0])
    np.testing.assert_allclose(by_name["first release (small model, 10 epochs)"]["y"], [20.0, 5.0])
    assert any("**8.0x** at epoch 1" in m.value for m in at.markdown)


def test_gallery_without_histories_says_so(tmp_path, monkeypatch):
    root = make_checkpoints(tmp_path / "cp", variants=("deconv3",), epochs=1)
    monkeypatch.setenv(CHECKPOINTS_ENV, str(root))
    at = open_page(GALLERY, {"life": "true"})  # the section opened (drawn on demand)
    assert_clean(at)
    assert any("no per-epoch history" in i.value for i in at.info)


def test_summary_table_lists_stored_epochs_with_ratios(tmp_path, capsys):
    from core.experiment.history import main, summary_table

    write_history(tmp_path / "deconv3" / "history.csv", _rows([1e-3, 8e-3, 4e-3], 1.9))
    write_history(tmp_path / "resize_nearest" / "history.csv", _rows([1e-5, 1e-3, 1e-3]))
    table = summary_table(read_histories(tmp_path))
    assert list(table["epoch"]) == [0, 2, 0, 2]  # _rows stores the even epochs
    assert list(table["÷ resize_nearest"]) == [100.0, 4.0, 1.0, 1.0]
    assert table["imbalance up1 / up2"][1] == "1.90 / 0.95"
    assert main([str(tmp_path), "--epochs", "1"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("| variant | epoch |") and "| deconv3 | 1 |" in out and "| 8.0 |" in out
    assert main([str(tmp_path / "none")]) == 1
