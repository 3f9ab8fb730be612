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
from .limits import DOWN_OPS, IMBALANCE_TOLERANCE, MIN_IMAGE_SIDE, UP_OPS, AuditError
from .report import Chain, LayerAudit, format_pair
from .verdict import ARTIFACT, GRADIENT, NOT_JUDGED, OK, imbalanced, layer_offends

# ---------------------------------------------------------------------------------------
# Analysis of one layer (shared by the ONNX and the torch paths)
# ---------------------------------------------------------------------------------------


@dataclass(eq=False)
class Found:
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
    #: Resolution of the input relative to the network's input, from the strides along
    #: the graph (set by the routes; None: unknown or global context).
    level: float | None = None
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


def integer_factor(x: float) -> int | None:
    """``x`` as a positive integer when it is one (to 1e-6), else None."""
    r = round(x)
    return int(r) if r >= 1 and abs(x - r) < 1e-6 else None


def _scale(found: Found) -> tuple[float, float] | None:
    if found.in_size is None or found.out_size is None:
        return None
    return (found.out_size[0] / found.in_size[0], found.out_size[1] / found.in_size[1])


def _direction(found: Found) -> str:
    if found.op in ("Resize", "Upsample"):  # the sizes decide: a resize by 0.5 shrinks
        scale = _scale(found)
        return "down" if scale is not None and max(scale) < 1 else "up"
    if found.op in UP_OPS:
        return "up"
    return "down"


def near_integer(x: float, tolerance: float = 0.1) -> float:
    """``x`` rounded to the nearest integer (or ``1/x`` to its nearest, for ``x < 1``)
    when within ``tolerance`` of it: a resize from 2n-1 to 2n pixels is a factor of 1,
    15 to 32 is 2 (odd sizes round)."""
    if x <= 0 or not math.isfinite(x):
        return x
    if x < 1:
        return 1.0 / near_integer(1.0 / x, tolerance)
    r = round(x)
    return float(r) if abs(x - r) <= tolerance * x else x


def same_level(ratio: float) -> bool:
    """Whether a size ratio between two images keeps the resolution: a chain of reshapes,
    pads and fixed filters whose output is within 2/3 to 3/2 of its input's size (a FIR
    filter's pads and crops: 9x9 to 8x8) did not resample; resampling by reshapes is at
    least x2 or /2."""
    return 2 / 3 < ratio < 3 / 2


def size_fixup(in_size: Sequence[int] | None, out_size: Sequence[int] | None) -> bool:
    """Whether a resize only fixes the size up by at most one pixel per side (2n-1 to 2n
    after a k3/s2/p1 transposed convolution, 7 to 8) or keeps it: not resampling, on both
    routes (a 1 -> 2 or 2 -> 3 resize still is)."""
    if in_size is None or out_size is None:
        return False
    return all(abs(int(o) - int(i)) <= 1 and int(i) >= 3 for i, o in zip(in_size, out_size,
                                                                         strict=True)) \
        or tuple(in_size) == tuple(out_size)


def level_factor(found: Found) -> float | None:
    """How much the layer multiplies the resolution along the graph: its stride for an
    upsampler, one over its stride for a downsampler, a resize its size ratio (nearest
    integer within 10 %). The factors, not the sizes, give the totals and the period
    (pads and crops change sizes, not resolution)."""
    if found.op in ("Resize", "Upsample"):
        if size_fixup(found.in_size, found.out_size):
            return 1.0
        scale = _scale(found)
        return near_integer(scale[0]) if scale is not None else None
    s = found.stride[0] if found.stride else found.block
    if not s:
        return None
    return float(s) if _direction(found) == "up" else 1.0 / s


#: Calls (torch names) and operators (ONNX names) that rearrange pixels: a chain of
#: reshapes holding one of these between two images may have resampled them.
RESHAPE_OPS = frozenset({"view", "reshape", "permute", "transpose", "expand", "expand_as",
                         "repeat", "repeat_interleave", "flatten", "unflatten", "movedim",
                         "tile", "Reshape", "Transpose", "Expand", "Tile", "Flatten"})
