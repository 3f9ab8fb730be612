"""The audit page through Streamlit's AppTest (entered via dashboard.py)."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import onnx
import pytest
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


# --------------------------------------------------------------------------- external data
# torch.onnx.export (dynamo, the default since torch 2.9) writes the weights beside the
# model as model.onnx.data; the page takes both files, or a zip of them (issue 19).


def external_data_export(tmp_path, location: str = "model.onnx.data") -> dict[str, bytes]:
    """``{name: bytes}`` of small_deconv_onnx saved with its weights as external data,
    as onnx.save_model writes it (what the dynamo exporter does)."""
    model = onnx.load_from_string(small_deconv_onnx((1, 2, 32, 32)))
    onnx.save_model(model, str(tmp_path / "model.onnx"), save_as_external_data=True,
                    all_tensors_to_one_file=True, location=location, size_threshold=0)
    (weights,) = model.graph.initializer
    assert weights.data_location == onnx.TensorProto.EXTERNAL  # really outside the .onnx
    return {p.name: p.read_bytes() for p in tmp_path.iterdir()}


def upload_files(at, files: dict[str, bytes]):
    onnx_uploader(at).set_value([(name, data, "application/octet-stream")
                                 for name, data in files.items()])
    at.run()
    assert_clean(at)
    return at


def audited_deconv(at) -> None:
    assert not at.error, texts(at, "error")
    assert "my_deconv" in texts(at, "warning")  # uneven 3x3/s2: flagged
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Resampling layers"] == "1" and metrics["Predicted period"] == "2 px"


@pytest.fixture(scope="module")
def upload_page():
    at = open_page(AUDIT, {"example": "upload"}, timeout=240)
    assert_clean(at)
    assert onnx_uploader(at).accept_multiple_files
    return at


def test_onnx_with_its_data_file_is_audited(upload_page, tmp_path):
    files = external_data_export(tmp_path)
    assert set(files) == {"model.onnx", "model.onnx.data"}
    at = upload_files(upload_page, files)
    audited_deconv(at)
    assert "model\\.onnx" in " ".join(c.value for c in at.caption)  # escaped, shown as is


def test_lone_onnx_with_external_data_asks_for_its_data_file(upload_page, tmp_path):
    files = external_data_export(tmp_path)
    at = upload_files(upload_page, {"model.onnx": files["model.onnx"]})
    (error,) = at.error
    assert "cannot be audited" in error.value and "upload the" in error.value
    assert "\n" not in error.value


def test_data_location_pointing_outside_is_one_line_refusal(upload_page, tmp_path):
    files = external_data_export(tmp_path)
    model = onnx.load_from_string(files["model.onnx"])
    for tensor in model.graph.initializer:
        for entry in tensor.external_data:
            if entry.key == "location":
                entry.value = "../x"
    at = upload_files(upload_page, {"model.onnx": model.SerializeToString(),
                                    "x": files["model.onnx.data"]})
    (error,) = at.error
    assert "cannot be audited" in error.value and "outside" in error.value
    assert "\n" not in error.value and not at.metric


def test_zip_of_model_and_data_is_audited(upload_page, tmp_path):
    files = external_data_export(tmp_path)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in files.items():
            archive.writestr(f"export/{name}", data)  # a folder inside the zip
    at = upload_files(upload_page, {"my export.zip": buffer.getvalue()})
    audited_deconv(at)


def test_file_names_are_escaped(upload_page, tmp_path):
    files = external_data_export(tmp_path, location="[x](javascript:alert(1)).data")
    at = upload_files(upload_page, {"**bold**.onnx": files["model.onnx"],
                                    "[x](javascript:alert(1)).data":
                                        files["[x](javascript:alert(1)).data"]})
    audited_deconv(at)
    caption = " ".join(c.value for c in at.caption)
    assert "\\*\\*bold\\*\\*" in caption and "**bold**" not in caption
