"""The audit's "measured in this lab" lines, read without pandas on the audit's cold path.

The fix code the audit prints quotes what the shipped experiment measured for the post's fix
and the remedies (:func:`core.experiment.front.computed_remedy_lines`, from the histories,
with pandas: about 0.3 s of a cold command line's 1.4 s). The lines of a folder's histories
are also stored beside them, in ``<root>/remedies.json``, with the SHA-256 of the history
files they were computed from; :func:`remedy_lines` returns the stored lines while those
files still hash the same, and computes them otherwise (a folder trained again, a history
edited, no stored file). ``python -m core.experiment.remedies ROOT`` writes the file;
``tests/core/test_front.py`` keeps the shipped one equal to what the histories give.

No pandas, numpy or torch here: this module is what the audit imports.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

from .shipped import HISTORY_NAME, QUOTED, SHIPPED

#: Where a folder's measured lines are stored, ``<root>/remedies.json``.
REMEDIES_NAME = "remedies.json"
#: The largest stored file read (the shipped one is under 1 KB); a larger one is ignored.
MAX_STORED_BYTES = 64 * 1024
#: The most lines a stored file may give, and the longest line.
MAX_LINES, MAX_LINE_CHARS = 16, 300

def histories_digest(root: str | Path) -> str:
    """SHA-256 over the quoted variants' history files under ``root``, names included (a
    missing or unreadable file counts as absent, so adding one changes the digest)."""
    h = hashlib.sha256()
    for variant in QUOTED:
        h.update(variant.encode() + b"\0")
        try:
            h.update(b"1" + (Path(root) / variant / HISTORY_NAME).read_bytes())
        except OSError:
            h.update(b"0")
        h.update(b"\0")
    return h.hexdigest()


def stored_lines(root: str | Path, digest: str | None = None) -> tuple[str, ...] | None:
    """The lines stored in ``<root>/remedies.json`` if they were computed from the history
    files now under ``root`` (``digest``: their :func:`histories_digest`, when the caller
    has it); ``None`` when the file is missing, malformed, too large or stale. Only comment
    lines of plain text are taken (the file is data, never code)."""
    path = Path(root) / REMEDIES_NAME
    try:
        if path.stat().st_size > MAX_STORED_BYTES:
            return None
        stored = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return None
    if not isinstance(stored, dict) or stored.get("histories_sha256") != (
            digest or histories_digest(root)):
        return None
    lines = stored.get("lines")
    if not isinstance(lines, list) or len(lines) > MAX_LINES or not all(
            isinstance(line, str) and line.startswith("#") and len(line) <= MAX_LINE_CHARS
            and line.isprintable() for line in lines):
        return None
    return tuple(lines)


#: The lines given so far, per folder and histories' digest: an audit asks once per
#: offending layer, and a folder's histories read the same until they change.
_LINES: dict[tuple[str, str], tuple[str, ...]] = {}


def remedy_lines(root: str | Path | None = None) -> tuple[str, ...]:
    """Comment lines for the audit's fix code, from ``root``'s histories (default: the
    shipped ones): the stored lines when current (:func:`stored_lines`), else computed
    (:func:`core.experiment.front.computed_remedy_lines`); remembered per folder and
    histories' digest. Empty when the histories are missing or unreadable: the audit then
    quotes nothing."""
    folder = Path(root) if root is not None else SHIPPED
    digest = histories_digest(folder)
    key = (str(folder.resolve()), digest)
    if key not in _LINES:
        lines = stored_lines(folder, digest)
        if lines is None:
            from .front import computed_remedy_lines  # pandas: only when nothing is stored

            lines = computed_remedy_lines(str(folder))
        _LINES[key] = lines
    return _LINES[key]


def store_remedy_lines(root: str | Path) -> Path:
    """Compute ``root``'s lines and store them in ``<root>/remedies.json`` (atomically);
    returns the file's path."""
    from ..io.files import atomic_write_bytes
    from .front import computed_remedy_lines

    path = Path(root) / REMEDIES_NAME
    record = {"about": "the audit's measured lines (core.experiment.remedies); written by "
                       "python -m core.experiment.remedies ROOT",
              "histories_sha256": histories_digest(root),
              "lines": list(computed_remedy_lines(str(root)))}
    atomic_write_bytes(path, (json.dumps(record, indent=1, ensure_ascii=False) + "\n").encode())
    return path


def main(argv: list[str] | None = None) -> int:
    """``python -m core.experiment.remedies [ROOT]``: store ROOT's measured lines (default
    ``checkpoints``) in ``ROOT/remedies.json``."""
    from ..io.text import plain

    args = sys.argv[1:] if argv is None else argv
    if len(args) > 1 or any(a.startswith("-") for a in args):
        print("usage: python -m core.experiment.remedies [ROOT]", file=sys.stderr)
        return 2
    root = Path(args[0] if args else "checkpoints")
    if not root.is_dir():
        print(f"error: not a folder: {plain(str(root))}", file=sys.stderr)
        return 2
    path = store_remedy_lines(root)
    lines = stored_lines(root) or ()
    print(f"wrote {plain(str(path))}: {len(lines)} lines")
    return 0


if __name__ == "__main__":
    sys.exit(main())
