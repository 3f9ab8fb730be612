"""Real-browser end-to-end tests: a fresh `streamlit run dashboard.py`, driven by Chromium.

Each page is opened by its own URL as the first thing the browser does on a fresh
server (the case AppTest cannot see), and must draw its charts with no exception box.
Screenshots go to ``artifacts/screenshots/`` (ignored by git).

Needs Debian's Chromium at /usr/bin/chromium (`apt-get install chromium`); without it
these tests skip with that message, except under CI=true where they must run.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import small_deconv_onnx
from ui.common import available_pages
from ui.story import STEPS

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
SHOTS = ROOT / "artifacts" / "screenshots"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage",
]
#: What each page must draw (a CSS selector); plotly charts unless said otherwise.
CHART = '[data-testid="stPlotlyChart"] .main-svg'
#: Live content of any kind: a drawn chart or an image.
LIVE = f'{CHART}, [data-testid="stImage"] img'

pytestmark = pytest.mark.browser

if not CHROMIUM.exists():
    if os.environ.get("CI") == "true":
        raise RuntimeError("CI=true but /usr/bin/chromium is missing: .ci/run must install it")
    pytest.skip(
        "browser tests need Chromium: run `apt-get install chromium` (Debian) to enable them",
        allow_module_level=True,
    )

sync_api = pytest.importorskip("playwright.sync_api") if os.environ.get("CI") != "true" else None
if sync_api is None:
    import playwright.sync_api as sync_api  # noqa: E402  (must exist in CI)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def server():
    port = _free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "dashboard.py", "--server.headless", "true",
         "--server.port", str(port), "--server.address", "127.0.0.1",
         "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(f"{base}/_stcore/health", timeout=2) as resp:
                if resp.status == 200:
                    break
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            out = proc.stdout.read().decode(errors="replace") if proc.stdout else ""
            proc.kill()
            raise RuntimeError(f"streamlit did not become healthy:\n{out}")
        time.sleep(0.3)
    yield base
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as pw:
        instance = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                      args=CHROMIUM_ARGS)
        yield instance
        instance.close()


def _wait_idle(page, timeout_ms: int = 90_000) -> None:
    """Wait until the script run has finished (no 'Running...' status widget)."""
    page.wait_for_selector('[data-testid="stApp"]', timeout=timeout_ms)
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')"
        " || !document.querySelector('[data-testid=\"stStatusWidget\"]').innerText.includes('Running')",
        timeout=timeout_ms,
    )


def _open(browser, url: str, name: str, selector: str = CHART):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.goto(url, wait_until="domcontentloaded")
    page.wait_for_selector(selector, timeout=90_000)
    _wait_idle(page)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
    return context, page


def _assert_no_exception(page) -> None:
    boxes = page.locator('[data-testid="stException"]')
    assert boxes.count() == 0, boxes.first.inner_text()


@pytest.mark.parametrize("spec", available_pages(), ids=lambda s: s.url_path)
def test_page_opened_first_by_its_url(server, browser, spec):
    context, page = _open(browser, f"{server}/{spec.url_path}", spec.url_path, LIVE)
    try:
        _assert_no_exception(page)
        assert page.locator(LIVE).count() >= 1
        sidebar = page.locator('[data-testid="stSidebar"]')
        assert sidebar.get_by_text("Presentation mode").count() == 1  # routed via dashboard
    finally:
        context.close()


def test_home_page(server, browser):
    context, page = _open(browser, server, "home")
    try:
        _assert_no_exception(page)
        assert page.get_by_role("heading", name="Checkerboard Lab").count() == 1
    finally:
        context.close()


def test_coverage_controls_write_the_url_and_links_reopen_the_view(server, browser):
    context, page = _open(browser, f"{server}/coverage?kernel=5&stride=3", "coverage-url")
    try:
        _assert_no_exception(page)
        page.get_by_role("button", name="Figure 6: 4x4, stride 2").click()
        page.wait_for_function("() => window.location.search.includes('kernel=4')",
                               timeout=30_000)
        _wait_idle(page)
        shared = page.url
        assert "padding=1" in shared
    finally:
        context.close()
    context, page = _open(browser, shared, "coverage-reopened")
    try:
        _assert_no_exception(page)
        heatmap = page.locator("[data-testid=\"stPlotlyChart\"]").first.text_content()
        assert "4x4 kernel, stride 2" in heatmap
    finally:
        context.close()


def test_nonsense_url_shows_a_warning_not_a_traceback(server, browser):
    context, page = _open(browser, f"{server}/coverage?kernel=banana&size=-3",
                          "coverage-bad-url")
    try:
        _assert_no_exception(page)
        assert page.get_by_text("Ignored URL parameter").count() >= 1
    finally:
        context.close()


@pytest.mark.parametrize("number", range(1, len(STEPS) + 1))
def test_story_step_by_url_with_screenshot(server, browser, number):
    context, page = _open(browser, f"{server}/story?step={number}", f"story-step-{number}", LIVE)
    try:
        _assert_no_exception(page)
        assert page.get_by_text(f"Step {number} of {len(STEPS)}").count() >= 1
    finally:
        context.close()


def test_story_next_button_and_presentation_mode(server, browser):
    context, page = _open(browser, f"{server}/story?step=3&present=true", "story-present", LIVE)
    try:
        _assert_no_exception(page)
        page.locator(".st-key-story-next button").first.click()  # labelled "4. <title>"
        page.wait_for_function("() => window.location.search.includes('step=4')",
                               timeout=30_000)
        page.wait_for_selector(CHART, timeout=60_000)
        _wait_idle(page)
        _assert_no_exception(page)
        assert "present=true" in page.url
        page.screenshot(path=str(SHOTS / "story-present-next.png"), full_page=True)
    finally:
        context.close()


def _png_bytes(size: int = 96) -> bytes:
    import io

    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:size, 0:size]
    img = np.stack([xx / size, yy / size, 0.5 + 0.1 * rng.standard_normal((size, size))], -1)
    buf = io.BytesIO()
    Image.fromarray((np.clip(img, 0, 1) * 255).astype("uint8")).save(buf, format="PNG")
    return buf.getvalue()


def test_comparison_upload_good_and_bad_files(server, browser):
    context, page = _open(browser, f"{server}/comparison?source=Upload", "compare-upload",
                          '[data-testid="stFileUploader"]')
    try:
        chooser = page.locator('[data-testid="stFileUploader"] input[type="file"]')
        chooser.set_input_files(files=[{"name": "notes.png", "mimeType": "image/png",
                                        "buffer": b"this is text, not an image"}])
        page.wait_for_selector('[data-testid="stAlertContentError"]', timeout=60_000)
        _wait_idle(page)
        _assert_no_exception(page)
        chooser.set_input_files(files=[{"name": "gradient.png", "mimeType": "image/png",
                                        "buffer": _png_bytes()}])
        page.wait_for_function(
            "() => document.querySelectorAll('[data-testid=\"stImage\"] img').length >= 3",
            timeout=90_000)
        _wait_idle(page)
        _assert_no_exception(page)
        page.screenshot(path=str(SHOTS / "compare-upload-good.png"), full_page=True)
    finally:
        context.close()


def test_audit_example_by_url_then_an_uploaded_onnx_model(server, browser):
    context, page = _open(browser, f"{server}/audit?example=espcn", "audit-espcn", CHART)
    try:
        _assert_no_exception(page)
        assert page.get_by_text("DepthToSpace", exact=False).count() >= 1
        assert page.locator(CHART).count() >= 4  # coverage, gains, spectra, shift test
    finally:
        context.close()
    context, page = _open(browser, f"{server}/audit?example=upload", "audit-upload",
                          '[data-testid="stFileUploader"]')
    try:
        uploader = page.locator('[data-testid="stFileUploader"]').filter(has_text="ONNX model")
        uploader.locator('input[type="file"]').set_input_files(files=[{
            "name": "mine.onnx", "mimeType": "application/octet-stream",
            "buffer": small_deconv_onnx((1, 2, 32, 32))}])
        page.wait_for_selector(CHART, timeout=90_000)
        _wait_idle(page)
        _assert_no_exception(page)
        assert page.get_by_text("my_deconv", exact=False).count() >= 1
        assert "example=upload" in page.url
        page.screenshot(path=str(SHOTS / "audit-upload-done.png"), full_page=True)
    finally:
        context.close()


# --------------------------------------------------------------------------- what a person sees
# Presentation mode and the pictures, checked the way a person looks at them: colours as
# rendered, boxes as laid out, sizes as computed by the browser (issue 10).

#: Screenshots of these checks (ignored by git, with the others).
LOOKS = SHOTS / "looks"


SETTLED_JS = """() => { const app = document.querySelector('[data-testid="stApp"]');
    const main = document.querySelector('[data-testid="stMain"]');
    const imgs = main ? [...main.querySelectorAll('img')] : [];
    return Boolean(app && app.getAttribute('data-test-script-state') === 'notRunning'
      && main && main.querySelector('h1')
      && !main.querySelector('[data-testid="stSkeleton"]')
      && imgs.every(i => i.complete)); }"""


def _settled(page, timeout_ms: int = 120_000) -> None:
    """The script has finished (Streamlit's own run state), no placeholder skeleton is left,
    images are loaded, and the page has stayed so for a moment (three checks in a row,
    0.3 s apart): what a person sees once it stops changing. A single check can fall
    between a run and the rerun that a URL-bound widget starts, on a busy machine."""
    deadline = time.monotonic() + timeout_ms / 1000
    calm = 0
    while calm < 3:
        left_ms = int((deadline - time.monotonic()) * 1000)
        if left_ms <= 0:
            raise TimeoutError(f"page did not settle within {timeout_ms} ms")
        if page.evaluate(SETTLED_JS):
            calm += 1
        else:  # changed again: start counting anew once it looks settled
            calm = 0
            page.wait_for_function(SETTLED_JS, timeout=left_ms)
        page.wait_for_timeout(300)
    page.wait_for_timeout(500)  # late style and chart layout
    _wait_idle(page, timeout_ms)


def _look(browser, url: str, name: str, size=(1280, 720)):
    context = browser.new_context(viewport={"width": size[0], "height": size[1]})
    page = context.new_page()
    page.goto(url, wait_until="domcontentloaded")
    _settled(page)
    LOOKS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(LOOKS / f"{name}.png"), full_page=True)
    return context, page


#: Per heatmap cell painted 1, 2 and 4 times: a point inside the cell away from its number
#: (pixels relative to the chart), and plotly's own colour scale as the page has it.
FIGURE4_CELLS_JS = """(index) => {
  const gd = [...document.querySelectorAll('[data-testid="stMain"] .js-plotly-plot')][index];
  const trace = gd._fullData.find(t => t.type === 'heatmap');
  const xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis;
  const cw = Math.abs(xa.l2p(1) - xa.l2p(0)), ch = Math.abs(ya.l2p(1) - ya.l2p(0));
  const points = {};
  trace.z.forEach((row, r) => row.forEach((v, c) => {
    if ([1, 2, 4].includes(v) && !(v in points) && r > 0 && c > 0)
      points[v] = [xa._offset + xa.l2p(c) - 0.3 * cw, ya._offset + ya.l2p(r) - 0.3 * ch];
  }));
  return {points, scale: trace.colorscale.map(s => s[1])};
}"""


def _luminance(rgb) -> float:
    r, g, b = rgb[:3]
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def _colour(text: str) -> tuple[float, float, float]:
    text = text.strip()
    if text.startswith("#"):
        return tuple(int(text[i:i + 2], 16) for i in (1, 3, 5))
    return tuple(float(v) for v in text[text.index("(") + 1:text.index(")")].split(",")[:3])


@pytest.mark.parametrize("present", [False, True], ids=["reading", "presenting"])
@pytest.mark.parametrize("path", ["", "coverage"], ids=["home", "coverage"])
def test_figure_4_reads_right_painted_more_is_lighter(server, browser, path, present):
    """Cells painted 1, 2 and 4 times, in the colours the browser drew them: more paint,
    more light, in both modes (the presentation scale once drew a single coat pink,
    lighter than two: Streamlit's theme swapped Inferno's first stop #000004)."""
    url = f"{server}/{path}" + ("?present=true" if present else "")
    context, page = _look(browser, url, f"figure4-{path or 'home'}-{'present' if present else 'read'}")
    try:
        _assert_no_exception(page)
        found = page.evaluate(FIGURE4_CELLS_JS, 0)
        assert sorted(int(k) for k in found["points"]) == [1, 2, 4]
        scale = [_luminance(_colour(c)) for c in found["scale"]]
        assert all(a < b for a, b in zip(scale, scale[1:], strict=False)), found["scale"]
        chart = page.locator('[data-testid="stMain"] .js-plotly-plot').first
        chart.scroll_into_view_if_needed()
        import io

        from PIL import Image

        shot = Image.open(io.BytesIO(chart.screenshot())).convert("RGB")
        seen = {int(k): _luminance(shot.getpixel((int(x), int(y))))
                for k, (x, y) in found["points"].items()}
        assert seen[1] + 10 < seen[2] and seen[2] + 10 < seen[4], seen
    finally:
        context.close()


#: Elements of the main area that hide content in a sideways scroll, or stick out of it.
OVERFLOW_JS = """() => {
  const main = document.querySelector('[data-testid="stMain"]');
  const mb = main.getBoundingClientRect();
  const hidden = e => { for (let a = e; a && a !== main; a = a.parentElement) {
      const cs = getComputedStyle(a);
      if (cs.display === 'none' || cs.visibility === 'hidden' || cs.clipPath.startsWith('inset(50%')
          || cs.clip.startsWith('rect(0')) return true; }
    return false; };
  const name = e => (e.closest('[data-testid]') || e).getAttribute('data-testid') + ' ' + e.tagName;
  const out = [];
  for (const e of main.querySelectorAll('*')) {
    const r = e.getBoundingClientRect();
    if (r.width <= 2 || e.clientWidth <= 2 && r.width <= 2) continue;
    const scrolls = ['auto', 'scroll', 'hidden', 'clip'].includes(getComputedStyle(e).overflowX);
    const text = (e.innerText || '').replace(/\\s+/g, ' ').slice(0, 60);
    if (scrolls && e.scrollWidth > e.clientWidth + 2 && e.clientWidth > 20 && !hidden(e))
      out.push(`${name(e)} hides ${e.scrollWidth - e.clientWidth}px sideways: ${text}`);
    else if (r.right > mb.right + 1 && !hidden(e))
      out.push(`${name(e)} sticks out ${Math.round(r.right - mb.right)}px: ${text}`);
  }
  return [...new Set(out)];
}"""

PRESENTED = [("home", "")] + [(p.url_path, p.url_path) for p in available_pages()] + [
    ("story-step-4", "story?step=4"), ("story-step-6", "story?step=6"),
    ("story-step-8", "story?step=8")]


@pytest.mark.parametrize("name,path", PRESENTED, ids=[n for n, _ in PRESENTED])
def test_presentation_fits_1280x720_with_no_hidden_sideways_scroll(server, browser, name, path):
    """Presenting at 1280x720: sidebar folded away, and no element of the main area wider
    than its box (a formula or code line in a scroll box nobody sees, a cut label)."""
    sep = "&" if "?" in path else "?"
    context, page = _look(browser, f"{server}/{path}{sep}present=true", f"present-{name}")
    try:
        _assert_no_exception(page)
        assert page.locator('[data-testid="stSidebar"]').get_attribute("data-collapsed") == "true"
        problems = page.evaluate(OVERFLOW_JS)
        assert not problems, problems
    finally:
        context.close()


METRIC_SIZES_JS = """() => [...document.querySelectorAll('[data-testid="stMain"] [data-testid="stMetric"]')]
  .map(m => [parseFloat(getComputedStyle(m.querySelector('[data-testid="stMetricValue"] p')
                                         || m.querySelector('[data-testid="stMetricValue"]')).fontSize),
             parseFloat(getComputedStyle(m.querySelector('[data-testid="stMetricLabel"] p')).fontSize)])"""


@pytest.mark.parametrize("present", [False, True], ids=["reading", "presenting"])
def test_metric_values_are_larger_than_their_labels(server, browser, present):
    url = f"{server}/coverage" + ("?present=true" if present else "")
    context, page = _look(browser, url, f"metrics-{'present' if present else 'read'}")
    try:
        sizes = page.evaluate(METRIC_SIZES_JS)
        assert len(sizes) == 6
        assert all(value > 1.5 * label for value, label in sizes), sizes
        if present:  # and the plot's tick labels and axis titles grew with the text
            ticks = page.evaluate("""() => [...document.querySelectorAll(
                '[data-testid="stMain"] .xtick text, [data-testid="stMain"] .g-xtitle text')]
                .map(t => parseFloat(t.style.fontSize))""")
            assert ticks and min(ticks) >= 16, ticks
    finally:
        context.close()


def test_clearing_a_multiselect_says_one_thing(server, browser):
    """Cleared upsamplers: 'pick at least one', not also 'Ignored URL parameter', and the
    link it leaves in the address bar reopens the same view."""
    context, page = _look(browser, f"{server}/layer_lab", "lab-cleared")
    try:
        page.locator('[data-testid="stMultiSelect"] button[aria-label="Clear all"]').first.click()
        page.get_by_text("Pick at least one upsampler").wait_for(timeout=60_000)
        _settled(page)
        assert page.get_by_text("Ignored URL parameter").count() == 0
        url = page.url
        assert "lab_ups=" in url  # a cleared multiselect writes an empty value
    finally:
        context.close()
    context, page = _look(browser, url, "lab-cleared-reopened")
    try:
        assert page.get_by_text("Ignored URL parameter").count() == 0
        assert page.get_by_text("Pick at least one upsampler").count() == 1
    finally:
        context.close()


def test_difference_gain_writes_a_clean_number_to_the_url(server, browser):
    context, page = _look(browser, f"{server}/comparison", "compare-gain", size=(1440, 900))
    try:
        thumb = page.get_by_role("slider", name="Difference gain (×)")
        thumb.focus()
        page.keyboard.press("End")
        page.wait_for_function("() => window.location.search.includes('gain=')", timeout=30_000)
        _settled(page)
        assert "gain=16" in page.url and "%C3%97" not in page.url, page.url
        url = page.url
    finally:
        context.close()
    context, page = _look(browser, url, "compare-gain-reopened", size=(1440, 900))
    try:
        assert page.get_by_text("Ignored URL parameter").count() == 0
        assert page.get_by_text("× 16").count() + page.get_by_text("×16").count() >= 1
    finally:
        context.close()


def test_diagnose_first_screen_holds_the_verdict_and_the_whole_pixel_picture(server, browser):
    """Presenting at 1920x1080, a network's output opened by its link: the verdict sentence
    and the fine detail x10, magnified by a whole number of screen pixels per image pixel,
    are both on the first screen, above the fold."""
    context, page = _look(browser, f"{server}/diagnose?example=deconv3-e10&present=true",
                          "diagnose-first-screen", size=(1920, 1080))
    try:
        _assert_no_exception(page)
        verdict = page.locator('[data-testid="stMain"] h3').first
        assert "grid" in verdict.inner_text()
        box = verdict.bounding_box()
        assert box is not None and box["y"] + box["height"] <= 1080
        picture = page.locator('[data-testid="stMain"] img[alt*="magnified"]').first
        shown = picture.bounding_box()
        assert shown is not None and shown["y"] + shown["height"] <= 1080, shown
        natural = page.evaluate("(img) => [img.naturalWidth, img.width]",
                                picture.element_handle())
        assert natural[0] == natural[1]  # drawn at its own size: no browser rescaling
        alt = picture.get_attribute("alt")
        factor = int(alt.split("magnified ")[1].split("x")[0])
        assert factor >= 4 and natural[0] % factor == 0
    finally:
        context.close()


def test_hear_it_players_decode_at_the_stated_rates(server, browser):
    """Only a browser decodes the WAVs: each player's sound lasts the one second made, at
    a rate the browser plays (Chromium refused the 1,000 Hz input: error 4, no duration,
    until it was played band-limited at 3,000 Hz); the tone lines are drawn."""
    context, page = _open(browser, f"{server}/hear_it?snd_stride=4&snd_layers=2", "hear-it",
                          CHART)
    try:
        _assert_no_exception(page)
        page.wait_for_function(
            "() => [...document.querySelectorAll('audio')].length === 2 && "
            "[...document.querySelectorAll('audio')].every(a => a.readyState >= 1)",
            timeout=60_000)
        durations = page.evaluate(
            "() => [...document.querySelectorAll('audio')].map(a => a.duration)")
        assert durations == [1.0, 1.0], durations
        assert page.get_by_text("1,000 samples per second, played at 3,000").count() == 1
        assert page.get_by_text("16,000 samples per second").count() == 1
        legend = page.locator('[data-testid="stPlotlyChart"]').first.text_content()
        assert "artifact tones k·16,000/16 Hz" in legend
    finally:
        context.close()
