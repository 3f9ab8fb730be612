"""Neural vocoders of the zoo: MelGAN's and HiFi-GAN V1's generators, 1-D networks that
upsample a mel spectrogram ``(N, 80, frames)`` to a waveform ``(N, 1, 256 * frames)`` with
``ConvTranspose1d`` layers; each transcribed from the source named in its docstring.

Both use ``torch.nn.utils.weight_norm`` as their sources do (the exporters and the audit
see the plain ``ConvTranspose1d`` underneath). Widths are cut (MelGAN ngf 32 -> 4, HiFi-GAN
upsample_initial_channel 512 -> 32); kernels, strides, paddings, dilations, the residual
stacks and the call order are the sources'.
"""

from __future__ import annotations

import warnings

import torch
import torch.nn.functional as F
from torch import nn

from tests.core.audit_zoo.ground_truth import Truth, ZooNet, _up


def _weight_norm(module: nn.Module) -> nn.Module:
    with warnings.catch_warnings():  # torch deprecates it for parametrizations
        warnings.simplefilter("ignore")
        return nn.utils.weight_norm(module)


# ---------------------------------------------------------------------------------------
# MelGAN (Kumar et al. 2019)
# ---------------------------------------------------------------------------------------


def melgan(input_size: int = 80, ngf: int = 4, n_residual_layers: int = 3) -> nn.Module:
    """descriptinc/melgan-neurips, mel2wav/modules.py: Generator and ResnetBlock, with its
    weights_init (normal 0, 0.02 for every conv). ngf 32 (scripts/train.py) cut to 4."""

    def wn_conv1d(*args, **kwargs):
        return _weight_norm(nn.Conv1d(*args, **kwargs))

    def wn_conv_transpose1d(*args, **kwargs):
        return _weight_norm(nn.ConvTranspose1d(*args, **kwargs))

    class ResnetBlock(nn.Module):
        def __init__(self, dim, dilation=1):
            super().__init__()
            self.block = nn.Sequential(
                nn.LeakyReLU(0.2),
                nn.ReflectionPad1d(dilation),
                wn_conv1d(dim, dim, kernel_size=3, dilation=dilation),
                nn.LeakyReLU(0.2),
                wn_conv1d(dim, dim, kernel_size=1),
            )
            self.shortcut = wn_conv1d(dim, dim, kernel_size=1)

        def forward(self, x):
            return self.shortcut(x) + self.block(x)

    def weights_init(m):
        if m.__class__.__name__.find("Conv") != -1:
            m.weight.data.normal_(0.0, 0.02)

    class Generator(nn.Module):
        def __init__(self):
            super().__init__()
            ratios = [8, 8, 2, 2]
            mult = int(2 ** len(ratios))
            model = [nn.ReflectionPad1d(3),
                     wn_conv1d(input_size, mult * ngf, kernel_size=7, padding=0)]
            for _i, r in enumerate(ratios):
                model += [
                    nn.LeakyReLU(0.2),
                    wn_conv_transpose1d(mult * ngf, mult * ngf // 2, kernel_size=r * 2,
                                        stride=r, padding=r // 2 + r % 2,
                                        output_padding=r % 2),
                ]
                for j in range(n_residual_layers):
                    model += [ResnetBlock(mult * ngf // 2, dilation=3 ** j)]
                mult //= 2
            model += [nn.LeakyReLU(0.2), nn.ReflectionPad1d(3),
                      wn_conv1d(ngf, 1, kernel_size=7, padding=0), nn.Tanh()]
            self.model = nn.Sequential(*model)
            self.apply(weights_init)

        def forward(self, x):  # (N, 80, T) -> (N, 1, 256 T)
            return self.model(x)

    return Generator()


# ---------------------------------------------------------------------------------------
# HiFi-GAN V1 (Kong et al. 2020)
# ---------------------------------------------------------------------------------------

#: config_v1.json of jik876/hifi-gan (the V1 generator), upsample_initial_channel cut.
HIFIGAN_V1 = {"resblock": "1", "upsample_rates": [8, 8, 2, 2],
              "upsample_kernel_sizes": [16, 16, 4, 4], "upsample_initial_channel": 32,
              "resblock_kernel_sizes": [3, 7, 11],
              "resblock_dilation_sizes": [[1, 3, 5], [1, 3, 5], [1, 3, 5]]}
LRELU_SLOPE = 0.1


def hifigan_v1() -> nn.Module:
    """jik876/hifi-gan, models.py: Generator with ResBlock1 (config_v1.json; the
    ``valid_lengths`` masking of the stored version left out: it is ``None`` at inference),
    utils.py's init_weights (normal 0, 0.01) and get_padding."""
    h = HIFIGAN_V1

    def get_padding(kernel_size, dilation=1):
        return int((kernel_size * dilation - dilation) / 2)

    def init_weights(m, mean=0.0, std=0.01):
        if m.__class__.__name__.find("Conv") != -1:
            m.weight.data.normal_(mean, std)

    class ResBlock1(nn.Module):
        def __init__(self, channels, kernel_size=3, dilation=(1, 3, 5)):
            super().__init__()
            self.convs1 = nn.ModuleList([
                _weight_norm(nn.Conv1d(channels, channels, kernel_size, 1, dilation=d,
                                       padding=get_padding(kernel_size, d)))
                for d in dilation])
            self.convs1.apply(init_weights)
            self.convs2 = nn.ModuleList([
                _weight_norm(nn.Conv1d(channels, channels, kernel_size, 1, dilation=1,
                                       padding=get_padding(kernel_size, 1)))
                for _ in dilation])
            self.convs2.apply(init_weights)

        def forward(self, x):
            for c1, c2 in zip(self.convs1, self.convs2, strict=True):
                xt = F.leaky_relu(x, LRELU_SLOPE)
                xt = c1(xt)
                xt = F.leaky_relu(xt, LRELU_SLOPE)
                xt = c2(xt)
                x = xt + x
            return x

    class Generator(nn.Module):
        def __init__(self):
            super().__init__()
            self.num_kernels = len(h["resblock_kernel_sizes"])
            self.num_upsamples = len(h["upsample_rates"])
            c0 = h["upsample_initial_channel"]
            self.conv_pre = _weight_norm(nn.Conv1d(80, c0, 7, 1, padding=3))
            self.ups = nn.ModuleList()
            for i, (u, k) in enumerate(zip(h["upsample_rates"], h["upsample_kernel_sizes"],
                                           strict=True)):
                self.ups.append(_weight_norm(nn.ConvTranspose1d(
                    c0 // (2 ** i), c0 // (2 ** (i + 1)), k, u, padding=(k - u) // 2)))
            self.resblocks = nn.ModuleList()
            for i in range(len(self.ups)):
                ch = c0 // (2 ** (i + 1))
                for k, d in zip(h["resblock_kernel_sizes"], h["resblock_dilation_sizes"],
                                strict=True):
                    self.resblocks.append(ResBlock1(ch, k, d))
            self.conv_post = _weight_norm(nn.Conv1d(ch, 1, 7, 1, padding=3))
            self.ups.apply(init_weights)
            self.conv_post.apply(init_weights)

        def forward(self, x):  # (N, 80, T) -> (N, 1, 256 T)
            x = self.conv_pre(x)
            for i in range(self.num_upsamples):
                x = F.leaky_relu(x, LRELU_SLOPE)
                x = self.ups[i](x)
                xs = None
                for j in range(self.num_kernels):
                    if xs is None:
                        xs = self.resblocks[i * self.num_kernels + j](x)
                    else:
                        xs += self.resblocks[i * self.num_kernels + j](x)
                x = xs / self.num_kernels
            x = F.leaky_relu(x)
            x = self.conv_post(x)
            return torch.tanh(x)

    return Generator()


# ---------------------------------------------------------------------------------------
# Ground truth, read off the sources
# ---------------------------------------------------------------------------------------

#: MelGAN: kernel 2r, stride r, padding r//2 + r%2, output_padding r%2 for r = 8, 8, 2, 2;
#: every kernel twice its stride, so the overlap is even; the verdict depends on the
#: weights. Modules model.3, .8, .13, .18 with three residual blocks a stage.
#: HiFi-GAN V1: kernel 16/16/4/4, stride 8/8/2/2, padding (k - u) // 2 = 4, 4, 1, 1; even.
AUDIO_ZOO: dict[str, ZooNet] = {z.name: z for z in (
    ZooNet("melgan", "descriptinc/melgan-neurips mel2wav/modules.py (Generator)", melgan,
           (1, 80, 8),
           tuple(_up("ConvTranspose", k, s, p, True, path=f"model.{i}")
                 for (k, s, p), i in zip([(16, 8, 4), (16, 8, 4), (4, 2, 1), (4, 2, 1)],
                                         (3, 8, 13, 18), strict=True)),
           total_up=256, total_down=1, period=256),
    ZooNet("hifigan_v1", "jik876/hifi-gan models.py (Generator, ResBlock1), config_v1.json",
           hifigan_v1, (1, 80, 8),
           tuple(_up("ConvTranspose", k, s, p, True, path=f"ups.{i}")
                 for i, (k, s, p) in enumerate([(16, 8, 4), (16, 8, 4), (4, 2, 1), (4, 2, 1)])),
           total_up=256, total_down=1, period=256),
)}

__all__ = ["AUDIO_ZOO", "Truth", "hifigan_v1", "melgan"]
