"""The training gallery and the comparison page on this CPU: the figures the README quotes.

    .venv/bin/python benchmarks/gallery.py                 # the shipped checkpoints/
    .venv/bin/python benchmarks/gallery.py --root DIR      # another checkpoint folder
    .venv/bin/python benchmarks/gallery.py --repeats 5     # quicker, noisier

Measures, with their goals:

* **warm rerun of the gallery**, 3 variants x 4 images (the page through
  ``dashboard.py`` in Streamlit's AppTest, every output already cached: what a visitor
  waits for when moving a slider to an epoch seen before). The held-out set has three
  photographs; a fourth (the astronaut mirrored: new content, same size) is added for
  this row. Also the page as shipped (3 x 3). AppTest's own overhead is included, so
  the figure is an upper bound. Goal < 300 ms.
* **cold load of all checkpoints**: ``list_checkpoints`` plus loading every file the
  way the pages do (``core.experiment.catalog.load_model_fast``: ``load_model`` -- header parse,
  SHA-256 check of the weights, model rebuild -- with one torch thread), first time in
  the process. Goal < 3 s. Also ``load_model`` at torch's default thread count, for
  comparison (slow on a busy CPU, see ``core.experiment.catalog.torch_threads``).
* **one model on a 512x512 upload**: decoding the PNG bytes with the upload checks
  (``load_image_bytes``) and one forward pass of the last ``deconv3`` checkpoint
  (``apply_model``, model already loaded). Goal < 1 s. Also with the model load.

When ``--root`` holds fewer than three variants (no shipped experiment yet), a set with
the shipped architecture and untrained weights (same cost) is written to a temporary
folder and used instead; the JSON says which. Writes ``benchmarks/results/gallery.json``.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks._common import print_table, write_results  # noqa: E402

GOALS_MS = {"warm_rerun_3x4": 300.0, "cold_load_all": 3000.0, "upload_512": 1000.0}


def _generated_root(folder: Path, epochs: int = 10) -> Path:
    """Untrained checkpoints of the shipped architecture: 3 variants, epochs 0..epochs."""
    from core.experiment.checkpoints import checkpoint_path, save_checkpoint, write_manifest
    from core.experiment.models import VARIANTS, TransformNet

    for i, variant in enumerate(("deconv3", "resize_nearest", "deconv4")):
        torch.manual_seed(i)
        model = TransformNet(VARIANTS[variant])
        for epoch in range(epochs + 1):
            with torch.no_grad():
                for p in model.parameters():
                    p.mul_(0.98)
            save_checkpoint(checkpoint_path(folder, variant, epoch), model,
                            {"variant": variant, "epoch": epoch, "epochs": epochs, "seed": i,
                             "data": {"source": "benchmark"}, "metrics": {}})
    write_manifest(folder)
    return folder


def _time_reruns(at, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        at.run()
        times.append((time.perf_counter() - t0) * 1000.0)
    if at.exception:
        raise RuntimeError(f"the page raised: {[e.value for e in at.exception]}")
    return statistics.median(times)


def warm_rerun(root: Path, repeats: int, *, extra_image: bool) -> tuple[float, float, int]:
    """(cold first render ms, median warm rerun ms, number of images) of the gallery."""
    from streamlit.testing.v1 import AppTest

    import ui.catalog as catalog
    from core.io.pixels import content_hash

    original, original_digests = catalog.heldout, catalog.heldout_digests
    if extra_image:
        four = dict(original())
        four["astronaut_mirrored"] = np.ascontiguousarray(four["astronaut"][:, ::-1])
        digests = {n: content_hash(i) for n, i in four.items()}
        # The page reads these from ui.catalog on every run.
        catalog.heldout = lambda: dict(four)
        catalog.heldout_digests = lambda: dict(digests)
    try:
        os.environ["CHECKERBOARD_CHECKPOINTS"] = str(root)
        at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=600)
        at.switch_page("pages/gallery.py")
        t0 = time.perf_counter()
        at.run()
        cold = (time.perf_counter() - t0) * 1000.0
        n_images = sum(1 for im in at.get("image")
                       if im.proto.imgs[0].caption.endswith("(original)"))
        n_variants = len(at.multiselect(key="variants").value)
        if n_variants != 3:
            raise RuntimeError(f"expected 3 variants on the page, got {n_variants}")
        at.run()  # warm every cache (heldout digests, PNGs of this view)
        return cold, _time_reruns(at, repeats), n_images
    finally:
        catalog.heldout, catalog.heldout_digests = original, original_digests


def cold_load_all(root: Path, *, pages_way: bool = True) -> tuple[float, int]:
    """ms to list and load every checkpoint: as the pages do (``load_model_fast``, one
    thread) or with ``core.experiment.checkpoints.load_model`` at torch's default thread count."""
    from core.experiment.catalog import load_model_fast
    from core.experiment.checkpoints import list_checkpoints, load_model

    load = load_model_fast if pages_way else load_model
    t0 = time.perf_counter()
    table = list_checkpoints(root)
    for path in table.loc[table["ok"], "path"]:
        load(path)
    return (time.perf_counter() - t0) * 1000.0, int(table["ok"].sum())


