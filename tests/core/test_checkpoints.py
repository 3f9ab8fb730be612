"""Checkpoint files: round trip, refusal of broken/foreign files, and the shipped experiment."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from safetensors.torch import save_file

from core.experiment.checkpoints import (
    METADATA_KEY,
    CheckpointError,
    checkpoint_path,
    file_sha256,
    list_checkpoints,
    load_model,
    read_manifest,
    read_metadata,
    save_checkpoint,
    write_manifest,
)
from core.experiment.history import read_history
from core.experiment.models import VARIANTS, TransformNet, TransformNetConfig
from core.experiment.train import RESULT_SETTINGS, TrainConfig, keep_epoch
from core.io.photos import heldout_images

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "checkpoints"
#: The shipped recipe's claims (checkpoints/README.md): resize_nearest at the last epoch
#: on the held-out scikit-image photographs and on the detailed unseen china.jpg.
RESIZE_HELDOUT_DB = 30.0
RESIZE_UNSEEN_DB = 25.0


@pytest.fixture
def good(tmp_path) -> Path:
    torch.manual_seed(0)
    model = TransformNet(TransformNetConfig(width=4, res_blocks=1))
    path = checkpoint_path(tmp_path, "deconv3", 1)
    save_checkpoint(path, model, {"variant": "deconv3", "epoch": 1, "seed": 0,
                                  "metrics": {"val_psnr": 20.0, "train_loss": 0.01}})
    return path


def test_round_trip_identical_outputs(good):
    model = load_model(good)
    assert isinstance(model, TransformNet) and not model.training
    assert all(p.dtype == torch.float32 for p in model.parameters())
    again = load_model(good)
    x = torch.rand(1, 3, 21, 30)
    with torch.no_grad():
        assert torch.equal(model(x), again(x))
    meta = read_metadata(good)
    assert meta["variant"] == "deconv3" and meta["epoch"] == 1 and meta["dtype"] == "float16"
    assert meta["config"]["width"] == 4


def test_no_temporary_file_left_and_overwrite_is_atomic(good):
    assert [p.name for p in good.parent.iterdir()] == [good.name]


def _expect(path: Path, match: str) -> None:
    with pytest.raises(CheckpointError, match=match) as info:
        load_model(path)
    assert isinstance(info.value, ValueError)
    assert str(path) in str(info.value)


def test_missing_file(tmp_path):
    _expect(tmp_path / "nope.safetensors", "file not found")


def test_truncated_file(good):
    data = good.read_bytes()
    for cut in (4, 100, len(data) // 2, len(data) - 1):
        good.write_bytes(data[:cut])
        _expect(good, "truncated")
        with pytest.raises(CheckpointError, match="truncated"):
            read_metadata(good)  # the header-only reader checks the size too


def test_empty_and_random_bytes(tmp_path):
    p = tmp_path / "x.safetensors"
    p.write_bytes(b"")
    _expect(p, "truncated")
    p.write_bytes(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    _expect(p, "truncated|corrupt")
    p.write_bytes(struct.pack("<Q", 10) + b"not json!!" + b"\0" * 50)
    _expect(p, "corrupt safetensors header")


def test_flipped_byte_in_weights(good):
    data = bytearray(good.read_bytes())
    data[-10] ^= 0xFF
    good.write_bytes(bytes(data))
    _expect(good, "SHA-256")


def test_foreign_files(tmp_path):
    p = tmp_path / "foreign.safetensors"
    save_file({"w": torch.zeros(3)}, p)
    _expect(p, "foreign file")
    save_file({"w": torch.zeros(3)}, p, metadata={METADATA_KEY: json.dumps({"kind": "gan"})})
    _expect(p, "foreign file")
    save_file({"w": torch.zeros(3)}, p,
              metadata={METADATA_KEY: json.dumps({"kind": "transformnet", "schema": 99})})
    _expect(p, "schema version 99")
    p.write_bytes(b"PK\x03\x04 a zip / torch.save file")
    _expect(p, "truncated|corrupt")


def test_weights_that_do_not_fit_the_config(tmp_path, good):
    meta = read_metadata(good)
    meta["config"]["width"] = 8
    p = tmp_path / "mismatch.safetensors"
    from safetensors.torch import load_file

    save_file(load_file(good), p, metadata={METADATA_KEY: json.dumps(meta)})
    _expect(p, "shape")


def test_list_checkpoints_reports_broken_files(tmp_path, good):
    broken = checkpoint_path(tmp_path, "deconv3", 2)
    broken.write_bytes(b"garbage")
    df = list_checkpoints(tmp_path)
    assert list(df["epoch"]) == [1, 2] and df["epoch"].dtype.kind == "i"
    assert list(df["ok"]) == [True, False]
    assert "truncated" in df.loc[1, "error"] and str(broken) in df.loc[1, "error"]
    assert df.loc[0, "val_psnr"] == 20.0
    manifest = write_manifest(tmp_path)
    assert list(manifest["epoch"]) == [1]
    assert list(list_checkpoints(tmp_path / "missing").columns)[:3] == ["variant", "epoch", "path"]


# ----------------------------------------------------------------------------- shipped


def _shipped() -> pd.DataFrame:
    if not (SHIPPED / "manifest.csv").exists():
        pytest.fail("checkpoints/manifest.csv missing: regenerate with the command in "
                    "checkpoints/README.md")
    return read_manifest(SHIPPED)


def _shipped_epochs() -> int:
    """The length of the shipped run, from the last checkpoint's own metadata."""
    return int(read_metadata(SHIPPED / "deconv3" / "epoch_000.safetensors")["epochs"])


