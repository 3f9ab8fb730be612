"""A 3-D U-Net of the zoo: ``unet_3D`` of Attention-Gated-Networks (Oktay et al. 2018),
the 3-D U-Net of Çiçek et al. 2016 as that repository builds it for volumes
``(N, C, H, W, D)``: ``MaxPool3d((2, 2, 1))`` down and ``ConvTranspose3d`` with kernel
``(4, 4, 1)``, stride ``(2, 2, 1)``, padding ``(1, 1, 0)`` up (``is_deconv=True``, its
default). Transcribed from the source named in the docstring; ``feature_scale`` 4 -> 16
(filters 64..1024 / 16 = 4..64), nothing else changed.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from tests.core.audit_zoo.ground_truth import Truth, ZooNet, _up


def _init_kaiming(m: nn.Module) -> None:
    """models/networks_other.py init_weights(init_type='kaiming'): kaiming_normal_ (fan_in)
    for convolutions, normal(1, 0.02) and zero bias for batch norms."""
    name = m.__class__.__name__
    if name.find("Conv") != -1:
        nn.init.kaiming_normal_(m.weight.data, a=0, mode="fan_in")
    elif name.find("BatchNorm") != -1:
        nn.init.normal_(m.weight.data, 1.0, 0.02)
        nn.init.constant_(m.bias.data, 0.0)


def unet_3d(feature_scale: int = 16, n_classes: int = 2, in_channels: int = 1) -> nn.Module:
    """ozan-oktay/Attention-Gated-Networks, models/networks/unet_3D.py (unet_3D) with
    models/networks/utils.py (UnetConv3, UnetUp3), is_deconv=True, is_batchnorm=True."""

    class UnetConv3(nn.Module):
        def __init__(self, in_size, out_size, kernel_size=(3, 3, 1), padding_size=(1, 1, 0),
                     init_stride=(1, 1, 1)):
            super().__init__()
            self.conv1 = nn.Sequential(
                nn.Conv3d(in_size, out_size, kernel_size, init_stride, padding_size),
                nn.BatchNorm3d(out_size), nn.ReLU(inplace=True))
            self.conv2 = nn.Sequential(
                nn.Conv3d(out_size, out_size, kernel_size, 1, padding_size),
                nn.BatchNorm3d(out_size), nn.ReLU(inplace=True))
            for m in self.children():
                m.apply(_init_kaiming)

        def forward(self, inputs):
            return self.conv2(self.conv1(inputs))

    class UnetUp3(nn.Module):
        def __init__(self, in_size, out_size):
            super().__init__()
            self.conv = UnetConv3(in_size, out_size)
            self.up = nn.ConvTranspose3d(in_size, out_size, kernel_size=(4, 4, 1),
                                         stride=(2, 2, 1), padding=(1, 1, 0))
            self.up.apply(_init_kaiming)

        def forward(self, inputs1, inputs2):
            outputs2 = self.up(inputs2)
            offset = outputs2.size()[2] - inputs1.size()[2]
            padding = 2 * [offset // 2, offset // 2, 0]
            outputs1 = F.pad(inputs1, padding)
            return self.conv(torch.cat([outputs1, outputs2], 1))

    class Unet3D(nn.Module):
        def __init__(self):
            super().__init__()
            filters = [int(x / feature_scale) for x in [64, 128, 256, 512, 1024]]
            self.conv1 = UnetConv3(in_channels, filters[0])
            self.maxpool1 = nn.MaxPool3d(kernel_size=(2, 2, 1))
            self.conv2 = UnetConv3(filters[0], filters[1])
            self.maxpool2 = nn.MaxPool3d(kernel_size=(2, 2, 1))
            self.conv3 = UnetConv3(filters[1], filters[2])
            self.maxpool3 = nn.MaxPool3d(kernel_size=(2, 2, 1))
            self.conv4 = UnetConv3(filters[2], filters[3])
            self.maxpool4 = nn.MaxPool3d(kernel_size=(2, 2, 1))
            self.center = UnetConv3(filters[3], filters[4])
            self.up_concat4 = UnetUp3(filters[4], filters[3])
            self.up_concat3 = UnetUp3(filters[3], filters[2])
            self.up_concat2 = UnetUp3(filters[2], filters[1])
            self.up_concat1 = UnetUp3(filters[1], filters[0])
            self.final = nn.Conv3d(filters[0], n_classes, 1)
            for m in self.modules():
                if isinstance(m, nn.Conv3d | nn.BatchNorm3d):
                    _init_kaiming(m)

        def forward(self, inputs):  # (N, C, H, W, D) -> (N, classes, H, W, D)
            conv1 = self.conv1(inputs)
            conv2 = self.conv2(self.maxpool1(conv1))
            conv3 = self.conv3(self.maxpool2(conv2))
            conv4 = self.conv4(self.maxpool3(conv3))
            center = self.center(self.maxpool4(conv4))
            up4 = self.up_concat4(conv4, center)
            up3 = self.up_concat3(conv3, up4)
            up2 = self.up_concat2(conv2, up3)
            up1 = self.up_concat1(conv1, up2)
            return self.final(up1)

    return Unet3D()


#: Four MaxPool3d((2, 2, 1)) down, four ConvTranspose3d (4, 4, 1) / (2, 2, 1) / (1, 1, 0) up:
#: kernel 4 at stride 2 overlaps evenly along H and W (the verdict depends on the weights);
#: along D the stride is 1 (nothing is resampled there). Truth per axis: (H, W, D).
VOLUME_ZOO: dict[str, ZooNet] = {z.name: z for z in (
    ZooNet("unet_3d", "ozan-oktay/Attention-Gated-Networks models/networks/unet_3D.py, "
           "models/networks/utils.py (UnetConv3, UnetUp3)", unet_3d, (1, 1, 32, 32, 4),
           (*[Truth("MaxPool", 2, 2, 0, True, path=f"maxpool{i}") for i in (1, 2, 3, 4)],
            *[_up("ConvTranspose", 4, 2, 1, True, path=f"up_concat{i}.up")
              for i in (4, 3, 2, 1)]),
           total_up=16, total_down=16, period=16,
           notes=("anisotropic: strides (2, 2, 1), kernels (4, 4, 1), the truth names the "
                  "H and W axes; D is never resampled",)),
)}

__all__ = ["VOLUME_ZOO", "unet_3d"]
