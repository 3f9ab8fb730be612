"""The layer lab's inputs and the upsampler stacks it runs them through at initialisation.

Synthetic inputs (constant, noise, gradient), packaged photographs and uploads, all as
float32 ``(size, size, 3)`` in ``[0, 1]``; stacks of randomly initialised upsamplers
from the registry (:func:`core.upsamplers.registry.make_upsampler`), seeded, so a view is
reproducible from its settings alone.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from .registry import make_upsampler

__all__ = ["INPUT_KINDS", "build_stack", "lab_input", "upsample_image", "upsample_sound"]

#: Synthetic inputs of the layer lab (plus ``"photograph"`` and ``"upload"``).
INPUT_KINDS = ("constant", "noise", "gradient", "photograph", "upload")


def lab_input(kind: str, size: int, *, seed: int = 0, photo: str = "astronaut.png",
              image: np.ndarray | None = None) -> np.ndarray:
    """A float32 ``(size, size, 3)`` input in ``[0, 1]``.

    ``constant`` is mid-grey (any artifact on it is the layer's alone), ``noise`` is
    uniform noise from ``seed``, ``gradient`` a diagonal ramp, ``photograph`` one of
    scikit-image's bundled photographs (``photo``: a file name in its data folder) and
    ``upload`` the given ``image`` (float in [0, 1] or uint8, (H, W, 3)); the last two
    are resized so the short side is ``size`` and centre-cropped.
    """
    from ..io.photos import read_rgb, resize_center_crop, skimage_data_dir

    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise ValueError(f"size must be an integer >= 1, got {size!r}")
    if kind == "constant":
        return np.full((size, size, 3), 0.5, dtype=np.float32)
    if kind == "noise":
        return np.random.default_rng(seed).random((size, size, 3), dtype=np.float32)
    if kind == "gradient":
        ramp = np.add.outer(np.arange(size), np.arange(size)) / max(1, 2 * (size - 1))
        return np.repeat(ramp[:, :, None], 3, axis=2).astype(np.float32)
    if kind == "photograph":
        path = skimage_data_dir() / photo
        if "/" in photo or "\\" in photo or not path.is_file():
            raise ValueError(f"photo must be a file of scikit-image's data folder, got {photo!r}")
        rgb = read_rgb(path)  # (H, W, 3) uint8
    elif kind == "upload":
        if image is None:
            raise ValueError("kind 'upload' needs an image")
        arr = np.asarray(image)
        if arr.dtype != np.uint8:
            arr = np.rint(np.clip(arr, 0.0, 1.0) * 255.0).astype(np.uint8)
        if arr.ndim != 3 or arr.shape[2] != 3:
            raise ValueError(f"image must be (H, W, 3), got shape {arr.shape}")
        rgb = arr
    else:
        raise ValueError(f"kind must be one of {INPUT_KINDS}, got {kind!r}")
    return resize_center_crop(rgb, size).astype(np.float32) / 255.0


def build_stack(name: str, channels: int, layers: int, *, scale: int = 2, kernel_size: int = 3,
                seed: int = 0, activation: str = "none", **options) -> nn.Sequential:
    """``layers`` randomly initialised upsamplers ``channels -> channels`` (seeded).

    ``activation`` between layers: ``"none"`` (the artifacts of the geometry alone) or
    ``"relu"``. The stack upsamples by ``scale ** layers``. ``dims=1`` (in ``options``)
    builds a stack for sounds, ``dims=3`` for volumes.
    """
    if isinstance(layers, bool) or not isinstance(layers, int) or layers < 1:
        raise ValueError(f"layers must be an integer >= 1, got {layers!r}")
    if activation not in ("none", "relu"):
        raise ValueError(f"activation must be 'none' or 'relu', got {activation!r}")
    torch.manual_seed(seed)
    modules: list[nn.Module] = []
    for i in range(layers):
        if i and activation == "relu":
            modules.append(nn.ReLU())
        modules.append(make_upsampler(name, channels, channels, scale=scale,
                                      kernel_size=kernel_size, **options))
    return nn.Sequential(*modules).eval()


def upsample_image(name: str, image: np.ndarray, *, layers: int = 1, scale: int = 2,
                   kernel_size: int = 3, seed: int = 0, activation: str = "none",
                   **options) -> np.ndarray:
    """Run ``image`` (H, W, C) through :func:`build_stack`; the raw float32 output
    ``(H * scale**layers, W * scale**layers, C)`` of the layers *at initialisation*."""
    arr = np.asarray(image, dtype=np.float32)
    if arr.ndim != 3:
        raise ValueError(f"image must be (H, W, C), got shape {arr.shape}")
    stack = build_stack(name, arr.shape[2], layers, scale=scale, kernel_size=kernel_size,
                        seed=seed, activation=activation, **options)
    x = torch.from_numpy(np.ascontiguousarray(arr.transpose(2, 0, 1)))[None]  # (1, C, H, W)
    with torch.inference_mode():
        y = stack(x)[0]  # (C, H*s^L, W*s^L)
    return y.permute(1, 2, 0).contiguous().numpy()


def upsample_sound(name: str, sound: np.ndarray, *, layers: int = 1, scale: int = 2,
                   kernel_size: int = 3, seed: int = 0, activation: str = "none",
                   trained: float = 0.0, **options) -> np.ndarray:
    """Run a ``(L,)`` sound through a one-channel 1-D :func:`build_stack`; the raw float32
    output ``(L * scale**layers,)``. ``trained > 0`` makes the output phases unequal as
    training does (:func:`core.upsamplers.phases.unequal_phases_` with that spread)."""
    from .phases import unequal_phases_

    x = np.asarray(sound, dtype=np.float32)
    if x.ndim != 1:
        raise ValueError(f"sound must be (L,), got shape {x.shape}")
    stack = build_stack(name, 1, layers, scale=scale, kernel_size=kernel_size, seed=seed,
                        activation=activation, dims=1, **options)
    if trained:
        unequal_phases_(stack, trained, seed=seed)
    with torch.inference_mode():
        y = stack(torch.from_numpy(np.ascontiguousarray(x))[None, None])  # (1, 1, L * s^layers)
    return y[0, 0].contiguous().numpy()
