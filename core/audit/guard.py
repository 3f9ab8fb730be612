"""Guards on an ONNX graph, run before any work: its size, each resampling layer's geometry,
the probes' memory, and the resampling layers the audit cannot judge (said in a warning,
never dropped silently).

Every bound is a constant of :mod:`core.audit.limits`; each refusal is one
:class:`~core.audit.limits.AuditError` line naming the node and the limit.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

from .analysis import Found
from .limits import (
    DEFAULT_SIDE,
    DOWN_OPS,
    MAX_GAIN_ELEMENTS,
    MAX_KERNEL_EXTENT,
    MAX_PROBE_BYTES,
    MAX_PROBE_ELEMENTS,
    MAX_RESAMPLING_LAYERS,
    MAX_STRIDE,
    MAX_TENSOR_ELEMENTS,
    PROBE_BYTES_PER_ELEMENT,
    UP_OPS,
    AuditError,
)
from .read import walk_graphs

__all__ = ["check_blind_run", "check_graph", "check_layer", "check_probe_budget",
           "check_torch_module", "check_torch_output", "probe_side", "scale_warning",
           "subgraph_warnings"]

#: Operators that resample (the graph walk's candidates; UP_OPS names Resize's old name,
#: Upsample, too).
RESAMPLING_OPS = frozenset(UP_OPS + DOWN_OPS)


def _label(node) -> str:
    return repr(node.name or node.op_type)


def check_graph(model) -> None:
    """Refuse a model with no output or more than :data:`MAX_RESAMPLING_LAYERS`
    resampling nodes, from the parsed graph alone, before shape inference (more than
    :data:`MAX_NODES` nodes were refused while reading, :func:`core.audit.read.load_onnx`)."""
    if not model.graph.output:
        raise AuditError("the model declares no output: there is nothing to audit")
    resampling = sum(1 for n in model.graph.node if n.op_type in RESAMPLING_OPS)
    if resampling > MAX_RESAMPLING_LAYERS:
        raise AuditError(f"the model has {resampling:,} resampling nodes, over the "
                         f"{MAX_RESAMPLING_LAYERS:,} the audit allows: refused")


def subgraph_warnings(model) -> list[str]:
    """Warnings for resampling nodes the graph walk does not reach: inside ``If``/``Loop``/
    ``Scan`` bodies or local functions."""
    hidden = [n for graph in list(walk_graphs(model.graph))[1:] for n in graph.node
              if n.op_type in RESAMPLING_OPS]
    for function in model.functions:
        hidden += [n for n in function.node if n.op_type in RESAMPLING_OPS]
    if not hidden:
        return []
    names = ", ".join(f"{_label(n)} ({n.op_type})" for n in hidden[:5])
    more = f" and {len(hidden) - 5} more" if len(hidden) > 5 else ""
    return [f"{len(hidden)} resampling node(s) inside If/Loop/Scan bodies or local functions "
            f"were not judged: {names}{more}. The audit judges the main graph only; its "
            "verdicts and period leave these out"]


def skipped_warning(skipped: Sequence[tuple[object, str]]) -> list[str]:
    """One warning naming the main-graph resampling nodes found but not judged, and why."""
    if not skipped:
        return []
    parts = [f"{_label(node)} ({node.op_type}: {why})" for node, why in skipped[:5]]
    more = f" and {len(skipped) - 5} more" if len(skipped) > 5 else ""
    return [f"{len(skipped)} resampling layer(s) found but not judged: {'; '.join(parts)}"
            f"{more}. The verdicts and the predicted period leave them out"]


def _positive(values: Sequence[int], what: str, node) -> None:
    if any(int(v) < 1 for v in values):
        raise AuditError(f"node {_label(node)}: {what} {list(values)} must be positive")


def check_layer(node, f: Found, array: Callable[[str], np.ndarray | None],
                sizes: dict[str, list[int | None]]) -> None:
    """Refuse a layer whose geometry would make the analysis (or the model) explode: a
    stride, block or resize factor over :data:`MAX_STRIDE`, a kernel extent over
    :data:`MAX_KERNEL_EXTENT`, a phase-gain table over :data:`MAX_GAIN_ELEMENTS`; from
    the attributes and constant inputs, before anything runs."""
    if f.stride is not None:
        _positive(f.stride, "stride", node)
        if max(f.stride) > MAX_STRIDE:
            raise AuditError(f"node {_label(node)} ({f.op}) has stride "
                             f"{'x'.join(map(str, f.stride))}, over the {MAX_STRIDE} the audit "
                             "allows: refused")
    if f.kernel is not None:
        _positive(f.kernel, "kernel", node)
        _positive(f.dilation, "dilation", node)
        extent = max((k - 1) * d + 1 for k, d in zip(f.kernel, f.dilation, strict=True))
        if extent > MAX_KERNEL_EXTENT:
            raise AuditError(f"node {_label(node)} ({f.op}) has a kernel {extent} pixels wide, "
                             f"over the {MAX_KERNEL_EXTENT} the audit allows: refused")
    if f.stride is not None and f.in_channels and f.out_channels:
        gains = f.in_channels * f.out_channels * max(f.stride) ** 2
        if gains > MAX_GAIN_ELEMENTS:
            raise AuditError(f"node {_label(node)} ({f.op}): its phase gains would hold "
                             f"{gains:,} values ({f.in_channels}x{f.out_channels} channels, "
                             f"stride {max(f.stride)}), over the {MAX_GAIN_ELEMENTS:,} the "
                             "audit allows: refused")
    if f.op in ("Resize", "Upsample"):
        factor = _resize_factor(node, array, sizes)
        if factor is not None and (not math.isfinite(factor) or factor > MAX_STRIDE):
            raise AuditError(f"node {_label(node)} ({f.op}) resizes by {factor:g}, over the "
                             f"{MAX_STRIDE} the audit allows: refused")


def check_blind_run(candidates: Sequence[tuple[object, Found]],
                    array: Callable[[str], np.ndarray | None],
                    sizes: dict[str, list[int | None]], producer: dict | None = None) -> None:
    """Before the model is run once to measure the sizes shape inference left unknown:
    refuse when a Resize/Upsample whose output size is unknown has a factor computed at
    run time (no constant scales or sizes) from anything but other tensors' shapes
    (:func:`sized_from_shapes`): its output cannot be bounded beforehand."""
    for node, f in candidates:
        if f.op not in ("Resize", "Upsample") or not node.output:
            continue
        dims = sizes.get(node.output[0])
        if dims and all(d is not None for d in dims):
            continue
        target = node.input[3] if len(node.input) > 3 and node.input[3] else None
        if target and producer is not None and sized_from_shapes(target, producer, array):
            continue  # e.g. F.interpolate(x, size=skip.shape[2:]): as large as a tensor is
        if _resize_factor(node, array, sizes) is None:
            raise AuditError(
                f"node {_label(node)} ({f.op}) resizes by a factor computed at run time, and "
                "shape inference cannot size its output: the audit will not run it without a "
                f"bound (at most x{MAX_STRIDE}): refused")


def _resize_factor(node, array, sizes) -> float | None:
    """The largest spatial factor of a Resize/Upsample from its constant scales or sizes."""
    scales = None
    if node.op_type == "Upsample" and len(node.input) > 1:
        scales = array(node.input[1])
    elif len(node.input) > 2 and node.input[2]:
        scales = array(node.input[2])
    if scales is not None and np.size(scales):
        values = np.abs(np.ravel(scales).astype(np.float64))[-2:]
        return float(values.max())
    if len(node.input) > 3 and node.input[3]:
        target = array(node.input[3])
        src = sizes.get(node.input[0])
        if target is not None and src and len(src) >= 2 and all(src[-2:]) \
                and np.size(target) >= 2:
            target = np.ravel(target).astype(np.float64)[-2:]
            return float(max(target[0] / src[-2], target[1] / src[-1]))
    return None


def probe_side(n: int, channels: int) -> int:
    """The side a free height/width is fixed to: :data:`DEFAULT_SIDE`, or less (a multiple
    of 32, at least 32) when ``n x channels x side^2`` input elements would take more than
    half of :data:`MAX_PROBE_ELEMENTS` (the output needs the other half)."""
    side = DEFAULT_SIDE
    while side > 32 and n * channels * side * side > MAX_PROBE_ELEMENTS // 2:
        side -= 32
    return side


def check_probe_budget(input_shape: Sequence[int], output_dims: Sequence[int | None] | None
                       ) -> None:
    """Refuse probes whose input plus output elements exceed :data:`MAX_PROBE_ELEMENTS`
    (:data:`PROBE_BYTES_PER_ELEMENT` bytes each: :data:`MAX_PROBE_BYTES` in all)."""
    count = math.prod(int(v) for v in input_shape)
    if output_dims and all(d is not None for d in output_dims):
        count += math.prod(int(d) for d in output_dims)
    if count > MAX_PROBE_ELEMENTS:
        raise AuditError(
            f"the probes would run on {count:,} input and output elements, over the "
            f"{MAX_PROBE_ELEMENTS:,} the audit allows ({PROBE_BYTES_PER_ELEMENT} bytes each, "
            f"{MAX_PROBE_BYTES // 2**20:,} MiB in all): refused; give a smaller "
            "--input-shape, or --no-probes for the layer analysis alone")


#: torch modules that resample (or may: every convolution and pooling), counted as the
#: ONNX route counts RESAMPLING_OPS nodes.
_TORCH_RESAMPLING = ("ConvTranspose", "Conv", "Upsample", "UpsamplingNearest",
                     "UpsamplingBilinear", "PixelShuffle", "PixelUnshuffle", "MaxPool",
                     "AvgPool", "LPPool", "MaxUnpool", "AdaptiveMaxPool", "AdaptiveAvgPool")


def check_torch_module(module, input_shape: Sequence[int], probes: bool) -> None:
    """The ONNX route's caps on the torch route, before the module's forward runs: at
    most :data:`MAX_RESAMPLING_LAYERS` resampling modules, an input of at most
    :data:`MAX_TENSOR_ELEMENTS` elements, and (with probes) the probe budget on it."""
    count = sum(1 for m in module.modules()
                if type(m).__module__.startswith("torch.nn")
                and type(m).__name__.rstrip("123d") in _TORCH_RESAMPLING)
    if count > MAX_RESAMPLING_LAYERS:
        raise AuditError(f"the module has {count:,} resampling modules (convolutions, "
                         f"upsampling, pooling), over the {MAX_RESAMPLING_LAYERS:,} the audit "
                         "allows: refused")
    elements = math.prod(int(v) for v in input_shape)
    if elements > MAX_TENSOR_ELEMENTS:
        raise AuditError(f"--input-shape {','.join(map(str, input_shape))} is {elements:,} "
                         f"elements, over the {MAX_TENSOR_ELEMENTS:,} the audit allows for one "
                         "tensor: refused")
    if probes:
        check_probe_budget(input_shape, None)


def check_torch_output(output_shape: Sequence[int] | None, input_shape: Sequence[int],
                       probes: bool) -> None:
    """After the one recorded forward pass: its output within :data:`MAX_TENSOR_ELEMENTS`
    and, with probes, input plus output within the probe budget."""
    if not output_shape:
        return
    elements = math.prod(int(v) for v in output_shape)
    if elements > MAX_TENSOR_ELEMENTS:
        raise AuditError(f"the module's output {list(output_shape)} is {elements:,} elements, "
                         f"over the {MAX_TENSOR_ELEMENTS:,} the audit allows: refused; give a "
                         "smaller --input-shape")
    if probes:
        check_probe_budget(input_shape, output_shape)


def scale_warning(in_size: tuple[int, int] | None, out_size: tuple[int, int] | None,
                  layers: Sequence) -> list[str]:
    """A warning when the output's size is not explained by the judged layers: it grows
    with no upsampling layer judged, or shrinks with no downsampling layer judged."""
    if not in_size or not out_size:
        return []
    up = any(la.direction == "up" for la in layers)
    down = any(la.direction == "down" for la in layers)
    grows = out_size[0] > in_size[0] or out_size[1] > in_size[1]
    shrinks = out_size[0] < in_size[0] or out_size[1] < in_size[1]
    if (grows and not up) or (shrinks and not down and not up):
        what = "grows" if grows else "shrinks"
        return [f"the output {what} from {in_size[0]}x{in_size[1]} to {out_size[0]}x"
                f"{out_size[1]} px, but no {'up' if grows else 'down'}sampling layer was "
                "judged: the resampling is done by layers the audit does not recognise, so "
                "'no checkerboard layer' is not a verdict on this network"]
    return []


#: Operators that carry sizes taken from shapes without growing them.
_SIZE_OPS = frozenset({"Shape", "Gather", "Slice", "Concat", "Cast", "Unsqueeze", "Squeeze",
                       "Identity", "Reshape", "Floor", "Ceil", "Constant"})


def sized_from_shapes(name: str, producer: dict, array: Callable[[str], np.ndarray | None],
                      depth: int = 0) -> bool:
    """Whether the tensor ``name`` (a Resize's ``sizes``) is computed only from other
    tensors' shapes, with constant offsets and multipliers of at most
    :data:`MAX_STRIDE` (the TorchScript exporter writes ``size=skip.shape[2:]`` and
    computed pads so): the resized output is then at most ``MAX_STRIDE`` times a tensor
    that exists, and running the model once to measure it is bounded."""
    if array(name) is not None:
        return True
    node = producer.get(name)
    if node is None or depth > 24:
        return False
    if node.op_type == "Shape":
        return True
    if node.op_type in ("Mul", "Add", "Sub", "Div"):
        values = [array(n) for n in node.input]
        consts = [v for v in values if v is not None]
        if len(consts) != 1 or not np.size(consts[0]):
            return False
        c = float(np.max(np.abs(np.asarray(consts[0], np.float64))))
        if node.op_type == "Mul" and c > MAX_STRIDE:
            return False
        if node.op_type == "Div" and values[1] is None:
            return False  # a constant over a size can grow without bound
        if node.op_type in ("Add", "Sub") and c > MAX_KERNEL_EXTENT:
            return False
        data = [n for n, v in zip(node.input, values, strict=True) if v is None]
        return sized_from_shapes(data[0], producer, array, depth + 1)
    if node.op_type not in _SIZE_OPS:
        return False
    inputs = node.input[:1] if node.op_type in ("Gather", "Slice", "Reshape", "Unsqueeze",
                                                  "Squeeze") else node.input
    return all(sized_from_shapes(n, producer, array, depth + 1) for n in inputs if n)
