"""Tests for core.images: every odd or malformed file is generated here, in memory."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from core.io.decode import ImageLoadError, LoadedImage, load_image_bytes
from core.io.pixels import (
    Region,
    abs_difference,
    content_hash,
    crop_region,
    magnify_nearest,
    tile_grid,
    to_gif_bytes,
    to_png_bytes,
    to_uint8,
)
from tests.conftest import encode, forbid_pixel_decoding

# ----------------------------------------------------------------------------- helpers


def rgb_gradient(w: int = 64, h: int = 48) -> np.ndarray:
    """uint8 (H, W, 3) with distinct, smooth content."""
    y, x = np.mgrid[0:h, 0:w]
    return np.stack(
        [(x * 255 // max(w - 1, 1)), (y * 255 // max(h - 1, 1)), ((x + y) * 127 // (w + h))],
        axis=2,
    ).astype(np.uint8)


def png_chunk(kind: bytes, payload: bytes) -> bytes:
    return (
        struct.pack(">I", len(payload))
        + kind
        + payload
        + struct.pack(">I", zlib.crc32(kind + payload) & 0xFFFFFFFF)
    )


def raw_png(
    width: int, height: int, idat: bytes, *, bit_depth: int = 8, colour_type: int = 2
) -> bytes:
    """A PNG written by hand, so that the header can claim anything."""
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", ihdr)
        + png_chunk(b"IDAT", idat)
        + png_chunk(b"IEND", b"")
    )


def assert_canonical(out: LoadedImage, h: int, w: int) -> None:
    assert isinstance(out, LoadedImage)
    assert out.pixels.shape == (h, w, 3)
    assert out.pixels.dtype == np.float32
    assert out.pixels.min() >= 0.0 and out.pixels.max() <= 1.0
    assert not out.pixels.flags.writeable
    assert out.digest == content_hash(out.pixels)


def load_error(data: bytes, **kw) -> str:
    with pytest.raises(ImageLoadError) as info:
        load_image_bytes(data, **kw)
    assert isinstance(info.value, ValueError)
    msg = str(info.value)
    assert msg and "Traceback" not in msg
    return msg.lower()


# ----------------------------------------------------------------------------- good files


@pytest.mark.parametrize("fmt", ["PNG", "BMP", "TIFF", "WEBP"])
def test_lossless_rgb_round_trip(fmt):
    arr = rgb_gradient()
    kw = {"lossless": True} if fmt == "WEBP" else {}
    out = load_image_bytes(encode(Image.fromarray(arr), fmt, **kw))
    assert_canonical(out, 48, 64)
    np.testing.assert_allclose(out.pixels, arr / 255.0, atol=1e-6)
    assert out.notices == ()
    assert out.format == fmt
    assert out.original_size == (64, 48)


def test_jpeg_close_to_source():
    arr = rgb_gradient()
    out = load_image_bytes(encode(Image.fromarray(arr), "JPEG", quality=95))
    assert_canonical(out, 48, 64)
    assert np.abs(out.pixels - arr / 255.0).mean() < 0.02


def test_checked_by_content_not_name():
    """A PNG is a PNG whatever it is called; there is no name argument at all."""
    arr = rgb_gradient()
    out = load_image_bytes(bytearray(encode(Image.fromarray(arr), "PNG")))
    assert out.format == "PNG"


def test_greyscale_becomes_three_equal_channels():
    grey = rgb_gradient()[:, :, 0]
    out = load_image_bytes(encode(Image.fromarray(grey, mode="L"), "PNG"))
    assert_canonical(out, 48, 64)
    for c in range(3):
        np.testing.assert_allclose(out.pixels[:, :, c], grey / 255.0, atol=1e-6)
    assert any("greyscale" in n for n in out.notices)


def test_one_bit_image():
    bits = Image.fromarray((np.indices((32, 32)).sum(0) % 2 * 255).astype(np.uint8)).convert("1")
    out = load_image_bytes(encode(bits, "PNG"))
    assert_canonical(out, 32, 32)
    assert set(np.unique(out.pixels)) == {0.0, 1.0}
    assert out.pixels[0, 0, 0] == 0.0 and out.pixels[0, 1, 0] == 1.0
    assert any("1-bit" in n for n in out.notices)


def test_sixteen_bit_greyscale_is_scaled_not_clipped():
    # Values spread over the whole 16-bit range: Pillow's convert("RGB") would clip
    # everything above 255 to white; the loader must scale by 1/65535.
    ramp = np.linspace(0, 65535, 64 * 32).reshape(32, 64).astype(np.uint16)
    img = Image.fromarray(ramp)
    assert img.mode == "I;16"
    for fmt in ("PNG", "TIFF"):
        out = load_image_bytes(encode(img, fmt))
        assert_canonical(out, 32, 64)
        np.testing.assert_allclose(out.pixels[:, :, 1], ramp / 65535.0, atol=1e-6)
        assert 0.45 < out.pixels.mean() < 0.55
        assert any("16-bit" in n for n in out.notices)


def test_sixteen_bit_rgb_png():
    """A 16-bit-per-channel RGB PNG written by hand: 0x8000 must read as about 0.5."""
    w, h = 20, 18
    px = np.zeros((h, w, 3), dtype=">u2")
    px[..., 0] = 0x8000
    px[..., 1] = 0xFFFF
    raw = b"".join(b"\x00" + px[y].tobytes() for y in range(h))
    out = load_image_bytes(raw_png(w, h, zlib.compress(raw), bit_depth=16, colour_type=2))
    assert_canonical(out, h, w)
    np.testing.assert_allclose(out.pixels[0, 0], [0x80 / 255, 1.0, 0.0], atol=1e-6)


def test_32bit_integer_and_float_greyscale():
    ints = Image.fromarray(np.full((20, 20), 65535, dtype=np.int32), mode="I")
    out = load_image_bytes(encode(ints, "TIFF"))
    assert_canonical(out, 20, 20)
    np.testing.assert_allclose(out.pixels, 1.0)
    floats = np.linspace(-3.0, 5.0, 400, dtype=np.float32).reshape(20, 20)
    out = load_image_bytes(encode(Image.fromarray(floats, mode="F"), "TIFF"))
    assert_canonical(out, 20, 20)
    assert out.pixels.min() == 0.0 and out.pixels.max() == 1.0
    assert any("rescaled" in n for n in out.notices)


def test_palette_image():
    arr = rgb_gradient()
    pal = Image.fromarray(arr).quantize(colors=16)
    out = load_image_bytes(encode(pal, "PNG"))
    assert_canonical(out, 48, 64)
    np.testing.assert_allclose(out.pixels, np.asarray(pal.convert("RGB")) / 255.0, atol=1e-6)
    assert any("palette" in n for n in out.notices)


def test_palette_with_transparency_composited_on_white():
    pal = Image.new("P", (20, 20), 0)
    pal.putpalette([0, 0, 0, 255, 0, 0] + [0] * (256 * 3 - 6))
    pal.paste(1, (0, 0, 10, 20))
    data = encode(pal, "PNG", transparency=0)  # index 0 (black) is transparent
    out = load_image_bytes(data)
    assert_canonical(out, 20, 20)
    np.testing.assert_allclose(out.pixels[5, 2], [1.0, 0.0, 0.0])  # opaque red
    np.testing.assert_allclose(out.pixels[5, 15], [1.0, 1.0, 1.0])  # transparent -> white
    assert any("white" in n for n in out.notices)


def test_rgba_composited_on_white():
    arr = np.zeros((20, 30, 4), dtype=np.uint8)
    arr[..., 2] = 255  # blue
    arr[:, :10, 3] = 255  # opaque
    arr[:, 10:20, 3] = 128  # half
    arr[:, 20:, 3] = 0  # transparent
    out = load_image_bytes(encode(Image.fromarray(arr, mode="RGBA"), "PNG"))
    assert_canonical(out, 20, 30)
    np.testing.assert_allclose(out.pixels[0, 0], [0, 0, 1])
    np.testing.assert_allclose(out.pixels[0, 15], [127 / 255, 127 / 255, 1], atol=2 / 255)
    np.testing.assert_allclose(out.pixels[0, 25], [1, 1, 1])
    assert any("composited on white" in n for n in out.notices)


def test_opaque_rgba_says_alpha_dropped():
    arr = np.dstack([rgb_gradient(), np.full((48, 64), 255, np.uint8)])
    out = load_image_bytes(encode(Image.fromarray(arr, mode="RGBA"), "PNG"))
    np.testing.assert_allclose(out.pixels, arr[..., :3] / 255.0, atol=1e-6)
    assert any("alpha channel dropped" in n for n in out.notices)


def test_greyscale_with_alpha():
    la = np.zeros((20, 20, 2), dtype=np.uint8)
    la[..., 0] = 0
    la[:, 10:, 1] = 255
    out = load_image_bytes(encode(Image.fromarray(la, mode="LA"), "PNG"))
    assert_canonical(out, 20, 20)
    np.testing.assert_allclose(out.pixels[0, 0], [1, 1, 1])  # transparent black -> white
    np.testing.assert_allclose(out.pixels[0, 15], [0, 0, 0])


@pytest.mark.parametrize("fmt", ["TIFF", "JPEG"])
def test_cmyk(fmt):
    cmyk = Image.new("CMYK", (24, 24), (255, 0, 0, 0))  # pure cyan
    out = load_image_bytes(encode(cmyk, fmt))
    assert_canonical(out, 24, 24)
    np.testing.assert_allclose(out.pixels[12, 12], [0, 1, 1], atol=0.05)
    assert "converted from CMYK" in out.notices


def test_animated_gif_first_frame():
    colours = [(255, 0, 0), (0, 255, 0), (0, 0, 255)]
    frames = [Image.new("RGB", (32, 24), c) for c in colours]
    data = encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    out = load_image_bytes(data)
    assert_canonical(out, 24, 32)
    np.testing.assert_allclose(out.pixels[10, 10], [1, 0, 0])
    assert any("first frame" in n and "3 frames" in n for n in out.notices)


def test_animated_webp_and_apng_first_frame():
    frames = [Image.new("RGB", (32, 24), c) for c in [(0, 0, 255), (255, 255, 0)]]
    for fmt, kw in [("WEBP", {"lossless": True}), ("PNG", {})]:
        data = encode(frames[0], fmt, save_all=True, append_images=frames[1:], duration=100, **kw)
        out = load_image_bytes(data)
        np.testing.assert_allclose(out.pixels[10, 10], [0, 0, 1], atol=1e-6)
        assert any("first frame" in n for n in out.notices), fmt


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_exif_orientation_respected(fmt):
    # 40 wide, 20 high, a red marker in the top-left corner. Orientation 6 means
    # "rotate 90 degrees clockwise to display": the result is 20 wide, 40 high and
    # the marker ends up in the top-right corner.
    arr = np.zeros((20, 40, 3), dtype=np.uint8)
    arr[:5, :5] = (255, 0, 0)
    img = Image.fromarray(arr)
    exif = Image.Exif()
    exif[0x0112] = 6
    out = load_image_bytes(
        encode(img, fmt, exif=exif.tobytes(), **({"quality": 95} if fmt == "JPEG" else {}))
    )
    assert_canonical(out, 40, 20)
    assert out.pixels[1, 18, 0] > 0.8 and out.pixels[1, 18, 1] < 0.2
    assert out.pixels[1, 1, 0] < 0.2
    assert any("EXIF orientation" in n for n in out.notices)


def test_large_image_downscaled_with_notice():
    big = Image.fromarray(rgb_gradient(2100, 1400))
    out = load_image_bytes(encode(big, "PNG"))
    assert_canonical(out, 683, 1024)
    assert out.original_size == (2100, 1400)
    assert any("downscaled from 2100x1400 to 1024x683" in n for n in out.notices)


def test_large_jpeg_downscaled():
    # JPEGs are decoded at a reduced scale first (libjpeg DCT scaling), then resized.
    arr = rgb_gradient(2400, 1800)
    out = load_image_bytes(encode(Image.fromarray(arr), "JPEG", quality=90))
    assert_canonical(out, 768, 1024)
    assert any("downscaled from 2400x1800 to 1024x768" in n for n in out.notices)
    small = np.asarray(Image.fromarray(arr).resize((1024, 768), Image.Resampling.LANCZOS))
    assert np.abs(out.pixels - small / 255.0).mean() < 0.02


def test_sixteen_bit_large_downscaled():
    ramp = np.tile(np.linspace(0, 65535, 2048).astype(np.uint16), (40, 1))
    out = load_image_bytes(encode(Image.fromarray(ramp), "PNG"))
    assert_canonical(out, 20, 1024)
    assert 0.45 < out.pixels.mean() < 0.55


def test_custom_limits():
    data = encode(Image.fromarray(rgb_gradient(200, 100)), "PNG")
    out = load_image_bytes(data, max_side=50)
    assert_canonical(out, 25, 50)
    with pytest.raises(ValueError, match="min_size"):
        load_image_bytes(data, min_size=0)
    with pytest.raises(TypeError):
        load_image_bytes("not bytes")  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- bad files


def test_empty():
    assert "empty" in load_error(b"")


def test_random_bytes():
    rng = np.random.default_rng(0)
    msg = load_error(rng.integers(0, 256, 5000, dtype=np.uint8).tobytes())
    assert "not an image format" in msg


def test_text_file():
    msg = load_error(b"Hello, this is clearly a text file.\nIt has two lines.\n")
    assert "text file" in msg and "hello" in msg


def test_text_starting_like_a_bmp_is_still_text():
    assert "text file" in load_error(b"BMW and other words, plain text.\n")


def test_svg_and_pdf_named():
    assert "svg" in load_error(
        b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"></svg>'
    )
    assert "pdf" in load_error(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n")


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "GIF", "WEBP", "BMP"])
def test_truncated(fmt):
    rng = np.random.default_rng(1)
    noisy = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)  # incompressible
    data = encode(Image.fromarray(noisy), fmt)
    msg = load_error(data[: len(data) // 2])
    assert "truncated" in msg or "damaged" in msg or "could not be read" in msg


def test_header_only():
    data = encode(Image.fromarray(rgb_gradient()), "PNG")
    assert "truncated" in load_error(data[:40])


def test_too_small():
    msg = load_error(encode(Image.fromarray(rgb_gradient(12, 40)), "PNG"))
    assert "too small" in msg and "12x40" in msg and "16" in msg


def test_too_elongated_after_downscale():
    msg = load_error(encode(Image.fromarray(rgb_gradient(4000, 20)), "PNG"))
    assert "elongated" in msg


def test_too_many_bytes():
    assert "limit" in load_error(b"\x89PNG" + b"\x00" * 2000, max_bytes=1000)


@pytest.mark.parametrize(
    "side",
    [
        7_000,  # 49 MP: above our cap, below Pillow's
        10_000,  # 100 MP: Pillow would only warn
        20_000,  # 400 MP: Pillow raises DecompressionBombError itself
    ],
)
def test_decompression_bomb_refused_from_header(side, monkeypatch):
    # The IDAT holds a few bytes only: decoding would fail differently, so the
    # message proves the refusal came from the declared size, before decoding; and
    # Pillow's decoding is forbidden: reaching it fails the test.
    data = raw_png(side, side, zlib.compress(b"\x00" * 100))
    decoded = forbid_pixel_decoding(monkeypatch)
    msg = load_error(data)
    assert not decoded
    assert "decompression bomb" in msg
    assert "pixels" in msg


@pytest.mark.parametrize("side", [10_000, 20_000])
def test_pillow_own_bomb_guard_mapped_even_with_a_high_cap(side):
    """With our cap lifted, Pillow's warning (100 MP) or error (400 MP) still refuses."""
    data = raw_png(side, side, zlib.compress(b"\x00" * 100))
    msg = load_error(data, max_pixels=10**12)
    assert "decompression bomb" in msg


