"""Auditing a live ``torch.nn.Module``: trace it, analyse every resampling call, probe
it, and measure each offending layer's fix (the torch route's entry point).
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np

from .analysis import _analyse, _chain
from .limits import AuditError, short_error
from .measured import ALL_LAYERS, measure_fixes
from .probes import _run_probes
from .report import AuditReport
from .torch_trace import _eval_copy, _torch_runner, _trace_module


def audit_module(module, input_shape: Sequence[int], *, probes: bool = True,
                 image: np.ndarray | None = None, measure: bool = True, seed: int = 0,
                 name: str | None = None) -> AuditReport:
    """Audit a live ``torch.nn.Module`` fed ``(N, C, H, W)`` tensors of ``input_shape``.

    The same analysis as :func:`audit_onnx`, found by one recorded forward pass; with
    ``measure`` (and probes) each offending layer is also swapped for its fix at
    initialisation and the score measured (:func:`measure_fixes`). The module is never
    modified (a training-mode module is audited through an eval-mode copy).
    """
    import torch

    shape = [int(v) for v in input_shape]
    if len(shape) != 4 or min(shape) < 1:
        raise AuditError(f"input_shape must be four positive integers (N, C, H, W), got "
                         f"{input_shape}")
    t0 = time.perf_counter()
    module, notes = _eval_copy(module)
    run = _torch_runner(module)
    param = next(module.parameters(), None)
    x = torch.zeros(shape, dtype=param.dtype if param is not None else torch.float32,
                    device=param.device if param is not None else "cpu")
    try:
        calls, y = _trace_module(module, x)
    except Exception as err:  # noqa: BLE001 - the user's forward may raise anything
        raise AuditError(f"the module's forward pass fails on input shape "
                         f"{','.join(map(str, shape))}: {short_error(err)}") from err
    layers = [_analyse(f) for f in calls]
    out_shape = list(y.shape) if isinstance(y, torch.Tensor) else None
    out_size = (out_shape[2], out_shape[3]) if out_shape and len(out_shape) == 4 else None
    chain = _chain(layers, (shape[2], shape[3]), out_size)
    seconds = {"analysis": time.perf_counter() - t0}
    probe_report = None
    fix_all = None
    if probes:
        t1 = time.perf_counter()
        probe_report = _run_probes(run, shape, chain.period, image=image, seed=seed)
        seconds["probes"] = time.perf_counter() - t1
        if measure and probe_report.scored_on:
            t2 = time.perf_counter()
            measured = measure_fixes(module, shape, layers, probe_report, calls=calls,
                                     seed=seed)
            fix_all = measured.pop(ALL_LAYERS, None)
            for layer in layers:
                if layer.name in measured:
                    layer.fix_measured = measured[layer.name]
            seconds["fixes"] = time.perf_counter() - t2
    report = AuditReport(name or type(module).__name__, "torch", "input", shape, out_shape,
                         layers, chain, probe_report, notes, seconds)
    report.fix_all = fix_all
    return report
