"""Measured fixes on live modules: swap an offending layer for its fix and measure again.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..maths.metrics import (
    checkerboard_score,
    to_unit_range,
)
from ..maths.overlap import conv_transpose_output_size
from .analysis import Found, analyse_layer, fix_kernel
from .limits import short_error
from .probes import trace_input
from .report import AuditReport, LayerAudit, ProbeReport, json_safe
from .torch_trace import eval_copy, torch_runner, trace_module

# ---------------------------------------------------------------------------------------
# Measured fixes (live modules)
# ---------------------------------------------------------------------------------------


def _resize_conv_module():
    """The resize-convolution that replaces a ``ConvTranspose2d`` in a measured fix.

    It is called the way the transposed convolution was: ``forward(x)``, or
    ``forward(x, output_size=...)`` (ENet calls its transposed convolutions so); any
    other argument is accepted and ignored, like the output size it fixes. The output
    has the size the transposed convolution would give: nearest upsampling by ``s``,
    then zero padding (or cropping) so a ``k x k`` convolution lands on it exactly.
    """
    import torch.nn.functional as F
    from torch import nn

    class ResizeConvFix(nn.Module):
        def __init__(self, conv_t, k_fix: int) -> None:
            super().__init__()
            self.scale = int(conv_t.stride[0])
            self.size_args = (conv_t.stride, conv_t.padding, conv_t.kernel_size,
                              conv_t.dilation, conv_t.output_padding)
            self.upsample = nn.Upsample(scale_factor=self.scale, mode="nearest")
            self.conv = nn.Conv2d(conv_t.in_channels, conv_t.out_channels, k_fix,
                                  groups=conv_t.groups, bias=conv_t.bias is not None)

        def target(self, size, output_size) -> list[int]:
            if output_size is not None:
                return [int(v) for v in list(output_size)[-2:]]
            stride, padding, kernel, dilation, out_pad = self.size_args
            return [conv_transpose_output_size(int(size[a]), kernel[a], stride[a], padding[a],
                                               dilation[a], out_pad[a], validate=False)
                    for a in (0, 1)]

        def forward(self, x, output_size=None, *args, **kwargs):  # (N, C, H, W)
            out = self.target(x.shape[2:], output_size)
            k = self.conv.kernel_size[0]
            y = self.upsample(x)  # (N, C, sH, sW)
            pads = []
            for axis in (1, 0):  # F.pad order: width first
                total = out[axis] - y.shape[2 + axis] + k - 1
                pads += [total // 2, total - total // 2]
            return self.conv(F.pad(y, pads))  # negative pads crop

    return ResizeConvFix


def _resize_conv_fix(layer: LayerAudit, conv_t) -> Any:
    """Nearest upsampling + convolution giving ``conv_t``'s output size, or None."""
    s = layer.stride
    if not s or s[0] != s[1] or s[0] < 2:
        return None
    return _resize_conv_module()(conv_t, fix_kernel(conv_t.kernel_size[0])).to(conv_t.weight.device, conv_t.weight.dtype)


def _set_submodule(root, path: str, new) -> None:
    parent_path, _, leaf = path.rpartition(".")
    parent = root.get_submodule(parent_path) if parent_path else root
    setattr(parent, leaf, new)


def _find_path(root, target) -> str | None:
    for path, sub in root.named_modules():
        if sub is target:
            return path
    return None


#: Key of :func:`measure_fixes`'s entry for every offending layer fixed at once.
ALL_LAYERS = "(all offending layers)"


def _fix_target(layer: LayerAudit, found: Found, module) -> tuple[str | None, Any]:
    """The module path to change for ``layer``'s fix, and that module (or None)."""
    from torch import nn

    target = found.feeder if layer.op == "DepthToSpace" else found.module
    if layer.op == "ConvTranspose" and isinstance(target, nn.ConvTranspose2d):
        return _find_path(module, target), target
    if layer.op == "DepthToSpace" and isinstance(target, nn.Conv2d) and layer.stride:
        return _find_path(module, target), target
    return None, None


def _apply_fix(model, path: str, layer: LayerAudit, seed: int) -> str | None:
    """Change ``model`` (a copy) in place: the layer at ``path`` fixed at initialisation.

    Returns a description, or None when no fix fits.
    """
    import torch

    from ..upsamplers.layers import icnr_

    target = model.get_submodule(path)
    torch.manual_seed(seed)
    if layer.op == "ConvTranspose":
        fix = _resize_conv_fix(layer, target)
        if fix is None:
            return None
        _set_submodule(model, path, fix)
        k = fix.conv.kernel_size
        return f"{path} -> nearest upsampling + {k[0]}x{k[1]} convolution (resize-convolution)"
    target.reset_parameters()
    icnr_(target.weight, target.bias, int(layer.stride[0]))
    return f"{path} re-initialised with ICNR"


