"""The ONNX route: walking the graph to find the up- and downsampling layers.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..maths.overlap import conv_transpose_output_size
from . import guard, sandbox
from .analysis import (
    Filter,
    Found,
    analyse_layer,
    box_filter,
    chain_of,
    depthwise_filter,
    resolution_warning,
    size_fixup,
)
from .limits import (
    DOWN_OPS,
    MAX_BYTES,
    MAX_TENSOR_ELEMENTS,
    UP_OPS,
    AuditError,
)
from .onnx_flow import trace_levels
from .onnx_lookup import (
    OnnxGraph,
    attrs,
    bn_scale,
    dims_of,
    fold_shape_inputs,
    has_name_scopes,
    known,
    node_module_path,
    unfold_shape_inputs,
    weight_module_path,
    weight_shape,
)
from .probes import run_probes, trace_input
from .ranked_onnx import audit_ranked_onnx, ranked_input
from .read import folder_reader, load_onnx, read_model_bytes, read_upload
from .report import AuditReport

# ---------------------------------------------------------------------------------------
# ONNX: finding the layers
# ---------------------------------------------------------------------------------------


def _pairs(values, default: int) -> tuple[int, int]:
    values = list(values) if values is not None else []
    if len(values) >= 2:
        return int(values[0]), int(values[1])
    return (default, default)


def _onnx_candidates(g: OnnxGraph, skipped: list | None = None) -> list[tuple[Any, Found]]:
    """The resampling nodes of the main graph, with what the attributes say; those found
    but not judgeable go to ``skipped`` as ``(node, why)``."""
    found = []
    skipped = [] if skipped is None else skipped
    for node in g.model.graph.node:
        op = node.op_type
        if op in ("Pad", "ScatterND"):
            extra = _zero_insertion(g, node) if op == "Pad" else _unpool_scatter(g, node)
            if extra is not None:
                found.append((node, extra))
            continue
        if op not in UP_OPS + DOWN_OPS:
            continue
        if (node.domain or "", op) in g.local_functions:  # a call, not the operator
            skipped.append((node, f"a call of the model's local function {op!r}"))
            continue
        a = attrs(node)
        name = node.name or f"{op}_{len(found)}"
        f = Found(name=name, op=op, module_path=node_module_path(node))
        shared = len(node.input) > 1 and len(g.consumers.get(node.input[1], [])) > 1
        if op in ("Conv", "ConvTranspose") and not (shared and has_name_scopes(node)):
            # the weight's name (the scopes of a node the exporter fused with a BatchNorm
            # are the BatchNorm's), unless several nodes share the weight: the dynamo
            # exporter keeps one initializer for equal weights (FCN-8s's two bilinear
            # kernels), and each node's own scope names its module
            f.module_path = weight_module_path(g, node) or f.module_path
        if op in ("ConvTranspose", "Conv"):
            wshape = weight_shape(g, node.input[1]) if len(node.input) > 1 else None
            strides = a.get("strides") or []
            if wshape is not None and len(wshape) != 4:
                if max(strides, default=1) >= 2:  # a 1-D or 3-D resampling convolution
                    skipped.append((node, f"a {len(wshape) - 2}-D convolution; only 2-D "
                                          "layers are judged"))
                continue
            kernel = a.get("kernel_shape") or (wshape[2:] if wshape else None)
            if kernel is None or len(kernel) != 2:
                if max(strides, default=1) >= 2:
                    skipped.append((node, "its kernel size is unknown (no kernel_shape, and "
                                          "its weights are not constants of the graph)"))
                continue
            f.kernel = (int(kernel[0]), int(kernel[1]))
            f.stride = _pairs(a.get("strides"), 1)
            f.dilation = _pairs(a.get("dilations"), 1)
            pads = a.get("pads")
            f.pads = tuple(int(v) for v in pads) if pads and len(pads) == 4 else (0, 0, 0, 0)
            f.groups = int(a.get("group", 1))
            if op == "Conv":
                _fold_zero_pad(g, node, f)
            auto = a.get("auto_pad", b"NOTSET")
            auto = auto.decode() if isinstance(auto, bytes) else str(auto)
            if auto not in ("NOTSET", ""):
                f.pads = None  # derived from the sizes below
                f.mode = auto
            if op == "ConvTranspose":
                if max(f.stride) < 2:
                    continue  # stride 1: a convolution, not upsampling
                f.output_padding = _pairs(a.get("output_padding"), 0)
                if wshape:
                    f.in_channels, f.out_channels = int(wshape[0]), int(wshape[1]) * f.groups
            else:
                if max(f.stride) < 2:
                    continue
                if wshape:
                    f.out_channels, f.in_channels = int(wshape[0]), int(wshape[1]) * f.groups
            wname = node.input[1]
            f.weight = (lambda n=wname: g.array(n))
        elif op in ("MaxPool", "AveragePool", "LpPool"):
            kernel = a.get("kernel_shape")
            if kernel is None or len(kernel) != 2:
                if kernel is not None and max(a.get("strides") or [1]) >= 2:
                    skipped.append((node, f"a {len(kernel)}-D pooling; only 2-D layers are "
                                          "judged"))
                continue
            f.kernel = (int(kernel[0]), int(kernel[1]))
            f.stride = _pairs(a.get("strides"), 1)
            if max(f.stride) < 2:
                continue
            f.dilation = _pairs(a.get("dilations"), 1)
            pads = a.get("pads")
            f.pads = tuple(int(v) for v in pads) if pads and len(pads) == 4 else (0, 0, 0, 0)
        elif op in ("Resize", "Upsample"):
            mode = a.get("mode", b"nearest")
            f.mode = mode.decode() if isinstance(mode, bytes) else str(mode)
            ctm = a.get("coordinate_transformation_mode", b"half_pixel")
            ctm = ctm.decode() if isinstance(ctm, bytes) else str(ctm)
            if f.mode != "nearest" and op == "Resize":
                f.align_corners = ctm == "align_corners"
        elif op == "MaxUnpool":
            kernel = a.get("kernel_shape")
            if kernel is None or len(kernel) != 2:
                skipped.append((node, "not a 2-D unpooling"))
                continue
            f.kernel = (int(kernel[0]), int(kernel[1]))
            f.stride = _pairs(a.get("strides"), 1)
            pads = a.get("pads")
            f.pads = tuple(int(v) for v in pads) if pads and len(pads) == 4 else (0, 0, 0, 0)
        elif op in ("DepthToSpace", "SpaceToDepth"):
            f.block = int(a.get("blocksize", 1))
            if f.block < 2:
                continue
            f.stride = (f.block, f.block)
            if op == "DepthToSpace":
                mode = a.get("mode", b"DCR")
                f.d2s_mode = mode.decode() if isinstance(mode, bytes) else str(mode)
                _feed_subpixel(g, node, f)
        found.append((node, f))
    for node, f in found:
        f.src = f.src or node.input[0]
        f.tail = f.tail or node.output[0]
        if f.op in ("ConvTranspose", "DepthToSpace", "Resize", "Upsample", "ZeroInsertion",
                    "MaxUnpool"):
            f.filters, f.tail = _following_filters(g, f.tail)
    return found


def _fold_zero_pad(g: OnnxGraph, node, f: Found) -> None:
    """A constant zero Pad whose only consumer is this convolution is its padding
    (Xception's ``fixed_padding``: ``F.pad(x, (1, 1, 1, 1))`` then a conv with
    ``padding=0``): add it to ``f.pads`` and read the layer from the Pad's input, as the
    dynamo exporter's folded file and the live route do."""
    pad = g.producer.get(node.input[0])
    if pad is None or pad.op_type != "Pad" or _only_consumer(g, pad.output[0]) is not node:
        return
    mode = attrs(pad).get("mode", b"constant")
    value = g.array(pad.input[2]) if len(pad.input) > 2 and pad.input[2] else None
    pads = _const_pads(g, pad)
    if mode not in (b"constant", "constant") or (value is not None and np.any(value)) or \
            pads is None or len(pads) != 8 or any(pads[i] for i in (0, 1, 4, 5)) or \
            min(pads) < 0 or f.pads is None:
        return
    top, left, bottom, right = pads[2], pads[3], pads[6], pads[7]
    f.pads = (f.pads[0] + top, f.pads[1] + left, f.pads[2] + bottom, f.pads[3] + right)
    f.src = pad.input[0]


