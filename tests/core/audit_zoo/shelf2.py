"""The zoo's second shelf (issue 27): ten more published networks, each built by its own
module (:mod:`.shelf2_segmentation`, :mod:`.shelf2_generators`,
:mod:`.shelf2_super_resolution`) and registered here with the same :class:`ZooNet` /
:class:`Truth` as the first shelf.

Together they cover the kinds behind issue 27's classes 1-10: input padded and output cropped
(FCN-8s), a global-context branch broadcast back from 1x1 (DeepLabV3+'s ASPP pooling) and pads
written with ``F.pad`` (its Xception backbone), max-unpooling (SegNet), resampling written as
reshapes (Real-ESRGAN's pixel unshuffle, ProGAN's ``Upscale2d``, rosinality's ``upfirdn2d``), a
latent-fed generator with attention (BigGAN), a resize after a transposed convolution
(pytorch-3dunet), a same-size resize (SPADE), several outputs (LapSRN, SegNet, rosinality's
StyleGAN2) and weights computed at run time (rosinality's modulated convolutions).

The truth is read off each source, not off the audit. Conventions beyond the first shelf's:

* Only resampling layers are listed: those that change the resolution by an integer factor of
  at least 2 (a stride, or an interpolation's scale). A resize by a non-integer factor near 1
  (pytorch-3dunet's 2n-1 -> 2n size fix) and a same-size resize (SPADE's last) are not
  resampling; a broadcast from 1x1 (ASPP's image pooling) is context, not upsampling.
* ``kernel`` and ``padding`` are stated for layers that have them (convolutions, pools,
  unpooling, zero insertion); None for interpolations and reshapes. ``padding`` is the
  effective one: a constant zero ``F.pad`` right before a convolution is its padding.
* ``severity`` uses the verdict words of /work/notes/verdict-api.md (``"ok"``,
  ``"artifact"``, ``"not judged"``); ``ZooNet.verdict`` the network's (``"clean"``,
  ``"artifact"``, ``"not judged"``), with probes off. ``ZooNet.output``: which output a
  multi-output network is audited on by default (the largest image-like one; the first on a tie).
* Totals and period follow the strides along the graph (the period is the product of the up
  strides a pattern passes through, in output pixels), whatever the sizes.
"""

from __future__ import annotations

from tests.core.audit_zoo.ground_truth import Truth, ZooNet
from tests.core.audit_zoo.shelf2_generators import (
    biggan_generator,
    progan_generator,
    rosinality_stylegan2,
    spade_generator,
)
from tests.core.audit_zoo.shelf2_segmentation import deeplabv3plus, fcn8s, residual_unet2d, segnet
from tests.core.audit_zoo.shelf2_super_resolution import lapsrn, real_esrgan_x2

__all__ = ["SHELF2"]


def _ok(op, k, s, p, **kw) -> Truth:
    """An up layer whose design makes it clean whatever the weights."""
    return Truth(op, k, s, p, True, offending=False, severity="ok", **kw)


def _nearest(factor: int = 2, **kw) -> Truth:
    return _ok("Resize", None, factor, None, **kw)


_XCEPTION_DOWN = (
    Truth("Conv", 3, 2, 1, False, path="backbone.conv1"),
    *[t for b, i in ((1, 6), (2, 7), (3, 7)) for t in (
        Truth("Conv", 3, 2, 1, False, path=f"backbone.block{b}.rep.{i}.conv1"),
        Truth("Conv", 1, 2, 0, False, path=f"backbone.block{b}.skip"))],
)

# SPADE at crop 64: the map resized to 2 (the input of fc), then inside each block's SPADE
# norms to the block's size: head_0 at 2 (2 norms), G_middle_0/1 at 4 (2 + 2), up_0 at 8,
# up_1 at 16, up_2 at 32 (3 norms each: learned shortcut), up_3 at 64 (same size: none).
_SPADE_DOWN = tuple(Truth("Resize", None, factor, None, False)
                    for factor, count in ((32, 3), (16, 4), (8, 3), (4, 3), (2, 3))
                    for _ in range(count))

