"""The zoo's 1-D and 3-D networks (tests/core/audit_zoo/audio.py, volumes.py): each
builds from its transcription, upsamples by its ground truth's factor, holds the layers
its truth names (read off the modules, not off the audit) and exports with both exporters.
"""

from __future__ import annotations

import onnx
import pytest
import torch

from tests.core.audit_zoo import built, one_thread, quiet_export  # noqa: F401 (one_thread: autouse)
from tests.core.audit_zoo.audio import AUDIO_ZOO
from tests.core.audit_zoo.volumes import VOLUME_ZOO

RANKED = {**AUDIO_ZOO, **VOLUME_ZOO}


def build(name: str) -> torch.nn.Module:
    return built(RANKED[name])



@pytest.mark.parametrize("name", sorted(RANKED))
def test_shapes_follow_the_truth(name):
    net = RANKED[name]
    with torch.no_grad():
        y = build(name)(torch.randn(net.input_shape))
    if name in AUDIO_ZOO:  # 80 mels x T frames -> one channel of 256 T samples
        assert y.shape == (1, 1, net.input_shape[-1] * net.total_up)
    else:  # a segmentation: the input's size
        assert y.shape == (1, 2, *net.input_shape[2:])


@pytest.mark.parametrize("name", sorted(RANKED))
def test_the_truth_names_the_modules_and_their_geometry(name):
    model = build(name)
    modules = dict(model.named_modules())
    for truth in RANKED[name].layers:
        layer = modules[truth.path]
        kernel, stride = layer.kernel_size, layer.stride
        kernel = kernel if isinstance(kernel, int) else kernel[0]
        stride = stride if isinstance(stride, int) else stride[0]
        assert (kernel, stride) == (truth.kernel, truth.stride), truth
        padding = layer.padding if isinstance(layer.padding, int) else layer.padding[0]
        assert padding == truth.padding
        assert (kernel % stride == 0) == truth.even  # even overlap: the kernel a multiple


def test_the_vocoders_upsample_by_the_product_of_their_strides():
    for name in AUDIO_ZOO:
        strides = [m.stride[0] for m in build(name).modules()
                   if isinstance(m, torch.nn.ConvTranspose1d)]
        assert strides == [8, 8, 2, 2] and AUDIO_ZOO[name].period == 8 * 8 * 2 * 2


@pytest.mark.parametrize("name", sorted(RANKED))
@pytest.mark.parametrize("dynamo", [False, True], ids=["torchscript", "dynamo"])
def test_both_exporters_write_the_transposed_convolutions(name, dynamo, tmp_path):
    net = RANKED[name]
    target = tmp_path / "model.onnx"
    quiet_export(build(name), net.input_shape, str(target), dynamo=dynamo)
    model = onnx.load(str(target), load_external_data=False)
    ops = [n.op_type for n in model.graph.node]
    for fn in model.functions:
        ops += [n.op_type for n in fn.node]
    assert ops.count("ConvTranspose") == sum(t.op == "ConvTranspose" for t in net.layers)

