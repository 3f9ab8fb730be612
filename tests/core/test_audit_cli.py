"""The audit where users work (issue 22): ``python -m core.audit --module ...`` on a small
throw-away package written to a temporary folder, every flag and every bad input by
subprocess, and the exit statuses a CI job acts on. The pre-commit hook and the CI workflow
the README and docs/ci.md show are run by tests/core/test_hooks.py and, installed,
tests/install/test_install.py.

Subprocesses run a few at a time (:func:`run_all`); probes are off wherever a test does
not look at them.
"""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import torch
from PIL import Image
from safetensors.torch import save_file

from core.audit.cli import MARKDOWN_LIMIT, markdown_comment
from core.audit.live import audit_module
from tests.conftest import small_deconv_onnx, synthetic_photo

ROOT = Path(__file__).resolve().parents[2]

# --------------------------------------------------------------------------- the package

MODELS = '''\
"""A user's models (throw-away, for the audit's command-line tests)."""
import os

from torch import nn


def _note(what):  # which of this code ran, for the tests
    log = os.environ.get("AUDIT_TEST_LOG")
    if log:
        with open(log, "a") as f:
            f.write(what + "\\n")


class Generator(nn.Module):
    """DCGAN-like: 4x4, stride-2 transposed convolutions."""

    def __init__(self, nz=100, ngf=8):
        _note("Generator.__init__")
        super().__init__()
        self.net = nn.Sequential(
            nn.ConvTranspose2d(nz, ngf * 2, 4, 1, 0, bias=False), nn.ReLU(),
            nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False), nn.ReLU(),
            nn.ConvTranspose2d(ngf, 3, 4, 2, 1, bias=False), nn.Tanh())

    def forward(self, z):
        _note("Generator.forward")
        return self.net(z)


def make_generator(ngf=8):
    return Generator(ngf=ngf)


class NeedsArgs(nn.Module):
    def __init__(self, width):
        _note("NeedsArgs.__init__")
        super().__init__()


class Smoother(nn.Module):
    """One 3x3, stride-2 transposed convolution: uneven overlap, whatever the weights."""

    def __init__(self):
        super().__init__()
        self.up = nn.ConvTranspose2d(1, 1, 3, stride=2, padding=1, output_padding=1,
                                     bias=False)

    def forward(self, x):
        _note("Smoother.forward")
        return self.up(x)


def not_a_module():
    return {"weights": 1}
'''

CLEAN_MODELS = '''\
"""A user's models (throw-away): resize-convolution, no checkerboard."""
from torch import nn


class Generator(nn.Module):
    def __init__(self, nz=100, ngf=8):
        super().__init__()
        self.net = nn.Sequential(
            nn.ConvTranspose2d(nz, ngf * 2, 4, 1, 0, bias=False), nn.ReLU(),
            nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(ngf * 2, ngf, 3, 1, 1),
            nn.ReLU(),
            nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(ngf, 3, 3, 1, 1), nn.Tanh())

    def forward(self, z):
        return self.net(z)
'''

COMPOSED = '''\
"""Imports a helper that lives in another folder (a second --pythonpath)."""
from blocks import up_block
from torch import nn


class Decoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.up = up_block(3, 3)

    def forward(self, x):
        return self.up(x)
'''

BLOCKS = '''\
from torch import nn


def up_block(c_in, c_out):
    return nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"),
                         nn.Conv2d(c_in, c_out, 3, 1, 1))
'''


def write_checkout(folder: Path, models: str) -> Path:
    """A user's repository: ``my_pkg/models.py`` and friends, and the lab beside it
    (``../checkerboard-lab``, as the hook expects) and inside it (as the CI step checks
    it out)."""
    pkg = folder / "my_pkg"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "models.py").write_text(models)
    (pkg / "composed.py").write_text(COMPOSED)
    (pkg / "broken.py").write_text('raise RuntimeError("this module cannot be imported")\n')
    (folder / "checkerboard-lab").symlink_to(ROOT, target_is_directory=True)
    beside = folder.parent / "checkerboard-lab"
    if not beside.exists():
        beside.symlink_to(ROOT, target_is_directory=True)
    return folder


