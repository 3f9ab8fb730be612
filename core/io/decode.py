"""Safe decoding of untrusted image bytes: one canonical float image or a clear refusal.

Everything a user can drop into the dashboard goes through `load_image_bytes`, which
decides by *content* (never by file name or MIME type) whether the bytes are an image
it can use, and returns one canonical form: a float32 array of shape (H, W, 3) with
values in [0, 1], plus human-readable notices about every conversion it made.

Failure is a single exception type, `ImageLoadError` (a `ValueError`), whose message
is written for the person who uploaded the file, so a page can show `str(err)` in an
`st.error` and nothing else.

Only six formats are decoded, recognised by content: PNG, JPEG, WebP, BMP, TIFF and GIF
(`ACCEPTED_FORMATS`; Pillow is asked to try no other parser, so a PSD or an EPS, which
could start Ghostscript, is refused unread, with a message naming its format).

Decompression bombs are refused from the header alone: Pillow's `Image.open` is lazy,
so `img.size` and `img.mode` are known before a single pixel is decoded. We cap the
pixel count (`max_pixels`, default 40 MP) well below Pillow's own limit (89.5 MP
warns, 179 MP raises `DecompressionBombError`; the warning is an error here too), and
the memory the decoding will take: the declared size times the bytes per pixel the
pipeline needs for that mode (`peak_bytes_per_pixel`), at most `max_decode_bytes`
(default 256 MiB). Large images are downscaled in their own mode, before any
conversion, so conversions work on the small image.
"""

from __future__ import annotations

import codecs
import io
import re
import warnings
from dataclasses import dataclass

import numpy as np
from PIL import Image, UnidentifiedImageError

from .pixels import content_hash

DEFAULT_MAX_BYTES = 64 * 1024 * 1024  # a file larger than this is refused unread
DEFAULT_MAX_PIXELS = 40_000_000  # declared W*H above this is refused from the header
DEFAULT_MAX_SIDE = 1024  # longer side above this is downscaled (with a notice)
DEFAULT_MIN_SIZE = 16  # either side below this is refused (the network downsamples 4x)
DEFAULT_MAX_DECODE_BYTES = 256 * 2**20  # estimated peak memory of decoding, from the header

#: Pillow format names decoded (MPO: a JPEG with a second picture, as phones write).
ACCEPTED_FORMATS = ("PNG", "JPEG", "MPO", "WEBP", "BMP", "TIFF", "GIF")
#: The parsers Pillow may try (its JPEG parser returns MPO files itself).
_OPEN_FORMATS = tuple(f for f in ACCEPTED_FORMATS if f != "MPO")
#: The same for people (every message that says what is accepted uses it).
ACCEPTED_TEXT = "PNG, JPEG, WebP, BMP, TIFF or GIF"
_UPLOAD_HINT = f"Upload a {ACCEPTED_TEXT} file."

# Signatures of formats we refuse, to name them in the message (checked by content).
_FOREIGN_MAGIC = (
    (b"8BPS", "Photoshop (PSD)"),
    (b"%!PS", "PostScript / EPS"),
    (b"\xc5\xd0\xd3\xc6", "EPS"),
    (b"\x00\x00\x01\x00", "Windows icon (ICO)"),
    (b"icns", "Apple icon (ICNS)"),
    (b"\x00\x00\x00\x0cjP  \r\n\x87\n", "JPEG 2000"),
    (b"\xffO\xffQ", "JPEG 2000"),
    (b"qoif", "QOI"),
    (b"DDS ", "DirectDraw Surface (DDS)"),
    (b"gimp xcf", "GIMP (XCF)"),
    (b"v/1\x01", "OpenEXR"),
    (b"#?RADIANCE", "Radiance HDR"),
    (b"SIMPLE  =", "FITS"),
    (b"FORM", "IFF"),
    (b"\x01\xda", "SGI"),
    (b"BLP", "Blizzard texture (BLP)"),
)
#: Names of Pillow's format identifiers in messages.
_FORMAT_NAMES = {"PSD": "Photoshop (PSD)", "EPS": "EPS", "ICO": "Windows icon (ICO)",
                 "JPEG2000": "JPEG 2000", "TGA": "TGA", "PCX": "PCX", "PPM": "Netpbm (PPM)",
                 "SGI": "SGI", "DDS": "DirectDraw Surface (DDS)", "QOI": "QOI",
                 "IM": "IFUNC image (IM)", "XBM": "X bitmap (XBM)", "XPM": "X pixmap (XPM)"}

