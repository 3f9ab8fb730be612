"""Hostile files and folders through the library and the command lines (issue 20, third
round): names that are not UTF-8, FIFOs where a CSV should be, damaged histories, image
files that would take gigabytes, float images, flat data, and the text helpers every
message is built with. Each case failed before (a traceback, a hang, a wrong verdict).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import threading
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from core.experiment.catalog import build_catalog, folder_signature
from core.experiment.checkpoints import NOT_UTF8, list_checkpoints
from core.experiment.data import folder_source
from core.experiment.history import HISTORY_COLUMNS, read_histories
from core.experiment.history import main as history_main
from core.io.files import read_csv_file
from core.io.photos import find_images, read_rgb
from core.io.text import is_utf8, md_code, md_escape, plain, safe_text
from tests.conftest import forbid_pixel_decoding, make_checkpoints

ROOT = Path(__file__).resolve().parents[2]
#: Hostile strings for the text helpers: backticks, links, images, HTML, ANSI, controls.
NASTY = ["a`b", "``", "`", "x```y`", "[link](http://evil.example)", "![img](http://e/x.png)",
         "<script>alert(1)</script>", "\x1b[2J\x1b]0;title\x07clear", "line\n\nbreak",
         "tab\tand\x00nul", "\udcffname", "*bold* _it_ $x$ :red[r] :material/home:", ""]


def _bytes_path(root: Path, *parts: bytes) -> str:
    """A path whose components are raw bytes (not UTF-8), as the OS gives them."""
    return os.fsdecode(os.path.join(os.fsencode(root), *parts))


@pytest.fixture(scope="module")
def clean(tmp_path_factory) -> Path:
    return make_checkpoints(tmp_path_factory.mktemp("round3-clean"))


@pytest.fixture
def root(clean, tmp_path) -> Path:
    out = tmp_path / "checkpoints"
    shutil.copytree(clean, out)
    return out


def _with_non_utf8_names(root: Path) -> Path:
    """A copy of a good checkpoint under a non-UTF-8 file name, one in a non-UTF-8 folder,
    and a non-UTF-8 variant folder holding a history."""
    good = root / "deconv3" / "epoch_001.safetensors"
    shutil.copy(good, _bytes_path(root, b"deconv3", b"epoch_\xff01.safetensors"))
    os.mkdir(_bytes_path(root, b"dec\xffonv"))
    shutil.copy(good, _bytes_path(root, b"dec\xffonv", b"epoch_001.safetensors"))
    with open(_bytes_path(root, b"dec\xffonv", b"history.csv"), "w") as f:
        f.write("epoch,checkerboard\n0,0.1\n")
    return root


# ----------------------------------------------------------------------------- text


def test_md_code_cannot_be_left_and_md_escape_leaves_no_markup():
    for text in NASTY:
        code = md_code(text)
        fence = re.match(r"`+", code).group(0)
        inner = code[len(fence):-len(fence)]
        assert code.endswith(fence) and "\n" not in code and is_utf8(code)
        # no run of backticks inside as long as the fence: nothing can close it early
        assert all(len(run) < len(fence) for run in re.findall(r"`+", inner)), code
        escaped = md_escape(text)
        # every Markdown-active character is preceded by a backslash
        assert not re.search(r"(?<!\\)[`\[\]()<>*_$!:]", escaped.replace("\\\\", "")), escaped
        assert "\n" not in escaped and "\x1b" not in escaped and is_utf8(escaped)


def test_plain_strips_ansi_and_controls_and_safe_text_shows_the_bytes():
    assert plain("\x1b[2J\x1b]0;pwned\x07ok\x1b[31mred\x1b[0m") == "okred"
    assert plain("a\r\nb\x00c\u202ed") == "a bcd"
    assert safe_text("\udcffname") == "\\xffname" and is_utf8(safe_text("\ud800x"))
    assert len(plain("x" * 5000, 100)) == 100


# ----------------------------------------------------------------------------- names


def test_non_utf8_names_are_listed_as_broken_with_a_safe_name(root):
    _with_non_utf8_names(root)
    df = list_checkpoints(root)
    bad = df[~df["ok"]]
    assert len(bad) == 2 and all(NOT_UTF8 in e for e in bad["error"])
    assert any("\\xff" in p for p in bad["path"])
    for column in ("variant", "path", "error"):
        assert all(is_utf8(str(v)) for v in df[column])
    assert all(is_utf8(str(part)) for entry in folder_signature(root) for part in entry)
    hist = read_histories(root)
    assert any("not UTF-8" in p and "\\xff" in p for p in hist.attrs["problems"])
    catalog = build_catalog(root)  # what every page caches: every string encodes
    assert len(catalog.broken) == 2 and catalog.index


def test_history_command_line_with_non_utf8_names_prints_no_traceback(root):
    _with_non_utf8_names(root)
    proc = subprocess.run([sys.executable, "-m", "core.history", str(root)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONIOENCODING": "utf-8"})
    assert "Traceback" not in proc.stderr, proc.stderr[-2000:]
    assert proc.returncode in (0, 1) and "\\xff" in proc.stderr


# ----------------------------------------------------------------------------- histories


def _history(folder: Path, text: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "history.csv").write_text(text)


def test_history_with_text_in_a_number_column_is_refused_naming_row_and_column(tmp_path):
    _history(tmp_path / "deconv3", "epoch,stored,checkerboard\n0,True,0.1\n1,False,lots\n")
    _history(tmp_path / "resize_nearest", "epoch,stored,checkerboard\n0,True,0.01\n")
    hist = read_histories(tmp_path)
    problem = " ".join(hist.attrs["problems"])
    assert "row 3" in problem and "'checkerboard'" in problem and "'lots'" in problem


def test_history_without_imbalance_columns_reads_with_empty_ones(tmp_path, capsys):
    for v in ("deconv3", "resize_nearest"):
        _history(tmp_path / v, "epoch,stored,checkerboard,val_psnr\n0,True,0.1,20\n"
                               "1,True,0.05,22\n")
    hist = read_histories(tmp_path)
    assert set(HISTORY_COLUMNS) <= set(hist.columns) and hist["imbalance_up1"].isna().all()
    assert history_main([str(tmp_path)]) == 0  # the summary table, no KeyError
    assert "nan / nan" in capsys.readouterr().out


def test_history_command_line_on_text_in_numbers_exits_without_traceback(tmp_path):
    _history(tmp_path / "deconv3", "epoch,stored,imbalance_up1\n0,True,abc\n")
    proc = subprocess.run([sys.executable, "-m", "core.history", str(tmp_path)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert "Traceback" not in proc.stderr and proc.returncode == 1
    assert "not a number" in proc.stderr


# ----------------------------------------------------------------------------- FIFOs


def _within(seconds: float, fn):
    """``fn()``'s result or exception, failing the test if it takes over ``seconds``
    (a thread: a blocked open would otherwise hang the suite)."""
    box: dict = {}

    def call():
        try:
            box["value"] = fn()
        except Exception as exc:  # noqa: BLE001 - handed to the test
            box["error"] = exc

    t = threading.Thread(target=call, daemon=True)
    t.start()
    t.join(seconds)
    assert not t.is_alive(), f"blocked for more than {seconds} s"
    return box


@pytest.mark.parametrize("name", ["manifest.csv", "deconv3/history.csv"])
def test_a_fifo_named_like_a_csv_is_refused_not_waited_on(root, name):
    target = root / name
    target.unlink(missing_ok=True)
    os.mkfifo(target)
    box = _within(10, lambda: read_csv_file(target, what="table"))
    assert "not a regular file" in str(box.get("error"))
    box = _within(20, lambda: build_catalog(root))
    assert "value" in box, box.get("error")
    assert "not a regular file" in (box["value"].manifest_problem or "")


# ----------------------------------------------------------------------------- images


def test_read_rgb_refuses_a_huge_16_bit_png_from_its_header(tmp_path, monkeypatch):
    """Refused from the declared size: Pillow's decoding is forbidden, and this process's
    traced peak stays small. Time and memory of a fresh process are
    ``benchmarks/robustness.py``'s row "read_rgb: 12500x12500 16-bit PNG (refused from
    its header)"."""
    path = tmp_path / "big16.png"
    Image.new("I;16", (12500, 12500)).save(path)  # ~300 KB of zeros, 156 MP declared
    decoded = forbid_pixel_decoding(monkeypatch)
    tracemalloc.start()
    with pytest.raises(ValueError, match="12500x12500"):
        read_rgb(path)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert not decoded
    assert peak < 32 * 2**20, peak


