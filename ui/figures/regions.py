"""Where the checkerboard is: the strongest region of an image, region controls and outlines, each variant's colour and the training curves (the gallery, Compare and the story use them)."""

from __future__ import annotations

import zlib
from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from core.experiment.catalog import CURVES, PERIOD, Catalog
from core.experiment.models import VARIANTS
from core.experiment.outputs import ModelOutput
from core.io.pixels import Region, crop_region
from core.maths.metrics import (
    SCORE_SCALE,
    SCORE_UNIT,
    grey_levels_at_period,
    most_artifacted_region,
)
from ui.catalog import model_output
from ui.pixels import DETAIL_GAIN, cached_fine_detail
from ui.urlstate import ChoiceParam, IntParam, check_query_params

#: Region sizes offered by the magnifier (square, in pixels).
REGION_SIZES = (8, 12, 16, 24, 32, 48, 64)


#: Side of the default magnifier region (image pixels).
REGION_SIZE = 32


#: The variant whose artifact places the default magnifier region: the post's case.
REGION_VARIANT = "deconv3"


#: One colour per variant, in the registry's order (the same on every plot).
#: No cyan: beside deconv3's blue it could not be told apart from across a meeting room
#: (deconv_foh is olive, deconv3_small_last black).
PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2",
           "#bcbd22", "#7f7f7f", "#000000")


@st.cache_data(max_entries=64, show_spinner=False)
def strongest_region(keys: tuple[str, ...], size: int, _images: list[np.ndarray]) -> Region:
    """:func:`core.maths.metrics.most_artifacted_region`, cached on the outputs' cache keys
    (checkpoint + input hash: they name the arrays)."""
    return most_artifacted_region(_images, PERIOD, size)


