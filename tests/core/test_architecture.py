"""The architecture, read from the imports: core's wings run one way, core never imports
streamlit or ui, no module imports itself back, and no page view borrows another's.

The order (core/__init__.py and the README's layout section say it in prose):
io < maths < diagnose < upsamplers < experiment < audit; ui sits on core; pages on ui.
The diagnosis reads pictures only: it may import io and maths, nothing above them.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
WINGS = ("io", "maths", "diagnose", "upsamplers", "experiment", "audit")
#: Shared ui modules a page view may import (everything else in ui/ is one page's view).
SHARED_UI = ("ui.common", "ui.catalog", "ui.errors", "ui.uploads", "ui.plots", "ui.pixels",
             "ui.urlstate", "ui.figures")
#: Thin entry points: ``python -m core.train/history/outputs``, and ``checkerboard-lab``.
SHIMS = {"core.train", "core.history", "core.outputs", "core.lab"}
MAX_LINES = 800


def _modules(folder: str) -> dict[str, Path]:
    out = {}
    for path in sorted((ROOT / folder).rglob("*.py")):
        rel = path.relative_to(ROOT).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _imports(path: Path) -> set[str]:
    """Every module ``path`` imports (top level and inside functions), absolute names: a
    relative import inside core (``from ..io.text import plain`` in core/audit) is read as
    the absolute one (``core.io.text``)."""
    package = list(path.resolve().relative_to(ROOT).parent.parts)
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[:len(package) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module
            if module:
                found.add(module)
                found.update(f"{module}.{a.name}" for a in node.names)
    return found


def _wing(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "core" and parts[1] in WINGS else None


CORE = _modules("core")
UI = _modules("ui")


def test_the_tree_has_the_six_wings_each_with_a_docstring():
    for wing in WINGS:
        init = ROOT / "core" / wing / "__init__.py"
        assert init.is_file(), wing
        doc = ast.get_docstring(ast.parse(init.read_text()))
        assert doc and len(doc) > 150 and "import" in doc, f"core/{wing} says what it may import"
    flat = {p.name for p in (ROOT / "core").glob("*.py")} - {"__init__.py"}
    assert flat == {f"{m.split('.')[-1]}.py" for m in SHIMS}, "only the entry-point shims"


@pytest.mark.parametrize("name", sorted(CORE))
def test_core_never_imports_streamlit_or_ui(name):
    bad = {m for m in _imports(CORE[name]) if m.split(".")[0] in ("streamlit", "ui", "pages")}
    assert not bad, f"{name} imports {sorted(bad)}"


@pytest.mark.parametrize("name", sorted(n for n in CORE if _wing(n)))
def test_each_wing_imports_only_the_wings_below_it(name):
    own = WINGS.index(_wing(name))
    for target in _imports(CORE[name]):
        wing = _wing(target)
        if wing is not None:
            assert WINGS.index(wing) <= own, f"{name} (wing {WINGS[own]}) imports {target}"


def test_the_diagnosis_needs_no_network():
    """``core.diagnose`` judges pictures alone: no layers, no experiment, no audit, no
    torch (a folder of 10,000 outputs is diagnosed without loading a network)."""
    for name in sorted(n for n in CORE if _wing(n) == "diagnose"):
        for target in _imports(CORE[name]):
            assert _wing(target) in (None, "io", "maths", "diagnose"), f"{name} imports {target}"
            assert target.split(".")[0] != "torch", f"{name} imports torch"


def _graph(modules: dict[str, Path]) -> dict[str, set[str]]:
    known = set(modules)
    graph = {}
    for name, path in modules.items():
        targets = set()
        for imp in _imports(path):
            # "core.audit.limits.AuditError" -> the longest known module prefix
            parts = imp.split(".")
            for i in range(len(parts), 0, -1):
                candidate = ".".join(parts[:i])
                if candidate in known:
                    targets.add(candidate)
                    break
        # a package's __init__ re-exporting its own stages is not a circle
        graph[name] = {t for t in targets if t != name and not t.startswith(name + ".")}
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in graph.get(node, ()):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in graph:
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_no_import_circles_in_core_or_ui():
    # package __init__ files that re-export (core.audit) are leaves for this purpose: a
    # stage importing "core.audit.limits" does not import the package's re-exports.
    graph = _graph({**CORE, **UI})
    graph = {k: {t for t in v if t not in ("core.audit",) or k == "core.audit.__main__"}
             for k, v in graph.items()}
    assert _cycle(graph) is None, _cycle(graph)


def test_a_page_view_imports_no_other_page_view():
    views = {n for n in UI if not n.startswith(SHARED_UI) and n != "ui"}
    assert {"ui.gallery", "ui.compare", "ui.story", "ui.coverage"} <= views
    for name in sorted(UI):
        for target in _imports(UI[name]):
            hit = next((v for v in views if target == v or target.startswith(v + ".")), None)
            if hit and hit != name:
                pytest.fail(f"{name} imports the page view {hit} ({target}); share it via ui.figures")


def test_relative_imports_are_read_as_absolute_ones():
    """The checker itself: core's imports are relative (tools/relative_imports.py), and a
    wing rule that reads only absolute imports would hold vacuously."""
    imports = _imports(ROOT / "core" / "audit" / "cli.py")
    assert {"core.io.text", "core.io.text.plain", "core.audit.limits"} <= imports
    assert "core.audit.analysis.layer_coverage" in _imports(ROOT / "core" / "audit" / "__init__.py")


def test_the_graph_check_catches_a_circle():
    """The checker itself: a two-module circle is found, a chain is not."""
    assert _cycle({"a": {"b"}, "b": {"a"}}) is not None
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


@pytest.mark.parametrize("folder", ["core", "ui", "pages", "tests", "benchmarks"])
def test_no_source_file_over_the_limit(folder):
    long = {str(p.relative_to(ROOT)): n for p in (ROOT / folder).rglob("*.py")
            if (n := len(p.read_text().splitlines())) > MAX_LINES}
    # core/maths/matrix.py is one subject (the matrix C, three ways), allowed to be long
    long.pop("core/maths/matrix.py", None)
    assert not long, long
