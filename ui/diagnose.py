"""The "Diagnose a picture" view: pictures in (examples, uploads, zips), one call into
:mod:`core.diagnose` each, the verdict and the picture that shows it first, then the
map, the phase pattern, the spectrum, the evidence per period and the per-image table.
"""

from __future__ import annotations

import hashlib
import io
import json

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from core.diagnose import Diagnosis, diagnose, load_picture
from core.diagnose.batch import FolderTally, Picture, Skipped, to_csv, zip_pictures
from core.diagnose.diagnosis import grid_map
from core.diagnose.lattice import luma
from core.io.decode import ImageLoadError
from core.io.pixels import Region, crop_region
from core.io.text import md_code
from core.maths.metrics import SCORE_UNIT, format_score, log_power_spectrum, spectrum_figure
from ui.common import explain, presenting
from ui.pixels import (
    DETAIL_GAIN,
    cached_fine_detail,
    fit_factor,
    pixelated_container,
    scale_label,
    show_exact,
)
from ui.plots import colorscale, scale_for, show_plot, show_table
from ui.uploads import MAX_UPLOAD_MB
from ui.urlstate import ChoiceParam, check_query_params

#: The examples: URL value -> (label, kind, argument).
EXAMPLES = {
    "deconv3-e1": ("deconv3 at epoch 1, on the held-out astronaut", "network", ("deconv3", 1)),
    "deconv3-e10": ("deconv3 at epoch 10, on the held-out astronaut", "network",
                    ("deconv3", 10)),
    "resize-e10": ("resize_nearest at epoch 10 (the fix), same photograph", "network",
                   ("resize_nearest", 10)),
    "photo-jpeg": ("A photograph saved as JPEG, quality 75 (coffee)", "jpeg", "coffee.png"),
    "photo-bicubic": ("A photograph upscaled x2 by bicubic interpolation (chelsea)", "bicubic",
                      "chelsea.png"),
}
SOURCES = ("Example", "Upload")
#: Most pictures one upload (files and zip members together) is diagnosed for.
MAX_PAGE_PICTURES = 200
#: Side of the region the first look magnifies when there is no grid.
LOOK_SIDE = 64


# --------------------------------------------------------------------------- inputs


@st.cache_data(max_entries=8, show_spinner=False)
def example_bytes(key: str) -> tuple[bytes | None, str]:
    """The example's file bytes (PNG or JPEG) and its name; ``None`` and why when the
    shipped outputs are missing."""
    from PIL import Image

    label, kind, arg = EXAMPLES[key]
    if kind == "network":
        from ui.catalog import heldout, heldout_digests, load_catalog, model_output

        variant, epoch = arg
        out = model_output(load_catalog(), variant, epoch, heldout()["astronaut"],
                           heldout_digests()["astronaut"])
        png = getattr(out, "png", None)
        return png, (f"{variant}-epoch{epoch}-astronaut.png" if png else
                     getattr(out, "reason", "no output"))
    from core.io.photos import read_rgb, skimage_data_dir

    rgb = read_rgb(skimage_data_dir() / arg)  # uint8 (H, W, 3)
    buf = io.BytesIO()
    im = Image.fromarray(rgb)
    if kind == "jpeg":
        im.save(buf, "JPEG", quality=75)
        return buf.getvalue(), arg.replace(".png", "-q75.jpg")
    im.resize((im.width * 2, im.height * 2), Image.Resampling.BICUBIC).save(buf, "PNG")
    return buf.getvalue(), arg.replace(".png", "-bicubic-x2.png")


@st.cache_data(max_entries=256, show_spinner=False)
def _diagnosed(sha: str, name: str, _data: bytes) -> Diagnosis | Skipped:
    try:
        return diagnose(_data, name=name)
    except ImageLoadError as err:
        return Skipped(name, str(err))


def diagnosed(name: str, data: bytes) -> Diagnosis | Skipped:
    """The diagnosis of a file's bytes, once per content (refusals too)."""
    return _diagnosed(hashlib.sha256(data).hexdigest(), name, data)


@st.cache_resource(max_entries=8, show_spinner=False)
def _pixels(sha: str, _data: bytes) -> np.ndarray:
    pixels = np.array(load_picture(_data)[0])
    pixels.setflags(write=False)
    return pixels


def pixels_of(data: bytes) -> tuple[np.ndarray, str]:
    """The decoded pixels the diagnosis read (read-only, shared) and their content key."""
    sha = hashlib.sha256(data).hexdigest()
    return _pixels(sha, data), sha


def source_controls() -> tuple[str, str]:
    """Example or upload, and which example; bound to the URL (``?source=``,
    ``?example=``)."""
    check_query_params({"source": ChoiceParam(SOURCES), "example": ChoiceParam(tuple(EXAMPLES))})
    left, right = st.columns([1, 2])
    with left:
        source = st.radio("Pictures", SOURCES, key="source", bind="query-params",
                          horizontal=True)
    with right:
        # No format_func: a bound selectbox writes its shown label into the URL.
        example = st.selectbox("Example", list(EXAMPLES), index=0, key="example",
                               bind="query-params", disabled=source != SOURCES[0])
        if source == SOURCES[0]:
            st.caption(EXAMPLES[example][0])
    return source, example


