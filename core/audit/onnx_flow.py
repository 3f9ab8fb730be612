"""The ONNX route's view of resolution along the graph (the twin of
:mod:`core.audit.torch_flow`): each tensor's level (its resolution relative to the network
input, the product of the strides on its path), and resampling written as reshapes
(pixel (un)shuffle with Reshape/Transpose, nearest upsampling with Reshape/Expand, zero
insertion with Reshape/Pad), recognised where the reshapes end in an image.

An *image* is a 4-D tensor with the input's batch size. Pads and crops change sizes, not
levels; a map pooled to 1x1 is global context (no level), so a branch broadcast back from
it (DeepLabV3+'s image pooling) is not upsampling. Imports only the analysis stage.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from .analysis import (
    RESHAPE_OPS,
    Filter,
    Flow,
    Found,
    depthwise_filter,
    level_factor,
    near_integer,
    reshape_resampling,
    same_level,
)

#: Operators that only move, reshape, pad or crop data.
SHAPE_OPS = frozenset({"Reshape", "Transpose", "Expand", "Tile", "Flatten", "Unsqueeze",
                       "Squeeze", "Pad", "Slice", "Identity", "Cast"})
#: Operators whose outputs are sizes or constants, never pixels.
_NO_PIXELS = frozenset({"Shape", "Size", "Constant", "ConstantOfShape", "Range",
                        "NonZero"})
_SCALAR_OPS = frozenset({"Mul", "Div", "Add", "Sub"})


@dataclass
class Levels:
    """The result of :func:`trace_levels`."""

    level: dict[str, float | None]  # tensor name -> level
    found: list[tuple[Any, Found]]  # resampling written as reshapes: (last node, Found)
    unrecognised: list[tuple[Any, str]]  # (node, why): reshapes that resample unjudged


def _image_dims(dims, batch: int) -> bool:
    return dims is not None and len(dims) == 4 and all(d is not None for d in dims) \
        and dims[0] == batch


def trace_levels(nodes: Sequence[Any], sizes: dict[str, list[int | None]], input_name: str,
                 candidates: Sequence[tuple[Any, Found]],
                 array: Callable[[str], np.ndarray | None], name_of: Callable[[Any], str],
                 path_of: Callable[[Any], str | None]) -> Levels:
    """Walk ``nodes`` (topologically ordered, as ONNX requires) from ``input_name`` at level
    1, setting each candidate's ``level`` (its input's) and carrying levels through every
    other node; chains of reshapes between images that resample become new Found layers
    (``name_of``/``path_of`` name them)."""
    dims_in = sizes.get(input_name)
    batch = dims_in[0] if dims_in else None
    state: dict[str, Flow] = {}
    if dims_in and len(dims_in) == 4:
        state[input_name] = Flow(1.0, (dims_in[2], dims_in[3]), dims_in[1])
    by_node = {id(node): f for node, f in candidates}
    written = {f.tail for _, f in candidates} | {f.src for _, f in candidates}
    tails = {f.tail: f for _, f in candidates if f.tail}
    result = Levels({}, [], [])
    for node in nodes:
        op = node.op_type
        if op in _NO_PIXELS or not node.output:
            continue
        ins = [n for n in node.input if n in state]
        f = by_node.get(id(node))
        if f is not None:
            src = state.get(f.src)
            f.level = src.level if src is not None else None
            factor = level_factor(f)
            new = f.level * factor if f.level is not None and factor is not None else None
            for out in node.output:
                dims = sizes.get(out)
                state[out] = Flow(new, (dims[2], dims[3]) if _image_dims(dims, batch) else None,
                                   dims[1] if dims and len(dims) == 4 else None)
            continue
        if not ins:
            continue
        first = state[ins[0]]
        out = node.output[0]
        dims = sizes.get(out)
        if op in SHAPE_OPS and node.input[0] == ins[0]:
            flow = replace(first, chain=first.chain + (op,), filters=list(first.filters),
                           tail=first.tail or tails.get(ins[0]))
            if _image_dims(dims, batch) and first.ref is not None:
                flow = _end_chain(flow, node, dims, out in written, result, name_of, path_of)
            state[out] = flow
            continue
        if not _image_dims(dims, batch) and any(state[n].chain for n in ins):
            filt = _single_channel_filter(node, array) if op == "Conv" else None
            fixed = filt is not None or op in _SCALAR_OPS
            base = first if fixed else max((state[n] for n in ins),
                                           key=lambda s: -1 if s.level is None else s.level)
            state[out] = replace(base, chain=base.chain + (op,),
                                 filters=base.filters + ([filt] if filt else []),
                                 linear=base.linear and fixed, mixed=base.mixed or not fixed)
            continue
        images = [n for n in ins if _image_dims(sizes.get(n), batch)] or ins[:1]
        levels = [state[n].level for n in images if state[n].level is not None]
        level = max(levels) if levels else None
        pooled = dims is not None and (len(dims) < 3 or (len(dims) == 4 and dims[2] == dims[3] == 1))
        if pooled and any(_image_dims(d := sizes.get(n), batch) and (d[2], d[3]) != (1, 1)
                          for n in ins):
            level = None  # global pooling (to 1x1, or to a vector): context, not a level
        state[out] = Flow(level, (dims[2], dims[3]) if _image_dims(dims, batch) else None,
                           dims[1] if dims and len(dims) == 4 else None)
    result.level = {name: flow.level for name, flow in state.items()}
    return result


def _end_chain(flow: Flow, node, dims, known: bool, result: Levels, name_of, path_of) -> Flow:
    """A chain of shape ops reached an image: a pad or crop (same level), or a resampling
    written as reshapes (a new Found, unless a pattern already recorded it)."""
    hw = (int(dims[2]), int(dims[3]))
    if flow.mixed or not any(op in RESHAPE_OPS for op in flow.chain):
        return Flow(flow.level, hw, dims[1])
    r = near_integer(hw[0] / flow.ref[0])
    level = flow.level * r if flow.level is not None else None
    if same_level(hw[0] / flow.ref[0]) and same_level(hw[1] / flow.ref[1]):
        if flow.tail is not None and flow.linear and flow.filters:
            flow.tail.filters.extend(flow.filters)  # a blur written with reshapes
            flow.tail.tail = node.output[0]
        return Flow(flow.level, hw, dims[1])
    if known:  # already recorded by its pattern (zero insertion, unpooling)
        return Flow(level, hw, dims[1])
    found = reshape_resampling(flow.ref, hw, flow.channels, int(dims[1]), flow.chain,
                               flow.filters if flow.linear else [], flow.level)
    if found is None:
        result.unrecognised.append((node, f"reshapes change the spatial size from "
                                          f"{flow.ref[0]}x{flow.ref[1]} to {hw[0]}x{hw[1]} "
                                          "in a way the audit does not recognise"))
        return Flow(None, hw, dims[1])
    found.name = name_of(node)
    found.module_path = path_of(node)
    found.tail = node.output[0]
    result.found.append((node, found))
    return Flow(level, hw, dims[1])


def _single_channel_filter(node, array) -> Filter | None:
    """The Filter of a stride-1 single-channel Conv (``upfirdn2d``'s FIR on a reshaped
    tensor), else None."""
    if len(node.input) < 2:
        return None
    w = array(node.input[1])
    strides = [a.ints for a in node.attribute if a.name == "strides"]
    if w is None or w.ndim != 4 or w.shape[:2] != (1, 1) or (strides and max(strides[0]) > 1):
        return None
    return depthwise_filter(np.asarray(w, np.float64), 1, 1, f"FIR Conv {node.name}")
