"""The upsampling layers (every one but the fused resize-convolution) and their padding arithmetic.

Every upsampler maps ``(N, C_in, H, W) -> (N, C_out, scale*H, scale*W)`` exactly,
for any kernel size (odd or even) and any integer ``scale >= 2``. The transposed
convolution, the resize-convolutions and the sub-pixel convolution also take ``dims``:
``dims=1`` maps a sound ``(N, C_in, L) -> (N, C_out, scale*L)`` (the upsamplers of neural
vocoders), ``dims=3`` a volume ``(N, C_in, D, H, W)``; one class per idea, every rank. They are all built
through :func:`core.upsamplers.registry.make_upsampler`, which reads its ``UPSAMPLERS``; the layer lab, the
training code and the tests look layers up there by name.

Conventions used throughout this module (1-D is enough to state them; 2-D is the
same along each axis):

* ``s`` is the scale (the stride of a transposed convolution), ``k`` the kernel size.
* A "same" stride-1 convolution with an even kernel cannot be centred; like PyTorch's
  ``padding="same"`` we pad ``pl = (k - 1) // 2`` on the left/top and
  ``pr = k - 1 - pl`` on the right/bottom.
* Nearest upsampling by ``s`` is ``u[m] = x[m // s]``.

What is *not* here: timing (:mod:`core.upsamplers.timing`), the layer lab's inputs and stacks
(:mod:`core.upsamplers.lab_inputs`), per-phase gains measured from a layer's response
(:mod:`core.maths.phase_gains`) and strided-convolution gradients (:mod:`core.maths.gradients`).
"""


from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

# ---------------------------------------------------------------------------------------
# Padding arithmetic
# ---------------------------------------------------------------------------------------


def same_padding(kernel_size: int) -> tuple[int, int]:
    """``(left, right)`` zero padding that keeps a stride-1 convolution size-preserving.

    ``left + right = k - 1``; the extra pixel of an even kernel goes right (as in
    ``torch.nn.Conv2d(padding="same")``).
    """
    left = (kernel_size - 1) // 2
    return left, kernel_size - 1 - left


def transposed_padding(kernel_size: int, stride: int) -> tuple[int, int]:
    """``(padding, output_padding)`` so that ``ConvTranspose2d(k, stride=s)`` gives ``s*H``.

    A transposed convolution produces ``(H - 1)*s - 2*padding + k + output_padding``
    pixels. Setting this to ``s*H`` gives ``output_padding = 2*padding + s - k``, which
    PyTorch requires in ``[0, s)``:

    * ``k >= s``: ``padding = ceil((k - s) / 2)``, ``output_padding = (k - s) % 2``;
    * ``k <  s``: ``padding = 0``, ``output_padding = s - k`` (the last ``s - k``
      pixels of each period only receive the bias).
    """
    if kernel_size >= stride:
        padding = (kernel_size - stride + 1) // 2
    else:
        padding = 0
    output_padding = 2 * padding + stride - kernel_size
    assert 0 <= output_padding < stride
    return padding, output_padding


def _pad_mode(padding_mode: str) -> str:
    """Translate ``nn.Conv2d`` padding-mode names to ``F.pad`` modes."""
    modes = {"zeros": "constant", "reflect": "reflect", "replicate": "replicate",
             "circular": "circular"}
    if padding_mode not in modes:
        raise ValueError(
            f"padding_mode must be one of {sorted(modes)}, got {padding_mode!r}")
    return modes[padding_mode]


def _same_pad(x: torch.Tensor, kernel_size: int, padding_mode: str) -> torch.Tensor:
    """Pad ``x`` (N, C, *spatial) so that a k x ... x k valid convolution keeps its size."""
    left, right = same_padding(kernel_size)
    if left == right == 0:
        return x
    return F.pad(x, (left, right) * (x.dim() - 2), mode=_pad_mode(padding_mode))


