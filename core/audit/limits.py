"""The audit's limits and its one error type.
"""

from __future__ import annotations

#: Largest model file accepted (512 MB).
MAX_BYTES = 512 * 1024 * 1024
#: Side an image input of unknown height/width is fixed to (and the probes' size).
DEFAULT_SIDE = 256
#: An upsampler whose phase imbalance exceeds this is flagged (5 % of the RMS gain).
IMBALANCE_TOLERANCE = 0.05
#: Operator domains of standard ONNX; anything else is a custom operator.
STANDARD_DOMAINS = ("", "ai.onnx", "ai.onnx.ml")
#: Inputs smaller than this (per side) are latent vectors, not images: no image probes.
MIN_IMAGE_SIDE = 16
#: Largest tensor (elements) a model may declare or infer at the fixed input shape.
MAX_TENSOR_ELEMENTS = 2 ** 28
#: Cap of the shift test's PSNR (an exact match would be infinite).
MAX_PSNR = 100.0

UP_OPS = ("ConvTranspose", "Resize", "Upsample", "DepthToSpace", "MaxUnpool", "ZeroInsertion")
DOWN_OPS = ("Conv", "MaxPool", "AveragePool", "LpPool", "SpaceToDepth")


class AuditError(ValueError):
    """The model is refused or cannot be audited; ``str(err)`` is one line saying why."""

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(str(message).split()))


