"""``checkerboard-lab``: start the dashboard, which runs from a clone of the repository.

The dashboard is a Streamlit app (``dashboard.py``, ``pages/``, ``ui/``) that reads the
shipped experiment (``checkpoints/``); ``pip install`` installs only the library (this
package, as ``checkerboard_lab``) and its commands. So this command finds a clone:
``--clone DIR``, else the working folder when it is one, else the folder pip installed this
package from (``pip install .`` or ``pip install -e .`` inside a clone). There it runs what
``make run`` runs: the shipped checkpoints' stored outputs (``python -m core.outputs --root
checkpoints``: minutes the first time, seconds after), then ``streamlit run dashboard.py``.
Without a clone it says what the dashboard needs and how to get it, and exits 2.
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from urllib.parse import unquote, urlparse

DISTRIBUTION = "checkerboard-lab"
#: What a folder must hold to run the dashboard.
CLONE_FILES = ("dashboard.py", "pages", "ui", "core", "checkpoints")
DEFAULT_PORT = 8501


def is_clone(folder: str | Path) -> bool:
    """Whether ``folder`` holds the dashboard (:data:`CLONE_FILES`)."""
    return all((Path(folder) / name).exists() for name in CLONE_FILES)


def installed_from() -> tuple[Path | None, str | None]:
    """Where pip installed this package from (its ``direct_url.json``): the local folder
    when it was a folder, the repository URL (as ``git clone`` takes it) when it was a git
    URL; Nones when unknown (a clone used through PYTHONPATH, or an index install)."""
    try:
        text = metadata.distribution(DISTRIBUTION).read_text("direct_url.json")
    except metadata.PackageNotFoundError:
        return None, None
    try:
        data = json.loads(text or "null")
    except json.JSONDecodeError:
        return None, None
    if not isinstance(data, dict) or not isinstance(data.get("url"), str):
        return None, None
    url = data["url"]
    parsed = urlparse(url)
    folder = Path(unquote(parsed.path)) if parsed.scheme == "file" and "dir_info" in data else None
    return folder, url if "vcs_info" in data else None


def find_clone(explicit: str | Path | None = None, cwd: str | Path | None = None) -> Path | None:
    """The clone to start: ``explicit`` (None if it is not one), else ``cwd`` (default: the
    working folder) when it is one, else the folder this package was installed from."""
    if explicit is not None:
        return Path(explicit).resolve() if is_clone(explicit) else None
    here = Path(cwd or Path.cwd())
    if is_clone(here):
        return here.resolve()
    folder, _ = installed_from()
    return folder.resolve() if folder is not None and is_clone(folder) else None


def commands(port: int = DEFAULT_PORT, python: str | None = None) -> list[list[str]]:
    """What ``make run`` runs, with this environment's Python, in the clone's folder."""
    python = python or sys.executable
    return [[python, "-m", "core.outputs", "--root", "checkpoints"],
            [python, "-m", "streamlit", "run", "dashboard.py", "--server.port", str(port)]]


def needs_clone(explicit: str | Path | None = None) -> str:
    """The message when no clone is found: what the dashboard needs, and how to get it."""
    folder, url = installed_from()
    source = url or "<this repository's URL>"

    def missing(where: str | Path) -> str:
        return ", ".join(n for n in CLONE_FILES if not (Path(where) / n).exists())

    if explicit is not None:
        first = f"{explicit} is not a clone of Checkerboard Lab (no {missing(explicit)})"
    elif folder is not None:
        first = (f"neither this folder nor {folder}, where this package was installed from, "
                 f"is a clone of Checkerboard Lab (no {missing(folder)} there)")
    else:
        first = "this folder is not a clone of Checkerboard Lab"
    return (f"checkerboard-lab: {first}. The dashboard runs from a clone of the repository: "
            f"it needs dashboard.py, pages/ and ui/ (the Streamlit app) and checkpoints/ (the "
            f"shipped experiment's networks), which pip leaves out: the installed package "
            f"holds the library and the commands checkerboard-audit and "
            f"checkerboard-diagnose. Clone it and start it there:\n"
            f"  git clone {source} checkerboard-lab\n"
            f"  checkerboard-lab --clone checkerboard-lab   (or: cd checkerboard-lab && make run)")


def main(argv: Sequence[str] | None = None) -> int:
    """``checkerboard-lab [--clone DIR] [--port N] [--dry-run]``."""
    parser = argparse.ArgumentParser(
        prog="checkerboard-lab", description=__doc__.split("\n\n")[0].split(": ", 1)[1])
    parser.add_argument("--clone", default=None, metavar="DIR",
                        help="the clone to start (default: this folder, else the one pip "
                             "installed from)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT,
                        help=f"the dashboard's port (default {DEFAULT_PORT})")
    parser.add_argument("--dry-run", action="store_true",
                        help="print the folder and the commands, run nothing")
    args = parser.parse_args(argv)
    clone = find_clone(args.clone)
    if clone is None:
        print(needs_clone(args.clone), file=sys.stderr)
        return 2
    steps = commands(args.port)
    if args.dry_run:
        try:
            print(f"cd {shlex.quote(str(clone))}")
            print("\n".join(shlex.join(step) for step in steps), flush=True)
        except BrokenPipeError:  # e.g. piped into `head`
            pass
        return 0
    print(f"checkerboard-lab: starting the dashboard from {clone} on "
          f"http://localhost:{args.port} (Ctrl+C stops it)", file=sys.stderr)
    try:
        for step in steps:
            status = subprocess.call(step, cwd=clone)
            if status:
                return status
    except KeyboardInterrupt:
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
