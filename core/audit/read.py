"""Reading an untrusted ONNX file safely: parse only, bounded, no code from the file run.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .limits import (
    MAX_BYTES,
    MAX_METADATA_BYTES,
    MAX_NODES,
    MAX_TENSOR_BYTES,
    STANDARD_DOMAINS,
    AuditError,
    short_error,
)

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


def walk_graphs(graph) -> Any:
    """``graph`` and every subgraph inside its nodes' attributes (If/Loop/Scan bodies)."""
    import onnx

    yield graph
    for node in graph.node:
        for attr in node.attribute:
            if attr.type == onnx.AttributeProto.GRAPH:
                yield from walk_graphs(attr.g)
            elif attr.type == onnx.AttributeProto.GRAPHS:
                for g in attr.graphs:
                    yield from walk_graphs(g)


def _tensors(model) -> Any:
    """Every TensorProto stored in the model: initializers, sparse ones, constants."""
    import onnx

    nodes = []
    for graph in walk_graphs(model.graph):
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


def _external_tensors(model) -> list:
    """The tensors of ``model`` stored as external data."""
    import onnx

    return [t for t in _tensors(model)
            if t.data_location == onnx.TensorProto.EXTERNAL or len(t.external_data)]


def _check_location(location: str) -> str:
    """``location`` as a relative path inside the model's folder, or AuditError.

    The rule of onnx's own checker: no absolute path, no ``..``; a symbolic link that
    leaves the folder is refused where the file is opened (:func:`folder_reader`).
    """
    text = str(location)
    parts = text.replace("\\", "/").split("/")
    if (not text or "\x00" in text or text.startswith(("/", "\\"))
            or (len(text) > 1 and text[1] == ":") or ".." in parts):
        raise AuditError(
            f"external data location {text!r} points outside the model's folder: refused "
            "(only files beside the model, named without '..' or an absolute path, are read)")
    return "/".join(p for p in parts if p not in ("", "."))


def folder_reader(folder: str | Path, max_bytes: int = MAX_BYTES):
    """A reader of external data files inside ``folder`` (for :func:`load_onnx`).

    Each location must resolve, symbolic links followed, to a regular file inside
    ``folder``; files are read once and bounded by ``max_bytes`` together.
    """
    root = Path(folder).resolve()

    def read(location: str) -> bytes:
        rel = _check_location(location)
        path = (root / rel).resolve()
        if not path.is_relative_to(root):
            raise AuditError(f"external data location {location!r} resolves outside the "
                             "model's folder (a symbolic link): refused")
        if not path.is_file():
            raise AuditError(f"external data file {location!r} is missing beside the model "
                             f"(looked in {str(root)!r})")
        size = path.stat().st_size
        if size > max_bytes:
            raise AuditError(f"external data file {location!r} is {_mb(size)}, over the "
                             f"{_mb(max_bytes)} limit")
        read.paths.append(path)  # every file read (no report may overwrite one)
        return path.read_bytes()

    read.paths = []
    return read


def mapping_reader(files: dict[str, bytes], base: str = ""):
    """A reader of external data from uploaded files ``{name: bytes}`` (names relative to
    the archive or upload; ``base`` is the model's own folder inside it)."""
    table = {_check_location(name) if name else name: data for name, data in files.items()}

    def read(location: str) -> bytes:
        rel = _check_location(location)
        key = f"{base}/{rel}" if base else rel
        if key not in table:
            raise AuditError(f"external data file {location!r} was not uploaded with the "
                             "model: add it (or upload a zip of the model's folder)")
        return table[key]

    return read


def _inline_external_data(model, reader, max_bytes: int) -> int:
    """Copy every external tensor's bytes into the model (``reader(location) -> bytes``).

    Returns the number of tensors filled. Offsets and lengths are checked against the
    file; the data read in total is bounded by ``max_bytes``.
    """
    import onnx

    tensors = _external_tensors(model)
    if not tensors:
        return 0
    if reader is None:
        info = {e.key: e.value for e in tensors[0].external_data}
        raise AuditError(
            f"tensor {tensors[0].name!r} is stored as external data (location "
            f"{info.get('location', '?')!r}), and only the .onnx bytes were given: audit the "
            "file by its path with its data file beside it, or upload the .onnx together "
            "with its data file(s) (or a zip of them)")
    cache: dict[str, bytes] = {}
    total = 0
    for tensor in tensors:
        info = {e.key: e.value for e in tensor.external_data}
        location = info.get("location")
        if not location:
            raise AuditError(f"tensor {tensor.name!r} is marked as external data but names no "
                             "location: refused")
        rel = _check_location(location)
        if rel not in cache:
            cache[rel] = reader(location)
            total += len(cache[rel])
            if total > max_bytes:
                raise AuditError(f"the external data is over the {_mb(max_bytes)} limit")
        blob = cache[rel]
        try:
            offset = int(info.get("offset", 0))
            length = int(info["length"]) if "length" in info else len(blob) - offset
        except ValueError as err:
            raise AuditError(f"tensor {tensor.name!r}: external data offset/length are not "
                             "integers") from err
        if offset < 0 or length < 0 or offset + length > len(blob):
            raise AuditError(f"tensor {tensor.name!r}: external data ({offset}+{length} bytes) "
                             f"runs past the end of {location!r} ({len(blob)} bytes)")
        tensor.raw_data = blob[offset:offset + length]
        del tensor.external_data[:]
        tensor.data_location = onnx.TensorProto.DEFAULT
    return len(tensors)


