"""Generated sounds to feed 1-D upsamplers, and WAV bytes to play them.

Nothing is downloaded: every signal is made here from a few numbers, seeded, so a view
is reproducible from its settings alone. The signals are those the Hear it page offers
(a tone, a chord, noise) and those a neural vocoder makes (a sum of harmonics with a
little noise, like a sung vowel; speech-like bursts: voiced syllables with gliding
pitch, fricative noise and pauses), which the audit uses as 1-D probes.

All are float32 ``(L,)`` in ``[-1, 1]`` (peak 0.9 at most), ``L = round(seconds * rate)``.
"""

from __future__ import annotations

import io
import wave

import numpy as np

__all__ = ["MAX_SAMPLES", "PLAYABLE_RATE", "SOUND_KINDS", "make_sound", "playable", "wav_bytes"]

#: What :func:`make_sound` makes.
SOUND_KINDS = ("tone", "chord", "noise", "harmonics", "speech")
#: Longest sound made or encoded (10 s at 48 kHz).
MAX_SAMPLES = 480_000
#: Sample rates accepted, in Hz (telephone to studio).
MIN_RATE, MAX_RATE = 250, 48_000
#: Lowest WAV sample rate browsers play: Chromium refuses a 1,000 or 2,000 Hz file
#: (MEDIA_ERR_SRC_NOT_SUPPORTED; its audio pipeline starts at 3,000 Hz).
PLAYABLE_RATE = 3_000


def _check(rate, seconds) -> int:
    if isinstance(rate, bool) or not isinstance(rate, int | np.integer) \
            or not MIN_RATE <= rate <= MAX_RATE:
        raise ValueError(f"rate must be an integer from {MIN_RATE} to {MAX_RATE} Hz, got {rate!r}")
    if not isinstance(seconds, int | float) or isinstance(seconds, bool) or not seconds > 0:
        raise ValueError(f"seconds must be a positive number, got {seconds!r}")
    n = int(round(seconds * rate))
    if not 1 <= n <= MAX_SAMPLES:
        raise ValueError(f"a sound of {seconds} s at {rate} Hz has {n} samples; "
                         f"1 to {MAX_SAMPLES:,} are made")
    return n


def _partials(t: np.ndarray, f0, rate: int, count: int = 40) -> np.ndarray:
    """Sum of the harmonics ``k * f0`` below Nyquist with amplitude ``1/k`` (a bright,
    voice-like spectrum); ``f0`` a number or an array (a gliding pitch)."""
    f0 = np.broadcast_to(np.asarray(f0, dtype=np.float64), t.shape)
    phase = 2 * np.pi * np.cumsum(f0) / rate  # integrated pitch: no clicks when it glides
    out = np.zeros_like(t)
    for k in range(1, count + 1):
        alive = k * f0 < rate / 2  # a harmonic above Nyquist would alias
        out += np.where(alive, np.sin(k * phase) / k, 0.0)
    return out


def _normalise(x: np.ndarray, peak: float = 0.9) -> np.ndarray:
    top = float(np.max(np.abs(x))) if x.size else 0.0
    return (x * (peak / top) if top > 0 else x).astype(np.float32)


def make_sound(kind: str, rate: int, seconds: float = 1.0, *, freq: float = 440.0,
               seed: int = 0) -> np.ndarray:
    """A float32 ``(L,)`` sound in ``[-1, 1]`` at ``rate`` Hz.

    ``tone``: a sine at ``freq``; ``chord``: ``freq`` with its major third and fifth
    (ratios 1, 5/4, 3/2); ``noise``: white noise from ``seed``; ``harmonics``: a vowel-like
    sum of the harmonics of ``freq / 3`` (1/k amplitudes) plus noise 30 dB down;
    ``speech``: syllable-like bursts (200-300 ms of gliding harmonics around 120-220 Hz,
    hann-shaped, some with a noise burst like an "s") separated by short pauses.
    A frequency at or above Nyquist (``rate / 2``) is refused.
    """
    n = _check(rate, seconds)
    if not isinstance(freq, int | float) or isinstance(freq, bool) or not 0 < freq < rate / 2:
        raise ValueError(f"freq must be between 0 and Nyquist ({rate / 2:g} Hz), got {freq!r}")
    t = np.arange(n) / rate
    rng = np.random.default_rng(seed)
    if kind == "tone":
        x = np.sin(2 * np.pi * freq * t)
    elif kind == "chord":
        x = sum(np.sin(2 * np.pi * freq * r * t) for r in (1.0, 1.25, 1.5) if freq * r < rate / 2)
    elif kind == "noise":
        x = rng.standard_normal(n)
    elif kind == "harmonics":
        x = _partials(t, freq / 3, rate)
        x = x / np.max(np.abs(x)) + 10 ** (-30 / 20) * rng.standard_normal(n)
    elif kind == "speech":
        x = _speech(n, rate, rng)
    else:
        raise ValueError(f"kind must be one of {SOUND_KINDS}, got {kind!r}")
    return _normalise(np.asarray(x, dtype=np.float64))


def _speech(n: int, rate: int, rng: np.random.Generator) -> np.ndarray:
    """Syllable-like bursts: voiced (gliding harmonics) with an optional fricative."""
    x = np.zeros(n)
    start = int(0.05 * rate)
    while start < n:
        length = int(rng.uniform(0.2, 0.3) * rate)
        stop = min(n, start + length)
        t = np.arange(stop - start) / rate
        f_start, f_end = rng.uniform(120, 220, size=2)
        pitch = np.linspace(f_start, f_end, t.size)
        envelope = np.hanning(t.size)
        burst = _partials(t, pitch, rate) * envelope
        if rng.random() < 0.4:  # a fricative: noise at the syllable's end
            burst += 0.3 * rng.standard_normal(t.size) * envelope[::-1] ** 2
        x[start:stop] += burst
        start = stop + int(rng.uniform(0.05, 0.12) * rate)
    return x


def wav_bytes(signal, rate: int) -> bytes:
    """A mono 16-bit PCM WAV file of ``signal`` (clipped to ``[-1, 1]``) at ``rate`` Hz,
    for ``st.audio`` and downloads: the sample rate is in the file, nothing rescaled."""
    x = np.asarray(signal, dtype=np.float64)
    if x.ndim != 1:
        raise ValueError(f"signal must be (L,), got shape {x.shape}")
    _check(rate, max(1, x.size) / rate)
    if not np.all(np.isfinite(x)):
        raise ValueError("signal must contain only finite values")
    pcm = np.round(np.clip(x, -1.0, 1.0) * 32767).astype("<i2")
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(int(rate))
        out.writeframes(pcm.tobytes())
    return buffer.getvalue()


def playable(signal, rate: int) -> tuple[np.ndarray, int]:
    """``(signal, rate)`` as a browser can play it: unchanged from :data:`PLAYABLE_RATE`
    up; below, upsampled by the smallest whole factor that reaches it, band-limited (the
    spectrum zero-padded: the same sound, nothing added above the old Nyquist)."""
    x = np.asarray(signal, dtype=np.float64)
    if rate >= PLAYABLE_RATE or x.size < 2:
        return x, int(rate)
    factor = -(-PLAYABLE_RATE // int(rate))
    spectrum = np.fft.rfft(x)
    if x.size % 2 == 0:
        spectrum[-1] *= 0.5  # the Nyquist bin is shared by +/- frequencies once padded
    padded = np.zeros(x.size * factor // 2 + 1, dtype=complex)
    padded[:spectrum.size] = spectrum
    return np.fft.irfft(padded * factor, n=x.size * factor), int(rate) * factor
