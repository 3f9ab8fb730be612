"""Images per second of every shipped variant: training steps and inference, on this CPU.

    .venv/bin/python benchmarks/training.py               # prints a table, writes JSON
    .venv/bin/python benchmarks/training.py --repeats 5   # quicker, noisier

Training: one optimisation step (forward, MSE loss, backward, Adam step) on a batch of
``--batch`` random ``--crop`` px crops, the setting of the shipped experiment (16 x 64 px),
with all torch threads and with one thread (as each ``python -m core.train --jobs 2``
process uses).
Inference: ``torch.inference_mode()`` forward of one 256x256 image (the gallery's
held-out size) and of one 512x512 image (the comparison page's upload budget).
Variants are timed round-robin (one call of each per round) so a load spike on the
shared CPU hits all of them alike; figures are medians. Writes
``benchmarks/results/training.json``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks._common import print_table, write_results  # noqa: E402
from core.experiment.models import VARIANTS, build_model  # noqa: E402
from core.upsamplers.registry import count_parameters  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--repeats", type=int, default=15)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--crop", type=int, default=64)
    a = p.parse_args(argv)

    torch.manual_seed(0)
    x_train = torch.rand(a.batch, 3, a.crop, a.crop)
    x_256 = torch.rand(1, 3, 256, 256)
    x_512 = torch.rand(1, 3, 512, 512)
    models, opts = {}, {}
    for name in VARIANTS:
        models[name] = build_model(name)
        opts[name] = torch.optim.Adam(models[name].parameters(), lr=1e-4)

    def train_step(name: str) -> None:
        m, opt = models[name].train(), opts[name]
        loss = F.mse_loss(m(x_train), x_train)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    def infer(name: str, x: torch.Tensor) -> None:
        m = models[name].eval()
        with torch.inference_mode():
            m(x)

    cases = {
        "train": lambda n: train_step(n),
        "infer256": lambda n: infer(n, x_256),
        "infer512": lambda n: infer(n, x_512),
    }
    threads = torch.get_num_threads()
    times: dict[tuple[str, str], list[float]] = {(c, n): [] for c in [*cases, "train1"]
                                                 for n in VARIANTS}
    for rnd in range(a.warmup + a.repeats):
        for case, fn in cases.items():
            for name in VARIANTS:
                t0 = time.perf_counter()
                fn(name)
                if rnd >= a.warmup:
                    times[(case, name)].append(time.perf_counter() - t0)
        # the same training step on one thread (what each `--jobs 2` process uses)
        torch.set_num_threads(1)
        for name in VARIANTS:
            t0 = time.perf_counter()
            train_step(name)
            if rnd >= a.warmup:
                times[("train1", name)].append(time.perf_counter() - t0)
        torch.set_num_threads(threads)

    rows = []
    for name in VARIANTS:
        t_train = statistics.median(times[("train", name)])
        t_train1 = statistics.median(times[("train1", name)])
        t256 = statistics.median(times[("infer256", name)])
        t512 = statistics.median(times[("infer512", name)])
        rows.append({
            "variant": name,
            "params": count_parameters(models[name]),
            "train_img_per_s": round(a.batch / t_train, 1),
            "train_step_ms": round(t_train * 1000, 1),
            "train_img_per_s_1thread": round(a.batch / t_train1, 1),
            "infer256_ms": round(t256 * 1000, 1),
            "infer256_img_per_s": round(1 / t256, 1),
            "infer512_ms": round(t512 * 1000, 1),
        })
    print(f"training: batch {a.batch} x {a.crop}px crops, Adam step; inference: 1 image; "
          f"medians of {a.repeats}; torch threads {threads} (and 1 for the _1thread column)")
    print_table(rows, ["variant", "params", "train_img_per_s", "train_step_ms",
                       "train_img_per_s_1thread",
                       "infer256_ms", "infer256_img_per_s", "infer512_ms"])
    path = write_results("training", rows, settings={"batch": a.batch, "crop": a.crop,
                                                     "repeats": a.repeats,
                                                     "warmup": a.warmup,
                                                     "threads": threads})
    print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
