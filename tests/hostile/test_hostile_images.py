"""Hostile and odd images (issue 11, items 9 and 10): only PNG, JPEG, WebP, BMP, TIFF
and GIF are decoded, recognised by content; every other format is refused unread with
a message naming it; memory is bounded from the declared size before decoding; EXIF
orientation outside 1-8 is ignored, not announced as a rotation.

Every file is built here, at test time, in memory.
"""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageOps

from core.io.decode import (
    ACCEPTED_TEXT,
    DEFAULT_MAX_DECODE_BYTES,
    ImageLoadError,
    load_image_bytes,
    peak_bytes_per_pixel,
)
from tests.conftest import encode, forbid_pixel_decoding, psd, synthetic_photo


def pillow_file(fmt: str, mode: str = "RGB", **kw) -> bytes:
    img = Image.fromarray(synthetic_photo())
    return encode(img.convert(mode), fmt, **kw)




def eps() -> bytes:
    return (b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 48 32\n"
            b"0 0 moveto 48 32 lineto stroke\nshowpage\n%%EOF\n")


#: (case id, bytes built at test time, the format the refusal must name).
REFUSED_FORMATS = [
    ("psd", psd, "Photoshop (PSD)"),
    ("eps", eps, "EPS"),
    ("eps-binary", lambda: b"\xc5\xd0\xd3\xc6" + b"\0" * 60, "EPS"),
    ("ico", lambda: pillow_file("ICO"), "ICO"),
    ("tga", lambda: pillow_file("TGA"), "TGA"),
    ("pcx", lambda: pillow_file("PCX"), "PCX"),
    ("ppm", lambda: pillow_file("PPM"), "Netpbm"),
    ("sgi", lambda: pillow_file("SGI"), "SGI"),
    ("dds", lambda: pillow_file("DDS", "RGBA"), "DDS"),
    ("qoi", lambda: pillow_file("QOI"), "QOI"),
    ("jpeg2000", lambda: pillow_file("JPEG2000"), "JPEG 2000"),
    ("heic", lambda: b"\0\0\0\x18ftypheic" + b"\0" * 100, "HEIC"),
    ("avif", lambda: b"\0\0\0\x18ftypavif" + b"\0" * 100, "AVIF"),
    ("openexr", lambda: b"v/1\x01" + b"\0" * 100, "OpenEXR"),
    ("xcf", lambda: b"gimp xcf v011\0" + b"\0" * 100, "GIMP"),
]


@pytest.mark.parametrize("make, name", [c[1:] for c in REFUSED_FORMATS],
                         ids=[c[0] for c in REFUSED_FORMATS])
def test_format_outside_the_allowlist_is_refused_by_name(make, name):
    try:
        data = make()
    except (OSError, KeyError, ValueError) as exc:  # a writer this Pillow build lacks
        pytest.fail(f"cannot build the test file: {exc}")
    with pytest.raises(ImageLoadError) as info:
        load_image_bytes(data)
    message = str(info.value)
    assert name in message, message
    assert ACCEPTED_TEXT in message and "GIF" in message


def test_eps_is_never_decoded(monkeypatch):
    """An EPS would start Ghostscript where it is installed: its plugin is never asked."""
    from PIL import EpsImagePlugin

    def forbidden(*args, **kwargs):
        raise AssertionError("the EPS plugin was asked to decode")

    monkeypatch.setattr(EpsImagePlugin.EpsImageFile, "load", forbidden)
    monkeypatch.setattr(EpsImagePlugin, "Ghostscript", forbidden)
    with pytest.raises(ImageLoadError, match="EPS"):
        load_image_bytes(eps())


#: Every accepted format still decodes (the allowlist is not too tight).
ACCEPTED = [("PNG", {}), ("JPEG", {"quality": 95}), ("WEBP", {"lossless": True}),
            ("BMP", {}), ("TIFF", {}), ("GIF", {})]


@pytest.mark.parametrize("fmt, kw", ACCEPTED, ids=[a[0] for a in ACCEPTED])
def test_accepted_formats_decode(fmt, kw):
    out = load_image_bytes(pillow_file(fmt, **kw))
    assert out.pixels.shape == (32, 48, 3) and out.format == fmt


def test_mpo_is_read_as_jpeg():
    """Phones write JPEGs with a second picture (MPO): Pillow's JPEG parser returns it."""
    first, second = Image.fromarray(synthetic_photo()), Image.fromarray(255 - synthetic_photo())
    data = encode(first, "MPO", save_all=True, append_images=[second])
    out = load_image_bytes(data)
    assert out.format == "JPEG" and out.pixels.shape == (32, 48, 3)


def test_every_refusal_that_lists_formats_lists_gif():
    for data in (b"Dear diary, this is not a picture at all.\n", b"%PDF-1.7\n" + b"x" * 50,
                 np.random.default_rng(0).integers(0, 256, 4000, dtype=np.uint8).tobytes()):
        with pytest.raises(ImageLoadError) as info:
            load_image_bytes(data)
        assert ACCEPTED_TEXT in str(info.value), str(info.value)


# ----------------------------------------------------------------------------- memory


