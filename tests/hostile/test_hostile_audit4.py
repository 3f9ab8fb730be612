"""Hostile ONNX files and uploads, fourth round (issue 30): each class is refused in one
line within a budget stated in docs/limits.md, never a traceback, a hang or gigabytes.

The builders here are also the benchmark's cases (``benchmarks/robustness.py``).
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

from core.audit import sandbox
from core.audit.limits import MAX_METADATA_BYTES, MAX_NODES, AuditError
from core.audit.onnx_graph import audit_onnx, audit_onnx_files
from core.audit.read import read_upload
from tests.hostile.test_hostile_audit import cli, deconv, inp, model, out, weight

# --------------------------------------------------------------------------- builders


def good() -> bytes:
    return model([deconv()], [inp()], [out()], [weight()])


def zip_of(files: dict[str, bytes], method=zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", method) as z:
        for name, data in files.items():
            z.writestr(name, data)
    return buf.getvalue()


def damaged_zip(kind: str) -> bytes:
    """A zip of a good model whose one entry is damaged: ``crc``, ``encrypted``,
    ``method99``, ``deflate64`` or ``stream`` (a corrupt deflate stream)."""
    data = bytearray(zip_of({"model.onnx": good()}))
    local = 0  # the local header of the only entry
    central = data.rindex(b"PK\x01\x02")
    if kind == "crc":
        for at in (local + 14, central + 16):
            data[at:at + 4] = struct.pack("<I", 0xDEADBEEF)
    elif kind == "encrypted":
        for at in (local + 6, central + 8):
            data[at] |= 1
    elif kind in ("method99", "deflate64"):
        for at in (local + 8, central + 10):
            data[at:at + 2] = struct.pack("<H", 99 if kind == "method99" else 9)
    elif kind == "stream":
        name_len, extra_len = struct.unpack("<HH", data[local + 26:local + 30])
        start = local + 30 + name_len + extra_len
        data[start:start + 8] = b"\xff" * 8
    return bytes(data)


def function_bomb(depth: int = 31) -> bytes:
    """``depth`` local functions each calling the previous twice: 3 * depth stored nodes,
    2^depth when inlined."""
    funcs = [helper.make_function("local", "f0", ["a"], ["b"],
                                  [helper.make_node("Relu", ["a"], ["b"])],
                                  [helper.make_opsetid("", 17)])]
    for i in range(1, depth):
        nodes = [helper.make_node(f"f{i - 1}", ["a"], ["t"], domain="local"),
                 helper.make_node(f"f{i - 1}", ["t"], ["b"], domain="local")]
        funcs.append(helper.make_function("local", f"f{i}", ["a"], ["b"], nodes,
                                          [helper.make_opsetid("", 17),
                                           helper.make_opsetid("local", 1)]))
    graph = helper.make_graph([helper.make_node(f"f{depth - 1}", ["x"], ["y"], domain="local")],
                              "g", [inp()], [out()])
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17),
                                                helper.make_opsetid("local", 1)],
                          functions=funcs)
    m.ir_version = 8
    return m.SerializeToString()


def endless_loop(trips: int = 10**12) -> bytes:
    """A Loop of ``trips`` iterations adding 1 to a scalar: a few hundred bytes."""
    body = helper.make_graph(
        [helper.make_node("Identity", ["cond_in"], ["cond_out"]),
         helper.make_node("Add", ["v_in", "one"], ["v_out"])], "body",
        [helper.make_tensor_value_info("i", TensorProto.INT64, []),
         helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []),
         helper.make_tensor_value_info("v_in", TensorProto.FLOAT, [])],
        [helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
         helper.make_tensor_value_info("v_out", TensorProto.FLOAT, [])],
        [numpy_helper.from_array(np.array(1, np.float32), "one")])
    inits = [numpy_helper.from_array(np.array(trips, np.int64), "n"),
             numpy_helper.from_array(np.array(True), "c"),
             numpy_helper.from_array(np.array(0, np.float32), "v0")]
    nodes = [helper.make_node("Loop", ["n", "c", "v0"], ["v"], body=body, name="loop"),
             helper.make_node("Add", ["x", "v"], ["y"])]
    return model(nodes, [inp()], [out()], inits)


def value_expand(elements: int = 2**31) -> bytes:
    """An Expand whose target shape is computed from the input's values (shape inference
    cannot bound it): the input is 0, so the shape is ``[1, elements]``."""
    inits = [numpy_helper.from_array(np.array([1, elements], np.int64), "base"),
             numpy_helper.from_array(np.array([0], np.int64), "i0")]
    nodes = [helper.make_node("ReduceMax", ["x"], ["m"], keepdims=0),
             helper.make_node("Cast", ["m"], ["mi"], to=TensorProto.INT64),
             helper.make_node("Unsqueeze", ["mi", "i0"], ["m1"]),
             helper.make_node("Add", ["base", "m1"], ["shape"]),
             helper.make_node("Expand", ["x0", "shape"], ["big"]),
             helper.make_node("ReduceSum", ["big"], ["s"], keepdims=0),
             helper.make_node("Add", ["x", "s"], ["y"])]
    inits.append(numpy_helper.from_array(np.array([1.0], np.float32), "x0"))
    return model(nodes, [inp()], [out()], inits)


def random_matmul(side: int = 8192) -> bytes:
    """Two RandomNormal side x side tensors (each at the element cap for 8192) multiplied:
    a few hundred bytes asking for side^3 multiply-adds."""
    nodes = [helper.make_node("RandomNormal", [], ["a"], shape=[side, side], seed=1.0),
             helper.make_node("RandomNormal", [], ["b"], shape=[side, side], seed=2.0),
             helper.make_node("MatMul", ["a", "b"], ["m"]),
             helper.make_node("ReduceMean", ["m"], ["s"], keepdims=0),
             helper.make_node("Add", ["x", "s"], ["y"])]
    return model(nodes, [inp()], [out()])


def with_metadata(value: str) -> bytes:
    node = deconv()
    entry = node.metadata_props.add()
    entry.key, entry.value = "pkg.torch.onnx.name_scopes", value
    return model([node], [inp()], [out()], [weight()], opset=18)


def unused_external(length: int) -> tuple[bytes, bytes]:
    """A model whose unused initializer declares ``length`` bytes of external data (the
    data file holds 16 bytes): refused from the declared length, the file never read."""
    t = TensorProto(name="unused", data_type=TensorProto.UINT8, dims=[length],
                    data_location=TensorProto.EXTERNAL)
    for k, v in (("location", "model.onnx.data"), ("offset", "0"), ("length", str(length))):
        e = t.external_data.add()
        e.key, e.value = k, v
    return model([deconv()], [inp()], [out()], [weight(), t]), b"\0" * 16


def unused_initializer_zip(mib: int = 480) -> bytes:
    """The issue's 490 KB zip: a model holding an unused ``mib`` MiB initializer."""
    t = TensorProto(name="unused", data_type=TensorProto.UINT8, dims=[mib * 2**20],
                    raw_data=bytes(mib * 2**20))
    return zip_of({"model.onnx": model([deconv()], [inp()], [out()], [weight(), t])})


