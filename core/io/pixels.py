"""Pixel-exact views and encodings: magnify, crop, difference, hash, PNG/GIF bytes.

These helpers never smooth: `magnify_nearest` repeats pixels (nearest-neighbour),
because a checkerboard artifact is a one-pixel pattern and any interpolation (including
the browser's) would blur away exactly what we want to show. `content_hash` exists
because `st.cache_data` hashes large arrays from a sample: two arrays that differ in one
pixel can hash equal there, so caches key on this instead.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

# --------------------------------------------------------------------------- helpers


def _check_image(img: np.ndarray, name: str = "image") -> np.ndarray:
    arr = np.asarray(img)
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] not in (1, 3, 4)):
        raise ValueError(
            f"{name} must have shape (H, W) or (H, W, C) with C in 1, 3, 4; got {arr.shape}"
        )
    return arr


def to_uint8(img: np.ndarray) -> np.ndarray:
    """Float image in [0, 1] -> uint8 (round half to even, values clipped first).

    A uint8 input is returned unchanged (as an array); other integer dtypes are refused
    because their range is ambiguous.
    """
    arr = _check_image(img)
    if arr.dtype == np.uint8:
        return arr
    if not np.issubdtype(arr.dtype, np.floating):
        raise ValueError(
            f"to_uint8 expects a float image in [0, 1] or uint8, got dtype {arr.dtype}"
        )
    return np.rint(np.clip(arr, 0.0, 1.0) * 255.0).astype(np.uint8)


def magnify_nearest(img: np.ndarray, factor: int) -> np.ndarray:
    """Enlarge by an integer factor with nearest neighbour: out[y, x] = img[y // f, x // f].

    Every pixel becomes an f x f block of identical values: no interpolation at all,
    so one-pixel patterns such as checkerboards stay exactly visible.
    (H, W[, C]) -> (f*H, f*W[, C]).
    """
    arr = _check_image(img)
    if isinstance(factor, bool) or not isinstance(factor, int | np.integer) or factor < 1:
        raise ValueError(f"factor must be an integer >= 1, got {factor!r}")
    f = int(factor)
    if f == 1:
        return arr.copy()
    return np.repeat(np.repeat(arr, f, axis=0), f, axis=1)


@dataclass(frozen=True)
class Region:
    """A rectangle of pixels: rows top..top+height-1, columns left..left+width-1."""

    top: int
    left: int
    height: int
    width: int

    def __post_init__(self) -> None:
        for name in ("top", "left", "height", "width"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | np.integer):
                raise ValueError(f"Region.{name} must be an integer, got {value!r}")
        if self.top < 0 or self.left < 0:
            raise ValueError(f"Region top/left must be >= 0, got ({self.top}, {self.left})")
        if self.height < 1 or self.width < 1:
            raise ValueError(f"Region height/width must be >= 1, got ({self.height}, {self.width})")

    def clamped(self, shape: Sequence[int]) -> Region:
        """The same region shrunk to fit an image of shape (H, W, ...) and moved inside it."""
        h, w = int(shape[0]), int(shape[1])
        if h < 1 or w < 1:
            raise ValueError(f"cannot fit a region into an empty image of shape {tuple(shape)}")
        height, width = min(self.height, h), min(self.width, w)
        top = min(self.top, h - height)
        left = min(self.left, w - width)
        return Region(int(top), int(left), int(height), int(width))


def crop_region(img: np.ndarray, region: Region) -> np.ndarray:
    """img[top:top+height, left:left+width]; the region must lie inside the image
    (use `region.clamped(img.shape)` first when the image may have changed)."""
    arr = _check_image(img)
    h, w = arr.shape[:2]
    if region.top + region.height > h or region.left + region.width > w:
        raise ValueError(f"{region} does not fit inside an image of {h}x{w} pixels (HxW)")
    return arr[region.top : region.top + region.height, region.left : region.left + region.width]


def abs_difference(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """|a - b| per pixel and channel, float32; shapes must match."""
    a32 = np.asarray(a, dtype=np.float32)
    b32 = np.asarray(b, dtype=np.float32)
    if a32.shape != b32.shape:
        raise ValueError(
            f"images must have the same shape to be compared, got {a32.shape} and {b32.shape}"
        )
    return np.abs(a32 - b32)


def content_hash(array: np.ndarray) -> str:
    """A digest of every byte of the array plus its dtype and shape (hex, 32 chars).

    Unlike `st.cache_data`'s sampling hash, two arrays differing in one element differ
    here; the same bytes with another shape or dtype differ too.
    """
    arr = np.ascontiguousarray(array)
    h = hashlib.blake2b(digest_size=16)
    h.update(f"{arr.dtype.str}|{arr.shape}|".encode())
    h.update(memoryview(arr).cast("B"))
    return h.hexdigest()


def tile_grid(
    rows: Sequence[Sequence[np.ndarray]], *, gap: int = 4, background: float = 1.0
) -> np.ndarray:
    """Lay images out in a grid (list of rows), each cell padded to its row's height and
    its column's width, `gap` pixels of `background` between cells. Images are float
    (H, W, 3) or (H, W) in [0, 1]; the result is float32 (H_total, W_total, 3)."""
    if not rows or any(len(r) == 0 for r in rows):
        raise ValueError("tile_grid needs at least one image in every row")
    if gap < 0:
        raise ValueError(f"gap must be >= 0, got {gap}")
    cells = [[_as_rgb_float(im) for im in row] for row in rows]
    n_cols = max(len(r) for r in cells)
    row_h = [max(c.shape[0] for c in r) for r in cells]
    col_w = [max(r[j].shape[1] for r in cells if j < len(r)) for j in range(n_cols)]
    total_h = sum(row_h) + gap * (len(cells) - 1)
    total_w = sum(col_w) + gap * (n_cols - 1)
    out = np.full((total_h, total_w, 3), background, dtype=np.float32)
    y = 0
    for i, r in enumerate(cells):
        x = 0
        for j, c in enumerate(r):
            out[y : y + c.shape[0], x : x + c.shape[1]] = c
            x += col_w[j] + gap
        y += row_h[i] + gap
    return out


def _as_rgb_float(img: np.ndarray) -> np.ndarray:
    arr = _check_image(img)
    if arr.dtype == np.uint8:
        arr = arr.astype(np.float32) / 255.0
    arr = np.asarray(arr, dtype=np.float32)
    if arr.ndim == 2:
        arr = np.repeat(arr[:, :, None], 3, axis=2)
    elif arr.shape[2] == 1:
        arr = np.repeat(arr, 3, axis=2)
    elif arr.shape[2] == 4:
        arr = arr[:, :, :3]
    return arr


def to_png_bytes(img: np.ndarray) -> bytes:
    """Encode a float [0, 1] or uint8 image, (H, W) or (H, W, 3|4), as PNG (lossless)."""
    arr = to_uint8(img)
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    from PIL import Image  # imported here: the audit's command line reads no image

    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(arr)).save(buf, format="PNG")
    return buf.getvalue()


def to_gif_bytes(frames: Sequence[np.ndarray], duration_ms: int = 500, *, loop: int = 0) -> bytes:
    """Encode frames (same shape, float [0, 1] or uint8) as an animated GIF.

    Each frame gets its own 256-colour palette (median cut) with dithering OFF:
    dithering would add its own fine pattern on top of the checkerboards we show.
    `loop=0` loops forever. Pillow merges consecutive identical frames (adding
    their durations), so the file may hold fewer frames than given.
    """
    if len(frames) == 0:
        raise ValueError("to_gif_bytes needs at least one frame")
    if duration_ms < 1:
        raise ValueError(f"duration_ms must be >= 1, got {duration_ms}")
    shapes = {np.asarray(f).shape[:2] for f in frames}
    if len(shapes) != 1:
        raise ValueError(f"all frames must have the same height and width, got {sorted(shapes)}")
    from PIL import Image

    pil_frames = []
    for f in frames:
        rgb = to_uint8(_as_rgb_float(f))
        pil_frames.append(
            Image.fromarray(rgb).quantize(
                colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE
            )
        )
    buf = io.BytesIO()
    pil_frames[0].save(
        buf,
        format="GIF",
        save_all=True,
        append_images=pil_frames[1:],
        duration=int(duration_ms),
        loop=int(loop),
        disposal=1,
    )
    return buf.getvalue()
