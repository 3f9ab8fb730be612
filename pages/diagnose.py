"""Diagnose a picture: find a network's grid in what it made, without the network."""

import streamlit as st

from core.diagnose import Diagnosis
from core.diagnose.batch import Picture, Skipped
from core.io.text import md_code
from ui.common import explain, route_through_dashboard
from ui.diagnose import (
    diagnosed,
    example_bytes,
    pixels_of,
    render_details,
    render_look,
    render_table,
    source_controls,
    uploaded_pictures,
)

route_through_dashboard()

st.title("Diagnose a picture")
explain(
    "Hold pictures, not the network? Give the lab what the network made: it looks for the "
    "part of the fine detail that repeats **in step with the pixels** at every period from "
    "2 to 32, down the rows and across the columns, and says whether it is a network's "
    "grid (with a stated false-alarm rate, against what the picture itself puts at those "
    "frequencies), how strong, what it means for the layers, and the fix. A JPEG's own "
    "8x8 blocks and interpolation upscaling are not called grids."
)
look = st.container()  # the verdict and the picture first, the controls below
source, example = source_controls()
if source == "Example":
    data, name = example_bytes(example)
    if data is None:
        st.info(f"This example needs the shipped checkpoints: {md_code(name)}.",
                icon=":material/folder_off:")
        st.stop()
    pictures: list = [Picture(name, data)]
else:
    pictures = uploaded_pictures()
    if not pictures:
        st.info("Upload one image, several, or a zip of them (or pick an example).",
                icon=":material/upload:")
        st.stop()
results = [diagnosed(p.name, p.source) if isinstance(p, Picture) else p for p in pictures]
found = [(r, p) for r, p in zip(results, pictures, strict=True) if isinstance(r, Diagnosis)]
if not found:
    for r in results:
        if isinstance(r, Skipped):
            st.error(f"{md_code(r.name)} cannot be diagnosed: {md_code(r.reason)}",
                     icon=":material/broken_image:")
    st.stop()
order = sorted(range(len(found)), key=lambda i: (not found[i][0].grid, -found[i][0].times_own))
index = order[0]
if len(found) > 1:
    index = st.selectbox("Picture shown", order, format_func=lambda i: found[i][0].file or "?",
                         key="diagnose-shown")
result, picture = found[index]
pixels, key = pixels_of(picture.source)
with look:
    render_look(result, pixels, key)
render_details(result, pixels)
if len(results) > 1:
    render_table(results)
