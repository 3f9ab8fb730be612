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
import math
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..io.files import atomic_write_bytes, open_regular
from ..io.pixels import content_hash, to_png_bytes, to_uint8
from ..io.text import plain
from ..maths.metrics import checkerboard_score
from .catalog import PERIOD, apply_model, load_model_fast
from .checkpoints import checkpoint_path, list_checkpoints

#: Bump when what is stored changes: older files are then recomputed, never misread.
#: (2: each image's shape and its PNG's SHA-256 are stored and checked.)
FORMAT = 2
SUFFIX = ".outputs.npz"
#: Largest outputs file read (a regular file only; anything else is a miss).
MAX_FILE_BYTES = 64 * 2**20
#: Largest stored output decoded, in pixels (the held-out photographs are 1024 px on the
#: longer side at most): a crafted 13000 x 13000 PNG is a miss, never decoded.
MAX_OUTPUT_PIXELS = 4_000_000


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


_IDENTITY: dict[tuple, str] = {}


def checkpoint_identity(checkpoint: str | Path) -> str:
    """SHA-256 of the checkpoint file's bytes, remembered per path, inode, size, mtime and
    ctime: a file replaced in place with the same size and mtime (``touch -r``) still has
    a new ctime (nobody can set it), so it is hashed again."""
    p = Path(checkpoint)
    st = p.stat()
    key = (str(p.resolve()), st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
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


def _png_problem(png: bytes, shape: tuple[int, int]) -> str | None:
    """Why ``png``'s header is not an RGB PNG of ``shape`` (H, W): read from the header
    alone, nothing decoded."""
    import warnings

    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Pillow's bomb warning: the size is checked here
            with Image.open(io.BytesIO(png)) as img:
                found = (img.format, img.mode, img.size)
    except Exception as err:  # noqa: BLE001 - not an image at all
        return f"its PNG cannot be opened ({type(err).__name__})"
    if found != ("PNG", "RGB", (shape[1], shape[0])):
        return (f"its image is a {found[0]} {found[1]} {found[2][0]}x{found[2][1]}, not the "
                f"stored {shape[1]}x{shape[0]} RGB PNG")
    return None


def _decode(png: bytes, shape: tuple[int, int]) -> np.ndarray:
    """The stored PNG as float pixels, only when its header says ``shape`` (H, W) in RGB;
    ValueError otherwise (checked before a pixel is decoded)."""
    from PIL import Image

    problem = _png_problem(png, shape)
    if problem:
        raise ValueError(problem)
    with Image.open(io.BytesIO(png)) as img:
        pixels = np.asarray(img, dtype=np.float32) / 255.0
    if pixels.shape != (shape[0], shape[1], 3):
        raise ValueError(f"decoded to {pixels.shape}, not {shape}")
    return pixels


def write_outputs(checkpoint: str | Path, images: dict[str, np.ndarray], model=None) -> Path:
    """Compute and store ``checkpoint``'s outputs on ``images`` (atomically); returns the
    file written. ``model`` saves loading it again when the caller has it."""
    model = load_model_fast(checkpoint) if model is None else model
    entries, arrays = [], {}
    for i, (name, image) in enumerate(images.items()):
        result = compute_output(model, image)
        entries.append({"name": name, "digest": content_hash(image), "score": result.score,
                        "array": f"png_{i}", "shape": list(result.pixels.shape[:2]),
                        "png_sha256": hashlib.sha256(result.png).hexdigest()})
        arrays[f"png_{i}"] = np.frombuffer(result.png, dtype=np.uint8)
    header = {"format": FORMAT, "checkpoint_sha256": checkpoint_identity(checkpoint),
              "period": PERIOD, "images": entries}
    arrays["header"] = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
    buf = io.BytesIO()
    np.savez(buf, **arrays)  # PNG bytes are compressed already
    path = outputs_path(checkpoint)
    atomic_write_bytes(path, buf.getvalue())
    return path


class CacheMiss(ValueError):
    """A stored outputs file that cannot be used (the caller computes instead)."""


def _read_regular(path: Path) -> bytes:
    """The bytes of ``path`` when it is a regular file of at most :data:`MAX_FILE_BYTES`
    (a FIFO, a folder or a link is a miss, never waited on or followed)."""
    fd, size = open_regular(path, MAX_FILE_BYTES, "outputs file",
                            fail=lambda problem: CacheMiss(problem))
    with os.fdopen(fd, "rb") as f:
        return f.read(size + 1)


def _finite_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) \
        and math.isfinite(value)


def _entry_problem(entry, names: set[str]) -> str | None:
    if not isinstance(entry, dict):
        return "an image entry is not an object"
    if not isinstance(entry.get("digest"), str) or not isinstance(entry.get("name"), str):
        return "an image entry lacks its name or digest"
    if not _finite_number(entry.get("score")):
        return f"the score {entry.get('score')!r} is not a finite number"
    if entry.get("array") not in names:
        return f"the array {entry.get('array')!r} is missing"
    shape = entry.get("shape")
    if (not isinstance(shape, list) or len(shape) != 2
            or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in shape)
            or shape[0] * shape[1] > MAX_OUTPUT_PIXELS):
        return f"the shape {shape!r} is not two positive sides of at most " \
               f"{MAX_OUTPUT_PIXELS:,} pixels in all"
    if not isinstance(entry.get("png_sha256"), str):
        return "an image entry lacks its PNG's SHA-256"
    return None


