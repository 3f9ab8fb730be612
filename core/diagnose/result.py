"""The typed result of a diagnosis, shared by the page, the command line and the tests,
and its JSON record."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..io.pixels import Region
from ..maths.metrics import SCORE_SCALE


@dataclass(frozen=True)
class Diagnosis:
    """One picture's diagnosis.

    ``grid``: a network's grid was found (statistically, at the family-wise rate
    ``alpha``, locked to the pixel lattice, and at least :data:`core.diagnose.diagnosis.
    MIN_GRID_LEVELS` grey levels RMS). ``period``: ``(rows, cols)`` of the grid, or None.
    ``score``: :func:`core.maths.metrics.checkerboard_score` of the picture at the grid's
    period (the least common multiple of ``period``; period 4 when there is no grid), in
    the picture's units (shown x10^-3). ``rms``: the grid's own RMS amplitude (the
    picture's own contribution taken away), ``times_own``: the power on the grid's
    frequencies over what the picture alone would put there, square-rooted. ``log10_p``:
    the smallest corrected log10 p-value of any period class (0: nothing unusual).
    ``rows_evidence`` / ``cols_evidence``: for each period 2 to ``max_period``, the same
    along the rows / the columns. ``jpeg_blocks``: JPEG blocks, from the file or the
    pixels. ``pattern``: the grid's phase pattern (``L x L`` mean fine detail per phase,
    ``L`` the grid's period, luma), ``region``: where the grid is plainest (the view's
    crop). ``notices``: what the decoder did to the file.
    """

    file: str | None
    size: tuple[int, int]
    grid: bool
    period: tuple[int, int] | None
    score: float
    rms: float
    times_own: float
    log10_p: float
    alpha: float
    rows_evidence: tuple[float, ...]
    cols_evidence: tuple[float, ...]
    jpeg_blocks: bool
    jpeg_from_file: bool
    meaning: str
    fix: str
    pattern: np.ndarray | None = field(default=None, compare=False, repr=False)
    region: Region | None = None
    notices: tuple[str, ...] = ()

    @property
    def lattice_period(self) -> int:
        """The square period the score, the pattern and the views use."""
        if self.period is None:
            return 4
        rows, cols = self.period
        return int(np.lcm(rows, cols))

    @property
    def grey_levels(self) -> float:
        """The grid's RMS amplitude in grey levels (0-255)."""
        return 255.0 * self.rms

    def sentence(self) -> str:
        """The verdict in one sentence."""
        if self.grid and self.period is not None:
            rows, cols = self.period
            where = f"period {rows}" if rows == cols else f"period {rows} x {cols} (rows x columns)"
            jpeg = " (not the JPEG's own blocks)" if self.jpeg_blocks else ""
            return (f"A network's grid{jpeg}: {where}, {self.grey_levels:.1f} grey levels RMS, "
                    f"{self.times_own:.0f}x what the picture's own detail puts there.")
        if self.jpeg_blocks:
            return ("No network grid: the only lattice pattern is JPEG compression's own "
                    "8x8 blocks." if self.log10_p < np.log10(self.alpha) else
                    "No network grid (a JPEG: its 8x8 blocks are compression, not a grid).")
        if self.log10_p < np.log10(self.alpha):
            return ("No network grid: a faint pattern locked to the pixels, weaker than 8-bit "
                    "rounding makes (as interpolation or editing leaves), is not called one.")
        return "No network grid: nothing in the fine detail repeats in step with the pixels."

    def record(self) -> dict:
        """The JSON record of the command line (``--json``)."""
        return {
            "file": self.file,
            "grid": bool(self.grid),
            "period": list(self.period) if self.period is not None else None,
            "score": round(float(self.score) * SCORE_SCALE, 4),
            "times_own": round(float(self.times_own), 3),
            "grey_levels": round(float(self.grey_levels), 3),
            "jpeg_blocks": bool(self.jpeg_blocks),
            "log10_p": round(float(self.log10_p), 2),
            "alpha": self.alpha,
            "size": list(self.size),
            "verdict": self.sentence(),
        }