def float_tiff(side: int) -> bytes:
    """A float32 TIFF of side x side, mostly zeros: a few hundred KB compressed."""
    arr = np.zeros((side, side), np.float32)
    arr[::7, ::5] = 0.5
    return encode(Image.fromarray(arr, mode="F"), "TIFF", compression="tiff_adobe_deflate")


def test_float_tiff_bomb_is_refused_from_its_header(monkeypatch):
    """The issue's file: 6324 x 6324 float32 (under the 40 MP cap) once peaked at 1.15 GB.
    Refused from its header: Pillow's decoding is forbidden, so reaching it fails the
    test; the refusal's time and memory are ``benchmarks/robustness.py``'s row
    "6324x6324 F (the issue's TIFF)"."""
    data = float_tiff(6324)
    assert len(data) < 2_000_000
    decoded = forbid_pixel_decoding(monkeypatch)
    with pytest.raises(ImageLoadError) as info:
        load_image_bytes(data)
    assert not decoded
    message = str(info.value)
    assert "6324x6324" in message and "MiB" in message and "32-bit float" in message


@pytest.mark.parametrize("mode", ["1", "L", "P", "RGB", "RGBA", "LA", "I;16", "I", "F", "CMYK"])
def test_memory_bound_admits_what_the_pixel_cap_allows_for_8_bit_colour(mode):
    need = 1000 * 1000 * peak_bytes_per_pixel(mode)
    assert 0 < need < DEFAULT_MAX_DECODE_BYTES  # a 1 MP image of any mode is fine
    assert peak_bytes_per_pixel("RGB") * 40_000_000 <= DEFAULT_MAX_DECODE_BYTES


def test_memory_bound_is_a_parameter():
    data = encode(Image.fromarray(synthetic_photo(400, 300)), "PNG")
    with pytest.raises(ImageLoadError, match="decoding it would take"):
        load_image_bytes(data, max_decode_bytes=100_000)
    assert load_image_bytes(data).pixels.shape == (300, 400, 3)


def test_large_images_are_downscaled_before_conversion():
    """Palette with transparency, 1-bit, 32-bit integer out of range and float with NaN:
    downscaled in their own mode (or once expanded), with the same notices as before."""
    rng = np.random.default_rng(0)
    pal = Image.fromarray(rng.integers(0, 8, (600, 900), dtype=np.uint8), mode="L").convert("P")
    out = load_image_bytes(encode(pal, "PNG", transparency=3), max_side=300)
    assert out.pixels.shape == (200, 300, 3)
    assert any("palette" in n for n in out.notices)
    assert any("composited on white" in n for n in out.notices)
    assert any("downscaled from 900x600 to 300x200" in n for n in out.notices)

    bits = Image.fromarray(rng.integers(0, 2, (600, 900), dtype=np.uint8) * 255).convert("1")
    out = load_image_bytes(encode(bits, "PNG"), max_side=300)
    assert out.pixels.shape == (200, 300, 3) and "1-bit" in " ".join(out.notices)

    ints = np.full((600, 900), 70_000, np.int32)
    ints[:, :450] = 100
    out = load_image_bytes(encode(Image.fromarray(ints, mode="I"), "TIFF"), max_side=300)
    assert any("clipped" in n for n in out.notices)
    assert out.pixels[:, -10:].min() == pytest.approx(1.0)

    floats = np.linspace(0, 2, 600 * 900, dtype=np.float32).reshape(600, 900)
    floats[10, 10] = np.nan
    out = load_image_bytes(encode(Image.fromarray(floats, mode="F"), "TIFF"), max_side=300)
    assert np.isfinite(out.pixels).all() and out.pixels.shape == (200, 300, 3)
    assert any("NaN" in n for n in out.notices)


# ----------------------------------------------------------------------------- EXIF


def with_orientation(value: int, w: int = 48, h: int = 32, fmt: str = "JPEG") -> bytes:
    exif = Image.Exif()
    exif[0x0112] = value
    return encode(Image.fromarray(synthetic_photo(w, h)), fmt, exif=exif.tobytes(),
                  **({"quality": 95} if fmt == "JPEG" else {}))


@pytest.mark.parametrize("value", [0, 9, 255, 65535])
def test_invalid_exif_orientation_is_ignored_not_announced_as_rotation(value):
    out = load_image_bytes(with_orientation(value))
    assert out.pixels.shape == (32, 48, 3)
    assert not any("rotated" in n for n in out.notices), out.notices
    assert any(f"invalid value ({value})" in n for n in out.notices), out.notices


@pytest.mark.parametrize("value", range(2, 9))
def test_valid_orientations_match_pillow_even_when_downscaled(value):
    data = with_orientation(value, 96, 64, fmt="PNG")
    out = load_image_bytes(data)
    reference = np.asarray(ImageOps.exif_transpose(Image.open(__import__("io").BytesIO(data))))
    assert out.pixels.shape == reference.shape
    assert np.abs(out.pixels * 255 - reference).max() < 1.0
    assert any(f"EXIF orientation ({value})" in n for n in out.notices)
    small = load_image_bytes(data, max_side=48)  # resized before the rotation
    assert small.pixels.shape[:2] == tuple(d // 2 for d in reference.shape[:2])
