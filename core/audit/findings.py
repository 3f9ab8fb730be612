"""The audit's findings, as the tools a user already runs want them (pre-commit, CI logs,
code scanning): one per offending layer, one per layer or part of the graph the audit could
not judge, and one for a grid the probes measure that no layer explains.

The quiet command line (``--quiet``) prints them one line each and nothing when there are
none; :mod:`core.audit.sarif` writes the same findings as SARIF results. A layer that is
``"ok"``, and a downsampling layer (``"gradient"``: its checkerboard is in the gradient only),
is no finding. Every name from the file goes through :func:`core.io.text.plain`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..io.text import plain
from .verdict import NOT_JUDGED, grid_periods


@dataclass(frozen=True)
class Rule:
    """One kind of finding (a SARIF ``reportingDescriptor``)."""

    id: str
    name: str
    level: str  # SARIF level: "error" or "warning"
    short: str
    full: str


#: The kinds of finding, by the verdict word that produces them.
RULES: dict[str, Rule] = {
    "artifact": Rule(
        "checkerboard/artifact", "CheckerboardArtifact", "error",
        "Upsampling layer that can draw a checkerboard",
        "An upsampling layer whose kernel overlaps its output unevenly, or whose output "
        "phases get unequal gains from its weights (phase imbalance over the tolerance): a "
        "constant input comes out as a grid with the layer's period. The fix replaces it "
        "with a resize-convolution (Odena et al. 2016) or initialises it evenly (ICNR)."),
    NOT_JUDGED: Rule(
        "checkerboard/not-judged", "NotJudged", "warning",
        "Resampling the audit could not judge",
        "The audit found up- or downsampling it cannot judge (weights computed at run time, "
        "a layer inside a subgraph body, a 1-D or 3-D layer, an output size the judged "
        "layers do not explain): no evidence either way, so the network is not called "
        "clean."),
    "unexplained grid": Rule(
        "checkerboard/unexplained-grid", "UnexplainedGrid", "error",
        "A grid in the output that no layer explains",
        "The probes measure a checkerboard in the network's output well above a "
        "photograph's own, while no layer of the audited structure offends."),
}


@dataclass(frozen=True)
class Finding:
    """One thing to report: its kind (a key of :data:`RULES`), one line of message, where
    (the layer's node name and module path, when a layer), and the fix as PyTorch code."""

    kind: str
    message: str
    name: str | None = None
    module_path: str | None = None
    op: str | None = None
    fix: str | None = None

    @property
    def rule(self) -> Rule:
        return RULES[self.kind]

    @property
    def where(self) -> str | None:
        """The module path when known (what the user edits), else the node name."""
        return self.module_path or self.name


def findings(report: Any) -> list[Finding]:
    """The report's findings: offending layers, then what was not judged (layers, then the
    report's warnings: parts of the graph the audit does not reach or recognise), then an
    unexplained grid."""
    out = []
    for layer in report.layers:
        if layer.severity in ("artifact", NOT_JUDGED):
            message = layer.verdict
            if message.startswith(NOT_JUDGED + ": "):  # the kind says so already
                message = message[len(NOT_JUDGED) + 2:]
            out.append(Finding(layer.severity, plain(message, 2000), plain(layer.name),
                               plain(layer.module_path) if layer.module_path else None,
                               layer.op, layer.fix_code))
    out += [Finding(NOT_JUDGED, plain(w, 2000)) for w in report.warnings]
    periods = grid_periods(report.probes)
    if periods and not any(f.kind == "artifact" for f in out):
        out.append(Finding("unexplained grid",
                           f"the probes measure a grid at period "
                           f"{', '.join(map(str, periods))} that no layer explains"))
    return out


def finding_lines(report: Any) -> list[str]:
    """One line per finding, ``SOURCE: [kind] where OP: message`` (none: nothing to say)."""
    source = plain(report.source)
    lines = []
    for f in findings(report):
        where = f" {f.where} {f.op}:" if f.where else ""
        lines.append(plain(f"{source}: [{f.kind}]{where} {f.message}", 2000))
    return lines
