"""The side-by-side comparison of two checkpoints on one image (Compare and the story)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import streamlit as st

from core.experiment.catalog import PERIOD, POST_EPOCH, REGENERATE, Catalog, Unavailable
from core.experiment.outputs import ModelOutput
from core.io.pixels import Region, abs_difference, crop_region
from core.maths.metrics import (
    SCORE_UNIT,
    checkerboard_score,
    format_score,
    log_power_spectrum,
    phase_pattern,
    spectra_figure,
)
from ui.catalog import heldout_digests, model_output
from ui.common import explain
from ui.figures.firstlook import render_first_look
from ui.figures.panels import patterns_figure
from ui.figures.regions import (
    REGION_SIZE,
    artifact_region,
    outline_region,
    region_controls,
    strongest_region,
)
from ui.pixels import fit_factor, pixelated_container, scale_label, show_magnified, show_pixels
from ui.plots import colorscale, show_plot, show_table

#: Side of the centre crop whose spectrum is drawn.
#: Heights of a row of three square panels (patterns, spectra): reading (centred page)
#: and presenting (wide page, 1280 px and up), so the squares fill their plot.
PANELS_HEIGHT, PANELS_PRESENT = 270, 420
SPECTRUM_CROP = 256


#: Gains offered for the difference images.
GAINS = (1, 2, 4, 8, 16)


#: The score's column in the measures table: in the one unit.
SCORE_COLUMN = f"checkerboard {SCORE_UNIT}"


@dataclass(frozen=True)
class Side:
    """One model of the comparison: a variant at an epoch."""

    variant: str
    epoch: int

    @property
    def label(self) -> str:
        return f"{self.variant} · epoch {self.epoch}"


@st.cache_data(max_entries=256, show_spinner=False)
def _quality(key: str, _original: np.ndarray, _output: np.ndarray) -> tuple[float, float]:
    from skimage.metrics import peak_signal_noise_ratio, structural_similarity

    psnr = peak_signal_noise_ratio(_original, _output, data_range=1.0)
    ssim = structural_similarity(_original, _output, channel_axis=2, data_range=1.0)
    return float(psnr), float(ssim)


@st.cache_data(max_entries=64, show_spinner=False)
def _analysis(key: str, _image: np.ndarray) -> tuple[float, np.ndarray, object]:
    """Score, grey phase pattern and spectrum (of the centre crop) of one image."""
    spectrum = log_power_spectrum(_centre(_image, SPECTRUM_CROP), PERIOD)
    return (checkerboard_score(_image, PERIOD), phase_pattern(_image.mean(axis=2), PERIOD),
            spectrum)


def _centre(image: np.ndarray, side: int) -> np.ndarray:
    h, w = image.shape[:2]
    r = Region(max(0, (h - side) // 2), max(0, (w - side) // 2), min(h, side), min(w, side))
    return crop_region(image, r)


def _side_output(catalog: Catalog, side: Side | None, image: np.ndarray,
                 digest: str) -> ModelOutput | Unavailable:
    if side is None:
        return Unavailable("missing", "no checkpoints")
    return model_output(catalog, side.variant, side.epoch, image, digest)


def _default_region(catalog: Catalog, image: np.ndarray, digest: str,
                    outputs: dict[str, ModelOutput]) -> Region | None:
    """Where the magnifier starts: where deconv3's checkerboard is strongest on a held-out
    photograph (:func:`ui.figures.regions.artifact_region`, from stored outputs); on an upload,
    where model A's output is most checkered (one image: no extra model runs)."""
    if digest in heldout_digests().values():
        return artifact_region(catalog, image, digest)
    first = next(iter(outputs.values()), None)
    if first is None:
        return None
    return strongest_region((first.key,), REGION_SIZE, [first.pixels])