def test_real_bomb_refused_before_decoding():
    """A genuine highly-compressed PNG (3000x3000 black, ~30 kB) with a 1 MP cap."""
    rows = b"".join(b"\x00" + b"\x00" * 3000 for _ in range(3000))
    data = raw_png(3000, 3000, zlib.compress(rows, 9), colour_type=0)
    assert len(data) < 100_000
    msg = load_error(data, max_pixels=1_000_000)
    assert "3000x3000" in msg and "decompression bomb" in msg
    # under the default cap, it decodes fine (9 MP) and is downscaled
    out = load_image_bytes(data)
    assert_canonical(out, 1024, 1024)


def test_zero_sized_header():
    msg = load_error(raw_png(0, 10, zlib.compress(b"")))
    assert "could not be read" in msg or "empty" in msg


def _seed_files() -> list[bytes]:
    arr = rgb_gradient(24, 20)
    img = Image.fromarray(arr)
    return [
        encode(img, "PNG"),
        encode(img, "JPEG"),
        encode(img.quantize(8), "GIF"),
        encode(img, "BMP"),
        encode(img, "TIFF"),
        encode(img, "WEBP"),
    ]


SEEDS = _seed_files()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    which=st.integers(0, len(SEEDS) - 1),
    edits=st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 255)), max_size=8),
    cut=st.floats(0.05, 1.0),
)
def test_fuzzed_files_never_escape(which, edits, cut):
    """Corrupted real files: either a canonical image or an ImageLoadError, nothing else."""
    data = bytearray(SEEDS[which])
    for pos, value in edits:
        data[int(pos * len(data))] = value
    data = data[: max(1, int(len(data) * cut))]
    try:
        out = load_image_bytes(bytes(data))
    except ImageLoadError as exc:
        assert str(exc)
    else:
        assert out.pixels.ndim == 3 and out.pixels.shape[2] == 3
        assert np.isfinite(out.pixels).all()
        assert out.pixels.min() >= 0 and out.pixels.max() <= 1


