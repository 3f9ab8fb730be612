"""The torch route's view of resolution along the graph: each tensor's level (its resolution
relative to the network input, from the strides on its path), and resampling written as
tensor reshapes (pixel (un)shuffle with view/permute, nearest upsampling with
view/expand, zero insertion with view/pad), recognised when the reshapes end.

A tensor is an *image* when it is 4-D with the network's batch size. Between two images,
reshapes, pads, crops and the fixed filters met on the way (a single-channel convolution
on a reshaped tensor, as in ``upfirdn2d``) form a *chain*; when a chain ends in an image
whose size is an integer multiple (or fraction) of the chain's start, the chain was a
resampling layer, and the kind follows from the channels and the ops used. A chain that
ends at the same resolution hands its fixed filters to the upsampler it started from.

Imported by :mod:`core.audit.torch_trace` only; torch is imported inside the functions.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from .analysis import (
    RESHAPE_OPS,
    Filter,
    Flow,
    Found,
    depthwise_filter,
    near_integer,
    reshape_resampling,
    same_level,
)

#: Calls that only move, reshape, pad or crop data.
SHAPE_OPS = frozenset({
    "view", "reshape", "permute", "transpose", "expand", "expand_as", "repeat",
    "repeat_interleave", "contiguous", "flatten", "unflatten", "unsqueeze", "squeeze",
    "pad", "getitem", "clone", "to", "narrow", "movedim", "tile", "float", "type_as",
})
#: Linear steps a chain may hold and still hand its filters on.
_SCALAR_OPS = frozenset({"add", "sub", "mul", "div", "iadd", "isub", "imul", "itruediv",
                         "truediv"})


def tensors(value) -> list:
    """The tensors in a call's arguments or result (one level into lists and dicts)."""
    import torch

    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, (list, tuple)):
        return [v for item in value for v in tensors(item)] if len(value) < 10_000 else []
    if isinstance(value, dict):
        return [v for item in value.values() for v in tensors(item)]
    return []


def _hw(t) -> tuple[int, int]:
    return int(t.shape[-2]), int(t.shape[-1])


def _single_channel_filter(args: tuple, kwargs: dict) -> Filter | None:
    """The Filter of a stride-1, single-channel ``conv2d`` (``upfirdn2d``'s FIR on a
    ``(N*C, 1, H, W)`` view), else None."""
    w = args[1] if len(args) > 1 else kwargs.get("weight")
    stride = args[3] if len(args) > 3 else kwargs.get("stride", 1)
    if w is None or getattr(w, "ndim", 0) != 4 or w.shape[0] != 1 or w.shape[1] != 1:
        return None
    if (max(stride) if isinstance(stride, (list, tuple)) else int(stride)) > 1:
        return None
    return depthwise_filter(w.detach().double().cpu().numpy(), 1, 1, "FIR conv2d")


