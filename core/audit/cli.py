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
from .onnx_graph import audit_onnx, audit_onnx_files
from .paths import check_output_paths, imported_files
from .read import folder_reader, read_model_bytes
from .report import AuditReport, LayerAudit
from .verdict import FAIL_ON, failing, grid_periods, layer_offends

# ---------------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------------


def parse_input_shape(text: str) -> list[int]:
    """``"1,3,256,256"`` (or ``1x3x256x256``) -> ``[1, 3, 256, 256]``; a sound ``N,C,L``
    and a volume ``N,C,D,H,W`` too. AuditError if not 3, 4 or 5 positive integers."""
    try:
        shape = [int(v) for v in str(text).replace("x", ",").split(",")]
    except ValueError:
        shape = []
    if len(shape) not in (3, 4, 5) or min(shape) < 1:
        raise AuditError(f"the input shape must be positive integers N,C,H,W (an image), "
                         f"N,C,L (a sound) or N,C,D,H,W (a volume), got {text!r}")
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
             f"{report.chain.period}; verdict {report.verdict}"
             + (f" (output {plain(report.output_name)!r})" if report.output_name else "")]
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


def failing_layers(report: AuditReport, fail_on: str) -> list[LayerAudit]:
    """The layers that make ``--fail-on fail_on`` exit 1 (:func:`core.audit.verdict.layer_offends`:
    the one rule). The network can fail without one: see :func:`verdict_line`."""
    return [la for la in report.layers if layer_offends(la, fail_on)]


def verdict_line(report: AuditReport, fail_on: str,
                 allow_unjudged: bool = False) -> tuple[int, str]:
    """The exit status (0 or 1) and the one-line summary for stderr.

    ``--fail-on artifact`` fails on offending layers, on an unexplained grid and, unless
    ``allow_unjudged``, on whatever was not judged; ``imbalance`` on imbalanced layers and
    (unless allowed) what was not judged (:func:`core.audit.verdict.failing`)."""
    layers = failing_layers(report, fail_on)
    unjudged = report.unjudged
    n = len(report.layers)
    where = (f"{plain(report.source)}: verdict {report.verdict}, {n} resampling layer(s), "
             f"predicted period {report.chain.period}"
             + (f", output {plain(report.output_name)!r}" if report.output_name else "")
             + (f", {len(report.warnings)} warning(s)" if report.warnings else ""))
    if fail_on == "never":
        return 0, (f"core.audit: done: {where}, {len(report.offending)} offending "
                   f"(--fail-on never)")
    what = {"artifact": "with a checkerboard verdict",
            "imbalance": f"with phase imbalance > {IMBALANCE_TOLERANCE:g}"}[fail_on]
    if not failing(report, fail_on, allow_unjudged):
        allowed = (f"; {len(unjudged)} thing(s) not judged, allowed by --allow-unjudged"
                   if unjudged else "")
        return 0, f"core.audit: pass: no layer {what} (--fail-on {fail_on}){allowed}; {where}"
    parts = []
    if layers:
        names = ", ".join(f"{plain(la.name)} {la.op}" for la in layers[:5])
        more = f" (+{len(layers) - 5} more)" if len(layers) > 5 else ""
        parts.append(f"{len(layers)} layer(s) {what} (--fail-on {fail_on}): {names}{more}")
    periods = grid_periods(report.probes)
    if fail_on == "artifact" and periods and not layers:
        worst = max(periods, key=lambda p: report.probes.grid[p]["ratio"])
        g = report.probes.grid[worst]
        parts.append(f"unexplained grid: the probes' output scores {format_score(g['score'])} "
                     f"at period {worst}, {g['ratio']:.1f}x the photograph's own, with no "
                     "offending layer to explain it")
    if unjudged and not allow_unjudged:
        parts.append(f"{len(unjudged)} thing(s) not judged ({plain(unjudged[0], 160)}"
                     + (" ..." if len(unjudged) > 1 else "")
                     + "; --allow-unjudged accepts them)")
    return 1, f"core.audit: fail: {'; '.join(parts)}; {where}"


def markdown_comment(report: AuditReport, limit: int = MARKDOWN_LIMIT) -> str:
    """The report as Markdown for a pull-request comment: tables, verdicts, the fix and its
    measured effect; no images and no plotly; cut at ``limit`` characters, saying so."""
    from .render import to_markdown

    text = to_markdown(report, images=False)
    if len(text) <= limit:
        return text
    note = (f"\n\n*Report cut here: the whole one is {len(text):,} characters, over the "
            f"{limit:,} a comment allows; the JSON and HTML reports have everything.*\n")
    cut = text.rfind("\n", 0, limit - len(note) - 4)
    kept = text[:max(cut, 0)]
    if sum(1 for line in kept.splitlines() if line.lstrip().startswith("```")) % 2:
        kept += "\n```"  # the cut fell inside a code block: close it before the note
    return kept + note


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