# Modes whose samples are wider than 8 bits: Pillow's own convert("RGB") clips
# them to 255 instead of rescaling, which turns a 16-bit photo white. We scale them.
_HIGH_BIT_MODES = {"I;16", "I;16L", "I;16B", "I;16N", "I", "F"}
_ALPHA_MODES = {"RGBA", "RGBa", "LA", "La", "PA"}


class ImageLoadError(ValueError):
    """The bytes are not an image we can use; the message says why, for a person."""


@dataclass(frozen=True)
class LoadedImage:
    """A decoded image in canonical form.

    pixels: float32 array (H, W, 3), values in [0, 1], C-contiguous and read-only
        (it may sit in a shared cache: copy before editing).
    notices: what was done to get there, e.g. "downscaled from 6000x4000 to 1024x683".
    format: the container Pillow recognised ("PNG", "JPEG", ...).
    original_size: (width, height) as declared by the file, before any change.
    original_mode: Pillow's mode string of the file ("RGB", "I;16", "CMYK", ...).
    digest: `content_hash(pixels)`, a cache key for anything computed from it.
    """

    pixels: np.ndarray
    notices: tuple[str, ...]
    format: str
    original_size: tuple[int, int]
    original_mode: str
    digest: str

    @property
    def height(self) -> int:
        return int(self.pixels.shape[0])

    @property
    def width(self) -> int:
        return int(self.pixels.shape[1])


# --------------------------------------------------------------------------- loading


# Signatures of formats we read: a file that starts like one of these but that Pillow
# cannot identify is a damaged image, not a foreign file.
_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"\xff\xd8\xff", "JPEG"),
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
    (b"BM", "BMP"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
)


def _describe_foreign(data: bytes) -> str | None:
    """A message when the bytes are clearly some other kind of file (SVG, PDF, text)."""
    head = data[:2048]
    stripped = head.lstrip()
    if stripped[:5].lower() in (b"<?xml", b"<svg ", b"<svg>") or b"<svg" in head[:512].lower():
        return (
            "This looks like an SVG (vector) file, which cannot be used here. "
            "Export it as PNG or JPEG and upload that."
        )
    if stripped[:4] == b"%PDF":
        return f"This is a PDF document, not an image. {_UPLOAD_HINT}"
    try:  # tolerate a multi-byte character cut at the end of the sample
        text = codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        text = None
    if text is not None and text.strip():
        printable = sum(ch.isprintable() or ch in "\r\n\t" for ch in text)
        if printable / len(text) > 0.95:
            preview = " ".join(text.split())[:40]
            return (
                f"This is a text file (it starts with {preview!r}), not an image. "
                + _UPLOAD_HINT
            )
    return None


def _describe_unrecognised(data: bytes) -> str:
    """Best guess at what a file Pillow could not identify is, for the error message."""
    refused = _refused_by_magic(data)
    if refused:  # before the text check: an EPS is text, but should be named
        return _refused_message(refused)
    foreign = _describe_foreign(data)
    if foreign:
        return foreign
    head = data[:2048]
    for magic, name in _MAGIC:
        if head.startswith(magic):
            return (
                f"This file starts like a {name} image but could not be read: it is truncated "
                "or damaged."
            )
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return (
            "This file starts like a WebP image but could not be read: it is truncated or damaged."
        )
    refused = _refused_by_pillow(data)
    if refused:
        return _refused_message(refused)
    return (
        "This file is not an image format we can read (its content matches no known "
        f"image format, whatever its name says). {_UPLOAD_HINT}"
    )


def _refused_message(name: str) -> str:
    return (f"This file is in the {name} format, which this app does not decode (it "
            f"decides by content, whatever the file name says). {_UPLOAD_HINT}")


def _refused_by_magic(data: bytes) -> str | None:
    """The name of a format we do not decode, when its signature shows which one."""
    head = data[:64]
    for magic, name in _FOREIGN_MAGIC:
        if head.startswith(magic):
            return name
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in (b"avif", b"avis"):
            return "AVIF"
        if brand in (b"heic", b"heix", b"hevc", b"heim", b"heis", b"mif1", b"msf1"):
            return "HEIC / HEIF"
    if re.match(rb"P[1-7]\s", head):
        return "Netpbm (PBM/PGM/PPM)"
    return None


