"""Weights "as after training": the same upsampler with its output phases made unequal.

At initialisation a transposed convolution whose kernel is a multiple of its stride
(k = 4, s = 2; k = 16, s = 8) overlaps evenly, and an ICNR sub-pixel convolution has
identical phases; training then moves the taps of each output phase apart (the
blog post's Figure 6, and the vocoders of Pons et al. 2021, whose trained transposed
convolutions ring). :func:`unequal_phases_` does to a fresh layer what training does:
it scales every weight that feeds output phase ``a`` by ``1 + spread * g[a]``, with
``g`` standard normal draws from ``seed``. A resize-convolution (nearest or linear
upsampling, then a convolution) has no weight of its own per phase: every output
phase sees the same kernel, so nothing changes, whatever training does.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from .layers import Deconv, ResizeConv, SubPixelConv

__all__ = ["unequal_phases_"]


@torch.no_grad()
def unequal_phases_(module: nn.Module, spread: float = 0.5, *, seed: int = 0) -> int:
    """Make the output phases of every registry layer inside ``module`` unequal, in place.

    For a :class:`Deconv` the taps ``t`` with ``t mod s == a`` (along every axis) feed
    one phase; for a :class:`SubPixelConv` the output channels ``c * s**d + a``. Each
    phase's weights are multiplied by ``1 + spread * g[a]``. Returns the number of layers
    changed (resize-convolutions have no per-phase weights: 0 for them).
    """
    if not isinstance(spread, int | float) or isinstance(spread, bool) or not 0 <= spread <= 2:
        raise ValueError(f"spread must be a number from 0 to 2, got {spread!r}")
    rng = np.random.default_rng(seed)
    changed = 0
    for layer in module.modules():
        if isinstance(layer, ResizeConv) or not isinstance(layer, Deconv | SubPixelConv):
            continue
        s, d = layer.scale, layer.dims
        factor = torch.from_numpy(1.0 + spread * rng.standard_normal((s,) * d))  # (s, .., s)
        if isinstance(layer, Deconv):
            w = layer.deconv.weight  # (C_in, C_out, k, .., k)
            taps = torch.arange(w.shape[-1]) % s  # tap phase along one axis
            index = torch.meshgrid(*([taps] * d), indexing="ij")
            w.mul_(factor[index].to(w.dtype))
        else:
            w = layer.conv.weight  # (C_out * s**d, C_in, k, .., k)
            per_channel = factor.reshape(-1).repeat(w.shape[0] // s ** d)  # channel c*s^d + a
            w.mul_(per_channel.to(w.dtype).view(-1, *([1] * (w.dim() - 1))))
        changed += 1
    return changed