def local_convtranspose(domain: str = "local") -> bytes:
    """A model calling a local function named ConvTranspose (one input)."""
    fn = helper.make_function(domain, "ConvTranspose", ["a"], ["b"],
                              [helper.make_node("Relu", ["a"], ["b"])],
                              [helper.make_opsetid("", 17)])
    graph = helper.make_graph([helper.make_node("ConvTranspose", ["x"], ["y"], name="ct",
                                                domain=domain)], "g", [inp()], [out()])
    opsets = [helper.make_opsetid("", 17)] + ([helper.make_opsetid(domain, 1)] if domain
                                              else [])
    m = helper.make_model(graph, opset_imports=opsets, functions=[fn])
    m.ir_version = 8
    return m.SerializeToString()


# --------------------------------------------------------------------------- uploads


@pytest.mark.parametrize("kind", ["crc", "encrypted", "method99", "deflate64", "stream"])
def test_damaged_zip_entries_are_one_refusal(kind):
    with pytest.raises(AuditError, match="entry 'model.onnx' cannot be read"):
        read_upload(damaged_zip(kind))


def test_a_name_given_twice_is_refused():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("model.onnx", good())
        z.writestr("model.onnx", model([deconv(s=4, k=4)], [inp()], [out()], [weight(k=4)]))
    with pytest.raises(AuditError, match="'model.onnx' twice"):
        read_upload(buf.getvalue())
    with pytest.raises(AuditError, match="twice"):
        read_upload([("model.onnx", good()), ("./model.onnx", good())])
    name, data, _ = read_upload([("model.onnx", good())])
    assert name == "model.onnx" and data == good()


