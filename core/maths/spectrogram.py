"""Where a sound's checkerboard lives: artifact tones in hertz and a spectrogram.

A 1-D upsampler whose strides multiply to ``P`` paints a ``P``-periodic pattern on its
output, exactly as the 2-D ones paint a ``P x P`` tile (:mod:`core.maths.metrics`). A
pattern that repeats every ``P`` samples of a sound at ``rate`` Hz is a sum of tones at

    f_k = k * rate / P,        k = 1 .. floor(P / 2)                            (1)

(the 1-D :func:`core.maths.metrics.artifact_frequencies`, ``k / P`` cycles/sample, times
the rate, folded to the positive half). A vocoder at 22,050 Hz with strides 8, 8, 2, 2
(``P = 256``) can ring at 86 Hz and every multiple of it; one stride-8 layer at 16 kHz
at 2, 4, 6 and 8 kHz. Pons et al. 2021 ("Upsampling artifacts in neural audio
synthesis", ICASSP) hear these tones from transposed convolutions.

:func:`spectrogram` shows them over time: horizontal lines at ``f_k`` that do not follow
the input's own pitch.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .metrics import artifact_frequencies

__all__ = ["Spectrogram", "artifact_tones", "spectrogram"]

#: Most frames a spectrogram keeps (longer sounds use a larger hop).
MAX_FRAMES = 400


def artifact_tones(rate: float, period: int) -> np.ndarray:
    """Formula (1): the tones ``k * rate / period`` in Hz, ``0 < f <= rate / 2``, ascending."""
    if not isinstance(rate, int | float) or isinstance(rate, bool) or not rate > 0:
        raise ValueError(f"rate must be a positive number of Hz, got {rate!r}")
    cycles = artifact_frequencies(period, dims=1)[:, 0]  # k/P folded into [-0.5, 0.5)
    return np.unique(np.abs(cycles)) * rate


@dataclass(frozen=True)
class Spectrogram:
    """``db[f, t]``: the level in decibels of frequency ``freqs[f]`` (Hz) around time
    ``times[t]`` (s); 0 dB is a full-scale sine (amplitude 1), whatever the window, so
    spectrograms of different sounds and rates share one scale."""

    times: np.ndarray
    freqs: np.ndarray
    db: np.ndarray
    rate: float


def spectrogram(signal, rate: float, *, window: int = 512, floor_db: float = -120.0) -> Spectrogram:
    """Short-time power spectrum of a ``(L,)`` sound: Hann windows of ``window`` samples
    (shortened to the sound), hop chosen so at most :data:`MAX_FRAMES` frames, in dB of a
    full-scale sine (a sine of amplitude ``A`` reads ``20 log10 A`` at its bin:
    ``|X|^2 * 4 / (sum of the window)^2``), clipped at ``floor_db``."""
    x = np.asarray(signal, dtype=np.float64)
    if x.ndim != 1 or x.size < 2:
        raise ValueError(f"signal must be (L,) with L >= 2, got shape {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError("signal must contain only finite values")
    if not isinstance(rate, int | float) or isinstance(rate, bool) or not rate > 0:
        raise ValueError(f"rate must be a positive number of Hz, got {rate!r}")
    n = int(min(window, x.size))
    hop = max(n // 4, -(-(x.size - n) // MAX_FRAMES), 1)
    starts = np.arange(0, x.size - n + 1, hop)
    frames = np.lib.stride_tricks.sliding_window_view(x, n)[starts]  # (T, n)
    hann = np.hanning(n) if n > 2 else np.ones(n)
    power = np.abs(np.fft.rfft((frames - frames.mean(axis=1, keepdims=True)) * hann, axis=1)) ** 2
    db = 10 * np.log10(4 * power.T / hann.sum() ** 2 + 1e-20)  # (F, T)
    db = np.maximum(db, floor_db)
    return Spectrogram(times=(starts + n / 2) / rate, freqs=np.fft.rfftfreq(n, 1 / rate),
                       db=db.astype(np.float32), rate=float(rate))