def uploaded_pictures() -> list[Picture | Skipped]:
    """The uploaded files and the members of uploaded zips, at most
    :data:`MAX_PAGE_PICTURES` (a notice says when more were left out)."""
    files = st.file_uploader(
        "Images, or a zip of them", accept_multiple_files=True, key="diagnose-upload",
        max_upload_size=MAX_UPLOAD_MB,
        help=f"PNG, JPEG, WebP, BMP, TIFF or GIF, or a zip; up to {MAX_UPLOAD_MB} MB each. "
             "Pictures larger than 2048 pixels are cropped to their centre, never resized.")
    out: list[Picture | Skipped] = []
    for upload in files or []:
        data = upload.getvalue()
        if data[:4] == b"PK\x03\x04":
            try:
                out.extend(zip_pictures(data, upload.name))
            except ValueError as err:
                out.append(Skipped(upload.name, str(err)))
        else:
            out.append(Picture(upload.name, data))
        if len(out) > MAX_PAGE_PICTURES:
            st.warning(f"Only the first {MAX_PAGE_PICTURES} pictures are diagnosed here; the "
                       "command line (`python -m core.diagnose FOLDER`) takes any number.",
                       icon=":material/filter_list:")
            return out[:MAX_PAGE_PICTURES]
    return out


# --------------------------------------------------------------------------- the first look


