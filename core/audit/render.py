"""Figures and downloadable pages of a network audit (:mod:`core.audit`).

Plotly figures (titled, labelled, with hover text) for the probes' spectra and the
shift test, and the report as a self-contained HTML page (plotly.js inlined once, the
probe outputs as PNG data URIs: it opens offline) or as Markdown. No Streamlit here:
the page and ``python -m core.audit --html`` share these.
"""

from __future__ import annotations

import base64
import json
import re

import numpy as np
import plotly.graph_objects as go

from ..io.pixels import magnify_nearest, to_png_bytes
from ..io.text import html_escape, md_escape
from ..maths.metrics import artifact_frequencies, format_score, spectrum_figure
from .analysis import layer_coverage
from .limits import MAX_PSNR
from .report import AuditReport, LayerAudit, ProbeReport

__all__ = ["output_crop", "predicted_radii", "probe_spectrum_figure", "radial_figure",
           "score_text", "shift_figure", "to_html", "to_markdown"]

#: Side of the centre crop of each probe output shown in the reports.
CROP = 64
#: Most marked radii in the radial spectrum (beyond: the axis frequencies k/P only).
MAX_RADII = 12


def score_text(value: float | None) -> str:
    """A checkerboard score in the lab's unit (×10⁻³), or a dash."""
    return "—" if value is None else format_score(value)


