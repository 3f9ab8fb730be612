"""Shared bits of the benchmark scripts: timing, machine description, JSON output."""

from __future__ import annotations

import json
import os
import platform
from collections.abc import Callable
from pathlib import Path

from core.upsamplers.timing import median_time

RESULTS = Path(__file__).resolve().parent / "results"


def median_ms(fn: Callable[[], object], *, repeats: int = 15, warmup: int = 3) -> float:
    """Median wall time of ``fn()`` in milliseconds (``core.upsamplers.timing.median_time``)."""
    return median_time(fn, repeats=repeats, warmup=warmup) * 1000.0


def machine() -> dict[str, object]:
    """What the figures were measured on (and how busy it was)."""
    import torch

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "load_average_1min": os.getloadavg()[0],
        "platform": platform.platform(),
    }


def write_results(name: str, rows: list[dict], **extra: object) -> Path:
    """Write ``benchmarks/results/<name>.json`` with the rows and the machine facts."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    payload = {"benchmark": name, "machine": machine(), "rows": rows, **extra}
    path.write_text(json.dumps(payload, indent=2) + "\n")
    return path


def print_table(rows: list[dict], columns: list[str]) -> None:
    """A plain aligned table on stdout."""
    widths = {c: max(len(c), *(len(str(r.get(c, ""))) for r in rows)) for c in columns}
    print("  ".join(c.ljust(widths[c]) for c in columns))
    print("  ".join("-" * widths[c] for c in columns))
    for row in rows:
        print("  ".join(str(row.get(c, "")).ljust(widths[c]) for c in columns))
