"""Boundaries that one-line changes slipped past (issue 28): each test is built so that the
changed line gives a different number. A +-1 checkerboard cannot tell RMS from mean
absolute value, one channel pair cannot tell a mean spread from the largest, and branches
with periods 2 and 4 cannot tell lcm from max; these inputs can."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from core.audit.live import audit_module
from core.experiment.history import read_history
from core.experiment.tables import MAX_EPOCH
from core.maths.metrics import checkerboard_score, gain_imbalance


def test_score_is_the_rms_of_a_non_binary_pattern():
    """A 2x2 pattern of 0.3, -0.1, -0.05, -0.15 (mean 0) on a linear ramp: RMS
    sqrt(0.125 / 4) = 0.1768; its mean absolute value, 0.15, is not it."""
    pattern = np.array([[0.3, -0.1], [-0.05, -0.15]])
    h, w = 64, 96
    yy, xx = np.mgrid[:h, :w]
    image = 0.2 + 0.5 * yy / h + 0.2 * xx / w + np.tile(pattern, (h // 2, w // 2))
    rms = math.sqrt((0.09 + 0.01 + 0.0025 + 0.0225) / 4)
    assert checkerboard_score(image, 2) == pytest.approx(rms, rel=1e-9)
    assert abs(rms - np.abs(pattern).mean()) > 0.02  # the mean |q| would fail the line above


def test_imbalance_is_the_mean_spread_over_channel_pairs():
    """Gains (1 in, 3 out, 2x2 phases) with spreads 0, 1 and 2 over the phases: mean
    spread 1, largest 2, divided by the RMS of all twelve gains."""
    gains = np.array([[[[1.0, 1.0], [1.0, 1.0]],       # spread 0
                       [[0.0, 1.0], [1.0, 1.0]],       # spread 1
                       [[0.0, 2.0], [1.0, 1.0]]]])     # spread 2
    rms = math.sqrt(np.mean(gains ** 2))
    assert gain_imbalance(gains) == pytest.approx(1.0 / rms, rel=1e-12)
    assert gain_imbalance(gains) != pytest.approx(2.0 / rms)


class _TwoBranches(nn.Module):
    """48 px in and out: one branch halves and doubles (stride-2 deconvolution, period
    2), the other divides by 3 and triples (stride-3 deconvolution, period 3)."""

    def __init__(self) -> None:
        super().__init__()
        self.down2, self.down3 = nn.AvgPool2d(2), nn.AvgPool2d(3)
        self.up2 = nn.ConvTranspose2d(1, 1, 4, stride=2, padding=1)
        self.up3 = nn.ConvTranspose2d(1, 1, 3, stride=3)

    def forward(self, x):
        return self.up2(self.down2(x)) + self.up3(self.down3(x))


def test_chain_period_is_the_lcm_of_coprime_branches():
    torch.manual_seed(0)
    report = audit_module(_TwoBranches().eval(), (1, 1, 48, 48), probes=False)
    periods = sorted(la.period for la in report.layers if la.direction == "up")
    assert periods == [2, 3]
    assert report.chain.period == 6  # max would say 3, a product over a longer chain more


@pytest.mark.parametrize("epoch,ok", [(0, True), (MAX_EPOCH, True), (-1, False),
                                      (MAX_EPOCH + 1, False)])
def test_history_epochs_at_their_bounds(tmp_path, epoch, ok):
    f = tmp_path / "deconv3" / "history.csv"
    f.parent.mkdir()
    f.write_text(f"epoch,val_psnr\n{epoch},20.5\n")
    if ok:
        assert [r["epoch"] for r in read_history(f)] == [epoch]
    else:
        with pytest.raises(ValueError, match=f"epoch {epoch} is not an integer from 0 to "
                                             f"{MAX_EPOCH}"):
            read_history(f)
