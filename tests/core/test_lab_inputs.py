"""Tests of the layer lab's inputs and stacks (core/lab_inputs.py)."""

from __future__ import annotations

import numpy as np
import pytest

from core.upsamplers.lab_inputs import build_stack, lab_input, upsample_image


@pytest.mark.parametrize("kind", ["constant", "noise", "gradient", "photograph"])
def test_lab_inputs(kind):
    x = lab_input(kind, 24, seed=1)
    assert x.shape == (24, 24, 3) and x.dtype == np.float32
    assert 0.0 <= x.min() and x.max() <= 1.0
    np.testing.assert_array_equal(x, lab_input(kind, 24, seed=1))  # deterministic


def test_lab_input_upload_and_errors():
    rgb = (np.random.default_rng(0).random((30, 50, 3)) * 255).astype(np.uint8)
    assert lab_input("upload", 16, image=rgb).shape == (16, 16, 3)
    assert lab_input("upload", 16, image=rgb / 255.0).shape == (16, 16, 3)
    with pytest.raises(ValueError, match="needs an image"):
        lab_input("upload", 16)
    with pytest.raises(ValueError, match="scikit-image's data folder"):
        lab_input("photograph", 16, photo="../../etc/passwd")
    with pytest.raises(ValueError, match="kind must be one of"):
        lab_input("webcam", 16)


def test_upsample_image_is_seeded_and_sized():
    x = lab_input("noise", 12)
    a = upsample_image("deconv", x, layers=2, scale=2, seed=3)
    b = upsample_image("deconv", x, layers=2, scale=2, seed=3)
    c = upsample_image("deconv", x, layers=2, scale=2, seed=4)
    assert a.shape == (48, 48, 3)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)
    assert len(build_stack("deconv", 3, 3, activation="relu")) == 5  # 3 layers, 2 ReLUs
    with pytest.raises(ValueError, match="activation"):
        build_stack("deconv", 3, 2, activation="tanh")