#: The ranks the rank-generic layers take, and torch's class of each per rank.
RANKS = (1, 2, 3)
_CONV = {1: nn.Conv1d, 2: nn.Conv2d, 3: nn.Conv3d}
_DECONV = {1: nn.ConvTranspose1d, 2: nn.ConvTranspose2d, 3: nn.ConvTranspose3d}
#: ``F.interpolate``'s name for linear interpolation along every axis, per rank.
LINEAR_MODE = {1: "linear", 2: "bilinear", 3: "trilinear"}


def _check_rank(dims) -> int:
    if isinstance(dims, bool) or not isinstance(dims, int) or dims not in RANKS:
        raise ValueError(f"dims (spatial axes) must be 1, 2 or 3, got {dims!r}")
    return dims


class PixelShuffleNd(nn.Module):
    """``PixelShuffle`` for any rank: ``(N, C*s**d, n_1, ..) -> (N, C, s*n_1, ..)``.

    Channel ``c * s**d + (a_1 * s + a_2) * s ...`` goes to output ``(s*i_1 + a_1, ...)`` of
    channel ``c``, as ``nn.PixelShuffle`` does in 2-D (and the 1-D ``PixelShuffle1D`` of
    audio super-resolution code: channel ``c*s + a`` to sample ``s*i + a``).
    """

    def __init__(self, scale: int, dims: int) -> None:
        super().__init__()
        self.scale, self.dims = scale, _check_rank(dims)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (N, C*s^d, *spatial)
        n, cs, *sizes = x.shape
        s, d = self.scale, self.dims
        y = x.reshape(n, cs // s ** d, *([s] * d), *sizes)  # (N, C, a_1..a_d, n_1..n_d)
        order = [0, 1] + [i for k in range(d) for i in (2 + d + k, 2 + k)]
        y = y.permute(*order)  # (N, C, n_1, a_1, n_2, a_2, ...)
        return y.reshape(n, cs // s ** d, *(s * m for m in sizes))


# ---------------------------------------------------------------------------------------
# The layers
# ---------------------------------------------------------------------------------------


class Deconv(nn.Module):
    """Transposed convolution ``ConvTranspose2d(k, stride=s)`` sized to exactly ``s*H``.

    This is the layer of the post: when ``k`` is not a multiple of ``s`` the kernel
    windows overlap unevenly (k=3, s=2 is Figure 4; k=4, s=2 has even overlap but still
    makes artifacts once trained, Figure 6).
    """

    def __init__(self, in_channels: int, out_channels: int, scale: int, kernel_size: int,
                 bias: bool = True, dims: int = 2) -> None:
        super().__init__()
        self.scale, self.kernel_size, self.dims = scale, kernel_size, _check_rank(dims)
        padding, output_padding = transposed_padding(kernel_size, scale)
        self.deconv = _DECONV[dims](in_channels, out_channels, kernel_size, stride=scale,
                                    padding=padding, output_padding=output_padding, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (N, C_in, H, W) or (N, C_in, L) ...
        return self.deconv(x)  # (N, C_out, sH, sW) or (N, C_out, sL) ...

    def macs(self, *sizes: int) -> int:
        """Multiply-adds for one input: every input cell scatters a k^d x C_out patch."""
        c = self.deconv
        return int(np.prod(sizes)) * c.in_channels * c.out_channels \
            * self.kernel_size ** self.dims


class ResizeConv(nn.Module):
    """Resize-convolution (Odena et al. 2016): upsample by ``s``, then a k x k convolution.

    ``mode="nearest"`` is the post's recommendation; ``mode="bilinear"`` uses
    ``F.interpolate(mode="bilinear", align_corners=False)``. The convolution runs on the
    large, upsampled tensor, which is what makes it ``s*s`` times as costly per output
    pixel as a convolution at the input size (see :class:`FusedResizeConv`).
    """

    def __init__(self, in_channels: int, out_channels: int, scale: int, kernel_size: int,
                 mode: str = "nearest", padding_mode: str = "zeros", bias: bool = True,
                 dims: int = 2) -> None:
        super().__init__()
        if mode not in ("nearest", "bilinear"):
            raise ValueError(f"mode must be 'nearest' or 'bilinear', got {mode!r}")
        _pad_mode(padding_mode)
        self.scale, self.kernel_size, self.mode = scale, kernel_size, mode
        self.padding_mode, self.dims = padding_mode, _check_rank(dims)
        # The padding is applied explicitly in forward (asymmetric for even k), so the
        # convolution itself is "valid"; only its weight and bias are state.
        self.conv = _CONV[dims](in_channels, out_channels, kernel_size, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (N, C_in, H, W) or (N, C_in, L) ...
        if self.mode == "nearest":
            up = F.interpolate(x, scale_factor=self.scale, mode="nearest")
        else:  # "bilinear": linear along every axis (linear in 1-D, trilinear in 3-D)
            up = F.interpolate(x, scale_factor=self.scale, mode=LINEAR_MODE[self.dims],
                               align_corners=False)  # (N, C_in, sH, sW)
        return self.conv(_same_pad(up, self.kernel_size, self.padding_mode))  # (N, C_out, sH, sW)

    def macs(self, *sizes: int) -> int:
        """k^d x C_in multiply-adds per output cell and channel, at the large size."""
        c = self.conv
        return (self.scale ** self.dims * int(np.prod(sizes))) * c.in_channels \
            * c.out_channels * self.kernel_size ** self.dims


class SubPixelConv(nn.Module):
    """Sub-pixel convolution (Shi et al. 2016): k x k conv to ``s*s*C_out`` channels,
    then ``PixelShuffle(s)``.

    ``PixelShuffle`` puts channel ``c*s*s + a*s + b`` at output pixel ``(s*i + a, s*j + b)``
    of channel ``c``: each of the ``s*s`` output phases has its own kernel. Randomly
    initialised, the phases disagree, which is a checkerboard at initialisation.

    With ``icnr=True`` (Aitken et al. 2017, "Checkerboard artifact free sub-pixel
    convolution") the ``s*s`` kernels of every output channel start as copies of one
    kernel, so at initialisation the layer *is* "k x k convolution, then nearest
    upsampling": every s x s output block is constant.

    With ``blur=True`` a fixed ``s x s`` box (the zero-order hold, replicate-padded)
    follows the shuffle, as fastai's ``PixelShuffle_ICNR(blur=True)`` does after Sugawara
    et al. 2018 ("Super-resolution using convolutional neural networks without any
    checkerboard artifacts"): whatever the phases learn, a constant input then gives the
    same total weight to every output phase, so ICNR's clean start can no longer drift
    into a checkerboard during training.
    """

    def __init__(self, in_channels: int, out_channels: int, scale: int, kernel_size: int,
                 icnr: bool = False, padding_mode: str = "zeros", bias: bool = True,
                 blur: bool = False, dims: int = 2) -> None:
        super().__init__()
        _pad_mode(padding_mode)
        self.scale, self.kernel_size, self.padding_mode = scale, kernel_size, padding_mode
        self.dims = _check_rank(dims)
        if blur and dims != 2:
            raise ValueError("the blurred sub-pixel convolution is 2-D only (dims=2)")
        self.conv = _CONV[dims](in_channels, out_channels * scale ** dims, kernel_size, bias=bias)
        self.shuffle = nn.PixelShuffle(scale) if dims == 2 else PixelShuffleNd(scale, dims)
        self.blur = bool(blur)
        if self.blur:
            h = hold_kernel(scale, 0).float()
            self.register_buffer("hold", torch.outer(h, h)[None, None], persistent=False)
        if icnr:
            icnr_(self.conv.weight, self.conv.bias, scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (N, C_in, H, W)
        y = self.conv(_same_pad(x, self.kernel_size, self.padding_mode))  # (N, s*s*C_out, H, W)
        y = self.shuffle(y)  # (N, C_out, sH, sW)
        return _hold_smooth(y, self.hold) if self.blur else y

    def macs(self, *sizes: int) -> int:
        c = self.conv
        cells = int(np.prod(sizes))
        conv = cells * c.in_channels * c.out_channels * self.kernel_size ** self.dims
        if not self.blur:
            return conv
        return conv + self.scale ** 2 * cells * (c.out_channels // self.scale ** 2) \
            * self.hold.shape[-1] ** 2


@torch.no_grad()
def icnr_(weight: torch.Tensor, bias: torch.Tensor | None, scale: int,
          init: Callable[[torch.Tensor], object] = nn.init.kaiming_normal_) -> None:
    """ICNR initialisation in place (Aitken et al. 2017).

    ``weight`` has shape ``(C_out*s*s, C_in, k, k)``. A sub-kernel ``w0`` of shape
    ``(C_out, C_in, k, k)`` is drawn with ``init`` and repeated ``s*s`` times so that
    ``weight[c*s*s + p] = w0[c]`` for every phase ``p`` (the channel order
    ``PixelShuffle`` expects); the bias is made equal within each group the same way.
    Any rank: a ``Conv1d`` weight ``(C_out*s, C_in, k)`` has ``s`` phases, a ``Conv3d``
    one ``s**3``.
    """
    out_total, c_in, *kernel = weight.shape
    phases = scale ** len(kernel)
    if out_total % phases:
        raise ValueError(f"ICNR needs out channels divisible by scale^{len(kernel)}={phases}, "
                         f"got {out_total}")
    w0 = torch.empty(out_total // phases, c_in, *kernel, dtype=weight.dtype, device=weight.device)
    init(w0)
    weight.copy_(w0.repeat_interleave(phases, dim=0))
    if bias is not None:
        b0 = bias.view(-1, phases)[:, :1].clone()
        bias.copy_(b0.expand(-1, phases).reshape(-1))


# ---------------------------------------------------------------------------------------
# Fixed smoothing after a transposed convolution
# ---------------------------------------------------------------------------------------


def hold_kernel(scale: int, order: int = 0) -> torch.Tensor:
    """1-D kernel of the order-``d`` hold: an ``s``-box convolved with itself ``d`` times.

    ``order=0`` is the zero-order hold ``[1]*s`` (Sugawara et al. 2019), ``order=1`` the
    first-order hold (the linear-interpolation triangle, ``[1, 2, 1]`` for s=2), as in
    Kinoshita & Kiya 2020. Normalised to sum 1 so the layer keeps the deconvolution's
    average gain. Length ``(d + 1)(s - 1) + 1``.
    """
    # On the CPU even inside ``with torch.device("meta")`` (the checkpoint reader builds
    # models there to learn their shapes): the kernel is fixed data, made with numpy.
    box = torch.ones(scale, dtype=torch.float64, device="cpu")
    k = box
    for _ in range(order):
        k = torch.from_numpy(np.convolve(k.numpy(), box.numpy()))
    return k / k.sum()


def _hold_smooth(y: torch.Tensor, hold: torch.Tensor) -> torch.Tensor:
    """Depthwise "same" convolution of ``y`` (N, C, H, W) with the fixed ``hold`` (1, 1, L, L).

    Replicate padding keeps the borders' level; an even ``L`` pads one more on the right.
    """
    c = y.shape[1]
    kernel = hold.to(y.dtype).expand(c, 1, -1, -1)  # (C, 1, L, L)
    y = _same_pad(y, kernel.shape[-1], "replicate")
    return F.conv2d(y, kernel, groups=c)  # (N, C, H, W)


class DeconvHold(nn.Module):
    """Transposed convolution followed by a fixed (non-trainable) ``s x s`` smoothing.

    Sugawara, Shiota & Kiya 2019 and Kinoshita & Kiya 2020 show that a stride-``s``
    transposed convolution is free of checkerboard artifacts if its kernel contains the
    zero-order hold ``H_0 = ones(s, s)`` as a factor: every output phase then receives the
    same total weight for a constant input. Rather than constraining the learned
    kernel, they append a *fixed* smoothing layer with kernel ``H_0`` (order 0) or
    ``H_0 * H_0 * ...`` (higher orders, smoother). Convolution is associative, so the
    composite kernel always holds the factor.

    The smoothing is depthwise, "same" sized (uneven kernels pad one more on the right)
    with replicate padding so borders keep their level. With zero padding and order 0 the
    layer would be exactly a resize-convolution (compare :class:`FusedResizeConv`,
    ``method="zoh"``).
    """

    def __init__(self, in_channels: int, out_channels: int, scale: int, kernel_size: int,
                 order: int = 0, bias: bool = True) -> None:
        super().__init__()
        if isinstance(order, bool) or not isinstance(order, int) or order < 0:
            raise ValueError(f"order must be an integer >= 0, got {order!r}")
        self.scale, self.kernel_size, self.order = scale, kernel_size, order
        self.deconv = Deconv(in_channels, out_channels, scale, kernel_size, bias=bias).deconv
        h = hold_kernel(scale, order).float()
        self.register_buffer("hold", torch.outer(h, h)[None, None], persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (N, C_in, H, W)
        return _hold_smooth(self.deconv(x), self.hold)  # (N, C_out, sH, sW)

    def macs(self, height: int, width: int) -> int:
        c = self.deconv
        length = self.hold.shape[-1]
        return height * width * c.in_channels * c.out_channels * self.kernel_size ** 2 \
            + self.scale ** 2 * height * width * c.out_channels * length ** 2


# ---------------------------------------------------------------------------------------
# Bilinear additive upsampling
# ---------------------------------------------------------------------------------------


class BilinearAdditive(nn.Module):
    """Bilinear additive upsampling (Wojna et al. 2017) after a k x k convolution.

    Wojna et al. ("The Devil is in the Decoder") upsample feature maps bilinearly and then
    sum every ``g`` consecutive channels, a parameter-free upsampling that reduces the
    channels by ``g`` (4 for 2x in the paper). Here a k x k convolution at the input
    size first makes ``g * C_out`` channels (``g = scale**2`` unless ``groups_summed`` is
    given), so the layer has the parameters and cost of ``subpixel`` with the pixel
    shuffle replaced by bilinear additive upsampling: no phase has its own kernel, so no
    checkerboard.
    """

    def __init__(self, in_channels: int, out_channels: int, scale: int, kernel_size: int,
                 groups_summed: int | None = None, padding_mode: str = "zeros",
                 bias: bool = True) -> None:
        super().__init__()
        g = scale * scale if groups_summed is None else groups_summed
        if isinstance(g, bool) or not isinstance(g, int) or g < 1:
            raise ValueError(f"groups_summed must be an integer >= 1, got {g!r}")
        _pad_mode(padding_mode)
        self.scale, self.kernel_size, self.groups_summed = scale, kernel_size, g
        self.padding_mode = padding_mode
        self.conv = nn.Conv2d(in_channels, out_channels * g, kernel_size, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (N, C_in, H, W)
        y = self.conv(_same_pad(x, self.kernel_size, self.padding_mode))  # (N, g*C_out, H, W)
        y = F.interpolate(y, scale_factor=self.scale, mode="bilinear", align_corners=False)
        n, _, h, w = y.shape
        return y.view(n, -1, self.groups_summed, h, w).sum(dim=2)  # (N, C_out, sH, sW)

    def macs(self, height: int, width: int) -> int:
        c = self.conv
        return height * width * c.in_channels * c.out_channels * self.kernel_size ** 2