def _reinit(model, path: str, seed: int) -> None:
    import torch

    torch.manual_seed(seed)
    model.get_submodule(path).reset_parameters()


def measure_fixes(module, input_shape: Sequence[int], layers: Sequence[LayerAudit],
                  probe_report: ProbeReport, *, calls: Sequence[Found] | None = None,
                  seed: int = 0, output: str | None = None) -> dict[str, dict]:
    """Measured effect of the fixes on a live module, on the scored probe.

    For each offending layer: the score of the module as given (``as_given``), with
    that layer re-initialised as it is (``original_at_init``, PyTorch's default
    initialisation, seeded) and with it swapped for its fix at initialisation
    (``fixed_at_init``: resize-convolution for a transposed convolution, ICNR for a
    sub-pixel layer). The last two compare the designs at the same point; the entry
    :data:`ALL_LAYERS` does the same with every fixable offending layer at once (one
    layer alone says little while others still paint their own pattern). Scores are
    raw :func:`core.maths.metrics.checkerboard_score` values. ``output`` picks the output
    of a forward that returns several (:func:`core.audit.torch_trace.select_output`).
    """
    if calls is None:
        calls, _ = trace_module(module, _trace_tensor(input_shape))
    by_name = {c.name: c for c in calls}
    probe_name = probe_report.scored_on
    probe = probe_report.results[probe_name].input
    n = int(input_shape[0])
    batch = np.repeat(probe.transpose(2, 0, 1)[None], n, axis=0).astype(np.float32)
    period = probe_report.period

    def score_of(model) -> float | None:
        y = torch_runner(model, output)(batch)[0].astype(np.float64).transpose(1, 2, 0)
        scored = to_unit_range(y)  # the probes' SCALING_RULE
        if min(scored.shape[:2]) < 4 * period:
            return None
        return checkerboard_score(scored, period)

    base = {"as_given": probe_report.checkerboard_score, "probe": probe_name, "period": period}
    out: dict[str, dict] = {}
    fixable: list[tuple[str, LayerAudit]] = []
    for layer in layers:
        if not layer.offending or layer.name not in by_name:
            continue
        entry: dict[str, Any] = dict(base)
        path, _ = _fix_target(layer, by_name[layer.name], module)
        fixed = copy.deepcopy(module) if path else None
        what = _apply_fix(fixed, path, layer, seed) if path else None
        if what is None:
            entry["fix"] = ("not swappable automatically (a functional call, no nn layer, or "
                            "no size-preserving fix)")
        else:
            original = copy.deepcopy(module)
            _reinit(original, path, seed)
            try:
                entry.update(original_at_init=score_of(original), fixed_at_init=score_of(fixed),
                             fix=what)
                fixable.append((path, layer))
            except Exception as err:  # noqa: BLE001 - the user's forward may raise anything
                entry["fix"] = (f"{what}: the swapped network does not run "
                                f"({short_error(err, 160)})")
        out[layer.name] = json_safe(entry)
    if len(fixable) > 1:
        original, fixed = copy.deepcopy(module), copy.deepcopy(module)
        for i, (path, layer) in enumerate(fixable):
            _reinit(original, path, seed + i)
            _apply_fix(fixed, path, layer, seed + i)
        out[ALL_LAYERS] = json_safe({**base, "original_at_init": score_of(original),
                                  "fixed_at_init": score_of(fixed),
                                  "fix": f"{len(fixable)} layers fixed together"})
    return out


def attach_fixes(report: AuditReport, module, *, seed: int = 0) -> AuditReport:
    """Add the measured fixes of the live ``module`` to ``report``, an audit of its ONNX
    export: layers are matched by module path (``/up1/deconv/ConvTranspose`` is
    ``up1.deconv``) and op type. Returns ``report`` (changed in place)."""
    if not (report.probes and report.probes.scored_on and report.offending):
        return report
    if len(report.input_shape) != 4:  # a sound or a volume: core.audit.ranked_probes
        from .ranked_live import attach_ranked_fixes

        return attach_ranked_fixes(report, module, seed=seed)
    module, _ = eval_copy(module)
    shape = report.input_shape
    calls, _ = trace_module(module, _trace_tensor(shape))
    live = [analyse_layer(c) for c in calls]
    measured = measure_fixes(module, shape, live, report.probes, calls=calls, seed=seed)
    report.fix_all = measured.pop(ALL_LAYERS, None)
    by_path: dict[tuple, dict] = {}
    for layer in live:
        if layer.name in measured:
            by_path.setdefault((layer.module_path, layer.op), measured[layer.name])
    for layer in report.layers:
        key = (layer.module_path, layer.op)
        if key in by_path:
            layer.fix_measured = by_path[key]
    return report


def _trace_tensor(shape):
    """The input a live module is traced on (:func:`core.audit.probes.trace_input`)."""
    import torch

    return torch.from_numpy(trace_input(shape))


