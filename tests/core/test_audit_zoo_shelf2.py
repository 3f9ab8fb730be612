"""The audit on the zoo's second shelf (issue 27): ten more published networks
(:data:`tests.core.audit_zoo.shelf2.SHELF2`) against their hand-written truth, on the live
module (``audit_module``) and on the files of both exporters (TorchScript and dynamo), then
one test per issue class 1-10 on the network that shows it.

Probes are off (the truth is about structure), so a network's verdict is the structural one.
A route the exporter itself cannot take is marked on the network (``torchscript=False``) and
said why in the registry; a route the audit fails on fails here with the audit's message.
"""

from __future__ import annotations

import io
from collections import Counter

import pytest
import torch

from core.audit import audit_module, audit_onnx
from tests.core.audit_zoo import built, one_thread, quiet_export  # noqa: F401 (one_thread: autouse)
from tests.core.audit_zoo.ground_truth import Truth
from tests.core.audit_zoo.shelf2 import SHELF2

ROUTES = ("torch", "torchscript", "dynamo")
#: Ops whose kernel and padding the truth states; interpolations and reshapes have none.
KERNEL_OPS = {"Conv", "ConvTranspose", "MaxPool", "AveragePool", "MaxUnpool", "ZeroInsertion"}
#: Networks whose identical calls on one tensor an exporter may compute once (SPADE resizes
#: the same map to the same size in every norm of a block): compared as sets of kinds.
MERGED_CALLS = {"spade"}


def build(name: str) -> torch.nn.Module:
    return built(SHELF2[name])



class _Audits(dict):
    """``(network, route) -> AuditReport``, or the exception the audit raised on it; each
    audited when first asked for (so ``-k`` runs only what it selects), then kept."""

    def __init__(self, folder):
        super().__init__()
        self.folder = folder
        self.models: dict[str, torch.nn.Module] = {}

    def __missing__(self, key):
        name, route = key
        net = SHELF2[name]
        if name not in self.models:
            self.models[name] = build(name)
        model = self.models[name]
        try:
            if route == "torch":
                value = audit_module(model, net.input_shape, probes=False)
            elif route == "torchscript":
                buf = io.BytesIO()
                quiet_export(model, net.input_shape, buf, dynamo=False)
                value = audit_onnx(buf.getvalue(), probes=False)
            else:
                folder = self.folder / name
                folder.mkdir()
                quiet_export(model, net.input_shape, str(folder / "model.onnx"), dynamo=True)
                value = audit_onnx(folder / "model.onnx", probes=False)
        except Exception as exc:  # noqa: BLE001 - reported by the test that asks
            value = exc
        self[key] = value
        return value


@pytest.fixture(scope="module")
def audits(tmp_path_factory) -> _Audits:
    return _Audits(tmp_path_factory.mktemp("shelf2"))


def report_of(audits, name: str, route: str):
    value = audits[name, route]
    if isinstance(value, BaseException):
        pytest.fail(f"{name} on the {route} route: the audit raised "
                    f"{type(value).__name__}: {str(value)[:300]}")
    return value


def factor(layer) -> int | None:
    """The integer factor a layer resamples by (its stride, or an interpolation's scale
    when within 5 % of an integer), or None."""
    if layer.stride:
        return int(layer.stride[0])
    if layer.scale:
        scale = layer.scale[0]
        value = scale if scale >= 1 else 1 / scale
        near = round(value)
        return near if near and abs(value - near) <= 0.05 * value else None
    return None


def is_resampling(layer) -> bool:
    f = factor(layer)
    return f is not None and f >= 2


def row(layer) -> tuple:
    """What the truth states about one layer, read off the audit."""
    kernel_op = layer.op in KERNEL_OPS
    kernel = layer.kernel[0] if kernel_op and layer.kernel else None
    padding = layer.padding[0] if kernel_op and layer.padding is not None else None
    even = None if layer.uneven is None else not layer.uneven
    return (layer.op, kernel, factor(layer), padding, even, bool(layer.blur))


