"""The Hear it page and the story's "The same in sound" step, through AppTest."""

from __future__ import annotations

import io
import wave

import numpy as np

import ui.figures.sound
from tests.conftest import assert_clean, open_page, plotly_data
from ui.story import STEPS

PAGE = "pages/hear_it.py"


def metric(at, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def score(at) -> float:
    value = metric(at, "Checkerboard score at the period")
    assert value.endswith(" ×10⁻³")
    return float(value.split()[0])


def tone_lines(traces) -> list[float]:
    """The tones ticked on the spectrograms (each panel that reaches them)."""
    return sorted({float(y) for t in traces if t.get("legendgroup") == "tones" for y in t["y"]})


def test_default_view_plays_input_and_output_and_marks_the_tones(monkeypatch):
    played, original = [], ui.figures.sound.wav_bytes

    def recording(signal, rate):  # the WAV each player is given, read back
        data = original(signal, rate)
        with wave.open(io.BytesIO(data)) as w:
            played.append((w.getframerate(), w.getnframes()))
        return data

    monkeypatch.setattr(ui.figures.sound, "wav_bytes", recording)
    at = open_page(PAGE, timeout=120)
    assert_clean(at)
    assert at.title[0].value == "Hear it"
    assert metric(at, "Period P (samples)") == "8"
    assert score(at) > 50  # three random 3-tap layers at stride 2 ring
    assert len(at.get("audio")) == 2
    # the WAVs hold the stated rates; 2,000 Hz is below what browsers play: 4,000 Hz
    assert played[-2:] == [(4000, 4000), (16000, 16000)]
    assert any("2,000 samples per second, played at 4,000 (band-limited" in m.value
               for m in at.markdown)
    assert any("16,000 samples per second" in m.value for m in at.markdown)
    assert any("2,000, 4,000, 6,000, 8,000 Hz" in m.value for m in at.markdown)
    spectrogram, waveform = plotly_data(at, 0), plotly_data(at, 1)
    assert tone_lines(spectrogram) == [2000.0, 4000.0, 6000.0, 8000.0]
    heat = [t for t in spectrogram if t["type"] == "heatmap"]
    assert len(heat) == 2 and np.asarray(heat[1]["z"]).shape[0] == 257
    assert {t["name"].split(" (")[0] for t in waveform} == {"input", "output"}


def test_the_fix_rings_a_thousand_times_less():
    at = open_page(PAGE, timeout=120)
    ring = score(at)
    at.button(key="snd-preset-fix").click().run()
    assert_clean(at)
    assert at.selectbox(key="snd_up").value == "resize_nearest"
    assert score(at) * 1000 < ring
    assert metric(at, "Phase-gain imbalance") == "0.00"


def test_trained_weights_make_an_icnr_layer_ring():
    at = open_page(PAGE, {"snd_up": "subpixel_icnr"}, timeout=120)
    clean = score(at)
    assert metric(at, "Phase-gain imbalance") == "0.00"
    at.segmented_control(key="snd_weights").set_value("as after training").run()
    assert_clean(at)
    assert float(metric(at, "Phase-gain imbalance")) > 0.1
    assert score(at) > 10 * clean


def test_url_state_sets_the_view_and_nonsense_falls_back():
    at = open_page(PAGE, {"snd_up": "subpixel", "snd_kernel": "16", "snd_stride": "8",
                          "snd_layers": "2", "snd_input": "tone", "snd_freq": "500",
                          "snd_rate": "22050", "snd_weights": "as after training"},
                   timeout=120)
    assert_clean(at)
    assert at.selectbox(key="snd_up").value == "subpixel"
    assert at.slider(key="snd_kernel").value == 16 and at.slider(key="snd_stride").value == 8
    assert metric(at, "Period P (samples)") == "64"
    # 22050 / 64 = 344.5 -> 345 Hz in, 64 x 345 = 22,080 Hz out; the tone lowered to 40 %
    assert any("345 samples per second" in m.value for m in at.markdown)
    assert any("22,080 samples per second" in m.value for m in at.markdown)
    assert any("lowered to 138 Hz" in i.value for i in at.info)
    bad = open_page(PAGE, {"snd_stride": "9", "snd_up": "fused_resize"}, timeout=120)
    assert_clean(bad)
    assert len(bad.warning) == 2
    assert bad.selectbox(key="snd_up").value == "deconv"


def test_a_period_above_the_limit_uses_fewer_layers():
    at = open_page(PAGE, {"snd_stride": "8", "snd_layers": "3"}, timeout=120)
    assert_clean(at)
    assert metric(at, "Period P (samples)") == "64"
    assert any("2 layer(s) used" in i.value for i in at.info)


def test_presenting_folds_the_explanations_away():
    at = open_page(PAGE, {"present": "true"}, timeout=120)
    assert_clean(at)
    assert not [m for m in at.markdown if "Neural vocoders" in m.value]
    assert len(at.get("audio")) == 2


def test_story_step_the_same_in_sound():
    number = next(i for i, s in enumerate(STEPS, start=1) if s.title == "The same in sound")
    assert STEPS[number - 2].title.startswith("The fixes compared")  # after the fixes
    at = open_page("pages/story.py", {"step": str(number)}, timeout=120)
    assert_clean(at)
    assert len(at.get("audio")) == 3
    traces = plotly_data(at, 0)
    assert tone_lines(traces) == [2000.0, 4000.0, 6000.0, 8000.0]
    labels = [m.value for m in at.markdown if "score" in m.value and "samples per second" in m.value]
    scores = [float(v.split("score ")[1].split()[0]) for v in labels]
    assert len(scores) == 2 and scores[0] > 1000 * scores[1]  # deconv rings, the fix does not


def test_the_step_s_words_match_its_sounds():
    """Step 9 says "every 8 samples of a sound at 16 kHz ... tones at 2, 4, 6 and 8 kHz":
    the period, rate and tones of the pair it plays (ui.figures.sound.STORY_PAIR)."""
    from core.maths.spectrogram import artifact_tones
    from ui.figures.sound import STORY_PAIR

    text = next(s.text for s in STEPS if s.title == "The same in sound")
    spec = STORY_PAIR[0]
    assert f"every {spec.period} samples" in text and f"at {spec.rate_out // 1000} kHz" in text
    khz = [f"{t / 1000:g}" for t in artifact_tones(spec.rate_out, spec.period)]
    assert f"{', '.join(khz[:-1])} and {khz[-1]} kHz" in text
    assert (spec.scale, spec.layers, spec.trained) == (2, 3, False)  # "three layers at stride 2"
