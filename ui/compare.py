"""The comparison view: an image, and two trained models' versions of it (Figure 7).

Original | model A | model B, each with a magnified crop, the absolute difference to
the original, the phase pattern behind the checkerboard score and the spectrum; then
PSNR, SSIM and the score in one table. The input is a held-out photograph or any file
a visitor uploads, checked by content (:func:`core.io.decode.load_image_bytes`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import streamlit as st

from core.experiment.catalog import PERIOD, REGENERATE, Catalog, ModelOutput
from core.experiment.checkpoints import MAX_EPOCH
from core.io.decode import LoadedImage
from core.io.pixels import Region, abs_difference, crop_region
from core.maths.metrics import (
    SCORE_SCALE,
    SCORE_UNIT,
    checkerboard_score,
    format_score,
    log_power_spectrum,
    phase_pattern,
)
from ui.catalog import heldout_digests, model_output, opening_epoch_note
from ui.common import (
    ChoiceParam,
    IntParam,
    check_query_params,
    explain,
    magnify_factor,
    pixelated_container,
    show_magnified,
    show_pixels,
    show_plot,
    show_table,
)
from ui.gallery import (
    REGION_SIZE,
    artifact_region,
    outline_region,
    region_controls,
    strongest_region,
)
from ui.layers import patterns_figure, spectra_figure
from ui.uploads import upload_image

#: Defaults of the two sides: the post's Figure 7.
DEFAULT_A, DEFAULT_B = "deconv3", "resize_nearest"
SOURCES = ("Held-out photograph", "Upload")
#: Side of the centre crop whose spectrum is drawn.
SPECTRUM_CROP = 256
#: Gains offered for the difference images.
GAINS = (1, 2, 4, 8, 16)
#: The score's column in the measures table: in the one unit.
SCORE_COLUMN = f"checkerboard {SCORE_UNIT}"
#: Heights of a row of three square panels (patterns, spectra): reading (centred page)
#: and presenting (wide page, 1280 px and up), so the squares fill their plot.
PANELS_HEIGHT, PANELS_PRESENT = 270, 420


@dataclass(frozen=True)
class Side:
    """One model of the comparison: a variant at an epoch."""

    variant: str
    epoch: int

    @property
    def label(self) -> str:
        return f"{self.variant} · epoch {self.epoch}"


def _side_controls(catalog: Catalog, name: str, default: str) -> Side | None:
    """Variant and epoch of one side (keys ``name`` and ``{name}_epoch``)."""
    variants = catalog.variants
    if not variants:
        return None
    fallback = default if default in variants else variants[0]
    if st.session_state.get(name, fallback) not in variants:
        st.session_state[name] = fallback
    variant = st.selectbox(f"Model {name.upper()}", variants, index=variants.index(fallback),
                           key=name, bind="query-params")
    epochs = catalog.epochs(variant)
    last = epochs[-1]
    start = catalog.default_epoch(variant)
    key = f"{name}_epoch"
    if key in st.session_state and st.session_state[key] not in epochs:
        st.session_state[key] = start  # variant changed to one without that epoch
    elif key not in st.session_state:  # first run: a link may name an epoch not stored
        wanted = _int_or_none(st.query_params.get(key))
        if wanted is not None and 0 <= wanted <= MAX_EPOCH and wanted not in epochs:
            nearest = min(epochs, key=lambda e: (abs(e - wanted), e))
            st.warning(f"Model {name.upper()} ({variant}) has no stored epoch {wanted}; "
                       f"showing the nearest stored one, epoch {nearest} (stored: "
                       f"{_epoch_list(epochs)}).", icon=":material/link_off:")
            st.session_state[key] = nearest
    if len(epochs) == 1:
        st.caption(f"Epoch {last} (the only one stored)")
        return Side(variant, last)
    epoch = st.select_slider(f"Epoch of {name.upper()}", epochs, value=start, key=key,
                             bind="query-params", help=opening_epoch_note(start))
    return Side(variant, int(epoch))


def _int_or_none(raw: object) -> int | None:
    try:
        return int(str(raw))
    except ValueError:
        return None


def _epoch_list(epochs: list[int], limit: int = 12) -> str:
    shown = ", ".join(str(e) for e in epochs[:limit])
    return shown + (f", … {epochs[-1]}" if len(epochs) > limit else "")


def input_controls(names: list[str]) -> tuple[str, str]:
    """Held-out photograph or upload, and which photograph; bound to the URL."""
    check_query_params({"gain": ChoiceParam(tuple(str(g) for g in GAINS))})
    check_query_params({"source": ChoiceParam(SOURCES), "image": ChoiceParam(tuple(names))})
    left, right = st.columns(2)
    with left:
        source = st.radio("Input", SOURCES, index=0, key="source", bind="query-params",
                          horizontal=True)
    with right:
        image = st.selectbox("Photograph", names, index=0, key="image", bind="query-params",
                             disabled=source != SOURCES[0],
                             help="Held-out: none of the models was trained on it.")
    return source, image


def model_controls(catalog: Catalog) -> tuple[Side | None, Side | None]:
    """Models A and B (variant and epoch each), bound to the URL; None without checkpoints."""
    variants = catalog.variants
    if variants:
        last = max(catalog.last_epoch(v) for v in variants)
        check_query_params({
            "a": ChoiceParam(tuple(variants)),
            "b": ChoiceParam(tuple(variants)),
            "a_epoch": IntParam(0, max(last, 1)),
            "b_epoch": IntParam(0, max(last, 1)),
        })
    cols = st.columns(2)
    with cols[0]:
        a = _side_controls(catalog, "a", DEFAULT_A)
    with cols[1]:
        b = _side_controls(catalog, "b", DEFAULT_B)
    return a, b


def upload_input(*, key: str = "compare-upload") -> tuple[LoadedImage, str] | None:
    """The uploader (:func:`ui.uploads.upload_image`); the decoded image and its file
    name, or None. Refusals are shown as an ``st.error``, conversions as notices."""
    return upload_image("Image file", key=key)


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
                 digest: str) -> ModelOutput | str:
    if side is None:
        return "no checkpoints"
    return model_output(catalog, side.variant, side.epoch, image, digest)


def _default_region(catalog: Catalog, image: np.ndarray, digest: str,
                    outputs: dict[str, ModelOutput]) -> Region | None:
    """Where the magnifier starts: where deconv3's checkerboard is strongest on a held-out
    photograph (:func:`ui.gallery.artifact_region`, from stored outputs); on an upload,
    where model A's output is most checkered (one image: no extra model runs)."""
    if digest in heldout_digests().values():
        return artifact_region(catalog, image, digest)
    first = next(iter(outputs.values()), None)
    if first is None:
        return None
    return strongest_region((first.key,), REGION_SIZE, [first.pixels])