def _refused_by_pillow(data: bytes) -> str | None:
    """The name of another format Pillow knows (TGA, PCX, ...), from its header only:
    identified, never decoded."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(io.BytesIO(data)) as img:
                fmt = img.format
    except Exception:  # not identifiable: not an image at all
        return None
    if fmt in ACCEPTED_FORMATS:
        return None
    return _FORMAT_NAMES.get(str(fmt), str(fmt))


def _megapixels(n: int) -> str:
    return f"{n / 1e6:.1f} MP"


#: Peak memory of decoding, in bytes per declared pixel, by Pillow mode: the decoded
#: image plus the largest full-size intermediate of this module's pipeline. Measured
#: (peak RSS of a fresh process decoding a 4000x4000 file, see the report of issue
#: 11) and rounded up: 1 2.1, L 1.6, I;16 2.7, P 5.3 (9.1 with transparency), RGB 5.2,
#: CMYK and I 5.4, RGBA and LA 9.1, F 12.2; WebP decodes through extra buffers (15.6).
_PEAK_BYTES = {"1": 3, "L": 3, "I;16": 4, "I;16L": 4, "I;16B": 4, "I;16N": 4, "P": 10,
               "RGB": 6, "CMYK": 6, "I": 6, "YCbCr": 6, "LAB": 6, "HSV": 6, "RGBX": 6,
               "RGBA": 10, "RGBa": 10, "LA": 10, "La": 10, "PA": 10, "F": 13}
_PEAK_BYTES_WEBP = 16


def peak_bytes_per_pixel(mode: str, fmt: str = "") -> int:
    """Bytes per pixel of the declared size that decoding an image of this Pillow mode
    (and format) takes at its peak here (see ``_PEAK_BYTES``); 13 for unknown modes."""
    if fmt == "WEBP":
        return _PEAK_BYTES_WEBP
    return _PEAK_BYTES.get(mode, 13)


_MODE_NAMES = {"1": "black-and-white", "L": "8-bit greyscale", "P": "palette colour",
               "RGB": "8-bit colour", "RGBA": "8-bit colour with alpha",
               "LA": "greyscale with alpha", "I": "32-bit integer greyscale",
               "F": "32-bit float greyscale", "CMYK": "CMYK colour",
               "I;16": "16-bit greyscale", "I;16B": "16-bit greyscale"}


def check_header(size: tuple[int, int], mode: str, fmt: str, *,
                 max_pixels: int = DEFAULT_MAX_PIXELS,
                 max_decode_bytes: int = DEFAULT_MAX_DECODE_BYTES) -> None:
    """Refuse (``ImageLoadError``) from a lazily opened image's header alone: an empty
    size, more than ``max_pixels`` pixels, or a decoding peak above ``max_decode_bytes``.
    Shared by :func:`load_image_bytes` and :func:`core.io.photos.read_rgb`."""
    _check_declared_size(size, max_pixels)
    _check_memory(size, mode, fmt, max_decode_bytes)


def float_grey(img: Image.Image) -> tuple[np.ndarray, list[str]]:
    """A greyscale image of more than 8 bits (``I;16``, ``I``, ``F``) as float32 (H, W)
    in [0, 1], with notices (see ``_high_bit_to_float``)."""
    return _high_bit_to_float(img)


def _check_memory(size: tuple[int, int], mode: str, fmt: str, max_decode_bytes: int) -> None:
    """Refuse from the header when decoding would take more than ``max_decode_bytes``."""
    w, h = size
    need = w * h * peak_bytes_per_pixel(mode, fmt)
    if need > max_decode_bytes:
        raise ImageLoadError(
            f"The file declares {w}x{h} pixels of {_MODE_NAMES.get(mode, mode)}: decoding it "
            "would take about "
            f"{need / 2**20:.0f} MiB, more than the {max_decode_bytes / 2**20:.0f} MiB this "
            "app allows. It was refused without decoding; resize the image (or save it with "
            "8-bit colour) and upload it again."
        )


def _check_declared_size(size: tuple[int, int], max_pixels: int) -> None:
    """Refuse from the header, before decoding: the whole point of the bomb check."""
    w, h = size
    if w <= 0 or h <= 0:
        raise ImageLoadError(f"The file declares an empty image ({w}x{h} pixels).")
    if w * h > max_pixels:
        raise ImageLoadError(
            f"The file declares {w}x{h} pixels ({_megapixels(w * h)}), more than the "
            f"{_megapixels(max_pixels)} this app will decode. Files like this are refused "
            "without decoding them (they can be decompression bombs); resize the image "
            "and upload it again."
        )


def _bomb_message(pillow_text: str, max_pixels: int) -> str:
    """Our wording for Pillow's decompression-bomb refusal (which names the pixel count)."""
    found = re.search(r"\((\d+) pixels\)", pillow_text)
    if found:
        n = int(found.group(1))
        declared = f"{n:,} pixels ({_megapixels(n)}) "
    else:
        declared = "far more pixels "
    return (
        f"The file declares {declared}(more than the {_megapixels(max_pixels)} this app will "
        "decode) and was refused without decoding it: files like this can be decompression "
        "bombs. Resize the image and upload it again."
    )


