"""The training gallery through Streamlit's AppTest (entered via dashboard.py).

The page reads its checkpoints from ``$CHECKERBOARD_CHECKPOINTS``; these tests point
it at a tiny set generated here (three variants, epochs 0-2, width 4), at a missing
folder and at a set with broken files, so they do not depend on the shipped experiment.
"""

from __future__ import annotations

import io
import shutil

import numpy as np
from PIL import Image

from core.experiment.checkpoints import checkpoint_path
from core.io.pixels import to_gif_bytes
from tests.conftest import (
    TINY_EPOCHS,
    TINY_VARIANTS,
    assert_clean,
    flip_byte,
    make_checkpoints,
    open_page,
    plotly_data,
)
from ui.catalog import CHECKPOINTS_ENV
from ui.figures.regions import curves_figure
from ui.gallery import gif_bytes, grid_png

GALLERY = "pages/gallery.py"








def images(at) -> list[tuple[str, str]]:
    """(caption, media URL) of every image; the URL carries a hash of the PNG bytes."""
    return [(im.proto.imgs[0].caption, im.proto.imgs[0].url) for im in at.get("image")]


def urls(at, part: str) -> list[str]:
    return [u for c, u in images(at) if part in c]


def grid_urls(at, variant: str) -> list[str]:
    return [u for c, u in images(at) if c.startswith(f"{variant} · checkerboard")]


def test_default_view(tiny):
    at = open_page(GALLERY, timeout=120)
    assert_clean(at)
    assert not at.error and not at.warning
    assert at.title[0].value == "Training gallery"
    epoch = at.select_slider(key="epoch")  # the stored epochs only, never a 0..max range
    assert epoch.label == "Epoch" and epoch.value == TINY_EPOCHS
    assert [int(o) for o in epoch.options] == list(range(TINY_EPOCHS + 1))
    assert at.multiselect(key="variants").value == list(TINY_VARIANTS)
    captions = [c for c, _ in images(at)]
    n_images = 3  # held-out photographs
    for variant in TINY_VARIANTS:
        assert len(grid_urls(at, variant)) == n_images
    # filmstrip: one frame per stored epoch, the selected one marked
    film = [c for c in captions if c.startswith(("epoch", "▶ epoch"))]
    assert len(film) == TINY_EPOCHS + 1
    assert any(c.startswith(f"▶ epoch {TINY_EPOCHS}") for c in film)
    # first look: the original, deconv3 and resize_nearest as fine detail, with grey levels
    look = [c for c in captions if c.endswith("grey levels amplified")]
    assert [c.split(":")[0] for c in look] == ["original", "deconv3", "resize_nearest"]
    # magnifier: the original and every variant, enlarged 7x (32 px region in a third of
    # the centred page), each with its fine detail; scores in the one unit
    assert sum(c.endswith("×7") for c in captions) == 1 + len(TINY_VARIANTS)
    assert sum(c.endswith("fine detail ×10") for c in captions) == 1 + len(TINY_VARIANTS)
    assert all(c.endswith("×10⁻³") for c in captions if "checkerboard" in c)
    # charts wait for a click (each costs a new visitor's browser seconds of CPU)
    assert not at.get("plotly_chart")
    labels = [b.proto.label for b in at.get("download_button")]
    assert labels[-2:] == ["Grid as PNG", "deconv3 epochs as GIF"]
    # and every image shown has its own PNG download, but the first look's
    assert labels.count("PNG") == len(images(at)) - len(look)


def test_epoch_slider_changes_the_images(tiny):
    at = open_page(GALLERY, timeout=120)
    before = {v: grid_urls(at, v) for v in TINY_VARIANTS}
    originals = urls(at, "(original)")
    assert len(originals) == 3  # the held-out photographs, each with its own score
    assert all("(original) · checkerboard" in c for c, _ in images(at) if "(original)" in c)
    at.select_slider(key="epoch").set_value(0).run()
    assert_clean(at)
    assert any(h.value.startswith("Epoch 0") for h in at.get("subheader"))
    for v in TINY_VARIANTS:
        after = grid_urls(at, v)
        assert len(after) == 3 and not set(after) & set(before[v]), v
    assert urls(at, "(original)") == originals
    assert any(c.startswith("▶ epoch 0") for c, _ in images(at))


