"""The meeting as a presenter runs it (issue 23), in real Chromium: the grid on the first
screen, integer magnification, colours and type sizes that read right when presenting,
chart titles not clipped, the story driven by keys as a clicker sends them.

Shares the server and browser fixtures of :mod:`tests.browser.test_browser` (one fresh
``streamlit run`` per module) and waits with its ``_settled`` helper.
"""

from __future__ import annotations

import io
import re

import numpy as np
import pytest

from tests.browser.test_browser import (  # noqa: F401  (fixtures)
    _assert_no_exception,
    _colour,
    _luminance,
    _settled,
    browser,
    server,
)
from ui.story import STEPS

pytestmark = pytest.mark.browser


def _open(browser, url: str, size=(1440, 900), scale: float = 1.0):  # noqa: F811
    context = browser.new_context(viewport={"width": size[0], "height": size[1]},
                                  device_scale_factor=scale)
    page = context.new_page()
    page.goto(url, wait_until="domcontentloaded")
    _settled(page, timeout_ms=300_000)  # a fresh server's first gallery on a loaded machine
    return context, page


def _shot(locator) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(locator.screenshot())).convert("RGB"),
                      dtype=np.float64)


def _levels(pixels: np.ndarray, period: int, block: int = 1) -> float:
    """Peak-to-peak grey levels of the mean over each phase of ``period`` image pixels,
    reading one screen pixel at the centre of each ``block`` x ``block`` image pixel."""
    grey = pixels[block // 2::block, block // 2::block].mean(axis=2)
    h, w = grey.shape[0] // period * period, grey.shape[1] // period * period
    phases = grey[:h, :w].reshape(h // period, period, w // period, period).mean(axis=(0, 2))
    return float(phases.max() - phases.min())


FIRST_LOOKS = [("gallery", (1440, 900), True), ("gallery", (1920, 1080), False),
               ("comparison", (1440, 900), False), ("comparison", (1920, 1080), True),
               ("gallery", (1280, 720), True), ("comparison", (1280, 720), True)]


@pytest.mark.parametrize("path,size,present", FIRST_LOOKS,
                         ids=[f"{p}-{s[0]}-{'present' if on else 'read'}"
                              for p, s, on in FIRST_LOOKS])
def test_the_grid_is_plain_on_the_first_screen(server, browser, path, size, present):  # noqa: F811
    """Without scrolling, deconv3's fine detail shows its period-4 grid with at least 6
    grey levels peak to peak on screen, twice the original's, measured in a screenshot."""
    url = f"{server}/{path}" + ("?present=true" if present else "")
    context, page = _open(browser, url, size)
    try:
        _assert_no_exception(page)
        # presenting, a copy for the other screen height is drawn and hidden
        looks = page.locator('[class*="st-key-pixels-look"] img:visible')
        assert looks.count() == 3
        boxes = [looks.nth(i).bounding_box() for i in range(3)]
        assert all(b["y"] >= 0 and b["y"] + b["height"] <= size[1] for b in boxes), boxes
        alts = [looks.nth(i).get_attribute("alt") for i in range(3)]
        factor = int(re.search(r"magnified (\d+)x", alts[1]).group(1))
        assert alts[1].startswith(("deconv3", "deconv3 ·")), alts
        original, deconv = (_levels(_shot(looks.nth(i)), 4, factor) for i in (0, 1))
        assert deconv >= 6 and deconv >= 2 * original, (deconv, original)
    finally:
        context.close()


MAGNIFIED_JS = """() => [...document.querySelectorAll('[class*="st-key-pixels"] img[alt*="magnified"]')]
  .filter(i => i.getClientRects().length > 0)
  .map(i => { const k = +/magnified (\\d+)x/.exec(i.alt)[1];
              return [k, i.naturalWidth / k, i.getBoundingClientRect().width, window.devicePixelRatio]; })"""


@pytest.mark.parametrize("scale", [1.0, 1.5], ids=["dpr1", "dpr1.5"])
def test_magnified_pixels_are_whole_screen_pixels(server, browser, scale):  # noqa: F811
    """Every magnified image: device pixels per image pixel is a whole number, at a
    devicePixelRatio of 1 and of 1.5 (a laptop at 150 %)."""
    context, page = _open(browser, f"{server}/comparison", (1440, 900), scale)
    try:
        page.wait_for_timeout(500)
        found = page.evaluate(MAGNIFIED_JS)
        assert len(found) >= 6, found
        for k, n, width, dpr in found:
            per_pixel = width * dpr / n
            assert abs(per_pixel - round(per_pixel)) < 0.02 and per_pixel >= 1, (k, n, width, dpr)
    finally:
        context.close()


#: The C heatmap: a point inside a structural-zero cell and one inside a cell of weight 1
#: (the smallest positive weight), in pixels relative to the chart.
C_CELLS_JS = """() => {
  const gd = [...document.querySelectorAll('[data-testid="stMain"] .js-plotly-plot')]
    .find(g => ((g.layout.title || {}).text || '').replace(/<[^>]+>/g, '').startsWith('C:'));
  if (!gd) return null;
  const [main, faint] = gd._fullData.filter(t => t.type === 'heatmap');
  const xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis;
  const at = (r, c) => [xa._offset + xa.l2p(c), ya._offset + ya.l2p(r)];
  let zero = null, one = null, low = Infinity;
  faint.z.forEach((row, r) => row.forEach((v, c) => { if (v === 0 && !zero) zero = at(r, c); }));
  main.z.forEach((row, r) => row.forEach((v, c) => {
    if (faint.z[r][c] !== 0 && v > 0 && v < low) { low = v; one = at(r, c); } }));
  return {zero, one, low, index: [...document.querySelectorAll('[data-testid="stMain"] .js-plotly-plot')].indexOf(gd)};
}"""


@pytest.mark.parametrize("present", [False, True], ids=["reading", "presenting"])
def test_a_zero_of_c_is_darker_than_a_weight_of_one(server, browser, present):  # noqa: F811
    url = f"{server}/matrix" + ("?present=true" if present else "")
    context, page = _open(browser, url, (1920, 1080))
    try:
        found = page.evaluate(C_CELLS_JS)
        assert found and found["zero"] and found["one"], found
        chart = page.locator('[data-testid="stMain"] .js-plotly-plot').nth(found["index"])
        chart.scroll_into_view_if_needed()
        page.wait_for_timeout(300)
        shot = _shot(chart)
        # sample a little off the centre of each cell (its number is written there)
        zero = _luminance(shot[int(found["zero"][1]) - 4, int(found["zero"][0]) - 6])
        one = _luminance(shot[int(found["one"][1]) - 4, int(found["one"][0]) - 6])
        assert zero < one, (zero, one, found["low"])
    finally:
        context.close()


FONT_JS = """() => {
  const px = e => parseFloat(getComputedStyle(e).fontSize);
  const label = document.querySelector('[data-testid="stMain"] [data-testid="stWidgetLabel"] p');
  const values = [...document.querySelectorAll('[data-testid="stMain"] [data-testid="stSelectbox"] input, '
    + '[data-testid="stMain"] [data-testid="stMultiSelect"] [data-tag] span')];
  return {label: px(label), values: values.map(px)};
}"""


def test_dropdown_values_at_presentation_size(server, browser):  # noqa: F811
    for path in ("comparison", "gallery"):
        context, page = _open(browser, f"{server}/{path}?present=true", (1440, 900))
        try:
            sizes = page.evaluate(FONT_JS)
            assert sizes["values"], sizes
            assert min(sizes["values"]) >= 0.9 * sizes["label"] and min(sizes["values"]) >= 19, sizes
        finally:
            context.close()


#: Every chart title and annotation: its text, how far its top is below the chart's top
#: and how far its right end passes the chart's right edge (CSS pixels).
TITLES_JS = """() => [...document.querySelectorAll('[data-testid="stMain"] .js-plotly-plot')].flatMap(gd => {
  const box = gd.getBoundingClientRect();
  return [...gd.querySelectorAll('.annotation-text, .gtitle')].map(t => {
    const r = t.getBoundingClientRect();
    return [t.textContent.slice(0, 40), r.top - box.top, r.right - box.right]; }); })"""

#: Views with titles at risk: Compare's two-line phase-pattern titles, and story step 2's
#: output panel (a ninth of the page when presenting).
TITLED = [("comparison", False, "checkerboard"), ("comparison", True, "checkerboard"),
          ("story?step=2", True, "y = C x")]


@pytest.mark.parametrize("path,present,expected", TITLED,
                         ids=["compare-reading", "compare-presenting", "story2-presenting"])
def test_no_chart_title_is_clipped(server, browser, path, present, expected):  # noqa: F811
    """Chart titles start inside their chart, top and right."""
    url = f"{server}/{path}" + (("&" if "?" in path else "?") + "present=true" if present else "")
    context, page = _open(browser, url, (1440, 900))
    try:
        titles = page.evaluate(TITLES_JS)
        assert any(expected in t for t, _, _ in titles), titles
        clipped = [(t, y, x) for t, y, x in titles if y < 0 or x > 1]
        assert not clipped, clipped
    finally:
        context.close()


def test_story_keys_as_a_clicker_sends_them(server, browser):  # noqa: F811
    """PageDown / Right go forward, PageUp / Left back; the buttons name the steps;
    the way out of presentation mode is on the screen."""
    context, page = _open(browser, f"{server}/story?step=2&present=true", (1440, 900))
    try:
        assert page.get_by_role("button", name=re.compile("Exit presentation")).is_visible()
        assert page.locator('[data-testid="stMain"] [data-testid="stDownloadButton"]:visible').count() == 0
        assert page.get_by_role("button", name=re.compile("3. The transpose")).count() == 1
        # the clicker's keys are buttons the room never sees
        assert not page.locator(".st-key-story-clicker").is_visible()
        for key, step in (("PageDown", 3), ("ArrowLeft", 2), ("ArrowRight", 3), ("PageUp", 2)):
            page.locator("body").press(key)
            page.wait_for_function(f"() => window.location.search.includes('step={step}')"
                                   f" || ({step} === 1 && !window.location.search.includes('step='))",
                                   timeout=60_000)
            _settled(page)
            assert page.get_by_text(f"Step {step} of").count() >= 1
    finally:
        context.close()


#: The step's sentence (the first paragraph after its h1), its first figure (a chart or an
#: image), every figure and every text (paragraphs, metrics, tables, messages) not folded
#: into a section: their bottom edges, in CSS pixels. Only what is drawn counts: not the
#: hidden chart preload, not the copy of a view meant for the other screen height.
POINT_JS = """() => {
  const main = document.querySelector('[data-testid="stMain"]');
  const h1 = main.querySelector('h1');
  const after = e => h1.compareDocumentPosition(e) & Node.DOCUMENT_POSITION_FOLLOWING;
  const bottom = e => e.getBoundingClientRect().bottom;
  const shown = e => !e.closest('[data-testid="stExpander"]') && e.getClientRects().length > 0;
  const sentence = [...main.querySelectorAll('[data-testid="stMarkdown"]')].filter(after)[0];
  const figures = [...main.querySelectorAll('[data-testid="stPlotlyChart"], [data-testid="stImage"] img')]
    .filter(after).filter(shown);
  const texts = [...main.querySelectorAll('[data-testid="stMarkdown"], [data-testid="stMetric"], '
    + '[data-testid="stTable"], [data-testid="stDataFrame"], [data-testid="stAlert"], '
    + '[data-testid="stLatex"], [data-testid="stCaptionContainer"]')].filter(after).filter(shown);
  return {sentence: sentence ? [sentence.innerText.slice(0, 50), bottom(sentence)] : null,
          figures: figures.map(bottom),
          texts: texts.map(e => [e.innerText.slice(0, 40), Math.round(bottom(e))])};
}"""

#: The sizes a meeting room may have: a projector at full HD, a laptop, a small projector.
SCREENS = ((1920, 1080), (1440, 900), (1280, 720))
ONE_SCREEN = [(n, size) for size in SCREENS for n in range(1, len(STEPS) + 1)]


@pytest.mark.parametrize("number,size", ONE_SCREEN,
                         ids=[f"step{n}-{w}x{h}" for n, (w, h) in ONE_SCREEN])
def test_each_story_step_fits_one_screen_when_presenting(server, browser, number, size):  # noqa: F811
    """Presenting, a step's text and its figures (all but what is folded into a section
    opened on demand) end within the first screen, at each of :data:`SCREENS`."""
    context, page = _open(browser, f"{server}/story?step={number}&present=true", size)
    try:
        _assert_no_exception(page)
        found = page.evaluate(POINT_JS)
        assert found["sentence"] and found["figures"], found
        assert found["sentence"][1] <= size[1], found
        assert found["figures"][0] <= size[1], found
        assert max(found["figures"]) <= size[1], found
        assert not [t for t in found["texts"] if t[1] > size[1]], found["texts"]
    finally:
        context.close()


def test_a_step_without_charts_loads_the_chart_library(server, browser):  # noqa: F811
    """Step 1 draws pictures only; a hidden empty chart makes the browser load the chart
    library there, so Next into step 2's matrix C does not wait for it (1.4 s before,
    0.7 s after: ``benchmarks/presenter.py --present``). The chart is drawn and the
    viewer does not see it."""
    context, page = _open(browser, f"{server}/story?step=1&present=true", (1440, 900))
    try:
        preload = page.locator(".st-key-story-chart-preload")
        page.wait_for_function("() => document.querySelector("
                               "'.st-key-story-chart-preload .js-plotly-plot') !== null",
                               timeout=60_000)
        assert not preload.is_visible()
        visible_charts = page.locator('[data-testid="stMain"] [data-testid="stPlotlyChart"]:visible')
        assert visible_charts.count() == 0
    finally:
        context.close()


#: The coverage heatmap's plot area, its colour bar and its column-axis title, in CSS
#: pixels of the window.
COVERAGE_JS = """() => {
  const gd = [...document.querySelectorAll('[data-testid="stMain"] .js-plotly-plot')]
    .find(g => ((g.layout.title || {}).text || '').includes('times each output cell'));
  if (!gd) return null;
  const box = e => e ? e.getBoundingClientRect() : null;
  const plot = box(gd.querySelector('.nsewdrag')), bar = box(gd.querySelector('.colorbar'));
  const xtitle = box(gd.querySelector('.xtitle'));
  return {plot_right: plot.right, bar_left: bar.left, xtitle_bottom: xtitle.bottom};
}"""


@pytest.mark.parametrize("size", [(1440, 900), (1920, 1080)], ids=["1440x900", "1920x1080"])
def test_coverage_colour_bar_beside_the_heatmap_and_axis_on_screen(server, browser, size):  # noqa: F811
    """Issue 28, item 16: presenting, the colour bar floated about 400 px right of the
    heatmap and the column axis was below the fold."""
    context, page = _open(browser, f"{server}/coverage?present=true", size)
    try:
        _assert_no_exception(page)
        found = page.evaluate(COVERAGE_JS)
        assert found, "no coverage heatmap"
        assert found["bar_left"] - found["plot_right"] <= 150, found
        assert found["xtitle_bottom"] <= size[1], found
    finally:
        context.close()


#: Reading mode, the story's controls: how far the step numbers run past their own box,
#: and whether a button's label is cut (its text wider than its box).
CONTROLS_JS = """() => {
  const seg = document.querySelector('.st-key-step');
  const buttons = [...seg.querySelectorAll('button')];
  const box = seg.getBoundingClientRect();
  const labels = [...document.querySelectorAll('.st-key-story-prev button p, .st-key-story-next button p')];
  return {overrun: Math.max(...buttons.map(b => b.getBoundingClientRect().right)) - box.right,
          cut: labels.filter(p => p.scrollWidth > p.clientWidth + 1).map(p => p.innerText)};
}"""


@pytest.mark.parametrize("size", [(1280, 720), (1920, 1080)], ids=["1280x720", "1920x1080"])
def test_reading_mode_step_numbers_and_labels_fit(server, browser, size):  # noqa: F811
    """Issue 28, item 4: reading, the step numbers ran about 50 px past their column ("8"
    cut) and the Next label was cut."""
    context, page = _open(browser, f"{server}/story?step=1", size)
    try:
        found = page.evaluate(CONTROLS_JS)
        assert found["overrun"] <= 1 and not found["cut"], found
    finally:
        context.close()


#: The audit's layer table (a data grid): how much wider its content is than its box.
GRID_JS = """() => [...document.querySelectorAll('[data-testid="stMain"] [data-testid="stDataFrame"]')]
  .map(d => { const s = d.querySelector('.dvn-scroller') || d;
              return [s.scrollWidth - s.clientWidth, d.innerText.slice(0, 30)]; })"""


def test_audit_layer_table_needs_no_sideways_scroll(server, browser):  # noqa: F811
    """Issue 28, item 7: reading mode, the layer table scrolled 300 px sideways."""
    context, page = _open(browser, f"{server}/audit", (1440, 900))
    try:
        grids = page.evaluate(GRID_JS)
        assert grids, "no table"
        assert grids[0][0] <= 2, grids
    finally:
        context.close()


def test_layer_lab_outputs_on_the_first_screen_when_presenting(server, browser):  # noqa: F811
    """Issue 28, item 9: presenting at 1280x720 the Layer lab's first screen held only its
    controls. The input and the upsamplers' outputs now come first."""
    context, page = _open(browser, f"{server}/layer_lab?present=true", (1280, 720))
    try:
        _assert_no_exception(page)
        bottoms = page.evaluate("""() => [...document.querySelectorAll(
          '[data-testid="stMain"] [data-testid="stImage"] img')]
          .filter(i => i.getClientRects().length > 0).map(i => i.getBoundingClientRect().top)""")
        assert sum(top < 720 for top in bottoms) >= 3, bottoms  # the input and two outputs
    finally:
        context.close()
