"""Lookups over a parsed ONNX graph for the ONNX route: node attributes, tensor shapes,
module paths (from node names, name scopes or weight names), and constants, folded
through the constant subgraphs exporters and hand-written files put on weights
(Identity, Cast, Transpose, Reshape, Unsqueeze, DequantizeLinear, Mul/Add/Sub/Div of
constants, Constant nodes of every kind, sparse initializers).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .limits import MAX_NAME_SCOPES_CHARS


def known(dims) -> bool:
    """Whether every dimension of ``dims`` is known."""
    return dims is not None and all(d is not None for d in dims)


def attrs(node) -> dict[str, Any]:
    import onnx

    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def bn_scale(g, node) -> np.ndarray | None:
    """An eval-mode BatchNormalization's per-channel scale ``gamma / sqrt(var + eps)``,
    None when gamma or the variance is not a constant of the graph."""
    gamma, var = g.array(node.input[1]), g.array(node.input[4])
    if gamma is None or var is None:
        return None
    eps = float(attrs(node).get("epsilon", 1e-5))
    return np.asarray(gamma, np.float64) / np.sqrt(var + eps)


def dims_of(value_info) -> list[int | None] | None:
    """Dimensions of a ValueInfoProto (None for symbolic or unknown), None if no shape."""
    t = value_info.type.tensor_type
    if not t.HasField("shape"):
        return None
    return [d.dim_value if d.HasField("dim_value") and d.dim_value > 0 else None
            for d in t.shape.dim]


def module_path_from_name(node_name: str) -> str | None:
    """``/up1/deconv/ConvTranspose`` (a TorchScript-exporter name) -> ``up1.deconv``.

    Each part names a module relative to its parent, except the children of a
    Sequential or ModuleList, which carry their parent's part as a prefix
    (``/decoder4/tp_conv/tp_conv.0/ConvTranspose`` is ``decoder4.tp_conv.0``).
    """
    if not node_name.startswith("/"):
        return None
    parts = node_name.strip("/").split("/")[:-1]
    path, previous = "", None
    for part in parts:
        if previous is not None and part.startswith(previous + "."):
            path = f"{path}.{part[len(previous) + 1:]}" if path else part
        else:
            path = f"{path}.{part}" if path else part
        previous = part
    return path or None


def node_module_path(node) -> str | None:
    """The module a node comes from: the name scopes the dynamo exporter writes into the
    node's metadata (``pkg.torch.onnx.name_scopes``: ``['', 'up1', 'up1.deconv', 'conv']``),
    else the TorchScript exporter's node name."""
    import ast

    for prop in node.metadata_props:
        if prop.key == "pkg.torch.onnx.name_scopes":
            if len(prop.value) > MAX_NAME_SCOPES_CHARS:  # parsing is bounded by its length
                break
            try:
                scopes = ast.literal_eval(prop.value)
            except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
                break
            if isinstance(scopes, list) and len(scopes) >= 2:
                return str(scopes[-2]) or None
            break
    return module_path_from_name(node.name)


def has_name_scopes(node) -> bool:
    """Whether the dynamo exporter wrote the node's own module scopes (then they name its
    module, even when its weight is shared with another module's)."""
    return any(prop.key == "pkg.torch.onnx.name_scopes" for prop in node.metadata_props)


def weight_module_path(g: OnnxGraph, node) -> str | None:
    """``decoder4.tp_conv.0`` from a Conv/ConvTranspose weight initializer named
    ``decoder4.tp_conv.0.weight`` (both exporters keep parameter names), else None."""
    if len(node.input) > 1 and node.input[1] in g.initializers \
            and node.input[1].endswith(".weight"):
        return node.input[1][: -len(".weight")]
    return None


