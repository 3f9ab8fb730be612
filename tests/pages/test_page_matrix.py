"""The matrix page through Streamlit's AppTest (entered via dashboard.py)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from tests.conftest import assert_clean, assert_url_fallback, open_page, plotly_data

MATRIX = "pages/matrix.py"


def charts(at) -> dict[str, dict]:
    """Plotly figures on the page by title (the first words are enough to find one)."""
    out = {}
    for index, chart in enumerate(at.get("plotly_chart")):
        spec = json.loads(chart.proto.spec)
        title = spec["layout"]["title"]["text"]
        out[title] = {"data": plotly_data(at, index), "layout": spec["layout"]}
    return out


def chart(at, prefix: str) -> dict:
    found = [fig for title, fig in charts(at).items() if title.startswith(prefix)]
    assert len(found) == 1, (prefix, list(charts(at)))
    return found[0]


def z(fig: dict) -> np.ndarray:
    return np.asarray(fig["data"][0]["z"], dtype=float)


def highlighted_rows_of_c(fig: dict) -> list[float]:
    """Centres of the full-width outlines drawn on C (the selected kernel position)."""
    width = z(fig).shape[1]
    return [(s["y0"] + s["y1"]) / 2 for s in fig["layout"].get("shapes", [])
            if s["x0"] == -0.5 and s["x1"] == width - 0.5]


def metrics(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def test_default_view_is_figure_2():
    at = open_page(MATRIX)
    assert_clean(at)
    assert not at.error
    c = z(chart(at, "C: 4 x 16"))
    assert c.shape == (4, 16)
    np.testing.assert_array_equal(c[0], [1, 2, 3, 0, 4, 5, 6, 0, 7, 8, 9, 0, 0, 0, 0, 0])
    x = z(chart(at, "Input x: 4x4"))
    kernel = z(chart(at, "Kernel K"))
    np.testing.assert_array_equal(kernel, np.arange(1, 10).reshape(3, 3))
    assert np.all(x == np.round(x)) and x.min() >= 0 and x.max() <= 3  # integer values
    y = z(chart(at, "Output y = C x: 2x2"))
    ref = F.conv2d(torch.tensor(x)[None, None], torch.tensor(kernel)[None, None])[0, 0].numpy()
    np.testing.assert_allclose(y, ref)
    assert highlighted_rows_of_c(chart(at, "C: 4 x 16")) == [0]
    m = metrics(at)
    assert m["Cells carrying information"] == "4 of 36"
    # in words, not "max |1 − 2|  0.0e+00" (issue 28, item 13)
    assert not [k for k in m if "max |" in k]
    assert any("largest difference between any two results is 0 (identical)" in s.value
               for s in at.success)
    assert any("output_padding=0" in code.value for code in at.code)


def test_zeros_of_c_are_faint_and_weights_labelled():
    at = open_page(MATRIX)
    fig = chart(at, "C: 4 x 16")
    labels = np.asarray(fig["data"][0]["text"], dtype=object)
    assert labels[0, 0] == "1" and labels[0, 3] == ""  # weight written, structural zero blank
    overlay = fig["data"][1]  # the faint layer: only the cells the kernel does not cover
    faint = ~np.isnan(np.asarray(overlay["z"], dtype=float))
    assert faint.sum() == 64 - 36 and not faint[0, 0] and faint[0, 3]


def test_figure_3_presets():
    at = open_page(MATRIX)
    at.button(key="preset-fig3-right").click().run()
    assert_clean(at)
    assert at.slider(key="mx_in_h").value == 5 and at.slider(key="mx_stride").value == 2
    zi = z(chart(at, "Zero-inserted and padded: 7x7"))
    np.testing.assert_array_equal(zi[2:5:2, 2:5:2], [[1, 2], [3, 4]])
    assert np.count_nonzero(zi) == 4
    assert metrics(at)["Cells carrying information"] == "4 of 49"
    assert z(chart(at, "3. F.conv_transpose2d")).shape == (5, 5)

    at.button(key="preset-fig3-left").click().run()
    assert at.slider(key="mx_in_h").value == 4 and at.slider(key="mx_stride").value == 1
    assert z(chart(at, "Zero-inserted and padded: 6x6")).shape == (6, 6)
    assert metrics(at)["Cells carrying information"] == "4 of 36"
    back = z(chart(at, "1. Cᵀ y"))
    ref = F.conv_transpose2d(torch.tensor([[[[1.0, 2.0], [3.0, 4.0]]]], dtype=torch.float64),
                             torch.arange(1.0, 10.0, dtype=torch.float64).reshape(1, 1, 3, 3))
    np.testing.assert_allclose(back, ref[0, 0].numpy())


def test_stepper_moves_the_highlight():
    at = open_page(MATRIX)
    at.button(key="mx_pos-next").click().run()
    assert at.slider(key="mx_pos").value == 1
    assert highlighted_rows_of_c(chart(at, "C: 4 x 16")) == [1]
    assert any(md.value.startswith("**Kernel position 1:**") for md in at.markdown)
    # the input cells of kernel position 1 (rows 0-2, columns 1-3) are outlined
    shapes = chart(at, "Input x")["layout"]["shapes"]
    centres = {((s["y0"] + s["y1"]) / 2, (s["x0"] + s["x1"]) / 2) for s in shapes}
    assert centres == {(r, c) for r in range(3) for c in range(1, 4)}
    at.slider(key="mx_pos").set_value(3).run()
    at.button(key="mx_pos-next").click().run()  # already the last position: stays
    assert at.slider(key="mx_pos").value == 3
    at.button(key="mx_pos-prev").click().run()
    assert at.slider(key="mx_pos").value == 2
    # fewer positions after a change of size: the stepper is clamped, no exception
    at.slider(key="mx_pos").set_value(3).run()
    at.slider(key="mx_in_w").set_value(3).run()
    assert_clean(at)
    assert at.slider(key="mx_pos").value == 1  # 2x1 output: positions 0 and 1


def test_impossible_sizes_give_an_error_not_a_traceback():
    at = open_page(MATRIX, {"mx_in_h": "2", "mx_in_w": "2", "mx_k_h": "5"})
    assert_clean(at)
    assert "kernel extent" in at.error[0].value and "padded input" in at.error[0].value
    assert not [c for c in charts(at) if c.startswith("C:")]
    # the size calculator below follows the page's settings, and says the same
    assert at.number_input(key="calc_n").value is None  # empty: as above
    assert len(at.error) == 2 and "No convolution" in at.error[1].value
    at.number_input(key="calc_k").set_value(1).run()  # typed: the calculator's own value
    assert_clean(at)
    assert any("only input size 2" in i.value and "stride-1" in i.value for i in at.info)


def test_size_calculator_follows_the_page_settings():
    """Empty calculator fields take the page's rows, stride, padding and dilation: the
    note describes the convolution shown above, not a fixed stride-2 example."""
    at = open_page(MATRIX, {"mx_in_h": "5", "mx_in_w": "5", "mx_stride": "2"})
    assert_clean(at)
    info = " ".join(i.value for i in at.info)
    # in words (issue 28, item 13: it said "every input size in {4}")
    assert "stride-2 convolution maps input sizes 5 and 6 both to 2: the floor" in info
    at = open_page(MATRIX)  # Figure 2: 4x4 input, 3x3 kernel, stride 1
    info = " ".join(i.value for i in at.info)
    assert "stride-1 convolution maps only input size 4 to 2. Going back" in info
    assert not [c.value for c in at.caption if "0 to 0" in c.value]
    assert any("output_padding must be 0 here" in c.value for c in at.caption)
    # a placeholder is the number alone: "4 (as above)" was cut to "4 (as at" in its box
    assert all(n.proto.placeholder.isdigit() for n in at.number_input
               if n.key and n.key.startswith("calc_"))
    assert any(r"= 2" in lx.value for lx in at.latex)
    at.number_input(key="calc_s").set_value(2).run()  # a typed value wins
    info = " ".join(i.value for i in at.info)
    assert "stride-2" in info


def test_typed_values_prefill_parse_and_refuse():
    at = open_page(MATRIX)
    at.segmented_control(key="mx_values").set_value("typed").run()
    assert_clean(at)
    assert at.text_input(key="mx_kernel").value == "1 2 3; 4 5 6; 7 8 9"
    at.text_input(key="mx_kernel").input("0 0 0; 0 1 0; 0 0 0").run()
    x = z(chart(at, "Input x"))
    np.testing.assert_array_equal(z(chart(at, "Output y")), x[1:3, 1:3])  # identity kernel
    at.text_input(key="mx_kernel").input("1 2; 3 4").run()
    assert_clean(at)
    assert len(at.error) == 1 and "2 rows of 2 numbers" in at.error[0].value
    assert "3x3" in at.error[0].value
    at.text_input(key="mx_kernel").input("1 2 x; 3 4 5; 6 7 8").run()
    assert "'x' in row 1 is not a number" in at.error[0].value


def test_randomise_changes_the_values():
    at = open_page(MATRIX, {"mx_values": "random"})
    before = z(chart(at, "Input x"))
    assert not np.all(before == np.round(before))  # reals
    at.button(key="mx-randomise").click().run()
    assert at.number_input(key="mx_seed").value == 1
    assert not np.array_equal(before, z(chart(at, "Input x")))
    assert any("All three agree" in s.value for s in at.success)


@pytest.mark.parametrize(
    ("query", "c_shape", "zi_shape"),
    [
        ({"mx_in_h": "5", "mx_in_w": "7", "mx_k_h": "2", "mx_k_w": "3", "mx_stride": "2",
          "mx_padding": "1", "mx_pos": "5"}, (12, 35), (6, 9)),
        ({"mx_in_h": "9", "mx_in_w": "9", "mx_dilation": "2", "mx_padding": "2"}, (81, 81), (13, 13)),
    ],
)
def test_url_parameters_set_the_view(query, c_shape, zi_shape):
    at = open_page(MATRIX, query)
    assert_clean(at)
    assert not at.error
    assert at.slider(key="mx_in_w").value == int(query["mx_in_w"])
    c = z(chart(at, f"C: {c_shape[0]} x {c_shape[1]}"))
    assert c.shape == c_shape
    pos = int(query.get("mx_pos", 0))
    assert at.slider(key="mx_pos").value == pos
    assert highlighted_rows_of_c(chart(at, "C:")) == [pos]
    zi = z(chart(at, "Zero-inserted and padded"))
    assert zi.shape == zi_shape
    assert z(chart(at, "3. F.conv_transpose2d")).shape == (int(query["mx_in_h"]),
                                                            int(query["mx_in_w"]))
    assert any("All three agree" in s.value for s in at.success)


def test_nonsense_url_parameters_warn_and_fall_back():
    assert_url_fallback(MATRIX, {"mx_in_h": "99", "mx_stride": "two", "mx_values": "lots"},
                        {"mx_in_h": 4, "mx_stride": 1})


def test_size_calculator_explains_output_padding():
    at = open_page(MATRIX, {"calc_n": "5", "calc_k": "3", "calc_s": "2", "calc_p": "1"})
    assert_clean(at)
    info = " ".join(i.value for i in at.info)
    assert "input sizes 5 and 6 both" in info and "output_padding = 0" in info
    table = at.dataframe[-1].value
    assert table["output size"].tolist() == [9, 10]
    assert any(r"= 3" in lx.value for lx in at.latex)
    at.number_input(key="calc_n").set_value(1).run()
    at.number_input(key="calc_p").set_value(0).run()
    assert any("No convolution" in e.value and "kernel extent" in e.value for e in at.error)


def test_transpose_of_the_conv_output_is_not_the_input():
    at = open_page(MATRIX, {"mx_y": "conv output"})
    assert_clean(at)
    x = z(chart(at, "Input x"))
    y = z(chart(at, "Output y"))
    np.testing.assert_array_equal(z(chart(at, "Fed to the transpose")), y)
    back = z(chart(at, "1. Cᵀ y"))
    c = z(chart(at, "C: 4 x 16"))
    np.testing.assert_allclose(back.ravel(), c.T @ y.ravel())
    assert not np.allclose(back, x)  # transposed, not inverted


def test_calculator_clipped_same_output_list():
    """n=1, k=1, s=3, p=1: sizes -1 and 0 are impossible, so only {1} maps to out=1."""
    at = open_page(MATRIX, {"calc_n": "1", "calc_k": "1", "calc_s": "3", "calc_p": "1"})
    info = " ".join(i.value for i in at.info)
    assert "only input size 1" in info and "returns -1 + output_padding" in info
    assert "output_padding = 2" in info


def test_parse_and_format_grid():
    from core.maths.matrix_case import format_grid, parse_grid

    grid = np.array([[1.0, -2.5], [0.125, 4.0]])
    assert format_grid(grid) == "1 -2.5; 0.125 4"
    np.testing.assert_array_equal(parse_grid(format_grid(grid), (2, 2), "kernel"), grid)
    np.testing.assert_array_equal(parse_grid("1, 2\n3,4", (2, 2), "input"), [[1, 2], [3, 4]])
    for text, match in (("", "empty"), ("1 2; 3", "2 rows of 1/2 numbers"),
                        ("1 2; 3 nan", "finite"), ("1 2; 3 four", "'four' in row 2")):
        with pytest.raises(ValueError, match=match):
            parse_grid(text, (2, 2), "kernel")


def test_largest_input_draws_c_light():
    """16x16 input, 1x1 kernel: C is 256 x 256; no numbers in the cells, gaps for zeros."""
    at = open_page(MATRIX, {"mx_in_h": "16", "mx_in_w": "16", "mx_k_h": "1", "mx_k_w": "1",
                            "mx_pos": "255"})
    assert_clean(at)
    fig = chart(at, "C: 256 x 256")
    assert len(fig["data"]) == 1 and "text" not in fig["data"][0]  # one trace, unlabelled
    c = z(fig)
    assert np.count_nonzero(~np.isnan(c)) == 256 and np.all(np.diag(c) == 1)
    assert highlighted_rows_of_c(fig) == [255]
    big = sum(len(ch.proto.spec) for ch in at.get("plotly_chart"))
    assert big < 2_000_000  # bytes sent to the browser for all figures


def test_difference_text_reads_as_words():
    from ui.figures.matrix import difference_text

    assert difference_text(0.0) == "0 (identical)"
    assert difference_text(4.4e-16) == "4.4 × 10⁻¹⁶ (floating-point rounding)"
    assert difference_text(0.25) == "0.25"
