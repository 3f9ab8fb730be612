"""The audit page's views: pick an example or upload an ONNX model, then its layers,
their overlap and phase gains, the fixes, the probes and the downloadable report.

Every number comes from :mod:`core.audit` (and :mod:`core.audit.examples`,
:mod:`core.audit.render` for the figures and pages); the coverage heatmap is the
coverage page's own view (:func:`ui.figures.coverage.coverage_heatmap`) and the phase gains
the layer lab's (:func:`ui.figures.panels.gains_figure`). An upload stays in memory: its bytes
go to ``onnx.load_from_string`` and ``onnxruntime.InferenceSession`` directly.
"""

from __future__ import annotations

import hashlib
import keyword
from dataclasses import dataclass

import numpy as np
import pandas as pd
import streamlit as st

from core.audit.analysis import layer_coverage
from core.audit.cli import parse_input_shape
from core.audit.examples import EXAMPLES, audit_example
from core.audit.limits import MAX_BYTES, AuditError
from core.audit.onnx_graph import audit_onnx, audit_onnx_files
from core.audit.render import (
    has_radial,
    output_crop,
    probe_picture,
    probe_spectrum_figure,
    radial_figure,
    score_text,
    shift_figure,
    to_html,
    to_markdown,
)
from core.audit.report import AuditReport, LayerAudit
from core.experiment.catalog import folder_signature
from core.io.text import md_code, md_escape
from ui.catalog import checkpoint_root, load_catalog
from ui.common import explain
from ui.figures.coverage import CoverageSpec, coverage_heatmap
from ui.figures.panels import gains_figure
from ui.pixels import magnify_factor, pixelated_container, show_pixels, slug
from ui.plots import colorscale, show_plot, show_table
from ui.uploads import upload_image
from ui.urlstate import ChoiceParam, IntParam, check_query_params

#: The example choice that shows the uploader instead.
UPLOAD = "upload"
#: Largest ONNX upload (the widget's limit; core.audit refuses more itself).
MAX_UPLOAD_MB = MAX_BYTES // 2**20
#: Every probe name the reports use (the URL's ``probe`` values).
PROBES = ("photograph", "your image", "smooth noise", "constant", "random latent")
#: The coverage page's URL ranges: a layer inside them gets a link there.
_COVERAGE_LIMITS = {"kernel": (1, 9), "stride": (1, 5), "padding": (0, 8), "dilation": (1, 4),
                    "output_padding": (0, 4)}


@dataclass(frozen=True)
class AuditSource:
    """What to audit: an example by name, or uploaded bytes (with their digest).

    ``data`` is one uploaded file (an ``.onnx`` or a zip of the model and its data
    files); ``files`` is a multi-file upload as ``(name, bytes)`` pairs (the ``.onnx``
    and its external data file(s)), ``data`` None then."""

    example: str | None
    data: bytes | None = None
    file_name: str = ""
    digest: str = ""
    input_shape: tuple[int, ...] | None = None
    image: np.ndarray | None = None
    image_digest: str = ""
    files: tuple[tuple[str, bytes], ...] = ()


def _label(name: str) -> str:
    if name == UPLOAD:
        return "your own ONNX file"
    if name in EXAMPLES:
        return EXAMPLES[name].title
    return f"{name} (ours, trained)"


def example_options() -> list[str]:
    """Our trained variants (from the catalog), the in-code examples, then upload."""
    return [*load_catalog().variants, *EXAMPLES, UPLOAD]


