"""The README's "Measured figures" are the stored benchmark results.

Every table and every quoted number of that section (from "## Measured figures" up to
"## Layout") is recomputed here from ``benchmarks/results/*.json`` (what the scripts
``benchmarks/*.py`` write), formatted as the README writes it, and looked up in the
section. After a benchmark is rerun, a failure prints the README text to write instead.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
import statistics

import numpy as np
import pytest

from benchmarks.upsampling import DECONV_GOALS, RESIZE_SPEEDUP_GOAL
from benchmarks.visitors import play_met
from core.audit import limits as audit_limits
from core.audit.read import MAX_ARCHIVE_FILES
from core.experiment import checkpoints, data, tables, train
from core.experiment.catalog import variant_order
from core.experiment.history import read_histories
from core.io import decode, photos, text
from core.maths.matrix_case import MAX_TYPED_ABS
from core.upsamplers.fused import FusedResizeConv
from tests.conftest import ROOT
from ui.layers import MAX_SHOWN

RESULTS = ROOT / "benchmarks" / "results"
#: The results the section quotes (audit.json and audit_zoo.json are quoted in the README's
#: audit section; collapse_probe.json nowhere in it).
QUOTED = ("coverage", "upsampling", "training", "gallery", "visitors", "visitors_before23",
          "presenter", "robustness")
WORDS = dict(enumerate(("none", "one", "two", "three", "four", "five", "six", "seven",
                         "eight", "nine", "ten")))


def results(name: str) -> dict:
    return json.loads((RESULTS / f"{name}.json").read_text(encoding="utf-8"))


def section() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    return readme[readme.index("## Measured figures"):readme.index("## Layout")]


def flat(words: str) -> str:
    """Whitespace folded to single spaces: the README wraps its prose at any word."""
    return " ".join(words.split())


def assert_stated(source: str, *texts: str) -> None:
    """Each text is in the section (line breaks aside); else the message gives the text."""
    body = flat(section())
    missing = [t for t in texts if flat(t) not in body]
    assert not missing, (
        f"README.md, '## Measured figures': recomputed from {source}, the section should "
        "contain (replace the old figures with):\n\n" + "\n\n".join(missing))


def day(iso: str) -> str:
    """'2026-12-05T01:43:10+0000' -> '5 Dec 2026'."""
    d = dt.date.fromisoformat(iso[:10])
    return f"{d.day} {d:%b %Y}"


def load(start: float, end: float) -> str:
    return f"load average {start:.1f} at the start, {end:.1f} at the end"


def end_load(result: dict) -> str:
    """The one load figure a result without a start load records (the 1-minute load at
    the end of the run)."""
    return f"load average {result['machine']['load_average_1min']:.1f} at the end of the run"


def met(ok: bool) -> str:
    return "met" if ok else "not met"


def met_at(flags: list[bool]) -> str:
    """'met', 'not met', or 'met at two of the three shapes'."""
    if all(flags) or not any(flags):
        return met(all(flags))
    return f"met at {WORDS[sum(flags)]} of the {WORDS[len(flags)]} shapes"


def goal_ms(ms: float) -> str:
    return f"< {ms / 1000:g} s" if ms >= 1000 else f"< {ms:g} ms"


def test_every_quoted_result_ran_on_the_stated_machine():
    """The section's opening names one machine kind (cores, torch build): every result
    the section quotes was measured on it."""
    machines = {(results(n)["machine"]["cpu_count"], results(n)["machine"]["torch"])
                for n in QUOTED}
    assert len(machines) == 1, f"the quoted results ran on different machines: {machines}"
    ((cpus, torch_version),) = machines
    build = torch_version.removesuffix("+cpu")
    assert build != torch_version, torch_version  # a CPU build, as the README says
    assert_stated("the 'machine' of every quoted result",
                  f"All on this project's machine kind ({cpus} CPU cores, torch {build} CPU "
                  "build).")


def test_coverage_table_is_coverage_json():
    """Coverage: the 3-layer maps on a 256x256 input and the page rerun, with their goals."""
    result = results("coverage")
    lines = ["| what | median | goal | met |", "|---|---|---|---|"]
    for r in result["rows"]:
        if r["input"] != "256x256" or r["layers"] != 3:
            continue
        assert r["meets_goal"] == (r["median_ms"] < r["goal_ms"]), r
        lines.append(f"| `coverage_map`, {r['input']} input, {r['kernel']}x{r['kernel']}/stride "
                     f"{r['stride']}, {r['layers']} stacked layers ({r['output']} map) | "
                     f"{r['median_ms']:.2f} ms | {goal_ms(r['goal_ms'])} | "
                     f"{met(r['median_ms'] < r['goal_ms'])} |")
    page = result["page_rerun"]
    assert page["meets_goal"] == (page["median_ms"] < page["goal_ms"]), page
    lines.append(f"| coverage page rerun after a control change (AppTest, {page['repeats']} "
                 f"reruns) | {page['median_ms']:.0f} ms | {goal_ms(page['goal_ms'])} | "
                 f"{met(page['median_ms'] < page['goal_ms'])} |")
    assert len(lines) == 5
    assert_stated("benchmarks/results/coverage.json",
                  "### Coverage (`.venv/bin/python benchmarks/coverage.py`)",
                  f"{end_load(result).capitalize()}.", "\n".join(lines))


#: upsampling.json's labels as the README's table names them; the other rows (the
#: ``fused_resize[phase]`` and ``[folded]`` methods) are quoted in the prose only.
UPSAMPLER_NAMES = {
    "resize_nearest": "`resize_nearest`", "fused_resize": "**`fused_resize`** (auto)",
    "deconv k3": "`deconv` 3x3", "deconv k4": "`deconv` 4x4", "subpixel": "`subpixel`",
    "resize_bilinear": "`resize_bilinear`", "deconv_zoh": "`deconv_zoh`",
    "deconv_foh": "`deconv_foh`", "subpixel_icnr_blur": "`subpixel_icnr_blur`",
}


def upsampling_shapes() -> list[tuple[str, dict[str, dict]]]:
    """[(the README's shape text, {upsampler label: row})] in the run's order."""
    shapes: dict[str, dict[str, dict]] = {}
    for r in results("upsampling")["rows"]:
        s = r["shape"]
        shapes.setdefault(f"N={s['N']}, {s['C_in']}→{s['C_out']}, {s['H']}px", {})[
            r["upsampler"]] = r
    return list(shapes.items())


def test_upsamplers_table_is_upsampling_json():
    """Upsamplers: the run's settings, date and load, and the table of times and memory."""
    result = results("upsampling")
    settings, loads = result["settings"], result["load_average"]
    assert settings["device"] == "cpu" and settings["threads"] == 1
    assert settings["clock"] == "process CPU time"
    repeats = settings["repeats"]
    lines = ["| shape | upsampler | forward ms | forward+backward ms | peak forward MiB |",
             "|---|---|---|---|---|"]
    for shape, rows in upsampling_shapes():
        for i, (label, name) in enumerate(UPSAMPLER_NAMES.items()):
            r = rows[label]
            forward = f"{r['forward_ms']:.1f}"
            if label == "fused_resize":
                forward = f"**{forward}**"
            lines.append(f"| {shape if i == 0 else ''} | {name} | {forward} | "
                         f"{r['forward_backward_ms']:.1f} | {r['peak_forward_mib']:.1f} |")
    assert_stated(
        "benchmarks/results/upsampling.json",
        f"### Upsamplers (`.venv/bin/python benchmarks/upsampling.py --clock cpu --repeats "
        f"{repeats}`)",
        f"Measured {day(result['date'])} with one torch thread and the process's CPU time "
        f"(`--clock cpu`), median of {repeats} rounds ({max(3, repeats // 2)} for "
        f"forward+backward), upsamplers timed in turns, "
        f"{load(loads['before'][0], loads['after'][0])}",
        "\n".join(lines))


def test_upsampler_ratios_and_goals_are_computed_from_the_times():
    """The prose's ratios are quotients of upsampling.json's times, and each "met" is the
    goal (``benchmarks/upsampling.py``) against them, as the run's own goal rows say."""
    shapes = [rows for _, rows in upsampling_shapes()]
    goal_rows = results("upsampling")["goals"]
    assert len(goal_rows) == len(shapes)

    def ratios(top: str, bottom: str, column: str = "forward_ms") -> list[float]:
        return [rows[top][column] / rows[bottom][column] for rows in shapes]

    def times(values: list[float]) -> str:
        return ", ".join(f"{v:.2f}x" for v in values)

    speedup = ratios("resize_nearest", "fused_resize")
    speedup_training = ratios("resize_nearest", "fused_resize", "forward_backward_ms")
    vs_deconv = ratios("fused_resize", "deconv k4")
    vs_deconv_training = ratios("fused_resize", "deconv k4", "forward_backward_ms")
    limit = DECONV_GOALS[("cpu", "forward_ms")]
    speedup_met = [s >= RESIZE_SPEEDUP_GOAL for s in speedup]
    deconv_met = [r <= limit for r in vs_deconv]
    for g, s, r, s_met, r_met in zip(goal_rows, speedup, vs_deconv, speedup_met, deconv_met,
                                     strict=True):
        assert math.isclose(g["forward_speedup_vs_resize_nearest"], s), g
        assert math.isclose(g["forward_vs_deconv_k4"], r), g
        assert g["forward_speedup_goal_met"] == s_met and g["forward_deconv_goal_met"] == r_met
        assert g["forward_deconv_goal"] == limit
    remedies = ratios("deconv_zoh", "deconv k3") + ratios("deconv_foh", "deconv k3")
    blur = ratios("subpixel_icnr_blur", "subpixel")
    assert_stated(
        "benchmarks/results/upsampling.json (times) and benchmarks/upsampling.py (goals)",
        f"in inference up to {FusedResizeConv.PHASE_MAX_OUT_CHANNELS} output channels",
        f"at least {RESIZE_SPEEDUP_GOAL:g}x faster than `resize_nearest`: {met_at(speedup_met)} "
        f"({times(speedup)} in inference; {times(speedup_training)} in training)",
        f"at most {limit:g}x `deconv` 4x4, the same arithmetic: {met_at(deconv_met)} "
        f"({times(vs_deconv)}; training {min(vs_deconv_training):.2f}-"
        f"{max(vs_deconv_training):.2f}x)",
        f"`deconv_zoh` and `deconv_foh` take {min(remedies):.1f}-{max(remedies):.1f}x the "
        "forward time of the 3x3 transposed convolution they follow, `subpixel_icnr_blur` "
        f"{min(blur):.1f}-{max(blur):.1f}x `subpixel`'s.",
        f"took {times(ratios('fused_resize[folded]', 'deconv k4'))} `deconv` 4x4's forward time")


def test_no_gpu_figures_until_a_gpu_run_is_stored():
    """The README says no GPU table exists as long as no GPU result is stored."""
    cuda = RESULTS / "upsampling_cuda.json"
    assert not cuda.exists(), (
        f"{cuda.relative_to(ROOT)} exists: add its table to the README's Upsamplers section, "
        "in place of 'no GPU table has been measured yet', and a test of it here")
    assert_stated("the absence of benchmarks/results/upsampling_cuda.json",
                  "no GPU table has been measured yet")


def test_training_table_is_training_json():
    """Training: images per second and inference times of every variant measured."""
    result = results("training")
    threads = result["settings"]["threads"]
    lines = [f"| variant | train img/s ({threads} threads) | inference 256x256 | "
             "inference 512x512 |", "|---|---|---|---|"]
    for r in result["rows"]:
        lines.append(f"| `{r['variant']}` | {r['train_img_per_s']:.0f} | "
                     f"{r['infer256_ms']:.0f} ms | {r['infer512_ms']:.0f} ms |")
    assert_stated("benchmarks/results/training.json",
                  "### Training (`.venv/bin/python benchmarks/training.py`",
                  f"{end_load(result).capitalize()}.", "\n".join(lines))


def test_training_prose_is_the_shipped_experiment():
    """The experiment's length, its training minutes per variant (the histories'
    ``epoch_seconds``), the variants the table lacks, and what ``checkpoints/`` holds."""
    folder = ROOT / "checkpoints"
    hist = read_histories(folder)
    measured = [r["variant"] for r in results("training")["rows"]]
    remedies = variant_order(sorted(set(hist["variant"]) - set(measured)))
    trained = hist[hist["epoch"] >= 1]
    crops = (trained["images_per_s"] * trained["epoch_seconds"]).round()
    assert crops.nunique() == 1, crops.unique()
    minutes = hist[hist["variant"].isin(measured)].groupby("variant")["epoch_seconds"].sum() / 60
    stored = hist[hist["stored"]].groupby("variant").size()
    assert stored.nunique() == 1, stored
    mb = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 1e6
    assert_stated(
        "checkpoints/*/history.csv, benchmarks/results/training.json and checkpoints/",
        f"the {WORDS[len(remedies)]} remedies ("
        + ", ".join(f"`{v}`" for v in remedies) + ") came later and are not in this table",
        f"The shipped experiment ({hist['epoch'].max()} epochs x {crops.iloc[0]:.0f} crops per "
        f"variant) took {minutes.min():.0f}-{minutes.max():.0f} min per variant for the "
        f"{WORDS[len(measured)]} variants above",
        f"`checkpoints/` holds {stored.iloc[0]} stored epochs per variant plus the first "
        f"release's `small/` model ({mb:.0f} MB in git)")


def test_pages_table_is_gallery_json():
    """Pages: the checkpoint load, the gallery's warm rerun and an upload, with goals."""
    result = results("gallery")
    rows = {r["measure"]: r for r in result["rows"]}
    variants, files = map(int, re.search(r"\((\d+) variants, (\d+) checkpoints\)",
                                         result["checkpoints"]).groups())
    cold, warm, upload = rows["cold_load_all"], rows["warm_rerun_3x4"], rows["upload_512"]
    assert cold["detail"].startswith(f"{files} files")
    assert "512x512" in upload["detail"]
    lines = ["| what | measured | goal | met |", "|---|---|---|---|"]
    for r, what in ((cold, f"cold load of all {files} checkpoints"),
                    (warm, f"warm rerun of the {warm['detail']} (AppTest)"),
                    (upload, "one model on a 512x512 upload (decode + forward)")):
        assert r["met"] == ("yes" if r["ms"] < r["goal_ms"] else "NO"), r
        lines.append(f"| {what} | {r['ms']:.0f} ms | {goal_ms(r['goal_ms'])} | "
                     f"{met(r['ms'] < r['goal_ms'])} |")
    assert_stated("benchmarks/results/gallery.json",
                  "### Pages (`.venv/bin/python benchmarks/gallery.py`)",
                  f"{end_load(result).capitalize()}; measured on the experiment's first "
                  f"{variants} variants ({files} checkpoints)", "\n".join(lines))


def command(result: dict) -> str:
    """The command a browser benchmark recorded, as the README's headings write it."""
    return f"`.venv/bin/{result['command'].strip()}`"


def goal_s(row: dict) -> float:
    """The goal a row of visitors.json or presenter.json records ('<= 1 s', '1.5 s ...')."""
    return float(re.search(r"[\d.]+", row["goal"]).group())


def visitor_figures(r: dict) -> dict[str, tuple[str, str, str]]:
    """One run of visitors.py as the README's table writes it: row -> (figure, goal, met).

    Each "met" is the row's goal against the recomputed figure (the script's rules), and
    must be what the run itself recorded."""
    rows = {row["measure"].split(": ")[-1]: row for row in r["rows"]}
    idle = statistics.median(r["idle_s"])
    cpu = r["server_cpu_s"] / r["visitors"]
    unviewed, play = r["unviewed_epoch_s"], r["play_intervals_s"]
    promised = goal_s(rows["seconds between epochs"])
    out = {
        "idle": (f"{idle:.1f} s", rows["median time to idle"],
                 idle <= goal_s(rows["median time to idle"])),
        "cpu": (f"{cpu:.2f} s", rows["server CPU per visitor"],
                cpu <= goal_s(rows["server CPU per visitor"])),
        "unviewed": (f"{statistics.median(unviewed):.2f} s ({max(unviewed):.2f})",
                     rows["an epoch nobody has viewed"],
                     max(unviewed) <= goal_s(rows["an epoch nobody has viewed"])),
        "play": (f"{statistics.median(play):.2f} s ({max(play):.2f})",
                 rows["seconds between epochs"], play_met(play, promised)),
    }
    for name, (_, row, ok) in out.items():
        assert (row["met"] == "yes") == ok, (name, row)
    goals = {"idle": f"<= {goal_s(rows['median time to idle']):g} s",
             "cpu": f"<= {goal_s(rows['server CPU per visitor']):g} s",
             "unviewed": f"<= {goal_s(rows['an epoch nobody has viewed']):g} s",
             "play": f"{promised:g} s (median within 10 %, none over {2 * promised:g} s)"}
    figures = {name: (figure, goals[name], met(ok)) for name, (figure, _, ok) in out.items()}
    figures["browsers"] = (f"{r['browser_cpu_s']:.0f} s", "", "")
    return figures


def test_visitors_table_is_visitors_and_visitors_before23_json():
    """Visitors: the build before the presenter work (issue 23; visitors_before23.json,
    run with --project on a checkout of it) against this one (visitors.json), one right
    after the other, each with its date and load, each goal met or not, and the browsers'
    CPU per visitor as a ratio of the two runs."""
    before, now = results("visitors_before23"), results("visitors")
    n = now["visitors"]
    assert before["visitors"] == n
    assert len(before["unviewed_epoch_s"]) == len(now["unviewed_epoch_s"])
    assert "--project" in before["command"] and before["project"] != now["project"]
    gap = abs(dt.datetime.fromisoformat(now["date"]) - dt.datetime.fromisoformat(before["date"]))
    assert gap < dt.timedelta(hours=1), "side by side: the two runs within the hour"
    b, c = visitor_figures(before), visitor_figures(now)
    assert all(b[name][1] == c[name][1] for name in b), "the two runs had different goals"

    def row(what: str, name: str) -> str:
        if not c[name][1]:
            return f"| {what} | {b[name][0]} | {c[name][0]} | | |"
        return (f"| {what} | {b[name][0]} | {c[name][0]} | {c[name][1]} | "
                f"{b[name][2]} / {c[name][2]} |")

    per = [r["browser_cpu_s"] / r["visitors"] for r in (before, now)]
    table = "\n".join([
        "| what a person feels | before | now | goal | met (before / now) |",
        "|---|---|---|---|---|",
        row(f"{n} visitors at once: median time to idle", "idle"),
        row(f"{n} visitors at once: server CPU per visitor (server start included)", "cpu"),
        f"| browser CPU per visitor | {per[0]:.1f} s | {per[1]:.1f} s | halved | "
        f"{met(per[1] <= per[0] / 2)}: {per[1] / per[0]:.2f}x |",
        row(f"an epoch nobody has viewed (median of {len(now['unviewed_epoch_s'])}; max)",
            "unviewed"),
        row("Play: seconds between epochs (median; max)", "play"),
    ])
    assert_stated(
        "benchmarks/results/visitors_before23.json and visitors.json",
        f"### Visitors ({command(now)})",
        f"and {n} headless Chromium visitors",
        f"on {day(before['date'])} ({load(before['load_average_before'][0], before['load_average_after'][0])})",
        f"then this build ({load(now['load_average_before'][0], now['load_average_after'][0])})",
        table)


def test_presenting_table_is_presenter_json():
    """Presenting: a story step by URL, Next and Play on a warm server, with goals, and
    Streamlit's own floor measured beside them (benchmarks/floor_app.py)."""
    r = results("presenter")
    assert r["present"] and "--present" in r["command"]
    by_url, nexts, play = r["step_by_url_s"], r["next_s"], r["play_intervals_s"]
    bare, chart = r["floor_bare_s"], r["floor_chart_s"]
    assert len(bare) == len(chart) == len(by_url), "the floor is visited after every step"
    url_goal, next_goal, promised = (goal_s(row) for row in r["rows"][:3])
    assert [row["goal"] for row in r["rows"][3:]] == ["reference", "reference"]
    slow_url, slow_next = max(by_url, key=by_url.get), max(nexts, key=nexts.get)
    checks = [by_url[slow_url] <= url_goal, nexts[slow_next] <= next_goal,
              play_met(play, promised)]
    assert [row["met"] == "yes" for row in r["rows"][:3]] == checks, r["rows"]
    floor = statistics.median(chart)
    over = sorted(s - floor for s in by_url.values())
    table = "\n".join([
        "| what a person feels | measured | goal | met |",
        "|---|---|---|---|",
        f"| a story step opened by URL (median; slowest) | "
        f"{statistics.median(by_url.values()):.2f} s; {by_url[slow_url]:.2f} s (step "
        f"{slow_url}) | <= {url_goal:g} s | {met(checks[0])} |",
        f"| Next in the story (median; slowest) | {statistics.median(nexts.values()):.2f} s; "
        f"{nexts[slow_next]:.2f} s (into step {slow_next}) | <= {next_goal:g} s | "
        f"{met(checks[1])} |",
        f"| Play: seconds between epochs (median; slowest) | {statistics.median(play):.2f} s; "
        f"{max(play):.2f} s | {promised:g} s (median within 10 %, none over "
        f"{2 * promised:g} s) | {met(checks[2])} |",
        f"| Streamlit's floor: a bare page by URL (median; slowest) | "
        f"{statistics.median(bare):.2f} s; {max(bare):.2f} s | reference | |",
        f"| Streamlit's floor: one small chart by URL (median; slowest) | "
        f"{floor:.2f} s; {max(chart):.2f} s | reference | |",
    ])
    assert_stated(
        "benchmarks/results/presenter.json",
        f"### Presenting ({command(r)})",
        f"the story in presentation mode, one headless Chromium at {r['window']}.",
        f"Measured {day(r['date'])}, "
        f"{load(r['load_average_before'][0], r['load_average_after'][0])}.",
        f"in this run Next into step 2 took {nexts['2']:.2f} s.",
        f"a bare page {statistics.median(bare):.2f} s, the same page with one small plotly "
        f"chart {floor:.2f} s",
        f"The story's steps take {over[0]:.2f} s to {over[-1]:.2f} s more than that floor",
        table)


def shape(outcome: str) -> list[int]:
    """'returned: [1, 3, 1056, 1056]' -> [1, 3, 1056, 1056]."""
    return [int(v) for v in re.findall(r"\d+", outcome.split(":", 1)[1])]


def test_hostile_input_figures_are_robustness_json():
    """Hostile input: each refusal's and each largest accepted input's time and memory,
    and the table of the earlier rounds' figures, all from one run of robustness.py."""
    result = results("robustness")
    rows = {r["case"]: r for r in result["rows"]}
    big16 = rows["read_rgb: 12500x12500 16-bit PNG (refused from its header)"]
    largest = rows["read_rgb: 6324x6324 RGB PNG (40 MP, the largest accepted)"]
    assert big16["outcome"].startswith("refused") and largest["outcome"].startswith("returned")
    assert 6324 ** 2 <= decode.DEFAULT_MAX_PIXELS
    settings = [r["ms"] for c, r in rows.items() if c.startswith("training settings:")]
    nodes = rows["audit: 20,000 nodes in 1.8 MB (refused from the graph)"]
    audit = [r for c, r in rows.items() if c.startswith("audit:")]
    refusals = [r for r in audit if r["outcome"].startswith("refused")]
    free = rows["audit: 70-byte model, free 256-channel input (capped to fit the probe budget)"]
    probed = rows["audit: largest accepted: identity at 1x3x1056x1056 with probes"]
    probed_shape = shape(probed["outcome"])
    elements = 2 * math.prod(probed_shape)  # an identity: the output is the input's size
    assert elements <= audit_limits.MAX_PROBE_ELEMENTS
    assert_stated(
        "benchmarks/results/robustness.json",
        "### Hostile input (`.venv/bin/python benchmarks/robustness.py`;",
        f"a 16-bit PNG declaring 12500 x 12500 pixels is refused in {big16['ms']:.1f} ms; the "
        f"largest accepted, a {6324 ** 2 / 1e6:.0f} MP RGB PNG, decodes in "
        f"{largest['ms'] / 1000:.2f} s at a {largest['peak_mib']:.0f} MiB peak",
        f"({min(settings):.1f}-{max(settings):.1f} ms after the imports)",
        f"(20,000 nodes in 1.8 MB: refused in ~{nodes['ms']:.0f} ms)",
        f"Measured (benchmarks/robustness.py, a fresh process each, {end_load(result)}): each "
        f"refusal above takes {min(r['ms'] for r in refusals):.1f}-"
        f"{max(r['ms'] for r in refusals):.0f} ms and at most "
        f"{max(r['peak_mib'] for r in refusals):.0f} MiB; a 70-byte model with a free "
        f"256-channel input is audited at {'x'.join(map(str, shape(free['outcome'])[2:]))} in "
        f"{free['ms'] / 1000:.1f} s, {free['peak_mib']:.0f} MiB; the largest input accepted "
        f"with probes ({'x'.join(map(str, probed_shape))}, {elements / 1e6:.2f} M elements in "
        f"and out): {probed['ms'] / 1000:.1f} s, {probed['peak_mib']:.0f} MiB.")

    giant = [rows[c]["median_ms"] for c in ("width 100000", "res_blocks 100000")]
    params_case = "width 512, res_blocks 64 (4.9e9 parameters)"
    asked = int(re.search(r"asks for ([\d,]+) parameters",
                          rows[params_case]["message"]).group(1).replace(",", ""))
    assert f"{asked / 1e9:.1f}e9" in params_case
    listing = next(r for c, r in rows.items() if c.startswith("list_checkpoints,"))
    files = int(re.search(r"(\d+) files", listing["case"]).group(1))
    tiff = rows["6324x6324 F (the issue's TIFF)"]
    assert tiff["outcome"].startswith("refused")
    modes = [rows[f"4000x4000 {m}"] for m in ("RGB", "RGBA", "F")]
    assert all(m["bytes_per_pixel"] <= m["bound_bytes_per_pixel"] for m in modes)
    decoding = rows["one decoding of the 4000x3000 PNG upload"]
    slider = rows["slider move after that upload (page rerun)"]
    table = "\n".join([
        "| what | measured | before |",
        "|---|---|---|",
        f"| refuse a width-100000 or res_blocks-100000 checkpoint | {min(giant):.2f}-"
        f"{max(giant):.2f} ms | the network was built first |",
        f"| refuse an in-range config of {asked / 1e9:.1f}e9 parameters | "
        f"{rows[params_case]['median_ms']:.2f} ms | |",
        f"| list {files} checkpoints, headers fully checked (warm) | "
        f"{listing['median_ms']:.0f} ms | |",
        f"| decode a 6324x6324 float32 TIFF ({tiff['file_kb']} KB) | refused in "
        f"{tiff['seconds'] * 1000:.0f} ms, {tiff['peak_mib']} MiB | decoded in full |",
        "| decoding peak, 4000x4000, bytes/pixel (RGB, RGBA, F) | "
        + ", ".join(f"{m['bytes_per_pixel']:.1f}" for m in modes) + " (bound "
        + ", ".join(f"{m['bound_bytes_per_pixel']:g}" for m in modes) + ") | |",
        f"| layer lab slider move after a 4000x3000 PNG upload | {slider['median_ms']} ms "
        f"(slowest {slider['max_ms']} ms) | the upload decoded on every rerun "
        f"({decoding['median_ms']} ms each) |",
    ])
    assert_stated("benchmarks/results/robustness.json",
                  "Earlier rounds (checkpoints and uploads), measured in the same run:", table)


def mib(n: int) -> str:
    return f"{n // 2**20} MiB"


def test_hostile_input_limits_are_the_enforced_constants():
    """The limits the section lists in prose (and the audit table's derived sizes, beside
    tests/hostile/test_hostile_audit.py's check of its constants) are the code's."""
    bounds = checkpoints.CONFIG_BOUNDS
    assert bounds["first_kernel"] == bounds["last_kernel"]
    training = ", ".join(f"`--{name.replace('_', '-')}` {lo:,} to {hi:,}"
                         for name, (lo, hi) in train.TRAIN_BOUNDS.items()
                         if name in ("epochs", "crops_per_epoch", "crop_size", "batch_size"))
    a = audit_limits
    assert_stated(
        "the constants of core/ and ui/",
        f"An upload is at most {mib(decode.DEFAULT_MAX_BYTES)}; an image declaring more than "
        f"{decode.DEFAULT_MAX_PIXELS:,} pixels, or whose decoding would take more than "
        f"{mib(decode.DEFAULT_MAX_DECODE_BYTES)}",
        f"Uploads are downscaled to {decode.DEFAULT_MAX_SIDE} pixels on the longer side and "
        f"refused under {decode.DEFAULT_MIN_SIZE} pixels",
        f"A checkpoint file is at most {mib(checkpoints.MAX_FILE_BYTES)} with a header of at "
        f"most {mib(checkpoints.MAX_HEADER_BYTES)}; `manifest.csv` and `history.csv` at most "
        f"{mib(tables.MAX_CSV_BYTES)}",
        f"listed up to {photos.MAX_FOLDER_ENTRIES:,} entries",
        f"(8-bit levels spanning at most {data.FLAT_LEVELS})",
        f"`width` {bounds['width'][0]} to {bounds['width'][1]}, `res_blocks` "
        f"{bounds['res_blocks'][0]} to {bounds['res_blocks'][1]}, `up_kernel` "
        f"{bounds['up_kernel'][0]} to {bounds['up_kernel'][1]}, first and last kernels "
        f"{bounds['first_kernel'][0]} to {bounds['first_kernel'][1]}, and at most "
        f"{checkpoints.MAX_PARAMETERS:,} parameters; epochs run 0 to {checkpoints.MAX_EPOCH:,}",
        f"{training}, and one full-resolution feature map of a batch at most "
        f"{train.MAX_FEATURE_MAP_BYTES // 2**30} GiB",
        f"(the layer lab shows {MAX_SHOWN} upsamplers)",
        f"typed matrix values are at most {MAX_TYPED_ABS:g} in magnitude",
        f"at most {text.MAX_SHOWN_CHARS} characters",
        f"| {mib(a.MAX_BYTES)} ({a.MAX_BYTES:,} bytes) |",
        f"| {MAX_ARCHIVE_FILES} files |",
        f"({a.MAX_TENSOR_ELEMENTS * 4 // 2**20} MiB of float32)",
        f"({a.MAX_GAIN_ELEMENTS * 8 // 2**20} MiB of float64)",
        f"| {a.MAX_PROBE_BYTES // 2**30} GiB ({a.MAX_PROBE_BYTES:,} bytes) |",
        f"| {a.DEFAULT_SIDE} px, less (a multiple of 32)")


def _ms(seconds: float) -> str:
    """A zoo timing as the README writes it: one decimal under 10 ms, whole above."""
    ms = seconds * 1e3
    return f"{ms:.1f}" if ms < 10 else f"{ms:.0f}"


def test_audit_zoo_timings_are_audit_zoo_json():
    """The audit section's zoo paragraph (outside "Measured figures"): the analysis time
    per route, how many networks each exporter takes, the dynamo export's time, the cold
    command line against its goal, and the load, all from audit_zoo.json; and the routes
    it names are the ones the zoo tests run."""
    from tests.core.audit_zoo import ZOO
    from tests.core.test_audit_zoo import DYNAMO

    r = results("audit_zoo")
    readme = flat((ROOT / "README.md").read_text(encoding="utf-8"))
    zoo = [row for row in r["rows"] if row["what"] == "zoo"]
    routes = {name: [row for row in zoo if row["route"] == name and row["median_s"] is not None]
              for name in ("torch", "torchscript", "dynamo")}
    assert len(routes["torch"]) == len(routes["dynamo"]) == len(ZOO) == len(DYNAMO) == 11
    span = {name: f"{_ms(min(x['median_s'] for x in rows))}-"
                  f"{_ms(max(x['median_s'] for x in rows))} ms"
            for name, rows in routes.items()}
    exports = [row["export_s"] for row in routes["dynamo"]]
    cold = next(row for row in r["rows"] if row["what"].startswith("cold CLI"))
    assert cold["meets_goal"] == (cold["median_s"] < cold["goal_s"])
    expected = [
        "the TorchScript export (nine of the eleven export) and the dynamo export (all eleven)",
        f"load average {r['machine']['load_average_1min']:.1f}",
        f"takes {span['torch']} per network on the live module, {span['torchscript']} on "
        f"the TorchScript export ({len(routes['torchscript'])} of 11 export) and "
        f"{span['dynamo']} on the dynamo export (all 11; the export itself "
        f"{min(exports):.1f}-{max(exports):.1f} s)",
        f"takes **{cold['median_s']:.2f} s** (goal < {cold['goal_s']:g} s)",
    ]
    assert len(routes["torchscript"]) == 9
    missing = [t for t in expected if flat(t) not in readme]
    assert not missing, "README.md's zoo paragraph should say:\n\n" + "\n\n".join(missing)
    assert cold["imports_torch"] is False and "never imports torch" in readme


def audit_passage() -> str:
    """The audit section's measured passage: from its timing table to the end of the
    section (what the network audit finds on the shipped checkpoints)."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    start = readme.index("Measured on the shared CPU (`.venv/bin/python benchmarks/audit.py`")
    return readme[start:readme.index("## Training on your own images")]


def assert_in_audit_passage(source: str, *texts: str) -> None:
    """Each text is in the audit passage (line breaks aside); else the message gives it."""
    body = flat(audit_passage())
    missing = [t for t in texts if flat(t) not in body]
    assert not missing, (
        f"README.md, '## Audit your own network' (from 'Measured on the shared CPU'): "
        f"recomputed from {source}, the passage should contain (replace the old figures "
        "with):\n\n" + "\n\n".join(missing))


def test_audit_timings_are_audit_json():
    """The audit's timing table: the 50 MB analysis, the probes and the whole audit on our
    models, with goals, repeats, cores and load of the one run audit.json holds; the
    variants that run did not measure; and no second, differing quote of the same run."""
    from core.audit.examples import EXAMPLES, example_names

    r = results("audit")
    (large,) = [row for row in r["rows"] if row["what"] == "analysis, no probes"]
    ours = [row for row in r["rows"] if row["what"] == f"probes at {audit_limits.DEFAULT_SIDE}x"
            f"{audit_limits.DEFAULT_SIDE}"]
    for row in (large, *ours):
        assert row["meets_goal"] == (row["median_s"] < row["goal_s"]), row
    assert {row["goal_s"] for row in ours} == {r["goals"]["probes_256_s"]}
    assert large["goal_s"] == r["goals"]["analysis_50MB_s"]
    measured = [re.fullmatch(r"(\w+) \(ours, epoch (\d+)\)", row["model"]).groups()
                for row in ours]
    (epoch,) = {int(e) for _, e in measured}
    names = {v for v, _ in measured}
    missing = variant_order(sorted(set(example_names(ROOT / "checkpoints")) - set(EXAMPLES)
                                   - names))
    probes = [row["median_s"] for row in ours]
    whole = [row["total_s"] for row in ours]
    side = audit_limits.DEFAULT_SIDE
    table = "\n".join([
        "| what | measured | goal |",
        "|---|---|---|",
        f"| analysis of a {large['onnx_MB']} MB ONNX model (DCGAN generator at width "
        f"{large['model'].rsplit(' ', 1)[1]}, no probes) | {large['median_s']:.2f} s | "
        f"< {large['goal_s']:g} s |",
        f"| probes at {side}x{side} on {WORDS[len(ours)]} of our models, epoch {epoch} "
        f"(3 probes + 4 shifted runs) | {min(probes):.2f}-{max(probes):.2f} s | "
        f"< {r['goals']['probes_256_s']:g} s |",
        f"| the whole audit of one of those models, probes included | {min(whole):.2f}-"
        f"{max(whole):.2f} s | |",
    ])
    assert large["model"].startswith("DCGAN generator, width")
    assert_in_audit_passage(
        "benchmarks/results/audit.json",
        f"Measured on the shared CPU (`.venv/bin/python benchmarks/audit.py`, median of "
        f"{r['repeats']}, {r['machine']['cpu_count']} cores, {end_load(r)}; "
        "`benchmarks/results/audit.json`):",
        table,
        f"The {WORDS[len(missing)]} remedies (" + ", ".join(f"`{v}`" for v in missing)
        + ") are not in this run.")
    # One run is quoted once: no other timing in the passage (a second quote of the same
    # run, or a figure no run holds).
    seconds = re.findall(r"\d+(?:\.\d+)?(?:-\d+(?:\.\d+)?)? s\b", flat(audit_passage()))
    assert sorted(seconds) == sorted(re.findall(r"\d+(?:\.\d+)?(?:-\d+(?:\.\d+)?)? s\b",
                                                flat(table))), seconds


def test_audit_probes_count_as_the_table_says(shipped_audits):
    """"3 probes + 4 shifted runs": the probes (constant, smooth noise, photograph) and
    the shift test's runs (each shift below the period, and the full period) of an
    audit at 256x256 of one of our networks."""
    probes = shipped_audits["deconv3"][0].probes
    runs = len(probes.shift_psnr) + (probes.shift_reference is not None)
    assert_in_audit_passage("a live audit at 256x256 of our deconv3",
                            f"({len(probes.results)} probes + {runs} shifted runs)")


#: The shipped networks the audit passage quotes, and the example it measures a fix on.
AUDITED = ("deconv3", "resize_nearest", "deconv4", "subpixel", "subpixel_icnr")


@pytest.fixture(scope="module")
def shipped_audits() -> dict:
    """The live audits the passage quotes: our last stored checkpoints at 256x256 (probes
    for the two whose scores and shift test it gives, analysis only for the others) and
    the randomly initialised ESPCN with its fix measured. A few seconds."""
    from core.audit.examples import example_model
    from core.audit.live import audit_module

    out = {}
    for name in AUDITED:
        model, shape, title = example_model(name, checkpoints=ROOT / "checkpoints")
        out[name] = (audit_module(model, shape, probes=name in AUDITED[:2], measure=False),
                     shape, title)
    model, shape, _ = example_model("espcn")
    out["espcn"] = (audit_module(model, shape), shape, "espcn")
    return out


def test_audit_findings_are_a_live_audit_of_the_shipped_checkpoints(shipped_audits):
    """"What it finds on the shipped checkpoints": the scores (on the astronaut at
    256x256, also what audit.json recorded), each upsampling layer's overlap and phase
    imbalance (the same as the histories' imbalance_up1/up2 of that epoch), the flags,
    the shift test at a 1-pixel shift, ICNR's measured fix on ESPCN; and the trends the
    prose draws from them, against the histories."""
    from core.audit.limits import IMBALANCE_TOLERANCE
    from core.io.photos import read_rgb, resize_center_crop, skimage_data_dir

    hist = read_histories(ROOT / "checkpoints")
    audits = {name: a for name, a in shipped_audits.items() if name != "espcn"}
    stored = {row["model"]: row["checkerboard_e3"] for row in results("audit")["rows"]
              if "checkerboard_e3" in row}
    epochs = set()
    ups = {}
    for name, (report, shape, title) in audits.items():
        epochs.add(int(re.fullmatch(r".* \(ours, epoch (\d+)\)", title).group(1)))
        assert shape == (1, 3, audit_limits.DEFAULT_SIDE, audit_limits.DEFAULT_SIDE)
        ups[name] = [la for la in report.layers if la.direction == "up"]
        assert len(ups[name]) == 2, name
        h = hist[(hist["variant"] == name) & (hist["epoch"] == max(epochs))].iloc[0]
        assert [la.phase_imbalance for la in ups[name]] == pytest.approx(
            [h["imbalance_up1"], h["imbalance_up2"]], abs=1e-4), name
    (epoch,) = epochs
    side = audit_limits.DEFAULT_SIDE
    score, shift = {}, {}
    for name in AUDITED[:2]:
        report, _, title = audits[name]
        assert report.probes.scored_on == "photograph"
        astronaut = resize_center_crop(read_rgb(skimage_data_dir() / "astronaut.png"), side)
        assert np.allclose(report.probes.results["photograph"].input, astronaut / 255.0)
        score[name] = f"{report.probes.checkerboard_score * 1e3:.2f}"
        assert f"{stored[title]:.2f}" == score[name], (title, stored[title])
        shift[name] = report.probes.shift_psnr[1]

    def imbalances(name: str) -> str:
        return " / ".join(f"{la.phase_imbalance:.2f}" for la in ups[name])

    d3, rn = ups["deconv3"], ups["resize_nearest"]
    assert [la.op for la in d3] == ["ConvTranspose"] * 2 and all(la.offending for la in d3)
    assert all(la.uneven for la in d3)
    (overlap,) = {(la.interior_max, la.interior_min) for la in d3}
    assert [la.op for la in rn] == ["Resize"] * 2
    assert all(not la.uneven and la.phase_imbalance == 0 and not la.offending for la in rn)
    for name in ("deconv4", "subpixel", "subpixel_icnr"):
        assert all(not la.uneven and la.offending and la.phase_imbalance > IMBALANCE_TOLERANCE
                   for la in ups[name]), name
    # "training undid ICNR's balance": balanced at initialisation (epoch 0).
    icnr0 = hist[(hist["variant"] == "subpixel_icnr") & (hist["epoch"] == 0)].iloc[0]
    assert icnr0["imbalance_up1"] == icnr0["imbalance_up2"] == 0
    # "by epoch 40 the network has hidden most of its grid": deconv3's held-out score at
    # that epoch is under half its highest over training.
    d3_hist = hist[(hist["variant"] == "deconv3") & (hist["epoch"] >= 1)].set_index("epoch")
    assert d3_hist.loc[epoch, "checkerboard"] < 0.5 * d3_hist["checkerboard"].max()
    # "resize_nearest, which at this length reconstructs less accurately" (held-out PSNR).
    at = hist[hist["epoch"] == epoch].set_index("variant")
    assert at.loc["resize_nearest", "val_psnr"] < at.loc["deconv3", "val_psnr"]
    assert shift["resize_nearest"] < shift["deconv3"]
    espcn, _, _ = shipped_audits["espcn"]
    (layer,) = espcn.layers
    fix = layer.fix_measured
    assert "ICNR" in fix["fix"]
    assert_in_audit_passage(
        "a live audit of checkpoints/ (core.audit.live.audit_module), the histories and "
        "benchmarks/results/audit.json",
        f"What it finds on the shipped checkpoints (epoch {epoch}, checkerboard on the "
        f"astronaut photograph at {side}x{side}): `deconv3` {score['deconv3']}, "
        f"`resize_nearest` {score['resize_nearest']} ×10⁻³",
        f"(uneven overlap {overlap[0]}/{overlap[1]}, phase imbalance "
        f"{d3[0].phase_imbalance:.2f} and {d3[1].phase_imbalance:.2f})",
        "The two resizes of `resize_nearest` are even with imbalance 0",
        f"({imbalances('deconv4')} and {imbalances('subpixel')}), `subpixel_icnr` too "
        f"({imbalances('subpixel_icnr')}: training undid ICNR's balance)",
        f"The shift test at a 1-pixel shift: {shift['deconv3']:.1f} dB for `deconv3` against "
        f"{shift['resize_nearest']:.1f} dB for `resize_nearest`",
        f"at epoch {epoch} the test measures",
        f"ICNR takes a randomly initialised ESPCN's score from "
        f"{fix['original_at_init'] * 1e3:.0f} to {fix['fixed_at_init'] * 1e3:.2f} ×10⁻³.")


def test_audit_cold_figures_are_audit_cold_json():
    """The audit section's speed paragraph: each cold command line's median, the bare
    python and ``import onnx`` beside it, the ratios and the load, from audit_cold.json."""
    r = results("audit_cold")
    readme = flat((ROOT / "README.md").read_text(encoding="utf-8"))
    rows = {row["model"]: row for row in r["rows"]}
    bare, onnx = rows["python -c pass"], rows["python -c 'import onnx'"]
    cli = [row for row in r["rows"] if row["what"] == "cold CLI, no probes"]
    assert cli and all(row["meets_goal"] == (row["median_s"] < row["goal_s"]) for row in cli)
    ratios = " and ".join(f"{row['x_import_onnx']:.2f}" for row in cli)
    expected = [f"load average {r['machine']['load_average_1min']:.1f} on 2 cores",
                f"beside a bare `python -c pass` at {bare['median_s']:.3f} s and "
                f"`python -c \"import onnx\"` at {onnx['median_s']:.2f} s in the same rounds "
                f"({ratios} times that "
                "import); goal < 2 s"]
    expected += [f"{row['model']} ({row['onnx_nodes']} nodes, {row['onnx_kB']} kB) "
                 f"**{row['median_s']:.2f} s**" for row in cli]
    missing = [t for t in expected if flat(t) not in readme]
    assert not missing, "README.md's cold paragraph should say:\n\n" + "\n\n".join(missing)
    assert not any(row["imports_torch"] for row in cli)
