"""Super-resolution networks of the zoo: ESPCN (pixel shuffle) and SRGAN (BatchNorm
between the convolution and the pixel shuffle); sources in the docstrings.
"""

from __future__ import annotations

import torch
from torch import nn

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
