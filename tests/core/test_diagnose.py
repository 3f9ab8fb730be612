"""core.diagnose: the lattice test finds grids of every period and shape, and calls
nothing else one (photographs, JPEGs, interpolation, off-lattice texture, noise)."""

from __future__ import annotations

import io
import math

import numpy as np
import pytest
from PIL import Image

from benchmarks.diagnose import add_grid
from core.diagnose import MIN_GRID_LEVELS, Diagnosis, diagnose
from core.diagnose.compression import jpeg_blocks
from core.diagnose.lattice import detail, dft_at, find_grid, lattice_dft, lattice_frequencies
from core.diagnose.meaning import layers_for, meaning
from core.io.decode import ImageLoadError, load_image_bytes
from core.io.photos import read_rgb, skimage_data_dir


def photo(name: str = "astronaut", size: int = 256, top: int = 61, left: int = 97) -> np.ndarray:
    """A crop of a packaged photograph (uint8), at an odd offset."""
    img = read_rgb(skimage_data_dir() / f"{name}.png")
    return np.ascontiguousarray(img[top:top + size, left:left + size])


def with_grid(img: np.ndarray, rows: int, cols: int, levels: float, *, seed: int = 0,
              multiply: bool = False) -> np.ndarray:
    """``img`` with a random ``rows x cols`` grid of RMS ``levels`` grey levels, made by the
    evaluation set's own generator (benchmarks/diagnose.py) from ``seed``."""
    return add_grid(img, rows, cols, levels, multiply, np.random.default_rng(seed))


def jpeg(img: np.ndarray, quality: int) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, "JPEG", quality=quality)
    return buf.getvalue()


@pytest.mark.parametrize("rows, cols", [(2, 2), (3, 3), (4, 4), (8, 8), (16, 16), (2, 4),
                                        (4, 1), (1, 2), (6, 6)])
def test_a_one_grey_level_grid_is_found_with_its_period(rows, cols):
    result = diagnose(with_grid(photo(), rows, cols, 1.0, seed=rows * 7 + cols))
    assert result.grid and result.period == (rows, cols)
    assert 0.6 < result.grey_levels < 1.5  # the amplitude, the photograph's own taken away
    assert result.times_own > 1.05  # power on its frequencies over the photograph's own


@pytest.mark.parametrize("name", ["chelsea", "coffee", "motorcycle_left"])
def test_multiplied_grids_and_odd_crops_are_found(name):
    img = with_grid(photo(name, size=201, top=33, left=3), 4, 4, 2.0, multiply=True)
    result = diagnose(img)
    assert result.period == (4, 4)
    shifted = diagnose(img[1:, 3:])  # the grid's phase moves, its frequencies do not
    assert shifted.period == (4, 4)
    assert not np.allclose(shifted.pattern, result.pattern)


@pytest.mark.parametrize("name", ["astronaut", "chelsea", "coffee", "motorcycle_left"])
def test_clean_photographs_png_and_jpeg_have_no_grid(name):
    img = photo(name, size=300)
    assert not diagnose(img).grid
    for quality in (50, 75, 95):
        result = diagnose(jpeg(img, quality))
        assert not result.grid, (quality, result.sentence())
        assert result.jpeg_blocks and "JPEG" in result.sentence()


def test_interpolation_upscaling_is_rarely_a_grid():
    """Bilinear, bicubic and Lanczos upscaling x2 and x4 of four photographs (24 pictures):
    interpolation with equal phase gains puts no power on the lattice. At most one may be
    called a grid: upscaling also quiets the spectrum around a photograph's own faint
    periodic content (a stripe a little off an integer period, beyond the frequency
    resolution of the lock test), which is then significant (benchmarks/diagnose.py
    measures the rate on 66 such pictures)."""
    called = []
    for name in ("chelsea", "coffee", "astronaut", "motorcycle_left"):
        im = Image.fromarray(photo(name, size=160))
        for factor in (2, 4):
            for method in (Image.Resampling.BILINEAR, Image.Resampling.BICUBIC,
                           Image.Resampling.LANCZOS):
                up = np.asarray(im.resize((im.width * factor, im.height * factor), method))
                result = diagnose(up[1:, 2:])
                if result.grid:
                    called.append((name, factor, method, result.period))
    assert len(called) <= 1, called


