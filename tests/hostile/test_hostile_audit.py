"""Hostile ONNX files through the audit (issue 20, third round): crashes become one-line
refusals, resources are bounded from the graph before anything runs, names from the file
reach no report or page as live markup or terminal escapes, and layers the audit cannot
judge are said, never reported as "0 resampling layers". Each class on the library
(:func:`core.audit.audit_onnx`), the command line (``python -m core.audit``) and the page.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

from core.audit import limits, read, sandbox
from core.audit.cli import summary_lines
from core.audit.limits import AuditError
from core.audit.onnx_graph import audit_onnx
from core.audit.probes import run_probes
from core.audit.render import to_html, to_markdown
from tests.conftest import Forbidden, assert_clean, forbid, open_page
from tests.hostile.test_hostile_links import outside_code

ROOT = Path(__file__).resolve().parents[2]
AUDIT = "pages/audit.py"

# --------------------------------------------------------------------------- builders


def model(nodes, inputs, outputs, inits=(), opset=17) -> bytes:
    graph = helper.make_graph(nodes, "g", inputs, outputs, list(inits))
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8
    return m.SerializeToString()


def inp(shape=(1, 3, 16, 16), name="x", elem=TensorProto.FLOAT):
    return helper.make_tensor_value_info(name, elem, list(shape))


def out(name="y", elem=TensorProto.FLOAT):
    return helper.make_tensor_value_info(name, elem, None)


def deconv(name="up", k=3, s=2, src="x", dst="y", w="w", kernel_shape=True):
    kw = {"strides": [s, s], "pads": [1, 1, 1, 1] if k >= 3 else [0, 0, 0, 0]}
    if kernel_shape:
        kw["kernel_shape"] = [k, k]
    return helper.make_node("ConvTranspose", [src, w], [dst], name=name, **kw)


def weight(c=3, k=3, name="w"):
    rng = np.random.default_rng(0)
    return numpy_helper.from_array(rng.standard_normal((c, c, k, k)).astype(np.float32), name)


def scaled(value, elem=TensorProto.FLOAT, dtype=np.float32) -> bytes:
    """ConvTranspose (stride 2) times ``value``: NaN, inf, or a float16 overflow."""
    c = numpy_helper.from_array(np.array(value, dtype), "c")
    w = numpy_helper.from_array(np.ones((3, 3, 3, 3), dtype), "w")
    return model([deconv(dst="t"), helper.make_node("Mul", ["t", "c"], ["y"], name="mul")],
                 [inp(elem=elem)], [out(elem=elem)], [w, c])


def bad_initializer() -> bytes:
    w = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[3, 3, 3, 3],
                    raw_data=b"\x00" * 8)
    return model([deconv()], [inp()], [out()], [w])


def no_output() -> bytes:
    return model([helper.make_node("Identity", ["x"], ["y"])], [inp()], [])


def big_resize(factor=4096, computed=False) -> bytes:
    scales = numpy_helper.from_array(np.array([1, 1, factor, factor], np.float32), "a")
    zero = numpy_helper.from_array(np.zeros(4, np.float32), "b")
    nodes = [helper.make_node("Resize", ["x", "", "s" if computed else "a"], ["y"],
                              name="rs", mode="nearest")]
    if computed:  # scales computed: shape inference cannot size the output
        nodes.insert(0, helper.make_node("Add", ["a", "b"], ["s"]))
    return model(nodes, [inp()], [out()], [scales, zero])


def stride_deconv(s: int, side: int = 1) -> bytes:
    w = numpy_helper.from_array(np.full((1, 1, s, s), 1e-3, np.float32), "w")
    return model([deconv(k=s, s=s)], [inp((1, 1, side, side))], [out()], [w])


def free_channels(c=256) -> bytes:
    """70 bytes: an identity with a free spatial size and ``c`` channels."""
    return model([helper.make_node("Identity", ["x"], ["y"])], [inp((1, c, "h", "w"))],
                 [out()])


def many_nodes(n=20_000) -> bytes:
    nodes = [deconv(name=f"d{i}", k=1, s=1, dst=f"t{i}") for i in range(n)]
    nodes.append(helper.make_node("Identity", ["t0"], ["y"]))
    return model(nodes, [inp((1, 1, 16, 16))], [out()], [weight(1, 1)])


#: A name that would be live HTML, a live link and image, and terminal escapes (clear the
#: screen, set the window title) if echoed raw; its backtick would close a code span.
EVIL = ("<script>alert(1)</script><img src=x onerror=alert(2)>[link](http://evil.example)"
        "![i](http://evil.example/i.png)\x1b[2J\x1b]0;pwned\x07`")


def evil_names() -> bytes:
    return model([deconv(name=EVIL)], [inp(name="x")], [out()], [weight()])


def in_if() -> bytes:
    then = helper.make_graph([deconv(src="x", dst="a")], "then", [], [out("a")], [weight()])
    other = helper.make_graph([helper.make_node("Identity", ["x"], ["b"])], "else", [],
                              [out("b")])
    cond = numpy_helper.from_array(np.array(True), "cond")
    node = helper.make_node("If", ["cond"], ["y"], name="branch", then_branch=then,
                            else_branch=other)
    return model([node], [inp()], [out()], [cond])


def dequantized() -> bytes:
    rng = np.random.default_rng(0)
    q = numpy_helper.from_array(rng.integers(-50, 50, (3, 3, 3, 3)).astype(np.int8), "wq")
    scale = numpy_helper.from_array(np.array(0.02, np.float32), "ws")
    deq = helper.make_node("DequantizeLinear", ["wq", "ws"], ["w"], name="deq")
    return model([deq, deconv(kernel_shape=False)], [inp()], [out()], [q, scale])


def identity_weights() -> bytes:
    ident = helper.make_node("Identity", ["w0"], ["w"], name="idw")
    return model([ident, deconv(kernel_shape=False)], [inp()], [out()], [weight(name="w0")])


def deconv3d() -> bytes:
    axes = numpy_helper.from_array(np.array([2], np.int64), "axes")
    w = numpy_helper.from_array(np.ones((3, 3, 1, 3, 3), np.float32), "w")
    return model([helper.make_node("Unsqueeze", ["x", "axes"], ["x5"]),
                  helper.make_node("ConvTranspose", ["x5", "w"], ["y5"], name="up3d",
                                   kernel_shape=[1, 3, 3], strides=[1, 2, 2],
                                   pads=[0, 1, 1, 0, 0, 0]),
                  helper.make_node("Squeeze", ["y5", "axes"], ["y"])],
                 [inp()], [out()], [axes, w])


def half_resize() -> bytes:
    scales = numpy_helper.from_array(np.array([1, 1, 0.5, 0.5], np.float32), "s")
    node = helper.make_node("Resize", ["x", "", "s"], ["y"], name="down", mode="nearest")
    return model([node], [inp((1, 3, 32, 32))], [out()], [scales])


#: The sandbox child's services (core.audit.sandbox.Sandbox): what "before anything runs"
#: and "before shape inference" mean, checked by their never being called.
SANDBOX_STEPS = {"infer": "shape inference", "open": "the onnxruntime session",
                 "run": "a run of the model"}


def forbid_sandbox(monkeypatch, *steps: str) -> list:
    """The sandbox's ``steps`` (keys of :data:`SANDBOX_STEPS`) forbidden: a call fails the
    test (:func:`tests.conftest.forbid`). Returns the calls, to assert none was made."""
    calls: list = []
    for step in steps:
        forbid(monkeypatch, sandbox.Sandbox, step, SANDBOX_STEPS[step], calls)
    return calls


def refused(data: bytes, match: str, **kwargs) -> str:
    with pytest.raises(AuditError, match=match) as err:
        audit_onnx(data, **kwargs)
    text = str(err.value)
    assert "\n" not in text and "Traceback" not in text
    return text


# --------------------------------------------------------------------------- crashes


@pytest.mark.parametrize("data, what", [
    (scaled(np.nan), "NaN"), (scaled(np.inf), "infinite"),
    (scaled(60000.0, TensorProto.FLOAT16, np.float16), "float16 overflows")])
def test_non_finite_outputs_are_refused_never_scored(data, what):
    text = refused(data, "not finite")
    assert what in text and "--no-probes" in text
    report = audit_onnx(data, probes=False)  # the analysis alone still works
    assert report.probes is None and len(report.layers) == 1


def test_initializer_that_does_not_fit_its_shape_is_refused():
    refused(bad_initializer(), r"'w'.*does not fit its declared shape.*8 bytes.*324")


def test_model_with_no_output_is_refused():
    refused(no_output(), "declares no output")


def test_stride_and_resize_factors_are_bounded_before_running(monkeypatch):
    """Nothing runs: the sandbox's session and runs are forbidden (shape inference, which
    sizes the output, is allowed). Times: ``benchmarks/robustness.py``'s audit rows."""
    ran = forbid_sandbox(monkeypatch, "open", "run")
    refused(stride_deconv(2000, 16), "over the")
    refused(big_resize(4096), "over the")
    # issue 27: constants are folded through Add (weights written as Mul(w, 1) and the
    # like) and handed to shape inference, so this factor is known before anything runs:
    # refused by the output's size, from the shapes
    refused(big_resize(4096, computed=True), "65536, 65536.*over the", probes=False)
    assert not ran


