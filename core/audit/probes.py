"""Probes: the network run on photographs and noise; spectra and the shift test.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

from ..maths.metrics import (
    Spectrum,
    checkerboard_score,
    high_pass,
    log_power_spectrum,
    to_unit_range,
)
from .analysis import integer_factor
from .limits import (
    GRID_PERIODS,
    GRID_RATIO,
    GRID_Z,
    MAX_PSNR,
    MIN_IMAGE_SIDE,
    AuditError,
)
from .report import ProbeReport, ProbeResult

# ---------------------------------------------------------------------------------------
# Probes
# ---------------------------------------------------------------------------------------


def _smooth_noise(shape: tuple[int, int, int], seed: int) -> np.ndarray:
    """Periodic, band-limited noise in [0, 1]: Gaussian low-pass (sigma of the spectrum
    1/16 cycle/pixel) of white noise, so any sub-pixel shift of it is exact."""
    h, w, c = shape
    rng = np.random.default_rng(seed)
    white = rng.standard_normal((h, w, c))
    fy = np.fft.fftfreq(h)[:, None, None]
    fx = np.fft.fftfreq(w)[None, :, None]
    lowpass = np.exp(-(fy ** 2 + fx ** 2) / (2 * (1 / 16) ** 2))
    smooth = np.real(np.fft.ifft2(np.fft.fft2(white, axes=(0, 1)) * lowpass, axes=(0, 1)))
    smooth = (smooth - smooth.mean()) / (smooth.std() + 1e-12)
    return np.clip(0.5 + 0.15 * smooth, 0.0, 1.0)


def _fourier_shift(image: np.ndarray, dy: float, dx: float) -> np.ndarray:
    """``image`` (H, W, C) moved by (dy, dx) pixels, circularly; exact roll for integers."""
    if float(dy).is_integer() and float(dx).is_integer():
        return np.roll(image, (int(dy), int(dx)), axis=(0, 1))
    h, w = image.shape[:2]
    fy = np.fft.fftfreq(h)[:, None, None]
    fx = np.fft.fftfreq(w)[None, :, None]
    ramp = np.exp(-2j * np.pi * (fy * dy + fx * dx))
    return np.real(np.fft.ifft2(np.fft.fft2(image, axes=(0, 1)) * ramp, axes=(0, 1)))


def _photograph(shape: tuple[int, int, int], image: np.ndarray | None) -> np.ndarray:
    """The photograph probe (or the user's image) at (H, W, C), in [0, 1].

    Read with :mod:`core.io.photos` (not the layer lab's inputs, which import torch: an
    ONNX-only audit never imports torch).
    """
    from ..io.photos import read_rgb, resize_center_crop, skimage_data_dir

    h, w, c = shape
    side = max(h, w)
    if image is not None:
        arr = _as_rgb(image)
        if arr.dtype != np.uint8:
            arr = np.rint(np.clip(arr, 0.0, 1.0) * 255.0).astype(np.uint8)
    else:
        arr = read_rgb(skimage_data_dir() / "astronaut.png")  # (H, W, 3) uint8
    rgb = resize_center_crop(arr, side).astype(np.float64) / 255.0
    top, left = (side - h) // 2, (side - w) // 2
    rgb = rgb[top:top + h, left:left + w]  # (H, W, 3)
    if c == 3:
        return rgb
    grey = rgb @ np.array([0.299, 0.587, 0.114])
    return np.repeat(grey[:, :, None], c, axis=2)


def _as_rgb(image: np.ndarray) -> np.ndarray:
    arr = np.asarray(image)
    if arr.ndim == 2:
        arr = np.repeat(arr[:, :, None], 3, axis=2)
    if arr.ndim != 3 or arr.shape[2] not in (1, 3, 4):
        raise AuditError(f"the probe image must be (H, W), (H, W, 3) or (H, W, 4), got "
                         f"shape {arr.shape}")
    if arr.shape[2] == 1:
        arr = np.repeat(arr, 3, axis=2)
    return arr[:, :, :3]


def _probe_inputs(input_shape: Sequence[int], image: np.ndarray | None,
                  seed: int) -> tuple[dict[str, np.ndarray], bool]:
    """Probe images ``name -> (H, W, C)`` and whether the input is an image."""
    _, c, h, w = input_shape
    image_like = min(h, w) >= MIN_IMAGE_SIDE
    probes = {"constant": np.full((h, w, c), 0.5)}
    if image_like:
        probes["smooth noise"] = _smooth_noise((h, w, c), seed)
        probes["photograph" if image is None else "your image"] = _photograph((h, w, c), image)
    else:  # a latent vector: constant, and a seeded standard normal latent
        probes["random latent"] = np.random.default_rng(seed).standard_normal((h, w, c))
    return probes, image_like


def trace_input(input_shape: Sequence[int], seed: int = 0) -> np.ndarray:
    """The ``(N, C, H, W)`` float32 input a live module is traced on: the smooth noise
    probe for an image, a seeded standard normal latent otherwise. Not zeros: a forward
    that takes another path on an all-zero input would hide its layers from the trace."""
    n, c, h, w = (int(v) for v in input_shape)
    if min(h, w) >= MIN_IMAGE_SIDE:
        x = _smooth_noise((h, w, c), seed)
    else:
        x = np.random.default_rng(seed).standard_normal((h, w, c))
    return np.repeat(x.transpose(2, 0, 1)[None], n, axis=0).astype(np.float32)


#: The one scaling rule of every probe output and every measured fix, stated in reports.
SCALING_RULE = ("every output (each probe, and each network of a measured fix) is rescaled "
                "by its own minimum and maximum to [0, 1] before it is scored, so the score "
                "does not depend on the output's range (x2 scores the same)")


def azimuthal_average(spectrum: Spectrum) -> tuple[np.ndarray, np.ndarray]:
    """Azimuthally averaged power of a :class:`core.maths.metrics.Spectrum` (Durall et al. 2020).

    Power (not log power) is averaged over rings one frequency bin wide; returns
    ``(radius in cycles/pixel, log10 mean power)`` from 0 to the corner (0.5 * sqrt 2).
    """
    power = 10.0 ** spectrum.log_power
    fy, fx = np.meshgrid(spectrum.fy, spectrum.fx, indexing="ij")
    radius = np.hypot(fy, fx)
    step = 1.0 / max(len(spectrum.fy), len(spectrum.fx))
    bins = np.rint(radius / step).astype(int)
    sums = np.bincount(bins.ravel(), power.ravel())
    counts = np.bincount(bins.ravel())
    keep = counts > 0
    freq = np.arange(sums.size)[keep] * step
    return freq, np.log10(sums[keep] / counts[keep] + 1e-12)


def _score_period(period: int, shape: tuple[int, ...]) -> int:
    """The period the score uses: the predicted one (>= 2), reduced to a divisor that
    fits the image's ``4 * period`` minimum side if needed."""
    p = max(2, period)
    side = min(shape[:2])
    while p > 2 and 4 * p > side:
        divisors = [d for d in range(2, p) if p % d == 0]
        p = divisors[-1] if divisors else 2
    return p


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a - b) ** 2))
    if mse <= 10 ** (-MAX_PSNR / 10):
        return MAX_PSNR
    return 10.0 * math.log10(1.0 / mse)


