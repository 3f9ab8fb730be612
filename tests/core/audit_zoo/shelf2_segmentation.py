"""The second shelf's segmentation networks (issue 27): FCN-8s (input padded by 100, output
cropped), DeepLabV3+ (ASPP's global-pooling branch, pads written with F.pad), SegNet
(functional max-unpooling, two outputs) and pytorch-3dunet's 2-D residual U-Net (a
transposed convolution resized to the encoder's size afterwards).

Each is written here from its source's layers and shapes (file named in its docstring), at
cut widths; what was cut is said in the docstring. Strides, kernels, paddings, crops, the
order of calls and the initialisation that matters are the sources'.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

# ---------------------------------------------------------------------------------------
# FCN-8s: pad 100, ceil-mode pools, bilinear-initialised transposed convolutions, crops
# ---------------------------------------------------------------------------------------


def _bilinear_weight(in_channels: int, out_channels: int, kernel_size: int) -> torch.Tensor:
    """wkentaro/pytorch-fcn torchfcn/models/fcn32s.py ``get_upsampling_weight``: the
    bilinear kernel on the channel diagonal, zero elsewhere."""
    factor = (kernel_size + 1) // 2
    center = factor - 1 if kernel_size % 2 == 1 else factor - 0.5
    og = np.ogrid[:kernel_size, :kernel_size]
    filt = (1 - abs(og[0] - center) / factor) * (1 - abs(og[1] - center) / factor)
    weight = np.zeros((in_channels, out_channels, kernel_size, kernel_size), dtype=np.float64)
    weight[range(in_channels), range(out_channels), :, :] = filt
    return torch.from_numpy(weight).float()


def fcn8s(n_class: int = 3) -> nn.Module:
    """wkentaro/pytorch-fcn, torchfcn/models/fcn8s.py (FCN8s): conv1_1 pads by 100, five
    ceil-mode 2x2 max-pools, fc6 a 7x7 convolution, upscore2 / upscore_pool4 (k4 s2) and
    upscore8 (k16 s8) transposed convolutions without bias, the score maps cropped at 5, 9
    and 31. Its own initialisation: every Conv2d zero, every ConvTranspose2d the bilinear
    kernel. Cut: widths 64/128/256/512/4096 to 4/4/8/8/16, 21 classes to 3; the three
    convolutions of stages 3-5 to one each (their layout is 3x3, padding 1, stride 1)."""

    class FCN8s(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1_1 = nn.Conv2d(3, 4, 3, padding=100)
            self.conv1_2 = nn.Conv2d(4, 4, 3, padding=1)
            self.pool1 = nn.MaxPool2d(2, stride=2, ceil_mode=True)  # 1/2
            self.conv2_1 = nn.Conv2d(4, 4, 3, padding=1)
            self.conv2_2 = nn.Conv2d(4, 4, 3, padding=1)
            self.pool2 = nn.MaxPool2d(2, stride=2, ceil_mode=True)  # 1/4
            self.conv3_1 = nn.Conv2d(4, 8, 3, padding=1)
            self.pool3 = nn.MaxPool2d(2, stride=2, ceil_mode=True)  # 1/8
            self.conv4_1 = nn.Conv2d(8, 8, 3, padding=1)
            self.pool4 = nn.MaxPool2d(2, stride=2, ceil_mode=True)  # 1/16
            self.conv5_1 = nn.Conv2d(8, 8, 3, padding=1)
            self.pool5 = nn.MaxPool2d(2, stride=2, ceil_mode=True)  # 1/32
            self.fc6 = nn.Conv2d(8, 16, 7)
            self.drop6 = nn.Dropout2d()
            self.fc7 = nn.Conv2d(16, 16, 1)
            self.drop7 = nn.Dropout2d()
            self.score_fr = nn.Conv2d(16, n_class, 1)
            self.score_pool3 = nn.Conv2d(8, n_class, 1)
            self.score_pool4 = nn.Conv2d(8, n_class, 1)
            self.upscore2 = nn.ConvTranspose2d(n_class, n_class, 4, stride=2, bias=False)
            self.upscore8 = nn.ConvTranspose2d(n_class, n_class, 16, stride=8, bias=False)
            self.upscore_pool4 = nn.ConvTranspose2d(n_class, n_class, 4, stride=2, bias=False)
            for m in self.modules():
                if isinstance(m, nn.Conv2d):
                    m.weight.data.zero_()
                    if m.bias is not None:
                        m.bias.data.zero_()
                if isinstance(m, nn.ConvTranspose2d):
                    m.weight.data.copy_(_bilinear_weight(m.in_channels, m.out_channels,
                                                         m.kernel_size[0]))

        def forward(self, x):
            h = F.relu(self.conv1_1(x))  # (N, 4, H + 198, W + 198)
            h = self.pool1(F.relu(self.conv1_2(h)))
            h = self.pool2(F.relu(self.conv2_2(F.relu(self.conv2_1(h)))))
            h = self.pool3(F.relu(self.conv3_1(h)))
            pool3 = h  # 1/8
            h = self.pool4(F.relu(self.conv4_1(h)))
            pool4 = h  # 1/16
            h = self.pool5(F.relu(self.conv5_1(h)))
            h = self.drop6(F.relu(self.fc6(h)))
            h = self.drop7(F.relu(self.fc7(h)))
            h = self.score_fr(h)
            upscore2 = self.upscore2(h)  # 1/16
            h = self.score_pool4(pool4)
            h = h[:, :, 5:5 + upscore2.size()[2], 5:5 + upscore2.size()[3]]
            upscore_pool4 = self.upscore_pool4(upscore2 + h)  # 1/8
            h = self.score_pool3(pool3)
            h = h[:, :, 9:9 + upscore_pool4.size()[2], 9:9 + upscore_pool4.size()[3]]
            h = self.upscore8(upscore_pool4 + h)
            return h[:, :, 31:31 + x.size()[2], 31:31 + x.size()[3]].contiguous()

    return FCN8s()


# ---------------------------------------------------------------------------------------
# DeepLabV3+ (aligned Xception backbone, ASPP with image pooling, decoder)
# ---------------------------------------------------------------------------------------


def deeplabv3plus(num_classes: int = 3) -> nn.Module:
    """jfzhang95/pytorch-deeplab-xception: modeling/deeplab.py (DeepLab, output_stride 16),
    modeling/backbone/xception.py (fixed_padding, SeparableConv2d, Block, AlignedXception),
    modeling/aspp.py (ASPP: four atrous branches and the global-average-pool branch
    interpolated back with bilinear, align_corners=True) and modeling/decoder.py (Decoder:
    the ASPP output resized to the 1/4 low-level features). Initialisation: kaiming /
    normal(0, sqrt(2/n)) convolutions, BatchNorm 1 and 0 (no pretrained weights). Cut:
    the middle flow's 16 blocks to 1; widths 32/64/128/256/728/1024/1536/2048 to
    4/8/8/8/16/16/16/16, ASPP 256 to 8, decoder 48/256 to 4/8, 21 classes to 3.
    ``Block`` is the repository's later form (``SeparableConv2d(filters, filters, ...,
    BatchNorm=BatchNorm)`` with a ReLU before the strided separable convolution)."""
    bn = nn.BatchNorm2d

    def fixed_padding(inputs, kernel_size, dilation):
        kernel_size_effective = kernel_size + (kernel_size - 1) * (dilation - 1)
        pad_total = kernel_size_effective - 1
        pad_beg = pad_total // 2
        pad_end = pad_total - pad_beg
        return F.pad(inputs, (pad_beg, pad_end, pad_beg, pad_end))

    class SeparableConv2d(nn.Module):
        def __init__(self, inplanes, planes, kernel_size=3, stride=1, dilation=1, bias=False):
            super().__init__()
            self.conv1 = nn.Conv2d(inplanes, inplanes, kernel_size, stride, 0, dilation,
                                   groups=inplanes, bias=bias)
            self.bn = bn(inplanes)
            self.pointwise = nn.Conv2d(inplanes, planes, 1, 1, 0, 1, 1, bias=bias)

        def forward(self, x):
            x = fixed_padding(x, self.conv1.kernel_size[0], dilation=self.conv1.dilation[0])
            return self.pointwise(self.bn(self.conv1(x)))

    class Block(nn.Module):
        def __init__(self, inplanes, planes, reps, stride=1, dilation=1,
                     start_with_relu=True, grow_first=True, is_last=False):
            super().__init__()
            if planes != inplanes or stride != 1:
                self.skip = nn.Conv2d(inplanes, planes, 1, stride=stride, bias=False)
                self.skipbn = bn(planes)
            else:
                self.skip = None
            self.relu = nn.ReLU(inplace=True)
            rep = []
            filters = inplanes
            if grow_first:
                rep += [self.relu, SeparableConv2d(inplanes, planes, 3, 1, dilation), bn(planes)]
                filters = planes
            for _ in range(reps - 1):
                rep += [self.relu, SeparableConv2d(filters, filters, 3, 1, dilation),
                        bn(filters)]
            if not grow_first:
                rep += [self.relu, SeparableConv2d(inplanes, planes, 3, 1, dilation), bn(planes)]
            if stride != 1:
                rep += [self.relu, SeparableConv2d(planes, planes, 3, 2), bn(planes)]
            if stride == 1 and is_last:
                rep += [self.relu, SeparableConv2d(planes, planes, 3, 1), bn(planes)]
            if not start_with_relu:
                rep = rep[1:]
            self.rep = nn.Sequential(*rep)

        def forward(self, inp):
            x = self.rep(inp)
            skip = self.skipbn(self.skip(inp)) if self.skip is not None else inp
            x = x + skip
            return x

    class AlignedXception(nn.Module):  # output_stride 16
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(3, 4, 3, stride=2, padding=1, bias=False)
            self.bn1 = bn(4)
            self.relu = nn.ReLU(inplace=True)
            self.conv2 = nn.Conv2d(4, 8, 3, stride=1, padding=1, bias=False)
            self.bn2 = bn(8)
            self.block1 = Block(8, 8, reps=2, stride=2, start_with_relu=False)
            self.block2 = Block(8, 8, reps=2, stride=2)
            self.block3 = Block(8, 16, reps=2, stride=2, is_last=True)
            self.block4 = Block(16, 16, reps=3, stride=1, dilation=1)  # middle flow
            self.block20 = Block(16, 16, reps=2, stride=1, dilation=1, grow_first=False,
                                 is_last=True)
            self.conv3 = SeparableConv2d(16, 16, 3, stride=1, dilation=2)
            self.bn3 = bn(16)
            self.conv4 = SeparableConv2d(16, 16, 3, stride=1, dilation=2)
            self.bn4 = bn(16)
            self.conv5 = SeparableConv2d(16, 16, 3, stride=1, dilation=2)
            self.bn5 = bn(16)
            for m in self.modules():
                if isinstance(m, nn.Conv2d):
                    n = m.kernel_size[0] * m.kernel_size[1] * m.out_channels
                    m.weight.data.normal_(0, math.sqrt(2.0 / n))

        def forward(self, x):
            x = self.relu(self.bn1(self.conv1(x)))
            x = self.relu(self.bn2(self.conv2(x)))
            x = self.block1(x)
            low_level_feat = x
            x = self.block3(self.block2(x))
            x = self.block20(self.block4(x))
            x = self.relu(self.bn3(self.conv3(x)))
            x = self.relu(self.bn4(self.conv4(x)))
            x = self.relu(self.bn5(self.conv5(x)))
            return x, low_level_feat

    class ASPPModule(nn.Module):
        def __init__(self, inplanes, planes, kernel_size, padding, dilation):
            super().__init__()
            self.atrous_conv = nn.Conv2d(inplanes, planes, kernel_size=kernel_size, stride=1,
                                         padding=padding, dilation=dilation, bias=False)
            self.bn = bn(planes)
            self.relu = nn.ReLU()
            torch.nn.init.kaiming_normal_(self.atrous_conv.weight)

        def forward(self, x):
            return self.relu(self.bn(self.atrous_conv(x)))

    class ASPP(nn.Module):
        def __init__(self, inplanes=16, planes=8):
            super().__init__()
            dilations = [1, 6, 12, 18]
            self.aspp1 = ASPPModule(inplanes, planes, 1, padding=0, dilation=dilations[0])
            self.aspp2 = ASPPModule(inplanes, planes, 3, dilations[1], dilations[1])
            self.aspp3 = ASPPModule(inplanes, planes, 3, dilations[2], dilations[2])
            self.aspp4 = ASPPModule(inplanes, planes, 3, dilations[3], dilations[3])
            self.global_avg_pool = nn.Sequential(nn.AdaptiveAvgPool2d((1, 1)),
                                                 nn.Conv2d(inplanes, planes, 1, bias=False),
                                                 bn(planes), nn.ReLU())
            self.conv1 = nn.Conv2d(5 * planes, planes, 1, bias=False)
            self.bn1 = bn(planes)
            self.relu = nn.ReLU()
            for m in self.modules():
                if isinstance(m, nn.Conv2d):
                    torch.nn.init.kaiming_normal_(m.weight)

        def forward(self, x):
            x1, x2, x3, x4 = self.aspp1(x), self.aspp2(x), self.aspp3(x), self.aspp4(x)
            x5 = self.global_avg_pool(x)  # (N, C, 1, 1)
            x5 = F.interpolate(x5, size=x4.size()[2:], mode="bilinear", align_corners=True)
            x = torch.cat((x1, x2, x3, x4, x5), dim=1)
            return self.relu(self.bn1(self.conv1(x)))

    class Decoder(nn.Module):
        def __init__(self, low_level_inplanes=8, planes=8):
            super().__init__()
            self.conv1 = nn.Conv2d(low_level_inplanes, 4, 1, bias=False)
            self.bn1 = bn(4)
            self.relu = nn.ReLU()
            self.last_conv = nn.Sequential(
                nn.Conv2d(planes + 4, planes, kernel_size=3, stride=1, padding=1, bias=False),
                bn(planes), nn.ReLU(),
                nn.Conv2d(planes, planes, kernel_size=3, stride=1, padding=1, bias=False),
                bn(planes), nn.ReLU(),
                nn.Conv2d(planes, num_classes, kernel_size=1, stride=1))
            for m in self.modules():
                if isinstance(m, nn.Conv2d):
                    torch.nn.init.kaiming_normal_(m.weight)

        def forward(self, x, low_level_feat):
            low_level_feat = self.relu(self.bn1(self.conv1(low_level_feat)))
            x = F.interpolate(x, size=low_level_feat.size()[2:], mode="bilinear",
                              align_corners=True)
            return self.last_conv(torch.cat((x, low_level_feat), dim=1))

    class DeepLab(nn.Module):
        def __init__(self):
            super().__init__()
            self.backbone = AlignedXception()
            self.aspp = ASPP()
            self.decoder = Decoder()

        def forward(self, input):
            x, low_level_feat = self.backbone(input)
            x = self.aspp(x)
            x = self.decoder(x, low_level_feat)
            return F.interpolate(x, size=input.size()[2:], mode="bilinear", align_corners=True)

    return DeepLab()


# ---------------------------------------------------------------------------------------
# SegNet: functional max-pool indices and max-unpooling, two outputs
# ---------------------------------------------------------------------------------------


def segnet(input_channels: int = 3, output_channels: int = 3) -> nn.Module:
    """say4n/pytorch-segnet, src/model.py (SegNet): five VGG-16 encoder stages, each
    ending in ``F.max_pool2d(kernel_size=2, stride=2, return_indices=True)``; five decoder
    stages, each opening with ``F.max_unpool2d(kernel_size=2, stride=2, output_size=...)``
    followed by stride-1 3x3 transposed convolutions (padding 1) with BatchNorm; the
    forward returns ``(x_00d, softmax(x_00d))``. Cut: widths 64/128/256/512 to 4/4/8/8;
    each stage's convolutions to one encoder and one decoder layer (stage 5's to one);
    the VGG-16 pretrained weights (not available here) replaced by PyTorch's default
    initialisation."""
    widths = [4, 4, 8, 8, 8]

    def enc(cin, cout):
        return nn.Sequential(nn.Conv2d(cin, cout, kernel_size=3, padding=1), nn.BatchNorm2d(cout))

    def dec(cin, cout, norm=True):
        layers = [nn.ConvTranspose2d(cin, cout, kernel_size=3, padding=1)]
        return nn.Sequential(*(layers + [nn.BatchNorm2d(cout)] if norm else layers))

    class SegNet(nn.Module):
        def __init__(self):
            super().__init__()
            cins = [input_channels] + widths[:-1]
            self.encoder_convs = nn.ModuleList(enc(a, b) for a, b in zip(cins, widths, strict=True))
            couts = [widths[i - 1] if i else widths[0] for i in range(5)]
            self.decoder_convtrs = nn.ModuleList(dec(widths[i], couts[i]) for i in range(5))
            self.decoder_convtr_00 = dec(widths[0], output_channels, norm=False)

        def forward(self, input_img):
            x, dims, indices = input_img, [], []
            for conv in self.encoder_convs:
                dims.append(x.size())
                x = F.relu(conv(x))
                x, idx = F.max_pool2d(x, kernel_size=2, stride=2, return_indices=True)
                indices.append(idx)
            for i in reversed(range(5)):
                x = F.max_unpool2d(x, indices[i], kernel_size=2, stride=2, output_size=dims[i])
                x = F.relu(self.decoder_convtrs[i](x))
            x_00d = self.decoder_convtr_00(x)
            x_softmax = F.softmax(x_00d, dim=1)
            return x_00d, x_softmax

    return SegNet()


# ---------------------------------------------------------------------------------------
# pytorch-3dunet ResidualUNet2D: ConvTranspose k3 s2 p1, then F.interpolate to the skip size
# ---------------------------------------------------------------------------------------


def residual_unet2d(in_channels: int = 3, out_channels: int = 2) -> nn.Module:
    """wolny/pytorch-3dunet, pytorch3dunet/unet3d/model.py (ResidualUNet2D: ResNetBlock,
    upsample 'deconv', summation joining) and pytorch3dunet/unet3d/buildingblocks.py
    (SingleConv 'gcr', ResNetBlock, Encoder with MaxPool2d(2), Decoder with
    TransposeConvUpsampling: ``ConvTranspose2d(k3, stride 2, padding 1, bias=False)`` then
    ``F.interpolate(x, size=encoder_features.size()[2:])``, nearest; 2n-1 -> 2n), and the
    final 1x1 convolution with sigmoid at evaluation. Cut: num_levels 5 to 4, f_maps 64 to
    8 (8/16/32/64), dropout removed (it is off at evaluation)."""

    class SingleConv(nn.Sequential):  # order 'gcr': GroupNorm, Conv, ReLU
        def __init__(self, cin, cout, order="gcr", num_groups=8):
            super().__init__()
            if "g" in order:
                groups = 1 if cin < num_groups else num_groups
                self.add_module("groupnorm", nn.GroupNorm(groups, cin))
            self.add_module("conv", nn.Conv2d(cin, cout, 3, padding=1, bias=False))
            if "r" in order:
                self.add_module("ReLU", nn.ReLU(inplace=True))

    class ResNetBlock(nn.Module):
        def __init__(self, cin, cout):
            super().__init__()
            self.conv1 = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()
            self.conv2 = SingleConv(cout, cout)
            self.conv3 = SingleConv(cout, cout, order="gc")
            self.non_linearity = nn.ReLU(inplace=True)

        def forward(self, x):
            residual = self.conv1(x)
            out = self.conv3(self.conv2(residual))
            out = out + residual
            return self.non_linearity(out)

    class Encoder(nn.Module):
        def __init__(self, cin, cout, apply_pooling=True):
            super().__init__()
            self.pooling = nn.MaxPool2d(kernel_size=2) if apply_pooling else None
            self.basic_module = ResNetBlock(cin, cout)

        def forward(self, x):
            if self.pooling is not None:
                x = self.pooling(x)
            return self.basic_module(x)

    class Upsample(nn.Module):
        def __init__(self, conv_transposed):
            super().__init__()
            self.conv_transposed = conv_transposed

        def forward(self, x, size):
            x = self.conv_transposed(x)
            return F.interpolate(x, size=size)

    class TransposeConvUpsampling(nn.Module):
        def __init__(self, cin, cout):
            super().__init__()
            self.upsample = Upsample(nn.ConvTranspose2d(cin, cout, kernel_size=3, stride=2,
                                                        padding=1, bias=False))

        def forward(self, encoder_features, x):
            return self.upsample(x, encoder_features.size()[2:])

    class Decoder(nn.Module):
        def __init__(self, cin, cout):
            super().__init__()
            self.upsampling = TransposeConvUpsampling(cin, cout)
            self.basic_module = ResNetBlock(cout, cout)

        def forward(self, encoder_features, x):
            x = self.upsampling(encoder_features=encoder_features, x=x)
            return self.basic_module(encoder_features + x)

    class ResidualUNet2D(nn.Module):
        def __init__(self, f_maps=(8, 16, 32, 64)):
            super().__init__()
            self.encoders = nn.ModuleList(
                Encoder(in_channels if i == 0 else f_maps[i - 1], f, apply_pooling=i > 0)
                for i, f in enumerate(f_maps))
            rev = list(reversed(f_maps))
            self.decoders = nn.ModuleList(Decoder(rev[i], rev[i + 1])
                                          for i in range(len(rev) - 1))
            self.final_conv = nn.Conv2d(f_maps[0], out_channels, 1)
            self.final_activation = nn.Sigmoid()

        def forward(self, x):
            encoders_features = []
            for encoder in self.encoders:
                x = encoder(x)
                encoders_features.insert(0, x)
            encoders_features = encoders_features[1:]
            for decoder, encoder_features in zip(self.decoders, encoders_features, strict=True):
                x = decoder(encoder_features, x)
            x = self.final_conv(x)
            if not self.training:
                x = self.final_activation(x)
            return x

    return ResidualUNet2D()
