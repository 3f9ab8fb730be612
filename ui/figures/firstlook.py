"""The first screen's view of the grid (the gallery and Compare): one small square of the
original and of two trained networks' outputs, side by side, as *fine detail* (each pixel
minus its local average, amplified ten times: :func:`core.maths.metrics.fine_detail`),
every image pixel drawn as a whole number of screen pixels.

Why fine detail: since the stronger training, ``deconv3``'s grid at epoch 10 moves a
photograph by only a few grey levels, which no one in a room sees; its fine detail moves
by tens. The line above the panels says so with the numbers of the panels shown
(:func:`core.maths.metrics.grey_levels_at_period`, measured on the very arrays drawn).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import streamlit as st

from core.experiment.catalog import PERIOD
from core.io.pixels import Region, crop_region
from core.maths.metrics import grey_levels_at_period
from ui.common import by_screen_height, presenting
from ui.figures.regions import PLAIN_LEVELS
from ui.pixels import DETAIL_GAIN, cached_fine_detail, pixelated_container, show_exact

#: Screen width of one panel: a third of the centred page (704 px) when reading, a
#: third of the wide page on a 1280-px screen (1120 px) when presenting. The
#: magnification is the whole number that fits (32 px -> x7 and x11).
PANEL_WIDTH = {False: 224, True: 352}


@dataclass(frozen=True)
class LookPanel:
    """One panel of the first look: its label, the image's view and how plain the grid is."""

    label: str
    view: np.ndarray  # the fine detail of the region, (h, w, 3) in [0, 1]: what is drawn
    plain_levels: float  # grey levels of the period-P pattern in the plain crop
    detail_levels: float  # the same in ``view``
    key: str


@st.cache_data(max_entries=128, show_spinner=False)
def _look(key: str, rkey: str, _pixels: np.ndarray, _region: Region) -> tuple:
    crop = crop_region(_pixels, _region)
    view = crop_region(cached_fine_detail(key, PERIOD, DETAIL_GAIN, _pixels), _region)
    return view, grey_levels_at_period(crop, PERIOD), grey_levels_at_period(view, PERIOD)


def look_panels(panels: Sequence[tuple[str, np.ndarray, str]], region: Region) -> list[LookPanel]:
    """The arrays the first look draws, for ``(label, pixels, key)`` panels: the fine
    detail of ``region`` and its grey levels at the period, plain and amplified."""
    out = []
    for label, pixels, key in panels:
        r = region.clamped(pixels.shape)
        rkey = f"{r.top},{r.left},{r.height},{r.width}"
        view, plain, detail = _look(key, rkey, pixels, r)
        out.append(LookPanel(label, view, plain, detail, key))
    return out


def look_factor(region: Region) -> int:
    """Whole screen pixels per image pixel for a panel of ``region`` in this mode."""
    return max(1, PANEL_WIDTH[presenting()] // max(region.width, region.height, 1))


def plainness_sentence(look: LookPanel) -> str:
    """How plain ``look``'s grid is, from its own numbers: too faint in plain pixels
    (below :data:`ui.figures.regions.PLAIN_LEVELS` grey levels peak to peak at the
    period) or visible without amplification."""
    who = look.label.split(" ")[0]
    how = ("too faint for a projector" if look.plain_levels < PLAIN_LEVELS
           else "visible even without amplification")
    return (f"In plain pixels {who}'s grid spans {look.plain_levels:.0f} grey levels here, "
            f"{how}; amplified as shown, {look.detail_levels:.0f}.")


def render_first_look(panels: Sequence[tuple[str, np.ndarray, str]], region: Region, *,
                      where: str, epoch_note: str, key: str,
                      factor: int | None = None) -> list[LookPanel]:
    """The grid where the room sees it: fine detail of ``region`` of every panel in one row,
    with a line saying how it is amplified and, from the panels' own numbers, how faint
    the grid is in plain pixels. ``panels``: ``(label, pixels, cache key)``, the original
    first, the checkerboarded network second. ``where``: the image's name;
    ``epoch_note``: which epoch is shown and why; ``factor``: the magnification, when not
    this mode's (:func:`look_factor`). Returns the panels drawn."""
    looks = look_panels(panels, region)
    if not looks:
        return looks
    k = factor or look_factor(region)
    worst = looks[1] if len(looks) > 1 else looks[0]
    if presenting():  # the room reads it at a glance: no parenthesis (issue 28)
        st.markdown(f"**Fine detail ×{DETAIL_GAIN:g}** of a {region.height}x{region.width} "
                    f"square of {where}, each pixel {k}x{k} on screen. {epoch_note} "
                    + plainness_sentence(worst))
    else:
        st.markdown(
            f"**Fine detail ×{DETAIL_GAIN:g}** of {region.height}x{region.width} pixels of "
            f"{where} (each pixel minus its local average, amplified {DETAIL_GAIN:g} times "
            f"around grey; ×{k}: each image pixel is {k}x{k} screen pixels). {epoch_note} "
            + plainness_sentence(worst))
    with pixelated_container(f"look-{key}"):
        for col, look in zip(st.columns(len(looks)), looks, strict=False):
            with col:
                show_exact(look.view, f"{look.label}: {look.detail_levels:.0f} grey levels amplified",
                           key=f"{look.key}|look|{region}", factor=k)
    return looks


#: Presenting, the first look's magnification on screens 800 px high or less (1280x720):
#: the pictures and their sentence on the first screen (:func:`ui.common.by_screen_height`).
SHORT_LOOK_FACTOR = 7


def render_first_look_for_screens(panels: Sequence[tuple[str, np.ndarray, str]],
                                  region: Region, *, where: str, epoch_note: str, key: str,
                                  factor: int | None = None) -> None:
    """:func:`render_first_look`; presenting, drawn twice: at ``factor`` (or this mode's)
    for screens over 800 px high and at :data:`SHORT_LOOK_FACTOR` for shorter ones (the
    presentation CSS shows one)."""
    if not presenting():
        render_first_look(panels, region, where=where, epoch_note=epoch_note, key=key,
                          factor=factor)
        return
    tall, short = by_screen_height(key)
    with tall:
        render_first_look(panels, region, where=where, epoch_note=epoch_note, key=key,
                          factor=factor)
    with short:
        render_first_look(panels, region, where=where, epoch_note=epoch_note,
                          key=f"{key}-short", factor=min(factor or SHORT_LOOK_FACTOR,
                                                         SHORT_LOOK_FACTOR))
