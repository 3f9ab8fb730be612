"""Audit your own network: find its up- and downsampling layers, predict and measure its
checkerboard, and say what to change.

Two entry points, one analysis:

* :func:`audit_onnx` reads an ONNX file with the ``onnx`` package (parsing only: no code
  from the file ever runs) and executes it with ``onnxruntime`` on the CPU;
* :func:`audit_module` walks a live ``torch.nn.Module``: one forward pass under a
  ``TorchFunctionMode`` records every ``conv_transpose2d``, ``interpolate``,
  ``pixel_shuffle``, strided ``conv2d`` and pooling call with the module that made it,
  so functional calls inside ``forward`` are found as well as ``nn`` layers.

For every layer found (ONNX op types ``ConvTranspose``, ``Resize``/``Upsample`` with
its mode, ``DepthToSpace``, strided ``Conv``, ``MaxPool``/``AveragePool``/``LpPool``,
``SpaceToDepth``), the report gives:

**Overlap** (:mod:`core.overlap`). Each upsampler is a transposed convolution in
disguise, and its interior coverage says whether every output phase is painted equally
often: ``ConvTranspose`` is itself; nearest resize by ``s`` is a transposed convolution
with an ``s x s`` box kernel at stride ``s``; ``DepthToSpace`` (sub-pixel) writes each
output pixel from exactly one tap (``k = s``); linear/cubic resizes are triangle /
cubic kernels of length ``2s`` / ``4s``. ``uneven`` is interior max/min > 1. For strided
convolutions and pooling the same count, taken over the *input*, says how often each
input pixel is read: uneven means a checkerboard in the gradient (the Distill article's
"artifacts in gradients"), not in the output.

**Phase gains** (:func:`core.metrics.polyphase_gains`, :func:`core.metrics.gain_imbalance`).
On a constant input, output phase ``(a, b)`` of a stride-``s`` upsampler is the input
times the sum of the taps that phase receives. Equal gains are the condition of
Sugawara et al. 2019 and Kinoshita & Kiya 2020 for a checkerboard-free layer; the
imbalance (spread of the gains over their RMS) is zero exactly then. A 4x4/s2 layer is
even in overlap yet learns unequal gains: both are reported. For ``DepthToSpace`` the
gains are the tap sums of the convolution feeding it, one channel group per phase.

**The chain.** Layer ``l`` with stride ``s_l`` paints an ``s_l``-periodic pattern at its
own output; every later resampling stretches it by ``r_l = H_out / H_l``, so it has
period ``s_l * r_l`` in the final output. The predicted period is the least common
multiple over the upsampling layers (4 for our networks: ``2*2`` and ``2*1``).

**Probes** run through the model: a constant image, smooth (band-limited, periodic)
noise and a photograph or the user's image. On each output: the lab's
:func:`core.metrics.checkerboard_score` at the predicted period (the contract's
``probes.checkerboard_score`` is the photograph's), the azimuthally averaged power
spectrum (Durall et al. 2020), the 2-D log spectrum with the predicted frequencies
(:func:`core.metrics.log_power_spectrum`), and a **shift test**: PSNR between
``f(shift(x))`` and ``shift(f(x))`` for shifts of ``1 .. P-1`` output pixels (the
translation-equivariance idea of StyleGAN3's EQ-T), on the smooth noise, whose
periodic band-limited content shifts exactly by any fraction of an input pixel.

**Refusals** raise :class:`AuditError` with a one-line message: not ONNX, truncated,
over 512 MB, tensors stored as external data (a file could name any path on the
server), custom operators, tensors over :data:`MAX_TENSOR_ELEMENTS` at the fixed
input shape (checked from the shapes before anything runs), and inputs whose size
cannot be fixed (ask for ``--input-shape``).

Command line: ``python -m core.audit MODEL.onnx [--input-shape N,C,H,W] [--json OUT]``.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from core.metrics import (
    Spectrum,
    checkerboard_score,
    format_score,
    gain_imbalance,
    log_power_spectrum,
    polyphase_gains,
)
from core.overlap import CoverageReport, coverage_report

__all__ = [
    "DEFAULT_SIDE",
    "IMBALANCE_TOLERANCE",
    "MAX_BYTES",
    "ALL_LAYERS",
    "AuditError",
    "AuditReport",
    "Chain",
    "LayerAudit",
    "ProbeReport",
    "attach_fixes",
    "audit_module",
    "audit_onnx",
    "azimuthal_average",
    "layer_coverage",
    "load_onnx",
    "main",
    "measure_fixes",
    "parse_input_shape",
]

#: Largest model file accepted (512 MB).
MAX_BYTES = 512 * 1024 * 1024
#: Side an image input of unknown height/width is fixed to (and the probes' size).
DEFAULT_SIDE = 256
#: An upsampler whose phase imbalance exceeds this is flagged (5 % of the RMS gain).
IMBALANCE_TOLERANCE = 0.05
#: Operator domains of standard ONNX; anything else is a custom operator.
STANDARD_DOMAINS = ("", "ai.onnx", "ai.onnx.ml")
#: Inputs smaller than this (per side) are latent vectors, not images: no image probes.
MIN_IMAGE_SIDE = 16
#: Largest tensor (elements) a model may declare or infer at the fixed input shape.
MAX_TENSOR_ELEMENTS = 2 ** 28
#: Cap of the shift test's PSNR (an exact match would be infinite).
MAX_PSNR = 100.0

UP_OPS = ("ConvTranspose", "Resize", "Upsample", "DepthToSpace")
DOWN_OPS = ("Conv", "MaxPool", "AveragePool", "LpPool", "SpaceToDepth")


class AuditError(ValueError):
    """The model is refused or cannot be audited; ``str(err)`` is one line saying why."""

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(str(message).split()))


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


# ---------------------------------------------------------------------------------------
# The report
# ---------------------------------------------------------------------------------------


@dataclass(eq=False)
class LayerAudit:
    """One up- or downsampling layer and the verdicts on it.

    ``padding`` follows ONNX's ``pads``: ``[top, left, bottom, right]``. ``overlap``
    holds the equivalent transposed-convolution arguments of :mod:`core.overlap`
    (``kernel_size``, ``stride``, ``padding``, ``dilation``, ``output_padding``; pairs)
    or None. ``gains`` is ``(C_in, C_out, s, s)`` or None.
    """

    name: str
    op: str
    direction: str  # "up" or "down"
    mode: str | None = None
    kernel: list[int] | None = None
    stride: list[int] | None = None
    padding: list[int] | None = None
    dilation: list[int] | None = None
    output_padding: list[int] | None = None
    groups: int | None = None
    in_channels: int | None = None
    out_channels: int | None = None
    in_size: list[int] | None = None
    out_size: list[int] | None = None
    scale: list[float] | None = None  # out/in per axis
    overlap: dict[str, tuple[int, int]] | None = None
    interior_min: int | None = None
    interior_max: int | None = None
    uneven: bool | None = None
    gains: np.ndarray | None = None
    phase_imbalance: float | None = None
    worst_pair: tuple[int, int] | None = None
    period: int | None = None  # of this layer's pattern, in output pixels
    severity: str = "ok"  # "artifact" (offending), "gradient" (downsampling), "ok"
    verdict: str = ""
    fix_code: str | None = None
    module_path: str | None = None
    fix_measured: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def offending(self) -> bool:
        return self.severity == "artifact"

    def to_json(self) -> dict[str, Any]:
        gains = None
        worst = None
        if self.gains is not None:
            gains = _round(self.gains[0, 0].tolist())
            if self.worst_pair is not None:
                i, o = self.worst_pair
                worst = {"in_channel": i, "out_channel": o,
                         "gains": _round(self.gains[i, o].tolist())}
        return _clean({
            "name": self.name, "op": self.op, "direction": self.direction, "mode": self.mode,
            "kernel": self.kernel, "stride": self.stride, "padding": self.padding,
            "dilation": self.dilation, "output_padding": self.output_padding,
            "groups": self.groups, "in_channels": self.in_channels,
            "out_channels": self.out_channels, "in_size": self.in_size,
            "out_size": self.out_size, "scale": self.scale,
            "interior_min": self.interior_min, "interior_max": self.interior_max,
            "uneven": self.uneven, "phase_imbalance": self.phase_imbalance,
            "phase_gains_pair_0_0": gains, "phase_gains_worst_pair": worst,
            "period": self.period, "severity": self.severity, "offending": self.offending,
            "verdict": self.verdict, "fix_code": self.fix_code,
            "module_path": self.module_path, "fix_measured": self.fix_measured,
            "notes": self.notes,
        })


@dataclass(frozen=True)
class Chain:
    """The resampling chain: factors and the predicted artifact period."""

    total_upsampling: float  # product of the upsampling layers' out/in ratios
    total_downsampling: float  # product of the downsampling layers' strides
    net_scale: float  # output size / input size
    period: int  # predicted period of the artifact in output pixels (1: none)
    upsampling_layers: int
    offending_layers: int

    def to_json(self) -> dict[str, Any]:
        return _clean(self.__dict__.copy())


@dataclass(eq=False)
class ProbeResult:
    """One probe through the model."""

    name: str
    input: np.ndarray  # (H, W, C) as fed (for display)
    output: np.ndarray  # (H, W, C) in [0, 1] as scored
    scaling: str  # "as is" or "min-max"
    score: float | None
    spectrum: Spectrum | None
    radial: tuple[np.ndarray, np.ndarray] | None  # (frequency, log10 mean power)


@dataclass(eq=False)
class ProbeReport:
    """All probes, the score of the contract, and the shift test."""

    period: int  # the period the scores use
    results: dict[str, ProbeResult]
    scored_on: str | None
    checkerboard_score: float | None
    shift_psnr: dict[int, float]  # shift in output pixels -> PSNR (dB)
    shift_reference: tuple[int, float] | None  # (one full period, its PSNR)
    shift_note: str | None
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        display = None
        if self.checkerboard_score is not None:
            display = format_score(self.checkerboard_score)
        results = {}
        for name, r in self.results.items():
            entry: dict[str, Any] = {"score": r.score, "scaling": r.scaling,
                                     "input_shape": list(r.input.shape),
                                     "output_shape": list(r.output.shape)}
            if r.radial is not None:
                entry["radial_spectrum"] = {"frequency": _round(r.radial[0].tolist()),
                                            "log10_power": _round(r.radial[1].tolist())}
            results[name] = entry
        return _clean({
            "period": self.period, "checkerboard_score": self.checkerboard_score,
            "checkerboard_score_display": display,
            "checkerboard_score_unit": "core.metrics.checkerboard_score (raw); shown ×10⁻³",
            "scored_on": self.scored_on, "results": results,
            "shift_test": {"shifts": list(self.shift_psnr),
                           "psnr_db": list(self.shift_psnr.values()),
                           "reference_shift": self.shift_reference[0]
                           if self.shift_reference else None,
                           "reference_psnr_db": self.shift_reference[1]
                           if self.shift_reference else None,
                           "note": self.shift_note},
            "notes": self.notes,
        })


@dataclass(eq=False)
class AuditReport:
    """Everything the audit found about one network."""

    source: str
    kind: str  # "onnx" or "torch"
    input_name: str
    input_shape: list[int]
    output_shape: list[int] | None
    layers: list[LayerAudit]
    chain: Chain
    probes: ProbeReport | None
    notes: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    fix_all: dict[str, Any] | None = None  # every offending layer fixed at once (live)

    @property
    def offending(self) -> list[LayerAudit]:
        return [layer for layer in self.layers if layer.offending]

    def to_json(self) -> dict[str, Any]:
        return _clean({
            "schema": 1, "tool": "Checkerboard Lab audit (core.audit)",
            "source": self.source, "kind": self.kind,
            "input": {"name": self.input_name, "shape": self.input_shape},
            "output": {"shape": self.output_shape},
            "layers": [layer.to_json() for layer in self.layers],
            "chain": self.chain.to_json(),
            "probes": self.probes.to_json() if self.probes else None,
            "fix_all_measured": self.fix_all,
            "notes": self.notes,
            "seconds": {k: round(v, 4) for k, v in self.seconds.items()},
        })

    def json_text(self) -> str:
        return json.dumps(self.to_json(), indent=2, ensure_ascii=False, allow_nan=False)

    def layer_rows(self) -> list[dict[str, Any]]:
        """One flat row per layer, for tables."""
        rows = []
        for i, layer in enumerate(self.layers):
            rows.append({
                "#": i, "name": layer.name, "op": layer.op + (f" ({layer.mode})" if layer.mode
                                                              else ""),
                "dir": layer.direction,
                "kernel": _fmt_pair(layer.kernel), "stride": _fmt_pair(layer.stride),
                "padding": "" if layer.padding is None else ",".join(map(str, layer.padding)),
                "channels": "" if layer.in_channels is None else
                f"{layer.in_channels}→{layer.out_channels}",
                "size": "" if layer.in_size is None or layer.out_size is None else
                f"{_fmt_pair(layer.in_size)}→{_fmt_pair(layer.out_size)}",
                "overlap max/min": "" if layer.interior_min is None else
                f"{layer.interior_max}/{layer.interior_min}",
                "uneven": layer.uneven,
                "imbalance": layer.phase_imbalance,
                "verdict": layer.severity,
            })
        return rows


def _fmt_pair(values) -> str:
    if values is None:
        return ""
    values = [int(v) if float(v).is_integer() else round(float(v), 3) for v in values]
    return str(values[0]) if len(set(values)) == 1 else "x".join(map(str, values))


def _round(value, digits: int = 6):
    if isinstance(value, list):
        return [_round(v, digits) for v in value]
    if isinstance(value, float):
        return round(value, digits) if math.isfinite(value) else None
    return value


def _clean(value):
    """JSON-safe: numpy scalars to Python, non-finite floats to None, tuples to lists."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, np.ndarray):
        return _clean(value.tolist())
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return value if math.isfinite(value) else None
    return value


