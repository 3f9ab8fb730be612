"""Text that came from outside (file names, URL values, file contents) made safe to show.

One place for it, so every message is built the same way:

* :func:`safe_text`: any ``str`` as one that encodes to UTF-8. A file name that is not
  UTF-8 reaches Python as lone surrogates (``os.fsdecode``'s ``surrogateescape``), which
  crash whatever encodes it later (Streamlit's cache hashing, protobuf, a log file);
  here each undecodable byte is written ``\\xff`` instead.
* :func:`is_utf8` says whether a name needs that (refuse or skip such files early).
* :func:`plain`: one line of printable text: ANSI escape sequences (colours, clear
  screen, window title) and control characters removed, line breaks made spaces,
  length capped. For terminals and logs.
* :func:`md_escape`: plain text for Markdown, every Markdown-active character
  backslash-escaped (no link, image, emphasis, HTML, math or directive can form).
* :func:`md_code`: plain text as one inline code span whose fence is longer than any
  run of backticks inside, so the value cannot leave it (CommonMark's rule).

* :func:`escape`: the one escaping helper by destination: ``"markdown"`` (:func:`md_escape`),
  ``"html"`` (HTML entities) and ``"plotly"`` (HTML entities and ``%``, for legend names,
  hover templates and annotations); ``@`` is made inert in all of them (no GitHub
  mention from a CI comment).

Shown text keeps invisible characters visible: a zero-width space, a bidirectional
override or a control character in a name or URL value is written ``\u200b`` /
``\x07`` by :func:`md_escape` and :func:`md_code` (and :func:`visible`), never dropped,
so a warning about ``8\u200b`` does not claim it was ``8``.

Pages (``ui/``) and reports use :func:`md_code` / :func:`escape` wherever a user's
value or a file name reaches Markdown, HTML or a plotly figure; command lines use
:func:`plain`.
"""

from __future__ import annotations

import html
import re

__all__ = ["MAX_SHOWN_CHARS", "clip", "escape", "html_escape", "is_utf8", "md_code",
           "md_escape", "plain", "safe_text", "visible"]

#: Longest text :func:`plain` (and so :func:`md_code`, :func:`md_escape`) keeps.
MAX_SHOWN_CHARS = 400

# CSI (ESC [ ... final), OSC (ESC ] ... BEL or ESC \), other two-byte escapes, and the
# 8-bit CSI/OSC introducers.
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"
                   r"|\x1b[@-Z\\-_]|[\x9b\x9d][^\x07]*\x07?")
# C0 and C1 controls, DEL, and the Unicode format characters that reorder or hide text
# (bidirectional overrides and isolates, zero-width joiners, byte-order mark).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e"
                      r"\u2060-\u2069\ufeff]")
# Every ASCII punctuation character with a role in CommonMark, GFM or Streamlit's Markdown
# (emphasis, code, links, images, HTML, entities, tables, strikethrough, math, ``:emoji:``
# and ``:color[...]`` directives, list and heading markers, autolinks' dots and colons).
_MD_ACTIVE = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:&])")


def clip(text: str, limit: int = 400) -> str:
    """``text`` cut to ``limit`` characters (an ellipsis marks the cut)."""
    text = str(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def is_utf8(text: str) -> bool:
    """Does ``text`` encode to UTF-8 (no lone surrogates from an undecodable name)?"""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def safe_text(text: object) -> str:
    """``str(text)`` with every undecodable byte or lone surrogate written as an escape
    (``\\xff``, ``\\udc80``): always encodes to UTF-8, and says which bytes were there."""
    text = str(text)
    if is_utf8(text):
        return text
    try:  # the bytes the file system gave, shown as \xNN
        raw = text.encode("utf-8", "surrogateescape")
        return raw.decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:  # surrogates not made by surrogateescape
        return text.encode("utf-8", "backslashreplace").decode("utf-8")


def plain(text: object, limit: int = MAX_SHOWN_CHARS) -> str:
    """One line of printable text: :func:`safe_text`, ANSI escapes and control characters
    removed, line breaks and tabs as spaces, cut to ``limit`` characters (an ellipsis
    marks the cut)."""
    text = _ANSI.sub("", safe_text(text))
    text = re.sub(r"[\r\n\t\v\f]+", " ", text)
    return clip(_CONTROL.sub("", text), limit)


def _escape_hidden(match: re.Match) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def visible(text: object, limit: int = MAX_SHOWN_CHARS) -> str:
    """One line like :func:`plain`, but each control or invisible format character (a
    zero-width space, a bidirectional override, a byte-order mark) written as its escape
    (``\\u200b``) instead of removed: what was given is what is shown. ANSI escape
    sequences are removed; line breaks become spaces."""
    text = _ANSI.sub("", safe_text(text))
    text = re.sub(r"[\r\n\t\v\f]+", " ", text)
    return clip(_CONTROL.sub(_escape_hidden, text), limit)


def md_escape(text: object, limit: int = MAX_SHOWN_CHARS) -> str:
    """:func:`visible` text with every Markdown-active character backslash-escaped: shown
    literally by any CommonMark renderer (Streamlit's included), never as a link, an
    image, HTML, emphasis, a code span, math, an emoji or a colour directive; ``@`` is
    followed by a zero-width space entity, so GitHub links no mention."""
    return _MD_ACTIVE.sub(r"\\\1", visible(text, limit)).replace("@", "@&#8203;")


def html_escape(text: object, limit: int | None = None) -> str:
    """``text`` for HTML: every ``<``, ``>``, ``&``, quote and ``@`` as an entity (nothing
    becomes markup, an attribute break or a mention); line breaks kept (a ``<pre>``),
    cut at ``limit`` characters when given."""
    text = safe_text(text) if limit is None else clip(safe_text(text), limit)
    return html.escape(text, quote=True).replace("@", "&#64;")


def escape(text: object, to: str = "markdown", limit: int = MAX_SHOWN_CHARS) -> str:
    """The one escaping helper for outside text (file, folder, module and variant names,
    URL values) by destination: ``"markdown"`` (:func:`md_escape`), ``"html"`` (one line
    of :func:`visible` text as :func:`html_escape`) or ``"plotly"`` (as ``"html"``, and
    ``%`` as ``&#37;`` so a name cannot become a hover-template field: plotly renders
    legend names and hover text as HTML-like markup, entities decoded)."""
    if to == "markdown":
        return md_escape(text, limit)
    if to not in ("html", "plotly"):
        raise ValueError(f"escape: unknown destination {to!r}")
    out = html_escape(visible(text, limit))
    return out.replace("%", "&#37;") if to == "plotly" else out


def md_code(text: object, limit: int = MAX_SHOWN_CHARS) -> str:
    """:func:`visible` text as one inline code span: the fence is one backtick longer than
    the longest run of backticks inside, and a space pads a value that starts or ends
    with a backtick, so nothing inside can close it (CommonMark, section 6.1). (GitHub
    links no mention inside a code span.)"""
    text = visible(text, limit)
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") or not text.strip() else ""
    return f"{fence}{pad}{text}{pad}{fence}"
