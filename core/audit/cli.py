"""The audit's command line: ``python -m core.audit MODEL.onnx``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from core.audit.limits import AuditError
from core.audit.onnx_graph import audit_onnx
from core.audit.report import AuditReport
from core.maths.metrics import (
    format_score,
)

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
            from core.io.photos import read_rgb

            image = read_rgb(args.image)
        report = audit_onnx(args.model, args.input_shape, probes=not args.no_probes,
                            image=image)
        text = report.json_text()
        if args.json_out:
            Path(args.json_out).write_text(text + "\n", encoding="utf-8")
        if args.html or args.markdown:
            from core.audit.render import to_html, to_markdown

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
