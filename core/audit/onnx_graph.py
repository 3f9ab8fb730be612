"""The ONNX route: walking the graph to find the up- and downsampling layers.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from core.audit.analysis import _analyse, _chain, _Found
from core.audit.limits import (
    DEFAULT_SIDE,
    DOWN_OPS,
    MAX_BYTES,
    MAX_TENSOR_ELEMENTS,
    UP_OPS,
    AuditError,
)
from core.audit.probes import _run_probes
from core.audit.read import load_onnx, read_model_bytes
from core.audit.report import AuditReport

# ---------------------------------------------------------------------------------------
# ONNX: finding the layers
# ---------------------------------------------------------------------------------------


def _attrs(node) -> dict[str, Any]:
    import onnx

    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def _dims(value_info) -> list[int | None] | None:
    """Dimensions of a ValueInfoProto (None for symbolic or unknown), None if no shape."""
    t = value_info.type.tensor_type
    if not t.HasField("shape"):
        return None
    return [d.dim_value if d.HasField("dim_value") and d.dim_value > 0 else None
            for d in t.shape.dim]


def _module_path(node_name: str) -> str | None:
    """``/up1/deconv/ConvTranspose`` (a torch.onnx.export name) -> ``up1.deconv``."""
    if not node_name.startswith("/"):
        return None
    parts = node_name.strip("/").split("/")[:-1]
    path = ""
    for part in parts:
        if path and part.startswith(path + "."):
            path = part
        else:
            path = f"{path}.{part}" if path else part
    return path or None


class _Graph:
    """Lookups over a parsed model: constants by name, producers, tensor sizes."""

    def __init__(self, model) -> None:
        from onnx import numpy_helper

        self.model = model
        self._numpy = numpy_helper.to_array
        graph = model.graph
        self.initializers = {t.name: t for t in graph.initializer}
        self.constants = {}
        self.producer = {}
        for node in graph.node:
            for out in node.output:
                self.producer[out] = node
            if node.op_type == "Constant" and node.output:
                attrs = {a.name: a for a in node.attribute}
                if "value" in attrs:
                    self.constants[node.output[0]] = attrs["value"].t
        self.sizes: dict[str, list[int | None]] = {}

    def array(self, name: str) -> np.ndarray | None:
        tensor = self.initializers.get(name) or self.constants.get(name)
        if tensor is None:
            return None
        return self._numpy(tensor)

    def shape_of(self, name: str) -> tuple[int, ...] | None:
        tensor = self.initializers.get(name) or self.constants.get(name)
        return tuple(tensor.dims) if tensor is not None else None


def _pairs(values, default: int) -> tuple[int, int]:
    values = list(values) if values is not None else []
    if len(values) >= 2:
        return int(values[0]), int(values[1])
    return (default, default)


def _onnx_candidates(g: _Graph) -> list[tuple[Any, _Found]]:
    """The resampling nodes of the main graph, with what the attributes say."""
    found = []
    for node in g.model.graph.node:
        op = node.op_type
        if op not in UP_OPS + DOWN_OPS:
            continue
        a = _attrs(node)
        name = node.name or f"{op}_{len(found)}"
        f = _Found(name=name, op=op, module_path=_module_path(node.name))
        if op in ("ConvTranspose", "Conv"):
            wshape = g.shape_of(node.input[1]) if len(node.input) > 1 else None
            if wshape is not None and len(wshape) != 4:
                continue  # 1-D or 3-D convolutions: not audited
            kernel = a.get("kernel_shape") or (wshape[2:] if wshape else None)
            if kernel is None or len(kernel) != 2:
                continue
            f.kernel = (int(kernel[0]), int(kernel[1]))
            f.stride = _pairs(a.get("strides"), 1)
            f.dilation = _pairs(a.get("dilations"), 1)
            pads = a.get("pads")
            f.pads = tuple(int(v) for v in pads) if pads and len(pads) == 4 else (0, 0, 0, 0)
            f.groups = int(a.get("group", 1))
            auto = a.get("auto_pad", b"NOTSET")
            auto = auto.decode() if isinstance(auto, bytes) else str(auto)
            if auto not in ("NOTSET", ""):
                f.pads = None  # derived from the sizes below
                f.mode = auto
            if op == "ConvTranspose":
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
        elif op in ("DepthToSpace", "SpaceToDepth"):
            f.block = int(a.get("blocksize", 1))
            if f.block < 2:
                continue
            f.stride = (f.block, f.block)
            if op == "DepthToSpace":
                mode = a.get("mode", b"DCR")
                f.d2s_mode = mode.decode() if isinstance(mode, bytes) else str(mode)
                feeder = g.producer.get(node.input[0])
                while feeder is not None and feeder.op_type == "Identity":
                    feeder = g.producer.get(feeder.input[0])
                if feeder is not None and feeder.op_type == "Conv" and len(feeder.input) > 1:
                    f.weight = (lambda n=feeder.input[1]: g.array(n))
        found.append((node, f))
    return found


def _fix_input(model, input_shape: Sequence[int] | None) -> tuple[str, list[int], list[str]]:
    """Choose the one image input and fix its shape; set it in the model's input.

    Returns (name, shape, notes). Refuses inputs that cannot be fixed.
    """
    import onnx

    inits = {t.name for t in model.graph.initializer}
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
    dims = _dims(vi)
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
                             "fixed: give --input-shape N,C,H,W")
        if dims[1] is None:
            raise AuditError(f"input {vi.name!r} has shape {_shape_text(dims)} with no fixed "
                             "channel count: give --input-shape N,C,H,W")
        shape = [dims[0] or 1, dims[1], dims[2] or DEFAULT_SIDE, dims[3] or DEFAULT_SIDE]
        if dims[2] is None or dims[3] is None:
            notes.append(f"input {vi.name!r} has a free spatial size {_shape_text(dims)}: "
                         f"audited at {shape[2]}x{shape[3]} (change it with --input-shape)")
    tshape = vi.type.tensor_type.shape
    del tshape.dim[:]
    for v in shape:
        tshape.dim.add().dim_value = v
    return vi.name, shape, notes


def _shape_text(dims) -> str:
    return "(" + ", ".join("?" if d is None else str(d) for d in dims) + ")"


def _session(data: bytes, threads: int | None = None):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    if threads:
        options.intra_op_num_threads = threads
    return ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])


def _ort_error(err: Exception, shape: Sequence[int]) -> AuditError:
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
               threads: int | None = None) -> AuditReport:
    """Audit an ONNX model (bytes or a path); see the module docstring.

    ``input_shape`` fixes ``(N, C, H, W)``; without it, a free batch becomes 1 and free
    height/width :data:`DEFAULT_SIDE`. ``probes=False`` skips running the model (the
    analysis alone; the model still runs once if shape inference cannot size a layer).
    ``image`` (H, W, 3) replaces the photograph probe. Raises :class:`AuditError`.
    """
    import onnx

    t0 = time.perf_counter()
    if name is None:
        name = Path(source).name if isinstance(source, (str, Path)) else "uploaded model"
    data = read_model_bytes(source, max_bytes)
    model = load_onnx(data)
    input_name, shape, notes = _fix_input(model, input_shape)
    g = _Graph(model)
    try:
        inferred = onnx.shape_inference.infer_shapes(model, strict_mode=False, data_prop=True)
        for vi in [*inferred.graph.input, *inferred.graph.value_info, *inferred.graph.output]:
            dims = _dims(vi)
            if dims is not None:
                g.sizes[vi.name] = dims
    except Exception as err:  # noqa: BLE001 - shape inference is best effort
        notes.append(f"shape inference failed ({' '.join(str(err).split())[:120]}); sizes "
                     "measured by running the model")
    g.sizes[input_name] = list(shape)
    _check_tensor_sizes(g.sizes)
    candidates = _onnx_candidates(g)
    output_name = model.graph.output[0].name
    wanted = [output_name]
    for node, _ in candidates:
        wanted += [node.input[0], node.output[0]]
    missing = [n for n in dict.fromkeys(wanted) if _spatial(g.sizes.get(n)) is None]
    session = None
    dtype = {onnx.TensorProto.FLOAT16: np.float16, onnx.TensorProto.DOUBLE: np.float64}.get(
        model.graph.input[[i.name for i in model.graph.input].index(input_name)]
        .type.tensor_type.elem_type, np.float32)
    if missing:
        extra = [n for n in missing if n not in {o.name for o in model.graph.output}]
        for n in extra:
            model.graph.output.append(onnx.ValueInfoProto(name=n))
        try:
            session = _session(model.SerializeToString(), threads)
            outs = session.run(missing, {input_name: np.zeros(shape, dtype)})
        except Exception as err:  # noqa: BLE001 - onnxruntime raises its own types
            raise _ort_error(err, shape) from err
        finally:
            del model.graph.output[len(model.graph.output) - len(extra):]
        for n, value in zip(missing, outs, strict=True):
            g.sizes[n] = list(np.shape(value))
        _check_tensor_sizes(g.sizes)
    layers = []
    for node, f in candidates:
        in_dims, out_dims = g.sizes.get(node.input[0]), g.sizes.get(node.output[0])
        f.in_size, f.out_size = _spatial(in_dims), _spatial(out_dims)
        if f.in_channels is None and in_dims and len(in_dims) == 4:
            f.in_channels = in_dims[1]
        if f.out_channels is None and out_dims and len(out_dims) == 4:
            f.out_channels = out_dims[1]
        if f.pads is None and f.kernel and f.in_size and f.out_size:
            f.pads = _auto_pads(f)
        layers.append(_analyse(f))
    out_dims = g.sizes.get(output_name)
    chain = _chain(layers, (shape[2], shape[3]), _spatial(out_dims))
    seconds = {"analysis": time.perf_counter() - t0}
    probe_report = None
    if probes:
        t1 = time.perf_counter()
        try:
            session = session or _session(data, threads)
        except Exception as err:  # noqa: BLE001
            raise _ort_error(err, shape) from err

        def run(x: np.ndarray) -> np.ndarray:
            try:
                return session.run([output_name], {input_name: x.astype(dtype)})[0]
            except Exception as err:  # noqa: BLE001
                raise _ort_error(err, shape) from err

        probe_report = _run_probes(run, shape, chain.period, image=image, seed=seed)
        seconds["probes"] = time.perf_counter() - t1
    return AuditReport(name, "onnx", input_name, list(shape),
                       list(out_dims) if out_dims else None, layers, chain, probe_report,
                       notes, seconds)


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
                    "allows (1 GiB of float32): refused; give a smaller --input-shape")


def _auto_pads(f: _Found) -> tuple[int, int, int, int]:
    """Pads of an ``auto_pad`` layer, from its sizes (SAME_UPPER puts the odd one last)."""
    pads = []
    for axis in (0, 1):
        k, s, d = f.kernel[axis], f.stride[axis], f.dilation[axis]
        n, m = f.in_size[axis], f.out_size[axis]
        if f.mode == "VALID":
            total = 0
        elif f.op == "ConvTranspose":
            total = max(0, s * (n - 1) + f.output_padding[axis] + (k - 1) * d + 1 - m)
        else:
            total = max(0, (m - 1) * s + (k - 1) * d + 1 - n)
        first = total // 2 if f.mode != "SAME_LOWER" else total - total // 2
        pads.append((first, total - first))
    return (pads[0][0], pads[1][0], pads[0][1], pads[1][1])