def _raise_on_warnings(caught: list[warnings.WarningMessage], fmt: str, max_pixels: int) -> None:
    """Turn the warnings Pillow uses for refusals-in-all-but-name into errors."""
    for w in caught:
        if issubclass(w.category, Image.DecompressionBombWarning):
            raise ImageLoadError(_bomb_message(str(w.message), max_pixels))
        if "truncated" in str(w.message).lower():
            raise ImageLoadError(
                f"The {fmt} file could not be decoded: it is truncated ({w.message})."
            )


def _high_bit_to_float(img: Image.Image, clipped: bool = False) -> tuple[np.ndarray, list[str]]:
    """Greyscale samples wider than 8 bits -> float32 (H, W) in [0, 1].

    I;16*: unsigned 16-bit, x / 65535.
    I:     32-bit signed; in practice 16-bit data (older PNG/TIFF paths), so it is
           clipped to [0, 65535] then divided by 65535 (clipping is announced; ``clipped``
           says the full-size image had samples outside, when ``img`` is downscaled).
    F:     32-bit float; kept if already in [0, 1], else min-max rescaled (announced).
    """
    notices: list[str] = []
    if img.mode.startswith("I;16"):
        out = np.asarray(img).astype(np.float32) / np.float32(65535.0)
        notices.append(f"converted from 16-bit greyscale ({img.mode}), scaled by 1/65535")
    elif img.mode == "I":
        lo, hi = img.getextrema()
        if clipped or lo < 0 or hi > 65535:
            notices.append("32-bit integer samples outside 0..65535 were clipped")
        a = np.asarray(img).astype(np.float32)
        out = np.clip(a, 0, 65535, out=a) / np.float32(65535.0)
        notices.append("converted from 32-bit integer greyscale (I), scaled by 1/65535")
    else:  # "F": float32 throughout, in place (a 40 MP float TIFF once peaked at 1.15 GB)
        a = np.array(img, dtype=np.float32)
        finite = np.isfinite(a)
        if not finite.all():
            if not finite.any():
                raise ImageLoadError("The image contains no finite pixel values (all NaN or inf).")
            a[~finite] = np.nan
            a[~finite] = np.nanmin(a)  # no copy of the finite values
            notices.append("non-finite float samples (NaN/inf) replaced by the minimum")
        del finite
        lo, hi = float(a.min()), float(a.max())
        if lo >= 0.0 and hi <= 1.0:
            out = a
            notices.append("converted from 32-bit float greyscale (F)")
        else:
            span = np.float32(hi - lo if hi > lo else 1.0)
            a -= np.float32(lo)
            a /= span
            out = a
            notices.append(
                f"converted from 32-bit float greyscale (F), rescaled from [{lo:.4g}, {hi:.4g}]"
            )
    return out, notices


def _composite_alpha(img: Image.Image) -> tuple[Image.Image, list[str]]:
    """Any mode with transparency -> RGB, composited on white (or alpha dropped)."""
    rgba = img.convert("RGBA")
    lo, _hi = rgba.getchannel("A").getextrema()
    if lo == 255:
        return rgba.convert("RGB"), [f"alpha channel dropped ({img.mode}, fully opaque)"]
    white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    out = Image.alpha_composite(white, rgba).convert("RGB")
    return out, [f"transparent areas composited on white ({img.mode} with alpha)"]


