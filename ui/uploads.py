"""Uploaded images, one way for every page: a size limit, one decoding per file.

The comparison page and the layer lab both take an uploaded image through
:func:`upload_image`: the widget refuses files above :data:`MAX_UPLOAD_MB`, and
:func:`decode_upload` decodes a file's bytes once (``core.io.decode.load_image_bytes``,
cached by their SHA-256, refusals included), so moving a slider afterwards never
decodes it again. The decoded pixels are read-only and shared, not copied.
"""

from __future__ import annotations

import hashlib

import streamlit as st

from core.io.decode import (
    ACCEPTED_TEXT,
    DEFAULT_MAX_SIDE,
    ImageLoadError,
    LoadedImage,
    load_image_bytes,
)

#: Largest upload the widgets accept, in MB (the decoder refuses more than 64 MiB or
#: 40 MP anyway, and bounds its memory from the declared size).
MAX_UPLOAD_MB = 50
#: The uploaders' help: what is accepted (the refusals name the same formats).
UPLOAD_HELP = (f"{ACCEPTED_TEXT}, up to {MAX_UPLOAD_MB} MB. The content decides, not the "
               f"file name; large images are downscaled to {DEFAULT_MAX_SIDE} pixels on the "
               "longer side.")


@st.cache_resource(max_entries=8, show_spinner=False)
def _decode(sha: str, _data: bytes) -> tuple[LoadedImage | None, str | None]:
    # Keyed on the SHA-256 of the bytes (``_data`` is not hashed by Streamlit); a refusal
    # is returned, so it is cached too. The pixels are read-only: sharing them is safe.
    try:
        return load_image_bytes(_data), None
    except ImageLoadError as err:
        return None, str(err)


def decode_upload(data: bytes) -> LoadedImage:
    """``load_image_bytes`` once per distinct content (refusals too)."""
    loaded, error = _decode(hashlib.sha256(data).hexdigest(), data)
    if error is not None:
        raise ImageLoadError(error)
    assert loaded is not None
    return loaded


def upload_image(label: str, *, key: str, help: str = UPLOAD_HELP
                 ) -> tuple[LoadedImage, str] | None:
    """A file uploader; returns the decoded image and its file name, or None.

    A refusal is shown as one ``st.error`` naming the file and what is wrong (never a
    traceback); conversions are listed in one ``st.info``.
    """
    upload = st.file_uploader(label, key=key, max_upload_size=MAX_UPLOAD_MB, help=help)
    if upload is None:
        return None
    try:
        loaded = decode_upload(upload.getvalue())
    except ImageLoadError as err:
        st.error(f"`{_name(upload.name)}` cannot be used: {err}", icon=":material/broken_image:")
        return None
    if loaded.notices:
        st.info(f"`{_name(upload.name)}`: " + "; ".join(loaded.notices) + ".",
                icon=":material/transform:")
    return loaded, upload.name


def _name(name: str) -> str:
    """A file name as shown in a message: no backticks, at most 80 characters."""
    name = name.replace("`", "'")
    return name if len(name) <= 80 else name[:79] + "…"
