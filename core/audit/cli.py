"""The audit's command line: ``python -m core.audit MODEL.onnx`` or ``python -m core.audit
--module my_pkg.models:Generator --input-shape 1,100,1,1``, with a verdict for CI
(``--fail-on``: exit 0 clean, 1 offending, 2 refused or failed input).

The ``--module`` route imports and runs the user's own code in the user's own process
(:mod:`core.audit.importing`); the dashboard never offers it.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from ..io.text import plain
from ..maths.metrics import (
    format_score,
)
from .limits import IMBALANCE_TOLERANCE, AuditError
from .onnx_graph import audit_onnx
from .report import AuditReport, LayerAudit

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
    """A short human-readable summary (the CLI prints it): one line each, every name from
    the file through :func:`core.io.text.plain` (no ANSI escape or control character)."""
    fmt = format_score
    lines = [f"{plain(report.source)}: input {tuple(report.input_shape)} -> output "
             f"{tuple(report.output_shape) if report.output_shape else '?'}; "
             f"{len(report.layers)} resampling layer(s), {len(report.offending)} offending; "
             f"total upsampling x{report.chain.total_upsampling:g}, predicted period "
             f"{report.chain.period}"]
    for layer in report.layers:
        lines.append(plain(f"  [{layer.severity:8s}] {plain(layer.name)} {layer.op}"
                           f"{' ' + layer.mode if layer.mode else ''}: {layer.verdict}",
                           2000))
    for warning in report.warnings:
        lines.append("  warning: " + plain(warning, 2000))
    if report.probes and report.probes.checkerboard_score is not None:
        lines.append(f"  checkerboard on the {plain(report.probes.scored_on)}: "
                     f"{fmt(report.probes.checkerboard_score)} (period {report.probes.period})")
    return lines


#: Longest ``--markdown`` output: a GitHub pull-request comment holds 65,536 characters.
MARKDOWN_LIMIT = 65_000
#: What ``--fail-on`` may select (see :func:`failing_layers`).
FAIL_ON = ("artifact", "imbalance", "never")


def failing_layers(report: AuditReport, fail_on: str) -> list[LayerAudit]:
    """The layers that make ``--fail-on fail_on`` exit 1.

    ``artifact``: every offending layer (``severity == "artifact"``): an upsampling layer
    whose overlap is uneven (``uneven``) or whose phase gains differ by more than
    ``IMBALANCE_TOLERANCE`` (``phase_imbalance``): the layout or the weights can draw a
    checkerboard. ``imbalance``: only upsampling layers whose weights, as given, have
    ``phase_imbalance > IMBALANCE_TOLERANCE`` (a constant input comes out checkered); an
    uneven layout whose weights balance the phases passes. ``never``: none. Downsampling
    layers (``severity == "gradient"``) never fail.
    """
    if fail_on == "artifact":
        return report.offending
    if fail_on == "imbalance":
        return [la for la in report.layers if la.direction == "up"
                and (la.phase_imbalance or 0.0) > IMBALANCE_TOLERANCE]
    if fail_on == "never":
        return []
    raise ValueError(f"fail_on must be one of {FAIL_ON}, got {fail_on!r}")


def verdict_line(report: AuditReport, fail_on: str) -> tuple[int, str]:
    """The exit status (0 or 1) and the one-line summary for stderr."""
    failing = failing_layers(report, fail_on)
    n = len(report.layers)
    where = (f"{plain(report.source)}: {n} resampling layer(s), predicted period "
             f"{report.chain.period}" + (f", {len(report.warnings)} warning(s)"
                                         if report.warnings else ""))
    if fail_on == "never":
        return 0, (f"core.audit: done: {where}, {len(report.offending)} offending "
                   f"(--fail-on never)")
    what = {"artifact": "with a checkerboard verdict",
            "imbalance": f"with phase imbalance > {IMBALANCE_TOLERANCE:g}"}[fail_on]
    if not failing:
        return 0, f"core.audit: pass: no layer {what} (--fail-on {fail_on}); {where}"
    names = ", ".join(f"{plain(la.name)} {la.op}" for la in failing[:5])
    more = f" (+{len(failing) - 5} more)" if len(failing) > 5 else ""
    return 1, (f"core.audit: fail: {len(failing)} layer(s) {what} (--fail-on {fail_on}): "
               f"{names}{more}; {where}")


def markdown_comment(report: AuditReport, limit: int = MARKDOWN_LIMIT) -> str:
    """The report as Markdown for a pull-request comment: tables, verdicts, the fix and its
    measured effect; no images and no plotly; cut at ``limit`` characters, saying so."""
    from .render import to_markdown

    text = to_markdown(report, images=False)
    if len(text) <= limit:
        return text
    note = (f"\n\n*Report cut here: the whole one is {len(text):,} characters, over the "
            f"{limit:,} a comment allows; the JSON and HTML reports have everything.*\n")
    cut = text.rfind("\n", 0, limit - len(note))
    return text[:max(cut, 0)] + note


class _Parser(argparse.ArgumentParser):
    """Usage errors as one line on stderr, exit status 2."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(2, f"core.audit: usage: {' '.join(message.split())} (see --help)\n")


