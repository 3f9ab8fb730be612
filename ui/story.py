"""The story: the blog post's argument as a sequence of live steps, for a meeting.

Each step is a short text plus a live view built from the same components as the full
pages (``ui.coverage``, ``ui.matrix``, ``ui.gallery``, ``ui.catalog``, ``ui.compare``,
``ui.layers``): nothing here computes or draws anything of its own beyond layout and
small tables.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import streamlit as st

from core.experiment.catalog import (
    PERIOD,
    POST_EPOCH,
    REGENERATE,
    Catalog,
    Unavailable,
)
from core.io.pixels import Region
from core.maths.matrix_case import MatrixSpec, build_case
from core.maths.metrics import SCORE_UNIT, format_score
from ui.catalog import (
    FLAT_STD,
    checkpoint_root,
    frame_caption,
    heldout,
    heldout_digests,
    heldout_scores,
    histories,
    load_catalog,
    model_output,
    show_catalog_problems,
)
from ui.common import by_screen_height, hidden_container, lazy_section, presenting
from ui.figures.comparison import Side, render_comparison
from ui.figures.coverage import FIGURE_4, FIGURE_6, CoverageSpec, render_coverage
from ui.figures.firstlook import look_panels, render_first_look_for_screens
from ui.figures.front import render_front
from ui.figures.matrix import render_transpose_view, show_matrix_c
from ui.figures.regions import artifact_region, curves_figure
from ui.figures.sound import render_sound_step
from ui.pixels import (
    DETAIL_GAIN,
    fit_factor,
    pixelated_container,
    scale_label,
    show_exact,
    show_magnified,
)
from ui.plots import preload_charts, show_plot, show_table
from ui.urlstate import IntParam, check_query_params

#: The photograph the story magnifies (a held-out image: never trained on); the crop is
#: where deconv3's checkerboard is strongest on it (ui.figures.regions.artifact_region).
STORY_IMAGE = "coffee"
CROP_SIZE = 32
#: Variants the story compares, in the order shown.
DECONV, EVEN, RESIZE = "deconv3", "deconv4", "resize_nearest"
FILM_EPOCHS = (0, 1, 2, 5, 10)
#: The coverage heatmap's height in steps 4 and 6: smaller when presenting, so the figure
#: and its sentence fit a 1280x720 screen.
POINT_HEIGHT = {False: 560, True: 330}
FILM_PRESENT_FACTOR = 4
#: Presenting, the first look's magnification (steps 1 and 7) on screens over 800 px high
#: (1440x900: the pictures, their sentence and the step's sentence on one screen; shorter
#: ones: ui.figures.firstlook.SHORT_LOOK_FACTOR), and the film's (step 5) on short ones.
TALL_LOOK_FACTOR = 10
SHORT_FILM_FACTOR = 3


@dataclass(frozen=True)
class Step:
    """One step: a title, two or three sentences, a live view and the full page."""

    title: str
    text: str
    render: Callable[[], None]
    page: str
    page_label: str
    page_params: dict[str, str] | None = None
    #: False for a view of pictures only (steps 1, 5, 7): the page then loads the chart
    #: library in a hidden chart, so Next into a step with charts does not wait for it.
    charts: bool = True


def figure_spec(values: dict[str, object]) -> CoverageSpec:
    """The coverage settings of a preset (FIGURE_4, FIGURE_6) as steps 4 and 6 draw them."""
    return CoverageSpec(**{**values, "dims": 2 if values["dims"] == "2-D" else 1})


# --------------------------------------------------------------------------- model helpers


def _catalog_or_warn() -> Catalog | None:
    catalog = load_catalog()
    show_catalog_problems(catalog)
    if catalog.empty:
        st.warning(f"No stored checkpoints to show here. Regenerate them with `{REGENERATE}`.",
                   icon=":material/folder_off:")
        return None
    return catalog


def _photo() -> tuple[str, np.ndarray, str]:
    images, digests = heldout(), heldout_digests()
    name = STORY_IMAGE if STORY_IMAGE in images else next(iter(images))
    return name, images[name], digests[name]


def _crop(catalog: Catalog, image: np.ndarray, digest: str) -> Region:
    """The story's magnified square: where deconv3's checkerboard is strongest."""
    return artifact_region(catalog, image, digest, CROP_SIZE)


def _output(catalog: Catalog, variant: str, epoch: int, image: np.ndarray, digest: str):
    result = model_output(catalog, variant, epoch, image, digest)
    if isinstance(result, Unavailable):
        st.error(f"{variant}, epoch {epoch}: {result.message}", icon=":material/broken_image:")
        return None
    return result


# --------------------------------------------------------------------------- the steps


def _first_look(panels, region: Region, *, where: str, epoch_note: str, key: str) -> None:
    """The first look, at :data:`TALL_LOOK_FACTOR` when presenting on a tall screen (and
    smaller on a short one: :func:`render_first_look_for_screens`)."""
    render_first_look_for_screens(panels, region, where=where, epoch_note=epoch_note,
                                  key=key, factor=TALL_LOOK_FACTOR if presenting() else None)


def step_artifacts() -> None:
    catalog = _catalog_or_warn()
    if catalog is None:
        return
    name, image, digest = _photo()
    region = _crop(catalog, image, digest)
    variants = [v for v in (DECONV, RESIZE) if v in catalog.variants]
    panels = [(f"original ({name})", image, f"story-orig-{digest}", None)]
    for variant in variants:
        epoch = catalog.default_epoch(variant)
        out = _output(catalog, variant, epoch, image, digest)
        if out is not None:
            panels.append((f"{variant} · epoch {epoch}", out.pixels, out.key, out.score))
    epoch = catalog.default_epoch(DECONV) if DECONV in catalog.variants else None
    _first_look([(c, p, k) for c, p, k, _ in panels], region, where=name,
                epoch_note=f"Epoch {epoch}: the post's ten epochs of training."
                if epoch == POST_EPOCH else "", key="story-artifacts")
    more = lazy_section("The plain pixels and the checkerboard scores", "story-more-1")
    with more:
        if not more.open:
            return
        with pixelated_container("story-artifacts"):
            cols = st.columns(len(panels))
            factor = fit_factor(region.width, len(panels))
            for col, (caption, pixels, key, score) in zip(cols, panels, strict=True):
                with col:
                    show_magnified(pixels, region, caption, key=key, factor=factor,
                                   period=PERIOD)
                    if score is not None:
                        st.metric("Checkerboard score", format_score(score))


def step_matrix() -> None:
    show_matrix_c(MatrixSpec(), pos=None, key="story_mx", compact=presenting())


def step_transpose() -> None:
    case = build_case(MatrixSpec(in_h=5, in_w=5, stride=2))
    render_transpose_view(case, key="story_mxt", compact=presenting())


#: Presenting, steps 4 and 6 show the heatmap; its numbers open on demand.
COVERAGE_FOLD = "The numbers of this figure: counts per phase, output size, the layer's code"


def step_uneven() -> None:
    render_coverage(figure_spec(FIGURE_4), key="story-fig4", height=POINT_HEIGHT[presenting()],
                    fold=COVERAGE_FOLD if presenting() else None)


def step_first_epoch() -> None:
    catalog = _catalog_or_warn()
    if catalog is None:
        return
    name, image, digest = _photo()
    region = _crop(catalog, image, digest)
    variants = [v for v in (DECONV, RESIZE) if v in catalog.variants]
    # presenting: x4 at most, so both rows of the film and the sentence fit 1440x900
    factor = fit_factor(region.width, len(FILM_EPOCHS))
    frames = [(variant, epoch, out) for variant in variants
              for epoch in FILM_EPOCHS if epoch in catalog.epochs(variant)
              for out in [_output(catalog, variant, epoch, image, digest)] if out is not None]
    if not presenting():
        _film(frames, variants, region, name, factor, "story-film")
    else:
        tall, short = by_screen_height("story-film")
        with tall:
            _film(frames, variants, region, name, min(factor, FILM_PRESENT_FACTOR), "story-film")
        with short:
            _film(frames, variants, region, name, SHORT_FILM_FACTOR, "story-film-short")
    shown = {v: {e: out.score for v2, e, out in frames
                 if v2 == v and float(np.std(out.pixels)) >= FLAT_STD} for v in variants}
    st.markdown(first_epoch_sentence(catalog.series, shown=shown, photo=name))
    more = lazy_section("Training curves: loss, PSNR, SSIM and checkerboard score", "story-more-5")
    with more:
        if more.open:
            show_plot(curves_figure(catalog.series, variants, 1), key="story-curves",
                      height=520)


def _film(frames, variants: list[str], region: Region, name: str, factor: int,
          key: str) -> None:
    """Step 5's two rows of fine detail, one per variant, at ``factor``."""
    rows = " and ".join(f"`{v}` {where}" for v, where in zip(variants, ("above", "below"),
                                                                strict=False))
    st.markdown(f"**Fine detail ×{DETAIL_GAIN:g}** of {region.height}x{region.width} pixels "
                f"of {name} (each pixel minus its local average, amplified), epoch by epoch, "
                f"{rows}; {scale_label(factor)}.")
    with pixelated_container(key):
        for variant in variants:
            cols = st.columns(len(FILM_EPOCHS))
            mine = [(epoch, out) for v, epoch, out in frames if v == variant]
            for col, (epoch, out) in zip(cols, mine, strict=False):
                look = look_panels([(variant, out.pixels, out.key)], region)[0]
                with col:
                    show_exact(look.view, frame_caption(epoch, out.pixels, out.score,
                                                        unit=False),
                               key=f"{out.key}|look|{region}", factor=factor)


