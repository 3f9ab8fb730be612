"""Shared test helpers: open a dashboard page with Streamlit's AppTest."""

from __future__ import annotations

import base64
import dataclasses
import io
import json
import math
import struct
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from onnx import TensorProto, helper, numpy_helper
from PIL import Image
from streamlit.testing.v1 import AppTest

from core.experiment.checkpoints import (
    CONFIG_BOUNDS,
    METADATA_KEY,
    checkpoint_path,
    expected_shapes,
    save_checkpoint,
    write_manifest,
)
from core.experiment.models import VARIANTS, TransformNet
from core.experiment.train import TrainConfig
from ui.catalog import CHECKPOINTS_ENV

ROOT = Path(__file__).resolve().parent.parent


def open_page(page: str | None = None, query: dict[str, str | list[str]] | None = None,
              timeout: float = 60) -> AppTest:
    """Run ``dashboard.py`` (the router), switched to ``page`` (e.g. "pages/coverage.py").

    ``query`` sets URL query parameters before the first run, as a copied link would.
    """
    at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=timeout)
    for key, value in (query or {}).items():
        at.query_params[key] = value
    at.run()  # AppTest resolves st.navigation pages only after a first run
    if page is not None:
        at.switch_page(page)
        at.run()
    return at


def encode(img, fmt: str, **kw) -> bytes:
    """A PIL image saved to bytes in ``fmt`` (files for upload tests, made in the test)."""
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kw)
    return buf.getvalue()


def assert_clean(at: AppTest) -> None:
    """No exception element on the page (what a traceback box would be), and no
    message from the pages' error boundary (``ui.errors``: a caught crash)."""
    from ui.errors import BOUNDARY_TEXT

    assert not at.exception, [e.value for e in at.exception]
    crashes = [e.value for e in at.error if BOUNDARY_TEXT in e.value]
    assert not crashes, crashes


def plotly_data(at: AppTest, index: int = 0) -> list[dict]:
    """The traces of the ``index``-th plotly chart, typed arrays decoded to numpy."""
    spec = json.loads(at.get("plotly_chart")[index].proto.spec)
    return [_decode(trace) for trace in spec["data"]]


