"""The "Diagnose a picture" page through AppTest (entered via dashboard.py): examples from
the URL, uploads of several images and a zip, refusals, presentation mode, the home link."""

from __future__ import annotations

import io
import zipfile

import numpy as np
from PIL import Image

from core.io.photos import read_rgb, skimage_data_dir
from tests.conftest import assert_clean, encode, open_page

DIAGNOSE = "pages/diagnose.py"


def photo(top: int, size: int = 128) -> np.ndarray:
    """A crop of a packaged photograph (the conftest's synthetic picture has an XOR
    texture: a lattice-locked pattern, rightly read as a grid)."""
    return read_rgb(skimage_data_dir() / "coffee.png")[top:top + size, 100:100 + size]


def gridded(seed: int = 0, size: int = 128) -> bytes:
    """A PNG of a photograph crop with a +/-3 grey-level period-2 checkerboard."""
    base = photo(40 + 30 * seed, size).astype(np.float64)
    y, x = np.mgrid[:size, :size]
    img = base + 3.0 * ((x + y) % 2 * 2 - 1)[:, :, None]
    return encode(Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)), "PNG")


def headings(at) -> list[str]:
    return [m.value for m in at.markdown if m.value.startswith("### ")]


def test_examples_open_from_the_url_and_say_their_verdict():
    jpeg = open_page(DIAGNOSE, {"example": "photo-jpeg"}, timeout=180)
    assert_clean(jpeg)
    assert jpeg.selectbox(key="example").value == "photo-jpeg"
    assert headings(jpeg) and "No network grid" in headings(jpeg)[0]
    assert "JPEG" in headings(jpeg)[0]
    look = [im for im in jpeg.get("image") if "magnified" in (im.proto.imgs[0].caption or "")
            or "fine detail" in (im.proto.imgs[0].caption or "")]
    assert look, "the first look shows the fine detail"
    assert len(jpeg.get("plotly_chart")) >= 2  # the spectrum and the evidence per period
    bicubic = open_page(DIAGNOSE, {"example": "photo-bicubic"}, timeout=180)
    assert_clean(bicubic)
    assert "No network grid" in headings(bicubic)[0]


def test_a_network_example_finds_the_grid(tiny):
    """The tiny test checkpoints hold epochs 0-2: deconv3 at epoch 1 is there."""
    at = open_page(DIAGNOSE, {"example": "deconv3-e1"}, timeout=180)
    assert_clean(at)
    assert headings(at)
    missing = open_page(DIAGNOSE, {"example": "deconv3-e10"}, timeout=180)  # not stored
    assert_clean(missing)
    assert any("shipped checkpoints" in i.value for i in missing.info)


def test_an_unknown_example_in_the_url_falls_back_with_a_warning():
    at = open_page(DIAGNOSE, {"example": "nope"}, timeout=180)
    assert_clean(at)
    assert at.warning and any("example" in w.value for w in at.warning)
    assert at.selectbox(key="example").value == "deconv3-e1"


def test_uploads_of_images_and_a_zip_give_the_table_and_the_verdicts():
    at = open_page(DIAGNOSE, {"source": "Upload"}, timeout=180)
    assert_clean(at)
    assert at.info  # asks for files
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("a/one.png", gridded(1))
        zf.writestr("a/notes.txt", b"not a picture")
    uploader = at.get("file_uploader")[0]
    uploader.upload("grid.png", gridded(0), "image/png")
    uploader.upload("clean.png", encode(Image.fromarray(photo(200)), "PNG"), "image/png")
    uploader.upload("outputs.zip", archive.getvalue(), "application/zip")
    at.run()
    assert_clean(at)
    assert "period 2" in headings(at)[0]  # the strongest grid is shown first
    table = at.dataframe[0].value
    assert list(table["file"]) == ["grid.png", "clean.png", "outputs.zip/a/one.png"]
    assert list(table["grid"]) == ["yes", "no", "yes"]
    assert any("notes.txt" in w.value and "skipped" in w.value for w in at.warning)
    verdict = [m.value for m in at.markdown if m.value.startswith("**") and "pictures" in m.value]
    assert verdict and "2" in verdict[0]
    downloads = at.get("download_button")
    labels = [d.proto.label for d in downloads]
    assert "Table as CSV" in labels and "Table as JSON" in labels


def test_presentation_mode_and_the_home_link():
    at = open_page(DIAGNOSE, {"example": "photo-jpeg", "present": "true"}, timeout=180)
    assert_clean(at)
    assert headings(at)
    home = open_page(None, timeout=120)
    links = [link.proto.page for link in home.get("page_link")]
    assert any("diagnose" in str(link) for link in links)


def test_a_file_that_is_not_a_picture_gets_one_clear_message():
    at = open_page(DIAGNOSE, {"source": "Upload"}, timeout=180)
    at.get("file_uploader")[0].upload("notes.png", b"Dear diary, no picture here.", "image/png")
    at.run()
    assert_clean(at)
    assert len(at.error) == 1 and "notes.png" in at.error[0].value
    assert "text file" in at.error[0].value
