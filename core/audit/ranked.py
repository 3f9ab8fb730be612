"""The audit of 1-D and 3-D networks (sounds ``(N, C, L)``, volumes ``(N, C, D, H, W)``):
one path for both ranks, on both routes; this module is its analysis (one layer, the chain,
the report), :mod:`~core.audit.ranked_onnx` and :mod:`~core.audit.ranked_live` its routes,
:mod:`~core.audit.ranked_probes` its probes and measured fixes.

The image audit (:mod:`~core.audit.analysis`, :mod:`~core.audit.torch_trace`,
:mod:`~core.audit.onnx_graph`) reads pairs ``(H, W)``; a network whose input has rank 3 or 5
comes here instead (``audit_module`` and ``audit_onnx`` hand it over). Every number is the
rank-generic maths of :mod:`core.maths`: the coverage of each layer's equivalent transposed
convolution along every axis (:func:`core.maths.overlap.coverage_report` of a 1-D or 3-D
input), its phase gains (:func:`core.maths.metrics.polyphase_gains` with ``dims``), the
imbalance, and the same verdict rule (:func:`core.audit.verdict.layer_offends`).

What is found: transposed convolutions, strided convolutions and poolings, nearest and
linear resizes (``Resize``/``Upsample``, ``F.interpolate``) at an integer factor per axis,
and pixel shuffles written as reshapes (``(N, C*r, L) -> (N, C, r, L) -> permute ->
(N, C, L*r)``, its 3-D kin), recognised by the image audit's
:func:`~core.audit.analysis.reshape_resampling` and judged as the 2-D sub-pixel layer is
(phase gains from the convolution feeding it, :func:`~core.audit.analysis.subpixel_gains`).
What is not: fixed filters after a layer (a layer is judged alone; a blur after it is not
credited) - such a network reads "not judged" or "artifact", never a clean verdict it has
not earned.

A free length is audited at a stated default: one second of audio at
:data:`~core.audit.limits.DEFAULT_AUDIO_RATE` Hz, i.e. ``ceil(rate / upsampling)`` frames,
the upsampling read from the strides; a free volume side at
:data:`~core.audit.limits.DEFAULT_VOLUME_SIDE`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..maths.metrics import gain_imbalance, polyphase_gains
from .analysis import layer_coverage, reshape_resampling, subpixel_gains
from .limits import (
    MAX_GAIN_ELEMENTS,
    MAX_KERNEL_EXTENT,
    MAX_RESAMPLING_LAYERS,
    MAX_STRIDE,
    AuditError,
)
from .report import AuditReport, Chain, LayerAudit
from .verdict import ARTIFACT, GRADIENT, NOT_JUDGED, OK, imbalanced, layer_offends

#: Input ranks this module audits, and the spatial axes of each.
RANKS = {3: 1, 5: 3}
AXES = {1: ("L",), 3: ("D", "H", "W")}


def input_rank(shape: Sequence[int | None] | None) -> int | None:
    """1 for ``(N, C, L)``, 3 for ``(N, C, D, H, W)``, None otherwise (images included)."""
    return RANKS.get(len(shape)) if shape is not None else None


def shape_text(shape: Sequence[int]) -> str:
    return ",".join(str(int(v)) for v in shape)


# ---------------------------------------------------------------------------------------
# One layer
# ---------------------------------------------------------------------------------------


@dataclass(eq=False)
class RankedFound:
    """A candidate layer of a 1-D or 3-D network, every tuple one entry per axis."""

    name: str
    op: str  # ConvTranspose, Conv, MaxPool, AveragePool, Resize, DepthToSpace
    dims: int
    kernel: tuple[int, ...] | None = None
    stride: tuple[int, ...] | None = None
    pads: tuple[int, ...] | None = None  # begin of each axis, then end of each (ONNX)
    dilation: tuple[int, ...] | None = None
    output_padding: tuple[int, ...] | None = None
    groups: int = 1
    mode: str | None = None
    in_channels: int | None = None
    out_channels: int | None = None
    in_size: tuple[int, ...] | None = None
    out_size: tuple[int, ...] | None = None
    weight: np.ndarray | None = None  # ConvTranspose: (C_in, C_out / groups, *k);
    # DepthToSpace: the stride-1 Conv feeding it, (C_out * r^d, C_in, *k), or None
    module_path: str | None = None
    module: Any = None  # the live nn.Module (torch route)
    notes: list[str] = field(default_factory=list)


def _scale(f: RankedFound) -> tuple[float, ...] | None:
    if f.in_size is None or f.out_size is None:
        return None
    return tuple(o / i for i, o in zip(f.in_size, f.out_size, strict=True))


def _int_factor(x: float) -> int | None:
    r = round(x)
    return int(r) if r >= 1 and abs(x - r) < 1e-6 else None


def _overlap_args(f: RankedFound) -> dict[str, tuple[int, ...]] | None:
    """The transposed convolution whose coverage stands for the layer, per axis."""
    d = f.dims
    zeros, ones = (0,) * d, (1,) * d
    if f.op in ("ConvTranspose", "Conv", "MaxPool", "AveragePool") and f.kernel and f.stride:
        return {"kernel_size": f.kernel, "stride": f.stride,
                "padding": tuple(f.pads[:d]) if f.pads else zeros,
                "dilation": f.dilation or ones,
                "output_padding": (f.output_padding or zeros) if f.op == "ConvTranspose"
                else zeros}
    if f.op == "DepthToSpace" and f.stride:
        return {"kernel_size": f.stride, "stride": f.stride, "padding": zeros,
                "dilation": ones, "output_padding": zeros}
    if f.op == "Resize":
        scale = _scale(f)
        length = {"nearest": 1, "linear": 2}.get((f.mode or "nearest").lower())
        if scale is None or length is None:
            return None
        if max(scale) < 1:
            s = tuple(_int_factor(1 / v) if v > 0 else None for v in scale)
            if None in s:
                return None
            return {"kernel_size": (length,) * d, "stride": s, "padding": zeros,
                    "dilation": ones, "output_padding": zeros}
        s = tuple(_int_factor(v) for v in scale)
        if None in s:
            return None
        return {"kernel_size": tuple(max(1, length * v) for v in s), "stride": s,
                "padding": zeros, "dilation": ones, "output_padding": zeros}
    return None


def _direction(f: RankedFound) -> str:
    if f.op == "Resize":
        scale = _scale(f)
        return "down" if scale is not None and max(scale) < 1 else "up"
    return "up" if f.op in ("ConvTranspose", "DepthToSpace") else "down"


def reshape_found(name: str, in_size: Sequence[int], out_size: Sequence[int],
                  in_channels: int, out_channels: int, chain: Sequence[str],
                  weight: np.ndarray | None) -> RankedFound | None:
    """The layer a chain of reshapes (torch call names or ONNX operators in ``chain``)
    wrote between two signals or volumes, as the image audit reads it
    (:func:`~core.audit.analysis.reshape_resampling`): a pixel shuffle (``DepthToSpace``,
    with ``weight`` the stride-1 convolution feeding it when known) or a nearest upsampling
    by copies; None for any other (the caller's growth warning stands)."""
    found = reshape_resampling(tuple(in_size), tuple(out_size), in_channels, out_channels,
                               chain, [], None)
    if found is None or found.op not in ("DepthToSpace", "Resize"):
        return None
    d = len(in_size)
    f = RankedFound(name=name, op=found.op, dims=d, in_size=tuple(in_size),
                    out_size=tuple(out_size), in_channels=in_channels,
                    out_channels=out_channels, mode=found.mode)
    if found.op == "DepthToSpace":
        f.stride, f.mode = tuple(found.stride), found.d2s_mode
        if weight is not None and weight.ndim == d + 2 and \
                weight.shape[0] == in_channels and in_channels % found.block ** d == 0:
            f.weight = np.asarray(weight, np.float64)
        f.notes.append(f"a pixel shuffle written as reshapes ({' -> '.join(chain)}): "
                       f"{in_channels} channels to {out_channels} at x{found.block}")
    return f


def _dilate(weight: np.ndarray, dilation: tuple[int, ...]) -> np.ndarray:
    if all(v == 1 for v in dilation):
        return weight
    d = len(dilation)
    sizes = [(k - 1) * r + 1 for k, r in zip(weight.shape[-d:], dilation, strict=True)]
    out = np.zeros((*weight.shape[:-d], *sizes), weight.dtype)
    out[(Ellipsis, *[slice(None, None, r) for r in dilation])] = weight
    return out


def fix_code(layer: LayerAudit, dims: int) -> str | None:
    """PyTorch code for the fix of an offending layer of rank ``dims``: ``nn.Upsample`` +
    ``nn.Conv1d`` / ``nn.Conv3d`` (resize-convolution), or a window divisible by the
    stride for an uneven downsampler."""
    nd = f"{dims}d"
    c_in = layer.in_channels if layer.in_channels is not None else "in_channels"
    c_out = layer.out_channels if layer.out_channels is not None else "out_channels"
    stride = tuple(layer.stride or ())
    s_txt = stride[0] if len(set(stride)) == 1 else stride
    if layer.op == "ConvTranspose":
        k = max(layer.kernel or [3])
        k_fix = k if k % 2 else max(1, k - 1)
        even = tuple(s * math.ceil(kk / s) for kk, s in zip(layer.kernel, stride, strict=True))
        mode = "nearest"
        lines = [
            "import torch.nn as nn",
            "",
            "# Resize-convolution (Odena et al. 2016): nearest upsampling, then a convolution.",
            "# Every output phase sums the same taps: no periodic pattern (no tones at",
            "# k * rate / stride in a sound), at initialisation or after training.",
            "fix = nn.Sequential(",
            f"    nn.Upsample(scale_factor={s_txt}, mode=\"{mode}\"),",
            f"    nn.Conv{nd}({c_in}, {c_out}, kernel_size={k_fix}, padding={k_fix // 2}"
            + (f", groups={layer.groups}" if layer.groups and layer.groups > 1 else "") + "),",
            ")",
        ]
        if layer.uneven:
            lines += ["# Or a kernel divisible by the stride: even overlap, but it can still",
                      "# learn unequal phase gains (check phase_imbalance after training):",
                      f"#   nn.ConvTranspose{nd}({c_in}, {c_out}, kernel_size={even}, "
                      f"stride={s_txt})"]
        return "\n".join(lines)
    if layer.op == "DepthToSpace":
        r = stride[0] if stride else 2
        return "\n".join([
            "import torch",
            "import torch.nn as nn",
            "",
            "# ICNR (Aitken et al. 2017): the r phases of every output channel start as copies",
            "# of one kernel, so at initialisation the layer is a convolution then nearest",
            f"# upsampling. `conv` is the nn.Conv{nd} feeding this pixel shuffle (channel",
            f"# c * {r}**{dims} + phase goes to that phase of channel c).",
            f"def icnr_(conv: nn.Conv{nd}, scale: int = {r}) -> None:",
            f"    n = scale ** {dims}",
            "    sub = torch.empty(conv.weight.shape[0] // n, *conv.weight.shape[1:])",
            "    nn.init.kaiming_normal_(sub)",
            "    with torch.no_grad():",
            "        conv.weight.copy_(sub.repeat_interleave(n, dim=0))",
            "        if conv.bias is not None:",
            "            conv.bias.copy_(conv.bias[::n].repeat_interleave(n))",
            "",
            "# Or resize-convolution, with no phases to learn apart:",
            f"#   nn.Sequential(nn.Upsample(scale_factor={r}, mode=\"nearest\"),",
            f"#                 nn.Conv{nd}(in_channels, {c_out}, kernel_size=3, padding=1))",
            f"# (core.upsamplers.registry.make_upsampler(\"subpixel_icnr\", ..., dims={dims}))",
        ])
    if layer.op in ("Conv", "MaxPool", "AveragePool") and layer.uneven:
        even = tuple(s * max(1, math.ceil(kk / s)) for kk, s in
                     zip(layer.kernel, stride, strict=True))
        line = (f"nn.Conv{nd}({c_in}, {c_out}, kernel_size={even}, stride={s_txt})"
                if layer.op == "Conv" else
                f"nn.{'Max' if layer.op == 'MaxPool' else 'Avg'}Pool{nd}(kernel_size={s_txt}, "
                f"stride={s_txt})")
        return "\n".join(["import torch.nn as nn", "",
                          "# Windows that overlap unevenly read some input samples more often:",
                          "# a checkerboard in the gradient. A window divisible by the stride:",
                          line])
    return None


def _check_limits(f: RankedFound) -> None:
    for what, values in (("stride", f.stride), ("kernel", f.kernel)):
        if values and any(v < 1 for v in values):
            raise AuditError(f"layer {f.name!r} ({f.op}) has a {what} below 1: {values}")
    if f.stride and max(f.stride) > MAX_STRIDE:
        raise AuditError(f"layer {f.name!r} ({f.op}) has stride {max(f.stride)}, above the "
                         f"audit's limit of {MAX_STRIDE}")
    if f.kernel:
        extent = max((k - 1) * d + 1 for k, d in
                     zip(f.kernel, f.dilation or (1,) * len(f.kernel), strict=True))
        if extent > MAX_KERNEL_EXTENT:
            raise AuditError(f"layer {f.name!r} ({f.op}) spans {extent} samples per axis, above "
                             f"the audit's limit of {MAX_KERNEL_EXTENT}")
    if f.weight is not None and f.stride and \
            f.weight.shape[0] * f.weight.shape[1] * math.prod(f.stride) > MAX_GAIN_ELEMENTS:
        raise AuditError(f"layer {f.name!r} ({f.op}) would need a phase-gain table above "
                         f"{MAX_GAIN_ELEMENTS:,} entries")
    if f.weight is not None and not np.all(np.isfinite(f.weight)):
        raise AuditError(f"layer {f.name!r} ({f.op}) has non-finite weight(s): its phase gains "
                         "are not numbers, refused")


def analyse_ranked(f: RankedFound) -> LayerAudit:
    """Verdicts on one layer of a 1-D or 3-D network: overlap, phase gains, severity, fix."""
    _check_limits(f)
    d = f.dims
    direction = _direction(f)
    scale = _scale(f)
    layer = LayerAudit(
        name=f.name, op=f.op, direction=direction, mode=f.mode,
        kernel=list(f.kernel) if f.kernel else None,
        stride=list(f.stride) if f.stride else
        ([_int_factor(v) or v for v in scale] if f.op == "Resize" and scale else None),
        padding=list(f.pads) if f.pads else None,
        dilation=list(f.dilation) if f.dilation else None,
        output_padding=list(f.output_padding) if f.op == "ConvTranspose" and f.output_padding
        else None,
        groups=f.groups if f.op in ("ConvTranspose", "Conv") else None,
        in_channels=f.in_channels, out_channels=f.out_channels,
        in_size=list(f.in_size) if f.in_size else None,
        out_size=list(f.out_size) if f.out_size else None,
        scale=[round(v, 6) for v in scale] if scale else None,
        overlap=_overlap_args(f), module_path=f.module_path, notes=list(f.notes),
    )
    layer.notes.append(f"a {d}-D layer ({', '.join(AXES[d])}): judged along every axis; "
                       "fixed filters after it are not credited")
    report = layer_coverage(layer)  # the image audit's, at every rank
    if report is not None:
        layer.interior_min = report.interior_stats.min
        layer.interior_max = report.interior_stats.max
        layer.uneven = report.interior_stats.max > report.interior_stats.min
    why = None
    if direction == "up":
        if f.op == "ConvTranspose" and f.weight is not None and f.stride:
            gains = polyphase_gains(_dilate(np.asarray(f.weight, np.float64),
                                            f.dilation or (1,) * d), f.stride, dims=d)
            layer.gains = gains
            layer.phase_imbalance = gain_imbalance(gains, dims=d)
            spread = gains.max(axis=tuple(range(-d, 0))) - gains.min(axis=tuple(range(-d, 0)))
            i, o = np.unravel_index(int(np.argmax(spread)), spread.shape)
            layer.worst_pair = (int(i), int(o))
        elif f.op == "ConvTranspose":
            why = "weights are not constants of the graph"
        elif f.op == "DepthToSpace" and f.weight is not None and f.stride:
            gains = subpixel_gains(f.weight, f.stride[0], f.mode or "CRD", dims=d)
            layer.gains = gains
            layer.phase_imbalance = gain_imbalance(gains, dims=d)
        elif f.op == "DepthToSpace":
            why = ("no convolution with known weights feeds it directly: phase gains not "
                   "computed")
        elif f.op == "Resize" and layer.overlap is not None:
            layer.phase_imbalance = 0.0  # a fixed interpolation: every phase sums to one
        elif f.op == "Resize":
            why = f"no overlap model for a {f.mode} resize by {scale}"
        if layer_offends(layer):
            layer.severity = ARTIFACT
        elif layer.uneven is None or layer.phase_imbalance is None:
            layer.severity = NOT_JUDGED
        else:
            layer.severity = OK
        parts = []
        if layer.uneven:
            parts.append(f"uneven overlap (interior max/min {layer.interior_max}/"
                         f"{layer.interior_min})")
        elif layer.uneven is False:
            parts.append("even overlap")
        if layer.phase_imbalance is not None:
            parts.append(f"phase imbalance {layer.phase_imbalance:.3f}"
                         + (" > tolerance" if imbalanced(layer.phase_imbalance) else ""))
        if layer.severity == NOT_JUDGED:
            layer.verdict = f"not judged: {why or 'its phase gains are unknown'}" + (
                f" ({', '.join(parts)})" if parts else "")
        else:
            layer.verdict = ("checkerboard: " if layer.offending else "clean: ") + ", ".join(parts)
    else:
        layer.severity = GRADIENT if layer.uneven else OK
        layer.verdict = (f"windows overlap unevenly (input read {layer.interior_min} to "
                         f"{layer.interior_max} times): checkerboard in the gradient, not the "
                         "output" if layer.uneven else "every input sample read equally often")
    if layer.severity in (ARTIFACT, GRADIENT):
        layer.fix_code = fix_code(layer, d)
    return layer


def chain_ranked(layers: list[LayerAudit], in_size: Sequence[int],
                 out_size: Sequence[int] | None) -> Chain:
    """Factors and predicted period from the layers' strides and sizes: a layer's period is
    its stride times the upsampling after it (the output's size over its own, along the
    axis it resamples most); the network's is their lcm. Sets each up layer's ``period``."""
    periods = []
    ups = [la for la in layers if la.direction == "up"]
    downs = [la for la in layers if la.direction == "down"]
    for layer in ups:
        axis = int(np.argmax(layer.stride)) if layer.stride else 0
        s = layer.stride[axis] if layer.stride else None
        if not s or s < 2 or not out_size or not layer.out_size:
            continue
        after = _int_factor(out_size[axis] / layer.out_size[axis]) if layer.out_size[axis] \
            else None
        if after:
            layer.period = int(s * after)
            periods.append(layer.period)
    up = math.prod(max(la.stride) for la in ups if la.stride) if ups else 1
    down = math.prod(max(la.stride) for la in downs if la.stride) if downs else 1
    net = (out_size[-1] / in_size[-1]) if out_size else float("nan")
    return Chain(total_upsampling=float(up), total_downsampling=float(down),
                 net_scale=round(net, 6), period=math.lcm(*periods) if periods else 1,
                 upsampling_layers=len(ups),
                 offending_layers=sum(1 for la in layers if la.offending))


def report_ranked(source: str, kind: str, input_name: str, shape: list[int],
                  out_shape: list[int] | None, found: list[RankedFound], notes: list[str],
                  warnings: list[str], t0: float) -> AuditReport:
    """Analyse the found layers into a report (probes are added by the caller)."""
    if len(found) > MAX_RESAMPLING_LAYERS:
        raise AuditError(f"the model has {len(found)} resampling layers, above the audit's "
                         f"limit of {MAX_RESAMPLING_LAYERS}")
    layers = [analyse_ranked(f) for f in found]
    chain = chain_ranked(layers, shape[2:], out_shape[2:] if out_shape else None)
    warnings = list(warnings) + unexplained_growth(layers, shape[2:],
                                                   out_shape[2:] if out_shape else None)
    return AuditReport(source, kind, input_name, shape, out_shape, layers, chain, None,
                       notes, {"analysis": time.perf_counter() - t0}, warnings=warnings)


def unexplained_growth(layers: list[LayerAudit], in_size: Sequence[int],
                       out_size: Sequence[int] | None) -> list[str]:
    """A warning when the output is resampled, along some axis, by more than the layers
    found explain (the strides up over the strides down, the ratio rounded to a whole
    factor): something resamples that this audit does not see (reshapes it does not
    recognise, such as zero insertion by stacking zeros; a custom op), so "no checkerboard layer" is not a verdict on the network."""
    if not out_size or len(out_size) != len(in_size):
        return []
    out = []
    for axis, (n_in, n_out) in enumerate(zip(in_size, out_size, strict=True)):
        explained = 1.0
        for layer in layers:
            if layer.stride and len(layer.stride) > axis and layer.stride[axis]:
                s = float(layer.stride[axis])
                explained *= s if layer.direction == "up" else 1.0 / s
        ratio = n_out / n_in if n_in else 1.0
        # whole factors only: pads and kernel borders change sizes, not the resolution
        # (8 -> 18 samples through a 4-tap, stride-2 layer is x2)
        whole = round(ratio) if ratio >= 1 else 1 / max(1, round(1 / ratio))
        if max(ratio, 1 / ratio) >= 1.5 and abs(whole - explained) > 1e-6 * whole:
            out.append(f"the output is x{ratio:g} the input along axis {axis} "
                       f"({n_in} -> {n_out}), but the {len(layers)} layer(s) found explain "
                       f"x{explained:g}: something resamples that the audit does not see "
                       "(reshapes it does not recognise, a custom op), so 'no checkerboard "
                       "layer' is not a verdict on this network")
    return out