#: Of those, the ones that copy pixels (nearest upsampling written as reshapes).
_COPY_OPS = frozenset({"expand", "expand_as", "repeat", "repeat_interleave", "tile", "Expand",
                       "Tile"})


def reshape_resampling(in_size: tuple[int, ...], out_size: tuple[int, ...],
                       in_channels: int | None, out_channels: int, chain: Sequence[str],
                       filters: Sequence[Filter], level: float | None) -> Found | None:
    """The resampling layer a chain of reshapes wrote between two images (or, at any rank,
    two signals or volumes: sizes of 1 or 3 axes), from the sizes, channels and the ops of
    the chain (torch call names or ONNX operators): pixel unshuffle (C r^d channels at 1/r:
    SpaceToDepth), pixel shuffle (C / r^d at r: DepthToSpace), zero insertion (a pad at r,
    same channels, with the fixed ``filters`` met on the chain) or nearest upsampling (an
    expand or tile at r); None when none fits (the caller says it was not judged)."""
    ratios = [o / i for i, o in zip(in_size, out_size, strict=True)]
    rh, d = ratios[0], len(ratios)
    if any(abs(rh - v) > 1e-9 for v in ratios) or in_channels is None:
        return None
    base = dict(name="", in_size=tuple(in_size), out_size=tuple(out_size),
                in_channels=in_channels, out_channels=out_channels, level=level)
    if rh < 1:
        r = round(1 / rh)
        if abs(1 / rh - r) > 1e-6 or r < 2 or out_channels != in_channels * r ** d:
            return None
        return Found(**base, op="SpaceToDepth", block=r, stride=(r,) * d)
    r = round(rh)
    if abs(rh - r) > 1e-6 or r < 2:
        return None
    if in_channels == out_channels * r ** d:
        return Found(**base, op="DepthToSpace", block=r, stride=(r,) * d, d2s_mode="CRD")
    if in_channels != out_channels:
        return None
    if any(op in ("pad", "Pad") for op in chain):
        return Found(**base, op="ZeroInsertion", block=r, stride=(r,) * d, kernel=(1,) * d,
                     pads=(0,) * (2 * d), filters=list(filters))
    if any(op in _COPY_OPS for op in chain):
        return Found(**base, op="Resize", mode="nearest")
    return None


def _overlap_args(found: Found) -> dict[str, tuple[int, int]] | None:
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
            s = tuple(integer_factor(1 / v) if v > 0 else None for v in scale)
            if None in s:
                return None
            return {"kernel_size": (length, length), "stride": s, "padding": (0, 0),
                    "dilation": (1, 1), "output_padding": (0, 0)}
        s = tuple(integer_factor(v) for v in scale)
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
    shape = (size,) * len(args["kernel_size"])  # a sound's (size,), a volume's (size,) * 3
    try:
        return coverage_report(args["kernel_size"], args["stride"], shape,
                               padding=args["padding"], dilation=args["dilation"],
                               output_padding=args["output_padding"])
    except ValueError:  # padding too large for a small map: the interior is the same
        pass
    try:
        return coverage_report(args["kernel_size"], args["stride"], shape,
                               dilation=args["dilation"])
    except ValueError:  # a map too large to draw (a stride in the thousands): no evidence
        return None


def _dilate(weight: np.ndarray, dilation: tuple[int, int]) -> np.ndarray:
    """Insert zeros between taps: the kernel a dilated layer effectively paints."""
    dh, dw = dilation
    if dh == 1 and dw == 1:
        return weight
    kh, kw = weight.shape[-2:]
    out = np.zeros((*weight.shape[:-2], (kh - 1) * dh + 1, (kw - 1) * dw + 1), weight.dtype)
    out[..., ::dh, ::dw] = weight
    return out