# ----------------------------------------------------------------------------- helpers


def test_to_uint8():
    x = np.array([[-0.5, 0.0, 0.5, 1.0, 2.0]], dtype=np.float32)
    np.testing.assert_array_equal(to_uint8(x), [[0, 0, 128, 255, 255]])
    u = np.arange(6, dtype=np.uint8).reshape(2, 3)
    assert to_uint8(u) is u or np.array_equal(to_uint8(u), u)
    with pytest.raises(ValueError, match="dtype"):
        to_uint8(np.zeros((4, 4), dtype=np.int32))
    with pytest.raises(ValueError, match="shape"):
        to_uint8(np.zeros(4))


@settings(max_examples=50, deadline=None)
@given(
    h=st.integers(1, 12), w=st.integers(1, 12), c=st.sampled_from([None, 1, 3]), f=st.integers(1, 6)
)
def test_magnify_nearest_blocks_are_constant(h, w, c, f):
    rng = np.random.default_rng(h * 100 + w)
    img = rng.random((h, w) if c is None else (h, w, c)).astype(np.float32)
    big = magnify_nearest(img, f)
    assert big.shape[:2] == (h * f, w * f) and big.shape[2:] == img.shape[2:]
    # every f x f block equals its source pixel exactly: no smoothing anywhere
    blocks = big.reshape(h, f, w, f, *img.shape[2:])
    for dy in range(f):
        for dx in range(f):
            np.testing.assert_array_equal(blocks[:, dy, :, dx], img)