def test_previous_next_and_play(tiny):
    at = open_page(GALLERY, timeout=120)
    at.button(key="epoch-next").click().run()  # wraps from the last epoch to 0
    assert at.select_slider(key="epoch").value == 0
    at.button(key="epoch-next").click().run()
    assert at.select_slider(key="epoch").value == 1
    at.button(key="epoch-prev").click().run()
    assert at.select_slider(key="epoch").value == 0
    at.toggle(key="playing").set_value(True).run()
    assert_clean(at)
    assert at.toggle(key="playing").value is True


def test_curves_open_on_demand_and_by_link(tiny):
    at = open_page(GALLERY, query={"curves": "true"}, timeout=120)
    assert_clean(at)
    # curves: 4 panels x 3 variants, the selected epoch marked in each panel
    traces = plotly_data(at)
    assert len(traces) == 4 * len(TINY_VARIANTS)
    assert {t["name"] for t in traces} == set(TINY_VARIANTS)


def test_variant_selection(tiny):
    at = open_page(GALLERY, query={"curves": "true"}, timeout=120)
    at.multiselect(key="variants").set_value(["resize_nearest"]).run()
    assert_clean(at)
    assert grid_urls(at, "resize_nearest") and not grid_urls(at, "deconv3")
    assert not grid_urls(at, "deconv4")
    assert {t["name"] for t in plotly_data(at)} == {"resize_nearest"}
    at.multiselect(key="variants").set_value([]).run()
    assert_clean(at)
    assert any("at least one variant" in i.value for i in at.info)


def test_magnifier_region(tiny):
    at = open_page(GALLERY, timeout=120)
    crops = urls(at, "×7")
    grid = grid_urls(at, "deconv3")
    at.select_slider(key="region_size").set_value(16).run()
    assert_clean(at)
    assert not urls(at, "×7")
    enlarged = urls(at, "×14")  # 16 px enlarged 14 times: 224 px, a third of the page
    assert len(enlarged) == 1 + len(TINY_VARIANTS)
    assert not set(crops) & set(enlarged)
    assert grid_urls(at, "deconv3") == grid  # only the magnifier changed
    at.slider(key="region_top").set_value(0).run()
    assert at.slider(key="region_top").value == 0
    assert not set(urls(at, "×14")) & set(enlarged)
    assert any("16x16 pixels" in h.value for h in at.get("subheader"))


def test_filmstrip_and_image_choice(tiny):
    at = open_page(GALLERY, timeout=120)
    at.selectbox(key="film").set_value("resize_nearest").run()
    assert any("resize_nearest on astronaut" in h.value for h in at.get("subheader"))
    at.selectbox(key="image").set_value("coffee").run()
    assert_clean(at)
    assert any("resize_nearest on coffee" in h.value for h in at.get("subheader"))
    labels = [b.proto.label for b in at.get("download_button")]
    assert "resize_nearest epochs as GIF" in labels


def test_url_parameters_set_the_view(tiny):
    at = open_page(GALLERY, query={"variants": ["deconv4", "deconv3"], "epoch": "1",
                                   "image": "chelsea", "region_size": "16"}, timeout=120)
    assert_clean(at)
    assert not at.warning
    assert at.select_slider(key="epoch").value == 1
    assert at.multiselect(key="variants").value == ["deconv4", "deconv3"]
    assert at.selectbox(key="image").value == "chelsea"
    assert at.select_slider(key="region_size").value == 16
    assert not grid_urls(at, "resize_nearest")


def test_epoch_zero_in_the_url_is_kept(tiny):
    # A bound widget drops its parameter when it holds its default; the default must
    # therefore be what a link without the parameter opens (the last epoch), so that
    # ?epoch=0 survives.
    at = open_page(GALLERY, query={"epoch": "0"}, timeout=120)
    assert at.select_slider(key="epoch").value == 0


def test_nonsense_url_warns(tiny):
    at = open_page(GALLERY, query={"epoch": "99", "variants": "nope"}, timeout=120)
    assert_clean(at)
    texts = " ".join(w.value for w in at.warning)
    assert "epoch=99" in texts and "variants=nope" in texts
    assert at.select_slider(key="epoch").value == TINY_EPOCHS


