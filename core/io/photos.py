"""The photographs that ship inside our dependencies, and reading image files.

* :func:`find_images` lists a folder recursively (jpg, jpeg, png, webp, bmp, tif,
  tiff); :func:`load_images` decodes them to uint8 (H, W, 3), skipping and counting
  the files that cannot be read instead of failing.
* The photographs and textures packaged with scikit-image and scikit-learn are read as
  plain files from the packages' folders (some ``skimage.data`` functions download, so
  they are never called). The split is fixed once and for all:
  :data:`SKIMAGE_HELDOUT` (astronaut, chelsea, coffee) are never trained on and serve as
  the validation set and the gallery's images (:func:`heldout_images`), and
  scikit-learn's ``china.jpg`` (:data:`UNSEEN`, a detailed 427x640 photograph sharing no
  scene with any training image) is a second, harder unseen test
  (:func:`unseen_images`).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from .decode import (
    DEFAULT_MAX_BYTES,
    DEFAULT_MAX_DECODE_BYTES,
    DEFAULT_MAX_PIXELS,
    check_header,
    float_grey,
)
from .files import open_regular
from .pixels import to_uint8
from .text import safe_text

#: Most files and folders a data folder may hold, all levels together (``find_images``).
MAX_FOLDER_ENTRIES = 200_000

#: File suffixes read as images (case-insensitive).
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff")

#: The colour photographs shipped in scikit-image's data folder, by file name.
SKIMAGE_TRAIN = (
    "hubble_deep_field.jpg",
    "ihc.png",
    "motorcycle_left.png",
    "motorcycle_right.png",  # stereo pair with _left: both on the same side of the split
    "retina.jpg",
    "rocket.jpg",
)
SKIMAGE_HELDOUT = ("astronaut.png", "chelsea.png", "coffee.png")
#: scikit-image's greyscale photographs and textures used for training. Left out:
#: chessboard_GRAY (not a photograph), clock_motion (motion-blurred on purpose),
#: microaneurysms (102 px), and the non-photographs named in the module docstring.
SKIMAGE_GREY_TRAIN = (
    "brick.png", "camera.png", "cell.png", "coins.png", "grass.png", "gravel.png",
    "moon.png", "page.png", "text.png",
)
#: scikit-learn's two photographs (CC BY 2.0): one to train on, one held out.
SKLEARN_TRAIN = ("flower.jpg",)
UNSEEN = ("china.jpg",)
#: Sampling weight of a greyscale training image relative to a colour one.
GREY_WEIGHT = 0.5

#: Side of the square held-out images (resized so the short side is this, centre-cropped).
HELDOUT_SIZE = 256


def skimage_data_dir() -> Path:
    """The folder of scikit-image's bundled data files (no download involved)."""
    import skimage  # local import: only needed for the default data

    return Path(skimage.__file__).parent / "data"


def sklearn_images_dir() -> Path:
    """The folder of scikit-learn's two bundled photographs (no download involved)."""
    import sklearn  # local import: only needed for the default data

    return Path(sklearn.__file__).parent / "datasets" / "images"


def find_images(folder: str | Path, *, max_entries: int = MAX_FOLDER_ENTRIES,
                suffixes: tuple[str, ...] | None = IMAGE_EXTENSIONS) -> list[Path]:
    """All files under ``folder`` (recursively, links to folders not followed) whose suffix
    is in ``suffixes`` (IMAGE_EXTENSIONS; None: every regular file, for a caller that
    lets the content decide, as the diagnosis does), sorted.

    ``ValueError`` naming the place (:func:`core.io.text.safe_text`) when ``folder`` is
    not a folder, when a file or folder inside cannot be read (``/proc``: permission
    denied), or when it holds more than ``max_entries`` entries in all: a refusal before
    any work, never a traceback or an endless walk.
    """
    root = Path(folder)
    shown = safe_text(root)
    try:
        is_dir = root.is_dir()
    except OSError as exc:
        raise ValueError(f"data folder {shown!r} cannot be read ({exc.strerror or exc})") \
            from exc
    if not is_dir:
        raise ValueError(f"data folder {shown!r} does not exist or is not a folder")
    found, pending, seen = [], [root], 0
    while pending:
        here = pending.pop()
        try:
            with os.scandir(here) as entries:
                for entry in entries:
                    seen += 1
                    if seen > max_entries:
                        raise ValueError(f"data folder {shown!r} holds more than "
                                         f"{max_entries:,} files and folders: refused "
                                         "unread (point --data at the images' own folder)")
                    if entry.is_dir(follow_symlinks=False):
                        pending.append(Path(entry.path))
                    elif ((suffixes is None or Path(entry.name).suffix.lower() in suffixes)
                          and entry.is_file()):
                        found.append(Path(entry.path))
        except FileNotFoundError:
            continue  # vanished while listed (a process folder of /proc): nothing to read
        except OSError as exc:
            where = safe_text(exc.filename or here)
            raise ValueError(f"data folder {shown!r} cannot be read: {where!r}: "
                             f"{exc.strerror or exc}") from exc
    return sorted(found)