def source_controls() -> AuditSource | None:
    """The network picker (bound to ``?example=``), the uploader, the optional input
    shape and probe image. None when "upload" is chosen and nothing is uploaded yet."""
    options = example_options()
    check_query_params({"example": ChoiceParam(tuple(options))})
    default = "deconv3" if "deconv3" in options else options[0]
    # No format_func: a bound selectbox writes its shown label into the URL.
    choice = st.selectbox("Network", options, index=options.index(default), key="example",
                          bind="query-params",
                          help="Our trained networks (exported to ONNX by the lab), "
                               "well-known layouts built in code, or `upload` for your own "
                               "ONNX file.")
    st.caption(_label(choice) + (f": {EXAMPLES[choice].description}" if choice in EXAMPLES
                                 else ""))
    image = None
    with st.expander("Input shape, probe image", expanded=choice == UPLOAD):
        shape_text = st.text_input(
            "Input shape N,C,H,W", key="audit_shape", placeholder="e.g. 1,3,256,256",
            help="Only needed when the model leaves its input size free and 256x256 does "
                 "not fit, or to audit at another size.",
            disabled=choice != UPLOAD)
        picked = upload_image("Probe image (optional: replaces the photograph)",
                              key="audit-image")
        if picked is not None:
            image = picked[0]
    shape = None
    if choice == UPLOAD and shape_text.strip():
        try:
            shape = tuple(parse_input_shape(shape_text))
        except AuditError as err:
            st.error(str(err), icon=":material/error:")
            return None
    pixels, digest = (image.pixels, image.digest) if image is not None else (None, "")
    if choice != UPLOAD:
        return AuditSource(choice, image=pixels, image_digest=digest)
    # No type filter: exporters name their data files freely (model.onnx.data,
    # weights.bin, weights); a file that is not what it should be is refused by core.audit.
    uploads = st.file_uploader(
        "ONNX model", type=None, accept_multiple_files=True, key="audit-upload",
        max_upload_size=MAX_UPLOAD_MB,
        help=f"One `.onnx` file, or the `.onnx` together with its external data file(s) "
             f"(`model.onnx` + `model.onnx.data`, as `torch.onnx.export` writes them), or a "
             f"zip of them; up to {MAX_UPLOAD_MB} MB in all, standard ONNX operators only. A "
             "data location must name an uploaded file: anything pointing elsewhere is "
             "refused. Parsed, never executed as code; it stays in memory.")
    return upload_source(uploads or [], shape, pixels, digest)


def upload_source(uploads: list, shape: tuple[int, ...] | None, image: np.ndarray | None,
                  image_digest: str) -> AuditSource | None:
    """The :class:`AuditSource` of the uploader's files: one file as its bytes (an
    ``.onnx``, or a zip of the model and its data), several as ``(name, bytes)`` pairs.
    The digest covers every name and byte, so the cached report follows the upload."""
    if not uploads:
        return None
    if len(uploads) == 1:
        data = uploads[0].getvalue()
        return AuditSource(None, data, uploads[0].name, hashlib.sha256(data).hexdigest(),
                           shape, image, image_digest)
    files = tuple(sorted((u.name, u.getvalue()) for u in uploads))
    sha = hashlib.sha256()
    for name, data in files:
        for part in (name.encode("utf-8", "surrogatepass"), data):
            sha.update(len(part).to_bytes(8, "little") + part)
    label = " + ".join(name for name, _ in files)
    return AuditSource(None, None, label, sha.hexdigest(), shape, image, image_digest, files)


# Reports are shared read-only objects (never mutated after they are made), so they are
# cached as resources: no copy of their arrays on every rerun.
@st.cache_resource(max_entries=12, show_spinner=False)
def _example_report(name: str, root: str, signature: tuple, image_digest: str,
                    _image: np.ndarray | None) -> tuple[AuditReport | None, bytes, str]:
    try:
        report, data = audit_example(name, checkpoints=root, image=_image)
    except (AuditError, ValueError) as err:  # a refused or vanished checkpoint
        return None, b"", str(err)
    return report, data, ""


@st.cache_resource(max_entries=4, show_spinner=False)
def _upload_report(digest: str, name: str, shape: tuple | None, image_digest: str,
                   _data: bytes | None, _image: np.ndarray | None,
                   _files: tuple[tuple[str, bytes], ...] = ()
                   ) -> tuple[AuditReport | None, str]:
    # Keyed on the SHA-256 of the bytes (and names); a refusal is cached too.
    try:
        if _files:  # the .onnx with its data file(s): core.audit finds and checks them
            return audit_onnx_files(list(_files), shape, image=_image), ""
        if _data is not None and _data.startswith(b"PK\x03\x04"):  # a zip of them
            return audit_onnx_files(_data, shape, image=_image), ""
        return audit_onnx(_data or b"", shape, image=_image, name=name), ""
    except AuditError as err:
        return None, str(err)


