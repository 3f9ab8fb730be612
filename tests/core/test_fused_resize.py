"""fused_resize (core.upsamplers.fused.FusedResizeConv): method per device, cached kernel, autocast,
channels_last; exact against resize_nearest on the CPU and, where there is one, on a GPU.

No hypothesis and no conftest fixtures here, so that a GPU machine with only torch and
pytest can run this file (``benchmarks/gpu_check.sh``: ``pytest --noconftest``). The
property test over random shapes is in ``tests/test_layers.py``.
"""

from __future__ import annotations

import pytest
import torch

from core.maths.matrix import fold_resize_kernel
from core.upsamplers.fused import FusedResizeConv
from core.upsamplers.registry import make_upsampler

CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
DEVICES = ["cpu", pytest.param("cuda", marks=CUDA)]


def _pair(c_in=3, c_out=4, scale=2, k=3, method="auto", device="cpu",
          dtype=torch.float64, seed=0):
    """resize_nearest and fused_resize with the same weights."""
    torch.manual_seed(seed)
    ref = make_upsampler("resize_nearest", c_in, c_out, scale=scale, kernel_size=k)
    fused = make_upsampler("fused_resize", c_in, c_out, scale=scale, kernel_size=k,
                           method=method)
    ref, fused = ref.to(device, dtype), fused.to(device, dtype)
    fused.load_state_dict(ref.state_dict())
    return ref, fused


class CountDerive:
    """Counts how often a FusedResizeConv derives its kernel from the weights."""

    def __init__(self, monkeypatch):
        self.calls = 0
        original = FusedResizeConv._derive

        def counting(layer, *args, **kwargs):
            self.calls += 1
            return original(layer, *args, **kwargs)

        monkeypatch.setattr(FusedResizeConv, "_derive", counting)


# ---- which method -------------------------------------------------------------------


def test_auto_method_per_device_and_use():
    auto = FusedResizeConv.auto_method
    assert auto("cpu", torch.float32, training=False, out_channels=3) == "phase"
    assert auto("cpu", torch.float32, training=False, out_channels=8) == "phase"
    assert auto("cpu", torch.float32, training=False, out_channels=16) == "folded"
    assert auto("cpu", torch.bfloat16, training=True, out_channels=3) == "folded"
    for dtype in (torch.float32, torch.bfloat16, torch.float16):
        for training in (False, True):
            for c_out in (3, 64):
                assert auto("cuda", dtype, training, c_out) == "folded"
    with torch.no_grad():
        assert make_upsampler("fused_resize", 2, 32).resolved_method("cpu") == "folded"
    layer = make_upsampler("fused_resize", 2, 2)
    assert layer.method == "auto"
    assert layer.resolved_method("cpu") == "folded"  # grad mode on, weights require grad
    with torch.no_grad():
        assert layer.resolved_method("cpu") == "phase"
    layer.requires_grad_(False)
    assert layer.resolved_method("cpu") == "phase"  # frozen weights: inference
    assert make_upsampler("fused_resize", 2, 2, method="zoh").resolved_method("cuda") == "zoh"


@pytest.mark.parametrize("scale", [2, 3])
@pytest.mark.parametrize("k", [1, 2, 3, 4, 5])
def test_folded_kernel_is_core_matrix_fold(scale, k):
    torch.manual_seed(k)
    layer = make_upsampler("fused_resize", 3, 2, scale=scale, kernel_size=k).double()
    expected = fold_resize_kernel(layer.conv.weight, scale)
    torch.testing.assert_close(layer.folded_kernel(), expected, rtol=0, atol=0)