def _ratios(curves: list[dict[int, float]], first: int, last: int) -> list[float]:
    return [curves[0][e] / curves[1][e] for e in range(first, last + 1)
            if e in curves[0] and e in curves[1] and curves[1][e] > 0]


def first_epoch_sentence(series, first: int = 1, last: int = POST_EPOCH, *,
                         shown: dict[str, dict[int, float]] | None = None,
                         photo: str = "") -> str:
    """How ``deconv3``'s checkerboard score compares with ``resize_nearest``'s from epoch
    ``first`` to ``last``: on the photograph in the frames on screen (``shown``: variant
    -> {epoch: score}), then over the stored curves of every held-out photograph
    (``catalog.series``, in the training curves below), each said to be about which.
    The smallest and largest ratio, and "well above" (every ratio at least 2), "above"
    (at least 1) or "not always above" from them."""
    curves = [dict(zip(*series.get(v, {}).get("checkerboard", ([], [])), strict=True))
              for v in (DECONV, RESIZE)]
    ratios = _ratios(curves, first, last)
    if not ratios:
        return ""
    lo, hi = min(ratios), max(ratios)
    verdict = "well above" if lo >= 2 else "above" if lo >= 1 else "not always above"
    held = (f"`{RESIZE}`'s: {lo:.1f}x to {hi:.1f}x it over all the held-out photographs "
            "(the training curves)")
    here = _ratios([(shown or {}).get(v, {}) for v in (DECONV, RESIZE)], first, last)
    if not here:
        return (f"From epoch {first} to {last}, `{DECONV}`'s checkerboard score stays {verdict} "
                f"{held}.")
    return (f"From epoch {first} to {last}, `{DECONV}`'s checkerboard score stays {verdict} "
            f"{held}; in the frames above, on {photo or 'this photograph'}, "
            f"{min(here):.1f}x to {max(here):.1f}x.")


