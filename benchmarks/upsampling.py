"""Cost of the upsamplers: median time (forward; forward + backward) and peak memory.

    .venv/bin/python benchmarks/upsampling.py            # prints a table, writes JSON
    .venv/bin/python benchmarks/upsampling.py --large    # adds N=1 128->64 at 256x256

Every layer is built through the registry (``core.layers.make_upsampler``) with a 3x3
kernel at scale 2 unless named otherwise (``deconv k4``). Timing runs the variants
round-robin (one call of each per round, ``--repeats`` rounds after ``--warmup`` rounds)
so that a load spike on the shared CPU hits every variant alike, and reports medians.
Inference is ``torch.inference_mode()``; training is forward, ``(y * g).sum()`` and
backward to the input and the weights. Peak memory is measured once per case from the
allocator events of ``torch.profiler`` (``core.timing.peak_memory_bytes``): the bytes
the call allocates on top of its inputs and weights, output included.

Goals (issue 4): on every shape ``fused_resize`` at least 2x faster than
``resize_nearest`` and at most 1.2x the 3x3 stride-2 ``deconv`` in inference.
Writes ``benchmarks/results/upsampling.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks._common import write_results  # noqa: E402
from core.layers import count_macs, count_parameters, make_upsampler  # noqa: E402
from core.timing import peak_memory_bytes, round_robin_medians  # noqa: E402

# (label, registry name, kernel size, options)
VARIANTS = [
    ("resize_nearest", "resize_nearest", 3, {}),
    ("fused_resize", "fused_resize", 3, {}),
    ("fused_resize[folded]", "fused_resize", 3, {"method": "folded"}),
    ("fused_resize[zoh]", "fused_resize", 3, {"method": "zoh"}),
    ("deconv k3", "deconv", 3, {}),
    ("deconv k4", "deconv", 4, {}),
    ("subpixel", "subpixel", 3, {}),
]
SHAPES = [  # (N, C_in, C_out, H=W)
    (1, 64, 32, 128),
    (8, 64, 32, 64),
    (1, 32, 3, 256),
]
LARGE = (1, 128, 64, 256)


def _cases(shape: tuple[int, int, int, int]):
    n, c_in, c_out, size = shape
    torch.manual_seed(0)
    x = torch.randn(n, c_in, size, size)
    g = torch.randn(n, c_out, 2 * size, 2 * size)
    cases = []
    for label, name, k, options in VARIANTS:
        layer = make_upsampler(name, c_in, c_out, scale=2, kernel_size=k, **options)
        xg = x.clone().requires_grad_(True)

        def forward(layer=layer):
            with torch.inference_mode():
                layer(x)

        def train_step(layer=layer, xg=xg):
            layer.zero_grad(set_to_none=True)
            xg.grad = None
            (layer(xg) * g).sum().backward()

        cases.append({"label": label, "name": name, "kernel_size": k, "options": options,
                      "layer": layer, "forward": forward, "train_step": train_step})
    return cases


def run(shapes, repeats: int, warmup: int) -> list[dict]:
    rows = []
    for shape in shapes:
        n, c_in, c_out, size = shape
        cases = _cases(shape)
        fwd = round_robin_medians([c["forward"] for c in cases], repeats, warmup)
        trn = round_robin_medians([c["train_step"] for c in cases], max(3, repeats // 2), warmup)
        for c, t_fwd, t_trn in zip(cases, fwd, trn, strict=True):
            rows.append({
                "shape": {"N": n, "C_in": c_in, "C_out": c_out, "H": size, "W": size},
                "upsampler": c["label"], "name": c["name"], "kernel_size": c["kernel_size"],
                "options": c["options"],
                "parameters": count_parameters(c["layer"]),
                "multiply_adds": n * count_macs(c["layer"], size, size),
                "forward_ms": 1e3 * t_fwd,
                "forward_backward_ms": 1e3 * t_trn,
                "peak_forward_mib": peak_memory_bytes(c["forward"]) / 2 ** 20,
                "peak_forward_backward_mib": peak_memory_bytes(c["train_step"]) / 2 ** 20,
                "output_mib": n * c_out * (2 * size) ** 2 * 4 / 2 ** 20,
            })
        print(f"  done {shape}", file=sys.stderr, flush=True)
    return rows


def goals(rows: list[dict]) -> list[dict]:
    out = []
    for key in dict.fromkeys(json.dumps(r["shape"], sort_keys=True) for r in rows):
        by = {r["upsampler"]: r for r in rows if json.dumps(r["shape"], sort_keys=True) == key}
        fused, resize, deconv = by["fused_resize"], by["resize_nearest"], by["deconv k3"]
        speedup = resize["forward_ms"] / fused["forward_ms"]
        vs_deconv = fused["forward_ms"] / deconv["forward_ms"]
        out.append({"shape": json.loads(key),
                    "speedup_vs_resize_nearest": speedup, "speedup_goal_met": speedup >= 2.0,
                    "time_vs_deconv_k3": vs_deconv, "deconv_goal_met": vs_deconv <= 1.2,
                    "train_speedup_vs_resize_nearest":
                        resize["forward_backward_ms"] / fused["forward_backward_ms"]})
    return out


def _shape_text(s: dict) -> str:
    return f"N={s['N']} {s['C_in']}->{s['C_out']} {s['H']}px"


def print_table(rows: list[dict], goal_rows: list[dict], load: tuple) -> None:
    head = (f"{'shape':<20} {'upsampler':<22} {'fwd ms':>8} {'fwd+bwd ms':>11} "
            f"{'peak fwd MiB':>13} {'peak f+b MiB':>13} {'GMAC':>7} {'params':>8}")
    print(head)
    print("-" * len(head))
    for r in rows:
        print(f"{_shape_text(r['shape']):<20} {r['upsampler']:<22} {r['forward_ms']:>8.1f} "
              f"{r['forward_backward_ms']:>11.1f} {r['peak_forward_mib']:>13.1f} "
              f"{r['peak_forward_backward_mib']:>13.1f} {r['multiply_adds'] / 1e9:>7.2f} "
              f"{r['parameters']:>8}")
    print()
    for g in goal_rows:
        print(f"{_shape_text(g['shape']):<20} fused vs resize_nearest: "
              f"{g['speedup_vs_resize_nearest']:.2f}x faster "
              f"({'met' if g['speedup_goal_met'] else 'MISSED'}: >= 2x); "
              f"fused / deconv k3 = {g['time_vs_deconv_k3']:.2f} "
              f"({'met' if g['deconv_goal_met'] else 'MISSED'}: <= 1.2); "
              f"training {g['train_speedup_vs_resize_nearest']:.2f}x faster")
    print(f"\nload average (1, 5, 15 min) before: {load[0]}, after: {load[1]}; "
          f"{os.cpu_count()} CPUs, torch {torch.__version__}, {torch.get_num_threads()} threads")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=15, help="timed rounds (default 15)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed rounds (default 3)")
    parser.add_argument("--large", action="store_true", help="add N=1 128->64 at 256px")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads (default: torch's own choice)")
    parser.add_argument("--no-write", action="store_true", help="print only, write no JSON")
    args = parser.parse_args(argv)
    if args.repeats < 1 or args.warmup < 0:
        parser.error("--repeats must be >= 1 and --warmup >= 0")

    if args.threads:
        torch.set_num_threads(args.threads)
    shapes = SHAPES + ([LARGE] if args.large else [])
    load_before = tuple(round(v, 2) for v in os.getloadavg())
    rows = run(shapes, args.repeats, args.warmup)
    load_after = tuple(round(v, 2) for v in os.getloadavg())
    goal_rows = goals(rows)
    print_table(rows, goal_rows, (load_before, load_after))

    if args.no_write:
        return 0
    path = write_results(
        "upsampling", rows, goals=goal_rows,
        settings={"repeats": args.repeats, "warmup": args.warmup, "scale": 2,
                  "threads": torch.get_num_threads()},
        load_average={"before": load_before, "after": load_after},
        date=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    )
    print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
