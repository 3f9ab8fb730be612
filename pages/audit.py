"""Audit your own network: every upsampling layer, its checkerboard, and the fix."""

import streamlit as st

from core.io.text import md_escape
from ui.audit import (
    load_report,
    render_downloads,
    render_layers,
    render_probes,
    render_summary,
    source_controls,
)
from ui.common import explain, route_through_dashboard

route_through_dashboard()

st.title("Audit your own network")
explain(
    "Hand the lab a network as an ONNX file, or pick one of the examples: it finds every "
    "up- and downsampling layer, says whether its kernel overlaps evenly and whether its "
    "output phases get equal gains, predicts the period of the artifact, measures it on "
    "probe images, and gives the fix as PyTorch code. The file is parsed, never run as "
    "code; the network runs in onnxruntime on the CPU."
)
source = source_controls()
if source is None:
    st.info("Upload an `.onnx` file (up to 512 MB), with its external data file(s) if it "
            "has any (`model.onnx.data`) or as a zip of them, or pick an example.",
            icon=":material/upload_file:")
    st.stop()
report, onnx_bytes, refusal = load_report(source)
if report is None:
    # The reason may quote file names, data locations and tensor names from the upload.
    st.error(f"This model cannot be audited: {md_escape(refusal)}", icon=":material/block:")
    st.stop()
render_summary(report)
render_layers(report)
render_probes(report)
render_downloads(report, onnx_bytes, example=source.example is not None)
