"""Tests of per-output-phase gains measured from a layer's response (core/phase_gains.py)."""

from __future__ import annotations

import numpy as np
import torch

from core.maths.metrics import polyphase_gains
from core.maths.phase_gains import phase_gains
from core.upsamplers.registry import make_upsampler


def test_phase_gains_of_a_deconv_are_its_polyphase_gains():
    torch.manual_seed(0)
    layer = make_upsampler("deconv", 2, 3, scale=2, kernel_size=3)  # padding 1
    from_response = phase_gains(layer, 2, 2)  # labelled by output phase
    from_weights = polyphase_gains(layer.deconv.weight, 2)  # labelled by tap phase
    # output phase = (tap phase - padding) mod s: with padding 1 the phases swap
    np.testing.assert_allclose(from_response, from_weights[..., ::-1, ::-1], atol=1e-6)
    fused = make_upsampler("fused_resize", 2, 3, scale=3, kernel_size=2)
    g = phase_gains(fused, 2, 3)
    np.testing.assert_allclose(g, np.broadcast_to(g[..., :1, :1], g.shape), atol=1e-6)