def test_a_period_8_grid_in_a_jpeg_is_still_found():
    img = with_grid(photo("coffee", size=320), 8, 8, 3.0, seed=5)
    result = diagnose(jpeg(img, 85))
    assert result.jpeg_blocks and result.grid and result.period == (8, 8)
    assert "not the JPEG's own blocks" in result.sentence()


def test_jpeg_blocks_are_recognised_from_the_pixels_and_a_period_4_grid_is_not_blocks():
    img = photo("chelsea", size=300)
    decoded = np.asarray(Image.open(io.BytesIO(jpeg(img, 75))).convert("RGB")) / 255.0
    assert jpeg_blocks(detail(decoded)).found  # no file format given: the pixels say it
    assert not jpeg_blocks(detail(img / 255.0)).found
    gridded = with_grid(img, 4, 4, 4.0) / 255.0  # steps repeat every 4: two equal peaks in 8
    assert not jpeg_blocks(detail(gridded)).found
    assert diagnose(decoded).jpeg_blocks and not diagnose(decoded).jpeg_from_file


def test_texture_off_the_lattice_is_not_a_grid():
    """A strong pattern at period 4.1 (not an integer): significant near 1/4, but it peaks
    off the lattice, so the lock test refuses it."""
    y, x = np.mgrid[:256, :256]
    img = 0.5 + 0.02 * np.sin(2 * np.pi * x / 4.1)
    img = img + np.random.default_rng(3).normal(0, 0.01, img.shape)
    assert find_grid(img).first.log10_p.min() < -2  # significant near 1/4 and 7/29...
    assert not diagnose(img).grid
    both = (0.5 + 0.02 * np.sin(2 * np.pi * y / 4.1) + 0.01 * np.sin(2 * np.pi * x / 4.0)
            + np.random.default_rng(3).normal(0, 0.01, img.shape))
    assert diagnose(both).period == (1, 4)  # the locked one found, the texture left out


def test_noise_pictures_hold_the_false_positive_rate():
    """60 pictures of coloured noise (no grid): at a family-wise rate of 1 % per picture,
    more than 3 alarms would be far outside chance (P < 0.003)."""
    rng = np.random.default_rng(11)
    alarms = 0
    for _ in range(60):
        noise = rng.normal(0, 1, (128, 160))
        smooth = noise + 0.8 * np.roll(noise, 1, axis=0) + 0.5 * np.roll(noise, 1, axis=1)
        finding = find_grid(0.5 + 0.05 * smooth)
        alarms += finding.periods is not None
    assert alarms <= 3


def test_a_grid_below_the_floor_is_significant_but_not_called_a_grid():
    """Half the floor: the test finds it, the verdict does not call it a network's grid
    (8-bit rounding makes patterns that weak); twice the floor: a grid."""
    from scipy.ndimage import gaussian_filter

    y, x = np.mgrid[:300, :300]
    smooth = gaussian_filter(photo("coffee", size=300, top=50).mean(axis=2) / 255.0, 2.0)
    checker = ((x + y) % 2 * 2 - 1).astype(np.float64)
    weak = diagnose(smooth + checker * MIN_GRID_LEVELS / 2 / 255)
    assert find_grid(smooth + checker * MIN_GRID_LEVELS / 2 / 255).periods == (2, 2)
    assert not weak.grid and weak.log10_p < math.log10(weak.alpha)
    assert "weaker than 8-bit" in weak.sentence()
    strong = diagnose(smooth + checker * MIN_GRID_LEVELS * 2 / 255)
    assert strong.grid and strong.period == (2, 2)


