"""Tests of the strided-convolution input gradient (core/gradients.py)."""

from __future__ import annotations

import numpy as np
import pytest

from core.maths.gradients import strided_conv_input_gradient


def test_strided_conv_input_gradient_is_the_overlap_count():
    g = strided_conv_input_gradient(3, 2, 9, weights="ones")
    np.testing.assert_array_equal(g[1:-1, 1:-1][:3, :3], [[1, 2, 1], [2, 4, 2], [1, 2, 1]])
    even = strided_conv_input_gradient(4, 2, 10, weights="ones")
    assert set(np.unique(even[2:-2, 2:-2])) == {4.0}
    assert strided_conv_input_gradient(3, 2, 9, weights="random").shape == (9, 9)
    with pytest.raises(ValueError, match="at most the input size"):
        strided_conv_input_gradient(7, 2, 5)
