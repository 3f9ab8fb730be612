"""Timing and memory of calls: the measured cost of the upsamplers.

Used by ``benchmarks/`` and by the layer lab's cost table. On a shared CPU a load spike
can hit whichever call happens to be running, so comparisons time their candidates
round-robin (:func:`round_robin_medians`) and report medians. On a GPU, host clocks
measure kernel *launches*, not kernels: :func:`cuda_round_robin_medians` records CUDA
events around each call instead and synchronises once per round.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import torch
from torch import nn

from .registry import count_macs, count_parameters, make_upsampler

__all__ = ["cost_rows", "cuda_round_robin_medians", "median_time", "peak_memory_bytes",
           "round_robin_medians", "round_robin_times"]


def median_time(fn: Callable[[], object], repeats: int = 10, warmup: int = 2) -> float:
    """Median wall time of ``fn()`` in seconds, after ``warmup`` untimed calls."""
    if repeats < 1 or warmup < 0:
        raise ValueError(f"repeats must be >= 1 and warmup >= 0, got {repeats}, {warmup}")
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def peak_memory_bytes(fn: Callable[[], object]) -> int:
    """Peak bytes allocated by the CPU allocator during ``fn()`` (outputs included).

    Replays the allocation/free events that ``torch.profiler`` records with
    ``profile_memory=True`` in time order and returns the highest running total, i.e.
    the memory the call needs on top of what was alive before it (inputs, weights).
    """
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        fn()
    events = [e for e in prof.profiler.kineto_results.events() if e.name() == "[memory]"]
    events.sort(key=lambda e: e.start_ns())
    live = peak = 0
    for e in events:
        live += e.nbytes()  # > 0 allocation, < 0 free
        peak = max(peak, live)
    return peak


def round_robin_times(fns: list[Callable[[], object]], repeats: int = 10, warmup: int = 2,
                      clock: Callable[[], float] = time.perf_counter, *,
                      rotate: bool = False) -> list[list[float]]:
    """Times (seconds) of ``repeats`` calls of each ``fn``, timed in interleaved rounds.

    Round ``r`` calls every ``fn`` once in turn, so a load spike on a shared CPU hits
    all of them alike instead of whichever happened to be running. ``clock`` is wall
    time by default; ``time.process_time`` counts the CPU time this process spent
    instead, which on a CPU shared with other jobs leaves out the time spent waiting
    for a core (meaningful with one torch thread: more threads add their spin-waits).
    ``rotate`` starts round ``r`` at ``fns[r % len(fns)]``: the call right after one that
    frees large buffers ran up to 2x slower on a 2-core machine, whichever it was, so no
    ``fn`` should always be that one. Times come back in the order of ``fns``.
    """
    if repeats < 1 or warmup < 0:
        raise ValueError(f"repeats must be >= 1 and warmup >= 0, got {repeats}, {warmup}")
    times: list[list[float]] = [[] for _ in fns]
    for r in range(warmup + repeats):
        first = r % len(fns) if rotate and fns else 0
        for i in [*range(first, len(fns)), *range(first)]:
            start = clock()
            fns[i]()
            if r >= warmup:
                times[i].append(clock() - start)
    return times


def round_robin_medians(fns: list[Callable[[], object]], repeats: int = 10,
                        warmup: int = 2,
                        clock: Callable[[], float] = time.perf_counter) -> list[float]:
    """Median time (seconds) of each ``fn``, timed in interleaved rounds
    (:func:`round_robin_times`)."""
    return [statistics.median(t) for t in round_robin_times(fns, repeats, warmup, clock)]


def cuda_round_robin_medians(fns: list[Callable[[], object]], repeats: int = 10,
                             warmup: int = 2) -> list[float]:
    """Median GPU time (seconds) of each ``fn``, from CUDA events, timed round-robin.

    Each call is bracketed by two ``torch.cuda.Event(enable_timing=True)`` recorded on
    the current stream, so the figure is the time the GPU spent between them (kernels
    queued by ``fn``), not the host's launch time. The rounds interleave the ``fns`` as
    :func:`round_robin_medians` does; the device is synchronised once per round before
    the events are read.
    """
    if repeats < 1 or warmup < 0:
        raise ValueError(f"repeats must be >= 1 and warmup >= 0, got {repeats}, {warmup}")
    if not torch.cuda.is_available():
        raise RuntimeError("CUDA is not available")
    times: list[list[float]] = [[] for _ in fns]
    for r in range(warmup + repeats):
        events = []
        for fn in fns:
            start = torch.cuda.Event(enable_timing=True)
            end = torch.cuda.Event(enable_timing=True)
            start.record()
            fn()
            end.record()
            events.append((start, end))
        torch.cuda.synchronize()
        if r >= warmup:
            for i, (start, end) in enumerate(events):
                times[i].append(start.elapsed_time(end) / 1e3)  # ms -> s
    return [statistics.median(t) for t in times]


def _quartiles(values: list[float]) -> tuple[float, float, float]:
    """First quartile, median and third quartile (the middle half lies between the ends)."""
    if len(values) < 2:
        return values[0], values[0], values[0]
    q1, q2, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return q1, q2, q3


def cost_rows(names: list[str] | tuple[str, ...], in_channels: int, out_channels: int,
              height: int, width: int, *, batch: int = 1, scale: int = 2,
              kernel_size: int = 3, repeats: int = 5, warmup: int = 2,
              seed: int = 0, reference: str | None = None) -> list[dict[str, object]]:
    """Parameters, multiply-adds and measured inference time of several upsamplers, timed
    in rotated rounds (:func:`round_robin_times`): ``forward_ms`` is the median,
    ``forward_q1_ms`` / ``forward_q3_ms`` bound the middle half of the calls. With a
    ``reference`` among ``names``, ``vs_reference`` is the median over rounds of each
    call's time over the reference's in the same round (a load spike hits both), with
    ``vs_reference_q1`` / ``vs_reference_q3`` its middle half."""
    torch.manual_seed(seed)
    layers = [make_upsampler(n, in_channels, out_channels, scale=scale,
                             kernel_size=kernel_size).eval() for n in names]
    x = torch.randn(batch, in_channels, height, width)

    def runner(layer: nn.Module) -> Callable[[], None]:
        def run() -> None:
            with torch.inference_mode():
                layer(x)
        return run

    times = round_robin_times([runner(m) for m in layers], repeats=repeats, warmup=warmup,
                              rotate=True)
    rows = []
    for n, m, t in zip(names, layers, times, strict=True):
        q1, q2, q3 = _quartiles(t)
        row = {"upsampler": n, "parameters": count_parameters(m),
               "multiply_adds": batch * count_macs(m, height, width), "forward_ms": 1e3 * q2,
               "forward_q1_ms": 1e3 * q1, "forward_q3_ms": 1e3 * q3}
        if reference in names:
            ref = times[list(names).index(reference)]
            r1, r2, r3 = _quartiles([a / b for a, b in zip(t, ref, strict=True) if b > 0])
            row.update(vs_reference=r2, vs_reference_q1=r1, vs_reference_q3=r3)
        rows.append(row)
    return rows


def stored_cost_rows(benchmark: dict | None, reference: str = "resize_nearest"
                     ) -> tuple[list[dict[str, object]], dict[str, object]]:
    """The stored CPU benchmark (``benchmarks/results/upsampling.json`` as a dict) at its
    first shape: one row per timed layer (its label, e.g. ``deconv k4``), ``forward_ms``
    (median), ``forward_min_ms`` (fastest) and ``vs_reference`` (median over the
    reference's median); and what it was measured on (shape, date, machine, load,
    repeats, clock). ``([], {})`` when there is no usable benchmark."""
    rows = [r for r in (benchmark or {}).get("rows", []) if isinstance(r, dict)
            and r.get("device", "cpu") == "cpu" and isinstance(r.get("forward_ms"), float | int)]
    if not rows:
        return [], {}
    shape = rows[0].get("shape")
    rows = [r for r in rows if r.get("shape") == shape]
    ref = next((float(r["forward_ms"]) for r in rows if r.get("upsampler") == reference), None)
    out = [{"upsampler": str(r.get("upsampler")), "forward_ms": float(r["forward_ms"]),
            "forward_min_ms": float(r.get("forward_min_ms", float("nan"))),
            "vs_reference": float(r["forward_ms"]) / ref if ref else float("nan")}
           for r in rows]
    settings = benchmark.get("settings", {}) if isinstance(benchmark.get("settings"), dict) else {}
    machine = benchmark.get("machine", {}) if isinstance(benchmark.get("machine"), dict) else {}
    about = {"shape": shape, "date": str(benchmark.get("date", ""))[:10],
             "cpu_count": machine.get("cpu_count"), "torch": machine.get("torch"),
             "threads": settings.get("threads"), "load": machine.get("load_average_1min"),
             "repeats": settings.get("repeats"), "clock": settings.get("clock")}
    return out, about