def predicted_radii(period: int) -> list[float]:
    """Distinct radii ``|f|`` of the artifact frequencies ``(i/P, j/P)``; when there are
    more than :data:`MAX_RADII`, only the axis ones ``k/P``."""
    pts = artifact_frequencies(period)
    radii = sorted({round(float(np.hypot(*p)), 6) for p in pts})
    if len(radii) > MAX_RADII:
        radii = [k / period for k in range(1, period // 2 + 1)]
    return radii


def radial_figure(probes: ProbeReport) -> go.Figure:
    """The azimuthally averaged power spectrum of every probe output, the predicted
    artifact radii marked (Durall et al. 2020's view)."""
    fig = go.Figure()
    for name, result in probes.results.items():
        if result.radial is None:
            continue
        freq, logp = result.radial
        fig.add_trace(go.Scatter(
            x=freq, y=logp, mode="lines", name=name,
            hovertemplate=f"{name}<br>|f| = %{{x:.3f}} cycles/pixel<br>"
                          "log10 power %{y:.2f}<extra></extra>"))
    radii = predicted_radii(probes.period)
    for r in radii:
        fig.add_vline(x=r, line={"dash": "dot", "width": 1, "color": "red"})
    fig.add_trace(go.Scatter(  # a legend entry and hover for the marks
        x=radii, y=[None] * len(radii),
        mode="markers", marker={"color": "red", "symbol": "line-ns-open"},
        name=f"predicted (period {probes.period})", hoverinfo="skip"))
    fig.update_layout(
        title=f"Azimuthally averaged power spectrum (red: artifact frequencies of period "
              f"{probes.period})",
        xaxis_title="spatial frequency |f| (cycles/pixel)", yaxis_title="log10 mean power",
        legend={"orientation": "h", "y": -0.25}, margin={"l": 10, "r": 10, "t": 50, "b": 10})
    return fig


def shift_figure(probes: ProbeReport) -> go.Figure:
    """PSNR between f(shift(x)) and shift(f(x)) per shift, the full-period shift as a
    reference line."""
    shifts = list(probes.shift_psnr)
    values = list(probes.shift_psnr.values())
    fig = go.Figure(go.Bar(
        x=shifts, y=values, name="shift by d",
        text=[f"{v:.1f}" for v in values], textposition="outside",
        hovertemplate="shift %{x} px<br>PSNR %{y:.2f} dB<extra></extra>"))
    if probes.shift_reference is not None:
        d, value = probes.shift_reference
        shown = f"≥ {value:.0f} dB (exact)" if value >= MAX_PSNR else f"{value:.1f} dB"
        fig.add_hline(y=value, line={"dash": "dash", "color": "green"},
                      annotation_text=f"shift by one period ({d} px): {shown}",
                      annotation_position="top left")
    fig.update_layout(
        title="Shift test: PSNR of f(shift(x)) against shift(f(x)) (higher: more equivariant)",
        xaxis_title="shift d (output pixels, diagonal)", yaxis_title="PSNR (dB)",
        xaxis={"dtick": 1}, margin={"l": 10, "r": 10, "t": 50, "b": 10})
    return fig


def probe_spectrum_figure(probes: ProbeReport, name: str | None = None, *,
                          colorscale: str | list = "Viridis") -> go.Figure | None:
    """The 2-D log spectrum of one probe output with the predicted frequencies circled
    (:func:`core.maths.metrics.spectrum_figure`); the scored probe by default.
    ``colorscale``: the page's (presentation colours when presenting)."""
    name = name or probes.scored_on
    result = probes.results.get(name) if name else None
    if result is None or result.spectrum is None:
        return None
    if len(result.spectrum.freqs) == 1:  # a sound: a line, the tones k/P marked
        return spectrum_figure(result.spectrum, f"Log power spectrum of the {name} output "
                               f"(red: the artifact frequencies k/{probes.period})")
    return spectrum_figure(result.spectrum,
                           f"2-D log power spectrum of the {name} output (red circles: "
                           f"(i/{probes.period}, j/{probes.period}))", colorscale=colorscale)


def output_crop(image: np.ndarray, side: int = CROP) -> np.ndarray:
    """The centre ``side x side`` of an (H, W, C) image, as RGB in [0, 1]."""
    h, w = image.shape[:2]
    top, left = max(0, (h - side) // 2), max(0, (w - side) // 2)
    crop = image[top:top + side, left:left + side]
    if crop.shape[2] == 1:
        crop = np.repeat(crop, 3, axis=2)
    elif crop.shape[2] != 3:
        crop = np.repeat(crop.mean(axis=2, keepdims=True), 3, axis=2)
    return np.clip(crop, 0.0, 1.0)


def _png_uri(image: np.ndarray, factor: int = 1) -> str:
    data = to_png_bytes(magnify_nearest(image, factor) if factor > 1 else image)
    return "data:image/png;base64," + base64.b64encode(data).decode()


def _cell(value) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


_COLUMNS = ("#", "name", "op", "dir", "kernel", "stride", "padding", "channels", "size",
            "overlap max/min", "uneven", "imbalance", "verdict")


def _grid_rows(grid: np.ndarray, fmt: str) -> list[list[str]]:
    grid = np.atleast_2d(grid)
    grid = grid.reshape(-1, grid.shape[-1])  # a volume's (s, s, s): one row per (a, b)
    return [[format(v, fmt) for v in row] for row in grid]


def probe_picture(output: np.ndarray) -> np.ndarray | None:
    """What of a probe output is a picture: an image ``(H, W, C)`` as it is, a volume
    ``(D, H, W, C)`` its middle slice along depth, a sound ``(L, C)`` nothing."""
    if output.ndim == 3:
        return output
    if output.ndim == 4:
        return output[output.shape[0] // 2]
    return None


def has_radial(probes: ProbeReport) -> bool:
    """Whether any probe output has an azimuthal spectrum (images only)."""
    return any(r.radial is not None for r in probes.results.values())


def _layer_tables(layer: LayerAudit) -> list[tuple[str, list[list[str]]]]:
    """Small numeric grids for one layer: interior coverage per phase, phase gains."""
    out = []
    cov = layer_coverage(layer)
    if cov is not None:
        what = "input pixel read" if layer.direction == "down" else "output phase painted"
        out.append((f"Interior coverage (times each {what}, per phase)",
                    _grid_rows(cov.phase_pattern, "d")))
    if layer.gains is not None:
        out.append(("Phase gains, channel pair 0→0", _grid_rows(layer.gains[0, 0], ".4f")))
        if layer.worst_pair is not None and layer.worst_pair != (0, 0):
            i, o = layer.worst_pair
            out.append((f"Phase gains, most unequal pair {i}→{o}",
                        _grid_rows(layer.gains[i, o], ".4f")))
    return out


def _fix_lines(measured: dict | None, *, every_layer: bool = False) -> list[str]:
    """One layer's measured fix, or with ``every_layer`` the report's ``fix_all`` (every
    offending layer fixed at once): the rows then say so."""
    if not measured:
        return []
    lines = [f"Fix measured ({measured.get('fix', '')}, {measured.get('probe')} probe, "
             f"period {measured.get('period')}):"]
    original, fixed = (("the network at init", "every fix at init") if every_layer
                       else ("this layer at init", "the fix at init"))
    for key, label in (("as_given", "as given"), ("original_at_init", original),
                       ("fixed_at_init", fixed)):
        if key in measured:
            lines.append(f"{label}: {score_text(measured[key])}")
    return lines


# ---------------------------------------------------------------------------------------
# HTML
# ---------------------------------------------------------------------------------------

_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em;
       color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1em; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: right; }
th { background: #f3f3f3; }
td.l, th.l { text-align: left; }
pre { background: #f6f6f6; padding: 0.8em; overflow-x: auto; font-size: 0.85em; }
.artifact { color: #b00020; font-weight: bold; } .gradient { color: #a15c00; }
.ok { color: #1b5e20; }
img.px { image-rendering: pixelated; border: 1px solid #ccc; }
figure { display: inline-block; margin: 0 1em 1em 0; text-align: center; }
"""


def _html_table(header: list[str], rows: list[list[str]], left: int = 0) -> str:
    head = "".join(f"<th class='l'>{html_escape(h)}</th>" if i < left else
                   f"<th>{html_escape(h)}</th>" for i, h in enumerate(header))
    body = "".join(
        "<tr>" + "".join(f"<td class='l'>{c}</td>" if i < left else f"<td>{c}</td>"
                         for i, c in enumerate(row)) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _figure_html(fig: go.Figure | None, first: list[bool]) -> str:
    if fig is None:
        return ""
    fig.update_layout(template="plotly_white", height=420)
    include = first[0]
    first[0] = False
    return fig.to_html(full_html=False, include_plotlyjs=include,
                       config={"displaylogo": False})


def to_html(report: AuditReport) -> str:
    """The whole report as one self-contained HTML page (works offline)."""
    esc = html_escape  # the one escaping helper (core.io.text), '@' included
    chain = report.chain
    first = [True]
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'>",
        f"<title>Checkerboard audit: {esc(report.source)}</title>",
        f"<style>{_STYLE}</style></head><body>",
        f"<h1>Checkerboard audit: {esc(report.source)}</h1>",
        f"<p>Input {esc(str(tuple(report.input_shape)))} → output "
        f"{esc(str(tuple(report.output_shape)) if report.output_shape else '?')}. "
        f"{len(report.layers)} resampling layer(s), <b>{len(report.offending)} offending</b>. "
        f"Total upsampling ×{chain.total_upsampling:g}, downsampling ×"
        f"{chain.total_downsampling:g}, net scale ×{chain.net_scale:g}; predicted artifact "
        f"period <b>{chain.period}</b> output pixels.</p>",
        f"<p>Verdict: <b>{esc(report.verdict)}</b>"
        + (f" (output {esc(report.output_name)})" if report.output_name else "") + ".</p>",
    ]
    if report.probes is not None:
        parts.append(f"<p>Checkerboard score on the {esc(str(report.probes.scored_on))}: "
                     f"<b>{esc(score_text(report.probes.checkerboard_score))}</b> (period "
                     f"{report.probes.period}; core.maths.metrics.checkerboard_score × 1000).</p>")
    for warning in report.warnings:
        parts.append(f"<p class='artifact'>Warning: {esc(warning)}</p>")
    for note in report.notes:
        parts.append(f"<p><i>{esc(note)}</i></p>")
    parts.append("<h2>Layers</h2>")
    rows = [[esc(_cell(r[c])) for c in _COLUMNS] for r in report.layer_rows()]
    for row, layer in zip(rows, report.layers, strict=True):
        row[-1] = f"<span class='{layer.severity}'>{esc(layer.severity)}</span>"
    parts.append(_html_table(list(_COLUMNS), rows, left=3))
    for i, layer in enumerate(report.layers):
        parts.append(f"<h3>#{i} {esc(layer.name)} ({esc(layer.op)})</h3>")
        parts.append(f"<p class='{layer.severity}'>{esc(layer.verdict)}</p>")
        for note in layer.notes:
            parts.append(f"<p><i>{esc(note)}</i></p>")
        for title, grid in _layer_tables(layer):
            parts.append(f"<p>{esc(title)}</p>")
            parts.append(_html_table([""] + [str(j) for j in range(len(grid[0]))],
                                     [[str(r)] + row for r, row in enumerate(grid)]))
        for line in _fix_lines(layer.fix_measured):
            parts.append(f"<p>{esc(line)}</p>")
        if layer.fix_code:
            parts.append(f"<p>The fix:</p><pre>{esc(layer.fix_code)}</pre>")
    if report.fix_all:
        parts.append("<h3>Every offending layer fixed at once</h3>")
        parts.extend(f"<p>{esc(line)}</p>"
                     for line in _fix_lines(report.fix_all, every_layer=True))
    if report.probes is not None and report.probes.results:
        probes = report.probes
        parts.append("<h2>Probes</h2><div>")
        for name, result in probes.results.items():
            picture = probe_picture(result.output)
            if picture is None:
                continue
            crop = output_crop(picture)
            factor = max(1, 256 // crop.shape[0])
            parts.append(
                f"<figure><img class='px' src='{_png_uri(crop, factor)}' "
                f"alt='{esc(name)} output' width='{crop.shape[1] * factor}'>"
                f"<figcaption>{esc(name)}: centre {crop.shape[0]}×{crop.shape[1]} of the "
                f"output ×{factor}, score {esc(score_text(result.score))} "
                f"({esc(result.scaling)})</figcaption></figure>")
        parts.append("</div>")
        for note in probes.notes:
            parts.append(f"<p><i>{esc(note)}</i></p>")
        if has_radial(probes):
            parts.append(_figure_html(radial_figure(probes), first))
        parts.append(_figure_html(probe_spectrum_figure(probes), first))
        if probes.shift_psnr:
            parts.append(_figure_html(shift_figure(probes), first))
        if probes.shift_note:
            parts.append(f"<p><i>Shift test: {esc(probes.shift_note)}</i></p>")
    parts.append("<h2>Report JSON</h2><details><summary>show</summary><pre>"
                 + esc(json.dumps(report.to_json(), indent=1, ensure_ascii=False))
                 + "</pre></details>")
    parts.append("<p>Made by Checkerboard Lab (core.audit).</p></body></html>")
    return "\n".join(parts)


# ---------------------------------------------------------------------------------------
# Markdown
# ---------------------------------------------------------------------------------------


def _md_table(header: list[str], rows: list[list[str]]) -> str:
    """A Markdown table; every cell escaped (:func:`core.io.text.md_escape`: names from
    the file render as text, never as a link, an image or HTML)."""
    lines = ["| " + " | ".join(str(h).replace("|", "\\|") for h in header) + " |",
             "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_md(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


#: Longest text of one note or verdict in the Markdown report.
_MD_TEXT = 2000


def _md(text) -> str:
    """Text from the model (names, notes, verdicts) as literal Markdown."""
    return md_escape(text, _MD_TEXT)


def to_markdown(report: AuditReport, *, images: bool = True) -> str:
    """The report as Markdown (tables, code, the probe outputs as PNG data URIs unless
    ``images`` is False: a pull-request comment renders no data URIs, and they are most
    of the characters)."""
    chain = report.chain
    out = [f"# Checkerboard audit: {_md(report.source)}", "",
           f"Input `{tuple(report.input_shape)}` → output "
           f"`{tuple(report.output_shape) if report.output_shape else '?'}`. "
           f"{len(report.layers)} resampling layer(s), **{len(report.offending)} offending**. "
           f"Total upsampling ×{chain.total_upsampling:g}, net scale ×{chain.net_scale:g}; "
           f"predicted artifact period **{chain.period}** output pixels.", "",
           f"**Verdict: {_md(report.verdict)}**"
           + (f" (output {_md(report.output_name)})" if report.output_name else "") + ".",
           ""]
    if report.probes is not None:
        out += [f"Checkerboard score on the {_md(report.probes.scored_on)}: "
                f"**{score_text(report.probes.checkerboard_score)}** (period "
                f"{report.probes.period}).", ""]
    out += [f"**Warning:** {_md(warning)}" + "  " for warning in report.warnings]
    out += [f"*{_md(note)}*" for note in report.notes]
    out += ["", "## Layers", "",
            _md_table(list(_COLUMNS), [[_cell(r[c]) for c in _COLUMNS]
                                       for r in report.layer_rows()]), ""]
    for i, layer in enumerate(report.layers):
        out += [f"### #{i} {_md(layer.name)} ({_md(layer.op)})", "", _md(layer.verdict), ""]
        out += [f"*{_md(note)}*  " for note in layer.notes]
        for title, grid in _layer_tables(layer):
            out += [f"{title}:", "", _md_table([""] + [str(j) for j in range(len(grid[0]))],
                                               [[str(r)] + row for r, row in enumerate(grid)]),
                    ""]
        out += [_md(line) + "  " for line in _fix_lines(layer.fix_measured)]
        if layer.fix_code:
            fence = "`" * max(3, 1 + max((len(r) for r in re.findall("`+", layer.fix_code)),
                                         default=0))
            out += ["", f"{fence}python", layer.fix_code, fence, ""]
    if report.fix_all:
        out += ["### Every offending layer fixed at once", ""]
        out += [_md(line) + "  " for line in _fix_lines(report.fix_all, every_layer=True)]
    probes = report.probes
    if probes is not None and probes.results:
        out += ["", "## Probes", "",
                _md_table(["probe", "score", "output scaling"],
                          [[name, score_text(r.score), r.scaling]
                           for name, r in probes.results.items()]), ""]
        for name, result in probes.results.items() if images else ():
            if probe_picture(result.output) is None:
                continue
            crop = output_crop(probe_picture(result.output))
            factor = max(1, 192 // crop.shape[0])
            out.append(f"![{_md(name)} output, centre ×{factor}]({_png_uri(crop, factor)})")
        if not images:
            out.append("*The probe outputs' images are left out here (the HTML report has "
                       "them).*")
        if probes.shift_psnr:
            rows = [[str(d), f"{v:.2f}"] for d, v in probes.shift_psnr.items()]
            if probes.shift_reference:
                rows.append([f"{probes.shift_reference[0]} (one period)",
                             f"{probes.shift_reference[1]:.2f}"])
            out += ["", "Shift test (PSNR of f(shift(x)) against shift(f(x))):", "",
                    _md_table(["shift (output px)", "PSNR (dB)"], rows)]
        if probes.shift_note:
            out += ["", f"*{_md(probes.shift_note)}*"]
    out += ["", "Made by Checkerboard Lab (`core.audit`).", ""]
    return "\n".join(out)
