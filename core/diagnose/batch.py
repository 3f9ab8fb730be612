"""Many pictures at once: files, folders and zips, each diagnosed, then the folder's verdict.

Pictures are read one at a time (a folder is listed, a zip's members are opened one by
one, each at most the decoder's byte limit), diagnosed, and reduced to a small record and
a running tally, so a folder of 10,000 images runs in bounded memory: nothing grows with
the number of images but the list of names (and, on the command line, the JSON written
as it goes). With ``jobs > 1`` at most ``2 * jobs`` pictures are in flight.

The folder's verdict: a network stamps the same grid on everything it makes, so a grid
with the same period in most images (more than half of those diagnosed) and the same
phase pattern (the patterns, each scaled to unit length, averaging to a vector at least
:data:`AGREEMENT` long: 1 when all are equal, about ``1/sqrt(n)`` for unrelated ones) is
the network's.
"""

from __future__ import annotations

import csv
import io
import zipfile
import zlib
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..io.decode import DEFAULT_MAX_BYTES, ImageLoadError
from ..io.photos import MAX_FOLDER_ENTRIES, find_images
from ..io.text import safe_text
from .diagnosis import diagnose
from .result import Diagnosis

#: Most members a zip may hold (folders inside it included).
MAX_ZIP_MEMBERS = MAX_FOLDER_ENTRIES
#: The mean unit phase pattern must be at least this long for "the same pattern" (four
#: unrelated random patterns average to about 0.5).
AGREEMENT = 0.7
#: Record fields in the CSV, in order.
CSV_FIELDS = ("file", "grid", "period", "score", "times_own", "grey_levels", "jpeg_blocks",
              "log10_p", "size", "verdict")
_ZIP_ERRORS = (zipfile.BadZipFile, RuntimeError, NotImplementedError, zlib.error, OSError,
               EOFError, ValueError)


class InputError(ValueError):
    """A path given cannot be read at all (missing, unreadable, a broken zip): one line."""


@dataclass(frozen=True)
class Picture:
    """One picture to diagnose: its name as shown, and a path or the bytes of a file."""

    name: str
    source: str | bytes


@dataclass(frozen=True)
class Skipped:
    """A file that is not a picture the lab can diagnose, and why (one line)."""

    name: str
    reason: str

    def line(self) -> str:
        return f"{safe_text(self.name)}: skipped, {safe_text(self.reason)}"


def _is_zip(path: Path) -> bool:
    try:
        with open(path, "rb") as fh:
            return fh.read(4) == b"PK\x03\x04"
    except OSError:
        return False


def zip_pictures(archive_bytes_or_path, shown: str) -> Iterator[Picture | Skipped]:
    """The members of a zip (its bytes, or a path to it), one at a time, each a
    :class:`Picture` (bytes) or a :class:`Skipped`; :class:`InputError` when the archive
    cannot be read or holds more than :data:`MAX_ZIP_MEMBERS` entries."""
    source = io.BytesIO(archive_bytes_or_path) if isinstance(archive_bytes_or_path, bytes) \
        else archive_bytes_or_path
    try:
        archive = zipfile.ZipFile(source)
        infos = archive.infolist()
    except _ZIP_ERRORS as err:
        raise InputError(f"{shown}: the zip archive cannot be read ({safe_text(err)})") from None
    if len(infos) > MAX_ZIP_MEMBERS:
        raise InputError(f"{shown}: the zip holds {len(infos):,} entries, over the "
                         f"{MAX_ZIP_MEMBERS:,} allowed")
    with archive:
        for info in sorted(infos, key=lambda i: i.filename):
            if info.is_dir():
                continue
            name = f"{shown}/{info.filename}"
            if info.file_size > DEFAULT_MAX_BYTES:
                yield Skipped(name, f"{info.file_size / 2**20:.0f} MiB unpacked, over the "
                                    f"{DEFAULT_MAX_BYTES / 2**20:.0f} MiB limit")
                continue
            try:
                with archive.open(info) as fh:
                    data = fh.read(DEFAULT_MAX_BYTES + 1)
            except _ZIP_ERRORS as err:
                yield Skipped(name, f"cannot be unpacked ({err})")
                continue
            yield Picture(name, data)


def iter_pictures(paths: Iterable[str | Path]) -> Iterator[Picture | Skipped]:
    """Every picture under ``paths`` (files, folders walked recursively, zips), in order,
    one at a time. A path that does not exist or cannot be listed raises
    :class:`InputError` (when it is reached)."""
    for raw in paths:
        path = Path(raw)
        shown = safe_text(raw)
        try:
            is_dir, is_file = path.is_dir(), path.is_file()
        except OSError as err:
            raise InputError(f"{shown}: cannot be read ({err.strerror or err})") from None
        if is_dir:
            try:
                files = find_images(path, suffixes=None)
            except ValueError as err:
                raise InputError(str(err)) from None
            for f in files:
                if f.suffix.lower() == ".zip" and _is_zip(f):
                    yield from zip_pictures(str(f), safe_text(f))
                else:
                    yield Picture(str(f), str(f))
        elif is_file:
            if _is_zip(path):
                yield from zip_pictures(str(path), shown)
            else:
                yield Picture(str(path), str(path))
        else:
            raise InputError(f"{shown}: no such file or folder")


def diagnose_picture(picture: Picture) -> Diagnosis | Skipped:
    """One picture's diagnosis, or why it was skipped (never an exception for bad files)."""
    try:
        return diagnose(picture.source, name=picture.name)
    except ImageLoadError as err:
        return Skipped(picture.name, str(err))
    except (ValueError, OSError, MemoryError) as err:
        return Skipped(picture.name, f"cannot be diagnosed ({err})")