def _look_region(pixels: np.ndarray, result: Diagnosis) -> Region:
    if result.region is not None:
        return result.region.clamped(pixels.shape)
    h, w = pixels.shape[:2]
    side = min(LOOK_SIDE, h, w)
    return Region((h - side) // 2, (w - side) // 2, side, side)


def render_look(result: Diagnosis, pixels: np.ndarray, key: str) -> None:
    """The first screen: the verdict in one sentence, the fine detail x10 of the region
    where the grid is plainest (whole screen pixels per image pixel), the figures."""
    st.markdown(f"### {result.sentence()}")
    region = _look_region(pixels, result)
    lattice = result.lattice_period
    left, right = st.columns([3, 2] if presenting() else [1, 1])
    with left:
        factor = fit_factor(region.width, columns=2, fraction=1.2 if presenting() else 1.0)
        try:
            fine = cached_fine_detail(key, lattice, DETAIL_GAIN, pixels)
        except ValueError:
            fine = pixels
        with pixelated_container("diagnose-look"):
            where = "where the grid is plainest" if result.grid else "the centre"
            show_exact(crop_region(fine, region),
                       f"fine detail ×{DETAIL_GAIN:g}, {where}; {scale_label(factor)}",
                       key=f"{key}|look|{region}", factor=factor)
    with right:
        if result.grid and result.period:
            rows, cols = result.period
            st.metric("Period (rows x columns)", f"{rows} x {cols}")
            st.metric(f"Checkerboard score ({SCORE_UNIT})", format_score(result.score, unit=False),
                      help="The RMS of the part of the fine detail that repeats with the "
                           "period: the lab's one unit.")
            st.metric("Over the picture's own detail", f"{result.times_own:.0f}x",
                      help="Power on the grid's frequencies over what the picture alone "
                           "puts there (1x: nothing).")
        else:
            st.metric("Network grid", "none")
            st.metric("JPEG blocks", "yes" if result.jpeg_blocks else "no")
        explain(result.meaning or "Nothing repeats in step with the pixels beyond what the "
                "picture's own detail puts at those frequencies.")


# --------------------------------------------------------------------------- details


def evidence_figure(result: Diagnosis) -> go.Figure:
    """-log10 p per period, rows and columns apart, with the detection line."""
    periods = list(range(2, 2 + len(result.rows_evidence)))
    fig = go.Figure()
    for name, values in (("down the rows", result.rows_evidence),
                         ("across the columns", result.cols_evidence)):
        fig.add_trace(go.Bar(
            x=periods, y=[-v for v in values], name=name,
            hovertemplate=f"period %{{x}} {name}<br>evidence %{{y:.1f}} (-log10 p, corrected)"
                          "<extra></extra>"))
    line = -np.log10(result.alpha)
    fig.add_hline(y=line, line_dash="dash", annotation_text=f"detection ({result.alpha:.0%} "
                                                            "false alarms per picture)")
    fig.update_layout(title="Evidence for a grid at each period", barmode="group",
                      xaxis_title="period (pixels)", yaxis_title="-log10 p (corrected)",
                      yaxis_type="log" if max(-min(result.rows_evidence + result.cols_evidence),
                                              0) > 50 else "linear")
    return fig


def pattern_figure(pattern: np.ndarray) -> go.Figure:
    """The grid's phase pattern: mean fine detail per phase (row mod L, column mod L)."""
    scale, lo, hi = scale_for(pattern)
    n = pattern.shape[0]
    fig = go.Figure(go.Heatmap(
        z=pattern * 255.0, zmin=lo * 255.0, zmax=hi * 255.0, colorscale=scale,
        colorbar={"title": {"text": "grey levels"}},
        hovertemplate="row mod %{y}, column mod %{x}<br>%{z:.2f} grey levels from the mean"
                      "<extra></extra>"))
    fig.update_layout(title=f"Phase pattern ({n} x {n})", xaxis_title="column mod period",
                      yaxis_title="row mod period", yaxis_autorange="reversed",
                      yaxis_scaleanchor="x")
    return fig


def map_figure(shares: np.ndarray, y0: int, x0: int, step: int, window: int) -> go.Figure:
    ys = y0 + np.arange(shares.shape[0]) * step + window // 2
    xs = x0 + np.arange(shares.shape[1]) * step + window // 2
    fig = go.Figure(go.Heatmap(
        z=shares, x=xs, y=ys, colorscale=colorscale(), zmin=0.0,
        colorbar={"title": {"text": "share"}},
        hovertemplate=f"window centred at (%{{y}}, %{{x}}), {window} px<br>the grid is "
                      "%{z:.0%} of the fine detail here<extra></extra>"))
    fig.update_layout(title="Where the grid is plainest", xaxis_title="x (pixels)",
                      yaxis_title="y (pixels)", yaxis_autorange="reversed",
                      yaxis_scaleanchor="x")
    return fig


def render_details(result: Diagnosis, pixels: np.ndarray) -> None:
    """Below the first screen: what it means and the fix, the map, the phase pattern,
    the spectrum and the evidence per period."""
    if result.grid:
        st.subheader("What it means")
        st.markdown(result.meaning)
        st.markdown(f"**The fix.** {result.fix}")
        st.page_link("pages/audit.py", label="Audit your network", icon=":material/troubleshoot:")
    if result.notices:
        st.caption("The file: " + "; ".join(md_code(n) for n in result.notices))
    lattice = result.lattice_period
    cols = st.columns(2)
    if result.grid and result.pattern is not None:
        with cols[0]:
            shares, y0, x0, window = grid_map(pixels, result)
            if shares.size:
                show_plot(map_figure(shares, y0, x0, lattice, window), key="diag-map", height=420)
        with cols[1]:
            show_plot(pattern_figure(result.pattern), key="diag-pattern", height=420)
    marked = lattice if result.grid else (8 if result.jpeg_blocks else 4)
    title = (f"Spectrum: the grid's frequencies (period {lattice}) circled" if result.grid else
             "Spectrum: the JPEG blocks' frequencies (period 8) circled" if result.jpeg_blocks
             else "Spectrum: period 4 circled, for reference (no grid)")
    spectrum = log_power_spectrum(luma(pixels), marked)
    show_plot(spectrum_figure(spectrum, title, colorscale=colorscale()), key="diag-spectrum",
              height=520)
    show_plot(evidence_figure(result), key="diag-evidence", height=380)
    explain(f"Each bar is the strongest evidence for a grid repeating every *p* pixels down "
            f"the rows (or across the columns): the power the picture's fine detail puts "
            f"exactly on that period's frequencies, against the power it puts around them; "
            f"above the dashed line, the chance that a picture with no grid would read as "
            f"much is under {result.alpha:.0%} over all periods together.")


def render_table(results: list[Diagnosis | Skipped]) -> None:
    """Many pictures: the folder's verdict, the per-image table and the downloads."""
    tally = FolderTally()
    for r in results:
        tally.add(r)
    verdict = tally.verdict()
    st.subheader("All the pictures")
    st.markdown(f"**{verdict.sentence()}**")
    records = [r.record() for r in results if isinstance(r, Diagnosis)]
    rows = [{"file": r["file"], "grid": "yes" if r["grid"] else "no",
             "period": "x".join(map(str, r["period"])) if r["period"] else "—",
             f"score {SCORE_UNIT}": r["score"], "times own": r["times_own"],
             "JPEG blocks": "yes" if r["jpeg_blocks"] else "no"} for r in records]
    if rows:
        show_table(rows, hide_index=True)
    for s in (r for r in results if isinstance(r, Skipped)):
        st.warning(f"{md_code(s.name)}: skipped, {md_code(s.reason)}", icon=":material/block:")
    payload = json.dumps({"images": records, "folder": verdict.record()}, indent=1)
    left, right = st.columns(2)
    with left:
        st.download_button("Table as CSV", data=to_csv(records), file_name="diagnosis.csv",
                           mime="text/csv", icon=":material/download:")
    with right:
        st.download_button("Table as JSON", data=payload, file_name="diagnosis.json",
                           mime="application/json", icon=":material/download:")
