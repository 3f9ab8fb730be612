"""The torch route: one traced forward pass of a live module records its resampling calls.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .analysis import (
    Filter,
    Found,
    box_filter,
    depthwise_filter,
    level_factor,
    size_fixup,
)
from .torch_flow import FlowTracker

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
    "max_pool2d_with_indices": ("input", "kernel_size", "stride", "padding", "dilation",
                                "ceil_mode", "return_indices"),
    "max_unpool2d": ("input", "indices", "kernel_size", "stride", "padding", "output_size"),
    # torch.ops.aten.convolution: a conv2d or conv_transpose2d by its ``transposed`` flag
    "convolution": ("input", "weight", "bias", "stride", "padding", "dilation", "transposed",
                    "output_padding", "groups"),
}
#: Resampling calls on other than 2-D images: found, and said to be not judged.
_OTHER_DIMS = {
    "conv_transpose1d": ("input", "weight", "bias", "stride"),
    "conv_transpose3d": ("input", "weight", "bias", "stride"),
    "conv1d": ("input", "weight", "bias", "stride"),
    "conv3d": ("input", "weight", "bias", "stride"),
    "max_pool1d": ("input", "kernel_size", "stride"),
    "max_pool3d": ("input", "kernel_size", "stride"),
    "avg_pool1d": ("input", "kernel_size", "stride"),
    "avg_pool3d": ("input", "kernel_size", "stride"),
    "max_unpool1d": ("input", "indices", "kernel_size", "stride"),
    "max_unpool3d": ("input", "indices", "kernel_size", "stride"),
}
#: Calls that keep a tensor's phase structure (data movement, eval-mode dropout).
_PASS = ("to", "contiguous", "clone", "dropout", "dropout2d", "float", "type_as")
_BN = ("input", "running_mean", "running_var", "weight", "bias", "training", "momentum", "eps")


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
        self.calls: list[Found] = []
        self.conv_outputs: dict[int, tuple[Any, Any, Any]] = {}  # id(out) -> (out, w, mod)
        self.tails: dict[int, tuple[Found, Any]] = {}  # id(t) -> (upsampler, t)
        self.padded6: dict[int, tuple[Any, int, Any]] = {}  # zero insertion pending
        #: Outputs of a constant zero F.pad of a 4-D tensor: id -> (out, input, pads).
        self.zero_padded: dict[int, tuple[Any, Any, list[int]]] = {}
        #: Resampling calls found but not judged: (where, why).
        self.skipped: list[tuple[str, str]] = []
        self.flow: Any = None  # the FlowTracker, set by trace()
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

    def where(self) -> str:
        """The module path of the call being recorded (the root's class name at the top)."""
        path, _ = self.stack[-1]
        return path or type(self.root).__name__

    def record_other_dims(self, fname: str, args: tuple, kwargs: dict) -> None:
        """A 1-D or 3-D resampling call (stride or factor 2 or more): not judged."""
        bound = dict(zip(_OTHER_DIMS[fname], args, strict=False))
        bound.update(kwargs)
        stride = bound.get("stride") or bound.get("kernel_size") or 1
        stride = max(stride) if isinstance(stride, (list, tuple)) else int(stride)
        if stride >= 2:
            self.skipped.append((self.where(), f"{fname} with stride {stride}: a "
                                 f"{fname[-2]}-D layer; only 2-D layers are judged"))

    def record(self, fname: str, args: tuple, kwargs: dict, out) -> Found | None:
        """The resampling layer of one call (None when it does not resample a 2-D image)."""
        import torch

        names = _SIGNATURES[fname]
        bound = dict(zip(names, args, strict=False))
        bound.update(kwargs)
        x = bound["input"]
        if fname == "max_pool2d_with_indices" or (fname == "max_pool2d" and isinstance(out, tuple)):
            out = out[0]  # (values, indices)
        if not isinstance(out, torch.Tensor) or not isinstance(x, torch.Tensor):
            return None
        if fname == "convolution":
            w = bound["weight"]
            if w.ndim != 4:
                stride = bound.get("stride") or [1]
                if max(stride) >= 2:
                    self.skipped.append((self.where(), f"aten convolution on a "
                                         f"{w.ndim - 2}-D input; only 2-D layers are judged"))
                return None
            fname = "conv_transpose2d" if bound.get("transposed") else "conv2d"
        level = self.flow.level_of(x) if self.flow is not None else None
        if (x.ndim, out.ndim) == (3, 3) and fname in ("conv2d", "conv_transpose2d",
                                                      "max_pool2d", "avg_pool2d",
                                                      "max_pool2d_with_indices"):
            x, out = x.unsqueeze(0), out.unsqueeze(0)  # an unbatched image: (C, H, W)
        if x.ndim != 4 or out.ndim != 4:
            if fname in ("interpolate", "upsample") and x.ndim in (3, 5) and \
                    tuple(out.shape[2:]) != tuple(x.shape[2:]):
                self.skipped.append((self.where(), f"a {x.ndim - 2}-D {fname}; only 2-D "
                                     "layers are judged"))
            return None
        path, module = self.stack[-1]
        base = path or type(self.root).__name__
        f = Found(name=base, op="", module_path=path or None, module=module,
                  in_size=tuple(x.shape[2:]), out_size=tuple(out.shape[2:]),
                  in_channels=int(x.shape[1]), out_channels=int(out.shape[1]), level=level)
        if fname == "conv2d":
            w = bound["weight"]
            stride = _pair_arg(bound.get("stride"), 1)
            self.conv_outputs[id(out)] = (out, w, module)
            if max(stride) < 2:
                return None
            f.op, f.kernel, f.stride = "Conv", tuple(w.shape[2:]), stride
            p = bound.get("padding", 0)
            ph, pw = (0, 0) if isinstance(p, str) else _pair_arg(p, 0)
            f.pads, f.dilation = (ph, pw, ph, pw), _pair_arg(bound.get("dilation"), 1)
            padded = self.zero_padded.get(id(bound["input"]))
            if padded is not None and bound["input"].ndim == 4:
                # a zero F.pad right before the conv is its padding (Xception's
                # fixed_padding), as the dynamo exporter folds it
                _, x0, (left, right, top, bottom) = padded
                f.pads = (ph + top, pw + left, ph + bottom, pw + right)
                f.in_size = tuple(x0.shape[2:])
            f.groups = int(bound.get("groups") or 1)
            f.weight = (lambda w=w: w.detach().cpu().double().numpy())
        elif fname == "conv_transpose2d":
            w = bound["weight"]
            f.op, f.kernel = "ConvTranspose", tuple(w.shape[2:])
            f.stride = _pair_arg(bound.get("stride"), 1)
            if max(f.stride) < 2:
                return None  # stride 1: a convolution, not upsampling
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
            if f.mode != "nearest":
                f.align_corners = bool(bound.get("align_corners") or False)
            if size_fixup(f.in_size, f.out_size):
                return None  # a same-size resize (or a 2n-1 -> 2n fix-up) is not resampling
            if f.in_size == (1, 1) and f.level is None:
                return None  # a 1x1 global-context map broadcast back: not upsampling
        elif fname in ("pixel_shuffle", "pixel_unshuffle"):
            f.op = "DepthToSpace" if fname == "pixel_shuffle" else "SpaceToDepth"
            f.block = int(bound.get("upscale_factor") or bound.get("downscale_factor"))
            f.stride = (f.block, f.block)
            fed = self.conv_outputs.get(id(x))
            if fname == "pixel_shuffle" and fed is not None:
                _, w, conv = fed
                f.weight = (lambda w=w: w.detach().cpu().double().numpy())
                f.feeder = conv
                f.source_channels = int(w.shape[1]) * int(getattr(conv, "groups", 1) or 1)
        elif fname == "max_unpool2d":
            f.op = "MaxUnpool"
            f.kernel = _pair_arg(bound.get("kernel_size"), 1)
            f.stride = _pair_arg(bound.get("stride") or bound.get("kernel_size"), 1)
            ph, pw = _pair_arg(bound.get("padding"), 0)
            f.pads = (ph, pw, ph, pw)
        else:  # pooling
            f.op = "AveragePool" if fname == "avg_pool2d" else "MaxPool"
            f.kernel = _pair_arg(bound.get("kernel_size"), 1)
            f.stride = _pair_arg(bound.get("stride") or bound.get("kernel_size"), 1)
            if max(f.stride) < 2:
                return None
            ph, pw = _pair_arg(bound.get("padding"), 0)
            f.pads = (ph, pw, ph, pw)
            f.dilation = _pair_arg(bound.get("dilation"), 1)
        self.add(f, out)
        return f

    def add(self, f: Found, out) -> None:
        """Add a found layer (numbered when its module already has one of its op)."""
        base = f.name
        same = [c for c in self.calls if c.name.split("#")[0] == base and c.op == f.op]
        if same:
            f.name = f"{base}#{len(same) + 1}"
        self.calls.append(f)
        if f.op in ("ConvTranspose", "DepthToSpace", "Resize", "ZeroInsertion", "MaxUnpool"):
            self.tails[id(out)] = (f, out)

    def follow(self, fname: str, args: tuple, kwargs: dict, out) -> None:
        """Any other call: carry a per-channel affine from a convolution to a pixel
        shuffle, extend an upsampler by the fixed filters after it, spot zero insertion."""
        import torch

        x = args[0] if args else kwargs.get("input")
        if not isinstance(x, torch.Tensor) or not isinstance(out, torch.Tensor):
            return
        if not args:  # keyword-only call (F.conv2d(input=x, weight=f)): make it positional
            args, kwargs = (x,), {k: v for k, v in kwargs.items() if k != "input"}
        fed = self.conv_outputs.get(id(x))
        if fed is not None and out.ndim == 4:
            scale = _channel_op(fname, args, kwargs, x)
            if scale is not None:
                w = fed[1] if scale is True else fed[1] * scale.reshape(-1, 1, 1, 1).to(fed[1])
                self.conv_outputs[id(out)] = (out, w, fed[2])
        tail = self.tails.get(id(x))
        if tail is not None:
            f = tail[0]
            ok, filt = _filter_of(fname, args, kwargs, x, out)
            if ok:
                if filt is not None:  # the size after the last filter (not a pad after it)
                    f.filters.append(filt)
                    f.out_size = tuple(out.shape[2:])
                self.tails[id(out)] = (f, out)
        if fname == "pad" and x.ndim == 4 and out.ndim == 4:
            pads = list(args[1]) if len(args) > 1 else list(kwargs.get("pad", []))
            mode = args[2] if len(args) > 2 else kwargs.get("mode", "constant")
            value = args[3] if len(args) > 3 else kwargs.get("value", None)
            if mode == "constant" and not value and len(pads) == 4 and min(pads) >= 0:
                self.zero_padded[id(out)] = (out, x, pads)
        if fname == "pad" and x.ndim == 6 and x.shape[3] == 1 and x.shape[5] == 1:
            pads = list(args[1]) if len(args) > 1 else list(kwargs.get("pad", []))
            pads += [0] * (12 - len(pads))
            u = pads[1] + 1
            if u >= 2 and pads == [0, u - 1, 0, 0, 0, u - 1] + [0] * 6:
                self.padded6[id(out)] = (out, u, x)
        elif fname in ("reshape", "view") and id(x) in self.padded6 and out.ndim == 4:
            _, u, x6 = self.padded6.pop(id(x))
            path, module = self.stack[-1]
            n, c, h, _, w, _ = x6.shape
            f = Found(name=path or type(self.root).__name__, op="ZeroInsertion",
                      module_path=path or None, module=module, block=u, stride=(u, u),
                      kernel=(1, 1), pads=(0, 0, 0, 0), in_size=(int(h), int(w)),
                      out_size=tuple(out.shape[2:]), in_channels=int(c), out_channels=int(c))
            self.add(f, out)


def _other(args: tuple, kwargs: dict):
    return args[1] if len(args) > 1 else kwargs.get("other")


def _channel_op(fname: str, args: tuple, kwargs: dict, x):
    """A per-channel affine step on ``x`` (N, C, H, W): its scale ``(C,)`` (or ``(1,)``),
    True when it scales nothing (a bias, eval-mode dropout), None when it is not one."""
    import torch

    if fname in _PASS:
        return True
    if fname == "batch_norm":
        b = dict(zip(_BN, args, strict=False))
        b.update(kwargs)
        if b.get("training") or b.get("running_var") is None:
            return None
        scale = 1.0 / torch.sqrt(b["running_var"].double() + float(b.get("eps") or 1e-5))
        if b.get("weight") is not None:
            scale = scale * b["weight"].double()
        return scale.detach()
    if fname in ("add", "sub", "mul", "div", "iadd", "isub", "imul", "itruediv", "truediv"):
        other = _other(args, kwargs)
        if isinstance(other, (int, float)):
            value = torch.tensor([float(other)], dtype=torch.float64)
        elif isinstance(other, torch.Tensor) and other is not x and (
                other.numel() == 1 or (other.ndim == 4 and other.shape[0] == 1
                                       and other.shape[2:] == (1, 1)
                                       and other.shape[1] == x.shape[1])):
            value = other.detach().double().reshape(-1)
        else:
            return None
        if fname in ("add", "sub", "iadd", "isub"):
            return True
        if fname in ("div", "itruediv", "truediv"):
            if bool((value == 0).any()):
                return None
            value = 1.0 / value
        return value
    return None


def _filter_of(fname: str, args: tuple, kwargs: dict, x, out) -> tuple[bool, Filter | None]:
    """Whether the call on an upsampler's output ``x`` is a fixed linear filter (or data
    movement) to judge with it, and the :class:`Filter` it adds (None: nothing to add)."""
    scale = _channel_op(fname, args, kwargs, x)
    if scale is not None:
        if scale is True:
            return True, None
        return True, Filter(fname, scale=scale.cpu().numpy())
    if fname == "pad":
        mode = args[2] if len(args) > 2 else kwargs.get("mode", "constant")
        value = args[3] if len(args) > 3 else kwargs.get("value", None)
        pads = list(args[1]) if len(args) > 1 else list(kwargs.get("pad", []))
        ok = mode == "constant" and not value and (x.ndim == 4 or not any(pads))
        return ok, None
    if fname == "getitem":
        index = args[1] if len(args) > 1 else ()
        index = index if isinstance(index, tuple) else (index,)
        ok = out.ndim == x.ndim and all(isinstance(i, slice) and i.step in (None, 1)
                                        for i in index if i is not Ellipsis)
        return ok, None
    if fname in ("reshape", "view"):
        if tuple(out.shape) == tuple(x.shape):
            return True, None
        if x.ndim == 4 and out.ndim == 6 and out.shape[3] == out.shape[5] == 1:
            return True, None  # upfirdn2d at up=1: (N, C, H, 1, W, 1), back below
        if x.ndim == 6 and out.ndim == 4 and x.shape[3] == x.shape[5] == 1 and \
                tuple(out.shape) == (x.shape[0], x.shape[1], x.shape[2], x.shape[4]):
            return True, None
        return False, None
    if fname == "conv2d":
        w = args[1] if len(args) > 1 else kwargs.get("weight")
        names = _SIGNATURES["conv2d"]
        b = dict(zip(names, args, strict=False))
        b.update(kwargs)
        groups = int(b.get("groups") or 1)
        if w is None or w.ndim != 4 or w.shape[1] != 1 or \
                max(_pair_arg(b.get("stride"), 1)) > 1 or max(_pair_arg(b.get("dilation"), 1)) > 1:
            return False, None
        blur = depthwise_filter(w.detach().double().cpu().numpy(), groups, x.shape[1],
                                "depthwise conv2d")
        return (blur is not None), blur
    if fname == "avg_pool2d":
        b = dict(zip(_SIGNATURES["avg_pool2d"], args, strict=False))
        b.update(kwargs)
        k = _pair_arg(b.get("kernel_size"), 1)
        if max(_pair_arg(b.get("stride") or b.get("kernel_size"), 1)) > 1:
            return False, None
        return True, box_filter(k[0], k[1], "avg_pool2d")
    return False, None


@dataclass(eq=False)
class Trace:
    """One recorded forward pass: the resampling calls, the output, what was found but
    not judged, and the level (resolution relative to the input) of any tensor."""

    calls: list[Found]
    output: Any
    skipped: list[tuple[str, str]]  # (where, why): found, not judged
    flow: FlowTracker

    def level_of(self, tensor) -> float | None:
        """The resolution of ``tensor`` relative to the input, from the strides on its
        path (None: unknown)."""
        return self.flow.level_of(tensor)


def trace(module, x) -> Trace:
    """One forward pass of ``module`` on ``x`` recording the resampling calls and the
    resolution of every tensor along the graph (:mod:`core.audit.torch_flow`)."""
    import torch
    from torch.overrides import TorchFunctionMode

    recorder = _Recorder(module)
    recorder.flow = flow = FlowTracker(x, recorder)

    class Mode(TorchFunctionMode):
        def __torch_function__(self, func, types, args=(), kwargs=None):
            kwargs = kwargs or {}
            out = func(*args, **kwargs)
            fname = getattr(func, "__name__", "").strip("_")
            found = None
            if fname in _SIGNATURES:
                found = recorder.record(fname, args, kwargs, out)
            elif fname in _OTHER_DIMS:
                recorder.record_other_dims(fname, args, kwargs)
            if fname not in _SIGNATURES or fname in ("conv2d", "avg_pool2d"):
                recorder.follow(fname, args, kwargs, out)
            x_in = args[0] if args else kwargs.get("input")
            if found is not None:
                flow.resampled(x_in, out, found, level_factor(found))
            else:
                flow.step(fname, args, kwargs, out)
            return out

    try:
        with torch.no_grad(), Mode():
            y = module(x)
    finally:
        recorder.close()
    skipped = recorder.skipped + flow.unrecognised
    return Trace(recorder.calls, y, skipped, flow)


def trace_module(module, x) -> tuple[list[Found], Any]:
    """The resampling calls of one forward pass of ``module`` on ``x``, and its output."""
    result = trace(module, x)
    return result.calls, result.output


def eval_copy(module):
    """``module`` itself when in eval mode, else an eval-mode copy (never mutated)."""
    if not module.training:
        return module, []
    return copy.deepcopy(module).eval(), ["the module was in training mode: audited in "
                                          "eval mode (a copy)"]


def output_candidates(y) -> list[tuple[str, Any]]:
    """A forward's outputs as ``(key, tensor)``: ``("", y)`` for one tensor, the index
    (``"0"``, ``"1"``...) of a tuple or list, the key of a dict (tensors only)."""
    import torch

    if isinstance(y, torch.Tensor):
        return [("", y)]
    if isinstance(y, (list, tuple)):
        return [(str(i), v) for i, v in enumerate(y) if isinstance(v, torch.Tensor)]
    if isinstance(y, dict):
        return [(str(k), v) for k, v in y.items() if isinstance(v, torch.Tensor)]
    return []


def select_output(y, wanted: str | int | None = None) -> tuple[str | None, Any]:
    """The output to audit: ``wanted`` (a dict key, or a tuple/list index, as a string or
    an int), by default the largest image-like (4-D) one, the first on a tie. Returns
    ``(key, tensor)``; the key is None for a single tensor. AuditError when ``wanted``
    names none of them, or when the forward returns no tensor."""
    from .limits import AuditError

    found = output_candidates(y)
    if not found:
        raise AuditError(f"the module's forward returns a {type(y).__name__}, not a tensor, "
                         "a tuple, a list or a dict of tensors")
    if wanted is not None:
        for key, value in found:
            if key == str(wanted):
                return (key or None), value
        keys = ", ".join(repr(k) for k, _ in found if k) or "a single tensor"
        raise AuditError(f"--output {wanted!r} names no output of the module (it has {keys})")
    images = [(k, v) for k, v in found if v.ndim == 4]
    key, value = max(images or found, key=lambda kv: kv[1].numel())
    return (key or None), value


def torch_runner(module, output: str | None = None) -> Callable[[np.ndarray], np.ndarray]:
    """``(N, C, H, W)`` float32 numpy -> the module's output ``output`` (see
    :func:`select_output`) as float32 numpy, without gradients."""
    import torch

    param = next(module.parameters(), None)
    dtype = param.dtype if param is not None else torch.float32
    device = param.device if param is not None else torch.device("cpu")

    def run(x: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            y = module(torch.from_numpy(np.ascontiguousarray(x)).to(device, dtype))
        _, y = select_output(y, output)
        return y.detach().float().cpu().numpy()

    return run
