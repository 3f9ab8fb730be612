"""The audit as SARIF 2.1.0 (``--sarif FILE``), so GitHub code scanning and other SARIF
viewers show its findings in the pull request.

One run, one result per finding of :mod:`core.audit.findings` (an offending layer, something
not judged, an unexplained grid), one rule per kind of finding. Each result names the file
audited (the ONNX file, or the source file of ``--module``'s class, relative to the working
folder when inside it: the repository root in CI) and, for a layer, its module path or node
name as a logical location. For ``--module`` the result points at the line that assigns the
layer's top-level attribute (``self.net = ...`` for ``net.2``) when the source shows one, else
the line of the class. The fix is text: in the message and in the result's properties (a
SARIF ``fix`` must be an edit of the file, which the audit does not write).
``tests/core/test_sarif.py`` validates the output against the OASIS SARIF 2.1.0 schema.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import quote

from .findings import RULES, Finding, findings
from .limits import AuditError

SARIF_VERSION = "2.1.0"
SARIF_SCHEMA = ("https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/"
                "sarif-schema-2.1.0.json")
TOOL_NAME = "checkerboard-audit"
#: Longest fix code quoted in one message (a SARIF viewer shows the message whole).
MAX_FIX_CHARS = 4000


def _version() -> str | None:
    from importlib import metadata

    try:
        return metadata.version("checkerboard-lab")
    except metadata.PackageNotFoundError:  # a clone used through PYTHONPATH
        return None


def artifact_uri(path: str | Path, base: str | Path | None = None) -> tuple[str, bool]:
    """``path`` as a SARIF URI: relative to ``base`` (default: the working folder) with
    forward slashes when inside it (``(uri, True)``, for ``%SRCROOT%``), else an absolute
    ``file://`` URI (``(uri, False)``). Characters outside a URI are percent-encoded."""
    full = Path(path).resolve()
    try:
        rel = full.relative_to(Path(base or Path.cwd()).resolve())
    except ValueError:
        return full.as_uri(), False
    return quote(rel.as_posix()), True


def source_line(source: str, module_path: str | None) -> int | None:
    """The line (1-based) of ``source`` that assigns the first attribute of
    ``module_path`` (``self.up = ...`` or ``self.up: nn.Module = ...`` for ``up.0``);
    None when there is none."""
    if not module_path:
        return None
    first = re.escape(module_path.split(".")[0])
    pattern = re.compile(rf"^\s*self\.{first}\s*(:[^=]*)?=(?!=)")
    for number, line in enumerate(source.splitlines(), start=1):
        if pattern.match(line):
            return number
    return None


def _message(finding: Finding) -> str:
    where = f"{finding.where} ({finding.op}): " if finding.where else ""
    text = f"{where}{finding.message}"
    if finding.fix:
        fix = finding.fix if len(finding.fix) <= MAX_FIX_CHARS else (
            finding.fix[:MAX_FIX_CHARS] + "\n# ... (cut; the JSON report has the whole fix)")
        text += f"\n\nFix (PyTorch):\n{fix}"
    return text


def _fingerprint(finding: Finding) -> str:
    key = "\x00".join([finding.rule.id, finding.where or "", finding.op or "",
                       finding.message if finding.where is None else ""])
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]


def to_sarif(report: Any, artifact: str | Path | None = None, *,
             base: str | Path | None = None, default_line: int = 1) -> dict[str, Any]:
    """The SARIF log (a dict) of ``report``'s findings.

    ``artifact`` is the file audited (default: ``report.source`` when it is a file);
    ``base`` the folder its URI is relative to (default: the working folder);
    ``default_line`` the line results point at when no layer line is found (the class's
    line for ``--module``; 1 for an ONNX file, which has no lines)."""
    found = findings(report)
    kinds = list(RULES)
    rules = [{"id": r.id, "name": r.name,
              "shortDescription": {"text": r.short}, "fullDescription": {"text": r.full},
              "help": {"text": r.full},
              "defaultConfiguration": {"level": r.level}} for r in RULES.values()]
    path = Path(artifact) if artifact is not None else Path(str(report.source))
    located = path.is_file()
    text = None
    if located and path.suffix == ".py":
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            text = None
    artifacts, location = [], None
    if located:
        uri, relative = artifact_uri(path, base)
        location = {"uri": uri, **({"uriBaseId": "%SRCROOT%"} if relative else {})}
        artifacts.append({"location": location, "roles": ["analysisTarget"]})

    results = []
    for finding in found:
        result: dict[str, Any] = {
            "ruleId": finding.rule.id, "ruleIndex": kinds.index(finding.kind),
            "level": finding.rule.level, "message": {"text": _message(finding)},
            "partialFingerprints": {"checkerboardFinding/v1": _fingerprint(finding)},
            "properties": {"verdict": finding.kind, "op": finding.op, "fix": finding.fix},
        }
        loc: dict[str, Any] = {}
        if location is not None:
            line = source_line(text, finding.module_path or finding.name) if text else None
            loc["physicalLocation"] = {"artifactLocation": {**location, "index": 0},
                                       "region": {"startLine": line or default_line}}
        if finding.where:
            kind = "member" if finding.module_path else "element"
            loc["logicalLocations"] = [{"name": finding.where.split(".")[-1] or finding.where,
                                        "fullyQualifiedName": finding.where, "kind": kind}]
        if loc:
            result["locations"] = [loc]
        results.append(result)

    driver: dict[str, Any] = {"name": TOOL_NAME, "rules": rules}
    version = _version()
    if version:
        driver["version"] = version
    run: dict[str, Any] = {"tool": {"driver": driver}, "results": results,
                           "columnKind": "unicodeCodePoints"}
    if artifacts:
        run["artifacts"] = artifacts
    return {"$schema": SARIF_SCHEMA, "version": SARIF_VERSION, "runs": [run]}


def module_location(spec: str) -> tuple[Path | None, int]:
    """For ``--module spec`` (already imported by the audit): the source file of its
    module and the line of the class or factory it names (1 when unknown)."""
    from . import importing

    path = importing.source_file(spec)
    try:
        line = inspect.getsourcelines(importing.resolve(spec))[1]
    except (TypeError, OSError, AuditError):
        line = 1
    return path, max(int(line), 1)


def sarif_text(report: Any, *, model: str | Path | None = None, module: str | None = None,
               base: str | Path | None = None) -> str:
    """The SARIF log as JSON text, for the file audited: ``model`` (an ONNX file) or the
    source file of ``module`` (``--module``'s ``package.module:Name``)."""
    if module is not None:
        artifact, line = module_location(module)
    else:
        artifact, line = model, 1
    log = to_sarif(report, artifact, base=base, default_line=line)
    return json.dumps(log, indent=2, ensure_ascii=False) + "\n"
