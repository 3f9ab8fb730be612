"""Convolution as a matrix: C, its transpose, and the three equal ways to deconvolve (Figures 2, 3)."""

import streamlit as st

from ui.common import explain, route_through_dashboard
from ui.figures.matrix import case_or_error, render_matrix_view, render_transpose_view
from ui.matrix import matrix_controls
from ui.size_calculator import render_size_calculator

route_through_dashboard()

st.title("Convolution as a matrix")
explain(
    "A convolution is linear, so it can be written as one matrix C: flatten the input, "
    "multiply by C, and out comes the flattened output. Its transpose Cᵀ maps the output "
    "back to the input's shape: that is the transposed convolution (\"deconvolution\"). "
    "Pick a preset or any setting; the URL keeps the view, so a copied link reopens it."
)
spec = matrix_controls()
case = case_or_error(spec)
if case is not None:
    st.header("The convolution as a matrix C")
    render_matrix_view(case)
    st.header("Its transpose: back to the input's shape")
    render_transpose_view(case)
st.header("Output-size calculator")
explain("One axis at a time: a 2-D layer applies the same formula to height and width. "
        "Empty fields take the rows of the convolution above; type a number to try another.")
render_size_calculator(spec)
