"""The audit on published networks (issue 19): every zoo network of
:mod:`tests.core.audit_zoo` against its hand-written ground truth, on the live module
(``audit_module``) and its ONNX export (``audit_onnx``) by the TorchScript exporter and,
for the networks that exercise what only it writes (ScatterND max-unpooling, name scopes,
external data, folded BatchNorm), the default dynamo exporter; then one test per defect
of the issue.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import zipfile
from collections import Counter
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from onnx import TensorProto, helper, numpy_helper

from core.audit import AuditError, attach_fixes, audit_module, audit_onnx
from core.audit.onnx_graph import audit_onnx_files
from core.audit.onnx_lookup import module_path_from_name
from tests.core.audit_zoo import ZOO, Truth, built, one_thread, quiet_export  # noqa: F401 (one_thread: autouse)

ROOT = Path(__file__).resolve().parents[2]
#: Networks also exported with the dynamo exporter (the default) in the tests: the whole
#: zoo (0.5-2.3 s an export on a quiet machine, benchmarks/results/audit_zoo.json).
DYNAMO = tuple(ZOO)


def build(name: str) -> torch.nn.Module:
    return built(ZOO[name])



@pytest.fixture(scope="module")
def audits(tmp_path_factory) -> dict[tuple[str, str], object]:
    """``(network, route) -> AuditReport`` for every route each network has."""
    out = {}
    for name, net in ZOO.items():
        model = build(name)
        out[name, "torch"] = audit_module(model, net.input_shape, probes=False)
        if net.torchscript:
            buf = io.BytesIO()
            quiet_export(model, net.input_shape, buf, dynamo=False)
            out[name, "torchscript"] = audit_onnx(buf.getvalue(), probes=False)
        if name in DYNAMO:
            folder = tmp_path_factory.mktemp(name)
            quiet_export(model, net.input_shape, str(folder / "model.onnx"), dynamo=True)
            assert (folder / "model.onnx.data").is_file()  # external data beside it
            out[name, "dynamo"] = audit_onnx(folder / "model.onnx", probes=False)
    return out


def row(layer) -> tuple:
    """What the ground truth states about one layer, read off the audit."""
    kernel = layer.kernel[0] if layer.kernel else (
        layer.stride[0] if layer.op == "DepthToSpace" else None)
    stride = layer.stride[0] if layer.stride else round(layer.scale[0])
    padding = layer.padding[0] if layer.padding is not None else None
    even = None if layer.uneven is None else not layer.uneven
    return (layer.op, kernel, stride, padding, even, bool(layer.blur))


def truth_row(t: Truth) -> tuple:
    return (t.op, t.kernel, t.stride, t.padding, t.even, t.blur)


CASES = [(name, route) for name, net in ZOO.items()
         for route in ("torch", "torchscript", "dynamo")
         if route == "torch" or (route == "torchscript" and net.torchscript)
         or (route == "dynamo" and name in DYNAMO)]


def test_the_zoo_has_ten_published_networks_from_named_sources():
    assert len(ZOO) >= 10
    assert all("/" in net.source and net.layers for net in ZOO.values())


@pytest.mark.parametrize(("name", "route"), CASES)
def test_zoo_layers_match_the_ground_truth(audits, name, route):
    net, report = ZOO[name], audits[name, route]
    assert Counter(row(la) for la in report.layers) == Counter(truth_row(t)
                                                               for t in net.layers)
    for t in net.layers:  # verdicts the design fixes, whatever the weights
        if t.offending is not None:
            verdicts = {la.offending for la in report.layers if row(la) == truth_row(t)}
            assert verdicts == {t.offending}, (t, verdicts)
    chain = report.chain
    assert (chain.total_upsampling, chain.total_downsampling, chain.period) == (
        net.total_up, net.total_down, net.period)


@pytest.mark.parametrize(("name", "route"), [c for c in CASES if c[1] != "torchscript"
                                             or ZOO[c[0]].torchscript_paths])
def test_zoo_module_paths_name_the_module_to_fix(audits, name, route):
    paths = Counter((t.op, t.path) for t in ZOO[name].layers if t.path)
    found = Counter((la.op, la.module_path) for la in audits[name, "torch"].layers
                    if (la.op, la.module_path) in paths)
    assert found == paths if route == "torch" else True
    report = audits[name, route]
    assert Counter((la.op, la.module_path) for la in report.layers
                   if (la.op, la.module_path) in paths) == paths


# ------------------------------------------------------------------ the defects, one by one


def test_defect1_a_transposed_convolution_called_with_output_size_is_swapped():
    report = audit_module(build("enet"), ZOO["enet"].input_shape)  # raised TypeError
    fixes = {la.module_path: la.fix_measured for la in report.layers if la.offending}
    final = fixes["transposed_conv"]
    assert "resize-convolution" in final["fix"] and final["fixed_at_init"] is not None
    assert report.fix_all is not None and report.fix_all["fixed_at_init"] is not None


def _external_model(folder: Path, location: str) -> Path:
    """A 3x3 stride-2 ConvTranspose whose weight lies in ``location``."""
    w = np.random.default_rng(0).standard_normal((2, 2, 3, 3)).astype(np.float32)
    tensor = numpy_helper.from_array(w, "w")
    tensor.ClearField("raw_data")
    tensor.data_location = TensorProto.EXTERNAL
    for key, value in (("location", location), ("offset", "0"), ("length", str(w.nbytes))):
        entry = tensor.external_data.add()
        entry.key, entry.value = key, value
    node = helper.make_node("ConvTranspose", ["x", "w"], ["y"], strides=[2, 2],
                            pads=[1, 1, 1, 1], output_padding=[1, 1], name="/up/ConvTranspose")
    graph = helper.make_graph(
        [node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 16, 16])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], [tensor])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    path = folder / "model.onnx"
    path.write_bytes(model.SerializeToString())
    return path, w.tobytes()


def test_defect2_external_data_inside_the_folder_is_read_and_outside_refused(tmp_path):
    path, blob = _external_model(tmp_path, "model.onnx.data")
    (tmp_path / "model.onnx.data").write_bytes(blob)
    (layer,) = audit_onnx(path, probes=False).layers
    assert layer.op == "ConvTranspose" and layer.phase_imbalance > 0
    # The same bytes without their folder, then every way of pointing elsewhere.
    with pytest.raises(AuditError, match="upload the .onnx together") as err:
        audit_onnx(path.read_bytes(), probes=False)
    secret = tmp_path.parent / f"{tmp_path.name}-secret.bin"
    secret.write_bytes(blob)
    (tmp_path / "link.data").symlink_to(secret)
    for location in ("../" + secret.name, str(secret), "link.data", "sub/../../x"):
        folder = tmp_path / f"case{abs(hash(location))}"
        folder.mkdir()
        (folder / "link.data").symlink_to(secret)
        bad, _ = _external_model(folder, location)
        with pytest.raises(AuditError, match="outside the model's folder") as err:
            audit_onnx(bad, probes=False)
        assert "server" not in str(err.value)


def test_defect2_an_upload_with_its_data_file_or_a_zip_is_audited(tmp_path):
    path, blob = _external_model(tmp_path, "model.onnx.data")
    files = {"model.onnx": path.read_bytes(), "model.onnx.data": blob}
    assert audit_onnx_files(files, probes=False).layers[0].phase_imbalance > 0
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        for name, data in files.items():
            archive.writestr(f"export/{name}", data)
    report = audit_onnx_files(buf.getvalue(), probes=False)
    assert report.source == "model.onnx" and report.layers[0].op == "ConvTranspose"
    with pytest.raises(AuditError, match="was not uploaded"):
        audit_onnx_files({"model.onnx": path.read_bytes()}, probes=False)
    with pytest.raises(AuditError, match="outside the model's folder"):
        audit_onnx_files({"model.onnx": path.read_bytes(), "../model.onnx.data": blob})


def test_defect2_dynamo_node_names_get_module_paths_from_their_scopes(audits):
    report = audits["srgan", "dynamo"]
    assert all(la.name.startswith("node_") for la in report.layers)
    assert [la.module_path for la in report.layers] == ["upsampling.2", "upsampling.6"]


def test_defect3_stylegan2_blur_is_credited_and_upfirdn2d_is_upsampling(audits):
    for route in ("torch", "dynamo"):
        report = audits["stylegan2", route]
        convt = [la for la in report.layers if la.op == "ConvTranspose"]
        zeros = [la for la in report.layers if la.op == "ZeroInsertion"]
        assert len(convt) == 3 and len(zeros) == 3  # the three ToRGB skips are listed
        for la in convt + zeros:
            assert la.blur and not la.offending and not la.uneven
            assert la.phase_imbalance == pytest.approx(0.0, abs=1e-9)
            assert la.out_size == [2 * la.in_size[0]] * 2  # 9 -> 8 after the blur
            assert la.fix_code is None
        assert (report.chain.period, report.chain.total_upsampling) == (8, 8.0)


def test_defect3_a_blur_that_does_not_fold_evenly_is_not_credited_as_a_fix():
    # A [1, 3, 1] blur after a 3x3 stride-2 transposed convolution: folded by phase it is
    # (1+1, 3): unequal, so the composition keeps unequal phase gains.
    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.up = torch.nn.ConvTranspose2d(2, 2, 3, 2, 1, 1)
            f = torch.tensor([1.0, 3.0, 1.0])
            self.register_buffer("blur", (f[:, None] * f[None]).expand(2, 1, 3, 3) / 25)

        def forward(self, x):
            return torch.relu(torch.nn.functional.conv2d(self.up(x), self.blur, padding=1,
                                                         groups=2))

    torch.manual_seed(0)
    (layer,) = audit_module(Net().eval(), (1, 2, 16, 16), probes=False).layers
    assert layer.blur and layer.phase_imbalance > 0.05 and layer.offending


def test_defect4_sequential_and_modulelist_children_are_named_right():
    assert module_path_from_name("/decoder4/tp_conv/tp_conv.0/ConvTranspose") == "decoder4.tp_conv.0"
    assert module_path_from_name("/model/model.1/model.1.1/model.1.1.0/Conv") == "model.1.1.0"
    assert module_path_from_name("/down1/maxpool_conv/maxpool_conv.0/MaxPool") == "down1.maxpool_conv.0"
    assert module_path_from_name("/blocks.0/lst.0/lst.0.0/Conv") == "blocks.0.lst.0.0"
    assert module_path_from_name("/model/model/Conv") == "model.model"


def test_defect4_measured_fixes_attach_to_every_offending_linknet_layer():
    model, shape = build("linknet"), ZOO["linknet"].input_shape
    buf = io.BytesIO()
    quiet_export(model, shape, buf, dynamo=False)
    report = attach_fixes(audit_onnx(buf.getvalue()), model)
    offending = [la for la in report.layers if la.offending]
    assert len(offending) == 5
    assert all(la.fix_measured and "fixed_at_init" in la.fix_measured for la in offending)


def test_defect5_batchnorm_before_pixel_shuffle_agrees_on_both_routes(audits):
    live, exported = audits["srgan", "torch"], audits["srgan", "torchscript"]
    for a, b in zip(live.layers, exported.layers, strict=True):
        assert a.phase_imbalance is not None  # the torch route finds the weights
        assert a.phase_imbalance == pytest.approx(b.phase_imbalance, rel=1e-5)
        assert a.offending == b.offending
    dynamo = audits["srgan", "dynamo"]
    assert [la.phase_imbalance for la in dynamo.layers] == pytest.approx(
        [la.phase_imbalance for la in live.layers], rel=1e-5)


def test_defect6_pooling_indices_and_unpooling_on_both_routes(audits):
    for route in ("torch", "dynamo"):
        ops = Counter(la.op for la in audits["enet", route].layers)
        assert ops["MaxPool"] == 3 and ops["MaxUnpool"] == 2
    for route in ("torch", "torchscript"):  # LinkNet's stride-1 decoder1 is no upsampler
        paths = [la.module_path for la in audits["linknet", route].layers]
        assert not any(p and p.startswith("decoder1") for p in paths)


def test_defect7_chain_factors_follow_the_graph_not_the_branches(audits):
    for name in ("linknet", "enet"):
        report = audits[name, "torch"]
        assert report.chain.total_downsampling == ZOO[name].total_down  # was 256 and 16


def test_defect8_one_scaling_rule_for_probes_and_fixes():
    model = build("dcgan")

    class Doubled(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.main = model.main

        def forward(self, z):
            return 2 * self.main(z)

    shape = ZOO["dcgan"].input_shape
    one = audit_module(model, shape)
    two = audit_module(Doubled().eval(), shape, measure=False)  # only its score is compared
    assert one.probes.checkerboard_score == pytest.approx(two.probes.checkerboard_score)
    assert one.probes.checkerboard_score > 5e-3  # not the clipped near-zero output
    assert all(r.scaling == "min-max" for r in one.probes.results.values())
    assert any("rescaled by its own minimum and maximum" in n for n in one.probes.notes)
    fixed = [la.fix_measured for la in one.layers if la.fix_measured]
    assert fixed and all(f["as_given"] == one.probes.checkerboard_score for f in fixed)
    # original_at_init is the same network re-initialised: same order of magnitude
    assert all(0.1 < f["original_at_init"] / f["as_given"] < 10 for f in fixed)


def test_defect9_the_shift_test_says_why_it_is_skipped():
    report = audit_module(build("pix2pix_unet"), ZOO["pix2pix_unet"].input_shape,
                          measure=False)
    assert report.chain.period == 32
    probes = report.probes
    assert probes.shift_psnr == {} and probes.shift_reference is None
    assert "smaller than 4 periods" in probes.shift_note
    assert "nan" not in report.json_text().lower()


def test_defect10_align_corners_and_the_subpixel_fix_channels(audits):
    for route in ("torch", "torchscript"):
        resizes = [la for la in audits["milesial_unet", route].layers if la.op == "Resize"]
        assert [la.align_corners for la in resizes] == [True] * 4
        assert "align_corners=True" in str(audits["milesial_unet", route].layer_rows())
    for route in ("torch", "torchscript"):
        (layer,) = audits["espcn", route].layers
        assert layer.source_channels == 4
        assert "nn.Conv2d(4, 1, 3, padding=1)" in layer.fix_code  # not Conv2d(9, 1, 3)


def test_defect10_an_onnx_only_audit_does_not_import_torch(tmp_path):
    buf = io.BytesIO()
    quiet_export(build("espcn"), ZOO["espcn"].input_shape, buf, dynamo=False)
    (tmp_path / "espcn.onnx").write_bytes(buf.getvalue())
    code = ("import sys; from core.audit import audit_onnx; "
            f"r = audit_onnx({str(tmp_path / 'espcn.onnx')!r}); "
            "assert r.probes.checkerboard_score is not None; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'torch'))")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=ROOT, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_the_report_json_carries_the_new_fields(audits):
    layer = next(la for la in audits["stylegan2", "torch"].layers if la.op == "ConvTranspose")
    data = layer.to_json()
    assert data["blur"] is True and data["filters"]
    assert onnx is not None  # the module is imported for the builders above
