"""The checkerboard in sound: a 1-D upsampler's output as a waveform, a spectrogram with
the artifact tones ``k * rate / P`` marked, and two players (the Hear it page, the story's
"The same in sound" step).

Every number comes from ``core``: the sound (:mod:`core.io.sounds`), the upsampler stack
(:func:`core.upsamplers.lab_inputs.upsample_sound`), the score at the period
(:func:`core.maths.metrics.checkerboard_score` with ``dims=1``), the tones and the
spectrogram (:mod:`core.maths.spectrogram`); this module draws.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from core.io.sounds import playable, wav_bytes
from core.maths.metrics import checkerboard_score, format_score, gain_imbalance, to_unit_range
from core.maths.phase_gains import phase_gains
from core.maths.spectrogram import Spectrogram, artifact_tones, spectrogram
from core.upsamplers.lab_inputs import build_stack, upsample_sound
from ui.common import presenting
from ui.plots import colorscale, show_plot

#: The output sample rate aimed at; the input's is ``round(target / P)`` and the output's
#: exactly ``P`` times that, so both are whole numbers of hertz.
TARGET_RATES = (16000, 22050)
#: Longest artifact period offered (16 kHz / 64 = 250 Hz input).
MAX_PERIOD = 64
#: Most tones drawn on a spectrogram (beyond, lines would hide it).
MAX_TONES = 16
#: Length of every sound, in seconds.
SECONDS = 1.0
#: Spread of the phase gains "as after training" (core.upsamplers.phases.unequal_phases_).
TRAINED_SPREAD = 0.5


@dataclass(frozen=True)
class SoundSpec:
    """One 1-D upsampler stack and the sound fed to it."""

    name: str = "deconv"
    kernel_size: int = 3
    scale: int = 2
    layers: int = 3
    trained: bool = False
    sound: str = "harmonics"
    freq: float = 330.0
    target_rate: int = 16000
    seed: int = 0

    @property
    def period(self) -> int:
        """The artifact's period in output samples: the product of the strides."""
        return self.scale ** self.layers

    @property
    def rate_in(self) -> int:
        return max(1, round(self.target_rate / self.period))

    @property
    def rate_out(self) -> int:
        return self.rate_in * self.period


@dataclass(frozen=True, eq=False)
class SoundResult:
    """A sound through the stack: both signals, the score, the tones, the spectrograms."""

    spec: SoundSpec
    sound: np.ndarray  # (L,) the input at rate_in
    output: np.ndarray  # (L * P,) mean removed, peak 0.9, at rate_out
    score: float  # checkerboard_score(to_unit_range(raw output), P, dims=1)
    imbalance: float  # gain_imbalance of the first layer's phase gains
    tones: np.ndarray  # artifact_tones(rate_out, P), Hz
    freq: float  # the input frequency actually used (below the input's Nyquist)
    spec_in: Spectrogram
    spec_out: Spectrogram


def usable_freq(freq: float, rate_in: int) -> float:
    """``freq`` lowered to 40 % of the input rate if it would reach the input's Nyquist."""
    return float(min(freq, 0.4 * rate_in))


