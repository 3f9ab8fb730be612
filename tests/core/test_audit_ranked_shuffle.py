"""Pixel shuffles written as reshapes in 1-D and 3-D networks (issue 31): the registry's
``subpixel`` with ``dims=1`` or ``3`` (a convolution to ``C * r^d`` channels, then
view/permute/view to ``C`` channels at ``r`` times the size) is an upsampling layer by
``r`` on the live module and on both exporters' files, judged as the 2-D audit judges a
sub-pixel layer: phase gains from the convolution feeding it, clean with ICNR at
initialisation, a checkerboard with random phases."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from core.audit import audit_module, audit_onnx
from core.maths.metrics import polyphase_gains
from core.upsamplers.registry import make_upsampler
from tests.core.audit_zoo import one_thread, quiet_export  # noqa: F401 (one_thread: autouse)

CASES = {1: ((1, 2, 64), 4), 3: ((1, 2, 6, 6, 6), 2)}  # dims: (input shape, factor)
ROUTES = ("torch", "torchscript", "dynamo")


def build(name: str, dims: int) -> torch.nn.Module:
    torch.manual_seed(0)
    return make_upsampler(name, 2, 3, scale=CASES[dims][1], kernel_size=3, dims=dims).eval()


def audit(model, shape, route: str, tmp_path):
    if route == "torch":
        return audit_module(model, shape, probes=False)
    path = tmp_path / f"{route}.onnx"
    quiet_export(model, shape, str(path), dynamo=route == "dynamo")
    return audit_onnx(path, probes=False)



@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize("dims", (1, 3))
def test_a_random_sub_pixel_layer_is_an_upsampler_by_r_with_unequal_phases(route, dims,
                                                                            tmp_path):
    shape, r = CASES[dims]
    model = build("subpixel", dims)
    report = audit(model, shape, route, tmp_path)
    assert [la.op for la in report.layers] == ["DepthToSpace"]
    layer = report.layers[0]
    assert layer.stride == [r] * dims and layer.direction == "up"
    assert layer.in_channels == 3 * r ** dims and layer.out_channels == 3
    assert layer.uneven is False  # a sub-pixel layer overlaps evenly...
    assert layer.severity == "artifact" and layer.offending  # ...but its phases differ
    assert report.verdict == "artifact" and report.warnings == []
    assert report.chain.period == r and report.chain.total_upsampling == r
    if route != "dynamo":
        assert layer.module_path == "shuffle"
    # the phase gains are the tap sums of the convolution feeding the shuffle, channel
    # c * r^d + phase to phase of channel c (PixelShuffleNd's order)
    w = model.conv.weight.detach().double().numpy()
    sums = w.reshape(3, *(r,) * dims, 2, -1).sum(-1)  # (C_out, phases.., C_in)
    expected = np.moveaxis(sums, -1, 0)
    assert np.allclose(layer.gains, expected, atol=1e-6)


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize("dims", (1, 3))
def test_icnr_makes_the_sub_pixel_layer_clean_at_initialisation(route, dims, tmp_path):
    shape, r = CASES[dims]
    report = audit(build("subpixel_icnr", dims), shape, route, tmp_path)
    assert [la.op for la in report.layers] == ["DepthToSpace"]
    assert report.layers[0].phase_imbalance == pytest.approx(0.0, abs=1e-6)
    assert report.verdict == "clean" and report.warnings == []


def test_the_sub_pixel_gains_agree_with_its_equivalent_transposed_convolution():
    """A 1x1 sub-pixel layer is a transposed convolution of kernel r, stride r: the same
    phase gains by the two formulas (the rank-generic maths, not a copy)."""
    from core.audit.analysis import subpixel_gains

    rng = np.random.default_rng(0)
    for dims, r in ((1, 4), (2, 2), (3, 2)):
        w = rng.normal(size=(3 * r ** dims, 2, *(1,) * dims))  # conv: (C*r^d, C_in, 1..)
        # the transposed convolution: (C_in, C_out, r..), tap a of channel c = conv's c*r^d+a
        wt = np.moveaxis(w.reshape(3, *(r,) * dims, 2), -1, 0)
        assert np.allclose(subpixel_gains(w, r, "CRD", dims=dims),
                           polyphase_gains(wt, (r,) * dims, dims=dims))


class ZeroStack(torch.nn.Module):
    """Zero insertion written as stack + reshape: not recognised (the audit says so)."""

    def forward(self, x):
        n, c, length = x.shape
        return torch.stack([x, torch.zeros_like(x)], -1).reshape(n, c, 2 * length)


def test_growth_no_layer_explains_is_still_a_warning_and_not_clean():
    report = audit_module(ZeroStack(), (1, 1, 64), probes=False)
    assert report.layers == [] and report.verdict == "not judged"
    assert any("x2 the input along axis 0" in w for w in report.warnings)


@pytest.mark.parametrize("dims", (1, 3))
def test_the_fix_code_of_a_random_sub_pixel_layer_makes_it_clean(dims):
    """The ICNR code the report gives, run on the live module's convolution, turns the
    artifact into a clean verdict."""
    shape, r = CASES[dims]
    model = build("subpixel", dims)
    layer = audit_module(model, shape, probes=False).layers[0]
    assert layer.fix_code and f"nn.Conv{dims}d" in layer.fix_code
    scope: dict = {}
    exec(compile(layer.fix_code, "fix", "exec"), scope)  # the report's own code
    scope["icnr_"](model.conv, r)
    assert audit_module(model, shape, probes=False).verdict == "clean"


def test_the_probes_score_a_1d_sub_pixel_layer_at_its_period_and_name_its_fix():
    report = audit_module(build("subpixel", 1), (1, 2, 2048))
    assert report.probes.period == 4 and report.probes.checkerboard_score > 0
    measured = report.layers[0].fix_measured
    assert measured["as_given"] == report.probes.checkerboard_score
    assert "pixel shuffle" in measured["fix"] and "ICNR" in measured["fix"]