# ---- exact, on every device ---------------------------------------------------------


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("method", ["auto", "phase", "folded"])
@pytest.mark.parametrize("scale", [2, 3])
@pytest.mark.parametrize("k", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("channels_last", [False, True])
def test_exact_forward_and_gradients(device, method, scale, k, channels_last):
    ref, fused = _pair(scale=scale, k=k, method=method, device=device, seed=10 * k + scale)
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    x = torch.randn(2, 3, 5, 6, dtype=torch.float64, device=device)
    x = x.contiguous(memory_format=fmt)
    g = torch.randn(2, 4, 5 * scale, 6 * scale, dtype=torch.float64, device=device)
    results = []
    for layer in (ref, fused):
        xg = x.clone().requires_grad_(True)
        y = layer(xg)
        (y * g).sum().backward()
        results.append((y, xg.grad, layer.conv.weight.grad, layer.conv.bias.grad))
    for a, b in zip(*results, strict=True):
        torch.testing.assert_close(b, a, rtol=0, atol=1e-11)
    with torch.inference_mode():  # the cached path agrees too
        torch.testing.assert_close(fused(x), ref(x), rtol=0, atol=1e-11)


@pytest.mark.parametrize("device", DEVICES)
def test_float32_agrees_to_rounding(device):
    ref, fused = _pair(16, 8, device=device, dtype=torch.float32, seed=3)
    x = torch.randn(2, 16, 20, 20, device=device)
    torch.testing.assert_close(fused(x), ref(x), rtol=1e-5, atol=1e-5)
    with torch.no_grad():
        torch.testing.assert_close(fused(x), ref(x), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("device", DEVICES)
def test_folded_output_is_sized_without_a_crop_and_keeps_channels_last(device):
    _, fused = _pair(k=4, method="folded", device=device, dtype=torch.float32)
    x = torch.randn(2, 3, 5, 7, device=device).contiguous(memory_format=torch.channels_last)
    y = fused(x)
    assert y.shape == (2, 4, 10, 14)
    assert y.is_contiguous(memory_format=torch.channels_last)
    y_contiguous = fused(x.contiguous())
    assert y_contiguous.is_contiguous()
    torch.testing.assert_close(y, y_contiguous, rtol=1e-5, atol=1e-6)


# ---- the cached kernel --------------------------------------------------------------


@pytest.mark.parametrize("device", DEVICES)
def test_inference_derives_the_kernel_once(device, monkeypatch):
    count = CountDerive(monkeypatch)
    _, fused = _pair(device=device)
    x = torch.randn(1, 3, 6, 6, dtype=torch.float64, device=device)
    with torch.inference_mode():
        first = fused(x)
        for _ in range(3):
            torch.testing.assert_close(fused(x), first, rtol=0, atol=0)
    with torch.no_grad():
        fused(x)
    assert count.calls == 1
    fused(x)  # grad mode, weights require grad: derived afresh, never cached
    fused(x)
    assert count.calls == 3


@pytest.mark.parametrize("device", DEVICES)
def test_cache_is_rebuilt_when_the_weights_change(device, monkeypatch):
    count = CountDerive(monkeypatch)
    ref, fused = _pair(device=device)
    x = torch.randn(2, 3, 6, 5, dtype=torch.float64, device=device)
    fused.eval()
    with torch.no_grad():
        fused(x)
    # an optimiser step (in-place update of the parameters)
    opt = torch.optim.SGD(fused.parameters(), lr=0.1)
    fused.train()
    (fused(x) ** 2).mean().backward()
    opt.step()
    ref.load_state_dict(fused.state_dict())
    fused.eval()
    with torch.no_grad():
        torch.testing.assert_close(fused(x), ref(x), rtol=0, atol=1e-12)
    # load_state_dict copies in place
    torch.manual_seed(7)
    other = make_upsampler("resize_nearest", 3, 4).to(device, torch.float64)
    fused.load_state_dict(other.state_dict())
    with torch.no_grad():
        torch.testing.assert_close(fused(x), other(x), rtol=0, atol=1e-12)
    # a new dtype
    with torch.no_grad():
        torch.testing.assert_close(fused.float()(x.float()), other.float()(x.float()),
                                   rtol=1e-5, atol=1e-5)
    # in-place edits under no_grad, bias alone too
    with torch.no_grad():
        fused.conv.weight.mul_(2.0)
        other.conv.weight.mul_(2.0)
        torch.testing.assert_close(fused(x.float()), other(x.float()), rtol=1e-5, atol=1e-5)
        fused.conv.bias.add_(1.0)
        other.conv.bias.add_(1.0)
        torch.testing.assert_close(fused(x.float()), other(x.float()), rtol=1e-5, atol=1e-5)
    # derived: first eval, the training forward, after the step, after the load, in
    # float32, after each of the two in-place edits; every other call hit the cache
    assert count.calls == 7


def test_cache_follows_a_swapped_parameter():
    ref, fused = _pair()
    x = torch.randn(1, 3, 4, 4, dtype=torch.float64)
    with torch.no_grad():
        fused(x)
        new = torch.randn_like(fused.conv.weight)
        fused.conv.weight = torch.nn.Parameter(new.clone())
        ref.conv.weight = torch.nn.Parameter(new.clone())
        torch.testing.assert_close(fused(x), ref(x), rtol=0, atol=1e-12)
        fused.conv.weight.data = new * 3  # .data swaps storage without an in-place op
        ref.conv.weight.data = new * 3
        torch.testing.assert_close(fused(x), ref(x), rtol=0, atol=1e-12)


def test_frozen_weights_use_the_cache_and_pass_input_gradients(monkeypatch):
    count = CountDerive(monkeypatch)
    ref, fused = _pair()
    fused.requires_grad_(False)
    ref.requires_grad_(False)
    x = torch.randn(1, 3, 5, 5, dtype=torch.float64)
    with torch.inference_mode():
        fused(x)  # built inside inference mode ...
    xg = x.clone().requires_grad_(True)
    fused(xg).sum().backward()  # ... and reused outside it, with autograd recording
    xr = x.clone().requires_grad_(True)
    ref(xr).sum().backward()
    torch.testing.assert_close(xg.grad, xr.grad, rtol=0, atol=1e-12)
    assert count.calls == 1


def test_a_layer_built_in_inference_mode_still_runs():
    with torch.inference_mode():
        ref, fused = _pair()
        x = torch.randn(1, 3, 5, 5, dtype=torch.float64)
        torch.testing.assert_close(fused(x), ref(x), rtol=0, atol=1e-12)


def test_training_after_eval_gets_weight_gradients():
    ref, fused = _pair()
    x = torch.randn(2, 3, 5, 5, dtype=torch.float64)
    with torch.no_grad():
        fused(x)
    fused(x).sum().backward()
    ref(x).sum().backward()
    torch.testing.assert_close(fused.conv.weight.grad, ref.conv.weight.grad, rtol=0,
                               atol=1e-11)


# ---- mixed precision ----------------------------------------------------------------


def _autocast_device_dtypes():
    yield pytest.param("cpu", torch.bfloat16, id="cpu-bf16")
    for dtype, name in ((torch.bfloat16, "bf16"), (torch.float16, "fp16")):
        yield pytest.param("cuda", dtype, marks=CUDA, id=f"cuda-{name}")


@pytest.mark.parametrize("device,dtype", list(_autocast_device_dtypes()))
@pytest.mark.parametrize("method", ["auto", "phase", "folded"])
def test_autocast(device, dtype, method):
    """Under autocast the fold is computed in float32 and only the convolution runs in
    the low precision: the cached (pre-cast) kernel gives bit-identical results to the
    training path (cast by autocast), and both are the float32 result to low precision."""
    ref, fused = _pair(8, 6, method=method, device=device, dtype=torch.float32, seed=5)
    x = torch.randn(2, 8, 9, 9, device=device)
    with torch.autocast(device, dtype=dtype):
        y_train = fused(x)  # grad mode: derived afresh, autocast casts it
        with torch.no_grad():
            y_cached = fused(x)
            y_again = fused(x)
        y_ref = ref(x)
    assert y_train.dtype == y_cached.dtype == y_ref.dtype == dtype
    if fused.resolved_method(device, training=True) == fused.resolved_method(device, False):
        # the same low-precision convolution with or without the cache, bit for bit
        torch.testing.assert_close(y_cached, y_train, rtol=0, atol=0)
    torch.testing.assert_close(y_again, y_cached, rtol=0, atol=0)
    cached_kernel = fused._cache[1]
    assert cached_kernel.dtype == dtype
    exact = fused(x)  # float32, autocast off
    torch.testing.assert_close(y_cached.float(), exact, rtol=0.05, atol=0.05)
    torch.testing.assert_close(y_ref.float(), exact, rtol=0.05, atol=0.05)
    # the fold itself was computed in float32, then cast once
    with torch.no_grad():
        if fused.resolved_method(device, training=False) == "folded":
            torch.testing.assert_close(cached_kernel, fused.folded_kernel().to(dtype),
                                       rtol=0, atol=0)


@pytest.mark.parametrize("device,dtype", list(_autocast_device_dtypes()))
def test_autocast_training_gradients(device, dtype):
    ref, fused = _pair(8, 6, device=device, dtype=torch.float32, seed=6)
    x = torch.randn(2, 8, 9, 9, device=device)
    for layer in (ref, fused):
        with torch.autocast(device, dtype=dtype):
            y = layer(x)
        y.float().square().mean().backward()
        assert layer.conv.weight.grad.dtype == torch.float32
    a, b = fused.conv.weight.grad, ref.conv.weight.grad
    assert (a - b).norm() / b.norm() < 0.02  # low-precision rounding only


@CUDA
def test_cuda_state_dicts_and_modules_move_between_devices():
    ref, fused = _pair(dtype=torch.float32)
    x = torch.randn(1, 3, 6, 6)
    with torch.no_grad():
        on_cpu = fused(x)
        fused.cuda()
        torch.testing.assert_close(fused(x.cuda()).cpu(), on_cpu, rtol=1e-5, atol=1e-5)
        fused.cpu()
        torch.testing.assert_close(fused(x), on_cpu, rtol=0, atol=0)


@CUDA
def test_cuda_bf16_weights():
    ref, fused = _pair(8, 6, device="cuda", dtype=torch.float32, seed=2)
    x = torch.randn(2, 8, 9, 9, device="cuda")
    with torch.no_grad():
        exact = fused(x)
        y = fused.bfloat16()(x.bfloat16())
    assert y.dtype == torch.bfloat16
    torch.testing.assert_close(y.float(), exact, rtol=0.05, atol=0.05)


def test_state_dict_has_only_the_resize_parameters():
    fused = make_upsampler("fused_resize", 3, 4)
    assert set(fused.state_dict()) == {"conv.weight", "conv.bias"}
