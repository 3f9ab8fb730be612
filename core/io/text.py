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

Pages (``ui/``) and reports use :func:`md_code` / :func:`md_escape` wherever a user's
value or a file name reaches Markdown; command lines use :func:`plain`.
"""

from __future__ import annotations

import re

__all__ = ["MAX_SHOWN_CHARS", "clip", "is_utf8", "md_code", "md_escape", "plain", "safe_text"]

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


def md_escape(text: object, limit: int = MAX_SHOWN_CHARS) -> str:
    """:func:`plain` text with every Markdown-active character backslash-escaped: shown
    literally by any CommonMark renderer (Streamlit's included), never as a link, an
    image, HTML, emphasis, a code span, math, an emoji or a colour directive."""
    return _MD_ACTIVE.sub(r"\\\1", plain(text, limit))


def md_code(text: object, limit: int = MAX_SHOWN_CHARS) -> str:
    """:func:`plain` text as one inline code span: the fence is one backtick longer than
    the longest run of backticks inside, and a space pads a value that starts or ends
    with a backtick, so nothing inside can close it (CommonMark, section 6.1)."""
    text = plain(text, limit)
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") or not text.strip() else ""
    return f"{fence}{pad}{text}{pad}{fence}"
