"""Cost of the upsamplers: median time (forward; forward + backward) and peak memory.

    .venv/bin/python benchmarks/upsampling.py                 # CPU: prints a table, writes JSON
    .venv/bin/python benchmarks/upsampling.py --large         # adds N=1 128->64 at 256x256
    .venv/bin/python benchmarks/upsampling.py --clock cpu     # CPU time, 1 thread (shared CPU)
    python benchmarks/upsampling.py --device cuda             # GPU: CUDA events, fp32 + bf16

Every layer is built through the registry (``core.upsamplers.registry.make_upsampler``) with a 3x3
kernel at scale 2 unless named otherwise (``deconv k4``). Timing runs the variants
round-robin (one call of each per round, ``--repeats`` rounds after ``--warmup`` rounds)
so that a load spike hits every variant alike, and reports medians. Inference is
``torch.inference_mode()``; training is forward, ``(y * g).sum()`` and backward to the
input and the weights.

* CPU (default): wall clock; float32; peak memory from the allocator events of
  ``torch.profiler`` (``core.upsamplers.timing.peak_memory_bytes``): the bytes the call allocates on
  top of its inputs and weights, output included. Writes
  ``benchmarks/results/upsampling.json``.
* ``--device cuda``: GPU time between CUDA events (``core.upsamplers.timing.cuda_round_robin_medians``),
  the five shapes of issue 14, float32 and bfloat16 (weights float32, activations bfloat16,
  ``torch.autocast`` entered per call as a network's forward would), channels_last unless
  ``--no-channels-last``; peak memory from ``torch.cuda.max_memory_allocated``; first an
  exactness check in float64 on the GPU (worst |difference| of ``fused_resize`` against
  ``resize_nearest``: forward, input and weight gradients). Writes
  ``benchmarks/results/upsampling_cuda.json`` (``--out`` elsewhere).

Goals (issue 14), for ``fused_resize`` (its default ``method="auto"``):

* CPU: at least 2x faster than ``resize_nearest`` and at most 1.15x ``deconv`` k4, in
  inference;
* GPU, float32 and bfloat16: inference at most 1.05x ``deconv`` k4, training (forward +
  backward) at most 1.3x ``deconv`` k4, and at least 2x faster than ``resize_nearest`` in
  both.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks._common import write_results  # noqa: E402
from core.upsamplers.registry import count_macs, count_parameters, make_upsampler  # noqa: E402
from core.upsamplers.timing import (  # noqa: E402
    cuda_round_robin_medians,
    peak_memory_bytes,
    round_robin_times,
)

# (label, registry name, kernel size, options)
VARIANTS = [
    ("resize_nearest", "resize_nearest", 3, {}),
    ("fused_resize", "fused_resize", 3, {}),
    ("fused_resize[phase]", "fused_resize", 3, {"method": "phase"}),
    ("fused_resize[folded]", "fused_resize", 3, {"method": "folded"}),
    ("deconv k3", "deconv", 3, {}),
    ("deconv k4", "deconv", 4, {}),
    ("subpixel", "subpixel", 3, {}),
    ("resize_bilinear", "resize_bilinear", 3, {}),
    ("deconv_zoh", "deconv_zoh", 3, {}),
    ("deconv_foh", "deconv_foh", 3, {}),
    ("subpixel_icnr_blur", "subpixel_icnr_blur", 3, {}),
]
CUDA_VARIANTS = [v for v in VARIANTS if not v[0].startswith(("subpixel", "resize_bilinear", "deconv_"))]
SHAPES = [  # (N, C_in, C_out, H=W)
    (1, 64, 32, 128),
    (8, 64, 32, 64),
    (1, 32, 3, 256),
]
LARGE = (1, 128, 64, 256)
#: The five shapes of issue 14's GPU table.
CUDA_SHAPES = [
    (16, 256, 128, 64),
    (8, 128, 64, 128),
    (4, 64, 32, 256),
    (1, 512, 256, 64),
    (8, 64, 32, 64),
]
DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}
#: Goals of issue 14: (device, column) -> largest fused_resize / deconv k4 ratio.
DECONV_GOALS = {("cpu", "forward_ms"): 1.15, ("cuda", "forward_ms"): 1.05,
                ("cuda", "forward_backward_ms"): 1.3}
RESIZE_SPEEDUP_GOAL = 2.0


def _cases(shape: tuple[int, int, int, int], variants, *, device: str = "cpu",
           dtype: torch.dtype = torch.float32, channels_last: bool = False):
    """One forward and one training-step closure per variant, on shared inputs.

    ``dtype`` is the activations' dtype; below float32 the layers keep float32 weights and
    run under ``torch.autocast`` (mixed precision, as a network trains and infers).
    """
    n, c_in, c_out, size = shape
    torch.manual_seed(0)
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    x = torch.randn(n, c_in, size, size, device=device).to(dtype).contiguous(memory_format=fmt)
    g = torch.randn(n, c_out, 2 * size, 2 * size, device=device).to(dtype)
    autocast = dtype in (torch.bfloat16, torch.float16)
    cases = []
    for label, name, k, options in variants:
        layer = make_upsampler(name, c_in, c_out, scale=2, kernel_size=k, **options)
        layer = layer.to(device=device, memory_format=fmt)
        xg = x.detach().clone().requires_grad_(True)

        def forward(layer=layer):
            with torch.inference_mode(), torch.autocast(device, dtype=dtype, enabled=autocast):
                layer(x)

        def train_step(layer=layer, xg=xg):
            layer.zero_grad(set_to_none=True)
            xg.grad = None
            with torch.autocast(device, dtype=dtype, enabled=autocast):
                y = layer(xg)
            (y * g).sum().backward()

        cases.append({"label": label, "name": name, "kernel_size": k, "options": options,
                      "layer": layer, "forward": forward, "train_step": train_step})
    return cases


def _row(shape, c, t_fwd: float, t_trn: float, **extra) -> dict:
    n, c_in, c_out, size = shape
    return {
        "shape": {"N": n, "C_in": c_in, "C_out": c_out, "H": size, "W": size},
        "upsampler": c["label"], "name": c["name"], "kernel_size": c["kernel_size"],
        "options": c["options"],
        "parameters": count_parameters(c["layer"]),
        "multiply_adds": n * count_macs(c["layer"], size, size),
        "forward_ms": 1e3 * t_fwd,
        "forward_backward_ms": 1e3 * t_trn,
        **extra,
    }


def run(shapes, repeats: int, warmup: int, clock=time.perf_counter) -> list[dict]:
    """CPU rows: medians (``clock``: wall or process CPU time) and profiler peak memory,
    float32."""
    rows = []
    for shape in shapes:
        n, _, c_out, size = shape
        cases = _cases(shape, VARIANTS)
        fwd = round_robin_times([c["forward"] for c in cases], repeats, warmup, clock)
        trn = round_robin_times([c["train_step"] for c in cases], max(3, repeats // 2),
                                warmup, clock)
        for c, t_fwd, t_trn in zip(cases, fwd, trn, strict=True):
            rows.append(_row(
                shape, c, statistics.median(t_fwd), statistics.median(t_trn),
                device="cpu", dtype="fp32",
                forward_min_ms=1e3 * min(t_fwd), forward_backward_min_ms=1e3 * min(t_trn),
                peak_forward_mib=peak_memory_bytes(c["forward"]) / 2 ** 20,
                peak_forward_backward_mib=peak_memory_bytes(c["train_step"]) / 2 ** 20,
                output_mib=n * c_out * (2 * size) ** 2 * 4 / 2 ** 20))
        print(f"  done {shape}", file=sys.stderr, flush=True)
    return rows


def _cuda_peak_mib(fn) -> float:
    torch.cuda.synchronize()
    base = torch.cuda.memory_allocated()
    torch.cuda.reset_peak_memory_stats()
    fn()
    torch.cuda.synchronize()
    return (torch.cuda.max_memory_allocated() - base) / 2 ** 20


def run_cuda(shapes, dtypes: list[str], repeats: int, warmup: int,
             channels_last: bool) -> list[dict]:
    """GPU rows: CUDA-event medians and allocator peak memory, per dtype."""
    rows = []
    for dname in dtypes:
        for shape in shapes:
            cases = _cases(shape, CUDA_VARIANTS, device="cuda", dtype=DTYPES[dname],
                           channels_last=channels_last)
            fwd = cuda_round_robin_medians([c["forward"] for c in cases], repeats, warmup)
            trn = cuda_round_robin_medians([c["train_step"] for c in cases], repeats, warmup)
            for c, t_fwd, t_trn in zip(cases, fwd, trn, strict=True):
                rows.append(_row(
                    shape, c, t_fwd, t_trn, device="cuda", dtype=dname,
                    channels_last=channels_last,
                    peak_forward_mib=_cuda_peak_mib(c["forward"]),
                    peak_forward_backward_mib=_cuda_peak_mib(c["train_step"])))
            del cases
            torch.cuda.empty_cache()
            print(f"  done {dname} {shape}", file=sys.stderr, flush=True)
    return rows


def exactness(device: str) -> dict:
    """Worst |fused_resize - resize_nearest| in float64 on ``device``: forward, input and
    weight gradients, over every method, k = 1..5, s = 2..3, contiguous and channels_last."""
    worst = {"forward": 0.0, "input_grad": 0.0, "weight_grad": 0.0}
    cases = 0
    for method in ("auto", "phase", "folded"):
        for scale in (2, 3):
            for k in (1, 2, 3, 4, 5):
                for fmt in (torch.contiguous_format, torch.channels_last):
                    torch.manual_seed(10 * k + scale)
                    ref = make_upsampler("resize_nearest", 3, 4, scale=scale, kernel_size=k)
                    fused = make_upsampler("fused_resize", 3, 4, scale=scale, kernel_size=k,
                                           method=method)
                    ref = ref.to(device, torch.float64, memory_format=fmt)
                    fused = fused.to(device, torch.float64, memory_format=fmt)
                    fused.load_state_dict(ref.state_dict())
                    x = torch.randn(2, 3, 7, 6, device=device, dtype=torch.float64)
                    x = x.contiguous(memory_format=fmt)
                    g = torch.randn(2, 4, 7 * scale, 6 * scale, device=device,
                                    dtype=torch.float64)
                    out = []
                    for layer in (ref, fused):
                        xg = x.clone().requires_grad_(True)
                        y = layer(xg)
                        (y * g).sum().backward()
                        out.append((y.detach(), xg.grad, layer.conv.weight.grad))
                    for key, a, b in zip(worst, out[0], out[1], strict=True):
                        worst[key] = max(worst[key], (a - b).abs().max().item())
                    cases += 1
    return {"device": device, "dtype": "float64", "cases": cases,
            **{f"worst_abs_diff_{k}": v for k, v in worst.items()}}


def _key(r: dict) -> str:
    return json.dumps([r["shape"], r.get("dtype", "fp32")], sort_keys=True)


def goals(rows: list[dict], device: str) -> list[dict]:
    """Per shape (and dtype): fused_resize's ratios to deconv k4 and resize_nearest."""
    out = []
    for key in dict.fromkeys(_key(r) for r in rows):
        by = {r["upsampler"]: r for r in rows if _key(r) == key}
        fused, resize, deconv4 = by["fused_resize"], by["resize_nearest"], by["deconv k4"]
        shape, dtype = json.loads(key)
        g: dict = {"shape": shape, "dtype": dtype, "device": device}
        for col, short in (("forward_ms", "forward"), ("forward_backward_ms", "training")):
            speedup = resize[col] / fused[col]
            ratio = fused[col] / deconv4[col]
            g[f"{short}_speedup_vs_resize_nearest"] = speedup
            g[f"{short}_vs_deconv_k4"] = ratio
            g[f"{short}_deconv_k4_vs_resize_nearest"] = resize[col] / deconv4[col]
            col_min = col.replace("_ms", "_min_ms")
            if col_min in fused:  # CPU: the ratio of the fastest calls, for comparison
                g[f"{short}_vs_deconv_k4_min"] = fused[col_min] / deconv4[col_min]
            limit = DECONV_GOALS.get((device, col))
            if limit is not None:
                g[f"{short}_deconv_goal"] = limit
                g[f"{short}_deconv_goal_met"] = ratio <= limit
            if device == "cuda" or col == "forward_ms":
                g[f"{short}_speedup_goal_met"] = speedup >= RESIZE_SPEEDUP_GOAL
        out.append(g)
    return out