# ---------------------------------------------------------------------------------------
# Analysis of one layer (shared by the ONNX and the torch paths)
# ---------------------------------------------------------------------------------------


@dataclass(eq=False)
class _Found:
    """A candidate layer as found in a graph or a forward pass, before the verdicts."""

    name: str
    op: str
    mode: str | None = None
    kernel: tuple[int, int] | None = None
    stride: tuple[int, int] | None = None
    pads: tuple[int, int, int, int] | None = None  # top, left, bottom, right
    dilation: tuple[int, int] = (1, 1)
    output_padding: tuple[int, int] = (0, 0)
    groups: int = 1
    in_channels: int | None = None
    out_channels: int | None = None
    in_size: tuple[int, int] | None = None
    out_size: tuple[int, int] | None = None
    weight: Callable[[], np.ndarray | None] | None = None  # lazily: ConvT or feeding conv
    block: int | None = None  # DepthToSpace / SpaceToDepth block size
    d2s_mode: str = "CRD"
    module_path: str | None = None
    module: Any = None  # the nn.Module to swap for a fix (torch path only)
    feeder: Any = None  # the nn.Conv2d feeding a pixel shuffle (torch path only)


def _integer(x: float) -> int | None:
    r = round(x)
    return int(r) if r >= 1 and abs(x - r) < 1e-6 else None


