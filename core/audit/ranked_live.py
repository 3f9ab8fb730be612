"""The live-module route of the sound and volume audit: one traced forward pass records the
1-D and 3-D resampling calls (``F.conv_transpose1d`` inside an ``nn.ConvTranspose1d``...) with
the module that made them; analysed with :mod:`core.audit.ranked`, probed and the fixes
measured with :mod:`core.audit.ranked_probes`.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from .analysis import RESHAPE_OPS
from .guard import check_probe_budget
from .limits import MAX_LENGTH, AuditError, short_error
from .ranked import RANKS, RankedFound, report_ranked, reshape_found, shape_text
from .report import AuditReport

_CALLS = {
    "conv_transpose1d": ("ConvTranspose", 1), "conv_transpose3d": ("ConvTranspose", 3),
    "conv1d": ("Conv", 1), "conv3d": ("Conv", 3),
    "max_pool1d": ("MaxPool", 1), "max_pool3d": ("MaxPool", 3),
    "avg_pool1d": ("AveragePool", 1), "avg_pool3d": ("AveragePool", 3),
    "interpolate": ("Resize", None),
}
_ARGS = {
    "ConvTranspose": ("input", "weight", "bias", "stride", "padding", "output_padding", "groups",
                      "dilation"),
    "Conv": ("input", "weight", "bias", "stride", "padding", "dilation", "groups"),
    "MaxPool": ("input", "kernel_size", "stride", "padding", "dilation"),
    "AveragePool": ("input", "kernel_size", "stride", "padding"),
    "Resize": ("input", "size", "scale_factor", "mode", "align_corners"),
}


def _tuple(value, d: int, default: int) -> tuple[int, ...]:
    if value is None or (isinstance(value, (list, tuple)) and not value):
        return (default,) * d
    if isinstance(value, (list, tuple)):
        return tuple(int(v) for v in value) if len(value) == d else (int(value[0]),) * d
    return (int(value),) * d


def trace_ranked(module, x) -> tuple[Any, list[RankedFound]]:
    """One forward pass of ``module`` on ``x``, recording its 1-D/3-D resampling calls with
    the module that made them (``F.conv_transpose1d`` inside an ``nn.ConvTranspose1d``...)."""
    import torch
    import torch.nn.functional as F
    from torch.overrides import TorchFunctionMode

    stack: list[tuple[str, Any]] = [("", module)]
    found: list[RankedFound] = []
    names = {getattr(F, n): n for n in _CALLS}

    from torch.utils.weak import WeakIdKeyDictionary

    from .torch_flow import SHAPE_OPS

    # Each signal (a tensor of the input's rank and batch): (its size, channels, the
    # reshapes since, the weight of the stride-1 convolution that made it); a tensor
    # reshaped from a signal carries its origin's entry with the reshapes met.
    flows: Any = WeakIdKeyDictionary()
    rank, batch = x.ndim, int(x.shape[0])

    def is_signal(t) -> bool:
        return isinstance(t, torch.Tensor) and t.ndim == rank and int(t.shape[0]) == batch

    def follow(func, fname, args, kwargs, out) -> None:
        """Resolution along the graph: a chain of reshapes from one signal to another of
        another size is a pixel shuffle (or a nearest upsampling by copies)."""
        if not isinstance(out, torch.Tensor):
            return
        call = getattr(func, "__name__", "")
        src = next((t for t in (*args, *kwargs.values()) if isinstance(t, torch.Tensor)),
                   None)
        flow = flows.get(src) if src is not None else None
        if call in SHAPE_OPS and flow is not None:
            size, channels, chain, weight = flow
            chain = chain + (call,)
            if is_signal(out) and any(op in RESHAPE_OPS for op in chain):
                if tuple(out.shape[2:]) != size:
                    path, _sub = stack[-1]
                    f = reshape_found(path or type(module).__name__, size,
                                      tuple(out.shape[2:]), channels, int(out.shape[1]),
                                      chain, weight)
                    if f is not None:
                        f.module_path, f.module = path or None, _sub
                        found.append(f)
                flows[out] = (tuple(out.shape[2:]), int(out.shape[1]), (), None)
            else:
                flows[out] = (size, channels, chain, weight)
            return
        if is_signal(out):
            weight = None
            if fname in ("conv1d", "conv3d"):
                bound = dict(zip(_ARGS["Conv"], args, strict=False))
                bound.update(kwargs)
                stride = bound.get("stride")
                if stride in (None, []) or max(_tuple(stride, rank - 2, 1)) == 1:
                    weight = bound["weight"].detach().cpu().double().numpy()
            flows[out] = (tuple(out.shape[2:]), int(out.shape[1]), (), weight)

    flows[x] = (tuple(x.shape[2:]), int(x.shape[1]), (), None)

    class Mode(TorchFunctionMode):
        def __torch_function__(self, func, types, args=(), kwargs=None):
            kwargs = kwargs or {}
            out = func(*args, **kwargs)
            fname = names.get(func)
            if fname is not None:
                record(fname, args, kwargs, out)
            follow(func, fname, args, kwargs, out)
            return out

    def record(fname: str, args, kwargs, out) -> None:
        op, _ = _CALLS[fname]
        bound = dict(zip(_ARGS[op], args, strict=False))
        bound.update(kwargs)
        xin = bound.get("input")
        if isinstance(out, tuple):
            out = out[0]
        if not isinstance(xin, torch.Tensor) or not isinstance(out, torch.Tensor) \
                or xin.ndim not in (3, 5) or out.ndim != xin.ndim:
            return
        d = xin.ndim - 2
        path, sub = stack[-1]
        f = RankedFound(name=path or type(module).__name__, op=op, dims=d,
                        in_size=tuple(xin.shape[2:]), out_size=tuple(out.shape[2:]),
                        in_channels=int(xin.shape[1]), out_channels=int(out.shape[1]),
                        module_path=path or None, module=sub)
        if op == "Resize":
            f.mode = {"trilinear": "linear", "bilinear": "linear", "nearest-exact": "nearest"}.get(
                str(bound.get("mode") or "nearest"), str(bound.get("mode") or "nearest"))
            if f.in_size == f.out_size:
                return
        else:
            if op in ("ConvTranspose", "Conv"):
                w = bound["weight"]
                f.kernel = tuple(int(v) for v in w.shape[2:])
                f.groups = int(bound.get("groups") or 1)
                if op == "ConvTranspose":
                    f.weight = w.detach().cpu().double().numpy()
                    f.output_padding = _tuple(bound.get("output_padding"), d, 0)
            else:
                f.kernel = _tuple(bound.get("kernel_size"), d, 1)
            f.stride = _tuple(bound.get("stride"), d, 1) if bound.get("stride") not in (None, []) \
                else (f.kernel if op in ("MaxPool", "AveragePool") else (1,) * d)
            if max(f.stride) < 2:
                return
            p = bound.get("padding", 0)
            begin = (0,) * d if isinstance(p, str) else _tuple(p, d, 0)
            f.pads = begin + begin
            f.dilation = _tuple(bound.get("dilation"), d, 1)
        found.append(f)

    def leave(*_) -> None:  # a forward hook returning a value would replace the output
        stack.pop()

    handles = []
    for path, sub in module.named_modules():
        handles.append(sub.register_forward_pre_hook(
            lambda _m, _a, path=path, sub=sub: stack.append((path, sub))))
        handles.append(sub.register_forward_hook(leave))
    try:
        with torch.no_grad(), Mode():
            y = module(x)
    finally:
        for h in handles:
            h.remove()
    return y, found


def audit_ranked_module(module, shape: list[int], *, probes: bool = True, measure: bool = True,
                        seed: int = 0, name: str | None = None) -> AuditReport:
    """Audit a live module fed ``(N, C, L)`` or ``(N, C, D, H, W)`` tensors (``audit_module``
    hands such shapes over); with ``measure`` each offending transposed convolution is
    swapped for its fix at initialisation and the probes' score measured."""
    import torch

    from .ranked_probes import measure_ranked_fixes, probe_input, run_ranked_probes
    from .torch_trace import eval_copy

    t0 = time.perf_counter()
    if len(shape) not in RANKS or min(shape) < 1 or max(shape[2:]) > MAX_LENGTH:
        raise AuditError(f"input_shape must be N,C,L or N,C,D,H,W of positive integers (every "
                         f"size up to {MAX_LENGTH:,}), got {shape}")
    module, notes = eval_copy(module)
    param = next(module.parameters(), None)
    dtype = param.dtype if param is not None else torch.float32
    x = torch.from_numpy(probe_input(shape, seed)).to(dtype)
    try:
        y, found = trace_ranked(module, x)
    except Exception as err:  # noqa: BLE001 - the user's forward may raise anything
        raise AuditError(f"the module's forward pass fails on input shape {shape_text(shape)}: "
                         f"{short_error(err)}") from err
    if not isinstance(y, torch.Tensor):
        raise AuditError("the module's forward returns no tensor; the 1-D/3-D audit reads one")
    report = report_ranked(name or type(module).__name__, "torch", "input", list(shape),
                           list(y.shape), found, notes, [], t0)
    if probes:
        check_probe_budget(shape, list(y.shape))
        t1 = time.perf_counter()

        def run(v: np.ndarray) -> np.ndarray:
            with torch.no_grad():
                return module(torch.from_numpy(v).to(dtype)).double().numpy()

        report.probes = run_ranked_probes(run, shape, report.chain.period, seed=seed)
        report.seconds["probes"] = time.perf_counter() - t1
        if measure and report.probes.checkerboard_score is not None:
            t2 = time.perf_counter()
            measured, report.fix_all = measure_ranked_fixes(module, shape, found, report,
                                                            seed=seed)
            for layer in report.layers:
                if layer.name in measured:
                    layer.fix_measured = measured[layer.name]
            report.seconds["fixes"] = time.perf_counter() - t2
    return report


def attach_ranked_fixes(report: AuditReport, module, *, seed: int = 0) -> AuditReport:
    """:func:`core.audit.measured.attach_fixes` for a sound or volume network: the live
    ``module``'s measured fixes added to ``report`` (an audit of its ONNX export), matched
    by module path and op. Returns ``report``."""
    import torch

    from .ranked_probes import measure_ranked_fixes, probe_input
    from .torch_trace import eval_copy

    if not (report.probes and report.probes.scored_on and report.offending):
        return report
    module, _ = eval_copy(module)
    shape = report.input_shape
    param = next(module.parameters(), None)
    x = torch.from_numpy(probe_input(shape, seed)).to(param.dtype if param is not None
                                                        else torch.float32)
    y, found = trace_ranked(module, x)
    live = report_ranked("live", "torch", "input", list(shape), list(y.shape), found, [], [],
                         0.0)
    live.probes = report.probes
    measured, report.fix_all = measure_ranked_fixes(module, shape, found, live, seed=seed)
    by_path = {(la.module_path, la.op): measured[la.name] for la in live.layers
               if la.name in measured}
    for layer in report.layers:
        if (layer.module_path, layer.op) in by_path:
            layer.fix_measured = by_path[layer.module_path, layer.op]
    return report