The audit never says "clean" without evidence. The report's verdict is "artifact" (a
layer offends), "unexplained grid" (no layer offends, yet the probes' output has a grid
well above the photograph's own), "not judged" (a layer or part it cannot judge: weights
it cannot fold, subgraph bodies, 1-D/3-D layers inside an image network, an output its
layers do not explain) or "clean". A network fed sounds (--input-shape N,C,L) or volumes
(N,C,D,H,W) is audited along every axis of its input.

--fail-on (exit status 1):
  artifact   every offending layer (severity "artifact"): an upsampling layer with
             uneven overlap ("uneven") or with phase gains unequal by more than
             {IMBALANCE_TOLERANCE:g} ("phase_imbalance"): its layout or its weights draw a
             checkerboard; an unexplained grid; and anything not judged
  imbalance  upsampling layers whose weights, as given, have phase_imbalance
             > {IMBALANCE_TOLERANCE:g} (a constant input comes out checkered; an uneven
             layout whose weights balance the phases passes), and anything not judged
  never      (default) report only
--allow-unjudged lets "not judged" pass (the stderr line still counts it).
Downsampling layers (severity "gradient") never fail.

--output NAME_OR_INDEX picks the output of a model with several (a graph output's name or
index; a tuple/list index or dict key of the forward's result); by default the largest
image-like one, and the report says which.

Your code's own output goes to stderr (stdout holds the report), and it cannot choose the
exit status: a SystemExit or KeyboardInterrupt raised in the import, the constructor or a
forward pass is exit status 2 with one line saying where.

Exit status: 0 audited (and nothing selected by --fail-on), 1 selected by --fail-on, 2
refused or failed input (bad path, module, weights, arguments, your code exiting). Each
prints a one-line summary on stderr.
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
    parser.add_argument("--input-shape", type=_parse_shape, default=None, metavar="SHAPE",
                        help="the input's shape: N,C,H,W (an image), N,C,L (a sound) or "
                             "N,C,D,H,W (a volume); needed with --module, and when the ONNX "
                             "model leaves a size free (a free audio length is audited as one "
                             "second of 22,050 Hz audio, a free volume side at 32)")
    parser.add_argument("--fail-on", choices=FAIL_ON, default="never",
                        help="exit 1 when such a layer is found (see below; default never)")
    parser.add_argument("--allow-unjudged", action="store_true",
                        help="with --fail-on: let a 'not judged' verdict pass (exit 0)")
    parser.add_argument("--output", default=None, metavar="NAME_OR_INDEX",
                        help="the output to audit when the model has several (default: the "
                             "largest image-like one)")
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


_check_outputs = check_output_paths  # every output path, before anything is written


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
                         "vector), N,C,L for a sound or N,C,D,H,W for a volume")
    if args.allow_unjudged and args.fail_on == "never":
        raise AuditError("--allow-unjudged is for --fail-on artifact or imbalance")


def _is_zip(path: str | Path) -> bool:
    """Does the regular file at ``path`` start as a zip archive does? (Anything else,
    a missing file included, goes to :func:`audit_onnx`, which names the problem.)"""
    p = Path(path)
    if not p.is_file():
        return False
    with p.open("rb") as fh:
        return fh.read(4) == b"PK\x03\x04"


def _audit(args: argparse.Namespace, outputs: dict[str, str | None]) -> AuditReport:
    image = None
    if args.image:
        from ..io.photos import read_rgb

        image = read_rgb(args.image)
    if args.module is None:
        if _is_zip(args.model):  # the model and its data file in one zip, as the page takes
            return audit_onnx_files(read_model_bytes(args.model), args.input_shape,
                                    probes=not args.no_probes, image=image, output=args.output)
        return audit_onnx(args.model, args.input_shape, probes=not args.no_probes, image=image,
                          output=args.output, external=args.external)
    from . import importing
    from .live import audit_module

    # Refuse what can be refused before the user's code runs: arguments, then weights
    # (read without unpickling code), then import and build; then match the weights.
    kwargs = importing.parse_kwargs(args.kwargs)
    if args.weights:
        importing.check_weights_path(args.weights)
    importing.add_pythonpath(args.pythonpath)
    state = importing.read_state_dict(args.weights) if args.weights else None
    with importing.user_code(f"constructing {args.module}"):  # (the import says its own)
        module = importing.build_module(args.module, kwargs)
    _check_outputs(outputs, {"module's source": importing.source_file(args.module)})
    if state is not None:
        importing.load_weights(module, state, args.weights, args.module)
    with importing.user_code(f"the forward pass of {args.module}"):
        return audit_module(module, args.input_shape, probes=not args.no_probes, image=image,
                            name=args.module, output=args.output)


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
        args.external = folder_reader(Path(args.model).absolute().parent) if args.model else None
        report = _audit(args, outputs)
        _check_outputs(outputs, {"model": args.model, "weights": args.weights, "image":
                                 args.image, "model's external data": getattr(
                                     args.external, "paths", None),
                                 "file of an imported module": imported_files()})
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
    status, line = verdict_line(report, args.fail_on, args.allow_unjudged)
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
