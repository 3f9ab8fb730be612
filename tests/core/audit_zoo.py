"""A zoo of published networks for the audit's tests: each transcribed layer for layer from
its public source (named in its docstring), at small widths, randomly initialised.

Every entry carries a hand-written ground truth of its up- and downsampling layers, read
off the source (not off the audit): op, kernel, stride, padding, even overlap or not,
whether a fixed filter after it is credited, and, where it does not depend on the random
weights, the verdict. ``tests/core/test_audit_zoo.py`` checks both routes against it.
Widths are cut (64 -> 8) and inputs kept small so the whole zoo audits in seconds; the
layer layout, kernels, strides, paddings and call signatures are the sources'.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

# ---------------------------------------------------------------------------------------
# Ground truth
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Truth:
    """One resampling layer as the source defines it.

    ``even``: the overlap (of the layer together with the credited filters) is even.
    ``blur``: a fixed filter after it is credited. ``offending``: the verdict when it is
    fixed by the design (None: it depends on the random weights). ``path``: the module a
    fix must attach to (None when it is a functional call with no nn layer to swap).
    """

    op: str
    kernel: int | None
    stride: int
    padding: int | None
    even: bool | None
    blur: bool = False
    offending: bool | None = None
    path: str | None = None


@dataclass(frozen=True)
class ZooNet:
    name: str
    source: str  # repository and file it is transcribed from
    build: Callable[[], nn.Module]
    input_shape: tuple[int, int, int, int]
    layers: tuple[Truth, ...]
    total_up: float
    total_down: float
    period: int
    torchscript: bool = True  # the TorchScript exporter can export it
    dynamo: bool = True  # the dynamo exporter can export it
    #: The TorchScript exporter's node names hold the module path (not when a plain
    #: nn.Module container is indexed without being called: its scope is lost).
    torchscript_paths: bool = True
    notes: tuple[str, ...] = field(default_factory=tuple)


def _up(op, k, s, p, even, **kw) -> Truth:
    return Truth(op, k, s, p, even, **kw)


# ---------------------------------------------------------------------------------------
# 1. DCGAN generator
# ---------------------------------------------------------------------------------------


def dcgan(nz: int = 16, ngf: int = 8, nc: int = 3) -> nn.Module:
    """pytorch/examples, dcgan/main.py, class Generator."""

    class Generator(nn.Module):
        def __init__(self):
            super().__init__()
            self.main = nn.Sequential(
                nn.ConvTranspose2d(nz, ngf * 8, 4, 1, 0, bias=False),
                nn.BatchNorm2d(ngf * 8), nn.ReLU(True),
                nn.ConvTranspose2d(ngf * 8, ngf * 4, 4, 2, 1, bias=False),
                nn.BatchNorm2d(ngf * 4), nn.ReLU(True),
                nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False),
                nn.BatchNorm2d(ngf * 2), nn.ReLU(True),
                nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False),
                nn.BatchNorm2d(ngf), nn.ReLU(True),
                nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False),
                nn.Tanh(),
            )

        def forward(self, input):  # (N, nz, 1, 1) -> (N, nc, 64, 64)
            return self.main(input)

    return Generator()


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
# 3. ESPCN
# ---------------------------------------------------------------------------------------


def espcn(upscale_factor: int = 3) -> nn.Module:
    """pytorch/examples, super_resolution/model.py, class Net (64/64/32 cut to 8/8/4)."""
    import torch.nn.init as init

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.relu = nn.ReLU()
            self.conv1 = nn.Conv2d(1, 8, (5, 5), (1, 1), (2, 2))
            self.conv2 = nn.Conv2d(8, 8, (3, 3), (1, 1), (1, 1))
            self.conv3 = nn.Conv2d(8, 4, (3, 3), (1, 1), (1, 1))
            self.conv4 = nn.Conv2d(4, upscale_factor ** 2, (3, 3), (1, 1), (1, 1))
            self.pixel_shuffle = nn.PixelShuffle(upscale_factor)
            init.orthogonal_(self.conv1.weight, init.calculate_gain("relu"))
            init.orthogonal_(self.conv2.weight, init.calculate_gain("relu"))
            init.orthogonal_(self.conv3.weight, init.calculate_gain("relu"))
            init.orthogonal_(self.conv4.weight)

        def forward(self, x):
            x = self.relu(self.conv1(x))
            x = self.relu(self.conv2(x))
            x = self.relu(self.conv3(x))
            x = self.pixel_shuffle(self.conv4(x))
            return x

    return Net()


# ---------------------------------------------------------------------------------------
# 4. CycleGAN ResNet generator, 5. pix2pix U-Net
# ---------------------------------------------------------------------------------------


def cyclegan_resnet(ngf: int = 8, n_blocks: int = 2) -> nn.Module:
    """junyanz/pytorch-CycleGAN-and-pix2pix, models/networks.py, ResnetGenerator and
    ResnetBlock (norm_layer=BatchNorm2d, the define_G default; 9 blocks cut to 2)."""
    norm_layer = nn.BatchNorm2d
    use_bias = False  # BatchNorm: define_G passes use_bias = norm_layer == InstanceNorm2d

    class ResnetBlock(nn.Module):
        def __init__(self, dim):
            super().__init__()
            conv_block = [nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, kernel_size=3, padding=0,
                                                           bias=use_bias),
                          norm_layer(dim), nn.ReLU(True),
                          nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, kernel_size=3, padding=0,
                                                           bias=use_bias),
                          norm_layer(dim)]
            self.conv_block = nn.Sequential(*conv_block)

        def forward(self, x):
            return x + self.conv_block(x)

    class ResnetGenerator(nn.Module):
        def __init__(self, input_nc=3, output_nc=3):
            super().__init__()
            model = [nn.ReflectionPad2d(3),
                     nn.Conv2d(input_nc, ngf, kernel_size=7, padding=0, bias=use_bias),
                     norm_layer(ngf), nn.ReLU(True)]
            n_downsampling = 2
            for i in range(n_downsampling):
                mult = 2 ** i
                model += [nn.Conv2d(ngf * mult, ngf * mult * 2, kernel_size=3, stride=2,
                                    padding=1, bias=use_bias),
                          norm_layer(ngf * mult * 2), nn.ReLU(True)]
            mult = 2 ** n_downsampling
            for _ in range(n_blocks):
                model += [ResnetBlock(ngf * mult)]
            for i in range(n_downsampling):
                mult = 2 ** (n_downsampling - i)
                model += [nn.ConvTranspose2d(ngf * mult, int(ngf * mult / 2), kernel_size=3,
                                             stride=2, padding=1, output_padding=1,
                                             bias=use_bias),
                          norm_layer(int(ngf * mult / 2)), nn.ReLU(True)]
            model += [nn.ReflectionPad2d(3)]
            model += [nn.Conv2d(ngf, output_nc, kernel_size=7, padding=0)]
            model += [nn.Tanh()]
            self.model = nn.Sequential(*model)

        def forward(self, input):
            return self.model(input)

    return ResnetGenerator()


def pix2pix_unet(num_downs: int = 5, ngf: int = 4) -> nn.Module:
    """junyanz/pytorch-CycleGAN-and-pix2pix, models/networks.py, UnetGenerator and
    UnetSkipConnectionBlock (BatchNorm; num_downs 8 cut to 5, ngf 64 to 4)."""
    norm_layer = nn.BatchNorm2d
    use_bias = False

    class UnetSkipConnectionBlock(nn.Module):
        def __init__(self, outer_nc, inner_nc, input_nc=None, submodule=None,
                     outermost=False, innermost=False):
            super().__init__()
            self.outermost = outermost
            if input_nc is None:
                input_nc = outer_nc
            downconv = nn.Conv2d(input_nc, inner_nc, kernel_size=4, stride=2, padding=1,
                                 bias=use_bias)
            downrelu = nn.LeakyReLU(0.2, True)
            downnorm = norm_layer(inner_nc)
            uprelu = nn.ReLU(True)
            upnorm = norm_layer(outer_nc)
            if outermost:
                upconv = nn.ConvTranspose2d(inner_nc * 2, outer_nc, kernel_size=4, stride=2,
                                            padding=1)
                down = [downconv]
                up = [uprelu, upconv, nn.Tanh()]
                model = down + [submodule] + up
            elif innermost:
                upconv = nn.ConvTranspose2d(inner_nc, outer_nc, kernel_size=4, stride=2,
                                            padding=1, bias=use_bias)
                down = [downrelu, downconv]
                up = [uprelu, upconv, upnorm]
                model = down + up
            else:
                upconv = nn.ConvTranspose2d(inner_nc * 2, outer_nc, kernel_size=4, stride=2,
                                            padding=1, bias=use_bias)
                down = [downrelu, downconv, downnorm]
                up = [uprelu, upconv, upnorm]
                model = down + [submodule] + up
            self.model = nn.Sequential(*model)

        def forward(self, x):
            if self.outermost:
                return self.model(x)
            return torch.cat([x, self.model(x)], 1)

    class UnetGenerator(nn.Module):
        def __init__(self, input_nc=3, output_nc=3):
            super().__init__()
            unet_block = UnetSkipConnectionBlock(ngf * 8, ngf * 8, input_nc=None,
                                                 submodule=None, innermost=True)
            for _ in range(num_downs - 5):
                unet_block = UnetSkipConnectionBlock(ngf * 8, ngf * 8, input_nc=None,
                                                     submodule=unet_block)
            unet_block = UnetSkipConnectionBlock(ngf * 4, ngf * 8, input_nc=None,
                                                 submodule=unet_block)
            unet_block = UnetSkipConnectionBlock(ngf * 2, ngf * 4, input_nc=None,
                                                 submodule=unet_block)
            unet_block = UnetSkipConnectionBlock(ngf, ngf * 2, input_nc=None,
                                                 submodule=unet_block)
            self.model = UnetSkipConnectionBlock(output_nc, ngf, input_nc=input_nc,
                                                 submodule=unet_block, outermost=True)

        def forward(self, input):
            return self.model(input)

    return UnetGenerator()


def _pix2pix_paths(num_downs: int = 5) -> tuple[list[str], list[str]]:
    """Module paths of the down- and upconvs, outermost first (the nesting of the source)."""
    downs, ups = [], []
    prefix = "model.model"
    for level in range(num_downs):
        outermost, innermost = level == 0, level == num_downs - 1
        if outermost:
            downs.append(f"{prefix}.0")
            ups.append(f"{prefix}.3")
            prefix = f"{prefix}.1.model"
        elif innermost:
            downs.append(f"{prefix}.1")
            ups.append(f"{prefix}.3")
        else:
            downs.append(f"{prefix}.1")
            ups.append(f"{prefix}.5")
            prefix = f"{prefix}.3.model"
    return downs, ups


# ---------------------------------------------------------------------------------------
# 6. SRGAN generator (BatchNorm between the convolution and the pixel shuffle)
# ---------------------------------------------------------------------------------------


def srgan(n_residual_blocks: int = 2, w: int = 8) -> nn.Module:
    """eriklindernoren/PyTorch-GAN, implementations/srgan/models.py, GeneratorResNet and
    ResidualBlock (64 channels cut to 8, 16 residual blocks to 2). Its upsampling blocks
    are Conv2d, BatchNorm2d, PixelShuffle(2), PReLU."""

    class ResidualBlock(nn.Module):
        def __init__(self, in_features):
            super().__init__()
            self.conv_block = nn.Sequential(
                nn.Conv2d(in_features, in_features, kernel_size=3, stride=1, padding=1),
                nn.BatchNorm2d(in_features, 0.8),
                nn.PReLU(),
                nn.Conv2d(in_features, in_features, kernel_size=3, stride=1, padding=1),
                nn.BatchNorm2d(in_features, 0.8),
            )

        def forward(self, x):
            return x + self.conv_block(x)

    class GeneratorResNet(nn.Module):
        def __init__(self, in_channels=3, out_channels=3):
            super().__init__()
            self.conv1 = nn.Sequential(nn.Conv2d(in_channels, w, kernel_size=9, stride=1,
                                                 padding=4), nn.PReLU())
            res_blocks = [ResidualBlock(w) for _ in range(n_residual_blocks)]
            self.res_blocks = nn.Sequential(*res_blocks)
            self.conv2 = nn.Sequential(nn.Conv2d(w, w, kernel_size=3, stride=1, padding=1),
                                       nn.BatchNorm2d(w, 0.8))
            upsampling = []
            for _ in range(2):
                upsampling += [
                    nn.Conv2d(w, 4 * w, 3, 1, 1),
                    nn.BatchNorm2d(4 * w),
                    nn.PixelShuffle(upscale_factor=2),
                    nn.PReLU(),
                ]
            self.upsampling = nn.Sequential(*upsampling)
            self.conv3 = nn.Sequential(nn.Conv2d(w, out_channels, kernel_size=9, stride=1,
                                                 padding=4), nn.Tanh())

        def forward(self, x):
            out1 = self.conv1(x)
            out = self.res_blocks(out1)
            out2 = self.conv2(out)
            out = torch.add(out1, out2)
            out = self.upsampling(out)
            out = self.conv3(out)
            return out

    model = GeneratorResNet()
    # Trained-looking BatchNorm statistics: folding them changes the phase gains, so the
    # two routes agree only if both fold them.
    g = torch.Generator().manual_seed(1)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_var.copy_(torch.rand(m.num_features, generator=g) * 3 + 0.1)
            m.running_mean.copy_(torch.randn(m.num_features, generator=g))
            m.weight.data.copy_(torch.rand(m.num_features, generator=g) + 0.5)
    return model


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


# ---------------------------------------------------------------------------------------
# The zoo
# ---------------------------------------------------------------------------------------

_PIX_DOWN, _PIX_UP = _pix2pix_paths(5)

ZOO: dict[str, ZooNet] = {z.name: z for z in (
    ZooNet("dcgan", "pytorch/examples dcgan/main.py", dcgan, (1, 16, 1, 1),
           tuple(_up("ConvTranspose", 4, 2, 1, True, path=f"main.{i}") for i in (3, 6, 9, 12)),
           total_up=16, total_down=1, period=16),
    ZooNet("transformer_net", "pytorch/examples fast_neural_style/neural_style/transformer_net.py",
           transformer_net, (1, 3, 32, 32),
           (Truth("Conv", 3, 2, 0, False, path="conv2.conv2d"),
            Truth("Conv", 3, 2, 0, False, path="conv3.conv2d"),
            _up("Resize", None, 2, None, True, offending=False, path="deconv1"),
            _up("Resize", None, 2, None, True, offending=False, path="deconv2")),
           total_up=4, total_down=4, period=4),
    ZooNet("espcn", "pytorch/examples super_resolution/model.py", espcn, (1, 1, 24, 24),
           (_up("DepthToSpace", 3, 3, None, True, path="pixel_shuffle"),),
           total_up=3, total_down=1, period=3),
    ZooNet("cyclegan_resnet", "junyanz/pytorch-CycleGAN-and-pix2pix models/networks.py "
           "(ResnetGenerator)", cyclegan_resnet, (1, 3, 32, 32),
           (Truth("Conv", 3, 2, 1, False, path="model.4"),
            Truth("Conv", 3, 2, 1, False, path="model.7"),
            _up("ConvTranspose", 3, 2, 1, False, offending=True, path="model.12"),
            _up("ConvTranspose", 3, 2, 1, False, offending=True, path="model.15")),
           total_up=4, total_down=4, period=4),
    ZooNet("pix2pix_unet", "junyanz/pytorch-CycleGAN-and-pix2pix models/networks.py "
           "(UnetGenerator)", pix2pix_unet, (1, 3, 32, 32),
           tuple(Truth("Conv", 4, 2, 1, True, path=p) for p in _PIX_DOWN)
           + tuple(_up("ConvTranspose", 4, 2, 1, True, path=p) for p in reversed(_PIX_UP)),
           total_up=32, total_down=32, period=32),
    ZooNet("srgan", "eriklindernoren/PyTorch-GAN implementations/srgan/models.py "
           "(GeneratorResNet)", srgan, (1, 3, 16, 16),
           (_up("DepthToSpace", 2, 2, None, True, path="upsampling.2"),
            _up("DepthToSpace", 2, 2, None, True, path="upsampling.6")),
           total_up=4, total_down=1, period=4),
    ZooNet("enet", "davidtvs/PyTorch-ENet models/enet.py", enet, (1, 3, 32, 32),
           (Truth("Conv", 3, 2, 1, False, path="initial_block.main_branch"),
            Truth("MaxPool", 3, 2, 1, False, path="initial_block.ext_branch"),
            Truth("MaxPool", 2, 2, 0, True, path="downsample1_0.main_max1"),
            Truth("Conv", 2, 2, 0, True, path="downsample1_0.ext_conv1.0"),
            Truth("MaxPool", 2, 2, 0, True, path="downsample2_0.main_max1"),
            Truth("Conv", 2, 2, 0, True, path="downsample2_0.ext_conv1.0"),
            _up("MaxUnpool", 2, 2, 0, True, path="upsample4_0.main_unpool1"),
            _up("ConvTranspose", 2, 2, 0, True, path="upsample4_0.ext_tconv1"),
            _up("MaxUnpool", 2, 2, 0, True, path="upsample5_0.main_unpool1"),
            _up("ConvTranspose", 2, 2, 0, True, path="upsample5_0.ext_tconv1"),
            _up("ConvTranspose", 3, 2, 1, False, offending=True, path="transposed_conv")),
           total_up=8, total_down=8, period=8, torchscript=False),
    ZooNet("linknet", "e-lab/pytorch-linknet models/linknet.py", linknet, (1, 3, 64, 64),
           (Truth("Conv", 7, 2, 3, False, path="conv1"),
            Truth("MaxPool", 3, 2, 1, False, path="maxpool"),
            *[t for i in (2, 3, 4) for t in (
                Truth("Conv", 3, 2, 1, False, path=f"encoder{i}.block1.conv1"),
                Truth("Conv", 1, 2, 0, False, path=f"encoder{i}.block1.downsample.0"))],
            *[_up("ConvTranspose", 3, 2, 1, False, offending=True,
                  path=f"decoder{i}.tp_conv.0") for i in (4, 3, 2)],
            _up("ConvTranspose", 3, 2, 1, False, offending=True, path="tp_conv1.0"),
            _up("ConvTranspose", 2, 2, 0, True, path="tp_conv2")),
           total_up=32, total_down=32, period=32),
    ZooNet("milesial_unet", "milesial/Pytorch-UNet unet/unet_parts.py", milesial_unet,
           (1, 3, 32, 32),
           (*[Truth("MaxPool", 2, 2, 0, True, path=f"down{i}.maxpool_conv.0")
              for i in (1, 2, 3, 4)],
            *[_up("Resize", None, 2, None, True, offending=False, path=f"up{i}.up")
              for i in (1, 2, 3, 4)]),
           total_up=16, total_down=16, period=16),
    ZooNet("stylegan2", "NVlabs/stylegan2-ada-pytorch training/networks.py, "
           "torch_utils/ops/upfirdn2d.py", stylegan2_synthesis, (1, 8, 4, 4),
           tuple(t for i in range(3) for t in (
               _up("ConvTranspose", 3, 2, 0, True, blur=True, offending=False,
                   path=f"blocks.{i}.conv0"),
               _up("ZeroInsertion", 1, 2, 0, True, blur=True, offending=False))),
           total_up=8, total_down=1, period=8, torchscript=False),
    ZooNet("ldm_decoder", "CompVis/latent-diffusion ldm/modules/diffusionmodules/model.py "
           "(Decoder, Upsample)", ldm_decoder, (1, 4, 8, 8),
           (_up("Resize", None, 2, None, True, offending=False, path="up.2.upsample"),
            _up("Resize", None, 2, None, True, offending=False, path="up.1.upsample")),
           total_up=4, total_down=1, period=4, torchscript_paths=False),
)}
