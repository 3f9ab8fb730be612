"""Benchmark: how long the network audit takes.

    .venv/bin/python benchmarks/audit.py [--repeats 3]

Goals (issue 12): auditing a 50 MB ONNX model (analysis, without probes) under 5 s;
the probes at 256x256 on our models under 5 s. The 50 MB model is the DCGAN generator
at width 128 (12.6 M parameters), exported here with the lab's exporter; our models are
the last stored checkpoint of every variant, exported to ONNX. Each figure is the
median of ``--repeats`` runs after one warm-up (the first parse, session and imports).
Prints a table and writes benchmarks/results/audit.json.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from benchmarks._common import print_table, write_results  # noqa: E402
from core.audit.examples import (  # noqa: E402
    EXAMPLES,
    dcgan_generator,
    example_model,
    example_names,
    export_onnx,
)
from core.audit.onnx_graph import audit_onnx  # noqa: E402

GOAL_ANALYSIS_S = 5.0
GOAL_PROBES_S = 5.0
SIDE = 256


def _median_seconds(fn, repeats: int) -> tuple[float, object]:
    result = fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def bench_large(repeats: int) -> dict:
    torch.manual_seed(0)
    data = export_onnx(dcgan_generator(ngf=128), (1, 100, 1, 1))
    seconds, report = _median_seconds(lambda: audit_onnx(data, probes=False), repeats)
    return {"what": "analysis, no probes", "model": "DCGAN generator, width 128",
            "onnx_MB": round(len(data) / 1e6, 1), "input": "1x100x1x1",
            "layers": len(report.layers), "median_s": round(seconds, 3),
            "goal_s": GOAL_ANALYSIS_S, "meets_goal": seconds < GOAL_ANALYSIS_S}


def bench_probes(repeats: int) -> list[dict]:
    rows = []
    ours = [n for n in example_names(ROOT / "checkpoints") if n not in EXAMPLES]
    for name in [*ours, *EXAMPLES]:
        module, shape, title = example_model(name, checkpoints=ROOT / "checkpoints")
        data = export_onnx(module, shape, dynamic_size=name not in EXAMPLES)

        def run(data=data, shape=shape):
            return audit_onnx(data, shape)

        report = run()  # warm-up
        probe_times, total_times = [], []
        for _ in range(repeats):
            start = time.perf_counter()
            report = run()
            total_times.append(time.perf_counter() - start)
            probe_times.append(report.seconds["probes"])
        probes = statistics.median(probe_times)
        ours_row = name not in EXAMPLES
        rows.append({
            "what": "probes" + (f" at {SIDE}x{SIDE}" if ours_row else ""), "model": title,
            "onnx_MB": round(len(data) / 1e6, 1), "input": "x".join(map(str, shape)),
            "layers": len(report.layers), "offending": len(report.offending),
            "checkerboard_e3": round(report.probes.checkerboard_score * 1e3, 2),
            "median_s": round(probes, 3), "total_s": round(statistics.median(total_times), 3),
            "goal_s": GOAL_PROBES_S if ours_row else None,
            "meets_goal": probes < GOAL_PROBES_S if ours_row else None,
        })
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    rows = [bench_large(args.repeats), *bench_probes(args.repeats)]
    print_table(rows, ["what", "model", "onnx_MB", "input", "layers", "median_s", "total_s",
                       "goal_s", "meets_goal"])
    path = write_results("audit", rows, goals={"analysis_50MB_s": GOAL_ANALYSIS_S,
                                               "probes_256_s": GOAL_PROBES_S},
                         repeats=args.repeats)
    print(f"\nwrote {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
