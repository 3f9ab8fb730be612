"""The audit page's reference scores and measured fix say what they compare (issue 28,
item 6): the default example (deconv3, epoch 40) has 2 offending layers yet scores below
"resize_nearest 0.83 (clean)", an epoch-10 figure not labelled as such; and "as given 0.63
/ fix at init 9.57" read as if the fix were 15 times worse."""

from __future__ import annotations

from tests.conftest import assert_clean, open_page


def test_scale_line_names_epochs_and_claims_no_verdict():
    at = open_page("pages/audit.py", timeout=300)
    assert_clean(at)
    line = next(c.value for c in at.caption if c.value.startswith("For scale"))
    assert "resize_nearest network at epoch " in line and "deconv3 network at epoch " in line
    assert "(clean)" not in line and "(a grid)" not in line
    tables = [list(d.value["network"]) for d in at.dataframe if "network" in d.value]
    assert len(tables) == 2, tables  # the layer's measured fix, every layer's at once
    for rows, which in zip(tables, ("this layer", "these layers"), strict=True):
        assert rows[:2] == [f"at init: {which} as designed",
                            f"at init: {which} swapped for the fix"], rows
        assert rows[2].startswith("as given (its own weights; not comparable")
