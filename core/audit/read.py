"""Reading an untrusted ONNX file safely: parse only, bounded, no code from the file run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from core.audit.limits import MAX_BYTES, STANDARD_DOMAINS, AuditError

# ---------------------------------------------------------------------------------------
# Reading an ONNX file safely
# ---------------------------------------------------------------------------------------

#: Leading bytes of files people upload by mistake, and what they are.
_MAGIC = (
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"PK\x03\x04", "a zip archive (a PyTorch .pt/.pth checkpoint is one): export it with "
                    "torch.onnx.export first"),
    (b"\x80\x02", "a Python pickle"), (b"\x80\x03", "a Python pickle"),
    (b"\x80\x04", "a Python pickle"), (b"\x80\x05", "a Python pickle"),
    (b"\x89HDF", "an HDF5 (Keras) file"),
    (b"%PDF", "a PDF document"),
)


def _mb(n: int) -> str:
    return f"{n / 1024 ** 2:,.1f} MB"


def _describe_foreign(data: bytes) -> str | None:
    for magic, what in _MAGIC:
        if data.startswith(magic):
            return what
    if len(data) >= 9 and data[8:9] == b"{" and b'"dtype"' in data[:4096]:
        return "a safetensors file (weights only): export the model with torch.onnx.export"
    head = data[:64].lstrip()
    if head[:1] in (b"{", b"[") or head[:5].lower() in (b"<?xml", b"<html"):
        return "a text file"
    return None


def read_model_bytes(source: bytes | bytearray | memoryview | str | Path,
                     max_bytes: int = MAX_BYTES) -> bytes:
    """The bytes of ``source`` (a path or bytes), refusing anything over ``max_bytes``.

    The size of a file is checked before it is read.
    """
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        if len(data) > max_bytes:
            raise AuditError(f"the model is {_mb(len(data))}, over the {_mb(max_bytes)} limit")
        return data
    path = Path(source)
    if not path.exists():
        raise AuditError(f"{str(path)!r}: file not found")
    if not path.is_file():
        raise AuditError(f"{str(path)!r}: not a regular file")
    size = path.stat().st_size
    if size > max_bytes:
        raise AuditError(f"{path.name!r} is {_mb(size)}, over the {_mb(max_bytes)} limit")
    return path.read_bytes()


def _walk_graphs(graph) -> Any:
    """``graph`` and every subgraph inside its nodes' attributes (If/Loop/Scan bodies)."""
    import onnx

    yield graph
    for node in graph.node:
        for attr in node.attribute:
            if attr.type == onnx.AttributeProto.GRAPH:
                yield from _walk_graphs(attr.g)
            elif attr.type == onnx.AttributeProto.GRAPHS:
                for g in attr.graphs:
                    yield from _walk_graphs(g)


def _tensors(model) -> Any:
    """Every TensorProto stored in the model: initializers, sparse ones, constants."""
    import onnx

    nodes = []
    for graph in _walk_graphs(model.graph):
        yield from graph.initializer
        for sparse in graph.sparse_initializer:
            yield sparse.values
            yield sparse.indices
        nodes.extend(graph.node)
    for function in model.functions:
        nodes.extend(function.node)
    for node in nodes:
        for attr in node.attribute:
            if attr.type == onnx.AttributeProto.TENSOR:
                yield attr.t
            elif attr.type == onnx.AttributeProto.TENSORS:
                yield from attr.tensors
            elif attr.type == onnx.AttributeProto.SPARSE_TENSOR:
                yield attr.sparse_tensor.values
                yield attr.sparse_tensor.indices


def _check_external_data(model) -> None:
    import onnx

    for tensor in _tensors(model):
        if tensor.data_location == onnx.TensorProto.EXTERNAL or len(tensor.external_data):
            where = {e.key: e.value for e in tensor.external_data}.get("location", "?")
            raise AuditError(
                f"tensor {tensor.name!r} is stored as external data (location {where!r}): "
                "refused, since such a file can name any path on the server; save the model "
                "with every tensor inside the file (onnx.save(model, path, "
                "save_as_external_data=False))")


def _check_operators(model) -> None:
    import onnx

    local = {(f.domain, f.name) for f in model.functions}
    nodes = [n for g in _walk_graphs(model.graph) for n in g.node]
    nodes += [n for f in model.functions for n in f.node]
    for node in nodes:
        domain = node.domain or ""
        if (domain, node.op_type) in local:
            continue
        if domain not in STANDARD_DOMAINS:
            raise AuditError(
                f"node {node.name or node.op_type!r} needs the custom operator "
                f"{domain}::{node.op_type}, which is not part of ONNX: refused (only "
                "standard ONNX operators are run)")
        if not onnx.defs.has(node.op_type, "" if domain == "ai.onnx" else domain):
            raise AuditError(
                f"node {node.name or node.op_type!r} uses {node.op_type!r}, which is not a "
                "standard ONNX operator: refused")


def load_onnx(data: bytes):
    """Parse ``data`` into an ``onnx.ModelProto``, refusing what the audit must not run.

    Refusals (:class:`AuditError`, one line): not an ONNX file, truncated or corrupt,
    tensors stored as external data, custom or unknown operators. Nothing in the file
    is executed; external data is never read. (No ``onnx.checker`` pass: it refuses
    graphs onnxruntime runs, e.g. outputs without a declared shape; onnxruntime's own
    checks apply when the model runs.)
    """
    import onnx
    from google.protobuf.message import DecodeError

    if not data:
        raise AuditError("the file is empty, not an ONNX model")
    foreign = _describe_foreign(data)
    if foreign:
        raise AuditError(f"not an ONNX model: the file looks like {foreign}")
    looks_onnx = data[:1] == b"\x08"  # field 1 (ir_version), varint: how every model starts
    try:
        model = onnx.load_from_string(data)
    except (DecodeError, RuntimeError, ValueError) as err:
        if looks_onnx:
            raise AuditError(f"truncated or corrupt ONNX file ({len(data):,} bytes): the "
                             f"protobuf cannot be parsed ({err})") from err
        raise AuditError("not an ONNX model: the file is not an ONNX protobuf") from err
    if not model.HasField("graph") or not model.graph.node or model.ir_version <= 0:
        if looks_onnx:
            raise AuditError(f"truncated ONNX file ({len(data):,} bytes): the model has no "
                             "complete graph")
        raise AuditError("not an ONNX model: no graph in the file")
    if not model.opset_import:
        raise AuditError("truncated ONNX file: the model declares no operator set "
                         "(opset_import is missing)")
    _check_external_data(model)
    _check_operators(model)
    return model


