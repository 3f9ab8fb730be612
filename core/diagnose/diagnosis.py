"""Diagnose one picture: read it, run the lattice test, measure and explain the grid.

:func:`diagnose` takes an image array, the bytes of a file or a path, and returns a
:class:`~core.diagnose.result.Diagnosis`. Files go through the lab's one decoder
(:func:`core.io.decode.load_image_bytes`: content decides the format, bombs are refused
from the header, every odd mode converted), with one difference from the other pages: a
picture larger than :data:`MAX_SIDE` is *cropped* to its centre, never downscaled, since
resampling would blur away the very pattern we look for.

A grid is reported when the lattice test (:mod:`core.diagnose.lattice`) finds one at its
stated family-wise false-positive rate **and** the grid is at least
:data:`MIN_GRID_LEVELS` grey levels RMS: rounding an interpolated or edited picture to
8 bits leaves lattice-locked patterns of a few hundredths to a few tenths of a grey level
(the rounding error itself is 0.29 levels RMS), real and significant in a large smooth
picture, but nobody's network grid and invisible even in the fine detail x10.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from ..io.decode import DEFAULT_MAX_BYTES, ImageLoadError, load_image_bytes
from ..io.files import open_regular
from ..maths.metrics import checkerboard_score, most_artifacted_region, phase_pattern
from .compression import jpeg_blocks
from .lattice import ALPHA, MAX_PERIOD, detail, find_grid, grid_amplitude, luma
from .meaning import fix, meaning
from .result import Diagnosis

#: A picture larger than this on a side is cropped to its centre (never resampled).
MAX_SIDE = 2048
#: The smallest picture diagnosed, on each side (8 repeats of period 4).
MIN_SIDE = 32
#: The weakest grid reported, RMS in grey levels (0-255).
MIN_GRID_LEVELS = 0.25


def _as_pixels(image) -> np.ndarray:
    """An array as float (H, W, C) in [0, 1]: uint8 scaled, floats kept, checked."""
    arr = np.asarray(image)
    if arr.ndim == 2:
        arr = arr[:, :, None]
    if arr.ndim != 3 or arr.shape[2] not in (1, 2, 3, 4):
        raise ImageLoadError(f"an image array must be (H, W) or (H, W, C) with C = 1 to 4, "
                             f"got shape {arr.shape}")
    if arr.dtype == np.uint8:
        arr = arr.astype(np.float32) / np.float32(255.0)
    elif arr.dtype == np.uint16:
        arr = arr.astype(np.float32) / np.float32(65535.0)
    elif not np.issubdtype(arr.dtype, np.floating):
        raise ImageLoadError(f"an image array must be uint8, uint16 or float, got {arr.dtype}")
    if arr.shape[2] == 4:
        arr = arr[:, :, :3]
    if min(arr.shape[:2]) < MIN_SIDE:
        raise ImageLoadError(f"The image is {arr.shape[1]}x{arr.shape[0]} pixels: too small to "
                             f"diagnose. It needs at least {MIN_SIDE} pixels on each side.")
    if not np.all(np.isfinite(arr)):
        raise ImageLoadError("The image holds values that are not finite numbers.")
    return arr


def load_picture(source) -> tuple[np.ndarray, str | None, bool, tuple[str, ...]]:
    """``(pixels, name, is_jpeg_file, notices)`` of an array, file bytes or a path.

    Refusals raise :class:`core.io.decode.ImageLoadError` with one line for a person.
    """
    if isinstance(source, np.ndarray):
        return _as_pixels(source), None, False, ()
    name = None
    if isinstance(source, str | Path):
        name = str(source)
        try:
            fd, _size = open_regular(source, DEFAULT_MAX_BYTES, "image")
        except ValueError as err:
            raise ImageLoadError(str(err)) from None
        with open(fd, "rb", closefd=True) as fh:
            data = fh.read(DEFAULT_MAX_BYTES + 1)
    elif isinstance(source, bytes | bytearray | memoryview):
        data = bytes(source)
    else:
        raise TypeError(f"diagnose takes an image array, bytes or a path, not "
                        f"{type(source).__name__}")
    loaded = load_image_bytes(data, max_side=MAX_SIDE, min_size=MIN_SIDE, fit="crop")
    return loaded.pixels, name, loaded.format == "JPEG", loaded.notices


def _evidence_table(values: np.ndarray) -> tuple[float, ...]:
    """Periods 2 to :data:`MAX_PERIOD` (0 where not tested)."""
    out = np.zeros(MAX_PERIOD - 1)
    n = min(len(values) - 1, MAX_PERIOD - 1)
    out[:n] = values[1:n + 1]
    return tuple(round(float(v), 3) for v in out)


def diagnose(source, *, name: str | None = None, alpha: float = ALPHA,
             jpeg: bool | None = None) -> Diagnosis:
    """Diagnose one picture: an image array ((H, W) or (H, W, C), uint8 or float in
    [0, 1]), the bytes of an image file, or a path to one.

    ``name``: the file name to report (a path's own name by default). ``alpha``: the
    family-wise false-positive rate of the lattice test. ``jpeg``: whether the picture
    was a JPEG file (None: the file's format says, or for an array the pixels alone).
    """
    pixels, path_name, is_jpeg_file, notices = load_picture(source)
    if jpeg is not None:
        is_jpeg_file = bool(jpeg)
    grey = luma(pixels)  # (H, W)
    fine = detail(grey)
    blocks = jpeg_blocks(fine, from_file=is_jpeg_file)
    # A JPEG file's blocks start at its first pixel, unless it was cropped to MAX_SIDE;
    # otherwise where the pixels show them.
    cropped = max(grey.shape) >= MAX_SIDE
    offset = (0, 0) if blocks.from_file and not cropped else blocks.offset
    finding = find_grid(grey, alpha=alpha, jpeg_lines=blocks.found, fine=fine,
                        block_offset=offset)
    rows_cols = finding.periods or (4, 4)
    amp = grid_amplitude(fine, *rows_cols, finding.null)
    grid = finding.periods is not None and 255.0 * amp.rms >= MIN_GRID_LEVELS
    period = finding.periods if grid else None
    lattice = math.lcm(*period) if period else 4
    rows_ev, cols_ev = finding.first.by_direction()
    score = checkerboard_score(grey, lattice) if min(grey.shape) >= 4 * lattice \
        else float("nan")
    pattern = phase_pattern(grey, lattice) if grid else None
    side = min(min(pixels.shape[:2]), max(64, 4 * lattice))
    region = most_artifacted_region(grey, lattice, side) if grid else None
    return Diagnosis(
        file=name if name is not None else path_name,
        size=(int(pixels.shape[0]), int(pixels.shape[1])),
        grid=bool(grid),
        period=period,
        score=float(score),
        rms=float(amp.rms) if grid else 0.0,
        times_own=float(amp.times_own),
        log10_p=float(finding.first.log10_p.min()),
        alpha=alpha,
        rows_evidence=_evidence_table(rows_ev),
        cols_evidence=_evidence_table(cols_ev),
        jpeg_blocks=bool(blocks.found),
        jpeg_from_file=bool(blocks.from_file),
        meaning=meaning(period) if period else "",
        fix=fix() if period else "",
        pattern=pattern,
        region=region,
        notices=notices,
    )



def grid_map(pixels: np.ndarray, diagnosis: Diagnosis) -> tuple[np.ndarray, int, int, int]:
    """Where the grid is plainest: the share of the fine detail that is the grid's
    periodic pattern in every window (:func:`core.maths.metrics.local_checkerboard_map`,
    ``share=True``) at the grid's square period. Returns ``(shares, y0, x0, window)``:
    ``shares[i, j]`` belongs to the window of side ``window`` whose top-left pixel is
    ``(y0 + i * L, x0 + j * L)``."""
    from ..maths.metrics import local_checkerboard_map

    lattice = diagnosis.lattice_period
    grey = luma(pixels)
    window = max(4 * lattice, min(grey.shape) // 8 // lattice * lattice)
    shares, y0, x0 = local_checkerboard_map(grey, lattice, window, share=True)
    return shares, y0, x0, window
