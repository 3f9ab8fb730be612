"""The layer lab page through Streamlit's AppTest (entered via dashboard.py)."""

from __future__ import annotations

import re

import numpy as np

from core.io.pixels import to_png_bytes
from core.upsamplers.registry import UPSAMPLERS
from tests.conftest import assert_clean, open_page

LAB = "pages/layer_lab.py"


def scores(at) -> dict[str, float]:
    """Checkerboard scores (×10⁻³) of the side-by-side outputs, by column order."""
    assert all(m.value.endswith(" ×10⁻³") for m in at.metric if "Checkerboard" in m.label)
    return [float(m.value.split()[0]) for m in at.metric if m.label == "Checkerboard score"]


def input_caption(at) -> str:
    """Caption of the first image: the input, with its size and the output size."""
    return at.get("image")[0].proto.imgs[0].caption


def imbalances(at) -> list[float]:
    """Gain imbalance per upsampler (metrics labelled with the upsampler's name)."""
    names = set(at.multiselect(key="lab_ups").value)
    return [float(m.value) for m in at.metric if m.label in names]


def test_default_view_shows_four_upsamplers_with_scores_and_costs():
    at = open_page(LAB, timeout=120)
    assert_clean(at)
    assert not at.error
    assert at.multiselect(key="lab_ups").value == ["deconv", "resize_nearest", "subpixel",
                                                   "subpixel_icnr"]
    assert len(at.get("image")) == 1 + 2 * 4  # input, then each output and its zoom
    assert "48 x 48 px → 192 px" in input_caption(at)
    s = scores(at)
    assert len(s) == 4
    deconv, resize, subpixel, icnr = s
    # artifacts at initialisation: the transposed and sub-pixel convolutions, not the fixes
    assert deconv > 10 * resize and deconv > 10 * icnr
    assert subpixel > 10 * resize
    gains = imbalances(at)
    assert gains[0] > 0.1 and gains[2] > 0.1 and gains[1] == 0 and gains[3] == 0
    # phase patterns, spectra and gains: one figure each (one colour scale), the gradient
    assert len(at.get("plotly_chart")) == 4
    stored = at.dataframe[0].value  # the stored benchmark; live timing on request
    assert "resize_nearest" in stored.index and (stored["forward (ms)"] > 0).all()
    at.toggle(key="lab-cost-live").set_value(True).run()
    cost = at.dataframe[1].value
    assert len(cost) == len(UPSAMPLERS) and (cost["forward (ms)"] > 0).all()
    assert cost.loc["fused_resize", "parameters"] == cost.loc["resize_nearest", "parameters"]
    assert cost.loc["fused_resize", "multiply-adds (M)"] < cost.loc["resize_nearest",
                                                                     "multiply-adds (M)"]


def test_presets_and_a_constant_input():
    at = open_page(LAB, timeout=120)
    at.button(key="lab-preset-fixes").click().run()
    assert_clean(at)
    assert at.multiselect(key="lab_ups").value == ["deconv", "fused_resize", "deconv_zoh",
                                                   "bilinear_additive"]
    s = scores(at)
    assert s[0] > 10 * max(s[1:])
    at.button(key="lab-preset-post").click().run()
    assert_clean(at)
    assert at.selectbox(key="lab_input").value == "constant"
    s = scores(at)
    assert s[0] > 20 * s[1]  # on grey, the deconvolution's pattern is all there is


def test_url_parameters_set_the_view_and_nonsense_falls_back():
    at = open_page(LAB, {"lab_ups": ["deconv", "fused_resize"], "lab_scale": "3",
                         "lab_layers": "1", "lab_kernel": "4", "lab_input": "noise",
                         "lab_size": "24"}, timeout=120)
    assert_clean(at)
    assert at.multiselect(key="lab_ups").value == ["deconv", "fused_resize"]
    assert at.slider(key="lab_scale").value == 3 and at.slider(key="lab_kernel").value == 4
    assert len(scores(at)) == 2 and len(at.get("image")) == 1 + 2 * 2
    assert "24 x 24 px → 72 px after 1 layer(s) at scale 3" in input_caption(at)

    at = open_page(LAB, {"lab_scale": "9", "lab_input": "webcam", "lab_ups": "magic"},
                   timeout=120)
    assert_clean(at)
    texts = " ".join(w.value for w in at.warning)
    assert "lab_scale=9" in texts and "lab_input=webcam" in texts and "lab_ups=magic" in texts
    assert at.slider(key="lab_scale").value == 2