# --------------------------------------------------------------------------- resources


def test_probe_cost_per_element_is_measured_within_the_constant():
    """The constant the budget uses covers the probes' measured peak per element
    (tracemalloc, an identity and a x2 upsampler at 64 channels), fixed photograph cost
    taken out by a first small run."""
    def peak(run, shape, period) -> int:
        tracemalloc.start()
        run_probes(run, shape, period)
        value = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return value

    run_probes(lambda x: x, (1, 3, 16, 16), 1)  # warm: the photograph's file read once
    def up(x):
        return np.repeat(np.repeat(x, 2, 2), 2, 3)

    for run, shape, factor in ((lambda x: x, (1, 64, 64, 64), 1), (up, (1, 32, 64, 64), 2)):
        elements = int(np.prod(shape)) * (1 + factor * factor)
        per = peak(run, shape, factor) / elements
        assert per < limits.PROBE_BYTES_PER_ELEMENT, per
    assert limits.MAX_PROBE_ELEMENTS * limits.PROBE_BYTES_PER_ELEMENT <= 2 ** 30


def test_free_input_is_capped_to_the_probe_budget(monkeypatch):
    """The model runs only at the capped size, within the probes' budget: every run's
    input has the reported shape, and its input plus output elements fit
    :data:`~core.audit.limits.MAX_PROBE_ELEMENTS` (a run over it is stopped before it
    starts). Time and memory: ``benchmarks/robustness.py``'s row "70-byte model, free
    256-channel input (capped to fit the probe budget)"."""
    runs: list[tuple[tuple, int]] = []
    real_run = sandbox.Sandbox.run

    def run(self, outputs, feeds):
        shapes = [tuple(np.shape(v)) for v in feeds.values()]
        elements = sum(int(np.size(v)) for v in feeds.values())
        runs.append((shapes, elements))
        if 2 * elements > limits.MAX_PROBE_ELEMENTS:
            raise Forbidden(f"the model ran on {shapes}, over the probe budget")
        arrays = real_run(self, outputs, feeds)
        runs[-1] = (shapes, elements + sum(int(np.size(a)) for a in arrays))
        return arrays

    monkeypatch.setattr(sandbox.Sandbox, "run", run)
    report = audit_onnx(free_channels(256))
    assert runs and all(shapes == [tuple(report.input_shape)] for shapes, _ in runs), runs
    assert max(elements for _, elements in runs) <= limits.MAX_PROBE_ELEMENTS, runs
    n, c, h, w = report.input_shape
    assert c == 256 and h == w < limits.DEFAULT_SIDE
    assert 2 * n * c * h * w <= limits.MAX_PROBE_ELEMENTS
    assert any("probes' memory" in note for note in report.notes)
    # A fixed shape over the budget is refused before the probes, and runs without them.
    refused(free_channels(256), "over the .* --no-probes", input_shape=(1, 256, 256, 256))


