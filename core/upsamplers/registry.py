"""One registry of upsampling layers, looked up by name.

The layer lab, the training code, the audit's fix suggestions and the tests build every
upsampler through :func:`make_upsampler`, which reads :data:`UPSAMPLERS`.
"""


from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from torch import nn

from .fused import FusedResizeConv
from .layers import BilinearAdditive, Deconv, DeconvHold, ResizeConv, SubPixelConv

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
    #: Spatial ranks the layer takes (``dims``): 1 a sound, 2 an image, 3 a volume.
    ranks: tuple[int, ...] = (2,)


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


def _subpixel_icnr_blur(c_in: int, c_out: int, scale: int, k: int, **options) -> nn.Module:
    return SubPixelConv(c_in, c_out, scale, k, **{"icnr": True, "blur": True, **options})


def _fused_resize(c_in: int, c_out: int, scale: int, k: int, **options) -> nn.Module:
    return FusedResizeConv(c_in, c_out, scale, k, **options)


def _deconv_zoh(c_in: int, c_out: int, scale: int, k: int, **options) -> nn.Module:
    return DeconvHold(c_in, c_out, scale, k, **{"order": 0, **options})


def _deconv_foh(c_in: int, c_out: int, scale: int, k: int, **options) -> nn.Module:
    return DeconvHold(c_in, c_out, scale, k, **{"order": 1, **options})


def _bilinear_additive(c_in: int, c_out: int, scale: int, k: int, **options) -> nn.Module:
    return BilinearAdditive(c_in, c_out, scale, k, **options)


UPSAMPLERS: dict[str, UpsamplerSpec] = {
    spec.name: spec
    for spec in [
        UpsamplerSpec(
            "deconv", _deconv,
            "Transposed convolution, stride = scale, padded to exactly scale x the size.",
            "Odena, Dumoulin & Olah 2016, 'Deconvolution and Checkerboard Artifacts' (Distill)",
            ranks=(1, 2, 3)),
        UpsamplerSpec(
            "resize_nearest", _resize_nearest,
            "Nearest-neighbour upsampling, then a k x k convolution (resize-convolution).",
            "Odena, Dumoulin & Olah 2016, 'Deconvolution and Checkerboard Artifacts' (Distill)",
            ranks=(1, 2, 3)),
        UpsamplerSpec(
            "resize_bilinear", _resize_bilinear,
            "Bilinear upsampling (linear in 1-D, trilinear in 3-D), then a k x k convolution.",
            "Odena, Dumoulin & Olah 2016, 'Deconvolution and Checkerboard Artifacts' (Distill)",
            ranks=(1, 2, 3)),
        UpsamplerSpec(
            "subpixel", _subpixel,
            "k x k convolution to scale^2 x C_out channels, then PixelShuffle.",
            "Shi et al. 2016, 'Real-Time Single Image and Video Super-Resolution Using an "
            "Efficient Sub-Pixel Convolutional Neural Network' (CVPR)", ranks=(1, 2, 3)),
        UpsamplerSpec(
            "subpixel_icnr", _subpixel_icnr,
            "Sub-pixel convolution initialised with ICNR: nearest upsampling at init.",
            "Aitken et al. 2017, 'Checkerboard artifact free sub-pixel convolution' "
            "(arXiv:1707.02937)", ranks=(1, 2, 3)),
        UpsamplerSpec(
            "subpixel_icnr_blur", _subpixel_icnr_blur,
            "ICNR sub-pixel convolution, then a fixed s x s box (zero-order hold) blur.",
            "Aitken et al. 2017 (ICNR) with the blur of Sugawara et al. 2018, "
            "'Super-resolution using CNNs without any checkerboard artifacts' (ICIP), "
            "as in fastai's PixelShuffle_ICNR(blur=True)"),
        UpsamplerSpec(
            "fused_resize", _fused_resize,
            "resize_nearest computed as one conv at the input size (folded kernel, phase split).",
            "Odena et al. 2016 (resize-convolution); fold: nearest upsample * conv = one "
            "transposed conv with a box-blurred kernel"),
        UpsamplerSpec(
            "deconv_zoh", _deconv_zoh,
            "Transposed convolution, then a fixed s x s zero-order hold (box) smoothing.",
            "Sugawara, Shiota & Kiya 2019, 'Checkerboard artifacts free convolutional neural "
            "networks' (APSIPA Trans.)"),
        UpsamplerSpec(
            "deconv_foh", _deconv_foh,
            "Transposed convolution, then a fixed first-order hold (triangle) smoothing.",
            "Kinoshita & Kiya 2020, 'Fixed smooth convolutional layer for avoiding "
            "checkerboard artifacts in CNNs' (ICASSP)"),
        UpsamplerSpec(
            "bilinear_additive", _bilinear_additive,
            "k x k conv to g x C_out channels, bilinear upsampling, sum of every g channels.",
            "Wojna et al. 2017, 'The Devil is in the Decoder' (BMVC)"),
    ]
}


def upsampler_names(dims: int = 2) -> list[str]:
    """Registered names, in registry order (those that take ``dims`` spatial axes)."""
    return [name for name, spec in UPSAMPLERS.items() if dims in spec.ranks]


def make_upsampler(name: str, in_channels: int, out_channels: int, *, scale: int = 2,
                   kernel_size: int = 3, dims: int = 2, **options) -> nn.Module:
    """Build the registered upsampler ``name``.

    Maps ``(N, in_channels, H, W) -> (N, out_channels, scale*H, scale*W)``; with
    ``dims=1`` ``(N, in_channels, L) -> (N, out_channels, scale*L)`` (a sound), with
    ``dims=3`` a volume, for the names whose ``ranks`` hold it. ``options``
    are passed to the layer (e.g. ``bias=False``, ``padding_mode="reflect"`` for the
    resize and sub-pixel layers); an option the layer does not take is a ``ValueError``.
    """
    if name not in UPSAMPLERS:
        raise ValueError(f"unknown upsampler {name!r}; registered: {', '.join(UPSAMPLERS)}")
    if dims not in UPSAMPLERS[name].ranks:
        raise ValueError(f"upsampler {name!r} takes dims in {UPSAMPLERS[name].ranks}, got "
                         f"{dims!r}; for dims={dims!r}: {', '.join(upsampler_names(dims)) or '-'}")
    if dims != 2:
        options = {**options, "dims": dims}
    for label, value, low in (("in_channels", in_channels, 1), ("out_channels", out_channels, 1),
                              ("scale", scale, 2), ("kernel_size", kernel_size, 1)):
        if not isinstance(value, int) or isinstance(value, bool) or value < low:
            raise ValueError(f"{label} must be an integer >= {low}, got {value!r}")
    try:
        return UPSAMPLERS[name].builder(in_channels, out_channels, scale, kernel_size, **options)
    except TypeError as err:  # an unexpected keyword
        raise ValueError(f"upsampler {name!r} does not accept options {sorted(options)}: {err}") \
            from err




def count_parameters(module: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def count_macs(module: nn.Module, *sizes: int) -> int:
    """Multiply-adds of one forward pass on one ``height x width`` image (analytic); any
    rank: ``count_macs(layer, length)`` for a sound, ``(depth, height, width)`` a volume."""
    if not hasattr(module, "macs"):
        raise ValueError(f"{type(module).__name__} has no macs() method")
    return int(module.macs(*sizes))