def load_report(source: AuditSource) -> tuple[AuditReport | None, bytes, str]:
    """``(report, onnx bytes, refusal)`` for ``source``; cached."""
    with st.spinner("Auditing: exporting, parsing, running the probes…"):
        if source.example is not None:
            root = checkpoint_root()
            return _example_report(source.example, str(root), folder_signature(root),
                                   source.image_digest, source.image)
        report, error = _upload_report(source.digest, source.file_name, source.input_shape,
                                       source.image_digest, source.data, source.image,
                                       source.files)
        return report, source.data or b"", error


# --------------------------------------------------------------------------- summary


@st.cache_data(max_entries=4, show_spinner=False)
def _references(root: str, stamp: tuple) -> dict[str, float]:
    """The held-out photographs' own mean score, and our deconv3 / resize_nearest networks'
    at the epoch the pages open at (stored histories)."""
    from ui.catalog import heldout_scores

    out = {"photographs": float(np.mean(list(heldout_scores().values())))}
    catalog = load_catalog()
    for variant in ("deconv3", "resize_nearest"):
        xs, ys = catalog.series.get(variant, {}).get("checkerboard", ([], []))
        epoch = catalog.default_epoch(variant) if variant in catalog.variants else None
        if epoch in xs:
            out[variant] = float(ys[xs.index(epoch)])
            out[f"{variant} epoch"] = epoch
    return out


def score_reference() -> str:
    """A good and a bad score to read the audit's against, from our own data."""
    root = checkpoint_root()
    ref = _references(str(root), folder_signature(root))
    parts = [f"the photographs themselves {score_text(ref['photographs'])}"]
    parts += [f"our {v} network at epoch {ref[f'{v} epoch']} {score_text(ref[v])}"
              for v in ("resize_nearest", "deconv3") if v in ref]
    return ("For scale, mean checkerboard scores on the held-out photographs: "
            + ", ".join(parts) + ". A score is one output's; a trained network can hide "
            "much of what its layers paint, so a low score and offending layers go together.")


def render_summary(report: AuditReport) -> None:
    """Headline figures: layers, offending ones, the chain and the score."""
    chain = report.chain
    cols = st.columns(4)
    cols[0].metric("Resampling layers", len(report.layers),
                   help="Up- and downsampling layers found in the graph.")
    cols[1].metric("Offending", len(report.offending),
                   help="Upsampling layers with uneven overlap or unequal phase gains.")
    cols[2].metric("Predicted period", f"{chain.period} px",
                   help="Least common multiple of every upsampling layer's stride times "
                        "the resampling after it.")
    probes = report.probes
    cols[3].metric("Checkerboard", score_text(probes.checkerboard_score) if probes else "—",
                   help=f"core.maths.metrics.checkerboard_score on the "
                        f"{probes.scored_on if probes else 'probe'} output, ×10⁻³.")
    reference = score_reference()
    if reference:
        st.caption(reference)
    verdict = report.verdict  # never "clean" without evidence (core.audit.verdict)
    {"clean": st.success, "artifact": st.warning}.get(verdict, st.error)(
        f"**Verdict: {verdict}.** {VERDICT_WORDS.get(verdict, '')}",
        icon={"clean": ":material/check_circle:", "artifact": ":material/grid_4x4:"}.get(
            verdict, ":material/help:"))
    for layer in report.offending:  # a plain sentence per offending layer
        st.markdown(f"- {plain_verdict(layer)}")
    st.caption(f"{md_escape(report.source)}: input {tuple(report.input_shape)} → output "
               f"{tuple(report.output_shape) if report.output_shape else '?'}; total "
               f"upsampling ×{chain.total_upsampling:g}, downsampling ×"
               f"{chain.total_downsampling:g}, net ×{chain.net_scale:g}.")
    for warning in report.warnings:  # what the audit could not judge: never a clean bill
        st.warning(md_escape(warning, 2000), icon=":material/warning:")
    for note in report.notes:
        st.info(md_escape(note, 2000), icon=":material/info:")


