"""The Hear it page's view: a 1-D upsampler's controls (bound to the URL), then the shared
sound views (:mod:`ui.figures.sound`)."""

from __future__ import annotations

import streamlit as st

from core.io.sounds import SOUND_KINDS
from core.upsamplers.registry import UPSAMPLERS, upsampler_names
from ui.common import secondary
from ui.figures.sound import MAX_PERIOD, TARGET_RATES, SoundSpec, usable_freq
from ui.urlstate import ChoiceParam, IntParam, Preset, check_query_params, preset_row

NAMES = tuple(upsampler_names(1))
WEIGHTS = ("initialisation", "as after training")

URL_PARAMS = {
    "snd_up": ChoiceParam(NAMES),
    "snd_kernel": IntParam(1, 32),
    "snd_stride": IntParam(2, 8),
    "snd_layers": IntParam(1, 3),
    "snd_weights": ChoiceParam(WEIGHTS),
    "snd_input": ChoiceParam(SOUND_KINDS),
    "snd_freq": IntParam(50, 4000),
    "snd_rate": ChoiceParam(tuple(str(r) for r in TARGET_RATES)),
    "snd_seed": IntParam(0, 9999),
}

#: MelGAN's first upsampler (kernel 16, stride 8), and the post's 3x3 at stride 2 in 1-D.
PRESET_VOCODER = {"snd_up": "deconv", "snd_kernel": 16, "snd_stride": 8, "snd_layers": 2,
                  "snd_weights": "as after training", "snd_input": "speech"}
PRESET_POST = {"snd_up": "deconv", "snd_kernel": 3, "snd_stride": 2, "snd_layers": 3,
               "snd_weights": "initialisation", "snd_input": "harmonics"}
PRESET_FIX = {**PRESET_POST, "snd_up": "resize_nearest"}


def sound_controls() -> SoundSpec:
    """The page's widgets, each bound to the URL (defaults through ``value=``/``index=``,
    as the layer lab's, so a URL value equal to a widget's minimum is kept)."""
    check_query_params(URL_PARAMS)
    d = SoundSpec()
    preset_row([
        Preset("A vocoder's upsampler (k16, s8)", PRESET_VOCODER, "snd-preset-vocoder",
               "MelGAN's first layer, twice, its phases unequal as after training, on "
               "speech-like bursts."),
        Preset("The post's 3-tap, stride 2", PRESET_POST, "snd-preset-post",
               "Three transposed convolutions with 3 taps at stride 2 at initialisation."),
        Preset("The fix: nearest + conv", PRESET_FIX, "snd-preset-fix",
               "The same three layers as nearest upsampling, then a convolution."),
    ])
    left, right = st.columns(2)
    with left:
        name = st.selectbox("Upsampler", NAMES, index=NAMES.index(d.name), key="snd_up",
                            bind="query-params",
                            help=" ".join(f"**{n}**: {UPSAMPLERS[n].description}" for n in NAMES))
        kernel = st.slider("Kernel size (taps)", 1, 32, d.kernel_size, key="snd_kernel",
                           bind="query-params")
        stride = st.slider("Stride (scale)", 2, 8, d.scale, key="snd_stride",
                           bind="query-params")
        layers = st.slider("Stacked layers", 1, 3, d.layers, key="snd_layers",
                           bind="query-params", help="The artifact's period is stride^layers.")
    with right:
        sound = st.selectbox("Sound", SOUND_KINDS, index=SOUND_KINDS.index(d.sound),
                             key="snd_input", bind="query-params",
                             help="Generated here: a tone, a major chord, white noise, a "
                                  "vowel-like sum of harmonics with noise, speech-like bursts.")
        freq = st.slider("Frequency (Hz)", 50, 4000, int(d.freq), key="snd_freq",
                         bind="query-params", disabled=sound in ("noise", "speech"),
                         help="The tone, the chord's root; the harmonics' fundamental is a "
                              "third of it.")
        weights = st.segmented_control("Weights", WEIGHTS, default=WEIGHTS[0], key="snd_weights",
                                       bind="query-params", required=True,
                                       help="As after training: every output phase's weights "
                                            "scaled by its own factor (core.upsamplers.phases)."
                                       ) or WEIGHTS[0]
    with secondary():
        rate = st.selectbox("Output sample rate (aimed at, Hz)", [str(r) for r in TARGET_RATES],
                            key="snd_rate", bind="query-params",
                            help="The input's rate is this over the period, rounded; the "
                                 "output's exactly the period times the input's.")
        seed = st.number_input("Seed", 0, 9999, d.seed, key="snd_seed", bind="query-params",
                               help="Initialisation of the layers (and the noise).")
    while stride ** layers > MAX_PERIOD:
        layers -= 1
    if layers < st.session_state.get("snd_layers", layers):
        st.info(f"{layers} layer(s) used: a period above {MAX_PERIOD} samples would leave the "
                "input too few samples per second.", icon=":material/graphic_eq:")
    spec = SoundSpec(name, kernel, stride, layers, weights == WEIGHTS[1], sound, float(freq),
                     int(rate), int(seed))
    if sound not in ("noise", "speech") and usable_freq(freq, spec.rate_in) < freq:
        st.info(f"Frequency lowered to {usable_freq(freq, spec.rate_in):,.0f} Hz: the input "
                f"runs at {spec.rate_in:,} Hz.", icon=":material/graphic_eq:")
    return spec
