"""core.experiment.front: the Pareto front, the points read from histories, the answer's words."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from core.experiment.front import answer, front_points, on_front, variant_costs


def test_on_front_is_the_pareto_set_of_sharper_and_cleaner():
    psnr = np.array([30.0, 28.0, 31.0, 27.0, 31.0])
    score = np.array([1.0, 0.5, 2.0, 0.6, 2.0])
    # 3 is beaten by 1 (sharper and cleaner); 4 ties 2 exactly (neither beats the other)
    assert on_front(psnr, score).tolist() == [True, True, True, False, True]


def _hist(rows):
    return pd.DataFrame(rows, columns=["variant", "epoch", "val_psnr", "checkerboard",
                                       "unseen_psnr", "unseen_checkerboard"])


HIST = _hist([
    ("deconv3", 1, 20.0, 4e-3, 18.0, 5e-3), ("deconv3", 10, 30.0, 2e-3, 25.0, 3e-3),
    ("resize_nearest", 1, 18.0, 0.5e-3, 17.0, 0.4e-3), ("resize_nearest", 10, 27.0, 0.6e-3,
                                                        22.0, 0.7e-3),
    ("deconv_zoh", 1, 19.0, 0.4e-3, 17.5, 0.5e-3), ("deconv_zoh", 10, 29.0, 0.5e-3, 24.0, 0.6e-3),
    ("deconv_zoh", 5, 99.0, 0.0, 99.0, 0.0),  # not a requested epoch
])


def test_points_read_the_requested_epochs_in_units_of_1e_minus_3():
    pts = front_points(HIST, (1, 10), "held-out")
    assert sorted(set(pts["epoch"])) == [1, 10] and len(pts) == 6
    row = pts[(pts["variant"] == "deconv3") & (pts["epoch"] == 10)].iloc[0]
    assert row["psnr"] == 30.0 and row["score"] == pytest.approx(2.0)
    unseen = front_points(HIST, (10,), "unseen")
    assert unseen.set_index("variant").loc["resize_nearest", "psnr"] == 22.0
    with pytest.raises(ValueError):
        front_points(HIST, (1,), "training")


def test_the_answer_names_the_front_and_the_post_fixs_cost_from_the_data():
    pts = front_points(HIST, (1, 10), "held-out")
    a = answer(pts, 10)
    # epoch 10: deconv_zoh (29 dB, 0.5) beats resize_nearest (27, 0.6); deconv3 sharpest
    assert a.front == ("deconv3", "deconv_zoh")
    assert a.post_cost_db == pytest.approx(3.0) and a.post_score_ratio == pytest.approx(0.3)
    assert a.favoured == "deconv_zoh" and a.favoured_psnr_gain_db == pytest.approx(2.0)
    words = " ".join(a.sentences())
    assert "gives up 3.0 dB" in words and "3.3 times less checkerboard" in words
    assert "`deconv_zoh` is the sharpest at least as clean as" in words and "+2.0 dB" in words


def test_a_missing_variant_leaves_the_numbers_unmeasured_not_invented():
    pts = front_points(HIST[HIST["variant"] != "resize_nearest"], (10,), "held-out")
    a = answer(pts, 10)
    assert math.isnan(a.post_cost_db) and a.favoured is None
    assert "post's fix" not in " ".join(a.sentences())
    assert front_points(pd.DataFrame(), (1,)).empty


def test_costs_count_the_network_and_read_the_stored_time():
    bench = {"rows": [{"shape": {"N": 1, "C_in": 8, "C_out": 4, "H": 16, "W": 16},
                       "name": "deconv_zoh", "upsampler": "deconv_zoh", "forward_ms": 1.5},
                      {"shape": {"N": 1, "C_in": 8, "C_out": 4, "H": 16, "W": 16},
                       "name": "fused_resize", "upsampler": "fused_resize", "forward_ms": 2.0},
                      {"shape": {"N": 1, "C_in": 8, "C_out": 4, "H": 16, "W": 16},
                       "name": "fused_resize", "upsampler": "fused_resize[folded]",
                       "forward_ms": 9.0}]}
    costs = variant_costs(["deconv_zoh", "deconv3", "resize_nearest", "nonexistent"], bench)
    assert list(costs.index) == ["deconv_zoh", "deconv3", "resize_nearest"]
    # resize_nearest runs through the fused layer's default (auto) row, not a method's row
    assert costs.loc["resize_nearest", "upsampler forward (ms)"] == 2.0
    assert costs.loc["deconv_zoh", "upsampler forward (ms)"] == 1.5
    assert math.isnan(costs.loc["deconv3", "upsampler forward (ms)"])
    # the hold adds its depthwise smoothing to the transposed convolution's multiply-adds
    assert costs.loc["deconv_zoh", "upsampler MACs (M)"] > costs.loc["deconv3", "upsampler MACs (M)"]
    assert costs.loc["deconv_zoh", "network parameters"] == costs.loc["deconv3", "network parameters"]


def test_the_audit_quotes_the_shipped_measurements_and_the_favoured_remedy(tmp_path):
    """The fix suggestion of a transposed convolution carries the shipped experiment's
    figures, computed from its histories (the same numbers as the front), and nothing when
    the histories are absent."""
    from core.audit.analysis import remedy_evidence
    from core.experiment.history import read_histories
    from core.experiment.remedies import SHIPPED, remedy_lines

    lines = remedy_lines()
    assert lines and remedy_evidence()[1:] == list(lines)
    hist = read_histories(SHIPPED)
    last = int(hist["epoch"].max())
    points = front_points(hist[hist["variant"].isin(
        ["deconv3", "resize_nearest", "deconv_zoh", "deconv_foh", "subpixel_icnr_blur"])],
        (10, last))
    favoured = answer(points, last).favoured
    assert favoured and f"The data favours `{favoured}`" in lines[-1]
    psnr, score = points[(points["variant"] == "resize_nearest")
                         & (points["epoch"] == last)][["psnr", "score"]].iloc[0]
    assert f"epoch {last}: {psnr:.1f} dB / {score:.2f}" in "\n".join(lines)
    assert remedy_lines(str(tmp_path)) == ()


# --------------------------------------------------------------------------- stored lines


def test_the_shipped_lines_are_stored_current_and_equal_to_the_computed_ones():
    """``checkpoints/remedies.json`` holds what the histories give now; when a history
    changes, this fails until ``python -m core.history checkpoints --remedies`` is run."""
    from core.experiment.front import computed_remedy_lines
    from core.experiment.remedies import SHIPPED, stored_lines

    stored = stored_lines(SHIPPED)
    assert stored is not None, "stale or missing: python -m core.experiment.remedies checkpoints"
    assert stored == computed_remedy_lines(str(SHIPPED))


def _shipped_copy(tmp_path):
    import shutil

    from core.experiment.remedies import QUOTED, REMEDIES_NAME, SHIPPED

    for variant in QUOTED:
        (tmp_path / variant).mkdir()
        shutil.copyfile(SHIPPED / variant / "history.csv", tmp_path / variant / "history.csv")
    shutil.copyfile(SHIPPED / REMEDIES_NAME, tmp_path / REMEDIES_NAME)
    return tmp_path


def test_stored_lines_are_used_only_while_the_histories_hash_the_same(tmp_path):
    from core.experiment.front import computed_remedy_lines
    from core.experiment.remedies import remedy_lines, store_remedy_lines, stored_lines

    root = _shipped_copy(tmp_path)
    assert stored_lines(root) == remedy_lines(root) == computed_remedy_lines(str(root))
    # one history retrained (its last epoch's PSNR changed): the stored lines are stale
    path = root / "deconv3" / "history.csv"
    rows = path.read_text().splitlines()
    last = rows[-1].split(",")
    header = rows[0].split(",")
    last[header.index("val_psnr")] = "12.5"
    path.write_text("\n".join([*rows[:-1], ",".join(last)]) + "\n")
    assert stored_lines(root) is None
    fresh = remedy_lines(root)  # computed from the files as they are now
    assert fresh == computed_remedy_lines(str(root)) and "12.5 dB" in "\n".join(fresh)
    store_remedy_lines(root)
    assert stored_lines(root) == fresh
    # a history removed changes the digest too
    (root / "deconv_zoh" / "history.csv").unlink()
    assert stored_lines(root) is None


@pytest.mark.parametrize("tamper", ["code line", "newline", "control", "not a list", "large",
                                    "not json"])
def test_a_stored_file_is_data_never_code(tmp_path, tamper):
    """Only ``#`` comment lines of printable text, from a small well-formed file, are taken;
    anything else is ignored and the lines are computed."""
    import json

    from core.experiment.front import computed_remedy_lines
    from core.experiment.remedies import REMEDIES_NAME, remedy_lines, stored_lines

    root = _shipped_copy(tmp_path)
    path = root / REMEDIES_NAME
    record = json.loads(path.read_text())
    if tamper == "code line":
        record["lines"].append("import os; os.remove('x')")
    elif tamper == "newline":
        record["lines"][0] += "\nimport os"
    elif tamper == "control":
        record["lines"][0] += "\x1b[31m"
    elif tamper == "not a list":
        record["lines"] = "# one line"
    if tamper == "large":
        path.write_text(json.dumps(record) + " " * 70_000)
    elif tamper == "not json":
        path.write_bytes(b"\xff{")
    else:
        path.write_text(json.dumps(record))
    assert stored_lines(root) is None
    assert remedy_lines(root) == computed_remedy_lines(str(root))


def test_the_audits_measured_lines_do_not_import_pandas():
    """The cold command line's fix code quotes the shipped measurements from the stored
    lines: neither pandas nor numpy's pandas-side imports are paid for them."""
    import subprocess
    import sys

    from tests.conftest import ROOT

    code = ("import sys; from core.audit.analysis import remedy_evidence; "
            "lines = remedy_evidence(); print(len(lines), 'pandas' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, check=True, timeout=120).stdout.split()
    assert int(out[0]) > 2 and out[1] == "False", out
