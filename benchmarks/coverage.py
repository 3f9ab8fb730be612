"""Benchmark: coverage_map speed and the coverage page's rerun time.

    .venv/bin/python benchmarks/coverage.py

Goals (issue 2): coverage_map for 2-D inputs up to 256x256 with 3 stacked layers under
20 ms; the coverage page's rerun after a control change, measured with AppTest, median
under 150 ms. Prints a table and writes benchmarks/results/coverage.json.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks._common import median_ms, print_table, write_results  # noqa: E402
from core.maths.overlap import coverage_map  # noqa: E402

GOAL_MAP_MS = 20.0
GOAL_RERUN_MS = 150.0


def bench_maps() -> list[dict]:
    rows = []
    for size in (32, 64, 128, 256):
        for k, s, layers in ((3, 2, 1), (3, 2, 3), (4, 2, 3), (5, 3, 1)):
            counts = coverage_map(k, s, (size, size), layers=layers)
            ms = median_ms(lambda: coverage_map(k, s, (size, size), layers=layers),  # noqa: B023
                           repeats=15)
            rows.append({
                "input": f"{size}x{size}", "kernel": k, "stride": s, "layers": layers,
                "output": "x".join(map(str, counts.shape)), "median_ms": round(ms, 2),
                "goal_ms": GOAL_MAP_MS, "meets_goal": ms < GOAL_MAP_MS,
            })
    return rows


def bench_page(repeats: int = 20) -> dict:
    """Median time of one AppTest rerun of the coverage page after a slider change."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=60)
    at.run()
    at.switch_page("pages/coverage.py")
    at.run()
    times = []
    for i in range(repeats + 2):
        value = 3 + (i % 4)  # kernel 3..6: a real change every time
        start = time.perf_counter()
        at.slider(key="kernel").set_value(value).run()
        elapsed = (time.perf_counter() - start) * 1000.0
        assert not at.exception, at.exception
        if i >= 2:  # the first two warm caches and imports
            times.append(elapsed)
    median = statistics.median(times)
    return {"what": "coverage page rerun after a kernel-size change (AppTest)",
            "median_ms": round(median, 1), "max_ms": round(max(times), 1),
            "repeats": repeats, "goal_ms": GOAL_RERUN_MS, "meets_goal": median < GOAL_RERUN_MS}


def main() -> None:
    maps = bench_maps()
    print("coverage_map (2-D), median of 15 after warm-up")
    print_table(maps, ["input", "kernel", "stride", "layers", "output", "median_ms", "meets_goal"])
    page = bench_page()
    print()
    print(f"{page['what']}: median {page['median_ms']} ms (max {page['max_ms']} ms), "
          f"goal < {GOAL_RERUN_MS} ms -> {'met' if page['meets_goal'] else 'MISSED'}")
    path = write_results("coverage", maps, page_rerun=page)
    print(f"\nwrote {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