def render_comparison(catalog: Catalog, sides: tuple[Side | None, Side | None],
                      image: np.ndarray, digest: str, name: str, *, look=None,
                      jpeg: bool = False) -> pd.DataFrame:
    """Original | A | B with crops, differences, phase patterns, spectra and the table.

    ``look``: a container (placed above the page's controls) that gets the first look at
    the grid (:func:`ui.figures.firstlook.render_first_look`) of the magnifier's region.
    ``jpeg``: the image is a JPEG upload, whose own score includes its 8x8 blocks.
    Returns the table shown (for tests and the story page).
    """
    panels: list[tuple[str, np.ndarray, str]] = [(f"original ({name})", image, digest)]
    outputs: dict[str, ModelOutput] = {}
    if sides[0] is not None and sides[0] == sides[1]:
        # One checkpoint twice would draw every view twice under the same keys.
        st.info(f"Model A and model B are the same checkpoint ({sides[0].label}), so it is "
                "shown once. Choose another variant or epoch for B to compare two models.",
                icon=":material/info:")
        sides = (sides[0], None)
    for side in sides:
        with st.spinner(f"Running {side.label}…" if side else "…"):
            result = _side_output(catalog, side, image, digest)
        if isinstance(result, Unavailable):
            if side is not None:
                st.error(f"Model {side.label}: {result.message}. Regenerate with `{REGENERATE}`.",
                         icon=":material/broken_image:")
            continue
        outputs[side.label] = result
        panels.append((side.label, result.pixels, result.key))

    st.subheader("Images")
    for col, (label, pixels, key) in zip(st.columns(3), panels, strict=False):
        with col:
            show_pixels(pixels, label, key=key)

    with st.expander("Magnifier region", expanded=False):
        region = region_controls(image.shape, default=_default_region(catalog, image, digest,
                                                                      outputs))
    if look is not None:
        with look:
            epoch = sides[0].epoch if sides[0] is not None else None
            note = "" if epoch is None else (
                f"Epoch {epoch} of model A: " + (
                    "the length of the post's Figure 7 training, where this page opens."
                    if epoch == POST_EPOCH else "as chosen below."))
            render_first_look(panels, region, where=name, epoch_note=note, key="compare")
    factor = fit_factor(region.width, 3)
    st.subheader(f"Magnified: {region.height}x{region.width} pixels at "
                 f"({region.top}, {region.left})")
    st.caption(scale_label(factor))
    rkey = f"{region.top},{region.left},{region.height}"
    with pixelated_container("compare-magnifier"):
        for col, (label, pixels, key) in zip(st.columns(3), panels, strict=False):
            with col:
                show_magnified(pixels, region, label, key=key, factor=factor, period=PERIOD)
    explain("Under each crop its fine detail: the image minus its local average, ten times "
            "amplified, where a checkerboard too faint to see is plain. The region starts "
            "where deconv3's checkerboard is strongest.")

    st.subheader("Absolute difference to the original")
    g = int(st.select_slider("Difference gain (×)", GAINS, value=4, key="gain",
                             bind="query-params",
                             help="Differences are multiplied by this so that small errors "
                                  "are visible."))
    cols = st.columns(3)
    with cols[0]:
        show_pixels(outline_region(image, region), "where the magnifier looks (red frame)",
                    key=f"{digest}|outline|{rkey}")
    for col, (label, pixels, key) in zip(cols[1:], panels[1:], strict=False):
        with col:
            diff = np.clip(abs_difference(pixels, image) * g, 0.0, 1.0)
            show_pixels(diff, f"|{label} − original| ×{g}", key=f"{key}|diff|{g}")

    analyses = {label: _analysis(key, pixels) for label, pixels, key in panels}
    # One score per image, written the same everywhere: the stored one of a model output.
    scores = {label: outputs[label].score if label in outputs else analyses[label][0]
              for label, _, _ in panels}
    st.subheader("Phase pattern")
    explain(f"The high-passed image averaged over every pixel of the same phase "
            f"(row mod {PERIOD}, column mod {PERIOD}), in the score's unit ({SCORE_UNIT} of "
            "the range), all on one colour scale. A flat tile means no checkerboard; the "
            "score is its RMS.")
    show_plot(patterns_figure([(f"{label}<br>checkerboard {format_score(scores[label])}",
                                analyses[label][1]) for label, _, _ in panels]),
              key="compare-patterns", height=PANELS_HEIGHT, present_height=PANELS_PRESENT)
    st.subheader("Spectrum")
    explain(f"Log power of the grey-level image (centre {SPECTRUM_CROP} px), one colour scale "
            f"for all. A period-{PERIOD} checkerboard shows as bright dots on the red circles "
            f"at (i/{PERIOD}, j/{PERIOD}).")
    show_plot(spectra_figure([(label, analyses[label][2]) for label, _, _ in panels],
                             colorscale=colorscale()),
              key="compare-spectra", height=PANELS_HEIGHT + 20,
              present_height=PANELS_PRESENT + 20)

    # The original against itself: PSNR is infinite and SSIM 1 (the reference row).
    rows = [{"image": panels[0][0], "PSNR (dB)": np.inf, "SSIM": 1.0,
             "checkerboard score": scores[panels[0][0]]}]
    for label, out in outputs.items():
        psnr, ssim = _quality(out.key, image, out.pixels)
        rows.append({"image": label, "PSNR (dB)": psnr, "SSIM": ssim,
                     "checkerboard score": out.score})
    table = pd.DataFrame(rows).set_index("image")
    base = max(float(table["checkerboard score"].iloc[0]), 1e-12)
    table["score / original"] = table["checkerboard score"] / base
    st.subheader("Measures")
    shown = table.rename(columns={"checkerboard score": SCORE_COLUMN})
    show_table(shown.style.format({  # the score as everywhere else: format_score
        "PSNR (dB)": lambda v: "∞" if np.isinf(v) else f"{v:.2f}",
        "SSIM": "{:.4f}", SCORE_COLUMN: lambda v: format_score(v, unit=False),
        "score / original": "{:.1f}"}))
    if jpeg:
        reference = (f"this upload is a JPEG: its own score, {format_score(scores[panels[0][0]])}"
                     ", includes the edges of its 8x8 compression blocks (a pattern that "
                     f"repeats every 8 pixels, so every {PERIOD} too), not only the "
                     "photograph; compare the models with it, not with a clean photograph's")
    else:
        reference = "the original's own score is the level of the photograph before any network"
    explain("PSNR and SSIM compare each model's output with the original (the models were "
            "trained to reproduce their input). The checkerboard score needs no reference: "
            f"{reference}.")
    return table
