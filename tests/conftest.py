"""Shared test helpers: open a dashboard page with Streamlit's AppTest."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parent.parent


def open_page(page: str | None = None, query: dict[str, str | list[str]] | None = None,
              timeout: float = 60) -> AppTest:
    """Run ``dashboard.py`` (the router), switched to ``page`` (e.g. "pages/coverage.py").

    ``query`` sets URL query parameters before the first run, as a copied link would.
    """
    at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=timeout)
    for key, value in (query or {}).items():
        at.query_params[key] = value
    at.run()  # AppTest resolves st.navigation pages only after a first run
    if page is not None:
        at.switch_page(page)
        at.run()
    return at


def encode(img, fmt: str, **kw) -> bytes:
    """A PIL image saved to bytes in ``fmt`` (files for upload tests, made in the test)."""
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kw)
    return buf.getvalue()


def assert_clean(at: AppTest) -> None:
    """No exception element on the page (what a traceback box would be), and no
    message from the pages' error boundary (``ui.errors``: a caught crash)."""
    from ui.errors import BOUNDARY_TEXT

    assert not at.exception, [e.value for e in at.exception]
    crashes = [e.value for e in at.error if BOUNDARY_TEXT in e.value]
    assert not crashes, crashes


def plotly_data(at: AppTest, index: int = 0) -> list[dict]:
    """The traces of the ``index``-th plotly chart, typed arrays decoded to numpy."""
    spec = json.loads(at.get("plotly_chart")[index].proto.spec)
    return [_decode(trace) for trace in spec["data"]]


def _decode(value):
    if isinstance(value, dict):
        if "bdata" in value and "dtype" in value:
            arr = np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"])
            shape = value.get("shape")
            if shape:
                dims = [int(n) for n in str(shape).split(",")] if isinstance(shape, str) else shape
                arr = arr.reshape(dims)
            return arr
        return {k: _decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value


@pytest.fixture
def page():
    """The ``open_page`` helper as a fixture."""
    return open_page
