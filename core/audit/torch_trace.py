"""The torch route: one traced forward pass of a live module records its resampling calls.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import numpy as np

from core.audit.analysis import _Found

# ---------------------------------------------------------------------------------------
# Live torch modules
# ---------------------------------------------------------------------------------------

_SIGNATURES = {
    "conv2d": ("input", "weight", "bias", "stride", "padding", "dilation", "groups"),
    "conv_transpose2d": ("input", "weight", "bias", "stride", "padding", "output_padding",
                         "groups", "dilation"),
    "interpolate": ("input", "size", "scale_factor", "mode", "align_corners",
                    "recompute_scale_factor", "antialias"),
    "upsample": ("input", "size", "scale_factor", "mode", "align_corners"),
    "pixel_shuffle": ("input", "upscale_factor"),
    "pixel_unshuffle": ("input", "downscale_factor"),
    "max_pool2d": ("input", "kernel_size", "stride", "padding", "dilation", "ceil_mode",
                   "return_indices"),
    "avg_pool2d": ("input", "kernel_size", "stride", "padding", "ceil_mode",
                   "count_include_pad", "divisor_override"),
}


def _pair_arg(value, default: int) -> tuple[int, int]:
    if value is None:
        return (default, default)
    if isinstance(value, (list, tuple)):
        return (int(value[0]), int(value[-1]))
    return (int(value), int(value))


class _Recorder:
    """Records the resampling calls of one forward pass, with the calling module."""

    def __init__(self, module) -> None:
        self.root = module
        self.stack: list[tuple[str, Any]] = [("", module)]
        self.calls: list[_Found] = []
        self.conv_outputs: dict[int, tuple[Any, Any, Any]] = {}  # id(out) -> (out, w, mod)
        self.handles = []
        for path, sub in module.named_modules():
            self.handles.append(sub.register_forward_pre_hook(self._enter(path, sub)))
            self.handles.append(sub.register_forward_hook(self._leave))

    def _enter(self, path, sub):
        def hook(_module, _args):
            self.stack.append((path, sub))
        return hook

    def _leave(self, _module, _args, _output):
        self.stack.pop()

    def close(self) -> None:
        for h in self.handles:
            h.remove()

    def record(self, fname: str, args: tuple, kwargs: dict, out) -> None:
        import torch

        names = _SIGNATURES[fname]
        bound = dict(zip(names, args, strict=False))
        bound.update(kwargs)
        x = bound["input"]
        if not isinstance(out, torch.Tensor) or x.ndim != 4 or out.ndim != 4:
            return
        path, module = self.stack[-1]
        base = path or type(self.root).__name__
        f = _Found(name=base, op="", module_path=path or None, module=module,
                   in_size=tuple(x.shape[2:]), out_size=tuple(out.shape[2:]),
                   in_channels=int(x.shape[1]), out_channels=int(out.shape[1]))
        if fname == "conv2d":
            w = bound["weight"]
            stride = _pair_arg(bound.get("stride"), 1)
            self.conv_outputs[id(out)] = (out, w, module)
            if max(stride) < 2:
                return
            f.op, f.kernel, f.stride = "Conv", tuple(w.shape[2:]), stride
            p = bound.get("padding", 0)
            ph, pw = (0, 0) if isinstance(p, str) else _pair_arg(p, 0)
            f.pads, f.dilation = (ph, pw, ph, pw), _pair_arg(bound.get("dilation"), 1)
            f.groups = int(bound.get("groups") or 1)
            f.weight = (lambda w=w: w.detach().cpu().double().numpy())
        elif fname == "conv_transpose2d":
            w = bound["weight"]
            f.op, f.kernel = "ConvTranspose", tuple(w.shape[2:])
            f.stride = _pair_arg(bound.get("stride"), 1)
            if max(f.stride) < 2 and f.out_size == f.in_size:
                return
            ph, pw = _pair_arg(bound.get("padding"), 0)
            f.pads = (ph, pw, ph, pw)
            f.output_padding = _pair_arg(bound.get("output_padding"), 0)
            f.dilation = _pair_arg(bound.get("dilation"), 1)
            f.groups = int(bound.get("groups") or 1)
            f.weight = (lambda w=w: w.detach().cpu().double().numpy())
        elif fname in ("interpolate", "upsample"):
            f.op, f.mode = "Resize", str(bound.get("mode") or "nearest")
            f.mode = {"bilinear": "linear", "bicubic": "cubic", "nearest-exact": "nearest"}.get(
                f.mode, f.mode)
            if f.out_size == f.in_size:
                return
        elif fname in ("pixel_shuffle", "pixel_unshuffle"):
            f.op = "DepthToSpace" if fname == "pixel_shuffle" else "SpaceToDepth"
            f.block = int(bound.get("upscale_factor") or bound.get("downscale_factor"))
            f.stride = (f.block, f.block)
            fed = self.conv_outputs.get(id(x))
            if fname == "pixel_shuffle" and fed is not None:
                _, w, conv = fed
                f.weight = (lambda w=w: w.detach().cpu().double().numpy())
                f.feeder = conv
        else:  # pooling
            f.op = "MaxPool" if fname == "max_pool2d" else "AveragePool"
            f.kernel = _pair_arg(bound.get("kernel_size"), 1)
            f.stride = _pair_arg(bound.get("stride") or bound.get("kernel_size"), 1)
            if max(f.stride) < 2:
                return
            ph, pw = _pair_arg(bound.get("padding"), 0)
            f.pads = (ph, pw, ph, pw)
            f.dilation = _pair_arg(bound.get("dilation"), 1)
        same = [c for c in self.calls if c.name.split("#")[0] == base and c.op == f.op]
        if same:
            f.name = f"{base}#{len(same) + 1}"
        self.calls.append(f)


def _trace_module(module, x) -> tuple[list[_Found], Any]:
    """One forward pass of ``module`` on ``x`` recording the resampling calls."""
    import torch
    from torch.overrides import TorchFunctionMode

    recorder = _Recorder(module)

    class Mode(TorchFunctionMode):
        def __torch_function__(self, func, types, args=(), kwargs=None):
            kwargs = kwargs or {}
            out = func(*args, **kwargs)
            fname = getattr(func, "__name__", "")
            if fname in _SIGNATURES:
                recorder.record(fname, args, kwargs, out)
            return out

    try:
        with torch.no_grad(), Mode():
            y = module(x)
    finally:
        recorder.close()
    return recorder.calls, y


def _eval_copy(module):
    """``module`` itself when in eval mode, else an eval-mode copy (never mutated)."""
    if not module.training:
        return module, []
    return copy.deepcopy(module).eval(), ["the module was in training mode: audited in "
                                          "eval mode (a copy)"]


def _torch_runner(module) -> Callable[[np.ndarray], np.ndarray]:
    import torch

    param = next(module.parameters(), None)
    dtype = param.dtype if param is not None else torch.float32
    device = param.device if param is not None else torch.device("cpu")

    def run(x: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            y = module(torch.from_numpy(np.ascontiguousarray(x)).to(device, dtype))
        return y.detach().float().cpu().numpy()

    return run


