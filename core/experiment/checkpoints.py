"""Self-describing checkpoints: safetensors weights + the metadata that rebuilds the model.

Layout under a root folder (``checkpoints/`` for the shipped experiment)::

    <root>/<variant>/epoch_000.safetensors   epoch 0 = the initialisation
    <root>/<variant>/epoch_001.safetensors   after one epoch, ...
    <root>/manifest.csv                      one row per checkpoint (see write_manifest)

Every file is a plain safetensors file (no pickle anywhere). Its header metadata holds
one key, ``checkerboard_lab``, whose value is a JSON object::

    {"schema": 1, "kind": "transformnet", "variant": "deconv3",
     "config": {...TransformNetConfig...}, "epoch": 3, "epochs": 10, "seed": 0,
     "data": {...}, "training": {...}, "metrics": {...}, "dtype": "float16",
     "weights_sha256": "..."}

``weights_sha256`` is the SHA-256 of the tensors' bytes, in sorted key order, so a
flipped byte inside the weights is detected, not only a broken header. Files are
written atomically: to ``<name>.<pid>.tmp`` in the same folder, fsync, then ``os.replace``.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import os
import re
import struct
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

from ..io.files import atomic_write_bytes, open_regular
from ..io.text import clip, is_utf8, safe_text
from .models import TransformNet, TransformNetConfig
from .tables import MAX_EPOCH, VARIANT_RE, read_csv_table
from .tables import show_value as _show

SCHEMA_VERSION = 1
METADATA_KEY = "checkerboard_lab"
KIND = "transformnet"
FILE_RE = re.compile(r"^epoch_(\d+)\.safetensors$")

#: Metric columns that list_checkpoints / the manifest carry (from the file metadata).
METRIC_COLUMNS = ("train_loss", "val_psnr", "val_ssim", "checkerboard")
MANIFEST_COLUMNS = ("variant", "epoch", "path", *METRIC_COLUMNS, "seed", "epoch_seconds",
                    "images_per_s", "size_bytes", "sha256")

# --- What a reader accepts (a file is untrusted until these pass; all checked before
# --- anything large is read or built).
#: Longest problem text a CheckpointError carries: a hostile file cannot flood a page or a log.
MAX_PROBLEM_CHARS = 400
#: Largest checkpoint file read (the shipped ones are ~100 KB).
MAX_FILE_BYTES = 256 * 2**20
#: Largest safetensors header read (ours are a few KB).
MAX_HEADER_BYTES = 2**20
#: Bounds of every integer field of a stored TransformNetConfig (inclusive).
CONFIG_BOUNDS = {"width": (1, 512), "res_blocks": (0, 64), "up_kernel": (1, 15),
                 "first_kernel": (1, 31), "last_kernel": (1, 31)}
#: Most parameters a stored model may have (float32: 400 MB).
MAX_PARAMETERS = 100_000_000
#: Weight dtypes a model may be stored in (safetensors names).
WEIGHT_DTYPES = ("F16", "BF16", "F32")


#: Why a checkpoint whose file or folder name is not UTF-8 is left out.
NOT_UTF8 = ("its file or folder name is not UTF-8 text (shown with \\x escapes); "
            "rename it to use it")


class CheckpointError(ValueError):
    """A checkpoint file is missing, truncated, corrupt or not one of ours.

    The message always names the file and what is wrong with it.
    """

    def __init__(self, path: str | Path, problem: str) -> None:
        self.path = clip(safe_text(path), 300)
        self.problem = clip(safe_text(problem))
        super().__init__(f"checkpoint {self.path!r}: {self.problem}")


def checkpoint_path(root: str | Path, variant: str, epoch: int) -> Path:
    return Path(root) / variant / f"epoch_{epoch:03d}.safetensors"


def _weights_digest(tensors: dict[str, torch.Tensor]) -> str:
    h = hashlib.sha256()
    for key in sorted(tensors):
        h.update(key.encode())
        h.update(tensors[key].contiguous().view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def save_checkpoint(path: str | Path, model: TransformNet, meta: dict[str, Any],
                    *, dtype: torch.dtype = torch.float16) -> None:
    """Save ``model``'s weights (``dtype``) and ``meta`` (plus schema, kind, config) atomically."""
    tensors = {k: v.detach().to("cpu", dtype).contiguous() for k, v in model.state_dict().items()}
    full = {
        "schema": SCHEMA_VERSION,
        "kind": KIND,
        "config": model.config.to_dict(),
        **meta,
        "dtype": str(dtype).removeprefix("torch."),
        "weights_sha256": _weights_digest(tensors),
    }
    data = st_save(tensors, metadata={METADATA_KEY: json.dumps(full, sort_keys=True)})
    atomic_write_bytes(path, data)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return value is None or (isinstance(value, int | float) and not isinstance(value, bool))