def artifact_region(catalog: Catalog, image: np.ndarray, digest: str,
                    size: int = REGION_SIZE) -> Region:
    """Where to magnify by default: the ``size`` square where ``deconv3``'s outputs on
    ``image`` show their checkerboard most plainly (the largest share of the fine detail),
    at its first trained epoch and at the epoch the pages open at
    (:meth:`Catalog.default_epoch`), both at once
    (:func:`core.maths.metrics.most_artifacted_region`). Not the last epoch too: a long run
    hides most of its grid, and the only windows where it still shows at epoch 40 are
    flat and dark, where nothing else is visible either. Falls back to the first
    variant, then to the image's centre.
    """
    h, w = image.shape[:2]
    centre = Region(max(0, h // 2 - size // 2), max(0, w // 2 - size // 2), size, size)
    variants = catalog.variants
    variant = REGION_VARIANT if REGION_VARIANT in variants else (variants[0] if variants else None)
    if variant is None:
        return centre.clamped(image.shape)
    epochs = [e for e in catalog.epochs(variant) if e >= 1] or catalog.epochs(variant)
    picks = sorted({epochs[0], catalog.default_epoch(variant)})
    outputs = [model_output(catalog, variant, e, image, digest) for e in picks]
    outputs = [o for o in outputs if isinstance(o, ModelOutput)]
    if not outputs:
        return centre.clamped(image.shape)
    region = strongest_region(tuple(o.key for o in outputs), int(size),
                              [o.pixels for o in outputs])
    shown = next((o for o, e in zip(outputs, picks, strict=False)
                  if e == catalog.default_epoch(variant)), outputs[-1])
    return plain_region(shown.key, digest, region, shown.pixels, image)


#: The first look's rule: the network's fine detail at least this many times the
#: original's own periodic level in the same square, and at least this many grey levels
#: peak to peak at the period (issue 23).
PLAIN_RATIO, PLAIN_LEVELS = 2.0, 6.0


@st.cache_data(max_entries=64, show_spinner=False)
def plain_region(key: str, digest: str, region: Region, _output: np.ndarray,
                 _image: np.ndarray) -> Region:
    """``region`` if the first look's rule holds there (the output's fine-detail grey
    levels at the period at least :data:`PLAIN_RATIO` times the original's); otherwise the
    square of the same size, on a half-size grid, where the output's level divided by the
    original's is largest, among those where the output's is at least
    :data:`PLAIN_LEVELS` if any (a textured photograph's own periodic detail, e.g. fur, would
    otherwise pass for the network's grid)."""
    views = [cached_fine_detail(k, PERIOD, DETAIL_GAIN, a)
             for k, a in ((key, _output), (digest, _image))]

    def ratio(r: Region) -> tuple[float, float]:
        net, own = (grey_levels_at_period(crop_region(v, r), PERIOD) for v in views)
        return net / max(own, 0.5), net

    here, net = ratio(region)
    if here >= PLAIN_RATIO and net >= PLAIN_LEVELS:
        return region
    size = region.height
    h, w = min(a.shape[0] for a in (_output, _image)), min(a.shape[1] for a in (_output, _image))
    step = max(PERIOD, size // 2 // PERIOD * PERIOD)
    candidates = [Region(t, left, size, size) for t in range(0, h - size + 1, step)
                  for left in range(0, w - size + 1, step)]
    scored = [(ratio(r), r) for r in candidates] or [(ratio(region), region)]
    plain = [x for x in scored if x[0][1] >= PLAIN_LEVELS] or scored
    return max(plain, key=lambda x: x[0][0])[1]


def region_controls(shape: tuple[int, ...], *, prefix: str = "region",
                    default: Region | None = None) -> Region:
    """Sliders for a square region (size, top, left), bound to the URL; returns it clamped.

    Keys (and URL parameters): ``{prefix}_size``, ``{prefix}_top``, ``{prefix}_left``.
    The default is ``default`` (the computed :func:`artifact_region`), else a 32-pixel
    square in the middle of the image. When the default moves (another photograph),
    sliders nobody has touched follow it. A position that does not fit the image (a
    link made on a larger one) is moved inside it.
    """
    h, w = int(shape[0]), int(shape[1])
    sizes = [s for s in REGION_SIZES if s <= min(h, w)] or [min(h, w)]
    top_max, left_max = max(1, h - sizes[0]), max(1, w - sizes[0])
    check_query_params({
        f"{prefix}_size": ChoiceParam(tuple(str(s) for s in sizes)),
        f"{prefix}_top": IntParam(0, top_max),
        f"{prefix}_left": IntParam(0, left_max),
    })
    size0 = 32 if 32 in sizes else sizes[-1]
    if default is not None and default.height in sizes:
        size0 = default.height
    top0 = max(0, min(top_max, h // 2 - size0 // 2))
    left0 = max(0, min(left_max, w // 2 - size0 // 2))
    if default is not None:
        top0, left0 = min(default.top, top_max), min(default.left, left_max)
    # The default moved (another photograph): sliders still at the old default follow.
    memo = f"_{prefix}_default"
    previous = st.session_state.get(memo)
    current = {f"{prefix}_size": size0, f"{prefix}_top": top0, f"{prefix}_left": left0}
    if previous is not None and previous != current:
        for name, value in previous.items():
            if st.session_state.get(name) == value:
                del st.session_state[name]
    st.session_state[memo] = current
    # A smaller image than the one the sliders were made for: move them inside it.
    for name, hi in ((f"{prefix}_top", top_max), (f"{prefix}_left", left_max)):
        if st.session_state.get(name, 0) > hi:
            st.session_state[name] = hi
    if f"{prefix}_size" in st.session_state and st.session_state[f"{prefix}_size"] not in sizes:
        st.session_state[f"{prefix}_size"] = sizes[-1]
    cols = st.columns(3)
    with cols[0]:
        size = st.select_slider("Region size", sizes, value=size0, key=f"{prefix}_size",
                                bind="query-params",
                                help="Side of the square that is enlarged, in image pixels.")
    with cols[1]:
        top = st.slider("Region top", 0, top_max, value=top0, key=f"{prefix}_top",
                        bind="query-params", help="First row of the region.")
    with cols[2]:
        left = st.slider("Region left", 0, left_max, value=left0, key=f"{prefix}_left",
                         bind="query-params", help="First column of the region.")
    return Region(int(top), int(left), int(size), int(size)).clamped((h, w))


def outline_region(image: np.ndarray, region: Region, colour=(1.0, 0.0, 0.0)) -> np.ndarray:
    """A copy of ``image`` with a one-pixel frame around ``region`` (for orientation)."""
    out = np.array(image, dtype=np.float32, copy=True)
    r = region.clamped(out.shape)
    t, lft, b, rgt = r.top, r.left, r.top + r.height - 1, r.left + r.width - 1
    top_o, bot_o = max(t - 1, 0), min(b + 1, out.shape[0] - 1)
    left_o, right_o = max(lft - 1, 0), min(rgt + 1, out.shape[1] - 1)
    out[top_o, left_o : right_o + 1] = colour
    out[bot_o, left_o : right_o + 1] = colour
    out[top_o : bot_o + 1, left_o] = colour
    out[top_o : bot_o + 1, right_o] = colour
    return out


def variant_colour(variant: str) -> str:
    """The variant's colour: fixed by its place in the registry."""
    order = list(VARIANTS)
    i = order.index(variant) if variant in order else len(order) + zlib.crc32(variant.encode())
    return PALETTE[i % len(PALETTE)]


def curves_figure(series: dict[str, dict[str, tuple[list[int], list[float]]]],
                  variants: Sequence[str], epoch: int) -> go.Figure:
    """Loss, PSNR, SSIM and checkerboard score against epoch (2 x 2 panels), one line
    per variant, the selected epoch marked by a dashed line; log scale for loss and score.

    Built from plain dicts rather than ``make_subplots``/``add_vline``: the same figure
    in a tenth of the time, which matters on every step of the epoch slider.
    """
    last = max((max(e, default=0) for per in series.values() for e, _ in per.values()),
               default=epoch)
    columns = ((0.0, 0.44), (0.56, 1.0))
    rows = ((0.58, 1.0), (0.0, 0.42))
    traces, shapes, annotations, layout = [], [], [], {}
    for i, (col, title, log) in enumerate(CURVES):
        r, c = divmod(i, 2)
        n = "" if i == 0 else str(i + 1)
        scale = SCORE_SCALE if col == "checkerboard" else 1.0  # the one unit, ×10⁻³
        if col == "checkerboard":
            title = f"{title} ({SCORE_UNIT})"
        layout[f"xaxis{n}"] = {"domain": columns[c], "anchor": f"y{n}",
                               "dtick": 1 if max(last, epoch) <= 12 else None,
                               "range": [-0.3, max(last, epoch) + 0.3],
                               "title": {"text": "epoch"} if r == 1 else None}
        # log axes: powers of ten, never SI prefixes ("100µ")
        layout[f"yaxis{n}"] = {"domain": rows[r], "anchor": f"x{n}",
                               "type": "log" if log else "linear", "exponentformat": "power"}
        for v in variants:
            epochs, values = series.get(v, {}).get(col, ([], []))
            values = [y * scale for y in values] if scale != 1.0 else values
            traces.append({
                "type": "scatter", "x": epochs, "y": values, "mode": "lines+markers",
                "name": v, "legendgroup": v, "showlegend": i == 0, "xaxis": f"x{n}",
                "yaxis": f"y{n}", "line": {"color": variant_colour(v)},
                "hovertemplate": f"{v}<br>epoch %{{x}}<br>{title}: %{{y:.4g}}<extra></extra>",
            })
        shapes.append({"type": "line", "xref": f"x{n}", "yref": f"y{n} domain", "x0": epoch,
                       "x1": epoch, "y0": 0, "y1": 1,
                       "line": {"dash": "dash", "color": "grey", "width": 1.5}})
        annotations.append({"text": f"<b>{title}</b>", "xref": f"x{n} domain",
                            "yref": f"y{n} domain", "x": 0.5, "y": 1.0, "yanchor": "bottom",
                            "showarrow": False})
    layout.update(shapes=shapes, annotations=annotations,
                  legend={"orientation": "h", "y": -0.12},
                  margin={"l": 10, "r": 10, "t": 30, "b": 10})
    return go.Figure(data=traces, layout=layout)