def test_huge_stride_on_a_tiny_input_is_refused_from_the_shapes(monkeypatch):
    """From the layer's attributes, before shape inference: the sandbox is never asked
    (time: ``benchmarks/robustness.py``'s row "ConvTranspose stride 1500 on 1x1")."""
    asked = forbid_sandbox(monkeypatch, "infer", "open", "run")
    refused(stride_deconv(1500), "stride 1500x1500, over the 64", probes=False)
    assert not asked


def test_node_count_is_capped_from_the_graph(monkeypatch):
    """From the stored count alone (:data:`~core.audit.limits.MAX_NODES`: 20,000 nodes
    once took 47 s of shape inference): never shape inference or the sandbox, nor the
    inlined count, nor a per-node operator look-up. Time: ``benchmarks/robustness.py``'s
    row "20,000 nodes in 1.8 MB (refused from the graph)"."""
    import onnx

    data = many_nodes()
    assert len(data) < 2_000_000
    asked = forbid_sandbox(monkeypatch, "infer", "open", "run")
    forbid(monkeypatch, read, "inlined_node_count", "the inlined node count", asked)
    forbid(monkeypatch, onnx.defs, "has", "an operator look-up per node", asked)
    refused(data, f"over {limits.MAX_NODES:,} nodes", probes=False)
    assert not asked


