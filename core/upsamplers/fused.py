"""Resize-convolution at transposed-convolution cost: :class:`FusedResizeConv`.

Nearest upsampling by ``s`` followed by a k x k convolution is one transposed
convolution with a box-blurred kernel (the fold), or ``s*s`` small phase kernels at the
input size (the phase plan). Both give exactly the resize-convolution's output with the
same state dict, so a model trained with one loads in the other.
"""


from __future__ import annotations

import contextlib
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .layers import same_padding

# ---------------------------------------------------------------------------------------
# Resize-convolution at transposed-convolution cost
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PhasePlan:
    """How the ``s`` output phases of nearest-upsample + k-tap conv read the input (1-D).

    With ``u[m] = x[m // s]`` and "same" left padding ``pl``, output ``y[s*i + a]`` is
    ``sum_t w[t] * x[i + floor((a + t - pl) / s)]``: phase ``a`` only reads the input
    offsets ``lo_a = floor((a - pl)/s) .. floor((a + k-1 - pl)/s)``, at most
    ``K = ceil((k - 1)/s) + 1`` of them (2 for k=3, s=2), and taps ``t`` that land on
    the same input pixel add up. Writing ``pl = q*s + r``, ``lo_a = -q - 1`` for
    ``a < r`` and ``-q`` for ``a >= r``: the phases start at most one pixel apart.

    A single stride-1 conv over the input padded by ``pad_left = -min(lo)`` then gives
    phase ``a`` at rows ``i + shift_a`` (``shift_a = lo_a - min(lo)``, 0 or 1), i.e.
    ``H + extra`` rows with ``extra = max(shift)``. If the conv's output channels put
    phase ``(j + r) mod s`` in slot ``j`` (``order``), ``pixel_shuffle`` lays every
    phase out one whole period early or at its place, and cropping ``offset = (s - r)
    mod s`` rows and columns gives the exact resize-convolution output.

    ``taps[a, p, t] = 1`` when tap ``t`` of phase ``a`` reads offset ``lo_a + p``, so the
    2-D phase kernel is ``taps[a] @ w @ taps[b].T``.
    """

    taps: torch.Tensor  # (s, K, k), float64
    order: tuple[int, ...]  # phase held by each pixel-shuffle slot
    pad_left: int
    pad_right: int
    extra: int  # rows/columns beyond H, W that the conv computes
    offset: int  # crop at the start of the pixel-shuffled tensor


