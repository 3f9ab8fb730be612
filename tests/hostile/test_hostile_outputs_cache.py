"""The outputs cache is a cache (issue 30): whatever is wrong with a stored file is a miss,
recomputed and replaced atomically with one line logged, never a traceback, a hang, a
stale picture or gigabytes of decoded pixels."""

from __future__ import annotations

import io
import json
import os
import zipfile

import numpy as np
import pytest
from PIL import Image

from core.experiment.checkpoints import checkpoint_path
from core.experiment.outputs import (
    checkpoint_identity,
    is_current,
    main,
    outputs_path,
    read_output,
    update,
)
from core.io.pixels import content_hash
from tests.conftest import make_checkpoints


@pytest.fixture(scope="module")
def photos():
    rng = np.random.default_rng(0)
    return {"a": rng.random((32, 48, 3)).astype(np.float32)}


@pytest.fixture
def stored(tmp_path, photos):
    root = make_checkpoints(tmp_path / "ckpt", variants=("deconv3",), epochs=1)
    ckpt = checkpoint_path(root, "deconv3", 1)
    update(root, photos)  # every checkpoint's outputs stored
    return root, ckpt


def _rewrite(ckpt, change) -> None:
    """Rewrite the stored npz with ``change(arrays, header)`` applied."""
    path = outputs_path(ckpt)
    with np.load(path, allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    header = json.loads(bytes(arrays["header"]).decode())
    change(arrays, header)
    arrays["header"] = np.frombuffer(json.dumps(header).encode(), np.uint8)
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    path.write_bytes(buf.getvalue())


def _raw_header(ckpt, text: str) -> None:
    path = outputs_path(ckpt)
    with np.load(path, allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    arrays["header"] = np.frombuffer(text.encode(), np.uint8)
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    path.write_bytes(buf.getvalue())


def _big_png(side: int) -> np.ndarray:
    buf = io.BytesIO()
    Image.new("RGB", (side, side)).save(buf, "PNG")
    return np.frombuffer(buf.getvalue(), np.uint8)


def _damage(kind: str, ckpt) -> None:
    path = outputs_path(ckpt)
    if kind == "half":
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])
    elif kind == "npy":
        buf = io.BytesIO()
        np.save(buf, np.zeros(3))
        path.write_bytes(buf.getvalue())
    elif kind == "null header":
        _raw_header(ckpt, "null")
    elif kind == "images a string":
        _rewrite(ckpt, lambda a, h: h.update(images="png_0"))
    elif kind == "score 1e999":
        text = json.dumps(json.loads(bytes(np.load(path)["header"]).decode()))
        _raw_header(ckpt, text.replace('"score": ', '"score": 1e999, "x": '))
    elif kind == "png crc":
        def flip(arrays, header):
            png = bytearray(arrays["png_0"].tobytes())
            png[-20] ^= 0xFF  # inside the image data
            arrays["png_0"] = np.frombuffer(bytes(png), np.uint8)
        _rewrite(ckpt, flip)
    elif kind == "13000 px png":
        def big(arrays, header):
            arrays["png_0"] = _big_png(13000)
            import hashlib
            header["images"][0]["png_sha256"] = hashlib.sha256(
                arrays["png_0"].tobytes()).hexdigest()
        _rewrite(ckpt, big)
    elif kind == "13000 px declared":
        _rewrite(ckpt, lambda a, h: h["images"][0].update(shape=[13000, 13000]))
    elif kind == "fifo":
        path.unlink()
        os.mkfifo(path)
    elif kind == "folder":
        path.unlink()
        path.mkdir()
    elif kind == "zip of nonsense":
        with zipfile.ZipFile(path, "w") as z:
            z.writestr("header.npy", b"\x93NUMPY garbage")


KINDS = ["half", "npy", "null header", "images a string", "score 1e999", "png crc",
         "13000 px png", "13000 px declared", "fifo", "folder", "zip of nonsense"]


@pytest.mark.parametrize("kind", KINDS)
def test_a_damaged_cache_file_is_a_miss_and_is_repaired(kind, stored, photos, capsys):
    root, ckpt = stored
    digest = content_hash(photos["a"])
    assert read_output(ckpt, digest) is not None
    _damage(kind, ckpt)
    assert read_output(ckpt, digest) is None  # the page computes instead
    assert not is_current(ckpt, photos)
    counts = update(root, photos, log=print)
    out = capsys.readouterr().out
    if kind == "folder":  # cannot be replaced by a file: one line, the page computes
        assert counts["unwritable"] == 1 and "cannot be written" in out
        return
    assert counts["written"] == 1 and counts["failed"] == 0, (counts, out)
    assert "recomputed" in out and len([ln for ln in out.splitlines() if ln.strip()]) == 1
    assert outputs_path(ckpt).is_file()
    assert read_output(ckpt, digest) is not None and is_current(ckpt, photos)


def test_the_command_survives_a_cache_that_is_not_a_folder(tmp_path, photos, capsys,
                                                             monkeypatch):
    import core.io.photos as photos_module

    monkeypatch.setattr(photos_module, "heldout_images", lambda: photos)
    root = make_checkpoints(tmp_path / "ckpt", variants=("deconv3",), epochs=1)
    (tmp_path / ".outputs").write_text("not a folder")
    assert main(["--root", str(root)]) == 0
    assert "not writable" in capsys.readouterr().out
    (tmp_path / ".outputs").unlink()
    (tmp_path / ".outputs" / "ckpt").mkdir(parents=True)
    (tmp_path / ".outputs" / "ckpt" / "deconv3").write_text("a file where a folder goes")
    assert main(["--root", str(root)]) == 0
    assert "not writable" in capsys.readouterr().out


def test_a_checkpoint_replaced_with_the_same_size_and_mtime_is_seen(stored, photos):
    _, ckpt = stored
    before = checkpoint_identity(ckpt)
    st = ckpt.stat()
    data = bytearray(ckpt.read_bytes())
    data[-1] ^= 0x01  # one weight's last byte
    ckpt.write_bytes(bytes(data))
    os.utime(ckpt, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert ckpt.stat().st_size == st.st_size and ckpt.stat().st_mtime_ns == st.st_mtime_ns
    assert checkpoint_identity(ckpt) != before
    assert read_output(ckpt, content_hash(photos["a"])) is None  # never the old pictures