# --------------------------------------------------------------------------- graphs


def test_node_count_includes_inlined_functions():
    data = function_bomb(31)
    assert len(data) < 5000
    with pytest.raises(AuditError, match=f"over {MAX_NODES:,} nodes"):
        audit_onnx(data, probes=False)
    audit_onnx(function_bomb(4), probes=False)  # 2^4 nodes inlined: audited


def test_local_function_named_like_an_operator_is_not_judged_as_it():
    report = audit_onnx(local_convtranspose(), probes=True)
    assert report.layers == []
    assert any("local function 'ConvTranspose'" in w for w in report.warnings)
    with pytest.raises(AuditError, match="ambiguous"):  # in the standard domain
        audit_onnx(local_convtranspose(""), probes=False)


def test_metadata_is_parsed_within_a_budget():
    with pytest.raises(AuditError, match="metadata is over"):
        audit_onnx(with_metadata("['" + "a" * MAX_METADATA_BYTES + "', 'x']"), probes=False)
    # 100 KB of '-' then '1': ast.literal_eval raised MemoryError on it; now not parsed
    report = audit_onnx(with_metadata("-" * 100_000 + "1"), probes=False)
    assert [la.op for la in report.layers] == ["ConvTranspose"]


def test_stored_tensor_bytes_are_counted_before_reading(tmp_path):
    data, blob = unused_external(300 * 2**20)
    (tmp_path / "model.onnx").write_bytes(data)
    (tmp_path / "model.onnx.data").write_bytes(blob)
    with pytest.raises(AuditError, match="300.0 MB of weights"):
        audit_onnx(tmp_path / "model.onnx", probes=False)


def test_initializer_bytes_are_counted_before_parsing(monkeypatch):
    import onnx

    from core.audit import read

    data = model([deconv()], [inp()], [out()], [weight(), numpy_helper.from_array(
        np.zeros(4096, np.uint8), "unused")])
    assert read.declared_initializer_bytes(data) > 4096
    monkeypatch.setattr(read, "MAX_TENSOR_BYTES", 4096)

    def no_parse(_):
        raise AssertionError("parsed before the count")

    monkeypatch.setattr(onnx, "load_from_string", no_parse)
    with pytest.raises(AuditError, match="read from the file before parsing"):
        read.load_onnx(data)


# --------------------------------------------------------------------------- running


def test_an_endless_loop_is_stopped_at_the_run_budget(monkeypatch):
    monkeypatch.setattr(sandbox, "MAX_RUN_SECONDS", 3.0)
    with pytest.raises(AuditError, match="over 3 s"):
        audit_onnx(endless_loop(), probes=True)


def test_memory_asked_from_input_values_is_stopped_at_the_budget():
    with pytest.raises(AuditError, match="MiB of memory"):
        audit_onnx(value_expand(2**31), probes=True)
    with pytest.raises(AuditError, match="MiB of memory"):
        audit_onnx_files(zip_of({"model.onnx": value_expand(2**31)}), probes=True)


def test_shape_inference_runs_with_a_budget(monkeypatch):
    """Shape inference in the child: a budget of 0 s stops it, with its own message."""
    monkeypatch.setattr(sandbox, "MAX_INFER_SECONDS", 0.0)
    with pytest.raises(AuditError, match="shape inference ran for over 0 s"):
        audit_onnx(good(), probes=False)


def test_the_corrupt_stream_is_zlibs_error():
    """The builder is honest: zipfile itself raises zlib.error on that entry."""
    with pytest.raises(zlib.error):
        zipfile.ZipFile(io.BytesIO(damaged_zip("stream"))).read("model.onnx")


# --------------------------------------------------------------------------- outputs


