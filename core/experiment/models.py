"""The transformation network of Johnson et al. (2016), with a pluggable upsampler.

Johnson, Alahi and Fei-Fei, "Perceptual Losses for Real-Time Style Transfer and
Super-Resolution" (arXiv:1603.08155), Table/Fig. "transformation network":

    9x9 conv (stride 1)            3      -> w        full resolution
    3x3 conv, stride 2             w      -> 2w       1/2 resolution
    3x3 conv, stride 2             2w     -> 4w       1/4 resolution
    R residual blocks (3x3, 3x3)   4w     -> 4w       1/4 resolution
    upsampler x2                   4w     -> 2w       1/2 resolution
    upsampler x2                   2w     -> w        full resolution
    9x9 conv (stride 1)            w      -> 3        full resolution

The two upsamplers are looked up by name in the one registry of the project
(:func:`core.upsamplers.registry.make_upsampler`); the original network used 3x3 transposed
convolutions at stride 2 (our variant ``deconv3``, the post's Figure 4 layer), and
its stride-1 9x9 output convolution is the "large last layer" that the post's first
remedy relies on (our ``deconv3_small_last`` replaces it by a 3x3 one).

Departures from the paper, each for a reason:

* no normalisation layers: with InstanceNorm a pixel-loss reconstruction learns far
  more slowly (measured: 10-15 dB after 5 epochs vs 21 dB without, FACTS.md);
* a linear output clamped to [0, 1] in eval mode instead of ``tanh``: the pixel loss
  is then a plain least-squares problem near the end of training;
* widths and depth are configurable (:class:`TransformNetConfig`) and small by
  default, so the network trains on a laptop CPU;
* the shipped variants use LeakyReLU (slope 0.2) instead of ReLU: without
  normalisation, a ReLU network trained with a pixel loss sometimes "dies" early (every
  unit after an upsampler negative, the output a flat mean colour, PSNR frozen at
  11-17 dB): 4 of 16 probe runs on a GPU did (FACTS.md). A leaky unit always passes a
  gradient, so that state is not absorbing. ``activation="relu"`` rebuilds the
  first release's networks.

Images go in and out as float tensors in [0, 1] of shape (N, 3, H, W) with any H, W:
inputs are reflection-padded to a multiple of 4 (the total downsampling factor) and
the output is cropped back.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..upsamplers.registry import make_upsampler

#: Total down/up-sampling factor of the network (two stride-2 stages).
FACTOR = 4
#: Smallest padded side: 1/4 resolution must be >= 2 px for the 3x3 reflection padding.
MIN_SIDE = 2 * FACTOR
#: Negative slope of the leaky activation.
LEAKY_SLOPE = 0.2
#: Activation functions by name (pure functions: no parameters, no state).
ACTIVATIONS = {
    "relu": F.relu,
    "leaky_relu": lambda x: F.leaky_relu(x, LEAKY_SLOPE),
}


@dataclass(frozen=True)
class TransformNetConfig:
    """Everything that defines a transformation network's architecture.

    Frozen and hashable: used as a cache key and stored in every checkpoint.

    Attributes:
        width: channels at full resolution ``w``; the network uses w, 2w and 4w.
        res_blocks: number of residual blocks at 1/4 resolution.
        upsampler: a name of :func:`core.upsamplers.registry.make_upsampler` (``deconv``,
            ``resize_nearest``, ``resize_bilinear``, ``subpixel``, ...).
        up_kernel: kernel size of both upsamplers.
        first_kernel: kernel size of the first (stride-1) convolution.
        last_kernel: kernel size of the last (stride-1) convolution; the post's
            "large last layer" remedy is the 9 of the original network.
        activation: ``"relu"`` (the paper; the first release) or ``"leaky_relu"``
            (slope :data:`LEAKY_SLOPE`; the shipped experiment, see the module docstring).
    """

    width: int = 16
    res_blocks: int = 3
    upsampler: str = "deconv"
    up_kernel: int = 3
    first_kernel: int = 9
    last_kernel: int = 9
    activation: str = "relu"

    def __post_init__(self) -> None:
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, "
                             f"got {self.activation!r}")
        if self.width < 1:
            raise ValueError(f"width must be >= 1, got {self.width}")
        if self.res_blocks < 0:
            raise ValueError(f"res_blocks must be >= 0, got {self.res_blocks}")
        for name in ("up_kernel", "first_kernel", "last_kernel"):
            k = getattr(self, name)
            if k < 1:
                raise ValueError(f"{name} must be >= 1, got {k}")
        for name in ("first_kernel", "last_kernel"):
            if getattr(self, name) % 2 == 0:
                raise ValueError(
                    f"{name} must be odd so that a stride-1 convolution keeps the size, "
                    f"got {getattr(self, name)}"
                )

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TransformNetConfig:
        """Rebuild from :meth:`to_dict` output; unknown keys are a ``ValueError``."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown TransformNetConfig fields: {sorted(unknown)}")
        return cls(**data)


