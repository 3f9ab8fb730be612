"""The README's experiment table and its answer to "what should I use?" are the stored
histories' numbers: regenerated here from checkpoints/*/history.csv and compared."""

from __future__ import annotations

import numpy as np
import pandas as pd

from core.experiment.catalog import variant_order
from core.experiment.front import answer, front_points
from core.experiment.history import read_histories
from tests.conftest import ROOT

EPOCHS = (1, 10, 40)


def experiment_table(hist: pd.DataFrame) -> str:
    """The README's table: one row per variant, epochs 10 and 40, ratios at 1/10/40."""
    held = front_points(hist, EPOCHS, "held-out")
    ref = hist[hist["variant"] == "resize_nearest"].set_index("epoch")
    rows = ["| variant | PSNR held-out, epoch 10 / 40 (dB) | PSNR china.jpg, 10 / 40 (dB) | "
            "checkerboard ×10⁻³, 10 / 40 | ÷ resize_nearest, epoch 1 / 10 / 40 | "
            "imbalance at 40 | on the front (held-out) at 1 / 10 / 40 |",
            "|---|---|---|---|---|---|---|"]
    for v in variant_order(sorted(set(hist["variant"]))):
        d = hist[hist["variant"] == v].set_index("epoch")
        if not set(EPOCHS) <= set(d.index):
            continue
        ratio = " / ".join(f"{d.loc[e, 'checkerboard'] / ref.loc[e, 'checkerboard']:.1f}x"
                           for e in EPOCHS)
        front = " / ".join("yes" if bool(held[(held["variant"] == v) & (held["epoch"] == e)]
                                         ["on_front"].iloc[0]) else "-" for e in EPOCHS)
        rows.append(
            f"| `{v}` | {d.loc[10, 'val_psnr']:.2f} / {d.loc[40, 'val_psnr']:.2f} | "
            f"{d.loc[10, 'unseen_psnr']:.2f} / {d.loc[40, 'unseen_psnr']:.2f} | "
            f"{d.loc[10, 'checkerboard'] * 1e3:.2f} / {d.loc[40, 'checkerboard'] * 1e3:.2f} | "
            f"{ratio} | {d.loc[40, 'imbalance_up1']:.2f} / {d.loc[40, 'imbalance_up2']:.2f} | "
            f"{front} |")
    return "\n".join(rows)


def test_the_readme_table_is_the_stored_histories():
    table = experiment_table(read_histories(ROOT / "checkpoints"))
    assert table.count("\n") >= 11  # header, rule, ten variants
    assert table in (ROOT / "README.md").read_text()


def test_the_readme_answer_quotes_the_data():
    hist = read_histories(ROOT / "checkpoints")
    readme = (ROOT / "README.md").read_text()
    answer_text = readme[readme.index("## What should I use?"):readme.index("## Measured figures")]
    pts = front_points(hist, EPOCHS, "held-out")
    at = {(r.variant, r.epoch): (r.psnr, r.score) for r in pts.itertuples()}
    # deconv_foh: the least checkerboard of all at epochs 1, 10 and 40, and its cost
    for e in EPOCHS:
        scores = {v: s for (v, ep), (_, s) in at.items() if ep == e}
        assert min(scores, key=scores.get) == "deconv_foh"

    def pt(variant: str, epoch: int) -> tuple[float, float]:
        return at[(variant, epoch)]  # (PSNR dB, checkerboard x1e-3)

    assert f"{pt('deconv_foh', 10)[1]:.2f} ×10⁻³" in answer_text
    assert f"{pt('resize_nearest', 10)[1] / pt('deconv_foh', 10)[1]:.1f} times less" in answer_text
    for e in (10, 40):
        assert f"{pt('resize_nearest', e)[0] - pt('deconv_foh', e)[0]:.1f} dB (epoch {e})" in answer_text
        assert f"{pt('deconv3', e)[0] - pt('resize_nearest', e)[0]:.1f} dB" in answer_text
        assert f"{pt('deconv3', e)[1] / pt('resize_nearest', e)[1]:.1f}x" in answer_text
        a = answer(pts, e)
        assert {"resize_nearest", "subpixel_icnr_blur"} <= set(a.front)
    gaps = sorted(pt("resize_nearest", e)[0] - pt("subpixel_icnr_blur", e)[0] for e in (10, 40))
    assert f"{gaps[0]:.1f}-{gaps[1]:.1f} dB blurrier" in answer_text
    less = sorted(pt("resize_nearest", e)[1] / pt("subpixel_icnr_blur", e)[1] for e in (10, 40))
    assert f"{less[0]:.1f}-{less[1]:.1f} times less checkerboard" in answer_text
    assert np.isfinite(list(at.values())).all()