def test_upload_a_picture_and_a_broken_file():
    at = open_page(LAB, {"lab_input": "upload", "lab_ups": ["deconv", "resize_nearest"]},
                   timeout=120)
    assert_clean(at)
    assert any("No usable upload" in c.value for c in at.caption)  # falls back meanwhile
    rng = np.random.default_rng(0)
    picture = to_png_bytes(rng.random((40, 60, 3)))
    at.file_uploader[0].upload("mine.png", picture, "image/png").run()
    assert_clean(at)
    assert input_caption(at).startswith("Input: mine.png")
    assert len(scores(at)) == 2
    at.file_uploader[0].upload("notes.png", b"definitely not an image", "image/png").run()
    assert_clean(at)
    assert len(at.error) == 1


def test_gradient_view_uneven_vs_even_overlap():
    at = open_page(LAB, {"lab_ups": ["resize_nearest"]}, timeout=120)
    grad_score = [m for m in at.metric if m.label == "Checkerboard score of the gradient"]
    uneven = float(grad_score[0].value.split()[0])  # 3x3, stride 2, in ×10⁻³
    at.slider(key="lab-grad-kernel").set_value(4).run()
    even = float([m for m in at.metric
                  if m.label == "Checkerboard score of the gradient"][0].value.split()[0])
    assert uneven > 50 and even < 0.5 * uneven
    at.slider(key="lab-grad-stride").set_value(1).run()
    assert_clean(at)
    assert not [m for m in at.metric if m.label == "Checkerboard score of the gradient"]


def test_phase_patterns_share_one_colour_scale_with_a_colour_bar():
    """A flat pattern must read flat: every panel on one centred scale, with its bar."""
    from tests.conftest import plotly_data

    at = open_page(LAB, timeout=120)
    charts = at.get("plotly_chart")
    index = next(i for i, c in enumerate(charts) if "row mod P" in c.proto.spec)
    traces = plotly_data(at, index)
    assert len(traces) == 4 and {t["coloraxis"] for t in traces} == {"coloraxis"}
    import json

    layout = json.loads(charts[index].proto.spec)["layout"]
    axis = layout["coloraxis"]
    assert axis["cmin"] == -axis["cmax"] and axis.get("showscale", True)
    strongest = max(float(np.abs(t["z"]).max()) for t in traces)
    assert axis["cmax"] == strongest  # the strongest panel sets the one limit
    # resize_nearest's pattern is tiny on that common scale
    assert float(np.abs(traces[1]["z"]).max()) < 0.1 * strongest


def test_cost_ratios_come_with_their_spread_and_never_read_zero():
    """Issue 28, item 2: "Measure again" read 0.0x, 22.2x and 0.1x for one ratio, and the
    caveat was hidden when presenting. Every ratio now has two significant figures and
    the middle half of its rounds; the sentence saying so is shown when presenting."""
    from ui.layers import COST_REPEATS, ratio_text

    assert ratio_text(0.042, 0.031, 0.05) == "0.042x (0.031–0.05)"
    assert COST_REPEATS >= 15
    reading = open_page(LAB, timeout=240)
    reading.toggle(key="lab-cost-live").set_value(True).run()
    assert_clean(reading)
    cost = reading.dataframe[1].value
    ratios = cost["time vs resize_nearest (middle half)"]
    assert ratios["resize_nearest"] == "1x (1–1)"
    assert all(re.fullmatch(r"[0-9.e+-]+x \([0-9.e+-]+–[0-9.e+-]+\)", r) for r in ratios), ratios
    assert not any(r.startswith("0.0x") for r in ratios)
    at = open_page(LAB, {"present": "true"}, timeout=240)
    stored = " ".join(m.value for m in at.markdown if "Stored benchmark" in m.value)
    assert "CPU cores" in stored and re.search(r"20\d\d-\d\d-\d\d", stored), stored
    at.toggle(key="lab-cost-live").set_value(True).run()
    assert any(f"median of {COST_REPEATS} forward passes" in m.value for m in at.markdown)