# --------------------------------------------------------------------------- injection


def live(markdown: str) -> list[str]:
    """Live markup outside code spans: unescaped '<', '](' (link/image) or a raw ESC."""
    rest = outside_code(markdown)
    found = re.findall(r"(?<!\\)<|(?<!\\)\]\(|\x1b|\x07", rest)
    return found


def test_names_reach_the_markdown_and_html_reports_escaped():
    report = audit_onnx(evil_names())
    md = to_markdown(report, images=False)
    assert not live(md), md
    page = to_html(report)
    assert "<script>alert" not in page and "<img src=x" not in page
    assert "&lt;script&gt;" in page
    for line in summary_lines(report):
        assert "\x1b" not in line and "\x07" not in line


# --------------------------------------------------------------------------- verdicts


@pytest.mark.parametrize("builder, named", [(in_if, "'up' (ConvTranspose)"),
                                            (deconv3d, "'up3d'")])
def test_layers_the_audit_cannot_judge_are_said(builder, named):
    report = audit_onnx(builder(), probes=False)
    assert report.output_shape[2] > report.input_shape[2]
    warnings = " ".join(report.warnings)
    assert named in warnings and "not judged" in warnings
    assert "grows" in warnings  # "0 resampling layers" is not a verdict on this network
    assert "warnings" in report.to_json() and "Warning" in to_markdown(report)


@pytest.mark.parametrize("builder", [dequantized, identity_weights])
def test_weights_behind_dequantize_or_identity_are_judged(builder):
    report = audit_onnx(builder(), probes=False)
    (layer,) = report.layers
    assert layer.kernel == [3, 3] and layer.offending and layer.gains is not None
    assert not report.warnings


def test_nearest_resize_by_half_is_a_downsampling():
    report = audit_onnx(half_resize(), probes=False)
    (layer,) = report.layers
    assert layer.direction == "down" and not layer.offending
    assert report.chain.upsampling_layers == 0
    assert "Upsample" not in (layer.fix_code or "")


# --------------------------------------------------------------------------- command line


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "core.audit", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