def _scale(found: _Found) -> tuple[float, float] | None:
    if found.in_size is None or found.out_size is None:
        return None
    return (found.out_size[0] / found.in_size[0], found.out_size[1] / found.in_size[1])


def _direction(found: _Found) -> str:
    if found.op in UP_OPS:
        return "up"
    return "down"


def _overlap_args(found: _Found) -> dict[str, tuple[int, int]] | None:
    """The transposed convolution whose coverage stands for this layer (see module doc)."""
    op = found.op
    if op == "ConvTranspose" and found.kernel and found.stride:
        return {"kernel_size": found.kernel, "stride": found.stride,
                "padding": (found.pads[0], found.pads[1]) if found.pads else (0, 0),
                "dilation": found.dilation, "output_padding": found.output_padding}
    if op in ("DepthToSpace", "SpaceToDepth") and found.block:
        b = (found.block, found.block)
        return {"kernel_size": b, "stride": b, "padding": (0, 0), "dilation": (1, 1),
                "output_padding": (0, 0)}
    if op in ("Resize", "Upsample"):
        scale = _scale(found)
        if scale is None:
            return None
        s = tuple(_integer(v) for v in scale)
        if None in s:
            return None
        mode = (found.mode or "nearest").lower()
        length = {"nearest": 1, "linear": 2, "cubic": 4}.get(mode)
        if length is None:
            return None
        k = tuple(max(1, length * v) for v in s)
        return {"kernel_size": k, "stride": s, "padding": (0, 0), "dilation": (1, 1),
                "output_padding": (0, 0)}
    if op in ("Conv", "MaxPool", "AveragePool", "LpPool") and found.kernel and found.stride:
        return {"kernel_size": found.kernel, "stride": found.stride,
                "padding": (found.pads[0], found.pads[1]) if found.pads else (0, 0),
                "dilation": found.dilation, "output_padding": (0, 0)}
    return None


def layer_coverage(layer: LayerAudit, size: int = 6) -> CoverageReport | None:
    """The coverage (:func:`core.overlap.coverage_report`) of ``layer``'s equivalent
    transposed convolution on a ``size x size`` input (for views; the interior verdict
    does not depend on ``size``). None when overlap does not apply.

    For downsampling layers the map is over the layer's *input*: how often each input
    pixel is read (the gradient's overlap).
    """
    args = layer.overlap
    if args is None:
        return None
    try:
        return coverage_report(args["kernel_size"], args["stride"], (size, size),
                               padding=args["padding"], dilation=args["dilation"],
                               output_padding=args["output_padding"])
    except ValueError:  # padding too large for a small map: the interior is the same
        return coverage_report(args["kernel_size"], args["stride"], (size, size),
                               dilation=args["dilation"])


def _dilate(weight: np.ndarray, dilation: tuple[int, int]) -> np.ndarray:
    """Insert zeros between taps: the kernel a dilated layer effectively paints."""
    dh, dw = dilation
    if dh == 1 and dw == 1:
        return weight
    kh, kw = weight.shape[-2:]
    out = np.zeros((*weight.shape[:-2], (kh - 1) * dh + 1, (kw - 1) * dw + 1), weight.dtype)
    out[..., ::dh, ::dw] = weight
    return out


def _subpixel_gains(weight: np.ndarray, block: int, mode: str) -> np.ndarray:
    """``(C_in, C_out, r, r)`` tap sums of the conv feeding a DepthToSpace.

    CRD (PyTorch's PixelShuffle): channel ``c*r*r + a*r + b`` goes to phase ``(a, b)`` of
    channel ``c``; DCR: channel ``(a*r + b)*C + c``.
    """
    sums = weight.reshape(weight.shape[0], weight.shape[1], -1).sum(axis=2)  # (C*r*r, C_in)
    c = sums.shape[0] // (block * block)
    if mode.upper() == "DCR":
        g = sums.reshape(block, block, c, -1)  # (a, b, C_out, C_in)
        return g.transpose(3, 2, 0, 1)
    g = sums.reshape(c, block, block, -1)  # (C_out, a, b, C_in)
    return g.transpose(3, 0, 1, 2)


def _gains(found: _Found) -> tuple[np.ndarray | None, str | None]:
    """Per-phase DC gains of an upsampler from its weights, or (None, why not)."""
    if found.op in ("Resize", "Upsample"):
        return None, None
    if found.weight is None:
        return None, "weights are not constants of the graph"
    weight = found.weight()
    if weight is None:
        return None, "weights are not constants of the graph"
    weight = np.asarray(weight, dtype=np.float64)
    if found.op == "ConvTranspose":
        sh, sw = found.stride or (1, 1)
        if sh != sw:
            return None, f"stride {sh}x{sw} is not square: phase gains not computed"
        return polyphase_gains(_dilate(weight, found.dilation), int(sh)), None
    if found.op == "DepthToSpace" and found.block:
        if weight.ndim != 4 or weight.shape[0] % (found.block ** 2):
            return None, "the convolution feeding it does not fit the block size"
        return _subpixel_gains(weight, found.block, found.d2s_mode), None
    return None, None