#: What each verdict of the layers table means, in plain words.
VERDICT_WORDS = {
    "artifact": "paints a checkerboard into the output",
    "gradient": "downsamples with uneven overlap: no pattern in the output, but its "
                "gradients in training carry one (some input pixels are read more often)",
    "ok": "no checkerboard of its own",
    "not judged": "found, but the audit has no evidence either way (weights it cannot read "
                  "as constants, a part it does not support): it is not called clean",
    "unexplained grid": "no layer offends, yet the probes' output carries a grid well above "
                        "the photograph's own: something the layers do not explain paints it",
    "clean": "every layer judged, none offends, and the probes agree",
}


def _cell(value) -> str:
    """A table cell for a newcomer: no nan, True or 1.887207."""
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "—"
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if isinstance(value, float | np.floating):
        return f"{value:.2f}"
    return str(value) if value != "" else "—"


#: The layer table's columns, in order: the verdict and the three numbers behind it first
#: (the legend below explains them), the geometry after; kernel, stride and padding in
#: one column, so the table fits a reading page without a sideways scroll.
LAYER_COLUMNS = ("#", "name", "verdict", "overlap", "uneven", "imbalance", "op",
                 "k/s/pad", "channels")


def layer_table(report: AuditReport) -> pd.DataFrame:
    """The layers, one row each (:data:`LAYER_COLUMNS`; ↑ upsampling, ↓ downsampling; sizes
    are in the chosen layer's view), every cell as text: "—", "yes"/"no", two decimals. A layer is named by its module path when the graph gives
    one (``up1.deconv``, not the exporter's ``node_ConvTranspose_15``)."""
    df = pd.DataFrame(report.layer_rows())
    if df.empty:
        return df
    df = df.rename(columns={"overlap max/min": "overlap"})
    df["name"] = [la.module_path or la.name for la in report.layers]
    df["k/s/pad"] = ["/".join(str(v) if v != "" else "—" for v in row)
                     for row in df[["kernel", "stride", "padding"]].itertuples(index=False)]
    arrow = {"up": " ↑", "down": " ↓"}
    df["op"] = [op + arrow.get(d, "") for op, d in zip(df["op"], df["dir"], strict=True)]
    return df[[c for c in LAYER_COLUMNS if c in df.columns]].map(_cell)


def plain_verdict(layer: LayerAudit) -> str:
    """One sentence a newcomer can read: what this layer does to the picture, and why."""
    name = md_code(layer.module_path or layer.name)
    if layer.severity == "gradient":
        return (f"{name} downsamples with uneven overlap: the output is not checkered, but "
                "in training its gradient reaches some input pixels more often than their "
                "neighbours, which can teach the layers before it a grid.")
    if layer.severity == "not judged":
        return (f"{name} was found but not judged: "
                f"{md_escape(layer.verdict.removeprefix('not judged: '), 300)}.")
    if layer.severity != "artifact":
        return f"{name} upsamples without a checkerboard of its own."
    why = []
    if layer.uneven and layer.interior_max is not None:
        why.append(f"its kernel copies overlap unevenly (the most painted output pixels are "
                   f"painted {layer.interior_max} times, the least {layer.interior_min})")
    if layer.phase_imbalance is not None and np.isfinite(layer.phase_imbalance) \
            and layer.phase_imbalance > 0:
        phases = "x".join(map(str, layer.gains.shape[2:])) if layer.gains is not None \
            else "sxs"  # 8 for a sound's layer, 4x4 an image's, 2x2x1 a volume's
        why.append(f"its {phases} output "
                   "phases turn a flat input into unequal values (phase imbalance "
                   f"{layer.phase_imbalance:.2f}; 0 is balanced)")
    period = f" every {layer.period} pixels" if layer.period else ""
    return (f"{name} paints a checkerboard{period} into the output: "
            + ("; and ".join(why) if why else layer.verdict) + ".")


def attribute_target(path: str) -> str | None:
    """``main.3.conv`` as Python that assigns to that submodule: ``self.main[3].conv``
    (a number is an index into an ``nn.Sequential`` / ``nn.ModuleList``, which take item
    assignment); None when a part is neither a name nor an index (the code then keeps
    ``fix = ...``)."""
    target = "self"
    for part in path.split("."):
        if part.isdecimal() and part.isascii():
            target += f"[{int(part)}]"
        elif part.isidentifier() and not keyword.iskeyword(part):
            target += f".{part}"
        else:
            return None
    return target


