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

A network's grid inside a JPEG is requantised with the blocks and echoes at their period
(a 4x4 grid reads 4x8): :func:`block_growth_p` tells the echo from a grid that really
repeats every 8 pixels, from the blocks' own DCT coefficients
(:func:`core.diagnose.lattice.find_grid` asks it before a grid grows within the block),
and :func:`block_periods` trims a grid found within the block to the smallest periods
whose block pattern it is (a 4x2 grid whose weak half-period columns the encoder
quantised away reads 4x8 in the spectrum, yet its blocks hold nothing a 4x2 pattern
cannot reach).
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


#: In a JPEG, growth of a grid within the 8x8 block is the network's only when the block
#: DCT coefficients the smaller grid cannot reach hold power at this false-positive rate.
ECHO_ALPHA = 0.01


def _dct_matrix() -> np.ndarray:
    """The orthonormal 8-point DCT-II, ``(8, 8)``: row ``k`` is basis function ``k``."""
    k, y = np.arange(BLOCK)[:, None], np.arange(BLOCK)[None, :]
    basis = np.cos(np.pi * (2 * y + 1) * k / (2 * BLOCK))
    basis[0] /= np.sqrt(2.0)
    return basis * np.sqrt(2.0 / BLOCK)


def reachable(period: int) -> np.ndarray:
    """Boolean ``(8,)``: the DCT coefficients of an 8-pixel block that a pattern repeating
    every ``period`` pixels (``period`` divides 8) can reach."""
    dct = _dct_matrix()
    phases = np.arange(BLOCK) % period  # one pattern per phase: its indicator, tiled
    indicators = (phases[None, :] == np.arange(period)[:, None]).astype(float)  # (period, 8)
    return np.abs(indicators @ dct.T).max(axis=0) > 1e-9


def block_means(grey: np.ndarray, offset: tuple[int, int] = (0, 0)
                ) -> tuple[np.ndarray, np.ndarray] | None:
    """The blocks of the luma ``grey`` (starting at ``offset``), each one's DCT: the mean of
    each of the 64 coefficients over the blocks and that mean's variance (the blocks'
    spread over their count), ``((8, 8), (8, 8))``; None with under 4 blocks."""
    h, w = grey.shape
    oy, ox = offset[0] % BLOCK, offset[1] % BLOCK
    hb, wb = (h - oy) // BLOCK * BLOCK, (w - ox) // BLOCK * BLOCK
    blocks = grey[oy:oy + hb, ox:ox + wb].reshape(hb // BLOCK, BLOCK, wb // BLOCK, BLOCK)
    dct = _dct_matrix()
    blocks = blocks.transpose(0, 2, 1, 3).reshape(-1, BLOCK, BLOCK)  # (n, 8, 8)
    coeffs = dct @ blocks @ dct.T  # each block's DCT
    n = coeffs.shape[0]
    if n < 4:
        return None
    return coeffs.mean(axis=0), np.maximum(coeffs.var(axis=0, ddof=1) / n, 1e-30)


def _reach(periods: tuple[int, int]) -> np.ndarray:
    """Boolean ``(8, 8)``: the block DCT coefficients a ``rows x cols`` pattern reaches."""
    return reachable(periods[0])[:, None] & reachable(periods[1])[None, :]


def _chi2_p(mean: np.ndarray, var: np.ndarray, where: np.ndarray) -> float:
    """P-value of the coefficients ``where`` all having mean 0 (a chi-square sum)."""
    from scipy.special import gammaincc

    k = int(where.sum())
    if k == 0:
        return 1.0
    return float(gammaincc(k / 2.0, float(np.sum(mean[where] ** 2 / var[where])) / 2.0))


def block_growth_p(grey: np.ndarray, old: tuple[int, int], new: tuple[int, int],
                   offset: tuple[int, int] = (0, 0)) -> float:
    """The p-value of growing a grid from periods ``old`` to ``new`` (each dividing 8) in a
    JPEG, against the growth being the encoder's echo of the ``old`` grid.

    A JPEG quantises each 8x8 block's DCT coefficients on its own. Averaged over the
    blocks, what that does to a grid repeating in every block is to shrink each of the
    grid's DCT coefficients by its own factor (the dead zone around 0 swallows small ones
    more often); a shrink that differs from coefficient to coefficient no longer repeats
    at the grid's periods: it *echoes* at the block's (a 4x4 grid reads 4x8 or 8x8), but
    it stays on the coefficients the grid had. A network's grid at the larger periods also
    puts power on the coefficients only they reach (:func:`reachable`). So: the blocks of
    the luma ``grey`` (starting at ``offset``), each one's DCT; on those coefficients,
    the mean over the blocks squared over its variance (the blocks' spread over their
    count) is a chi-square variable with one degree of freedom each when no grid is
    there; the p-value of their sum.
    """
    stats = block_means(grey, offset)
    if stats is None:
        return 1.0
    only_new = _reach(new) & ~_reach(old)
    return _chi2_p(*stats, only_new)


#: A grid within the block is trimmed to a divisor of its periods when the block DCT
#: coefficients only the full periods reach show no sign of a pattern (their p-value above
#: this), or hold under :data:`ECHO_SHARE` of the block pattern's power.
ECHO_KEEP = 0.1
#: The share of the block pattern's power below which what the full periods alone reach
#: is a second-order product of the smaller grid (clipping at black or white), not a grid.
ECHO_SHARE = 1e-3


def _divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


def block_periods(grey: np.ndarray, periods: tuple[int, int],
                  offset: tuple[int, int] = (0, 0)) -> tuple[int, int]:
    """The smallest periods ``(r, c)`` (``r`` dividing ``periods[0]``, ``c`` dividing
    ``periods[1]``, both dividing 8) that explain the block pattern of a grid found at
    ``periods`` in a JPEG: ``periods`` itself unless a divisor does.

    The encoder quantises each block's DCT coefficients on its own, so its echo of a grid
    that repeats in every block stays on the coefficients the grid reaches (:func:`reachable`),
    however the spectrum reads it (a 4x2 grid can read 4x8 once its weak half-period
    columns are quantised away). So a divisor ``(r, c)`` explains the grid when the mean over
    the blocks of the coefficients only ``periods`` reaches is consistent with 0 (p-value
    above :data:`ECHO_KEEP`) or carries under :data:`ECHO_SHARE` of the power of all the
    coefficients ``periods`` reaches (the second-order trace of a strong grid clipped at
    black or white). Ties (as many pixels to a tile): the divisor with the least sign of
    anything beyond it. The DCT must see the grid at all: where even ``(1, 1)`` explains
    it, the spectrum's finding is kept.
    """
    rows, cols = periods
    if BLOCK % rows or BLOCK % cols:
        return periods
    stats = block_means(grey, offset)
    if stats is None:
        return periods
    mean, var = stats
    full = _reach(periods)
    full[0, 0] = False  # the blocks' mean brightness is no pattern
    power = np.maximum(mean ** 2 - var, 0.0)  # each coefficient's, its noise taken off
    total = float(power[full].sum())
    if _chi2_p(mean, var, full) > ECHO_KEEP:
        return periods  # the block DCT does not see this grid: nothing to trim by
    best = (rows * cols, 0.0, periods)
    for r in _divisors(rows):
        for c in _divisors(cols):
            beyond = full & ~_reach((r, c))
            p = _chi2_p(mean, var, beyond)
            if p > ECHO_KEEP or float(power[beyond].sum()) < ECHO_SHARE * total:
                best = min(best, (r * c, -p, (r, c)))
    return best[2]