@pytest.fixture(scope="module")
def repos(tmp_path_factory) -> dict[str, Path]:
    """``art`` (DCGAN-like), ``clean`` (resize-convolution) checkouts, and ``vendor`` (a
    folder with the ``blocks`` helper)."""
    root = tmp_path_factory.mktemp("user")
    vendor = root / "vendor"
    vendor.mkdir()
    (vendor / "blocks.py").write_text(BLOCKS)
    return {"art": write_checkout(root / "art", MODELS),
            "clean": write_checkout(root / "clean", CLEAN_MODELS), "vendor": vendor}


# --------------------------------------------------------------------------- running it


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "AUDIT_TEST_LOG")}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env | extra


def run_cli(*args: str, cwd: Path, log: Path | None = None) -> subprocess.CompletedProcess:
    """``python -m core.audit ARGS`` run in ``cwd`` (the user's checkout), the lab on
    PYTHONPATH as the README's commands put it."""
    extra = {"PYTHONPATH": str(ROOT)} | ({"AUDIT_TEST_LOG": str(log)} if log else {})
    return subprocess.run([sys.executable, "-m", "core.audit", *args], cwd=cwd,
                          env=_env(**extra), capture_output=True, text=True, timeout=300)


def run_all(jobs: dict[str, dict]) -> dict[str, subprocess.CompletedProcess]:
    """Several :func:`run_cli` calls (``{"args": [...], "cwd": ..., "log": ...}``) at once."""
    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = {name: pool.submit(run_cli, *job["args"], cwd=job["cwd"], log=job.get("log"))
                   for name, job in jobs.items()}
        return {name: f.result() for name, f in futures.items()}


def one_line(done: subprocess.CompletedProcess) -> str:
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("core.audit: "), done.stderr
    return lines[0]


GEN = ("--module", "my_pkg.models:Generator", "--input-shape", "1,100,1,1")


# --------------------------------------------------------------------------- tests


def test_help_says_the_module_is_your_code_run_here():
    done = run_cli("--help", cwd=ROOT)
    assert done.returncode == 0
    text = " ".join(done.stdout.split())
    for phrase in ("imports YOUR code and runs it in THIS process", "never offers this",
                   "torch.load(weights_only=True)", "--pythonpath DIR", "--kwargs JSON",
                   "artifact every offending layer (severity \"artifact\")",
                   "imbalance upsampling layers whose weights, as given, have "
                   "phase_imbalance > 0.05", "never (default) report only",
                   # issue 27: the verdicts, and what fails on them
                   "never says \"clean\" without evidence", "an unexplained grid",
                   "--allow-unjudged lets \"not judged\" pass", "--output NAME_OR_INDEX",
                   "Exit status: 0", "1 selected by --fail-on",
                   "2 refused or failed input", "cut at 65,000 characters"):
        assert phrase in text, phrase