class OnnxGraph:
    """Lookups over a parsed model: constants by name, producers, tensor sizes."""

    def __init__(self, model) -> None:
        from onnx import numpy_helper

        self.model = model
        self._numpy = numpy_helper.to_array
        graph = model.graph
        self.initializers = {t.name: t for t in graph.initializer}
        #: Constant values by name: Constant nodes of every kind, sparse initializers.
        self.constants: dict[str, np.ndarray] = {}
        for sparse in graph.sparse_initializer:
            value = _sparse_array(sparse)
            if value is not None:
                self.constants[sparse.values.name] = value
        self.producer = {}
        for node in graph.node:
            for out in node.output:
                self.producer[out] = node
            if node.op_type == "Constant" and node.output:
                value = _constant_value(node)
                if value is not None:
                    self.constants[node.output[0]] = value
        self.sizes: dict[str, list[int | None]] = {}
        self.consumers: dict[str, list] = {}
        for node in graph.node:
            for name in node.input:
                self.consumers.setdefault(name, []).append(node)
        self.outputs = {o.name for o in graph.output}
        self.local_functions = {(f.domain or "", f.name) for f in model.functions}

    def array(self, name: str, depth: int = 0) -> np.ndarray | None:
        """A constant tensor's value, folded through the constant subgraphs exporters and
        hand-written files put on parameters (Identity, Cast, Transpose, Reshape,
        Unsqueeze, Squeeze, DequantizeLinear, and Mul/Add/Sub/Div of constants): the
        weights are judged, not passed over. None when it is not a constant."""
        if name in self.constants:
            return self.constants[name]
        tensor = self.initializers.get(name)
        if tensor is not None:
            return self._numpy(tensor)
        node = self.producer.get(name)
        if node is None or depth > 16 or not node.input:
            return None
        if node.op_type in ("ConstantOfShape", "Concat", "Slice"):
            return self._fold_index_op(node, depth)
        src = self.array(node.input[0], depth + 1)
        if src is None:
            return None
        a = attrs(node)
        if node.op_type in _ARITHMETIC and len(node.input) == 2:
            other = self.array(node.input[1], depth + 1)
            if other is None or np.size(src) * max(np.size(other), 1) > _MAX_FOLD:
                return None
            a_, b_ = np.asarray(src), np.asarray(other)
            if node.op_type == "Div" and a_.dtype.kind in "iu" and b_.dtype.kind in "iu":
                return None if np.any(b_ == 0) else np.floor_divide(a_, b_)  # ONNX: integer
            with np.errstate(all="ignore"):  # a division by zero is an inf, judged later
                return _ARITHMETIC[node.op_type](a_, b_)
        if node.op_type == "Cast":
            return np.asarray(src, np.float64) if np.asarray(src).dtype.kind == "f" else src
        if node.op_type == "Identity":
            return src
        if node.op_type == "DequantizeLinear" and len(node.input) > 1:
            return dequantize(src, self.array(node.input[1], depth + 1),
                               self.array(node.input[2], depth + 1)
                               if len(node.input) > 2 and node.input[2] else None,
                               int(a.get("axis", 1)))
        if node.op_type == "Transpose":
            return np.transpose(src, a.get("perm"))
        if node.op_type in ("Reshape", "Unsqueeze"):
            shape = self.sizes.get(name)
            if shape and all(d is not None for d in shape) and \
                    int(np.prod(shape)) == src.size:
                return src.reshape(shape)
            if node.op_type == "Reshape" and len(node.input) > 1:
                target = self.array(node.input[1], depth + 1)
                if target is not None:
                    dims = [int(v) for v in np.ravel(target)]
                    dims = [src.shape[i] if d == 0 and i < src.ndim else d
                            for i, d in enumerate(dims)]  # ONNX: 0 copies the dimension
                    try:
                        return src.reshape(dims)
                    except ValueError:
                        return None
        if node.op_type == "Squeeze":
            return np.squeeze(src)
        return None

    def _fold_index_op(self, node, depth: int) -> np.ndarray | None:
        """ConstantOfShape, Concat and Slice of constants (the TorchScript exporter writes
        ``F.pad``'s pads so), within :data:`_MAX_FOLD` elements."""
        a = attrs(node)
        inputs = [self.array(n, depth + 1) if n else None for n in node.input]
        if inputs[0] is None:
            return None
        if node.op_type == "ConstantOfShape":
            shape = [int(v) for v in np.ravel(inputs[0])]
            if any(v < 0 for v in shape) or int(np.prod(shape)) > _MAX_FOLD:
                return None
            value = a.get("value")
            fill = np.ravel(self._numpy(value))[0] if value is not None else np.float32(0)
            return np.full(shape, fill)
        if node.op_type == "Concat":
            if any(v is None for v in inputs):
                return None
            try:
                return np.concatenate([np.atleast_1d(v) for v in inputs], axis=int(a.get("axis", 0)))
            except ValueError:
                return None
        if len(inputs) < 3 or inputs[1] is None or inputs[2] is None:
            return None
        data = inputs[0]
        axes = inputs[3] if len(inputs) > 3 and inputs[3] is not None else range(data.ndim)
        steps = inputs[4] if len(inputs) > 4 and inputs[4] is not None else [1] * data.ndim
        index = [slice(None)] * data.ndim
        for start, end, axis, step in zip(np.ravel(inputs[1]), np.ravel(inputs[2]),
                                          np.ravel(list(axes)), np.ravel(list(steps)),
                                          strict=False):
            if not -data.ndim <= int(axis) < data.ndim or int(step) == 0:
                return None
            index[int(axis)] = slice(int(max(min(start, 2 ** 62), -2 ** 62)),
                                     int(max(min(end, 2 ** 62), -2 ** 62)), int(step))
        return data[tuple(index)]

    def shape_of(self, name: str) -> tuple[int, ...] | None:
        """A stored constant's shape (an initializer or Constant node), None otherwise."""
        if name in self.constants:
            return tuple(self.constants[name].shape)
        tensor = self.initializers.get(name)
        return tuple(tensor.dims) if tensor is not None else None


