"""Gradients that strided convolutions send back to their input (Distill's "artifacts in
gradients"): the backward pass of a strided convolution is a transposed convolution, so
it paints the same uneven overlap onto the input's gradient.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

__all__ = ["strided_conv_input_gradient"]


def strided_conv_input_gradient(kernel_size: int, stride: int, size: int, *,
                                weights: str = "ones", seed: int = 0) -> np.ndarray:
    """The gradient a strided convolution sends back to its input (Distill's "artifacts in
    gradients").

    ``Conv2d(1, 1, k, stride=s)`` on a ``size x size`` input; the output gradient is all
    ones, so the input gradient is the transposed convolution of ones: uneven overlap
    (``k`` not a multiple of ``s``) makes it a checkerboard. ``weights``: ``"ones"`` (the
    overlap count itself) or ``"random"`` (seeded, PyTorch's default initialisation).
    Returns ``(size, size)`` float64.
    """
    for label, value in (("kernel_size", kernel_size), ("stride", stride), ("size", size)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{label} must be an integer >= 1, got {value!r}")
    if kernel_size > size:
        raise ValueError(f"kernel_size {kernel_size} must be at most the input size {size}")
    if weights not in ("ones", "random"):
        raise ValueError(f"weights must be 'ones' or 'random', got {weights!r}")
    torch.manual_seed(seed)
    conv = nn.Conv2d(1, 1, kernel_size, stride=stride, bias=False).double()
    if weights == "ones":
        nn.init.ones_(conv.weight)
    x = torch.zeros(1, 1, size, size, dtype=torch.float64, requires_grad=True)
    conv(x).sum().backward()
    return x.grad[0, 0].numpy()