def test_magnify_nearest_rejects_bad_factor():
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="factor"):
            magnify_nearest(np.zeros((2, 2)), bad)  # type: ignore[arg-type]


def test_region_and_crop():
    img = np.arange(10 * 12 * 3, dtype=np.float32).reshape(10, 12, 3)
    r = Region(top=2, left=3, height=4, width=5)
    np.testing.assert_array_equal(crop_region(img, r), img[2:6, 3:8])
    with pytest.raises(ValueError, match="does not fit"):
        crop_region(img, Region(8, 0, 4, 4))
    assert Region(8, 10, 4, 4).clamped(img.shape) == Region(6, 8, 4, 4)
    assert Region(0, 0, 50, 50).clamped(img.shape) == Region(0, 0, 10, 12)
    with pytest.raises(ValueError):
        Region(-1, 0, 4, 4)
    with pytest.raises(ValueError):
        Region(0, 0, 0, 4)
    with pytest.raises(ValueError):
        Region(0, 0, 2.5, 4)  # type: ignore[arg-type]


def test_abs_difference():
    a = np.zeros((4, 4, 3), np.float32)
    b = np.full((4, 4, 3), 0.25, np.float32)
    np.testing.assert_allclose(abs_difference(a, b), 0.25)
    np.testing.assert_allclose(abs_difference(b, a), 0.25)
    with pytest.raises(ValueError, match="same shape"):
        abs_difference(a, b[:2])


