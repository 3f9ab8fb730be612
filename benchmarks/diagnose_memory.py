"""Bounded memory: the peak memory of ``python -m core.diagnose FOLDER --json OUT`` on a
folder of N small pictures, for a small and a ten-times larger N (a fresh process each;
the peak resident size of the command, from the kernel's accounting of the child).

    .venv/bin/python benchmarks/diagnose_memory.py     # table + benchmarks/results/diagnose_memory.json
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks._common import write_results  # noqa: E402


def write_pictures(folder: Path, n: int, side: int, seed: int = 0) -> None:
    """``n`` noisy PNGs of ``side`` pixels, every third with a period-4 grid."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[:side, :side]
    grid = np.where((y % 4 < 2) ^ (x % 4 < 2), 3.0, -3.0)
    for i in range(n):
        img = 128 + 20 * rng.standard_normal((side, side))
        if i % 3 == 0:
            img = img + grid
        Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(folder / f"p{i:05d}.png")


def peak_of_command(folder: Path) -> tuple[float, float]:
    """(peak resident MiB, wall seconds) of one run of the command on ``folder``, in a
    fresh interpreter that reports its own children's peak (so earlier runs don't count)."""
    code = ("import resource, subprocess, sys, time; t = time.perf_counter(); "
            "subprocess.run([sys.executable, '-m', 'core.diagnose', sys.argv[1], '--json', "
            "sys.argv[2]], stdout=subprocess.DEVNULL, check=False); "
            "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, "
            "time.perf_counter() - t)")
    out = subprocess.run([sys.executable, "-c", code, str(folder), str(folder.parent / "o.json")],
                         cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                         capture_output=True, text=True, check=True).stdout.split()
    return int(out[0]) / 1024.0, float(out[1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", default="200,2000")
    parser.add_argument("--side", type=int, default=48)
    args = parser.parse_args(argv)
    rows = []
    for n in (int(v) for v in args.counts.split(",")):
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp) / "pics"
            folder.mkdir()
            write_pictures(folder, n, args.side)
            peak, wall = peak_of_command(folder)
        rows.append({"pictures": n, "side": args.side, "peak_MiB": round(peak, 1),
                     "wall_s": round(wall, 1), "load_average": os.getloadavg()[0]})
        print(f"{n:6d} pictures of {args.side} px: peak {peak:7.1f} MiB, {wall:6.1f} s")
    write_results("diagnose_memory", rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
