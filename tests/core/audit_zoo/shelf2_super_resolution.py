"""The second shelf's super-resolution networks (issue 27): Real-ESRGAN's x2 RRDBNet (pixel
unshuffle written with view/permute/reshape, nearest x2 twice) and LapSRN (bilinear-initialised
transposed convolutions, two outputs).

Each is written here from its source's layers and shapes (file named in its docstring), at
cut widths and depths.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

# ---------------------------------------------------------------------------------------
# Real-ESRGAN x2: RRDBNet with pixel_unshuffle by reshapes
# ---------------------------------------------------------------------------------------


def _pixel_unshuffle(x, scale):
    """XPixelGroup/BasicSR basicsr/archs/arch_util.py ``pixel_unshuffle``."""
    b, c, hh, hw = x.size()
    out_channel = c * (scale ** 2)
    assert hh % scale == 0 and hw % scale == 0
    h = hh // scale
    w = hw // scale
    x_view = x.view(b, c, h, scale, w, scale)
    return x_view.permute(0, 1, 3, 5, 2, 4).reshape(b, out_channel, h, w)


def real_esrgan_x2(num_in_ch: int = 3, num_out_ch: int = 3, num_feat: int = 8,
                   num_block: int = 1, num_grow_ch: int = 4) -> nn.Module:
    """XPixelGroup/BasicSR, basicsr/archs/rrdbnet_arch.py (RRDBNet with scale=2, the
    network of xinntao/Real-ESRGAN's RealESRGAN_x2plus: ``pixel_unshuffle(x, scale=2)``,
    conv_first, RRDB body, then ``F.interpolate(scale_factor=2, mode='nearest')`` before
    conv_up1 and conv_up2) with basicsr/archs/arch_util.py (pixel_unshuffle,
    default_init_weights: kaiming normal scaled by 0.1 in the dense blocks). Cut: num_feat
    64 to 8, num_block 23 to 1, num_grow_ch 32 to 4."""

    class ResidualDenseBlock(nn.Module):
        def __init__(self):
            super().__init__()
            f, g = num_feat, num_grow_ch
            self.conv1 = nn.Conv2d(f, g, 3, 1, 1)
            self.conv2 = nn.Conv2d(f + g, g, 3, 1, 1)
            self.conv3 = nn.Conv2d(f + 2 * g, g, 3, 1, 1)
            self.conv4 = nn.Conv2d(f + 3 * g, g, 3, 1, 1)
            self.conv5 = nn.Conv2d(f + 4 * g, f, 3, 1, 1)
            self.lrelu = nn.LeakyReLU(negative_slope=0.2, inplace=True)
            for m in (self.conv1, self.conv2, self.conv3, self.conv4, self.conv5):
                nn.init.kaiming_normal_(m.weight)
                m.weight.data *= 0.1
                m.bias.data.fill_(0)

        def forward(self, x):
            x1 = self.lrelu(self.conv1(x))
            x2 = self.lrelu(self.conv2(torch.cat((x, x1), 1)))
            x3 = self.lrelu(self.conv3(torch.cat((x, x1, x2), 1)))
            x4 = self.lrelu(self.conv4(torch.cat((x, x1, x2, x3), 1)))
            x5 = self.conv5(torch.cat((x, x1, x2, x3, x4), 1))
            return x5 * 0.2 + x

    class RRDB(nn.Module):
        def __init__(self):
            super().__init__()
            self.rdb1, self.rdb2, self.rdb3 = (ResidualDenseBlock(), ResidualDenseBlock(),
                                               ResidualDenseBlock())

        def forward(self, x):
            return self.rdb3(self.rdb2(self.rdb1(x))) * 0.2 + x

    class RRDBNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv_first = nn.Conv2d(num_in_ch * 4, num_feat, 3, 1, 1)
            self.body = nn.Sequential(*[RRDB() for _ in range(num_block)])
            self.conv_body = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
            self.conv_up1 = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
            self.conv_up2 = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
            self.conv_hr = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
            self.conv_last = nn.Conv2d(num_feat, num_out_ch, 3, 1, 1)
            self.lrelu = nn.LeakyReLU(negative_slope=0.2, inplace=True)

        def forward(self, x):
            feat = _pixel_unshuffle(x, scale=2)  # (N, 4C, H/2, W/2)
            feat = self.conv_first(feat)
            body_feat = self.conv_body(self.body(feat))
            feat = feat + body_feat
            feat = self.lrelu(self.conv_up1(F.interpolate(feat, scale_factor=2, mode="nearest")))
            feat = self.lrelu(self.conv_up2(F.interpolate(feat, scale_factor=2, mode="nearest")))
            return self.conv_last(self.lrelu(self.conv_hr(feat)))

    return RRDBNet()


# ---------------------------------------------------------------------------------------
# LapSRN: bilinear transposed convolutions, returns (HR_2x, HR_4x)
# ---------------------------------------------------------------------------------------


def _upsample_filter(size: int) -> torch.Tensor:
    """twtygqyy/pytorch-LapSRN lapsrn.py ``get_upsample_filter``: a 2-D bilinear kernel."""
    factor = (size + 1) // 2
    center = factor - 1 if size % 2 == 1 else factor - 0.5
    og = np.ogrid[:size, :size]
    filt = (1 - abs(og[0] - center) / factor) * (1 - abs(og[1] - center) / factor)
    return torch.from_numpy(filt).float()


def lapsrn(width: int = 8, convs: int = 2) -> nn.Module:
    """twtygqyy/pytorch-LapSRN, lapsrn.py (Net: conv_input, two levels of _Conv_Block
    (3x3 convs, then ``ConvTranspose2d(64, 64, 4, 2, 1)``), the image branch
    ``ConvTranspose2d(1, 1, 4, 2, 1)`` per level, residual convs; returns ``HR_2x, HR_4x``).
    Its initialisation: convs normal(0, sqrt(2/n)), every transposed convolution the
    bilinear kernel repeated over all channel pairs. Cut: 64 features to 8, ten convs per
    block to two."""

    class ConvBlock(nn.Module):
        def __init__(self):
            super().__init__()
            layers = []
            for _ in range(convs):
                layers += [nn.Conv2d(width, width, 3, 1, 1, bias=False),
                           nn.LeakyReLU(0.2, inplace=True)]
            layers += [nn.ConvTranspose2d(width, width, 4, 2, 1, bias=False),
                       nn.LeakyReLU(0.2, inplace=True)]
            self.cov_block = nn.Sequential(*layers)

        def forward(self, x):
            return self.cov_block(x)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv_input = nn.Conv2d(1, width, 3, 1, 1, bias=False)
            self.relu = nn.LeakyReLU(0.2, inplace=True)
            self.convt_I1 = nn.ConvTranspose2d(1, 1, 4, 2, 1, bias=False)
            self.convt_R1 = nn.Conv2d(width, 1, 3, 1, 1, bias=False)
            self.convt_F1 = nn.Sequential(ConvBlock())
            self.convt_I2 = nn.ConvTranspose2d(1, 1, 4, 2, 1, bias=False)
            self.convt_R2 = nn.Conv2d(width, 1, 3, 1, 1, bias=False)
            self.convt_F2 = nn.Sequential(ConvBlock())
            for m in self.modules():
                if isinstance(m, nn.Conv2d):
                    n = m.kernel_size[0] * m.kernel_size[1] * m.out_channels
                    m.weight.data.normal_(0, np.sqrt(2.0 / n))
                if isinstance(m, nn.ConvTranspose2d):
                    c1, c2, h, w = m.weight.data.size()
                    m.weight.data = _upsample_filter(h).view(1, 1, h, w).repeat(c1, c2, 1, 1)

        def forward(self, x):
            out = self.relu(self.conv_input(x))
            convt_F1 = self.convt_F1(out)
            convt_I1 = self.convt_I1(x)
            convt_R1 = self.convt_R1(convt_F1)
            HR_2x = convt_I1 + convt_R1
            convt_F2 = self.convt_F2(convt_F1)
            convt_I2 = self.convt_I2(HR_2x)
            convt_R2 = self.convt_R2(convt_F2)
            HR_4x = convt_I2 + convt_R2
            return HR_2x, HR_4x

    return Net()