def subpixel_gains(weight: np.ndarray, block: int, mode: str = "CRD",
                   dims: int = 2) -> np.ndarray:
    """``(C_in, C_out, r, ..., r)`` tap sums (``dims`` phase axes) of the conv feeding a
    DepthToSpace (a pixel shuffle of rank ``dims``).

    CRD (PyTorch's PixelShuffle, and its 1-D/3-D versions): channel ``c*r*r + a*r + b`` goes
    to phase ``(a, b)`` of channel ``c``; DCR: channel ``(a*r + b)*C + c``.
    """
    sums = weight.reshape(weight.shape[0], weight.shape[1], -1).sum(axis=2)  # (C*r^d, C_in)
    c = sums.shape[0] // (block ** dims)
    phases = tuple(range(dims))
    if mode.upper() == "DCR":
        g = sums.reshape(*(block,) * dims, c, -1)  # (a.., C_out, C_in)
        return g.transpose(dims + 1, dims, *phases)
    g = sums.reshape(c, *(block,) * dims, -1)  # (C_out, a.., C_in)
    return g.transpose(dims + 1, 0, *(p + 1 for p in phases))


def _gains(found: Found) -> tuple[np.ndarray | None, str | None]:
    """Per-phase DC gains of an upsampler from its weights, or (None, why not)."""
    if found.op in ("Resize", "Upsample"):
        return None, None
    if found.op in ("ZeroInsertion", "MaxUnpool"):
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
    if not np.all(np.isfinite(weight)):
        bad = int(weight.size - np.count_nonzero(np.isfinite(weight)))
        raise AuditError(f"layer {found.name!r} ({found.op}) has {bad:,} non-finite weight(s) "
                         f"(NaN or infinity) of {weight.size:,}: its phase gains are not "
                         "numbers, refused")
    if found.op == "ConvTranspose":
        sh, sw = found.stride or (1, 1)
        if sh != sw:
            return None, f"stride {sh}x{sw} is not square: phase gains not computed"
        return polyphase_gains(_dilate(weight, found.dilation), int(sh)), None
    if found.op == "DepthToSpace" and found.block:
        if weight.ndim != 4 or weight.shape[0] % (found.block ** 2):
            return None, "the convolution feeding it does not fit the block size"
        return subpixel_gains(weight, found.block, found.d2s_mode), None
    return None, None


def _zero_insertion_gains(found: Found) -> np.ndarray:
    """``(1, C, s, s)``: zero insertion keeps phase (0, 0) of every channel, zeros the rest.

    Max-unpooling gets the same gains: on a flat input every window's maximum is its
    first element (ties go to the first index), so every value lands on one phase."""
    s = found.block or (found.stride[0] if found.stride else 1)
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


def folds_evenly(filters: Sequence[Filter], s: int, tolerance: float = 1e-9) -> bool:
    """Whether the spatial filters after a stride-``s`` layer fold to equal sums on every
    phase (a [1, 3, 3, 1] blur at stride 2: 1+3 = 3+1): then every output phase gets the
    same gain **whatever the layer's weights** (:func:`_apply_filters` with equal folded
    taps), so a layer with weights computed at run time is still judged."""
    spatial = [f for f in filters if f.spatial]
    if not spatial or s < 2:
        return False
    for f in spatial:
        folded = polyphase_gains(np.asarray(f.taps, np.float64)[:, None], s)[:, 0]
        flat = folded.reshape(folded.shape[0], -1)  # (C or 1, s*s)
        spread = flat.max(axis=1) - flat.min(axis=1)
        if np.all(spread <= tolerance * np.maximum(np.abs(flat).max(axis=1), 1e-300)):
            return True  # one evenly folding filter evens out everything before it
    return False


