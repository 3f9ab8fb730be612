"""GAN and image-to-image generators of the zoo: DCGAN, CycleGAN's ResNet generator,
pix2pix's U-Net; each transcribed from the source named in its docstring.
"""

from __future__ import annotations

import torch
from torch import nn

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
