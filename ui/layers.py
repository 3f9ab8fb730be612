"""Views of the upsampler zoo at initialisation (layer lab page, story page).

Reusable pieces:

* :func:`lab_controls` -> :class:`LabSpec` (bound to the URL) and :func:`lab_image`;
* :func:`render_side_by_side`: each upsampler's output at initialisation, magnified
  with nearest neighbour, with its checkerboard score, and optionally its phase
  pattern, spectrum and polyphase gains;
* :func:`render_cost_table`: parameters, multiply-adds and measured time;
* :func:`render_gradient_view`: the gradient a strided convolution sends back.

Every number comes from ``core`` (layers, lab_inputs, phase_gains, gradients, timing,
metrics); this module only draws.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from core.io.photos import SKIMAGE_HELDOUT, SKIMAGE_TRAIN
from core.io.pixels import content_hash
from core.maths.gradients import strided_conv_input_gradient
from core.maths.metrics import (
    MAX_MARKED_PERIOD,
    SCORE_UNIT,
    checkerboard_score,
    format_score,
    gain_imbalance,
    log_power_spectrum,
    phase_pattern,
    spectra_figure,
    to_unit_range,
)
from core.maths.phase_gains import phase_gains
from core.upsamplers.lab_inputs import build_stack, lab_input, upsample_image
from core.upsamplers.registry import UPSAMPLERS, upsampler_names
from core.upsamplers.timing import cost_rows, stored_cost_rows
from ui.common import explain, presenting, secondary
from ui.figures.front import stored_benchmark
from ui.figures.panels import gains_panels_figure, panel_height, patterns_figure
from ui.pixels import magnify_factor, show_pixels
from ui.plots import colorscale, integer_colorbar, scale_for, show_plot, show_table
from ui.uploads import UPLOAD_HELP, upload_image
from ui.urlstate import ChoiceParam, IntParam, Preset, check_query_params, preset_row

#: Largest output side computed (input size x scale^layers is clamped to this).
MAX_OUTPUT = 512
#: Largest centre crop of an output whose spectrum is drawn.
SPECTRUM_CROP = 128
#: Most upsamplers shown side by side.
MAX_SHOWN = 4
#: Side (output pixels) of the zoomed centre crop under each output.
ZOOM_CROP = 32

PHOTOS = tuple(sorted(SKIMAGE_HELDOUT + SKIMAGE_TRAIN))
INPUTS = ("photograph", "constant", "noise", "gradient", "upload")
ACTIVATIONS = ("none", "relu")


@dataclass(frozen=True)
class LabSpec:
    """What the layer lab shows: which upsamplers, their settings, and the input."""

    names: tuple[str, ...] = ("deconv", "resize_nearest", "subpixel", "subpixel_icnr")
    scale: int = 2
    kernel_size: int = 3
    layers: int = 2
    seed: int = 0
    activation: str = "none"
    input_kind: str = "photograph"
    size: int = 48
    photo: str = "astronaut.png"

    @property
    def period(self) -> int:
        """The period of the artifact: the product of the strides."""
        return self.scale ** self.layers

    @property
    def max_size(self) -> int:
        """Largest input size whose output stays within :data:`MAX_OUTPUT`."""
        return max(8, MAX_OUTPUT // self.period)


#: The post's two cases and the fixes, as one-click presets.
PRESET_FIGURE_4 = {"lab_ups": ["deconv", "resize_nearest", "subpixel", "subpixel_icnr"],
                   "lab_kernel": 3, "lab_scale": 2, "lab_layers": 2, "lab_input": "constant"}
PRESET_FIXES = {"lab_ups": ["deconv", "fused_resize", "deconv_zoh", "bilinear_additive"],
                "lab_kernel": 3, "lab_scale": 2, "lab_layers": 2, "lab_input": "photograph"}

URL_PARAMS = {
    "lab_ups": ChoiceParam(tuple(upsampler_names()), multi=True, max_count=MAX_SHOWN),
    "lab_scale": IntParam(2, 4),
    "lab_kernel": IntParam(1, 7),
    "lab_layers": IntParam(1, 3),
    "lab_seed": IntParam(0, 9999),
    "lab_act": ChoiceParam(ACTIVATIONS),
    "lab_input": ChoiceParam(INPUTS),
    "lab_size": IntParam(8, 64),
    "lab_photo": ChoiceParam(PHOTOS),
}


def _describe(name: str) -> str:
    return UPSAMPLERS[name].description


def lab_controls() -> LabSpec:
    """The layer lab's controls, bound to the URL; returns the chosen spec.

    Each bound widget is given its default as ``value=`` (rather than through
    a session-state default): Streamlit drops a URL value equal to the widget's *own*
    default, so a widget whose own default is its minimum (a slider without ``value=``)
    would ignore e.g. ``?lab_layers=1`` and show the session-state default instead.
    The presets still set the widgets through session state.
    """
    check_query_params(URL_PARAMS)
    d = LabSpec()
    preset_row([
        Preset("The post's case on a grey input", PRESET_FIGURE_4, "lab-preset-post",
               "3x3 kernels at stride 2, twice, on a constant input: any pattern is the "
               "layers' own."),
        Preset("The fixes on a photograph", PRESET_FIXES, "lab-preset-fixes",
               "A transposed convolution against three checkerboard-free layers."),
    ])
    names = st.multiselect(
        "Upsamplers", upsampler_names(), default=list(d.names), key="lab_ups",
        bind="query-params", max_selections=MAX_SHOWN,
        help="Up to four, shown side by side. " + " ".join(
            f"**{n}**: {_describe(n)}" for n in upsampler_names()),
    )
    left, right = st.columns(2)
    with left:
        kernel = st.slider("Kernel size", 1, 7, d.kernel_size, key="lab_kernel",
                           bind="query-params")
        scale = st.slider("Scale (stride)", 2, 4, d.scale, key="lab_scale", bind="query-params")
        layers = st.slider("Stacked layers", 1, 3, d.layers, key="lab_layers",
                           bind="query-params", help="The artifact's period is scale^layers.")
    with right:
        kind = st.selectbox("Input", INPUTS, index=INPUTS.index(d.input_kind), key="lab_input",
                            bind="query-params")
        size = st.slider("Input size (pixels)", 8, 64, d.size, step=8, key="lab_size",
                         bind="query-params")
        photo = st.selectbox("Photograph", PHOTOS, index=PHOTOS.index(d.photo), key="lab_photo",
                             bind="query-params", disabled=kind != "photograph",
                             help="Bundled with scikit-image (no download).")
    with secondary():
        seed = st.number_input("Seed", 0, 9999, d.seed, key="lab_seed", bind="query-params",
                               help="Initialisation of the layers (and of the noise input).")
        activation = st.segmented_control("Between stacked layers", ACTIVATIONS,
                                          default=d.activation, key="lab_act",
                                          bind="query-params") or "none"
    return LabSpec(tuple(names), scale, kernel, layers, int(seed), activation, kind, size, photo)


@st.cache_data(max_entries=32, show_spinner=False)
def _synthetic_input(kind: str, size: int, seed: int, photo: str) -> np.ndarray:
    return lab_input(kind, size, seed=seed, photo=photo)


@st.cache_data(max_entries=8, show_spinner=False)
def _upload_input(digest: str, size: int, _pixels: np.ndarray) -> np.ndarray:
    # ``digest`` (the decoded pixels' content hash) stands for ``_pixels``.
    return lab_input("upload", size, image=_pixels)


def lab_image(spec: LabSpec, *, key: str = "lab") -> tuple[np.ndarray, str]:
    """The input image of ``spec`` (float32 (size, size, 3)) and a short description.

    For ``upload`` a file uploader appears; until a usable file is given the bundled
    photograph stands in (with a note), and a refused file shows why.
    """
    size = min(spec.size, spec.max_size)
    if size < spec.size:
        st.info(f"Input reduced to {size} px so the output stays within {MAX_OUTPUT} px "
                f"({spec.layers} layers at scale {spec.scale} multiply the size by "
                f"{spec.period}).", icon=":material/photo_size_select_small:")
    if spec.input_kind == "upload":
        # Decoded once per file (cached by content), with the pages' upload size limit.
        uploaded = upload_image("Image to upsample", key=f"{key}-upload",
                                help=f"{UPLOAD_HELP} It is centre-cropped to a square and "
                                     "resized.")
        if uploaded is not None:
            loaded, name = uploaded
            return _upload_input(loaded.digest, size, loaded.pixels), name
        st.caption(f"No usable upload yet: showing {spec.photo} instead.")
        return _synthetic_input("photograph", size, spec.seed, spec.photo), spec.photo
    image = _synthetic_input(spec.input_kind, size, spec.seed, spec.photo)
    label = spec.photo if spec.input_kind == "photograph" else spec.input_kind
    return image, label


# --------------------------------------------------------------------------- results


@dataclass(frozen=True, eq=False)
class LabResult:
    """One upsampler stack's output at initialisation and its measurements."""

    name: str
    output: np.ndarray  # (H*P, W*P, 3) rescaled to [0, 1]
    score: float  # checkerboard_score(output, period)
    pattern: np.ndarray  # (P, P) phase pattern of the grey-level output
    gains: np.ndarray  # (C_in, C_out, s, s) phase gains of the first layer
    imbalance: float  # gain_imbalance(gains)
    period: int