def _fix_code(layer: LayerAudit) -> str | None:
    """PyTorch code for the fix of an offending (or gradient-uneven) layer."""
    c_in = layer.in_channels if layer.in_channels is not None else "in_channels"
    c_out = layer.out_channels if layer.out_channels is not None else "out_channels"
    if layer.op == "ConvTranspose":
        s = layer.stride[0] if layer.stride and len(set(layer.stride)) == 1 else None
        k = layer.kernel[0] if layer.kernel and len(set(layer.kernel)) == 1 else 3
        s_txt = s if s is not None else "scale"
        k_fix = k if k % 2 else max(1, k - 1)
        even_k = (s * math.ceil(k / s)) if s else "a multiple of the stride"
        lines = [
            "import torch.nn as nn",
            "",
            "# Resize-convolution (Odena et al. 2016): nearest upsampling, then a convolution.",
            "# Every output phase sums the same taps: no checkerboard, at initialisation or",
            "# after training.",
            "fix = nn.Sequential(",
            f"    nn.Upsample(scale_factor={s_txt}, mode=\"nearest\"),",
            f"    nn.Conv2d({c_in}, {c_out}, kernel_size={k_fix}, padding={k_fix // 2}"
            + (f", groups={layer.groups}" if layer.groups and layer.groups > 1 else "") + "),",
            ")",
            "",
            "# The lab's equivalent at transposed-convolution cost (one conv at the input size):",
            f"#   core.layers.make_upsampler(\"fused_resize\", {c_in}, {c_out}, scale={s_txt}, "
            f"kernel_size={k_fix})",
            "# Or keep this layer and append a fixed hold (Sugawara et al. 2019):",
            f"#   core.layers.make_upsampler(\"deconv_zoh\", {c_in}, {c_out}, scale={s_txt}, "
            f"kernel_size={k})",
        ]
        if layer.uneven and s:
            lines += [
                "# Or a kernel divisible by the stride: even overlap, but it can still learn",
                "# unequal phase gains (check phase_imbalance after training):",
                f"#   nn.ConvTranspose2d({c_in}, {c_out}, kernel_size={even_k}, stride={s}, "
                f"padding={(even_k - s) // 2})",
            ]
        return "\n".join(lines)
    if layer.op == "DepthToSpace":
        r = layer.stride[0] if layer.stride else "scale"
        return "\n".join([
            "import torch",
            "import torch.nn as nn",
            "",
            "# ICNR initialisation (Aitken et al. 2017): the r*r phases of every output",
            "# channel start from one kernel, so the layer starts as conv + nearest upsampling.",
            "# `conv` is the nn.Conv2d feeding this PixelShuffle / DepthToSpace.",
            "@torch.no_grad()",
            f"def icnr_(conv: nn.Conv2d, scale: int = {r}) -> None:",
            "    w0 = torch.empty(conv.out_channels // scale**2, *conv.weight.shape[1:])",
            "    nn.init.kaiming_normal_(w0)",
            "    conv.weight.copy_(w0.repeat_interleave(scale**2, dim=0))",
            "    if conv.bias is not None:",
            "        conv.bias.copy_(conv.bias.view(-1, scale**2)[:, :1].expand(-1, scale**2)"
            ".reshape(-1))",
            "",
            "# (the lab's own: core.layers.icnr_(conv.weight, conv.bias, scale))",
            "# A trained layer whose phases drifted apart: replace it by resize-convolution:",
            f"#   nn.Sequential(nn.Upsample(scale_factor={r}, mode=\"nearest\"), "
            f"nn.Conv2d({c_in}, {c_out}, 3, padding=1))",
        ])
    if layer.op in ("Resize", "Upsample"):
        return "\n".join([
            "import torch.nn as nn",
            "",
            "# A nearest resize by a non-integer factor repeats some pixels more often than",
            "# others: a periodic pattern. Use an integer factor, or interpolate smoothly:",
            "nn.Upsample(scale_factor=2, mode=\"nearest\")  # integer factor",
            "nn.Upsample(size=(H_out, W_out), mode=\"bilinear\", align_corners=False)",
        ])
    if layer.op in DOWN_OPS and layer.uneven:
        s = layer.stride[0] if layer.stride else 2
        k = layer.kernel[0] if layer.kernel else 3
        even_k = s * max(1, math.ceil(k / s))
        pad = (even_k - s) // 2
        if layer.op == "Conv":
            line = (f"nn.Conv2d({c_in}, {c_out}, kernel_size={even_k}, stride={s}, "
                    f"padding={pad})")
        elif layer.op == "MaxPool":
            line = f"nn.MaxPool2d(kernel_size={s}, stride={s})"
        else:
            line = f"nn.AvgPool2d(kernel_size={s}, stride={s})"
        return "\n".join([
            "import torch.nn as nn",
            "",
            "# Windows that overlap unevenly read some input pixels more often than others:",
            "# the gradient sent back through this layer is a checkerboard (Distill,",
            "# 'Artifacts in gradients'). A kernel divisible by the stride reads every",
            "# pixel equally often:",
            line,
        ])
    return None


def _analyse(found: _Found) -> LayerAudit:
    """Verdicts on one layer: overlap, phase gains, severity, fix code."""
    scale = _scale(found)
    direction = _direction(found)
    layer = LayerAudit(
        name=found.name, op=found.op, direction=direction,
        mode=found.mode if found.op in ("Resize", "Upsample") else
        (found.d2s_mode if found.op == "DepthToSpace" else None),
        kernel=list(found.kernel) if found.kernel else None,
        stride=list(found.stride) if found.stride else
        ([found.block, found.block] if found.block else None),
        padding=list(found.pads) if found.pads else None,
        dilation=list(found.dilation) if found.op in ("ConvTranspose", "Conv", "MaxPool")
        else None,
        output_padding=list(found.output_padding) if found.op == "ConvTranspose" else None,
        groups=found.groups if found.op in ("ConvTranspose", "Conv") else None,
        in_channels=found.in_channels, out_channels=found.out_channels,
        in_size=list(found.in_size) if found.in_size else None,
        out_size=list(found.out_size) if found.out_size else None,
        scale=[round(v, 6) for v in scale] if scale else None,
        overlap=_overlap_args(found), module_path=found.module_path,
    )
    report = layer_coverage(layer)
    if report is not None:
        layer.interior_min = report.interior_stats.min
        layer.interior_max = report.interior_stats.max
        layer.uneven = report.interior_stats.max > report.interior_stats.min
    if found.op in ("Resize", "Upsample") and (found.mode or "nearest").lower() == "nearest" \
            and scale is not None and layer.overlap is None:
        layer.uneven = True  # non-integer nearest: some pixels repeated more often
        layer.notes.append("nearest resize by a non-integer factor "
                           f"{scale[0]:.3g}x{scale[1]:.3g}: pixels are repeated unequally")
    if direction == "up":
        gains, why = _gains(found)
        if why:
            layer.notes.append(why)
        if gains is not None:
            layer.gains = gains
            layer.phase_imbalance = gain_imbalance(gains)
            spread = gains.max(axis=(-2, -1)) - gains.min(axis=(-2, -1))
            i, o = np.unravel_index(int(np.argmax(spread)), spread.shape)
            layer.worst_pair = (int(i), int(o))
        elif found.op in ("Resize", "Upsample") and layer.overlap is not None:
            layer.phase_imbalance = 0.0  # a fixed interpolation: every phase sums to one
        imbalanced = (layer.phase_imbalance or 0.0) > IMBALANCE_TOLERANCE
        layer.severity = "artifact" if (layer.uneven or imbalanced) else "ok"
        parts = []
        if layer.uneven:
            parts.append(f"uneven overlap (interior max/min {layer.interior_max}/"
                         f"{layer.interior_min})" if layer.interior_min is not None
                         else "uneven resampling")
        elif layer.uneven is False:
            parts.append("even overlap")
        if layer.phase_imbalance is not None:
            parts.append(f"phase imbalance {layer.phase_imbalance:.3f}"
                         + (" > tolerance" if imbalanced else ""))
        if parts:
            layer.verdict = ("checkerboard: " if layer.offending else "clean: ") + ", ".join(parts)
        else:
            layer.verdict = ("not judged: no overlap model or weights for this layer "
                             f"(scale {_fmt_pair(layer.scale) or '?'})")
    else:
        layer.severity = "gradient" if layer.uneven else "ok"
        layer.verdict = (
            f"windows overlap unevenly (input read {layer.interior_min} to "
            f"{layer.interior_max} times): checkerboard in the gradient, not the output"
            if layer.uneven else "every input pixel read equally often")
    if layer.severity != "ok":
        layer.fix_code = _fix_code(layer)
    return layer


def _lcm(values: Sequence[int]) -> int:
    out = 1
    for v in values:
        out = out * v // math.gcd(out, v)
    return out


def _chain(layers: list[LayerAudit], in_size: tuple[int, int] | None,
           out_size: tuple[int, int] | None) -> Chain:
    """Factors and predicted period; sets each upsampling layer's ``period``."""
    up, down = 1.0, 1.0
    periods = []
    for layer in layers:
        if layer.scale is None:
            continue
        if layer.direction == "up":
            up *= layer.scale[0]
        elif layer.stride:  # the stride, not in/out: padding changes the sizes a little
            down *= layer.stride[0]
        else:
            down *= 1.0 / layer.scale[0] if layer.scale[0] else 1.0
        if layer.direction != "up" or out_size is None or layer.out_size is None:
            continue
        s = layer.stride[0] if layer.stride else _integer(layer.scale[0])
        if layer.op in ("Resize", "Upsample"):
            s = _integer(layer.scale[0])
        if not s or s < 2:
            continue
        stretch = out_size[0] / layer.out_size[0]
        period = _integer(s * stretch)
        if period and period >= 2:
            layer.period = period
            periods.append(period)
    net = (out_size[0] / in_size[0]) if in_size and out_size else float("nan")
    return Chain(total_upsampling=round(up, 6), total_downsampling=round(down, 6),
                 net_scale=round(net, 6), period=_lcm(periods) if periods else 1,
                 upsampling_layers=sum(1 for la in layers if la.direction == "up"),
                 offending_layers=sum(1 for la in layers if la.offending))