SHELF2: dict[str, ZooNet] = {z.name: z for z in (
    ZooNet("fcn8s", "wkentaro/pytorch-fcn torchfcn/models/fcn8s.py, fcn32s.py", fcn8s,
           (1, 3, 32, 32),
           (*[Truth("MaxPool", 2, 2, 0, True, path=f"pool{i}") for i in range(1, 6)],
            _ok("ConvTranspose", 4, 2, 0, path="upscore2"),
            _ok("ConvTranspose", 4, 2, 0, path="upscore_pool4"),
            _ok("ConvTranspose", 16, 8, 0, path="upscore8")),
           total_up=32, total_down=32, period=32, verdict="clean",
           notes=("class 1: padded by 100 and cropped at 5, 9, 31",)),
    ZooNet("deeplabv3plus", "jfzhang95/pytorch-deeplab-xception modeling/deeplab.py, "
           "aspp.py, decoder.py, backbone/xception.py", deeplabv3plus, (1, 3, 64, 64),
           (*_XCEPTION_DOWN, _nearest(4), _nearest(4)),
           total_up=16, total_down=16, period=16, verdict="clean",
           notes=("class 2: ASPP image pooling 4 -> 1 -> 4 is context",
                  "class 3: fixed_padding's F.pad before every separable convolution")),
    ZooNet("segnet", "say4n/pytorch-segnet src/model.py", segnet, (1, 3, 64, 64),
           (*[Truth("MaxPool", 2, 2, 0, True) for _ in range(5)],
            *[Truth("MaxUnpool", 2, 2, 0, True, offending=True, severity="artifact")
              for _ in range(5)]),
           total_up=32, total_down=32, period=32, verdict="artifact", output="0",
           torchscript=False,  # the TorchScript exporter fails on max_unpool2d (TypeError)
           notes=("class 4: each 2x2 window writes one value; on a flat region max_pool2d's "
                  "ties pick the window's first index, so every value lands on one phase "
                  "(zero insertion at phase 0: a period-2 grid), whatever the weights",
                  "returns (logits, softmax), the same size")),
    ZooNet("residual_unet2d", "wolny/pytorch-3dunet pytorch3dunet/unet3d/model.py, "
           "buildingblocks.py", residual_unet2d, (1, 3, 32, 32),
           (*[Truth("MaxPool", 2, 2, 0, True, path=f"encoders.{i}.pooling") for i in (1, 2, 3)],
            *[Truth("ConvTranspose", 3, 2, 1, False, offending=True, severity="artifact",
                    path=f"decoders.{i}.upsampling.upsample.conv_transposed")
              for i in (0, 1, 2)]),
           total_up=8, total_down=8, period=8, verdict="artifact",
           notes=("class 7: each k3 s2 p1 transposed convolution (2n-1) resized to 2n",)),
    ZooNet("progan", "facebookresearch/pytorch_GAN_zoo models/networks/"
           "progressive_conv_net.py, custom_layers.py", progan_generator, (1, 16, 1, 1),
           tuple(_nearest() for _ in range(3)),
           total_up=8, total_down=1, period=8, verdict="clean",
           notes=("class 5: Upscale2d is view / expand / view",
                  "the latent becomes 4x4 by a linear layer and a view: not resampling")),
    ZooNet("biggan", "ajbrock/BigGAN-PyTorch BigGAN.py, layers.py", biggan_generator,
           (1, 16, 1, 1),
           (*[_nearest() for _ in range(6)],  # both paths of each GBlock
            Truth("MaxPool", 2, 2, 0, True), Truth("MaxPool", 2, 2, 0, True)),
           total_up=8, total_down=1, period=8, verdict="clean",
           notes=("class 6: the attention's max-pools work at 16x16, above the input's level",)),
    ZooNet("rosinality_stylegan2", "rosinality/stylegan2-pytorch model.py, op/upfirdn2d.py",
           rosinality_stylegan2, (1, 16, 1, 1),
           tuple(t for i in range(3) for t in (
               _ok("ConvTranspose", 3, 2, 0, blur=True, path=f"convs.{2 * i}.conv"),
               _ok("ZeroInsertion", 1, 2, 0, blur=True, path=f"to_rgbs.{i}.upsample"))),
           total_up=8, total_down=1, period=8, verdict="clean", output="0",
           torchscript=False,  # TorchScript exporter: "convolution for kernel of unknown shape"
           notes=("class 10: modulated weights computed in the forward, [1,3,3,1] blur after",
                  "class 5: upfirdn2d_native inserts zeros with pad / reshape",
                  "returns (image, None)")),
    ZooNet("spade", "NVlabs/SPADE models/networks/generator.py, architecture.py, "
           "normalization.py", spade_generator, (1, 3, 64, 64),
           (*_SPADE_DOWN, *[_nearest(path="up") for _ in range(5)]),
           total_up=32, total_down=32, period=32, verdict="clean",
           # The TorchScript exporter names the N-th call of a module "<name>_<N>": the 2nd to
           # 5th calls of self.up are /up_1/ .. /up_4/, the same names as the blocks up_1 ..
           # up_3 (whose norms are /up_1/norm_s/ ...): which module a node comes from is not
           # in the file (the dynamo exporter's scopes keep "up"; the live route has it).
           torchscript_paths=False,
           notes=("class 8: up_3's three SPADE norms resize the map 64 -> 64",)),
    ZooNet("real_esrgan_x2", "XPixelGroup/BasicSR basicsr/archs/rrdbnet_arch.py, "
           "arch_util.py (xinntao/Real-ESRGAN RealESRGAN_x2plus)", real_esrgan_x2,
           (1, 3, 16, 16),
           (Truth("SpaceToDepth", None, 2, None, True), _nearest(), _nearest()),
           total_up=4, total_down=2, period=4, verdict="clean",
           notes=("class 5: pixel_unshuffle is view / permute / reshape",)),
    ZooNet("lapsrn", "twtygqyy/pytorch-LapSRN lapsrn.py", lapsrn, (1, 1, 16, 16),
           (_ok("ConvTranspose", 4, 2, 1, path="convt_F1.0.cov_block.4"),
            _ok("ConvTranspose", 4, 2, 1, path="convt_I1"),
            _ok("ConvTranspose", 4, 2, 1, path="convt_F2.0.cov_block.4"),
            _ok("ConvTranspose", 4, 2, 1, path="convt_I2")),
           total_up=4, total_down=1, period=4, verdict="clean", output="1",
           notes=("class 9: returns (HR_2x, HR_4x); HR_4x is the largest",)),
)}
