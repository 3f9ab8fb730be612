"""Sounds and 1-D upsamplers: the generated signals (core/io/sounds.py), the artifact
tones and spectrogram (core/maths/spectrogram.py), the registry's 1-D and 3-D layers
(core/upsamplers/layers.py) and weights as after training (core/upsamplers/phases.py)."""

from __future__ import annotations

import io
import wave

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from core.io.sounds import SOUND_KINDS, make_sound, wav_bytes
from core.maths.metrics import checkerboard_score, gain_imbalance, to_unit_range
from core.maths.phase_gains import phase_gains
from core.maths.spectrogram import artifact_tones, spectrogram
from core.upsamplers.lab_inputs import upsample_sound
from core.upsamplers.layers import PixelShuffleNd
from core.upsamplers.phases import unequal_phases_
from core.upsamplers.registry import make_upsampler, upsampler_names

SOUND_NAMES = ("deconv", "resize_nearest", "resize_bilinear", "subpixel", "subpixel_icnr")

# --- signals ------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", SOUND_KINDS)
def test_every_sound_is_bounded_seeded_and_sized(kind):
    x = make_sound(kind, 8000, 0.5, freq=300.0, seed=3)
    assert x.dtype == np.float32 and x.shape == (4000,)
    assert 0.5 < np.max(np.abs(x)) <= 0.9 + 1e-6
    np.testing.assert_array_equal(x, make_sound(kind, 8000, 0.5, freq=300.0, seed=3))


def test_a_tone_and_a_chord_have_their_frequencies():
    rate = 8000
    tone = make_sound("tone", rate, 1.0, freq=500.0)
    power = np.abs(np.fft.rfft(tone)) ** 2
    assert np.fft.rfftfreq(rate, 1 / rate)[np.argmax(power)] == 500.0
    chord = np.abs(np.fft.rfft(make_sound("chord", rate, 1.0, freq=400.0)))
    top3 = sorted(np.fft.rfftfreq(rate, 1 / rate)[np.argsort(chord)[-3:]].tolist())
    assert top3 == [400.0, 500.0, 600.0]  # root, major third 5/4, fifth 3/2


def test_harmonics_stay_below_nyquist_and_speech_has_pauses():
    rate = 4000
    x = make_sound("harmonics", rate, 1.0, freq=900.0)  # f0 = 300: harmonics 300 .. 1800
    power = np.abs(np.fft.rfft(x)) ** 2
    freqs = np.fft.rfftfreq(x.size, 1 / rate)
    assert power[(freqs > 1900)].max() < 1e-3 * power.max()  # only the noise up there
    speech = make_sound("speech", 16000, 2.0)
    envelope = np.abs(speech).reshape(-1, 160).max(axis=1)  # per 10 ms
    assert (envelope < 1e-3).sum() >= 5 and (envelope > 0.1).sum() >= 50


def test_sound_refusals():
    for kwargs, rule in [(dict(kind="tone", rate=8000, freq=4000.0), "Nyquist"),
                         (dict(kind="hum", rate=8000), "kind"),
                         (dict(kind="tone", rate=100), "rate"),
                         (dict(kind="tone", rate=48000, seconds=11.0), "samples")]:
        with pytest.raises(ValueError, match=rule):
            make_sound(**kwargs)


def test_wav_bytes_holds_the_rate_and_the_samples():
    x = np.array([0.0, 0.5, -1.0, 2.0])  # 2.0 is clipped
    data = wav_bytes(x, 8000)
    with wave.open(io.BytesIO(data)) as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth(), w.getnframes()) == \
            (8000, 1, 2, 4)
        pcm = np.frombuffer(w.readframes(4), dtype="<i2")
    assert pcm.tolist() == [0, 16384, -32767, 32767]
    with pytest.raises(ValueError, match="finite"):
        wav_bytes(np.array([np.nan]), 8000)


# --- tones and spectrogram ----------------------------------------------------------------


def test_artifact_tones_by_hand():
    assert artifact_tones(16000, 8).tolist() == [2000.0, 4000.0, 6000.0, 8000.0]
    assert artifact_tones(22050, 2).tolist() == [11025.0]
    assert artifact_tones(16000, 3).tolist() == pytest.approx([16000 / 3])
    with pytest.raises(ValueError, match="period"):
        artifact_tones(16000, 1)


