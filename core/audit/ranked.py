"""The audit of 1-D and 3-D networks (sounds ``(N, C, L)``, volumes ``(N, C, D, H, W)``):
one path for both ranks, on both routes.

The image audit (:mod:`~core.audit.analysis`, :mod:`~core.audit.torch_trace`,
:mod:`~core.audit.onnx_graph`) reads pairs ``(H, W)``; a network whose input has rank 3 or 5
comes here instead (``audit_module`` and ``audit_onnx`` hand it over). Every number is the
rank-generic maths of :mod:`core.maths`: the coverage of each layer's equivalent transposed
convolution along every axis (:func:`core.maths.overlap.coverage_report` of a 1-D or 3-D
input), its phase gains (:func:`core.maths.metrics.polyphase_gains` with ``dims``), the
imbalance, and the same verdict rule (:func:`core.audit.verdict.layer_offends`).

What is found: transposed convolutions, strided convolutions and poolings, nearest and
linear resizes (``Resize``/``Upsample``, ``F.interpolate``) at an integer factor per axis.
What is not: pixel-shuffle-like reshapes in 1-D/3-D and fixed filters after a layer (a
layer is judged alone; a blur after it is not credited) - such a network reads "not
judged" or "artifact", never a clean verdict it has not earned.

A free length is audited at a stated default: one second of audio at
:data:`~core.audit.limits.DEFAULT_AUDIO_RATE` Hz, i.e. ``ceil(rate / upsampling)`` frames,
the upsampling read from the strides; a free volume side at
:data:`~core.audit.limits.DEFAULT_VOLUME_SIDE`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from core.audit.analysis import layer_coverage
from core.audit.guard import check_probe_budget
from core.audit.limits import (
    DEFAULT_AUDIO_RATE,
    DEFAULT_VOLUME_SIDE,
    MAX_GAIN_ELEMENTS,
    MAX_KERNEL_EXTENT,
    MAX_LENGTH,
    MAX_RESAMPLING_LAYERS,
    MAX_STRIDE,
    MAX_TENSOR_ELEMENTS,
    AuditError,
    short_error,
)
from core.audit.report import AuditReport, Chain, LayerAudit
from core.audit.verdict import ARTIFACT, GRADIENT, NOT_JUDGED, OK, imbalanced, layer_offends
from core.maths.metrics import gain_imbalance, polyphase_gains

#: Input ranks this module audits, and the spatial axes of each.
RANKS = {3: 1, 5: 3}
AXES = {1: ("L",), 3: ("D", "H", "W")}


def input_rank(shape: Sequence[int | None] | None) -> int | None:
    """1 for ``(N, C, L)``, 3 for ``(N, C, D, H, W)``, None otherwise (images included)."""
    return RANKS.get(len(shape)) if shape is not None else None


def shape_text(shape: Sequence[int]) -> str:
    return ",".join(str(int(v)) for v in shape)


# ---------------------------------------------------------------------------------------
# One layer
# ---------------------------------------------------------------------------------------


@dataclass(eq=False)
class RankedFound:
    """A candidate layer of a 1-D or 3-D network, every tuple one entry per axis."""

    name: str
    op: str  # ConvTranspose, Conv, MaxPool, AveragePool, Resize
    dims: int
    kernel: tuple[int, ...] | None = None
    stride: tuple[int, ...] | None = None
    pads: tuple[int, ...] | None = None  # begin of each axis, then end of each (ONNX)
    dilation: tuple[int, ...] | None = None
    output_padding: tuple[int, ...] | None = None
    groups: int = 1
    mode: str | None = None
    in_channels: int | None = None
    out_channels: int | None = None
    in_size: tuple[int, ...] | None = None
    out_size: tuple[int, ...] | None = None
    weight: np.ndarray | None = None  # ConvTranspose: (C_in, C_out / groups, *k)
    module_path: str | None = None
    module: Any = None  # the live nn.Module (torch route)
    notes: list[str] = field(default_factory=list)


def _scale(f: RankedFound) -> tuple[float, ...] | None:
    if f.in_size is None or f.out_size is None:
        return None
    return tuple(o / i for i, o in zip(f.in_size, f.out_size, strict=True))


def _int_factor(x: float) -> int | None:
    r = round(x)
    return int(r) if r >= 1 and abs(x - r) < 1e-6 else None


def _overlap_args(f: RankedFound) -> dict[str, tuple[int, ...]] | None:
    """The transposed convolution whose coverage stands for the layer, per axis."""
    d = f.dims
    zeros, ones = (0,) * d, (1,) * d
    if f.op in ("ConvTranspose", "Conv", "MaxPool", "AveragePool") and f.kernel and f.stride:
        return {"kernel_size": f.kernel, "stride": f.stride,
                "padding": tuple(f.pads[:d]) if f.pads else zeros,
                "dilation": f.dilation or ones,
                "output_padding": (f.output_padding or zeros) if f.op == "ConvTranspose"
                else zeros}
    if f.op == "Resize":
        scale = _scale(f)
        length = {"nearest": 1, "linear": 2}.get((f.mode or "nearest").lower())
        if scale is None or length is None:
            return None
        if max(scale) < 1:
            s = tuple(_int_factor(1 / v) if v > 0 else None for v in scale)
            if None in s:
                return None
            return {"kernel_size": (length,) * d, "stride": s, "padding": zeros,
                    "dilation": ones, "output_padding": zeros}
        s = tuple(_int_factor(v) for v in scale)
        if None in s:
            return None
        return {"kernel_size": tuple(max(1, length * v) for v in s), "stride": s,
                "padding": zeros, "dilation": ones, "output_padding": zeros}
    return None


def _direction(f: RankedFound) -> str:
    if f.op == "Resize":
        scale = _scale(f)
        return "down" if scale is not None and max(scale) < 1 else "up"
    return "up" if f.op == "ConvTranspose" else "down"


def _dilate(weight: np.ndarray, dilation: tuple[int, ...]) -> np.ndarray:
    if all(v == 1 for v in dilation):
        return weight
    d = len(dilation)
    sizes = [(k - 1) * r + 1 for k, r in zip(weight.shape[-d:], dilation, strict=True)]
    out = np.zeros((*weight.shape[:-d], *sizes), weight.dtype)
    out[(Ellipsis, *[slice(None, None, r) for r in dilation])] = weight
    return out


def fix_code(layer: LayerAudit, dims: int) -> str | None:
    """PyTorch code for the fix of an offending layer of rank ``dims``: ``nn.Upsample`` +
    ``nn.Conv1d`` / ``nn.Conv3d`` (resize-convolution), or a window divisible by the
    stride for an uneven downsampler."""
    nd = f"{dims}d"
    c_in = layer.in_channels if layer.in_channels is not None else "in_channels"
    c_out = layer.out_channels if layer.out_channels is not None else "out_channels"
    stride = tuple(layer.stride or ())
    s_txt = stride[0] if len(set(stride)) == 1 else stride
    if layer.op == "ConvTranspose":
        k = max(layer.kernel or [3])
        k_fix = k if k % 2 else max(1, k - 1)
        even = tuple(s * math.ceil(kk / s) for kk, s in zip(layer.kernel, stride, strict=True))
        mode = "nearest"
        lines = [
            "import torch.nn as nn",
            "",
            "# Resize-convolution (Odena et al. 2016): nearest upsampling, then a convolution.",
            "# Every output phase sums the same taps: no periodic pattern (no tones at",
            "# k * rate / stride in a sound), at initialisation or after training.",
            "fix = nn.Sequential(",
            f"    nn.Upsample(scale_factor={s_txt}, mode=\"{mode}\"),",
            f"    nn.Conv{nd}({c_in}, {c_out}, kernel_size={k_fix}, padding={k_fix // 2}"
            + (f", groups={layer.groups}" if layer.groups and layer.groups > 1 else "") + "),",
            ")",
        ]
        if layer.uneven:
            lines += ["# Or a kernel divisible by the stride: even overlap, but it can still",
                      "# learn unequal phase gains (check phase_imbalance after training):",
                      f"#   nn.ConvTranspose{nd}({c_in}, {c_out}, kernel_size={even}, "
                      f"stride={s_txt})"]
        return "\n".join(lines)
    if layer.op in ("Conv", "MaxPool", "AveragePool") and layer.uneven:
        even = tuple(s * max(1, math.ceil(kk / s)) for kk, s in
                     zip(layer.kernel, stride, strict=True))
        line = (f"nn.Conv{nd}({c_in}, {c_out}, kernel_size={even}, stride={s_txt})"
                if layer.op == "Conv" else
                f"nn.{'Max' if layer.op == 'MaxPool' else 'Avg'}Pool{nd}(kernel_size={s_txt}, "
                f"stride={s_txt})")
        return "\n".join(["import torch.nn as nn", "",
                          "# Windows that overlap unevenly read some input samples more often:",
                          "# a checkerboard in the gradient. A window divisible by the stride:",
                          line])
    return None


def _check_limits(f: RankedFound) -> None:
    for what, values in (("stride", f.stride), ("kernel", f.kernel)):
        if values and any(v < 1 for v in values):
            raise AuditError(f"layer {f.name!r} ({f.op}) has a {what} below 1: {values}")
    if f.stride and max(f.stride) > MAX_STRIDE:
        raise AuditError(f"layer {f.name!r} ({f.op}) has stride {max(f.stride)}, above the "
                         f"audit's limit of {MAX_STRIDE}")
    if f.kernel:
        extent = max((k - 1) * d + 1 for k, d in
                     zip(f.kernel, f.dilation or (1,) * len(f.kernel), strict=True))
        if extent > MAX_KERNEL_EXTENT:
            raise AuditError(f"layer {f.name!r} ({f.op}) spans {extent} samples per axis, above "
                             f"the audit's limit of {MAX_KERNEL_EXTENT}")
    if f.weight is not None and f.stride and \
            f.weight.shape[0] * f.weight.shape[1] * math.prod(f.stride) > MAX_GAIN_ELEMENTS:
        raise AuditError(f"layer {f.name!r} ({f.op}) would need a phase-gain table above "
                         f"{MAX_GAIN_ELEMENTS:,} entries")
    if f.weight is not None and not np.all(np.isfinite(f.weight)):
        raise AuditError(f"layer {f.name!r} ({f.op}) has non-finite weight(s): its phase gains "
                         "are not numbers, refused")


def analyse_ranked(f: RankedFound) -> LayerAudit:
    """Verdicts on one layer of a 1-D or 3-D network: overlap, phase gains, severity, fix."""
    _check_limits(f)
    d = f.dims
    direction = _direction(f)
    scale = _scale(f)
    layer = LayerAudit(
        name=f.name, op=f.op, direction=direction, mode=f.mode,
        kernel=list(f.kernel) if f.kernel else None,
        stride=list(f.stride) if f.stride else
        ([_int_factor(v) or v for v in scale] if f.op == "Resize" and scale else None),
        padding=list(f.pads) if f.pads else None,
        dilation=list(f.dilation) if f.dilation else None,
        output_padding=list(f.output_padding) if f.op == "ConvTranspose" and f.output_padding
        else None,
        groups=f.groups if f.op in ("ConvTranspose", "Conv") else None,
        in_channels=f.in_channels, out_channels=f.out_channels,
        in_size=list(f.in_size) if f.in_size else None,
        out_size=list(f.out_size) if f.out_size else None,
        scale=[round(v, 6) for v in scale] if scale else None,
        overlap=_overlap_args(f), module_path=f.module_path, notes=list(f.notes),
    )
    layer.notes.append(f"a {d}-D layer ({', '.join(AXES[d])}): judged along every axis; "
                       "fixed filters after it are not credited")
    report = layer_coverage(layer)  # the image audit's, at every rank
    if report is not None:
        layer.interior_min = report.interior_stats.min
        layer.interior_max = report.interior_stats.max
        layer.uneven = report.interior_stats.max > report.interior_stats.min
    why = None
    if direction == "up":
        if f.op == "ConvTranspose" and f.weight is not None and f.stride:
            gains = polyphase_gains(_dilate(np.asarray(f.weight, np.float64),
                                            f.dilation or (1,) * d), f.stride, dims=d)
            layer.gains = gains
            layer.phase_imbalance = gain_imbalance(gains, dims=d)
            spread = gains.max(axis=tuple(range(-d, 0))) - gains.min(axis=tuple(range(-d, 0)))
            i, o = np.unravel_index(int(np.argmax(spread)), spread.shape)
            layer.worst_pair = (int(i), int(o))
        elif f.op == "ConvTranspose":
            why = "weights are not constants of the graph"
        elif f.op == "Resize" and layer.overlap is not None:
            layer.phase_imbalance = 0.0  # a fixed interpolation: every phase sums to one
        elif f.op == "Resize":
            why = f"no overlap model for a {f.mode} resize by {scale}"
        if layer_offends(layer):
            layer.severity = ARTIFACT
        elif layer.uneven is None or layer.phase_imbalance is None:
            layer.severity = NOT_JUDGED
        else:
            layer.severity = OK
        parts = []
        if layer.uneven:
            parts.append(f"uneven overlap (interior max/min {layer.interior_max}/"
                         f"{layer.interior_min})")
        elif layer.uneven is False:
            parts.append("even overlap")
        if layer.phase_imbalance is not None:
            parts.append(f"phase imbalance {layer.phase_imbalance:.3f}"
                         + (" > tolerance" if imbalanced(layer.phase_imbalance) else ""))
        if layer.severity == NOT_JUDGED:
            layer.verdict = f"not judged: {why or 'its phase gains are unknown'}" + (
                f" ({', '.join(parts)})" if parts else "")
        else:
            layer.verdict = ("checkerboard: " if layer.offending else "clean: ") + ", ".join(parts)
    else:
        layer.severity = GRADIENT if layer.uneven else OK
        layer.verdict = (f"windows overlap unevenly (input read {layer.interior_min} to "
                         f"{layer.interior_max} times): checkerboard in the gradient, not the "
                         "output" if layer.uneven else "every input sample read equally often")
    if layer.severity in (ARTIFACT, GRADIENT):
        layer.fix_code = fix_code(layer, d)
    return layer


def chain_ranked(layers: list[LayerAudit], in_size: Sequence[int],
                 out_size: Sequence[int] | None) -> Chain:
    """Factors and predicted period from the layers' strides and sizes: a layer's period is
    its stride times the upsampling after it (the output's size over its own, along the
    axis it resamples most); the network's is their lcm. Sets each up layer's ``period``."""
    periods = []
    ups = [la for la in layers if la.direction == "up"]
    downs = [la for la in layers if la.direction == "down"]
    for layer in ups:
        axis = int(np.argmax(layer.stride)) if layer.stride else 0
        s = layer.stride[axis] if layer.stride else None
        if not s or s < 2 or not out_size or not layer.out_size:
            continue
        after = _int_factor(out_size[axis] / layer.out_size[axis]) if layer.out_size[axis] \
            else None
        if after:
            layer.period = int(s * after)
            periods.append(layer.period)
    up = math.prod(max(la.stride) for la in ups if la.stride) if ups else 1
    down = math.prod(max(la.stride) for la in downs if la.stride) if downs else 1
    net = (out_size[-1] / in_size[-1]) if out_size else float("nan")
    return Chain(total_upsampling=float(up), total_downsampling=float(down),
                 net_scale=round(net, 6), period=math.lcm(*periods) if periods else 1,
                 upsampling_layers=len(ups),
                 offending_layers=sum(1 for la in layers if la.offending))


def report_ranked(source: str, kind: str, input_name: str, shape: list[int],
                  out_shape: list[int] | None, found: list[RankedFound], notes: list[str],
                  warnings: list[str], t0: float) -> AuditReport:
    """Analyse the found layers into a report (probes are added by the caller)."""
    if len(found) > MAX_RESAMPLING_LAYERS:
        raise AuditError(f"the model has {len(found)} resampling layers, above the audit's "
                         f"limit of {MAX_RESAMPLING_LAYERS}")
    layers = [analyse_ranked(f) for f in found]
    chain = chain_ranked(layers, shape[2:], out_shape[2:] if out_shape else None)
    return AuditReport(source, kind, input_name, shape, out_shape, layers, chain, None,
                       notes, {"analysis": time.perf_counter() - t0}, warnings=warnings)


# ---------------------------------------------------------------------------------------
# The ONNX route
# ---------------------------------------------------------------------------------------

_FOLDABLE = ("Constant", "Identity", "Cast", "Mul", "Div", "Add", "Sub", "Sqrt", "Pow",
             "ReduceL2", "ReduceSum", "Reshape", "Unsqueeze", "Squeeze", "Neg", "Abs")


def _fold(name: str, producer: dict, inits: dict, depth: int = 0) -> np.ndarray | None:
    """The value of a tensor computed from constants only (a weight-normed kernel:
    ``g * v / ||v||``), or None. Small, bounded numpy evaluator."""
    if name in inits:
        return inits[name]
    node = producer.get(name)
    if node is None or depth > 12 or node.op_type not in _FOLDABLE:
        return None
    from onnx import helper, numpy_helper

    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    if node.op_type == "Constant":
        value = attrs.get("value")
        return None if value is None else numpy_helper.to_array(value)
    args = [_fold(i, producer, inits, depth + 1) if i else None for i in node.input]
    if any(a is None for a in args[:1]):
        return None
    x = args[0]
    op = node.op_type
    try:
        if op in ("Identity", "Cast"):
            return x
        if op in ("Mul", "Div", "Add", "Sub", "Pow"):
            if args[1] is None:
                return None
            return {"Mul": np.multiply, "Div": np.divide, "Add": np.add, "Sub": np.subtract,
                    "Pow": np.power}[op](x, args[1])
        if op in ("Sqrt", "Neg", "Abs"):
            return {"Sqrt": np.sqrt, "Neg": np.negative, "Abs": np.abs}[op](x)
        if op in ("ReduceL2", "ReduceSum"):
            axes = attrs.get("axes")
            if axes is None and len(args) > 1 and args[1] is not None:
                axes = [int(v) for v in np.ravel(args[1])]
            axes = tuple(axes) if axes else None
            keep = bool(attrs.get("keepdims", 1))
            if op == "ReduceL2":
                return np.sqrt(np.sum(np.square(x), axis=axes, keepdims=keep))
            return np.sum(x, axis=axes, keepdims=keep)
        if op == "Reshape" and args[1] is not None:
            return x.reshape([int(v) for v in np.ravel(args[1])])
        if op in ("Unsqueeze", "Squeeze"):
            axes = attrs.get("axes") or ([int(v) for v in np.ravel(args[1])]
                                         if len(args) > 1 and args[1] is not None else None)
            if op == "Unsqueeze":
                return np.expand_dims(x, tuple(axes))
            return np.squeeze(x, tuple(axes) if axes else None)
    except (ValueError, TypeError, IndexError):
        return None
    return None


def _dims_of(vi) -> list[int | None] | None:
    t = vi.type.tensor_type
    if not t.HasField("shape"):
        return None
    return [d.dim_value if d.HasField("dim_value") and d.dim_value > 0 else None
            for d in t.shape.dim]


def _strides_product(model) -> int:
    """The upsampling the ConvTranspose strides and Resize scales of a graph multiply to
    (along their largest axis), read from attributes and constants only."""
    from onnx import helper, numpy_helper

    inits = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    total = 1
    for node in model.graph.node:
        if node.op_type == "ConvTranspose":
            strides = next((helper.get_attribute_value(a) for a in node.attribute
                            if a.name == "strides"), [1])
            total *= max(strides)
        elif node.op_type in ("Resize", "Upsample"):
            producer = {o: n for n in model.graph.node for o in n.output}
            for i in list(node.input)[1:]:
                value = _fold(i, producer, inits) if i else None
                if value is not None and value.dtype.kind == "f" and value.size >= 3:
                    total *= max(1, int(round(float(np.max(value[2:])))))
                    break
    return max(1, total)


def fix_ranked_input(model, input_shape: Sequence[int] | None) -> tuple[str, list[int], list[str]]:
    """The one float input of a 1-D or 3-D model with its shape fixed (a free batch 1, a
    free length one second of audio at :data:`DEFAULT_AUDIO_RATE` Hz over the strides'
    upsampling, a free volume side :data:`DEFAULT_VOLUME_SIDE`), set in the model."""
    inits = {t.name for t in model.graph.initializer}
    inputs = [i for i in model.graph.input if i.name not in inits]
    if len(inputs) != 1:
        raise AuditError(f"the model has {len(inputs)} inputs; the audit feeds one tensor")
    vi = inputs[0]
    dims = _dims_of(vi)
    notes: list[str] = []
    if input_shape is not None:
        shape = [int(v) for v in input_shape]
        if dims is not None and len(dims) != len(shape):
            raise AuditError(f"input {vi.name!r} has rank {len(dims)}, but --input-shape gives "
                             f"{len(shape)} dimensions")
        for axis, (d, v) in enumerate(zip(dims or shape, shape, strict=True)):
            if d is not None and dims is not None and d != v:
                raise AuditError(f"--input-shape {shape_text(shape)} does not match the model's "
                                 f"input (axis {axis}: {d})")
    else:
        if dims is None or dims[1] is None:
            raise AuditError(f"input {vi.name!r} has no fixed channel count: give "
                             "--input-shape N,C,L or N,C,D,H,W")
        rank = input_rank(dims)
        shape = [dims[0] or 1, dims[1]]
        if rank == 1:
            up = _strides_product(model)
            length = dims[2] or max(1, math.ceil(DEFAULT_AUDIO_RATE / up))
            shape.append(length)
            if dims[2] is None:
                notes.append(f"input {vi.name!r} has a free length: audited at {length} frames, "
                             f"one second of {DEFAULT_AUDIO_RATE:,} Hz audio at the strides' "
                             f"x{up} upsampling (change it with --input-shape N,C,L)")
        else:
            shape += [v or DEFAULT_VOLUME_SIDE for v in dims[2:]]
            if None in dims[2:]:
                notes.append(f"input {vi.name!r} has a free size: audited at "
                             f"{'x'.join(map(str, shape[2:]))} voxels (change it with "
                             "--input-shape N,C,D,H,W)")
    if min(shape) < 1 or max(shape[2:]) > MAX_LENGTH:
        raise AuditError(f"input shape {shape_text(shape)} is outside the audit's range "
                         f"(every dimension 1 to {MAX_LENGTH:,})")
    tshape = vi.type.tensor_type.shape
    del tshape.dim[:]
    for v in shape:
        tshape.dim.add().dim_value = v
    return vi.name, shape, notes


def _attr(node, name: str, default):
    from onnx import helper

    for a in node.attribute:
        if a.name == name:
            return helper.get_attribute_value(a)
    return default


def onnx_ranked_layers(model, sizes: dict[str, list[int | None]], dims: int) -> list[RankedFound]:
    """The resampling nodes of a 1-D or 3-D graph, with their sizes and folded weights."""
    from onnx import numpy_helper

    from core.audit.onnx_lookup import node_module_path

    inits = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    producer = {o: n for n in model.graph.node for o in n.output}
    found = []
    for node in model.graph.node:
        op = "Resize" if node.op_type == "Upsample" else node.op_type
        if op not in ("ConvTranspose", "Conv", "MaxPool", "AveragePool", "Resize"):
            continue
        din, dout = sizes.get(node.input[0]), sizes.get(node.output[0])
        if din is not None and len(din) != dims + 2:
            continue  # another rank inside the model (a 2-D branch): not this walker's
        f = RankedFound(name=node.name or node.op_type, op=op, dims=dims,
                        in_size=tuple(din[2:]) if din and None not in din[2:] else None,
                        out_size=tuple(dout[2:]) if dout and None not in dout[2:] else None,
                        in_channels=din[1] if din else None,
                        out_channels=dout[1] if dout else None,
                        module_path=node_module_path(node))
        if op == "Resize":
            f.mode = str(_attr(node, "mode", b"nearest"), "utf-8") \
                if isinstance(_attr(node, "mode", b"nearest"), bytes) else _attr(node, "mode", "nearest")
            if f.in_size is None or f.out_size is None or f.in_size == f.out_size:
                continue
        else:
            weight = _fold(node.input[1], producer, inits) if op in ("ConvTranspose", "Conv") \
                else None
            kernel = _attr(node, "kernel_shape", None)
            if kernel is None and weight is not None:
                kernel = list(weight.shape[2:])
            strides = list(_attr(node, "strides", [1] * dims))
            if kernel is None or max(strides) < 2:
                continue
            f.kernel, f.stride = tuple(int(v) for v in kernel), tuple(int(v) for v in strides)
            f.pads = tuple(int(v) for v in _attr(node, "pads", [0] * (2 * dims)))
            f.dilation = tuple(int(v) for v in _attr(node, "dilations", [1] * dims))
            f.groups = int(_attr(node, "group", 1))
            if op == "ConvTranspose":
                f.output_padding = tuple(int(v) for v in _attr(node, "output_padding",
                                                                [0] * dims))
                f.weight = weight
        found.append(f)
    return found


_RESAMPLING = ("ConvTranspose", "Conv", "MaxPool", "AveragePool", "Resize", "Upsample")


def _sizes_by_running(model, input_name: str, shape: list[int], names: list[str], seed: int,
                      threads: int | None) -> dict[str, list[int]]:
    """The shapes of ``names``, measured by running the model once on the first probe."""
    import onnx

    from core.audit.ranked_probes import onnx_runner, probe_input

    copy = onnx.ModelProto()
    copy.CopyFrom(model)
    present = {o.name for o in copy.graph.output}
    for name in names:
        if name not in present:
            copy.graph.output.append(onnx.ValueInfoProto(name=name))
    runs = onnx_runner(copy.SerializeToString(), input_name, names, shape, threads)
    return {name: list(np.shape(value)) for name, value in
            zip(names, runs(probe_input(shape, seed)), strict=True)}


def audit_ranked_onnx(model, data: bytes, input_shape: Sequence[int] | None, *, name: str,
                      probes: bool = True, seed: int = 0, threads: int | None = None,
                      t0: float | None = None) -> AuditReport:
    """Audit a loaded, checked ONNX model whose input is ``(N, C, L)`` or ``(N, C, D, H, W)``
    (``audit_onnx`` hands such models over)."""
    import onnx

    t0 = time.perf_counter() if t0 is None else t0
    input_name, shape, notes = fix_ranked_input(model, input_shape)
    dims = RANKS[len(shape)]
    sizes: dict[str, list[int | None]] = {}
    try:
        inferred = onnx.shape_inference.infer_shapes(model, strict_mode=False, data_prop=True)
        for vi in [*inferred.graph.input, *inferred.graph.value_info, *inferred.graph.output]:
            d = _dims_of(vi)
            if d is not None:
                sizes[vi.name] = d
    except Exception as err:  # noqa: BLE001 - shape inference is best effort
        notes.append(f"shape inference failed ({' '.join(str(err).split())[:120]})")
    sizes[input_name] = list(shape)
    output_name = model.graph.output[0].name
    wanted = [output_name] + [t for node in model.graph.node if node.op_type in _RESAMPLING
                              for t in (node.input[0], node.output[0])]
    missing = [t for t in dict.fromkeys(wanted) if sizes.get(t) is None or None in sizes[t]]
    if missing:  # computed pads (F.pad exported as graph arithmetic) hide the sizes: run once
        sizes.update(_sizes_by_running(model, input_name, shape, missing, seed, threads))
    for tensor, d in sizes.items():
        if None not in d and math.prod(d) > MAX_TENSOR_ELEMENTS:
            raise AuditError(f"tensor {tensor!r} would hold {math.prod(d):,} elements at input "
                             f"shape {shape_text(shape)}, above the audit's limit")
    found = onnx_ranked_layers(model, sizes, dims)
    out_dims = sizes.get(output_name)
    out_shape = list(out_dims) if out_dims and None not in out_dims else None
    warnings = []
    if len(model.graph.output) > 1:
        notes.append(f"the model has {len(model.graph.output)} outputs: audited the first, "
                     f"{output_name!r}")
    if any(f.in_size is None for f in found) or out_shape is None:
        warnings.append("some sizes could not be inferred: periods may be missing")
    report = report_ranked(name, "onnx", input_name, shape, out_shape, found, notes, warnings, t0)
    if probes:
        from core.audit.ranked_probes import onnx_runner, run_ranked_probes

        check_probe_budget(shape, out_shape)
        t1 = time.perf_counter()
        run = onnx_runner(data if model.ByteSize() == len(data) else model.SerializeToString(),
                          input_name, output_name, shape, threads)
        report.probes = run_ranked_probes(run, shape, report.chain.period, seed=seed)
        report.seconds["probes"] = time.perf_counter() - t1
    return report


# ---------------------------------------------------------------------------------------
# The torch route
# ---------------------------------------------------------------------------------------

_CALLS = {
    "conv_transpose1d": ("ConvTranspose", 1), "conv_transpose3d": ("ConvTranspose", 3),
    "conv1d": ("Conv", 1), "conv3d": ("Conv", 3),
    "max_pool1d": ("MaxPool", 1), "max_pool3d": ("MaxPool", 3),
    "avg_pool1d": ("AveragePool", 1), "avg_pool3d": ("AveragePool", 3),
    "interpolate": ("Resize", None),
}
_ARGS = {
    "ConvTranspose": ("input", "weight", "bias", "stride", "padding", "output_padding", "groups",
                      "dilation"),
    "Conv": ("input", "weight", "bias", "stride", "padding", "dilation", "groups"),
    "MaxPool": ("input", "kernel_size", "stride", "padding", "dilation"),
    "AveragePool": ("input", "kernel_size", "stride", "padding"),
    "Resize": ("input", "size", "scale_factor", "mode", "align_corners"),
}


def _tuple(value, d: int, default: int) -> tuple[int, ...]:
    if value is None or (isinstance(value, (list, tuple)) and not value):
        return (default,) * d
    if isinstance(value, (list, tuple)):
        return tuple(int(v) for v in value) if len(value) == d else (int(value[0]),) * d
    return (int(value),) * d


def trace_ranked(module, x) -> tuple[Any, list[RankedFound]]:
    """One forward pass of ``module`` on ``x``, recording its 1-D/3-D resampling calls with
    the module that made them (``F.conv_transpose1d`` inside an ``nn.ConvTranspose1d``...)."""
    import torch
    import torch.nn.functional as F
    from torch.overrides import TorchFunctionMode

    stack: list[tuple[str, Any]] = [("", module)]
    found: list[RankedFound] = []
    names = {getattr(F, n): n for n in _CALLS}

    class Mode(TorchFunctionMode):
        def __torch_function__(self, func, types, args=(), kwargs=None):
            kwargs = kwargs or {}
            out = func(*args, **kwargs)
            fname = names.get(func)
            if fname is not None:
                record(fname, args, kwargs, out)
            return out

    def record(fname: str, args, kwargs, out) -> None:
        op, _ = _CALLS[fname]
        bound = dict(zip(_ARGS[op], args, strict=False))
        bound.update(kwargs)
        xin = bound.get("input")
        if isinstance(out, tuple):
            out = out[0]
        if not isinstance(xin, torch.Tensor) or not isinstance(out, torch.Tensor) \
                or xin.ndim not in (3, 5) or out.ndim != xin.ndim:
            return
        d = xin.ndim - 2
        path, sub = stack[-1]
        f = RankedFound(name=path or type(module).__name__, op=op, dims=d,
                        in_size=tuple(xin.shape[2:]), out_size=tuple(out.shape[2:]),
                        in_channels=int(xin.shape[1]), out_channels=int(out.shape[1]),
                        module_path=path or None, module=sub)
        if op == "Resize":
            f.mode = {"trilinear": "linear", "bilinear": "linear", "nearest-exact": "nearest"}.get(
                str(bound.get("mode") or "nearest"), str(bound.get("mode") or "nearest"))
            if f.in_size == f.out_size:
                return
        else:
            if op in ("ConvTranspose", "Conv"):
                w = bound["weight"]
                f.kernel = tuple(int(v) for v in w.shape[2:])
                f.groups = int(bound.get("groups") or 1)
                if op == "ConvTranspose":
                    f.weight = w.detach().cpu().double().numpy()
                    f.output_padding = _tuple(bound.get("output_padding"), d, 0)
            else:
                f.kernel = _tuple(bound.get("kernel_size"), d, 1)
            f.stride = _tuple(bound.get("stride"), d, 1) if bound.get("stride") not in (None, []) \
                else (f.kernel if op in ("MaxPool", "AveragePool") else (1,) * d)
            if max(f.stride) < 2:
                return
            p = bound.get("padding", 0)
            begin = (0,) * d if isinstance(p, str) else _tuple(p, d, 0)
            f.pads = begin + begin
            f.dilation = _tuple(bound.get("dilation"), d, 1)
        found.append(f)

    def leave(*_) -> None:  # a forward hook returning a value would replace the output
        stack.pop()

    handles = []
    for path, sub in module.named_modules():
        handles.append(sub.register_forward_pre_hook(
            lambda _m, _a, path=path, sub=sub: stack.append((path, sub))))
        handles.append(sub.register_forward_hook(leave))
    try:
        with torch.no_grad(), Mode():
            y = module(x)
    finally:
        for h in handles:
            h.remove()
    return y, found


def audit_ranked_module(module, shape: list[int], *, probes: bool = True, measure: bool = True,
                        seed: int = 0, name: str | None = None) -> AuditReport:
    """Audit a live module fed ``(N, C, L)`` or ``(N, C, D, H, W)`` tensors (``audit_module``
    hands such shapes over); with ``measure`` each offending transposed convolution is
    swapped for its fix at initialisation and the probes' score measured."""
    import torch

    from core.audit.measured import ALL_LAYERS
    from core.audit.ranked_probes import measure_ranked_fixes, probe_input, run_ranked_probes
    from core.audit.torch_trace import eval_copy

    t0 = time.perf_counter()
    if len(shape) not in RANKS or min(shape) < 1 or max(shape[2:]) > MAX_LENGTH:
        raise AuditError(f"input_shape must be N,C,L or N,C,D,H,W of positive integers (every "
                         f"size up to {MAX_LENGTH:,}), got {shape}")
    module, notes = eval_copy(module)
    param = next(module.parameters(), None)
    dtype = param.dtype if param is not None else torch.float32
    x = torch.from_numpy(probe_input(shape, seed)).to(dtype)
    try:
        y, found = trace_ranked(module, x)
    except Exception as err:  # noqa: BLE001 - the user's forward may raise anything
        raise AuditError(f"the module's forward pass fails on input shape {shape_text(shape)}: "
                         f"{short_error(err)}") from err
    if not isinstance(y, torch.Tensor):
        raise AuditError("the module's forward returns no tensor; the 1-D/3-D audit reads one")
    report = report_ranked(name or type(module).__name__, "torch", "input", list(shape),
                           list(y.shape), found, notes, [], t0)
    if probes:
        check_probe_budget(shape, list(y.shape))
        t1 = time.perf_counter()

        def run(v: np.ndarray) -> np.ndarray:
            with torch.no_grad():
                return module(torch.from_numpy(v).to(dtype)).double().numpy()

        report.probes = run_ranked_probes(run, shape, report.chain.period, seed=seed)
        report.seconds["probes"] = time.perf_counter() - t1
        if measure and report.probes.checkerboard_score is not None:
            t2 = time.perf_counter()
            measured = measure_ranked_fixes(module, shape, found, report, seed=seed)
            report.fix_all = measured.pop(ALL_LAYERS, None)
            for layer in report.layers:
                if layer.name in measured:
                    layer.fix_measured = measured[layer.name]
            report.seconds["fixes"] = time.perf_counter() - t2
    return report


def ranked_input(model, input_shape: Sequence[int] | None) -> bool:
    """Whether a model's one input (or the given ``input_shape``) is a sound or a volume."""
    if input_shape is not None:
        return len(input_shape) in RANKS
    inits = {t.name for t in model.graph.initializer}
    inputs = [i for i in model.graph.input if i.name not in inits]
    dims = _dims_of(inputs[0]) if len(inputs) == 1 else None
    return dims is not None and len(dims) in RANKS
