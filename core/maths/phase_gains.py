"""Per-output-phase gains of an upsampler, measured from its response to constants.

The weight-based view of the same quantity (a transposed convolution's taps summed
per phase) is :func:`core.maths.metrics.polyphase_gains`; this one needs no knowledge of the
layer's internals, so it works for every layer of the registry.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

__all__ = ["phase_gains"]


@torch.no_grad()
def phase_gains(module: nn.Module, in_channels: int, scale: int, *, dims: int = 2) -> np.ndarray:
    """Output-phase gains of any (linear + bias) upsampler, from its response to constants.

    Every upsampler here is linear plus a bias and ``scale``-periodic, so on the constant
    input ``1`` in channel ``i`` (0 elsewhere), an interior output pixel of phase
    ``(a, b)`` in channel ``o`` equals ``bias[o] + G[i, o, a, b]``, where ``G`` sums the
    taps feeding that phase: the :func:`core.maths.metrics.polyphase_gains` of the layer's
    equivalent transposed convolution, labelled by output phase. Returns
    ``(C_in, C_out, scale, scale)``; for a layer of ``dims`` spatial axes in general
    ``(C_in, C_out) + (scale,) * dims`` (a 1-D upsampler of sound: ``(C_in, C_out, scale)``).
    """
    if dims not in (1, 2, 3):
        raise ValueError(f"dims must be 1, 2 or 3, got {dims!r}")
    k = int(getattr(module, "kernel_size", 3))
    n = 2 * (k + scale) + 4  # the centre is far from the borders' reach
    x = torch.zeros(in_channels + 1, in_channels, *([n] * dims))  # item 0: zeros, i+1: channel i
    for i in range(in_channels):
        x[i + 1, i] = 1.0
    p = next(module.parameters(), None)
    if p is not None:
        x = x.to(p.dtype)
    y = module(x)  # (C_in + 1, C_out, s*n, ...)
    c = (n // 2) * scale
    block = y[(slice(None), slice(None), *([slice(c, c + scale)] * dims))]  # one period inside
    return (block[1:] - block[:1]).double().numpy()