def truth_row(t: Truth) -> tuple:
    return (t.op, t.kernel, t.stride, t.padding, t.even, bool(t.blur))


def resampling(report) -> list:
    return [la for la in report.layers if is_resampling(la)]


CASES = [(name, route) for name, net in SHELF2.items() for route in ROUTES
         if route == "torch" or (route == "torchscript" and net.torchscript)
         or (route == "dynamo" and net.dynamo)]


def test_the_second_shelf_has_ten_published_networks_covering_classes_1_to_10():
    assert len(SHELF2) >= 10
    assert all("/" in net.source and net.layers and net.verdict for net in SHELF2.values())
    notes = " ".join(n for net in SHELF2.values() for n in net.notes)
    assert all(f"class {k}:" in notes for k in range(1, 11))


@pytest.mark.parametrize(("name", "route"), CASES)
def test_shelf2_layers_match_the_ground_truth(audits, name, route):
    net, report = SHELF2[name], report_of(audits, name, route)
    found = [row(la) for la in resampling(report)]
    expected = [truth_row(t) for t in net.layers]
    if name in MERGED_CALLS:
        assert set(found) == set(expected)
    else:
        assert Counter(found) == Counter(expected)
    for t in net.layers:
        matching = [la for la in resampling(report) if row(la) == truth_row(t)]
        if t.offending is not None:
            assert {la.offending for la in matching} == {t.offending}, (t, matching)
        if t.severity is not None:
            assert {la.severity for la in matching} == {t.severity}, (t, matching)


@pytest.mark.parametrize(("name", "route"), CASES)
def test_shelf2_totals_and_period_match_the_ground_truth(audits, name, route):
    net, chain = SHELF2[name], report_of(audits, name, route).chain
    assert (chain.total_upsampling, chain.total_downsampling, chain.period) == (
        net.total_up, net.total_down, net.period)


@pytest.mark.parametrize(("name", "route"), CASES)
def test_shelf2_verdict_matches_the_ground_truth(audits, name, route):
    report = report_of(audits, name, route)
    assert getattr(report, "verdict", None) == SHELF2[name].verdict, (
        getattr(report, "unjudged", None), report.warnings)


@pytest.mark.parametrize("name", list(SHELF2))
def test_shelf2_verdict_with_probes_on_the_live_module(name):
    """With the probes on, a structurally clean network must not read as an unexplained grid
    (nor an artifact as clean): the probes agree with the structure on every network here."""
    net = SHELF2[name]
    report = audit_module(build(name), net.input_shape, measure=False)
    assert getattr(report, "verdict", None) == net.verdict, (
        getattr(report, "unjudged", None), getattr(report.probes, "grid", None))


@pytest.mark.parametrize(("name", "route"), [c for c in CASES if c[1] != "torchscript"
                                             or SHELF2[c[0]].torchscript_paths])
def test_shelf2_module_paths_name_the_module_to_fix(audits, name, route):
    paths = Counter((t.op, t.path) for t in SHELF2[name].layers if t.path)
    report = report_of(audits, name, route)
    assert Counter((la.op, la.module_path) for la in report.layers
                   if (la.op, la.module_path) in paths) == paths


@pytest.mark.parametrize(("name", "route"), [c for c in CASES if SHELF2[c[0]].output])
def test_shelf2_multi_output_networks_are_audited_on_their_largest_output(audits, name,
                                                                          route):
    report = report_of(audits, name, route)
    with torch.no_grad():
        outputs = build(name)(torch.zeros(SHELF2[name].input_shape))
    expected = outputs[int(SHELF2[name].output)]
    assert report.output_shape == list(expected.shape)
    if route == "torch":
        assert getattr(report, "output_name", None) == SHELF2[name].output


# ------------------------------------------------------------------ classes 1-10, one by one


def routes_of(name: str) -> list[str]:
    return [route for n, route in CASES if n == name]