def module_fix_code(layer: LayerAudit) -> str | None:
    """The fix as the line in the user's module: ``self.up1.deconv = ...`` in place of
    ``fix = ...``, when the layer's module path is known."""
    code = layer.fix_code
    if not code:
        return code
    path = layer.module_path or ".".join(p for p in layer.name.strip("/").split("/")[:-1])
    target = attribute_target(path) if path else None
    if target and "\nfix = " in "\n" + code:
        code = ("\n" + code).replace("\nfix = ", f"\n# in your module's __init__, replacing "
                                    f"the layer at {path}:\n{target} = ", 1)[1:]
    return code


# --------------------------------------------------------------------------- one layer


def _coverage_spec(layer: LayerAudit) -> CoverageSpec | None:
    """The coverage page's spec of a square, symmetric upsampling layer (else None)."""
    args = layer.overlap
    if args is None or layer.direction != "up" or len(args["kernel_size"]) != 2:
        return None  # the coverage page draws images; a sound's or a volume's layer: no link
    pairs = [args[k] for k in ("kernel_size", "stride", "padding", "dilation",
                               "output_padding")]
    if any(a[0] != a[1] for a in pairs):
        return None
    if layer.padding and (layer.padding[0] != layer.padding[2]
                          or layer.padding[1] != layer.padding[3]):
        return None
    k, s, p, d, op = (a[0] for a in pairs)
    spec = CoverageSpec(2, k, s, p, d, op, 6, 1)
    try:
        spec.report()
    except ValueError:
        return None
    return spec


def _coverage_link(spec: CoverageSpec) -> None:
    values = {"kernel": spec.kernel, "stride": spec.stride, "padding": spec.padding,
              "dilation": spec.dilation, "output_padding": spec.output_padding}
    if all(lo <= values[k] <= hi for k, (lo, hi) in _COVERAGE_LIMITS.items()):
        st.page_link("pages/coverage.py", label="Open this layer in the coverage page",
                     icon=":material/grid_on:",
                     query_params={k: str(v) for k, v in values.items()})


def render_layer(layer: LayerAudit, *, key: str) -> None:
    """One layer: verdict, coverage heatmap, phase gains, fix code, measured fix."""
    # A finding, not a failure of the page: warning (artifact), info (gradient only).
    box = {"artifact": st.warning, "gradient": st.info,
           "not judged": st.warning}.get(layer.severity, st.success)
    size = (f", {'x'.join(map(str, layer.in_size))} → {'x'.join(map(str, layer.out_size))}"
            if layer.in_size and layer.out_size else "")
    box(f"{plain_verdict(layer)}\n\n**{md_escape(layer.name)}** ({layer.op}"
        f"{' ' + md_escape(layer.mode) if layer.mode else ''}{size}): "
        f"{md_escape(layer.verdict)}.",
        icon={"artifact": ":material/grid_4x4:", "gradient": ":material/south_west:",
              "not judged": ":material/help:"}.get(
            layer.severity, ":material/check_circle:"))
    for note in layer.notes:
        st.caption(md_escape(note, 2000))
    cov = layer_coverage(layer)
    spec = _coverage_spec(layer)
    if cov is not None:
        counts = as_grid(cov.counts)  # a sound's counts as one row, a volume's middle slice
        if layer.direction == "up":
            k = layer.overlap["kernel_size"]
            s = layer.overlap["stride"]
            title = (f"Times each output cell is painted ({'x'.join(map(str, k))}, stride "
                     f"{s[0]}, {'x'.join(['6'] * len(k))} input"
                     + (", middle slice)" if cov.counts.ndim == 3 else ")"))
        else:
            title = "Times each input pixel is read (the gradient's overlap)"
        show_plot(coverage_heatmap(counts, title, spec=spec), key=f"{key}-coverage",
                  height=440 if counts.shape[0] > 1 else 200)
        if spec is not None:
            _coverage_link(spec)
    if layer.gains is not None:
        gains = layer.gains
        if gains.ndim != 4:  # (C_in, C_out, s) of a sound, (C_in, C_out, s, s, s) of a volume
            gains = gains.reshape(*gains.shape[:2], -1, gains.shape[-1])
        cols = st.columns(2)
        with cols[0]:
            show_plot(gains_figure(gains, "Phase gains, channels 0→0"),
                      key=f"{key}-gains", height=320)
        if layer.worst_pair is not None:
            i, o = layer.worst_pair
            with cols[1]:
                show_plot(gains_figure(gains[i:i + 1, o:o + 1],
                                       f"Most unequal pair, channels {i}→{o}"),
                          key=f"{key}-gains-worst", height=320)
        explain("On a constant input, each output phase of this layer is the input times "
                "the sum of the taps it receives. Equal gains (imbalance 0) mean a constant "
                "stays constant; unequal gains paint a fixed pattern, even where the overlap "
                "is even (Sugawara et al. 2019).")
    if layer.fix_measured:
        render_measured(layer.fix_measured)
        explain("Both rows at initialisation compare the two designs at the same point. "
                "One layer alone may change little while the other offending layers still "
                "paint their own pattern: see every offending layer fixed at once below.")
    if layer.fix_code:
        st.markdown("**The fix**")
        st.code(module_fix_code(layer), language="python")


