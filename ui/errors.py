"""One error boundary around every page body.

``dashboard.py`` runs the page the URL names inside :func:`error_boundary`: whatever a
page raises (a bug, a hostile input nobody foresaw) becomes one short ``st.error``
naming the exception type and a trimmed, path-free message, while the full traceback
goes to the server log. Visitors never see a traceback or a server file path; the
project's ``.streamlit/config.toml`` (``client.showErrorDetails = "none"``) covers
whatever escapes the boundary (a fragment's rerun).

Streamlit's own control flow (``st.stop``, ``st.rerun``, ``st.switch_page``) raises
``BaseException`` subclasses, which pass through untouched.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import streamlit as st
from streamlit.logger import get_logger

from core.io.text import clip

ROOT = Path(__file__).resolve().parent.parent
LOG = get_logger("checkerboard_lab")

#: The start of the boundary's message (tests look for it: its absence = no crash).
BOUNDARY_TEXT = "This view stopped on an unexpected error"
#: Longest exception message shown (the log has all of it).
MAX_SHOWN_CHARS = 200

_PATH = re.compile(r"(?:[A-Za-z]:)?(?:[\\/][\w.@+~-]+){2,}")


def short_reason(exc: BaseException, limit: int = MAX_SHOWN_CHARS) -> str:
    """``Type: first line of the message``, server paths reduced to their file name,
    cut to ``limit`` characters."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    text = text.replace(str(ROOT) + "/", "")
    text = _PATH.sub(lambda m: "…/" + re.split(r"[\\/]", m.group(0))[-1], text)
    text = clip(text, limit)
    name = type(exc).__name__
    return f"{name}: {text}" if text else name


@contextmanager
def error_boundary(where: str = "page") -> Iterator[None]:
    """Run a page body; an exception becomes a short ``st.error``, its traceback a log entry."""
    try:
        yield
    except Exception as exc:  # BaseException (st.stop, st.rerun) passes through
        LOG.error("uncaught error in %s", where, exc_info=exc)
        reason = short_reason(exc).replace("`", "'")
        st.error(
            f"{BOUNDARY_TEXT} (`{reason}`). The details went to the server log. "
            "Try other settings, or reload the page.",
            icon=":material/error:",
        )
