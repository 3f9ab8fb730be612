"""The second shelf's generators (issue 27): ProGAN (nearest upsampling written as
view/expand), BigGAN (a latent made 4x4, nearest upsampling, self-attention with max-pools),
rosinality's StyleGAN2 (modulated transposed convolutions whose weights are computed in the
forward, upfirdn2d written with pad/reshape, a tuple output) and SPADE (the segmentation map
resized to every feature map's size, the last one the same size).

Each is written here from its source's layers and shapes (file named in its docstring), at
cut widths; latent-fed generators take their latent as an (N, Z, 1, 1) tensor (the audit
feeds 4-D inputs) and flatten it where the source takes (N, Z).
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

# ---------------------------------------------------------------------------------------
# ProGAN (facebookresearch/pytorch_GAN_zoo GNet): Upscale2d as view / expand / view
# ---------------------------------------------------------------------------------------


def _upscale2d(x, factor=2):
    """pytorch_GAN_zoo models/networks/custom_layers.py ``Upscale2d``: nearest upsampling
    by reshapes."""
    assert isinstance(factor, int) and factor >= 1
    if factor == 1:
        return x
    s = x.size()
    x = x.view(-1, s[1], s[2], 1, s[3], 1)
    x = x.expand(-1, s[1], s[2], factor, s[3], factor)
    return x.contiguous().view(-1, s[1], s[2] * factor, s[3] * factor)


def progan_generator(dim_latent: int = 16, depth: int = 8, scales: int = 3) -> nn.Module:
    """facebookresearch/pytorch_GAN_zoo, models/networks/progressive_conv_net.py (GNet:
    formatLayer to 4x4, groupScale0, ``addScale`` x3 at alpha 0) with
    models/networks/custom_layers.py (NormalizationLayer, Upscale2d, EqualizedConv2d /
    EqualizedLinear: N(0, 1) weights, He's constant applied in the forward, zero bias).
    Cut: depthScale0 and the added scales' depth 512 to 8, latent 512 to 16; three added
    scales (4 -> 32)."""

    class NormalizationLayer(nn.Module):
        def forward(self, x, epsilon=1e-8):
            return x * (((x ** 2).mean(dim=1, keepdim=True) + epsilon).rsqrt())

    class ConstrainedLayer(nn.Module):
        def __init__(self, module):
            super().__init__()
            self.module = module
            self.module.bias.data.fill_(0)
            self.module.weight.data.normal_(0, 1)
            self.weight = math.sqrt(2.0 / float(np.prod(self.module.weight.size()[1:])))

        def forward(self, x):
            return self.module(x) * self.weight

    def equalized_conv(cin, cout, k, padding=0):
        return ConstrainedLayer(nn.Conv2d(cin, cout, k, padding=padding))

    class GNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.formatLayer = ConstrainedLayer(nn.Linear(dim_latent, 16 * depth))
            self.groupScale0 = nn.ModuleList([equalized_conv(depth, depth, 3, padding=1)])
            self.scaleLayers = nn.ModuleList(
                nn.ModuleList([equalized_conv(depth, depth, 3, padding=1),
                               equalized_conv(depth, depth, 3, padding=1)])
                for _ in range(scales))
            self.toRGBLayers = nn.ModuleList(equalized_conv(depth, 3, 1)
                                             for _ in range(scales + 1))
            self.leakyRelu = nn.LeakyReLU(0.2)
            self.normalizationLayer = NormalizationLayer()

        def forward(self, x):  # (N, dim_latent, 1, 1)
            x = self.normalizationLayer(x)
            x = x.view(-1, x[0].numel())
            x = self.leakyRelu(self.formatLayer(x))
            x = x.view(x.size()[0], -1, 4, 4)
            x = self.normalizationLayer(x)
            for conv in self.groupScale0:
                x = self.normalizationLayer(self.leakyRelu(conv(x)))
            for group in self.scaleLayers:
                x = _upscale2d(x)
                for conv in group:
                    x = self.normalizationLayer(self.leakyRelu(conv(x)))
            return self.toRGBLayers[-1](x)

    return GNet()


# ---------------------------------------------------------------------------------------
# BigGAN (ajbrock/BigGAN-PyTorch): linear to 4x4, GBlocks with nearest x2, attention
# ---------------------------------------------------------------------------------------


def biggan_generator(dim_z: int = 16, ch: int = 8, n_classes: int = 4) -> nn.Module:
    """ajbrock/BigGAN-PyTorch, BigGAN.py (Generator, arch for resolution 32: ch x4 at
    each of three GBlocks, attention at 16, hierarchical z in 4 chunks, shared class
    embedding) and layers.py (GBlock with ``upsample = partial(F.interpolate,
    scale_factor=2)`` on both paths and a learnable 1x1 shortcut; ccbn; Attention: 1x1
    theta / phi / g / o, ``F.max_pool2d(..., [2, 2])`` on phi and g, gamma 0; the output
    BN-ReLU-conv3x3-tanh). Spectral norm left out (its power iteration only rescales the
    stride-1 convolutions). The class is fixed at 0 (the audit feeds one tensor). Cut: ch
    64 to 8, dim_z 128 to 16, 1000 classes to 4."""

    class CCBN(nn.Module):  # layers.ccbn: gain and bias from the conditioning vector
        def __init__(self, output_size, input_size):
            super().__init__()
            self.gain = nn.Linear(input_size, output_size, bias=False)
            self.bias = nn.Linear(input_size, output_size, bias=False)
            self.register_buffer("stored_mean", torch.zeros(output_size))
            self.register_buffer("stored_var", torch.ones(output_size))

        def forward(self, x, y):
            gain = (1 + self.gain(y)).view(y.size(0), -1, 1, 1)
            bias = self.bias(y).view(y.size(0), -1, 1, 1)
            out = F.batch_norm(x, self.stored_mean, self.stored_var, None, None,
                               self.training, 0.1, 1e-5)
            return out * gain + bias

    class GBlock(nn.Module):
        def __init__(self, cin, cout, cond):
            super().__init__()
            self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
            self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
            self.conv_sc = nn.Conv2d(cin, cout, 1, padding=0)
            self.bn1, self.bn2 = CCBN(cin, cond), CCBN(cout, cond)

        def forward(self, x, y):
            h = F.relu(self.bn1(x, y))
            h = F.interpolate(h, scale_factor=2)
            x = F.interpolate(x, scale_factor=2)
            h = self.conv2(F.relu(self.bn2(self.conv1(h), y)))
            return h + self.conv_sc(x)

    class Attention(nn.Module):
        def __init__(self, c):
            super().__init__()
            self.ch = c
            self.theta = nn.Conv2d(c, c // 8, kernel_size=1, padding=0, bias=False)
            self.phi = nn.Conv2d(c, c // 8, kernel_size=1, padding=0, bias=False)
            self.g = nn.Conv2d(c, c // 2, kernel_size=1, padding=0, bias=False)
            self.o = nn.Conv2d(c // 2, c, kernel_size=1, padding=0, bias=False)
            self.gamma = nn.Parameter(torch.tensor(0.0))

        def forward(self, x, y=None):
            theta = self.theta(x)
            phi = F.max_pool2d(self.phi(x), [2, 2])
            g = F.max_pool2d(self.g(x), [2, 2])
            theta = theta.view(-1, self.ch // 8, x.shape[2] * x.shape[3])
            phi = phi.view(-1, self.ch // 8, x.shape[2] * x.shape[3] // 4)
            g = g.view(-1, self.ch // 2, x.shape[2] * x.shape[3] // 4)
            beta = F.softmax(torch.bmm(theta.transpose(1, 2), phi), -1)
            o = self.o(torch.bmm(g, beta.transpose(1, 2)).view(-1, self.ch // 2, x.shape[2],
                                                                 x.shape[3]))
            return self.gamma * o + x

    class Generator(nn.Module):
        def __init__(self):
            super().__init__()
            width = 4 * ch
            self.num_slots = 4  # len(in_channels) + 1
            self.z_chunk_size = dim_z // self.num_slots
            shared_dim = dim_z
            cond = shared_dim + self.z_chunk_size
            self.shared = nn.Embedding(n_classes, shared_dim)
            self.linear = nn.Linear(self.z_chunk_size, width * 4 * 4)
            self.blocks = nn.ModuleList([
                nn.ModuleList([GBlock(width, width, cond)]),
                nn.ModuleList([GBlock(width, width, cond), Attention(width)]),  # at 16
                nn.ModuleList([GBlock(width, width, cond)])])
            self.output_bn = nn.BatchNorm2d(width)
            self.output_conv = nn.Conv2d(width, 3, 3, padding=1)
            for module in self.modules():  # G_init 'ortho'
                if isinstance(module, nn.Conv2d | nn.Linear | nn.Embedding):
                    nn.init.orthogonal_(module.weight)

        def forward(self, z):  # (N, dim_z, 1, 1)
            z = z.flatten(1)
            y = self.shared(torch.zeros(z.size(0), dtype=torch.long))
            zs = torch.split(z, self.z_chunk_size, 1)
            z = zs[0]
            ys = [torch.cat([y, item], 1) for item in zs[1:]]
            h = self.linear(z)
            h = h.view(h.size(0), -1, 4, 4)
            for index, blocklist in enumerate(self.blocks):
                for block in blocklist:
                    h = block(h, ys[index])
            return torch.tanh(self.output_conv(F.relu(self.output_bn(h))))

    return Generator()


# ---------------------------------------------------------------------------------------
# rosinality StyleGAN2: modulated convolutions (weights computed per sample), upfirdn2d
# ---------------------------------------------------------------------------------------


def _upfirdn2d_native(input, kernel, up_x, up_y, down_x, down_y, pad_x0, pad_x1, pad_y0,
                      pad_y1):
    """rosinality/stylegan2-pytorch, op/upfirdn2d.py ``upfirdn2d_native`` (the CPU path):
    zeros inserted by pad and reshape, pad/crop, a flipped-filter convolution, a stride."""
    _, channel, in_h, in_w = input.shape
    input = input.reshape(-1, in_h, in_w, 1)
    _, in_h, in_w, minor = input.shape
    kernel_h, kernel_w = kernel.shape
    out = input.view(-1, in_h, 1, in_w, 1, minor)
    out = F.pad(out, [0, 0, 0, up_x - 1, 0, 0, 0, up_y - 1])
    out = out.view(-1, in_h * up_y, in_w * up_x, minor)
    out = F.pad(out, [0, 0, max(pad_x0, 0), max(pad_x1, 0), max(pad_y0, 0), max(pad_y1, 0)])
    out = out[:, max(-pad_y0, 0): out.shape[1] - max(-pad_y1, 0),
              max(-pad_x0, 0): out.shape[2] - max(-pad_x1, 0), :]
    out = out.permute(0, 3, 1, 2)
    out = out.reshape([-1, 1, in_h * up_y + pad_y0 + pad_y1, in_w * up_x + pad_x0 + pad_x1])
    w = torch.flip(kernel, [0, 1]).view(1, 1, kernel_h, kernel_w)
    out = F.conv2d(out, w)
    out = out.reshape(-1, minor, in_h * up_y + pad_y0 + pad_y1 - kernel_h + 1,
                      in_w * up_x + pad_x0 + pad_x1 - kernel_w + 1)
    out = out.permute(0, 2, 3, 1)
    out = out[:, ::down_y, ::down_x, :]
    out_h = (in_h * up_y + pad_y0 + pad_y1 - kernel_h + down_y) // down_y
    out_w = (in_w * up_x + pad_x0 + pad_x1 - kernel_w + down_x) // down_x
    return out.view(-1, channel, out_h, out_w)


def _upfirdn2d(input, kernel, up=1, down=1, pad=(0, 0)):
    return _upfirdn2d_native(input, kernel, up, up, down, down, pad[0], pad[1], pad[0], pad[1])


def _make_kernel(k):
    k = torch.tensor(k, dtype=torch.float32)
    k = k[None, :] * k[:, None]
    return k / k.sum()


def rosinality_stylegan2(style_dim: int = 16, channels: int = 8, size: int = 32,
                         n_mlp: int = 2) -> nn.Module:
    """rosinality/stylegan2-pytorch, model.py (Generator, StyledConv, ModulatedConv2d fused
    path: the style-modulated, demodulated weight reshaped per sample and applied with
    ``conv_transpose2d(stride=2, padding=0, groups=batch)`` then Blur([1,3,3,1], pad
    (1, 1), gain 4); ToRGB's skip ``Upsample`` = upfirdn2d(up=2, pad (2, 1)); ConstantInput
    4x4; NoiseInjection with zero weight; FusedLeakyReLU's CPU form) and op/upfirdn2d.py
    (``upfirdn2d_native``). The forward returns ``(image, None)`` as the source's does with
    return_latents=False; noise is the module's fixed buffers (randomize_noise=False) so the
    graph has no random op. Cut: channels 512 to 8, style_dim 512 to 16, n_mlp 8 to 2,
    size 1024 to 32."""
    blur_kernel = [1, 3, 3, 1]

    class FusedLeakyReLU(nn.Module):
        def __init__(self, channel):
            super().__init__()
            self.bias = nn.Parameter(torch.zeros(channel))

        def forward(self, x):
            return F.leaky_relu(x + self.bias.view(1, -1, 1, 1), 0.2) * math.sqrt(2)

    class EqualLinear(nn.Module):
        def __init__(self, in_dim, out_dim, bias_init=0, lr_mul=1, activation=None):
            super().__init__()
            self.weight = nn.Parameter(torch.randn(out_dim, in_dim).div_(lr_mul))
            self.bias = nn.Parameter(torch.zeros(out_dim).fill_(bias_init))
            self.activation = activation
            self.scale = (1 / math.sqrt(in_dim)) * lr_mul
            self.lr_mul = lr_mul

        def forward(self, input):
            if self.activation:
                out = F.linear(input, self.weight * self.scale)
                return F.leaky_relu(out + self.bias * self.lr_mul, 0.2) * math.sqrt(2)
            return F.linear(input, self.weight * self.scale, bias=self.bias * self.lr_mul)

    class Blur(nn.Module):
        def __init__(self, kernel, pad, upsample_factor=1):
            super().__init__()
            kernel = _make_kernel(kernel)
            if upsample_factor > 1:
                kernel = kernel * (upsample_factor ** 2)
            self.register_buffer("kernel", kernel)
            self.pad = pad

        def forward(self, input):
            return _upfirdn2d(input, self.kernel, pad=self.pad)

    class Upsample(nn.Module):
        def __init__(self, kernel, factor=2):
            super().__init__()
            self.factor = factor
            kernel = _make_kernel(kernel) * (factor ** 2)
            self.register_buffer("kernel", kernel)
            p = kernel.shape[0] - factor
            self.pad = ((p + 1) // 2 + factor - 1, p // 2)

        def forward(self, input):
            return _upfirdn2d(input, self.kernel, up=self.factor, down=1, pad=self.pad)

    class ModulatedConv2d(nn.Module):
        def __init__(self, in_channel, out_channel, kernel_size, demodulate=True,
                     upsample=False):
            super().__init__()
            self.kernel_size, self.in_channel, self.out_channel = (kernel_size, in_channel,
                                                                   out_channel)
            self.upsample = upsample
            if upsample:
                factor = 2
                p = (len(blur_kernel) - factor) - (kernel_size - 1)
                self.blur = Blur(blur_kernel, pad=((p + 1) // 2 + factor - 1, p // 2 + 1),
                                 upsample_factor=factor)
            self.scale = 1 / math.sqrt(in_channel * kernel_size ** 2)
            self.padding = kernel_size // 2
            self.weight = nn.Parameter(torch.randn(1, out_channel, in_channel, kernel_size,
                                                   kernel_size))
            self.modulation = EqualLinear(style_dim, in_channel, bias_init=1)
            self.demodulate = demodulate

        def forward(self, input, style):
            batch, in_channel, height, width = input.shape
            style = self.modulation(style).view(batch, 1, in_channel, 1, 1)
            weight = self.scale * self.weight * style
            if self.demodulate:
                demod = torch.rsqrt(weight.pow(2).sum([2, 3, 4]) + 1e-8)
                weight = weight * demod.view(batch, self.out_channel, 1, 1, 1)
            weight = weight.view(batch * self.out_channel, in_channel, self.kernel_size,
                                 self.kernel_size)
            if self.upsample:
                input = input.view(1, batch * in_channel, height, width)
                weight = weight.view(batch, self.out_channel, in_channel, self.kernel_size,
                                     self.kernel_size)
                weight = weight.transpose(1, 2).reshape(batch * in_channel, self.out_channel,
                                                        self.kernel_size, self.kernel_size)
                out = F.conv_transpose2d(input, weight, padding=0, stride=2, groups=batch)
                _, _, height, width = out.shape
                out = out.view(batch, self.out_channel, height, width)
                return self.blur(out)
            input = input.view(1, batch * in_channel, height, width)
            out = F.conv2d(input, weight, padding=self.padding, groups=batch)
            _, _, height, width = out.shape
            return out.view(batch, self.out_channel, height, width)

    class StyledConv(nn.Module):
        def __init__(self, in_channel, out_channel, kernel_size, upsample=False):
            super().__init__()
            self.conv = ModulatedConv2d(in_channel, out_channel, kernel_size,
                                        upsample=upsample)
            self.noise_weight = nn.Parameter(torch.zeros(1))  # NoiseInjection
            self.activate = FusedLeakyReLU(out_channel)

        def forward(self, input, style, noise):
            out = self.conv(input, style)
            out = out + self.noise_weight * noise
            return self.activate(out)

    class ToRGB(nn.Module):
        def __init__(self, in_channel, upsample=True):
            super().__init__()
            if upsample:
                self.upsample = Upsample(blur_kernel)
            self.conv = ModulatedConv2d(in_channel, 3, 1, demodulate=False)
            self.bias = nn.Parameter(torch.zeros(1, 3, 1, 1))

        def forward(self, input, style, skip=None):
            out = self.conv(input, style) + self.bias
            if skip is not None:
                out = out + self.upsample(skip)
            return out

    class Generator(nn.Module):
        def __init__(self):
            super().__init__()
            self.style = nn.Sequential(*[EqualLinear(style_dim, style_dim, lr_mul=0.01,
                                                     activation="fused_lrelu")
                                         for _ in range(n_mlp)])
            self.input = nn.Parameter(torch.randn(1, channels, 4, 4))  # ConstantInput
            self.conv1 = StyledConv(channels, channels, 3)
            self.to_rgb1 = ToRGB(channels, upsample=False)
            self.log_size = int(math.log(size, 2))
            self.num_layers = (self.log_size - 2) * 2 + 1
            for i in range(self.num_layers):
                res = (i + 5) // 2
                self.register_buffer(f"noise_{i}", torch.randn(1, 1, 2 ** res, 2 ** res))
            self.convs, self.to_rgbs = nn.ModuleList(), nn.ModuleList()
            for _ in range(3, self.log_size + 1):
                self.convs.append(StyledConv(channels, channels, 3, upsample=True))
                self.convs.append(StyledConv(channels, channels, 3))
                self.to_rgbs.append(ToRGB(channels))
            self.n_latent = self.log_size * 2 - 2

        def forward(self, z):  # (N, style_dim, 1, 1)
            z = z.flatten(1)
            z = z * torch.rsqrt(torch.mean(z ** 2, dim=1, keepdim=True) + 1e-8)  # PixelNorm
            latent = self.style(z).unsqueeze(1).repeat(1, self.n_latent, 1)
            noise = [getattr(self, f"noise_{i}") for i in range(self.num_layers)]
            out = self.input.repeat(latent.shape[0], 1, 1, 1)
            out = self.conv1(out, latent[:, 0], noise[0])
            skip = self.to_rgb1(out, latent[:, 1])
            i = 1
            for conv1, conv2, noise1, noise2, to_rgb in zip(
                    self.convs[::2], self.convs[1::2], noise[1::2], noise[2::2], self.to_rgbs,
                    strict=True):
                out = conv1(out, latent[:, i], noise1)
                out = conv2(out, latent[:, i + 1], noise2)
                skip = to_rgb(out, latent[:, i + 2], skip)
                i += 2
            return skip, None

    return Generator()


# ---------------------------------------------------------------------------------------
# SPADE: the segmentation map resized to each feature map (the last one the same size)
# ---------------------------------------------------------------------------------------


def spade_generator(label_nc: int = 3, ngf: int = 2, crop_size: int = 64) -> nn.Module:
    """NVlabs/SPADE, models/networks/generator.py (SPADEGenerator, num_upsampling_layers
    'normal': the map resized to crop/32 by ``F.interpolate(seg, size=(sh, sw))``, fc a
    3x3 conv, five ``nn.Upsample(scale_factor=2)``), models/networks/architecture.py
    (SPADEResnetBlock: learned 1x1 shortcut when fin != fout, leaky ReLU 0.2) and
    models/networks/normalization.py (SPADE: param-free norm, then ``F.interpolate(segmap,
    size=x.size()[2:], mode='nearest')``, a shared 3x3 conv and gamma / beta convs).
    Param-free norm 'instance' (the default 'syncbatch' needs several processes); spectral
    norm left out. Cut: ngf 64 to 2, nhidden 128 to 4, crop 256 to 64 (the latent map
    2x2 instead of 8x8, the same five doublings; not 1x1, which InstanceNorm refuses and
    which would make the first doubling a broadcast)."""

    class SPADE(nn.Module):
        def __init__(self, norm_nc, nhidden=4, ks=3):
            super().__init__()
            self.param_free_norm = nn.InstanceNorm2d(norm_nc, affine=False)
            pw = ks // 2
            self.mlp_shared = nn.Sequential(nn.Conv2d(label_nc, nhidden, ks, padding=pw),
                                            nn.ReLU())
            self.mlp_gamma = nn.Conv2d(nhidden, norm_nc, ks, padding=pw)
            self.mlp_beta = nn.Conv2d(nhidden, norm_nc, ks, padding=pw)

        def forward(self, x, segmap):
            normalized = self.param_free_norm(x)
            segmap = F.interpolate(segmap, size=x.size()[2:], mode="nearest")
            actv = self.mlp_shared(segmap)
            return normalized * (1 + self.mlp_gamma(actv)) + self.mlp_beta(actv)

    class SPADEResnetBlock(nn.Module):
        def __init__(self, fin, fout):
            super().__init__()
            self.learned_shortcut = fin != fout
            fmiddle = min(fin, fout)
            self.conv_0 = nn.Conv2d(fin, fmiddle, kernel_size=3, padding=1)
            self.conv_1 = nn.Conv2d(fmiddle, fout, kernel_size=3, padding=1)
            if self.learned_shortcut:
                self.conv_s = nn.Conv2d(fin, fout, kernel_size=1, bias=False)
                self.norm_s = SPADE(fin)
            self.norm_0 = SPADE(fin)
            self.norm_1 = SPADE(fmiddle)

        def forward(self, x, seg):
            x_s = self.conv_s(self.norm_s(x, seg)) if self.learned_shortcut else x
            dx = self.conv_0(F.leaky_relu(self.norm_0(x, seg), 2e-1))
            dx = self.conv_1(F.leaky_relu(self.norm_1(dx, seg), 2e-1))
            return x_s + dx

    class SPADEGenerator(nn.Module):
        def __init__(self):
            super().__init__()
            nf = ngf
            self.sw = self.sh = crop_size // (2 ** 5)
            self.fc = nn.Conv2d(label_nc, 16 * nf, 3, padding=1)
            self.head_0 = SPADEResnetBlock(16 * nf, 16 * nf)
            self.G_middle_0 = SPADEResnetBlock(16 * nf, 16 * nf)
            self.G_middle_1 = SPADEResnetBlock(16 * nf, 16 * nf)
            self.up_0 = SPADEResnetBlock(16 * nf, 8 * nf)
            self.up_1 = SPADEResnetBlock(8 * nf, 4 * nf)
            self.up_2 = SPADEResnetBlock(4 * nf, 2 * nf)
            self.up_3 = SPADEResnetBlock(2 * nf, 1 * nf)
            self.conv_img = nn.Conv2d(nf, 3, 3, padding=1)
            self.up = nn.Upsample(scale_factor=2)

        def forward(self, input):
            seg = input
            x = F.interpolate(seg, size=(self.sh, self.sw))
            x = self.fc(x)
            x = self.head_0(x, seg)
            x = self.up(x)
            x = self.G_middle_0(x, seg)
            x = self.G_middle_1(x, seg)
            x = self.up(x)
            x = self.up_0(x, seg)
            x = self.up(x)
            x = self.up_1(x, seg)
            x = self.up(x)
            x = self.up_2(x, seg)
            x = self.up(x)
            x = self.up_3(x, seg)
            x = self.conv_img(F.leaky_relu(x, 2e-1))
            return torch.tanh(x)

    return SPADEGenerator()