def _tensor_index(path: Path, header: dict[str, Any]) -> dict[str, tuple[str, tuple[int, ...],
                                                                     tuple[int, int]]]:
    """name -> (dtype, shape, (begin, end)) of every tensor the header declares, checked."""
    index = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        bad = f"corrupt safetensors header (tensor {_show(name)} is malformed)"
        if not isinstance(entry, dict):
            raise CheckpointError(path, bad)
        dtype, shape, offsets = entry.get("dtype"), entry.get("shape"), entry.get("data_offsets")
        if (not isinstance(dtype, str) or not isinstance(shape, list)
                or not all(_is_int(d) and 0 <= d < 2**31 for d in shape)
                or not isinstance(offsets, list) or len(offsets) != 2
                or not all(_is_int(o) and 0 <= o for o in offsets) or offsets[0] > offsets[1]):
            raise CheckpointError(path, bad)
        index[name] = (dtype, tuple(shape), (offsets[0], offsets[1]))
    return index


def _check_meta(path: Path, meta: dict[str, Any]) -> None:
    """Types and ranges of the metadata fields every reader relies on."""
    variant = meta["variant"]
    if not isinstance(variant, str) or not VARIANT_RE.match(variant):
        raise CheckpointError(path, f"metadata field 'variant' is {_show(variant)}, not a "
                                    "variant name (letters, digits, '_', '.', '-')")
    epoch = meta["epoch"]
    if not _is_int(epoch) or not 0 <= epoch <= MAX_EPOCH:
        raise CheckpointError(path, f"metadata field 'epoch' is {_show(epoch)}, not an "
                                    f"integer from 0 to {MAX_EPOCH}")
    if not isinstance(meta["config"], dict):
        raise CheckpointError(path, f"metadata field 'config' is {_show(meta['config'])}, "
                                    "not an object")
    for key in ("seed", "epochs"):
        if meta.get(key) is not None and not _is_int(meta[key]):
            raise CheckpointError(path, f"metadata field {key!r} is {_show(meta[key])}, "
                                        "not an integer")
    metrics = meta.get("metrics")
    if metrics is None:
        return
    if not isinstance(metrics, dict):
        raise CheckpointError(path, f"metadata field 'metrics' is {_show(metrics)}, "
                                    "not an object")
    for key in (*METRIC_COLUMNS, "epoch_seconds", "images_per_s"):
        if not _is_number(metrics.get(key)):
            raise CheckpointError(path, f"metric {key!r} is {_show(metrics[key])}, "
                                        "not a number")