def load_entries(checkpoint: str | Path) -> tuple[dict[str, tuple[dict, bytes]], str | None]:
    """``({digest: (entry, png bytes)}, None)`` from ``checkpoint``'s outputs file when
    everything in it checks out (a regular file, a readable npz, a header that is an
    object of this format, period and checkpoint, every entry complete with a finite
    score, a sane shape and PNG bytes matching their SHA-256); else ``({}, problem)``
    (``problem`` None when there is simply no file). The one validation of the cache: a
    damaged file is a miss, whatever is wrong with it."""
    path = outputs_path(checkpoint)
    if not os.path.lexists(path):
        return {}, None
    try:
        data = _read_regular(path)
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            names = set(npz.files)
            if "header" not in names:
                raise CacheMiss("no header")
            header = json.loads(bytes(npz["header"]).decode("utf-8"))
            if not isinstance(header, dict):
                raise CacheMiss("the header is not an object")
            if header.get("format") != FORMAT or header.get("period") != PERIOD:
                raise CacheMiss("another format")
            if header.get("checkpoint_sha256") != checkpoint_identity(checkpoint):
                raise CacheMiss("made from other weights")
            images = header.get("images")
            if not isinstance(images, list):
                raise CacheMiss("its image list is not a list")
            entries = {}
            for entry in images:
                problem = _entry_problem(entry, names)
                if problem:
                    raise CacheMiss(problem)
                array = npz[entry["array"]]
                if array.dtype != np.uint8 or array.ndim != 1:
                    raise CacheMiss(f"the array {entry['array']!r} is not PNG bytes")
                png = array.tobytes()
                if hashlib.sha256(png).hexdigest() != entry["png_sha256"]:
                    raise CacheMiss(f"the PNG of {entry['name']!r} is damaged (its SHA-256 "
                                    "differs)")
                problem = _png_problem(png, tuple(entry["shape"]))
                if problem:
                    raise CacheMiss(problem)
                entries[entry["digest"]] = (entry, png)
        return entries, None
    except CacheMiss as err:
        return {}, str(err)
    except Exception as err:  # noqa: BLE001 - a damaged zip raises many kinds: all a miss
        return {}, f"unreadable ({type(err).__name__}: {' '.join(str(err).split())[:120]})"


def is_current(checkpoint: str | Path, images: dict[str, np.ndarray]) -> bool:
    """Does ``checkpoint``'s outputs file hold every one of ``images``, for this very
    checkpoint, in this format, undamaged (:func:`load_entries`)?"""
    entries, _ = load_entries(checkpoint)
    for image in images.values():
        found = entries.get(content_hash(image))
        if found is None or tuple(found[0]["shape"]) != tuple(np.shape(image)[:2]):
            return False
    return True


def read_output(checkpoint: str | Path, digest: str) -> ModelOutput | None:
    """The stored output of ``checkpoint`` on the photograph whose content hash is
    ``digest``, or None (no file, another checkpoint or format, not that photograph,
    damaged in any way: the caller computes it instead)."""
    entries, _ = load_entries(checkpoint)
    if digest not in entries:
        return None
    entry, png = entries[digest]
    try:
        pixels = _decode(png, tuple(entry["shape"]))
    except Exception:  # noqa: BLE001 - a PNG Pillow cannot decode is a miss
        return None
    return ModelOutput(png, pixels, float(entry["score"]))


def update(root: str | Path, images: dict[str, np.ndarray], *, force: bool = False,
           log=print) -> dict[str, int]:
    """Bring every readable checkpoint under ``root`` up to date, and delete outputs
    files whose checkpoint is gone (a retrained experiment with other epochs); counts
    by outcome."""
    table = list_checkpoints(root)
    counts = {"written": 0, "current": 0, "failed": 0, "removed": 0, "unwritable": 0}
    try:
        orphans = list(outputs_root(root).glob(f"*/*{SUFFIX}"))
    except OSError:
        orphans = []
    for orphan in orphans:
        source = Path(root) / orphan.parent.name / (orphan.name.removesuffix(SUFFIX)
                                                     + ".safetensors")
        if not source.exists():
            try:
                orphan.unlink(missing_ok=True)
            except OSError as err:
                log(f"  {plain(orphan)}: cannot remove ({plain(err.strerror or err)})")
                continue
            counts["removed"] += 1
    for row in table[table["ok"]].itertuples():
        path = Path(row.path)
        if not path.exists():  # listed relative to another folder
            path = checkpoint_path(root, str(row.variant), int(row.epoch))
        if not force:
            if is_current(path, images):
                counts["current"] += 1
                continue
            _, problem = load_entries(path)
            if problem:
                log(f"  {plain(outputs_path(path))}: {plain(problem)}: recomputed")
        try:
            model = load_model_fast(path)
        except (OSError, ValueError) as err:  # a checkpoint that cannot be loaded
            counts["failed"] += 1
            log(f"  {plain(path)}: {plain(err)}")
            continue
        try:
            write_outputs(path, images, model)
        except OSError as err:  # a read-only or non-folder cache: the pages compute instead
            counts["unwritable"] += 1
            log(f"  {plain(outputs_path(path))}: cannot be written "
                f"({plain(err.strerror or err)}); the pages compute this output themselves")
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
    print(f"{plain(args.root)}: {counts['written']} written, {counts['current']} already "
          f"current, {counts['failed']} failed, {counts['removed']} removed (checkpoint gone), "
          f"{counts['unwritable']} not writable ({time.monotonic() - start:.1f} s)")
    return 1 if counts["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