# ---------------------------------------------------------------------------------------
# Probes
# ---------------------------------------------------------------------------------------


def _smooth_noise(shape: tuple[int, int, int], seed: int) -> np.ndarray:
    """Periodic, band-limited noise in [0, 1]: Gaussian low-pass (sigma of the spectrum
    1/16 cycle/pixel) of white noise, so any sub-pixel shift of it is exact."""
    h, w, c = shape
    rng = np.random.default_rng(seed)
    white = rng.standard_normal((h, w, c))
    fy = np.fft.fftfreq(h)[:, None, None]
    fx = np.fft.fftfreq(w)[None, :, None]
    lowpass = np.exp(-(fy ** 2 + fx ** 2) / (2 * (1 / 16) ** 2))
    smooth = np.real(np.fft.ifft2(np.fft.fft2(white, axes=(0, 1)) * lowpass, axes=(0, 1)))
    smooth = (smooth - smooth.mean()) / (smooth.std() + 1e-12)
    return np.clip(0.5 + 0.15 * smooth, 0.0, 1.0)


def _fourier_shift(image: np.ndarray, dy: float, dx: float) -> np.ndarray:
    """``image`` (H, W, C) moved by (dy, dx) pixels, circularly; exact roll for integers."""
    if float(dy).is_integer() and float(dx).is_integer():
        return np.roll(image, (int(dy), int(dx)), axis=(0, 1))
    h, w = image.shape[:2]
    fy = np.fft.fftfreq(h)[:, None, None]
    fx = np.fft.fftfreq(w)[None, :, None]
    ramp = np.exp(-2j * np.pi * (fy * dy + fx * dx))
    return np.real(np.fft.ifft2(np.fft.fft2(image, axes=(0, 1)) * ramp, axes=(0, 1)))


def _photograph(shape: tuple[int, int, int], image: np.ndarray | None) -> np.ndarray:
    """The photograph probe (or the user's image) at (H, W, C), in [0, 1]."""
    from core.lab_inputs import lab_input

    h, w, c = shape
    side = max(h, w)
    if image is not None:
        rgb = lab_input("upload", side, image=_as_rgb(image))
    else:
        rgb = lab_input("photograph", side, photo="astronaut.png")
    top, left = (side - h) // 2, (side - w) // 2
    rgb = rgb[top:top + h, left:left + w].astype(np.float64)  # (H, W, 3)
    if c == 3:
        return rgb
    grey = rgb @ np.array([0.299, 0.587, 0.114])
    return np.repeat(grey[:, :, None], c, axis=2)


def _as_rgb(image: np.ndarray) -> np.ndarray:
    arr = np.asarray(image)
    if arr.ndim == 2:
        arr = np.repeat(arr[:, :, None], 3, axis=2)
    if arr.ndim != 3 or arr.shape[2] not in (1, 3, 4):
        raise AuditError(f"the probe image must be (H, W), (H, W, 3) or (H, W, 4), got "
                         f"shape {arr.shape}")
    if arr.shape[2] == 1:
        arr = np.repeat(arr, 3, axis=2)
    return arr[:, :, :3]


def _probe_inputs(input_shape: Sequence[int], image: np.ndarray | None,
                  seed: int) -> tuple[dict[str, np.ndarray], bool]:
    """Probe images ``name -> (H, W, C)`` and whether the input is an image."""
    _, c, h, w = input_shape
    image_like = min(h, w) >= MIN_IMAGE_SIDE
    probes = {"constant": np.full((h, w, c), 0.5)}
    if image_like:
        probes["smooth noise"] = _smooth_noise((h, w, c), seed)
        probes["photograph" if image is None else "your image"] = _photograph((h, w, c), image)
    else:  # a latent vector: constant, and a seeded standard normal latent
        probes["random latent"] = np.random.default_rng(seed).standard_normal((h, w, c))
    return probes, image_like


def _to_unit(output: np.ndarray, lo_hi: tuple[float, float] | None = None
             ) -> tuple[np.ndarray, str, tuple[float, float] | None]:
    """The output as scored: as is when it lies in [0, 1], else min-max rescaled."""
    if lo_hi is None:
        lo, hi = float(output.min()), float(output.max())
        if lo >= -1e-3 and hi <= 1 + 1e-3:
            return np.clip(output, 0.0, 1.0), "as is", None
        lo_hi = (lo, hi)
    lo, hi = lo_hi
    if hi - lo <= 1e-12 * max(1.0, abs(hi)):
        return np.full_like(output, 0.5), "min-max", lo_hi
    return (output - lo) / (hi - lo), "min-max", lo_hi


def azimuthal_average(spectrum: Spectrum) -> tuple[np.ndarray, np.ndarray]:
    """Azimuthally averaged power of a :class:`core.metrics.Spectrum` (Durall et al. 2020).

    Power (not log power) is averaged over rings one frequency bin wide; returns
    ``(radius in cycles/pixel, log10 mean power)`` from 0 to the corner (0.5 * sqrt 2).
    """
    power = 10.0 ** spectrum.log_power
    fy, fx = np.meshgrid(spectrum.fy, spectrum.fx, indexing="ij")
    radius = np.hypot(fy, fx)
    step = 1.0 / max(len(spectrum.fy), len(spectrum.fx))
    bins = np.rint(radius / step).astype(int)
    sums = np.bincount(bins.ravel(), power.ravel())
    counts = np.bincount(bins.ravel())
    keep = counts > 0
    freq = np.arange(sums.size)[keep] * step
    return freq, np.log10(sums[keep] / counts[keep] + 1e-12)


def _score_period(period: int, shape: tuple[int, ...]) -> int:
    """The period the score uses: the predicted one (>= 2), reduced to a divisor that
    fits the image's ``4 * period`` minimum side if needed."""
    p = max(2, period)
    side = min(shape[:2])
    while p > 2 and 4 * p > side:
        divisors = [d for d in range(2, p) if p % d == 0]
        p = divisors[-1] if divisors else 2
    return p


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a - b) ** 2))
    if mse <= 10 ** (-MAX_PSNR / 10):
        return MAX_PSNR
    return 10.0 * math.log10(1.0 / mse)


