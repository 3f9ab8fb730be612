"""The comparison view: an image, and two trained models' versions of it (Figure 7).

Original | model A | model B, each with a magnified crop, the absolute difference to
the original, the phase pattern behind the checkerboard score and the spectrum; then
PSNR, SSIM and the score in one table. The input is a held-out photograph or any file
a visitor uploads, checked by content (:func:`core.io.decode.load_image_bytes`).
"""

from __future__ import annotations

import streamlit as st

from core.experiment.catalog import POST_EPOCH, Catalog
from core.experiment.tables import MAX_EPOCH
from core.io.decode import LoadedImage
from ui.catalog import opening_epoch_note
from ui.figures.comparison import GAINS, Side
from ui.uploads import upload_image
from ui.urlstate import ChoiceParam, IntParam, check_query_params

#: Defaults of the two sides: the post's Figure 7.
DEFAULT_A, DEFAULT_B = "deconv3", "resize_nearest"
SOURCES = ("Held-out photograph", "Upload")


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
        raw = st.query_params.get(key)  # read as check_query_params reads it (ASCII digits)
        wanted = int(raw) if raw is not None and IntParam(0, MAX_EPOCH).accepts(raw) else None
        if wanted is not None and wanted not in epochs:
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


def opening_epochs(catalog: Catalog, a: str, b: str) -> str:
    """Where the two sides open, in words from the catalog ("both at epoch 10, the
    length of the post's training")."""
    ea = catalog.default_epoch(a) if a in catalog.variants else None
    eb = catalog.default_epoch(b) if b in catalog.variants else None
    if ea is None or eb is None:
        return "each at the epoch it opens at"
    why = " (the length of the post's Figure 7 training)" if ea == POST_EPOCH else ""
    if ea == eb:
        return f"both at epoch {ea}{why}"
    return f"at epochs {ea} and {eb}"


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