@st.cache_data(max_entries=128, show_spinner=False)
def _lab_result(name: str, scale: int, kernel_size: int, layers: int, seed: int,
                activation: str, digest: str, _image: np.ndarray) -> LabResult:
    """Cached on the settings and the input's content hash (never on a sampled hash)."""
    raw = upsample_image(name, _image, layers=layers, scale=scale, kernel_size=kernel_size,
                         seed=seed, activation=activation)
    out = to_unit_range(raw).astype(np.float32)
    period = scale ** layers
    first = build_stack(name, _image.shape[2], 1, scale=scale, kernel_size=kernel_size,
                        seed=seed)[0]
    gains = phase_gains(first, _image.shape[2], scale)
    return LabResult(name, out, checkerboard_score(out, period),
                     phase_pattern(out.mean(axis=2), period), gains, gain_imbalance(gains),
                     period)


def lab_results(names: Sequence[str], image: np.ndarray, *, scale: int, kernel_size: int,
                layers: int, seed: int, activation: str = "none") -> list[LabResult]:
    """The :class:`LabResult` of each upsampler on ``image`` (cached)."""
    digest = content_hash(image)
    return [_lab_result(n, scale, kernel_size, layers, seed, activation, digest, image)
            for n in names]


def _centre_crop(image: np.ndarray, side: int) -> np.ndarray:
    h, w = image.shape[:2]
    top, left = max(0, (h - side) // 2), max(0, (w - side) // 2)
    return image[top:top + side, left:left + side]


def _cells(n: int) -> list:
    """``n`` containers in a grid: side by side when presenting (wide layout), two per
    row otherwise, so that figures stay readable in the centred layout."""
    per_row = n if presenting() else min(n, 2)
    cells: list = []
    for start in range(0, n, per_row):
        cells.extend(st.columns(per_row)[:min(per_row, n - start)])
    return cells


def render_side_by_side(results: Sequence[LabResult], *, details: bool = True,
                        key: str = "lab", image_width: int = 320) -> None:
    """Each result in its own cell: the output (nearest-neighbour magnified, then its
    centre magnified further) and its score; with ``details`` also phase patterns,
    spectra and polyphase gains, in the same order."""
    if not results:
        st.info("Pick at least one upsampler.", icon=":material/layers:")
        return
    for cell, r in zip(_cells(len(results)), results, strict=True):
        with cell:
            st.markdown(f"**{r.name}**")
            show_pixels(r.output, factor=magnify_factor(r.output.shape[1], image_width),
                        width="content", file_name=f"{key}-{r.name}.png")
            zoom = _centre_crop(r.output, ZOOM_CROP)
            show_pixels(zoom, f"centre {zoom.shape[0]} x {zoom.shape[1]} pixels, enlarged",
                        factor=magnify_factor(zoom.shape[1], image_width), width="content",
                        file_name=f"{key}-{r.name}-centre.png")
            st.metric("Checkerboard score", format_score(r.score),
                      help=f"RMS of the part of the fine detail that repeats every "
                           f"{r.period} pixels, in thousandths of the output's range "
                           "(core.maths.metrics.checkerboard_score).")
            st.caption(_describe(r.name))
    if not details:
        return
    st.subheader("Phase pattern")
    explain(f"The {results[0].period} x {results[0].period} tile behind each score: the "
            "high-passed output averaged over every pixel of the same phase, in the score's "
            f"unit ({SCORE_UNIT} of the range), all on one colour scale. A flat tile means no "
            "checkerboard.")
    per_row = len(results) if presenting() else min(len(results), 2)
    rows = -(-len(results) // per_row)
    height, present_height = panel_height(rows)
    show_plot(patterns_figure([(r.name, r.pattern) for r in results], per_row=per_row),
              key=f"{key}-patterns", height=height, present_height=present_height)
    st.subheader("Spectrum")
    explain("Log power of the grey-level output (centre crop), all on one colour scale. A "
            "checkerboard of period P shows as bright dots at frequencies (i/P, j/P), circled "
            f"in red up to period {MAX_MARKED_PERIOD}.")
    spectra = [(r.name, log_power_spectrum(_centre_crop(r.output, SPECTRUM_CROP), r.period))
               for r in results]
    show_plot(spectra_figure(spectra, per_row=per_row, colorscale=colorscale()), key=f"{key}-spectra",
              height=height + 20, present_height=present_height + 20)
    st.subheader("Polyphase gains of the first layer")
    explain("On a constant input, each output phase of a layer receives the sum of the "
            "taps that feed it. Unequal sums are the uneven overlap of the post, whatever "
            "the kernel size; every fix makes them equal. Shown for channel pair 0 → 0; "
            "the imbalance summarises all pairs (0 = equal).")
    show_plot(gains_panels_figure([(r.name, r.gains) for r in results], per_row=per_row),
              key=f"{key}-gains", height=height, present_height=present_height)
    st.markdown("**Gain imbalance** (0: every phase receives the same gain)")
    for cell, r in zip(st.columns(len(results)), results, strict=True):
        with cell:
            st.metric(r.name, f"{r.imbalance:.2f}",
                      help="Mean over channel pairs of (max − min gain over the phases), "
                           "divided by the RMS gain (core.maths.metrics.gain_imbalance).")


# --------------------------------------------------------------------------- cost


#: Calls of each upsampler the live cost table times (in rotated rounds, after two
#: warm-up rounds): with 5, three presses of "Measure again" at load 5 read 0.0x, 22x
#: and 0.1x for one ratio; see ``cost_table`` for what 15 read.
COST_REPEATS = 15
REFERENCE = "resize_nearest"


def ratio_text(middle: float, low: float, high: float) -> str:
    """``"1.9x (1.7-2.2)"``: a time ratio and the middle half of the per-round ratios, two
    significant figures each (a small ratio reads 0.042x, never 0.0x)."""
    def fig(v: float) -> str:
        return f"{v:.2g}" if np.isfinite(v) else "—"

    return f"{fig(middle)}x ({fig(low)}–{fig(high)})"


@st.cache_data(max_entries=64, show_spinner=False)
def cost_table(names: tuple[str, ...], in_channels: int, out_channels: int, size: int,
               scale: int, kernel_size: int, run: int = 0) -> pd.DataFrame:
    """Parameters, multiply-adds and measured inference time (``run`` busts the cache):
    the median of :data:`COST_REPEATS` calls and the middle half of them, and the time
    against ``resize_nearest`` as the median of the per-round ratios with its middle
    half (:func:`core.upsamplers.timing.cost_rows`)."""
    del run
    rows = cost_rows(names, in_channels, out_channels, size, size, scale=scale,
                     kernel_size=kernel_size, repeats=COST_REPEATS, reference=REFERENCE)
    df = pd.DataFrame(rows).set_index("upsampler")
    df["multiply_adds"] = df["multiply_adds"] / 1e6
    df["middle half (ms)"] = [f"{a:.2g}–{b:.2g}" for a, b in
                              zip(df["forward_q1_ms"], df["forward_q3_ms"], strict=True)]
    if "vs_reference" in df.columns:
        df[f"time vs {REFERENCE} (middle half)"] = [
            ratio_text(*v) for v in
            df[["vs_reference", "vs_reference_q1", "vs_reference_q3"]].to_numpy()]
    df = df.drop(columns=[c for c in df.columns if c.startswith(("forward_q", "vs_reference"))])
    return df.rename(columns={"multiply_adds": "multiply-adds (M)", "forward_ms": "forward (ms)"})


def render_stored_costs() -> None:
    """The stored benchmark's forward times at its first shape, with what it ran on."""
    rows, about = stored_cost_rows(stored_benchmark(), REFERENCE)
    if not rows:
        st.info("No stored benchmark: `python benchmarks/upsampling.py` writes one.")
        return
    shape = about["shape"] or {}
    st.markdown(
        f"**Stored benchmark** (`benchmarks/upsampling.py`, {about['date']}: "
        f"{about['cpu_count']} CPU cores, torch {about['torch']}, {about['threads']} thread, "
        f"load {float(about['load'] or 0):.1f}; {shape.get('N')} image, {shape.get('C_in')} → "
        f"{shape.get('C_out')} channels, {shape.get('H')} → {2 * int(shape.get('H', 0))} px; "
        f"median of {about['repeats']} rounds of {about['clock']}, fastest beside it)")
    df = pd.DataFrame(rows).set_index("upsampler").rename(columns={
        "forward_ms": "forward (ms)", "forward_min_ms": "fastest (ms)",
        "vs_reference": f"time vs {REFERENCE}"})
    show_table(df.style.format({"forward (ms)": "{:.2g}", "fastest (ms)": "{:.2g}",
                                f"time vs {REFERENCE}": "{:.2g}x"}))


def render_cost_table(names: Sequence[str] | None = None, *, scale: int = 2,
                      kernel_size: int = 3, key: str = "lab-cost") -> pd.DataFrame | None:
    """The stored benchmark, then controls for the size and, on request, the cost of
    each upsampler measured here and now (None until asked)."""
    names = tuple(names) if names else tuple(upsampler_names())
    render_stored_costs()
    st.markdown("**Measured here and now** (any size; seconds on a busy machine)")
    cols = st.columns(3)
    c_in = cols[0].selectbox("Input channels", (8, 32, 64, 128), index=2, key=f"{key}-cin")
    c_out = cols[1].selectbox("Output channels", (3, 8, 32, 64), index=2, key=f"{key}-cout")
    size = cols[2].selectbox("Input size (pixels)", (16, 32, 64, 128), index=1,
                             key=f"{key}-size")
    run_key = f"{key}-run"
    # a live timing only on request: it takes seconds on a busy machine
    if not st.toggle("Measure here and now", key=f"{key}-live"):
        return None
    st.session_state.setdefault(run_key, 0)
    if st.button("Measure again", key=f"{key}-again", icon=":material/timer:"):
        st.session_state[run_key] += 1
    with st.spinner("Timing each upsampler on this machine..."):
        df = cost_table(names, c_in, c_out, size, scale, kernel_size, st.session_state[run_key])
    # Two significant figures: a live timing on a shared machine varies by tens of percent.
    show_table(df.style.format({"multiply-adds (M)": "{:.1f}", "forward (ms)": "{:.2g}"}))
    st.markdown(f"Measured live on this shared machine: the median of {COST_REPEATS} forward "
                "passes each, timed in turns; in brackets, the middle half of them. A busy "
                "machine widens the brackets.")  # shown when presenting too
    explain(f"One image, {c_in} → {c_out} channels, {size} x {size} → {scale * size} x "
            f"{scale * size}, {kernel_size} x {kernel_size} kernels; two warm-up rounds, then "
            "each round calls every upsampler once, starting with a different one each "
            "round; the ratio to `resize_nearest` is taken within each round. `fused_resize` "
            "computes exactly `resize_nearest` from the same weights without building the "
            "upsampled tensor; see `benchmarks/upsampling.py` for the careful measurement.")
    return df


# --------------------------------------------------------------------------- gradients


def gradient_figure(grad: np.ndarray, title: str) -> go.Figure:
    scale, zmin, zmax = scale_for(grad)  # all-ones weights: counts; random weights: signed
    counts = bool(grad.size) and np.allclose(grad, np.round(grad)) and zmin >= 0
    colorbar = (integer_colorbar(zmin, zmax, "∂L/∂x") if counts
                else {"title": {"text": "∂L/∂x"}})
    fig = go.Figure(go.Heatmap(
        z=grad, colorscale=scale, zmin=zmin, zmax=zmax,
        hovertemplate="input (row %{y}, col %{x})<br>gradient %{z:.3f}<extra></extra>",
        colorbar=colorbar, xgap=1 if grad.shape[0] <= 48 else 0,
        ygap=1 if grad.shape[0] <= 48 else 0))
    fig.update_layout(title=title, margin={"l": 10, "r": 10, "t": 50, "b": 10},
                      xaxis={"title": "input column", "constrain": "domain"},
                      yaxis={"title": "input row", "autorange": "reversed", "scaleanchor": "x",
                             "constrain": "domain"})
    return fig


def render_gradient_view(*, key: str = "lab-grad") -> np.ndarray:
    """Controls for a strided convolution, then the gradient it sends to its input."""
    cols = st.columns(4)
    k = cols[0].slider("Kernel size", 1, 7, 3, key=f"{key}-kernel")
    s = cols[1].slider("Stride", 1, 4, 2, key=f"{key}-stride")
    size = cols[2].slider("Input size", 8, 48, 24, key=f"{key}-size")
    weights = cols[3].selectbox("Weights", ("ones", "random"), key=f"{key}-weights",
                                help="ones: the overlap count itself; random: PyTorch's "
                                     "default initialisation (seeded).")
    try:
        grad = strided_conv_input_gradient(k, s, size, weights=weights, seed=0)
    except ValueError as err:
        st.error(f"This convolution cannot be built: {err}.", icon=":material/block:")
        return np.zeros((0, 0))
    show_plot(gradient_figure(grad, f"Gradient of Conv2d({k}x{k}, stride {s}) to its input"),
              key=f"{key}-heatmap", height=460)
    if size >= 4 * s and s >= 2:
        score = checkerboard_score(to_unit_range(grad), s)
        st.metric("Checkerboard score of the gradient", format_score(score),
                  help=f"Period {s}, on the gradient rescaled to [0, 1].")
    explain("The backward pass of a strided convolution *is* a transposed convolution: "
            "the output gradient (all ones here) is painted back onto the input through "
            "the same uneven overlap. With a kernel not divisible by the stride, a "
            "discriminator or classifier sends checkerboard gradients to whatever feeds "
            "it (Distill, \"artifacts in gradients\").")
    return grad
