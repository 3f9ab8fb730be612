"""Train transformation networks with a pixel (MSE) loss, one per upsampler variant.

One command regenerates the shipped experiment (see checkpoints/README.md)::

    python -m core.train --output checkpoints

Other uses::

    python -m core.train --variants deconv3 resize_nearest --epochs 3 --data ~/photos \\
        --output runs/mine
    python -m core.train --output checkpoints --resume          # after an interruption
    torchrun --nproc_per_node 2 -m core.train --output runs/ddp # DDP: gloo on CPU, nccl on GPU

For each variant it saves epoch 0 (the initialisation) and every epoch as a
self-describing safetensors file (:mod:`core.checkpoints`), records per epoch the
training loss, the validation PSNR/SSIM (``skimage.metrics``) and the checkerboard
score (:func:`core.metrics.checkerboard_score`, period 4 = the two stride-2
upsamplers) on the held-out images, and rewrites ``<output>/manifest.csv``.

Optimisation: Adam, learning rate warmed up linearly for the first ``warmup`` steps,
then cosine-annealed to ``final_lr_ratio * lr`` at the last step::

    lr(t) = lr * t / warmup                                         t < warmup
    lr(t) = lr * (r + (1 - r) * (1 + cos(pi * (t - warmup) / (T - warmup))) / 2)   otherwise

The learning rate is a pure function of the global step, so resuming needs no
scheduler state. Crop ``i`` of epoch ``e`` is a pure function of ``(seed, e, i)``
(:class:`core.data.RandomCrops`), the model is initialised from ``torch.manual_seed(seed)``
and a resume state (fp32 weights + Adam moments) is kept beside the checkpoints until
a variant completes, so an interrupted run resumed with ``--resume`` gives the same
weights as an uninterrupted one.

Weights are stored in float16; the validation metrics of each epoch are computed on
the float16-rounded weights, i.e. on exactly the model that :func:`core.checkpoints.load_model`
returns.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import json
import math
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save
from skimage.metrics import peak_signal_noise_ratio, structural_similarity
from tqdm import tqdm

from core.checkpoints import (
    FILE_RE,
    atomic_write_bytes,
    checkpoint_path,
    read_metadata,
    save_checkpoint,
    write_manifest,
)
from core.data import DataSource, RandomCrops, default_source, folder_source
from core.metrics import checkerboard_score
from core.models import FACTOR, VARIANTS, TransformNet, TransformNetConfig

RESUME_NAME = ".resume.safetensors"


@dataclass(frozen=True)
class TrainConfig:
    """Everything a training run depends on (stored in every checkpoint's metadata)."""

    variants: tuple[str, ...] = tuple(VARIANTS)
    epochs: int = 10
    data: str | None = None  # None: scikit-image's colour photographs
    crop_size: int = 64
    crops_per_epoch: int = 2000
    batch_size: int = 16  # global batch, split evenly across processes
    lr: float = 2e-3
    warmup: int = 100  # steps
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

    def __post_init__(self) -> None:
        unknown = [v for v in self.variants if v not in VARIANTS]
        if unknown or not self.variants:
            raise ValueError(f"unknown variants {unknown}; known: {list(VARIANTS)}")
        for name in ("epochs", "crops_per_epoch", "batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.crop_size < FACTOR or self.crop_size % FACTOR:
            raise ValueError(f"crop_size must be a positive multiple of {FACTOR}, "
                             f"got {self.crop_size}")
        if not self.lr > 0:
            raise ValueError(f"lr must be > 0, got {self.lr}")
        if self.device not in ("auto", "cpu", "cuda"):
            raise ValueError(f"device must be auto, cpu or cuda, got {self.device!r}")
        if self.resume and self.overwrite:
            raise ValueError("--resume and --overwrite exclude each other")

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


# ----------------------------------------------------------------------------- evaluation


def to_image(t: torch.Tensor) -> np.ndarray:
    """(3, H, W) tensor -> float64 (H, W, 3) array."""
    return t.detach().to("cpu", torch.float64).permute(1, 2, 0).numpy()


@torch.no_grad()
def evaluate(model: TransformNet, images: dict[str, np.ndarray],
             device: torch.device) -> dict[str, Any]:
    """PSNR, SSIM and checkerboard score (period 4) of ``model`` on each image, and means.

    ``model`` is evaluated as stored: weights rounded to float16, then float32, eval mode.
    """
    rounded = copy.deepcopy(model).to("cpu")
    rounded.load_state_dict({k: v.half().float() for k, v in rounded.state_dict().items()})
    rounded = rounded.to(device).eval()
    per: dict[str, dict[str, float]] = {}
    for name, img in images.items():
        x = torch.from_numpy(np.ascontiguousarray(img, dtype=np.float32))
        x = x.permute(2, 0, 1)[None].to(device)  # (1, 3, H, W)
        y = to_image(rounded(x)[0])  # (H, W, 3) in [0, 1]
        ref = img.astype(np.float64)
        per[name] = {
            "psnr": float(peak_signal_noise_ratio(ref, y, data_range=1.0)),
            "ssim": float(structural_similarity(ref, y, channel_axis=2, data_range=1.0)),
            "checkerboard": float(checkerboard_score(y, FACTOR)),
        }
    mean = {k: float(np.mean([p[k] for p in per.values()])) if per else float("nan")
            for k in ("psnr", "ssim", "checkerboard")}
    return {"val_psnr": mean["psnr"], "val_ssim": mean["ssim"],
            "checkerboard": mean["checkerboard"], "per_image": per}


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
    data = path.read_bytes()
    tensors = st_load(data)
    (n,) = np.frombuffer(data[:8], dtype="<u8")
    meta = json.loads(json.loads(data[8 : 8 + int(n)])["__metadata__"]["resume"])
    model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
    state: dict[int, dict[str, torch.Tensor]] = {}
    for key, val in tensors.items():
        if key.startswith("opt."):
            _, idx, name = key.split(".", 2)
            state.setdefault(int(idx), {})[name] = val if name == "step" else val.to(device)
    opt.load_state_dict({"state": state, "param_groups": meta["param_groups"]})
    return meta


# ----------------------------------------------------------------------------- training


def _dist_info() -> tuple[int, int, int]:
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


def train_variant(variant: str, cfg: TrainConfig, source: DataSource, device: torch.device,
                  *, world: int = 1, rank: int = 0, log=print,
                  progress: bool = True) -> list[dict[str, Any]]:
    """Train one variant for ``cfg.epochs`` epochs, writing its checkpoints (rank 0 only).

    Returns the metrics of every epoch written or found (rank 0; [] on other ranks).
    """
    out = Path(cfg.output)
    vdir = out / variant
    resume_file = vdir / RESUME_NAME
    model_cfg = cfg.model_config(variant)
    torch.manual_seed(cfg.seed)
    model = TransformNet(model_cfg).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    data = RandomCrops(source.train.images, cfg.crop_size, cfg.crops_per_epoch, cfg.seed,
                       colour_permute=cfg.colour_permute)
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
    existing = _existing_epochs(vdir)
    if existing and not (cfg.resume or cfg.overwrite):
        raise ValueError(f"{vdir} already holds checkpoints (epochs {existing[0]}-"
                         f"{existing[-1]}); pass --resume to continue or --overwrite")
    if cfg.resume and existing:
        if resume_file.exists():
            meta = _load_resume(resume_file, model, opt, device)
            start = int(meta["epoch"]) + 1
            if meta.get("config") != model_cfg.to_dict() or meta.get("seed") != cfg.seed:
                raise ValueError(f"{resume_file}: saved with a different model config or seed; "
                                 "use --overwrite to start over")
            log(f"[{variant}] resuming after epoch {start - 1}")
        elif existing[-1] >= cfg.epochs and 0 in existing:
            log(f"[{variant}] complete (epochs 0-{existing[-1]}), skipped")
            return [read_metadata(checkpoint_path(out, variant, e))["metrics"]
                    for e in existing if e <= cfg.epochs] if rank == 0 else []
        else:
            log(f"[{variant}] no resume state; starting over")
    if cfg.overwrite and rank == 0:
        for e in existing:
            checkpoint_path(out, variant, e).unlink()
        resume_file.unlink(missing_ok=True)

    net: torch.nn.Module = model
    if world > 1:
        net = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None)

    history: list[dict[str, Any]] = []

    def finish_epoch(epoch: int, extra: dict[str, Any]) -> None:
        if rank == 0:
            metrics = evaluate(model, source.validation, device) | extra
            save_checkpoint(checkpoint_path(out, variant, epoch), model,
                            {**run_info, "epoch": epoch, "metrics": metrics})
            if epoch < cfg.epochs:
                _save_resume(resume_file, model, opt, epoch,
                             {"config": model_cfg.to_dict(), "seed": cfg.seed})
            write_manifest(out)
            history.append(metrics)
            log(f"[{variant}] epoch {epoch:2d}  loss {extra['train_loss']:.5f}  "
                f"PSNR {metrics['val_psnr']:.2f} dB  SSIM {metrics['val_ssim']:.3f}  "
                f"checkerboard {metrics['checkerboard']:.4g}  "
                f"({extra['epoch_seconds']:.1f} s, {extra['images_per_s']:.0f} img/s)")
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
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
            loss_sum += loss.detach().double() * x.shape[0]
            count += x.shape[0]
            bar.update(x.shape[0] * world)
            rate = bar.format_dict["n"] / max(time.perf_counter() - t0, 1e-9)
            bar.set_postfix(loss=f"{loss.item():.4f}", img_s=f"{rate:.0f}", refresh=False)
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


def run(cfg: TrainConfig, *, log=print, progress: bool = True) -> dict[str, list[dict[str, Any]]]:
    """Train every variant of ``cfg`` (in the order given); DDP when WORLD_SIZE > 1."""
    world, rank, local = _dist_info()
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
        log(f"data: {source.description.get('source')}: {len(source.train.images)} training "
            f"images, {len(source.validation)} held out, "
            f"{source.description.get('skipped', 0)} skipped; device {device}, {world} process(es)")
        results = {}
        t0 = time.perf_counter()
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


def _parser() -> argparse.ArgumentParser:
    d = TrainConfig()
    p = argparse.ArgumentParser(prog="python -m core.train", description=__doc__.split("\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--variants", nargs="+", default=["all"],
                   help=f"variants to train (space or comma separated), or 'all': {list(VARIANTS)}")
    p.add_argument("--epochs", type=int, default=d.epochs)
    p.add_argument("--data", default=None,
                   help="folder of images (recursive); default: scikit-image's photographs")
    p.add_argument("--crop-size", type=int, default=d.crop_size)
    p.add_argument("--crops-per-epoch", type=int, default=d.crops_per_epoch)
    p.add_argument("--batch-size", type=int, default=d.batch_size,
                   help="global batch size (split across processes)")
    p.add_argument("--lr", type=float, default=d.lr, help="peak learning rate (Adam)")
    p.add_argument("--warmup", type=int, default=d.warmup, help="warm-up steps")
    p.add_argument("--final-lr-ratio", type=float, default=d.final_lr_ratio)
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], default=d.device)
    p.add_argument("--output", default=d.output, help="output folder")
    p.add_argument("--resume", action="store_true", help="continue from the last complete epoch")
    p.add_argument("--overwrite", action="store_true", help="delete existing checkpoints first")
    p.add_argument("--width", type=int, default=None, help="override every variant's width")
    p.add_argument("--res-blocks", type=int, default=None)
    p.add_argument("--val-fraction", type=float, default=d.val_fraction,
                   help="share of a --data folder held out for validation")
    p.add_argument("--colour-permute", action=argparse.BooleanOptionalAction,
                   default=d.colour_permute,
                   help="shuffle the colour channels of each training crop")
    p.add_argument("--jobs", type=int, default=1,
                   help="train the variants in this many parallel processes, one variant per "
                        "process (CPU; not with torchrun); each gets cores/jobs torch threads "
                        "unless --threads")
    p.add_argument("--threads", type=int, default=None, help="torch threads per process")
    p.add_argument("--no-progress", action="store_true", help="no tqdm bars (log lines only)")
    return p