_EPILOG = f"""\
--module imports YOUR code and runs it in THIS process, with your permissions: the import
of the module path, the class or factory (only when it accepts --kwargs, checked before the
call), and forward passes. Name only code you would run with python yourself. The dashboard
page never offers this. --pythonpath DIR puts your project first on the import path.
--weights reads .safetensors, or .pt/.pth state dicts with torch.load(weights_only=True):
a pickle with code in it is refused, never run; keys and shapes must match the module.

--fail-on (exit status 1 when a layer is selected):
  artifact   every offending layer (severity "artifact"): an upsampling layer with
             uneven overlap ("uneven") or with phase gains unequal by more than
             {IMBALANCE_TOLERANCE:g} ("phase_imbalance"): its layout or its weights draw a
             checkerboard
  imbalance  only upsampling layers whose weights, as given, have phase_imbalance
             > {IMBALANCE_TOLERANCE:g} (a constant input comes out checkered); an uneven
             layout whose weights balance the phases passes
  never      (default) report only
Downsampling layers (severity "gradient") never fail.

Exit status: 0 audited (and nothing selected by --fail-on), 1 a layer selected by
--fail-on, 2 refused or failed input (bad path, module, weights, arguments). Each prints a
one-line summary on stderr.
"""


def _prog() -> str:
    """How the user called the audit: the installed command, or ``python -m`` this package
    (``core.audit`` in a clone, ``checkerboard_lab.audit`` installed)."""
    if Path(sys.argv[0]).name == "checkerboard-audit":
        return "checkerboard-audit"
    return f"python -m {__package__ or 'core.audit'}"


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=_prog(),
        formatter_class=argparse.RawDescriptionHelpFormatter, epilog=_EPILOG,
        description="Audit a network for checkerboard artifacts: every up/downsampling "
                    "layer, its overlap and phase gains, the predicted period, probes. "
                    "Give an ONNX file, or --module for your own PyTorch code.")
    parser.add_argument("model", nargs="?", default=None,
                        help="the .onnx file (or use --module)")
    parser.add_argument("--module", default=None, metavar="PKG.MOD:NAME",
                        help="your torch.nn.Module class, or a function returning a module, "
                             "by import path (e.g. my_pkg.models:Generator); built after "
                             "torch.manual_seed(0); runs your code (see below)")
    parser.add_argument("--kwargs", default=None, metavar="JSON",
                        help="arguments for --module as a JSON object, e.g. '{\"ngf\": 64}'")
    parser.add_argument("--weights", default=None, metavar="FILE",
                        help="weights for --module: .safetensors, or a .pt/.pth state dict "
                             "(torch.load weights_only=True)")
    parser.add_argument("--pythonpath", action="append", default=[], metavar="DIR",
                        help="put DIR first on the import path for --module (repeatable)")
    parser.add_argument("--input-shape", type=_parse_shape, default=None, metavar="N,C,H,W",
                        help="N,C,H,W of the input (needed with --module, and when the ONNX "
                             "model leaves it free)")
    parser.add_argument("--fail-on", choices=FAIL_ON, default="never",
                        help="exit 1 when such a layer is found (see below; default never)")
    parser.add_argument("--json", dest="json_out", default=None, metavar="FILE",
                        help="write the report here (default: print it)")
    parser.add_argument("--html", default=None, metavar="FILE", help="also write a self-contained HTML report")
    parser.add_argument("--markdown", default=None, metavar="FILE",
                        help="also write a Markdown report for a pull-request comment (no "
                             f"images or plotly; cut at {MARKDOWN_LIMIT:,} characters)")
    parser.add_argument("--image", default=None, metavar="FILE", help="probe with this image, not the photograph")
    parser.add_argument("--no-probes", action="store_true",
                        help="analysis only, no probes and no measured fixes (faster)")
    parser.add_argument("--sarif", default=None, metavar="FILE",
                        help="also write the findings as SARIF 2.1.0 (GitHub code scanning "
                             "shows them in the pull request)")
    parser.add_argument("-q", "--quiet", action="store_true",
                        help="print only one line per offending or unjudged layer (nothing "
                             "when there is none), as a pre-commit hook should")
    return parser


