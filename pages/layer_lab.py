"""Layer lab: every upsampler side by side at initialisation, with an artifact score and costs."""

import streamlit as st

from ui.common import explain, presenting, route_through_dashboard
from ui.layers import (
    lab_controls,
    lab_image,
    lab_results,
    render_cost_table,
    render_gradient_view,
    render_side_by_side,
)
from ui.pixels import magnify_factor, show_pixels

route_through_dashboard()

st.title("Layer lab")
explain(
    "Randomly initialised upsamplers, before any training: a transposed convolution "
    "already paints a checkerboard, because its kernel copies overlap unevenly; the "
    "fixes do not. Each output is magnified with nearest neighbour (no smoothing) and "
    "scored by how much of its fine detail repeats with the period of the strides."
)
# presenting, the outputs on the first screen and the controls that choose them below
# (at 1280x720 the controls alone filled it)
view = st.container() if presenting() else None
spec = lab_controls()
with view or st.container():
    image, label = lab_image(spec)
    show_pixels(image, factor=magnify_factor(image.shape[1], 96), width="content",
                caption=f"Input: {label}, {image.shape[0]} x {image.shape[1]} px → "
                       f"{image.shape[0] * spec.period} px after {spec.layers} layer(s) at "
                       f"scale {spec.scale}.")
    results = lab_results(spec.names, image, scale=spec.scale, kernel_size=spec.kernel_size,
                          layers=spec.layers, seed=spec.seed, activation=spec.activation)
    render_side_by_side(results)

st.header("Artifacts in gradients")
render_gradient_view()

st.header("Cost")
render_cost_table(scale=spec.scale, kernel_size=spec.kernel_size)