def _to_rgb(img: Image.Image, clipped: bool = False) -> tuple[Image.Image | np.ndarray,
                                                               list[str]]:
    """Bring any Pillow mode to 8-bit RGB (a PIL image) or, for high-bit modes,
    to a float32 (H, W) greyscale array in [0, 1]."""
    mode = img.mode
    if mode == "RGB":
        return img, []
    if mode in _HIGH_BIT_MODES:
        return _high_bit_to_float(img, clipped)
    if mode in _ALPHA_MODES:
        return _composite_alpha(img)
    if mode == "P":
        if "transparency" in img.info:
            out, notes = _composite_alpha(img)
            return out, ["converted from a palette image", *notes]
        return img.convert("RGB"), ["converted from a palette image"]
    if mode == "L":
        return img.convert("RGB"), ["converted from greyscale"]
    if mode == "1":
        return img.convert("RGB"), ["converted from black-and-white (1-bit)"]
    if mode == "CMYK":
        return img.convert("RGB"), ["converted from CMYK"]
    try:  # YCbCr, LAB, HSV, and anything a future Pillow adds
        return img.convert("RGB"), [f"converted from {mode}"]
    except (ValueError, OSError) as exc:
        raise ImageLoadError(
            f"The image uses pixel mode {mode!r}, which cannot be converted to RGB."
        ) from exc


def _transpose_float(grey: np.ndarray, method: Image.Transpose) -> np.ndarray:
    im = Image.fromarray(np.ascontiguousarray(grey, dtype=np.float32), mode="F")
    return np.asarray(im.transpose(method), dtype=np.float32)


