"""Tests of the upsampler registry in core/layers.py."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from core.upsamplers.fused import phase_plan
from core.upsamplers.layers import hold_kernel, same_padding, transposed_padding
from core.upsamplers.registry import (
    UPSAMPLERS,
    count_macs,
    count_parameters,
    make_upsampler,
    upsampler_names,
)

REQUIRED = {"deconv", "resize_nearest", "resize_bilinear", "subpixel", "subpixel_icnr",
            "fused_resize", "deconv_zoh", "bilinear_additive"}


def test_registry_names_descriptions_papers():
    assert REQUIRED <= set(upsampler_names())
    assert upsampler_names() == list(UPSAMPLERS)
    for name, spec in UPSAMPLERS.items():
        assert spec.name == name
        assert spec.description and spec.paper
        assert "\n" not in spec.description


@pytest.mark.parametrize("name", list(UPSAMPLERS))
@pytest.mark.parametrize("scale", [2, 3, 4])
@pytest.mark.parametrize("kernel_size", [1, 2, 3, 4, 5])
def test_every_upsampler_maps_size_exactly(name, scale, kernel_size):
    torch.manual_seed(0)
    layer = make_upsampler(name, 3, 5, scale=scale, kernel_size=kernel_size)
    y = layer(torch.randn(2, 3, 5, 7))
    assert y.shape == (2, 5, 5 * scale, 7 * scale)
    assert torch.isfinite(y).all()
    # Cost figures exist for every layer and are positive.
    assert count_macs(layer, 5, 7) > 0
    assert count_parameters(layer) > 0


@pytest.mark.parametrize("kernel_size,scale", [(3, 2), (4, 2), (1, 2), (2, 3), (5, 4), (6, 2)])
def test_transposed_padding_gives_scale_times_size(kernel_size, scale):
    p, op = transposed_padding(kernel_size, scale)
    for n in (1, 4, 9):
        assert (n - 1) * scale - 2 * p + kernel_size + op == scale * n
    assert 0 <= op < scale


def test_deconv_is_the_posts_layer():
    layer = make_upsampler("deconv", 4, 2, kernel_size=3)
    conv = layer.deconv
    assert isinstance(conv, torch.nn.ConvTranspose2d)
    assert (conv.kernel_size, conv.stride, conv.padding, conv.output_padding) == (
        (3, 3), (2, 2), (1, 1), (1, 1))
    assert make_upsampler("deconv", 4, 2, kernel_size=4).deconv.padding == (1, 1)


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")
def test_resize_nearest_matches_functional_reference_even_kernel():
    torch.manual_seed(1)
    layer = make_upsampler("resize_nearest", 3, 4, scale=2, kernel_size=4)
    x = torch.randn(1, 3, 6, 5)
    up = F.interpolate(x, scale_factor=2, mode="nearest")
    ref = F.conv2d(up, layer.conv.weight, layer.conv.bias, padding="same")
    torch.testing.assert_close(layer(x), ref)
    assert same_padding(4) == (1, 2)


def test_options_and_errors():
    assert make_upsampler("resize_nearest", 1, 1, bias=False).conv.bias is None
    with pytest.raises(ValueError, match="unknown upsampler"):
        make_upsampler("deconvolution", 1, 1)
    with pytest.raises(ValueError, match="scale must be an integer >= 2"):
        make_upsampler("deconv", 1, 1, scale=1)
    with pytest.raises(ValueError, match="kernel_size"):
        make_upsampler("deconv", 1, 1, kernel_size=0)
    with pytest.raises(ValueError, match="does not accept options"):
        make_upsampler("deconv", 1, 1, colour="red")
    with pytest.raises(ValueError, match="method"):
        make_upsampler("fused_resize", 1, 1, method="magic")
    with pytest.raises(ValueError, match="padding_mode"):
        make_upsampler("resize_nearest", 1, 1, padding_mode="mirror")




# ---- fused_resize == resize_nearest --------------------------------------------------


def _check_fused(method, n, c_in, c_out, h, w, scale, k, seed):
    torch.manual_seed(seed)
    ref = make_upsampler("resize_nearest", c_in, c_out, scale=scale, kernel_size=k).double()
    fused = make_upsampler("fused_resize", c_in, c_out, scale=scale, kernel_size=k,
                           method=method).double()
    # Same parameter names and shapes: the state dicts load into each other both ways.
    assert {k_: v.shape for k_, v in ref.state_dict().items()} == \
        {k_: v.shape for k_, v in fused.state_dict().items()}
    fused.load_state_dict(ref.state_dict())
    ref.load_state_dict(fused.state_dict())

    x = torch.randn(n, c_in, h, w, dtype=torch.float64, requires_grad=True)
    g = torch.randn(n, c_out, scale * h, scale * w, dtype=torch.float64)
    y_ref = ref(x)
    (y_ref * g).sum().backward()
    gx_ref = x.grad.clone()
    x.grad = None
    y = fused(x)
    (y * g).sum().backward()
    torch.testing.assert_close(y, y_ref, rtol=0, atol=1e-11)
    torch.testing.assert_close(x.grad, gx_ref, rtol=0, atol=1e-11)
    torch.testing.assert_close(fused.conv.weight.grad, ref.conv.weight.grad, rtol=0, atol=1e-10)
    torch.testing.assert_close(fused.conv.bias.grad, ref.conv.bias.grad, rtol=0, atol=1e-10)


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 2), c_in=st.integers(1, 3), c_out=st.integers(1, 3),
       h=st.integers(1, 6), w=st.integers(1, 6), scale=st.integers(2, 4),
       k=st.integers(1, 5), seed=st.integers(0, 10_000))
def test_fused_equals_resize_nearest_forward_and_backward(n, c_in, c_out, h, w, scale, k, seed):
    _check_fused("phase", n, c_in, c_out, h, w, scale, k, seed)


@pytest.mark.parametrize("method", ["folded", "zoh"])
@pytest.mark.parametrize("scale", [2, 3, 4])
@pytest.mark.parametrize("k", [1, 2, 3, 4, 5])
def test_other_fused_methods_are_exact_too(method, scale, k):
    _check_fused(method, 2, 2, 3, 4, 5, scale, k, seed=scale * 10 + k)




def test_phase_plan_k3_s2_is_two_by_two():
    plan = phase_plan(3, 2)
    assert plan.taps.shape == (2, 2, 3)  # 2 phases, 2 input taps each, 3 kernel taps
    # every kernel tap is used exactly once per phase
    assert torch.equal(plan.taps.sum(dim=1), torch.ones(2, 3, dtype=torch.float64))
    fused = make_upsampler("fused_resize", 4, 2, kernel_size=3)
    assert fused.phase_kernels().shape == (2 * 4, 4, 2, 2)
    # 16 multiply-adds per input pixel and channel pair, against 36 for resize_nearest
    assert count_macs(fused, 10, 10) / (11 * 11 * 8) == 16
    assert count_macs(make_upsampler("resize_nearest", 4, 2), 10, 10) / (100 * 8) == 36


# ---- the other fixes ------------------------------------------------------------------


@pytest.mark.parametrize("scale", [2, 3])
@pytest.mark.parametrize("k", [1, 3, 4])
def test_icnr_every_output_block_equal_at_init(scale, k):
    torch.manual_seed(k)
    layer = make_upsampler("subpixel_icnr", 3, 4, scale=scale, kernel_size=k)
    with torch.no_grad():
        y = layer(torch.randn(2, 3, 6, 5))  # (2, 4, 6s, 5s)
    blocks = y.view(2, 4, 6, scale, 5, scale)
    torch.testing.assert_close(blocks, blocks[:, :, :, :1, :, :1].expand_as(blocks),
                               rtol=0, atol=0)
    # ... and it is nearest upsampling of one k x k convolution.
    assert blocks[:, :, :, 0, :, 0].std() > 0


def test_plain_subpixel_is_not_block_constant_at_init():
    torch.manual_seed(0)
    layer = make_upsampler("subpixel", 3, 4, scale=2)
    with torch.no_grad():
        blocks = layer(torch.randn(1, 3, 6, 6)).view(1, 4, 6, 2, 6, 2)
    assert (blocks - blocks[:, :, :, :1, :, :1]).abs().max() > 1e-3


@pytest.mark.parametrize("name", ["resize_nearest", "fused_resize", "resize_bilinear",
                                  "subpixel_icnr", "deconv_zoh", "deconv_foh",
                                  "bilinear_additive"])
def test_fixes_have_equal_phase_gains_on_a_constant(name):
    """A constant input gives a constant interior: no phase has its own gain."""
    torch.manual_seed(0)
    layer = make_upsampler(name, 2, 3, scale=2, kernel_size=3)
    with torch.no_grad():
        y = layer(torch.ones(1, 2, 12, 12))[..., 6:-6, 6:-6]
    assert (y - y[..., :1, :1]).abs().max() < 1e-5


def test_deconv_3_2_has_unequal_phase_gains_on_a_constant():
    torch.manual_seed(0)
    layer = make_upsampler("deconv", 2, 3, scale=2, kernel_size=3)
    with torch.no_grad():
        y = layer(torch.ones(1, 2, 12, 12))[..., 6:-6, 6:-6]
    assert (y - y[..., :1, :1]).abs().max() > 1e-3


def test_hold_kernels():
    torch.testing.assert_close(hold_kernel(2, 0), torch.tensor([0.5, 0.5], dtype=torch.float64))
    torch.testing.assert_close(hold_kernel(2, 1),
                               torch.tensor([0.25, 0.5, 0.25], dtype=torch.float64))
    assert hold_kernel(3, 2).shape == (7,)
    with pytest.raises(ValueError, match="order"):
        make_upsampler("deconv_zoh", 1, 1, order=-1)


def test_bilinear_additive_sums_groups():
    torch.manual_seed(0)
    layer = make_upsampler("bilinear_additive", 2, 3, scale=2, kernel_size=3)
    assert layer.conv.out_channels == 3 * 4
    x = torch.randn(1, 2, 5, 5)
    inner = F.interpolate(layer.conv(F.pad(x, (1, 1, 1, 1))), scale_factor=2, mode="bilinear")
    torch.testing.assert_close(layer(x), inner.view(1, 3, 4, 10, 10).sum(2))