def test_the_folded_dft_is_the_dft():
    d = np.random.default_rng(0).normal(size=(67, 93))
    fy, py, fx, px, *_ = lattice_frequencies(8, 67, 93)
    assert np.allclose(lattice_dft(d, fy, py, fx, px), dft_at(d, fy, fx), rtol=1e-4,
                       atol=1e-3)


def test_inputs_arrays_bytes_paths_and_their_limits(tmp_path):
    img = with_grid(photo(size=64), 2, 2, 4.0)
    as_float = diagnose(img / 255.0)
    assert diagnose(img).period == as_float.period == (2, 2)
    assert diagnose(img.mean(axis=2)).period == (2, 2)  # greyscale (H, W)
    path = tmp_path / "x.png"
    Image.fromarray(img).save(path)
    from_path = diagnose(path)
    assert from_path.file == str(path) and from_path.period == (2, 2)
    assert diagnose(path.read_bytes(), name="y.png").file == "y.png"
    diagnose(img[:32, :32])  # the smallest accepted
    with pytest.raises(ImageLoadError, match="too small"):
        diagnose(img[:31, :40])
    with pytest.raises(ImageLoadError, match="finite"):
        diagnose(np.full((40, 40), np.nan))
    with pytest.raises(ImageLoadError):
        diagnose(b"not an image at all")


def test_large_pictures_are_cropped_never_resampled():
    from scipy.ndimage import gaussian_filter

    field = gaussian_filter(np.random.default_rng(4).normal(size=(2304, 2560)), 3.0)
    field = np.clip(128 + 60 * field / field.std(), 0, 255).astype(np.uint8)
    big = with_grid(np.repeat(field[:, :, None], 3, axis=2), 4, 4, 3.0)  # 2304 x 2560
    data = io.BytesIO()
    Image.fromarray(big).save(data, "PNG")
    loaded = load_image_bytes(data.getvalue(), max_side=2048, fit="crop")
    assert loaded.pixels.shape[:2] == (2048, 2048)
    assert any("cropped" in n for n in loaded.notices)
    result = diagnose(data.getvalue())
    assert result.size == (2048, 2048) and result.period == (4, 4)
    downscaled = load_image_bytes(data.getvalue(), max_side=2048)  # the other pages' way
    assert downscaled.pixels.shape[:2] != (2048, 2048)


def test_the_record_and_the_sentence():
    result = diagnose(with_grid(photo(), 2, 4, 2.0))
    assert isinstance(result, Diagnosis)
    record = result.record()
    assert record["grid"] is True and record["period"] == [2, 4]
    assert {"file", "grid", "period", "score", "times_own", "jpeg_blocks"} <= set(record)
    assert record["score"] == pytest.approx(result.score * 1000, rel=1e-3)
    assert "period 2 x 4" in result.sentence()
    assert len(result.rows_evidence) == len(result.cols_evidence) == 31
    assert min(result.rows_evidence[0], result.cols_evidence[2]) < -2  # rows 2, columns 4
    clean = diagnose(photo("coffee")).record()
    assert clean["grid"] is False and clean["period"] is None


def test_meaning_in_words():
    assert layers_for(2) == "the last upsampler, stride 2"
    assert layers_for(4).startswith("the last two upsamplers, stride 2 each")
    assert layers_for(6) == "the last two upsamplers, strides 2 and 3 (in some order)"
    assert "Period 4 in both directions" in meaning((4, 4))
    assert "earliest" in meaning((4, 4)) and "earliest" not in meaning((2, 2))
    assert "down the rows only" in meaning((4, 1))
    assert "2 down the rows and 4 across" in meaning((2, 4))


# --------------------------------------------------------------------------- batch and CLI


def _write(folder, name: str, img: np.ndarray) -> None:
    Image.fromarray(img).save(folder / name)


