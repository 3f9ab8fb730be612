"""The diagnosis's command line: ``python -m core.diagnose PATH... [--json OUT]
[--csv OUT] [--fail-on grid] [--jobs N]``.

PATH is an image, a folder (walked recursively; the content of each file decides whether
it is an image) or a zip. One line per picture on stdout, the folder's verdict last; a
progress bar on stderr when there is more than one picture and stderr is a terminal (or
``--progress``); every skipped file one line on stderr. Exit status: 0; 1 with
``--fail-on grid`` when a picture has a grid; 2 with one line on bad input (a path that
does not exist, a broken zip, no picture at all, a bad option). The JSON
(``{"images": [...], "folder": {...}}``) and the CSV are written as the pictures are
diagnosed, to a temporary file renamed at the end: memory does not grow with the count.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path

from ..io.text import plain
from .batch import CSV_FIELDS, InputError, Skipped, csv_row, diagnose_all
from .result import Diagnosis

#: Most worker processes.
MAX_JOBS = 64


def _jobs(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= MAX_JOBS:
        raise argparse.ArgumentTypeError(f"--jobs must be an integer from 1 to {MAX_JOBS}, "
                                         f"got {text!r}")
    return value


class _Parser(argparse.ArgumentParser):
    """argparse, but a mistake is one line on stderr (exit status 2), not the usage too."""

    def error(self, message: str):  # noqa: D401 - argparse's hook
        print(f"error: {plain(message)} (see --help)", file=sys.stderr)
        raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="python -m core.diagnose",
        description="Find a network's checkerboard grid in pictures it made, without the "
                    "network: the period, how strong, what it means, the fix.")
    parser.add_argument("paths", nargs="+", metavar="PATH",
                        help="an image, a folder of images (recursive) or a zip")
    parser.add_argument("--json", metavar="OUT", help="write {images: [...], folder: {...}}")
    parser.add_argument("--csv", metavar="OUT", help="write the per-image table as CSV")
    parser.add_argument("--fail-on", choices=("grid",), default=None,
                        help="exit 1 when any picture has a network's grid")
    parser.add_argument("--jobs", type=_jobs, default=1, metavar="N",
                        help=f"worker processes (1 to {MAX_JOBS}; default 1)")
    parser.add_argument("--progress", action="store_true",
                        help="a progress bar on stderr even when it is not a terminal")
    return parser


class _Writer:
    """A file written as it goes, to a temporary name in the same folder, renamed at the
    end (a half-written file never takes the name; an existing file is replaced only
    when the run completes)."""

    def __init__(self, path: str):
        self.path = Path(path)
        folder = self.path.parent if str(self.path.parent) else Path(".")
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", dir=folder)
        self.tmp = Path(tmp)
        self.fh = os.fdopen(fd, "w", encoding="utf-8", newline="")

    def finish(self) -> None:
        self.fh.close()
        os.replace(self.tmp, self.path)

    def abandon(self) -> None:
        self.fh.close()
        self.tmp.unlink(missing_ok=True)


def _line(d: Diagnosis) -> str:
    return f"{plain(d.file)}: {d.sentence()}"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (0, 1 with ``--fail-on grid`` and a
    grid, 2 on bad input)."""
    parser = build_parser()
    try:
        args = parser.parse_args(list(argv) if argv is not None else None)
    except SystemExit as exit_:
        return int(exit_.code or 0) if exit_.code in (0, None) else 2
    import csv

    writers: list[_Writer] = []
    with ExitStack() as stack:
        try:
            json_out = _Writer(args.json) if args.json else None
            csv_out = _Writer(args.csv) if args.csv else None
        except OSError as err:
            print(f"error: cannot write {plain(err.filename or '')}: {err.strerror or err}",
                  file=sys.stderr)
            return 2
        writers = [w for w in (json_out, csv_out) if w is not None]
        csv_writer = None
        if csv_out is not None:
            csv_writer = csv.DictWriter(csv_out.fh, fieldnames=CSV_FIELDS, lineterminator="\n")
            csv_writer.writeheader()
        if json_out is not None:
            json_out.fh.write('{"images": [')
        state = {"first": True, "grid": False}
        bar = None
        if args.progress or sys.stderr.isatty():
            from tqdm import tqdm

            bar = stack.enter_context(tqdm(desc="diagnosing", unit="picture", file=sys.stderr,
                                           leave=False))

        def on_result(result: Diagnosis | Skipped) -> None:
            if bar is not None:
                bar.update(1)
            if isinstance(result, Skipped):
                (bar.write if bar is not None else _err)(result.line())
                return
            print(_line(result), flush=False)
            state["grid"] |= result.grid
            record = result.record()
            if json_out is not None:
                json_out.fh.write(("" if state["first"] else ", ") + json.dumps(record))
                state["first"] = False
            if csv_writer is not None:
                csv_writer.writerow(csv_row(record))

        try:
            stack.enter_context(_one_blas_thread())
            verdict = diagnose_all(args.paths, jobs=args.jobs, on_result=on_result)
        except InputError as err:
            for w in writers:
                w.abandon()
            print(f"error: {plain(err)}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            for w in writers:
                w.abandon()
            raise
        if bar is not None:
            bar.close()
        if verdict.images == 0:
            for w in writers:
                w.abandon()
            print(f"error: no picture could be diagnosed ({verdict.skipped} file(s) skipped)",
                  file=sys.stderr)
            return 2
        print(f"folder: {verdict.sentence()}" if verdict.images > 1 else
              f"({verdict.images} picture diagnosed)")
        if json_out is not None:
            json_out.fh.write('], "folder": ' + json.dumps(verdict.record()) + "}\n")
        for w in writers:
            w.finish()
    return 1 if args.fail_on == "grid" and state["grid"] else 0


def _one_blas_thread():
    """One BLAS thread while diagnosing (``python -m core.diagnose`` sets it before numpy
    loads; a console script entering :func:`main` directly gets it here, through
    threadpoolctl, which scikit-learn brings): many small products, which threads only slow
    down on a shared machine; ``--jobs N`` runs N processes instead."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - scikit-learn brings it
        from contextlib import nullcontext

        return nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def _err(line: str) -> None:
    print(line, file=sys.stderr)
