"""One registry of upsampling layers.

Every upsampler maps ``(N, C_in, H, W) -> (N, C_out, scale*H, scale*W)`` exactly,
for any kernel size (odd or even) and any integer ``scale >= 2``. They are all built
through :func:`make_upsampler`, which reads :data:`UPSAMPLERS`; the layer lab, the
training code and the tests look layers up there by name.

Conventions used throughout this module (1-D is enough to state them; 2-D is the
same along each axis):

* ``s`` is the scale (the stride of a transposed convolution), ``k`` the kernel size.
* A "same" stride-1 convolution with an even kernel cannot be centred; like PyTorch's
  ``padding="same"`` we pad ``pl = (k - 1) // 2`` on the left/top and
  ``pr = k - 1 - pl`` on the right/bottom.
* Nearest upsampling by ``s`` is ``u[m] = x[m // s]``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "UPSAMPLERS",
    "UpsamplerConfig",
    "UpsamplerSpec",
    "make_upsampler",
    "same_padding",
    "transposed_padding",
    "upsampler_names",
]


# ---------------------------------------------------------------------------------------
# Padding arithmetic
# ---------------------------------------------------------------------------------------


def same_padding(kernel_size: int) -> tuple[int, int]:
    """``(left, right)`` zero padding that keeps a stride-1 convolution size-preserving.

    ``left + right = k - 1``; the extra pixel of an even kernel goes right (as in
    ``torch.nn.Conv2d(padding="same")``).
    """
    left = (kernel_size - 1) // 2
    return left, kernel_size - 1 - left


def transposed_padding(kernel_size: int, stride: int) -> tuple[int, int]:
    """``(padding, output_padding)`` so that ``ConvTranspose2d(k, stride=s)`` gives ``s*H``.

    A transposed convolution produces ``(H - 1)*s - 2*padding + k + output_padding``
    pixels. Setting this to ``s*H`` gives ``output_padding = 2*padding + s - k``, which
    PyTorch requires in ``[0, s)``:

    * ``k >= s``: ``padding = ceil((k - s) / 2)``, ``output_padding = (k - s) % 2``;
    * ``k <  s``: ``padding = 0``, ``output_padding = s - k`` (the last ``s - k``
      pixels of each period only receive the bias).
    """
    if kernel_size >= stride:
        padding = (kernel_size - stride + 1) // 2
    else:
        padding = 0
    output_padding = 2 * padding + stride - kernel_size
    assert 0 <= output_padding < stride
    return padding, output_padding


def _pad_mode(padding_mode: str) -> str:
    """Translate ``nn.Conv2d`` padding-mode names to ``F.pad`` modes."""
    modes = {"zeros": "constant", "reflect": "reflect", "replicate": "replicate",
             "circular": "circular"}
    if padding_mode not in modes:
        raise ValueError(
            f"padding_mode must be one of {sorted(modes)}, got {padding_mode!r}")
    return modes[padding_mode]


def _same_pad(x: torch.Tensor, kernel_size: int, padding_mode: str) -> torch.Tensor:
    """Pad ``x`` (N, C, H, W) so that a k x k valid convolution keeps H x W."""
    left, right = same_padding(kernel_size)
    if left == right == 0:
        return x
    return F.pad(x, (left, right, left, right), mode=_pad_mode(padding_mode))


# ---------------------------------------------------------------------------------------
# The layers
# ---------------------------------------------------------------------------------------


class Deconv(nn.Module):
    """Transposed convolution ``ConvTranspose2d(k, stride=s)`` sized to exactly ``s*H``.

    This is the layer of the post: when ``k`` is not a multiple of ``s`` the kernel
    windows overlap unevenly (k=3, s=2 is Figure 4; k=4, s=2 has even overlap but still
    makes artifacts once trained, Figure 6).
    """

    def __init__(self, in_channels: int, out_channels: int, scale: int, kernel_size: int,
                 bias: bool = True) -> None:
        super().__init__()
        self.scale, self.kernel_size = scale, kernel_size
        padding, output_padding = transposed_padding(kernel_size, scale)
        self.deconv = nn.ConvTranspose2d(in_channels, out_channels, kernel_size, stride=scale,
                                         padding=padding, output_padding=output_padding,
                                         bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (N, C_in, H, W)
        return self.deconv(x)  # (N, C_out, sH, sW)

    def macs(self, height: int, width: int) -> int:
        """Multiply-adds for one image: every input pixel scatters a k x k x C_out patch."""
        c = self.deconv
        return height * width * c.in_channels * c.out_channels * self.kernel_size ** 2


class ResizeConv(nn.Module):
    """Resize-convolution (Odena et al. 2016): upsample by ``s``, then a k x k convolution.

    ``mode="nearest"`` is the post's recommendation; ``mode="bilinear"`` uses
    ``F.interpolate(mode="bilinear", align_corners=False)``. The convolution runs on the
    large, upsampled tensor, which is what makes it ``s*s`` times as costly per output
    pixel as a convolution at the input size (see :class:`FusedResizeConv`).
    """

    def __init__(self, in_channels: int, out_channels: int, scale: int, kernel_size: int,
                 mode: str = "nearest", padding_mode: str = "zeros", bias: bool = True) -> None:
        super().__init__()
        if mode not in ("nearest", "bilinear"):
            raise ValueError(f"mode must be 'nearest' or 'bilinear', got {mode!r}")
        _pad_mode(padding_mode)
        self.scale, self.kernel_size, self.mode = scale, kernel_size, mode
        self.padding_mode = padding_mode
        # The padding is applied explicitly in forward (asymmetric for even k), so the
        # convolution itself is "valid"; only its weight and bias are state.
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (N, C_in, H, W)
        if self.mode == "nearest":
            up = F.interpolate(x, scale_factor=self.scale, mode="nearest")
        else:
            up = F.interpolate(x, scale_factor=self.scale, mode="bilinear",
                               align_corners=False)  # (N, C_in, sH, sW)
        return self.conv(_same_pad(up, self.kernel_size, self.padding_mode))  # (N, C_out, sH, sW)

    def macs(self, height: int, width: int) -> int:
        """k x k x C_in multiply-adds per output pixel and channel, at the large size."""
        c = self.conv
        return (self.scale ** 2 * height * width) * c.in_channels * c.out_channels \
            * self.kernel_size ** 2


class SubPixelConv(nn.Module):
    """Sub-pixel convolution (Shi et al. 2016): k x k conv to ``s*s*C_out`` channels,
    then ``PixelShuffle(s)``.

    ``PixelShuffle`` puts channel ``c*s*s + a*s + b`` at output pixel ``(s*i + a, s*j + b)``
    of channel ``c``: each of the ``s*s`` output phases has its own kernel. Randomly
    initialised, the phases disagree, which is a checkerboard at initialisation.

    With ``icnr=True`` (Aitken et al. 2017, "Checkerboard artifact free sub-pixel
    convolution") the ``s*s`` kernels of every output channel start as copies of one
    kernel, so at initialisation the layer *is* "k x k convolution, then nearest
    upsampling": every s x s output block is constant.
    """

    def __init__(self, in_channels: int, out_channels: int, scale: int, kernel_size: int,
                 icnr: bool = False, padding_mode: str = "zeros", bias: bool = True) -> None:
        super().__init__()
        _pad_mode(padding_mode)
        self.scale, self.kernel_size, self.padding_mode = scale, kernel_size, padding_mode
        self.conv = nn.Conv2d(in_channels, out_channels * scale ** 2, kernel_size, bias=bias)
        self.shuffle = nn.PixelShuffle(scale)
        if icnr:
            icnr_(self.conv.weight, self.conv.bias, scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (N, C_in, H, W)
        y = self.conv(_same_pad(x, self.kernel_size, self.padding_mode))  # (N, s*s*C_out, H, W)
        return self.shuffle(y)  # (N, C_out, sH, sW)

    def macs(self, height: int, width: int) -> int:
        c = self.conv
        return height * width * c.in_channels * c.out_channels * self.kernel_size ** 2


@torch.no_grad()
def icnr_(weight: torch.Tensor, bias: torch.Tensor | None, scale: int,
          init: Callable[[torch.Tensor], object] = nn.init.kaiming_normal_) -> None:
    """ICNR initialisation in place (Aitken et al. 2017).

    ``weight`` has shape ``(C_out*s*s, C_in, k, k)``. A sub-kernel ``w0`` of shape
    ``(C_out, C_in, k, k)`` is drawn with ``init`` and repeated ``s*s`` times so that
    ``weight[c*s*s + p] = w0[c]`` for every phase ``p`` (the channel order
    ``PixelShuffle`` expects); the bias is made equal within each group the same way.
    """
    out_total, c_in, kh, kw = weight.shape
    phases = scale * scale
    if out_total % phases:
        raise ValueError(f"ICNR needs out channels divisible by scale^2={phases}, got {out_total}")
    w0 = torch.empty(out_total // phases, c_in, kh, kw, dtype=weight.dtype, device=weight.device)
    init(w0)
    weight.copy_(w0.repeat_interleave(phases, dim=0))
    if bias is not None:
        b0 = bias.view(-1, phases)[:, :1].clone()
        bias.copy_(b0.expand(-1, phases).reshape(-1))


# ---------------------------------------------------------------------------------------
# The registry
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class UpsamplerSpec:
    """One registry entry: how to build the layer, what it is, where it comes from."""

    name: str
    builder: Callable[..., nn.Module] = field(repr=False)
    description: str
    paper: str


def _deconv(c_in: int, c_out: int, scale: int, k: int, **options) -> nn.Module:
    return Deconv(c_in, c_out, scale, k, **options)


def _resize_nearest(c_in: int, c_out: int, scale: int, k: int, **options) -> nn.Module:
    return ResizeConv(c_in, c_out, scale, k, mode="nearest", **options)


def _resize_bilinear(c_in: int, c_out: int, scale: int, k: int, **options) -> nn.Module:
    return ResizeConv(c_in, c_out, scale, k, mode="bilinear", **options)


def _subpixel(c_in: int, c_out: int, scale: int, k: int, **options) -> nn.Module:
    return SubPixelConv(c_in, c_out, scale, k, icnr=False, **options)


def _subpixel_icnr(c_in: int, c_out: int, scale: int, k: int, **options) -> nn.Module:
    return SubPixelConv(c_in, c_out, scale, k, icnr=True, **options)


UPSAMPLERS: dict[str, UpsamplerSpec] = {
    spec.name: spec
    for spec in [
        UpsamplerSpec(
            "deconv", _deconv,
            "Transposed convolution, stride = scale, padded to exactly scale x the size.",
            "Odena, Dumoulin & Olah 2016, 'Deconvolution and Checkerboard Artifacts' (Distill)"),
        UpsamplerSpec(
            "resize_nearest", _resize_nearest,
            "Nearest-neighbour upsampling, then a k x k convolution (resize-convolution).",
            "Odena, Dumoulin & Olah 2016, 'Deconvolution and Checkerboard Artifacts' (Distill)"),
        UpsamplerSpec(
            "resize_bilinear", _resize_bilinear,
            "Bilinear upsampling, then a k x k convolution.",
            "Odena, Dumoulin & Olah 2016, 'Deconvolution and Checkerboard Artifacts' (Distill)"),
        UpsamplerSpec(
            "subpixel", _subpixel,
            "k x k convolution to scale^2 x C_out channels, then PixelShuffle.",
            "Shi et al. 2016, 'Real-Time Single Image and Video Super-Resolution Using an "
            "Efficient Sub-Pixel Convolutional Neural Network' (CVPR)"),
        UpsamplerSpec(
            "subpixel_icnr", _subpixel_icnr,
            "Sub-pixel convolution initialised with ICNR: nearest upsampling at init.",
            "Aitken et al. 2017, 'Checkerboard artifact free sub-pixel convolution' "
            "(arXiv:1707.02937)"),
    ]
}


def upsampler_names() -> list[str]:
    """Registered names, in registry order."""
    return list(UPSAMPLERS)


def make_upsampler(name: str, in_channels: int, out_channels: int, *, scale: int = 2,
                   kernel_size: int = 3, **options) -> nn.Module:
    """Build the registered upsampler ``name``.

    Maps ``(N, in_channels, H, W) -> (N, out_channels, scale*H, scale*W)``. ``options``
    are passed to the layer (e.g. ``bias=False``, ``padding_mode="reflect"`` for the
    resize and sub-pixel layers); an option the layer does not take is a ``ValueError``.
    """
    if name not in UPSAMPLERS:
        raise ValueError(f"unknown upsampler {name!r}; registered: {', '.join(UPSAMPLERS)}")
    for label, value, low in (("in_channels", in_channels, 1), ("out_channels", out_channels, 1),
                              ("scale", scale, 2), ("kernel_size", kernel_size, 1)):
        if not isinstance(value, int) or isinstance(value, bool) or value < low:
            raise ValueError(f"{label} must be an integer >= {low}, got {value!r}")
    try:
        return UPSAMPLERS[name].builder(in_channels, out_channels, scale, kernel_size, **options)
    except TypeError as err:  # an unexpected keyword
        raise ValueError(f"upsampler {name!r} does not accept options {sorted(options)}: {err}") \
            from err


@dataclass(frozen=True)
class UpsamplerConfig:
    """Hashable description of one upsampler (a cache key / checkpoint metadata).

    ``options`` is a tuple of ``(key, value)`` pairs so that the config stays hashable.
    """

    name: str
    in_channels: int
    out_channels: int
    scale: int = 2
    kernel_size: int = 3
    options: tuple[tuple[str, object], ...] = ()

    def build(self) -> nn.Module:
        return make_upsampler(self.name, self.in_channels, self.out_channels, scale=self.scale,
                              kernel_size=self.kernel_size, **dict(self.options))


def count_parameters(module: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def count_macs(module: nn.Module, height: int, width: int) -> int:
    """Multiply-adds of one forward pass on one ``height x width`` image (analytic)."""
    if not hasattr(module, "macs"):
        raise ValueError(f"{type(module).__name__} has no macs() method")
    return int(module.macs(height, width))