def test_missing_checkpoint_folder(tmp_path, monkeypatch):
    missing = tmp_path / "no-such-folder"
    monkeypatch.setenv(CHECKPOINTS_ENV, str(missing))
    at = open_page(GALLERY, timeout=120)
    assert_clean(at)
    text = at.warning[0].value
    assert "No checkpoints found" in text and str(missing) in text
    assert "does not exist" in text and "make experiment" in text
    assert len(at.get("image")) == 3  # the photographs are still shown


def test_broken_checkpoints_are_named(tiny_root, tmp_path, monkeypatch):
    root = tmp_path / "ckpt"
    shutil.copytree(tiny_root, root)
    truncated = checkpoint_path(root, "deconv4", 1)
    truncated.write_bytes(truncated.read_bytes()[:200])  # header cut: listed as broken
    # inside the weights: the header reads, the SHA-256 does not match
    flip_byte(checkpoint_path(root, "deconv3", TINY_EPOCHS), -10)
    monkeypatch.setenv(CHECKPOINTS_ENV, str(root))
    at = open_page(GALLERY, timeout=120)
    assert_clean(at)
    errors = " ".join(e.value for e in at.error)
    assert "deconv4/epoch_001.safetensors" in errors and "truncated" in errors
    assert "deconv3/epoch_002.safetensors" in errors and "SHA-256" in errors
    assert "make experiment" in errors
    # what can be shown is shown: the other variants' cells at this epoch
    assert len(grid_urls(at, "resize_nearest")) == 3
    assert len(grid_urls(at, "deconv4")) == 3
    assert not grid_urls(at, "deconv3")


def test_grid_png_and_gif_downloads():
    images = {"a": np.zeros((20, 30, 3), np.float32), "b": np.ones((20, 30, 3), np.float32)}

    class Out:
        def __init__(self, v):
            self.pixels = np.full((20, 30, 3), v, np.float32)

    outputs = {"v1": {"a": Out(0.5), "b": Out(0.25)}, "v2": {"a": Out(0.75)}}
    png = Image.open(io.BytesIO(grid_png(images, outputs)))
    assert png.format == "PNG" and png.size == (30 * 2 + 4, 20 * 3 + 4 * 2)
    arr = np.asarray(png)
    assert arr[24 + 5, 5, 0] == 128  # v1 on a
    assert arr[48 + 5, 34 + 5, 0] == 255  # v2 has no b: blank (white)
    frames = [np.full((16, 16, 3), v, np.float32) for v in (0.0, 0.5, 1.0)]
    gif = Image.open(io.BytesIO(gif_bytes(frames)))
    assert gif.n_frames == 3 and gif.info["duration"] == 600
    assert gif_bytes(frames) == to_gif_bytes(frames, duration_ms=600)


def test_curves_figure_marks_the_epoch():
    series = {"deconv3": {"val_psnr": ([0, 1, 2], [10.0, 12.0, 13.0]),
                          "checkerboard": ([0, 1, 2], [0.01, 0.05, 0.04])}}
    fig = curves_figure(series, ["deconv3"], 1)
    assert len(fig.data) == 4
    assert [s.x0 for s in fig.layout.shapes] == [1, 1, 1, 1]
    assert fig.layout.yaxis.type == "log" and fig.layout.yaxis4.type == "log"
    assert list(fig.data[1].y) == [10.0, 12.0, 13.0]


def test_opens_at_the_posts_epoch_10_when_it_is_stored(tmp_path, monkeypatch):
    """With epoch 10 stored (the post's Figure 7 length), the page opens there, not at
    the last epoch; a link to another epoch still opens that one."""
    root = make_checkpoints(tmp_path / "long", variants=("deconv3", "resize_nearest"),
                            epochs=12)
    monkeypatch.setenv(CHECKPOINTS_ENV, str(root))
    at = open_page(GALLERY, timeout=120)
    assert_clean(at)
    epoch = at.select_slider(key="epoch")
    assert epoch.value == 10 and int(epoch.options[-1]) == 12
    assert "post's Figure 7" in epoch.help
    assert any(c.startswith("▶ epoch 10") for c, _ in images(at))
    # the magnifier is placed for the epochs a visitor sees first (1 and 10), not epoch 12
    from core.experiment.catalog import load_model_fast
    from core.experiment.outputs import compute_output
    from core.io.photos import heldout_images
    from core.maths.metrics import most_artifacted_region

    photo = heldout_images()["astronaut"]
    outs = [compute_output(load_model_fast(checkpoint_path(root, "deconv3", e)), photo).pixels
            for e in (1, 10)]
    region = most_artifacted_region(outs, 4, 32)
    assert (at.slider(key="region_top").value, at.slider(key="region_left").value) == \
        (region.top, region.left)
    at = open_page(GALLERY, query={"epoch": "12"}, timeout=120)
    assert at.select_slider(key="epoch").value == 12


