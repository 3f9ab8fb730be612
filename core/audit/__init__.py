"""The network audit: find a network's up- and downsampling layers, predict and measure its
checkerboard, and say what to change.

One stage a module, each importing only the stages before it: the limits and the error
type (:mod:`~core.audit.limits`); reading untrusted ONNX files safely
(:mod:`~core.audit.read`); the report's dataclasses and JSON (:mod:`~core.audit.report`);
per-layer analysis (:mod:`~core.audit.analysis`); probes (:mod:`~core.audit.probes`); the
torch trace (:mod:`~core.audit.torch_trace`); measured fixes (:mod:`~core.audit.measured`);
the two routes (:mod:`~core.audit.onnx_graph` for ONNX files, :mod:`~core.audit.live` for
live modules); rendering as HTML and Markdown (:mod:`~core.audit.render`); the findings for
CI tools, one per offending or unjudged layer (:mod:`~core.audit.findings`), and as SARIF
for code scanning (:mod:`~core.audit.sarif`); the examples
(:mod:`~core.audit.examples`); the command line (:mod:`~core.audit.cli`,
``python -m core.audit``) and its ``--module`` loader (:mod:`~core.audit.importing`: a
user's own module imported by path, built and given its weights, for the command line
only; the page never offers it). It may import every other wing of :mod:`core`; torch and
onnxruntime are imported only inside the functions that need them, so an ONNX-only audit
starts without torch.
"""

from .analysis import layer_coverage
from .cli import main, parse_input_shape
from .limits import DEFAULT_SIDE, IMBALANCE_TOLERANCE, MAX_BYTES, AuditError
from .live import audit_module
from .measured import ALL_LAYERS, attach_fixes, measure_fixes
from .onnx_graph import audit_onnx, audit_onnx_files
from .probes import azimuthal_average
from .read import load_onnx
from .report import AuditReport, Chain, LayerAudit, ProbeReport

__all__ = [
    "ALL_LAYERS",
    "DEFAULT_SIDE",
    "IMBALANCE_TOLERANCE",
    "MAX_BYTES",
    "AuditError",
    "AuditReport",
    "Chain",
    "LayerAudit",
    "ProbeReport",
    "attach_fixes",
    "audit_module",
    "audit_onnx",
    "audit_onnx_files",
    "azimuthal_average",
    "layer_coverage",
    "load_onnx",
    "main",
    "measure_fixes",
    "parse_input_shape",
]
