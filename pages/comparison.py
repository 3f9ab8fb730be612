"""Compare models: deconvolution vs resize-convolution on any image (the post's Figure 7)."""

import streamlit as st

from ui.catalog import heldout, heldout_digests, load_catalog, show_catalog_problems
from ui.common import explain, route_through_dashboard
from ui.compare import (
    DEFAULT_A,
    DEFAULT_B,
    input_controls,
    model_controls,
    opening_epochs,
    upload_input,
)
from ui.figures.comparison import render_comparison

route_through_dashboard()

st.title("Compare models")
catalog = load_catalog()
explain(
    "Two trained networks side by side on the same image: by default the 3x3 transposed "
    "convolution (`deconv3`) against nearest-neighbour resize then convolution "
    f"(`resize_nearest`), {opening_epochs(catalog, DEFAULT_A, DEFAULT_B)}. Use a held-out "
    "photograph or upload your own image; the URL keeps every setting except the upload."
)

show_catalog_problems(catalog)
images, digests = heldout(), heldout_digests()
look = st.container()  # the grid on the first screen, above the controls that choose it
source, name = input_controls(list(images))
jpeg = False
if source == "Upload":
    uploaded = upload_input()
    if uploaded is None:
        st.info("Upload an image to compare the models on it.", icon=":material/upload:")
        st.stop()
    loaded, name = uploaded
    image, digest, jpeg = loaded.pixels, loaded.digest, loaded.format == "JPEG"
else:
    image, digest = images[name], digests[name]
sides = model_controls(catalog)
render_comparison(catalog, sides, image, digest, name, look=look, jpeg=jpeg)