def _final_table(catalog: Catalog, variants: list[str],
                 epochs=(1, POST_EPOCH, None)) -> pd.DataFrame:
    """Checkerboard score and PSNR (dB) per variant at epoch 1, the post's epoch 10 and the
    last epoch (columns "score, epoch N" and "PSNR, epoch N": short, so the table fits a
    page)."""
    rows = []
    for variant in variants:
        series = catalog.series.get(variant, {})
        row = {"variant": variant}
        wanted = [catalog.last_epoch(variant) if e is None else e for e in epochs]
        for e in dict.fromkeys(wanted):
            for metric, label in (("checkerboard", "score"), ("val_psnr", "PSNR")):
                xs, ys = series.get(metric, ([], []))
                row[f"{label}, epoch {e}"] = ys[xs.index(e)] if e in xs else np.nan
        rows.append(row)
    return pd.DataFrame(rows).set_index("variant")


def step_even() -> None:
    # presenting: the coverage beside what the trained networks did (one screen)
    figure, numbers = st.columns(2) if presenting() else (st.container(), st.container())
    with figure:
        render_coverage(figure_spec(FIGURE_6), key="story-fig6",
                        height=POINT_HEIGHT[presenting()],
                        fold=COVERAGE_FOLD if presenting() else None)
    catalog = _catalog_or_warn()
    if catalog is None:
        return
    variants = [v for v in (DECONV, EVEN, RESIZE) if v in catalog.variants]
    table = _final_table(catalog, variants)
    with numbers:
        st.markdown(even_sentence(table))
        st.markdown("**What the trained networks did** (held-out photographs; score: "
                    f"checkerboard {SCORE_UNIT}, PSNR in dB)")
        show_table(table.style.format({  # scores as everywhere (format_score), PSNR in dB
            c: (lambda v: format_score(v, unit=False)) if c.startswith("score")
            else (lambda v: f"{v:.1f}" if np.isfinite(v) else "—") for c in table.columns}))


