"""Installs the folder ``core/`` as the package ``checkerboard_lab`` (pyproject.toml holds
everything else: metadata, dependencies, commands).

The installed library takes a name of its own so that a user's project with its own
``core`` package installs the lab beside it; a clone keeps ``core/`` and ``python -m
core.audit``. Both work because every import inside core/ is relative
(``tools/relative_imports.py``). Sub-packages are found, not listed, so a new wing installs
without an edit here.

The wheel also carries the shipped experiment's histories
(``checkpoints/<variant>/history.csv``, about 110 KB) and the lines computed from them
(``checkpoints/remedies.json``) as ``checkerboard_lab/shipped_histories``: the audit quotes
what the lab's trained networks measured for each fix
(:func:`core.experiment.remedies.remedy_lines`). The checkpoints themselves (the networks)
stay in the clone, with the dashboard.
"""

import shutil
from pathlib import Path

from setuptools import find_packages, setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent


class BuildWithHistories(build_py):
    """build_py, plus the shipped histories copied into the built package."""

    def run(self):
        super().run()
        target = Path(self.build_lib) / "checkerboard_lab" / "shipped_histories"
        for history in sorted((HERE / "checkpoints").glob("*/history.csv")):
            out = target / history.parent.name / history.name
            out.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(history, out)
        stored = HERE / "checkpoints" / "remedies.json"  # read without pandas while current
        if stored.is_file():
            shutil.copyfile(stored, target / stored.name)


setup(
    package_dir={"checkerboard_lab": "core"},
    packages=["checkerboard_lab", *(f"checkerboard_lab.{name}" for name in find_packages("core"))],
    cmdclass={"build_py": BuildWithHistories},
)
