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

import hashlib
import json
import os
import re
import struct
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

from core.models import TransformNet, TransformNetConfig

SCHEMA_VERSION = 1
METADATA_KEY = "checkerboard_lab"
KIND = "transformnet"
FILE_RE = re.compile(r"^epoch_(\d+)\.safetensors$")

#: Metric columns that list_checkpoints / the manifest carry (from the file metadata).
METRIC_COLUMNS = ("train_loss", "val_psnr", "val_ssim", "checkerboard")
MANIFEST_COLUMNS = ("variant", "epoch", "path", *METRIC_COLUMNS, "seed", "epoch_seconds",
                    "images_per_s", "size_bytes", "sha256")


class CheckpointError(ValueError):
    """A checkpoint file is missing, truncated, corrupt or not one of ours.

    The message always names the file and what is wrong with it.
    """

    def __init__(self, path: str | Path, problem: str) -> None:
        self.path = str(path)
        self.problem = problem
        super().__init__(f"checkpoint {self.path!r}: {problem}")


def checkpoint_path(root: str | Path, variant: str, epoch: int) -> Path:
    return Path(root) / variant / f"epoch_{epoch:03d}.safetensors"


def _weights_digest(tensors: dict[str, torch.Tensor]) -> str:
    h = hashlib.sha256()
    for key in sorted(tensors):
        h.update(key.encode())
        h.update(tensors[key].contiguous().view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically: temporary file, fsync, rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")  # unique per writer process
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


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


def _parse_header(path: Path, data: bytes, size: int | None = None) -> dict[str, Any]:
    """Parse a safetensors header (8-byte little-endian length + JSON) and return our metadata.

    ``data`` holds at least the header (or the whole file); ``size`` is the file's size.
    """
    size = len(data) if size is None else size
    if size < 8 or len(data) < 8:
        raise CheckpointError(path, f"truncated: only {len(data)} bytes, not a safetensors file")
    (n,) = struct.unpack("<Q", data[:8])
    if n > size - 8:
        raise CheckpointError(path, f"truncated or not safetensors: header says {n} bytes but "
                                    f"the file has {size - 8} after the length field")
    try:
        header = json.loads(data[8 : 8 + n])
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(path, f"corrupt safetensors header ({exc})") from exc
    if not isinstance(header, dict):
        raise CheckpointError(path, "corrupt safetensors header (not a JSON object)")
    end = max((v["data_offsets"][1] for k, v in header.items()
               if k != "__metadata__" and isinstance(v, dict) and "data_offsets" in v),
              default=0)
    if 8 + n + end > size:
        raise CheckpointError(path, f"truncated: tensors need {8 + n + end} bytes, "
                                    f"file has {size}")
    raw = (header.get("__metadata__") or {}).get(METADATA_KEY)
    if raw is None:
        raise CheckpointError(path, "foreign file: a safetensors file without Checkerboard Lab "
                                    f"metadata (no {METADATA_KEY!r} key)")
    try:
        meta = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise CheckpointError(path, f"corrupt metadata JSON ({exc})") from exc
    if not isinstance(meta, dict) or meta.get("kind") != KIND:
        raise CheckpointError(path, f"foreign file: metadata kind is not {KIND!r}")
    if meta.get("schema") != SCHEMA_VERSION:
        raise CheckpointError(path, f"schema version {meta.get('schema')!r} is not supported "
                                    f"(this code reads {SCHEMA_VERSION})")
    for key in ("variant", "config", "epoch"):
        if key not in meta:
            raise CheckpointError(path, f"metadata lacks the {key!r} field")
    return meta


def _read_bytes(path: str | Path, *, header_only: bool = False) -> tuple[Path, bytes]:
    """Check ``path`` is an existing regular file; return it and its bytes (b"" if header_only)."""
    p = Path(path)
    if not p.exists():
        raise CheckpointError(p, "file not found (regenerate with `python -m core.train`, "
                                 "see checkpoints/README.md)")
    if not p.is_file():
        raise CheckpointError(p, "not a regular file")
    return p, b"" if header_only else p.read_bytes()


def read_metadata(path: str | Path) -> dict[str, Any]:
    """The metadata of a checkpoint, checking the header only (fast; weights not verified)."""
    p, _ = _read_bytes(path, header_only=True)
    size = p.stat().st_size
    with open(p, "rb") as f:
        head = f.read(8)
        if len(head) == 8:
            (n,) = struct.unpack("<Q", head)
            head += f.read(min(n, max(size - 8, 0)))
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


def load_model(path: str | Path) -> TransformNet:
    """Rebuild the model stored at ``path``: eval mode, float32, on the CPU.

    The returned module maps (N, 3, H, W) in [0, 1] to (N, 3, H, W) in [0, 1].
    Raises :class:`CheckpointError` (a ``ValueError``) naming the file and the problem.
    """
    tensors, meta = load_checkpoint(path)
    try:
        config = TransformNetConfig.from_dict(meta["config"])
        model = TransformNet(config)
    except (TypeError, ValueError) as exc:
        raise CheckpointError(path, f"metadata holds an invalid model config ({exc})") from exc
    expected = model.state_dict()
    missing, unexpected = set(expected) - set(tensors), set(tensors) - set(expected)
    if missing or unexpected:
        raise CheckpointError(path, f"weights do not fit the config: missing {sorted(missing)}, "
                                    f"unexpected {sorted(unexpected)}")
    for k, v in expected.items():
        if tuple(v.shape) != tuple(tensors[k].shape):
            raise CheckpointError(path, f"weight {k!r} has shape {tuple(tensors[k].shape)}, "
                                        f"the config needs {tuple(v.shape)}")
    model.load_state_dict({k: t.float() for k, t in tensors.items()})
    return model.float().eval()


def _row(path: Path, shown: str) -> dict[str, Any]:
    m = FILE_RE.match(path.name)
    row: dict[str, Any] = {"variant": path.parent.name, "epoch": int(m.group(1)) if m else -1,
                           "path": shown}
    try:
        meta = read_metadata(path)
    except CheckpointError as exc:
        return {**row, "ok": False, "error": str(exc)}
    metrics = meta.get("metrics") or {}
    row.update(variant=meta["variant"], epoch=int(meta["epoch"]), ok=True, error="")
    for col in METRIC_COLUMNS:
        row[col] = metrics.get(col, float("nan"))
    row["seed"] = meta.get("seed")
    row["epoch_seconds"] = metrics.get("epoch_seconds", float("nan"))
    row["images_per_s"] = metrics.get("images_per_s", float("nan"))
    row["size_bytes"] = path.stat().st_size
    return row


def list_checkpoints(root: str | Path = "checkpoints") -> pd.DataFrame:
    """One row per ``<root>/<variant>/epoch_NNN.safetensors``, sorted by variant and epoch.

    Columns: ``variant``, ``epoch`` (int), ``path`` (``root`` joined with the file's
    relative path, so usable as given from wherever ``root`` was), the metrics
    (``train_loss``, ``val_psnr``, ``val_ssim``, ``checkerboard``), ``seed``,
    ``epoch_seconds``, ``images_per_s``, ``size_bytes``, ``ok`` and ``error``.
    Only headers are read (fast). A file whose header is broken is listed with
    ``ok=False`` and the reason in ``error`` (variant/epoch from its name), so a
    caller can show what is usable; a missing root gives an empty frame.
    """
    root_p = Path(root)
    rows = []
    if root_p.is_dir():
        for f in sorted(root_p.glob("*/epoch_*.safetensors")):
            rows.append(_row(f, str(Path(root) / f.relative_to(root_p))))
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
    """``<root>/manifest.csv`` as a DataFrame (``ValueError`` naming the file if unreadable)."""
    p = Path(root) / "manifest.csv"
    try:
        df = pd.read_csv(p)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise ValueError(f"manifest {str(p)!r} cannot be read: {exc}") from exc
    missing = set(MANIFEST_COLUMNS) - set(df.columns)
    if missing:
        raise ValueError(f"manifest {str(p)!r} lacks columns {sorted(missing)}")
    return df


def summary(df: pd.DataFrame, *, reference: str = "resize_nearest",
            early_epoch: int = 1) -> pd.DataFrame:
    """Final figures per variant from a :func:`list_checkpoints` / manifest frame.

    One row per variant (index): ``last_epoch``, ``val_psnr``, ``val_ssim`` and
    ``checkerboard`` at the last epoch, ``checkerboard_early`` at ``early_epoch``, and
    ``x_reference_last`` / ``x_reference_early``: the checkerboard score divided by
    the ``reference`` variant's at the same epoch (NaN when it is absent).
    """
    df = df[df["ok"]] if "ok" in df.columns else df
    rows = {}
    for variant, g in df.groupby("variant", sort=False):
        g = g.set_index("epoch")
        last = int(g.index.max())
        rows[variant] = {
            "last_epoch": last,
            "val_psnr": g.loc[last, "val_psnr"],
            "val_ssim": g.loc[last, "val_ssim"],
            "checkerboard": g.loc[last, "checkerboard"],
            "checkerboard_early": g["checkerboard"].get(early_epoch, float("nan")),
        }
    out = pd.DataFrame.from_dict(rows, orient="index")
    if out.empty:
        return out
    ref = df[df["variant"] == reference].set_index("epoch")["checkerboard"]
    out["x_reference_last"] = [
        r.checkerboard / ref.get(r.last_epoch, float("nan")) for r in out.itertuples()]
    out["x_reference_early"] = out["checkerboard_early"] / ref.get(early_epoch, float("nan"))
    return out