def upload_512(root: Path, repeats: int) -> tuple[float, float]:
    """(median ms decode + forward with the model loaded, ms of the first call incl. load)."""
    from PIL import Image

    from core.experiment.catalog import apply_model
    from core.experiment.checkpoints import list_checkpoints, load_model
    from core.io.decode import load_image_bytes
    from core.io.pixels import to_png_bytes

    table = list_checkpoints(root)
    rows = table[(table["variant"] == "deconv3") & table["ok"]]
    path = rows.sort_values("epoch")["path"].iloc[-1]
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:512, 0:512] / 512.0
    photo = np.stack([x, y, 0.5 + 0.2 * rng.standard_normal((512, 512))], axis=2)
    data = to_png_bytes(np.clip(photo, 0, 1))
    assert Image.open(io.BytesIO(data)).size == (512, 512)

    t0 = time.perf_counter()
    model = load_model(path)
    apply_model(model, load_image_bytes(data).pixels)
    first = (time.perf_counter() - t0) * 1000.0
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        apply_model(model, load_image_bytes(data).pixels)
        times.append((time.perf_counter() - t0) * 1000.0)
    return statistics.median(times), first


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--root", default=str(ROOT / "checkpoints"))
    p.add_argument("--repeats", type=int, default=10)
    a = p.parse_args(argv)

    from core.experiment.checkpoints import list_checkpoints

    root = Path(a.root)
    table = list_checkpoints(root)
    variants = sorted(table.loc[table["ok"], "variant"].unique())
    tmp = None
    source = f"{root} ({len(variants)} variants, {int(table['ok'].sum())} checkpoints)"
    if len(variants) < 3 or "deconv3" not in variants:
        tmp = tempfile.TemporaryDirectory(prefix="gallery-bench-")
        root = _generated_root(Path(tmp.name))
        source = "generated: shipped architecture, untrained weights, 3 variants x 11 epochs"
    print(f"checkpoints: {source}")

    rows = []
    load_ms, n_files = cold_load_all(root)  # first: nothing cached in this process yet
    rows.append({"measure": "cold_load_all", "detail": f"{n_files} files, as the pages load",
                 "ms": round(load_ms, 1)})
    raw_ms, _ = cold_load_all(root, pages_way=False)
    rows.append({"measure": "load_all_default_threads",
                 "detail": f"{n_files} files, load_model, {torch.get_num_threads()} threads",
                 "ms": round(raw_ms, 1)})
    cold4, warm4, n4 = warm_rerun(root, a.repeats, extra_image=True)
    rows.append({"measure": "warm_rerun_3x4", "detail": f"gallery, 3 variants x {n4} images",
                 "ms": round(warm4, 1)})
    rows.append({"measure": "first_render_3x4", "detail": "gallery, nothing cached",
                 "ms": round(cold4, 1)})
    _, warm3, n3 = warm_rerun(root, a.repeats, extra_image=False)
    rows.append({"measure": "warm_rerun_3x3", "detail": f"gallery as shipped, 3 x {n3}",
                 "ms": round(warm3, 1)})
    up, up_first = upload_512(root, a.repeats)
    rows.append({"measure": "upload_512", "detail": "decode + deconv3 forward, 512x512",
                 "ms": round(up, 1)})
    rows.append({"measure": "upload_512_first", "detail": "same, including the model load",
                 "ms": round(up_first, 1)})
    for row in rows:
        goal = GOALS_MS.get(row["measure"])
        row["goal_ms"] = goal if goal is not None else ""
        row["met"] = "" if goal is None else ("yes" if row["ms"] < goal else "NO")
    print_table(rows, ["measure", "detail", "ms", "goal_ms", "met"])
    path = write_results("gallery", rows, checkpoints=source, repeats=a.repeats,
                         goals_ms=GOALS_MS)
    print(f"wrote {path.relative_to(ROOT)}")
    if tmp is not None:
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
