"""Installs the folder ``core/`` as the package ``checkerboard_lab`` (pyproject.toml holds
everything else: metadata, dependencies, commands).

The installed library takes a name of its own so that a user's project with its own
``core`` package installs the lab beside it; a clone keeps ``core/`` and ``python -m
core.audit``. Both work because every import inside core/ is relative
(``tools/relative_imports.py``). Sub-packages are found, not listed, so a new wing installs
without an edit here.
"""

from setuptools import find_packages, setup

setup(
    package_dir={"checkerboard_lab": "core"},
    packages=["checkerboard_lab", *(f"checkerboard_lab.{name}" for name in find_packages("core"))],
)