#: The shipped experiment: one architecture per upsampler, everything else equal.
_ACT = "leaky_relu"
VARIANTS: dict[str, TransformNetConfig] = {
    # 3x3 transposed convolution at stride 2: uneven overlap (post, Figure 4).
    "deconv3": TransformNetConfig(upsampler="deconv", up_kernel=3, activation=_ACT),
    # 4x4 at stride 2: kernel divisible by the stride (post, Figure 6).
    "deconv4": TransformNetConfig(upsampler="deconv", up_kernel=4, activation=_ACT),
    # nearest-neighbour resize then 3x3 convolution (post, Figure 7; Odena et al.).
    "resize_nearest": TransformNetConfig(upsampler="resize_nearest", up_kernel=3,
                                         activation=_ACT),
    "resize_bilinear": TransformNetConfig(upsampler="resize_bilinear", up_kernel=3,
                                          activation=_ACT),
    # sub-pixel convolution (Shi et al. 2016), plain and ICNR-initialised.
    "subpixel": TransformNetConfig(upsampler="subpixel", up_kernel=3, activation=_ACT),
    "subpixel_icnr": TransformNetConfig(upsampler="subpixel_icnr", up_kernel=3, activation=_ACT),
    # The remedies that keep the learned upsampler and add a fixed smoothing after it:
    # deconv3 then a zero-order (box) or first-order (triangle [1, 2, 1]) hold
    # (Sugawara et al. 2019; Kinoshita & Kiya 2020), and ICNR sub-pixel then a box blur
    # (Aitken et al. 2017; Sugawara et al. 2018).
    "deconv_zoh": TransformNetConfig(upsampler="deconv_zoh", up_kernel=3, activation=_ACT),
    "deconv_foh": TransformNetConfig(upsampler="deconv_foh", up_kernel=3, activation=_ACT),
    "subpixel_icnr_blur": TransformNetConfig(upsampler="subpixel_icnr_blur", up_kernel=3,
                                             activation=_ACT),
    # deconv3 without the large stride-1 last layer (the post's first remedy removed).
    "deconv3_small_last": TransformNetConfig(upsampler="deconv", up_kernel=3, last_kernel=3,
                                             activation=_ACT),
}


class ResidualBlock(nn.Module):
    """``x + conv(act(conv(x)))`` with 3x3 reflection-padded convolutions (no norm)."""

    def __init__(self, channels: int, activation: str = "relu") -> None:
        super().__init__()
        self.act = ACTIVATIONS[activation]
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1, padding_mode="reflect")
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, padding_mode="reflect")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(self.act(self.conv1(x)))  # (N, C, h, w)


class TransformNet(nn.Module):
    """Johnson et al.'s transformation network; see the module docstring."""

    def __init__(self, config: TransformNetConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or TransformNetConfig()
        w = config.width
        k1, kl = config.first_kernel, config.last_kernel
        self.conv_in = nn.Conv2d(3, w, k1, padding=k1 // 2, padding_mode="reflect")
        self.down1 = nn.Conv2d(w, 2 * w, 3, stride=2, padding=1, padding_mode="reflect")
        self.down2 = nn.Conv2d(2 * w, 4 * w, 3, stride=2, padding=1, padding_mode="reflect")
        self.res = nn.Sequential(
            *[ResidualBlock(4 * w, config.activation) for _ in range(config.res_blocks)])
        self.up1 = make_upsampler(config.upsampler, 4 * w, 2 * w, scale=2,
                                  kernel_size=config.up_kernel)
        self.up2 = make_upsampler(config.upsampler, 2 * w, w, scale=2,
                                  kernel_size=config.up_kernel)
        self.conv_out = nn.Conv2d(w, 3, kl, padding=kl // 2, padding_mode="reflect")
        self.act = ACTIVATIONS[config.activation]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4 or x.shape[1] != 3:
            raise ValueError(f"expected an (N, 3, H, W) tensor, got shape {tuple(x.shape)}")
        n, _, h, w = x.shape
        # Pad bottom/right to a multiple of FACTOR so both stride-2 stages halve exactly,
        # and to at least MIN_SIDE so every reflection padding inside fits.
        ph, pw = max(-h % FACTOR, MIN_SIDE - h), max(-w % FACTOR, MIN_SIDE - w)
        if ph or pw:
            mode = "reflect" if (ph < h and pw < w) else "replicate"
            x = F.pad(x, (0, pw, 0, ph), mode=mode)  # (N, 3, H', W'), H', W' % 4 == 0
        y = self.act(self.conv_in(x))  # (N, w, H', W')
        y = self.act(self.down1(y))  # (N, 2w, H'/2, W'/2)
        y = self.act(self.down2(y))  # (N, 4w, H'/4, W'/4)
        y = self.res(y)  # (N, 4w, H'/4, W'/4)
        y = self.act(self.up1(y))  # (N, 2w, H'/2, W'/2)
        y = self.act(self.up2(y))  # (N, w, H', W')
        y = self.conv_out(y)  # (N, 3, H', W')
        y = y[:, :, :h, :w]  # (N, 3, H, W)
        # Linear output for the least-squares loss while training; images in eval.
        return y if self.training else y.clamp(0.0, 1.0)


def build_model(config: TransformNetConfig | str) -> TransformNet:
    """A fresh :class:`TransformNet` from a config or a name of :data:`VARIANTS`."""
    if isinstance(config, str):
        if config not in VARIANTS:
            raise ValueError(f"unknown variant {config!r}; known: {sorted(VARIANTS)}")
        config = VARIANTS[config]
    return TransformNet(config)