def test_fail_on_sets_the_exit_status(repos):
    """``imbalance`` and the default ``never`` here; ``artifact`` in the hook and CI test."""
    done = run_all({
        "art-imbalance": {"args": [*GEN, "--no-probes", "--fail-on", "imbalance"],
                          "cwd": repos["art"]},
        "art-default": {"args": [*GEN, "--no-probes"], "cwd": repos["art"]},
        "clean-imbalance": {"args": [*GEN, "--no-probes", "--fail-on", "imbalance"],
                            "cwd": repos["clean"]},
    })
    assert {k: d.returncode for k, d in done.items()} == {
        "art-imbalance": 1, "art-default": 0, "clean-imbalance": 0}, {
        k: d.stderr for k, d in done.items()}
    line = one_line(done["art-imbalance"])
    assert line.startswith(
        "core.audit: fail: 2 layer(s) with phase imbalance > 0.05 (--fail-on imbalance): "
        "net.2 ConvTranspose, net.4 ConvTranspose; my_pkg.models:Generator: ")
    assert line.endswith(" resampling layer(s), predicted period 4")
    line = one_line(done["art-default"])
    assert line.startswith("core.audit: done: my_pkg.models:Generator: ")
    assert line.endswith(", predicted period 4, 2 offending (--fail-on never)")
    assert one_line(done["clean-imbalance"]).startswith(
        "core.audit: pass: no layer with phase imbalance > 0.05 (--fail-on imbalance);")
    # Without --json the report is the JSON on stdout, whatever the verdict.
    report = json.loads(done["art-imbalance"].stdout)
    assert report["source"] == "my_pkg.models:Generator" and report["kind"] == "torch"
    assert [la["name"] for la in report["layers"] if la["offending"]] == ["net.2", "net.4"]
    assert json.loads(done["clean-imbalance"].stdout)["chain"]["offending_layers"] == 0


def test_factory_kwargs_and_every_output(repos, tmp_path):
    """A factory with --kwargs, probes on: JSON, HTML and the pull-request Markdown."""
    out = {s: tmp_path / f"report.{s}" for s in ("json", "html", "md")}
    done = run_cli("--module", "my_pkg.models:make_generator", "--kwargs", '{"ngf": 4}',
                   "--input-shape", "1,100,1,1", "--json", str(out["json"]),
                   "--html", str(out["html"]), "--markdown", str(out["md"]),
                   "--fail-on", "imbalance", cwd=repos["art"])
    assert done.returncode == 1, done.stderr
    assert "fail: 2 layer(s) with phase imbalance" in one_line(done)
    assert done.stdout.startswith("my_pkg.models:make_generator: input (1, 100, 1, 1)")
    data = json.loads(out["json"].read_text())
    channels = {la["name"]: la["out_channels"] for la in data["layers"]}
    assert channels["net.2"] == 4 and channels["net.4"] == 3  # ngf=4, not 8
    assert data["probes"]["checkerboard_score"] > 0 and data["fix_all_measured"]
    assert "plotly" in out["html"].read_text()
    md = out["md"].read_text()
    assert len(md) < MARKDOWN_LIMIT and "plotly" not in md and "data:image" not in md
    assert "| # | name | op |" in md and "```python" in md and "Fix measured" in md
    assert "images are left out here" in md


def test_weights_are_loaded_and_change_the_verdict(repos, tmp_path):
    """One 3x3/stride-2 layer: random weights are imbalanced; bilinear weights (from a
    safetensors file or a .pt state dict) balance the phases, the overlap stays uneven.
    Probed once, with the user's --image."""
    k = torch.tensor([0.5, 1.0, 0.5])
    bilinear = {"up.weight": torch.outer(k, k).reshape(1, 1, 3, 3)}
    save_file(bilinear, str(tmp_path / "bilinear.safetensors"))
    torch.save({"state_dict": bilinear, "epoch": 3}, tmp_path / "bilinear.pt")
    smoother = ["--module", "my_pkg.models:Smoother", "--input-shape", "1,1,16,16",
                "--no-probes"]
    st, pt = str(tmp_path / "bilinear.safetensors"), str(tmp_path / "bilinear.pt")
    photo = tmp_path / "photo.png"
    Image.fromarray(synthetic_photo(32, 32)).save(photo)
    done = run_all({
        "random": {"args": [*smoother, "--fail-on", "imbalance"], "cwd": repos["art"]},
        "st": {"args": [*smoother, "--weights", st, "--fail-on", "imbalance"],
               "cwd": repos["art"]},
        "pt-artifact": {"args": [*smoother, "--weights", pt, "--fail-on", "artifact"],
                        "cwd": repos["art"]},
        "image": {"args": [*smoother[:-1], "--weights", st, "--image", str(photo)],
                  "cwd": repos["art"]},
    })
    assert {k: d.returncode for k, d in done.items()} == {
        "random": 1, "st": 0, "pt-artifact": 1, "image": 0}, {
        k: d.stderr for k, d in done.items()}
    probes = json.loads(done["image"].stdout)["probes"]
    assert probes["scored_on"] == "your image" and "photograph" not in probes["results"]
    for name in ("st", "pt-artifact"):
        (layer,) = json.loads(done[name].stdout)["layers"]
        assert layer["phase_imbalance"] == pytest.approx(0.0, abs=1e-9)
        assert layer["uneven"] is True and layer["phase_gains_pair_0_0"] == [[1.0, 1.0],
                                                                             [1.0, 1.0]]
    assert json.loads(done["random"].stdout)["layers"][0]["phase_imbalance"] > 0.05
    assert one_line(done["st"]).startswith("core.audit: pass: no layer with phase imbalance")
    assert "fail: 1 layer(s) with a checkerboard verdict" in one_line(done["pt-artifact"])