def _only_consumer(g: OnnxGraph, name: str):
    users = g.consumers.get(name, [])
    if len(users) != 1 or name in g.outputs:
        return None
    return users[0]


def _const_pads(g: OnnxGraph, node) -> list[int] | None:
    if len(node.input) < 2 or not node.input[1]:
        pads = attrs(node).get("pads")
        return list(pads) if pads is not None else None
    value = g.array(node.input[1])
    return None if value is None else [int(v) for v in np.ravel(value)]


def _zero_insertion(g: OnnxGraph, pad) -> Found | None:
    """Zero insertion written as reshape / pad / reshape (``upfirdn2d``'s reference:
    ``(N, C, H, 1, W, 1)`` padded to ``(N, C, H, u, W, u)``, reshaped to
    ``(N, C, uH, uW)``): an upsampling by ``u`` with a 1x1 kernel."""
    dims = g.sizes.get(pad.input[0])
    if not known(dims) or len(dims) != 6 or dims[3] != 1 or dims[5] != 1:
        return None
    pads = _const_pads(g, pad)
    mode = attrs(pad).get("mode", b"constant")
    if pads is None or len(pads) != 12 or (mode not in (b"constant", "constant")):
        return None
    begin, end = pads[:6], pads[6:]
    if any(begin) or end[:3] != [0, 0, 0] or end[4] != 0 or end[3] != end[5] or end[3] < 1:
        return None
    reshape = _only_consumer(g, pad.output[0])
    if reshape is None or reshape.op_type != "Reshape":
        return None
    first = g.producer.get(pad.input[0])
    src = first.input[0] if first is not None and first.op_type == "Reshape" else None
    if src is None:
        return None
    u = end[3] + 1
    f = Found(name=pad.name or f"ZeroInsertion_{pad.output[0]}", op="ZeroInsertion",
              module_path=node_module_path(pad), block=u, stride=(u, u), kernel=(1, 1),
              pads=(0, 0, 0, 0), in_channels=dims[1], out_channels=dims[1])
    f.src, f.tail = src, reshape.output[0]
    return f