def _parse(path: Path, data: bytes, size: int | None = None) -> tuple[
        dict[str, Any], dict[str, tuple[str, tuple[int, ...], tuple[int, int]]]]:
    """Parse a safetensors header (8-byte little-endian length + JSON): our metadata,
    checked (:func:`_check_meta`), and the tensor index (:func:`_tensor_index`).

    ``data`` holds at least the header (or the whole file); ``size`` is the file's size.
    """
    size = len(data) if size is None else size
    if size < 8 or len(data) < 8:
        raise CheckpointError(path, f"truncated: only {len(data)} bytes, not a safetensors file")
    (n,) = struct.unpack("<Q", data[:8])
    if n > size - 8:
        raise CheckpointError(path, f"truncated or not safetensors: header says {n} bytes but "
                                    f"the file has {size - 8} after the length field")
    if n > MAX_HEADER_BYTES:
        raise CheckpointError(path, f"header of {n} bytes is larger than the "
                                    f"{MAX_HEADER_BYTES} this reader accepts")
    try:
        header = json.loads(data[8 : 8 + n])
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise CheckpointError(path, f"corrupt safetensors header ({exc})") from exc
    if not isinstance(header, dict):
        raise CheckpointError(path, "corrupt safetensors header (not a JSON object)")
    index = _tensor_index(path, header)
    end = max((e for _, _, (_, e) in index.values()), default=0)
    if 8 + n + end > size:
        raise CheckpointError(path, f"truncated: tensors need {8 + n + end} bytes, "
                                    f"file has {size}")
    extra = header.get("__metadata__") or {}
    if not isinstance(extra, dict):
        raise CheckpointError(path, "corrupt safetensors header (__metadata__ is not an object)")
    raw = extra.get(METADATA_KEY)
    if raw is None:
        raise CheckpointError(path, "foreign file: a safetensors file without Checkerboard Lab "
                                    f"metadata (no {METADATA_KEY!r} key)")
    if not isinstance(raw, str):
        raise CheckpointError(path, f"corrupt metadata ({METADATA_KEY!r} is not a string)")
    try:
        meta = json.loads(raw)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise CheckpointError(path, f"corrupt metadata JSON ({exc})") from exc
    if not isinstance(meta, dict) or meta.get("kind") != KIND:
        raise CheckpointError(path, f"foreign file: metadata kind is not {KIND!r}")
    if meta.get("schema") != SCHEMA_VERSION:
        raise CheckpointError(path, f"schema version {_show(meta.get('schema'))} is not "
                                    f"supported (this code reads {SCHEMA_VERSION})")
    for key in ("variant", "config", "epoch"):
        if key not in meta:
            raise CheckpointError(path, f"metadata lacks the {key!r} field")
    _check_meta(path, meta)
    return meta, index


def _parse_header(path: Path, data: bytes, size: int | None = None) -> dict[str, Any]:
    """Our metadata from a safetensors header (see :func:`_parse`)."""
    return _parse(path, data, size)[0]


def _open(path: str | Path) -> tuple[Path, int, int]:
    """Open an existing regular file for reading, never through a symbolic link
    (:func:`core.io.files.open_regular`, at most :data:`MAX_FILE_BYTES`).

    Returns the path, an OS file descriptor (the caller closes it) and the size.
    """
    p = Path(path)
    if p.is_symlink():
        raise CheckpointError(p, "a symbolic link: not followed (copy the file instead)")
    if not p.exists():
        raise CheckpointError(p, "file not found (regenerate with `python -m core.train`, "
                                 "see checkpoints/README.md)")
    fd, size = open_regular(p, MAX_FILE_BYTES, fail=lambda problem: CheckpointError(p, problem))
    return p, fd, size


def _read_head(path: str | Path) -> tuple[Path, bytes, int]:
    """The path, the header bytes (length field + JSON) and the file size."""
    p, fd, size = _open(path)
    with os.fdopen(fd, "rb") as f:
        head = f.read(8)
        if len(head) == 8:
            (n,) = struct.unpack("<Q", head)
            head += f.read(min(n, max(size - 8, 0), MAX_HEADER_BYTES + 1))
    return p, head, size


def _read_bytes(path: str | Path) -> tuple[Path, bytes]:
    """The path and all its bytes (a regular file, no link, at most MAX_FILE_BYTES)."""
    p, fd, size = _open(path)
    with os.fdopen(fd, "rb") as f:
        data = f.read(size + 1)
    return p, data


