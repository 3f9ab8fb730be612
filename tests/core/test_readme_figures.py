"""The README's experiment table and its answer to "what should I use?" are the stored
histories' numbers: regenerated here from checkpoints/*/history.csv and compared."""

from __future__ import annotations

import functools

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


# --------------------------------------------------------------------------- the recipe

NUMBERS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
           "ten")
#: The remedies: a learnt upsampler followed by a fixed smoothing, and the variant whose
#: upsampler they keep (core.experiment.models.VARIANTS).
REMEDIES = {"deconv_zoh": "deconv3", "deconv_foh": "deconv3",
            "subpixel_icnr_blur": "subpixel_icnr"}
#: Upsamplers whose output phases have weights of their own, nothing fixed after them.
UNCONSTRAINED = ("deconv", "subpixel", "subpixel_icnr")


def experiment_paragraph() -> str:
    """The prose under the answer: "The *front* at an epoch ..." up to the table."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    start = readme.index("The *front* at an epoch is the set of variants")
    body = readme[start:readme.index("| variant |", start)]
    return " ".join(body.split())


def assert_said(source: str, *texts: str) -> None:
    """Each text is in the paragraph (line breaks aside); else the message gives it."""
    body = experiment_paragraph()
    missing = [t for t in texts if " ".join(t.split()) not in body]
    assert not missing, (f"README.md, '## What should I use?', the paragraph under the "
                         f"answer: recomputed from {source}, it should say:\n\n"
                         + "\n\n".join(missing))


@functools.cache
def last_checkpoints() -> dict[str, str]:
    """Each variant's last stored checkpoint under checkpoints/: {variant: path}."""
    from core.experiment.checkpoints import list_checkpoints

    df = list_checkpoints(ROOT / "checkpoints")
    df = df[df["ok"]].sort_values("epoch")
    return {v: str(rows.iloc[-1]["path"]) for v, rows in df.groupby("variant")}


def last_metadata(variant: str) -> dict:
    from core.experiment.checkpoints import read_metadata

    return read_metadata(last_checkpoints()[variant])


def short_float(x: float) -> str:
    """0.001 -> '1e-3', 0.0005 -> '5e-4' (the README's way of writing a learning rate)."""
    mantissa, exponent = f"{x:.0e}".split("e")
    return f"{mantissa}e{int(exponent)}"


def test_the_experiment_recipe_is_the_checkpoints_metadata():
    """How many networks, their width and what differs between them, epochs, crops,
    images, loss, learning rate, Adam's beta2 and seed: the metadata of every variant's
    last checkpoint, the same for all, and train.TrainConfig's defaults (the shipped
    recipe)."""
    import dataclasses

    from core.experiment.models import VARIANTS
    from core.experiment.train import TrainConfig

    hist = read_histories(ROOT / "checkpoints")
    variants = variant_order(sorted(set(hist["variant"])))
    assert variants == list(VARIANTS)
    meta = {v: last_metadata(v) for v in variants}
    configs = {v: m["config"] for v, m in meta.items()}
    assert all(configs[v] == VARIANTS[v].to_dict() for v in variants)
    (width,) = {c["width"] for c in configs.values()}
    # What differs from deconv3 apart from the upsampler (its name and kernel).
    others = {v: sorted(k for k in c if c[k] != configs["deconv3"][k]
                        and k not in ("upsampler", "up_kernel")) for v, c in configs.items()}
    differ = {v: keys for v, keys in others.items() if keys}
    assert differ == {"deconv3_small_last": ["last_kernel"]}, differ
    last = configs["deconv3_small_last"]["last_kernel"]
    recipe = {(m["epochs"], m["training"]["crops_per_epoch"], len(m["data"]["train"]),
               m["training"]["loss"], m["training"]["optimizer"], m["training"]["lr"],
               m["training"]["adam_beta2"], m["seed"], m["data"]["source"])
              for m in meta.values()}
    assert len(recipe) == 1, recipe
    ((epochs, crops, images, loss, optimizer, lr, beta2, seed, source),) = recipe
    assert "packaged" in source and loss == "mse" and optimizer == "adam"
    assert hist["epoch"].max() == epochs
    defaults = TrainConfig()
    assert dataclasses.astuple(TrainConfig(epochs=epochs, crops_per_epoch=crops, lr=lr,
                                           adam_beta2=beta2, seed=seed)) == \
        dataclasses.astuple(defaults), "the shipped recipe is no longer train's default"
    assert_said(
        "the metadata of checkpoints/*/epoch_040.safetensors and core.experiment.train",
        f"{NUMBERS[len(variants)].capitalize()} width-{width} transformation networks "
        f"(Johnson et al.), identical but for the upsampler (and `deconv3_small_last`'s "
        f"{last}x{last} last layer), trained {epochs} epochs x {crops} crops of {images} "
        f"packaged images with a pixel loss, lr {short_float(lr)} (Adam, beta2 {beta2:g}), "
        f"seed {seed}")