def even_sentence(table: pd.DataFrame) -> str:
    """How the 4x4 network's checkerboard compares with the 3x3 and resize ones, computed
    from the table step 6 shows (scores at epoch 1, 10 and the last)."""
    if not {DECONV, EVEN, RESIZE} <= set(table.index):
        return ""
    parts = []
    for col in [c for c in table.columns if c.startswith("score")]:
        even, deconv, resize = (float(table.at[v, col]) for v in (EVEN, DECONV, RESIZE))
        if all(np.isfinite(x) and x > 0 for x in (even, deconv, resize)):
            parts.append(f"{col.split(', ')[1]}: {even / deconv:.1f}x `{DECONV}`'s and "
                         f"{even / resize:.1f}x `{RESIZE}`'s")
    return ("The 4x4 network's checkerboard score, " + "; ".join(parts) + ".") if parts else ""


def step_side_by_side() -> None:
    catalog = _catalog_or_warn()
    if catalog is None:
        return
    name, image, digest = _photo()
    sides = tuple(Side(v, catalog.default_epoch(v)) if v in catalog.variants else None
                  for v in (DECONV, RESIZE))
    region = _crop(catalog, image, digest)
    panels = [(f"original ({name})", image, f"story-orig-{digest}")]
    scores = {"the original": heldout_scores()[name]}
    for side in sides:
        out = _output(catalog, side.variant, side.epoch, image, digest) if side else None
        if out is not None:
            panels.append((side.label, out.pixels, out.key))
            scores[f"`{side.variant}`"] = out.score
    _first_look(panels, region, where=name, epoch_note="", key="story-compare")
    st.markdown(scores_sentence(scores))
    more = lazy_section("The full comparison: differences, phase patterns, spectra, measures",
                 "story-more-7")
    with more:
        if more.open:
            render_comparison(catalog, sides, image, digest, name)


def scores_sentence(scores: dict[str, float]) -> str:
    """The checkerboard scores step 7 shows, the original first, each network's also as
    a multiple of the original's (how near it comes to the photograph's own level)."""
    items = list(scores.items())
    if not items:
        return ""
    base = items[0][1]
    parts = [f"{items[0][0]} {format_score(base)}"]
    for who, value in items[1:]:
        times = f" ({value / base:.1f}x the original's)" if base > 0 else ""
        parts.append(f"{who} {format_score(value)}{times}")
    return "Checkerboard score on the whole photograph: " + ", ".join(parts) + "."


