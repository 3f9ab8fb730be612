"""Decoders of the zoo: fast-style TransformerNet (upsample + convolution) and the
latent-diffusion VAE decoder (nearest resize + convolution); sources in the docstrings.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

# ---------------------------------------------------------------------------------------
# 2. Fast neural style TransformerNet
# ---------------------------------------------------------------------------------------


def transformer_net(w: int = 4) -> nn.Module:
    """pytorch/examples, fast_neural_style/neural_style/transformer_net.py (widths 32, 64,
    128 cut to w, 2w, 4w; 5 residual blocks kept)."""

    class ConvLayer(nn.Module):
        def __init__(self, in_channels, out_channels, kernel_size, stride):
            super().__init__()
            reflection_padding = kernel_size // 2
            self.reflection_pad = nn.ReflectionPad2d(reflection_padding)
            self.conv2d = nn.Conv2d(in_channels, out_channels, kernel_size, stride)

        def forward(self, x):
            return self.conv2d(self.reflection_pad(x))

    class ResidualBlock(nn.Module):
        def __init__(self, channels):
            super().__init__()
            self.conv1 = ConvLayer(channels, channels, kernel_size=3, stride=1)
            self.in1 = nn.InstanceNorm2d(channels, affine=True)
            self.conv2 = ConvLayer(channels, channels, kernel_size=3, stride=1)
            self.in2 = nn.InstanceNorm2d(channels, affine=True)
            self.relu = nn.ReLU()

        def forward(self, x):
            residual = x
            out = self.relu(self.in1(self.conv1(x)))
            out = self.in2(self.conv2(out))
            return out + residual

    class UpsampleConvLayer(nn.Module):
        def __init__(self, in_channels, out_channels, kernel_size, stride, upsample=None):
            super().__init__()
            self.upsample = upsample
            reflection_padding = kernel_size // 2
            self.reflection_pad = nn.ReflectionPad2d(reflection_padding)
            self.conv2d = nn.Conv2d(in_channels, out_channels, kernel_size, stride)

        def forward(self, x):
            x_in = x
            if self.upsample:
                x_in = F.interpolate(x_in, mode="nearest", scale_factor=self.upsample)
            return self.conv2d(self.reflection_pad(x_in))

    class TransformerNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = ConvLayer(3, w, kernel_size=9, stride=1)
            self.in1 = nn.InstanceNorm2d(w, affine=True)
            self.conv2 = ConvLayer(w, 2 * w, kernel_size=3, stride=2)
            self.in2 = nn.InstanceNorm2d(2 * w, affine=True)
            self.conv3 = ConvLayer(2 * w, 4 * w, kernel_size=3, stride=2)
            self.in3 = nn.InstanceNorm2d(4 * w, affine=True)
            self.res1 = ResidualBlock(4 * w)
            self.res2 = ResidualBlock(4 * w)
            self.res3 = ResidualBlock(4 * w)
            self.res4 = ResidualBlock(4 * w)
            self.res5 = ResidualBlock(4 * w)
            self.deconv1 = UpsampleConvLayer(4 * w, 2 * w, kernel_size=3, stride=1, upsample=2)
            self.in4 = nn.InstanceNorm2d(2 * w, affine=True)
            self.deconv2 = UpsampleConvLayer(2 * w, w, kernel_size=3, stride=1, upsample=2)
            self.in5 = nn.InstanceNorm2d(w, affine=True)
            self.deconv3 = ConvLayer(w, 3, kernel_size=9, stride=1)
            self.relu = nn.ReLU()

        def forward(self, X):
            y = self.relu(self.in1(self.conv1(X)))
            y = self.relu(self.in2(self.conv2(y)))
            y = self.relu(self.in3(self.conv3(y)))
            y = self.res1(y)
            y = self.res2(y)
            y = self.res3(y)
            y = self.res4(y)
            y = self.res5(y)
            y = self.relu(self.in4(self.deconv1(y)))
            y = self.relu(self.in5(self.deconv2(y)))
            y = self.deconv3(y)
            return y

    return TransformerNet()


# ---------------------------------------------------------------------------------------
# 11. Latent-diffusion VAE decoder (nearest resize + convolution)
# ---------------------------------------------------------------------------------------


def ldm_decoder(ch: int = 8, z_channels: int = 4, ch_mult=(1, 2, 2)) -> nn.Module:
    """CompVis/latent-diffusion, ldm/modules/diffusionmodules/model.py: Decoder, Upsample
    (with_conv=True), ResnetBlock, Normalize (GroupNorm 32 cut to 4 groups; one ResnetBlock
    per level instead of num_res_blocks + 1; no attention, attn_resolutions=[])."""

    def Normalize(in_channels):
        return nn.GroupNorm(num_groups=4, num_channels=in_channels, eps=1e-6, affine=True)

    def nonlinearity(x):
        return x * torch.sigmoid(x)

    class Upsample(nn.Module):
        def __init__(self, in_channels, with_conv=True):
            super().__init__()
            self.with_conv = with_conv
            if self.with_conv:
                self.conv = nn.Conv2d(in_channels, in_channels, kernel_size=3, stride=1,
                                      padding=1)

        def forward(self, x):
            x = F.interpolate(x, scale_factor=2.0, mode="nearest")
            if self.with_conv:
                x = self.conv(x)
            return x

    class ResnetBlock(nn.Module):
        def __init__(self, in_channels, out_channels):
            super().__init__()
            self.norm1 = Normalize(in_channels)
            self.conv1 = nn.Conv2d(in_channels, out_channels, 3, 1, 1)
            self.norm2 = Normalize(out_channels)
            self.conv2 = nn.Conv2d(out_channels, out_channels, 3, 1, 1)
            self.nin_shortcut = (nn.Conv2d(in_channels, out_channels, 1, 1, 0)
                                 if in_channels != out_channels else None)

        def forward(self, x):
            h = self.conv1(nonlinearity(self.norm1(x)))
            h = self.conv2(nonlinearity(self.norm2(h)))
            if self.nin_shortcut is not None:
                x = self.nin_shortcut(x)
            return x + h

    class Decoder(nn.Module):
        def __init__(self, out_ch=3):
            super().__init__()
            self.num_resolutions = len(ch_mult)
            block_in = ch * ch_mult[-1]
            self.conv_in = nn.Conv2d(z_channels, block_in, 3, 1, 1)
            self.mid = nn.Module()
            self.mid.block_1 = ResnetBlock(block_in, block_in)
            self.up = nn.ModuleList()
            for i_level in reversed(range(self.num_resolutions)):
                block = nn.ModuleList([ResnetBlock(block_in, ch * ch_mult[i_level])])
                block_in = ch * ch_mult[i_level]
                up = nn.Module()
                up.block = block
                if i_level != 0:
                    up.upsample = Upsample(block_in)
                self.up.insert(0, up)
            self.norm_out = Normalize(block_in)
            self.conv_out = nn.Conv2d(block_in, out_ch, 3, 1, 1)

        def forward(self, z):
            h = self.conv_in(z)
            h = self.mid.block_1(h)
            for i_level in reversed(range(self.num_resolutions)):
                for blk in self.up[i_level].block:
                    h = blk(h)
                if i_level != 0:
                    h = self.up[i_level].upsample(h)
            h = nonlinearity(self.norm_out(h))
            return self.conv_out(h)

    return Decoder()