def _tensor_problem(tensor) -> str | None:
    """Why ``tensor``'s data does not fit its declared shape (None when it does)."""
    import onnx

    dims = list(tensor.dims)
    if any(d < 0 for d in dims):
        return f"negative dimension in its shape {dims}"
    count = math.prod(dims)
    dtype = tensor.data_type
    if dtype in (onnx.TensorProto.UNDEFINED,):
        return "no data type"
    if tensor.HasField("raw_data") or tensor.raw_data:
        if dtype == onnx.TensorProto.STRING:
            return "string data stored as raw bytes"
        bits = _BITS.get(dtype)
        if bits is None:
            try:
                bits = 8 * onnx.helper.tensor_dtype_to_np_dtype(dtype).itemsize
            except (KeyError, TypeError, ValueError):
                return f"unknown data type {dtype}"
        expected = (count * bits + 7) // 8
        if len(tensor.raw_data) != expected:
            return (f"{len(tensor.raw_data):,} bytes of data for shape {dims} "
                    f"({expected:,} expected)")
        return None
    try:
        field = onnx.helper.tensor_dtype_to_field(dtype)
    except (KeyError, TypeError, ValueError):
        return f"unknown data type {dtype}"
    values = len(getattr(tensor, field))
    per = 2 if dtype in (onnx.TensorProto.COMPLEX64, onnx.TensorProto.COMPLEX128) else 1
    if dtype in _BITS and _BITS[dtype] == 4:  # two 4-bit values packed per entry
        expected = (count + 1) // 2
    else:
        expected = count * per
    if values != expected:
        return f"{values:,} values for shape {dims} ({expected:,} expected)"
    return None


#: Bits per element of the packed types numpy has no itemsize for.
_BITS = {}


def _check_tensor_data(model) -> None:
    """Every stored tensor's data fits its declared shape (a 324-byte weight declared but
    8 bytes stored is refused here, not in numpy's reshape mid-analysis)."""
    import onnx

    for name in ("INT4", "UINT4", "FLOAT4E2M1"):
        if hasattr(onnx.TensorProto, name):
            _BITS[getattr(onnx.TensorProto, name)] = 4
    for tensor in _tensors(model):
        problem = _tensor_problem(tensor)
        if problem:
            raise AuditError(f"tensor {tensor.name!r}: its data does not fit its declared "
                             f"shape ({problem}): the file is corrupt or crafted, refused")


def _check_node_count(model, limit: int = MAX_NODES) -> None:
    """Refuse more than ``limit`` nodes as onnxruntime and shape inference see them: every
    If/Loop/Scan body counted, and every call of a local function counted as the nodes it
    inlines to (31 functions each calling the previous twice are 92 stored nodes but 2^30
    inlined). Stored nodes first (20,000 are refused in milliseconds), then the inlined
    count, memoised per function and stopped as soon as it passes ``limit``."""
    count = sum(len(f.node) for f in model.functions)
    for graph in walk_graphs(model.graph):
        count += len(graph.node)
        if count > limit:
            break
    if count <= limit:
        try:
            count = inlined_node_count(model, limit)
        except RecursionError:
            raise AuditError("the model's local functions or subgraphs nest too deeply to "
                             "count: refused") from None
    if count > limit:
        raise AuditError(f"the model has over {limit:,} nodes (subgraphs counted, local "
                         f"functions counted at every call), the most the audit allows: "
                         "refused")


def inlined_node_count(model, limit: int) -> int:
    """Nodes of ``model`` with every local function call replaced by the function's body
    (recursively) and every subgraph counted; stops once past ``limit``. A function that
    calls itself, directly or not, is refused (ONNX forbids it; inlining never ends)."""
    import onnx

    functions = {(f.domain or "", f.name): f for f in model.functions}
    cost: dict[tuple[str, str], int] = {}

    def nodes_cost(nodes, stack: frozenset) -> int:
        total = 0
        for node in nodes:
            total += 1
            key = (node.domain or "", node.op_type)
            if key in functions:
                if key in stack:
                    raise AuditError(f"local function {key[1]!r} calls itself: refused")
                if key not in cost:
                    cost[key] = nodes_cost(functions[key].node, stack | {key})
                total += cost[key]
            for attr in node.attribute:
                if attr.type == onnx.AttributeProto.GRAPH:
                    total += nodes_cost(attr.g.node, stack)
                elif attr.type == onnx.AttributeProto.GRAPHS:
                    total += sum(nodes_cost(g.node, stack) for g in attr.graphs)
            if total > limit:
                return total
        return total

    return nodes_cost(model.graph.node, frozenset())


