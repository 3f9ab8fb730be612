"""Stored outputs (core.experiment.outputs): what a page shows without running a network."""

from __future__ import annotations

import numpy as np
import pytest

from core.experiment.catalog import load_model_fast
from core.experiment.checkpoints import checkpoint_path, save_checkpoint
from core.experiment.outputs import (
    compute_output,
    is_current,
    main,
    outputs_path,
    read_output,
    update,
    write_outputs,
)
from core.io.photos import heldout_images
from core.io.pixels import content_hash
from tests.conftest import TINY_EPOCHS, TINY_VARIANTS, make_checkpoints


@pytest.fixture(scope="module")
def photos():
    return heldout_images()


@pytest.fixture
def root(tmp_path):
    return make_checkpoints(tmp_path / "ckpt")


def test_stored_output_is_exactly_what_computing_gives(root, photos):
    ckpt = checkpoint_path(root, "deconv3", 1)
    assert outputs_path(ckpt).name == "epoch_001.outputs.npz"
    # derived data lives outside the checkpoint folder, which holds only what is committed
    assert root.resolve() not in outputs_path(ckpt).parents
    assert read_output(ckpt, content_hash(photos["coffee"])) is None  # nothing stored yet
    write_outputs(ckpt, photos)
    computed = compute_output(load_model_fast(ckpt), photos["coffee"])
    stored = read_output(ckpt, content_hash(photos["coffee"]))
    assert stored is not None
    assert stored.png == computed.png and stored.score == computed.score
    np.testing.assert_array_equal(stored.pixels, computed.pixels)
    assert stored.pixels.dtype == np.float32 and stored.pixels.shape == photos["coffee"].shape
    np.testing.assert_array_equal(np.round(stored.pixels * 255) / 255, stored.pixels)  # 8-bit
    assert read_output(ckpt, "another photograph") is None


def test_a_retrained_checkpoint_is_not_served_stale_outputs(root, photos):
    ckpt = checkpoint_path(root, "resize_nearest", 2)
    write_outputs(ckpt, photos)
    digest = content_hash(photos["astronaut"])
    assert read_output(ckpt, digest) is not None and is_current(ckpt, photos)
    model = load_model_fast(ckpt)
    with __import__("torch").no_grad():
        for p in model.parameters():
            p.add_(0.1)
    save_checkpoint(ckpt, model, {"variant": "resize_nearest", "epoch": 2, "epochs": 2,
                                  "seed": 0, "data": {"source": "test"}, "metrics": {}})
    assert read_output(ckpt, digest) is None  # other weights: computed again, never stale
    assert not is_current(ckpt, photos)


def test_unreadable_outputs_file_falls_back(root, photos):
    ckpt = checkpoint_path(root, "deconv4", 0)
    outputs_path(ckpt).parent.mkdir(parents=True, exist_ok=True)
    outputs_path(ckpt).write_bytes(b"not an npz file")
    assert read_output(ckpt, content_hash(photos["chelsea"])) is None
    assert not is_current(ckpt, photos)


def test_update_and_the_command_write_what_is_missing_only(root, photos, capsys):
    n = len(TINY_VARIANTS) * (TINY_EPOCHS + 1)
    assert update(root, photos) == {"written": n, "current": 0, "failed": 0, "removed": 0,
                                   "unwritable": 0}
    assert update(root, photos) == {"written": 0, "current": n, "failed": 0, "removed": 0,
                                   "unwritable": 0}
    gone = checkpoint_path(root, "deconv4", 2)
    gone.unlink()  # a retrained experiment without that epoch: its outputs go too
    assert update(root, photos)["removed"] == 1 and not outputs_path(gone).exists()
    n -= 1
    assert main(["--root", str(root)]) == 0
    assert f"0 written, {n} already current" in capsys.readouterr().out
    assert main(["--root", str(root / "missing")]) == 0  # no folder: nothing to do