def test_spectrogram_finds_a_tone_at_its_frequency():
    rate = 16000
    spec = spectrogram(make_sound("tone", rate, 0.5, freq=1000.0), rate, window=512)
    assert spec.db.shape == (257, spec.times.size)
    assert spec.db.max() == pytest.approx(20 * np.log10(0.9), abs=0.05)  # 0 dB: full scale
    assert spec.freqs[np.argmax(spec.db[:, spec.times.size // 2])] == 1000.0
    assert spec.times.size <= 400
    assert spectrogram(np.zeros(8) + 1.0, rate).db.shape[0] == 5  # window shortened


# --- the registry's other ranks -------------------------------------------------------------


def test_registry_names_by_rank():
    assert upsampler_names(1) == list(SOUND_NAMES) == upsampler_names(3)
    assert "fused_resize" in upsampler_names() and "fused_resize" not in upsampler_names(1)
    with pytest.raises(ValueError, match="dims"):
        make_upsampler("fused_resize", 1, 1, dims=1)


@pytest.mark.parametrize("name", SOUND_NAMES)
@pytest.mark.parametrize(("dims", "size", "scale", "k"), [(1, 10, 8, 16), (1, 9, 2, 3),
                                                           (3, 4, 2, 3), (3, 3, 3, 2)])
def test_every_sound_layer_scales_exactly(name, dims, size, scale, k):
    layer = make_upsampler(name, 2, 3, scale=scale, kernel_size=k, dims=dims)
    y = layer(torch.randn(2, 2, *([size] * dims)))
    assert y.shape == (2, 3, *([size * scale] * dims))


def test_pixel_shuffle_nd_agrees_with_torch_in_2d_and_by_hand_in_1d():
    x = torch.randn(2, 12, 3, 5)
    torch.testing.assert_close(PixelShuffleNd(2, 2)(x), F.pixel_shuffle(x, 2))
    one = torch.arange(6.0).view(1, 6, 1)  # channel c*3 + a -> sample 3*0 + a of channel c
    assert PixelShuffleNd(3, 1)(one).tolist() == [[[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]]


def test_1d_resize_conv_is_upsample_then_conv1d():
    torch.manual_seed(0)
    layer = make_upsampler("resize_bilinear", 2, 2, scale=4, kernel_size=3, dims=1)
    x = torch.randn(1, 2, 7)
    up = F.interpolate(x, scale_factor=4, mode="linear", align_corners=False)
    ref = F.conv1d(F.pad(up, (1, 1)), layer.conv.weight, layer.conv.bias)
    torch.testing.assert_close(layer(x), ref)


# --- weights as after training --------------------------------------------------------------


def _imbalance(layer, dims=1):
    return gain_imbalance(phase_gains(layer, 1, 2, dims=dims), dims=dims)


def test_unequal_phases_moves_the_phases_apart_where_there_are_phase_weights():
    torch.manual_seed(0)
    icnr = make_upsampler("subpixel_icnr", 1, 1, scale=2, kernel_size=3, dims=1, bias=False)
    assert _imbalance(icnr) < 1e-6  # ICNR: equal phases at initialisation
    assert unequal_phases_(icnr, 0.5, seed=1) == 1
    assert _imbalance(icnr) > 0.1
    deconv = make_upsampler("deconv", 1, 1, scale=2, kernel_size=4, dims=1, bias=False)
    with torch.no_grad():
        deconv.deconv.weight.fill_(0.25)  # even taps: equal phases
    assert _imbalance(deconv) < 1e-6
    unequal_phases_(deconv, 0.5, seed=1)
    assert _imbalance(deconv) > 0.1
    resize = make_upsampler("resize_nearest", 1, 1, scale=2, kernel_size=3, dims=1)
    before = [p.clone() for p in resize.parameters()]
    assert unequal_phases_(resize, 0.5) == 0
    assert all(torch.equal(a, b) for a, b in zip(before, resize.parameters(), strict=True))
    three = make_upsampler("subpixel_icnr", 1, 1, scale=2, kernel_size=3, dims=3, bias=False)
    unequal_phases_(three, 0.5)
    assert _imbalance(three, dims=3) > 0.1
    with pytest.raises(ValueError, match="spread"):
        unequal_phases_(three, 5.0)


def test_upsampled_sounds_ring_at_the_period_only_for_the_free_phases():
    x = make_sound("harmonics", 4000, 1.0, freq=220.0)
    scores = {name: checkerboard_score(to_unit_range(upsample_sound(name, x, layers=2)), 4,
                                       dims=1)
              for name in SOUND_NAMES}
    assert upsample_sound("deconv", x, layers=2).shape == (16000,)
    for free in ("deconv", "subpixel"):
        for fixed in ("resize_nearest", "resize_bilinear", "subpixel_icnr"):
            assert scores[free] > 100 * scores[fixed], scores
    trained = checkerboard_score(to_unit_range(
        upsample_sound("subpixel_icnr", x, layers=2, trained=0.5)), 4, dims=1)
    assert trained > 10 * scores["subpixel_icnr"]


def test_playable_keeps_the_sound_band_limited_at_a_rate_browsers_play():
    from core.io.sounds import PLAYABLE_RATE, playable

    x = make_sound("tone", 1000, 1.0, freq=100.0)
    y, rate = playable(x, 1000)
    assert rate == 3000 and y.size == 3000
    np.testing.assert_allclose(y[::3], x, atol=1e-6)  # the old samples kept
    t = np.arange(3000) / 3000
    amplitude = 0.9 / np.sin(0.4 * np.pi)  # the samples' peak (sin 72 deg) was made 0.9
    np.testing.assert_allclose(y, amplitude * np.sin(2 * np.pi * 100 * t), atol=1e-5)
    assert playable(x, PLAYABLE_RATE)[1] == PLAYABLE_RATE
    assert playable(np.zeros(10), 2000)[1] == 4000
