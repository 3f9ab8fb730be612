"""Training pipeline: data, model shapes, a real training smoke test, resume, torchrun DDP."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from core.experiment.checkpoints import (
    checkpoint_path,
    list_checkpoints,
    load_checkpoint,
    load_model,
    read_manifest,
    read_metadata,
)
from core.experiment.cli import config_to_argv, parse_args
from core.experiment.data import RandomCrops, folder_source
from core.experiment.evaluation import evaluate
from core.experiment.models import VARIANTS, TransformNet, TransformNetConfig, build_model
from core.experiment.runfolder import LOCK_NAME
from core.experiment.train import TrainConfig, lr_at, run
from core.io.photos import SKIMAGE_HELDOUT, SKIMAGE_TRAIN, find_images, heldout_images
from tests.conftest import make_image_folder, tiny_train_config

ROOT = Path(__file__).resolve().parents[2]






# ----------------------------------------------------------------------------- model


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_every_variant_keeps_any_size_and_range(variant):
    torch.manual_seed(0)
    model = build_model(variant).eval()
    for h, w in [(16, 16), (17, 30), (5, 9), (1, 1)]:
        x = torch.rand(2, 3, h, w)
        with torch.no_grad():
            y = model(x)
        assert y.shape == x.shape
        assert float(y.min()) >= 0.0 and float(y.max()) <= 1.0


def test_config_is_frozen_hashable_and_validated():
    cfg = TransformNetConfig()
    assert hash(cfg) == hash(TransformNetConfig.from_dict(cfg.to_dict()))
    with pytest.raises(Exception, match="cannot assign"):
        cfg.width = 3  # type: ignore[misc]
    with pytest.raises(ValueError, match="last_kernel must be odd"):
        TransformNetConfig(last_kernel=4)
    with pytest.raises(ValueError, match="unknown TransformNetConfig fields"):
        TransformNetConfig.from_dict({"width": 4, "colour": "blue"})
    assert VARIANTS["deconv3_small_last"].last_kernel == 3
    assert VARIANTS["deconv3"].last_kernel == 9


def test_small_last_variant_differs_only_in_last_layer():
    a, b = build_model("deconv3"), build_model("deconv3_small_last")
    sa, sb = a.state_dict(), b.state_dict()
    assert set(sa) == set(sb)
    differ = {k for k in sa if sa[k].shape != sb[k].shape}
    assert differ == {"conv_out.weight"}


# ----------------------------------------------------------------------------- data


def test_folder_data_skips_and_counts_unreadable(tmp_path):
    folder = make_image_folder(tmp_path / "imgs")
    assert len(find_images(folder)) == 5  # 4 images + broken.png, not the .txt
    src = folder_source(folder, crop_size=32, val_fraction=0.25)
    assert src.description["skipped"] == 1
    assert len(src.train.images) + len(src.validation) == 4
    assert len(src.validation) >= 1
    with pytest.raises(ValueError, match="does not exist"):
        find_images(tmp_path / "nope")


def test_random_crops_deterministic_per_seed_and_epoch():
    imgs = [np.arange(40 * 50 * 3, dtype=np.uint8).reshape(40, 50, 3),
            np.full((36, 36, 3), 7, np.uint8)]
    a, b = RandomCrops(imgs, 16, 10, seed=1), RandomCrops(imgs, 16, 10, seed=1)
    assert all(torch.equal(a[i], b[i]) for i in range(10))
    b.set_epoch(1)
    assert not all(torch.equal(a[i], b[i]) for i in range(10))
    c = RandomCrops(imgs, 16, 10, seed=2)
    assert not all(torch.equal(a[i], c[i]) for i in range(10))
    assert a[0].shape == (3, 16, 16) and a[0].dtype == torch.float32
    with pytest.raises(ValueError, match="at least crop_size"):
        RandomCrops(imgs, 48, 10, seed=0)


def test_colour_permutation_reorders_channels_of_the_same_crop():
    rng = np.random.default_rng(0)
    imgs = [rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)]
    plain = RandomCrops(imgs, 16, 40, seed=3)
    permuted = RandomCrops(imgs, 16, 40, seed=3, colour_permute=True)
    orders = set()
    for i in range(40):
        a, b = plain[i], permuted[i]
        # same crop and flips (drawn first), channels in some order of the original's
        match = [j for j in range(3) if torch.equal(b[0], a[j])]
        assert match, i
        assert sorted(tuple(torch.equal(b[k], a[j]) for j in range(3)).index(True)
                      for k in range(3)) == [0, 1, 2]
        orders.add(tuple(tuple(torch.equal(b[k], a[j]) for j in range(3)).index(True)
                         for k in range(3)))
    assert len(orders) >= 4  # several of the six orders occur
    assert TrainConfig().colour_permute  # the shipped experiment uses it


def test_default_split_is_disjoint_and_heldout_images_are_modest():
    assert not set(SKIMAGE_TRAIN) & set(SKIMAGE_HELDOUT)
    held = heldout_images()
    assert set(held) == {Path(n).stem for n in SKIMAGE_HELDOUT}
    for img in held.values():
        assert img.shape == (256, 256, 3) and img.dtype == np.float32
        assert 0.0 <= img.min() and img.max() <= 1.0


def test_cli_parsing():
    cfg = parse_args(["--variants", "deconv3,resize_nearest", "subpixel", "--epochs", "2",
                      "--lr", "0.01", "--resume"])
    assert cfg.variants == ("deconv3", "resize_nearest", "subpixel")
    assert cfg.epochs == 2 and cfg.lr == 0.01 and cfg.resume
    assert parse_args([]).variants == tuple(VARIANTS)
    with pytest.raises(SystemExit):
        parse_args(["--variants", "nope"])
    # --jobs hands each child process its configuration through config_to_argv
    full = TrainConfig(variants=("subpixel",), data="/x", lr=3e-4, resume=True, width=4)
    assert parse_args(config_to_argv(full)) == full


def test_lr_schedule_warms_up_then_anneals():
    cfg = TrainConfig(lr=1.0, warmup=10, final_lr_ratio=0.1)
    lrs = [lr_at(t, 200, cfg) for t in range(200)]
    assert lrs[0] == pytest.approx(0.1) and max(lrs) == pytest.approx(1.0)
    assert all(a >= b for a, b in zip(lrs[10:], lrs[11:], strict=False))
    assert lrs[-1] == pytest.approx(0.1, abs=1e-3)


# ----------------------------------------------------------------------------- training


def test_training_smoke_loss_falls_and_round_trips(tmp_path):
    folder = make_image_folder(tmp_path / "imgs")
    cfg = tiny_train_config(tmp_path, folder)
    history = run(cfg, log=lambda *_: None)["deconv3"]
    assert len(history) == 3 and all(h["epoch_seconds"] >= 0 for h in history)
    df = list_checkpoints(cfg.output)
    assert list(df["epoch"]) == [0, 1, 2] and df["ok"].all()
    assert list(read_manifest(cfg.output)["epoch"]) == [0, 1, 2]

    # The loss falls: MSE on fixed crops, initialisation vs after training.
    crops = RandomCrops(folder_source(folder, crop_size=32, val_fraction=0.25).train.images,
                        32, 16, seed=99)
    x = torch.stack([crops[i] for i in range(16)])
    m0 = load_model(checkpoint_path(cfg.output, "deconv3", 0))
    m2 = load_model(checkpoint_path(cfg.output, "deconv3", 2))
    with torch.no_grad():
        mse0, mse2 = float(((m0(x) - x) ** 2).mean()), float(((m2(x) - x) ** 2).mean())
    assert mse2 < 0.7 * mse0
    assert history[2]["train_loss"] < history[1]["train_loss"] * 1.05

    # Metadata rebuilds the model; stored metrics are those of the stored weights.
    meta = read_metadata(checkpoint_path(cfg.output, "deconv3", 2))
    assert meta["variant"] == "deconv3" and meta["epoch"] == 2 and meta["seed"] == 3
    assert meta["config"] == {**VARIANTS["deconv3"].to_dict(), "width": 4, "res_blocks": 1}
    assert meta["data"]["skipped"] == 1
    src = folder_source(folder, crop_size=32, val_fraction=0.25)
    again = evaluate(m2, src.validation, torch.device("cpu"))
    assert again["val_psnr"] == pytest.approx(meta["metrics"]["val_psnr"], rel=1e-9)
    assert again["checkerboard"] == pytest.approx(meta["metrics"]["checkerboard"], rel=1e-9)
    assert not m2.training and next(m2.parameters()).dtype == torch.float32

    # Round trip: save -> load gives bit-identical outputs to the (fp16-rounded) model.
    tensors, _ = load_checkpoint(checkpoint_path(cfg.output, "deconv3", 2))
    ref = TransformNet(m2.config).eval()
    ref.load_state_dict({k: v.float() for k, v in tensors.items()})
    with torch.no_grad():
        assert torch.equal(ref(x), m2(x))
    assert not (Path(cfg.output) / "deconv3" / ".resume.safetensors").exists()


def test_resume_after_interruption_matches_uninterrupted(tmp_path):
    folder = make_image_folder(tmp_path / "imgs")
    full = tiny_train_config(tmp_path / "a", folder, epochs=3)
    run(full, log=lambda *_: None)

    part = tiny_train_config(tmp_path / "b", folder, epochs=3)

    class Crash(Exception):
        pass

    def crash_after_epoch_1(msg, *_):
        if "epoch  1" in str(msg):
            raise Crash  # raised after epoch 1's checkpoint, resume state and manifest

    with pytest.raises(Crash):
        run(part, log=crash_after_epoch_1)
    assert list(list_checkpoints(part.output)["epoch"]) == [0, 1]
    # a stale temporary file from a write cut short must not matter
    (Path(part.output) / "deconv3" / "epoch_002.safetensors.tmp").write_bytes(b"half")
    with pytest.raises(ValueError, match="--resume"):
        run(part, log=lambda *_: None)
    logs: list[str] = []
    run(dataclasses.replace(part, resume=True), log=logs.append)
    assert any("resuming after epoch 1" in m for m in logs)
    for e in range(4):
        ta, _ = load_checkpoint(checkpoint_path(full.output, "deconv3", e))
        tb, _ = load_checkpoint(checkpoint_path(part.output, "deconv3", e))
        assert all(torch.equal(ta[k], tb[k]) for k in ta), f"epoch {e} differs"
    # resuming a complete run does nothing
    logs.clear()
    run(dataclasses.replace(part, resume=True), log=logs.append)
    assert any("complete" in m for m in logs)


def test_torchrun_two_processes_gloo(tmp_path):
    folder = make_image_folder(tmp_path / "imgs")
    out = tmp_path / "ddp"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
           "--standalone", "-m", "core.train", "--variants", "resize_nearest",
           "--epochs", "1", "--data", str(folder), "--output", str(out), "--width", "4",
           "--res-blocks", "1", "--crop-size", "32", "--crops-per-epoch", "32",
           "--batch-size", "8", "--device", "cpu", "--val-fraction", "0.25"]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert files == [LOCK_NAME, "manifest.csv", "resize_nearest/epoch_000.safetensors",
                     "resize_nearest/epoch_001.safetensors", "resize_nearest/history.csv"]
    meta = read_metadata(out / "resize_nearest" / "epoch_001.safetensors")
    assert meta["training"]["world_size"] == 2
    assert meta["metrics"]["images_per_s"] > 0 and np.isfinite(meta["metrics"]["train_loss"])
    assert proc.stdout.count("epoch  1") == 1  # only rank 0 reports


def test_jobs_one_process_per_variant(tmp_path):
    """`--jobs 2` (the shipped experiment's command) trains each variant in a child process
    and gives the same weights as training in-process with one thread."""
    folder = make_image_folder(tmp_path / "imgs")
    out = tmp_path / "jobs"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "core.train", "--jobs", "2", "--variants", "deconv3",
           "resize_nearest", "--epochs", "1", "--data", str(folder), "--output", str(out),
           "--width", "4", "--res-blocks", "1", "--crop-size", "32", "--crops-per-epoch", "16",
           "--batch-size", "8", "--val-fraction", "0.25", "--seed", "3", "--lr", "3e-3",
           "--warmup", "2"]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "all jobs done" in proc.stdout
    assert sorted(read_manifest(out)["variant"]) == ["deconv3", "deconv3", "resize_nearest",
                                                     "resize_nearest"]
    ref = tiny_train_config(tmp_path / "ref", folder, variants=("deconv3",), epochs=1, crops_per_epoch=16)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        run(ref, log=lambda *_: None)
    finally:
        torch.set_num_threads(threads)
    ta, _ = load_checkpoint(checkpoint_path(out, "deconv3", 1))
    tb, _ = load_checkpoint(checkpoint_path(ref.output, "deconv3", 1))
    assert all(torch.equal(ta[k], tb[k]) for k in ta)
