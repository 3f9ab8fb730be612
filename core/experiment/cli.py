"""The command line of training (``python -m core.train``) and its process pool
(``--jobs N`` trains one variant per process).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time

import torch

from ..io.text import plain
from .checkpoints import (
    write_manifest,
)
from .models import VARIANTS
from .runfolder import check_output_folder, held_env, run_lock
from .train import PROGRESS, TrainConfig, dist_info, run


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
    p.add_argument("--grad-clip", type=float, default=d.grad_clip,
                   help="clip the gradient norm at this value (0: off)")
    p.add_argument("--adam-beta2", type=float, default=d.adam_beta2,
                   help="Adam's second-moment decay (beta2)")
    p.add_argument("--keep", choices=["log", "all"], default=d.keep,
                   help="stored epochs: 'log' = 0-3, 5, 7, 10, 15, every 10th and the last; "
                        "'all' = every epoch (metrics of every epoch go to history.csv anyway)")
    p.add_argument("--fast-resize", action=argparse.BooleanOptionalAction, default=d.fast_resize,
                   help="train resize_nearest through the fused layer (identical maths, faster)")
    p.add_argument("--collapse-min-steps", type=int, default=d.collapse_min_steps,
                   help="check for a collapsed (flat-output) model from the first epoch that "
                        "ends after this many optimiser steps")
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
            colour_permute=a.colour_permute, grad_clip=a.grad_clip, keep=a.keep,
            adam_beta2=a.adam_beta2,
            fast_resize=a.fast_resize, collapse_min_steps=a.collapse_min_steps)
    except ValueError as exc:  # one line, exit status 2, before any work
        print(f"{p.prog}: error: {plain(exc, 2000)}", file=sys.stderr)
        raise SystemExit(2) from None


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
        if f.name in ("colour_permute", "fast_resize"):  # --x / --no-x
            argv += [flag if value else "--no-" + flag[2:]]
        elif isinstance(value, bool):
            argv += [flag] if value else []
        else:
            argv += [flag, str(value)]
    return argv


def _run_queue(cfg: TrainConfig, queue: list[str], running: dict, codes: dict[str, int],
               jobs: int, per: int, env: dict[str, str], t0: float) -> None:
    """Start one child per variant of ``queue``, ``jobs`` at a time, until all have ended."""
    import subprocess

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
    env = {**os.environ, "OMP_NUM_THREADS": str(per), "PYTHONUNBUFFERED": "1",
           **held_env(cfg.output)}  # the children write under this process's lock
    t0 = time.perf_counter()
    queue = list(cfg.variants)
    running: dict[str, subprocess.Popen] = {}
    codes: dict[str, int] = {}
    try:
        with run_lock(cfg.output):
            _run_queue(cfg, queue, running, codes, jobs, per, env, t0)
    except KeyboardInterrupt:
        # Ctrl-C reaches every process of the terminal's group: each child reports which
        # of its epochs is safe; wait for them so their messages come before ours.
        for child in running.values():
            try:
                child.wait(timeout=30)
            except subprocess.TimeoutExpired:
                child.kill()
        raise
    if all(c == 0 for c in codes.values()):
        write_manifest(cfg.output)
    print(f"all jobs done in {time.perf_counter() - t0:.0f} s (exit codes {codes})", flush=True)
    failed = [v for v, c in codes.items() if c != 0]
    if failed:
        print(f"error: {', '.join(failed)} did not finish (see their messages above)",
              file=sys.stderr, flush=True)
    return max(codes.values(), default=0)


def resume_command(cfg: TrainConfig, jobs: int = 1) -> str:
    """The shell command that continues ``cfg``'s run where it stopped."""
    import shlex

    argv = config_to_argv(dataclasses.replace(cfg, resume=True, overwrite=False))
    argv += ["--jobs", str(jobs)] if jobs > 1 else []
    return "python -m core.train " + " ".join(shlex.quote(a) for a in argv)


def main(argv: list[str] | None = None) -> int:
    p = _parser()
    a = p.parse_args(argv)
    cfg = _config_from(a, p)
    if not 1 <= a.jobs <= 256:
        p.error(f"--jobs must be from 1 to 256, got {a.jobs}")
    if a.threads is not None and not 1 <= a.threads <= 1024:
        p.error(f"--threads must be from 1 to 1,024, got {a.threads}")
    try:  # every argument is checked before anything is written
        check_output_folder(cfg.output)
    except ValueError as exc:
        print(f"{p.prog}: error: {plain(exc, 2000)}", file=sys.stderr)
        return 2
    if a.threads is not None:
        torch.set_num_threads(max(1, a.threads))
    try:
        if a.jobs > 1 and dist_info()[0] == 1:
            return run_jobs(cfg, a.jobs, a.threads)
        run(cfg, progress=not a.no_progress)
    except ValueError as exc:  # TrainingError included
        print(f"error: {plain(exc, 4000)}", file=sys.stderr)
        return 2
    except OSError as exc:  # a disk full, a folder removed under the run: one line
        where = f" ({plain(exc.filename, 300)})" if getattr(exc, "filename", None) else ""
        print(f"error: {plain(exc.strerror or exc)}{where}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        if a.jobs > 1:
            safe = "each training process above says which of its epochs is saved"
        else:
            safe = "saved and safe: " + (", ".join(f"{v} after epoch {e}"
                                                   for v, e in PROGRESS.items())
                                         or "no complete epoch yet")
        print(f"\ninterrupted (Ctrl-C); {safe}; the epoch in progress is lost.\n"
              f"Continue with:\n  {resume_command(cfg, a.jobs)}", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