def test_content_hash_sees_every_element_and_shape():
    big = np.zeros((600, 400, 3), dtype=np.float32)  # 720k elements: streamlit would sample
    other = big.copy()
    other[317, 211, 1] = 1e-7
    assert content_hash(big) == content_hash(big.copy())
    assert content_hash(big) != content_hash(other)
    assert content_hash(big) != content_hash(big.reshape(400, 600, 3))
    assert content_hash(big) != content_hash(big.astype(np.float64))
    # non-contiguous views hash by their values
    np.testing.assert_equal(
        content_hash(big[:, ::2]), content_hash(np.ascontiguousarray(big[:, ::2]))
    )


def test_tile_grid_pads_cells():
    a = np.zeros((10, 20, 3), np.float32)
    b = np.full((6, 8), 0.5, np.float32)
    grid = tile_grid([[a, b], [b]], gap=2, background=1.0)
    assert grid.shape == (10 + 2 + 6, 20 + 2 + 8, 3)
    np.testing.assert_array_equal(grid[:10, :20], 0.0)
    np.testing.assert_array_equal(grid[:6, 22:30], 0.5)
    np.testing.assert_array_equal(grid[6:10, 22:30], 1.0)  # padding
    np.testing.assert_array_equal(grid[:, 20:22], 1.0)  # gap
    with pytest.raises(ValueError):
        tile_grid([])


