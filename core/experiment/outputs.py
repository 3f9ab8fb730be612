"""Every checkpoint's outputs on the held-out photographs, computed once and stored in a
cache folder beside the checkpoint folder, so that a page shows an epoch nobody has viewed
without running a network.

    python -m core.outputs                    # checkpoints/: write what is missing or stale
    python -m core.outputs --root DIR --force # another folder, everything again

For ``<root>/<variant>/epoch_NNN.safetensors`` the file
``<root parent>/.outputs/<root name>/<variant>/epoch_NNN.outputs.npz`` holds
(:func:`outputs_path`; outside ``<root>``, which holds only what is committed),
per held-out photograph, the output as PNG bytes (exactly the pixels a page shows: the
network's float output rounded to 8 bits) and its checkerboard score (of the float
output, as the pages compute it). A small JSON header names the checkpoint by the
SHA-256 of its bytes and each photograph by :func:`core.io.pixels.content_hash`: a stored
output is used only while both still match, so a retrained checkpoint, another photo
or a changed format silently falls back to computing (:func:`compute_output`, the same
function the writer uses, so both paths give the same pixels and score).

The files are derived data (``.gitignore``\\ d); ``make run`` brings them up to date first.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..io.files import atomic_write_bytes
from ..io.pixels import content_hash, to_png_bytes, to_uint8
from ..maths.metrics import checkerboard_score
from .catalog import PERIOD, apply_model, load_model_fast
from .checkpoints import checkpoint_path, list_checkpoints

#: Bump when what is stored changes: older files are then recomputed, never misread.
FORMAT = 1
SUFFIX = ".outputs.npz"


@dataclass(frozen=True)
class ModelOutput:
    """One checkpoint's output on one image: its pixels, its reference-free artifact score,
    the PNG shown, and a cache key (checkpoint path + stamp + input hash; empty until a
    page's cache assigns one). Stored beside the checkpoint or computed the same way."""

    png: bytes
    pixels: np.ndarray  # float32 (H, W, 3) in [0, 1], 8-bit values (decoded from ``png``)
    score: float
    key: str = ""


#: The cache folder, a sibling of the checkpoint folder (``.gitignore``\ d).
CACHE_DIR = ".outputs"


def outputs_root(root: str | Path) -> Path:
    """``checkpoints`` -> ``.outputs/checkpoints``: where ``root``'s outputs are stored."""
    r = Path(root).resolve()
    return r.parent / CACHE_DIR / r.name


def outputs_path(checkpoint: str | Path) -> Path:
    """``<root>/deconv3/epoch_007.safetensors`` ->
    ``<root parent>/.outputs/<root name>/deconv3/epoch_007.outputs.npz``."""
    p = Path(checkpoint).resolve()
    name = p.name.removesuffix(".safetensors") + SUFFIX
    return outputs_root(p.parent.parent) / p.parent.name / name


_IDENTITY: dict[tuple[str, int, int], str] = {}


def checkpoint_identity(checkpoint: str | Path) -> str:
    """SHA-256 of the checkpoint file's bytes (remembered per path, mtime and size)."""
    p = Path(checkpoint)
    st = p.stat()
    key = (str(p.resolve()), st.st_mtime_ns, st.st_size)
    if key not in _IDENTITY:
        _IDENTITY[key] = hashlib.sha256(p.read_bytes()).hexdigest()
    return _IDENTITY[key]


def compute_output(model, image: np.ndarray) -> ModelOutput:
    """Run ``model`` on ``image`` the way the pages do and keep what they show: the
    float output's score, the output rounded to 8 bits and its PNG."""
    out = apply_model(model, image)  # float32 (H, W, 3) in [0, 1]
    score = checkerboard_score(out, PERIOD)
    pixels = to_uint8(out).astype(np.float32) / 255.0
    return ModelOutput(to_png_bytes(pixels), pixels, float(score))


def _decode(png: bytes) -> np.ndarray:
    from PIL import Image

    with Image.open(io.BytesIO(png)) as img:
        return np.asarray(img.convert("RGB"), dtype=np.float32) / 255.0


def write_outputs(checkpoint: str | Path, images: dict[str, np.ndarray], model=None) -> Path:
    """Compute and store ``checkpoint``'s outputs on ``images`` (atomically); returns the
    file written. ``model`` saves loading it again when the caller has it."""
    model = load_model_fast(checkpoint) if model is None else model
    entries, arrays = [], {}
    for i, (name, image) in enumerate(images.items()):
        result = compute_output(model, image)
        entries.append({"name": name, "digest": content_hash(image), "score": result.score,
                        "array": f"png_{i}"})
        arrays[f"png_{i}"] = np.frombuffer(result.png, dtype=np.uint8)
    header = {"format": FORMAT, "checkpoint_sha256": checkpoint_identity(checkpoint),
              "period": PERIOD, "images": entries}
    arrays["header"] = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
    buf = io.BytesIO()
    np.savez(buf, **arrays)  # PNG bytes are compressed already
    path = outputs_path(checkpoint)
    atomic_write_bytes(path, buf.getvalue())
    return path


def _header(npz) -> dict:
    return json.loads(bytes(npz["header"]).decode())


def is_current(checkpoint: str | Path, images: dict[str, np.ndarray]) -> bool:
    """Does ``checkpoint``'s outputs file hold every one of ``images``, for this very
    checkpoint, in this format?"""
    path = outputs_path(checkpoint)
    try:
        with np.load(path, allow_pickle=False) as npz:
            header = _header(npz)
    except (OSError, ValueError, KeyError):
        return False
    if header.get("format") != FORMAT or \
            header.get("checkpoint_sha256") != checkpoint_identity(checkpoint):
        return False
    stored = {e.get("digest") for e in header.get("images", [])}
    return all(content_hash(img) in stored for img in images.values())


def read_output(checkpoint: str | Path, digest: str) -> ModelOutput | None:
    """The stored output of ``checkpoint`` on the photograph whose content hash is
    ``digest``, or None (no file, another checkpoint or format, not that photograph,
    unreadable: the caller computes it instead)."""
    path = outputs_path(checkpoint)
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as npz:
            header = _header(npz)
            if header.get("format") != FORMAT or header.get("period") != PERIOD:
                return None
            if header.get("checkpoint_sha256") != checkpoint_identity(checkpoint):
                return None
            entry = next((e for e in header.get("images", []) if e.get("digest") == digest),
                         None)
            if entry is None:
                return None
            png = bytes(npz[str(entry["array"])])
        return ModelOutput(png, _decode(png), float(entry["score"]))
    except (OSError, ValueError, KeyError, TypeError, json.JSONDecodeError):
        return None


def update(root: str | Path, images: dict[str, np.ndarray], *, force: bool = False,
           log=print) -> dict[str, int]:
    """Bring every readable checkpoint under ``root`` up to date, and delete outputs
    files whose checkpoint is gone (a retrained experiment with other epochs); counts
    by outcome."""
    table = list_checkpoints(root)
    counts = {"written": 0, "current": 0, "failed": 0, "removed": 0}
    for orphan in outputs_root(root).glob(f"*/*{SUFFIX}"):
        source = Path(root) / orphan.parent.name / (orphan.name.removesuffix(SUFFIX)
                                                     + ".safetensors")
        if not source.exists():
            orphan.unlink(missing_ok=True)
            counts["removed"] += 1
    for row in table[table["ok"]].itertuples():
        path = Path(row.path)
        if not path.exists():  # listed relative to another folder
            path = checkpoint_path(root, str(row.variant), int(row.epoch))
        if not force and is_current(path, images):
            counts["current"] += 1
            continue
        try:
            write_outputs(path, images)
        except (OSError, ValueError) as err:  # a checkpoint that cannot be loaded
            counts["failed"] += 1
            log(f"  {path}: {err}")
            continue
        counts["written"] += 1
    return counts


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m core.outputs",
        description="Store every checkpoint's outputs on the held-out photographs beside it.")
    ap.add_argument("--root", default="checkpoints", help="checkpoint folder (default: %(default)s)")
    ap.add_argument("--force", action="store_true", help="recompute files that are current")
    args = ap.parse_args(argv)
    from ..io.photos import heldout_images

    if not Path(args.root).is_dir():
        print(f"no checkpoint folder {args.root!r}: nothing to do")
        return 0
    start = time.monotonic()
    counts = update(args.root, heldout_images(), force=args.force)
    print(f"{args.root}: {counts['written']} written, {counts['current']} already current, "
          f"{counts['failed']} failed, {counts['removed']} removed (checkpoint gone) "
          f"({time.monotonic() - start:.1f} s)")
    return 1 if counts["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