def _run_probes(run: Callable[[np.ndarray], np.ndarray], input_shape: Sequence[int],
                period: int, *, image: np.ndarray | None = None, seed: int = 0) -> ProbeReport:
    """Feed the probes through ``run`` ((N, C, H, W) float32 -> (N, C', H', W')).

    Scores, spectra, and the shift test on the smooth noise.
    """
    n = int(input_shape[0])
    probes, image_like = _probe_inputs(input_shape, image, seed)
    notes: list[str] = []
    results: dict[str, ProbeResult] = {}
    raw_outputs: dict[str, np.ndarray] = {}
    p_used = None
    for name, x in probes.items():
        batch = np.repeat(x.transpose(2, 0, 1)[None], n, axis=0).astype(np.float32)
        y = np.asarray(run(batch))
        if y.ndim != 4:
            notes.append(f"the output has shape {tuple(y.shape)}, not (N, C, H, W): "
                         "no image measurements")
            return ProbeReport(max(2, period), {}, None, None, {}, None,
                               "output is not an image", notes)
        out = y[0].astype(np.float64).transpose(1, 2, 0)  # (H', W', C')
        raw_outputs[name] = out
        scored, scaling, _ = _to_unit(out)
        p_used = _score_period(period, scored.shape) if p_used is None else p_used
        score = spectrum = radial = None
        if min(scored.shape[:2]) >= 4 * p_used:
            score = checkerboard_score(scored, p_used)
            spectrum = log_power_spectrum(scored, p_used)
            radial = azimuthal_average(spectrum)
        results[name] = ProbeResult(name, x, scored, scaling, score, spectrum, radial)
    p_used = p_used or max(2, period)
    if period < 2:
        notes.append("no upsampling layer with an integer stride: scores use period 2")
    elif p_used != period:
        notes.append(f"the output is too small for period {period}: scores use {p_used}")
    scored_on = next((k for k in ("photograph", "your image", "smooth noise", "random latent")
                      if k in results and results[k].score is not None), None)
    score = results[scored_on].score if scored_on else None
    # The shift test: f(shift(x)) against shift(f(x)) on the band-limited noise.
    shift_psnr: dict[int, float] = {}
    reference = None
    shift_note = None
    out0 = raw_outputs.get("smooth noise")
    if not image_like or out0 is None:
        shift_note = "the input is not an image (latent vector): no shift test"
    else:
        h_in = int(input_shape[2])
        net = out0.shape[0] / h_in
        if net <= 0 or (_integer(net) is None and _integer(1 / net) is None):
            shift_note = f"net scale {net:.3g} is not an integer or its inverse: no shift test"
        else:
            base, _, lo_hi = _to_unit(out0)
            lo_hi = lo_hi or (0.0, 1.0)
            h, w = base.shape[:2]
            margin = max(period, min(h, w) // 4)
            crop = (slice(margin, h - margin), slice(margin, w - margin))
            x0 = probes["smooth noise"]
            shifts = list(range(1, max(2, period)))
            for d in shifts + [max(2, period)]:
                xs = _fourier_shift(x0, d / net, d / net)
                batch = np.repeat(xs.transpose(2, 0, 1)[None], n, axis=0).astype(np.float32)
                ys = np.asarray(run(batch))[0].astype(np.float64).transpose(1, 2, 0)
                shifted, _, _ = _to_unit(ys, lo_hi)
                expected = np.roll(base, (d, d), axis=(0, 1))
                value = _psnr(np.clip(shifted[crop], 0, 1), np.clip(expected[crop], 0, 1))
                if d in shifts:
                    shift_psnr[d] = value
                else:
                    reference = (d, value)
            shift_note = (f"diagonal shifts of d output pixels (d/{net:g} input pixels, "
                          "Fourier-shifted band-limited noise); PSNR on the central part")
    return ProbeReport(p_used, results, scored_on, score, shift_psnr, reference, shift_note,
                       notes)


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


# ---------------------------------------------------------------------------------------
# Live torch modules
# ---------------------------------------------------------------------------------------

_SIGNATURES = {
    "conv2d": ("input", "weight", "bias", "stride", "padding", "dilation", "groups"),
    "conv_transpose2d": ("input", "weight", "bias", "stride", "padding", "output_padding",
                         "groups", "dilation"),
    "interpolate": ("input", "size", "scale_factor", "mode", "align_corners",
                    "recompute_scale_factor", "antialias"),
    "upsample": ("input", "size", "scale_factor", "mode", "align_corners"),
    "pixel_shuffle": ("input", "upscale_factor"),
    "pixel_unshuffle": ("input", "downscale_factor"),
    "max_pool2d": ("input", "kernel_size", "stride", "padding", "dilation", "ceil_mode",
                   "return_indices"),
    "avg_pool2d": ("input", "kernel_size", "stride", "padding", "ceil_mode",
                   "count_include_pad", "divisor_override"),
}


def _pair_arg(value, default: int) -> tuple[int, int]:
    if value is None:
        return (default, default)
    if isinstance(value, (list, tuple)):
        return (int(value[0]), int(value[-1]))
    return (int(value), int(value))


class _Recorder:
    """Records the resampling calls of one forward pass, with the calling module."""

    def __init__(self, module) -> None:
        self.root = module
        self.stack: list[tuple[str, Any]] = [("", module)]
        self.calls: list[_Found] = []
        self.conv_outputs: dict[int, tuple[Any, Any, Any]] = {}  # id(out) -> (out, w, mod)
        self.handles = []
        for path, sub in module.named_modules():
            self.handles.append(sub.register_forward_pre_hook(self._enter(path, sub)))
            self.handles.append(sub.register_forward_hook(self._leave))

    def _enter(self, path, sub):
        def hook(_module, _args):
            self.stack.append((path, sub))
        return hook

    def _leave(self, _module, _args, _output):
        self.stack.pop()

    def close(self) -> None:
        for h in self.handles:
            h.remove()

    def record(self, fname: str, args: tuple, kwargs: dict, out) -> None:
        import torch

        names = _SIGNATURES[fname]
        bound = dict(zip(names, args, strict=False))
        bound.update(kwargs)
        x = bound["input"]
        if not isinstance(out, torch.Tensor) or x.ndim != 4 or out.ndim != 4:
            return
        path, module = self.stack[-1]
        base = path or type(self.root).__name__
        f = _Found(name=base, op="", module_path=path or None, module=module,
                   in_size=tuple(x.shape[2:]), out_size=tuple(out.shape[2:]),
                   in_channels=int(x.shape[1]), out_channels=int(out.shape[1]))
        if fname == "conv2d":
            w = bound["weight"]
            stride = _pair_arg(bound.get("stride"), 1)
            self.conv_outputs[id(out)] = (out, w, module)
            if max(stride) < 2:
                return
            f.op, f.kernel, f.stride = "Conv", tuple(w.shape[2:]), stride
            p = bound.get("padding", 0)
            ph, pw = (0, 0) if isinstance(p, str) else _pair_arg(p, 0)
            f.pads, f.dilation = (ph, pw, ph, pw), _pair_arg(bound.get("dilation"), 1)
            f.groups = int(bound.get("groups") or 1)
            f.weight = (lambda w=w: w.detach().cpu().double().numpy())
        elif fname == "conv_transpose2d":
            w = bound["weight"]
            f.op, f.kernel = "ConvTranspose", tuple(w.shape[2:])
            f.stride = _pair_arg(bound.get("stride"), 1)
            if max(f.stride) < 2 and f.out_size == f.in_size:
                return
            ph, pw = _pair_arg(bound.get("padding"), 0)
            f.pads = (ph, pw, ph, pw)
            f.output_padding = _pair_arg(bound.get("output_padding"), 0)
            f.dilation = _pair_arg(bound.get("dilation"), 1)
            f.groups = int(bound.get("groups") or 1)
            f.weight = (lambda w=w: w.detach().cpu().double().numpy())
        elif fname in ("interpolate", "upsample"):
            f.op, f.mode = "Resize", str(bound.get("mode") or "nearest")
            f.mode = {"bilinear": "linear", "bicubic": "cubic", "nearest-exact": "nearest"}.get(
                f.mode, f.mode)
            if f.out_size == f.in_size:
                return
        elif fname in ("pixel_shuffle", "pixel_unshuffle"):
            f.op = "DepthToSpace" if fname == "pixel_shuffle" else "SpaceToDepth"
            f.block = int(bound.get("upscale_factor") or bound.get("downscale_factor"))
            f.stride = (f.block, f.block)
            fed = self.conv_outputs.get(id(x))
            if fname == "pixel_shuffle" and fed is not None:
                _, w, conv = fed
                f.weight = (lambda w=w: w.detach().cpu().double().numpy())
                f.feeder = conv
        else:  # pooling
            f.op = "MaxPool" if fname == "max_pool2d" else "AveragePool"
            f.kernel = _pair_arg(bound.get("kernel_size"), 1)
            f.stride = _pair_arg(bound.get("stride") or bound.get("kernel_size"), 1)
            if max(f.stride) < 2:
                return
            ph, pw = _pair_arg(bound.get("padding"), 0)
            f.pads = (ph, pw, ph, pw)
            f.dilation = _pair_arg(bound.get("dilation"), 1)
        same = [c for c in self.calls if c.name.split("#")[0] == base and c.op == f.op]
        if same:
            f.name = f"{base}#{len(same) + 1}"
        self.calls.append(f)


def _trace_module(module, x) -> tuple[list[_Found], Any]:
    """One forward pass of ``module`` on ``x`` recording the resampling calls."""
    import torch
    from torch.overrides import TorchFunctionMode

    recorder = _Recorder(module)

    class Mode(TorchFunctionMode):
        def __torch_function__(self, func, types, args=(), kwargs=None):
            kwargs = kwargs or {}
            out = func(*args, **kwargs)
            fname = getattr(func, "__name__", "")
            if fname in _SIGNATURES:
                recorder.record(fname, args, kwargs, out)
            return out

    try:
        with torch.no_grad(), Mode():
            y = module(x)
    finally:
        recorder.close()
    return recorder.calls, y


def _eval_copy(module):
    """``module`` itself when in eval mode, else an eval-mode copy (never mutated)."""
    if not module.training:
        return module, []
    return copy.deepcopy(module).eval(), ["the module was in training mode: audited in "
                                          "eval mode (a copy)"]


def _torch_runner(module) -> Callable[[np.ndarray], np.ndarray]:
    import torch

    param = next(module.parameters(), None)
    dtype = param.dtype if param is not None else torch.float32
    device = param.device if param is not None else torch.device("cpu")

    def run(x: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            y = module(torch.from_numpy(np.ascontiguousarray(x)).to(device, dtype))
        return y.detach().float().cpu().numpy()

    return run


def audit_module(module, input_shape: Sequence[int], *, probes: bool = True,
                 image: np.ndarray | None = None, measure: bool = True, seed: int = 0,
                 name: str | None = None) -> AuditReport:
    """Audit a live ``torch.nn.Module`` fed ``(N, C, H, W)`` tensors of ``input_shape``.

    The same analysis as :func:`audit_onnx`, found by one recorded forward pass; with
    ``measure`` (and probes) each offending layer is also swapped for its fix at
    initialisation and the score measured (:func:`measure_fixes`). The module is never
    modified (a training-mode module is audited through an eval-mode copy).
    """
    import torch

    shape = [int(v) for v in input_shape]
    if len(shape) != 4 or min(shape) < 1:
        raise AuditError(f"input_shape must be four positive integers (N, C, H, W), got "
                         f"{input_shape}")
    t0 = time.perf_counter()
    module, notes = _eval_copy(module)
    run = _torch_runner(module)
    param = next(module.parameters(), None)
    x = torch.zeros(shape, dtype=param.dtype if param is not None else torch.float32,
                    device=param.device if param is not None else "cpu")
    try:
        calls, y = _trace_module(module, x)
    except Exception as err:  # noqa: BLE001 - the user's forward may raise anything
        raise AuditError(f"the module's forward pass fails on input shape "
                         f"{','.join(map(str, shape))}: {type(err).__name__}: "
                         f"{' '.join(str(err).split())[:200]}") from err
    layers = [_analyse(f) for f in calls]
    out_shape = list(y.shape) if isinstance(y, torch.Tensor) else None
    out_size = (out_shape[2], out_shape[3]) if out_shape and len(out_shape) == 4 else None
    chain = _chain(layers, (shape[2], shape[3]), out_size)
    seconds = {"analysis": time.perf_counter() - t0}
    probe_report = None
    fix_all = None
    if probes:
        t1 = time.perf_counter()
        probe_report = _run_probes(run, shape, chain.period, image=image, seed=seed)
        seconds["probes"] = time.perf_counter() - t1
        if measure and probe_report.scored_on:
            t2 = time.perf_counter()
            measured = measure_fixes(module, shape, layers, probe_report, calls=calls,
                                     seed=seed)
            fix_all = measured.pop(ALL_LAYERS, None)
            for layer in layers:
                if layer.name in measured:
                    layer.fix_measured = measured[layer.name]
            seconds["fixes"] = time.perf_counter() - t2
    report = AuditReport(name or type(module).__name__, "torch", "input", shape, out_shape,
                         layers, chain, probe_report, notes, seconds)
    report.fix_all = fix_all
    return report


# ---------------------------------------------------------------------------------------
# Measured fixes (live modules)
# ---------------------------------------------------------------------------------------


def _resize_conv_fix(layer: LayerAudit, conv_t) -> Any:
    """Nearest upsampling + convolution giving ``conv_t``'s output size, or None."""
    from torch import nn

    s = layer.stride
    if not s or s[0] != s[1] or layer.in_size is None or layer.out_size is None:
        return None
    s = s[0]
    k = conv_t.kernel_size[0]
    k_fix = k if k % 2 else max(1, k - 1)
    pads = []
    for axis in (0, 1):
        total = layer.out_size[axis] - s * layer.in_size[axis] + k_fix - 1
        if total < 0:
            return None
        pads.append((total // 2, total - total // 2))
    return nn.Sequential(
        nn.Upsample(scale_factor=s, mode="nearest"),
        nn.ZeroPad2d((pads[1][0], pads[1][1], pads[0][0], pads[0][1])),
        nn.Conv2d(conv_t.in_channels, conv_t.out_channels, k_fix, groups=conv_t.groups,
                  bias=conv_t.bias is not None),
    ).to(conv_t.weight.device, conv_t.weight.dtype)


def _set_submodule(root, path: str, new) -> None:
    parent_path, _, leaf = path.rpartition(".")
    parent = root.get_submodule(parent_path) if parent_path else root
    setattr(parent, leaf, new)


def _find_path(root, target) -> str | None:
    for path, sub in root.named_modules():
        if sub is target:
            return path
    return None


#: Key of :func:`measure_fixes`'s entry for every offending layer fixed at once.
ALL_LAYERS = "(all offending layers)"


def _fix_target(layer: LayerAudit, found: _Found, module) -> tuple[str | None, Any]:
    """The module path to change for ``layer``'s fix, and that module (or None)."""
    from torch import nn

    target = found.feeder if layer.op == "DepthToSpace" else found.module
    if layer.op == "ConvTranspose" and isinstance(target, nn.ConvTranspose2d):
        return _find_path(module, target), target
    if layer.op == "DepthToSpace" and isinstance(target, nn.Conv2d) and layer.stride:
        return _find_path(module, target), target
    return None, None


def _apply_fix(model, path: str, layer: LayerAudit, seed: int) -> str | None:
    """Change ``model`` (a copy) in place: the layer at ``path`` fixed at initialisation.

    Returns a description, or None when no fix fits.
    """
    import torch

    from core.layers import icnr_

    target = model.get_submodule(path)
    torch.manual_seed(seed)
    if layer.op == "ConvTranspose":
        fix = _resize_conv_fix(layer, target)
        if fix is None:
            return None
        _set_submodule(model, path, fix)
        k = fix[2].kernel_size
        return f"{path} -> nearest upsampling + {k[0]}x{k[1]} convolution (resize-convolution)"
    target.reset_parameters()
    icnr_(target.weight, target.bias, int(layer.stride[0]))
    return f"{path} re-initialised with ICNR"


def _reinit(model, path: str, seed: int) -> None:
    import torch

    torch.manual_seed(seed)
    model.get_submodule(path).reset_parameters()


def measure_fixes(module, input_shape: Sequence[int], layers: Sequence[LayerAudit],
                  probe_report: ProbeReport, *, calls: Sequence[_Found] | None = None,
                  seed: int = 0) -> dict[str, dict]:
    """Measured effect of the fixes on a live module, on the scored probe.

    For each offending layer: the score of the module as given (``as_given``), with
    that layer re-initialised as it is (``original_at_init``, PyTorch's default
    initialisation, seeded) and with it swapped for its fix at initialisation
    (``fixed_at_init``: resize-convolution for a transposed convolution, ICNR for a
    sub-pixel layer). The last two compare the designs at the same point; the entry
    :data:`ALL_LAYERS` does the same with every fixable offending layer at once (one
    layer alone says little while others still paint their own pattern). Scores are
    raw :func:`core.metrics.checkerboard_score` values.
    """
    if calls is None:
        calls, _ = _trace_module(module, _zeros(input_shape))
    by_name = {c.name: c for c in calls}
    probe_name = probe_report.scored_on
    probe = probe_report.results[probe_name].input
    n = int(input_shape[0])
    batch = np.repeat(probe.transpose(2, 0, 1)[None], n, axis=0).astype(np.float32)
    period = probe_report.period

    def score_of(model) -> float | None:
        y = _torch_runner(model)(batch)[0].astype(np.float64).transpose(1, 2, 0)
        scored, _, _ = _to_unit(y)
        if min(scored.shape[:2]) < 4 * period:
            return None
        return checkerboard_score(scored, period)

    base = {"as_given": probe_report.checkerboard_score, "probe": probe_name, "period": period}
    out: dict[str, dict] = {}
    fixable: list[tuple[str, LayerAudit]] = []
    for layer in layers:
        if not layer.offending or layer.name not in by_name:
            continue
        entry: dict[str, Any] = dict(base)
        path, _ = _fix_target(layer, by_name[layer.name], module)
        fixed = copy.deepcopy(module) if path else None
        what = _apply_fix(fixed, path, layer, seed) if path else None
        if what is None:
            entry["fix"] = ("not swappable automatically (a functional call, no nn layer, or "
                            "no size-preserving fix)")
        else:
            original = copy.deepcopy(module)
            _reinit(original, path, seed)
            entry.update(original_at_init=score_of(original), fixed_at_init=score_of(fixed),
                         fix=what)
            fixable.append((path, layer))
        out[layer.name] = _clean(entry)
    if len(fixable) > 1:
        original, fixed = copy.deepcopy(module), copy.deepcopy(module)
        for i, (path, layer) in enumerate(fixable):
            _reinit(original, path, seed + i)
            _apply_fix(fixed, path, layer, seed + i)
        out[ALL_LAYERS] = _clean({**base, "original_at_init": score_of(original),
                                  "fixed_at_init": score_of(fixed),
                                  "fix": f"{len(fixable)} layers fixed together"})
    return out


# ---------------------------------------------------------------------------------------
# Export and the examples
# ---------------------------------------------------------------------------------------


def attach_fixes(report: AuditReport, module, *, seed: int = 0) -> AuditReport:
    """Add the measured fixes of the live ``module`` to ``report``, an audit of its ONNX
    export: layers are matched by module path (``/up1/deconv/ConvTranspose`` is
    ``up1.deconv``) and op type. Returns ``report`` (changed in place)."""
    if not (report.probes and report.probes.scored_on and report.offending):
        return report
    module, _ = _eval_copy(module)
    shape = report.input_shape
    calls, _ = _trace_module(module, _zeros(shape))
    live = [_analyse(c) for c in calls]
    measured = measure_fixes(module, shape, live, report.probes, calls=calls, seed=seed)
    report.fix_all = measured.pop(ALL_LAYERS, None)
    by_path: dict[tuple, dict] = {}
    for layer in live:
        if layer.name in measured:
            by_path.setdefault((layer.module_path, layer.op), measured[layer.name])
    for layer in report.layers:
        key = (layer.module_path, layer.op)
        if key in by_path:
            layer.fix_measured = by_path[key]
    return report


def _zeros(shape):
    import torch

    return torch.zeros([int(v) for v in shape])


# ---------------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------------


def parse_input_shape(text: str) -> list[int]:
    """``"1,3,256,256"`` (or ``1x3x256x256``) -> ``[1, 3, 256, 256]``; AuditError if not
    four positive integers."""
    try:
        shape = [int(v) for v in str(text).replace("x", ",").split(",")]
    except ValueError:
        shape = []
    if len(shape) != 4 or min(shape) < 1:
        raise AuditError(f"the input shape must be four positive integers N,C,H,W, got "
                         f"{text!r}")
    return shape


def _parse_shape(text: str) -> list[int]:
    try:
        return parse_input_shape(text)
    except AuditError as err:
        raise argparse.ArgumentTypeError(str(err)) from err


def summary_lines(report: AuditReport) -> list[str]:
    """A short human-readable summary (the CLI prints it)."""
    fmt = format_score
    lines = [f"{report.source}: input {tuple(report.input_shape)} -> output "
             f"{tuple(report.output_shape) if report.output_shape else '?'}; "
             f"{len(report.layers)} resampling layer(s), {len(report.offending)} offending; "
             f"total upsampling x{report.chain.total_upsampling:g}, predicted period "
             f"{report.chain.period}"]
    for layer in report.layers:
        lines.append(f"  [{layer.severity:8s}] {layer.name} {layer.op}"
                     f"{' ' + layer.mode if layer.mode else ''}: {layer.verdict}")
    if report.probes and report.probes.checkerboard_score is not None:
        lines.append(f"  checkerboard on the {report.probes.scored_on}: "
                     f"{fmt(report.probes.checkerboard_score)} (period {report.probes.period})")
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m core.audit MODEL.onnx [--input-shape N,C,H,W] [--json OUT.json]``."""
    parser = argparse.ArgumentParser(
        prog="python -m core.audit",
        description="Audit an ONNX network for checkerboard artifacts: every up/downsampling "
                    "layer, its overlap and phase gains, the predicted period, probes.")
    parser.add_argument("model", help="the .onnx file")
    parser.add_argument("--input-shape", type=_parse_shape, default=None,
                        help="N,C,H,W of the input (needed when the model leaves it free)")
    parser.add_argument("--json", dest="json_out", default=None,
                        help="write the report here (default: print it)")
    parser.add_argument("--html", default=None, help="also write a self-contained HTML report")
    parser.add_argument("--markdown", default=None, help="also write a Markdown report")
    parser.add_argument("--image", default=None, help="probe with this image, not the photograph")
    parser.add_argument("--no-probes", action="store_true", help="analysis only, no model runs")
    args = parser.parse_args(argv)
    try:
        image = None
        if args.image:
            from core.data import read_rgb

            image = read_rgb(args.image)
        report = audit_onnx(args.model, args.input_shape, probes=not args.no_probes,
                            image=image)
        text = report.json_text()
        if args.json_out:
            Path(args.json_out).write_text(text + "\n", encoding="utf-8")
        if args.html or args.markdown:
            from core.audit_report import to_html, to_markdown

            if args.html:
                Path(args.html).write_text(to_html(report), encoding="utf-8")
            if args.markdown:
                Path(args.markdown).write_text(to_markdown(report), encoding="utf-8")
    except AuditError as err:
        print(f"core.audit: refused: {err}", file=sys.stderr)
        return 2
    except (ValueError, OSError) as err:
        print(f"core.audit: error: {' '.join(str(err).split())}", file=sys.stderr)
        return 2
    try:
        print("\n".join(summary_lines(report)) if args.json_out else text)
    except BrokenPipeError:  # e.g. piped into `head`
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