def _config_from(a: argparse.Namespace, p: argparse.ArgumentParser) -> TrainConfig:
    names = [n for item in a.variants for n in item.split(",") if n]
    variants = tuple(VARIANTS) if names == ["all"] else tuple(names)
    try:
        return TrainConfig(
            variants=variants, epochs=a.epochs, data=a.data, crop_size=a.crop_size,
            crops_per_epoch=a.crops_per_epoch, batch_size=a.batch_size, lr=a.lr,
            warmup=a.warmup, final_lr_ratio=a.final_lr_ratio, seed=a.seed, device=a.device,
            output=a.output, resume=a.resume, overwrite=a.overwrite, width=a.width,
            res_blocks=a.res_blocks, val_fraction=a.val_fraction,
            colour_permute=a.colour_permute)
    except ValueError as exc:
        p.error(str(exc))
        raise  # unreachable: p.error exits


def parse_args(argv: list[str] | None = None) -> TrainConfig:
    """The :class:`TrainConfig` that ``python -m core.train <argv>`` would use."""
    p = _parser()
    return _config_from(p.parse_args(argv), p)


def config_to_argv(cfg: TrainConfig) -> list[str]:
    """Command-line arguments that :func:`parse_args` turns back into ``cfg``."""
    argv = ["--variants", *cfg.variants]
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        flag = "--" + f.name.replace("_", "-")
        if f.name == "variants" or value is None:
            continue
        if f.name == "colour_permute":  # --colour-permute / --no-colour-permute
            argv += [flag if value else "--no-colour-permute"]
        elif isinstance(value, bool):
            argv += [flag] if value else []
        else:
            argv += [flag, str(value)]
    return argv


