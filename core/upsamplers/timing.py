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
                      clock: Callable[[], float] = time.perf_counter) -> list[list[float]]:
    """Times (seconds) of ``repeats`` calls of each ``fn``, timed in interleaved rounds.

    Round ``r`` calls every ``fn`` once in turn, so a load spike on a shared CPU hits
    all of them alike instead of whichever happened to be running. ``clock`` is wall
    time by default; ``time.process_time`` counts the CPU time this process spent
    instead, which on a CPU shared with other jobs leaves out the time spent waiting
    for a core (meaningful with one torch thread: more threads add their spin-waits).
    """
    if repeats < 1 or warmup < 0:
        raise ValueError(f"repeats must be >= 1 and warmup >= 0, got {repeats}, {warmup}")
    times: list[list[float]] = [[] for _ in fns]
    for r in range(warmup + repeats):
        for i, fn in enumerate(fns):
            start = clock()
            fn()
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


def cost_rows(names: list[str] | tuple[str, ...], in_channels: int, out_channels: int,
              height: int, width: int, *, batch: int = 1, scale: int = 2,
              kernel_size: int = 3, repeats: int = 5, warmup: int = 2,
              seed: int = 0) -> list[dict[str, object]]:
    """Parameters, multiply-adds and measured inference time of several upsamplers
    (timed round-robin, :func:`round_robin_medians`)."""
    torch.manual_seed(seed)
    layers = [make_upsampler(n, in_channels, out_channels, scale=scale,
                             kernel_size=kernel_size).eval() for n in names]
    x = torch.randn(batch, in_channels, height, width)

    def runner(layer: nn.Module) -> Callable[[], None]:
        def run() -> None:
            with torch.inference_mode():
                layer(x)
        return run

    times = round_robin_medians([runner(m) for m in layers], repeats=repeats, warmup=warmup)
    return [{"upsampler": n, "parameters": count_parameters(m),
             "multiply_adds": batch * count_macs(m, height, width), "forward_ms": 1e3 * t}
            for n, m, t in zip(names, layers, times, strict=True)]
