"""onnxruntime and ONNX shape inference on an untrusted model, in a child process with a
wall-time and a memory budget.

A model of a few hundred bytes can ask for anything: a ``Loop`` of 10^12 iterations, an
``Expand`` whose size comes from the input's values, a chain of local functions that
shape inference never finishes. Every onnxruntime session and every shape inference of
the audit therefore runs here, in a child Python process whose data segment is capped
(``resource.setrlimit(RLIMIT_DATA)``: :data:`MAX_SANDBOX_BYTES`) and which is killed
when one call runs past its wall time (:data:`MAX_RUN_SECONDS` per run,
:data:`MAX_INFER_SECONDS` for shape inference). Either way the audit raises one
:class:`~core.audit.limits.AuditError` line naming the budget.

The child speaks a small framed protocol on its stdin/stdout: JSON headers and numpy
arrays in ``.npy`` form, loaded with ``allow_pickle=False`` (nothing the child sends is
unpickled).
"""

from __future__ import annotations

import io
import json
import os
import select
import struct
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence

import numpy as np

from .limits import AuditError

__all__ = ["MAX_INFER_SECONDS", "MAX_RUN_SECONDS", "MAX_SANDBOX_BYTES", "Sandbox", "early",
           "inferred_sizes"]

#: Wall time of creating the model's onnxruntime session, and of each run of it (one probe,
#: or the run that measures the sizes shape inference left unknown).
MAX_RUN_SECONDS = 20.0
#: Wall time of ONNX shape inference (with data propagation) of one model.
MAX_INFER_SECONDS = 20.0
#: Memory the child may allocate (its data segment: heap and anonymous mappings, the
#: model's weights and every tensor onnxruntime allocates): 2 GiB.
MAX_SANDBOX_BYTES = 2 * 2**30
#: Wall time a fresh child may take to start (Python alone: each request loads what it
#: needs, onnx's shape inference or onnxruntime).
_START_SECONDS = 60.0
#: Modules a child may import as soon as it starts (``Sandbox(preload=...)``), before its
#: first request: what shape inference and a session need.
_PRELOADS = ("onnx", "onnxruntime")

# The child: limits first, then the imports, then one request after another.
_CHILD = r"""
import io, json, os, resource, struct, sys
limit = int(sys.argv[1])
resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))
resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

rfd, wfd = sys.stdin.buffer, sys.stdout.buffer

def read_frame():
    head = rfd.read(8)
    if len(head) < 8:
        sys.exit(0)
    (n,) = struct.unpack("<Q", head)
    return rfd.read(n)

def send(header, arrays=()):
    blobs = []
    for a in arrays:
        import numpy as np
        buf = io.BytesIO()
        np.save(buf, np.ascontiguousarray(a), allow_pickle=False)
        blobs.append(buf.getvalue())
    header["sizes"] = [len(b) for b in blobs]
    raw = json.dumps(header).encode()
    wfd.write(struct.pack("<Q", len(raw)) + raw)
    for b in blobs:
        wfd.write(struct.pack("<Q", len(b)) + b)
    wfd.flush()

def dims(vi):
    t = vi.type.tensor_type
    if not t.HasField("shape"):
        return None
    return [d.dim_value if d.HasField("dim_value") and d.dim_value > 0 else None
            for d in t.shape.dim]

def onnx_inference():
    # ONNX shape inference is onnx's C++ extension, and its result a ModelProto: those two
    # modules loaded from onnx's folder without the package's __init__, which imports
    # ml_dtypes, numpy and onnx's Python helpers (about 1 s of CPU; these two, 0.06 s)
    import importlib.machinery, importlib.util
    folder = importlib.util.find_spec("onnx").submodule_search_locations
    loaded = []
    for name in ("onnx.onnx_cpp2py_export", "onnx.onnx_ml_pb2"):
        module = sys.modules.get(name)
        if module is None:
            spec = importlib.machinery.PathFinder.find_spec(name, folder)
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module
            spec.loader.exec_module(module)
        loaded.append(module)
    return loaded[0].shape_inference.infer_shapes, loaded[1].ModelProto

def load(name):
    if name == "onnx":
        return onnx_inference()
    import onnxruntime
    return onnxruntime

send({"ok": True, "ready": True})  # each request loads what it needs (onnx or onnxruntime)
for name in sys.argv[2:]:  # what the parent said its first request needs, loaded while
    load(name)             # the parent does its own work (a request waits for it)
session = None
while True:
    request = json.loads(read_frame())
    try:
        if request["op"] == "infer":
            infer_shapes, ModelProto = onnx_inference()
            # onnx.shape_inference.infer_shapes(model, check_type=False, strict_mode=False,
            # data_prop=True) on the model's bytes, as that function calls it
            inferred = ModelProto.FromString(infer_shapes(read_frame(), False, False, True))
            g = inferred.graph
            sizes = {vi.name: dims(vi) for vi in [*g.input, *g.value_info, *g.output]}
            send({"ok": True, "dims": {k: v for k, v in sizes.items() if v is not None}})
        elif request["op"] == "session":
            ort = load("onnxruntime")
            options = ort.SessionOptions()
            options.log_severity_level = 3
            if request.get("threads"):
                options.intra_op_num_threads = int(request["threads"])
            session = ort.InferenceSession(read_frame(), options,
                                           providers=["CPUExecutionProvider"])
            send({"ok": True})
        elif request["op"] == "run":
            import numpy as np
            feeds = {name: np.load(io.BytesIO(read_frame()), allow_pickle=False)
                     for name in request["feeds"]}
            outs = session.run(request["outputs"], feeds)
            del feeds
            send({"ok": True}, outs)
    except MemoryError:
        send({"ok": False, "memory": True, "error": "MemoryError"})
    except Exception as err:
        text = " ".join(str(err).split())[:600]
        memory = "bad_alloc" in text or "Failed to allocate" in text
        send({"ok": False, "memory": memory, "error": f"{type(err).__name__}: {text}"})
"""