def _same_file(a: Path, b: Path) -> bool:
    if a.resolve() == b.resolve():
        return True
    try:
        return a.exists() and b.exists() and a.samefile(b)
    except OSError:
        return False


def _check_outputs(outputs: dict[str, str | None], inputs: dict[str, str | Path | None]) -> None:
    """Refuse an output path that is an input (the model, the weights, the image, the
    module's source) or another output."""
    named = [(flag, Path(path)) for flag, path in outputs.items() if path]
    sources = [(flag, Path(path)) for flag, path in inputs.items() if path]
    for i, (flag, out) in enumerate(named):
        for what, src in sources:
            if _same_file(out, src):
                raise AuditError(f"{flag} {out} would overwrite the {what}: write the report "
                                 f"elsewhere")
        for other, path in named[:i]:
            if _same_file(out, path):
                raise AuditError(f"{other} and {flag} both write {out}")


def _check_arguments(args: argparse.Namespace) -> None:
    if (args.model is None) == (args.module is None):
        raise AuditError("give either an ONNX file or --module PKG.MOD:NAME (one of them)")
    if args.module is None:
        for flag, value in (("--weights", args.weights), ("--kwargs", args.kwargs),
                            ("--pythonpath", args.pythonpath)):
            if value:
                raise AuditError(f"{flag} is for --module, not an ONNX file")
    elif args.input_shape is None:
        raise AuditError("--module needs --input-shape N,C,H,W (e.g. 1,100,1,1 for a latent "
                         "vector)")


def _audit(args: argparse.Namespace, outputs: dict[str, str | None]) -> AuditReport:
    image = None
    if args.image:
        from ..io.photos import read_rgb

        image = read_rgb(args.image)
    if args.module is None:
        return audit_onnx(args.model, args.input_shape, probes=not args.no_probes, image=image)
    from . import importing
    from .live import audit_module

    # Refuse what can be refused before the user's code runs: arguments, then weights
    # (read without unpickling code), then import and build; then match the weights.
    kwargs = importing.parse_kwargs(args.kwargs)
    if args.weights:
        importing.check_weights_path(args.weights)
    importing.add_pythonpath(args.pythonpath)
    state = importing.read_state_dict(args.weights) if args.weights else None
    module = importing.build_module(args.module, kwargs)
    _check_outputs(outputs, {"module's source": importing.source_file(args.module)})
    if state is not None:
        importing.load_weights(module, state, args.weights, args.module)
    return audit_module(module, args.input_shape, probes=not args.no_probes, image=image,
                        name=args.module)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m core.audit (MODEL.onnx | --module PKG.MOD:NAME) [options]``; the exit
    status is 0, 1 (``--fail-on``) or 2 (refused or failed input)."""
    args = _parser().parse_args(argv)
    outputs = {"--json": args.json_out, "--html": args.html, "--markdown": args.markdown,
               "--sarif": args.sarif}
    try:
        _check_arguments(args)
        _check_outputs(outputs, {"model": args.model, "weights": args.weights,
                                 "image": args.image})
        if args.html or args.markdown:  # before --pythonpath can shadow anything
            from .render import to_html  # noqa: F401
        report = _audit(args, outputs)
        text = report.json_text()
        if args.json_out:
            Path(args.json_out).write_text(text + "\n", encoding="utf-8")
        if args.html:
            from .render import to_html

            Path(args.html).write_text(to_html(report), encoding="utf-8")
        if args.markdown:
            Path(args.markdown).write_text(markdown_comment(report), encoding="utf-8")
        if args.sarif:
            from .sarif import sarif_text

            Path(args.sarif).write_text(sarif_text(report, model=args.model,
                                                   module=args.module), encoding="utf-8")
    except AuditError as err:
        print(f"core.audit: refused: {plain(err, 2000)}", file=sys.stderr)
        return 2
    except Exception as err:  # noqa: BLE001 - a failed input is one line and status 2
        print(f"core.audit: error: {type(err).__name__}: {plain(err, 300)}", file=sys.stderr)
        return 2
    status, line = verdict_line(report, args.fail_on)
    if args.quiet:
        from .findings import finding_lines

        lines = finding_lines(report)
        if lines:
            print("\n".join(lines))
        return status
    try:
        print("\n".join(summary_lines(report)) if args.json_out else text)
        sys.stdout.flush()
    except BrokenPipeError:  # e.g. piped into `head`
        pass
    print(line, file=sys.stderr)
    return status


if __name__ == "__main__":
    sys.exit(main())