class FlowTracker:
    """Follows every call of one traced forward pass (see the module docstring)."""

    def __init__(self, x, recorder) -> None:
        from torch.utils.weak import WeakIdKeyDictionary

        self.recorder = recorder
        self.batch = int(x.shape[0]) if x.ndim == 4 else None
        self.state: Any = WeakIdKeyDictionary()
        if x.ndim >= 3:
            self.state[x] = Flow(1.0, _hw(x), int(x.shape[-3]))
        #: Reshapes that change the spatial size in a way no rule recognises: (name, why).
        self.unrecognised: list[tuple[str, str]] = []

    def is_image(self, t) -> bool:
        return t.ndim == 4 and self.batch is not None and int(t.shape[0]) == self.batch

    def level_of(self, t) -> float | None:
        flow = self.state.get(t)
        return flow.level if flow is not None else None

    def resampled(self, x, out, found: Found | None, factor: float | None) -> None:
        """After a recorded resampling call: its output's level is the input's times
        ``factor`` (None: the call was not judged, its output level unknown)."""
        level = self.level_of(x)
        new = level * factor if level is not None and factor is not None else None
        for t in tensors(out)[:1]:
            self.state[t] = Flow(new, _hw(t), int(t.shape[-3]) if t.ndim >= 3 else None)

    def step(self, fname: str, args: tuple, kwargs: dict, out) -> None:
        """Any other call: carry levels, extend chains, end them."""
        outs = tensors(out)
        if not outs:
            return
        ins = [t for t in tensors(args) + tensors(kwargs) if t in self.state]
        if not ins:
            return
        first = self.state[ins[0]]
        o = outs[0]
        tail = self.recorder.tails.get(id(ins[0]))
        if fname in SHAPE_OPS:
            chain = first.chain + (fname,)
            flow = replace(first, chain=chain, filters=list(first.filters),
                           tail=first.tail or (tail[0] if tail else None))
            if self.is_image(o) and first.ref is not None:
                flow = self._end_chain(flow, o)
            self.state[o] = flow
            return
        if not self.is_image(o) and any(self.state[t].chain for t in ins):
            filt = _single_channel_filter(args, kwargs) if fname == "conv2d" else None
            fixed = filt is not None or fname in _SCALAR_OPS
            base = first if fixed else max((self.state[t] for t in ins),
                                           key=lambda s: -1 if s.level is None else s.level)
            self.state[o] = replace(base, chain=base.chain + (fname,),
                                    filters=base.filters + ([filt] if filt else []),
                                    linear=base.linear and fixed, mixed=base.mixed or not fixed)
            return
        # A data operation: the output is at the level of its inputs (the finest known:
        # a map broadcast from 1x1 is context, not a level of its own).
        images = [t for t in ins if self.is_image(t)] or ins[:1]
        levels = [self.state[t].level for t in images if self.state[t].level is not None]
        level = max(levels) if levels else None
        if (o.ndim < 3 or _hw(o) == (1, 1)) and any(self.is_image(t) and _hw(t) != (1, 1)
                                                    for t in ins):
            level = None  # global pooling (to 1x1, or to a vector): context, not a level
        self.state[o] = Flow(level, _hw(o) if o.ndim >= 3 else None,
                             int(o.shape[-3]) if o.ndim >= 3 else None)

    def _end_chain(self, flow: Flow, o) -> Flow:
        """A chain reached an image ``o``: a pad or crop, a resampling written as
        reshapes, or a same-resolution rearrangement handing its filters on."""
        if flow.mixed or not any(op in RESHAPE_OPS for op in flow.chain):
            return Flow(flow.level, _hw(o), int(o.shape[1]), tail=None)
        rh, rw = (_hw(o)[0] / flow.ref[0], _hw(o)[1] / flow.ref[1])
        r = near_integer(rh)
        level = flow.level * r if flow.level is not None else None
        if same_level(rh) and same_level(rw):
            level = flow.level
            if flow.tail is not None and flow.linear and flow.filters:
                flow.tail.filters.extend(flow.filters)
                flow.tail.out_size = _hw(o)
                self.recorder.tails[id(o)] = (flow.tail, o)
            return Flow(flow.level, _hw(o), int(o.shape[1]))
        if id(o) in self.recorder.tails:  # already recorded (zero insertion, by its pattern)
            return Flow(level, _hw(o), int(o.shape[1]))
        found = reshape_resampling(flow.ref, _hw(o), flow.channels, int(o.shape[1]), flow.chain,
                                   flow.filters if flow.linear else [], flow.level)
        if found is None:
            self.unrecognised.append((self.recorder.where(), f"reshapes change the spatial size "
                                      f"from {flow.ref[0]}x{flow.ref[1]} to "
                                      f"{_hw(o)[0]}x{_hw(o)[1]} in a way the audit does not "
                                      "recognise"))
            return Flow(None, _hw(o), int(o.shape[1]))
        path, module = self.recorder.stack[-1]
        found.name = path or type(self.recorder.root).__name__
        found.module_path, found.module = path or None, module
        self.recorder.add(found, o)
        return Flow(level, _hw(o), int(o.shape[1]))
