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

from ui.common import available_pages
from ui.story import STEPS

ROOT = Path(__file__).resolve().parent.parent
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
        page.get_by_role("button", name="Next").click()
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


def _small_deconv_onnx() -> bytes:
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    w = np.random.default_rng(0).standard_normal((2, 2, 3, 3)).astype(np.float32)
    node = helper.make_node("ConvTranspose", ["x", "w"], ["y"], name="my_deconv",
                            kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1],
                            output_padding=[1, 1])
    graph = helper.make_graph(
        [node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 32, 32])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [numpy_helper.from_array(w, "w")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model.SerializeToString()


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
            "buffer": _small_deconv_onnx()}])
        page.wait_for_selector(CHART, timeout=90_000)
        _wait_idle(page)
        _assert_no_exception(page)
        assert page.get_by_text("my_deconv", exact=False).count() >= 1
        assert "example=upload" in page.url
        page.screenshot(path=str(SHOTS / "audit-upload-done.png"), full_page=True)
    finally:
        context.close()