def phase_plan(kernel_size: int, scale: int) -> PhasePlan:
    """The :class:`PhasePlan` of nearest upsampling by ``scale`` + a ``kernel_size`` conv."""
    pl, _ = same_padding(kernel_size)
    lo = [(a - pl) // scale for a in range(scale)]
    hi = [(a + kernel_size - 1 - pl) // scale for a in range(scale)]
    n_taps = max(h - low + 1 for low, h in zip(lo, hi, strict=True))
    taps = torch.zeros(scale, n_taps, kernel_size, dtype=torch.float64)
    for a in range(scale):
        for t in range(kernel_size):
            taps[a, (a + t - pl) // scale - lo[a], t] = 1.0
    r = pl % scale
    low = min(lo)
    return PhasePlan(taps=taps, order=tuple((j + r) % scale for j in range(scale)),
                     pad_left=-low, pad_right=max(lo) + n_taps - 1,
                     extra=max(lo) - low, offset=(scale - r) % scale)


class FusedResizeConv(nn.Module):
    """``resize_nearest`` computed without building the upsampled tensor.

    Nearest upsampling by ``s`` then a k x k convolution is a *linear, s-periodic* map of
    the small input, i.e. one transposed convolution at stride ``s`` whose kernel is the
    (flipped) k x k kernel convolved with an ``s x s`` box: kernel size ``k + s - 1``
    (:func:`core.maths.matrix.fold_resize_kernel`). Every output phase then sums the same
    taps, which is why the resize-convolution has no checkerboard.

    The layer holds exactly the parameters of :class:`ResizeConv` (``conv.weight``
    ``(C_out, C_in, k, k)``, ``conv.bias``), so state dicts load into each other, and
    derives the fast kernel from them (differentiably, so it trains). Three exact ways
    of computing it (``method``):

    * ``"phase"``: for each of the ``s*s`` output phases ``(a, b)`` only ``K x K`` input
      taps matter (``K = ceil((k-1)/s) + 1``: 2 x 2 for k=3, s=2); the ``s*s`` phase
      kernels ``M[a] @ w @ M[b]^T`` run as ``s*s*C_out`` output channels of **one**
      ``conv2d`` at the input size, and the phases are then interleaved by one
      ``pixel_shuffle`` and a crop (phases start at most one input pixel apart; ordering
      the phase kernels cyclically absorbs that, :class:`PhasePlan`). ``s*s*K*K``
      multiply-adds per input pixel and channel pair (16 for k=3, s=2, against 36 for
      ``resize_nearest`` and 9 for a 3x3 transposed convolution).
    * ``"folded"``: one ``conv_transpose2d`` at stride ``s`` with the folded
      ``(k+s-1)``-kernel, ``padding = pr`` and ``output_padding = pr - pl`` (the "same"
      padding's right and left parts): exactly ``s*H`` rows, no crop, so the output keeps
      the input's memory format. For k=3, s=2 this is a 4x4/stride-2 transposed
      convolution with padding 1: ``deconv`` k4's own call, with a derived kernel. The
      fold is one matrix product with a fixed 0/1 matrix (:func:`_fold_matrix`).
    * ``"zoh"``: a k x k ``conv_transpose2d`` at stride ``s`` followed by an ``s x s``
      box sum (the zero-order hold of Sugawara et al. 2019): box-blurring the kernel
      and box-blurring the output are the same thing.

    ``"auto"`` (the default) picks per device, dtype and use (:meth:`auto_method`):

    * CUDA (and any non-CPU device), every dtype: ``"folded"``. cuDNN's transposed
      convolution is the fast kernel there; the phase split's extra ``pixel_shuffle`` and
      crop are memory passes it cannot hide (issue 14, H200: the folded kernel computed
      once ran at 0.97-1.00x ``deconv`` k4 in inference, the phase split at 2-6x).
    * CPU, inference (no gradient reaches the weights): ``"phase"`` for few output
      channels (``C_out <= 8``), ``"folded"`` otherwise. oneDNN's transposed
      convolution is inefficient with few output channels, where the dense 2x2
      convolution over ``s*s*C_out`` channels wins (0.45-0.85x the folded time at
      C_out = 3 and 8); from 16 output channels on the folded kernel is faster
      (phase 1.1-1.35x), as the phase split's ``pixel_shuffle`` is one more pass over
      an output that is now large. Measured with one thread, CPU time, 32 and 128 input
      channels (README, Upsamplers).
    * CPU, training: ``"folded"``. The backward pass of a transposed convolution is
      cheaper than the phase split's (conv2d backward over ``s*s`` times the output
      channels, plus ``pixel_shuffle``'s): 0.6-0.8x the phase split's forward+backward
      time on 64 -> 32 channels, equal on 32 -> 3.

    **Cached kernel.** Deriving the kernel costs a few small kernel launches, which on a
    GPU are comparable to the convolution itself on small shapes. When no gradient can
    reach the weights (``torch.no_grad()``/``torch.inference_mode()``, or frozen weights)
    the derived kernel is kept and reused until the weights change: the cache key is the
    weight's and bias's ``data_ptr``, ``_version`` (bumped by every in-place update:
    optimiser steps, ``load_state_dict``), dtype, device, shape and strides, plus the
    method, the autocast dtype and the input's memory format. The cache holds detached
    aliases of the weights it was built from, so their memory cannot be reused by new
    weights at the same address. In training the kernel is derived at every call.

    **Mixed precision.** The fold is computed with autocast off, in the weight's dtype
    (float32 weights: an exact fold); the convolution then runs under autocast like any
    other (``conv2d``/``conv_transpose2d`` cast to the autocast dtype). A cached kernel is
    stored already cast to the autocast dtype, as autocast's own weight cache does for
    ``nn.ConvTranspose2d``. **channels_last** inputs get a channels_last kernel.

    All three agree with :class:`ResizeConv` to float rounding, forward and backward.
    Only zero padding is supported (that is what the fold is exact for). Why the
    phase split cannot match a 3x3 transposed convolution's arithmetic: each output pixel
    of nearest-upsample + 3x3 conv depends on 2 x 2 input pixels (4 taps per output
    pixel), a 3x3/stride-2 transposed convolution's on 1.5 x 1.5 on average (2.25 taps):
    16/9 = 1.8x the multiply-adds. It wins or ties only where PyTorch's transposed
    convolution is the less efficient kernel.
    """

    METHODS = ("auto", "phase", "folded", "zoh")
    #: On the CPU in inference, ``"auto"`` runs the phase split up to this many outputs.
    PHASE_MAX_OUT_CHANNELS = 8

    def __init__(self, in_channels: int, out_channels: int, scale: int, kernel_size: int,
                 bias: bool = True, method: str = "auto") -> None:
        super().__init__()
        if method not in self.METHODS:
            raise ValueError(f"method must be one of {self.METHODS}, got {method!r}")
        self.scale, self.kernel_size, self.method = scale, kernel_size, method
        # Same name, shape and initialisation as ResizeConv.conv: interchangeable weights.
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, bias=bias)
        self.plan = phase_plan(kernel_size, scale)
        # 0/1 matrices (exact in any float dtype), in the default dtype so that they follow
        # the module's .to()/.half() and need no per-call cast. Not state: not persistent.
        slots = self.plan.taps[list(self.plan.order)]  # taps in pixel-shuffle slot order
        self.register_buffer("phase_taps", slots.to(torch.get_default_dtype()),
                             persistent=False)  # (s, K, k)
        self.register_buffer("fold_matrix", _fold_matrix(kernel_size, scale),
                             persistent=False)  # (k*k, (k+s-1)**2)
        self._cache: tuple | None = None  # (key, kernel, bias, weight alias, bias alias)

    # -- which method ---------------------------------------------------------------

    @classmethod
    def auto_method(cls, device_type: str, dtype: torch.dtype | None = None,
                    training: bool = False, out_channels: int = 1) -> str:
        """The method ``"auto"`` runs on ``device_type`` (``"cpu"``, ``"cuda"``, ...).

        ``training``: a gradient reaches the weights (grad mode on and weights that
        require it). ``dtype`` is part of the choice's signature; the measurements so far
        (README, Upsamplers; issue 14) give the same answer for float32 and bfloat16 on
        each device, so it does not change the answer today.
        """
        del dtype
        if device_type == "cpu" and not training \
                and out_channels <= cls.PHASE_MAX_OUT_CHANNELS:
            return "phase"
        return "folded"

    def resolved_method(self, device_type: str | None = None,
                        training: bool | None = None) -> str:
        """``method``, or what ``"auto"`` means on ``device_type`` (default: the weight's
        device) in training or inference (default: as the current grad mode implies)."""
        if self.method != "auto":
            return self.method
        w = self.conv.weight
        if training is None:
            training = self._training_weights()
        return self.auto_method(device_type or w.device.type, w.dtype, training,
                                self.conv.out_channels)

    def _training_weights(self) -> bool:
        """Whether a gradient can reach the weights in the current grad mode."""
        b = self.conv.bias
        return torch.is_grad_enabled() and (
            self.conv.weight.requires_grad or (b is not None and b.requires_grad))

    # -- the derived kernels (differentiable in the weights) ---------------------------

    def phase_kernels(self) -> torch.Tensor:
        """The ``s*s`` phase kernels as one conv2d weight ``(C_out*s*s, C_in, K, K)``.

        Row ``c*s*s + i*s + j`` is the kernel of output channel ``c`` for pixel-shuffle
        slot ``(i, j)``, which holds phase ``(order[i], order[j])``:
        ``G = taps[order[i]] @ w[c] @ taps[order[j]]^T``.
        """
        return self._phase_kernels(self.conv.weight)

    def _phase_kernels(self, w: torch.Tensor) -> torch.Tensor:
        m = self.phase_taps.to(w.dtype)  # (s, K, k), slot order; no-op in the usual case
        g = torch.einsum("apt,octu,bqu->oabcpq", m, w, m)  # (C_out, s, s, C_in, K, K)
        c_out, s, _, c_in, taps, _ = g.shape
        return g.reshape(c_out * s * s, c_in, taps, taps)

    def folded_kernel(self) -> torch.Tensor:
        """The ``conv_transpose2d`` weight ``(C_in, C_out, k+s-1, k+s-1)``
        (equal to :func:`core.maths.matrix.fold_resize_kernel`)."""
        return self._folded_kernel(self.conv.weight)

    def _folded_kernel(self, w: torch.Tensor) -> torch.Tensor:
        c_out, c_in, k, _ = w.shape
        big = k + self.scale - 1
        flat = w.transpose(0, 1).reshape(c_in * c_out, k * k)  # (C_in*C_out, k*k)
        folded = flat @ self.fold_matrix.to(w.dtype)  # (C_in*C_out, K*K), one matmul
        return folded.view(c_in, c_out, big, big)  # (C_in, C_out, K, K)

    def _derive(self, method: str, w: torch.Tensor, b: torch.Tensor | None,
                device_type: str) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``(kernel, bias)`` for ``method``, with autocast off (fold in the weight's dtype)."""
        with torch.autocast(device_type, enabled=False) \
                if torch.is_autocast_enabled(device_type) else contextlib.nullcontext():
            if method == "phase":
                kernel = self._phase_kernels(w)
                bias = None if b is None else b.repeat_interleave(self.scale ** 2)
            else:
                kernel, bias = self._folded_kernel(w), b
        return kernel, bias

    def _kernel(self, method: str, x: torch.Tensor,
                training: bool) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The derived ``(kernel, bias)`` for input ``x``: derived afresh (differentiably)
        when ``training`` (a gradient reaches the weights), cached otherwise."""
        w, b = self.conv.weight, self.conv.bias
        dev = x.device.type
        channels_last = x.dim() == 4 and not x.is_contiguous() \
            and x.is_contiguous(memory_format=torch.channels_last)
        if training:
            kernel, bias = self._derive(method, w, b, dev)
            if channels_last:  # the convolution would make this copy itself
                kernel = kernel.contiguous(memory_format=torch.channels_last)
            return kernel, bias
        cast = None
        if torch.is_autocast_enabled(dev) and w.dtype != torch.float64:
            cast = torch.get_autocast_dtype(dev)
        try:
            key = (method, _tensor_key(w), _tensor_key(b), cast, channels_last)
        except RuntimeError:  # inference tensors (built in inference mode) have no version
            return self._derive(method, w, b, dev)
        cached = self._cache  # read once: other threads may replace it
        if cached is not None and cached[0] == key:
            return cached[1], cached[2]
        # Normal (not inference) tensors, so the cache also serves no_grad and frozen-weight
        # calls outside inference mode.
        with torch.inference_mode(False), torch.no_grad():
            wd, bd = w.detach(), None if b is None else b.detach()
            kernel, bias = self._derive(method, wd, bd, dev)
            if cast is not None:
                kernel = kernel.to(cast)
                bias = None if bias is None else bias.to(cast)
            if channels_last:
                kernel = kernel.contiguous(memory_format=torch.channels_last)
        self._cache = (key, kernel, bias, wd, bd)
        return kernel, bias

    # -- the three exact computations -------------------------------------------------

    def _forward_phase(self, x: torch.Tensor, kernel: torch.Tensor,
                       bias: torch.Tensor | None) -> torch.Tensor:
        h, w = x.shape[-2:]
        s, plan = self.scale, self.plan
        if plan.pad_left == plan.pad_right:  # e.g. k=3, s=2: let the conv pad (no copy)
            y = F.conv2d(x, kernel, bias, padding=plan.pad_left)
        else:
            xp = F.pad(x, (plan.pad_left, plan.pad_right, plan.pad_left, plan.pad_right))
            y = F.conv2d(xp, kernel, bias)
        # y: (N, C_out*s*s, H+e, W+e)
        y = F.pixel_shuffle(y, s)  # (N, C_out, s(H+e), s(W+e))
        o = plan.offset
        return y[..., o:o + s * h, o:o + s * w]  # (N, C_out, sH, sW)

    def _forward_folded(self, x: torch.Tensor, kernel: torch.Tensor,
                        bias: torch.Tensor | None) -> torch.Tensor:
        pl, pr = same_padding(self.kernel_size)
        # The full transposed conv T has s(H-1) + k + s - 1 rows and the resize-conv output
        # is y[i] = T[i + pr]: `padding=pr` drops pr rows at the start (and at the end),
        # `output_padding=pr-pl` (0, or 1 for even k) gives back the last row, so the
        # output has exactly s*H rows: no crop.
        return F.conv_transpose2d(x, kernel, bias, stride=self.scale, padding=pr,
                                  output_padding=pr - pl)  # (N, C_out, sH, sW)

    def _forward_zoh(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        s = self.scale
        _, pr = same_padding(self.kernel_size)
        wt = self.conv.weight.transpose(0, 1).flip(-2, -1)  # (C_in, C_out, k, k)
        t = F.conv_transpose2d(x, wt, None, stride=s)  # (N, C_out, s(H-1)+k, s(W-1)+k)
        # y[i] = sum_{q < s} T[i + pr - q]: an s-box sum of T (zero outside). Pad T by
        # s-1 zeros on every side, then add s shifted slices along rows, then columns.
        t = F.pad(t, (s - 1, s - 1, s - 1, s - 1))
        n_rows, n_cols = t.shape[-2] - s + 1, t.shape[-1] - s + 1
        rows = t[..., s - 1:s - 1 + n_rows, :].clone()
        for q in range(s - 1):
            rows += t[..., q:q + n_rows, :]
        y = rows[..., :, s - 1:s - 1 + n_cols].clone()
        for q in range(s - 1):
            y += rows[..., :, q:q + n_cols]
        y = y[..., pr:pr + s * h, pr:pr + s * w]  # (N, C_out, sH, sW)
        if self.conv.bias is not None:
            y = y + self.conv.bias.view(1, -1, 1, 1)
        return y

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (N, C_in, H, W)
        training = self._training_weights()
        method = self.resolved_method(x.device.type, training)
        if method == "zoh":
            return self._forward_zoh(x)
        kernel, bias = self._kernel(method, x, training)
        if method == "phase":
            return self._forward_phase(x, kernel, bias)
        return self._forward_folded(x, kernel, bias)

    def macs(self, height: int, width: int) -> int:
        """Multiply-adds of the method run in inference on the weight's device (k=3, s=2
        phase: 16 per input pixel and channel pair; folded: 16, as ``deconv`` k4)."""
        c_in, c_out = self.conv.in_channels, self.conv.out_channels
        s, k = self.scale, self.kernel_size
        method = self.resolved_method(training=False)
        if method == "phase":
            taps = self.phase_taps.shape[1]
            e = self.plan.extra
            return (height + e) * (width + e) * c_in * c_out * s * s * taps * taps
        if method == "folded":
            return height * width * c_in * c_out * (k + s - 1) ** 2
        return height * width * c_in * c_out * k * k


def _tensor_key(t: torch.Tensor | None) -> tuple | None:
    """What identifies a weight's current values without reading them (cache key)."""
    if t is None:
        return None
    return (t.data_ptr(), t._version, t.dtype, t.device, tuple(t.shape), t.stride())


def _fold_matrix(kernel_size: int, scale: int) -> torch.Tensor:
    """``(k*k, K*K)`` 0/1 matrix, ``K = k + s - 1``: a row-major flattened k x k conv
    kernel times it is the flattened ``conv_transpose2d`` kernel of nearest-upsample + conv.

    One axis: ``fold[u] = sum_t w[t] * [0 <= u - (k-1-t) < s]``, the flipped kernel
    convolved with ``s`` ones (:func:`core.maths.matrix.fold_resize_kernel`); in 2-D the matrix
    is the Kronecker product of two such ``(K, k)`` matrices, transposed.
    """
    k, s = kernel_size, scale
    a = torch.zeros(k + s - 1, k)  # (K, k): a[u, t] = 1 where tap t lands on fold row u
    for t in range(k):
        a[k - 1 - t:k - 1 - t + s, t] = 1.0
    return torch.kron(a, a).T.contiguous()  # (k*k, K*K)


