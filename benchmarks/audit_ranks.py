"""Benchmark: a cold command-line audit of the HiFi-GAN V1 generator's ONNX export (issue 31).

Goal: ``python -m core.audit hifigan.onnx`` from a cold start (a new process, imports
included) under 2 s, timed side by side with a bare ``python -c pass`` (the interpreter's
own start) and with the probes on and off; each process's CPU time (user + system) is kept
too, the figure a busy machine changes least. The runs are interleaved and rotated each round
(a figure measured right after another process differs on this shared machine:
../shared/FACTS.md), the first round is discarded (disk cache), and the median and best of
the rest are reported, with the machine's load average before and after.

    .venv/bin/python benchmarks/audit_ranks.py [--repeats 7]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks._common import print_table, write_results  # noqa: E402

GOAL_S = 2.0


def _export(folder: Path) -> dict[str, Path]:
    import torch

    from tests.core.audit_zoo import quiet_export
    from tests.core.audit_zoo.audio import AUDIO_ZOO

    net = AUDIO_ZOO["hifigan_v1"]
    torch.manual_seed(0)
    model = net.build().eval()
    out = {}
    for route, dynamo in (("torchscript", False), ("dynamo", True)):
        path = folder / route / "hifigan_v1.onnx"
        path.parent.mkdir()
        quiet_export(model, net.input_shape, str(path), dynamo=dynamo)
        out[route] = path
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        models = _export(Path(tmp))
        commands = {"python -c pass": [sys.executable, "-c", "pass"]}
        for route, path in models.items():
            for probes in (False, True):
                label = f"audit {route}" + ("" if probes else " --no-probes")
                commands[label] = [sys.executable, "-m", "core.audit", str(path), "--json",
                                   str(Path(tmp) / "out.json")] + ([] if probes else
                                                                   ["--no-probes"])
        names = list(commands)
        times: dict[str, list[float]] = {n: [] for n in names}
        cpu: dict[str, list[float]] = {n: [] for n in names}
        for round_ in range(args.repeats + 1):
            order = names[round_ % len(names):] + names[:round_ % len(names)]  # rotate
            for name in order:
                before = resource.getrusage(resource.RUSAGE_CHILDREN)
                start = time.perf_counter()
                done = subprocess.run(commands[name], cwd=ROOT, capture_output=True, text=True)
                seconds = time.perf_counter() - start
                after = resource.getrusage(resource.RUSAGE_CHILDREN)
                used = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
                if done.returncode != 0:
                    raise SystemExit(f"{name} failed: {done.stderr[-500:]}")
                if round_:  # the first round warms the disk cache
                    times[name].append(seconds)
                    cpu[name].append(used)
    rows = []
    bare = statistics.median(times["python -c pass"])
    for name in names:
        median = statistics.median(times[name])
        rows.append({"command": name, "median_s": round(median, 3),
                     "best_s": round(min(times[name]), 3),
                     "minus_bare_python_s": round(median - bare, 3),
                     "cpu_s": round(statistics.median(cpu[name]), 3),
                     "goal_s": None if name.startswith("python") else GOAL_S,
                     "meets_goal": None if name.startswith("python") else median < GOAL_S})
    print_table(rows, ["command", "median_s", "best_s", "minus_bare_python_s", "cpu_s",
                       "goal_s", "meets_goal"])
    load_after = os.getloadavg()[0]
    print(f"\nload average (1 min): {load_before:.2f} before, {load_after:.2f} after; "
          f"{args.repeats} rounds, rotated, first discarded")
    path = write_results("audit_ranks", rows, goal_s=GOAL_S, repeats=args.repeats,
                         load_average_before=load_before, load_average_after=load_after,
                         model="HiFi-GAN V1 generator (tests/core/audit_zoo/audio.py, "
                               "upsample_initial_channel 32), input 1,80,8")
    print(f"wrote {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