def remedy_evidence() -> list[str]:
    """What the lab's own trained networks measured for the fixes (comment lines computed
    from the shipped histories, :func:`core.experiment.remedies.remedy_lines`: stored
    beside them, so pandas is not imported; none when the histories are not beside the
    code). Imported late: only a fix suggestion needs it."""
    from ..experiment.remedies import remedy_lines

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
        return "\n".join(lines + remedy_evidence())
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
            *remedy_evidence(),
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


def analyse_layer(found: Found) -> LayerAudit:
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
        level=found.level,
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
        elif layer.stride and layer.stride[0] == layer.stride[1] and \
                folds_evenly(found.filters, int(layer.stride[0])):
            layer.phase_imbalance = 0.0
            layer.notes.append("a filter after it folds to equal sums on every phase: the "
                               "phase gains are equal whatever the layer's weights")
        over = imbalanced(layer.phase_imbalance)
        if layer_offends(layer):
            layer.severity = ARTIFACT
        elif layer.uneven is None or layer.phase_imbalance is None:
            layer.severity = NOT_JUDGED  # no evidence either way: never "clean"
        else:
            layer.severity = OK
        parts = []
        if layer.uneven:
            parts.append(f"uneven overlap (interior max/min {layer.interior_max}/"
                         f"{layer.interior_min})" if layer.interior_min is not None
                         else "uneven resampling")
        elif layer.uneven is False:
            parts.append("even overlap")
        if layer.phase_imbalance is not None:
            parts.append(f"phase imbalance {layer.phase_imbalance:.3f}"
                         + (f", over the {IMBALANCE_TOLERANCE:g} tolerated" if over else ""))
        if layer.severity == NOT_JUDGED:
            what = ("no overlap model for this layer (scale "
                    f"{format_pair(layer.scale) or '?'})" if layer.uneven is None else
                    why or "its phase gains are unknown")
            layer.verdict = f"not judged: {what}" + (f" ({', '.join(parts)})" if parts else "")
        else:
            layer.verdict = ("checkerboard: " if layer.offending else "clean: ") + ", ".join(parts)
    else:
        layer.severity = GRADIENT if layer.uneven else OK
        layer.verdict = (
            f"windows overlap unevenly (input read {layer.interior_min} to "
            f"{layer.interior_max} times): checkerboard in the gradient, not the output"
            if layer.uneven and layer.interior_min is not None else
            "input pixels are read unequally: checkerboard in the gradient, not the output"
            if layer.uneven else "every input pixel read equally often")
    if layer.severity in (ARTIFACT, GRADIENT):
        layer.fix_code = _fix_code(layer)
    return layer


def layer_factor(layer: LayerAudit) -> float | None:
    """:func:`level_factor` of an analysed layer: its stride (or one over it), or a
    resize's size ratio rounded to the nearest integer within 10 %."""
    if layer.op in ("Resize", "Upsample"):
        return near_integer(layer.scale[0]) if layer.scale else None
    s = layer.stride[0] if layer.stride else None
    if not s:
        return None
    return float(s) if layer.direction == "up" else 1.0 / s


def _levels(layer: LayerAudit, in_size: tuple[int, int] | None) -> tuple[float, float] | None:
    """A layer's (input, output) resolution relative to the network input: from the
    strides along the graph when the route traced them (``layer.level``), else from its
    input size over the network's (rounded as :func:`near_integer`)."""
    factor = layer_factor(layer)
    start = layer.level
    if start is None and in_size and layer.in_size:
        start = near_integer(layer.in_size[0] / in_size[0])
    if start is None or factor is None:
        return None
    return start, start * factor


