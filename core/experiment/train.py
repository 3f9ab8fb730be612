"""Train transformation networks with a pixel (MSE) loss, one per upsampler variant.

One command regenerates the shipped experiment (see checkpoints/README.md)::

    python -m core.train --output checkpoints

Other uses::

    python -m core.train --variants deconv3 resize_nearest --epochs 3 --data ~/photos \\
        --output runs/mine
    python -m core.train --output checkpoints --resume          # after an interruption
    torchrun --nproc_per_node 2 -m core.train --output runs/ddp # DDP: gloo on CPU, nccl on GPU

For each variant it evaluates every epoch and records, in ``<variant>/history.csv``,
the training loss, the validation PSNR/SSIM (``skimage.metrics``) and checkerboard
score (:func:`core.maths.metrics.checkerboard_score`, period 4 = the two stride-2
upsamplers) on the held-out images, the same on the detailed unseen photograph(s),
the phase-gain imbalance of each upsampler (:func:`core.maths.metrics.gain_imbalance`) and
the output contrast. It stores epoch 0 (the initialisation) and the epochs of
:func:`keep_epoch` (0-3, 5, 7, 10, 15, then every 10th and the last; ``--keep all``
stores every one) as self-describing safetensors files (:mod:`core.experiment.checkpoints`), and
rewrites ``<output>/manifest.csv``.

A run never fails silently and never destroys work:

* a non-finite loss stops it at once (:class:`TrainingError`, exit status 2), before
  anything of that epoch is written;
* a collapsed model (near-constant output: its contrast on the held-out images below
  :data:`COLLAPSE_CONTRAST` of theirs, so its PSNR sits at a flat image's) stops it
  with what to change; that epoch is not stored, so it is never shown as a result;
* existing checkpoints are only replaced with ``--overwrite``; ``--resume`` refuses a
  run whose stored settings differ from the command's, naming each difference;
* Ctrl-C says which epoch is safe and prints the command that resumes.

Optimisation: Adam (betas 0.9 and ``adam_beta2``), gradient norm clipped at ``grad_clip``, learning rate warmed up linearly for the first ``warmup`` steps,
then cosine-annealed to ``final_lr_ratio * lr`` at the last step::

    lr(t) = lr * t / warmup                                         t < warmup
    lr(t) = lr * (r + (1 - r) * (1 + cos(pi * (t - warmup) / (T - warmup))) / 2)   otherwise

The learning rate is a pure function of the global step, so resuming needs no
scheduler state. Crop ``i`` of epoch ``e`` is a pure function of ``(seed, e, i)``
(:class:`core.experiment.data.RandomCrops`), the model is initialised from ``torch.manual_seed(seed)``
and a resume state (fp32 weights + Adam moments) is kept beside the checkpoints until
a variant completes, so an interrupted run resumed with ``--resume`` gives the same
weights as an uninterrupted one.

Weights are stored in float16; the validation metrics of each epoch are computed on
the float16-rounded weights, i.e. on exactly the model that :func:`core.experiment.checkpoints.load_model`
returns.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
import torch.nn.functional as F
from safetensors import safe_open
from safetensors.torch import save as st_save
from tqdm import tqdm

from ..io.files import atomic_write_bytes
from ..io.text import plain
from ..upsamplers.fused import FusedResizeConv
from ..upsamplers.layers import ResizeConv
from .checkpoints import (
    FILE_RE,
    MAX_EPOCH,
    check_model_config,
    checkpoint_path,
    read_metadata,
    save_checkpoint,
    write_manifest,
)
from .data import DataSource, RandomCrops, default_source, folder_source
from .evaluation import collapse_problem, evaluate
from .history import HISTORY_NAME, history_row, read_history, write_history
from .models import FACTOR, VARIANTS, TransformNet, TransformNetConfig
from .runfolder import run_lock

RESUME_NAME = ".resume.safetensors"
#: Settings that change the result of a run: ``--resume`` refuses to mix them.
RESULT_SETTINGS = ("epochs", "crop_size", "crops_per_epoch", "batch_size", "lr", "warmup",
                   "final_lr_ratio", "seed", "width", "res_blocks", "colour_permute",
                   "grad_clip", "val_fraction", "adam_beta2")
#: Settings added after runs were already stored: a run that does not record one used this.
UNRECORDED_DEFAULTS = {"adam_beta2": 0.999}


#: Inclusive bounds of the run's integer settings, checked before any work (epochs: a
#: checkpoint reader refuses an epoch beyond MAX_EPOCH; crops: the sampler holds one
#: 8-byte index per crop).
TRAIN_BOUNDS = {"epochs": (1, MAX_EPOCH), "crops_per_epoch": (1, 1_000_000),
                "crop_size": (FACTOR, 1024), "batch_size": (1, 4096),
                "warmup": (0, 10**9), "collapse_min_steps": (0, 10**9),
                "seed": (0, 2**32 - 1)}  # numpy's generators take seeds in [0, 2^32)
#: Largest full-resolution feature map of one batch (batch x crop^2 x width x 4 bytes).
MAX_FEATURE_MAP_BYTES = 4 * 2**30


class TrainingError(ValueError):
    """A run that had to stop (non-finite loss, collapse, conflicting resume settings)."""


def keep_epoch(epoch: int, total: int, keep: str = "log") -> bool:
    """Is ``epoch`` stored as a checkpoint? ``keep="all"``: every epoch; ``"log"``: 0-3, 5,
    7, 10, 15, every 10th and the last (the gallery's Figure 5 steps, at ~11 files for
    40 epochs). Metrics of every epoch go to the history either way."""
    if keep == "all":
        return True
    return epoch <= 3 or epoch in (5, 7, 10, 15) or epoch % 10 == 0 or epoch == total


@dataclass(frozen=True)
class TrainConfig:
    """Everything a training run depends on (stored in every checkpoint's metadata)."""

    variants: tuple[str, ...] = tuple(VARIANTS)
    epochs: int = 40
    data: str | None = None  # None: the packaged photographs (core.experiment.data.default_source)
    crop_size: int = 64
    crops_per_epoch: int = 4000
    batch_size: int = 16  # global batch, split evenly across processes
    lr: float = 1e-3
    warmup: int = 200  # steps
    final_lr_ratio: float = 0.02
    seed: int = 0
    device: str = "auto"
    output: str = "checkpoints"
    resume: bool = False
    overwrite: bool = False
    width: int | None = None  # override every variant's width
    res_blocks: int | None = None  # override every variant's residual blocks
    val_fraction: float = 0.1  # for --data folders only
    colour_permute: bool = True  # random colour-channel order per crop (augmentation)
    grad_clip: float = 1.0  # max gradient norm (0: off)
    #: Adam's second-moment decay; 0.99 forgets old gradient scales faster than torch's
    #: 0.999, which keeps a sudden large gradient from becoming a huge step (loss spikes)
    adam_beta2: float = 0.99
    keep: str = "log"  # which epochs are stored: "log" (keep_epoch) or "all"
    fast_resize: bool = True  # train resize_nearest through FusedResizeConv (same maths)
    #: check for collapse from the first epoch that ends after this many steps (a model
    #: that has barely trained is also flat; a healthy one is far from it after ~200 steps)
    collapse_min_steps: int = 200

    def __post_init__(self) -> None:
        unknown = [v for v in self.variants if v not in VARIANTS]
        if unknown or not self.variants:
            raise ValueError(f"unknown variants {unknown}; known: {list(VARIANTS)}")
        if self.crop_size % FACTOR:  # its range, like every count's, is in TRAIN_BOUNDS
            raise ValueError(f"crop_size must be a multiple of {FACTOR}, got {self.crop_size}")
        if not self.lr > 0:
            raise ValueError(f"lr must be > 0, got {self.lr}")
        if self.device not in ("auto", "cpu", "cuda"):
            raise ValueError(f"device must be auto, cpu or cuda, got {self.device!r}")
        if self.grad_clip < 0 or not math.isfinite(self.grad_clip):
            raise ValueError(f"grad_clip must be >= 0, got {self.grad_clip}")
        if not 0 < self.adam_beta2 < 1:
            raise ValueError(f"adam_beta2 must be in (0, 1), got {self.adam_beta2}")
        if self.keep not in ("log", "all"):
            raise ValueError(f"keep must be 'log' or 'all', got {self.keep!r}")
        if self.resume and self.overwrite:
            raise ValueError("--resume and --overwrite exclude each other")
        self._check_sizes()

    def _check_sizes(self) -> None:
        """The bounds of :data:`TRAIN_BOUNDS` and the model settings of every variant
        (:func:`core.experiment.checkpoints.check_model_config`, the loader's own
        validator), before any work: a run never stores what the loader refuses."""
        for name, (lo, hi) in TRAIN_BOUNDS.items():
            value = getattr(self, name)
            if not lo <= value <= hi:
                raise ValueError(f"--{name.replace('_', '-')} must be from {lo:,} to {hi:,}, "
                                 f"got {value:,}")
        if not math.isfinite(self.lr) or not math.isfinite(self.final_lr_ratio):
            raise ValueError("--lr and --final-lr-ratio must be finite numbers")
        if not 0 <= self.final_lr_ratio <= 1:
            raise ValueError(f"--final-lr-ratio must be from 0 to 1, got {self.final_lr_ratio}")
        if not 0 <= self.val_fraction < 1:
            raise ValueError(f"--val-fraction must be at least 0 and below 1, got "
                             f"{self.val_fraction}")
        for variant in self.variants:
            try:
                config = check_model_config(self.model_config(variant).to_dict())
            except ValueError as exc:
                raise ValueError(f"{variant}: {exc} (the checkpoint loader would refuse "
                                 "every file of this run)") from None
            feature_map = self.batch_size * self.crop_size**2 * config.width * 4
            if feature_map > MAX_FEATURE_MAP_BYTES:
                raise ValueError(
                    f"{variant}: one full-resolution feature map of a batch would take "
                    f"{feature_map / 2**30:.1f} GiB (--batch-size x --crop-size^2 x width x 4 "
                    f"bytes), more than {MAX_FEATURE_MAP_BYTES / 2**30:.0f} GiB")

    def model_config(self, variant: str) -> TransformNetConfig:
        cfg = VARIANTS[variant]
        changes = {k: v for k, v in (("width", self.width), ("res_blocks", self.res_blocks))
                   if v is not None}
        return dataclasses.replace(cfg, **changes)


def lr_at(step: int, total: int, cfg: TrainConfig) -> float:
    """Learning rate at global step ``step`` of ``total`` (see the module docstring)."""
    warm = min(cfg.warmup, max(total // 10, 1))
    if step < warm:
        return cfg.lr * (step + 1) / warm
    frac = (step - warm) / max(total - warm, 1)
    r = cfg.final_lr_ratio
    return cfg.lr * (r + (1 - r) * 0.5 * (1 + math.cos(math.pi * min(frac, 1.0))))


# ----------------------------------------------------------------------------- resume state


def _save_resume(path: Path, model: TransformNet, opt: torch.optim.Optimizer, epoch: int,
                 info: dict[str, Any]) -> None:
    """fp32 weights + Adam state after ``epoch`` (safetensors; no pickle)."""
    tensors = {f"model.{k}": v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    sd = opt.state_dict()
    for idx, st in sd["state"].items():
        for name, val in st.items():
            t = val if torch.is_tensor(val) else torch.tensor(val)
            tensors[f"opt.{idx}.{name}"] = t.detach().cpu().contiguous()
    meta = {"epoch": epoch, "param_groups": sd["param_groups"], **info}
    data = st_save(tensors, metadata={"resume": json.dumps(meta)})
    atomic_write_bytes(path, data)


def _load_resume(path: Path, model: TransformNet, opt: torch.optim.Optimizer,
                 device: torch.device) -> dict[str, Any]:
    with safe_open(str(path), framework="pt") as f:  # one read: header and tensors
        meta = json.loads(f.metadata()["resume"])
        tensors = {key: f.get_tensor(key) for key in f.keys()}
    model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
    state: dict[int, dict[str, torch.Tensor]] = {}
    for key, val in tensors.items():
        if key.startswith("opt."):
            _, idx, name = key.split(".", 2)
            state.setdefault(int(idx), {})[name] = val if name == "step" else val.to(device)
    opt.load_state_dict({"state": state, "param_groups": meta["param_groups"]})
    return meta


# ----------------------------------------------------------------------------- training


def dist_info() -> tuple[int, int, int]:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    return world, rank, local


def _pick_device(name: str, local_rank: int) -> torch.device:
    if name == "cuda" or (name == "auto" and torch.cuda.is_available()):
        if not torch.cuda.is_available():
            raise ValueError("device 'cuda' requested but CUDA is not available")
        return torch.device("cuda", local_rank)
    return torch.device("cpu")


def _existing_epochs(folder: Path) -> list[int]:
    if not folder.is_dir():
        return []
    return sorted(int(m.group(1)) for f in folder.iterdir() if (m := FILE_RE.match(f.name)))


def _normalise(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def setting_differences(stored: dict[str, Any], cfg: TrainConfig, model_cfg: TransformNetConfig,
                        data: dict[str, Any]) -> list[str]:
    """The settings of a stored checkpoint's run (its metadata) that differ from ``cfg``,
    as ``"name: stored -> requested"`` strings (model config and data included)."""
    training = stored.get("training") or {}
    diffs = []
    for name in RESULT_SETTINGS:
        if name in ("width", "res_blocks"):
            continue  # compared through the model config
        old = training.get(name, UNRECORDED_DEFAULTS.get(name, "not recorded"))
        new = getattr(cfg, name)
        if _normalise(old) != _normalise(new):
            diffs.append(f"--{name.replace('_', '-')}: {old} -> {new}")
    if stored.get("epochs") != cfg.epochs and not any(d.startswith("--epochs") for d in diffs):
        diffs.append(f"--epochs: {stored.get('epochs')} -> {cfg.epochs}")
    if _normalise(stored.get("config")) != _normalise(model_cfg.to_dict()):
        diffs.append(f"model config: {stored.get('config')} -> {model_cfg.to_dict()}")
    if _normalise(stored.get("data")) != _normalise(data):
        diffs.append("data: the training/held-out images differ")
    return diffs


def _use_fused_resize(model: TransformNet) -> None:
    """Swap ``resize_nearest`` upsamplers for :class:`FusedResizeConv` in place: the same
    function and the same state-dict keys (checkpoints stay ``resize_nearest``), about
    twice as fast to train on a CPU (README, Upsamplers)."""
    for name in ("up1", "up2"):
        layer = getattr(model, name)
        if isinstance(layer, ResizeConv) and layer.mode == "nearest" \
                and layer.padding_mode == "zeros":
            conv = layer.conv
            fused = FusedResizeConv(conv.in_channels, conv.out_channels, layer.scale,
                                    layer.kernel_size, bias=conv.bias is not None)
            fused.load_state_dict(layer.state_dict())
            setattr(model, name, fused.to(conv.weight.device))


#: Where the current run stands (for the Ctrl-C message): variant -> last safe epoch.
PROGRESS: dict[str, int] = {}


def train_variant(variant: str, cfg: TrainConfig, source: DataSource, device: torch.device,
                  *, world: int = 1, rank: int = 0, log=print,
                  progress: bool = True) -> list[dict[str, Any]]:
    """Train one variant for ``cfg.epochs`` epochs, writing its checkpoints (rank 0 only).

    Returns the history rows of every epoch (rank 0; [] on other ranks). Raises
    :class:`TrainingError` on a non-finite loss, a collapsed model or a refused resume.
    """
    out = Path(cfg.output)
    vdir = out / variant
    resume_file = vdir / RESUME_NAME
    history_file = vdir / HISTORY_NAME
    model_cfg = cfg.model_config(variant)
    torch.manual_seed(cfg.seed)
    model = TransformNet(model_cfg).to(device)
    if cfg.fast_resize:
        _use_fused_resize(model)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, betas=(0.9, cfg.adam_beta2))
    data = RandomCrops(source.train.images, cfg.crop_size, cfg.crops_per_epoch, cfg.seed,
                       colour_permute=cfg.colour_permute, weights=source.weights)
    sampler = torch.utils.data.DistributedSampler(data, num_replicas=world, rank=rank,
                                                  shuffle=True, seed=cfg.seed)
    if cfg.batch_size % world:
        raise ValueError(f"batch_size {cfg.batch_size} must be divisible by the "
                         f"{world} processes")
    loader = torch.utils.data.DataLoader(data, batch_size=cfg.batch_size // world,
                                         sampler=sampler, num_workers=0)
    steps_per_epoch = math.ceil(len(sampler) / (cfg.batch_size // world))
    total_steps = steps_per_epoch * cfg.epochs
    run_info = {
        "variant": variant,
        "seed": cfg.seed,
        "epochs": cfg.epochs,
        "data": source.description,
        "training": {k: v for k, v in dataclasses.asdict(cfg).items()
                     if k not in ("variants", "output", "resume", "overwrite", "device")}
        | {"world_size": world, "loss": "mse", "optimizer": "adam",
           "schedule": "linear warmup + cosine", "torch": torch.__version__},
    }

    # --- where to start -------------------------------------------------------------
    start = 0
    history: list[dict[str, Any]] = []
    existing = _existing_epochs(vdir)
    if existing and not (cfg.resume or cfg.overwrite):
        raise TrainingError(f"{vdir} already holds checkpoints (epochs {existing[0]}-"
                            f"{existing[-1]}); pass --resume to continue or --overwrite to "
                            "replace them")
    if cfg.resume and existing:
        stored = read_metadata(checkpoint_path(out, variant, existing[-1]))
        diffs = setting_differences(stored, cfg, model_cfg, source.description)
        if diffs:
            raise TrainingError(
                f"{vdir}: --resume asks for other settings than the stored run ("
                + "; ".join(diffs) + "). Rerun with the stored settings, pass --overwrite "
                "to retrain from scratch, or choose another --output")
        if existing[-1] == cfg.epochs:
            log(f"[{variant}] complete (epochs 0-{existing[-1]}), skipped")
            if rank == 0:
                return _repaired_history(out, variant, existing, read_history(history_file),
                                         cfg.epochs + 1)
            return []
        if not resume_file.exists():
            raise TrainingError(
                f"{vdir} holds epochs {existing[0]}-{existing[-1]} of {cfg.epochs} but no "
                f"resume state ({RESUME_NAME}: optimiser moments, kept until a variant "
                "completes), so it cannot continue exactly; pass --overwrite to retrain it")
        meta = _load_resume(resume_file, model, opt, device)
        start = int(meta["epoch"]) + 1
        if meta.get("config") != model_cfg.to_dict() or meta.get("seed") != cfg.seed:
            raise TrainingError(f"{resume_file}: saved with a different model config or "
                                "seed; use --overwrite to start over")
        history = _repaired_history(out, variant, existing, read_history(history_file),
                                    start, write=rank == 0)
        log(f"[{variant}] resuming after epoch {start - 1}")
    if cfg.overwrite and rank == 0:
        for e in existing:
            checkpoint_path(out, variant, e).unlink()
        resume_file.unlink(missing_ok=True)
        history_file.unlink(missing_ok=True)

    net: torch.nn.Module = model
    if world > 1:
        net = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None)

    def finish_epoch(epoch: int, extra: dict[str, Any]) -> None:
        if rank == 0:
            metrics = evaluate(model, source.validation, device, source.unseen) | extra
            checked = epoch > 0 and epoch * steps_per_epoch >= cfg.collapse_min_steps
            problem = collapse_problem(metrics) if checked else None
            if problem:
                raise TrainingError(
                    f"[{variant}] collapsed at epoch {epoch}: {problem}. Not stored. Lower "
                    f"--lr (now {cfg.lr:g}), keep --grad-clip on, or try another --seed; "
                    f"epochs up to {epoch - 1} are intact")
            stored = keep_epoch(epoch, cfg.epochs, cfg.keep)
            # The history first, the resume state last: a kill between any two writes
            # leaves a resume state at most as new as the history, so --resume redoes
            # the epoch and rewrites its row; no epoch's row is ever lost.
            history.append(history_row(epoch, stored, metrics))
            write_history(history_file, history)
            if stored:
                save_checkpoint(checkpoint_path(out, variant, epoch), model,
                                {**run_info, "epoch": epoch, "metrics": metrics})
            if epoch < cfg.epochs:
                _save_resume(resume_file, model, opt, epoch,
                             {"config": model_cfg.to_dict(), "seed": cfg.seed})
            PROGRESS[variant] = epoch  # from here on, --resume continues after this epoch
            if stored:
                write_manifest(out)
            unseen = (f"  unseen {metrics['unseen_psnr']:.2f} dB"
                      if "unseen_psnr" in metrics else "")
            log(f"[{variant}] epoch {epoch:2d}  loss {extra['train_loss']:.5f}  "
                f"PSNR {metrics['val_psnr']:.2f} dB{unseen}  SSIM {metrics['val_ssim']:.3f}  "
                f"checkerboard {metrics['checkerboard'] * 1e3:.3f}e-3  "
                f"imbalance {metrics['imbalance_up1']:.3f}/{metrics['imbalance_up2']:.3f}  "
                f"({extra['epoch_seconds']:.1f} s, {extra['images_per_s']:.0f} img/s)"
                + ("" if stored else "  [not stored]"))
        if world > 1:
            dist.barrier()

    if start == 0:
        finish_epoch(0, {"train_loss": float("nan"), "epoch_seconds": 0.0,
                         "images_per_s": float("nan"), "lr": 0.0})
        start = 1

    for epoch in range(start, cfg.epochs + 1):
        net.train()
        data.set_epoch(epoch)
        sampler.set_epoch(epoch)
        t0 = time.perf_counter()
        loss_sum = torch.zeros((), device=device, dtype=torch.float64)
        count = torch.zeros((), device=device, dtype=torch.float64)
        bar = tqdm(total=cfg.crops_per_epoch, unit="img", desc=f"{variant} {epoch}/{cfg.epochs}",
                   disable=rank != 0 or not progress, mininterval=1.0, leave=False,
                   file=sys.stderr)
        step = (epoch - 1) * steps_per_epoch
        for batch in loader:
            x = batch.to(device, non_blocking=True)  # (n, 3, crop, crop)
            lr = lr_at(step, total_steps, cfg)
            for group in opt.param_groups:
                group["lr"] = lr
            loss = F.mse_loss(net(x), x)  # pixel loss: reconstruct the input
            value = loss.item()
            if not math.isfinite(value):
                bar.close()
                raise TrainingError(
                    f"[{variant}] the loss became {value} at epoch {epoch}, step {step} "
                    f"(lr {lr:.3g}): training diverged. Nothing of epoch {epoch} was stored; "
                    f"lower --lr (now {cfg.lr:g}) or keep --grad-clip on (now {cfg.grad_clip:g})")
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.grad_clip > 0:
                norm = torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
                if not torch.isfinite(norm):
                    bar.close()
                    raise TrainingError(
                        f"[{variant}] a non-finite gradient at epoch {epoch}, step {step} "
                        f"(lr {lr:.3g}): training diverged; lower --lr (now {cfg.lr:g})")
            opt.step()
            step += 1
            loss_sum += loss.detach().double() * x.shape[0]
            count += x.shape[0]
            bar.update(x.shape[0] * world)
            rate = bar.format_dict["n"] / max(time.perf_counter() - t0, 1e-9)
            bar.set_postfix(loss=f"{value:.4f}", img_s=f"{rate:.0f}", refresh=False)
        bar.close()
        if world > 1:
            dist.all_reduce(loss_sum)
            dist.all_reduce(count)
        seconds = time.perf_counter() - t0
        finish_epoch(epoch, {"train_loss": float(loss_sum / count), "epoch_seconds": seconds,
                             "images_per_s": float(count) / seconds, "lr": lr})
    if rank == 0:
        resume_file.unlink(missing_ok=True)
    return history


def _repaired_history(out: Path, variant: str, existing: list[int],
                      rows: list[dict[str, Any]], before: int, *,
                      write: bool = True) -> list[dict[str, Any]]:
    """The history rows of epochs below ``before``, with a row rebuilt from the
    checkpoint's own metadata for every stored epoch the file lacks (a run killed
    between writes by an older version); rewritten when a row was added."""
    kept = [r for r in rows if int(r["epoch"]) < before]
    have = {int(r["epoch"]) for r in kept}
    added = []
    for epoch in existing:
        if epoch < before and epoch not in have:
            meta = read_metadata(checkpoint_path(out, variant, epoch))
            metrics = meta.get("metrics") if isinstance(meta.get("metrics"), dict) else {}
            added.append(history_row(epoch, True, metrics))
    if not added:
        return kept
    kept = sorted(kept + added, key=lambda r: int(r["epoch"]))
    if write:
        write_history(out / variant / HISTORY_NAME, kept)
    return kept


def run(cfg: TrainConfig, *, log=print, progress: bool = True) -> dict[str, list[dict[str, Any]]]:
    """Train every variant of ``cfg`` (in the order given); DDP when WORLD_SIZE > 1."""
    world, rank, local = dist_info()
    device = _pick_device(cfg.device, local)
    if world > 1 and not dist.is_initialized():
        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    if rank != 0:
        log = _silent  # noqa: F811 - only rank 0 talks
    try:
        if cfg.data is None:
            source = default_source()
        else:
            source = folder_source(cfg.data, crop_size=cfg.crop_size,
                                   val_fraction=cfg.val_fraction)
        log(f"data: {plain(source.description.get('source'))}: {len(source.train.images)} "
            "training "
            f"images, {len(source.validation)} held out, "
            f"{source.description.get('skipped', 0)} skipped; device {device}, {world} process(es)")
        skipped_files = source.description.get("skipped_files", {})
        for name, reason in skipped_files.items():
            log(f"  skipped {plain(name, 200)}: {plain(reason)}")
        if source.description.get("skipped", 0) > len(skipped_files):
            log(f"  ... and {source.description['skipped'] - len(skipped_files)} more skipped")
        if source.description.get("warning"):
            log(f"WARNING: {plain(source.description['warning'], 2000)}")
        results = {}
        t0 = time.perf_counter()
        # One training per output folder (rank 0 holds it for every process of a DDP run).
        with run_lock(cfg.output) if rank == 0 else contextlib.nullcontext():
            if world > 1:
                dist.barrier()
            for variant in cfg.variants:
                results[variant] = train_variant(variant, cfg, source, device, world=world,
                                                 rank=rank, log=log, progress=progress)
        log(f"total {time.perf_counter() - t0:.0f} s")
        return results
    finally:
        if world > 1 and dist.is_initialized():
            dist.destroy_process_group()


def _silent(*_args, **_kwargs) -> None:
    return None


