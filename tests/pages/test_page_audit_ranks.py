"""The audit page on a sound network and a volume network (issue 31): an uploaded 1-D
vocoder and a 3-D U-Net are audited, their layers drawn, the sound's spectrum with its
tones; nothing crashes."""

from __future__ import annotations

import io

import torch

from tests.conftest import assert_clean, open_page, plotly_data
from tests.core.audit_zoo import quiet_export
from tests.core.audit_zoo.audio import AUDIO_ZOO
from tests.core.audit_zoo.volumes import VOLUME_ZOO

AUDIT = "pages/audit.py"


def exported(net) -> bytes:
    torch.manual_seed(0)
    buf = io.BytesIO()
    quiet_export(net.build().eval(), net.input_shape, buf, dynamo=False)
    return buf.getvalue()


def audited(data: bytes, name: str):
    at = open_page(AUDIT, {"example": "upload"}, timeout=240)
    uploader = next(u for u in at.file_uploader if u.proto.max_upload_size_mb == 512)
    uploader.set_value([(name, data, "application/octet-stream")])
    at.run()
    assert_clean(at)
    assert not at.error, [e.value for e in at.error]
    return at, {m.label: m.value for m in at.metric}


def test_an_uploaded_vocoder_is_audited_with_its_tones():
    at, metrics = audited(exported(AUDIO_ZOO["hifigan_v1"]), "hifigan.onnx")
    assert metrics["Resampling layers"] == "4" and metrics["Offending"] == "4"
    assert metrics["Predicted period"].startswith("256")
    assert any("nn.Conv1d" in c.value for c in at.code)
    assert any("a sound of 2,048 samples" in c.value for c in at.caption)
    traces = [t for i in range(len(at.get("plotly_chart"))) for t in plotly_data(at, i)]
    tones = next(t for t in traces if t.get("name") == "artifact frequencies k/256")
    assert len(tones["x"]) == 128 and max(tones["x"]) == 0.5  # k/256, k = 1 .. 128


def test_an_uploaded_3d_unet_is_audited():
    at, metrics = audited(exported(VOLUME_ZOO["unet_3d"]), "unet3d.onnx")
    assert metrics["Resampling layers"] == "8" and metrics["Offending"] == "4"
    assert any("nn.Conv3d" in c.value for c in at.code)


def test_the_vocoder_example_needs_no_upload():
    at = open_page(AUDIT, {"example": "vocoder"}, timeout=240)
    assert_clean(at)
    assert not at.error, [e.value for e in at.error]
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Resampling layers"] == "3" and metrics["Predicted period"].startswith("256")
    assert any("nn.Upsample(scale_factor=8" in c.value and "nn.Conv1d(" in c.value
               for c in at.code)
    assert any("a sound of 8,192 samples" in c.value for c in at.caption)
