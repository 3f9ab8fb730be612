"""The README's "Diagnose your pictures" table is the stored evaluation
(``benchmarks/results/diagnose.json``, written by ``benchmarks/diagnose.py``)."""

from __future__ import annotations

import json

from benchmarks.diagnose import readme_table
from tests.conftest import ROOT


def test_the_readme_table_is_the_stored_evaluation():
    figures = json.loads((ROOT / "benchmarks" / "results" / "diagnose.json").read_text())["figures"]
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Diagnose your pictures"):readme.index("## What should I use?")]
    table = readme_table(figures)
    assert table in section, "rerun benchmarks/diagnose.py and paste its table:\n" + table
    load = figures["load_average"]
    assert f"load average {load[0]:.1f} at the start, {load[1]:.1f} at the end" in \
        " ".join(section.split())