def run_jobs(cfg: TrainConfig, jobs: int, threads: int | None) -> int:
    """Train each variant of ``cfg`` in its own child process, ``jobs`` at a time; then
    rewrite the manifest once all are done.

    A child starts as soon as a slot frees up, so variants of different cost share the
    cores evenly. On an idle 2-core CPU two single-threaded processes train as fast as
    one two-threaded process (benchmarks/training.py); when other programs share the
    CPU they suffer far less (measured: 40-90 img/s per process against 10-20 img/s for
    one two-threaded process), since a thread pool waits for its slowest thread.
    """
    import subprocess

    per = threads or max(1, (os.cpu_count() or 1) // jobs)
    env = {**os.environ, "OMP_NUM_THREADS": str(per), "PYTHONUNBUFFERED": "1"}
    t0 = time.perf_counter()
    queue = list(cfg.variants)
    running: dict[str, subprocess.Popen] = {}
    codes: dict[str, int] = {}
    while queue or running:
        while queue and len(running) < jobs:
            variant = queue.pop(0)
            argv = [sys.executable, "-m", "core.train",
                    *config_to_argv(dataclasses.replace(cfg, variants=(variant,))),
                    "--threads", str(per), "--no-progress"]
            print(f"job: {variant} ({per} thread(s)) at {time.perf_counter() - t0:.0f} s",
                  flush=True)
            running[variant] = subprocess.Popen(argv, env=env)
        time.sleep(0.2)
        for variant, child in list(running.items()):
            if child.poll() is not None:
                codes[variant] = child.returncode
                del running[variant]
    if all(c == 0 for c in codes.values()):
        write_manifest(cfg.output)
    print(f"all jobs done in {time.perf_counter() - t0:.0f} s (exit codes {codes})", flush=True)
    return max(codes.values(), default=0)


def main(argv: list[str] | None = None) -> int:
    p = _parser()
    a = p.parse_args(argv)
    cfg = _config_from(a, p)
    if a.jobs < 1:
        p.error(f"--jobs must be >= 1, got {a.jobs}")
    if a.threads is not None:
        torch.set_num_threads(max(1, a.threads))
    try:
        if a.jobs > 1 and _dist_info()[0] == 1:
            return run_jobs(cfg, a.jobs, a.threads)
        run(cfg, progress=not a.no_progress)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
