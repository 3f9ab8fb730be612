"""Kernel coverage: how a transposed convolution paints its output (Figures 4 and 6)."""

import streamlit as st

from ui.common import explain, route_through_dashboard
from ui.coverage import kernel_controls
from ui.figures.coverage import render_coverage

route_through_dashboard()

st.title("Kernel coverage")
explain(
    "A transposed convolution paints one copy of its kernel per input cell, `stride` "
    "cells apart. Where the copies overlap unevenly, some output cells receive more "
    "paint than their neighbours: the checkerboard. Pick a preset or any setting; the "
    "URL keeps the view, so a copied link reopens it."
)
spec = kernel_controls()
render_coverage(spec)
