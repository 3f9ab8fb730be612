"""Pixels on screen: images magnified with nearest-neighbour (never smoothed), the fine-detail view, PNG bytes for the browser."""

from __future__ import annotations

import hashlib
import re

import numpy as np
import streamlit as st

from core.io.pixels import Region, content_hash, crop_region, magnify_nearest, to_png_bytes
from core.maths.metrics import fine_detail
from ui.common import presenting

#: Width in screen pixels a magnified crop is enlarged to (integer factor below it).
MAGNIFIED_WIDTH = 256


# Nearest-neighbour in the browser too, for every image inside a container whose key
# starts with "pixels": a magnified crop shrunk to fit a narrow column stays crisp.
PIXELATED_CSS = """
<style>
[class*="st-key-pixels"] img { image-rendering: pixelated; border-radius: 0; }
</style>
"""

#: Width of the main area that magnifications are chosen for (CSS pixels): the centred
#: page when reading, the wide page on a 1280-px screen when presenting (wider screens
#: leave a margin; a magnified image is never stretched to a non-integer scale).
PAGE_WIDTH = {False: 704, True: 1120}
#: Streamlit's gap between columns (1rem).
COLUMN_GAP = 16

#: On a screen whose devicePixelRatio is not 1 (a laptop at 125 % or 150 %), an image
#: ``k`` CSS pixels per image pixel wide is ``k * dpr`` device pixels per image pixel: a
#: fraction, which bends a 4-pixel grid. This rounds each magnified image (its ``alt``
#: says "magnified kx") to a whole number of device pixels per image pixel.
DEVICE_PIXELS_JS = """
<script>
(() => {
  if (window.__ckbDevicePixels) return; window.__ckbDevicePixels = true;
  const fit = () => {
    const d = window.devicePixelRatio || 1;
    for (const img of document.querySelectorAll('[class*="st-key-pixels"] img[alt*="magnified"]')) {
      const m = /magnified (\\d+)x/.exec(img.alt); if (!m || !img.naturalWidth) continue;
      const k = +m[1], n = img.naturalWidth / k, whole = Math.max(1, Math.round(k * d));
      const css = whole * n / d + 'px';
      if (img.style.width !== css) { img.style.width = css; img.style.maxWidth = 'none'; }
    }
  };
  new MutationObserver(fit).observe(document.body, {subtree: true, childList: true,
                                                    attributes: true, attributeFilter: ['src']});
  window.addEventListener('resize', fit); fit();
})();
</script>
"""


@st.cache_data(max_entries=768, show_spinner=False)
def _png(key: str, factor: int, _image: np.ndarray) -> bytes:
    return to_png_bytes(magnify_nearest(_image, factor) if factor > 1 else _image)


def png_of(image: np.ndarray, key: str | None = None, factor: int = 1) -> bytes:
    """PNG bytes of ``image`` enlarged ``factor`` times (nearest), cached by ``key``."""
    return _png(key or content_hash(image), int(factor), image)


def show_pixels(
    image: np.ndarray,
    caption: str | None = None,
    *,
    key: str | None = None,
    factor: int = 1,
    width: int | str = "stretch",
    file_name: str | None = None,
    png: bytes | None = None,
    alt: str | None = None,
) -> None:
    """Draw an image losslessly (PNG, never JPEG); with ``factor`` > 1 enlarged by
    nearest neighbour, so one-pixel patterns stay visible. Every image gets a PNG
    download of the pixels shown (``file_name``, or one made from the caption).

    ``key`` names the image's content for the PNG cache (a content hash when omitted);
    ``png``, the image already encoded (a stored output), skips the encoding.
    Presentation mode hides captions, so there the caption is written above the image.
    """
    if caption and presenting():
        st.markdown(f"**{caption}**")
    png = png if png is not None and factor == 1 else png_of(image, key, factor)
    st.image(png, caption=caption, width=width, output_format="PNG", alt=alt)
    if presenting():  # no download buttons in front of a room
        return
    file_name = file_name or f"{slug(caption or 'image')}.png"
    ident = hashlib.blake2b(f"{key}|{factor}|{caption}|{file_name}".encode(),
                            digest_size=8).hexdigest()
    st.download_button("PNG", data=lambda: png, file_name=file_name, mime="image/png",
                       key=f"png-{ident}", icon=":material/download:", type="tertiary",
                       help="Download these pixels as a PNG (lossless)")