class SandboxError(AuditError):
    """The model ran past the sandbox's time or memory budget (or killed the child)."""


def _memory_message(what: str) -> str:
    return (f"{what} needed more than the {MAX_SANDBOX_BYTES // 2**20:,} MiB of memory the "
            "audit allows: refused (onnxruntime and shape inference run in a child process "
            "with that limit)")


class Sandbox:
    """One child process holding (at most) one onnxruntime session of one model.

    ``Sandbox().run(outputs, feeds)`` is ``InferenceSession.run``; errors raised by
    onnxruntime come back as :class:`RuntimeError` (their type and message), the budgets as
    :class:`SandboxError` (an :class:`AuditError`). Close it (or use it as a context
    manager) to end the child; it also ends when this object is collected.
    """

    def __init__(self, memory_bytes: int | None = None, preload: Sequence[str] = (),
                 wait: bool = True) -> None:
        self.memory_bytes = int(memory_bytes or MAX_SANDBOX_BYTES)
        self._proc = subprocess.Popen(
            [sys.executable, "-c", _CHILD, str(self.memory_bytes),
             *[m for m in preload if m in _PRELOADS]],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            env={**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1"),
                 "MALLOC_ARENA_MAX": "2"})
        self._started = False
        if wait:
            self._wait_started()

    def _wait_started(self) -> None:
        """The child's start (Python and numpy; not the model's time), waited for once:
        at construction, or (``wait=False``, a child started early beside the parent's
        own work) before the first request."""
        if self._started:
            return
        try:
            self._reply("starting the audit's child process", _START_SECONDS)
        except BaseException:
            self.close()
            raise
        self._started = True

    # -- plumbing --------------------------------------------------------------------
    def close(self) -> None:
        proc = self._proc
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        for stream in (proc.stdin, proc.stdout):
            try:
                stream.close()
            except OSError:
                pass

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # noqa: BLE001 - interpreter shutdown
            pass

    def _send(self, header: dict, blobs: Sequence[bytes] = ()) -> None:
        self._wait_started()
        try:
            raw = json.dumps(header).encode()
            self._proc.stdin.write(struct.pack("<Q", len(raw)) + raw)
            for blob in blobs:
                self._proc.stdin.write(struct.pack("<Q", len(blob)))
                self._proc.stdin.write(blob)
            self._proc.stdin.flush()
        except (BrokenPipeError, OSError) as err:
            self.close()
            raise SandboxError(_memory_message("the model") + f" (the child ended: {err})"
                               ) from err

    def _read(self, n: int, deadline: float, what: str, seconds: float) -> bytes:
        fd = self._proc.stdout.fileno()
        chunks, got = [], 0
        while got < n:
            left = deadline - time.monotonic()
            ready = select.select([fd], [], [], max(left, 0))[0] if left > 0 else []
            if not ready:
                self.close()
                raise SandboxError(f"{what} ran for over {seconds:g} s, the most the audit "
                                   "allows: refused (stopped)")
            chunk = os.read(fd, min(n - got, 1 << 20))
            if not chunk:
                code = self._proc.wait()
                self.close()
                raise SandboxError(_memory_message(what) + f" (the child ended with status "
                                   f"{code})")
            chunks.append(chunk)
            got += len(chunk)
        return b"".join(chunks)

    def _reply(self, what: str, seconds: float) -> tuple[dict, list[np.ndarray]]:
        deadline = time.monotonic() + seconds
        (n,) = struct.unpack("<Q", self._read(8, deadline, what, seconds))
        header = json.loads(self._read(n, deadline, what, seconds))
        arrays = []
        for size in header.get("sizes", []):
            (m,) = struct.unpack("<Q", self._read(8, deadline, what, seconds))
            if m != size or m > self.memory_bytes:
                self.close()
                raise SandboxError(f"{what}: the child's reply is malformed: refused")
            arrays.append(np.load(io.BytesIO(self._read(m, deadline, what, seconds)),
                                  allow_pickle=False))
        if not header.get("ok"):
            if header.get("memory"):
                raise SandboxError(_memory_message(what))
            raise RuntimeError(header.get("error", "the model failed"))
        return header, arrays

    # -- the two services ------------------------------------------------------------
    def infer(self, model_bytes: bytes) -> dict[str, list[int | None]]:
        """Shape inference (``strict_mode=False, data_prop=True``): ``{tensor: dims}``."""
        self._send({"op": "infer"}, [model_bytes])
        header, _ = self._reply("shape inference", MAX_INFER_SECONDS)
        return {k: list(v) for k, v in header["dims"].items()}

    def open(self, model_bytes: bytes, threads: int | None = None) -> Sandbox:
        """Create the onnxruntime session of ``model_bytes`` in the child."""
        self._send({"op": "session", "threads": threads}, [model_bytes])
        self._reply("creating the onnxruntime session", MAX_RUN_SECONDS)
        return self

    def run(self, outputs: Sequence[str], feeds: Mapping[str, np.ndarray]) -> list[np.ndarray]:
        """``session.run(outputs, feeds)`` in the child, within :data:`MAX_RUN_SECONDS`."""
        blobs = []
        for value in feeds.values():
            buf = io.BytesIO()
            np.save(buf, np.ascontiguousarray(value), allow_pickle=False)
            blobs.append(buf.getvalue())
        self._send({"op": "run", "outputs": list(outputs), "feeds": list(feeds)}, blobs)
        _, arrays = self._reply("one run of the model", MAX_RUN_SECONDS)
        return arrays


def session(model_bytes: bytes, threads: int | None = None) -> Sandbox:
    """A :class:`Sandbox` holding the onnxruntime session of ``model_bytes`` (what
    ``onnxruntime.InferenceSession`` was for the audit)."""
    box = Sandbox()
    try:
        return box.open(model_bytes, threads)
    except BaseException:
        box.close()
        raise


def early() -> Sandbox:
    """A child started now, without waiting for it, importing onnx at once: the audit
    starts it before its own imports and parsing, so the child's start runs beside them
    (:func:`inferred_sizes` with ``box=``, then its session). Close it when done."""
    return Sandbox(preload=("onnx",), wait=False)


def inferred_sizes(model, box: Sandbox | None = None) -> dict[str, list[int | None]]:
    """Shape inference of ``model`` (an ``onnx.ModelProto``) in a child (``box``, or a
    fresh one) within :data:`MAX_INFER_SECONDS` and :data:`MAX_SANDBOX_BYTES`:
    ``{tensor: dims}``, a dim None where unknown. Raises :class:`SandboxError` past a
    budget, RuntimeError when shape inference itself fails."""
    if box is not None:
        return box.infer(model.SerializeToString())
    with Sandbox() as fresh:
        return fresh.infer(model.SerializeToString())