def test_command_line_refuses_each_class_in_one_line_and_strips_escapes(tmp_path):
    files = {"nan.onnx": scaled(np.nan), "fp16.onnx": scaled(60000.0, TensorProto.FLOAT16,
                                                             np.float16),
             "bad.onnx": bad_initializer(), "none.onnx": no_output(),
             "stride.onnx": stride_deconv(1500), "nodes.onnx": many_nodes(),
             "resize.onnx": big_resize(4096, computed=True), "evil.onnx": evil_names()}
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    results = {name: cli(name, "--no-probes" if name in ("stride.onnx", "resize.onnx")
                         else "--fail-on", *(() if name in ("stride.onnx", "resize.onnx")
                                             else ("artifact",)), cwd=tmp_path)
               for name in files}
    for name, done in results.items():
        if name == "evil.onnx":
            continue
        assert done.returncode == 2, (name, done.stderr)
        assert done.stderr.startswith("core.audit: refused:"), (name, done.stderr)
        assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    evil = cli("evil.onnx", "--json", "r.json", "--fail-on", "artifact", cwd=tmp_path)
    assert evil.returncode == 1, evil.stderr
    for text in (evil.stdout, evil.stderr):
        assert "\x1b" not in text and "\x07" not in text and "<script>" in text
    warned = cli("if.onnx", "--no-probes", "--json", "w.json", cwd=_write(tmp_path, in_if()))
    assert warned.returncode == 0 and "warning:" in warned.stdout
    assert "2 warning(s)" in warned.stderr


def _write(folder: Path, data: bytes) -> Path:
    (folder / "if.onnx").write_bytes(data)
    return folder


# --------------------------------------------------------------------------- page


def _upload(at, name: str, data: bytes) -> None:
    uploader = next(u for u in at.file_uploader if u.proto.max_upload_size_mb == 512)
    uploader.upload(name, data, "application/octet-stream")
    at.run()


def _page_markdown(at) -> list[str]:
    kinds = ("markdown", "caption", "warning", "info", "error", "success")
    return [e.value for kind in kinds for e in getattr(at, kind)]


def test_page_shows_evil_names_as_text_and_warns_of_unjudged_layers():
    at = open_page(AUDIT, {"example": "upload"}, timeout=240)
    _upload(at, "evil.onnx", evil_names())
    assert_clean(at)
    shown = _page_markdown(at)
    assert any("script" in text for text in shown)
    for text in shown:
        assert not live(text), text
    at = open_page(AUDIT, {"example": "upload"}, timeout=240)
    _upload(at, "branch.onnx", in_if())
    assert_clean(at)
    warnings = " ".join(w.value for w in at.warning)
    assert "not judged" in warnings and "grows" in warnings


def test_page_refuses_a_nan_model_in_one_line():
    at = open_page(AUDIT, {"example": "upload"}, timeout=240)
    _upload(at, "nan.onnx", scaled(np.nan))
    assert_clean(at)
    (error,) = at.error
    assert "cannot be audited" in error.value and "not finite" in error.value
    assert "\n" not in error.value


def test_the_stated_limits_are_the_enforced_constants():
    """The README's table of the audit's limits states the numbers the code enforces."""
    from tests.conftest import ROOT

    readme = (ROOT / "README.md").read_text()
    table = readme[readme.index("**The audit's limits**"):readme.index("Earlier rounds")]
    stated = {
        "MAX_BYTES": f"{limits.MAX_BYTES:,} bytes",
        "MAX_NODES": f"{limits.MAX_NODES:,} nodes",
        "MAX_RESAMPLING_LAYERS": f"| {limits.MAX_RESAMPLING_LAYERS} nodes |",
        "MAX_TENSOR_ELEMENTS": f"{limits.MAX_TENSOR_ELEMENTS:,} elements",
        "MAX_STRIDE": f"| {limits.MAX_STRIDE} |",
        "MAX_KERNEL_EXTENT": f"{limits.MAX_KERNEL_EXTENT} pixels",
        "MAX_GAIN_ELEMENTS": f"{limits.MAX_GAIN_ELEMENTS:,} values",
        "PROBE_BYTES_PER_ELEMENT": f"{limits.PROBE_BYTES_PER_ELEMENT} bytes",
        "MAX_PROBE_BYTES": f"{limits.MAX_PROBE_BYTES:,} bytes",
        "MAX_PROBE_ELEMENTS": f"{limits.MAX_PROBE_ELEMENTS:,} elements",
        "DEFAULT_SIDE": f"{limits.DEFAULT_SIDE} px",
    }
    missing = {name: text for name, text in stated.items() if text not in table}
    assert not missing, missing
    assert limits.MAX_PROBE_ELEMENTS == limits.MAX_PROBE_BYTES // limits.PROBE_BYTES_PER_ELEMENT