def read_rgb(path: str | Path, *, max_pixels: int = DEFAULT_MAX_PIXELS,
             max_decode_bytes: int = DEFAULT_MAX_DECODE_BYTES) -> np.ndarray:
    """Decode one image file to uint8 (H, W, 3), first frame, EXIF orientation applied.

    Bounded like :func:`core.io.decode.load_image_bytes`: only a regular file of at most
    :data:`core.io.decode.DEFAULT_MAX_BYTES`, and refused from its header (nothing
    decoded) when it declares more than ``max_pixels`` pixels or its decoding would take
    more than ``max_decode_bytes`` (:func:`core.io.decode.check_header`). 16-bit and
    32-bit integer greyscale is scaled by its maximum; 32-bit float greyscale (mode F)
    is read as :func:`core.io.decode.float_grey` reads it (kept when in [0, 1], else
    rescaled), never cast to black.

    Raises ``ValueError`` naming the file when it cannot be decoded or is refused.
    """
    from PIL import ImageOps

    shown = safe_text(path)
    try:
        fd, _size = open_regular(path, DEFAULT_MAX_BYTES, "image")
        with os.fdopen(fd, "rb") as f, warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # checked below
            with Image.open(f) as im:
                check_header((int(im.size[0]), int(im.size[1])), im.mode, im.format or "",
                             max_pixels=max_pixels, max_decode_bytes=max_decode_bytes)
                im.seek(0)
                im = ImageOps.exif_transpose(im)
                if im.mode == "F":
                    grey, _notes = float_grey(im)  # (H, W) float32 in [0, 1]
                    im = Image.fromarray(to_uint8(grey))
                elif im.mode in ("I;16", "I;16B", "I;16L", "I"):
                    arr = np.asarray(im, dtype=np.float64)
                    arr = arr / max(arr.max(), 1.0) * 255.0
                    im = Image.fromarray(arr.astype(np.uint8))
                if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P"
                                                       and "transparency" in im.info):
                    rgba = im.convert("RGBA")
                    background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
                    im = Image.alpha_composite(background, rgba)
                if im.mode != "RGB":  # (no copy of an RGB image: one full-size less)
                    im = im.convert("RGB")
                rgb = np.asarray(im, dtype=np.uint8)  # (H, W, 3)
    except (OSError, UnidentifiedImageError, ValueError, Image.DecompressionBombError,
            Image.DecompressionBombWarning) as exc:
        raise ValueError(f"cannot read image {shown!r}: {safe_text(exc)}") from exc
    return np.ascontiguousarray(rgb)


@dataclass
class ImageSet:
    """Decoded images plus what was skipped (path -> reason)."""

    names: list[str]
    images: list[np.ndarray]  # uint8 (H, W, 3) each
    skipped: dict[str, str] = field(default_factory=dict)


def load_images(paths: Sequence[str | Path], *, min_size: int = 1) -> ImageSet:
    """Decode ``paths``; unreadable files or images smaller than ``min_size`` are skipped."""
    names, images, skipped = [], [], {}
    for p in paths:
        try:
            img = read_rgb(p)
        except ValueError as exc:
            skipped[str(p)] = str(exc)
            continue
        if min(img.shape[:2]) < min_size:
            skipped[str(p)] = f"smaller than {min_size} px ({img.shape[1]}x{img.shape[0]})"
            continue
        names.append(str(p))
        images.append(img)
    return ImageSet(names, images, skipped)


def resize_center_crop(img: np.ndarray, size: int) -> np.ndarray:
    """Resize (Lanczos) so the short side is ``size``, then crop the centre size x size."""
    h, w = img.shape[:2]
    scale = size / min(h, w)
    nh, nw = max(size, round(h * scale)), max(size, round(w * scale))
    im = Image.fromarray(img).resize((nw, nh), Image.Resampling.LANCZOS)
    arr = np.asarray(im)
    top, left = (nh - size) // 2, (nw - size) // 2
    return np.ascontiguousarray(arr[top : top + size, left : left + size])


def heldout_images(size: int = HELDOUT_SIZE) -> dict[str, np.ndarray]:
    """The held-out photographs (never trained on): name -> float32 (size, size, 3) in [0, 1].

    Names are the file stems (``astronaut``, ``chelsea``, ``coffee``). Each photograph
    is resized so its short side is ``size`` and centre-cropped to a square.
    """
    folder = skimage_data_dir()
    out = {}
    for fname in SKIMAGE_HELDOUT:
        img = resize_center_crop(read_rgb(folder / fname), size)  # (size, size, 3) uint8
        out[Path(fname).stem] = img.astype(np.float32) / 255.0
    return out


def unseen_images() -> dict[str, np.ndarray]:
    """The detailed unseen photograph(s) :data:`UNSEEN` at full size: name -> float32
    (H, W, 3) in [0, 1]. Never trained on; harder than the held-out set (fine detail)."""
    folder = sklearn_images_dir()
    return {Path(f).stem: read_rgb(folder / f).astype(np.float32) / 255.0 for f in UNSEEN}


