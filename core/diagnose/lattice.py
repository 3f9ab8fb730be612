"""The statistic: how much of a picture's fine detail is locked to the pixel lattice at an
integer period, and how surprising that is for this very picture.

A network whose upsampling strides multiply to ``P`` stamps the same ``P x P`` tile over
its output (:mod:`core.maths.metrics` explains why). In Fourier terms a pattern that
repeats every ``p`` rows and every ``q`` columns, *in step with the pixels*, has all its
energy at the exact frequencies ``(i/p, j/q)``: a bed of nails on the rational points of
the spectrum. Natural detail spreads over all frequencies; a photograph's bricks or text
lines repeat at some period, but almost never at an exact integer one in step with the
sensor. So the test is a comparison, frequency by frequency, of the power *on* the
lattice with the power the same picture puts *around* it.

1. **Fine detail.** ``d = luma - T_2 * luma`` (:func:`core.maths.metrics.high_pass` at
   period 2: the ``[1, 2, 1]`` triangle along rows and columns, which removes constants
   and ramps exactly). Its response ``1 - cos^2(pi fy) cos^2(pi fx)`` grows like ``f^2``,
   roughly whitening the ``1/f^2`` spectrum of photographs, so little of a photograph's
   strong low-frequency power leaks onto the lattice through the picture's edges. A
   linear filter scales signal and noise alike at each frequency: the per-frequency
   ratio below does not depend on it.

2. **Power on the lattice.** For every reduced fraction ``fy = i/p`` and ``fx = j/q``
   with ``p, q`` from 1 to ``max_period`` (32; less on small pictures), the discrete
   Fourier transform of ``d`` at exactly that frequency, ``D(f) = E_y d E_x^T`` with
   ``E[f, y] = exp(-2 pi i f y)``: two small matrix products, not an FFT, because the
   lattice frequencies do not fall on the FFT's bins. A ``p x q``-periodic pattern adds
   up coherently there whatever the picture's size.

3. **The picture's own null.** The power spectral density ``S(f)`` around each lattice
   frequency, from the picture's FFT: the geometric mean of the periodogram over the
   ``(2r + 1)^2 - 1`` bins around it (the centre left out), times ``e^gamma`` (the
   log of an exponential variable averages ``-gamma`` below the log of its mean), which
   one bright lattice peak barely moves. On the frequency axes (``fy = 0`` or ``fx = 0``),
   and on the lines a JPEG's blocks light up (multiples of 1/8 and 1/16, when the
   picture carries JPEG blocks), the neighbours are taken along that line only: the
   picture's own edges and the blocks put power along whole lines, and a network's grid
   must stand above *that*.

4. **Test.** With no lattice-locked pattern, ``z(f) = |D(f)|^2 / (N S(f))`` is an
   exponential variable of mean 1 (the DFT at one frequency sums many pixels: nearly
   Gaussian), or a chi-square with one degree of freedom where ``f = -f`` (``fy, fx`` in
   ``{0, 1/2}``: ``D`` is real). Frequencies are grouped into *classes* by their exact
   denominators ``(p, q)``: class ``(4, 2)`` holds ``(1/4, 1/2)`` and ``(3/4, 1/2)``, and
   every frequency is in exactly one class. The class statistic ``T = sum z`` over one
   of each conjugate pair (``z/2`` where self-conjugate) is a Gamma variable of shape
   ``k`` = the number of independent members; its tail probability, times the number of
   classes tested (Bonferroni: a family-wise false-positive rate of :data:`ALPHA` over all
   31 x 31 period pairs, the 31 periods x 2 directions of the rows and columns included),
   is the class's p-value. A pattern of periods ``(P_rows, P_cols)`` lights up classes
   ``(p, q)`` with ``p | P_rows`` and ``q | P_cols``; the grid's periods are the least
   common multiples of the significant classes' denominators.

5. **Locked to the lattice.** A significant class must also peak *on* the lattice: its
   power at the exact frequencies must beat the same power with every frequency moved
   half an FFT bin, up or down, along either axis (the statistic at shifted, non-integer
   periods; the picture tapered so that sidelobes cannot fake a maximum): a lattice-locked
   peak drops there, while natural texture whose period is a little off an integer gains
   one way. Texture within a
   quarter of a bin of a lattice frequency cannot be told apart at the picture's
   resolution: the frequency resolution is the limit. Run on
   the strongest significant classes only, as a grid takes them (:func:`find_grid`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ..maths.metrics import high_pass
from .compression import BLOCK, ECHO_ALPHA, block_growth_p, block_periods

#: Family-wise false-positive rate of the detection, over every class tested.
ALPHA = 0.01
#: Longest period tested, rows and columns alike.
MAX_PERIOD = 32
#: A period is tested only where the picture holds this many of it (rows or columns): six
#: repeats of 16 fit in 96 rows (with eight, a 16x16 grid in a picture 106 rows tall read
#: 8x8); the lattice frequencies are resolved all the same.
MIN_REPEATS = 6
#: Half-width, in FFT bins, of the neighbourhood that estimates the spectral density.
NULL_RADIUS = 6
#: Half-length, in bins, of the neighbourhood along a line (axes, JPEG block lines).
LINE_RADIUS = 24
_EULER_GAMMA = 0.5772156649015329
#: ITU-R BT.601 luma weights (what a JPEG encoder compresses into 8x8 blocks).
LUMA = (0.299, 0.587, 0.114)


def luma(image) -> np.ndarray:
    """``(H, W)`` float64 luma of an ``(H, W)`` or ``(H, W, C)`` image (C = 1, 3 or 4;
    alpha ignored; 2 channels: their mean)."""
    arr = np.asarray(image)
    if arr.ndim == 2:
        return arr.astype(np.float64, copy=False)
    if arr.ndim != 3 or arr.shape[2] < 1:
        raise ValueError(f"image must be (H, W) or (H, W, C), got shape {arr.shape}")
    if arr.shape[2] >= 3:
        r, g, b = LUMA
        return (r * arr[..., 0] + g * arr[..., 1] + b * arr[..., 2]).astype(np.float64)
    return arr.mean(axis=2, dtype=np.float64)


@lru_cache(maxsize=8)
def _fractions(max_period: int) -> tuple[np.ndarray, np.ndarray]:
    """Every reduced fraction ``i/p`` in ``[0, 1)`` with ``p <= max_period``, sorted:
    ``(values, denominators)`` (``0`` has denominator 1)."""
    pairs = sorted({(i / p, p) for p in range(1, max_period + 1) for i in range(p)
                    if math.gcd(i, p) == 1})
    return (np.array([v for v, _ in pairs]), np.array([p for _, p in pairs]))


def dft_at(d: np.ndarray, fy: np.ndarray, fx: np.ndarray) -> np.ndarray:
    """``D[a, b] = sum_{y, x} d[y, x] exp(-2 pi i (fy[a] y + fx[b] x))``: (len fy, len fx)."""
    h, w = d.shape
    ey = np.exp(-2j * np.pi * np.outer(fy, np.arange(h)))  # (n_fy, H)
    ex = np.exp(-2j * np.pi * np.outer(fx, np.arange(w)))  # (n_fx, W)
    rows = ey.real @ d + 1j * (ey.imag @ d)  # (n_fy, W): two real products, no complex copy
    return rows @ ex.T  # (n_fy, n_fx)


def lattice_dft(d: np.ndarray, fy: np.ndarray, py: np.ndarray, fx: np.ndarray,
                px: np.ndarray) -> np.ndarray:
    """``D`` at every lattice frequency ``(fy[a], fx[b])`` (row denominators ``py``), over
    the whole picture.

    By folding: for each row denominator ``p`` the rows are summed by ``y mod p``
    (``(p, W)``; a frequency ``i/p`` sees row ``y`` and row ``y + p`` alike) and
    transformed along the ``p`` phases; the result's columns are then summed by
    ``x mod q`` for each column denominator ``q`` and transformed along those ``q``
    phases. Exact, and about 32 passes over the picture plus 32 over a ``(160, W)``
    table, instead of products with hundreds of rows of exponentials.
    """
    h, w = d.shape
    along = np.empty((len(fy), w), dtype=np.complex128)  # (n_fy, W): transformed down the rows
    for p in np.unique(py):
        hp = h // p * p
        rows = np.nonzero(py == p)[0]
        folded = d[:hp].reshape(hp // p, p, w).sum(axis=0)  # (p, W)
        folded[:h - hp] += d[hp:]  # the last, partial period
        angle = -2.0 * np.pi * np.outer(fy[rows], np.arange(p))  # (n_rows, p)
        along[rows] = np.cos(angle) @ folded + 1j * (np.sin(angle) @ folded)  # real products
    out = np.empty((len(fy), len(fx)), dtype=np.complex128)
    for q in np.unique(px):
        wq = w // q * q
        cols = np.nonzero(px == q)[0]
        table = along[:, :wq].reshape(len(fy), wq // q, q).sum(axis=1)  # (n_fy, q)
        table[:, :w - wq] += along[:, wq:]
        out[:, cols] = table @ np.exp(-2j * np.pi * np.outer(np.arange(q), fx[cols]))
    # Double precision throughout: a strong grid's peak is 10^8 times a blurred picture's
    # density far from it, and single-precision round-off would spread over every class.
    return out


def _phase_sums(f: np.ndarray, n: int, period: int) -> np.ndarray:
    """``A[k, a] = sum over t < n with t = a (mod period) of exp(-2 pi i f[k] t)``, by the
    geometric series: ``exp(-2 pi i f a) (1 - r^K) / (1 - r)``, ``r = exp(-2 pi i f period)``,
    ``K`` the number of such ``t`` (``K`` itself where ``r = 1``)."""
    a = np.arange(period)
    counts = (n - a + period - 1) // period  # (period,): how many t = a (mod period)
    r = np.exp(-2j * np.pi * f * period)[:, None]  # (len f, 1)
    one = np.isclose(r, 1.0)
    ratio = np.where(one, 0.0, 1.0 - r)
    series = np.where(one, counts[None, :].astype(np.complex128),
                      (1.0 - r ** counts[None, :]) / np.where(one, 1.0, ratio))
    return np.exp(-2j * np.pi * np.outer(f, a)) * series


def periodic_part(d: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """The ``rows x cols``-periodic part of ``d``: the mean of each phase
    ``(y mod rows, x mod cols)`` over the picture, less its own mean, ``(rows, cols)``."""
    h, w = d.shape
    hp, wq = h // rows * rows, w // cols * cols
    pattern = d[:hp, :wq].reshape(hp // rows, rows, wq // cols, cols).mean(axis=(0, 2))
    return pattern - pattern.mean()


def periodic_dft(d_shape: tuple[int, int], pattern: np.ndarray, fy: np.ndarray,
                 fx: np.ndarray) -> np.ndarray:
    """The DFT at ``(fy, fx)`` of ``pattern`` tiled over a picture of ``d_shape``: what
    removing it (:func:`remove_periodic`) takes from :func:`lattice_dft`, without
    transforming the picture again."""
    h, w = d_shape
    rows, cols = pattern.shape
    return _phase_sums(fy, h, rows) @ pattern @ _phase_sums(fx, w, cols).T


def _line_mean(values: np.ndarray, radius: int) -> np.ndarray:
    """Mean of the ``2 radius`` neighbours along the last axis, circularly (centre out)."""
    from scipy.ndimage import uniform_filter1d

    n = values.shape[-1]
    radius = max(1, min(radius, (n - 1) // 2))
    size = 2 * radius + 1
    total = uniform_filter1d(values, size=size, axis=-1, mode="wrap") * size
    return (total - values) / (2 * radius)


def _box_mean(values: np.ndarray, radius: int) -> np.ndarray:
    """Mean over the ``(2r + 1)^2 - 1`` circular neighbours of each entry (centre out)."""
    from scipy.ndimage import uniform_filter

    size = 2 * radius + 1
    return (uniform_filter(values, size=size, mode="wrap") * size * size - values) / (size * size - 1)


class SpectralNull:
    """The picture's own spectral density around any frequency (step 3).

    Built once per picture from the FFT of its fine detail ``d``: the log periodogram and
    its neighbourhood means. ``lines``: periods whose lines ``fy = i/L`` and ``fx = j/L``
    are estimated along the line (JPEG blocks: ``(8, 16)``).
    """

    def __init__(self, d: np.ndarray, *, lines: tuple[int, ...] = ()):
        from scipy import fft as sfft

        h, w = d.shape
        self.shape = (h, w)
        self.lines = lines
        spectrum = sfft.fft2(d.astype(np.float32), workers=1)  # (H, W) complex64
        log_p = np.log(np.abs(spectrum) ** 2 / np.float32(h * w) + np.float32(1e-30))
        del spectrum
        self.log_p = log_p.astype(np.float32)
        self.radius = min(NULL_RADIUS, (min(h, w) - 1) // 2)
        self.box = _box_mean(self.log_p, self.radius).astype(np.float32)

    def on_line(self, f: np.ndarray) -> np.ndarray:
        """Which frequencies lie on an axis or on one of the lines."""
        hit = f == 0
        for period in self.lines:
            frac = (f * period) % 1.0
            hit |= np.isclose(frac, 0.0) | np.isclose(frac, 1.0)
        return hit

    def at(self, fy: np.ndarray, fx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(S, samples)`` at every ``(fy[a], fx[b])``: the density and how many
        exponential samples the estimate is worth (a geometric mean of ``n`` of them is as
        noisy as an arithmetic mean of ``6 n / pi^2``)."""
        h, w = self.shape
        ky = np.rint(np.asarray(fy) * h).astype(int) % h
        kx = np.rint(np.asarray(fx) * w).astype(int) % w
        out = self.box[np.ix_(ky, kx)].astype(np.float64)
        count = np.full(out.shape, float((2 * self.radius + 1) ** 2 - 1))
        on_y, on_x = self.on_line(np.asarray(fy)), self.on_line(np.asarray(fx))
        line_y = 2 * max(1, min(LINE_RADIUS, (w - 1) // 2))
        line_x = 2 * max(1, min(LINE_RADIUS, (h - 1) // 2))
        if on_y.any():  # the line fy = const: neighbours in fx
            along = _line_mean(self.log_p[ky[on_y]].astype(np.float64), LINE_RADIUS)  # (n, W)
            out[on_y] = along[:, kx]
            count[on_y] = line_y
        if on_x.any():
            along = _line_mean(self.log_p[:, kx[on_x]].T.astype(np.float64), LINE_RADIUS)
            cols = along[:, ky].T  # (n_fy, n)
            both = on_y[:, None] & on_x[None, :]
            out[:, on_x] = np.where(both[:, on_x], np.maximum(out[:, on_x], cols), cols)
            count[:, on_x] = np.where(both[:, on_x], np.minimum(count[:, on_x], line_x), line_x)
        return np.exp(out + _EULER_GAMMA), count * 6.0 / np.pi ** 2


@dataclass(frozen=True)
class LatticeEvidence:
    """What the lattice test found in one picture.

    ``log10_p[p - 1, q - 1]``: log10 of the Bonferroni-corrected p-value of class
    ``(p, q)`` (0 where not tested; at most 0); ``excess[p - 1, q - 1]``: the class's
    mean square in the fine detail beyond what the picture's own detail puts there (may
    be negative); ``max_period``: the longest
    period tested; ``classes``: how many classes were tested; ``alpha``: the family-wise
    rate the detection holds.
    """

    log10_p: np.ndarray
    excess: np.ndarray
    max_period: int
    classes: int
    alpha: float

    def significant(self, min_rms: float = 0.0) -> np.ndarray:
        """Boolean ``(max_period, max_period)``: classes below the rate and at least
        ``min_rms`` strong (RMS in the fine detail) beyond the picture's own (step 5, the lock
        to the lattice, is :func:`on_lattice`, run on the classes a grid takes)."""
        return (self.log10_p < math.log10(self.alpha)) & (self.excess >= min_rms ** 2)

    def by_direction(self) -> tuple[np.ndarray, np.ndarray]:
        """Evidence for a period along the rows and along the columns: for each period
        ``p`` from 1 to ``max_period``, the smallest log10 p-value of any class whose row
        (column) denominator is ``p``."""
        return self.log10_p.min(axis=1), self.log10_p.min(axis=0)


def lattice_frequencies(max_period: int, h: int, w: int):
    """The lattice frequencies tested on an ``h x w`` picture and their bookkeeping (step 4):
    ``(fy, py, fx, px, weight, pmax_y, pmax_x)``: row frequencies in ``[0, 1/2]`` and their
    denominators, column frequencies in ``[0, 1)`` and theirs, each pair's weight (1, 1/2
    where self-conjugate, 0 for a duplicate or the mean), the longest periods tested."""
    values, dens = _fractions(max_period)
    pmax_y = max(1, min(max_period, h // MIN_REPEATS))
    pmax_x = max(1, min(max_period, w // MIN_REPEATS))
    keep_y = (values <= 0.5) & (dens <= pmax_y)  # one of each conjugate pair: fy in [0, 1/2]
    keep_x = dens <= pmax_x
    fy, py = values[keep_y], dens[keep_y]
    fx, px = values[keep_x], dens[keep_x]
    self_y = (fy == 0) | (fy == 0.5)  # fy = -fy: the pair is (fy, fx) and (fy, -fx)
    weight = np.ones((len(fy), len(fx)))
    dup = self_y[:, None] & (fx[None, :] > 0.5)  # (fy, fx) with fx > 1/2 mirrors (fy, 1 - fx)
    weight[dup] = 0.0
    selfc = self_y[:, None] & ((fx == 0) | (fx == 0.5))[None, :]
    weight[selfc] = 0.5  # real DFT value: chi-square 1 = 2 Gamma(1/2)
    weight[0, 0] = 0.0  # (0, 0): the mean, not a pattern
    return fy, py, fx, px, weight, pmax_y, pmax_x


def _response(fy: np.ndarray, fx: np.ndarray) -> np.ndarray:
    """|H(f)|^2 of the fine detail's filter ``1 - T_2``: ``(1 - cos^2 cos^2)^2``."""
    c = np.outer(np.cos(np.pi * fy) ** 2, np.cos(np.pi * fx) ** 2)
    return np.maximum((1.0 - c) ** 2, 1e-12)


def _class_sums(values: np.ndarray, py: np.ndarray, px: np.ndarray, size: int) -> np.ndarray:
    """Sum of ``values[a, b]`` into ``out[py[a] - 1, px[b] - 1]``."""
    index = (py - 1)[:, None] * size + (px - 1)[None, :]  # (n_fy, n_fx)
    return np.bincount(index.ravel(), weights=values.ravel(),
                       minlength=size * size).reshape(size, size)


def detail(image) -> np.ndarray:
    """The fine detail the test reads: luma minus its ``[1, 2, 1]`` triangle average
    (:func:`core.maths.metrics.high_pass` at period 2), ``(h, w)``. A 2-D ``image`` is
    taken as the luma already."""
    grey = image if np.ndim(image) == 2 else luma(image)
    return high_pass(grey, 2)[0][:, :, 0]


def evidence_of_detail(d: np.ndarray, null: SpectralNull, *, max_period: int = MAX_PERIOD,
                       alpha: float = ALPHA, dft: np.ndarray | None = None) -> LatticeEvidence:
    """Steps 2-5 of the module docstring on the fine detail ``d`` ``(h, w)``, against the
    picture's ``null``.

    The p-value of a class is the tail of ``T / k`` under an F distribution with ``2k``
    and ``2m`` degrees of freedom, ``m`` the fewest equivalent samples behind any of its
    members' null estimates: the null is estimated, not known, and a Gamma tail alone
    would ignore that (too many false alarms at the far tail the Bonferroni rate reads).
    ``dft``: :func:`lattice_dft` of ``d`` when the caller has it (a peeled picture's).
    """
    from scipy.special import betainc, gammaln  # (scipy.stats takes a second to import)

    h, w = d.shape
    fy, py, fx, px, weight, pmax_y, pmax_x = lattice_frequencies(max_period, h, w)
    size = max(pmax_y, pmax_x)
    if dft is None:
        dft = lattice_dft(d, fy, py, fx, px)  # (n_fy, n_fx)
    count = np.full(dft.shape, float(h * w))
    power = np.abs(dft) ** 2
    density, samples = null.at(fy, fx)
    z = power / (np.maximum(count, 1.0) * density) * weight
    t = _class_sums(z, py, px, size)
    k = _class_sums(weight, py, px, size)
    m = np.full((size, size), np.inf)  # the fewest samples behind any member of a class
    for value in np.unique(samples)[::-1]:  # two or three values: largest first, smallest wins
        hit = _class_sums(((samples == value) & (weight > 0)).astype(float), py, px, size) > 0
        m[hit] = value
    tested = k > 0
    classes = int(tested.sum())
    log10_p = np.zeros((size, size))
    kt, mt = k[tested], m[tested]
    # P(F(2k, 2m) > x) = I_{m / (m + k x)}(m, k), x = T / k: the regularised beta function.
    tt = t[tested]
    tail = betainc(mt, kt, mt / (mt + tt))
    # Beyond double precision (a strong grid), the Gamma tail's leading term keeps the
    # order between classes: log P(Gamma(k) > T) ~ -T + (k - 1) ln T - ln Gamma(k).
    far = (-tt + (kt - 1.0) * np.log(np.maximum(tt, 1e-300)) - gammaln(kt)) / math.log(10.0)
    raw = np.where(tail > 1e-280, np.log10(np.maximum(tail, 1e-300)), np.minimum(far, -280.0))
    log10_p[tested] = np.minimum(0.0, raw + math.log10(max(classes, 1)))
    # Mean square per class, in the fine detail's units (the filter not undone: undoing it
    # would magnify the null's errors at low frequencies a thousandfold): a pair (f, -f)
    # of a real pattern counts twice, a self-conjugate frequency once (weight 1/2).
    n = np.maximum(count, 1.0)
    beyond = (power - n * density) / n ** 2 * (2.0 * weight)
    excess = _class_sums(beyond, py, px, size)
    return LatticeEvidence(log10_p=log10_p, excess=excess, max_period=size,
                           classes=classes, alpha=alpha)


def remove_periodic(d: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """``d`` minus its ``rows x cols``-periodic part (:func:`periodic_part`, tiled back)."""
    h, w = d.shape
    pattern = periodic_part(d, rows, cols)
    tiled = np.tile(pattern, (-(-h // rows), -(-w // cols)))[:h, :w]
    return d - tiled


#: Most rounds of peeling: each finds one more class of a grid's frequencies.
MAX_ROUNDS = 8
#: A round may multiply the grid's square period by at most this (one more upsampler, of
#: stride 2 or 3): a class far beyond the grid found is the picture's own content (a blurry
#: network output's spectrum has strong images of its content around the lattice; with 4,
#: the shipped deconv3 at epoch 1 read 4 x 16 instead of 4 x 4). Beyond a factor 2, the
#: class must carry :data:`MINOR_SHARE` of the grid's power so far.
MAX_GROWTH = 3
#: The least share of the grid's power a class must carry when it multiplies the grid's
#: square period by 3 (a stride-3 layer's part of a grid is most of its frequencies; a
#: significant class with next to no power is the grid's residue where its amplitude
#: varies, clipped at black); in a JPEG, when it adds a factor 2 beyond the 8x8 block (a
#: period-3 grid's echoes repeat every 24 pixels); and in a JPEG, the most the block
#: echoes trimmed off a grid may carry (:func:`find_grid`).
MINOR_SHARE = 0.1
#: Significant classes tried a round, strongest first, for the lock to the lattice.
MAX_CANDIDATES = 4


@dataclass(frozen=True)
class GridFinding:
    """The lattice test with the grid peeled off round by round.

    ``first``: the evidence of the picture itself (the per-period, per-direction table
    reads it); ``periods``: ``(rows, cols)`` of the grid found, or None; ``rounds``: the
    classes ``(p, q)`` found, strongest first, one a round; ``null``: the picture's
    spectral density, for :func:`grid_amplitude`.
    """

    first: LatticeEvidence
    periods: tuple[int, int] | None
    rounds: tuple[tuple[int, int], ...]
    null: SpectralNull


def _twos(n: int) -> int:
    """How many times 2 divides ``n``."""
    return (n & -n).bit_length() - 1


def _next_class(d: np.ndarray, evidence: LatticeEvidence, sig: np.ndarray,
                periods: tuple[int, int] | None, square_limit: int,
                energy: float, grey: np.ndarray | None = None,
                block_offset: tuple[int, int] = (0, 0)) -> tuple[int, int] | None:
    """The class a round adds to the grid, or None.

    The first round takes the strongest significant class (the most power beyond the
    picture's own: a strong grid's leakage onto nearby lattice frequencies can be as
    significant, never as strong); later ones the significant class that grows the grid
    least (ties: the stronger), so a grid's periods build up
    from its factors and a stray class far beyond it (the picture's own strong edges)
    comes last; in a JPEG (``grey`` given, the luma, with its blocks at ``block_offset``)
    the first round tries classes that do not reach the block's period 8 first, so that a
    grid's block echo (below) cannot stand in for the grid. Refused: a class that does not
    grow the grid (its residue where its amplitude varies over the picture, clipped at
    black: taking it again would stall every later round on the same periods); a square
    period over ``square_limit`` or over :data:`MAX_GROWTH` times the grid's so far, or
    over twice it with under :data:`MINOR_SHARE` of the grid's power so far; in a JPEG, growth
    within the 8x8 block with no power of its own on the block DCT coefficients the grid so
    far cannot reach (:func:`core.diagnose.compression.block_growth_p` over
    :data:`~core.diagnose.compression.ECHO_ALPHA`: the encoder's requantisation of that
    grid, not the network's); in a JPEG, growth beyond the block by a factor 2 within the
    least common multiple of the grid's period and the block's that carries under
    :data:`MINOR_SHARE` of the grid's power so far ``energy`` (the blocks' products with a
    period-3 grid repeat every 24 pixels: weaker echoes; a period-8 grid is the same in
    every block and has no echo at 16); and a class that does not peak on the lattice
    (:func:`on_lattice`).
    """
    def grown(pq: tuple[int, int]) -> tuple[int, int]:
        p, q = pq
        return (p, q) if periods is None else (math.lcm(periods[0], p), math.lcm(periods[1], q))

    classes = [(int(a) + 1, int(b) + 1) for a, b in np.argwhere(sig)]
    def strength(pq: tuple[int, int]) -> float:
        return -float(evidence.excess[pq[0] - 1, pq[1] - 1])

    def in_block(pq: tuple[int, int]) -> bool:  # both periods divide the block's
        return BLOCK % pq[0] == 0 and BLOCK % pq[1] == 0

    if periods is None and grey is not None:
        order = sorted(classes, key=lambda pq: (in_block(pq) and BLOCK in pq, strength(pq)))
    elif periods is None:
        order = sorted(classes, key=strength)
    else:
        order = sorted(classes, key=lambda pq: (math.lcm(*grown(pq)), strength(pq)))
    tried = 0
    for pq in order:
        rows, cols = grown(pq)
        square = math.lcm(rows, cols)
        if square > square_limit or (rows, cols) == periods:
            continue
        if periods is not None:
            if square > MAX_GROWTH * math.lcm(*periods) or (
                    square > 2 * math.lcm(*periods) and -strength(pq) < MINOR_SHARE * energy):
                continue
            if grey is not None and in_block((rows, cols)):
                if (rows, cols) != periods and \
                        block_growth_p(grey, periods, (rows, cols), block_offset) > ECHO_ALPHA:
                    continue
            elif grey is not None and -strength(pq) < MINOR_SHARE * energy and any(
                    _twos(new) > _twos(old) and math.lcm(old, BLOCK) % new == 0
                    for new, old in zip((rows, cols), periods, strict=True)):
                continue
        if tried == MAX_CANDIDATES:
            return None
        tried += 1
        if on_lattice(d, *pq):
            return pq
    return None


def find_grid(image, *, max_period: int = MAX_PERIOD, alpha: float = ALPHA,
              jpeg_lines: bool = False, fine: np.ndarray | None = None,
              min_rms: float = 0.0, block_offset: tuple[int, int] = (0, 0)) -> GridFinding:
    """The grid's periods, class by class.

    A strong grid leaks a little power onto every lattice frequency near its own (the
    picture has edges), which would make the least common multiple of *all* significant
    classes absurd. So: take the most significant class ``(p, q)`` (the grid's periods so
    far), remove the ``P x Q``-periodic part of the detail exactly (:func:`remove_periodic`:
    every harmonic of it, and its leakage with it), and test again against the same null
    (the picture's, grid included: a little conservative); a class still significant is
    part of the grid too (a 4x4 grid's quarter-period frequencies after its half-period
    ones) and joins by least common multiple. At most :data:`MAX_ROUNDS` rounds; the
    grid's square period (the least common multiple of its row and column periods) at
    most the longest tested, and at most a sixth of the picture's shorter side
    (:data:`MIN_REPEATS`). ``fine``: the picture's :func:`detail`, when the caller
    has it already. ``jpeg_lines``: the picture carries JPEG blocks, starting at
    ``block_offset`` (row, column): block lines get their own null and block echoes of the
    grid are refused (:func:`_next_class`), and the grid found is trimmed to the smallest
    periods whose block echo it could be (:func:`echo_periods` beyond the block,
    :func:`core.diagnose.compression.block_periods` within it) when what is trimmed off
    carries under :data:`MINOR_SHARE` of its power.
    """
    d = detail(image) if fine is None else fine
    # The grid's square period (the lcm of rows and cols) must fit MIN_REPEATS times.
    square_limit = min(max_period, min(d.shape) // MIN_REPEATS)
    null = SpectralNull(d, lines=(8, 16) if jpeg_lines else ())
    h, w = d.shape
    fy, py, fx, px, _weight, _, _ = lattice_frequencies(max_period, h, w)
    dft0 = lattice_dft(d, fy, py, fx, px)
    original = d
    first = evidence_of_detail(d, null, max_period=max_period, alpha=alpha, dft=dft0)
    evidence, found = first, []
    periods: tuple[int, int] | None = None
    grey = (image if np.ndim(image) == 2 else luma(image)) if jpeg_lines else None
    energy = 0.0  # the grid's power so far
    for _ in range(MAX_ROUNDS):
        sig = evidence.significant(min_rms)
        if not sig.any():
            break
        chosen = _next_class(d, evidence, sig, periods, square_limit, energy, grey,
                             block_offset)
        if chosen is None:
            break
        p, q = chosen
        energy += max(float(evidence.excess[p - 1, q - 1]), 0.0)
        rows = p if periods is None else math.lcm(periods[0], p)
        cols = q if periods is None else math.lcm(periods[1], q)
        found.append((p, q))
        periods = (rows, cols)
        # The periodic parts nest (each period divides the next), so the picture peeled so
        # far is the original less its part at the current periods.
        pattern = periodic_part(original, rows, cols)
        d = remove_periodic(original, rows, cols)
        dft = dft0 - periodic_dft((h, w), pattern, fy, fx)
        evidence = evidence_of_detail(d, null, max_period=max_period, alpha=alpha, dft=dft)
    if periods is not None and grey is not None:  # a JPEG: its block echoes trimmed off
        periods = echo_periods(first, periods)
        trimmed = block_periods(grey, periods, block_offset)
        # The echo is weaker than the grid: what it leaves holds nearly all of the power.
        if class_power(first, trimmed) >= (1.0 - MINOR_SHARE) * class_power(first, periods):
            periods = trimmed
    return GridFinding(first=first, periods=periods, rounds=tuple(found), null=null)


def class_power(evidence: LatticeEvidence, periods: tuple[int, int]) -> float:
    """The power beyond the picture's own on every class of a ``rows x cols`` grid (the
    classes ``(p, q)`` with ``p`` dividing ``rows`` and ``q`` dividing ``cols``; a class
    below the picture's own counts 0)."""
    rows, cols = periods
    size = evidence.excess.shape[0]
    p = np.arange(1, size + 1)
    take = ((rows % p == 0) & (p <= rows))[:, None] & ((cols % p == 0) & (p <= cols))[None, :]
    return float(np.maximum(evidence.excess, 0.0)[take].sum())


def echo_periods(evidence: LatticeEvidence, periods: tuple[int, int]) -> tuple[int, int]:
    """In a JPEG, the smallest periods ``(r, c)`` whose block echo could read as
    ``periods`` and that carry all but :data:`MINOR_SHARE` of its power (``evidence``: the
    picture's own, before peeling).

    Beyond the block, a grid's phase against the blocks changes from block to block: the
    encoder requantises an ``r``-periodic grid differently in each, and its echo repeats
    every ``lcm(r, 8)`` pixels (a 12x12 grid reads 24x12). Periods ``R`` that an echo of
    ``r`` can take are those dividing ``lcm(r, 8)`` that ``r`` divides; the echo is a
    distortion of the grid, weaker than it, so ``r`` is the network's when the classes
    beyond it carry under :data:`MINOR_SHARE` of the power (a random ``2r``-periodic
    pattern puts about half there). Grids within the block are
    :func:`core.diagnose.compression.block_periods`' (their echoes stay on the block DCT
    coefficients the grid reaches).
    """
    rows, cols = periods
    if BLOCK % rows == 0 and BLOCK % cols == 0:
        return periods
    total = class_power(evidence, periods)
    best = (rows * cols, periods)
    def echoed(n: int) -> list[int]:  # the periods whose block echo can read as n
        return [r for r in range(1, n + 1) if n % r == 0 and math.lcm(r, BLOCK) % n == 0]

    for r in echoed(rows):
        for c in echoed(cols):
            if class_power(evidence, (r, c)) >= (1.0 - MINOR_SHARE) * total:
                best = min(best, (r * c, (r, c)))
    return best[1]


def on_lattice(d: np.ndarray, p: int, q: int) -> bool:
    """Step 5 for class ``(p, q)``: its power at its exact frequencies against the same
    with every frequency moved half an FFT bin up or down the rows or the columns (the
    null moves little in half a bin, so the powers compare as they are), over the whole
    picture tapered by a Hann window: True when the exact frequencies win all four ways. A
    lattice-locked peak is the top of its main lobe; a peak that sits a little off the
    lattice (texture whose period is near, not at, an integer) gains one way."""
    h, w = d.shape
    # Tapered (Hann): the bare picture's sidelobes have zeros a whole bin apart, and a peak
    # 1.5 bins off the lattice would read as a local maximum on it.
    d = d * np.outer(np.hanning(h), np.hanning(w))
    fy = np.array([i / p for i in range(p) if math.gcd(i, p) == 1 and i / p <= 0.5] or [0.0])
    fx = np.array([j / q for j in range(q) if math.gcd(j, q) == 1] or [0.0])
    if fy.max() in (0.0, 0.5) and len(fy) == 1:  # fy = -fy: (fy, fx) and (fy, -fx) are one pair
        fx = fx[fx <= 0.5]
    exact = float(np.sum(np.abs(dft_at(d, fy, fx)) ** 2))
    for dy, dx in ((0.5 / h, 0.0), (-0.5 / h, 0.0), (0.0, 0.5 / w), (0.0, -0.5 / w)):
        if float(np.sum(np.abs(dft_at(d, fy + dy, fx + dx)) ** 2)) >= exact:
            return False
    return True


@dataclass(frozen=True)
class GridAmplitude:
    """How strong a ``rows x cols`` grid is, from the power on all its frequencies.

    ``rms``: the grid's RMS amplitude in the picture's units (``[0, 1]``), the picture's
    own expected power on those frequencies taken away; ``times_own``: the power there
    over what the picture alone would put there, square-rooted (1 for no grid).
    """

    rms: float
    times_own: float


def grid_amplitude(fine: np.ndarray, rows: int, cols: int, null: SpectralNull) -> GridAmplitude:
    """:class:`GridAmplitude` of the ``rows x cols`` lattice in the fine detail ``fine``:
    every frequency ``(i/rows, j/cols)`` but ``(0, 0)``, from the fold of the picture
    cropped to whole periods, the fine detail's filter undone."""
    h, w = fine.shape
    hp, wq = h // rows * rows, w // cols * cols
    table = fine[:hp, :wq].reshape(hp // rows, rows, wq // cols, cols).sum(axis=(0, 2))
    power = np.abs(np.fft.fft2(table)) ** 2  # (rows, cols): D at (i/rows, j/cols)
    fy, fx = np.arange(rows) / rows, np.arange(cols) / cols
    density, _ = null.at(fy, fx)
    gain = _response(fy, fx)
    keep = np.ones_like(power, bool)
    keep[0, 0] = False
    n = hp * wq
    measured = float(np.sum((power / gain)[keep])) / n ** 2
    own = float(np.sum((density / gain)[keep])) / n
    return GridAmplitude(rms=math.sqrt(max(measured - own, 0.0)),
                         times_own=math.sqrt(measured / own) if own > 0 else math.inf)
