"""A zoo of published networks for the audit's tests: each transcribed layer for layer from
its public source (named in its docstring), at small widths, randomly initialised.

Every entry carries a hand-written ground truth of its up- and downsampling layers, read
off the source (not off the audit): op, kernel, stride, padding, even overlap or not,
whether a fixed filter after it is credited, and, where it does not depend on the random
weights, the verdict. ``tests/core/test_audit_zoo.py`` checks both routes against it.
Widths are cut (64 -> 8) and inputs kept small so the whole zoo audits in seconds; the
layer layout, kernels, strides, paddings and call signatures are the sources'.

One module per family: :mod:`.gans`, :mod:`.decoders`, :mod:`.super_resolution`,
:mod:`.segmentation`, :mod:`.stylegan`; the ground-truth types in :mod:`.ground_truth`.
"""

from __future__ import annotations

import logging
import warnings

import pytest
import torch

from tests.core.audit_zoo.decoders import ldm_decoder, transformer_net
from tests.core.audit_zoo.gans import _pix2pix_paths, cyclegan_resnet, dcgan, pix2pix_unet
from tests.core.audit_zoo.ground_truth import Truth, ZooNet, _up
from tests.core.audit_zoo.segmentation import enet, linknet, milesial_unet
from tests.core.audit_zoo.stylegan import stylegan2_synthesis
from tests.core.audit_zoo.super_resolution import espcn, srgan

__all__ = ["ZOO", "Truth", "ZooNet", "built", "one_thread", "quiet_export", "cyclegan_resnet", "dcgan", "enet", "espcn", "ldm_decoder",
           "linknet", "milesial_unet", "pix2pix_unet", "srgan", "stylegan2_synthesis",
           "transformer_net"]

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


def built(net: ZooNet) -> torch.nn.Module:
    """``net`` built in eval mode from seed 0: the same weights in every test and route."""
    torch.manual_seed(0)
    return net.build().eval()


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """One torch thread for a test module that imports this fixture: the zoo's networks
    are tiny, and with two the thread pool's waits cost more than the work (measured on the
    shared 2-core machine: an ENet forward pass 0.25 CPU seconds with two threads, 0.001
    with one)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def quiet_export(module, shape, target, dynamo: bool) -> None:
    """``torch.onnx.export`` of ``module`` at input ``shape`` to ``target`` (a path or a
    buffer), with the exporters' warnings and log lines silenced (the tests and
    ``benchmarks/audit.py --zoo``)."""
    logging.disable(logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(module, (torch.zeros(shape),), target, dynamo=dynamo,
                              verbose=False)
    finally:
        logging.disable(logging.NOTSET)