def test_the_remedies_add_no_parameters_and_their_smoothing_is_fixed():
    """Each remedy has exactly the parameters of the variant whose upsampler it keeps;
    its smoothing is a buffer of the upsampler, unchanged by training (the shipped last
    checkpoint holds the kernel a fresh network starts with)."""
    import torch

    from core.experiment.checkpoints import load_model
    from core.experiment.models import VARIANTS, build_model
    from core.upsamplers.registry import count_parameters

    fixed = {v for v in VARIANTS
             if any(dict(getattr(build_model(v), up).named_buffers()) for up in ("up1", "up2"))}
    assert fixed == set(REMEDIES), fixed
    for remedy, base in REMEDIES.items():
        fresh = build_model(remedy)
        assert count_parameters(fresh) == count_parameters(build_model(base)), remedy
        trained = load_model(last_checkpoints()[remedy])
        for up in ("up1", "up2"):
            buffers = dict(getattr(fresh, up).named_buffers())
            assert buffers, f"{remedy}.{up} has no fixed smoothing"
            kept = dict(getattr(trained, up).named_buffers())
            assert all(torch.equal(b, kept[n].to(b.dtype)) for n, b in buffers.items())
    assert_said("core.experiment.models", f"The {NUMBERS[len(REMEDIES)]} remedies add no "
                "parameters: the smoothing is fixed.")


def test_the_remedies_against_resize_convolution_and_the_unconstrained_layers():
    """The comparisons of the paragraph, from the histories (held-out photographs): when
    a remedy is sharper than resize_nearest; the unconstrained transposed and sub-pixel
    layers' PSNR at epoch 40, which no remedy reaches, their checkerboard as a multiple
    of resize_nearest's, their imbalance at every trained epoch, and how much of their
    highest checkerboard they have hidden by epoch 40."""
    from core.audit.limits import IMBALANCE_TOLERANCE
    from core.experiment.models import VARIANTS

    hist = read_histories(ROOT / "checkpoints")
    psnr = hist.pivot(index="epoch", columns="variant", values="val_psnr")
    score = hist.pivot(index="epoch", columns="variant", values="checkerboard")
    last = int(psnr.index.max())
    sharper = psnr[list(REMEDIES)].gt(psnr["resize_nearest"], axis=0)
    assert not sharper.loc[[10, last]].any().any()
    ever = sharper.index[sharper.any(axis=1)]
    since = int(ever.max()) + 1  # no remedy sharper from this epoch on
    early = sharper.loc[:since - 1].sum()
    free = [v for v, c in VARIANTS.items() if c.upsampler in UNCONSTRAINED]
    at_last = psnr.loc[last, free]
    assert psnr.loc[last, list(REMEDIES)].max() < at_last.min()
    ratio = score.loc[last, free] / score.loc[last, "resize_nearest"]
    trained = hist[(hist["variant"].isin(free)) & (hist["epoch"] >= 1)]
    assert (trained[["imbalance_up1", "imbalance_up2"]] > IMBALANCE_TOLERANCE).all().all()
    hidden = score.loc[last, free] / score.loc[1:, free].max()
    assert (hidden < 0.5).all(), hidden  # "most of the grid" hidden by epoch 40
    assert_said(
        "checkpoints/*/history.csv",
        f"None is sharper than resize-convolution at epochs 10 and {last}, or at any epoch "
        f"from {since} on (before that, each is at {early.min()}-{early.max()} of the "
        f"{since} epochs 0-{since - 1}), and none reaches the unconstrained transposed and "
        f"sub-pixel layers' {at_last.min():.0f}-{at_last.max():.0f} dB at epoch {last}; "
        f"those carry {ratio.min():.1f}-{ratio.max():.1f}x `resize_nearest`'s checkerboard, "
        "their layers stay imbalanced, and the layers after them learn to hide most of the "
        "grid.")
