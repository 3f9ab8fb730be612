"""What the audit's command line and reports say (issue 28, items 12, 13 and 15)."""

from __future__ import annotations

import io
import json
import zipfile

import onnx

from core.audit.cli import main
from core.audit.examples import audit_example
from core.audit.render import to_html, to_markdown
from tests.conftest import small_deconv_onnx


def test_command_line_audits_a_zip_of_an_onnx_and_its_data(tmp_path, capsys):
    """The page took a zip of ``model.onnx`` and ``model.onnx.data``; the command line
    refused it as "a zip archive (a PyTorch .pt/.pth checkpoint is one)"."""
    model = onnx.load_from_string(small_deconv_onnx((1, 2, 32, 32)))
    export = tmp_path / "export"
    export.mkdir()
    onnx.save_model(model, str(export / "model.onnx"), save_as_external_data=True,
                    all_tensors_to_one_file=True, location="model.onnx.data", size_threshold=0)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for f in export.iterdir():
            archive.writestr(f"export/{f.name}", f.read_bytes())
    (tmp_path / "export.zip").write_bytes(buffer.getvalue())
    status = main([str(tmp_path / "export.zip"), "--no-probes"])
    out, err = capsys.readouterr()
    assert status == 0, err
    report = json.loads(out)
    assert [la["name"] for la in report["layers"]] == ["my_deconv"]
    assert report["chain"]["period"] == 2


def test_report_names_the_every_layer_fix_as_such():
    """The "every offending layer fixed at once" rows speak of the network, not of "this
    layer"."""
    report, _ = audit_example("dcgan")
    assert report.fix_all
    for text in (to_markdown(report), to_html(report)):
        every = text[text.index("Every offending layer fixed at once"):]
        assert "the network at init" in every and "every fix at init" in every
        assert "this layer at init" not in every


def test_verdict_does_not_call_the_least_painted_pixels_neighbours():
    """A 3x3/stride-2 layer's 4s have 2s beside them and 1s on their diagonals: the verdict
    said "some output pixels are painted 4 times, their neighbours 1" (issue 28, item 8)."""
    from ui.audit import plain_verdict

    report, _ = audit_example("deconv3", probes=False)
    layer = next(la for la in report.layers if la.offending)
    verdict = plain_verdict(layer)
    assert "the most painted output pixels are painted 4 times, the least 1" in verdict
    assert "neighbours 1" not in verdict
