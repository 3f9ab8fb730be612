"""Rewrite every absolute ``from core... import`` inside ``core/`` as a relative import.

Why: the library installs under its own name (``checkerboard_lab``, see pyproject.toml), so
a user's project with its own ``core`` package can install the lab beside it. Inside the
package every import must then be relative (``from ..io.text import plain``), which works
under both names: ``core`` in a clone (``python -m core.audit``) and ``checkerboard_lab``
once installed. Code outside ``core/`` (ui, pages, tests, benchmarks) keeps ``core.``.

Idempotent: a second run changes nothing. ``python tools/relative_imports.py`` rewrites in
place, lists the files it changed and sorts their imports with ``ruff --select I --fix``; ``--check`` only lists them and exits 1 if any
(``tests/core/test_relative_imports.py`` holds core/ to it). Only import statements are
touched, found with ``ast`` (a docstring quoting ``from core.audit import ...`` is left
alone); ``import core.x`` (not ``from``) cannot be made relative and is reported.
"""

from __future__ import annotations

import argparse
import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "core"


def _package_of(path: Path, root: Path) -> list[str]:
    """``core/audit/cli.py`` -> ``["core", "audit"]``; ``core/audit/__init__.py`` too."""
    return list(path.relative_to(root).parent.parts)


def relative_name(module: str, package: list[str]) -> str:
    """``core.io.text`` imported from package ``core.audit`` -> ``..io.text``; the package
    itself -> ``.``; ``core`` from ``core.audit`` -> ``..``."""
    target = module.split(".")
    common = 0
    while common < min(len(target), len(package)) and target[common] == package[common]:
        common += 1
    dots = "." * (len(package) - common + 1)
    return dots + ".".join(target[common:])


def rewrite(source: str, package: list[str]) -> tuple[str, list[str]]:
    """The source with each ``from core[.x] import`` made relative, and the problems
    (``import core.x`` statements) that cannot be rewritten."""
    lines = source.splitlines(keepends=True)
    problems = []
    # right to left, bottom to top: a rewrite never moves a statement still to do
    nodes = sorted((n for n in ast.walk(ast.parse(source))
                    if isinstance(n, ast.Import | ast.ImportFrom)),
                   key=lambda n: (n.lineno, n.col_offset), reverse=True)
    for node in nodes:
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == PACKAGE or alias.name.startswith(PACKAGE + "."):
                    problems.append(f"line {node.lineno}: import {alias.name} (use from ... "
                                    f"import)")
        elif (isinstance(node, ast.ImportFrom) and node.level == 0 and node.module
              and (node.module == PACKAGE or node.module.startswith(PACKAGE + "."))):
            i = node.lineno - 1
            line = lines[i]
            head = f"from {node.module}"
            at = line.find(head, node.col_offset)
            if at != node.col_offset:
                problems.append(f"line {node.lineno}: cannot find {head!r}")
                continue
            lines[i] = (line[:at] + f"from {relative_name(node.module, package)}"
                        + line[at + len(head):])
    return "".join(lines), problems


def changes(root: Path = ROOT) -> dict[Path, tuple[str, list[str]]]:
    """Every file under ``root/core`` whose text would change (new text, problems)."""
    out = {}
    for path in sorted((root / PACKAGE).rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        new, problems = rewrite(text, _package_of(path, root))
        if new != text or problems:
            out[path] = (new, problems)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true",
                        help="list the files that hold absolute core imports; exit 1 if any")
    parser.add_argument("--root", type=Path, default=ROOT, help="the repository (default: this one)")
    args = parser.parse_args(argv)
    found = changes(args.root)
    status = 0
    written = []
    for path, (new, problems) in found.items():
        rel = path.relative_to(args.root)
        for problem in problems:
            print(f"{rel}: {problem}", file=sys.stderr)
            status = 1
        if new != path.read_text(encoding="utf-8"):
            if args.check:
                print(f"{rel}: absolute core import(s)")
                status = 1
            else:
                path.write_text(new, encoding="utf-8")
                written.append(str(path))
                print(f"{rel}: rewritten")
    if written:  # relative imports sort after absolute ones: let ruff's isort order them
        subprocess.run([sys.executable, "-m", "ruff", "check", "--quiet", "--select", "I",
                        "--fix", *written], check=False)
    return status


if __name__ == "__main__":
    sys.exit(main())
