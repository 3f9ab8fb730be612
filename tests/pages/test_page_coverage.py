"""The home and coverage pages through Streamlit's AppTest (entered via dashboard.py)."""

from __future__ import annotations

import numpy as np

from tests.conftest import assert_clean, assert_url_fallback, open_page, plotly_data
from ui.common import available_pages

COVERAGE = "pages/coverage.py"


def heatmap_z(at) -> np.ndarray:
    return np.asarray(plotly_data(at)[0]["z"])


def test_home_renders_with_links_to_every_page():
    at = open_page()
    assert_clean(at)
    assert at.title[0].value == "Checkerboard Lab"
    assert len(at.get("plotly_chart")) == 2  # Figures 4 and 6, live
    links = at.get("page_link")
    assert len(links) == len(available_pages())


def test_every_registered_page_renders_without_exception():
    for spec in available_pages():
        at = open_page(spec.path, timeout=120)
        assert_clean(at)
        assert not at.error, (spec.path, [e.value for e in at.error])


def test_default_view_is_figure_4():
    at = open_page(COVERAGE)
    assert_clean(at)
    z = heatmap_z(at)
    assert z.shape == (11, 11) and z.max() == 4 and z.min() == 1
    assert any("ConvTranspose2d" in c.value for c in at.code)


def test_presets_set_the_controls():
    at = open_page(COVERAGE)
    at.button(key="preset-fig6").click().run()
    assert at.slider(key="kernel").value == 4
    assert at.slider(key="padding").value == 1
    z = heatmap_z(at)
    assert set(np.unique(z[1:-1, 1:-1])) == {4}  # even interior
    at.button(key="preset-fig4").click().run()
    assert at.slider(key="kernel").value == 3 and at.slider(key="padding").value == 0


def test_invalid_combination_shows_the_rule_not_a_traceback():
    at = open_page(COVERAGE)
    at.slider(key="output_padding").set_value(3).run()
    assert_clean(at)
    assert len(at.error) == 1
    assert "smaller than either stride or dilation" in at.error[0].value


def test_url_parameters_set_the_view():
    at = open_page(COVERAGE, {"dims": "1-D", "kernel": "5", "stride": "3", "size": "7",
                              "layers": "2"})
    assert_clean(at)
    assert at.slider(key="kernel").value == 5
    assert at.slider(key="stride").value == 3
    assert at.slider(key="layers").value == 2
    z = heatmap_z(at)
    assert z.shape[0] == 1  # 1-D map drawn as one row
    assert len(at.get("plotly_chart")) == 2  # heatmap + painting figure


def test_url_values_equal_to_a_widget_minimum_survive():
    at = open_page(COVERAGE, {"kernel": "1", "size": "2", "stride": "1"})
    assert_clean(at)
    assert at.slider(key="kernel").value == 1
    assert at.slider(key="size").value == 2
    assert at.slider(key="stride").value == 1


def test_nonsense_url_parameters_warn_and_fall_back():
    assert_url_fallback(COVERAGE, {"kernel": "banana", "stride": "99", "dims": "4-D"},
                        {"kernel": 3, "stride": 2})


def test_presentation_mode_from_the_url_and_across_pages():
    at = open_page(None, {"present": "true"})
    assert at.toggle(key="present").value is True
    normal = open_page(COVERAGE)
    explained = [m.value for m in normal.markdown if "paints one copy" in m.value]
    assert explained, "the explanation shows in normal mode"
    # The switch lives in session state, so it follows the user to every page.
    at.switch_page(COVERAGE)
    at.run()
    assert_clean(at)
    assert at.session_state["present"] is True
    assert not [m.value for m in at.markdown if "paints one copy" in m.value]