def test_folder_changing_between_runs(tiny, tmp_path, monkeypatch):
    """Checkpoints removed while a visitor is on the page: the view adapts, no error."""
    at = open_page(GALLERY, timeout=120)
    at.selectbox(key="film").set_value("deconv4").run()
    smaller = make_checkpoints(tmp_path / "one", variants=("resize_nearest",), epochs=1)
    monkeypatch.setenv(CHECKPOINTS_ENV, str(smaller))
    at.run()
    assert_clean(at)
    assert at.multiselect(key="variants").value == ["resize_nearest"]
    assert at.selectbox(key="film").value == "resize_nearest"
    assert at.select_slider(key="epoch").value == 1


def test_magnifier_starts_where_deconv3_is_most_checkered(tiny):
    """The default region is computed (core.maths.metrics.most_artifacted_region over deconv3's
    first trained epoch and the one the page opens at, then ui.figures.regions.plain_region),
    and follows the photograph until moved by hand."""
    from core.experiment.catalog import load_model_fast
    from core.experiment.outputs import compute_output
    from core.io.photos import heldout_images
    from core.maths.metrics import most_artifacted_region
    from ui.figures.regions import plain_region

    photos = heldout_images()

    def expected(name):
        outs = [compute_output(load_model_fast(checkpoint_path(tiny, "deconv3", e)),
                               photos[name]).pixels for e in (1, TINY_EPOCHS)]
        # then moved off the photograph's own texture if the grid is not plain there
        return plain_region(f"expected-{name}", name, most_artifacted_region(outs, 4, 32),
                            outs[-1], photos[name])

    at = open_page(GALLERY, timeout=120)
    assert_clean(at)
    region = expected("astronaut")
    assert (at.slider(key="region_top").value, at.slider(key="region_left").value) == \
        (region.top, region.left)
    at.selectbox(key="image").set_value("coffee").run()
    region = expected("coffee")
    assert (at.slider(key="region_top").value, at.slider(key="region_left").value) == \
        (region.top, region.left)
    hand = 3 if region.top != 3 else 5  # a value that is not the default
    at.slider(key="region_top").set_value(hand).run()  # moved by hand: stays put
    at.selectbox(key="image").set_value("chelsea").run()
    assert at.slider(key="region_top").value == hand


def test_what_should_i_use_is_its_own_section_and_presenting_has_no_empty_heading():
    """"What should I use?" was a subheading inside the artifacts' life section, below a
    "Downloads" heading that is empty when presenting (issue 28, item 10)."""
    at = open_page(GALLERY, timeout=240)
    labels = [e.label for e in at.expander]
    assert any(label.startswith("What should I use?") for label in labels), labels
    assert any(h.value == "Downloads" for h in at.subheader)
    opened = open_page(GALLERY, {"choose": "true", "present": "true"}, timeout=240)
    assert_clean(opened)
    assert not any(h.value == "Downloads" for h in opened.subheader)
    assert any("Sharpness vs checkerboard" in str(c.proto.spec) for c in opened.get("plotly_chart"))


def test_presenting_the_first_look_sentence_has_no_parenthesis():
    """Issue 28, item 9: presenting, the gallery's and Compare's first screen carried one
    dense 50-word parenthetical; the room now reads a short sentence."""
    for page in (GALLERY, "pages/comparison.py"):
        at = open_page(page, {"present": "true"}, timeout=240)
        assert_clean(at)
        (line,) = [m.value for m in at.markdown if m.value.startswith("**Fine detail")]
        assert "(" not in line and "each pixel" in line, line