def _resize_float(grey: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Downscale a float32 (H, W) array with Lanczos (Pillow mode "F")."""
    im = Image.fromarray(np.ascontiguousarray(grey, dtype=np.float32), mode="F")
    return np.asarray(im.resize(size, Image.Resampling.LANCZOS), dtype=np.float32)


#: EXIF orientation (2-8) -> the transposition that shows the image upright (as
#: ``ImageOps.exif_transpose``); 1 is upright, anything else is not a valid value.
_ORIENTATION = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
#: Modes Pillow resizes in place with Lanczos (alpha modes premultiplied internally).
_RESIZABLE_MODES = {"L", "RGB", "RGBA", "LA", "CMYK", "I", "I;16", "I;16L", "I;16B", "RGBX"}


def _orientation(img: Image.Image) -> tuple[int | None, str | None]:
    """(transposition to apply or None, a notice or None) from the EXIF orientation tag."""
    try:
        raw = img.getexif().get(0x0112, 1)
        value = int(raw) if raw is not None else 1
    except Exception:  # a broken EXIF block must not break the image
        return None, "its EXIF orientation tag is broken and was ignored"
    if value == 1:
        return None, None
    if value in _ORIENTATION:
        return value, None
    return None, f"its EXIF orientation tag holds an invalid value ({value}) and was ignored"


def _fitted(w: int, h: int, max_side: int) -> tuple[int, int]:
    scale = max_side / max(w, h)
    return max(1, round(w * scale)), max(1, round(h * scale))


def load_image_bytes(
    data: bytes | bytearray | memoryview,
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    max_side: int = DEFAULT_MAX_SIDE,
    min_size: int = DEFAULT_MIN_SIZE,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_decode_bytes: int = DEFAULT_MAX_DECODE_BYTES,
    fit: str = "downscale",
) -> LoadedImage:
    """Decode untrusted bytes into a float32 (H, W, 3) image in [0, 1].

    Checked by content: the file name and MIME type play no part.
    - Refused (ImageLoadError): empty, larger than `max_bytes`, not an image (random
      bytes, text, SVG, PDF, ...), a format outside `ACCEPTED_FORMATS` (named in the
      message), declared W*H above `max_pixels` or an estimated decoding peak above
      `max_decode_bytes` (both from the header, before decoding), truncated or
      damaged, either side below `min_size` (also after downscaling a thin image).
    - Converted, with a notice: greyscale, 1-bit, 16-bit and 32-bit greyscale (scaled,
      not clipped), palette, RGBA/LA/PA (composited on white, or alpha dropped when
      fully opaque), CMYK and other modes; animated/multi-frame files (first frame);
      EXIF orientation applied (values 2-8; others are ignored, with a notice);
      longer side above `max_side` downscaled (Lanczos), or with ``fit="crop"`` its
      centre cut out, at most `max_side` on each side, starting on a multiple of 32
      pixels: no resampling, so a pattern locked to the pixels (a network's grid, a
      JPEG's blocks) survives as it was (:mod:`core.diagnose` reads such patterns).
    """
    if fit not in ("downscale", "crop"):
        raise ValueError(f"fit must be 'downscale' or 'crop', got {fit!r}")
    if min_size < 1 or max_side < min_size or max_pixels < 1:
        raise ValueError(
            f"need 1 <= min_size <= max_side and max_pixels >= 1, got min_size={min_size}, "
            f"max_side={max_side}, max_pixels={max_pixels}"
        )
    if not isinstance(data, bytes | bytearray | memoryview):
        raise TypeError(f"expected bytes, got {type(data).__name__}")
    data = bytes(data)
    if len(data) == 0:
        raise ImageLoadError("The file is empty (0 bytes).")
    if len(data) > max_bytes:
        raise ImageLoadError(
            f"The file is {len(data) / 2**20:.1f} MiB; the limit is {max_bytes / 2**20:.0f} MiB."
        )

    notices: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        # Recorded, not raised: Pillow *warns* (rather than raises) between 89.5 and
        # 179 MP, and warns "Truncated File Read" on some damaged TIFFs; both are
        # checked below and turned into refusals.
        warnings.simplefilter("always")
        try:
            # Lazy (reads the header only), and only our formats' parsers are tried.
            img = Image.open(io.BytesIO(data), formats=_OPEN_FORMATS)
        except UnidentifiedImageError:
            raise ImageLoadError(_describe_unrecognised(data)) from None
        except Image.DecompressionBombError as exc:
            raise ImageLoadError(_bomb_message(str(exc), max_pixels)) from None
        except Exception as exc:  # any parser failure is a bad file
            foreign = _describe_foreign(data)
            raise ImageLoadError(
                foreign or f"The file could not be read as an image (damaged header: {exc})."
            ) from None

        fmt = img.format or "unknown"
        if fmt not in ACCEPTED_FORMATS:  # belt and braces: ``formats=`` already limits it
            raise ImageLoadError(_refused_message(fmt))
        fmt = "JPEG" if fmt == "MPO" else fmt
        original_size = (int(img.size[0]), int(img.size[1]))
        original_mode = img.mode
        _check_declared_size(original_size, max_pixels)  # before any pixel is decoded
        _raise_on_warnings(caught, fmt, max_pixels)

        try:
            n_frames = int(getattr(img, "n_frames", 1))
            if n_frames > 1:
                img.seek(0)
                kind = "animated " if getattr(img, "is_animated", False) else "multi-frame "
                notices.append(f"first frame of an {kind}{fmt} ({n_frames} frames)")
            if fmt == "JPEG" and max(original_size) > max_side and fit == "downscale":
                # Let libjpeg decode at 1/2, 1/4 or 1/8 scale directly (DCT scaling):
                # far faster and lighter than decoding a 24 MP photo in full.
                img.draft("RGB", (max_side, max_side))
            # What decoding will take (after JPEG's draft scaling), before decoding.
            _check_memory((int(img.size[0]), int(img.size[1])), img.mode, fmt,
                          max_decode_bytes)
            img.load()
            # A file whose header lies about its size is caught here too.
            _check_declared_size((int(img.size[0]), int(img.size[1])), max_pixels)
        except ImageLoadError:
            raise
        except Image.DecompressionBombError as exc:
            raise ImageLoadError(
                f"The file was refused while decoding (a possible decompression bomb): {exc}"
            ) from None
        except Exception as exc:  # truncated/damaged data raise many types
            raise ImageLoadError(
                f"The {fmt} file could not be decoded: it is truncated or damaged ({exc})."
            ) from None
        _raise_on_warnings(caught, fmt, max_pixels)

    transpose, note = _orientation(img)
    if note:
        notices.append(note)
    elif transpose is not None:
        notices.append(f"rotated/flipped according to its EXIF orientation ({transpose})")

    # Downscale first, in the image's own mode where Pillow can (conversions then work
    # on the small image: the memory bound above counts on it).
    w, h = img.size
    if transpose in (5, 6, 7, 8):
        w, h = h, w  # the upright image's size
    if min(w, h) < min_size:
        raise ImageLoadError(
            f"The image is {w}x{h} pixels: too small to process. It needs at least "
            f"{min_size} pixels on each side."
        )
    resize_to, resize_note, crop_box = None, None, None
    if max(w, h) > max_side and fit == "crop":
        cw, ch = min(w, max_side), min(h, max_side)
        left, top = (w - cw) // 2 // 32 * 32, (h - ch) // 2 // 32 * 32
        resize_note = (f"cropped from {w}x{h} to its centre, {cw}x{ch} from pixel "
                       f"({left}, {top}) (at most {max_side} pixels a side, never resampled)")
        if transpose in (5, 6, 7, 8):  # Pillow's box is before the transposition
            crop_box = (top, left, top + ch, left + cw)
        else:
            crop_box = (left, top, left + cw, top + ch)
    elif max(w, h) > max_side:
        resize_to = _fitted(w, h, max_side)
        if min(resize_to) < min_size:
            raise ImageLoadError(
                f"The image is {w}x{h} pixels: too elongated to process. Fitting its longer "
                f"side into {max_side} pixels would leave {resize_to[0]}x{resize_to[1]}, and "
                f"at least {min_size} pixels are needed on each side."
            )
        ow, oh = original_size
        resize_note = (f"downscaled from {ow}x{oh} to {resize_to[0]}x{resize_to[1]} "
                       f"(the longer side is limited to {max_side} pixels)")
    # Pillow's size is (width, height) before the transposition.
    stored_size = None if resize_to is None else (
        (resize_to[1], resize_to[0]) if transpose in (5, 6, 7, 8) else resize_to)

    try:
        clipped = False
        if img.mode == "I":  # of the full image: a downscaled one would hide it
            lo, hi = img.getextrema()
            clipped = lo < 0 or hi > 65535
        if crop_box is not None:
            img = img.crop(crop_box)
        pre_notes: list[str] = []
        if stored_size is not None and img.mode in ("P", "1"):
            # No Lanczos for these: expand once to what they are converted to anyway.
            if img.mode == "1":
                img, pre_notes = img.convert("L"), ["converted from black-and-white (1-bit)"]
            else:
                mode = "RGBA" if "transparency" in img.info else "RGB"
                img, pre_notes = img.convert(mode), ["converted from a palette image"]
        if stored_size is not None and img.mode in _RESIZABLE_MODES:
            # Pillow's reduce() (the reducing_gap shortcut) has no 16-bit modes.
            gap = None if img.mode.startswith("I;16") else 3.0
            img = img.resize(stored_size, Image.Resampling.LANCZOS, reducing_gap=gap)
            stored_size = None
        converted, conv_notes = _to_rgb(img, clipped=clipped)
        if pre_notes:
            conv_notes = pre_notes + [n for n in conv_notes if n != "converted from greyscale"]
        del img
        if stored_size is not None:  # modes converted at full size first (P, 1, F, ...)
            if isinstance(converted, np.ndarray):
                converted = _resize_float(converted, stored_size)
            else:
                converted = converted.resize(stored_size, Image.Resampling.LANCZOS,
                                             reducing_gap=3.0)
        if transpose is not None:
            if isinstance(converted, np.ndarray):
                converted = _transpose_float(converted, _ORIENTATION[transpose])
            else:
                converted = converted.transpose(_ORIENTATION[transpose])
    except ImageLoadError:
        raise
    except Exception as exc:
        raise ImageLoadError(f"The image could not be converted to RGB ({exc}).") from None
    notices.extend(conv_notes)
    if resize_note:
        notices.append(resize_note)

    if isinstance(converted, np.ndarray):  # high-bit greyscale (H, W)
        grey = np.clip(converted, 0.0, 1.0).astype(np.float32)
        pixels = np.repeat(grey[:, :, None], 3, axis=2)  # (H, W, 3)
    else:
        pixels = np.asarray(converted, dtype=np.float32) / np.float32(255.0)  # (H, W, 3)
    pixels = np.ascontiguousarray(pixels, dtype=np.float32)
    pixels.setflags(write=False)
    return LoadedImage(
        pixels=pixels,
        notices=tuple(notices),
        format=fmt,
        original_size=original_size,
        original_mode=original_mode,
        digest=content_hash(pixels),
    )