def stored_tensor_bytes(model) -> int:
    """Bytes of every tensor stored in ``model`` (initializers, sparse ones, constants,
    external data by its declared length or its shape), counted from the parsed protobuf
    before any data is copied, inlined or handed to shape inference or onnxruntime."""
    import onnx

    total = 0
    for tensor in _tensors(model):
        if tensor.data_location == onnx.TensorProto.EXTERNAL or len(tensor.external_data):
            info = {e.key: e.value for e in tensor.external_data}
            try:
                total += int(info["length"])
                continue
            except (KeyError, ValueError):
                pass
            bits = _BITS.get(tensor.data_type, 0)
            if not bits:
                try:
                    bits = 8 * onnx.helper.tensor_dtype_to_np_dtype(
                        tensor.data_type).itemsize
                except (KeyError, TypeError, ValueError):
                    bits = 8
            total += (math.prod(max(d, 0) for d in tensor.dims) * bits + 7) // 8
        else:
            total += tensor.ByteSize()
    return total


def _varint(buf, i: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if i >= len(buf) or shift > 63:
            raise ValueError("truncated varint")
        byte = buf[i]
        i += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, i


def _fields(buf, start: int, end: int):
    """(field number, wire type, value start, value end) of each field of one protobuf
    message in ``buf[start:end]``, read from the wire without parsing or copying."""
    i = start
    while i < end:
        key, i = _varint(buf, i)
        number, wire = key >> 3, key & 7
        if wire == 0:
            _, j = _varint(buf, i)
        elif wire == 1:
            j = i + 8
        elif wire == 2:
            length, i = _varint(buf, i)
            j = i + length
        elif wire == 5:
            j = i + 4
        else:
            raise ValueError(f"wire type {wire}")
        if j > end:
            raise ValueError("field runs past the message")
        yield number, wire, i, j
        i = j


def declared_initializer_bytes(data: bytes) -> int:
    """Bytes of the main graph's initializers (dense and sparse) as the file's wire format
    declares them, counted before the protobuf is parsed (a parse would copy them: a
    480 MiB initializer costs another 480 MiB). 0 when the bytes are not a readable
    protobuf (the parser then says why)."""
    view = memoryview(data)
    total = 0
    try:
        for number, wire, start, end in _fields(view, 0, len(view)):
            if number == 7 and wire == 2:  # ModelProto.graph
                for inner, kind, a, b in _fields(view, start, end):
                    if inner in (5, 15) and kind == 2:  # initializer, sparse_initializer
                        total += b - a
    except ValueError:
        return 0
    return total


def _check_tensor_bytes(model, limit: int = MAX_TENSOR_BYTES) -> None:
    total = stored_tensor_bytes(model)
    if total > limit:
        raise AuditError(f"the model stores {_mb(total)} of weights and constants, over the "
                         f"{_mb(limit)} the audit allows (onnxruntime holds copies of "
                         "them): refused")


def _check_metadata(model, limit: int = MAX_METADATA_BYTES) -> None:
    """Refuse metadata (the model's and every node's ``metadata_props``, doc strings
    left out) over ``limit`` bytes in all: it is parsed (``name_scopes``) and shown."""
    total = sum(len(p.key) + len(p.value) for p in model.metadata_props)
    nodes = [n for g in walk_graphs(model.graph) for n in g.node]
    nodes += [n for f in model.functions for n in f.node]
    for node in nodes:
        total += sum(len(p.key) + len(p.value) for p in node.metadata_props)
        if total > limit:
            break
    if total > limit:
        raise AuditError(f"the model's metadata is over {_mb(limit)} (its own and its "
                         "nodes' metadata_props), the most the audit reads: refused")


def _check_operators(model) -> None:
    import onnx

    local = {(f.domain, f.name) for f in model.functions}
    for domain, name in local:
        if domain in STANDARD_DOMAINS and onnx.defs.has(name, "" if domain == "ai.onnx"
                                                        else domain):
            raise AuditError(f"the model defines a local function named {name!r} in the "
                             "standard domain, the name of an ONNX operator: which one a "
                             "node calls is ambiguous, refused")
    nodes = [n for g in walk_graphs(model.graph) for n in g.node]
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


def load_onnx(data: bytes, external=None, max_bytes: int = MAX_BYTES):
    """Parse ``data`` into an ``onnx.ModelProto``, refusing what the audit must not run.

    Refusals (:class:`AuditError`, one line): not an ONNX file, truncated or corrupt,
    custom or unknown operators, external data when ``external`` is None, or whose
    location leaves the model's folder. ``external`` (:func:`folder_reader`,
    :func:`mapping_reader`) reads each external data file; their bytes are copied into
    the model. Nothing in the file is executed. (No ``onnx.checker`` pass: it refuses
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
    declared = declared_initializer_bytes(data)
    if declared > MAX_TENSOR_BYTES:  # before the parse copies them
        raise AuditError(f"the model stores {_mb(declared)} of weights (its initializers, "
                         f"read from the file before parsing), over the "
                         f"{_mb(MAX_TENSOR_BYTES)} the audit allows: refused")
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
    _check_node_count(model)
    _check_metadata(model)
    _check_tensor_bytes(model)
    _inline_external_data(model, external, max_bytes)
    _check_tensor_data(model)
    _check_operators(model)
    return model




#: Most files a zip upload may hold (a model and its data files).
MAX_ARCHIVE_FILES = 256


def _read_members(archive, infos, max_bytes: int) -> list[tuple[str, bytes]]:
    """Every member of a zip, inflated within ``max_bytes`` in all; a damaged member (bad
    CRC, encrypted, an unsupported method, a corrupt stream) is one AuditError naming it."""
    import zipfile
    import zlib

    members, total = [], 0
    for info in infos:
        try:
            if info.flag_bits & 0x1:
                raise NotImplementedError("it is encrypted")
            with archive.open(info) as fh:
                blob = fh.read(max_bytes - total + 1)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, RuntimeError, NotImplementedError,
                zlib.error, EOFError, OSError, ValueError, KeyError) as err:
            raise AuditError(f"the zip's entry {info.filename!r} cannot be read "
                             f"({short_error(err)}): refused") from err
        total += len(blob)
        if total > max_bytes:
            raise AuditError(f"the zip unpacks to over the {_mb(max_bytes)} limit")
        members.append((info.filename, blob))
    return members


def read_upload(files: dict[str, bytes] | Sequence[tuple[str, bytes]] | bytes,
                max_bytes: int = MAX_BYTES) -> tuple[str, bytes, Any]:
    """The one ``.onnx`` of an upload and a reader of its external data.

    ``files``: ``{filename: bytes}`` or ``[(filename, bytes), ...]`` (a multi-file upload: the ``.onnx`` and its data
    file(s)) or the bytes of a zip holding them (folders inside it allowed). Returns
    ``(name, onnx_bytes, reader)`` for :func:`load_onnx`. Refuses (AuditError) no or
    several ``.onnx`` files, a name given twice, a damaged zip entry, names with ``..`` or absolute paths, archives over
    ``max_bytes`` unpacked or over :data:`MAX_ARCHIVE_FILES` files.
    """
    import posixpath
    import zipfile
    from io import BytesIO

    if isinstance(files, (bytes, bytearray, memoryview)):
        data = bytes(files)
        if not data.startswith(b"PK\x03\x04"):
            return "uploaded model", read_model_bytes(data, max_bytes), None
        try:
            archive = zipfile.ZipFile(BytesIO(data))
            infos = [i for i in archive.infolist() if not i.is_dir()]
        except (zipfile.BadZipFile, ValueError) as err:
            raise AuditError(f"the zip archive cannot be read ({err})") from err
        if len(infos) > MAX_ARCHIVE_FILES:
            raise AuditError(f"the zip holds {len(infos)} files, over the "
                             f"{MAX_ARCHIVE_FILES} allowed")
        if sum(i.file_size for i in infos) > max_bytes:
            raise AuditError(f"the zip unpacks to over the {_mb(max_bytes)} limit")
        files = _read_members(archive, infos, max_bytes)
    pairs = list(files.items()) if isinstance(files, dict) else list(files)
    names: dict[str, bytes] = {}
    for name, blob in pairs:
        key = _check_location(name)
        if key in names:  # two zip entries or two uploads of one name: which one is meant?
            raise AuditError(f"the upload holds {key!r} twice: refused (upload each file "
                             "once)")
        names[key] = bytes(blob)
    if sum(len(b) for b in names.values()) > max_bytes:
        raise AuditError(f"the upload is over the {_mb(max_bytes)} limit")
    models = [n for n in names if n.lower().endswith(".onnx")]
    if len(models) != 1:
        listed = ", ".join(repr(n) for n in models) or "none"
        raise AuditError(f"the upload must hold exactly one .onnx model, it holds "
                         f"{len(models)} ({listed})")
    model = models[0]
    base = posixpath.dirname(model)
    return posixpath.basename(model), names[model], mapping_reader(names, base)
