"""Words about the project that went stale (issue 28, item 18): files named in comments
exist, the README's exporter line says what it needs, and the two statements of how long
storing the outputs takes agree."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_paths_named_in_requirements_and_makefile_exist():
    for name in ("requirements.txt", "requirements-dev.txt", "Makefile"):
        text = (ROOT / name).read_text(encoding="utf-8")
        for path in re.findall(r"\b((?:core|ui|pages|benchmarks|tests)/[\w/.]*\w)", text):
            assert (ROOT / path).exists(), (name, path)


def test_readme_default_exporter_line_names_onnxscript():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    line = next(x for x in readme.splitlines() if 'torch.onnx.export(model, x, "model.onnx")' in x)
    assert "onnxscript" in line


def test_storing_the_outputs_takes_the_same_time_in_makefile_and_readme():
    make = (ROOT / "Makefile").read_text(encoding="utf-8")
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    said = re.search(r"\((about \d+ minutes[^,;)]*)", make)
    assert said, "the Makefile says how long storing the outputs takes, in minutes"
    assert said.group(1) in readme
