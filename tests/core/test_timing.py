"""Tests of the timing helpers (core/timing.py)."""

from __future__ import annotations

import time

import pytest
import torch

from core.upsamplers.registry import make_upsampler
from core.upsamplers.timing import (
    cost_rows,
    cuda_round_robin_medians,
    median_time,
    peak_memory_bytes,
    round_robin_medians,
    round_robin_times,
)


def test_cost_rows_and_timing_helpers():
    rows = cost_rows(["resize_nearest", "fused_resize", "deconv"], 4, 2, 8, 8, repeats=2,
                     warmup=1)
    by = {r["upsampler"]: r for r in rows}
    assert by["resize_nearest"]["parameters"] == by["fused_resize"]["parameters"]
    assert by["fused_resize"]["multiply_adds"] < by["resize_nearest"]["multiply_adds"]
    assert all(r["forward_ms"] > 0 for r in rows)
    calls = []
    times = round_robin_medians([lambda: calls.append("a"), lambda: calls.append("b")],
                                repeats=3, warmup=1)
    assert calls == ["a", "b"] * 4 and len(times) == 2
    slept = []
    # warm-up calls are not timed; every timed call sleeps at least 5 ms
    median = median_time(lambda: (slept.append(1), time.sleep(0.005)), repeats=3, warmup=2)
    assert len(slept) == 5 and 0.005 <= median < 1.0
    layer = make_upsampler("resize_nearest", 4, 2)
    x = torch.randn(1, 4, 16, 16)
    # the 2x-upsampled input (4 x 32 x 32 floats) alone is 16 KiB; the output 8 KiB
    assert peak_memory_bytes(lambda: layer(x)) >= 16 * 1024


def test_timing_helpers_reject_bad_counts():
    with pytest.raises(ValueError, match="repeats"):
        median_time(lambda: None, repeats=0)
    with pytest.raises(ValueError, match="repeats"):
        round_robin_medians([lambda: None], repeats=1, warmup=-1)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_round_robin_medians_times_gpu_work():
    x = torch.randn(1024, 1024, device="cuda")
    small, large = cuda_round_robin_medians([lambda: x @ x, lambda: [x @ x for _ in range(8)]],
                                            repeats=5, warmup=2)
    assert 0 < small < large


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message without CUDA")
def test_cuda_timer_without_cuda_says_so():
    with pytest.raises(RuntimeError, match="CUDA is not available"):
        cuda_round_robin_medians([lambda: None])


def test_round_robin_times_with_a_given_clock():
    ticks = iter(range(100))
    times = round_robin_times([lambda: None, lambda: None], repeats=3, warmup=1,
                              clock=lambda: float(next(ticks)))
    assert times == [[1.0] * 3, [1.0] * 3]  # each call spans one tick of the fake clock


def test_rotated_rounds_start_with_each_call_in_turn():
    """Each round starts with the next call, so none always runs right after the same one
    (issue 28: the call after resize_nearest ran up to 2x slower); times keep fns' order."""
    calls = []
    fns = [lambda name=name: calls.append(name) for name in "abc"]
    times = round_robin_times(fns, repeats=3, warmup=0, rotate=True)
    assert calls == list("abc" "bca" "cab") and [len(t) for t in times] == [3, 3, 3]


def test_cost_rows_give_the_middle_half_and_paired_ratios():
    rows = cost_rows(["resize_nearest", "deconv"], 4, 2, 8, 8, repeats=7, warmup=1,
                     reference="resize_nearest")
    by = {r["upsampler"]: r for r in rows}
    for r in rows:
        assert 0 < r["forward_q1_ms"] <= r["forward_ms"] <= r["forward_q3_ms"]
    assert by["resize_nearest"]["vs_reference"] == 1.0  # its own rounds, exactly
    assert by["deconv"]["vs_reference_q1"] <= by["deconv"]["vs_reference"] \
        <= by["deconv"]["vs_reference_q3"]


def test_stored_cost_rows_say_where_and_when():
    import json
    from pathlib import Path

    from core.upsamplers.timing import stored_cost_rows

    bench = json.loads((Path(__file__).resolve().parents[2] / "benchmarks" / "results"
                        / "upsampling.json").read_text())
    rows, about = stored_cost_rows(bench)
    by = {r["upsampler"]: r for r in rows}
    assert by["resize_nearest"]["vs_reference"] == 1.0
    assert all(r["forward_min_ms"] <= r["forward_ms"] for r in rows)
    assert about["date"] == bench["date"][:10] and about["cpu_count"] == 2
    assert stored_cost_rows(None) == ([], {})