def _unpool_scatter(g: OnnxGraph, scatter) -> Found | None:
    """``max_unpool2d`` as the dynamo exporter writes it: a ScatterND of the pooled
    values (reshaped flat) into zeros, reshaped to the larger map."""
    if len(scatter.input) < 3:
        return None
    upd = g.producer.get(scatter.input[2])
    src = upd.input[0] if upd is not None and upd.op_type == "Reshape" else None
    out = _only_consumer(g, scatter.output[0])
    if src is None or out is None or out.op_type != "Reshape":
        return None
    a, b = _spatial(g.sizes.get(src)), _spatial(g.sizes.get(out.output[0]))
    if a is None or b is None or b[0] % a[0] or b[1] % a[1] or b[0] // a[0] < 2:
        return None
    s = (b[0] // a[0], b[1] // a[1])
    f = Found(name=scatter.name or "MaxUnpool", op="MaxUnpool", kernel=s, stride=s,
              pads=(0, 0, 0, 0), module_path=node_module_path(scatter))
    f.src, f.tail = src, out.output[0]
    return f


def _channel_scale(g: OnnxGraph, node, tensor: str) -> np.ndarray | None | bool:
    """For Mul/Div/Add/Sub of ``tensor`` by a constant that is a scalar or per channel
    ``(1, C, 1, 1)``: the scale (Mul/Div), True (Add/Sub: no phase change), else None."""
    others = [n for n in node.input if n != tensor]
    if len(others) != 1:
        return None
    value = g.array(others[0])
    dims = g.sizes.get(others[0])
    per_channel = (value is not None and (value.size == 1 or (value.ndim == 4 and value.shape[0]
                   == 1 and value.shape[2:] == (1, 1)))) or (
        value is None and dims is not None and len(dims) == 4 and dims[2] == 1 and dims[3] == 1)
    if not per_channel:
        return None
    if node.op_type in ("Add", "Sub"):
        return True
    if value is None:
        return None
    value = np.ravel(value).astype(np.float64)
    if node.op_type == "Div":
        if np.any(value == 0):
            return None
        value = 1.0 / value
    return value


def _following_filters(g: OnnxGraph, tensor: str) -> tuple[list[Filter], str]:
    """The fixed linear filters after ``tensor`` before the next nonlinearity (see
    :class:`core.audit.analysis.Filter`), and the tensor they write."""
    filters: list[Filter] = []
    last = tensor  # written by the last filter (pads or crops after it do not count)
    count = 0
    while True:
        node = _only_consumer(g, tensor)
        if node is None or not node.output:
            break
        op = node.op_type
        first = node.input[0] == tensor if node.input else False
        dims_in, dims_out = g.sizes.get(tensor), g.sizes.get(node.output[0])
        if op in ("Identity", "Cast") or (op == "Slice" and first):
            pass
        elif op == "Pad" and first:
            mode = attrs(node).get("mode", b"constant")
            if mode not in (b"constant", "constant"):
                break
        elif op == "Reshape" and first and known(dims_in) and len(dims_in) == 4 \
                and known(dims_out) and len(dims_out) == 6 and dims_out[3] == dims_out[5] == 1:
            # upfirdn2d with up=1: (N, C, H, 1, W, 1), a zero-size pad, back to 4-D
            pad = _only_consumer(g, node.output[0])
            back = _only_consumer(g, pad.output[0]) if pad is not None else None
            pads = _const_pads(g, pad) if pad is not None and pad.op_type == "Pad" else None
            if back is None or back.op_type != "Reshape" or pads is None or any(pads) \
                    or g.sizes.get(back.output[0]) != dims_in:
                break
            node = back
        elif op == "Reshape" and first and known(dims_in) and dims_in == dims_out:
            pass
        elif op in ("Mul", "Div", "Add", "Sub"):
            value = _channel_scale(g, node, tensor)
            if value is None:
                break
            if value is not True:
                filters.append(Filter(f"{op} {node.name}", scale=value))
        elif op == "BatchNormalization" and first and len(node.input) >= 5:
            bn = bn_scale(g, node)
            if bn is None:
                break
            filters.append(Filter(f"BatchNormalization {node.name}", scale=bn))
        elif op == "Conv" and first and len(node.input) > 1:
            a = attrs(node)
            w = g.array(node.input[1])
            c = dims_in[1] if dims_in and len(dims_in) == 4 and dims_in[1] else \
                int(attrs(node).get("group", 1))  # unsized yet: depthwise if groups == C_w
            if w is None or w.ndim != 4 or w.shape[1] != 1 or max(_pairs(a.get("strides"), 1)) > 1 \
                    or max(_pairs(a.get("dilations"), 1)) > 1:
                break
            blur = depthwise_filter(w, int(a.get("group", 1)), c, f"depthwise Conv {node.name}")
            if blur is None:
                break
            filters.append(blur)
        elif op == "AveragePool" and first:
            a = attrs(node)
            k = a.get("kernel_shape")
            if k is None or len(k) != 2 or max(_pairs(a.get("strides"), 1)) > 1:
                break
            filters.append(box_filter(k[0], k[1], f"AveragePool {node.name}"))
        else:
            break
        tensor = node.output[0]
        if len(filters) != count:
            last, count = tensor, len(filters)
    return filters, last


def _feed_subpixel(g: OnnxGraph, node, f: Found) -> None:
    """The convolution feeding a DepthToSpace, through per-channel affine ops (an
    eval-mode BatchNorm, a scale, a bias): its weights, scaled, give the phase gains."""
    scale = None
    feeder = g.producer.get(node.input[0])
    while feeder is not None:
        if feeder.op_type == "Identity":
            pass
        elif feeder.op_type == "BatchNormalization" and len(feeder.input) >= 5:
            k = bn_scale(g, feeder)
            if k is None:
                return
            scale = k if scale is None else scale * k
        elif feeder.op_type in ("Mul", "Div", "Add", "Sub"):
            data = [n for n in feeder.input if g.producer.get(n) is not None
                    and g.array(n) is None]
            if len(data) != 1:
                return
            value = _channel_scale(g, feeder, data[0])
            if value is None:
                return
            if value is not True:
                scale = value if scale is None else scale * value
            feeder = g.producer.get(data[0])
            continue
        else:
            break
        feeder = g.producer.get(feeder.input[0])
    if feeder is None or feeder.op_type != "Conv" or len(feeder.input) < 2:
        return
    wname = feeder.input[1]
    shape = g.shape_of(wname)
    group = int(attrs(feeder).get("group", 1))
    if shape is not None and len(shape) == 4:
        f.source_channels = int(shape[1]) * group

    def weight(n=wname, k=scale):
        w = g.array(n)
        if w is None or k is None:
            return w
        k = np.ravel(k)
        return w * k.reshape(-1, 1, 1, 1) if k.size in (1, w.shape[0]) else None

    f.weight = weight


def _fix_input(model, input_shape: Sequence[int] | None) -> tuple[str, list[int], list[str]]:
    """Choose the one image input and fix its shape; set it in the model's input.

    Returns (name, shape, notes). Refuses inputs that cannot be fixed.
    """
    import onnx

    inits = {t.name for t in model.graph.initializer} | {
        s.values.name for s in model.graph.sparse_initializer}
    inputs = [i for i in model.graph.input if i.name not in inits]
    if len(inputs) != 1:
        names = ", ".join(repr(i.name) for i in inputs) or "none"
        raise AuditError(f"the model has {len(inputs)} inputs ({names}); the audit feeds one "
                         "image tensor (N, C, H, W)")
    vi = inputs[0]
    elem = vi.type.tensor_type.elem_type
    if elem not in (onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16, onnx.TensorProto.DOUBLE):
        raise AuditError(f"input {vi.name!r} is {onnx.TensorProto.DataType.Name(elem)}, not a "
                         "float image tensor")
    dims = dims_of(vi)
    notes = []
    if input_shape is not None:
        shape = [int(v) for v in input_shape]
        if len(shape) != 4 or min(shape) < 1:
            raise AuditError(f"--input-shape must be four positive integers N,C,H,W, got "
                             f"{input_shape}")
        if dims is not None:
            if len(dims) != 4:
                raise AuditError(f"input {vi.name!r} has rank {len(dims)}, but --input-shape "
                                 "gives four dimensions")
            for axis, (d, v) in enumerate(zip(dims, shape, strict=True)):
                if d is not None and d != v:
                    raise AuditError(f"--input-shape {','.join(map(str, shape))} does not match "
                                     f"the model's input {_shape_text(dims)} (axis {axis})")
    else:
        if dims is None or len(dims) != 4:
            what = "no declared shape" if dims is None else f"shape {_shape_text(dims)}"
            raise AuditError(f"input {vi.name!r} has {what}, and its spatial size cannot be "
                             "fixed: give --input-shape N,C,H,W (an image), N,C,L (a sound) "
                             "or N,C,D,H,W (a volume)")
        if dims[1] is None:
            raise AuditError(f"input {vi.name!r} has shape {_shape_text(dims)} with no fixed "
                             "channel count: give --input-shape N,C,H,W")
        side = guard.probe_side(dims[0] or 1, dims[1])
        shape = [dims[0] or 1, dims[1], dims[2] or side, dims[3] or side]
        if dims[2] is None or dims[3] is None:
            notes.append(f"input {vi.name!r} has a free spatial size {_shape_text(dims)}: "
                         f"audited at {shape[2]}x{shape[3]} (change it with --input-shape)"
                         + ("" if side == guard.DEFAULT_SIDE else
                            f"; {side}, not {guard.DEFAULT_SIDE}, so the probes' memory "
                            "stays within the audit's limit"))
    tshape = vi.type.tensor_type.shape
    del tshape.dim[:]
    for v in shape:
        tshape.dim.add().dim_value = v
    return vi.name, shape, notes


def _shape_text(dims) -> str:
    return "(" + ", ".join("?" if d is None else str(d) for d in dims) + ")"


def _session(box: sandbox.Sandbox, data: bytes, threads: int | None = None):
    return box.open(data, threads)  # the child process with time and memory budgets


def _ort_error(err: Exception, shape: Sequence[int]) -> AuditError:
    if isinstance(err, AuditError):  # a sandbox budget: its own message
        return err
    text = " ".join(str(err).split())[:300]
    return AuditError(f"onnxruntime cannot run the model at input shape "
                      f"{','.join(map(str, shape))} ({text}); give --input-shape N,C,H,W")


def _spatial(dims: list[int | None] | None) -> tuple[int, int] | None:
    if dims is None or len(dims) != 4 or dims[2] is None or dims[3] is None:
        return None
    return int(dims[2]), int(dims[3])


def audit_onnx(source: bytes | str | Path, input_shape: Sequence[int] | None = None, *,
               probes: bool = True, image: np.ndarray | None = None,
               name: str | None = None, max_bytes: int = MAX_BYTES, seed: int = 0,
               threads: int | None = None, external=None,
               output: str | int | None = None) -> AuditReport:
    """Audit an ONNX model (bytes or a path); see the module docstring.

    ``input_shape`` fixes ``(N, C, H, W)``; without it, a free batch becomes 1 and free
    height/width :data:`DEFAULT_SIDE`. ``probes=False`` skips running the model (the
    analysis alone; the model still runs once if shape inference cannot size a layer).
    ``image`` (H, W, 3) replaces the photograph probe. Raises :class:`AuditError`.

    External data (the dynamo exporter's ``model.onnx.data``) is read when ``source`` is
    a path and every location stays inside the model's folder, or through ``external``
    (a reader of :mod:`core.audit.read`; :func:`audit_onnx_files` for uploads).
    ``output`` names the graph output to audit (its name or index); by default the
    largest image-like one, and the report says which (``output_name``).
    """
    t0 = time.perf_counter()
    # the sandbox's child (shape inference, then the session) starts first: its Python and
    # onnx imports run beside this process's own (onnx, the parsing and the checks)
    box = sandbox.early()
    try:
        return _audit_in(box, t0, source, input_shape, probes=probes, image=image, name=name,
                         max_bytes=max_bytes, seed=seed, threads=threads, external=external,
                         output=output)
    finally:
        box.close()


def _audit_in(box: sandbox.Sandbox, t0: float, source, input_shape, *, probes, image, name,
              max_bytes, seed, threads, external, output) -> AuditReport:
    """:func:`audit_onnx` with its sandbox child ``box`` started."""
    import onnx

    if name is None:
        name = Path(source).name if isinstance(source, (str, Path)) else "uploaded model"
    data = read_model_bytes(source, max_bytes)
    if external is None and isinstance(source, (str, Path)):
        external = folder_reader(Path(source).absolute().parent, max_bytes)
    model = load_onnx(data, external, max_bytes)
    guard.check_graph(model)
    if model.ByteSize() != len(data):  # external data was copied in
        data = model.SerializeToString()
    if ranked_input(model, input_shape):  # a sound (N, C, L) or a volume (N, C, D, H, W)
        return audit_ranked_onnx(model, data, input_shape, name=name, probes=probes, seed=seed,
                                 threads=threads, t0=t0)
    input_name, shape, notes = _fix_input(model, input_shape)
    g = OnnxGraph(model)
    for node, f in _onnx_candidates(g):  # strides and kernels read from the attributes:
        if f.op not in ("Resize", "Upsample"):  # refused before shape inference (a resize's
            guard.check_layer(node, f, g.array, g.sizes)  # factor waits for the sizes)
    folded = fold_shape_inputs(model, g)
    try:
        g.sizes.update(sandbox.inferred_sizes(model, box))  # bounded in time and memory
    except AuditError:
        raise
    except Exception as err:  # noqa: BLE001 - shape inference is best effort
        notes.append(f"shape inference failed ({' '.join(str(err).split())[:120]}); sizes "
                     "measured by running the model")
    finally:
        unfold_shape_inputs(model, folded)
    g.sizes[input_name] = list(shape)
    _check_tensor_sizes(g.sizes)
    skipped: list = []
    candidates = _onnx_candidates(g, skipped)
    order = {id(node): i for i, node in enumerate(model.graph.node)}
    for node, f in candidates:  # before anything runs
        guard.check_layer(node, f, g.array, g.sizes)
    warnings = guard.subgraph_warnings(model) + guard.skipped_warning(skipped)
    names = [o.name for o in model.graph.output]
    wanted = list(names)
    for _, f in candidates:
        wanted += [f.src, f.tail]
    unsized = unsized_tensors(model.graph.node, g.sizes)
    missing = [n for n in dict.fromkeys(wanted) if _spatial(g.sizes.get(n)) is None]
    listed = set(missing)
    missing += [n for n in unsized if n not in listed]
    session = None
    dtype = {onnx.TensorProto.FLOAT16: np.float16, onnx.TensorProto.DOUBLE: np.float64}.get(
        model.graph.input[[i.name for i in model.graph.input].index(input_name)]
        .type.tensor_type.elem_type, np.float32)
    if missing:
        guard.check_blind_run(candidates, g.array, g.sizes, g.producer)
        extra = [n for n in missing if n not in g.outputs]
        for n in extra:
            model.graph.output.append(onnx.ValueInfoProto(name=n))
        try:
            session = _session(box, model.SerializeToString(), threads)
            outs = session.run(missing, {input_name: trace_input(shape, seed).astype(dtype)})
        except Exception as err:  # noqa: BLE001 - onnxruntime raises its own types
            raise _ort_error(err, shape) from err
        finally:
            del model.graph.output[len(model.graph.output) - len(extra):]
        for n, value in zip(missing, outs, strict=True):
            g.sizes[n] = list(np.shape(value))
        _check_tensor_sizes(g.sizes)
    output_name, note = choose_output(names, g.sizes, output)
    notes += [note] if note else []
    for _, f in candidates:
        in_dims, out_dims = g.sizes.get(f.src), g.sizes.get(f.tail)
        f.in_size, f.out_size = _spatial(in_dims), _spatial(out_dims)
        if f.in_channels is None and in_dims and len(in_dims) == 4:
            f.in_channels = in_dims[1]
        if f.out_channels is None and out_dims and len(out_dims) == 4:
            f.out_channels = out_dims[1]
        if f.pads is None and f.kernel and f.in_size and f.out_size:
            f.pads = _auto_pads(f)
    levels = trace_levels(model.graph.node, g.sizes, input_name, candidates, g.array,
                          lambda n: n.name or n.op_type, node_module_path)
    for _, f in levels.found:  # resampling written as reshapes: the filters after it
        if f.op in ("DepthToSpace", "Resize", "ZeroInsertion"):
            more, f.tail = _following_filters(g, f.tail)
            f.filters += more
    candidates = sorted(candidates + levels.found, key=lambda nf: order[id(nf[0])])
    warnings += guard.skipped_warning(levels.unrecognised)
    layers = [analyse_layer(f) for _, f in candidates if resamples(f)]
    out_dims = g.sizes.get(output_name)
    out_level = levels.level.get(output_name)
    chain = chain_of(layers, (shape[2], shape[3]), _spatial(out_dims), out_level)
    warnings += guard.scale_warning((shape[2], shape[3]), _spatial(out_dims), layers) or \
        resolution_warning((shape[2], shape[3]), _spatial(out_dims), out_level, layers)
    seconds = {"analysis": time.perf_counter() - t0}
    probe_report = None
    if probes:
        guard.check_probe_budget(shape, out_dims)
        t1 = time.perf_counter()
        try:
            session = session or _session(box, data, threads)
        except Exception as err:  # noqa: BLE001
            raise _ort_error(err, shape) from err

        def run(x: np.ndarray) -> np.ndarray:
            try:
                return session.run([output_name], {input_name: x.astype(dtype)})[0]
            except Exception as err:  # noqa: BLE001
                raise _ort_error(err, shape) from err

        probe_report = run_probes(run, shape, chain.period, image=image, seed=seed)
        seconds["probes"] = time.perf_counter() - t1
    return AuditReport(name, "onnx", input_name, list(shape),
                       list(out_dims) if out_dims else None, layers, chain, probe_report,
                       notes, seconds, warnings=warnings,
                       output_name=output_name if len(names) > 1 else None)


#: Most tensors of unknown size measured by running the model once (beyond these, only
#: the resampling layers' inputs and outputs are).
MAX_MEASURED_TENSORS = 2000


def unsized_tensors(nodes, sizes: dict[str, list[int | None]]) -> list[str]:
    """The node outputs whose size shape inference left unknown (sizes computed in the
    graph, as the TorchScript exporter writes ``F.pad`` of a computed size): the model is
    run once at the chosen input size to measure them, so levels and reshapes along the
    graph are read from real sizes. Empty when there are more than
    :data:`MAX_MEASURED_TENSORS`."""
    out = [name for node in nodes if node.op_type not in ("Shape", "Size", "Constant")
           for name in node.output if name and not known(sizes.get(name))]
    return out if len(out) <= MAX_MEASURED_TENSORS else []


def resamples(f: Found) -> bool:
    """False for a resize that does not resample: to the same size, or a 1x1 map of
    global context broadcast back to a feature map (no level of its own)."""
    if f.op not in ("Resize", "Upsample") or f.in_size is None:
        return True
    if size_fixup(f.in_size, f.out_size):
        return False  # a same-size resize (or a 2n-1 -> 2n fix-up) is not resampling
    return not (f.in_size == (1, 1) and f.level is None)


def choose_output(names: Sequence[str], sizes: dict[str, list[int | None]],
                  wanted: str | int | None) -> tuple[str, str | None]:
    """The graph output to audit: ``wanted`` (a name, or an index as int or digits), by
    default the largest image-like (4-D) one, the first on a tie; and a note when the
    model has several outputs and the choice was the default's."""
    if wanted is not None:
        if str(wanted) in names:
            return str(wanted), None
        if str(wanted).isdigit() and int(wanted) < len(names):
            return names[int(wanted)], None
        raise AuditError(f"--output {str(wanted)[:100]!r} names no output of the model (it has "
                         f"{', '.join(repr(n) for n in names[:10])})")
    if len(names) == 1:
        return names[0], None

    def size(name: str) -> int:
        dims = sizes.get(name)
        if not dims or len(dims) != 4 or any(d is None for d in dims):
            return -1
        return math.prod(dims)

    best = max(names, key=size)  # max keeps the first of equals
    others = ", ".join(repr(n) for n in names if n != best)
    return best, (f"the model has {len(names)} outputs: audited {best!r}, the largest "
                  f"image-like one (others: {others}; choose with --output)")


def _check_tensor_sizes(sizes: dict[str, list[int | None]]) -> None:
    """Refuse a model whose known tensor shapes exceed :data:`MAX_TENSOR_ELEMENTS`
    before anything runs (a network that would allocate tens of gigabytes)."""
    for name, dims in sizes.items():
        if dims and all(d is not None for d in dims):
            count = math.prod(dims)
            if count > MAX_TENSOR_ELEMENTS:
                raise AuditError(
                    f"tensor {name!r} would have shape {_shape_text(dims)}, "
                    f"{count:,} elements, over the {MAX_TENSOR_ELEMENTS:,} the audit "
                    f"allows ({MAX_TENSOR_ELEMENTS * 4 // 2**20:,} MiB of float32): refused; "
                    "give a smaller --input-shape")


def _auto_pads(f: Found) -> tuple[int, int, int, int]:
    """Pads of an ``auto_pad`` layer, from its sizes (SAME_UPPER puts the odd one last)."""
    pads = []
    for axis in (0, 1):
        k, s, d = f.kernel[axis], f.stride[axis], f.dilation[axis]
        n, m = f.in_size[axis], f.out_size[axis]
        if f.mode == "VALID":
            total = 0
        elif f.op == "ConvTranspose":
            total = max(0, conv_transpose_output_size(n, k, s, 0, d, f.output_padding[axis],
                                                      validate=False) - m)
        else:
            total = max(0, (m - 1) * s + (k - 1) * d + 1 - n)
        first = total // 2 if f.mode != "SAME_LOWER" else total - total // 2
        pads.append((first, total - first))
    return (pads[0][0], pads[1][0], pads[0][1], pads[1][1])




def audit_onnx_files(files: dict[str, bytes] | bytes, input_shape: Sequence[int] | None = None,
                     **kwargs) -> AuditReport:
    """Audit an uploaded model with its external data: ``files`` is ``{filename: bytes}``
    (the ``.onnx`` and its data file(s), e.g. ``model.onnx`` and ``model.onnx.data``) or
    the bytes of a zip of them. Locations must name uploaded files (no ``..``, no
    absolute path). Takes :func:`audit_onnx`'s keywords; raises :class:`AuditError`."""
    max_bytes = kwargs.get("max_bytes", MAX_BYTES)
    name, data, reader = read_upload(files, max_bytes)
    kwargs.setdefault("name", name)
    return audit_onnx(data, input_shape, external=reader, **kwargs)
