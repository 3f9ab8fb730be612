"""The ONNX route of the sound and volume audit: fix the input's shape (a free length at its
stated default), read every resampling node with its folded weights (a weight-normed kernel
``g * v / ||v||`` computed in the graph is folded with numpy), size the tensors (by shape
inference, else by running the model once) and analyse them with :mod:`core.audit.ranked`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence

import numpy as np

from .guard import check_probe_budget
from .limits import (
    DEFAULT_AUDIO_RATE,
    DEFAULT_VOLUME_SIDE,
    MAX_LENGTH,
    MAX_TENSOR_ELEMENTS,
    AuditError,
)
from .onnx_lookup import dims_of
from .ranked import RANKS, RankedFound, input_rank, report_ranked, reshape_found, shape_text
from .report import AuditReport

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
    dims = dims_of(vi)
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

    from .onnx_lookup import node_module_path

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
#: Operators that only move data: a chain of them between two signals of different sizes
#: is a pixel shuffle written as reshapes (or a nearest upsampling by copies).
_SHAPE = ("Reshape", "Transpose", "Identity", "Squeeze", "Unsqueeze", "Flatten", "Expand",
          "Tile")


def onnx_reshape_layers(model, sizes: dict[str, list[int | None]],
                        dims: int) -> list[RankedFound]:
    """The pixel shuffles a 1-D or 3-D graph writes as Reshape/Transpose chains, each with
    the stride-1 Conv feeding it (its folded weights give the phase gains)."""
    from onnx import numpy_helper

    from .onnx_lookup import node_module_path

    inits = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    producer = {o: n for n in model.graph.node for o in n.output}

    def signal(name: str) -> list[int] | None:
        d = sizes.get(name)
        return d if d is not None and len(d) == dims + 2 and None not in d else None

    chains: dict[str, tuple[str, tuple[str, ...]]] = {}  # tensor -> (origin signal, ops)
    found = []
    for node in model.graph.node:
        if node.op_type not in _SHAPE or not node.input or not node.output:
            continue
        src = node.input[0]
        origin, ops = chains.get(src, (src, ()))
        start, end = signal(origin), signal(node.output[0])
        if start is None:
            continue
        ops = ops + (node.op_type,)
        if end is None or end[0] != start[0]:
            chains[node.output[0]] = (origin, ops)
            continue
        if end[2:] == start[2:]:
            continue  # a same-size rearrangement: the chain restarts here
        conv = producer.get(origin)
        weight = None
        if conv is not None and conv.op_type == "Conv" and \
                max(_attr(conv, "strides", [1] * dims)) == 1 and len(conv.input) > 1:
            weight = _fold(conv.input[1], producer, inits)
        f = reshape_found(node.name or node.op_type, start[2:], end[2:], start[1], end[1],
                          ops, weight)
        if f is not None:
            f.module_path = node_module_path(node)
            found.append(f)
    return found


def _sizes_by_running(model, input_name: str, shape: list[int], names: list[str], seed: int,
                      threads: int | None) -> dict[str, list[int]]:
    """The shapes of ``names``, measured by running the model once on the first probe."""
    import onnx

    from .ranked_probes import onnx_runner, probe_input

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
            d = dims_of(vi)
            if d is not None:
                sizes[vi.name] = d
    except Exception as err:  # noqa: BLE001 - shape inference is best effort
        notes.append(f"shape inference failed ({' '.join(str(err).split())[:120]})")
    sizes[input_name] = list(shape)
    output_name = model.graph.output[0].name
    wanted = [output_name] + [t for node in model.graph.node
                              if node.op_type in _RESAMPLING + _SHAPE and node.input
                              for t in (node.input[0], node.output[0])]
    missing = [t for t in dict.fromkeys(wanted) if sizes.get(t) is None or None in sizes[t]]
    if missing:  # computed pads (F.pad exported as graph arithmetic) hide the sizes: run once
        sizes.update(_sizes_by_running(model, input_name, shape, missing, seed, threads))
    for tensor, d in sizes.items():
        if None not in d and math.prod(d) > MAX_TENSOR_ELEMENTS:
            raise AuditError(f"tensor {tensor!r} would hold {math.prod(d):,} elements at input "
                             f"shape {shape_text(shape)}, above the audit's limit")
    found = onnx_ranked_layers(model, sizes, dims) + onnx_reshape_layers(model, sizes, dims)
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
        from .ranked_probes import onnx_runner, run_ranked_probes

        check_probe_budget(shape, out_shape)
        t1 = time.perf_counter()
        run = onnx_runner(data if model.ByteSize() == len(data) else model.SerializeToString(),
                          input_name, output_name, shape, threads)
        report.probes = run_ranked_probes(run, shape, report.chain.period, seed=seed)
        report.seconds["probes"] = time.perf_counter() - t1
    return report


def ranked_input(model, input_shape: Sequence[int] | None) -> bool:
    """Whether a model's one input (or the given ``input_shape``) is a sound or a volume."""
    if input_shape is not None:
        return len(input_shape) in RANKS
    inits = {t.name for t in model.graph.initializer}
    inputs = [i for i in model.graph.input if i.name not in inits]
    dims = dims_of(inputs[0]) if len(inputs) == 1 else None
    return dims is not None and len(dims) in RANKS