def render_measured(measured: dict, *, together: bool = False) -> None:
    """The scores of a measured fix (live modules: our examples)."""
    which = "these layers" if together else "this layer"
    # the two rows at initialisation first (the comparison of the designs), then the
    # network as given: trained weights may hide what the layer paints at init
    rows = [{"network": label, "checkerboard": score_text(measured.get(k))}
            for k, label in (("original_at_init", f"at init: {which} as designed"),
                             ("fixed_at_init", f"at init: {which} swapped for the fix"),
                             ("as_given", "as given (its own weights; not comparable with "
                                          "the rows at init)"))
            if k in measured]
    st.markdown(f"**Measured** on the {measured.get('probe')} probe, period "
                f"{measured.get('period')}: {measured.get('fix', '')}")
    show_table(pd.DataFrame(rows), hide_index=True)


def render_layers(report: AuditReport) -> None:
    """The layer table, the layer picker (``?layer=``) and the chosen layer's view."""
    st.subheader("Layers")
    if not report.layers:
        st.info("No up- or downsampling layer found: no transposed convolution, resize, "
                "depth-to-space, strided convolution or strided pooling.",
                icon=":material/search_off:")
        return
    show_table(layer_table(report), hide_index=True)
    explain("**verdict**: " + "; ".join(f"*{k}*: {v}" for k, v in VERDICT_WORDS.items())
            + ". **overlap** (max/min): how often the most and least painted output pixels "
            "are painted. **imbalance**: how unequal the output phases are on a flat "
            "input (0 is balanced). **op**: ↑ upsamples, ↓ downsamples; **k/s/pad**: "
            "kernel, stride, padding.")
    n = len(report.layers)
    check_query_params({"layer": IntParam(0, n - 1)})
    default = next((i for i, la in enumerate(report.layers) if la.offending), 0)
    if "layer" in st.session_state and not 0 <= int(st.session_state["layer"]) < n:
        del st.session_state["layer"]  # another model was picked
    index = st.selectbox("Layer (# in the table)", list(range(n)), index=default, key="layer",
                         bind="query-params")
    render_layer(report.layers[index], key=f"layer-{index}")
    if report.fix_all:
        st.markdown("**Every offending layer fixed at once**")
        render_measured(report.fix_all, together=True)


# --------------------------------------------------------------------------- probes


def _probe_pictures(name: str, result, picture: np.ndarray) -> None:
    """A probe's input and output side by side, magnified (a volume's middle slice)."""
    crop = output_crop(picture)
    factor = magnify_factor(crop.shape[0])
    cols = st.columns(2)
    with pixelated_container("audit-probe"):
        with cols[0]:
            x = probe_picture(result.input) if result.input.ndim != 3 else result.input
            shown = output_crop(np.clip(x, 0, 1)) if x is not None and x.shape[0] >= 16 \
                else None
            if shown is not None:
                show_pixels(shown, f"{name}: input, centre ×{magnify_factor(shown.shape[0])}",
                            factor=magnify_factor(shown.shape[0]), width="content")
            else:
                st.caption(f"{name}: a latent of shape {tuple(result.input.shape)} (not an "
                           "image)")
        with cols[1]:
            show_pixels(crop, f"{name}: output, centre ×{factor} ({result.scaling})",
                        factor=factor, width="content")


