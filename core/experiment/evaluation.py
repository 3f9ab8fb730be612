"""Per-epoch evaluation of a transformation network: PSNR/SSIM, checkerboard, contrast,
phase-gain imbalance, and the collapse detector. Used by training and by the history.
"""

from __future__ import annotations

import copy
import math
from typing import Any

import numpy as np
import torch
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from ..maths.metrics import checkerboard_score, gain_imbalance
from ..maths.phase_gains import phase_gains
from .models import FACTOR, TransformNet

# ----------------------------------------------------------------------------- evaluation

#: A model whose output contrast (std) on the held-out images is below this share of
#: the images' own is "collapsed" (a flat mean-colour image has 0).
COLLAPSE_CONTRAST = 0.1



def to_image(t: torch.Tensor) -> np.ndarray:
    """(3, H, W) tensor -> float64 (H, W, 3) array."""
    return t.detach().to("cpu", torch.float64).permute(1, 2, 0).numpy()


def _image_metrics(model: TransformNet, img: np.ndarray, device: torch.device) -> dict[str, float]:
    x = torch.from_numpy(np.ascontiguousarray(img, dtype=np.float32))
    x = x.permute(2, 0, 1)[None].to(device)  # (1, 3, H, W)
    y = to_image(model(x)[0])  # (H, W, 3) in [0, 1]
    ref = img.astype(np.float64)
    return {
        "psnr": float(peak_signal_noise_ratio(ref, y, data_range=1.0)),
        "ssim": float(structural_similarity(ref, y, channel_axis=2, data_range=1.0)),
        "checkerboard": float(checkerboard_score(y, FACTOR)),
        # output contrast relative to the image's own (1: as contrasted; 0: flat)
        "contrast": float(y.std() / max(ref.std(), 1e-12)),
    }


def upsampler_imbalance(model: TransformNet) -> dict[str, float]:
    """Phase-gain imbalance (:func:`core.maths.metrics.gain_imbalance`) of each upsampler of
    ``model``, from its response to constant inputs (:func:`core.maths.phase_gains.phase_gains`):
    0 when a constant input gives a constant output, as for resize-convolution."""
    w = model.config.width
    out = {}
    for name, c_in in (("up1", 4 * w), ("up2", 2 * w)):
        layer = getattr(model, name)
        with torch.no_grad():
            gains = phase_gains(layer.to("cpu"), c_in, 2)  # (C_in, C_out, 2, 2)
        out[f"imbalance_{name}"] = gain_imbalance(gains)
    return out


@torch.no_grad()
def evaluate(model: TransformNet, images: dict[str, np.ndarray],
             device: torch.device, unseen: dict[str, np.ndarray] | None = None) -> dict[str, Any]:
    """PSNR, SSIM, checkerboard score (period 4) and output contrast of ``model`` on each
    image, their means, the same means over ``unseen`` (prefixed ``unseen_``), and the
    phase-gain imbalance of both upsamplers.

    ``model`` is evaluated as stored: weights rounded to float16, then float32, eval mode.
    """
    rounded = copy.deepcopy(model).to("cpu")
    rounded.load_state_dict({k: v.half().float() for k, v in rounded.state_dict().items()})
    imbalance = upsampler_imbalance(rounded)
    rounded = rounded.to(device).eval()
    per = {name: _image_metrics(rounded, img, device) for name, img in images.items()}
    keys = ("psnr", "ssim", "checkerboard", "contrast")
    mean = {k: float(np.mean([p[k] for p in per.values()])) if per else float("nan")
            for k in keys}
    out = {"val_psnr": mean["psnr"], "val_ssim": mean["ssim"],
           "checkerboard": mean["checkerboard"], "contrast": mean["contrast"],
           **imbalance, "per_image": per}
    if unseen:
        per_u = {name: _image_metrics(rounded, img, device) for name, img in unseen.items()}
        for k in keys:
            out[f"unseen_{k}"] = float(np.mean([p[k] for p in per_u.values()]))
        out["per_image"] = per | {f"unseen:{k}": v for k, v in per_u.items()}
    return out


def collapse_problem(metrics: dict[str, Any]) -> str | None:
    """Why the model of ``metrics`` counts as collapsed, or None. See COLLAPSE_CONTRAST."""
    contrast = metrics.get("contrast")
    if contrast is not None and math.isfinite(contrast) and contrast < COLLAPSE_CONTRAST:
        return (f"its output is near-constant (contrast {contrast:.1%} of the held-out "
                f"images', PSNR {metrics['val_psnr']:.2f} dB: a flat image's)")
    return None


