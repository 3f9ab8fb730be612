"""Auditing a live ``torch.nn.Module``: trace it, analyse every resampling call, probe
it, and measure each offending layer's fix (the torch route's entry point).
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np

from . import guard
from .analysis import analyse_layer, chain_of, resolution_warning
from .limits import AuditError, short_error
from .measured import ALL_LAYERS, measure_fixes
from .probes import run_probes, trace_input
from .ranked import RANKS
from .ranked_live import audit_ranked_module
from .report import AuditReport
from .torch_trace import eval_copy, output_candidates, select_output, torch_runner, trace


def audit_module(module, input_shape: Sequence[int], *, probes: bool = True,
                 image: np.ndarray | None = None, measure: bool = True, seed: int = 0,
                 name: str | None = None, output: str | int | None = None) -> AuditReport:
    """Audit a live ``torch.nn.Module`` fed ``(N, C, H, W)`` tensors of ``input_shape``
    (``(N, C, L)`` sounds and ``(N, C, D, H, W)`` volumes go to :mod:`core.audit.ranked`).

    The same analysis as :func:`audit_onnx`, found by one recorded forward pass on the
    probes' smooth noise (not zeros: a forward may branch on its input); with ``measure``
    (and probes) each offending layer is also swapped for its fix at initialisation and
    the score measured (:func:`measure_fixes`). A forward returning a tuple, list or dict
    is audited on ``output`` (a key or index), by default its largest image-like output;
    the report says which (``output_name``). The module is never modified (a
    training-mode module is audited through an eval-mode copy).
    """
    import torch

    shape = [int(v) for v in input_shape]
    if len(shape) in RANKS:  # a sound (N, C, L) or a volume (N, C, D, H, W)
        return audit_ranked_module(module, shape, probes=probes, measure=measure, seed=seed,
                                   name=name)
    if len(shape) != 4 or min(shape) < 1:
        raise AuditError(f"input_shape must be four positive integers (N, C, H, W), got "
                         f"{input_shape}")
    guard.check_torch_module(module, shape, probes)  # the ONNX route's caps, before it runs
    t0 = time.perf_counter()
    module, notes = eval_copy(module)
    param = next(module.parameters(), None)
    x = torch.from_numpy(trace_input(shape, seed)).to(
        dtype=param.dtype if param is not None else torch.float32,
        device=param.device if param is not None else "cpu")
    try:
        traced = trace(module, x)
    except Exception as err:  # noqa: BLE001 - the user's forward may raise anything
        raise AuditError(f"the module's forward pass fails on input shape "
                         f"{','.join(map(str, shape))}: {short_error(err)}") from err
    key, y = select_output(traced.output, output)
    if key is not None and output is None:
        others = ", ".join(repr(k) for k, _ in output_candidates(traced.output) if k != key)
        notes.append(f"the forward returns several outputs: audited output {key!r}, the "
                     f"largest image-like one (others: {others}; choose with --output)")
    out_shape = list(y.shape)
    guard.check_torch_output(out_shape, shape, probes)  # before any layer is analysed
    calls = traced.calls
    layers = [analyse_layer(f) for f in calls]
    out_size = (out_shape[2], out_shape[3]) if len(out_shape) == 4 else None
    out_level = traced.level_of(y)
    chain = chain_of(layers, (shape[2], shape[3]), out_size, out_level)
    warnings = [f"{where}: {why}" for where, why in traced.skipped]
    warnings += resolution_warning((shape[2], shape[3]), out_size, out_level, layers)
    seconds = {"analysis": time.perf_counter() - t0}
    probe_report = None
    fix_all = None
    if probes:
        t1 = time.perf_counter()
        probe_report = run_probes(torch_runner(module, key), shape, chain.period, image=image,
                                  seed=seed)
        seconds["probes"] = time.perf_counter() - t1
        if measure and probe_report.scored_on:
            t2 = time.perf_counter()
            measured = measure_fixes(module, shape, layers, probe_report, calls=calls,
                                     seed=seed, output=key)
            fix_all = measured.pop(ALL_LAYERS, None)
            for layer in layers:
                if layer.name in measured:
                    layer.fix_measured = measured[layer.name]
            seconds["fixes"] = time.perf_counter() - t2
    report = AuditReport(name or type(module).__name__, "torch", "input", shape, out_shape,
                         layers, chain, probe_report, notes, seconds, warnings=warnings,
                         output_name=key)
    report.fix_all = fix_all
    return report
