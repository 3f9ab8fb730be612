"""The comparison page through Streamlit's AppTest (entered via dashboard.py).

Uploads: every malformed file gets its own clear ``st.error`` and every odd but good
one its comparison; all files are generated here, in memory.
"""

from __future__ import annotations

import shutil
import struct
import zlib

import numpy as np
from PIL import Image

from core.experiment.checkpoints import checkpoint_path
from tests.conftest import (
    TINY_EPOCHS,
    assert_clean,
    encode,
    flip_byte,
    make_checkpoints,
    open_page,
    plotly_data,
    synthetic_photo,
)
from ui.catalog import CHECKPOINTS_ENV

COMPARISON = "pages/comparison.py"








def png_header_only(width: int, height: int) -> bytes:
    def chunk(kind: bytes, payload: bytes) -> bytes:
        return (struct.pack(">I", len(payload)) + kind + payload
                + struct.pack(">I", zlib.crc32(kind + payload) & 0xFFFFFFFF))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
            + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b""))


def bad_files() -> list[tuple[str, bytes, str]]:
    """(file name, content, expected words of the message)."""
    rng = np.random.default_rng(0)
    noisy = encode(Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)), "PNG")
    jpeg = encode(Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)), "JPEG")
    return [
        ("empty.png", b"", "empty"),
        ("random.jpg", rng.integers(0, 256, 4000, dtype=np.uint8).tobytes(), "not an image format"),
        ("notes.png", b"Dear diary,\nthis is not a picture.\n", "text file"),
        ("truncated.png", noisy[: len(noisy) // 2], "truncated"),
        ("truncated.jpg", jpeg[: len(jpeg) // 2], "truncated"),
        ("bomb.png", png_header_only(30_000, 30_000), "decompression bomb"),
        ("tiny.png", encode(Image.fromarray(synthetic_photo(10, 40)), "PNG"), "too small"),
        ("drawing.svg", b'<svg xmlns="http://www.w3.org/2000/svg"></svg>', "svg"),
    ]


def good_files() -> list[tuple[str, bytes, str | None, tuple[int, int]]]:
    """(file name, content, expected notice words or None, expected (H, W))."""
    rgb = Image.fromarray(synthetic_photo(96, 64))
    rgba = np.dstack([synthetic_photo(96, 64), np.tile(np.linspace(0, 255, 96, dtype=np.uint8), (64, 1))])
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    frames = [Image.fromarray(synthetic_photo(96, 64)), Image.fromarray(255 - synthetic_photo(96, 64))]
    ramp16 = np.tile(np.linspace(0, 65535, 96).astype(np.uint16), (64, 1))
    return [
        ("plain.png", encode(rgb, "PNG"), None, (64, 96)),
        ("grey.png", encode(rgb.convert("L"), "PNG"), "greyscale", (64, 96)),
        ("deep.png", encode(Image.fromarray(ramp16), "PNG"), "16-bit", (64, 96)),
        ("palette.gif", encode(rgb.quantize(32), "GIF"), "palette", (64, 96)),
        ("alpha.png", encode(Image.fromarray(rgba, mode="RGBA"), "PNG"), "white", (64, 96)),
        ("print.jpg", encode(rgb.convert("CMYK"), "JPEG"), "CMYK", (64, 96)),
        ("anim.gif", encode(frames[0], "GIF", save_all=True, append_images=frames[1:]),
         "first frame", (64, 96)),
        ("phone.jpg", encode(rgb, "JPEG", exif=exif.tobytes()), "EXIF", (96, 64)),
        ("big.png", encode(Image.fromarray(synthetic_photo(1600, 1200)), "PNG"), "downscaled from 1600x1200",
         (768, 1024)),
        ("misnamed.txt", encode(rgb, "WEBP", lossless=True), None, (64, 96)),
    ]


def table(at):
    return at.dataframe[0].value


def test_default_is_figure_7(tiny):
    at = open_page(COMPARISON, timeout=120)
    assert_clean(at)
    assert not at.error and not at.warning
    assert at.selectbox(key="a").value == "deconv3"
    assert at.selectbox(key="b").value == "resize_nearest"
    assert at.select_slider(key="a_epoch").value == TINY_EPOCHS
    assert at.select_slider(key="b_epoch").value == TINY_EPOCHS
    df = table(at)
    assert list(df.index) == ["original (astronaut)", f"deconv3 · epoch {TINY_EPOCHS}",
                              f"resize_nearest · epoch {TINY_EPOCHS}"]
    assert np.isinf(df["PSNR (dB)"].iloc[0]) and df["SSIM"].iloc[0] == 1.0  # the reference
    assert np.isfinite(df["PSNR (dB)"].iloc[1:]).all()
    assert ((df["SSIM"].iloc[1:] > -1) & (df["SSIM"].iloc[1:] <= 1)).all()
    assert (df["checkerboard ×10⁻³"] >= 0).all()  # the one unit
    captions = [im.proto.imgs[0].caption for im in at.get("image")]
    assert sum(c.endswith("×7") for c in captions) == 3  # magnified crops of the three images
    assert sum(c.endswith("fine detail ×10") for c in captions) == 3  # one beside each crop
    assert sum(c.startswith("|") for c in captions) == 2  # two difference images
    # phase patterns in one figure (one scale), spectra in one figure (one scale)
    assert len(at.get("plotly_chart")) == 2
    spectrum = plotly_data(at, 1)
    assert spectrum[1]["mode"] == "markers" and len(spectrum[1]["x"]) == 4 * 4 - 1
    assert {t.get("coloraxis") for t in spectrum if t["type"] == "heatmap"} == {"coloraxis"}


def test_opens_both_models_at_epoch_10_when_stored(tmp_path, monkeypatch):
    root = make_checkpoints(tmp_path / "long", variants=("deconv3", "resize_nearest"),
                            epochs=11)
    monkeypatch.setenv(CHECKPOINTS_ENV, str(root))
    at = open_page(COMPARISON, timeout=120)
    assert_clean(at)
    assert at.select_slider(key="a_epoch").value == 10
    assert at.select_slider(key="b_epoch").value == 10
    assert "post's Figure 7" in at.select_slider(key="a_epoch").help
    assert list(table(at).index)[1:] == ["deconv3 · epoch 10", "resize_nearest · epoch 10"]


def test_models_and_epochs_selectable(tiny):
    at = open_page(COMPARISON, query={"a": "deconv4", "a_epoch": "0", "b_epoch": "1"},
                   timeout=120)
    assert_clean(at)
    assert list(table(at).index)[1:] == ["deconv4 · epoch 0", "resize_nearest · epoch 1"]
    at.selectbox(key="b").set_value("deconv3").run()
    at.select_slider(key="b_epoch").set_value(2).run()
    assert_clean(at)
    assert list(table(at).index)[2] == "deconv3 · epoch 2"
    at.selectbox(key="image").set_value("coffee").run()
    assert list(table(at).index)[0] == "original (coffee)"


def test_malformed_uploads_get_their_message(tiny):
    at = open_page(COMPARISON, query={"source": "Upload"}, timeout=120)
    assert_clean(at)
    assert any("Upload an image" in i.value for i in at.info)
    for name, data, words in bad_files():
        at.file_uploader[0].upload(name, data, "image/png")
        at.run()
        assert_clean(at)
        assert len(at.error) == 1, (name, [e.value for e in at.error])
        message = at.error[0].value
        assert name in message and words in message.lower(), (name, message)
        assert "Traceback" not in message
        assert not at.dataframe  # no comparison for a refused file


def test_good_uploads_get_their_comparison(tiny):
    at = open_page(COMPARISON, query={"source": "Upload"}, timeout=120)
    for name, data, notice, (h, w) in good_files():
        at.file_uploader[0].upload(name, data, "application/octet-stream")
        at.run()
        assert_clean(at)
        assert not at.error, (name, [e.value for e in at.error])
        df = table(at)
        assert list(df.index)[0] == f"original ({name})", name
        assert np.isfinite(df["PSNR (dB)"].iloc[1:]).all(), name
        notices = " ".join(i.value for i in at.info)
        if notice is None:
            assert name not in notices, (name, notices)
        else:
            assert notice in notices, (name, notices)
        # the magnifier region fits the image (sliders bounded by its size)
        assert at.slider(key="region_top").max <= h - 8, name
        assert at.slider(key="region_left").max <= w - 8, name


def test_missing_checkpoints_still_analyse_the_image(tmp_path, monkeypatch):
    monkeypatch.setenv(CHECKPOINTS_ENV, str(tmp_path / "empty"))
    (tmp_path / "empty").mkdir()
    at = open_page(COMPARISON, timeout=120)
    assert_clean(at)
    assert "holds no" in at.warning[0].value and "make experiment" in at.warning[0].value
    assert list(table(at).index) == ["original (astronaut)"]
    assert len(at.get("plotly_chart")) == 2  # its phase pattern and spectrum


def test_corrupt_model_is_named_and_the_other_shown(tiny_root, tmp_path, monkeypatch):
    root = tmp_path / "ckpt"
    shutil.copytree(tiny_root, root)
    flip_byte(checkpoint_path(root, "deconv3", TINY_EPOCHS), -4, 0x55)
    monkeypatch.setenv(CHECKPOINTS_ENV, str(root))
    at = open_page(COMPARISON, timeout=120)
    assert_clean(at)
    message = " ".join(e.value for e in at.error)
    assert "deconv3/epoch_002.safetensors" in message and "make experiment" in message
    assert list(table(at).index) == ["original (astronaut)",
                                     f"resize_nearest · epoch {TINY_EPOCHS}"]


def test_difference_gain_reads_a_clean_value_from_the_url(tiny):
    """The gain's URL value is the number itself, read back without a warning (the
    browser test checks what the slider writes into the address bar)."""
    at = open_page(COMPARISON, query={"gain": "16"}, timeout=120)
    assert_clean(at)
    assert not at.warning
    assert at.select_slider(key="gain").value == 16