def _finite(y: np.ndarray, probe: str) -> np.ndarray:
    """``y``, or AuditError when the model's output holds NaN or infinity (a float16
    overflow, a division by zero): such an output has no score and no shift test."""
    if y.dtype.kind in "fc" and not np.all(np.isfinite(y)):
        nan = int(np.count_nonzero(np.isnan(y)))
        inf = int(np.count_nonzero(np.isinf(y)))
        dtype = " (float16 overflows above 65504)" if y.dtype == np.float16 else ""
        raise AuditError(
            f"the model's output on the {probe} probe is not finite: {nan:,} NaN and {inf:,} "
            f"infinite of {y.size:,} values{dtype}; it cannot be scored, refused (--no-probes "
            "gives the layer analysis alone)")
    return y


def grid_significance(image: np.ndarray, period: int) -> float:
    """The checkerboard score at ``period`` in standard errors of a non-periodic image's:
    ``score / (RMS(high-pass residual) / sqrt(number of P x P tiles))``. Detail that does
    not repeat averages out over the tiles like noise (about 1 here, whatever the image's
    size or texture); a grid adds up coherently (tens)."""
    residual, _, _ = high_pass(image, period)
    tiles = (residual.shape[0] // period) * (residual.shape[1] // period)
    noise = float(np.sqrt(np.mean(residual ** 2))) / math.sqrt(max(tiles, 1))
    return checkerboard_score(image, period) / noise if noise > 0 else 0.0


def grid_evidence(output: np.ndarray, photograph: np.ndarray,
                  network_period: int) -> dict[int, dict]:
    """Whether the probes' ``output`` (H, W, C in [0, 1]) carries a grid: at each period of
    :data:`GRID_PERIODS` and the network's own (where the output holds 4 periods), its
    score, the ``photograph``'s own score at the output's size, their ratio, the score in
    standard errors (:func:`grid_significance`), and ``grid``: ratio over
    :data:`GRID_RATIO` and z over :data:`GRID_Z`."""
    periods = sorted({*GRID_PERIODS, *([network_period] if network_period >= 2 else [])})
    out = {}
    for p in periods:
        if min(output.shape[:2]) < 4 * p:
            continue
        score = checkerboard_score(output, p)
        own = checkerboard_score(photograph, p)
        ratio = score / own if own > 0 else math.inf
        z = grid_significance(output, p)
        out[p] = {"score": score, "photograph": own, "ratio": round(ratio, 3),
                  "z": round(z, 3), "grid": bool(ratio > GRID_RATIO and z > GRID_Z)}
    return out


#: Most shifts the shift test runs (a long period is sampled evenly).
MAX_SHIFTS = 15


def run_probes(run: Callable[[np.ndarray], np.ndarray], input_shape: Sequence[int],
                period: int, *, image: np.ndarray | None = None, seed: int = 0) -> ProbeReport:
    """Feed the probes through ``run`` ((N, C, H, W) float32 -> (N, C', H', W')).

    Scores, spectra, and the shift test on the smooth noise.
    """
    n = int(input_shape[0])
    probes, image_like = _probe_inputs(input_shape, image, seed)
    notes: list[str] = []
    results: dict[str, ProbeResult] = {}
    raw_outputs: dict[str, np.ndarray] = {}
    p_used = None
    for name, x in probes.items():
        batch = np.repeat(x.transpose(2, 0, 1)[None], n, axis=0).astype(np.float32)
        y = _finite(np.asarray(run(batch)), name)
        if y.ndim != 4:
            notes.append(f"the output has shape {tuple(y.shape)}, not (N, C, H, W): "
                         "no image measurements")
            return ProbeReport(max(2, period), {}, None, None, {}, None,
                               "output is not an image", notes)
        out = y[0].astype(np.float64).transpose(1, 2, 0)  # (H', W', C')
        raw_outputs[name] = out
        scored = to_unit_range(out)  # SCALING_RULE
        p_used = _score_period(period, scored.shape) if p_used is None else p_used
        score = spectrum = radial = None
        if min(scored.shape[:2]) >= 4 * p_used:
            score = checkerboard_score(scored, p_used)
            spectrum = log_power_spectrum(scored, p_used)
            radial = azimuthal_average(spectrum)
        results[name] = ProbeResult(name, x, scored, "min-max", score, spectrum, radial)
    p_used = p_used or max(2, period)
    notes.append(f"scaling: {SCALING_RULE}")
    if period < 2:
        notes.append("no upsampling layer with an integer stride: scores use period 2")
    elif p_used != period:
        notes.append(f"the output is too small for period {period}: scores use {p_used}")
    scored_on = next((k for k in ("photograph", "your image", "smooth noise", "random latent")
                      if k in results and results[k].score is not None), None)
    score = results[scored_on].score if scored_on else None
    grid = {}
    if scored_on:
        scored = results[scored_on].output
        photo = _photograph(scored.shape, image)  # the photograph's own, at the output size
        grid = grid_evidence(scored, photo, period)
    # The shift test: f(shift(x)) against shift(f(x)) on the band-limited noise.
    shift_psnr: dict[int, float] = {}
    reference = None
    shift_note = None
    out0 = raw_outputs.get("smooth noise")
    if not image_like or out0 is None:
        shift_note = "the input is not an image (latent vector): no shift test"
    else:
        h_in = int(input_shape[2])
        net = out0.shape[0] / h_in
        if net <= 0 or (integer_factor(net) is None and integer_factor(1 / net) is None):
            shift_note = f"net scale {net:.3g} is not an integer or its inverse: no shift test"
        elif min(out0.shape[:2]) < 4 * max(2, period):
            shift_note = (f"the output ({out0.shape[0]}x{out0.shape[1]} px) is smaller than 4 "
                          f"periods of {max(2, period)} px: no shift test (audit at a larger "
                          "input shape to run it)")
        else:
            lo_hi = (float(out0.min()), float(out0.max()))
            base = to_unit_range(out0, lo_hi)
            h, w = base.shape[:2]
            margin = max(period, min(h, w) // 4)
            crop = (slice(margin, h - margin), slice(margin, w - margin))
            x0 = probes["smooth noise"]
            shifts = list(range(1, max(2, period)))
            if len(shifts) > MAX_SHIFTS:  # evenly spread, 1 and period - 1 kept
                picks = np.linspace(0, len(shifts) - 1, MAX_SHIFTS).round().astype(int)
                shifts = [shifts[i] for i in sorted(set(picks.tolist()))]
            for d in shifts + [max(2, period)]:
                xs = _fourier_shift(x0, d / net, d / net)
                batch = np.repeat(xs.transpose(2, 0, 1)[None], n, axis=0).astype(np.float32)
                ys = _finite(np.asarray(run(batch)), f"shifted noise (d={d})")[0]
                ys = ys.astype(np.float64).transpose(1, 2, 0)
                shifted = to_unit_range(ys, lo_hi)
                expected = np.roll(base, (d, d), axis=(0, 1))
                value = _psnr(np.clip(shifted[crop], 0, 1), np.clip(expected[crop], 0, 1))
                if d in shifts:
                    shift_psnr[d] = value
                else:
                    reference = (d, value)
            shift_note = (f"diagonal shifts of d output pixels (d/{net:g} input pixels, "
                          "Fourier-shifted band-limited noise); PSNR on the central part")
    return ProbeReport(p_used, results, scored_on, score, shift_psnr, reference, shift_note,
                       notes, grid=grid)