@st.cache_data(max_entries=32, show_spinner=False)
def sound_result(spec: SoundSpec) -> SoundResult:
    """Cached on the (small, hashable) spec: the sound is made from it."""
    from core.io.sounds import make_sound

    freq = usable_freq(spec.freq, spec.rate_in)
    x = make_sound(spec.sound, spec.rate_in, SECONDS, freq=freq, seed=spec.seed)  # (L,)
    raw = upsample_sound(spec.name, x, layers=spec.layers, scale=spec.scale,
                         kernel_size=spec.kernel_size, seed=spec.seed,
                         trained=TRAINED_SPREAD if spec.trained else 0.0)  # (L * P,)
    centred = raw - raw.mean()
    peak = float(np.max(np.abs(centred)))
    out = (centred * (0.9 / peak) if peak > 0 else centred).astype(np.float32)
    first = build_stack(spec.name, 1, 1, scale=spec.scale, kernel_size=spec.kernel_size,
                        seed=spec.seed, dims=1)
    if spec.trained:
        from core.upsamplers.phases import unequal_phases_

        unequal_phases_(first, TRAINED_SPREAD, seed=spec.seed)
    gains = phase_gains(first[0], 1, spec.scale, dims=1)
    return SoundResult(
        spec=spec, sound=x, output=out,
        score=checkerboard_score(to_unit_range(raw), spec.period, dims=1),
        imbalance=gain_imbalance(gains, dims=1), tones=artifact_tones(spec.rate_out, spec.period),
        freq=freq, spec_in=spectrogram(x, spec.rate_in, window=max(32, 512 // spec.period)),
        spec_out=spectrogram(out, spec.rate_out, window=512))


# --------------------------------------------------------------------------- figures


def waveform_figure(result: SoundResult, *, periods: int = 6) -> go.Figure:
    """The first ``periods`` artifact periods (at least 2 ms) of the output, with the input
    samples it was made from, on one time axis in milliseconds."""
    spec = result.spec
    n_out = min(result.output.size, max(periods * spec.period, int(0.002 * spec.rate_out)))
    n_in = -(-n_out // spec.period)
    start = result.output.size // 2 // spec.period * spec.period  # mid-sound, whole periods
    t_out = (start + np.arange(n_out)) / spec.rate_out * 1e3
    t_in = (start // spec.period + np.arange(n_in)) / spec.rate_in * 1e3
    fig = go.Figure()
    fig.add_trace(go.Scatter(
        x=t_in, y=result.sound[start // spec.period:start // spec.period + n_in],
        mode="markers", name=f"input ({spec.rate_in:,} Hz)",
        marker={"size": 10, "symbol": "circle-open", "line": {"width": 2}},
        marker_color="rgb(230, 120, 20)",
        hovertemplate="input sample<br>%{x:.3f} ms: %{y:.3f}<extra></extra>"))
    fig.add_trace(go.Scatter(
        x=t_out, y=result.output[start:start + n_out], mode="lines+markers",
        name=f"output ({spec.rate_out:,} Hz)", marker={"size": 4},
        line={"color": "rgb(40, 90, 200)"},
        hovertemplate="output sample<br>%{x:.3f} ms: %{y:.3f}<extra></extra>"))
    fig.update_layout(
        title={"text": f"Waveform: {periods} periods of {spec.period} output samples"},
        xaxis_title="time (ms)", yaxis_title="amplitude (output: peak 0.9)",
        legend={"orientation": "h", "y": -0.25}, margin={"l": 10, "r": 10, "t": 50, "b": 10})
    return fig


def _tone_ticks(fig: go.Figure, tones: np.ndarray, x: float, period: int, rate: int, *,
                col: int, legend: bool) -> None:
    """The artifact tones as red ticks just right of a panel (the spectrogram under them
    stays visible), each with its formula in the hover text."""
    shown = tones[:MAX_TONES]
    fig.add_trace(go.Scatter(
        x=[x] * shown.size, y=shown, mode="markers", showlegend=legend,
        name=f"artifact tones k·{rate:,}/{period} Hz", legendgroup="tones",
        marker={"symbol": "triangle-left", "size": 11, "color": "rgb(230, 30, 30)"},
        customdata=np.arange(1, shown.size + 1),
        hovertemplate=f"artifact tone %{{customdata}}·{rate:,}/{period} = %{{y:,.0f}} Hz"
                      "<extra></extra>"), row=1, col=col)


def spectrogram_figure(panels: list[tuple[str, Spectrogram]], tones: np.ndarray, period: int,
                       rate_out: int) -> go.Figure:
    """Spectrograms side by side on one frequency axis (0 to the output's Nyquist) and one
    dB scale (0 dB: a full-scale sine), the artifact tones ticked at each panel's right
    edge where its Nyquist reaches them."""
    from plotly.subplots import make_subplots

    fig = make_subplots(rows=1, cols=len(panels), shared_yaxes=True,
                        subplot_titles=[title for title, _ in panels], horizontal_spacing=0.05)
    legend = True
    for i, (title, sg) in enumerate(panels, start=1):
        fig.add_trace(go.Heatmap(
            x=sg.times, y=sg.freqs, z=sg.db, coloraxis="coloraxis", name=title,
            hovertemplate=f"{title}<br>%{{x:.2f}} s, %{{y:,.0f}} Hz<br>%{{z:.0f}} dB"
                          "<extra></extra>"), row=1, col=i)
        end = float(sg.times[-1]) + 0.04 * float(sg.times[-1] - sg.times[0] or 1.0)
        reachable = tones[tones <= sg.rate / 2]
        if reachable.size:
            _tone_ticks(fig, reachable, end, period, rate_out, col=i, legend=legend)
            legend = False
        fig.update_xaxes(title_text="time (s)", range=[0.0, end + 0.03], row=1, col=i)
    fig.update_yaxes(title_text="frequency (Hz)", range=[0, rate_out / 2 * 1.02], row=1, col=1)
    fig.update_layout(
        coloraxis={"colorscale": colorscale(), "cmin": -90, "cmax": 0,
                   "colorbar": {"title": {"text": "dB"}}},
        title={"text": "Spectrograms, artifact tones ◀ at k × rate / P"},
        legend={"orientation": "h", "y": 1.16, "x": 1.0, "xanchor": "right", "yanchor": "bottom"},
        margin={"l": 10, "r": 10, "t": 80, "b": 10})
    return fig


# --------------------------------------------------------------------------- players


def play(label: str, signal: np.ndarray, rate: int) -> None:
    """A labelled player of ``signal`` at ``rate`` Hz (a 16-bit WAV), the rate stated;
    below the rate browsers play, upsampled band-limited for the player, and said so."""
    sound, played = playable(signal, rate)
    note = "" if played == rate else f", played at {played:,} (band-limited: the same sound)"
    st.markdown(f"**{label}** · {rate:,} samples per second{note}")
    st.audio(wav_bytes(np.clip(sound, -1.0, 1.0), played), format="audio/wav",
             alt=f"{label}, {rate} Hz")


def tones_sentence(result: SoundResult) -> str:
    spec = result.spec
    shown = ", ".join(f"{f:,.0f}" for f in result.tones[:6])
    more = ", …" if result.tones.size > 6 else ""
    return (f"Period {spec.period} samples ({spec.scale}^{spec.layers}) at "
            f"{spec.rate_out:,} Hz: artifact tones at k × {spec.rate_out:,} / {spec.period} = "
            f"{shown}{more} Hz.")


def render_sound(result: SoundResult, *, key: str) -> None:
    """Score, players, waveform and spectrograms of one result."""
    spec = result.spec
    left, mid, right = st.columns(3)
    left.metric("Checkerboard score at the period", format_score(result.score),
                help="RMS of the part of the output that repeats every P samples "
                     "(core.maths.metrics.checkerboard_score, dims=1), output rescaled to [0, 1].")
    mid.metric("Period P (samples)", spec.period)
    right.metric("Phase-gain imbalance", f"{result.imbalance:.2f}",
                 help="Spread of the first layer's per-phase gains over their RMS "
                      "(core.maths.metrics.gain_imbalance): 0 when every phase is equal.")
    st.markdown(tones_sentence(result))
    a, b = st.columns(2)
    with a:
        play(f"Input: {spec.sound}", result.sound, spec.rate_in)
    with b:
        play(f"Output: {spec.name}", result.output, spec.rate_out)
    panels = [(f"input ({spec.rate_in:,} Hz)", result.spec_in),
              (f"output of {spec.name} ({spec.rate_out:,} Hz)", result.spec_out)]
    show_plot(spectrogram_figure(panels, result.tones, spec.period, spec.rate_out),
              key=f"{key}-spectrogram", height=380, present_height=420)
    show_plot(waveform_figure(result), key=f"{key}-waveform", height=320, present_height=360)


# --------------------------------------------------------------------------- story step

#: The story's pair: the post's layer in 1-D against its fix, three layers at stride 2.
STORY_PAIR = (SoundSpec(name="deconv"), SoundSpec(name="resize_nearest"))


def render_sound_step() -> None:
    """The story's "The same in sound": one sound through a 1-D transposed convolution and
    through nearest + convolution, both playable, both spectrograms on one scale with the
    tones marked (one screen when presenting)."""
    results = [sound_result(spec) for spec in STORY_PAIR]
    first = results[0].spec
    cols = st.columns(len(results) + 1)
    with cols[0]:
        play(f"Input: {first.sound}", results[0].sound, first.rate_in)
    for col, result in zip(cols[1:], results, strict=True):
        with col:
            play(f"{result.spec.name} · score {format_score(result.score)}", result.output,
                 result.spec.rate_out)
    panels = [(f"{r.spec.name}", r.spec_out) for r in results]
    show_plot(spectrogram_figure(panels, results[0].tones, first.period, first.rate_out),
              key="story-sound-spectrogram", height=300, present_height=290)
    if not presenting():
        st.caption(tones_sentence(results[0]))
