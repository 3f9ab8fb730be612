"""Networks to audit: ours exported to ONNX, and well-known layouts built in code.

:func:`export_onnx` is the lab's one exporter (``torch.onnx.export(dynamo=False)``, the
TorchScript exporter, which needs no ``onnxscript``). The examples the audit page
offers are our trained variants (their last stored checkpoint) and three published
upsampling layouts, randomly initialised with a fixed seed:

* :func:`dcgan_generator`: Radford et al. 2016, as in the PyTorch DCGAN tutorial:
  4x4/stride-2 transposed convolutions (even overlap, random phase gains);
* :func:`espcn`: Shi et al. 2016, sub-pixel convolution (pixel shuffle) by 3;
* :func:`vae_decoder`: the up blocks of Stable Diffusion's VAE decoder: nearest
  resize, then a 3x3 convolution.

:func:`audit_example` exports one, audits the ONNX bytes with :func:`core.audit.onnx_graph.audit_onnx`
(the round trip) and adds the live module's measured fixes.
"""

from __future__ import annotations

import copy
import io
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .limits import DEFAULT_SIDE, AuditError
from .measured import attach_fixes
from .onnx_graph import audit_onnx
from .report import AuditReport

__all__ = ["EXAMPLES", "Example", "audit_example", "dcgan_generator", "espcn",
           "example_model", "example_names", "export_onnx", "vae_decoder", "vocoder"]


def export_onnx(module, input_shape: Sequence[int], *, dynamic_size: bool = False,
                opset: int = 17) -> bytes:
    """``module`` exported to ONNX bytes with ``torch.onnx.export(dynamo=False)``.

    The TorchScript exporter needs no ``onnxscript``. A copy in eval mode is exported
    (the module itself is left alone). ``dynamic_size`` makes batch, height and width
    free dimensions (valid for sizes where the model's Python-side decisions, e.g. our
    networks' padding to a multiple of 4, come out the same).
    """
    import torch

    model = copy.deepcopy(module).eval()
    x = torch.zeros([int(v) for v in input_shape])
    axes = None
    if dynamic_size:
        axes = {"input": {0: "batch", 2: "height", 3: "width"},
                "output": {0: "batch", 2: "out_height", 3: "out_width"}}
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (x,), buf, dynamo=False, input_names=["input"],
                          output_names=["output"], opset_version=opset, dynamic_axes=axes)
    return buf.getvalue()


def dcgan_generator(nz: int = 100, ngf: int = 64, nc: int = 3):
    """The DCGAN generator (Radford et al. 2016) as in the PyTorch DCGAN tutorial."""
    from torch import nn

    class Generator(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.main = nn.Sequential(
                nn.ConvTranspose2d(nz, ngf * 8, 4, 1, 0, bias=False),  # 1 -> 4
                nn.BatchNorm2d(ngf * 8), nn.ReLU(True),
                nn.ConvTranspose2d(ngf * 8, ngf * 4, 4, 2, 1, bias=False),  # 4 -> 8
                nn.BatchNorm2d(ngf * 4), nn.ReLU(True),
                nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False),  # 8 -> 16
                nn.BatchNorm2d(ngf * 2), nn.ReLU(True),
                nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False),  # 16 -> 32
                nn.BatchNorm2d(ngf), nn.ReLU(True),
                nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False),  # 32 -> 64
                nn.Tanh(),
            )

        def forward(self, z):  # (N, nz, 1, 1) -> (N, nc, 64, 64)
            return self.main(z)

    return Generator()


