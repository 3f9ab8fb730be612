"""The audit's report: dataclasses and their JSON form (the schema the command line writes).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..maths.metrics import (
    Spectrum,
    format_score,
)
from .verdict import NOT_JUDGED, network_verdict, unjudged_lines

# ---------------------------------------------------------------------------------------
# The report
# ---------------------------------------------------------------------------------------


@dataclass(eq=False)
class LayerAudit:
    """One up- or downsampling layer and the verdicts on it.

    ``padding`` follows ONNX's ``pads``: ``[top, left, bottom, right]``. ``overlap``
    holds the equivalent transposed-convolution arguments of :mod:`core.maths.overlap`
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
    #: "artifact" (offending), "gradient" (downsampling), "ok", "not judged" (found, but no
    #: evidence either way: :mod:`core.audit.verdict`)
    severity: str = "ok"
    verdict: str = ""
    fix_code: str | None = None
    module_path: str | None = None
    fix_measured: dict[str, Any] | None = None
    align_corners: bool | None = None  # linear/cubic resizes
    source_channels: int | None = None  # in-channels of the conv feeding a pixel shuffle
    filters: list[str] | None = None  # fixed filters after it, judged with it
    blur: bool | None = None  # a spatial filter after it is credited (up layers)
    notes: list[str] = field(default_factory=list)
    #: Resolution of the layer's input relative to the network's input, from the strides
    #: along the graph (1: the input's, 0.5 after one stride-2 layer); None when unknown.
    level: float | None = None

    @property
    def offending(self) -> bool:
        return self.severity == "artifact"

    @property
    def judged(self) -> bool:
        """False when the audit found the layer but has no evidence either way."""
        return self.severity != NOT_JUDGED

    def to_json(self) -> dict[str, Any]:
        gains = None
        worst = None
        if self.gains is not None:
            gains = _round(self.gains[0, 0].tolist())
            if self.worst_pair is not None:
                i, o = self.worst_pair
                worst = {"in_channel": i, "out_channel": o,
                         "gains": _round(self.gains[i, o].tolist())}
        return json_safe({
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
            "align_corners": self.align_corners, "filters": self.filters, "blur": self.blur,
            "level": self.level, "notes": self.notes,
        })


@dataclass(frozen=True)
class Chain:
    """The resampling chain: factors and the predicted artifact period."""

    total_upsampling: float  # largest upsampled output / smallest upsampled input
    total_downsampling: float  # deepest level a downsampling layer reaches (along the graph)
    net_scale: float  # output size / input size
    period: int  # predicted period of the artifact in output pixels (1: none)
    upsampling_layers: int
    offending_layers: int

    def to_json(self) -> dict[str, Any]:
        return json_safe(self.__dict__.copy())


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
    #: The grid check (:func:`core.audit.probes.grid_evidence`): period -> ``{"score",
    #: "photograph", "ratio", "z", "grid"}`` on the scored probe's output.
    grid: dict[int, dict[str, Any]] = field(default_factory=dict)

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
        return json_safe({
            "period": self.period, "checkerboard_score": self.checkerboard_score,
            "checkerboard_score_display": display,
            "checkerboard_score_unit": "core.maths.metrics.checkerboard_score (raw); shown ×10⁻³",
            "scored_on": self.scored_on, "results": results,
            "scaling_rule": "min-max: each output rescaled by its own range to [0, 1]",
            "shift_test": {"shifts": list(self.shift_psnr),
                           "psnr_db": list(self.shift_psnr.values()),
                           "reference_shift": self.shift_reference[0]
                           if self.shift_reference else None,
                           "reference_psnr_db": self.shift_reference[1]
                           if self.shift_reference else None,
                           "note": self.shift_note},
            "grid": {str(p): g for p, g in self.grid.items()},
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
    #: What the audit could not judge or trust (layers it cannot read, an output the
    #: judged layers do not explain): shown as warnings, never as a clean verdict (each
    #: makes the network's verdict at best "not judged").
    warnings: list[str] = field(default_factory=list)
    #: Which output was audited when the model has several (a graph output's name, a
    #: tuple index or a dict key); None for a single output.
    output_name: str | None = None

    @property
    def offending(self) -> list[LayerAudit]:
        return [layer for layer in self.layers if layer.offending]

    @property
    def verdict(self) -> str:
        """"artifact", "unexplained grid", "not judged" or "clean"
        (:func:`core.audit.verdict.network_verdict`)."""
        return network_verdict(self)

    @property
    def unjudged(self) -> list[str]:
        """One line per thing not judged (:func:`core.audit.verdict.unjudged_lines`)."""
        return unjudged_lines(self)

    def to_json(self) -> dict[str, Any]:
        return json_safe({
            "schema": 2, "tool": "Checkerboard Lab audit (core.audit)",
            "source": self.source, "kind": self.kind, "verdict": self.verdict,
            "unjudged": self.unjudged,
            "input": {"name": self.input_name, "shape": self.input_shape},
            "output": {"name": self.output_name, "shape": self.output_shape},
            "layers": [layer.to_json() for layer in self.layers],
            "chain": self.chain.to_json(),
            "probes": self.probes.to_json() if self.probes else None,
            "fix_all_measured": self.fix_all,
            "notes": self.notes,
            "warnings": self.warnings,
            "seconds": {k: round(v, 4) for k, v in self.seconds.items()},
        })

    def json_text(self) -> str:
        return json.dumps(self.to_json(), indent=2, ensure_ascii=False, allow_nan=False)

    def layer_rows(self) -> list[dict[str, Any]]:
        """One flat row per layer, for tables."""
        rows = []
        for i, layer in enumerate(self.layers):
            rows.append({
                "#": i, "name": layer.name, "op": layer.op + _mode_text(layer),
                "dir": layer.direction,
                "kernel": format_pair(layer.kernel), "stride": format_pair(layer.stride),
                "padding": "" if layer.padding is None else ",".join(map(str, layer.padding)),
                "channels": "" if layer.in_channels is None else
                f"{layer.in_channels}→{layer.out_channels}",
                "size": "" if layer.in_size is None or layer.out_size is None else
                f"{format_pair(layer.in_size)}→{format_pair(layer.out_size)}",
                "overlap max/min": "" if layer.interior_min is None else
                f"{layer.interior_max}/{layer.interior_min}",
                "uneven": layer.uneven,
                "imbalance": layer.phase_imbalance,
                "verdict": layer.severity,
            })
        return rows


def _mode_text(layer: LayerAudit) -> str:
    """`` (linear, align_corners=True)``, `` (nearest)``, `` + blur``..., or ''."""
    parts = [layer.mode] if layer.mode else []
    if layer.align_corners is not None:
        parts.append(f"align_corners={layer.align_corners}")
    text = f" ({', '.join(parts)})" if parts else ""
    if layer.blur:
        text += " + blur"
    return text


def format_pair(values) -> str:
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


def json_safe(value):
    """JSON-safe: numpy scalars to Python, non-finite floats to None, tuples to lists."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, np.ndarray):
        return json_safe(value.tolist())
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return value if math.isfinite(value) else None
    return value