def step_fixes() -> None:
    root = checkpoint_root()
    render_front(histories(root), key="story-front", compact=presenting())


STEPS: tuple[Step, ...] = (
    Step("What checkerboard artifacts look like",
         "A network that upsamples with 3x3 transposed convolutions at stride 2 (`deconv3`) "
         "paints a fine grid over everything it draws. Here it is on a photograph it never "
         "saw, after the post's ten epochs of training, magnified with nearest neighbour, "
         "beside the same network built with resize-convolutions.",
         step_artifacts, "pages/gallery.py", "Training gallery", charts=False),
    Step("Convolution as a matrix",
         "A convolution is a matrix C: each row holds the kernel at one position, zeros "
         "elsewhere, and `C @ x` gives the output (the post's Figure 2). Step through the "
         "kernel positions to see which input cells each row reads.",
         step_matrix, "pages/matrix.py", "Convolution as a matrix"),
    Step("The transpose: three equal ways to deconvolve",
         "C transposed maps the small output back to the input's shape: that is the "
         "deconvolution. Inserting zeros between the inputs and convolving with the flipped "
         "kernel gives the same numbers, and so does `conv_transpose2d`; the differences are "
         "shown, at float precision.",
         step_transpose, "pages/matrix.py", "Convolution as a matrix"),
    Step("Uneven overlap: 3x3 at stride 2",
         "Each input cell paints a copy of the kernel two cells apart, so the copies overlap "
         "unevenly: some output cells are painted four times, the cells beside them twice and "
         "those on their diagonals once (Figure 4). That fixed 2-pixel pattern is the checkerboard, before any training.",
         step_uneven, "pages/coverage.py", "Kernel coverage",
         {k: str(v) for k, v in FIGURE_4.items()}),
    Step("Artifacts from the first epoch",
         "The pattern is there after one epoch (Figure 5) and through the post's ten, in "
         "the deconvolution network's fine detail and in its checkerboard score. Trained "
         "longer, our networks learn to hide most of it; the gallery's "
         "\"artifacts' life\" follows it over every epoch.",
         step_first_epoch, "pages/gallery.py", "Training gallery", charts=False),
    Step("Even overlap at 4x4, stride 2, and what it does not fix",
         "A kernel divisible by the stride overlaps evenly in the interior (Figure 6), so "
         "the pattern is no longer built into the layer. The borders stay uneven, and "
         "training can still learn unequal weights for the four phases: the numbers below "
         "say how much checkerboard the trained 4x4 network keeps.",
         step_even, "pages/coverage.py", "Kernel coverage",
         {k: str(v) for k, v in FIGURE_6.items()}),
    Step("Deconvolution vs resize-convolution",
         "The same network, the same data and budget (ten epochs, as in the post); only the "
         "upsampling differs (Figure 7). Resizing with nearest neighbour, then convolving, "
         "paints every output cell equally, so the grid is gone from the image; the scores "
         "below say how near each comes to the photograph's own.",
         step_side_by_side, "pages/comparison.py", "Compare models", charts=False),
    Step("The fixes compared: sharpness against checkerboard",
         "Every trained upsampler at epochs 1, 10 and 40: up is sharper, left is cleaner. "
         "The sentences under each picture are computed from the stored measurements: which "
         "variants no other beats on both, and what the post's fix costs.",
         step_fixes, "pages/gallery.py", "Training gallery, What should I use?",
         {"choose": "true"}),
    Step("The same in sound",
         "A vocoder's 1-D transposed convolutions overlap unevenly too, and a pattern that "
         "repeats every 8 samples of a sound at 16 kHz is a chord of tones at 2, 4, 6 and 8 "
         "kHz: play both, and see bright lines at the red ticks in the transposed "
         "convolution's spectrogram only. Three layers at stride 2 at initialisation, on a "
         "vowel-like sound.",
         render_sound_step, "pages/hear_it.py", "Hear it"),
)


# --------------------------------------------------------------------------- navigation


