"""StyleGAN2's synthesis network for the zoo: a blurred transposed convolution and the
upfirdn2d zero-insertion skips; source in the docstrings.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

# ---------------------------------------------------------------------------------------
# 10. StyleGAN2 synthesis: a blurred transposed convolution and upfirdn2d skips
# ---------------------------------------------------------------------------------------


def _upfirdn2d_ref(x, f, up=1, down=1, padding=(0, 0, 0, 0), gain=1):
    """NVlabs/stylegan2-ada-pytorch, torch_utils/ops/upfirdn2d.py, _upfirdn2d_ref (2-D
    filter, flip_filter=False)."""
    batch_size, num_channels, in_height, in_width = x.shape
    upx = upy = up
    downx = downy = down
    padx0, padx1, pady0, pady1 = padding
    # Upsample by inserting zeros.
    x = x.reshape([batch_size, num_channels, in_height, 1, in_width, 1])
    x = F.pad(x, [0, upx - 1, 0, 0, 0, upy - 1])
    x = x.reshape([batch_size, num_channels, in_height * upy, in_width * upx])
    # Pad or crop.
    x = F.pad(x, [max(padx0, 0), max(padx1, 0), max(pady0, 0), max(pady1, 0)])
    x = x[:, :, max(-pady0, 0): x.shape[2] - max(-pady1, 0),
          max(-padx0, 0): x.shape[3] - max(-padx1, 0)]
    # Setup filter.
    f = f * (gain ** (f.ndim / 2))
    f = f.to(x.dtype)
    f = f.flip(list(range(f.ndim)))
    # Convolve with the filter.
    f = f[np.newaxis, np.newaxis].repeat([num_channels, 1] + [1] * f.ndim)
    x = F.conv2d(input=x, weight=f, groups=num_channels)
    # Downsample by throwing away pixels.
    x = x[:, :, ::downy, ::downx]
    return x


def _setup_filter(f):
    """upfirdn2d.setup_filter: the outer product of [1, 3, 3, 1], normalised to sum 1."""
    f = torch.as_tensor(f, dtype=torch.float32)
    f = f.ger(f)
    return f / f.sum()


def stylegan2_synthesis(channels: int = 8, img_channels: int = 3, blocks: int = 3
                        ) -> nn.Module:
    """NVlabs/stylegan2-ada-pytorch, training/networks.py (SynthesisLayer, ToRGBLayer,
    SynthesisBlock, architecture='skip') with torch_utils/ops/conv2d_resample.py
    (up=2: conv_transpose2d at stride 2, padding 0, then upfirdn2d with the [1,3,3,1]
    filter, padding 1, gain 4) and upfirdn2d.upsample2d for the skips (zero insertion,
    the same filter, padding [2, 1, 2, 1], gain 4). The style modulation is fixed (one
    style, the weights demodulated once) so the weights are constants; the network is
    fed the 4x4 feature map (the constant input of SynthesisBlock b4)."""

    class SynthesisLayer(nn.Module):
        def __init__(self, in_channels, out_channels, kernel_size=3, up=1):
            super().__init__()
            self.up = up
            self.padding = kernel_size // 2
            self.register_buffer("resample_filter", _setup_filter([1, 3, 3, 1]))
            w = torch.randn([out_channels, in_channels, kernel_size, kernel_size])
            w = w * (w.square().sum(dim=[1, 2, 3], keepdim=True) + 1e-8).rsqrt()  # demod
            self.weight = nn.Parameter(w)
            self.bias = nn.Parameter(torch.zeros([out_channels]))

        def forward(self, x):
            if self.up == 2:
                # conv2d_resample(x, w, f=resample_filter, up=2, padding=1):
                # px0 = 1 + (4 + 2 - 1) // 2 - (3 - 1) = 1; px1 = 1 + (4 - 2) // 2 - (3 - 2) = 1
                x = F.conv_transpose2d(x, self.weight.transpose(0, 1), stride=2, padding=0)
                x = _upfirdn2d_ref(x, self.resample_filter, padding=(1, 1, 1, 1), gain=4)
            else:
                x = F.conv2d(x, self.weight, padding=self.padding)
            x = x + self.bias.reshape(1, -1, 1, 1)
            return F.leaky_relu(x, 0.2) * np.sqrt(2)  # bias_act 'lrelu'

    class ToRGBLayer(nn.Module):
        def __init__(self, in_channels, out_channels):
            super().__init__()
            self.weight = nn.Parameter(torch.randn([out_channels, in_channels, 1, 1]))
            self.bias = nn.Parameter(torch.zeros([out_channels]))

        def forward(self, x):
            return F.conv2d(x, self.weight) + self.bias.reshape(1, -1, 1, 1)

    class SynthesisBlock(nn.Module):
        def __init__(self, in_channels, out_channels, first=False):
            super().__init__()
            self.first = first
            self.register_buffer("resample_filter", _setup_filter([1, 3, 3, 1]))
            if not first:
                self.conv0 = SynthesisLayer(in_channels, out_channels, up=2)
            self.conv1 = SynthesisLayer(out_channels, out_channels)
            self.torgb = ToRGBLayer(out_channels, img_channels)

        def forward(self, x, img):
            if not self.first:
                x = self.conv0(x)
            x = self.conv1(x)
            if img is not None:
                # upfirdn2d.upsample2d(img, resample_filter): up=2, padding
                # [px0 + (fw + up - 1) // 2, px1 + (fw - up) // 2, ...] = [2, 1, 2, 1]
                img = _upfirdn2d_ref(img, self.resample_filter, up=2,
                                     padding=(2, 1, 2, 1), gain=4)
            y = self.torgb(x)
            img = img + y if img is not None else y
            return x, img

    class SynthesisNetwork(nn.Module):
        def __init__(self):
            super().__init__()
            self.b4 = SynthesisBlock(channels, channels, first=True)
            self.blocks = nn.ModuleList(SynthesisBlock(channels, channels)
                                        for _ in range(blocks))

        def forward(self, x):  # (N, C, 4, 4) -> (N, 3, 4 * 2**blocks, ...)
            x, img = self.b4(x, None)
            for block in self.blocks:
                x, img = block(x, img)
            return img

    return SynthesisNetwork()