def test_shelf2_class1_fcn8s_padding_and_crops_do_not_set_the_totals(audits):
    for route in routes_of("fcn8s"):
        chain = report_of(audits, "fcn8s", route).chain
        assert (chain.total_downsampling, chain.total_upsampling) == (32, 32), route


def test_shelf2_class2_aspp_image_pooling_is_context_not_upsampling(audits):
    for route in routes_of("deeplabv3plus"):
        report = report_of(audits, "deeplabv3plus", route)
        broadcasts = [la for la in report.layers
                      if la.direction == "up" and la.in_size == [1, 1]]
        assert broadcasts == [], route
        assert (report.chain.total_upsampling, report.chain.period) == (16, 16), route


def test_shelf2_class3_deeplab_torchscript_pads_keep_their_sizes(audits):
    report = report_of(audits, "deeplabv3plus", "torchscript")  # was refused
    assert all(la.in_size and la.out_size for la in report.layers)
    downs = [la for la in report.layers if la.direction == "down"]
    assert len(downs) == 7 and [la.out_size[0] for la in downs if la.op == "Conv"
                                and la.kernel == [1, 1]] == [16, 8, 4]
    chain = report.chain
    assert (chain.total_downsampling, chain.total_upsampling, chain.period) == (16, 16, 16)


def test_shelf2_class4_segnet_unpooling_is_not_called_clean(audits):
    for route in routes_of("segnet"):
        report = report_of(audits, "segnet", route)
        unpools = [la for la in report.layers if la.op == "MaxUnpool"]
        assert len(unpools) == 5, route
        assert {la.severity for la in unpools} == {"artifact"}, route
        assert getattr(report, "verdict", None) == "artifact", route


@pytest.mark.parametrize(("name", "op", "direction", "count"), [
    ("real_esrgan_x2", "SpaceToDepth", "down", 1),
    ("progan", "Resize", "up", 3),
    ("rosinality_stylegan2", "ZeroInsertion", "up", 3)])
def test_shelf2_class5_resampling_written_as_reshapes_is_found(audits, name, op, direction,
                                                               count):
    for route in routes_of(name):
        layers = [la for la in report_of(audits, name, route).layers
                  if la.op == op and la.direction == direction and factor(la) == 2]
        assert len(layers) == count, route


def test_shelf2_class6_biggan_has_no_factor_below_one(audits):
    for route in routes_of("biggan"):
        chain = report_of(audits, "biggan", route).chain
        assert chain.total_downsampling == 1 and chain.total_upsampling == 8, route


def test_shelf2_class7_resize_after_transposed_convolution_keeps_the_period(audits):
    for route in routes_of("residual_unet2d"):
        report = report_of(audits, "residual_unet2d", route)
        convt = [la for la in report.layers if la.op == "ConvTranspose"]
        assert len(convt) == 3 and all(la.offending for la in convt), route
        assert report.chain.period == 8, route


def test_shelf2_class8_a_same_size_resize_is_not_resampling_on_any_route(audits):
    for route in routes_of("spade"):
        report = report_of(audits, "spade", route)
        same = [la for la in report.layers if la.in_size and la.in_size == la.out_size]
        assert same == [], route
        ups = [la for la in report.layers if la.direction == "up"]
        assert len(ups) == 5 and all(factor(la) == 2 for la in ups), route


def test_shelf2_class9_a_tuple_output_is_audited_on_the_largest(audits):
    report = report_of(audits, "lapsrn", "torch")  # raised AttributeError
    assert report.output_shape == [1, 1, 64, 64]
    assert getattr(report, "output_name", None) == "1"
    assert report.chain.period == 4


def test_shelf2_class10_modulated_convolution_with_blur_is_credited(audits):
    for route in routes_of("rosinality_stylegan2"):
        convt = [la for la in report_of(audits, "rosinality_stylegan2", route).layers
                 if la.op == "ConvTranspose"]
        assert len(convt) == 3, route
        assert all(la.blur and not la.offending and la.severity == "ok" for la in convt), route