def test_read_rgb_reads_a_float_tiff_in_the_unit_range_not_black(tmp_path):
    ramp = np.tile(np.linspace(0, 1, 64, dtype=np.float32), (48, 1))  # (48, 64)
    Image.fromarray(ramp, mode="F").save(tmp_path / "f.tif")
    rgb = read_rgb(tmp_path / "f.tif")
    assert rgb.shape == (48, 64, 3)
    assert np.abs(rgb[..., 0].astype(float) - ramp * 255).max() <= 1


def test_read_rgb_refuses_a_fifo(tmp_path):
    os.mkfifo(tmp_path / "pipe.png")
    box = _within(10, lambda: read_rgb(tmp_path / "pipe.png"))
    assert "not a regular file" in str(box.get("error"))


def test_find_images_refuses_an_unreadable_or_huge_folder(tmp_path):
    with pytest.raises(ValueError, match="cannot be read|more than"):
        find_images("/proc", max_entries=5_000)
    for i in range(12):
        (tmp_path / f"{i}.png").write_bytes(b"")
    with pytest.raises(ValueError, match="more than 10 files"):
        find_images(tmp_path, max_entries=10)


def test_training_refuses_a_folder_of_flat_images(tmp_path):
    for i in range(3):
        Image.fromarray(np.zeros((48, 48, 3), np.uint8)).save(tmp_path / f"black{i}.png")
    with pytest.raises(ValueError, match="flat"):
        folder_source(tmp_path, crop_size=32)


def test_float_tiffs_in_a_data_folder_are_not_flat(tmp_path):
    yy, xx = np.mgrid[0:48, 0:48] / 48.0
    for i in range(3):
        img = ((xx * (i + 1) + yy) % 1.0).astype(np.float32)
        Image.fromarray(img, mode="F").save(tmp_path / f"f{i}.tif")
    source = folder_source(tmp_path, crop_size=32, val_fraction=0.3)
    assert all(int(im.max()) - int(im.min()) > 100 for im in source.train.images)
    assert "flat" not in source.description.get("warning", "")


def test_data_folder_with_a_non_utf8_image_name_trains_on_it(tmp_path):
    yy, xx = np.mgrid[0:48, 0:48] / 48.0
    img = (np.stack([xx, yy, xx * yy], axis=2) * 255).astype(np.uint8)
    Image.fromarray(img).save(_bytes_path(tmp_path, b"\xffphoto.png"))
    Image.fromarray(img[::-1]).save(tmp_path / "other.png")
    source = folder_source(tmp_path, crop_size=32, val_fraction=0.0)
    assert len(source.train.images) == 2 and pd.notna(source.description["list_sha256"])
