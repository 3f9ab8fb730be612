"""The verdicts: the one rule deciding whether a layer offends, and the network's verdict.

**The audit never says "clean" without evidence.** A layer is clean only when its structure
is understood (its overlap, and for an upsampler its phase gains, a fixed interpolation, or a
fixed filter after it that evens any gains out); what the audit found but cannot judge is
``"not judged"``. A network is ``"clean"`` only when every layer is judged, nothing was left
out (layers in subgraph bodies, 1-D/3-D layers, an output size its judged layers do not
explain: the report's ``warnings``) and, when the probes ran, they agree: a grid the
structure does not explain is ``"unexplained grid"``.

This module imports only :mod:`core.audit.limits`; it reads layers and reports by their
attributes, so the report module can use it without a cycle.
"""

from __future__ import annotations

from typing import Any

from .limits import IMBALANCE_TOLERANCE

#: A layer's severities: an offending upsampler, an uneven downsampler (a checkerboard in
#: the gradient only), nothing found, and found but not judged.
ARTIFACT, GRADIENT, OK, NOT_JUDGED = "artifact", "gradient", "ok", "not judged"
SEVERITIES = (ARTIFACT, GRADIENT, OK, NOT_JUDGED)
#: The network's verdicts, strongest first (the first that applies is the verdict).
UNEXPLAINED_GRID, CLEAN = "unexplained grid", "clean"
NETWORK_VERDICTS = (ARTIFACT, UNEXPLAINED_GRID, NOT_JUDGED, CLEAN)
#: What ``--fail-on`` may select.
FAIL_ON = ("artifact", "imbalance", "never")


def imbalanced(phase_imbalance: float | None) -> bool:
    """Whether phase gains differ by more than :data:`IMBALANCE_TOLERANCE` (NaN counts:
    a gain that is not a number is no evidence of balance)."""
    if phase_imbalance is None:
        return False
    return not phase_imbalance <= IMBALANCE_TOLERANCE


def layer_offends(layer: Any, fail_on: str = "artifact") -> bool:
    """The one rule deciding whether a layer offends under ``fail_on``.

    ``"artifact"``: an upsampling layer whose overlap is uneven, or whose phase gains
    differ by more than :data:`IMBALANCE_TOLERANCE` (its layout or its weights draw a
    checkerboard). ``"imbalance"``: only the phase gains, as given (an uneven layout whose
    weights balance the phases passes). ``"never"``: none. Downsampling layers never
    offend (their checkerboard is in the gradient), nor does a layer not judged (it fails
    through the network's verdict instead).
    """
    if fail_on not in FAIL_ON:
        raise ValueError(f"fail_on must be one of {FAIL_ON}, got {fail_on!r}")
    if fail_on == "never" or layer.direction != "up" or layer.severity == NOT_JUDGED:
        return False
    if fail_on == "imbalance":
        return imbalanced(layer.phase_imbalance)
    return bool(layer.uneven) or imbalanced(layer.phase_imbalance)


def unjudged_lines(report: Any) -> list[str]:
    """One line per thing the audit could not judge: each layer not judged, then the
    report's warnings (parts of the graph it does not reach or recognise)."""
    lines = [f"{layer.name} ({layer.op}): {layer.verdict}" for layer in report.layers
             if layer.severity == NOT_JUDGED]
    return lines + list(report.warnings)


def grid_periods(probes: Any) -> list[int]:
    """The periods at which the probes measured a grid the structure does not explain
    (see :func:`core.audit.probes.grid_evidence`); empty without probes."""
    if probes is None or not getattr(probes, "grid", None):
        return []
    return [int(p) for p, g in probes.grid.items() if g.get("grid")]


def network_verdict(report: Any) -> str:
    """``"artifact"`` (a layer offends), ``"unexplained grid"`` (no layer offends, yet the
    probes measure a grid well above the photograph's own), ``"not judged"`` (something
    was not judged) or ``"clean"``: the first that applies."""
    if any(layer.severity == ARTIFACT for layer in report.layers):
        return ARTIFACT
    if grid_periods(report.probes):
        return UNEXPLAINED_GRID
    if unjudged_lines(report):
        return NOT_JUDGED
    return CLEAN


def failing(report: Any, fail_on: str, allow_unjudged: bool = False) -> list[str]:
    """What makes ``--fail-on fail_on`` exit 1, one short line each (empty: pass).

    ``"artifact"``: every offending layer, an unexplained grid, and (unless
    ``allow_unjudged``) everything not judged. ``"imbalance"``: layers whose phase gains
    differ by more than the tolerance, and (unless ``allow_unjudged``) everything not
    judged. ``"never"``: nothing.
    """
    if fail_on not in FAIL_ON:
        raise ValueError(f"fail_on must be one of {FAIL_ON}, got {fail_on!r}")
    if fail_on == "never":
        return []
    out = [f"{layer.name} {layer.op}" for layer in report.layers
           if layer_offends(layer, fail_on)]
    if fail_on == "artifact":
        periods = grid_periods(report.probes)
        if periods and not out:
            out.append(f"unexplained grid at period {', '.join(map(str, periods))}")
    if not allow_unjudged:
        out += [f"not judged: {line}" for line in unjudged_lines(report)]
    return out
