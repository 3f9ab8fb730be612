"""The stored checkpoints as pictures: the gallery views.

The training gallery's controls, grid, filmstrip, curves and magnifier. The checkpoint
catalog and the cached models and outputs they draw from are :mod:`core.experiment.catalog`
(pure) and :mod:`ui.catalog` (Streamlit caches), shared with the comparison and story
pages. Images are drawn with :func:`ui.pixels.show_pixels`: PNG (never JPEG, which
would add its own 8x8 blocks) and, magnified, nearest neighbour in the pixels *and*
in the browser.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import streamlit as st

from core.experiment.catalog import (
    PERIOD,
    POST_EPOCH,
    REGENERATE,
    Catalog,
    Unavailable,
    variant_order,
)
from core.experiment.outputs import ModelOutput
from core.io.pixels import Region, tile_grid, to_gif_bytes, to_png_bytes
from core.maths.metrics import SCORE_UNIT, format_score
from ui.catalog import frame_caption, heldout_scores, model_output, opening_epoch_note
from ui.common import explain, lazy_section, presenting, secondary
from ui.figures.firstlook import render_first_look
from ui.figures.regions import artifact_region, curves_figure, outline_region, region_controls
from ui.pixels import (
    fit_factor,
    pixelated_container,
    scale_label,
    show_magnified,
    show_pixels,
)
from ui.plots import show_plot
from ui.urlstate import ChoiceParam, check_query_params

#: Variants shown first when nothing is chosen (post, Figures 4, 7 and 6).
PREFERRED = ("deconv3", "resize_nearest", "deconv4")


# --------------------------------------------------------------------------- gallery


@dataclass(frozen=True)
class GallerySettings:
    """Everything the gallery shows, as chosen by its controls (and the URL)."""

    variants: tuple[str, ...]
    epoch: int
    image: str
    film: str | None
    region: Region


_PENDING_EPOCH = "_gallery_pending_epoch"
_LAST_STEP = "_gallery_last_step"
#: Seconds between two epochs while playing.
PLAY_INTERVAL = 1.5


def stored_epochs(catalog: Catalog) -> list[int]:
    """Every epoch some variant has a checkpoint for, ascending (sparse: 0, 1, 2, 3, 5, …)."""
    return sorted({e for v in catalog.variants for e in catalog.epochs(v)}) or [0]


def _next_epoch(epochs: Sequence[int], current: int, delta: int) -> int:
    """The stored epoch ``delta`` steps from ``current`` (wrapping round)."""
    i = epochs.index(current) if current in epochs else len(epochs) - 1
    return epochs[(i + delta) % len(epochs)]


def _step_epoch(delta: int, epochs: list[int]) -> None:
    """Button callback (runs before the page, so it may set the slider's value)."""
    st.session_state["epoch"] = _next_epoch(epochs, int(st.session_state.get("epoch", epochs[-1])),
                                            delta)


def gallery_controls(catalog: Catalog, images: dict[str, np.ndarray],
                     digests: dict[str, str] | None = None) -> GallerySettings:
    """Variants, epoch (with previous/next/play), image and magnifier region; URL-bound.

    Defaults are given to the widgets themselves (``value=``/``default=``): a bound
    widget leaves its parameter out of the URL when it holds its default, so the
    default must be the one a link without the parameter reopens.
    """
    variants = catalog.variants
    epochs = stored_epochs(catalog)
    start = catalog.default_epoch()  # a stored epoch (0 for an empty folder, as epochs)
    names = list(images)
    pending = st.session_state.pop(_PENDING_EPOCH, None)  # left by the play ticker
    if pending is not None:
        st.session_state["epoch"] = pending
    check_query_params({
        "variants": ChoiceParam(tuple(variants), multi=True),
        "epoch": ChoiceParam(tuple(str(e) for e in epochs)),
        "image": ChoiceParam(tuple(names)),
        "film": ChoiceParam(tuple(variants)),
    })
    default_variants = [v for v in PREFERRED if v in variants] or variants[:3]
    # The folder may have changed since the last run (a variant removed, epochs fewer).
    if st.session_state.get("epoch", start) not in epochs:
        st.session_state["epoch"] = start
    kept = [v for v in st.session_state.get("variants", []) if v in variants]
    if "variants" in st.session_state and kept != st.session_state["variants"]:
        st.session_state["variants"] = kept
    if "film" in st.session_state and st.session_state["film"] not in variants:
        del st.session_state["film"]
    chosen = st.multiselect("Variants", variants, default=default_variants, key="variants",
                            bind="query-params",
                            help="Each row of the grid is one trained network.")
    if len(epochs) > 1:
        epoch = st.select_slider(
            "Epoch", epochs, value=start, key="epoch", bind="query-params",
            help="The stored epochs; 0 is the initialisation, before any training. "
                 + opening_epoch_note(start))
    else:
        epoch = 0
        st.caption("Only epoch 0 is stored.")
    cols = st.columns([1, 1, 1, 2, 2], vertical_alignment="bottom")
    cols[0].button("", icon=":material/skip_previous:", key="epoch-prev", help="Previous epoch",
                   on_click=_step_epoch, args=(-1, epochs), disabled=len(epochs) < 2)
    cols[1].button("", icon=":material/skip_next:", key="epoch-next", help="Next epoch",
                   on_click=_step_epoch, args=(1, epochs), disabled=len(epochs) < 2)
    cols[2].toggle("Play", key="playing", disabled=len(epochs) < 2, on_change=_mark_step,
                   help=f"Step through the epochs, one every {PLAY_INTERVAL:g} seconds.")
    with cols[3]:
        image = st.selectbox("Image", names, index=0, key="image", bind="query-params",
                             help="Photograph of the filmstrip and the magnifier.")
    film = None
    with cols[4]:
        if variants:
            film0 = default_variants[0] if default_variants else variants[0]
            film = st.selectbox("Filmstrip variant", variants, index=variants.index(film0),
                                key="film", bind="query-params")
    default = None
    if digests is not None and image in digests:
        default = artifact_region(catalog, images[image], digests[image])
    with secondary():
        region = region_controls(images[image].shape, default=default)
    return GallerySettings(tuple(variant_order(chosen)), int(epoch), image, film, region)


def _mark_step() -> None:
    st.session_state[_LAST_STEP] = time.monotonic()


#: How often the Play fragment wakes up to check whether the next epoch is due.
PLAY_TICK = 0.25


def play_ticker(catalog: Catalog) -> None:
    """While "Play" is on, move to the next epoch every PLAY_INTERVAL seconds.

    Call it last on the page. A timed fragment wakes up every PLAY_TICK seconds; when the
    next step is due within one tick it waits for it, leaves the next epoch for the slider
    and reruns the whole page, which applies it before the slider is drawn (a widget's
    value cannot change after it is drawn). Steps are scheduled from the previous step,
    not from the end of the drawing, so the pace holds as long as a page is drawn within
    the interval; a page slower than that restarts the schedule (no burst to catch up).
    """
    epochs = stored_epochs(catalog)
    last = epochs[-1]
    if not st.session_state.get("playing") or len(epochs) < 2:
        return
    st.session_state.setdefault(_LAST_STEP, time.monotonic())

    @st.fragment(run_every=PLAY_TICK)
    def tick() -> None:
        if not st.session_state.get("playing"):
            return
        due = st.session_state.get(_LAST_STEP, 0.0) + PLAY_INTERVAL
        wait = due - time.monotonic()
        if wait > PLAY_TICK:
            return
        if wait > 0:
            time.sleep(wait)
        now = time.monotonic()
        st.session_state[_LAST_STEP] = due if now - due < PLAY_INTERVAL / 2 else now
        current = int(st.session_state.get("epoch", last))
        st.session_state[_PENDING_EPOCH] = _next_epoch(epochs, current, 1)
        st.rerun(scope="app")

    tick()


def render_grid(catalog: Catalog, settings: GallerySettings, images: dict[str, np.ndarray],
                digests: dict[str, str]) -> dict[str, dict[str, ModelOutput]]:
    """The grid: the photographs, then one row per variant at the chosen epoch."""
    names = list(images)
    own = heldout_scores()  # ``images`` are the held-out photographs
    st.subheader(f"Epoch {settings.epoch}: every variant on every held-out photograph")
    problems = []
    outputs: dict[str, dict[str, ModelOutput]] = {}
    cols = st.columns(len(names))
    for col, name in zip(cols, names, strict=True):
        with col:
            show_pixels(images[name], f"{name} (original) · checkerboard "
                        f"{format_score(own[name])}", key=digests[name])
    for variant in settings.variants:
        outputs[variant] = {}
        cols = st.columns(len(names))
        for col, name in zip(cols, names, strict=True):
            result = model_output(catalog, variant, settings.epoch, images[name], digests[name])
            with col:
                if isinstance(result, Unavailable):
                    st.caption(f"{variant}: {result.message}")
                    if result.kind == "broken":
                        problems.append(result.message)
                    continue
                outputs[variant][name] = result
                show_pixels(result.pixels, f"{variant} · checkerboard {format_score(result.score)}",
                            key=result.key, png=result.png)
    for text in dict.fromkeys(problems):
        st.error(f"{text[0].upper()}{text[1:]}. Regenerate it with `{REGENERATE}`.",
                 icon=":material/broken_image:")
    explain(
        "The checkerboard score is the RMS amplitude of the part of the image's fine detail "
        f"that repeats every {PERIOD} pixels (the product of the network's two upsampling "
        f"strides), in thousandths of the intensity range ({SCORE_UNIT}): the checkerboard, "
        "measured without a reference image. " + photographs_own_sentence(own)
    )
    return outputs


def photographs_own_sentence(own: dict[str, float]) -> str:
    """The photographs' own scores, from ``own`` (name -> score): the level a model's
    score is read against."""
    if not own:
        return ""
    lo, hi = min(own.values()), max(own.values())
    span = format_score(lo, unit=False) + (f"-{format_score(hi)}" if hi > lo else
                                           f" {SCORE_UNIT}")
    return (f"The photographs themselves read {span} (under each original): a model at "
            "that level adds no checkerboard of its own.")


def grid_png(images: dict[str, np.ndarray], outputs: dict[str, dict[str, ModelOutput]]) -> bytes:
    """The grid as one PNG: originals on top, one row per variant (blank where missing)."""
    names = list(images)
    rows = [[images[n] for n in names]]
    for per_image in outputs.values():
        rows.append([per_image[n].pixels if n in per_image else np.ones_like(images[n])
                     for n in names])
    return to_png_bytes(tile_grid(rows, gap=4))


def render_filmstrip(catalog: Catalog, variant: str, settings: GallerySettings,
                     image: np.ndarray, digest: str) -> list[np.ndarray]:
    """One variant on one photograph across all stored epochs; returns the frames."""
    st.subheader(f"Filmstrip: {variant} on {settings.image}, epoch by epoch")
    epochs = catalog.epochs(variant)
    frames = []
    per_row = 6
    for start in range(0, len(epochs), per_row):
        cols = st.columns(per_row)
        for col, epoch in zip(cols, epochs[start : start + per_row], strict=False):
            result = model_output(catalog, variant, epoch, image, digest)
            with col:
                if isinstance(result, Unavailable):
                    st.caption(f"epoch {epoch}: {result.message}")
                    continue
                frames.append(result.pixels)
                mark = "▶ " if epoch == settings.epoch else ""
                show_pixels(result.pixels,
                            mark + frame_caption(epoch, result.pixels, result.score),
                            key=result.key, png=result.png)
    return frames


def gif_bytes(frames: Sequence[np.ndarray]) -> bytes:
    """The filmstrip as an animated GIF, 0.6 s per epoch, looping (no dithering)."""
    return to_gif_bytes(list(frames), duration_ms=600)


def render_curves(catalog: Catalog, settings: GallerySettings) -> None:
    """Loss, PSNR, SSIM and checkerboard score by epoch, in a section opened on demand."""
    section = lazy_section("Training curves: loss, PSNR, SSIM and checkerboard score by epoch",
                           "curves", in_url=True)
    with section:
        if not section.open:
            return
        if not settings.variants:
            st.info("Choose at least one variant to see its curves.")
            return
        show_plot(curves_figure(catalog.series, settings.variants, settings.epoch),
                  key="gallery-curves", height=620)
        st.caption(f"From {catalog.curves_source}. Dashed line: the epoch shown above.")


#: The first look's networks: the post's deconvolution beside its fix.
LOOK_VARIANTS = ("deconv3", "resize_nearest")


def epoch_note(epoch: int) -> str:
    """Which epoch the first look shows, and why (one sentence)."""
    if epoch == POST_EPOCH:
        return (f"Epoch {epoch}: the length of the post's Figure 7 training, where these "
                "pages open.")
    return f"Epoch {epoch}, as chosen below."


def render_look(catalog: Catalog, settings: GallerySettings, image: np.ndarray,
                digest: str) -> None:
    """The gallery's first screen: the magnifier's region of the chosen photograph as fine
    detail, for the original, ``deconv3`` and ``resize_nearest`` at the chosen epoch
    (:func:`ui.figures.firstlook.render_first_look`)."""
    panels = [("original", image, digest)]
    for variant in LOOK_VARIANTS:
        out = model_output(catalog, variant, settings.epoch, image, digest)
        if isinstance(out, ModelOutput):
            panels.append((variant, out.pixels, out.key))
    render_first_look(panels, settings.region, where=settings.image,
                      epoch_note=epoch_note(settings.epoch), key="gallery")


def render_magnifier(catalog: Catalog, settings: GallerySettings, image: np.ndarray,
                     digest: str) -> None:
    """The region of the chosen photograph, enlarged with nearest neighbour, for every
    chosen variant at the chosen epoch side by side, each with its fine detail under it
    (high-passed x10): the grid shows even where the crop itself looks smooth. The
    default region is where deconv3's checkerboard is strongest (:func:`artifact_region`).
    """
    outputs = {v: model_output(catalog, v, settings.epoch, image, digest)
               for v in settings.variants}
    outputs = {v: out for v, out in outputs.items() if isinstance(out, ModelOutput)}
    region = settings.region
    st.subheader(f"Magnifier: {region.height}x{region.width} pixels of {settings.image}, "
                 f"epoch {settings.epoch}")
    per_row = 4 if presenting() else 3
    factor = fit_factor(region.width, per_row)
    st.caption(scale_label(factor))
    rkey = f"{region.top},{region.left},{region.height}"
    panels = [("original", image, digest)]
    panels += [(v, out.pixels, out.key) for v, out in outputs.items()]
    cells = [None, *panels]  # the first cell: where the region is
    with pixelated_container("gallery-magnifier"):
        for start in range(0, len(cells), per_row):
            cols = st.columns(per_row)
            for col, cell in zip(cols, cells[start : start + per_row], strict=False):
                with col:
                    if cell is None:
                        show_pixels(outline_region(image, region), "where (red frame)",
                                    key=f"{digest}|outline|{rkey}")
                        continue
                    label, pixels, key = cell
                    show_magnified(pixels, region, label, key=key, factor=factor,
                                   period=PERIOD)
    explain(
        "Every image pixel is drawn as a solid block (nearest neighbour, no smoothing), "
        f"so a pattern that repeats every {PERIOD} pixels shows as a regular grid. Under "
        "each crop, its fine detail: the image minus its local average, amplified ten "
        "times, which makes a checkerboard too faint to see plain. The region starts where "
        "deconv3's checkerboard is strongest; move it under *More settings*."
    )
