"""Analysis of one layer, shared by the ONNX and the torch routes: overlap, phase gains, the fix.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..maths.metrics import (
    gain_imbalance,
    polyphase_gains,
)
from ..maths.overlap import CoverageReport, coverage_report
from .limits import DOWN_OPS, IMBALANCE_TOLERANCE, UP_OPS
from .report import Chain, LayerAudit, _fmt_pair

# ---------------------------------------------------------------------------------------
# Analysis of one layer (shared by the ONNX and the torch paths)
# ---------------------------------------------------------------------------------------


@dataclass(eq=False)
class _Found:
    """A candidate layer as found in a graph or a forward pass, before the verdicts."""

    name: str
    op: str
    mode: str | None = None
    kernel: tuple[int, int] | None = None
    stride: tuple[int, int] | None = None
    pads: tuple[int, int, int, int] | None = None  # top, left, bottom, right
    dilation: tuple[int, int] = (1, 1)
    output_padding: tuple[int, int] = (0, 0)
    groups: int = 1
    in_channels: int | None = None
    out_channels: int | None = None
    in_size: tuple[int, int] | None = None
    out_size: tuple[int, int] | None = None
    weight: Callable[[], np.ndarray | None] | None = None  # lazily: ConvT or feeding conv
    block: int | None = None  # DepthToSpace / SpaceToDepth block size
    d2s_mode: str = "CRD"
    module_path: str | None = None
    module: Any = None  # the nn.Module to swap for a fix (torch path only)
    feeder: Any = None  # the nn.Conv2d feeding a pixel shuffle (torch path only)
    align_corners: bool | None = None  # linear/cubic resizes
    src: str | None = None  # ONNX: the tensor the layer reads
    tail: str | None = None  # ONNX: the tensor the layer (with its filters) writes
    source_channels: int | None = None  # in-channels of the conv feeding a pixel shuffle
    #: Fixed linear filters after the layer, before the next nonlinearity, in order
    #: (:class:`Filter`): the network outputs the layer composed with them.
    filters: list[Filter] = field(default_factory=list)


@dataclass(eq=False)
class Filter:
    """A fixed linear, channel-wise operation after an upsampler: a blur (``taps``, one
    ``(kh, kw)`` kernel per channel or one for all) or a per-channel scale (``scale``,
    e.g. an eval-mode BatchNorm). Shifts, pads, crops and bias adds change no phase gain
    and are passed over without a Filter."""

    name: str
    taps: np.ndarray | None = None  # (C, kh, kw) or (1, kh, kw)
    scale: np.ndarray | None = None  # (C,)

    @property
    def spatial(self) -> bool:
        return self.taps is not None and self.taps.shape[-2:] != (1, 1)


def depthwise_filter(weight: np.ndarray, groups: int, channels: int | None,
                     name: str) -> Filter | None:
    """The Filter of a stride-1 convolution with a ``(C, 1, kh, kw)`` weight that filters
    each channel on its own (``groups == C``, or one channel): a fixed smoothing the audit
    credits on both routes. None when the convolution mixes channels."""
    c_w = weight.shape[0]
    if not (groups == c_w == channels or (groups == 1 and c_w == 1 and channels == 1)):
        return None
    return Filter(f"{weight.shape[2]}x{weight.shape[3]} {name}",
                  taps=np.asarray(weight[:, 0], np.float64))


def box_filter(kh: int, kw: int, name: str) -> Filter:
    """The Filter of a stride-1 ``kh x kw`` average pooling (a box blur)."""
    kh, kw = int(kh), int(kw)
    return Filter(f"{kh}x{kw} {name}", taps=np.full((1, kh, kw), 1.0 / (kh * kw)))


def _integer(x: float) -> int | None:
    r = round(x)
    return int(r) if r >= 1 and abs(x - r) < 1e-6 else None


def _scale(found: _Found) -> tuple[float, float] | None:
    if found.in_size is None or found.out_size is None:
        return None
    return (found.out_size[0] / found.in_size[0], found.out_size[1] / found.in_size[1])


def _direction(found: _Found) -> str:
    if found.op in ("Resize", "Upsample"):  # the sizes decide: a resize by 0.5 shrinks
        scale = _scale(found)
        return "down" if scale is not None and max(scale) < 1 else "up"
    if found.op in UP_OPS:
        return "up"
    return "down"


def _overlap_args(found: _Found) -> dict[str, tuple[int, int]] | None:
    """The transposed convolution whose coverage stands for this layer (see module doc)."""
    op = found.op
    if op == "ConvTranspose" and found.kernel and found.stride:
        return {"kernel_size": found.kernel, "stride": found.stride,
                "padding": (found.pads[0], found.pads[1]) if found.pads else (0, 0),
                "dilation": found.dilation, "output_padding": found.output_padding}
    if op == "ZeroInsertion" and found.block:
        b = (found.block, found.block)
        return {"kernel_size": (1, 1), "stride": b, "padding": (0, 0), "dilation": (1, 1),
                "output_padding": (0, 0)}
    if op == "MaxUnpool" and found.kernel and found.stride:
        return {"kernel_size": found.kernel, "stride": found.stride,
                "padding": (found.pads[0], found.pads[1]) if found.pads else (0, 0),
                "dilation": (1, 1), "output_padding": (0, 0)}
    if op in ("DepthToSpace", "SpaceToDepth") and found.block:
        b = (found.block, found.block)
        return {"kernel_size": b, "stride": b, "padding": (0, 0), "dilation": (1, 1),
                "output_padding": (0, 0)}
    if op in ("Resize", "Upsample"):
        scale = _scale(found)
        if scale is None:
            return None
        mode = (found.mode or "nearest").lower()
        length = {"nearest": 1, "linear": 2, "cubic": 4}.get(mode)
        if length is None:
            return None
        if max(scale) < 1:  # a downsizing resize samples every s-th pixel (s = 1/scale)
            s = tuple(_integer(1 / v) if v > 0 else None for v in scale)
            if None in s:
                return None
            return {"kernel_size": (length, length), "stride": s, "padding": (0, 0),
                    "dilation": (1, 1), "output_padding": (0, 0)}
        s = tuple(_integer(v) for v in scale)
        if None in s:
            return None
        k = tuple(max(1, length * v) for v in s)
        return {"kernel_size": k, "stride": s, "padding": (0, 0), "dilation": (1, 1),
                "output_padding": (0, 0)}
    if op in ("Conv", "MaxPool", "AveragePool", "LpPool") and found.kernel and found.stride:
        return {"kernel_size": found.kernel, "stride": found.stride,
                "padding": (found.pads[0], found.pads[1]) if found.pads else (0, 0),
                "dilation": found.dilation, "output_padding": (0, 0)}
    return None


def layer_coverage(layer: LayerAudit, size: int = 6) -> CoverageReport | None:
    """The coverage (:func:`core.maths.overlap.coverage_report`) of ``layer``'s equivalent
    transposed convolution on a ``size x size`` input (for views; the interior verdict
    does not depend on ``size``). None when overlap does not apply.

    For downsampling layers the map is over the layer's *input*: how often each input
    pixel is read (the gradient's overlap).
    """
    args = layer.overlap
    if args is None:
        return None
    try:
        return coverage_report(args["kernel_size"], args["stride"], (size, size),
                               padding=args["padding"], dilation=args["dilation"],
                               output_padding=args["output_padding"])
    except ValueError:  # padding too large for a small map: the interior is the same
        return coverage_report(args["kernel_size"], args["stride"], (size, size),
                               dilation=args["dilation"])


def _dilate(weight: np.ndarray, dilation: tuple[int, int]) -> np.ndarray:
    """Insert zeros between taps: the kernel a dilated layer effectively paints."""
    dh, dw = dilation
    if dh == 1 and dw == 1:
        return weight
    kh, kw = weight.shape[-2:]
    out = np.zeros((*weight.shape[:-2], (kh - 1) * dh + 1, (kw - 1) * dw + 1), weight.dtype)
    out[..., ::dh, ::dw] = weight
    return out


def _subpixel_gains(weight: np.ndarray, block: int, mode: str) -> np.ndarray:
    """``(C_in, C_out, r, r)`` tap sums of the conv feeding a DepthToSpace.

    CRD (PyTorch's PixelShuffle): channel ``c*r*r + a*r + b`` goes to phase ``(a, b)`` of
    channel ``c``; DCR: channel ``(a*r + b)*C + c``.
    """
    sums = weight.reshape(weight.shape[0], weight.shape[1], -1).sum(axis=2)  # (C*r*r, C_in)
    c = sums.shape[0] // (block * block)
    if mode.upper() == "DCR":
        g = sums.reshape(block, block, c, -1)  # (a, b, C_out, C_in)
        return g.transpose(3, 2, 0, 1)
    g = sums.reshape(c, block, block, -1)  # (C_out, a, b, C_in)
    return g.transpose(3, 0, 1, 2)


def _gains(found: _Found) -> tuple[np.ndarray | None, str | None]:
    """Per-phase DC gains of an upsampler from its weights, or (None, why not)."""
    if found.op in ("Resize", "Upsample", "MaxUnpool"):
        return None, None
    if found.op == "ZeroInsertion":
        return _zero_insertion_gains(found), None
    if found.weight is None:
        if found.op == "DepthToSpace":
            return None, ("no convolution with known weights feeds it directly: phase gains "
                          "not computed")
        return None, "weights are not constants of the graph"
    weight = found.weight()
    if weight is None:
        return None, "weights are not constants of the graph"
    weight = np.asarray(weight, dtype=np.float64)
    if found.op == "ConvTranspose":
        sh, sw = found.stride or (1, 1)
        if sh != sw:
            return None, f"stride {sh}x{sw} is not square: phase gains not computed"
        return polyphase_gains(_dilate(weight, found.dilation), int(sh)), None
    if found.op == "DepthToSpace" and found.block:
        if weight.ndim != 4 or weight.shape[0] % (found.block ** 2):
            return None, "the convolution feeding it does not fit the block size"
        return _subpixel_gains(weight, found.block, found.d2s_mode), None
    return None, None


def _zero_insertion_gains(found: _Found) -> np.ndarray:
    """``(1, C, s, s)``: zero insertion keeps phase (0, 0) of every channel, zeros the rest."""
    s = found.block
    g = np.zeros((1, found.out_channels or 1, s, s))
    g[..., 0, 0] = 1.0
    return g


def _apply_filters(gains: np.ndarray, filters: Sequence[Filter], s: int) -> np.ndarray:
    """Phase gains of the layer followed by ``filters``.

    A filter ``h`` after a layer of stride ``s`` mixes the phases: output phase ``a``
    sums ``h[u] * G[a - u mod s]`` (a circular convolution of the ``s x s`` gain grid
    with ``h`` folded by phase). A [1, 3, 3, 1] blur folds to equal phases (1+3, 3+1),
    so it evens out any gains at stride 2; a per-channel scale only weights channels.
    """
    g = np.array(gains, dtype=np.float64)  # (C_in, C_out, s, s)
    c_out = g.shape[1]
    for f in filters:
        if f.scale is not None:
            scale = np.asarray(f.scale, dtype=np.float64).reshape(-1)
            if scale.size in (1, c_out):
                g = g * scale.reshape(1, -1, 1, 1)
        if f.taps is not None:
            taps = np.asarray(f.taps, dtype=np.float64)
            if taps.shape[0] not in (1, c_out):
                continue
            folded = polyphase_gains(taps[:, None], s)[:, 0]  # taps by phase: (C or 1, s, s)
            out = np.zeros_like(g)
            for p in range(s):
                for q in range(s):
                    out += folded[None, :, p, q, None, None] * np.roll(g, (p, q), axis=(-2, -1))
            g = out
    return g


def _evidence() -> list[str]:
    """What the lab's own trained networks measured for the fixes (comment lines computed
    from the shipped histories, :func:`core.experiment.front.remedy_lines`; none when the
    checkpoints are not beside the code). Imported late: only a fix suggestion needs it."""
    from ..experiment.front import remedy_lines

    lines = list(remedy_lines())
    return ["", *lines] if lines else []


def fix_kernel(k: int) -> int:
    """The resize-convolution's kernel that replaces a ``k``-tap transposed convolution:
    ``k`` if odd, else ``k - 1`` (an odd kernel keeps the output centred). One rule for the
    fix code printed and the fix measured (:mod:`core.audit.measured`)."""
    return k if k % 2 else max(1, k - 1)


def _fix_code(layer: LayerAudit) -> str | None:
    """PyTorch code for the fix of an offending (or gradient-uneven) layer."""
    c_in = layer.in_channels if layer.in_channels is not None else "in_channels"
    c_out = layer.out_channels if layer.out_channels is not None else "out_channels"
    if layer.op == "ConvTranspose":
        s = layer.stride[0] if layer.stride and len(set(layer.stride)) == 1 else None
        k = layer.kernel[0] if layer.kernel and len(set(layer.kernel)) == 1 else 3
        s_txt = s if s is not None else "scale"
        k_fix = fix_kernel(k)
        even_k = (s * math.ceil(k / s)) if s else "a multiple of the stride"
        lines = [
            "import torch.nn as nn",
            "",
            "# Resize-convolution (Odena et al. 2016): nearest upsampling, then a convolution.",
            "# Every output phase sums the same taps: no checkerboard, at initialisation or",
            "# after training.",
            "fix = nn.Sequential(",
            f"    nn.Upsample(scale_factor={s_txt}, mode=\"nearest\"),",
            f"    nn.Conv2d({c_in}, {c_out}, kernel_size={k_fix}, padding={k_fix // 2}"
            + (f", groups={layer.groups}" if layer.groups and layer.groups > 1 else "") + "),",
            ")",
            "",
            "# The lab's equivalent at transposed-convolution cost (one conv at the input size):",
            f"#   core.upsamplers.registry.make_upsampler(\"fused_resize\", {c_in}, {c_out}, scale={s_txt}, "
            f"kernel_size={k_fix})",
            "# Or keep this layer and append a fixed hold (Sugawara et al. 2019):",
            f"#   core.upsamplers.registry.make_upsampler(\"deconv_zoh\", {c_in}, {c_out}, scale={s_txt}, "
            f"kernel_size={k})",
        ]
        if layer.uneven and s:
            lines += [
                "# Or a kernel divisible by the stride: even overlap, but it can still learn",
                "# unequal phase gains (check phase_imbalance after training):",
                f"#   nn.ConvTranspose2d({c_in}, {c_out}, kernel_size={even_k}, stride={s}, "
                f"padding={(even_k - s) // 2})",
            ]
        return "\n".join(lines + _evidence())
    if layer.op == "DepthToSpace":
        r = layer.stride[0] if layer.stride else "scale"
        c_src = layer.source_channels if layer.source_channels is not None else "in_channels"
        return "\n".join([
            "import torch",
            "import torch.nn as nn",
            "",
            "# ICNR initialisation (Aitken et al. 2017): the r*r phases of every output",
            "# channel start from one kernel, so the layer starts as conv + nearest upsampling.",
            "# `conv` is the nn.Conv2d feeding this PixelShuffle / DepthToSpace.",
            "@torch.no_grad()",
            f"def icnr_(conv: nn.Conv2d, scale: int = {r}) -> None:",
            "    w0 = torch.empty(conv.out_channels // scale**2, *conv.weight.shape[1:])",
            "    nn.init.kaiming_normal_(w0)",
            "    conv.weight.copy_(w0.repeat_interleave(scale**2, dim=0))",
            "    if conv.bias is not None:",
            "        conv.bias.copy_(conv.bias.view(-1, scale**2)[:, :1].expand(-1, scale**2)"
            ".reshape(-1))",
            "",
            "# (the lab's own: core.upsamplers.layers.icnr_(conv.weight, conv.bias, scale))",
            "# A trained layer whose phases drifted apart: replace the convolution and the",
            "# shuffle by resize-convolution (from the convolution's input channels):",
            f"#   nn.Sequential(nn.Upsample(scale_factor={r}, mode=\"nearest\"), "
            f"nn.Conv2d({c_src}, {c_out}, 3, padding=1))",
            "# Or keep it and blur after the shuffle (fixed s x s box, Sugawara et al. 2018):",
            f"#   core.upsamplers.registry.make_upsampler(\"subpixel_icnr_blur\", {c_src}, "
            f"{c_out}, scale={r})",
            *_evidence(),
        ])
    if layer.op in ("Resize", "Upsample") and layer.direction == "down":
        s = layer.overlap["stride"][0] if layer.overlap else 2
        return "\n".join([
            "import torch.nn as nn",
            "",
            "# A downsizing resize that skips pixels sends gradient to some input pixels",
            "# only: average every window instead (each pixel read once):",
            f"nn.AvgPool2d(kernel_size={s}, stride={s})",
        ])
    if layer.op in ("Resize", "Upsample"):
        return "\n".join([
            "import torch.nn as nn",
            "",
            "# A nearest resize by a non-integer factor repeats some pixels more often than",
            "# others: a periodic pattern. Use an integer factor, or interpolate smoothly:",
            "nn.Upsample(scale_factor=2, mode=\"nearest\")  # integer factor",
            "nn.Upsample(size=(H_out, W_out), mode=\"bilinear\", align_corners=False)",
        ])
    if layer.op in DOWN_OPS and layer.uneven:
        s = layer.stride[0] if layer.stride else 2
        k = layer.kernel[0] if layer.kernel else 3
        even_k = s * max(1, math.ceil(k / s))
        pad = (even_k - s) // 2
        if layer.op == "Conv":
            line = (f"nn.Conv2d({c_in}, {c_out}, kernel_size={even_k}, stride={s}, "
                    f"padding={pad})")
        elif layer.op == "MaxPool":
            line = f"nn.MaxPool2d(kernel_size={s}, stride={s})"
        else:
            line = f"nn.AvgPool2d(kernel_size={s}, stride={s})"
        return "\n".join([
            "import torch.nn as nn",
            "",
            "# Windows that overlap unevenly read some input pixels more often than others:",
            "# the gradient sent back through this layer is a checkerboard (Distill,",
            "# 'Artifacts in gradients'). A kernel divisible by the stride reads every",
            "# pixel equally often:",
            line,
        ])
    return None


def _analyse(found: _Found) -> LayerAudit:
    """Verdicts on one layer: overlap, phase gains, severity, fix code."""
    scale = _scale(found)
    direction = _direction(found)
    layer = LayerAudit(
        name=found.name, op=found.op, direction=direction,
        mode=found.mode if found.op in ("Resize", "Upsample") else
        (found.d2s_mode if found.op == "DepthToSpace" else None),
        kernel=list(found.kernel) if found.kernel else None,
        stride=list(found.stride) if found.stride else
        ([found.block, found.block] if found.block else None),
        # (a ZeroInsertion has stride = block and a 1x1 kernel)
        padding=list(found.pads) if found.pads else None,
        dilation=list(found.dilation) if found.op in ("ConvTranspose", "Conv", "MaxPool")
        else None,
        output_padding=list(found.output_padding) if found.op == "ConvTranspose" else None,
        groups=found.groups if found.op in ("ConvTranspose", "Conv") else None,
        in_channels=found.in_channels, out_channels=found.out_channels,
        in_size=list(found.in_size) if found.in_size else None,
        out_size=list(found.out_size) if found.out_size else None,
        scale=[round(v, 6) for v in scale] if scale else None,
        overlap=_overlap_args(found), module_path=found.module_path,
        align_corners=found.align_corners, source_channels=found.source_channels,
        filters=[f.name for f in found.filters] or None,
        blur=any(f.spatial for f in found.filters) if direction == "up" else None,
    )
    if layer.blur and layer.overlap is not None:
        # The network outputs the layer convolved with the blurs: a kernel longer by
        # (kh - 1) per blur, so the overlap is the composition's.
        grow = [sum(f.taps.shape[-2 + axis] - 1 for f in found.filters if f.spatial)
                for axis in (0, 1)]
        k = layer.overlap["kernel_size"]
        layer.overlap = {**layer.overlap,
                         "kernel_size": (k[0] + grow[0], k[1] + grow[1])}
        layer.notes.append(
            "judged together with the fixed filter(s) after it before the next "
            f"nonlinearity ({', '.join(layer.filters)}): overlap and phase gains are those "
            f"of the composition (an effective {layer.overlap['kernel_size'][0]}x"
            f"{layer.overlap['kernel_size'][1]} kernel)")
    if found.op in ("Resize", "Upsample") and found.align_corners:
        layer.notes.append("align_corners=True: the sample positions are not a fixed "
                           "s-periodic grid (each output pixel's weights drift across the "
                           "image); the integer-factor overlap model is an approximation")
    if found.op == "MaxUnpool":
        layer.notes.append("max-unpooling writes each value where the pooling found its "
                           "maximum: which phase it lands in depends on the data, so there are "
                           "no fixed phase gains; the overlap is that of its window")
    report = layer_coverage(layer)
    if report is not None:
        layer.interior_min = report.interior_stats.min
        layer.interior_max = report.interior_stats.max
        layer.uneven = report.interior_stats.max > report.interior_stats.min
    if found.op in ("Resize", "Upsample") and (found.mode or "nearest").lower() == "nearest" \
            and scale is not None and layer.overlap is None:
        layer.uneven = True  # non-integer nearest: some pixels repeated more often
        layer.notes.append("nearest resize by a non-integer factor "
                           f"{scale[0]:.3g}x{scale[1]:.3g}: pixels are repeated unequally")
    if direction == "up":
        gains, why = _gains(found)
        if why:
            layer.notes.append(why)
        if gains is not None and found.filters and layer.stride \
                and layer.stride[0] == layer.stride[1]:
            gains = _apply_filters(gains, found.filters, int(layer.stride[0]))
        if gains is not None:
            layer.gains = gains
            layer.phase_imbalance = gain_imbalance(gains)
            spread = gains.max(axis=(-2, -1)) - gains.min(axis=(-2, -1))
            i, o = np.unravel_index(int(np.argmax(spread)), spread.shape)
            layer.worst_pair = (int(i), int(o))
        elif found.op in ("Resize", "Upsample") and layer.overlap is not None:
            layer.phase_imbalance = 0.0  # a fixed interpolation: every phase sums to one
        imbalanced = (layer.phase_imbalance or 0.0) > IMBALANCE_TOLERANCE
        layer.severity = "artifact" if (layer.uneven or imbalanced) else "ok"
        parts = []
        if layer.uneven:
            parts.append(f"uneven overlap (interior max/min {layer.interior_max}/"
                         f"{layer.interior_min})" if layer.interior_min is not None
                         else "uneven resampling")
        elif layer.uneven is False:
            parts.append("even overlap")
        if layer.phase_imbalance is not None:
            parts.append(f"phase imbalance {layer.phase_imbalance:.3f}"
                         + (" > tolerance" if imbalanced else ""))
        if parts:
            layer.verdict = ("checkerboard: " if layer.offending else "clean: ") + ", ".join(parts)
        else:
            layer.verdict = ("not judged: no overlap model or weights for this layer "
                             f"(scale {_fmt_pair(layer.scale) or '?'})")
    else:
        layer.severity = "gradient" if layer.uneven else "ok"
        layer.verdict = (
            f"windows overlap unevenly (input read {layer.interior_min} to "
            f"{layer.interior_max} times): checkerboard in the gradient, not the output"
            if layer.uneven and layer.interior_min is not None else
            "input pixels are read unequally: checkerboard in the gradient, not the output"
            if layer.uneven else "every input pixel read equally often")
    if layer.severity != "ok":
        layer.fix_code = _fix_code(layer)
    return layer


def _chain(layers: list[LayerAudit], in_size: tuple[int, int] | None,
           out_size: tuple[int, int] | None) -> Chain:
    """Factors and predicted period; sets each upsampling layer's ``period``.

    The factors are read along the graph, not multiplied over all layers (parallel
    branches would count twice): each downsampling layer reaches the level
    ``network input / its output size`` (to the nearest integer when within 10 %: odd
    sizes round), and the total downsampling is the deepest level reached; the total upsampling is the largest upsampled output over
    the smallest upsampled input. For a plain chain both are the products.
    """
    up_layers = [la for la in layers if la.direction == "up" and la.in_size and la.out_size]
    down_layers = [la for la in layers if la.direction == "down" and la.in_size
                   and la.out_size]
    up = 1.0
    if up_layers:
        up = max(la.out_size[0] for la in up_layers) / min(la.in_size[0] for la in up_layers)
    down = 1.0
    if down_layers and in_size:
        levels = []
        for la in down_layers:
            level = in_size[0] / la.out_size[0]
            near = round(level)
            levels.append(near if near and abs(level - near) < 0.1 * level else level)
        down = max(levels)
    periods = []
    for layer in up_layers:
        if out_size is None:
            continue
        s = layer.stride[0] if layer.stride else None
        if layer.op in ("Resize", "Upsample"):
            s = _integer(layer.scale[0]) if layer.scale else None
        if not s or s < 2:
            continue
        stretch = out_size[0] / layer.out_size[0]
        period = _integer(s * stretch)
        if period and period >= 2:
            layer.period = period
            periods.append(period)
    net = (out_size[0] / in_size[0]) if in_size and out_size else float("nan")
    return Chain(total_upsampling=round(up, 6), total_downsampling=round(down, 6),
                 net_scale=round(net, 6), period=math.lcm(*periods),
                 upsampling_layers=len([la for la in layers if la.direction == "up"]),
                 offending_layers=sum(1 for la in layers if la.offending))