def slug(text: str, default: str = "image") -> str:
    """A file-name stem from ``text``: ASCII letters and digits, dashes between, at most
    60 characters (``default`` when nothing is left)."""
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower()[:60] or default


def pixelated_container(key: str):
    """A container whose images the browser scales with nearest neighbour, at a whole
    number of device pixels per image pixel (:data:`DEVICE_PIXELS_JS`)."""
    st.html(PIXELATED_CSS)
    st.html(DEVICE_PIXELS_JS, unsafe_allow_javascript=True)
    return st.container(key=f"pixels-{key}")


def magnify_factor(size: int, target: int = MAGNIFIED_WIDTH) -> int:
    """Integer enlargement that makes a ``size``-pixel crop about ``target`` pixels wide."""
    return max(1, target // max(1, size))


def fit_factor(size: int, columns: int = 1, fraction: float = 1.0) -> int:
    """The largest whole magnification at which a ``size``-pixel crop fits one of
    ``columns`` equal columns across ``fraction`` of the page (:data:`PAGE_WIDTH`)."""
    page = PAGE_WIDTH[presenting()] * fraction
    column = (page - COLUMN_GAP * (columns - 1)) / max(1, columns)
    return max(1, int(column // max(1, size)))


def scale_label(factor: int) -> str:
    """What a magnified image shows, e.g. "×4: each pixel is 4x4 screen pixels"."""
    return f"×{factor}: each pixel is {factor}x{factor} screen pixels"


def show_exact(image: np.ndarray, caption: str, *, key: str, factor: int) -> None:
    """``image`` enlarged ``factor`` times (nearest) and drawn at exactly that size: one
    image pixel is ``factor`` x ``factor`` screen pixels, never a fraction. No download
    button (the magnifiers below have them). Draw inside a :func:`pixelated_container`."""
    if presenting():
        st.markdown(f"**{caption}**")
    st.image(png_of(image, key, factor), caption=None if presenting() else caption,
             width=int(image.shape[1] * factor), output_format="PNG",
             alt=f"{caption}, magnified {factor}x")


#: How much the fine-detail view amplifies the high-passed image.
DETAIL_GAIN = 10.0


@st.cache_data(max_entries=256, show_spinner=False)
def cached_fine_detail(key: str, period: int, gain: float, _image: np.ndarray) -> np.ndarray:
    """:func:`core.maths.metrics.fine_detail` of the image whose content ``key`` names,
    computed once per image (the first look, the magnifiers and the region finder)."""
    return fine_detail(_image, period, gain)


def show_magnified(
    pixels: np.ndarray,
    region: Region,
    label: str,
    *,
    key: str,
    factor: int,
    period: int = 4,
    width: int | str = "content",
    detail: bool = True,
) -> None:
    """A region of ``pixels`` enlarged ``factor`` times (nearest neighbour) and, under
    it, the same region's fine detail (:func:`core.maths.metrics.fine_detail`: the
    high-passed image x10 around grey), where a checkerboard too faint to see in the
    crop is plain. ``key`` names ``pixels`` for the caches. Draw inside a
    :func:`pixelated_container` so the browser keeps the blocks sharp.
    """
    region = region.clamped(pixels.shape)
    rkey = f"{region.top},{region.left},{region.height},{region.width}"
    exact = int(region.width * factor)  # a whole number of screen pixels per image pixel
    show_pixels(crop_region(pixels, region), f"{label} ×{factor}", key=f"{key}|crop|{rkey}",
                factor=factor, width=exact, file_name=f"{slug(label)}-crop.png",
                alt=f"{label}, magnified {factor}x")
    if detail:
        try:
            fine = cached_fine_detail(key, period, DETAIL_GAIN, pixels)
        except ValueError:  # an image too small for the high-pass
            return
        show_pixels(crop_region(fine, region), f"fine detail ×{DETAIL_GAIN:g}",
                    key=f"{key}|fine|{rkey}", factor=factor, width=exact,
                    file_name=f"{slug(label)}-fine-detail.png",
                    alt=f"{label} fine detail, magnified {factor}x")