def test_reports_never_overwrite_the_models_data(tmp_path):
    data, _ = unused_external(16)
    (tmp_path / "model.onnx").write_bytes(data)
    (tmp_path / "model.onnx.data").write_bytes(bytes(16))
    for flag in ("--json", "--html", "--markdown"):
        r = cli(str(tmp_path / "model.onnx"), "--no-probes", flag,
                str(tmp_path / "model.onnx.data"), cwd=tmp_path)
        assert r.returncode == 2, r.stderr
        assert "would overwrite the model's external data" in r.stderr
        assert (tmp_path / "model.onnx.data").read_bytes() == bytes(16)
        assert "Traceback" not in r.stderr


def test_reports_never_overwrite_the_users_package(tmp_path):
    pkg = tmp_path / "my_pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    source = ("import torch\n\ndef net():\n    return torch.nn.ConvTranspose2d(3, 3, 3, "
              "stride=2)\n")
    (pkg / "models.py").write_text(source)
    r = cli("--module", "my_pkg.models:net", "--input-shape", "1,3,16,16", "--no-probes",
            "--pythonpath", str(tmp_path), "--json", str(pkg / "__init__.py"), cwd=tmp_path)
    assert r.returncode == 2, r.stderr
    assert "would overwrite the file of an imported module" in r.stderr
    assert (pkg / "__init__.py").read_text() == ""


def test_output_guard_is_public_and_compares_identity(tmp_path):
    from core.audit.paths import check_output_paths

    a = tmp_path / "a.bin"
    a.write_bytes(b"x")
    (tmp_path / "link").symlink_to(a)
    with pytest.raises(AuditError, match="--sarif"):
        check_output_paths({"--sarif": tmp_path / "link"}, {"model": [a]})
    with pytest.raises(AuditError, match="both write"):
        check_output_paths({"--json": tmp_path / "n.json", "--sarif": tmp_path / "./n.json"}, {})
    check_output_paths({"--json": tmp_path / "new.json"}, {"model": a})


def test_page_route_refuses_a_damaged_zip():
    with pytest.raises(AuditError):
        audit_onnx_files(damaged_zip("crc"))


# --------------------------------------------------------------------------- torch route


def test_torch_route_has_the_onnx_routes_caps():
    import torch

    from core.audit.limits import MAX_RESAMPLING_LAYERS
    from core.audit.live import audit_module

    many = torch.nn.Sequential(*[torch.nn.ConvTranspose2d(1, 1, 3, padding=1)
                                 for _ in range(MAX_RESAMPLING_LAYERS + 1)])
    ran = []
    many[0].register_forward_hook(lambda *_: ran.append(1))
    with pytest.raises(AuditError, match="resampling modules"):
        audit_module(many, (1, 1, 8, 8), probes=False)
    assert not ran  # refused before the forward pass
    small = torch.nn.ConvTranspose2d(3, 3, 3, stride=2)
    with pytest.raises(AuditError, match="elements, over"):
        audit_module(small, (1, 3, 6000, 6000), probes=False)
    with pytest.raises(AuditError, match="probes would run"):
        audit_module(small, (1, 3, 2000, 2000), probes=True)

    class Grow(torch.nn.Module):  # an output of 81 M elements, as a view (no memory)
        def forward(self, x):
            return x[:, :1, :1, :1].expand(1, 1, 9000, 9000)

    with pytest.raises(AuditError, match="output .* elements, over"):
        audit_module(Grow(), (1, 3, 16, 16), probes=False)


def deflated_pt(path, mib: int = 300) -> None:
    """A ``.pt`` whose one tensor record is deflated: ``mib`` MiB of zeros in ~1 MB."""
    import torch

    torch.save({"w": torch.zeros(4)}, path)
    with zipfile.ZipFile(path) as z:
        members = [(i, z.read(i)) for i in z.infolist()]
    with zipfile.ZipFile(path, "w") as z:
        for info, data in members:
            if "/data/" in info.filename:
                z.writestr(info.filename, bytes(mib * 2**20), zipfile.ZIP_DEFLATED)
            else:
                z.writestr(info, data)


def test_pt_members_are_checked_before_inflating(tmp_path):
    from core.audit.importing import read_state_dict

    path = tmp_path / "bomb.pt"
    deflated_pt(path, 300)
    assert path.stat().st_size < 2 * 2**20
    with pytest.raises(AuditError, match="unpacks to 300.0 MiB"):
        read_state_dict(path)
    deflated_pt(path, 20)
    with pytest.raises(AuditError, match="inflates from"):
        read_state_dict(path)
