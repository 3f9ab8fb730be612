"""The audit page through Streamlit's AppTest (entered via dashboard.py)."""

from __future__ import annotations

import numpy as np
from PIL import Image

from tests.conftest import assert_clean, encode, open_page, plotly_data, small_deconv_onnx

AUDIT = "pages/audit.py"


def texts(at, kind: str) -> str:
    return " ".join(e.value for e in getattr(at, kind))




def test_default_is_our_deconv3_with_its_first_offending_layer():
    at = open_page(AUDIT, timeout=240)
    assert_clean(at)
    assert at.title[0].value == "Audit your own network"
    assert at.selectbox(key="example").value == "deconv3"
    assert at.selectbox(key="layer").value == 2  # the first ConvTranspose
    assert "/up1/deconv/ConvTranspose" in texts(at, "warning") and not at.error
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Offending"] == "2" and metrics["Predicted period"] == "4 px"
    assert metrics["Checkerboard"].endswith("×10⁻³")
    assert any("nn.Upsample" in c.value for c in at.code)
    # Coverage (the coverage page's view: 4-2-2-1 interior), two gain maps, spectra, shift.
    assert len(at.get("plotly_chart")) >= 6
    z = np.asarray(plotly_data(at, 0)[0]["z"])
    assert z.max() == 4 and z[2:-2, 2:-2].min() == 1
    names = {b.proto.label for b in at.get("download_button")}
    assert {"JSON", "HTML", "Markdown", "ONNX model"} <= names
    assert at.get("page_link")  # this layer in the coverage page


def test_url_picks_example_layer_and_probe():
    at = open_page(AUDIT, {"example": "resize_nearest", "layer": "3", "probe": "constant"},
                   timeout=240)
    assert_clean(at)
    assert at.selectbox(key="example").value == "resize_nearest"
    assert at.selectbox(key="layer").value == 3
    assert "/up2/Resize" in texts(at, "success") and "clean" in texts(at, "success")
    assert not at.warning
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Offending"] == "0"
    assert "Checkerboard of the constant output" in metrics


def test_espcn_example_shows_the_icnr_fix_and_its_measurement():
    at = open_page(AUDIT, {"example": "espcn"}, timeout=240)
    assert_clean(at)
    assert "DepthToSpace" in texts(at, "warning")
    assert any("icnr_" in c.value for c in at.code)
    assert "re-initialised with ICNR" in texts(at, "markdown")


def test_nonsense_url_parameters_warn_and_fall_back():
    at = open_page(AUDIT, {"example": "banana", "layer": "99", "probe": "x"}, timeout=240)
    assert_clean(at)
    warned = texts(at, "warning")
    assert "example=banana" in warned and "layer=99" in warned and "probe=x" in warned
    assert at.selectbox(key="example").value == "deconv3"


def onnx_uploader(at):
    return next(u for u in at.file_uploader if u.proto.max_upload_size_mb == 512)


def test_upload_is_audited_and_the_limit_is_512_mb():
    at = open_page(AUDIT, {"example": "upload"}, timeout=240)
    assert_clean(at)
    assert "Upload an `.onnx` file" in texts(at, "info")
    onnx_uploader(at).upload("mine.onnx", small_deconv_onnx(), "application/octet-stream")
    at.run()
    assert_clean(at)
    assert "my_deconv" in texts(at, "warning")  # uneven 3x3/s2: flagged
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Resampling layers"] == "1" and metrics["Predicted period"] == "2 px"
    assert "audited at 256x256" in texts(at, "info")
    names = {b.proto.label for b in at.get("download_button")}
    assert "ONNX model" not in names and "JSON" in names


def test_refused_upload_is_one_clear_message():
    at = open_page(AUDIT, {"example": "upload"}, timeout=240)
    picture = encode(Image.new("RGB", (8, 8)), "PNG")
    onnx_uploader(at).upload("model.onnx", picture, "application/octet-stream")
    at.run()
    assert_clean(at)
    (error,) = at.error
    assert "cannot be audited" in error.value and "PNG image" in error.value
    assert "\n" not in error.value