def espcn(scale: int = 3):
    """ESPCN (Shi et al. 2016): 5x5 64, 3x3 32, 3x3 r^2 channels, pixel shuffle; on Y."""
    from torch import nn

    class ESPCN(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv1 = nn.Conv2d(1, 64, 5, padding=2)
            self.conv2 = nn.Conv2d(64, 32, 3, padding=1)
            self.conv3 = nn.Conv2d(32, scale * scale, 3, padding=1)
            self.shuffle = nn.PixelShuffle(scale)

        def forward(self, x):  # (N, 1, H, W) -> (N, 1, rH, rW)
            x = self.conv1(x).tanh()
            x = self.conv2(x).tanh()
            return self.shuffle(self.conv3(x))

    return ESPCN()


def vae_decoder(channels: int = 64, latent: int = 4, ups: int = 3):
    """A VAE decoder in the layout of Stable Diffusion's: each up block is
    ``F.interpolate(x, scale_factor=2, mode="nearest")`` then a 3x3 convolution."""
    import torch.nn.functional as F
    from torch import nn

    class Upsample(nn.Module):
        def __init__(self, c: int) -> None:
            super().__init__()
            self.conv = nn.Conv2d(c, c, 3, padding=1)

        def forward(self, x):
            x = F.interpolate(x, scale_factor=2.0, mode="nearest")  # (N, C, 2H, 2W)
            return self.conv(x)

    class Decoder(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv_in = nn.Conv2d(latent, channels, 3, padding=1)
            self.up = nn.ModuleList(Upsample(channels) for _ in range(ups))
            self.norm_out = nn.GroupNorm(32, channels)
            self.conv_out = nn.Conv2d(channels, 3, 3, padding=1)

        def forward(self, z):  # (N, 4, h, w) -> (N, 3, 8h, 8w)
            x = self.conv_in(z)
            for block in self.up:
                x = F.silu(block(x))
            return self.conv_out(F.silu(self.norm_out(x)))

    return Decoder()


def vocoder(mels: int = 80, width: int = 32):
    """A neural vocoder's upsampling path (MelGAN's and HiFi-GAN V1's layout, reduced): a
    7-tap convolution from the mel channels, then transposed convolutions of kernel twice
    the stride (16/8, 16/8, 8/4) with leaky ReLUs between, to one channel of audio: x256.
    Built from the registry's 1-D layers (``make_upsampler(..., dims=1)``)."""
    from torch import nn

    from ..upsamplers.registry import make_upsampler

    def up(c_in: int, c_out: int, scale: int) -> nn.Module:
        return make_upsampler("deconv", c_in, c_out, scale=scale, kernel_size=2 * scale, dims=1)

    return nn.Sequential(nn.Conv1d(mels, width, 7, padding=3), nn.LeakyReLU(0.1),
                         up(width, width // 2, 8), nn.LeakyReLU(0.1),
                         up(width // 2, width // 4, 8), nn.LeakyReLU(0.1),
                         up(width // 4, 1, 4), nn.Tanh())  # (N, 80, T) -> (N, 1, 256 T)


@dataclass(frozen=True)
class Example:
    """A well-known layout built in code (our own networks come from the checkpoints)."""

    name: str
    title: str
    description: str
    input_shape: tuple[int, ...]  # (N, C, H, W); (N, C, L) for a sound network
    build: Callable[[], Any]  # the module, randomly initialised (call after seeding)


EXAMPLES: dict[str, Example] = {e.name: e for e in (
    Example("dcgan", "DCGAN generator (random init)",
            "Radford et al. 2016, the PyTorch tutorial's generator: a 1x1 latent through "
            "4x4/stride-2 transposed convolutions to 64x64. Even overlap, but random "
            "phase gains.", (1, 100, 1, 1), build=dcgan_generator),
    Example("espcn", "ESPCN x3 (random init)",
            "Shi et al. 2016: two convolutions, then a 3x3 convolution to 9 channels and a "
            "pixel shuffle (sub-pixel, on the Y channel).", (1, 1, 128, 128), build=espcn),
    Example("vae_decoder", "VAE decoder blocks (random init)",
            "Stable Diffusion's decoder layout, reduced: nearest resize then a 3x3 "
            "convolution, three times, from a 4-channel 32x32 latent.", (1, 4, 32, 32),
            build=vae_decoder),
    Example("vocoder", "Vocoder upsampler, 1-D (random init)",
            "A mel spectrogram (80 channels, 32 frames) to audio through 1-D transposed "
            "convolutions of kernel twice the stride (16/8, 16/8, 8/4), MelGAN's and "
            "HiFi-GAN's layout: even overlap, but random phase gains, heard as tones at "
            "multiples of the sample rate over 256.", (1, 80, 32), build=vocoder),
)}


def example_model(name: str, *, checkpoints: str | Path = "checkpoints", seed: int = 0):
    """``(module, input_shape, title)`` of an example: in-code (seeded) or our variant's
    last stored checkpoint under ``checkpoints``."""
    import torch

    if name in EXAMPLES:
        ex = EXAMPLES[name]
        torch.manual_seed(seed)
        return ex.build().eval(), ex.input_shape, ex.title
    from ..experiment.checkpoints import list_checkpoints, load_model

    df = list_checkpoints(checkpoints)
    df = df[(df["variant"] == name) & df["ok"]]
    if df.empty:
        raise AuditError(f"no example named {name!r} (and no checkpoint of that variant "
                         f"under {str(checkpoints)!r})")
    row = df.sort_values("epoch").iloc[-1]
    model = load_model(row["path"])
    return model, (1, 3, DEFAULT_SIDE, DEFAULT_SIDE), f"{name} (ours, epoch {int(row['epoch'])})"


def example_names(checkpoints: str | Path = "checkpoints") -> list[str]:
    """Our variants with a readable checkpoint under ``checkpoints``, then the in-code
    examples."""
    from ..experiment.catalog import variant_order
    from ..experiment.checkpoints import list_checkpoints

    df = list_checkpoints(checkpoints)
    ours = variant_order(sorted(set(df.loc[df["ok"], "variant"])))
    return ours + list(EXAMPLES)


def audit_example(name: str, *, checkpoints: str | Path = "checkpoints", probes: bool = True,
                  image: np.ndarray | None = None, measure: bool = True,
                  seed: int = 0) -> tuple[AuditReport, bytes]:
    """Export an example to ONNX, audit the ONNX bytes (the round trip) and, with
    ``measure``, attach the live module's measured fixes
    (:func:`core.audit.measured.attach_fixes`). Returns ``(report, onnx_bytes)``."""
    module, shape, title = example_model(name, checkpoints=checkpoints, seed=seed)
    data = export_onnx(module, shape, dynamic_size=name not in EXAMPLES)
    report = audit_onnx(data, shape, probes=probes, image=image, name=title, seed=seed)
    if probes and measure:
        attach_fixes(report, module, seed=seed)
    return report, data
