"""The pre-commit hooks (.pre-commit-hooks.yaml), the README's hook and docs/ci.md's
workflow, checked from the clone (quick): the manifest is valid for pre-commit, the README's
hook runs as pre-commit would run it (quiet: one line per offending layer, nothing on a
pass), and the workflow holds the steps the issue asks for. Installed and run by
repository URL, they are tested in tests/install/test_install.py (in CI)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
README_REPO = "https://github.com/your-org/checkerboard-lab"


def manifest() -> list[dict]:
    return yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))


def readme_hook() -> dict:
    """The README's ``.pre-commit-config.yaml`` snippet (by this repository's URL)."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = [yaml.safe_load(b) for b in re.findall(r"```yaml\n(.*?)```", text, flags=re.S)]
    (config,) = [b for b in blocks if isinstance(b, dict) and any(
        r.get("repo") == README_REPO for r in b.get("repos", []))]
    (repo,) = config["repos"]
    assert repo["rev"]
    (hook,) = repo["hooks"]
    return hook


def ci_workflow_text() -> str:
    """docs/ci.md's workflow, as written."""
    text = (ROOT / "docs" / "ci.md").read_text(encoding="utf-8")
    (block,) = re.findall(r"```yaml\n(.*?)```", text, flags=re.S)
    return block


def ci_workflow() -> dict:
    return yaml.safe_load(ci_workflow_text())


def test_the_manifest_is_valid_for_pre_commit():
    done = subprocess.run([sys.executable, "-m", "pre_commit", "validate-manifest",
                           str(ROOT / ".pre-commit-hooks.yaml")], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    hooks = {h["id"]: h for h in manifest()}
    assert set(hooks) == {"checkerboard-audit", "checkerboard-audit-system"}
    assert {h["language"] for h in hooks.values()} == {"python", "system"}
    for hook in hooks.values():
        assert hook["entry"].startswith("checkerboard-audit ") and "--quiet" in hook["entry"]
        assert hook["pass_filenames"] is False


def test_a_broken_manifest_is_refused(tmp_path):
    """The validation above can fail: a hook without an entry is refused."""
    target = tmp_path / "broken-hooks.yaml"
    target.write_text(yaml.safe_dump([{k: v for k, v in manifest()[0].items() if k != "entry"}]))
    done = subprocess.run([sys.executable, "-m", "pre_commit", "validate-manifest",
                           str(target)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 1 and "entry" in done.stdout + done.stderr


ART = '''\
from torch import nn


class Generator(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(
            nn.ConvTranspose2d(100, 16, 4, 1, 0, bias=False), nn.ReLU(),
            nn.ConvTranspose2d(16, 8, 4, 2, 1, bias=False), nn.ReLU(),
            nn.ConvTranspose2d(8, 3, 4, 2, 1, bias=False))

    def forward(self, z):
        return self.net(z)
'''
CLEAN = ART.replace("nn.ConvTranspose2d(16, 8, 4, 2, 1, bias=False)",
                    "nn.Upsample(scale_factor=2), nn.Conv2d(16, 8, 3, 1, 1)").replace(
                    "nn.ConvTranspose2d(8, 3, 4, 2, 1, bias=False)",
                    "nn.Upsample(scale_factor=2), nn.Conv2d(8, 3, 3, 1, 1)")


@pytest.mark.parametrize(("models", "status", "n_lines"), [(ART, 1, 2), (CLEAN, 0, 0)])
def test_the_readme_hook_runs_quietly(tmp_path, models, status, n_lines):
    """The hook's entry with the README's args, run in the user's repository as pre-commit
    runs a hook, with ``checkerboard-audit`` as a clone gives it (``python -m core.audit``)."""
    hook = readme_hook()
    (entry,) = [h["entry"] for h in manifest() if h["id"] == hook["id"]]
    pkg = tmp_path / "my_pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "models.py").write_text(models)
    assert re.match(hook["files"], "my_pkg/models.py")
    command = entry.split() + hook["args"]
    assert command[0] == "checkerboard-audit"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | {"PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-m", "core.audit", *command[1:]], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == status, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == n_lines and done.stderr == ""
    assert all(line.startswith("my_pkg.models:Generator: [artifact] net.") for line in lines)


def test_the_ci_workflow_has_every_step_the_issue_asks_for():
    flow = ci_workflow()
    assert flow["permissions"]["security-events"] == "write"
    steps = flow["jobs"]["audit"]["steps"]
    runs = [s["run"] for s in steps if "run" in s]
    install, audit, summary = runs
    assert install.startswith("python -m pip install") and f"git+{README_REPO}@" in install
    args = audit.split()
    assert args[0] == "checkerboard-audit" and "--module" in args
    assert args[args.index("--fail-on") + 1] == "artifact"
    sarif, markdown = args[args.index("--sarif") + 1], args[args.index("--markdown") + 1]
    assert summary == f'cat {markdown} >> "$GITHUB_STEP_SUMMARY"'
    uses = {s["uses"].split("@")[0]: s for s in steps if "uses" in s}
    assert uses["github/codeql-action/upload-sarif"]["with"]["sarif_file"] == sarif
    assert uses["marocchino/sticky-pull-request-comment"]["with"]["path"] == markdown
    after = steps[[i for i, s in enumerate(steps) if s.get("run") == audit][0] + 1:]
    assert after and all("!cancelled()" in s["if"] for s in after)  # they run after a fail


def _check_workflow(path: Path) -> subprocess.CompletedProcess:
    """check-jsonschema's vendored GitHub workflow schema (offline: ``--builtin-schema``)."""
    return subprocess.run([sys.executable, "-m", "check_jsonschema", "--builtin-schema",
                           "vendor.github-workflows", str(path)], capture_output=True,
                          text=True, timeout=120)


def test_the_ci_workflow_is_a_valid_github_workflow(tmp_path):
    text = ci_workflow_text()  # as written: PyYAML would read the key `on` as True
    good = tmp_path / "checkerboard.yml"
    good.write_text(text)
    done = _check_workflow(good)
    assert done.returncode == 0, done.stdout + done.stderr
    bad = tmp_path / "broken.yml"
    bad.write_text(text.replace("runs-on:", "run-on:"))
    done = _check_workflow(bad)
    assert done.returncode == 1 and "runs-on" in done.stdout + done.stderr