#: Arithmetic folded between constants (weights written as ``Mul(w, 1)`` and the like).
_ARITHMETIC = {"Mul": np.multiply, "Add": np.add, "Sub": np.subtract, "Div": np.divide}
#: Largest constant product folded (elements).
_MAX_FOLD = 2 ** 26


def _constant_value(node) -> np.ndarray | None:
    """The value of a Constant node: ``value``, ``value_float(s)``, ``value_int(s)`` or
    ``sparse_value`` (strings are not weights: None)."""
    from onnx import numpy_helper

    for a in node.attribute:
        if a.name == "value":
            return numpy_helper.to_array(a.t)
        if a.name == "value_float":
            return np.asarray(a.f, np.float32)
        if a.name == "value_floats":
            return np.asarray(list(a.floats), np.float32)
        if a.name == "value_int":
            return np.asarray(a.i, np.int64)
        if a.name == "value_ints":
            return np.asarray(list(a.ints), np.int64)
        if a.name == "sparse_value":
            return _sparse_array(a.sparse_tensor)
    return None


def _sparse_array(sparse) -> np.ndarray | None:
    """A SparseTensorProto as a dense array (linear or coordinate indices), None when its
    indices do not fit its shape or it is too large to fold."""
    from onnx import numpy_helper

    dims = [int(d) for d in sparse.dims]
    size = int(np.prod(dims)) if dims else 1
    if size > _MAX_FOLD:
        return None
    values = np.ravel(numpy_helper.to_array(sparse.values))
    indices = numpy_helper.to_array(sparse.indices).astype(np.int64)
    if indices.ndim == 2:  # (NNZ, rank) coordinates
        if indices.shape[1] != len(dims):
            return None
        try:
            indices = np.ravel_multi_index(tuple(indices.T), dims) if indices.size else \
                np.zeros(0, np.int64)
        except ValueError:  # a coordinate outside the shape
            return None
    indices = np.ravel(indices)
    if indices.shape != values.shape or (indices.size and (indices.min() < 0
                                                           or indices.max() >= size)):
        return None
    dense = np.zeros(size, values.dtype)
    dense[indices] = values
    return dense.reshape(dims)


def dequantize(q: np.ndarray, scale: np.ndarray | None, zero: np.ndarray | None,
                axis: int) -> np.ndarray | None:
    """``(q - zero) * scale``, per tensor or per ``axis`` (ONNX's DequantizeLinear)."""
    if scale is None:
        return None
    q = np.asarray(q, np.float64)
    scale = np.asarray(scale, np.float64)
    zero = np.zeros_like(scale) if zero is None else np.asarray(zero, np.float64)
    if scale.size > 1:
        if scale.ndim != 1 or not -q.ndim <= axis < q.ndim or q.shape[axis] != scale.size:
            return None
        shape = [1] * q.ndim
        shape[axis] = scale.size
        scale, zero = scale.reshape(shape), zero.reshape(shape)
    return (q - zero) * scale


def weight_shape(g: OnnxGraph, name: str) -> tuple[int, ...] | None:
    """A weight's shape: stored, inferred, or from its value behind Identity/Dequantize."""
    shape = g.shape_of(name)
    if shape is not None:
        return shape
    dims = g.sizes.get(name)
    if known(dims):
        return tuple(int(d) for d in dims)
    value = g.array(name)
    return None if value is None else tuple(value.shape)


#: Operators whose non-data inputs (pads, shapes, sizes) shape inference needs as constants.
_SHAPE_INPUT_OPS = frozenset({"Pad", "Reshape", "Resize", "Upsample", "Expand", "Tile",
                              "Slice", "ConstantOfShape"})


def fold_shape_inputs(model, g: OnnxGraph) -> list:
    """Hand shape inference the pads, shapes and sizes that are computed in the graph from
    constants (the TorchScript exporter writes ``ReflectionPad2d``'s pads as
    ConstantOfShape/Concat/Slice/Cast): each such input of a node is pointed at a new
    initializer holding its folded value, so inference sizes what follows without running
    the model. Returns what :func:`unfold_shape_inputs` needs to undo it."""
    from onnx import numpy_helper

    changed = []
    for node in model.graph.node:
        if node.op_type not in _SHAPE_INPUT_OPS:
            continue
        for i, name in enumerate(node.input):
            if i == 0 or not name or name in g.initializers or name not in g.producer:
                continue
            value = g.array(name)
            if value is None or np.size(value) > 64 or np.asarray(value).dtype.kind not in "iuf":
                continue
            folded = f"{name}::folded"
            model.graph.initializer.append(numpy_helper.from_array(np.asarray(value), folded))
            g.constants[folded] = np.asarray(value)  # later folds read through it
            node.input[i] = folded
            changed.append((node, i, name))
    return changed


def unfold_shape_inputs(model, changed: list) -> None:
    """Undo :func:`fold_shape_inputs`: the original inputs back, the added initializers gone."""
    if not changed:
        return
    for node, i, name in changed:
        node.input[i] = name
    del model.graph.initializer[len(model.graph.initializer) - len(changed):]
