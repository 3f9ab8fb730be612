"""The network audit (core.audit): round trip, refusals, overlap against core.maths.overlap,
phase gains, probes, live modules and the command-line contract.

Every ONNX file here is built by the test (with ``onnx.helper`` or the lab's exporter);
none is shipped.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from onnx import TensorProto, helper, numpy_helper
from PIL import Image

from core.audit.analysis import layer_coverage
from core.audit.examples import EXAMPLES, audit_example, example_model, export_onnx
from core.audit.limits import IMBALANCE_TOLERANCE, MAX_BYTES, AuditError
from core.audit.live import audit_module
from core.audit.measured import ALL_LAYERS, measure_fixes
from core.audit.onnx_graph import audit_onnx
from core.audit.probes import azimuthal_average
from core.audit.read import load_onnx
from core.audit.render import radial_figure, shift_figure, to_html, to_markdown
from core.experiment.checkpoints import list_checkpoints
from core.experiment.models import build_model
from core.maths.metrics import gain_imbalance, log_power_spectrum, polyphase_gains
from core.maths.overlap import coverage_report, output_size
from core.upsamplers.layers import icnr_
from tests.conftest import encode

ROOT = Path(__file__).resolve().parents[2]


# --------------------------------------------------------------------------- helpers


def model_bytes(nodes, inputs, outputs, initializers=(), opset=17, domains=()) -> bytes:
    graph = helper.make_graph(nodes, "g", inputs, outputs, list(initializers))
    opsets = [helper.make_opsetid("", opset)] + [helper.make_opsetid(d, 1) for d in domains]
    model = helper.make_model(graph, opset_imports=opsets)
    model.ir_version = 8
    return model.SerializeToString()


def image_input(name="x", shape=(1, 3, 16, 16)):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, list(shape))


def any_output(name="y"):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, None)


def conv_transpose_model(c_in, c_out, k, s, p, d, op, n, seed=0) -> tuple[bytes, np.ndarray]:
    w = np.random.default_rng(seed).standard_normal((c_in, c_out, k, k)).astype(np.float32)
    node = helper.make_node("ConvTranspose", ["x", "w"], ["y"], name="deconv",
                            kernel_shape=[k, k], strides=[s, s], pads=[p, p, p, p],
                            dilations=[d, d], output_padding=[op, op])
    data = model_bytes([node], [image_input("x", (1, c_in, n, n))], [any_output()],
                       [numpy_helper.from_array(w, "w")])
    return data, w


def last_checkpoint(variant: str) -> str:
    df = list_checkpoints(ROOT / "checkpoints")
    df = df[(df["variant"] == variant) & df["ok"]]
    assert not df.empty, f"the shipped checkpoints of {variant} are missing"
    return str(df.sort_values("epoch").iloc[-1]["path"])


@pytest.fixture(scope="module")
def deconv3_onnx() -> bytes:
    from core.experiment.checkpoints import load_model

    return export_onnx(load_model(last_checkpoint("deconv3")), (1, 3, 64, 64),
                       dynamic_size=True)


# --------------------------------------------------------------------------- round trip


def test_round_trip_deconv3_flags_both_upsamplers(deconv3_onnx):
    report = audit_onnx(deconv3_onnx, (1, 3, 64, 64), probes=False)
    ups = [la for la in report.layers if la.direction == "up"]
    assert [la.op for la in ups] == ["ConvTranspose", "ConvTranspose"]
    for layer in ups:
        assert layer.kernel == [3, 3] and layer.stride == [2, 2]
        assert layer.uneven is True and (layer.interior_max, layer.interior_min) == (4, 1)
        assert layer.phase_imbalance > IMBALANCE_TOLERANCE
        assert layer.offending and "Upsample" in layer.fix_code
    assert report.chain.period == 4 and report.chain.total_upsampling == 4
    assert report.chain.net_scale == 1
    # The strided convolutions of the encoder: uneven for the gradient only.
    downs = [la for la in report.layers if la.direction == "down"]
    assert len(downs) == 2 and all(la.severity == "gradient" for la in downs)


def test_round_trip_resize_nearest_is_clean():
    report, data = audit_example("resize_nearest", checkpoints=ROOT / "checkpoints",
                                 probes=False)
    assert data[:1] == b"\x08"
    ups = [la for la in report.layers if la.direction == "up"]
    assert [(la.op, la.mode) for la in ups] == [("Resize", "nearest")] * 2
    assert all(la.uneven is False and la.phase_imbalance == 0.0 for la in ups)
    assert report.offending == []
    assert report.chain.period == 4


def test_onnx_and_live_module_audits_agree(deconv3_onnx):
    from core.experiment.checkpoints import load_model

    model = load_model(last_checkpoint("deconv3"))
    live = audit_module(model, (1, 3, 64, 64), probes=False)
    onnx_report = audit_onnx(deconv3_onnx, (1, 3, 64, 64), probes=False)
    assert [(la.op, la.kernel, la.stride, la.in_size, la.out_size) for la in live.layers] == \
        [(la.op, la.kernel, la.stride, la.in_size, la.out_size) for la in onnx_report.layers]
    for a, b in zip(live.layers, onnx_report.layers, strict=True):
        assert a.module_path == b.module_path
        if a.phase_imbalance is not None:
            assert a.phase_imbalance == pytest.approx(b.phase_imbalance, rel=1e-6)


def test_probe_scores_match_torch_and_the_shift_test_sees_the_period(deconv3_onnx):
    report = audit_onnx(deconv3_onnx, (1, 3, 64, 64))
    probes = report.probes
    assert probes.scored_on == "photograph" and probes.period == 4
    # The same photograph through the live model gives the same score.
    from core.experiment.checkpoints import load_model

    live = audit_module(load_model(last_checkpoint("deconv3")), (1, 3, 64, 64), measure=False)
    assert live.probes.checkerboard_score == pytest.approx(probes.checkerboard_score, rel=1e-3)
    # Down by 4 then up by 4: a shift by the full period is exact in the interior,
    # shifts by 1..3 are not.
    assert list(probes.shift_psnr) == [1, 2, 3]
    assert probes.shift_reference[0] == 4 and probes.shift_reference[1] > 45
    assert max(probes.shift_psnr.values()) < probes.shift_reference[1] - 10


# --------------------------------------------------------------------------- refusals


def one_line(err: pytest.ExceptionInfo) -> str:
    text = str(err.value)
    assert "\n" not in text and text
    return text


def test_refuses_files_that_are_not_onnx():
    png = encode(Image.new("RGB", (8, 8)), "PNG")
    with pytest.raises(AuditError) as err:
        load_onnx(png)
    assert "PNG image" in one_line(err)
    with pytest.raises(AuditError, match="not an ONNX model"):
        load_onnx(b"hello, this is a text file and not a network\n")
    with pytest.raises(AuditError, match="not an ONNX model|not an ONNX protobuf"):
        load_onnx(np.random.default_rng(0).bytes(4096)[1:] + b"\x00")
    with pytest.raises(AuditError, match="empty"):
        load_onnx(b"")
    zip_magic = b"PK\x03\x04" + bytes(100)
    with pytest.raises(AuditError, match="torch.onnx.export"):
        load_onnx(zip_magic)


def test_refuses_truncated_files(deconv3_onnx):
    for cut in (len(deconv3_onnx) // 2, len(deconv3_onnx) - 7, 40):
        with pytest.raises(AuditError) as err:
            load_onnx(deconv3_onnx[:cut])
        assert "truncated" in one_line(err)


def test_refuses_models_over_the_size_limit(tmp_path, deconv3_onnx):
    with pytest.raises(AuditError, match="over the") as err:
        audit_onnx(deconv3_onnx, max_bytes=len(deconv3_onnx) - 1)
    one_line(err)
    big = tmp_path / "big.onnx"
    with open(big, "wb") as f:  # sparse: no disk used, and never read
        f.truncate(MAX_BYTES + 1)
    with pytest.raises(AuditError, match="512.0 MB limit"):
        audit_onnx(big)


def external_data_model() -> bytes:
    w = numpy_helper.from_array(np.ones((1, 1, 3, 3), np.float32), "w")
    w.ClearField("raw_data")
    w.data_location = TensorProto.EXTERNAL
    for key, value in (("location", "../../../etc/passwd"), ("offset", "0"), ("length", "36")):
        entry = w.external_data.add()
        entry.key, entry.value = key, value
    node = helper.make_node("ConvTranspose", ["x", "w"], ["y"], strides=[2, 2])
    return model_bytes([node], [image_input("x", (1, 1, 8, 8))], [any_output()], [w])


def test_refuses_external_data_without_reading_it():
    with pytest.raises(AuditError) as err:
        audit_onnx(external_data_model())
    text = one_line(err)
    assert "external data" in text and "../../../etc/passwd" in text


def test_refuses_external_data_inside_a_constant_node():
    t = numpy_helper.from_array(np.ones(3, np.float32), "c")
    t.ClearField("raw_data")
    t.data_location = TensorProto.EXTERNAL
    entry = t.external_data.add()
    entry.key, entry.value = "location", "/etc/shadow"
    const = helper.make_node("Constant", [], ["c"], value=t)
    add = helper.make_node("Add", ["x", "c"], ["y"])
    data = model_bytes([const, add], [image_input("x", (1, 1, 8, 3))], [any_output()])
    with pytest.raises(AuditError, match="external data"):
        load_onnx(data)


def test_refuses_custom_and_unknown_operators():
    node = helper.make_node("FancyUpsample", ["x"], ["y"], domain="com.example")
    data = model_bytes([node], [image_input()], [any_output()], domains=["com.example"])
    with pytest.raises(AuditError) as err:
        load_onnx(data)
    assert "custom operator com.example::FancyUpsample" in one_line(err)
    node = helper.make_node("MagicResize", ["x"], ["y"])
    with pytest.raises(AuditError, match="not a standard ONNX operator"):
        load_onnx(model_bytes([node], [image_input()], [any_output()]))


def free_input(dims) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info("x", TensorProto.FLOAT, dims)


def test_refuses_inputs_whose_size_cannot_be_fixed():
    relu = helper.make_node("Relu", ["x"], ["y"])
    # Rank 2 (a vector model): no spatial size at all.
    with pytest.raises(AuditError, match="--input-shape") as err:
        audit_onnx(model_bytes([relu], [free_input(["n", "d"])], [any_output()]))
    one_line(err)
    # Free channels.
    with pytest.raises(AuditError, match="no fixed channel count"):
        audit_onnx(model_bytes([relu], [free_input(["n", "c", "h", "w"])], [any_output()]))
    # No declared shape at all.
    with pytest.raises(AuditError, match="cannot be fixed"):
        audit_onnx(model_bytes([relu], [helper.make_tensor_value_info(
            "x", TensorProto.FLOAT, None)], [any_output()]))
    # Free H, W but the graph only runs at 64x64: the assumed 256x256 fails.
    shape = numpy_helper.from_array(np.array([1, 3 * 64 * 64], np.int64), "shape")
    reshape = helper.make_node("Reshape", ["x", "shape"], ["y"])
    data = model_bytes([reshape], [free_input([1, 3, "h", "w"])], [any_output()], [shape])
    with pytest.raises(AuditError, match="give --input-shape") as err:
        audit_onnx(data)
    one_line(err)
    # ... and with the shape given it is audited (no resampling layer, not an image out).
    report = audit_onnx(data, (1, 3, 64, 64))
    assert report.layers == [] and report.probes.checkerboard_score is None
    # A given shape that contradicts the model is refused.
    with pytest.raises(AuditError, match="does not match"):
        audit_onnx(data, (1, 1, 64, 64))


def test_refuses_tensors_too_large_before_running():
    # A resize by 4096 of a 256x256 input would allocate 3 x 1M x 1M floats.
    scales = numpy_helper.from_array(np.array([1, 1, 4096, 4096], np.float32), "s")
    node = helper.make_node("Resize", ["x", "", "s"], ["y"], mode="nearest")
    data = model_bytes([node], [free_input([1, 3, "h", "w"])], [any_output()], [scales])
    with pytest.raises(AuditError, match="over the .* the audit allows") as err:
        audit_onnx(data)
    one_line(err)
    with pytest.raises(AuditError, match="smaller --input-shape"):
        audit_onnx(model_bytes([helper.make_node("Relu", ["x"], ["y"])],
                               [free_input([1, 3, "h", "w"])], [any_output()]),
                   (1, 3, 20000, 20000))


def test_your_image_replaces_the_photograph():
    data, _ = conv_transpose_model(3, 3, 3, 2, 1, 1, 1, 32)
    image = np.random.default_rng(0).random((50, 70, 3))
    report = audit_onnx(data, image=image)
    assert report.probes.scored_on == "your image"
    assert report.probes.results["your image"].input.shape == (32, 32, 3)
    assert "photograph" not in report.probes.results


def test_refuses_models_with_several_inputs():
    add = helper.make_node("Add", ["a", "b"], ["y"])
    data = model_bytes([add], [image_input("a"), image_input("b")], [any_output()])
    with pytest.raises(AuditError, match="2 inputs"):
        audit_onnx(data)


# --------------------------------------------------------------------------- overlap


@st.composite
def conv_transpose_settings(draw):
    k = draw(st.integers(1, 7))
    s = draw(st.integers(1, 4))
    d = draw(st.integers(1, 2))
    n = draw(st.integers(2, 9))
    op = draw(st.integers(0, max(s, d) - 1))
    full = (n - 1) * s + d * (k - 1) + 1
    p = draw(st.integers(0, max(0, min(3, (full + op - 1) // 2))))
    return k, s, p, d, op, n


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(conv_transpose_settings())
def test_random_conv_transpose_layers_match_core_overlap(cfg):
    k, s, p, d, op, n = cfg
    data, w = conv_transpose_model(2, 3, k, s, p, d, op, n)
    report = audit_onnx(data, probes=False)
    assert len(report.layers) <= 1
    expected_size = output_size(k, s, (n, n), padding=p, dilation=d, output_padding=op)
    if not report.layers:  # stride 1: a convolution, not upsampling (issue 19, defect 6)
        assert s == 1
        return
    (layer,) = report.layers
    assert layer.op == "ConvTranspose" and layer.kernel == [k, k] and layer.stride == [s, s]
    assert layer.padding == [p, p, p, p] and layer.output_padding == [op, op]
    assert tuple(layer.out_size) == expected_size  # shape inference agrees with core.maths.overlap
    truth = coverage_report(k, s, (n, n), padding=p, dilation=d, output_padding=op)
    assert (layer.interior_min, layer.interior_max) == (truth.interior_stats.min,
                                                        truth.interior_stats.max)
    assert layer.uneven == (not truth.interior_even)
    if d == 1:  # formula (2): even exactly when the stride divides the kernel
        assert layer.uneven == (s > 1 and k % s != 0)
    dilated = np.zeros((2, 3, (k - 1) * d + 1, (k - 1) * d + 1))
    dilated[..., ::d, ::d] = w
    assert layer.phase_imbalance == pytest.approx(gain_imbalance(polyphase_gains(dilated, s)))


def test_layer_coverage_is_the_coverage_page_report():
    data, _ = conv_transpose_model(1, 1, 3, 2, 1, 1, 1, 5)
    (layer,) = audit_onnx(data, probes=False).layers
    cov = layer_coverage(layer, size=5)
    ref = coverage_report(3, 2, (5, 5), padding=1, output_padding=1)
    assert np.array_equal(cov.counts, ref.counts)
    assert np.array_equal(cov.phase_pattern, ref.phase_pattern)


def test_resize_modes_and_strided_layers():
    x = image_input("x", (1, 2, 12, 12))
    nodes = [
        helper.make_node("Resize", ["x", "", "s2"], ["a"], mode="nearest", name="nearest2"),
        helper.make_node("Resize", ["a", "", "s2"], ["b"], mode="linear", name="linear2"),
        helper.make_node("Resize", ["b", "", "s15"], ["c"], mode="nearest", name="nearest1.5"),
        helper.make_node("MaxPool", ["c"], ["d"], kernel_shape=[3, 3], strides=[2, 2],
                         name="pool3s2"),
        helper.make_node("AveragePool", ["d"], ["y"], kernel_shape=[2, 2], strides=[2, 2],
                         name="pool2s2"),
    ]
    inits = [numpy_helper.from_array(np.array([1, 1, 2, 2], np.float32), "s2"),
             numpy_helper.from_array(np.array([1, 1, 1.5, 1.5], np.float32), "s15")]
    report = audit_onnx(model_bytes(nodes, [x], [any_output()], inits), probes=False)
    by = {la.name: la for la in report.layers}
    assert by["nearest2"].uneven is False and by["nearest2"].phase_imbalance == 0.0
    assert by["linear2"].mode == "linear" and by["linear2"].uneven is False
    assert by["nearest1.5"].uneven is True and by["nearest1.5"].offending
    assert by["nearest1.5"].scale == [1.5, 1.5]
    assert by["pool3s2"].severity == "gradient" and "MaxPool2d(kernel_size=2" in \
        by["pool3s2"].fix_code
    assert by["pool2s2"].severity == "ok" and by["pool2s2"].fix_code is None


def test_depth_to_space_gains_follow_the_mode():
    r, c_out, c_in = 2, 3, 2
    w0 = np.random.default_rng(1).standard_normal((c_out, c_in, 3, 3)).astype(np.float32)
    crd = np.repeat(w0, r * r, axis=0)  # channel c*r*r + phase: ICNR in CRD order
    dcr = np.tile(w0, (r * r, 1, 1, 1))  # channel phase*C + c: ICNR in DCR order

    def model(weight, mode):
        conv = helper.make_node("Conv", ["x", "w"], ["h"], kernel_shape=[3, 3],
                                pads=[1, 1, 1, 1])
        d2s = helper.make_node("DepthToSpace", ["h"], ["y"], blocksize=r, mode=mode,
                               name="shuffle")
        return model_bytes([conv, d2s], [image_input("x", (1, c_in, 8, 8))], [any_output()],
                           [numpy_helper.from_array(weight, "w")])

    for weight, mode in ((crd, "CRD"), (dcr, "DCR")):
        (layer,) = audit_onnx(model(weight, mode), probes=False).layers
        assert layer.op == "DepthToSpace" and layer.mode == mode
        assert layer.uneven is False and layer.phase_imbalance == pytest.approx(0, abs=1e-12)
    (wrong,) = audit_onnx(model(dcr, "CRD"), probes=False).layers
    assert wrong.phase_imbalance > IMBALANCE_TOLERANCE and "icnr_" in wrong.fix_code


# --------------------------------------------------------------------------- live modules


def test_audit_module_finds_functional_calls_and_leaves_the_module_alone():
    model, shape, _ = example_model("vae_decoder")
    model.train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    report = audit_module(model, shape, probes=False)
    assert model.training  # audited through an eval copy
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert [(la.name, la.op, la.mode) for la in report.layers] == [
        (f"up.{i}", "Resize", "nearest") for i in range(3)]
    assert report.offending == [] and report.chain.period == 8
    assert any("training mode" in n for n in report.notes)


def test_dcgan_even_overlap_but_imbalanced_and_all_fixes_measured():
    model, shape, _ = example_model("dcgan")
    report = audit_module(model, shape)
    ups = report.layers  # the first, stride-1 projection 1 -> 4 is not upsampling
    assert [la.kernel for la in ups] == [[4, 4]] * 4
    assert all(la.uneven is False for la in ups)  # 4x4 at stride 2: even overlap...
    assert [la.offending for la in ups] == [True] * 4  # ...imbalanced
    assert report.chain.period == 16 and report.chain.total_upsampling == 16
    assert report.probes.scored_on == "random latent"
    assert report.fix_all["fixed_at_init"] < 0.5 * report.fix_all["original_at_init"]


def test_espcn_icnr_fix_removes_the_checkerboard_at_init():
    model, shape, _ = example_model("espcn")
    report = audit_module(model, shape)
    (layer,) = report.layers
    assert layer.op == "DepthToSpace" and layer.stride == [3, 3] and layer.offending
    fix = layer.fix_measured
    assert "ICNR" in fix["fix"]
    assert fix["fixed_at_init"] < 0.05 * fix["original_at_init"]
    assert report.chain.period == 3 and list(report.probes.shift_psnr) == [1, 2]


def test_measure_fixes_resize_convolution_beats_deconv3_at_init():
    torch.manual_seed(0)
    model = build_model("deconv3").eval()
    report = audit_module(model, (1, 3, 64, 64), measure=False)
    measured = measure_fixes(model, (1, 3, 64, 64), report.layers, report.probes)
    assert set(measured) == {"up1.deconv", "up2.deconv", ALL_LAYERS}
    both = measured[ALL_LAYERS]
    assert both["fixed_at_init"] < 0.5 * both["original_at_init"]
    # The fix keeps every output size: the swapped network still runs at 64x64.
    assert all(m["fixed_at_init"] is not None for m in measured.values())


def test_icnr_subpixel_is_clean_at_init():
    torch.manual_seed(0)
    report = audit_module(build_model("subpixel_icnr").eval(), (1, 3, 32, 32), probes=False)
    ups = [la for la in report.layers if la.direction == "up"]
    assert [la.op for la in ups] == ["DepthToSpace"] * 2
    assert all(la.phase_imbalance == 0.0 and not la.offending for la in ups)
    # The fix code of an imbalanced sub-pixel layer runs, and its ICNR makes every
    # phase of an output channel start from one kernel, like core.upsamplers.layers.icnr_.
    layer = next(la for la in audit_module(build_model("subpixel").eval(), (1, 3, 32, 32),
                                           probes=False).layers if la.op == "DepthToSpace")
    assert layer.offending
    ns: dict = {}
    exec(layer.fix_code, ns)  # noqa: S102 - our own generated code
    ours, lab = torch.nn.Conv2d(4, 8, 3), torch.nn.Conv2d(4, 8, 3)
    ns["icnr_"](ours, 2)
    icnr_(lab.weight, lab.bias, 2)
    for conv in (ours, lab):
        w = conv.weight.detach().view(2, 4, 4, 3, 3)  # (C_out, phase, C_in, k, k)
        assert torch.equal(w, w[:, :1].expand_as(w))
        b = conv.bias.detach().view(2, 4)
        assert torch.equal(b, b[:, :1].expand_as(b))


# --------------------------------------------------------------------------- spectra


def test_azimuthal_average_peaks_at_the_checkerboard_frequency():
    yy, xx = np.mgrid[0:64, 0:64]
    image = 0.5 + 0.1 * ((yy + xx) % 2 * 2 - 1)  # the (1/2, 1/2) checkerboard
    freq, logp = azimuthal_average(log_power_spectrum(image, 2))
    assert freq[np.argmax(logp)] == pytest.approx(np.hypot(0.5, 0.5), abs=1 / 64)
    assert freq[0] == 0 and np.all(np.diff(freq) > 0)


def test_figures_and_reports(deconv3_onnx):
    report = audit_onnx(deconv3_onnx, (1, 3, 64, 64))
    for fig in (radial_figure(report.probes), shift_figure(report.probes)):
        assert fig.layout.title.text and fig.layout.xaxis.title.text
        assert fig.layout.yaxis.title.text
        assert all(t.hovertemplate or t.hoverinfo == "skip" for t in fig.data)
    page = to_html(report)
    assert page.count("<html>") == 1 and "plotly" in page and "data:image/png;base64" in page
    assert "/up1/deconv/ConvTranspose" in page and "nn.Upsample" in page
    md = to_markdown(report)
    assert "| # | name | op |" in md and "```python" in md
    data = json.loads(report.json_text())
    assert data["layers"][2]["phase_gains_pair_0_0"] is not None


# --------------------------------------------------------------------------- CLI


def run_cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "core.audit", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


def test_cli_contract(tmp_path, deconv3_onnx):
    model = tmp_path / "deconv3.onnx"
    model.write_bytes(deconv3_onnx)
    out = tmp_path / "report.json"
    done = run_cli(str(model), "--input-shape", "1,3,64,64", "--json", str(out),
                   "--markdown", str(tmp_path / "r.md"))
    assert done.returncode == 0, done.stderr
    data = json.loads(out.read_text())
    assert isinstance(data["layers"], list) and data["layers"]
    for layer in data["layers"]:
        assert isinstance(layer["name"], str) and isinstance(layer["op"], str)
        for key in ("kernel", "stride", "padding"):
            assert layer[key] is None or all(isinstance(v, int) for v in layer[key])
        assert layer["uneven"] is None or isinstance(layer["uneven"], bool)
        assert layer["phase_imbalance"] is None or isinstance(layer["phase_imbalance"], float)
    convt = [la for la in data["layers"] if la["op"] == "ConvTranspose"]
    assert len(convt) == 2 and all(la["uneven"] and la["phase_imbalance"] > 0 for la in convt)
    assert isinstance(data["probes"]["checkerboard_score"], float)
    assert data["probes"]["scored_on"] == "photograph"
    assert (tmp_path / "r.md").read_text().startswith("# Checkerboard audit")
    # Without --json the report goes to stdout.
    done = run_cli(str(model), "--input-shape", "1,3,32,32", "--no-probes")
    assert done.returncode == 0 and json.loads(done.stdout)["probes"] is None


def test_cli_refusals_are_one_line_and_non_zero(tmp_path):
    cases = {
        "picture.onnx": encode(Image.new("RGB", (4, 4)), "PNG"),
        "external.onnx": external_data_model(),
        "custom.onnx": model_bytes([helper.make_node("Foo", ["x"], ["y"], domain="my.ops")],
                                   [image_input()], [any_output()], domains=["my.ops"]),
    }
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
    for name in [*cases, "missing.onnx"]:
        done = run_cli(str(tmp_path / name))
        assert done.returncode != 0, name
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("core.audit: "), (name, done.stderr)
        assert "Traceback" not in done.stderr and done.stdout == ""
    done = run_cli(str(tmp_path / "picture.onnx"), "--input-shape", "1,3,x,4")
    assert done.returncode != 0


def test_examples_are_seeded_and_build():
    for name, example in EXAMPLES.items():
        a, shape, _ = example_model(name)
        b, _, _ = example_model(name)
        assert shape == example.input_shape
        for (ka, va), (kb, vb) in zip(a.state_dict().items(), b.state_dict().items(),
                                      strict=True):
            assert ka == kb and torch.equal(va, vb)
