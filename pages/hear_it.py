"""Hear it: the checkerboard of a 1-D upsampler as tones, played and drawn."""

import streamlit as st

from ui.common import explain, route_through_dashboard
from ui.figures.sound import render_sound, sound_result
from ui.sound import sound_controls

route_through_dashboard()

st.title("Hear it")
explain(
    "Neural vocoders upsample sound with 1-D transposed convolutions. The uneven overlap "
    "that paints a grid on images paints a pattern that repeats every P output samples "
    "(P the product of the strides), and a pattern repeating every P samples of a sound "
    "at R samples per second is a chord of tones at k × R / P hertz (Pons et al. 2021, "
    "\"Upsampling artifacts in neural audio synthesis\"). Pick an upsampler, feed it a "
    "sound, look for bright lines at the red ticks and listen. The layers are random as at "
    "initialisation (or with unequal phases, as after training); the tones need a constant "
    "part in what a layer receives, which the bias of the layer before gives: one layer "
    "alone on a sound with no constant part makes images of it, not tones."
)
spec = sound_controls()
render_sound(sound_result(spec), key="snd")
