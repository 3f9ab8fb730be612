"""Hostile 1-D and 3-D models for the audit (issue 31): each refused in one line, before
anything runs, by the limits stated in docs/limits.md."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

from core.audit import AuditError, audit_onnx
from core.audit.limits import MAX_LENGTH, MAX_STRIDE


def deconv1d(stride: int, kernel: int = 4, length: int | str = 8, weight=None) -> bytes:
    """One ConvTranspose on a (1, 1, L) input, as bytes."""
    w = np.ones((1, 1, kernel), np.float32) if weight is None else weight
    node = helper.make_node("ConvTranspose", ["x", "w"], ["y"], kernel_shape=[kernel],
                            strides=[stride], name="up")
    graph = helper.make_graph(
        [node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, length])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [numpy_helper.from_array(w, "w")])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


def test_a_stride_over_the_limit_is_refused():
    with pytest.raises(AuditError, match=f"stride {MAX_STRIDE + 1}, above the audit's limit"):
        audit_onnx(deconv1d(MAX_STRIDE + 1, kernel=2), probes=False)


def test_a_length_over_the_limit_is_refused():
    with pytest.raises(AuditError, match="outside the audit's range"):
        audit_onnx(deconv1d(2, length="frames"), (1, 1, MAX_LENGTH + 1), probes=False)


def test_non_finite_weights_are_refused():
    w = np.ones((1, 1, 4), np.float32)
    w[0, 0, 1] = np.nan
    with pytest.raises(AuditError, match="non-finite"):
        audit_onnx(deconv1d(2, weight=w), probes=False)


def test_a_plain_1d_deconvolution_is_judged():
    report = audit_onnx(deconv1d(2, kernel=3), probes=False)  # 3 taps at stride 2: uneven
    (layer,) = report.layers
    assert layer.uneven and layer.severity == "artifact" and report.chain.period == 2
    even = audit_onnx(deconv1d(2, kernel=4), probes=False)  # equal weights, even overlap
    assert even.layers[0].phase_imbalance == 0.0 and even.verdict == "clean"
