"""Segmentation networks of the zoo: ENet (max-unpooling, output_size=), LinkNet
(parallel branches, nested Sequential), milesial's U-Net (align_corners=True).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

# ---------------------------------------------------------------------------------------
# 7. ENet (max-unpooling; transposed convolutions called with output_size=)
# ---------------------------------------------------------------------------------------


def enet(num_classes: int = 3) -> nn.Module:
    """davidtvs/PyTorch-ENet, models/enet.py: InitialBlock, RegularBottleneck,
    DownsamplingBottleneck, UpsamplingBottleneck and ENet's forward (widths 16/64/128 cut
    to 8/16/16; stages 2-3 reduced to one regular bottleneck, stage 1 to one)."""

    class InitialBlock(nn.Module):
        def __init__(self, in_channels, out_channels, bias=False):
            super().__init__()
            self.main_branch = nn.Conv2d(in_channels, out_channels - 3, kernel_size=3,
                                         stride=2, padding=1, bias=bias)
            self.ext_branch = nn.MaxPool2d(3, stride=2, padding=1)
            self.batch_norm = nn.BatchNorm2d(out_channels)
            self.out_activation = nn.ReLU()

        def forward(self, x):
            main = self.main_branch(x)
            ext = self.ext_branch(x)
            out = torch.cat((main, ext), 1)
            out = self.batch_norm(out)
            return self.out_activation(out)

    class RegularBottleneck(nn.Module):
        def __init__(self, channels, internal_ratio=4, kernel_size=3, padding=0,
                     dilation=1, dropout_prob=0, bias=False):
            super().__init__()
            internal_channels = channels // internal_ratio
            self.ext_conv1 = nn.Sequential(
                nn.Conv2d(channels, internal_channels, kernel_size=1, stride=1, bias=bias),
                nn.BatchNorm2d(internal_channels), nn.ReLU())
            self.ext_conv2 = nn.Sequential(
                nn.Conv2d(internal_channels, internal_channels, kernel_size=kernel_size,
                          stride=1, padding=padding, dilation=dilation, bias=bias),
                nn.BatchNorm2d(internal_channels), nn.ReLU())
            self.ext_conv3 = nn.Sequential(
                nn.Conv2d(internal_channels, channels, kernel_size=1, stride=1, bias=bias),
                nn.BatchNorm2d(channels), nn.ReLU())
            self.ext_regul = nn.Dropout2d(p=dropout_prob)
            self.out_activation = nn.ReLU()

        def forward(self, x):
            main = x
            ext = self.ext_conv1(x)
            ext = self.ext_conv2(ext)
            ext = self.ext_conv3(ext)
            ext = self.ext_regul(ext)
            out = main + ext
            return self.out_activation(out)

    class DownsamplingBottleneck(nn.Module):
        def __init__(self, in_channels, out_channels, internal_ratio=4, return_indices=False,
                     dropout_prob=0, bias=False):
            super().__init__()
            self.return_indices = return_indices
            internal_channels = in_channels // internal_ratio
            self.main_max1 = nn.MaxPool2d(2, stride=2, return_indices=return_indices)
            self.ext_conv1 = nn.Sequential(
                nn.Conv2d(in_channels, internal_channels, kernel_size=2, stride=2, bias=bias),
                nn.BatchNorm2d(internal_channels), nn.ReLU())
            self.ext_conv2 = nn.Sequential(
                nn.Conv2d(internal_channels, internal_channels, kernel_size=3, stride=1,
                          padding=1, bias=bias),
                nn.BatchNorm2d(internal_channels), nn.ReLU())
            self.ext_conv3 = nn.Sequential(
                nn.Conv2d(internal_channels, out_channels, kernel_size=1, stride=1, bias=bias),
                nn.BatchNorm2d(out_channels), nn.ReLU())
            self.ext_regul = nn.Dropout2d(p=dropout_prob)
            self.out_activation = nn.ReLU()

        def forward(self, x):
            if self.return_indices:
                main, max_indices = self.main_max1(x)
            else:
                main = self.main_max1(x)
            ext = self.ext_conv1(x)
            ext = self.ext_conv2(ext)
            ext = self.ext_conv3(ext)
            ext = self.ext_regul(ext)
            n, ch_ext, h, w = ext.size()
            ch_main = main.size()[1]
            padding = torch.zeros(n, ch_ext - ch_main, h, w)
            main = torch.cat((main, padding), 1)
            out = main + ext
            return self.out_activation(out), max_indices

    class UpsamplingBottleneck(nn.Module):
        def __init__(self, in_channels, out_channels, internal_ratio=4, dropout_prob=0,
                     bias=False):
            super().__init__()
            internal_channels = in_channels // internal_ratio
            self.main_conv1 = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, kernel_size=1, bias=bias),
                nn.BatchNorm2d(out_channels))
            self.main_unpool1 = nn.MaxUnpool2d(kernel_size=2)
            self.ext_conv1 = nn.Sequential(
                nn.Conv2d(in_channels, internal_channels, kernel_size=1, bias=bias),
                nn.BatchNorm2d(internal_channels), nn.ReLU())
            self.ext_tconv1 = nn.ConvTranspose2d(internal_channels, internal_channels,
                                                 kernel_size=2, stride=2, bias=bias)
            self.ext_tconv1_bnorm = nn.BatchNorm2d(internal_channels)
            self.ext_tconv1_activation = nn.ReLU()
            self.ext_conv2 = nn.Sequential(
                nn.Conv2d(internal_channels, out_channels, kernel_size=1, bias=bias),
                nn.BatchNorm2d(out_channels))
            self.ext_regul = nn.Dropout2d(p=dropout_prob)
            self.out_activation = nn.ReLU()

        def forward(self, x, max_indices, output_size):
            main = self.main_conv1(x)
            main = self.main_unpool1(main, max_indices, output_size=output_size)
            ext = self.ext_conv1(x)
            ext = self.ext_tconv1(ext, output_size=output_size)
            ext = self.ext_tconv1_bnorm(ext)
            ext = self.ext_tconv1_activation(ext)
            ext = self.ext_conv2(ext)
            ext = self.ext_regul(ext)
            out = main + ext
            return self.out_activation(out)

    class ENet(nn.Module):
        def __init__(self):
            super().__init__()
            self.initial_block = InitialBlock(3, 8)
            self.downsample1_0 = DownsamplingBottleneck(8, 16, return_indices=True)
            self.regular1_1 = RegularBottleneck(16, padding=1)
            self.downsample2_0 = DownsamplingBottleneck(16, 16, return_indices=True)
            self.dilated2_2 = RegularBottleneck(16, dilation=2, padding=2)
            self.upsample4_0 = UpsamplingBottleneck(16, 16)
            self.regular4_1 = RegularBottleneck(16, padding=1)
            self.upsample5_0 = UpsamplingBottleneck(16, 8)
            self.regular5_1 = RegularBottleneck(8, padding=1)
            self.transposed_conv = nn.ConvTranspose2d(8, num_classes, kernel_size=3,
                                                      stride=2, padding=1, bias=False)

        def forward(self, x):
            input_size = x.size()
            x = self.initial_block(x)
            stage1_input_size = x.size()
            x, max_indices1_0 = self.downsample1_0(x)
            x = self.regular1_1(x)
            stage2_input_size = x.size()
            x, max_indices2_0 = self.downsample2_0(x)
            x = self.dilated2_2(x)
            x = self.upsample4_0(x, max_indices2_0, output_size=stage2_input_size)
            x = self.regular4_1(x)
            x = self.upsample5_0(x, max_indices1_0, output_size=stage1_input_size)
            x = self.regular5_1(x)
            x = self.transposed_conv(x, output_size=input_size)
            return x

    return ENet()


# ---------------------------------------------------------------------------------------
# 8. LinkNet (parallel branches, nested Sequential)
# ---------------------------------------------------------------------------------------


def linknet(n_classes: int = 3) -> nn.Module:
    """e-lab/pytorch-linknet, models/linknet.py (with its models/basic-block BasicBlock,
    Encoder, Decoder; the ResNet-18 encoder widths 64-512 cut to 8-64)."""

    class BasicBlock(nn.Module):
        def __init__(self, in_planes, out_planes, kernel_size, stride=1, padding=0,
                     groups=1, bias=False):
            super().__init__()
            self.conv1 = nn.Conv2d(in_planes, out_planes, kernel_size, stride, padding,
                                   groups=groups, bias=bias)
            self.bn1 = nn.BatchNorm2d(out_planes)
            self.relu = nn.ReLU(inplace=True)
            self.conv2 = nn.Conv2d(out_planes, out_planes, kernel_size, 1, padding,
                                   groups=groups, bias=bias)
            self.bn2 = nn.BatchNorm2d(out_planes)
            self.downsample = None
            if stride > 1:
                self.downsample = nn.Sequential(
                    nn.Conv2d(in_planes, out_planes, kernel_size=1, stride=stride,
                              bias=False),
                    nn.BatchNorm2d(out_planes))

        def forward(self, x):
            out = self.relu(self.bn1(self.conv1(x)))
            out = self.bn2(self.conv2(out))
            if self.downsample is not None:
                x = self.downsample(x)
            return self.relu(out + x)

    class Encoder(nn.Module):
        def __init__(self, in_planes, out_planes, kernel_size, stride=1, padding=0,
                     groups=1, bias=False):
            super().__init__()
            self.block1 = BasicBlock(in_planes, out_planes, kernel_size, stride, padding,
                                     groups, bias)
            self.block2 = BasicBlock(out_planes, out_planes, kernel_size, 1, padding,
                                     groups, bias)

        def forward(self, x):
            return self.block2(self.block1(x))

    class Decoder(nn.Module):
        def __init__(self, in_planes, out_planes, kernel_size, stride=1, padding=0,
                     output_padding=0, groups=1, bias=False):
            super().__init__()
            self.conv1 = nn.Sequential(
                nn.Conv2d(in_planes, in_planes // 4, 1, 1, 0, bias=bias),
                nn.BatchNorm2d(in_planes // 4), nn.ReLU(inplace=True))
            self.tp_conv = nn.Sequential(
                nn.ConvTranspose2d(in_planes // 4, in_planes // 4, kernel_size, stride,
                                   padding, output_padding, bias=bias),
                nn.BatchNorm2d(in_planes // 4), nn.ReLU(inplace=True))
            self.conv2 = nn.Sequential(
                nn.Conv2d(in_planes // 4, out_planes, 1, 1, 0, bias=bias),
                nn.BatchNorm2d(out_planes), nn.ReLU(inplace=True))

        def forward(self, x_high_level, x_low_level=None):
            x = self.conv1(x_high_level)
            x = self.tp_conv(x)
            x = self.conv2(x)
            return x

    class LinkNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(3, 8, 7, 2, 3, bias=False)
            self.bn1 = nn.BatchNorm2d(8)
            self.relu = nn.ReLU(inplace=True)
            self.maxpool = nn.MaxPool2d(3, 2, 1)
            self.encoder1 = Encoder(8, 8, 3, 1, 1)
            self.encoder2 = Encoder(8, 16, 3, 2, 1)
            self.encoder3 = Encoder(16, 32, 3, 2, 1)
            self.encoder4 = Encoder(32, 64, 3, 2, 1)
            self.decoder1 = Decoder(8, 8, 3, 1, 1, 0)
            self.decoder2 = Decoder(16, 8, 3, 2, 1, 1)
            self.decoder3 = Decoder(32, 16, 3, 2, 1, 1)
            self.decoder4 = Decoder(64, 32, 3, 2, 1, 1)
            self.tp_conv1 = nn.Sequential(nn.ConvTranspose2d(8, 4, 3, 2, 1, 1),
                                          nn.BatchNorm2d(4), nn.ReLU(inplace=True))
            self.conv2 = nn.Sequential(nn.Conv2d(4, 4, 3, 1, 1), nn.BatchNorm2d(4),
                                       nn.ReLU(inplace=True))
            self.tp_conv2 = nn.ConvTranspose2d(4, n_classes, 2, 2, 0)
            self.lsm = nn.LogSoftmax(dim=1)

        def forward(self, x):
            x = self.conv1(x)
            x = self.bn1(x)
            x = self.relu(x)
            x = self.maxpool(x)
            e1 = self.encoder1(x)
            e2 = self.encoder2(e1)
            e3 = self.encoder3(e2)
            e4 = self.encoder4(e3)
            d4 = e3 + self.decoder4(e4)
            d3 = e2 + self.decoder3(d4)
            d2 = e1 + self.decoder2(d3)
            d1 = x + self.decoder1(d2)
            y = self.tp_conv1(d1)
            y = self.conv2(y)
            y = self.tp_conv2(y)
            y = self.lsm(y)
            return y

    return LinkNet()


# ---------------------------------------------------------------------------------------
# 9. U-Net (bilinear upsampling, align_corners=True; nested Sequential naming)
# ---------------------------------------------------------------------------------------


def milesial_unet(n_channels: int = 3, n_classes: int = 2, w: int = 4) -> nn.Module:
    """milesial/Pytorch-UNet, unet/unet_model.py and unet/unet_parts.py (DoubleConv, Down,
    Up with bilinear=True, OutConv; widths 64-1024 cut to 4-64)."""

    class DoubleConv(nn.Module):
        def __init__(self, in_channels, out_channels, mid_channels=None):
            super().__init__()
            if not mid_channels:
                mid_channels = out_channels
            self.double_conv = nn.Sequential(
                nn.Conv2d(in_channels, mid_channels, kernel_size=3, padding=1, bias=False),
                nn.BatchNorm2d(mid_channels), nn.ReLU(inplace=True),
                nn.Conv2d(mid_channels, out_channels, kernel_size=3, padding=1, bias=False),
                nn.BatchNorm2d(out_channels), nn.ReLU(inplace=True))

        def forward(self, x):
            return self.double_conv(x)

    class Down(nn.Module):
        def __init__(self, in_channels, out_channels):
            super().__init__()
            self.maxpool_conv = nn.Sequential(nn.MaxPool2d(2),
                                              DoubleConv(in_channels, out_channels))

        def forward(self, x):
            return self.maxpool_conv(x)

    class Up(nn.Module):
        def __init__(self, in_channels, out_channels):
            super().__init__()
            self.up = nn.Upsample(scale_factor=2, mode="bilinear", align_corners=True)
            self.conv = DoubleConv(in_channels, out_channels, in_channels // 2)

        def forward(self, x1, x2):
            x1 = self.up(x1)
            diffY = x2.size()[2] - x1.size()[2]
            diffX = x2.size()[3] - x1.size()[3]
            x1 = F.pad(x1, [diffX // 2, diffX - diffX // 2, diffY // 2, diffY - diffY // 2])
            x = torch.cat([x2, x1], dim=1)
            return self.conv(x)

    class UNet(nn.Module):
        def __init__(self):
            super().__init__()
            factor = 2
            self.inc = DoubleConv(n_channels, w)
            self.down1 = Down(w, 2 * w)
            self.down2 = Down(2 * w, 4 * w)
            self.down3 = Down(4 * w, 8 * w)
            self.down4 = Down(8 * w, 16 * w // factor)
            self.up1 = Up(16 * w, 8 * w // factor)
            self.up2 = Up(8 * w, 4 * w // factor)
            self.up3 = Up(4 * w, 2 * w // factor)
            self.up4 = Up(2 * w, w)
            self.outc = nn.Conv2d(w, n_classes, kernel_size=1)

        def forward(self, x):
            x1 = self.inc(x)
            x2 = self.down1(x1)
            x3 = self.down2(x2)
            x4 = self.down3(x3)
            x5 = self.down4(x4)
            x = self.up1(x5, x4)
            x = self.up2(x, x3)
            x = self.up3(x, x2)
            x = self.up4(x, x1)
            return self.outc(x)

    return UNet()
