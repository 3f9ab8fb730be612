"""How much checkerboard an image carries, with no reference image.

An upsampling network whose strides multiply to ``P`` (two stride-2 layers: ``P = 4``)
paints the same small ``P x P`` tile over its output: the uneven overlap of its
transposed convolutions gives each of the ``P*P`` output phases (``y mod P, x mod P``)
its own gain. The artifact is therefore *the part of the image's fine detail that is
periodic with period P*. :func:`checkerboard_score` measures exactly that part:

1. **High-pass.** ``r = x - T_P * x`` where ``T_P`` is the centred triangle filter of
   length ``2P - 1`` (a ``P``-box convolved with itself), applied along rows and
   columns. Two properties make it the right filter:

   * a ``P``-box sums every ``P``-periodic pattern over one full period, so it maps any
     zero-mean ``P``-periodic pattern to 0: the artifact passes the high-pass
     **unchanged**, whatever its shape;
   * the filter is symmetric and has unit gain, so constants and linear ramps (the
     smooth part of a photograph, which otherwise leaks into the phase averages as a
     saw-tooth) are removed exactly.

   Only the interior where the filter fits is used (no padding), cropped to whole
   periods and aligned to the image's own pixel grid, so phase ``(a, b)`` means pixels
   with ``y mod P == a`` and ``x mod P == b``.

2. **Phase average.** ``q[a, b] = mean{ r[y, x] : y = a, x = b (mod P) }`` minus the mean
   of ``q`` over the ``P*P`` phases (:func:`phase_pattern`). Averaging over all periods
   is the projection of ``r`` onto the ``P``-periodic patterns (in Fourier terms: only
   the frequencies ``(i/P, j/P)`` survive). Natural detail is not periodic, so it
   averages out like noise, roughly as ``1/sqrt(number of periods)``; the artifact adds
   up coherently.

3. **Score.** ``score = sqrt(mean over a, b (and channels) of q[a, b]^2)``: the RMS
   amplitude of the periodic component, in the image's own intensity units (for images
   in ``[0, 1]``, ``0.01`` is one percent of full scale).

Properties (tested in ``tests/test_metrics.py``):

* adding ``amp * c`` for a zero-mean ``P``-periodic ``c`` (e.g. a +/- checkerboard)
  changes ``q`` into ``q0 + amp * c`` **exactly**, so the score of a clean image plus a
  +/- ``amp`` checkerboard is ``sqrt(|q0|^2 + 2 amp <q0, c> + amp^2)``: about ``amp``,
  growing monotonically once ``amp`` exceeds the tiny clean reading ``|q0|``;
* it is an average, not a sum, so it does not depend on image size: a checkerboard of
  amplitude ``amp`` reads ``amp`` on a 64 px crop and on a 4000 px photograph;
* a clean photograph reads near zero (about ``0.5e-3`` to ``0.7e-3`` for the held-out
  photographs at ``P = 4``), since its detail is not periodic.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..io.pixels import Region
from .overlap import outer_product

__all__ = [
    "SCORE_SCALE",
    "RANKS",
    "SCORE_UNIT",
    "Spectrum",
    "artifact_frequencies",
    "checkerboard_score",
    "fine_detail",
    "format_score",
    "gain_imbalance",
    "high_pass",
    "local_checkerboard_map",
    "log_power_spectrum",
    "most_artifacted_region",
    "phase_pattern",
    "polyphase_gains",
    "spectra_figure",
    "sound_spectrum_figure",
    "spectrum_figure",
    "to_unit_range",
]


# ---------------------------------------------------------------------------------------
# Input checks and the high-pass
# ---------------------------------------------------------------------------------------


def _check_period(period) -> None:
    if isinstance(period, bool) or not isinstance(period, int | np.integer) or period < 2:
        raise ValueError(f"period must be an integer >= 2, got {period!r}")


def _check_dims(dims) -> int:
    if isinstance(dims, bool) or not isinstance(dims, int | np.integer) or dims not in RANKS:
        raise ValueError(f"dims (the number of spatial axes) must be 1, 2 or 3, got {dims!r}")
    return int(dims)


#: The signal ranks the metrics accept: 1 (a sound, ``(L,)`` or ``(L, C)``), 2 (an image,
#: ``(H, W)`` or ``(H, W, C)``) and 3 (a volume, ``(D, H, W)`` or ``(D, H, W, C)``).
RANKS = (1, 2, 3)
_RANK_NAMES = {1: "(L) or (L, C)", 2: "(H, W) or (H, W, C)", 3: "(D, H, W) or (D, H, W, C)"}


def _as_image(image, period: int, min_side: int | None = None, dims: int = 2) -> np.ndarray:
    """Validate and return ``image`` as float64 ``(*spatial, C)`` with ``dims`` spatial
    axes, at least ``min_side`` (default ``4 * period``) samples along each of them."""
    _check_period(period)
    dims = _check_dims(dims)
    arr = np.asarray(image, dtype=np.float64)
    if arr.ndim == dims:
        arr = arr[..., None]
    if arr.ndim != dims + 1:
        raise ValueError(f"{'image' if dims == 2 else 'signal'} must be {_RANK_NAMES[dims]}, "
                         f"got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{'image' if dims == 2 else 'signal'} must contain only finite values")
    sides = arr.shape[:dims]
    size = "x".join(map(str, sides))
    what = "pixels on each side" if dims == 2 else "samples along each axis"
    if min_side is None:
        if min(sides) < 4 * period:
            raise ValueError(f"{'image' if dims == 2 else 'signal'} must be at least "
                             f"4*period = {4 * period} {what} for period {period}, got {size}")
    elif min(sides) < min_side:
        raise ValueError(f"{'image' if dims == 2 else 'signal'} must be at least {min_side} "
                         f"{what}, got {size}")
    return arr


def _box_valid(arr: np.ndarray, length: int, axis: int) -> np.ndarray:
    """Mean over ``length`` consecutive samples along ``axis``, 'valid' part only.

    Output index ``j`` averages input samples ``j .. j + length - 1``. Short windows
    add shifted slices (a few passes, no strided running sum: the diagnosis reads the
    period-2 detail of large pictures); long ones take differences of a running sum.
    """
    if length <= 4:
        n = arr.shape[axis] - length + 1

        def part(k: int) -> np.ndarray:
            index = [slice(None)] * arr.ndim
            index[axis] = slice(k, k + n)
            return arr[tuple(index)]

        total = np.array(part(0), dtype=np.float64)
        for k in range(1, length):
            total += part(k)
        return total / length
    a = np.moveaxis(arr, axis, 0)
    c = np.empty((a.shape[0] + 1, *a.shape[1:]), dtype=np.float64)
    c[0] = 0.0
    np.cumsum(a, axis=0, out=c[1:])  # c[j] = sum of the first j samples
    upper, lower = c[length:], c[:-length]
    return np.moveaxis((upper - lower) / length, 0, axis)


def high_pass(image, period: int, *, dims: int = 2) -> tuple:
    """Residual ``x - T_P * x`` on the interior, cropped to whole periods.

    ``dims`` is the number of spatial axes (1 for a sound, 2 for an image, 3 for a
    volume); the triangle filter runs along each of them, the same code for every rank.
    Returns ``(residual, *origins)``: for an image ``(residual, y0, x0)``, ``residual``
    ``(h, w, C)`` with ``h`` and ``w`` multiples of ``period``, and ``residual[i, j]``
    belongs to image pixel ``(y0 + i, x0 + j)``; a sound gives ``(residual, x0)``, a
    volume ``(residual, z0, y0, x0)``. The origins are multiples of ``period`` so phase
    ``(i mod P, j mod P)`` is the signal's own phase.
    """
    x = _as_image(image, period, dims=dims)
    p = period
    # Triangle filter = P-box twice (length 2P - 1, centred). The valid output index j
    # is centred on signal index j + P - 1.
    low = x
    for axis in range(dims):
        low = _box_valid(_box_valid(low, p, axis), p, axis)
    # Interior: indices P-1 .. n-P have a low-pass value. Keep whole periods that start
    # on a multiple of P (the first one >= P - 1 is P itself).
    origin = p
    shift = p - 1  # signal index -> index into `low`
    keeps = [((n - p + 1) - origin) // p * p for n in x.shape[:dims]]
    kept = tuple(slice(origin, origin + k) for k in keeps)
    lowed = tuple(slice(origin - shift, origin - shift + k) for k in keeps)
    residual = x[kept] - low[lowed]
    return (residual, *([origin] * dims))


# ---------------------------------------------------------------------------------------
# The score
# ---------------------------------------------------------------------------------------


def phase_pattern(image, period: int, *, dims: int = 2) -> np.ndarray:
    """The ``period x period`` pattern behind :func:`checkerboard_score`.

    ``q[a, b]`` is the mean high-pass residual over all pixels with ``y mod P == a`` and
    ``x mod P == b``, minus the mean over the ``P*P`` phases. Shape ``(P, P)`` for an
    ``(H, W)`` image, ``(P, P, C)`` for an ``(H, W, C)`` one. Any rank alike (``dims``):
    a sound gives ``(P,)`` (``(P, C)``), a volume ``(P, P, P)`` (``(P, P, P, C)``).
    """
    residual = high_pass(image, period, dims=dims)[0]  # (*spatial, C)
    p = period
    spatial, c = residual.shape[:-1], residual.shape[-1]
    split = [n for side in spatial for n in (side // p, p)]
    tiles = residual.reshape(*split, c)  # (tile_0, a_0, tile_1, a_1, ..., C)
    q = tiles.mean(axis=tuple(range(0, 2 * dims, 2)))  # (P, ..., P, C)
    q = q - q.mean(axis=tuple(range(dims)), keepdims=True)
    if np.ndim(image) == dims:
        return q[..., 0]
    return q


def checkerboard_score(image, period: int, *, dims: int = 2) -> float:
    """RMS amplitude of the part of the image's fine detail that repeats with ``period``.

    ``score = sqrt(mean(phase_pattern(image, period) ** 2))``; see the module docstring
    for the formula and why it isolates the artifact. ``image`` is ``(H, W)`` or
    ``(H, W, C)``, float, intended in ``[0, 1]`` (the score is then in the same units:
    a +/- 0.05 checkerboard added to a photograph scores about 0.05). ``period`` is the
    product of the network's upsampling strides. ``dims=1`` scores a sound ``(L,)`` /
    ``(L, C)`` (its tones at multiples of rate/P), ``dims=3`` a volume.
    """
    q = phase_pattern(image, period, dims=dims)
    return float(np.sqrt(np.mean(q ** 2)))


#: The one unit the checkerboard score is shown in, everywhere (pages, tables, curves,
#: README): the raw :func:`checkerboard_score` times ``SCORE_SCALE``, written with
#: ``SCORE_UNIT``. A clean photograph reads about 0.5-0.7 x10^-3 (the held-out ones);
#: 10 x10^-3 is one percent of full scale.
SCORE_SCALE = 1e3
SCORE_UNIT = "×10⁻³"


def format_score(value: float, *, unit: bool = True) -> str:
    """A checkerboard score as shown to people: ``0.0019 -> "1.90 ×10⁻³"``.

    Three significant figures (two decimals below 10, one below 100, none above);
    ``unit=False`` leaves the unit out (for a table whose column names it). NaN and
    infinities read as an em dash.
    """
    v = float(value)
    if not np.isfinite(v):
        return "—"
    scaled = v * SCORE_SCALE
    digits = 2 if abs(scaled) < 10 else 1 if abs(scaled) < 100 else 0
    text = f"{scaled:.{digits}f}"
    return f"{text} {SCORE_UNIT}" if unit else text


def fine_detail(image, period: int, gain: float = 10.0) -> np.ndarray:
    """The image's fine detail made visible: the :func:`high_pass` residual times
    ``gain``, around mid-grey, clipped to ``[0, 1]``, at the image's full size.

    A checkerboard a few thousandths of the range strong is invisible in the image and
    plain here: the smooth content is gone, the periodic part passes unchanged and is
    amplified. The border the filter does not reach (``period`` pixels and the part
    beyond the last whole period) is mid-grey. Returns float32 ``(H, W, C)`` (``(H, W)``
    for an ``(H, W)`` image).
    """
    arr = np.asarray(image)
    residual, y0, x0 = high_pass(arr, period)  # (h, w, C)
    out = np.full((*arr.shape[:2], residual.shape[2]), 0.5, dtype=np.float32)
    h, w = residual.shape[:2]
    out[y0:y0 + h, x0:x0 + w] = np.clip(0.5 + gain * residual, 0.0, 1.0)
    return out[:, :, 0] if arr.ndim == 2 else out


def grey_levels_at_period(view, period: int) -> float:
    """How plainly a picture shows a pattern of ``period``: peak-to-peak, in grey levels
    (0-255), of the mean grey over each phase (row mod P, column mod P) of ``view``, a
    displayed image in ``[0, 1]`` (channels averaged), cropped to whole periods from its
    top-left corner. A pattern of a few grey levels is lost on a projector; six or more
    is plain. Returns 0.0 for a view smaller than one period.
    """
    arr = np.asarray(view, dtype=np.float64)
    grey = arr.mean(axis=2) if arr.ndim == 3 else arr  # (H, W)
    p = int(period)
    h, w = grey.shape[0] // p * p, grey.shape[1] // p * p
    if h == 0 or w == 0:
        return 0.0
    tiles = grey[:h, :w].reshape(h // p, p, w // p, p)  # (tile_y, a, tile_x, b)
    phases = tiles.mean(axis=(0, 2))  # (P, P)
    return float(255.0 * (phases.max() - phases.min()))


#: Added to a window's residual RMS in ``share`` readings (0.1 % of the range): a flat,
#: clean window reads about 0, not a ratio of two roundings.
SHARE_FLOOR = 1e-3


def local_checkerboard_map(image, period: int, size: int, *,
                           share: bool = False) -> tuple[np.ndarray, int, int]:
    """The checkerboard score of every ``size x size`` window, on a grid of step ``period``.

    The score of a window is :func:`checkerboard_score`'s formula restricted to it: the
    high-pass residual (of the whole image, :func:`high_pass`) averaged per phase over
    the window's ``(size/P)^2`` tiles, the mean over the phases removed, then the RMS
    over phases and channels. All windows at once with cumulative sums over the tile grid.

    ``share=True`` divides each score by the RMS of the whole residual in the window
    (plus :data:`SHARE_FLOOR`): the part of the window's fine detail that is the
    periodic pattern, near 1 where the grid is all there is to see, near 0 in busy
    texture or in flat, clean areas. That is what makes a grid *visible*.

    ``size`` is rounded down to a multiple of ``period`` (at least one period). Returns
    ``(scores, y0, x0)``: ``scores[i, j]`` belongs to the window whose top-left image
    pixel is ``(y0 + i*period, x0 + j*period)``; ``scores`` is empty when no window fits.
    """
    residual, y0, x0 = high_pass(image, period)  # (h, w, C), h and w multiples of P
    p = period
    n = max(1, int(size) // p)  # window side in tiles
    h, w, c = residual.shape
    tiles = residual.reshape(h // p, p, w // p, p, c).transpose(0, 2, 1, 3, 4)  # (ty, tx, a, b, C)
    ty, tx = tiles.shape[:2]
    if ty < n or tx < n:
        return np.zeros((0, 0)), y0, x0

    def window_sums(values: np.ndarray) -> np.ndarray:  # over n x n tiles, leading axes
        cum = np.zeros((ty + 1, tx + 1, *values.shape[2:]))
        cum[1:, 1:] = values.cumsum(axis=0).cumsum(axis=1)
        return cum[n:, n:] - cum[:-n, n:] - cum[n:, :-n] + cum[:-n, :-n]

    q = window_sums(tiles) / (n * n)  # (ty-n+1, tx-n+1, P, P, C)
    q = q - q.mean(axis=(2, 3), keepdims=True)
    scores = np.sqrt(np.mean(q ** 2, axis=(2, 3, 4)))
    if share:
        energy = window_sums((tiles ** 2).mean(axis=(2, 3, 4))) / (n * n)
        scores = scores / (np.sqrt(np.maximum(energy, 0.0)) + SHARE_FLOOR)  # cumsum rounding
    return scores, y0, x0


def most_artifacted_region(images, period: int, size: int) -> Region:
    """The ``size x size`` square where a checkerboard is most plainly *visible*.

    The window where the periodic pattern makes up the largest share of the fine detail
    (:func:`local_checkerboard_map` with ``share=True``): a grid on a smooth area, rather
    than busy texture, which leaks a little into any local reading, or a strong pattern
    drowned in it. ``images`` is one image, or a sequence of images of one shape (a
    network's outputs at several epochs): then the window that is strong in *all* of
    them, the largest ``min over images of (share / that image's largest share)``, so the
    grid stays on screen whichever of them is shown.

    Windows start on multiples of ``period``, so the region keeps the image's own phase.
    Ties go to the first window. Images too small for one window give the top-left
    ``size`` square (clamped to the image).
    """
    stack = [np.asarray(images)] if isinstance(images, np.ndarray) else \
        [np.asarray(im) for im in images]
    if not stack:
        raise ValueError("most_artifacted_region needs at least one image")
    shape = stack[0].shape
    if any(im.shape != shape for im in stack):
        raise ValueError(f"images must share one shape, got {[im.shape for im in stack]}")
    side = max(1, int(size))
    try:
        maps = [local_checkerboard_map(im, period, side, share=True) for im in stack]
    except ValueError:
        maps = []
    if not maps or maps[0][0].size == 0:
        return Region(0, 0, side, side).clamped(shape)
    _, y0, x0 = maps[0]
    relative = np.min([m / m.max() if m.max() > 0 else m for m, _, _ in maps], axis=0)
    i, j = np.unravel_index(int(np.argmax(relative)), relative.shape)
    return Region(int(y0 + i * period), int(x0 + j * period), side, side).clamped(shape)


# ---------------------------------------------------------------------------------------
# Spectrum
# ---------------------------------------------------------------------------------------


def artifact_frequencies(period: int, *, dims: int = 2) -> np.ndarray:
    """The non-zero frequencies ``(fy, fx)`` (cycles/pixel, in ``[-0.5, 0.5)``) at which
    a ``period``-periodic pattern has energy: all ``(i/P, j/P)`` except ``(0, 0)``.

    Returns an ``(P*P - 1, 2)`` array; for ``dims`` spatial axes in general
    ``(P**dims - 1, dims)`` (a sound: the ``P - 1`` frequencies ``i/P``; a volume: the
    ``(i/P, j/P, l/P)``).
    """
    _check_period(period)
    dims = _check_dims(dims)
    f = (np.arange(period) - period // 2) / period  # i/P folded into [-0.5, 0.5)
    grids = np.meshgrid(*([f] * dims), indexing="ij")
    pts = np.stack([g.ravel() for g in grids], axis=1)  # (P**dims, dims)
    return pts[np.any(pts != 0, axis=1)]


@dataclass(frozen=True)
class Spectrum:
    """A centred log power spectrum with the artifact frequencies of one period.

    ``freqs`` holds one frequency axis per spatial axis, in cycles/sample (``0`` at the
    centre, ``-0.5`` at the first entry); ``log_power[i, j]`` is ``log10(power)`` at
    ``(freqs[0][i], freqs[1][j])`` (an image: ``fy``, ``fx``); ``markers`` holds the
    points of :func:`artifact_frequencies`, one column per axis.
    """

    freqs: tuple[np.ndarray, ...]
    log_power: np.ndarray
    markers: np.ndarray
    period: int

    @property
    def fy(self) -> np.ndarray:
        """Vertical frequencies of an image (the second-last axis)."""
        return self.freqs[-2]

    @property
    def fx(self) -> np.ndarray:
        """Horizontal frequencies of an image, the frequencies of a sound (the last axis)."""
        return self.freqs[-1]


def log_power_spectrum(image, period: int, *, dims: int = 2) -> Spectrum:
    """Log power spectrum of the grey-level image with the artifact frequencies marked.

    The image is averaged over channels, its mean removed and multiplied by a 2-D Hann
    window (so that its borders do not smear energy along the axes), then
    ``log10(|FFT|^2 + 1e-12)`` is centred with ``fftshift``. A ``P``-periodic artifact
    shows as bright dots at ``(i/P, j/P)``. The same for any rank (``dims``): a sound's
    spectrum has its ``P``-periodic artifact as tones at ``i/P`` cycles/sample (``i``
    times the sample rate over ``P``), a volume's as dots at ``(i/P, j/P, l/P)``.
    """
    x = _as_image(image, period, min_side=2, dims=dims).mean(axis=-1)
    x = x - x.mean()
    window = outer_product([np.hanning(n) for n in x.shape])  # separable Hann window
    power = np.abs(np.fft.fftn(x * window)) ** 2 / (window ** 2).sum()
    log_power = np.log10(np.fft.fftshift(power) + 1e-12)
    freqs = tuple(np.fft.fftshift(np.fft.fftfreq(n)) for n in x.shape)
    return Spectrum(freqs=freqs, log_power=log_power,
                    markers=artifact_frequencies(period, dims=dims), period=period)


#: Beyond this period the P*P - 1 artifact circles would hide the spectrum.
MAX_MARKED_PERIOD = 8


def spectra_figure(spectra: Sequence[tuple[str, Spectrum]], *, per_row: int | None = None,
                   colorscale: str | list = "Viridis"):
    """Log power spectra side by side on ONE colour scale (with its bar), each a square
    panel with the artifact frequencies circled (:func:`core.maths.metrics.log_power_spectrum`).

    The scale runs from the 1st to the 99.9th percentile of all panels together, so a
    brighter dot is more power in every panel alike. The one spectrum figure builder of the
    project: :func:`spectrum_figure` is its one-panel case; pages pass their colour scale.
    """
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    n = len(spectra)
    per_row = max(1, min(per_row or n, n))
    rows = -(-n // per_row)
    values = np.concatenate([sp.log_power.ravel() for _, sp in spectra]) if spectra else np.zeros(1)
    lo, hi = (float(v) for v in np.percentile(values, [1.0, 99.9]))
    fig = make_subplots(rows=rows, cols=per_row, subplot_titles=[name for name, _ in spectra],
                        horizontal_spacing=0.03, vertical_spacing=0.14 if rows > 1 else 0.0)
    for i, (name, sp) in enumerate(spectra):
        r, c = divmod(i, per_row)
        fig.add_trace(go.Heatmap(
            x=sp.fx, y=sp.fy, z=sp.log_power.astype(np.float32), coloraxis="coloraxis",
            name=name, hovertemplate=f"{name}<br>fy=%{{y:.3f}} fx=%{{x:.3f}}<br>"
                                     "log10 power %{z:.2f}<extra></extra>"),
            row=r + 1, col=c + 1)
        if sp.period <= MAX_MARKED_PERIOD:  # beyond, P*P - 1 circles would hide the spectrum
            fig.add_trace(go.Scatter(
                x=sp.markers[:, 1], y=sp.markers[:, 0], mode="markers", showlegend=False,
                marker={"symbol": "circle-open", "size": 12, "color": "red",
                        "line": {"width": 2}},
                hovertemplate=f"artifact frequency (i/{sp.period}, j/{sp.period})<br>"
                              "fy=%{y:.3f} fx=%{x:.3f}<extra></extra>"),
                row=r + 1, col=c + 1)
        ticks = {"tickvals": [-0.5, -0.25, 0, 0.25], "ticktext": ["−½", "−¼", "0", "¼"]}
        fig.update_xaxes(**ticks, constrain="domain",
                         title_text="fx (cycles/pixel)" if r == rows - 1 else None,
                         row=r + 1, col=c + 1)
        fig.update_yaxes(**ticks, autorange="reversed", constrain="domain",
                         scaleanchor=f"x{i + 1 if i else ''}", showticklabels=c == 0,
                         title_text="fy (cycles/pixel)" if c == 0 else None,
                         row=r + 1, col=c + 1)
    fig.update_layout(
        coloraxis={"colorscale": colorscale, "cmin": lo, "cmax": hi,
                   "colorbar": {"title": {"text": "log10 power"}}},
        showlegend=False, margin={"l": 10, "r": 10, "t": 40, "b": 10},
    )
    return fig


def sound_spectrum_figure(spectrum: Spectrum, title: str | None = None, *,
                          rate: float | None = None):
    """A 1-D log power spectrum (a sound's) as a line over the positive frequencies, the
    artifact frequencies ``k / P`` dashed (``k * rate / P`` Hz when ``rate`` is given)."""
    import plotly.graph_objects as go

    f = spectrum.fx
    keep = np.flatnonzero((f >= 0) | (f == -0.5))  # the Nyquist bin sits at -1/2 once shifted
    keep = keep[np.argsort(np.abs(f[keep]))]
    unit, scale = ("Hz", float(rate)) if rate else ("cycles/sample", 1.0)
    fig = go.Figure(go.Scatter(
        x=np.abs(f[keep]) * scale, y=spectrum.log_power[keep], mode="lines", name="log10 power",
        hovertemplate=f"%{{x:.4g}} {unit}<br>log10 power %{{y:.2f}}<extra></extra>"))
    tones = np.unique(np.abs(spectrum.markers[:, 0]))
    if tones.size <= 16:  # beyond, dashed lines would hide the spectrum: the marks stay
        for tone in tones:
            fig.add_vline(x=tone * scale, line={"color": "red", "dash": "dash", "width": 1})
    if tones.size:
        fig.add_trace(go.Scatter(
            x=tones * scale, y=[float(np.max(spectrum.log_power))] * tones.size, mode="markers",
            marker={"symbol": "triangle-down", "color": "red", "size": 10},
            name=f"artifact frequencies k/{spectrum.period}",
            hovertemplate=f"artifact frequency %{{x:.4g}} {unit} (k/{spectrum.period})"
                          "<extra></extra>"))
    fig.update_layout(title={"text": title or ""}, xaxis_title=f"frequency ({unit})",
                      yaxis_title="log10 power", showlegend=False,
                      margin={"l": 10, "r": 10, "t": 40 if title else 10, "b": 10})
    return fig


def spectrum_figure(spectrum: Spectrum, title: str | None = None, *,
                    colorscale: str | list = "Viridis"):
    """One log power spectrum with the artifact frequencies circled: the one-panel case of
    :func:`spectra_figure` (a 1-D spectrum: :func:`sound_spectrum_figure`; a 3-D one: its
    central slice along the first axis)."""
    if len(spectrum.freqs) == 1:
        return sound_spectrum_figure(spectrum, title)
    if len(spectrum.freqs) == 3:
        centre = spectrum.log_power.shape[0] // 2
        markers = spectrum.markers[spectrum.markers[:, 0] == 0][:, 1:]
        spectrum = Spectrum(freqs=spectrum.freqs[1:], log_power=spectrum.log_power[centre],
                            markers=markers, period=spectrum.period)
    fig = spectra_figure([(title or "", spectrum)], colorscale=colorscale)
    if not title:
        fig.update_layout(margin={"l": 10, "r": 10, "t": 10, "b": 10})
    return fig


# ---------------------------------------------------------------------------------------
# Polyphase gains of a transposed-convolution kernel
# ---------------------------------------------------------------------------------------


def polyphase_gains(weight, stride: int, *, dims: int = 2) -> np.ndarray:
    """Sum of the taps that feed each output phase of a transposed convolution.

    A transposed convolution at stride ``s`` writes ``x[i] * w[t]`` to output pixel
    ``s*i + t - padding``: tap ``t`` only ever feeds the output phase
    ``(t - padding) mod s``. On a constant input every output pixel of phase ``a`` is
    ``x * G[a]`` with ``G[a] = sum{ w[t] : t = a (mod s) }``. Unequal gains are the
    overlap problem of the post, seen in the weights of any layer, trained or not, and
    whatever its kernel size (a ``k = 4, s = 2`` layer overlaps evenly but can still
    learn unequal gains).

    ``weight``: ``(k, k)`` or a ``ConvTranspose2d`` weight ``(C_in, C_out, k, k)`` (numpy
    array or tensor). Returns ``(s, s)`` or ``(C_in, C_out, s, s)``;
    ``gains[..., a, b]`` sums taps ``(t, u)`` with ``t mod s == a``, ``u mod s == b``
    (tap phases: the output phase is this shifted by ``padding``, which only relabels
    the entries). Any rank alike (``dims``): a ``ConvTranspose1d`` weight
    ``(C_in, C_out, k)`` gives ``(C_in, C_out, s)``, a ``ConvTranspose3d`` one
    ``(C_in, C_out, s, s, s)``; ``stride`` may be a tuple, one per axis.
    """
    dims = _check_dims(dims)
    strides = (stride,) * dims if not isinstance(stride, tuple | list) else tuple(stride)
    if len(strides) != dims or any(isinstance(v, bool) or not isinstance(v, int | np.integer)
                                   or v < 1 for v in strides):
        raise ValueError(f"stride must be an integer >= 1 (or {dims} of them), got {stride!r}")
    if hasattr(weight, "detach"):
        weight = weight.detach().cpu().numpy()
    w = np.asarray(weight, dtype=np.float64)
    if w.ndim not in (dims, dims + 2):
        k = ", ".join(["k"] * dims)
        raise ValueError(f"weight must be ({k}) or (C_in, C_out, {k}), got shape {w.shape}")
    lead = w.ndim - dims
    # Zero-pad the kernel to whole periods, then fold each axis into (taps, phase).
    sides = [-(-k // st) * st for k, st in zip(w.shape[lead:], strides, strict=True)]
    w = np.pad(w, [(0, 0)] * lead + [(0, side - k) for side, k
                                      in zip(sides, w.shape[lead:], strict=True)])
    split = [n for side, st in zip(sides, strides, strict=True) for n in (side // st, st)]
    w = w.reshape(*w.shape[:lead], *split)  # (..., taps_0, s_0, taps_1, s_1, ...)
    return w.sum(axis=tuple(lead + 2 * i for i in range(dims)))


def gain_imbalance(gains, *, dims: int = 2) -> float:
    """How unequal the phase gains are: ``mean over channel pairs of (max - min over the
    phases)``, divided by the RMS of all gains. 0 for every fix (equal phases); a few
    tenths to over 1 for a randomly initialised 3x3, stride-2 transposed convolution.

    ``gains``: ``(s, s)`` or ``(C_in, C_out, s, s)`` (:func:`polyphase_gains`, or
    :func:`core.maths.phase_gains.phase_gains`); with ``dims`` phase axes in general
    (``(s,)`` / ``(C_in, C_out, s)`` for a sound, ``(s, s, s)`` / ``(C_in, C_out, s, s, s)``
    for a volume).
    """
    dims = _check_dims(dims)
    g = np.asarray(gains, dtype=np.float64)
    if g.ndim not in (dims, dims + 2):
        s = ", ".join(["s"] * dims)
        raise ValueError(f"gains must be ({s}) or (C_in, C_out, {s}), got shape {g.shape}")
    rms = float(np.sqrt(np.mean(g ** 2)))
    if rms == 0.0:
        return 0.0
    phases = tuple(range(-dims, 0))
    spread = g.max(axis=phases) - g.min(axis=phases)
    return float(np.mean(spread) / rms)


def to_unit_range(image, bounds: tuple[float, float] | None = None) -> np.ndarray:
    """Rescale an image linearly to ``[0, 1]`` (min -> 0, max -> 1, all channels together).

    Randomly initialised layers output arbitrary ranges; the layer lab shows and scores
    them after this rescaling, so scores compare across layers. A constant image maps
    to 0.5 everywhere. ``bounds``: rescale by this ``(min, max)`` instead of the image's
    own (the audit's shift test scales shifted outputs like the unshifted one).
    """
    arr = np.asarray(image, dtype=np.float64)
    lo, hi = bounds if bounds is not None else (float(arr.min()), float(arr.max()))
    if hi - lo <= 1e-12 * max(1.0, abs(hi)):
        return np.full_like(arr, 0.5)
    return (arr - lo) / (hi - lo)