def render_comparison(catalog: Catalog, sides: tuple[Side | None, Side | None],
                      image: np.ndarray, digest: str, name: str) -> pd.DataFrame:
    """Original | A | B with crops, differences, phase patterns, spectra and the table.

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
        if isinstance(result, str):
            if side is not None:
                st.error(f"Model {side.label}: {result}. Regenerate with `{REGENERATE}`.",
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
    factor = magnify_factor(region.width, 448)  # stretched to the column, kept sharp
    st.subheader(f"Magnified ×{factor}: {region.height}x{region.width} pixels at "
                 f"({region.top}, {region.left})")
    rkey = f"{region.top},{region.left},{region.height}"
    with pixelated_container("compare-magnifier"):
        for col, (label, pixels, key) in zip(st.columns(3), panels, strict=False):
            with col:
                show_magnified(pixels, region, label, key=key, factor=factor, period=PERIOD,
                               width="stretch")
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
    st.subheader("Phase pattern")
    explain(f"The high-passed image averaged over every pixel of the same phase "
            f"(row mod {PERIOD}, column mod {PERIOD}), in the score's unit ({SCORE_UNIT} of "
            "the range), all on one colour scale. A flat tile means no checkerboard; the "
            "score is its RMS.")
    show_plot(patterns_figure([(f"{label}<br>checkerboard {format_score(analyses[label][0])}",
                                analyses[label][1]) for label, _, _ in panels]),
              key="compare-patterns", height=PANELS_HEIGHT, present_height=PANELS_PRESENT)
    st.subheader("Spectrum")
    explain(f"Log power of the grey-level image (centre {SPECTRUM_CROP} px), one colour scale "
            f"for all. A period-{PERIOD} checkerboard shows as bright dots on the red circles "
            f"at (i/{PERIOD}, j/{PERIOD}).")
    show_plot(spectra_figure([(label, analyses[label][2]) for label, _, _ in panels]),
              key="compare-spectra", height=PANELS_HEIGHT + 20,
              present_height=PANELS_PRESENT + 20)

    # The original against itself: PSNR is infinite and SSIM 1 (the reference row).
    rows = [{"image": panels[0][0], "PSNR (dB)": np.inf, "SSIM": 1.0,
             "checkerboard score": analyses[panels[0][0]][0]}]
    for label, out in outputs.items():
        psnr, ssim = _quality(out.key, image, out.pixels)
        rows.append({"image": label, "PSNR (dB)": psnr, "SSIM": ssim,
                     "checkerboard score": out.score})
    table = pd.DataFrame(rows).set_index("image")
    base = max(float(table["checkerboard score"].iloc[0]), 1e-12)
    table["score / original"] = table["checkerboard score"] / base
    st.subheader("Measures")
    shown = table.rename(columns={"checkerboard score": SCORE_COLUMN})
    shown[SCORE_COLUMN] = shown[SCORE_COLUMN] * SCORE_SCALE
    show_table(shown.style.format({
        "PSNR (dB)": lambda v: "∞" if np.isinf(v) else f"{v:.2f}",
        "SSIM": "{:.4f}", SCORE_COLUMN: "{:.2f}", "score / original": "{:.1f}"}))
    explain("PSNR and SSIM compare each model's output with the original (the models were "
            "trained to reproduce their input). The checkerboard score needs no reference: "
            "the original's own score is the level of a clean photograph.")
    return table