def test_shipped_manifest_complete_and_consistent_with_files():
    manifest = _shipped()
    files = list_checkpoints(SHIPPED)
    assert files["ok"].all(), files.loc[~files["ok"], "error"].tolist()
    variants = sorted(set(files["variant"]))
    assert {"deconv3", "resize_nearest"} <= set(variants) <= set(VARIANTS)
    total_epochs = _shipped_epochs()
    kept = [e for e in range(total_epochs + 1) if keep_epoch(e, total_epochs)]
    assert {0, 1, 2, 3, 5, 10, total_epochs} <= set(kept)
    for variant in variants:
        epochs = sorted(manifest.loc[manifest["variant"] == variant, "epoch"])
        assert epochs == kept, variant
        history = read_history(SHIPPED / variant / "history.csv")
        assert [int(r["epoch"]) for r in history] == list(range(total_epochs + 1)), variant
    assert len(manifest) == len(files) == len(variants) * len(kept)
    by_key = files.set_index(["variant", "epoch"])
    recipes, datas = set(), set()
    for row in manifest.itertuples():
        path = ROOT / row.path
        assert path.is_file(), row.path
        assert file_sha256(path) == row.sha256, f"{row.path} changed since the manifest"
        meta = read_metadata(path)
        assert meta["variant"] == row.variant and meta["epoch"] == row.epoch
        assert meta["config"] == VARIANTS[row.variant].to_dict()
        for col in ("val_psnr", "val_ssim", "checkerboard"):
            assert meta["metrics"][col] == pytest.approx(getattr(row, col), rel=1e-9)
        listed = by_key.loc[(row.variant, row.epoch)]
        assert Path(listed["path"]) == path
        assert listed["val_psnr"] == pytest.approx(row.val_psnr, rel=1e-9)
        recipes.add(json.dumps(meta["training"], sort_keys=True))
        datas.add(json.dumps(meta["data"], sort_keys=True))
    assert len(recipes) == 1 and len(datas) == 1, "every variant trained alike, on the same data"
    seeds = {read_metadata(ROOT / p)["seed"] for p in manifest["path"]}
    assert len(seeds) == 1, "every variant trained with the same seed"
    data = json.loads(datas.pop())
    assert not set(data["train"]) & set(data["heldout"]) and data["unseen"] == ["china.jpg"]
    total = sum(p.stat().st_size for p in SHIPPED.rglob("*")
                if p.is_file() and not p.name.endswith(".outputs.npz"))  # derived, ignored
    assert total <= 80 * 2**20, f"checkpoints/ holds {total / 2**20:.1f} MB > 80 MB"


def test_shipped_small_model_is_the_first_release():
    small = SHIPPED / "small"
    files = list_checkpoints(small)
    assert files["ok"].all() and sorted(set(files["variant"])) == ["deconv3", "resize_nearest"]
    assert sorted(set(files["epoch"])) == list(range(11))
    manifest = read_manifest(small)
    assert {file_sha256(ROOT / p) for p in manifest["path"]} == set(manifest["sha256"])
    meta = read_metadata(small / "deconv3" / "epoch_010.safetensors")
    assert "activation" not in meta["config"]  # ReLU: the first release's network
    assert load_model(small / "deconv3" / "epoch_010.safetensors").config.activation == "relu"


def test_shipped_experiment_reproduces_the_post():
    m = _shipped().set_index(["variant", "epoch"])
    last = _shipped_epochs()
    hist = {v: {int(r["epoch"]): r for r in read_history(SHIPPED / v / "history.csv")}
            for v in ("deconv3", "resize_nearest")}
    for epoch in (1, 10):
        deconv = m.loc[("deconv3", epoch), "checkerboard"]
        resize = m.loc[("resize_nearest", epoch), "checkerboard"]
        assert deconv >= 3 * resize, f"epoch {epoch}: {deconv:.4g} < 3 x {resize:.4g}"
        # and on the unseen photograph (china.jpg)
        deconv, resize = (float(hist[v][epoch]["unseen_checkerboard"]) for v in hist)
        assert deconv >= 3 * resize, f"unseen, epoch {epoch}: {deconv:.4g} < 3 x {resize:.4g}"
    meta = read_metadata(SHIPPED / "resize_nearest" / f"epoch_{last:03d}.safetensors")
    assert meta["metrics"]["val_psnr"] >= RESIZE_HELDOUT_DB
    assert meta["metrics"]["unseen_psnr"] >= RESIZE_UNSEEN_DB


def test_make_experiment_regenerates_the_shipped_recipe():
    """The defaults of ``python -m core.train`` (what ``make experiment`` runs) are the
    settings every shipped checkpoint records."""
    meta = read_metadata(SHIPPED / "deconv3" / "epoch_000.safetensors")
    defaults = TrainConfig()
    for name in RESULT_SETTINGS:
        if name in ("width", "res_blocks"):
            continue  # None by default: each variant's own config (checked above)
        assert meta["training"][name] == pytest.approx(getattr(defaults, name)), name
    assert meta["training"]["fast_resize"] == defaults.fast_resize
    assert meta["epochs"] == defaults.epochs and meta["seed"] == defaults.seed


def test_shipped_final_model_recomputes_its_metrics():
    from core.experiment.evaluation import evaluate
    from core.io.photos import unseen_images

    path = SHIPPED / "resize_nearest" / f"epoch_{_shipped_epochs():03d}.safetensors"
    model = load_model(path)
    got = evaluate(model, heldout_images(), torch.device("cpu"), unseen_images())
    stored = read_metadata(path)["metrics"]
    for key in ("val_psnr", "unseen_psnr", "checkerboard", "imbalance_up1"):
        assert got[key] == pytest.approx(stored[key], abs=1e-6), key