def read_metadata(path: str | Path) -> dict[str, Any]:
    """The metadata of a checkpoint, checking the header only (fast; weights not verified)."""
    p, head, size = _read_head(path)
    return _parse_header(p, head, size)


def load_checkpoint(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Weights (as stored) and metadata, fully verified (header, sizes, SHA-256 of weights)."""
    p, data = _read_bytes(path)
    meta = _parse_header(p, data)
    try:
        tensors = st_load(data)
    except Exception as exc:  # safetensors raises its own error types
        raise CheckpointError(p, f"corrupt safetensors data ({exc})") from exc
    if _weights_digest(tensors) != meta.get("weights_sha256"):
        raise CheckpointError(p, "corrupt weights: SHA-256 of the tensors does not match "
                                 "the one recorded when the file was written")
    return tensors, meta


def check_model_config(raw: Any) -> TransformNetConfig:
    """The one validator of a model's settings, shared by training (before any work) and
    every checkpoint reader (before anything is built): each integer field within
    :data:`CONFIG_BOUNDS`, a known upsampler, a buildable architecture of at most
    :data:`MAX_PARAMETERS` parameters. ``ValueError`` naming the field otherwise, so a
    run can never store what the loader would then refuse."""
    from ..upsamplers.registry import upsampler_names

    if not isinstance(raw, dict):
        raise ValueError(f"the model config is {_show(raw)}, not an object")
    for name, (lo, hi) in CONFIG_BOUNDS.items():
        if name in raw and (not _is_int(raw[name]) or not lo <= raw[name] <= hi):
            raise ValueError(f"config field {name!r} is {_show(raw[name])}: not an integer "
                             f"in the sane range {lo}..{hi}, refused unbuilt")
    for name in ("upsampler", "activation"):
        if name in raw and not isinstance(raw[name], str):
            raise ValueError(f"config field {name!r} is {_show(raw[name])}, not a name")
    if "upsampler" in raw and raw["upsampler"] not in upsampler_names():
        raise ValueError(f"config names an unknown upsampler {_show(raw['upsampler'])}")
    try:
        config = TransformNetConfig.from_dict(raw)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"an invalid model config ({exc})") from exc
    try:
        expected = expected_shapes(config)
    except Exception as exc:  # an architecture the code cannot build
        raise ValueError(f"an invalid model config ({type(exc).__name__}: {exc})") from exc
    n_params = sum(math.prod(s) for s in expected.values())
    if n_params > MAX_PARAMETERS:
        raise ValueError(f"the config asks for {n_params:,} parameters, more than "
                         f"{MAX_PARAMETERS:,}: refused unbuilt")
    return config


def config_from_metadata(path: str | Path, raw: Any) -> TransformNetConfig:
    """The stored model config, checked by :func:`check_model_config` before anything is
    built (``CheckpointError`` naming the file and the field)."""
    try:
        return check_model_config(raw)
    except ValueError as exc:
        problem = str(exc)
        if problem.startswith("an invalid model config"):
            problem = "metadata holds " + problem
        raise CheckpointError(path, problem) from exc


@functools.lru_cache(maxsize=64)
def expected_shapes(config: TransformNetConfig) -> dict[str, tuple[int, ...]]:
    """Name -> shape of every weight a model of ``config`` has, without allocating them
    (built on PyTorch's "meta" device: shapes only, no memory, no initialisation cost).
    Cached per config: do not modify the returned dict."""
    with torch.device("meta"):
        model = TransformNet(config)
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}


def _names(keys: set[str], limit: int = 4) -> str:
    shown = sorted(keys)[:limit]
    more = f" and {len(keys) - limit} more" if len(keys) > limit else ""
    return ", ".join(_show(k) for k in shown) + more


def check_weights_fit(path: Path, meta: dict[str, Any],
                      index: dict[str, tuple[str, tuple[int, ...], tuple[int, int]]]
                      ) -> TransformNetConfig:
    """The stored config, once it is sane and the header's tensors (names, shapes, dtypes)
    are exactly the ones it implies; ``CheckpointError`` otherwise. Nothing is built."""
    config = config_from_metadata(path, meta["config"])
    expected = expected_shapes(config)
    missing, unexpected = set(expected) - set(index), set(index) - set(expected)
    if missing or unexpected:
        raise CheckpointError(path, "weights do not fit the config: "
                                    + (f"missing {_names(missing)}" if missing else "")
                                    + ("; " if missing and unexpected else "")
                                    + (f"unexpected {_names(unexpected)}" if unexpected else ""))
    for k, shape in expected.items():
        dtype, stored, _ = index[k]
        if stored != shape:
            raise CheckpointError(path, f"weight {_show(k)} has shape {stored}, the config "
                                        f"needs {shape}")
        if dtype not in WEIGHT_DTYPES:
            raise CheckpointError(path, f"weight {_show(k)} is stored as {_show(dtype)}; "
                                        f"weights must be one of {', '.join(WEIGHT_DTYPES)}")
    return config


def load_model(path: str | Path) -> TransformNet:
    """Rebuild the model stored at ``path``: eval mode, float32, on the CPU.

    Cheap checks first, from the header alone: metadata types, the config against
    :data:`CONFIG_BOUNDS`, then the file's own tensor names, shapes and dtypes against
    the ones the config implies (computed without allocating). Only then is the file
    read in full, its SHA-256 checked and the model built.

    The returned module maps (N, 3, H, W) in [0, 1] to (N, 3, H, W) in [0, 1].
    Raises :class:`CheckpointError` (a ``ValueError``) naming the file and the problem.
    """
    p, head, size = _read_head(path)
    meta, index = _parse(p, head, size)
    config = check_weights_fit(p, meta, index)
    tensors, meta = load_checkpoint(p)
    model = TransformNet(config)
    try:
        model.load_state_dict({k: t.float() for k, t in tensors.items()})
    except (RuntimeError, ValueError) as exc:
        raise CheckpointError(p, f"weights cannot be loaded ({exc})") from exc
    return model.float().eval()


def _row(path: Path, shown: str) -> dict[str, Any]:
    """One row of :func:`list_checkpoints`: the header's figures, or why the file is broken."""
    m = FILE_RE.match(path.name)
    named_epoch = int(m.group(1)) if m else -1
    row: dict[str, Any] = {"variant": path.parent.name,
                           "epoch": named_epoch if named_epoch <= MAX_EPOCH else -1,
                           "path": shown}
    try:
        if path.parent.is_symlink():
            raise CheckpointError(path, "its folder is a symbolic link: not followed")
        if named_epoch > MAX_EPOCH:
            raise CheckpointError(path, f"epoch {named_epoch} in the file name is beyond "
                                        f"{MAX_EPOCH}")
        p, head, file_size = _read_head(path)
        meta, index = _parse(p, head, file_size)
        check_weights_fit(p, meta, index)  # what load_model checks first, from the header
        if meta["variant"] != path.parent.name or meta["epoch"] != named_epoch:
            raise CheckpointError(path, f"metadata says variant {_show(meta['variant'])}, "
                                        f"epoch {meta['epoch']}, but the file is "
                                        f"{path.parent.name}/{path.name}")
        size = path.stat().st_size
    except CheckpointError as exc:
        return {**row, "ok": False, "error": str(exc)}
    except (OSError, ValueError) as exc:  # vanished meanwhile, unreadable folder, ...
        return {**row, "ok": False, "error": str(CheckpointError(path, f"unreadable ({exc})"))}
    metrics = meta.get("metrics") or {}
    row.update(variant=meta["variant"], epoch=meta["epoch"], ok=True, error="")
    for col in METRIC_COLUMNS:
        row[col] = _float(metrics.get(col))
    row["seed"] = meta.get("seed")
    row["epoch_seconds"] = _float(metrics.get("epoch_seconds"))
    row["images_per_s"] = _float(metrics.get("images_per_s"))
    row["size_bytes"] = size
    return row


def _float(value: Any) -> float:
    return float("nan") if value is None else float(value)


def list_checkpoints(root: str | Path = "checkpoints") -> pd.DataFrame:
    """One row per ``<root>/<variant>/epoch_NNN.safetensors``, sorted by variant and epoch.

    Columns: ``variant``, ``epoch`` (int), ``path`` (``root`` joined with the file's
    relative path, so usable as given from wherever ``root`` was), the metrics
    (``train_loss``, ``val_psnr``, ``val_ssim``, ``checkerboard``), ``seed``,
    ``epoch_seconds``, ``images_per_s``, ``size_bytes``, ``ok`` and ``error``.
    Only headers are read (fast), but checked as :func:`load_model` checks them
    before reading the weights. A file that cannot be used is listed with
    ``ok=False`` and the reason in ``error`` (variant/epoch from its name, -1 when
    the name has none), so a caller can show what is usable: a file or folder name
    that is not UTF-8 (its ``path`` and ``variant`` written with ``\\xNN`` escapes,
    :func:`core.io.text.safe_text`), a broken or foreign
    header, metadata of the wrong type, metadata naming another variant or epoch
    than the file's path, an epoch beyond :data:`MAX_EPOCH`, a symbolic link (never
    followed), or a second file for the same variant and epoch (``epoch_5`` next to
    ``epoch_005``). A missing root gives an empty frame.
    """
    root_p = Path(root)
    rows = []
    if root_p.is_dir():
        for f in sorted(root_p.glob("*/epoch_*.safetensors")):
            shown = str(Path(root) / f.relative_to(root_p))
            if not is_utf8(shown):  # refused by name: it would crash a page's cache hashing
                rows.append({"variant": safe_text(f.parent.name), "epoch": -1,
                             "path": safe_text(shown), "ok": False,
                             "error": str(CheckpointError(shown, NOT_UTF8))})
                continue
            rows.append(_row(f, shown))
    seen: dict[tuple[str, int], str] = {}
    for row in rows:
        if not row.get("ok"):
            continue
        key = (row["variant"], row["epoch"])
        if key in seen:
            row.update(ok=False, error=str(CheckpointError(
                row["path"], f"a second file for {key[0]} epoch {key[1]} (the first is "
                             f"{Path(seen[key]).name}); remove one")))
        else:
            seen[key] = row["path"]
    cols = ["variant", "epoch", "path", *METRIC_COLUMNS, "seed", "epoch_seconds",
            "images_per_s", "size_bytes", "ok", "error"]
    df = pd.DataFrame(rows, columns=cols)
    df["epoch"] = df["epoch"].astype(int)
    df["ok"] = df["ok"].astype(bool)
    return df.sort_values(["variant", "epoch"], kind="stable").reset_index(drop=True)


def file_sha256(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def write_manifest(root: str | Path = "checkpoints") -> pd.DataFrame:
    """Write ``<root>/manifest.csv`` (MANIFEST_COLUMNS) from the files, atomically; return it.

    Only readable checkpoints are listed; ``sha256`` is the file's SHA-256, so the
    manifest can be checked against the files.
    """
    df = list_checkpoints(root)
    df = df[df["ok"]].copy()
    df["sha256"] = [file_sha256(p) for p in df["path"]]
    df = df[list(MANIFEST_COLUMNS)]
    atomic_write_bytes(Path(root) / "manifest.csv", df.to_csv(index=False).encode())
    return df


def read_manifest(root: str | Path = "checkpoints") -> pd.DataFrame:
    """``<root>/manifest.csv`` as a DataFrame, checked (:func:`read_csv_table`:
    ``ValueError`` naming the file and the problem if unreadable)."""
    return read_csv_table(Path(root) / "manifest.csv", MANIFEST_COLUMNS, "manifest")


