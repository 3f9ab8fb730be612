"""The zoo's ground truth: one resampling layer as its source defines it, and one network
with its source, builder, input and expected chain.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from torch import nn

# ---------------------------------------------------------------------------------------
# Ground truth
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Truth:
    """One resampling layer as the source defines it.

    ``even``: the overlap (of the layer together with the credited filters) is even.
    ``blur``: a fixed filter after it is credited. ``offending``: the verdict when it is
    fixed by the design (None: it depends on the random weights). ``path``: the module a
    fix must attach to (None when it is a functional call with no nn layer to swap).
    ``severity``: the layer's expected severity word where the design fixes it
    (``"artifact"``, ``"ok"``, ``"gradient"``, ``"not judged"``; None: not stated).
    """

    op: str
    kernel: int | None
    stride: int
    padding: int | None
    even: bool | None
    blur: bool = False
    offending: bool | None = None
    path: str | None = None
    severity: str | None = None


@dataclass(frozen=True)
class ZooNet:
    name: str
    source: str  # repository and file it is transcribed from
    build: Callable[[], nn.Module]
    input_shape: tuple[int, ...]  # (N, C, L), (N, C, H, W) or (N, C, D, H, W)
    layers: tuple[Truth, ...]
    total_up: float
    total_down: float
    period: int
    torchscript: bool = True  # the TorchScript exporter can export it
    dynamo: bool = True  # the dynamo exporter can export it
    #: The TorchScript exporter's node names hold the module path (not when a plain
    #: nn.Module container is indexed without being called: its scope is lost).
    torchscript_paths: bool = True
    notes: tuple[str, ...] = field(default_factory=tuple)
    #: The network's expected verdict ("clean", "artifact", "not judged", "unexplained grid")
    #: where the design fixes it, and the output a multi-output network is audited on by
    #: default (None: a single tensor or not stated).
    verdict: str | None = None
    output: str | None = None


def _up(op, k, s, p, even, **kw) -> Truth:
    return Truth(op, k, s, p, even, **kw)
