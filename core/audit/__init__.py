"""The network audit: find a network's up- and downsampling layers, predict and measure its
checkerboard, and say what to change.

One stage a module, each importing only the stages before it: the limits and the error
type (:mod:`~core.audit.limits`); the verdicts, one rule each (:mod:`~core.audit.verdict`:
whether a layer offends, the network's verdict; the audit never says "clean" without
evidence); reading untrusted ONNX files safely (:mod:`~core.audit.read`); the report's
dataclasses and JSON (:mod:`~core.audit.report`); per-layer analysis and the chain of
factors (:mod:`~core.audit.analysis`); probes and the grid check
(:mod:`~core.audit.probes`); the torch trace (:mod:`~core.audit.torch_trace`) and its view
of resolution along the graph (:mod:`~core.audit.torch_flow`); measured fixes
(:mod:`~core.audit.measured`); lookups and constant folding over an ONNX graph
(:mod:`~core.audit.onnx_lookup`) and its resolution along the graph
(:mod:`~core.audit.onnx_flow`); the audit of sounds ``(N, C, L)`` and volumes
``(N, C, D, H, W)``, one path for both ranks and both routes (:mod:`~core.audit.ranked`: one
layer, the chain, the report; :mod:`~core.audit.ranked_onnx` and
:mod:`~core.audit.ranked_live`, its routes; :mod:`~core.audit.ranked_probes`, its probes and
measured fixes); the two routes (:mod:`~core.audit.onnx_graph` for ONNX
files, :mod:`~core.audit.live` for live modules); rendering as HTML and Markdown (:mod:`~core.audit.render`); the findings for
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
from .verdict import NETWORK_VERDICTS, layer_offends, network_verdict

__all__ = [
    "ALL_LAYERS",
    "NETWORK_VERDICTS",
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
    "layer_offends",
    "load_onnx",
    "main",
    "measure_fixes",
    "network_verdict",
    "parse_input_shape",
]