def as_grid(counts: np.ndarray) -> np.ndarray:
    """A coverage map as a 2-D grid to draw: a sound's ``(L,)`` as one row, a volume's
    ``(D, H, W)`` as its middle slice along depth, an image's as it is."""
    if counts.ndim == 1:
        return counts[None, :]
    if counts.ndim == 3:
        return counts[counts.shape[0] // 2]
    return counts


def render_probes(report: AuditReport) -> None:
    """Probe inputs and outputs, the spectra and the shift test."""
    probes = report.probes
    if probes is None or not probes.results:
        if probes is not None:
            for note in probes.notes:
                st.info(md_escape(note, 2000), icon=":material/info:")
        return
    st.subheader("Probes")
    explain("The model runs on a constant image, smooth noise and a photograph (or your "
            "image). A checkerboard shows as a fixed pattern of period "
            f"{probes.period} in the outputs, as bright dots at the frequencies "
            f"(i/{probes.period}, j/{probes.period}) in their spectra, and as a loss of "
            "equivariance when the input moves by less than a period.")
    names = list(probes.results)
    check_query_params({"probe": ChoiceParam(PROBES)})
    if st.session_state.get("probe") not in (None, *names):
        del st.session_state["probe"]
    default = probes.scored_on if probes.scored_on in names else names[0]
    name = st.segmented_control("Probe", names, default=default, key="probe",
                                bind="query-params") or default
    result = probes.results[name]
    picture = probe_picture(result.output)
    if picture is None:  # a sound: no picture; its spectrum below, the tones marked
        st.caption(f"{name}: a sound of {result.output.shape[0]:,} samples in "
                   f"{result.output.shape[1]} channel(s); its spectrum is below.")
    else:
        _probe_pictures(name, result, picture)
    st.metric(f"Checkerboard of the {name} output", score_text(result.score),
              help="core.maths.metrics.checkerboard_score at the predicted period, ×10⁻³.")
    if has_radial(probes):
        show_plot(radial_figure(probes), key="audit-radial", height=420)
    fig = probe_spectrum_figure(probes, name, colorscale=colorscale())
    if fig is not None:
        show_plot(fig, key="audit-spectrum", height=520)
    if probes.shift_psnr:
        show_plot(shift_figure(probes), key="audit-shift", height=380)
    if probes.shift_note:
        st.caption(f"Shift test: {md_escape(probes.shift_note, 2000)}.")
    for note in probes.notes:
        st.caption(md_escape(note, 2000))


# --------------------------------------------------------------------------- downloads


def render_downloads(report: AuditReport, onnx_bytes: bytes, *, example: bool) -> None:
    """The report as JSON, HTML (self-contained, with the figures) and Markdown; an
    example's ONNX file too."""
    st.subheader("Report")
    stem = slug(report.source, "network")
    cols = st.columns(4 if example else 3)
    cols[0].download_button("JSON", data=report.json_text(), file_name=f"audit-{stem}.json",
                            mime="application/json", icon=":material/download:",
                            key="audit-json")
    cols[1].download_button("HTML", data=lambda: to_html(report),
                            file_name=f"audit-{stem}.html", mime="text/html",
                            icon=":material/download:", key="audit-html",
                            help="One self-contained page with the figures; opens offline.")
    cols[2].download_button("Markdown", data=lambda: to_markdown(report),
                            file_name=f"audit-{stem}.md", mime="text/markdown",
                            icon=":material/download:", key="audit-md")
    if example:
        cols[3].download_button("ONNX model", data=onnx_bytes, file_name=f"{stem}.onnx",
                                mime="application/octet-stream", icon=":material/download:",
                                key="audit-onnx",
                                help="This example as the lab exported it: try "
                                     "`python -m core.audit` on it.")
    explain("The same audit from a terminal: `python -m core.audit MODEL.onnx "
            "[--input-shape N,C,H,W] [--json OUT.json] [--html OUT.html]`.")
