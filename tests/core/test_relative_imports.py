"""core/ imports itself only relatively, so it installs under its own name
(``checkerboard_lab``) beside a user's own ``core`` package; ``tools/relative_imports.py``
rewrites absolute imports (the lead re-runs it after merging branches)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "tools" / "relative_imports.py"


def _tool():
    spec = importlib.util.spec_from_file_location("relative_imports", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_core_holds_no_absolute_core_import():
    result = subprocess.run([sys.executable, str(SCRIPT), "--check"], capture_output=True,
                            text=True, cwd=ROOT, timeout=120)
    assert result.returncode == 0, ("absolute core imports inside core/ (run python "
                                    f"tools/relative_imports.py):\n{result.stdout}{result.stderr}")


@pytest.mark.parametrize(("module", "package", "expected"), [
    ("core.io.text", ["core", "audit"], "..io.text"),
    ("core.audit.limits", ["core", "audit"], ".limits"),
    ("core.audit", ["core", "audit"], "."),
    ("core", ["core", "audit"], ".."),
    ("core.experiment.cli", ["core"], ".experiment.cli"),
    ("core.io", ["core"], ".io"),
])
def test_relative_name(module, package, expected):
    assert _tool().relative_name(module, package) == expected


def test_rewrite_touches_imports_only_and_is_idempotent():
    tool = _tool()
    source = ('"""Say from core.audit import x in a docstring."""\n'
              "import os\n"
              "from core.io.text import plain\n"
              "from corelib import thing\n"
              "def f():\n"
              "    from core.audit.limits import (\n"
              "        AuditError,\n"
              "    )\n"
              "    return 'from core.x import y'\n")
    new, problems = tool.rewrite(source, ["core", "audit"])
    assert problems == []
    assert new == source.replace("from core.io.text", "from ..io.text").replace(
        "    from core.audit.limits", "    from .limits")
    assert "from corelib import thing" in new and "from core.audit import x" in new
    assert tool.rewrite(new, ["core", "audit"]) == (new, [])


def test_a_plain_import_of_core_is_reported_not_rewritten():
    source = "import core.io.text\n"
    new, problems = _tool().rewrite(source, ["core", "io"])
    assert new == source and problems and "import core.io.text" in problems[0]


def test_check_fails_on_an_absolute_import(tmp_path):
    (tmp_path / "core" / "io").mkdir(parents=True)
    (tmp_path / "core" / "__init__.py").write_text("")
    (tmp_path / "core" / "io" / "__init__.py").write_text("from core.io.text import plain\n")
    result = subprocess.run([sys.executable, str(SCRIPT), "--check", "--root", str(tmp_path)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1 and "core/io/__init__.py" in result.stdout