def _shape_text(s: dict) -> str:
    return f"N={s['N']} {s['C_in']}->{s['C_out']} {s['H']}px"


def _met(flag: bool | None) -> str:
    return "met" if flag else "MISSED"


def print_table(rows: list[dict], goal_rows: list[dict], device: str) -> None:
    unit = "ms"
    head = (f"{'shape':<22} {'dtype':<5} {'upsampler':<22} {'fwd ' + unit:>8} "
            f"{'fwd+bwd ' + unit:>11} {'peak fwd MiB':>13} {'peak f+b MiB':>13} "
            f"{'GMAC':>7} {'params':>8}")
    print(head)
    print("-" * len(head))
    for r in rows:
        print(f"{_shape_text(r['shape']):<22} {r['dtype']:<5} {r['upsampler']:<22} "
              f"{r['forward_ms']:>8.3f} {r['forward_backward_ms']:>11.3f} "
              f"{r['peak_forward_mib']:>13.1f} {r['peak_forward_backward_mib']:>13.1f} "
              f"{r['multiply_adds'] / 1e9:>7.2f} {r['parameters']:>8}")
    print()
    for g in goal_rows:
        text = (f"{_shape_text(g['shape']):<22} {g['dtype']:<5} fused_resize: inference "
                f"{g['forward_speedup_vs_resize_nearest']:.2f}x faster than resize_nearest "
                f"({_met(g['forward_speedup_goal_met'])}: >= 2x), "
                f"{g['forward_vs_deconv_k4']:.2f}x deconv k4 "
                f"({_met(g['forward_deconv_goal_met'])}: <= {g['forward_deconv_goal']}"
                + (f"; fastest calls {g['forward_vs_deconv_k4_min']:.2f}x"
                   if "forward_vs_deconv_k4_min" in g else "") + "); "
                f"training {g['training_speedup_vs_resize_nearest']:.2f}x faster, "
                f"{g['training_vs_deconv_k4']:.2f}x deconv k4")
        if device == "cuda":
            text += (f" ({_met(g['training_deconv_goal_met'])}: <= "
                     f"{g['training_deconv_goal']}; speedup "
                     f"{_met(g['training_speedup_goal_met'])})")
        print(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu",
                        help="cpu (default: wall clock) or cuda (CUDA events, fp32 + bf16)")
    parser.add_argument("--repeats", type=int, default=None,
                        help="timed rounds (default 15 on the CPU, 50 on CUDA)")
    parser.add_argument("--warmup", type=int, default=None,
                        help="untimed rounds (default 3 on the CPU, 10 on CUDA)")
    parser.add_argument("--large", action="store_true", help="CPU: add N=1 128->64 at 256px")
    parser.add_argument("--threads", type=int, default=None,
                        help="CPU: torch threads (default: torch's own choice; 1 with --clock cpu)")
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                        help="CPU: wall time (default) or this process's CPU time, which "
                             "leaves out waiting for a core on a shared machine (one thread)")
    parser.add_argument("--dtypes", nargs="+", choices=sorted(DTYPES), default=["fp32", "bf16"],
                        help="cuda: activation dtypes (default fp32 bf16)")
    parser.add_argument("--no-channels-last", action="store_true",
                        help="cuda: contiguous (NCHW) tensors instead of channels_last")
    parser.add_argument("--out", type=Path, default=None,
                        help="also write the JSON to this file (e.g. $OUT/upsampling_cuda.json)")
    parser.add_argument("--no-write", action="store_true",
                        help="print only, write nothing under benchmarks/results")
    args = parser.parse_args(argv)
    cuda = args.device == "cuda"
    repeats = args.repeats if args.repeats is not None else (50 if cuda else 15)
    warmup = args.warmup if args.warmup is not None else (10 if cuda else 3)
    if repeats < 1 or warmup < 0:
        parser.error("--repeats must be >= 1 and --warmup >= 0")
    if cuda and not torch.cuda.is_available():
        print(f"--device cuda: no CUDA GPU visible to torch {torch.__version__} on this machine "
              "(torch.cuda.is_available() is False); run it where a GPU is lent "
              "(benchmarks/gpu_check.sh)", file=sys.stderr)
        return 2

    if args.clock == "cpu" and not cuda:
        if args.threads not in (None, 1):
            parser.error("--clock cpu counts CPU time: use it with --threads 1")
        args.threads = 1
    if args.threads:
        torch.set_num_threads(args.threads)
    load_before = tuple(round(v, 2) for v in os.getloadavg())
    extra: dict = {}
    if cuda:
        torch.backends.cudnn.benchmark = True
        extra["exactness"] = exactness("cuda")
        print(f"exactness on the GPU (float64, {extra['exactness']['cases']} cases): "
              + ", ".join(f"{k.removeprefix('worst_abs_diff_')} {v:.1e}"
                          for k, v in extra["exactness"].items() if k.startswith("worst")))
        rows = run_cuda(CUDA_SHAPES, args.dtypes, repeats, warmup, not args.no_channels_last)
        extra["gpu"] = torch.cuda.get_device_name()
        extra["cuda"] = torch.version.cuda
        extra["cudnn"] = torch.backends.cudnn.version()
    else:
        clock = time.process_time if args.clock == "cpu" else time.perf_counter
        rows = run(SHAPES + ([LARGE] if args.large else []), repeats, warmup, clock)
    load_after = tuple(round(v, 2) for v in os.getloadavg())
    goal_rows = goals(rows, args.device)
    print_table(rows, goal_rows, args.device)
    print(f"\nload average (1, 5, 15 min) before: {load_before}, after: {load_after}; "
          f"{os.cpu_count()} CPUs, torch {torch.__version__}, {torch.get_num_threads()} threads"
          + (f", {extra['gpu']}" if cuda else ""))

    name = "upsampling_cuda" if cuda else "upsampling"
    settings = {"repeats": repeats, "warmup": warmup, "scale": 2, "device": args.device,
                "threads": torch.get_num_threads(),
                "clock": "CUDA events" if cuda else
                {"wall": "wall (perf_counter)", "cpu": "process CPU time"}[args.clock]}
    if cuda:
        settings.update(dtypes=args.dtypes, channels_last=not args.no_channels_last,
                        timing="CUDA events, round-robin, median",
                        bf16="float32 weights, bfloat16 activations, torch.autocast per call")
    payload = {"goals": goal_rows, "settings": settings,
               "load_average": {"before": load_before, "after": load_after},
               "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),  # noqa: UP017 (any Python 3 on the GPU machine)
               **extra}
    if not args.no_write:
        path = write_results(name, rows, **payload)
        print(f"wrote {path.relative_to(ROOT)}")
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"benchmark": name, "rows": rows, **payload}, indent=2)
                            + "\n")
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
