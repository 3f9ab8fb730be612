"""Collapse and loss-spike probe: did any training run collapse or spike?

    .venv/bin/python benchmarks/collapse_probe.py checkpoints runs/r2_s1 runs/r2_s2 ...

Reads every ``<folder>/<variant>/history.csv`` and the metadata of that variant's last
stored checkpoint (its seed, learning rate, Adam beta2, epochs, crops), and reports per
run: the final PSNR on the held-out photographs and on the unseen photograph, the lowest
output contrast from epoch 1 on (``core.train`` stops a run under
``COLLAPSE_CONTRAST``), and the largest loss spike: the highest ratio of an epoch's mean
training loss to the lowest mean loss of the epochs before it (a healthy run stays near
1; the lr 1e-3 / beta2 0.999 run of ``resize_nearest`` reached 1200). A run "spiked" when
that ratio exceeds ``SPIKE_RATIO``.

Prints a table and writes benchmarks/results/collapse_probe.json. Nothing is trained
here: the runs are made with ``python -m core.train`` (the command is in the JSON).
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks._common import print_table, write_results  # noqa: E402
from core.experiment.checkpoints import list_checkpoints, read_metadata  # noqa: E402
from core.experiment.evaluation import COLLAPSE_CONTRAST  # noqa: E402
from core.experiment.history import read_history  # noqa: E402
from core.experiment.train import UNRECORDED_DEFAULTS  # noqa: E402

#: an epoch whose mean loss is this many times the best earlier epoch's is a spike
SPIKE_RATIO = 10.0
#: the first release trained 10 epochs x 2000 crops
FIRST_RELEASE_CROPS = 20_000


def _finite(value: object) -> float | None:
    try:
        v = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def max_spike(losses: list[float | None]) -> float:
    """Largest ratio of a loss to the lowest loss before it (1.0 when never above)."""
    best, worst = math.inf, 1.0
    for loss in losses:
        if loss is None:
            continue
        if math.isfinite(best):
            worst = max(worst, loss / best)
        best = min(best, loss)
    return worst


def summarise(folder: Path) -> list[dict]:
    """One row per variant of a run folder that has a history."""
    rows = []
    ckpts = list_checkpoints(folder)
    ckpts = ckpts[ckpts["ok"]] if len(ckpts) else ckpts
    for hist_path in sorted(folder.glob("*/history.csv")):
        variant = hist_path.parent.name
        hist = [r for r in read_history(hist_path) if int(r["epoch"]) >= 0]
        if not hist:
            continue
        mine = ckpts[ckpts["variant"] == variant] if len(ckpts) else ckpts
        if not len(mine):
            continue
        meta = read_metadata(mine.sort_values("epoch")["path"].iloc[-1])
        training = meta.get("training") or {}
        trained = [r for r in hist if int(r["epoch"]) >= 1]
        contrasts = [c for c in (_finite(r.get("contrast")) for r in trained) if c is not None]
        last = hist[-1]
        epochs = int(meta.get("epochs", 0))
        crops = int(training.get("crops_per_epoch", 0)) * epochs
        spike = max_spike([_finite(r.get("train_loss")) for r in trained])
        low = min(contrasts) if contrasts else float("nan")
        rows.append({
            "folder": str(folder),
            "variant": variant,
            "seed": meta.get("seed"),
            "lr": training.get("lr"),
            "adam_beta2": training.get("adam_beta2", UNRECORDED_DEFAULTS["adam_beta2"]),
            "epochs": epochs,
            "epochs_done": int(last["epoch"]),
            "finished": int(last["epoch"]) >= epochs,
            "crops": crops,
            "x_first_release_length": round(crops / FIRST_RELEASE_CROPS, 1),
            "final_val_psnr": round(float(last["val_psnr"]), 2),
            "final_unseen_psnr": round(float(last["unseen_psnr"]), 2),
            "min_contrast_from_epoch_1": round(low, 3),
            "max_loss_spike": round(spike, 1),
            "collapsed": bool(low < COLLAPSE_CONTRAST),
            "spiked": bool(spike > SPIKE_RATIO),
        })
    return rows


COLUMNS = ["folder", "variant", "seed", "lr", "adam_beta2", "epochs_done", "final_val_psnr",
           "final_unseen_psnr", "min_contrast_from_epoch_1", "max_loss_spike", "collapsed",
           "spiked"]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("folders", nargs="+", help="run folders (python -m core.train --output)")
    p.add_argument("--name", default="collapse_probe", help="results file name")
    p.add_argument("--all", action="store_true",
                   help="also list runs that were stopped before their last epoch")
    a = p.parse_args(argv)
    rows = [row for f in a.folders for row in summarise(Path(f)) if a.all or row["finished"]]
    if not rows:
        print("no run with a history and a stored checkpoint in", a.folders)
        return 1
    print_table(rows, COLUMNS)
    path = write_results(
        a.name, rows,
        command="python -m core.train --variants V --seed S --output runs/... "
                "(the experiment's defaults otherwise); checkpoints/ = the shipped seed-0 run",
        collapse_rule=f"output contrast < {COLLAPSE_CONTRAST:.0%} of the held-out "
                      "photographs' (core.experiment.train.COLLAPSE_CONTRAST)",
        spike_rule=f"an epoch's mean loss > {SPIKE_RATIO:g}x the lowest before it")
    print(f"\nwrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