def run_pictures(items: Iterable[Picture | Skipped], *, jobs: int = 1
                 ) -> Iterator[Diagnosis | Skipped]:
    """Diagnose ``items`` in order, ``jobs`` processes at once (at most ``2 * jobs`` in
    flight, so memory stays bounded whatever the count)."""
    if jobs <= 1:
        for item in items:
            yield item if isinstance(item, Skipped) else diagnose_picture(item)
        return
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(max_workers=jobs) as pool:
        pending: deque = deque()
        for item in items:
            pending.append(item if isinstance(item, Skipped) else
                           pool.submit(diagnose_picture, item))
            while len(pending) >= 2 * jobs:
                head = pending.popleft()
                yield head if isinstance(head, Skipped) else head.result()
        while pending:
            head = pending.popleft()
            yield head if isinstance(head, Skipped) else head.result()


# --------------------------------------------------------------------------- the verdict


@dataclass(frozen=True)
class FolderVerdict:
    """What a set of pictures says together.

    ``images``: diagnosed; ``skipped``: not pictures; ``with_grid``: with a grid;
    ``period``: the most common grid period, or None; ``share``: the fraction of the
    diagnosed images with that period; ``agreement``: how alike their phase patterns are
    (module docstring); ``network_grid``: the verdict, a grid of the network's;
    ``jpeg``: pictures with JPEG blocks.
    """

    images: int
    skipped: int
    with_grid: int
    period: tuple[int, int] | None
    share: float
    agreement: float
    network_grid: bool
    jpeg: int

    def sentence(self) -> str:
        """The folder's verdict in one sentence."""
        if self.images == 0:
            return "No picture could be diagnosed."
        if self.network_grid and self.period is not None:
            rows, cols = self.period
            where = f"period {rows}" if rows == cols else f"period {rows} x {cols}"
            return (f"The network's grid: {where} in {self.share:.0%} of the {self.images} "
                    f"pictures, with the same phase pattern (agreement {self.agreement:.2f}).")
        if self.with_grid == 0:
            return f"No grid in any of the {self.images} pictures."
        if self.period is not None and self.share > 0.5:
            return (f"A period-{self.period[0]} grid in {self.share:.0%} of the pictures, but "
                    f"its phase pattern differs from picture to picture (agreement "
                    f"{self.agreement:.2f}): not one network's fixed stamp.")
        return (f"A grid in {self.with_grid} of the {self.images} pictures: too few, or too "
                f"varied, to be the network's.")

    def record(self) -> dict:
        """The ``"folder"`` part of the command line's JSON."""
        return {"images": self.images, "skipped": self.skipped, "with_grid": self.with_grid,
                "period": list(self.period) if self.period else None,
                "share": round(self.share, 4), "agreement": round(self.agreement, 4),
                "network_grid": self.network_grid, "jpeg": self.jpeg,
                "verdict": self.sentence()}


@dataclass
class FolderTally:
    """The folder's verdict, kept up to date one diagnosis at a time (constant memory per
    distinct period: a count and a sum of unit phase patterns)."""

    images: int = 0
    skipped: int = 0
    with_grid: int = 0
    jpeg: int = 0
    counts: dict[tuple[int, int], int] = field(default_factory=dict)
    sums: dict[tuple[int, int], np.ndarray] = field(default_factory=dict)

    def add(self, result: Diagnosis | Skipped) -> None:
        if isinstance(result, Skipped):
            self.skipped += 1
            return
        self.images += 1
        self.jpeg += int(result.jpeg_blocks)
        if not result.grid or result.period is None:
            return
        self.with_grid += 1
        key = tuple(result.period)
        self.counts[key] = self.counts.get(key, 0) + 1
        if result.pattern is not None:
            unit = np.asarray(result.pattern, dtype=np.float64).ravel()
            norm = float(np.linalg.norm(unit))
            if norm > 0:
                self.sums[key] = self.sums.get(key, 0.0) + unit / norm

    def verdict(self) -> FolderVerdict:
        if not self.counts:
            return FolderVerdict(self.images, self.skipped, 0, None, 0.0, 0.0, False, self.jpeg)
        key = max(self.counts, key=lambda k: (self.counts[k], -k[0] * k[1]))
        count = self.counts[key]
        share = count / self.images
        total = self.sums.get(key)
        agreement = float(np.linalg.norm(total)) / count if total is not None else 0.0
        network = share > 0.5 and (agreement >= AGREEMENT or count == 1)
        return FolderVerdict(self.images, self.skipped, self.with_grid, key, share, agreement,
                             network, self.jpeg)


def diagnose_all(paths: Iterable[str | Path], *, jobs: int = 1,
                 on_result: Callable[[Diagnosis | Skipped], None] | None = None
                 ) -> FolderVerdict:
    """Diagnose every picture under ``paths``; ``on_result`` sees each result in order
    (the command line prints and writes it; nothing is kept here). Returns the verdict."""
    tally = FolderTally()
    for result in run_pictures(iter_pictures(paths), jobs=jobs):
        tally.add(result)
        if on_result is not None:
            on_result(result)
    return tally.verdict()


def csv_row(record: dict) -> dict:
    """A record as a CSV row (the period as ``4x4``, the size as ``HxW``)."""
    row = {k: record.get(k) for k in CSV_FIELDS}
    row["period"] = "x".join(str(v) for v in record["period"]) if record.get("period") else ""
    row["size"] = "x".join(str(v) for v in record.get("size") or ())
    name = str(row["file"] or "")
    if name[:1] in ("=", "+", "-", "@", "\t", "\r"):  # a spreadsheet would run it as a formula
        row["file"] = "'" + name
    return row


def to_csv(records: Iterable[dict]) -> str:
    """The per-image table as CSV text (the page's download; the command line writes the
    same rows)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    for record in records:
        writer.writerow(csv_row(record))
    return out.getvalue()