def test_pythonpath_is_repeatable_and_needed(repos):
    """Run from the lab's folder: the user's project is found only through --pythonpath,
    and a helper in a second folder only through a second one."""
    art, vendor = str(repos["art"]), str(repos["vendor"])
    decoder = ["--module", "my_pkg.composed:Decoder", "--input-shape", "1,3,8,8", "--no-probes",
               "--fail-on", "artifact"]
    done = run_all({
        "both": {"args": ["--pythonpath", art, "--pythonpath", vendor, *decoder], "cwd": ROOT},
        "one": {"args": ["--pythonpath", art, *decoder], "cwd": ROOT},
        "none": {"args": [*decoder], "cwd": ROOT},
    })
    assert done["both"].returncode == 0, done["both"].stderr
    assert json.loads(done["both"].stdout)["layers"][0]["op"] == "Resize"
    assert done["one"].returncode == 2
    assert one_line(done["one"]) == ("core.audit: refused: importing my_pkg.composed failed: "
                                     "ModuleNotFoundError: No module named 'blocks'")
    assert done["none"].returncode == 2
    assert one_line(done["none"]) == (
        "core.audit: refused: cannot import my_pkg.composed: no module named my_pkg on the "
        "import path (add your project with --pythonpath DIR)")


class _Payload:
    """Unpickled, this would create ``marker``: a pickle with code in it."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_bad_inputs_are_one_line_status_2_and_run_nothing_unnamed(repos, tmp_path):
    art = repos["art"]
    w = tmp_path / "weights"
    w.mkdir()
    good = {"net.0.weight": torch.zeros(100, 16, 4, 4), "net.2.weight": torch.zeros(16, 8, 4, 4),
            "net.4.weight": torch.zeros(8, 3, 4, 4)}
    mismatched = {k: v for k, v in good.items() if k != "net.4.weight"} | {
        "head.weight": torch.zeros(1), "net.2.weight": torch.zeros(16, 8, 3, 3)}
    save_file(mismatched, str(w / "mismatch.safetensors"))
    torch.save(_Payload(tmp_path / "zip-pickle-ran"), w / "evil.pt")
    with open(w / "evil.pth", "wb") as f:  # a plain (legacy, not zipped) pickle
        pickle.dump(_Payload(tmp_path / "plain-pickle-ran"), f)
    torch.save([torch.zeros(1)], w / "list.pt")
    (w / "weights.npz").write_bytes(b"not read")
    onnx = tmp_path / "m.onnx"
    onnx.write_bytes(small_deconv_onnx((1, 2, 8, 8)))
    logs = {}

    def job(*args: str, cwd: Path = art) -> dict:
        log = tmp_path / f"log{len(logs)}.txt"
        logs[args] = log
        return {"args": list(args), "cwd": cwd, "log": log}

    cases = {
        "no such module": (job("--module", "my_pkg.nope:Generator", "--input-shape", "1,100,1,1"),
                           "refused: cannot import my_pkg.nope: no module named my_pkg.nope"),
        "no such name": (job("--module", "my_pkg.models:Generatr", "--input-shape", "1,100,1,1"),
                         "refused: my_pkg.models has no attribute 'Generatr'"),
        "not a path": (job("--module", "my_pkg.models.Generator", "--input-shape", "1,100,1,1"),
                       "refused: --module must be package.module:Name"),
        "import fails": (job("--module", "my_pkg.broken:X", "--input-shape", "1,3,8,8"),
                         "refused: importing my_pkg.broken failed: RuntimeError: this module "
                         "cannot be imported"),
        "needs arguments": (job("--module", "my_pkg.models:NeedsArgs", "--input-shape",
                                "1,3,8,8"),
                            "refused: my_pkg.models:NeedsArgs cannot be built with no "
                            "arguments: missing a required argument: 'width' (give them with "
                            "--kwargs"),
        "wrong kwargs": (job(*GEN, "--kwargs", '{"width": 3}'),
                         "refused: my_pkg.models:Generator cannot be built with --kwargs "
                         "{\"width\": 3}: got an unexpected keyword argument 'width'"),
        "kwargs not JSON": (job(*GEN, "--kwargs", "{ngf: 4}"), "refused: --kwargs is not JSON"),
        "kwargs not an object": (job(*GEN, "--kwargs", "[4]"),
                                 "refused: --kwargs must be a JSON object"),
        "not a module": (job("--module", "my_pkg.models:not_a_module", "--input-shape",
                             "1,3,8,8"),
                         "refused: my_pkg.models:not_a_module returned a dict, not a "
                         "torch.nn.Module"),
        "weights do not match": (job(*GEN, "--weights", str(w / "mismatch.safetensors")),
                                 "refused: --weights mismatch.safetensors does not match "
                                 "my_pkg.models:Generator: missing net.4.weight; unexpected "
                                 "head.weight; shape of net.2.weight is (16, 8, 3, 3) in the "
                                 "file, (16, 8, 4, 4) in the module"),
        "zip pickle with code": (job(*GEN, "--weights", str(w / "evil.pt")),
                                 "refused: --weights evil.pt holds more than tensors"),
        "plain pickle with code": (job(*GEN, "--weights", str(w / "evil.pth")),
                                   "refused: --weights evil.pth holds more than tensors"),
        "not a state dict": (job(*GEN, "--weights", str(w / "list.pt")),
                             "refused: --weights list.pt is not a state dict"),
        "weights format": (job(*GEN, "--weights", str(w / "weights.npz")),
                           "refused: --weights weights.npz: only .safetensors, .pt, .pth"),
        "no weights file": (job(*GEN, "--weights", str(w / "absent.pt")),
                            "refused: --weights"),
        "forward fails": (job("--module", "my_pkg.models:Generator", "--input-shape", "1,3,8,8"),
                          "refused: the module's forward pass fails on input shape 1,3,8,8"),
        "no input shape": (job("--module", "my_pkg.models:Generator"),
                           "refused: --module needs --input-shape N,C,H,W"),
        "bad input shape": (job(*GEN[:3], "1,100,x,1"), "usage: argument --input-shape"),
        "model and module": (job(str(onnx), *GEN), "refused: give either an ONNX file or"),
        "neither": (job("--fail-on", "artifact"), "refused: give either an ONNX file or"),
        "weights for onnx": (job(str(onnx), "--weights", str(w / "mismatch.safetensors")),
                             "refused: --weights is for --module"),
        "pythonpath not a folder": (job(*GEN, "--pythonpath", str(tmp_path / "nowhere")),
                                    "refused: --pythonpath"),
        "fail-on choice": (job(*GEN, "--fail-on", "warning"),
                           "usage: argument --fail-on: invalid choice: 'warning'"),
    }
    done = run_all({name: j for name, (j, _) in cases.items()})
    for name, (_, message) in cases.items():
        result = done[name]
        assert result.returncode == 2, (name, result.returncode, result.stderr)
        assert one_line(result).startswith(f"core.audit: {message}"), (name, result.stderr)
        assert "Traceback" not in result.stderr and result.stdout == "", name
    # Nothing ran that the user did not name: no constructor that cannot take the
    # arguments, no forward pass with weights that do not fit, no pickled code.
    ran = {name: j["log"].read_text().split() if j["log"].exists() else []
           for name, (j, _) in cases.items()}
    assert ran["needs arguments"] == [] and ran["wrong kwargs"] == []
    assert ran["weights do not match"] == ["Generator.__init__"]
    for name in ("zip pickle with code", "plain pickle with code", "not a state dict",
                 "weights format", "no weights file"):  # refused before the user's code
        assert ran[name] == [], (name, ran[name])
    assert ran["forward fails"] == ["Generator.__init__", "Generator.forward"]  # the control
    assert not (tmp_path / "zip-pickle-ran").exists()
    assert not (tmp_path / "plain-pickle-ran").exists()
    # ...and the payloads were real: an unsafe load runs them.
    torch.load(w / "evil.pt", weights_only=False)
    assert (tmp_path / "zip-pickle-ran").exists()


def test_outputs_never_overwrite_an_input(repos, tmp_path):
    art = repos["art"]
    model = tmp_path / "M.onnx"
    model.write_bytes(small_deconv_onnx((1, 2, 8, 8)))
    photo = tmp_path / "photo.png"
    Image.fromarray(synthetic_photo()).save(photo)
    weights = tmp_path / "G.safetensors"
    save_file({"up.weight": torch.ones(1, 1, 3, 3)}, str(weights))
    source = art / "my_pkg" / "models.py"
    kept = {p: p.read_bytes() for p in (model, photo, weights, source)}
    smoother = ["--module", "my_pkg.models:Smoother", "--input-shape", "1,1,16,16",
                "--no-probes"]
    cases = {
        "json onto the model": ([str(model), "--json", str(model)], tmp_path,
                                f"--json {model} would overwrite the model"),
        "relative path": (["M.onnx", "--markdown", "./M.onnx"], tmp_path,
                          "--markdown M.onnx would overwrite the model"),
        "html onto the image": ([str(model), "--image", str(photo), "--html", str(photo)],
                                tmp_path, "--html " + str(photo) + " would overwrite the image"),
        "onto the weights": ([*smoother, "--weights", str(weights), "--json", str(weights)],
                             art, "--json " + str(weights) + " would overwrite the weights"),
        "onto the module's source": ([*smoother, "--markdown", "my_pkg/models.py"], art,
                                     "--markdown my_pkg/models.py would overwrite the "
                                     "module's source"),
        "two outputs on one path": ([str(model), "--json", str(tmp_path / "r"), "--html",
                                     str(tmp_path / "r")], tmp_path,
                                    "--json and --html both write"),
    }
    done = run_all({name: {"args": args, "cwd": cwd} for name, (args, cwd, _) in cases.items()})
    for name, (_, _, message) in cases.items():
        assert done[name].returncode == 2, (name, done[name].stderr)
        assert one_line(done[name]).startswith(f"core.audit: refused: {message}"), (
            name, done[name].stderr)
    assert {p: p.read_bytes() for p in kept} == kept
    assert not (tmp_path / "r").exists()


def test_markdown_is_capped_and_says_so():
    deconv = torch.nn.ConvTranspose2d(2, 2, 3, stride=2, padding=1, output_padding=1)
    report = audit_module(deconv, (1, 2, 8, 8), probes=False)
    whole = markdown_comment(report)
    assert "Report cut here" not in whole
    cut = markdown_comment(report, limit=600)
    assert len(cut) <= 600 and cut.startswith(whole[:200])
    assert f"the whole one is {len(whole):,} characters, over the 600" in cut