def _decode(value):
    if isinstance(value, dict):
        if "bdata" in value and "dtype" in value:
            arr = np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"])
            shape = value.get("shape")
            if shape:
                dims = [int(n) for n in str(shape).split(",")] if isinstance(shape, str) else shape
                arr = arr.reshape(dims)
            return arr
        return {k: _decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value


@pytest.fixture
def page():
    """The ``open_page`` helper as a fixture."""
    return open_page


# --- builders shared by several test modules (from test_page_gallery.py) ---

TINY_VARIANTS = ("deconv3", "resize_nearest", "deconv4")


TINY_EPOCHS = 2


def make_checkpoints(root: Path, variants=TINY_VARIANTS, epochs: int = TINY_EPOCHS) -> Path:
    """A tiny, self-describing checkpoint set written with the project's own writer:
    each variant at width 4 with one residual block, its weights nudged every epoch so
    that every (variant, epoch) computes a different image; then the manifest."""
    for i, variant in enumerate(variants):
        config = dataclasses.replace(VARIANTS[variant], width=4, res_blocks=1)
        torch.manual_seed(i)
        model = TransformNet(config)
        for epoch in range(epochs + 1):
            if epoch:
                with torch.no_grad():
                    for p in model.parameters():
                        p.add_(0.05 * torch.randn_like(p))
            metrics = {
                "train_loss": math.nan if epoch == 0 else 0.1 / epoch,
                "val_psnr": 10.0 + epoch + i,
                "val_ssim": 0.2 + 0.1 * epoch,
                "checkerboard": (0.05 if variant.startswith("deconv") else 0.001) / (1 + epoch),
            }
            save_checkpoint(
                checkpoint_path(root, variant, epoch), model,
                {"variant": variant, "epoch": epoch, "epochs": epochs, "seed": i,
                 "data": {"source": "test"}, "metrics": metrics},
            )
    write_manifest(root)
    return root


@pytest.fixture(scope="session")
def tiny_root(tmp_path_factory) -> Path:
    return make_checkpoints(tmp_path_factory.mktemp("tiny-checkpoints"))


@pytest.fixture
def tiny(tiny_root, monkeypatch) -> Path:
    monkeypatch.setenv(CHECKPOINTS_ENV, str(tiny_root))
    return tiny_root


# --- builders shared by several test modules (from test_train.py) ---

TINY = {"width": 4, "res_blocks": 1, "crop_size": 32, "crops_per_epoch": 48, "batch_size": 8}


def make_image_folder(folder: Path, n: int = 4, size: int = 48) -> Path:
    """A few structured RGB images (gradients, stripes, blobs) in nested folders + 1 broken."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:size, 0:size] / size
    for i in range(n):
        img = np.stack([
            0.5 + 0.5 * np.sin(2 * np.pi * (xx * (i + 1) + yy)),
            (xx + yy) / 2,
            0.5 + 0.4 * np.cos(2 * np.pi * yy * (i + 2)) * (xx > 0.3),
        ], axis=2) + rng.normal(0, 0.02, (size, size, 3))
        sub = folder / ("a" if i % 2 else "b")
        sub.mkdir(parents=True, exist_ok=True)
        ext = [".png", ".bmp", ".tiff", ".webp"][i % 4]
        fmt = {".webp": {"lossless": True}}.get(ext, {})
        Image.fromarray((np.clip(img, 0, 1) * 255).astype(np.uint8)).save(sub / f"im{i}{ext}",
                                                                             **fmt)
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    (folder / "notes.txt").write_text("ignored: not an image suffix")
    return folder


def tiny_train_config(tmp: Path, data: Path, **kw) -> TrainConfig:
    base = {"variants": ("deconv3",), "epochs": 2, "data": str(data), "output": str(tmp / "out"),
            "seed": 3, "val_fraction": 0.25, "lr": 3e-3, "warmup": 2, **TINY}
    return TrainConfig(**(base | kw))


# --- builders shared by several test modules (from test_page_audit.py) ---

def small_deconv_onnx(input_shape=(1, 2, "h", "w")) -> bytes:
    """A one-layer ONNX model (3x3, stride-2 ConvTranspose), built here; ``input_shape``
    may name free dimensions."""
    w = np.random.default_rng(0).standard_normal((2, 2, 3, 3)).astype(np.float32)
    node = helper.make_node("ConvTranspose", ["x", "w"], ["y"], name="my_deconv",
                            kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1],
                            output_padding=[1, 1])
    graph = helper.make_graph(
        [node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(input_shape))],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [numpy_helper.from_array(w, "w")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model.SerializeToString()


# --- builders shared by several test modules (from test_hostile_checkpoints.py) ---

def with_meta(change: Callable[[dict], None]) -> Callable[[Path], None]:
    """A rewrite of the file's Checkerboard Lab metadata (weights untouched)."""

    def rewrite(path: Path) -> None:
        header, body = split_safetensors(path)
        meta = json.loads(header["__metadata__"][METADATA_KEY])
        change(meta)
        header["__metadata__"][METADATA_KEY] = json.dumps(meta)
        path.write_bytes(join_safetensors(header, body))

    return rewrite


def set_meta(*keys_and_value):
    *keys, value = keys_and_value

    def change(meta: dict) -> None:
        target = meta
        for k in keys[:-1]:
            target = target[k]
        target[keys[-1]] = value

    return change


# --- builders shared by several test modules (from test_hostile_images.py) ---

def psd() -> bytes:
    """A minimal Photoshop header (Pillow can read PSD, not write it)."""
    header = b"8BPS" + struct.pack(">H6xHIIHH", 1, 3, 32, 48, 8, 3)
    return header + struct.pack(">I", 0) * 3 + struct.pack(">H", 0) + b"\0" * (32 * 48 * 3)


def split_safetensors(path: Path) -> tuple[dict, bytes]:
    data = path.read_bytes()
    (n,) = struct.unpack("<Q", data[:8])
    return json.loads(data[8 : 8 + n]), data[8 + n :]


def join_safetensors(header: dict | bytes, body: bytes) -> bytes:
    raw = header if isinstance(header, bytes) else json.dumps(header).encode()
    return struct.pack("<Q", len(raw)) + raw + body


def synthetic_photo(w: int = 48, h: int = 32) -> np.ndarray:
    """A small uint8 (h, w, 3) test picture: two ramps and an XOR texture (made, not read)."""
    y, x = np.mgrid[0:h, 0:w]
    return np.stack([x * 255 // w, y * 255 // h, (x ^ y) & 255], axis=2).astype(np.uint8)


def flip_byte(path: Path, offset: int, mask: int = 0xFF) -> None:
    """Spoil a file in place: XOR the byte at ``offset`` (negative: from the end)."""
    data = bytearray(path.read_bytes())
    data[offset] ^= mask
    path.write_bytes(bytes(data))


def assert_url_fallback(page: str, query: dict[str, str], defaults: dict[str, int]) -> None:
    """Nonsense URL values: each is named in a warning, and the sliders keep ``defaults``."""
    at = open_page(page, query)
    assert_clean(at)
    texts = " ".join(w.value for w in at.warning)
    for key, value in query.items():
        assert f"{key}={value}" in texts, (key, texts)
    for key, value in defaults.items():
        assert at.slider(key=key).value == value, key


# --- forbidden steps: "refused before X" checked by X never running, not by a clock ---

class Forbidden(BaseException):
    """Raised by a step a test forbids (:func:`forbid`). A ``BaseException``, so no
    ``except Exception`` in the code under test can turn it into an ordinary refusal."""


def forbid(monkeypatch, target, name: str, what: str, calls: list | None = None) -> list:
    """Replace ``target.name`` by a function that records its call and raises
    :class:`Forbidden` ("<what> ran"). Returns the list of calls (their arguments; ``calls``
    when given, to share one list), so a test can also assert it stayed empty."""
    calls = [] if calls is None else calls

    def forbidden(*args, **kwargs):
        calls.append(args)
        raise Forbidden(f"{what} ran")

    monkeypatch.setattr(target, name, forbidden)
    return calls


def forbid_pixel_decoding(monkeypatch) -> list:
    """Pillow's pixel decoding forbidden from now on (build the test's files first):
    ``Image.Image.load`` and ``ImageFile.load``, the route of every plugin to its decoder
    (``np.asarray``, ``convert`` and ``tobytes`` go through them too). A refusal "from the
    header" must come before it. Returns the calls (:func:`forbid`)."""
    from PIL import ImageFile

    calls = forbid(monkeypatch, Image.Image, "load", "Pillow's pixel decoding")
    return forbid(monkeypatch, ImageFile.ImageFile, "load", "Pillow's pixel decoding", calls)


def oversized_builds(monkeypatch) -> list:
    """Configs outside :data:`~core.experiment.checkpoints.CONFIG_BOUNDS` that anything
    tries to build as a TransformNet (on the meta device too): recorded, and stopped
    before the build (:class:`Forbidden`). The cache of built shapes is emptied first, so
    a config built by an earlier test cannot hide a build."""
    expected_shapes.cache_clear()
    oversized: list = []
    real_init = TransformNet.__init__

    def init(self, config=None, *args, **kwargs):
        values = {f: getattr(config, f, None) for f in CONFIG_BOUNDS}
        if any(isinstance(v, int) and not lo <= v <= hi
               for v, (lo, hi) in zip(values.values(), CONFIG_BOUNDS.values(), strict=True)):
            oversized.append(values)
            raise Forbidden(f"a TransformNet of {values} was built")
        real_init(self, config, *args, **kwargs)

    monkeypatch.setattr(TransformNet, "__init__", init)
    return oversized