def _move(delta: int) -> None:
    current = int(st.session_state.get("step", 1))
    st.session_state["step"] = min(len(STEPS), max(1, current + delta))


#: Longest step title on a Previous/Next button: one line in a third of a 1280 px page
#: when presenting (the whole title is in the button's tooltip).
BUTTON_TITLE_CHARS = 24


def _step_label(number: int) -> str:
    """``"3. The transpose: three…"``: the step's number and its title, cut to one line."""
    title = STEPS[number - 1].title
    if len(title) > BUTTON_TITLE_CHARS:
        title = title[:BUTTON_TITLE_CHARS].rsplit(" ", 1)[0].rstrip(":,;") + "…"
    return f"{number}. {title}"


def _step_help(number: int, keys: str) -> str:
    if not 1 <= number <= len(STEPS):
        return keys
    return f"{number}. {STEPS[number - 1].title}. {keys}"


def step_controls() -> int:
    """Previous, the step numbers (one control, bound to ``?step=N``), Next; returns N."""
    rule = IntParam(1, len(STEPS))
    check_query_params({"step": rule})
    # ?step=abc, 1.5 or 1_0: warned about above; the default is used
    raw = st.session_state.get("step", st.query_params.get("step"))
    step = int(raw) if raw is not None and rule.accepts(str(raw)) else 1
    if presenting():  # one row across the wide page
        prev, numbers, nxt = st.columns([3, 4, 3], vertical_alignment="center")
    else:  # the reading column is narrow: the buttons, then every step number below
        prev, nxt = st.columns(2, vertical_alignment="center")
        numbers = st.container()
    before = _step_label(step - 1) if step > 1 else "Previous"
    after = _step_label(step + 1) if step < len(STEPS) else "Next"
    # Right / Left as on a keyboard, PageDown / PageUp as a presentation clicker sends
    prev.button(before, key="story-prev", on_click=_move, args=(-1,), disabled=step <= 1,
                icon=":material/arrow_back:", width="stretch", shortcut="Left",
                help=_step_help(step - 1, "Previous step (Left or PageUp)"))
    with hidden_container("story-clicker"):  # a clicker's keys
        st.button("Previous step", key="story-pageup", on_click=_move, args=(-1,),
                  shortcut="PageUp")
        st.button("Next step", key="story-pagedown", on_click=_move, args=(1,),
                  shortcut="PageDown")
    if "step" not in st.session_state:  # the URL's step; Previous / Next write it later,
        st.session_state["step"] = step  # so the control has no default (two would warn)
    with numbers:
        chosen = st.segmented_control(
            "Step", list(range(1, len(STEPS) + 1)), required=True, key="step",
            bind="query-params", label_visibility="collapsed", width="stretch",
            help="Jump to a step: " + "; ".join(f"{i}. {s.title}"
                                                for i, s in enumerate(STEPS, start=1)))
    nxt.button(after, key="story-next", on_click=_move, args=(1,),
               disabled=step >= len(STEPS), icon=":material/arrow_forward:", width="stretch",
               type="primary", shortcut="Right",
               help=_step_help(step + 1, "Next step (Right or PageDown)"))
    return int(chosen or step)


def render_step(number: int) -> Step:
    """Draw step ``number`` (1-based): title, text, live view, link to the full page."""
    step = STEPS[number - 1]
    # presenting, the step's heading is the page's title (its h1): one line less
    (st.title if presenting() else st.header)(f"Step {number} of {len(STEPS)}: {step.title}")
    point, _, rest = step.text.partition(". ")
    link = {"page": step.page, "label": f"Open the full page: {step.page_label}",
            "icon": ":material/open_in_new:", "query_params": step.page_params}
    if presenting():  # one sentence above the figure; the rest and the link folded below
        st.markdown(point + ("." if rest else ""))
        step.render()
        with st.expander("More on this step"):
            if rest:
                st.markdown(rest)
            st.page_link(**link)
    else:
        st.markdown(step.text)
        step.render()
        st.page_link(**link)
    if not step.charts:
        preload_charts("story-chart-preload")
    return step