def test_png_round_trip():
    rng = np.random.default_rng(3)
    img = rng.random((20, 30, 3)).astype(np.float32)
    out = load_image_bytes(to_png_bytes(img))
    np.testing.assert_array_equal(to_uint8(out.pixels), to_uint8(img))
    grey = to_png_bytes(img[:, :, 0])
    assert Image.open(io.BytesIO(grey)).mode == "L"


def test_gif_frames():
    frames = [np.full((24, 32, 3), v, np.float32) for v in (0.0, 0.5, 1.0)]
    frames[1][::2, ::2] = 0.0  # a one-pixel pattern must survive (no dithering, no blur)
    data = to_gif_bytes(frames, duration_ms=250)
    gif = Image.open(io.BytesIO(data))
    assert gif.format == "GIF" and gif.n_frames == 3 and gif.is_animated
    assert gif.info["duration"] == 250 and gif.info["loop"] == 0
    gif.seek(1)
    second = np.asarray(gif.convert("RGB"))
    np.testing.assert_array_equal(second[::2, ::2], 0)
    assert abs(int(second[1, 1, 0]) - 128) <= 1
    # the loader reads our own GIFs back (first frame)
    out = load_image_bytes(data)
    np.testing.assert_allclose(out.pixels, 0.0)
    with pytest.raises(ValueError, match="same height"):
        to_gif_bytes([frames[0], frames[0][:10]])
    with pytest.raises(ValueError):
        to_gif_bytes([])
