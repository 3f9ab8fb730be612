"""docs/limits.md states the limits the code enforces: each constant's value, as written
there, must appear on the page (a changed constant fails here until the page follows)."""

from __future__ import annotations

from pathlib import Path

from core.audit import importing, limits, sandbox
from core.diagnose import batch, cli, diagnosis
from core.experiment import checkpoints, data, outputs, tables, train
from core.io import decode, photos, sounds, text
from core.maths import matrix_case

PAGE = Path(__file__).resolve().parents[2] / "docs" / "limits.md"


def _mib(n: int) -> str:
    return f"{n // 2**20} MiB"


def stated() -> list[str]:
    """Every limit as the page must write it."""
    out = [_mib(decode.DEFAULT_MAX_BYTES), f"{decode.DEFAULT_MAX_PIXELS:,} pixels",
           _mib(decode.DEFAULT_MAX_DECODE_BYTES), f"{decode.DEFAULT_MAX_SIDE} pixels",
           f"{decode.DEFAULT_MIN_SIZE} pixels", f"{photos.MAX_FOLDER_ENTRIES:,} entries",
           f"{data.FLAT_LEVELS} levels", f"{train.MAX_FEATURE_MAP_BYTES // 2**30} GiB",
           _mib(checkpoints.MAX_FILE_BYTES), _mib(checkpoints.MAX_HEADER_BYTES),
           f"0 to {tables.MAX_EPOCH:,}", f"| {checkpoints.MAX_PARAMETERS:,} |",
           f"| {checkpoints.MAX_PROBLEM_CHARS} |", _mib(tables.MAX_CSV_BYTES),
           f"| {text.MAX_SHOWN_CHARS} |", f"| {matrix_case.MAX_TYPED_ABS:g} |"]
    out += [f"{sandbox.MAX_RUN_SECONDS:g} s | `core.audit.sandbox.MAX_RUN_SECONDS`",
            f"{sandbox.MAX_INFER_SECONDS:g} s | `core.audit.sandbox.MAX_INFER_SECONDS`",
            f"{_mib(sandbox.MAX_SANDBOX_BYTES)} | `core.audit.sandbox.MAX_SANDBOX_BYTES`",
            f"{limits.MAX_NODES:,} nodes", f"{_mib(limits.MAX_TENSOR_BYTES)} | "
            "`core.audit.limits.MAX_TENSOR_BYTES`",
            f"{_mib(limits.MAX_METADATA_BYTES)} | `core.audit.limits.MAX_METADATA_BYTES`",
            f"{limits.MAX_NAME_SCOPES_CHARS:,} characters",
            f"{importing.MAX_INFLATE_RATIO}x", f"| {limits.MAX_RESAMPLING_LAYERS} |",
            f"{limits.MAX_TENSOR_ELEMENTS:,} elements",
            f"{_mib(outputs.MAX_FILE_BYTES)} | `core.experiment.outputs.MAX_FILE_BYTES`",
            f"{outputs.MAX_OUTPUT_PIXELS:,} pixels",
            f"| {diagnosis.MAX_SIDE} pixels |", f"at least {diagnosis.MIN_SIDE} pixels",
            f"| {batch.MAX_ZIP_MEMBERS:,} entries |", f"| 1 to {cli.MAX_JOBS} |",
            f"{limits.DEFAULT_AUDIO_RATE:,} Hz", f"{limits.DEFAULT_VOLUME_SIDE} voxels",
            f"{limits.MAX_LENGTH:,} samples", f"{sounds.MAX_SAMPLES:,} samples",
            f"{sounds.MIN_RATE} to {sounds.MAX_RATE:,} Hz",
            f"strides up to {limits.MAX_STRIDE}",
            f"up to {limits.MAX_KERNEL_EXTENT} samples per axis",
            f"{limits.MAX_GAIN_ELEMENTS:,} entries",
            f"{limits.MAX_RESAMPLING_LAYERS} resampling layers",
            f"{limits.MAX_TENSOR_ELEMENTS:,} elements"]
    for name, (lo, hi) in train.TRAIN_BOUNDS.items():
        if name in ("warmup", "collapse_min_steps"):
            continue  # not limits a hostile value meets (any count of steps is cheap)
        out.append(f"`--{name.replace('_', '-')}` | {lo:,} to {hi:,}")
    for name, (lo, hi) in checkpoints.CONFIG_BOUNDS.items():
        out.append(f"`{name}`" if name.endswith("_kernel") else f"`{name}` | {lo} to {hi}")
        out.append(f"{lo} to {hi}")
    return out


def test_every_enforced_limit_is_stated_on_the_limits_page():
    page = PAGE.read_text(encoding="utf-8")
    missing = [s for s in stated() if s not in page]
    assert not missing, missing
