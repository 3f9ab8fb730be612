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
#: Largest tensor (elements) a model may declare or infer at the fixed input shape
#: (256 MiB of float32): checked from the inferred shapes before anything runs.
MAX_TENSOR_ELEMENTS = 2 ** 26
#: Most nodes in a model, every subgraph and local function counted: refused above, from
#: the parsed graph, before shape inference (20,000 ConvTranspose nodes took 47 s).
MAX_NODES = 10_000
#: Most bytes of weights and constants a model stores (initializers, constants, external
#: data), counted from the parsed file before anything is copied or run: onnxruntime and
#: shape inference each hold a copy (a 480 MiB unused initializer took 3.4-3.9 GB).
MAX_TENSOR_BYTES = 256 * 1024 * 1024
#: Most bytes of metadata (the model's and every node's ``metadata_props``) read, parsed
#: or shown (an 8 MB ``name_scopes`` literal took 2 GB to parse).
MAX_METADATA_BYTES = 1024 * 1024
#: Longest ``pkg.torch.onnx.name_scopes`` value parsed (characters): longer ones are
#: ignored (the node's name gives its module instead).
MAX_NAME_SCOPES_CHARS = 4096
#: Most resampling nodes (up- or downsampling operators) the audit analyses in one model.
MAX_RESAMPLING_LAYERS = 500
#: Largest stride, block size or integer resize factor of one layer (FCN-8s's 32 fits).
MAX_STRIDE = 64
#: Largest spatial extent of one kernel, (k - 1) * dilation + 1, per axis.
MAX_KERNEL_EXTENT = 256
#: Largest phase-gain table of one layer, C_in x C_out x stride^2 (128 MiB of float64).
MAX_GAIN_ELEMENTS = 2 ** 24
#: Peak memory of the probes per element of the input plus the output (batch included).
#: Measured with tracemalloc on ``run_probes`` (about 70-85 bytes per element of input
#: plus output, beyond a fixed ~30 MB for the photograph), doubled for onnxruntime's own
#: buffers; ``tests/hostile/test_hostile_audit.py`` measures it again.
PROBE_BYTES_PER_ELEMENT = 160
#: The probes' memory budget (1 GiB).
MAX_PROBE_BYTES = 2 ** 30
#: Most input plus output elements the probes run on: the budget over the cost per element.
MAX_PROBE_ELEMENTS = MAX_PROBE_BYTES // PROBE_BYTES_PER_ELEMENT
#: The grid check (:func:`core.audit.probes.grid_evidence`): the probes' output has a grid
#: at period p when its checkerboard score there is over GRID_RATIO times the photograph's
#: own (the probe photograph at the output's size) AND over GRID_Z standard errors of a
#: non-periodic image's score. Set from data (``benchmarks/audit.py --grid``,
#: benchmarks/results/audit_grid.json): the 12 structurally clean zoo networks (both
#: shelves) read ratio <= 1.3 and z <= 2.6 at every period, 16 packaged photographs z <= 3.8
#: (page.png, a text page), and each of the 9 with an offending upsampler ratio >= 4.9 and
#: z >= 11.5 at its strongest period.
GRID_RATIO = 3.0
GRID_Z = 5.0
#: The small periods the grid check reads, besides the network's own.
GRID_PERIODS = (2, 3, 4, 5, 6, 7, 8)
#: Cap of the shift test's PSNR (an exact match would be infinite).
MAX_PSNR = 100.0

#: Sounds and volumes (:mod:`core.audit.ranked`): a free audio length is audited as one
#: second at this rate (HiFi-GAN V1's and MelGAN's 22,050 Hz) over the strides' upsampling.
DEFAULT_AUDIO_RATE = 22050
#: A free volume side (D, H or W) is audited at this many voxels.
DEFAULT_VOLUME_SIDE = 32
#: Longest input length or side of a sound or volume audited (10 minutes of 100 frames/s).
MAX_LENGTH = 60_000

UP_OPS = ("ConvTranspose", "Resize", "Upsample", "DepthToSpace", "MaxUnpool", "ZeroInsertion")
DOWN_OPS = ("Conv", "MaxPool", "AveragePool", "LpPool", "SpaceToDepth")


def short_error(err: BaseException, limit: int = 200) -> str:
    """``"Type: message"`` on one line, the message cut to ``limit`` characters (an
    exception raised by the user's code, quoted in a refusal)."""
    text = " ".join(str(err).split())
    return f"{type(err).__name__}: {text[:limit]}" if text else type(err).__name__


class AuditError(ValueError):
    """The model is refused or cannot be audited; ``str(err)`` is one line saying why."""

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(str(message).split()))