def test_the_folder_verdict_needs_the_same_period_and_pattern():
    from core.diagnose.batch import FolderTally

    same, mixed = FolderTally(), FolderTally()
    for k in range(4):
        same.add(diagnose(with_grid(photo(top=40 + 20 * k, size=128), 4, 4, 3.0, seed=1)))
        mixed.add(diagnose(with_grid(photo(top=40 + 20 * k, size=128), 4, 4, 3.0, seed=k)))
    same.add(diagnose(photo("coffee", size=128)))
    assert same.verdict().network_grid and same.verdict().period == (4, 4)
    assert same.verdict().share == pytest.approx(0.8) and same.verdict().agreement > 0.9
    assert not mixed.verdict().network_grid  # four different patterns: not one stamp
    assert "differs" in mixed.verdict().sentence()


def test_the_command_line(tmp_path, capsys):
    import json
    import zipfile

    from core.diagnose.cli import main

    folder = tmp_path / "outs"
    folder.mkdir()
    for k in range(3):
        _write(folder, f"out{k}.png", with_grid(photo(top=40 + 20 * k, size=96), 2, 2, 3.0))
    (folder / "readme.txt").write_text("not a picture")
    with zipfile.ZipFile(tmp_path / "more.zip", "w") as zf:
        zf.writestr("x/clean.png", _png(photo("coffee", size=96)))
        zf.writestr("x/=cmd.png", _png(photo("chelsea", size=96)))
    out_json, out_csv = tmp_path / "r.json", tmp_path / "r.csv"
    code = main([str(folder), str(tmp_path / "more.zip"), "--json", str(out_json),
                 "--csv", str(out_csv), "--fail-on", "grid"])
    captured = capsys.readouterr()
    assert code == 1  # a grid, and --fail-on grid
    assert "readme.txt: skipped" in captured.err and "Traceback" not in captured.err
    report = json.loads(out_json.read_text())
    assert set(report) == {"images", "folder"} and len(report["images"]) == 5
    assert [r["grid"] for r in report["images"]][:3] == [True, True, True]
    assert report["images"][0]["period"] == [2, 2]
    assert report["folder"]["period"] == [2, 2] and report["folder"]["network_grid"]
    rows = out_csv.read_text().splitlines()
    assert rows[0].startswith("file,grid,period") and len(rows) == 6
    from core.diagnose.batch import to_csv

    assert to_csv([{"file": "=HYPERLINK(1)", "period": None}]).splitlines()[1].startswith("'=")
    assert main([str(folder)]) == 0  # no --fail-on: 0 even with a grid
    assert main([str(tmp_path / "missing")]) == 2
    assert main([str(folder / "readme.txt")]) == 2  # nothing to diagnose
    assert main([str(folder), "--jobs", "0"]) == 2
    err = capsys.readouterr().err
    assert "no such file or folder" in err and "--jobs must be" in err
    (tmp_path / "broken.zip").write_bytes(b"PK\x03\x04 broken")
    assert main([str(tmp_path / "broken.zip")]) == 2
    assert "zip archive cannot be read" in capsys.readouterr().err


def test_jobs_give_the_same_records_in_the_same_order(tmp_path, capsys):
    import json

    from core.diagnose.cli import main

    folder = tmp_path / "pics"
    folder.mkdir()
    for k in range(5):
        _write(folder, f"p{k}.png", with_grid(photo(top=30 + 15 * k, size=80), 2, 4, 2.0))
    main([str(folder), "--json", str(tmp_path / "one.json")])
    main([str(folder), "--json", str(tmp_path / "two.json"), "--jobs", "2"])
    capsys.readouterr()
    one = json.loads((tmp_path / "one.json").read_text())
    two = json.loads((tmp_path / "two.json").read_text())
    assert one == two and len(one["images"]) == 5


def _png(img: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, "PNG")
    return buf.getvalue()
