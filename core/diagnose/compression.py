"""A JPEG's own 8x8 blocks, recognised from the pixels.

A JPEG encoder codes each 8x8 block of luma (and, with the usual 4:2:0 chroma
subsampling, each 16x16 block of colour) on its own; the quantisation error is
independent from block to block, so the step from the last pixel of a block to the first
of the next is larger, on average, than the steps inside a block. That is the blocks'
signature: the mean absolute step of the fine detail across each column boundary
``x mod 8`` (and each row boundary), one of the eight larger than every other of the
eight, along both directions. One, not two or four: a network's period-4 or period-2
grid makes steps that repeat every 4 or 2 pixels, two or four equal peaks in the eight. It is a *second-order*
signature (the size of steps, not their sign). A network's grid is first-order, a pattern
of signed values, which is what :mod:`core.diagnose.lattice` tests; in a JPEG that test
takes its null for the lines of the spectrum the blocks light up (multiples of 1/8 and
1/16) along those lines, so a network's period-8 grid is still found in a JPEG when its
pattern differs from the blocks'.

Measured on the packaged photographs (``benchmarks/diagnose.py``): the ratio reads
1.00-1.05 on the PNGs and above :data:`BLOCK_RATIO` at JPEG qualities up to 90; above
that the blocks are too faint to matter to the test, and a file's format still says JPEG.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: The largest boundary step over the second largest, along both directions, that marks
#: JPEG blocks.
BLOCK_RATIO = 1.08
BLOCK = 8


@dataclass(frozen=True)
class JpegBlocks:
    """``found``: the picture carries JPEG blocks (from the file's format or from the
    pixels); ``ratio``: the boundary steps over the median step (rows, columns);
    ``offset``: where the blocks start (row, column), as the pixels show it;
    ``from_file``: the file itself is a JPEG."""

    found: bool
    ratio: tuple[float, float]
    offset: tuple[int, int]
    from_file: bool


def _profile(detail: np.ndarray, axis: int) -> np.ndarray:
    """Mean absolute step of ``detail`` across each boundary ``k -> k + 1`` along
    ``axis``, folded modulo 8: eight values, index ``k mod 8``."""
    steps = np.abs(np.diff(detail, axis=axis)).mean(axis=1 - axis)  # (n - 1,)
    n = steps.shape[0] // BLOCK * BLOCK
    return steps[:n].reshape(-1, BLOCK).mean(axis=0)


def jpeg_blocks(detail: np.ndarray, *, from_file: bool = False) -> JpegBlocks:
    """Recognise JPEG blocks in the fine detail ``detail`` ``(h, w)`` (the lattice test's
    own, :func:`core.diagnose.lattice.detail`, which starts at an even pixel, two pixels
    in: offsets are given in the picture's own pixels)."""
    if min(detail.shape) < 4 * BLOCK:
        return JpegBlocks(from_file, (1.0, 1.0), (0, 0), from_file)
    ratios, offsets = [], []
    for axis in (0, 1):
        prof = _profile(detail, axis)
        k = int(np.argmax(prof))
        second = float(np.sort(prof)[-2])
        ratios.append(float(prof[k] / max(second, 1e-12)))
        offsets.append((k + 1 + 2) % BLOCK)  # step k -> k + 1; the detail starts 2 px in
    found = from_file or min(ratios) >= BLOCK_RATIO
    return JpegBlocks(found, (ratios[0], ratios[1]), (offsets[0], offsets[1]), from_file)