def chain_of(layers: list[LayerAudit], in_size: tuple[int, int] | None,
             out_size: tuple[int, int] | None, out_level: float | None = None) -> Chain:
    """Factors and predicted period, read from the strides along the graph; sets each
    upsampling layer's ``period``.

    Each layer knows the resolution its input has relative to the network's input
    (``level``: the product of the strides before it on its path, set by the route), so
    pads and crops, which change sizes but not resolution, do not fool the totals (FCN-8s
    pads its input by 100 and crops its output: x32 down and x32 up, not x7 and x50.7).
    The total downsampling is the deepest level a downsampling layer reaches (at least
    1: no factor below 1); the total upsampling is the highest level an upsampler
    writes over the lowest it reads. A layer's period is its factor times the
    upsampling after it (``out_level`` / its output level): the product of the strides.
    Without traced levels the sizes stand in. For a plain chain both are the products.
    """
    up_levels = [(la, lv) for la in layers if la.direction == "up"
                 for lv in [_levels(la, in_size)] if lv is not None]
    down_levels = [lv for la in layers if la.direction == "down"
                   for lv in [_levels(la, in_size)] if lv is not None]
    up = 1.0
    if up_levels:
        up = max(1.0, max(lv[1] for _, lv in up_levels) / min(lv[0] for _, lv in up_levels))
    down = max([1.0] + [1.0 / lv[1] for lv in down_levels if lv[1] > 0])
    if out_level is None and in_size and out_size:
        out_level = near_integer(out_size[0] / in_size[0])
    periods = []
    for layer, (start, end) in up_levels:
        s = integer_factor(end / start) if start > 0 else None
        if not s or s < 2 or out_level is None:
            continue
        period = integer_factor(s * out_level / end)
        if period and period >= 2:
            layer.period = period
            periods.append(period)
    net = (out_size[0] / in_size[0]) if in_size and out_size else float("nan")
    return Chain(total_upsampling=round(up, 6), total_downsampling=round(down, 6),
                 net_scale=round(net, 6), period=math.lcm(*periods),
                 upsampling_layers=len([la for la in layers if la.direction == "up"]),
                 offending_layers=sum(1 for la in layers if la.offending))


def resolution_warning(in_size: tuple[int, int] | None, out_size: tuple[int, int] | None,
                       out_level: float | None, layers: Sequence[LayerAudit]) -> list[str]:
    """A warning when the output's resolution is not the one the judged layers give it:
    the output is ``x r`` the input's size (``r`` an integer or its inverse, to 10 %), but
    the strides along the graph reach ``out_level``: something resamples that the audit
    does not see (a custom op, a round trip through numpy), so its verdicts are not a
    verdict on this network. Nothing when the sizes give no integer factor (pads, crops),
    nor for a latent input (a stride-1 projection from 1x1 grows the size, not the
    resolution; the probes' grid check still runs)."""
    if not in_size or not out_size or min(in_size) < MIN_IMAGE_SIDE:
        return []
    ratio = near_integer(out_size[0] / in_size[0])
    whole = integer_factor(ratio) or integer_factor(1 / ratio if ratio > 0 else 0)
    if not whole or (out_level is not None and abs(out_level - ratio) <= 1e-6 * ratio):
        return []
    judged = "none" if out_level is None else f"x{out_level:g}"
    return [f"the output is x{ratio:g} the input's resolution ({in_size[0]}x{in_size[1]} -> "
            f"{out_size[0]}x{out_size[1]} px), but the {len(layers)} layer(s) found explain "
            f"{judged}: something resamples that the audit does not see, so 'no checkerboard "
            "layer' is not a verdict on this network"]


@dataclass
class Flow:
    """What is known of one tensor: the level at which it was last an image, that
    image's spatial size and channels, and the chain of calls since."""

    level: float | None  # None: global context (a 1x1 pooled map), or unknown
    ref: tuple[int, int] | None
    channels: int | None
    chain: tuple[str, ...] = ()
    filters: list[Filter] = field(default_factory=list)
    linear: bool = True
    #: A data operation (a matmul, a linear layer) computed the chain: its end is a new
    #: image at the chain's level, not pixels moved by reshapes.
    mixed: bool = False
    tail: Found | None = None  # the upsampler whose output the chain starts from
