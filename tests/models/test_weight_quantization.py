"""Properties of the TF.js-style weight quantization (models/weight_quantization.py)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from models.weight_quantization import (
    channel_axis,
    dequantize_named_weights,
    quantize,
    quantize_named_weights,
    storage_dtype,
)

BITS = st.sampled_from([8, 16])
# Finite float32 values over many magnitudes (weights, BN variances, tiny biases).
FLOATS = st.floats(min_value=-1e4, max_value=1e4, allow_nan=False, allow_infinity=False, width=32)
SHAPES = hnp.array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=6)
TENSORS = hnp.arrays(np.float32, SHAPES, elements=FLOATS)


def _step(q) -> np.ndarray:
    return np.asarray(q.scale, dtype=np.float64)


def _tolerance(weights: np.ndarray, q) -> np.ndarray:
    """Half a step, plus the float32 rounding of the dequantized value."""
    half_step = _step(q) / 2
    if q.axis is not None:
        shape = [1] * weights.ndim
        shape[q.axis] = -1
        half_step = half_step.reshape(shape)
    magnitude = np.abs(weights.astype(np.float64)) + np.abs(np.asarray(q.min, dtype=np.float64)).max()
    return half_step * (1 + 1e-9) + magnitude * np.finfo(np.float32).eps


@settings(max_examples=300, deadline=None)
@given(weights=TENSORS, bits=BITS)
def test_per_tensor_error_is_at_most_half_a_step(weights, bits):
    q = quantize(weights, bits)
    error = np.abs(q.dequantize().astype(np.float64) - weights.astype(np.float64))
    assert np.all(error <= _tolerance(weights, q))


@settings(max_examples=200, deadline=None)
@given(weights=hnp.arrays(np.float32, hnp.array_shapes(min_dims=2, max_dims=4, min_side=1, max_side=5),
                          elements=FLOATS), bits=BITS, data=st.data())
def test_per_channel_error_is_at_most_half_a_step_of_its_channel(weights, bits, data):
    axis = data.draw(st.integers(0, weights.ndim - 1))
    q = quantize(weights, bits, axis)
    assert q.min.shape == q.scale.shape == (weights.shape[axis],)
    error = np.abs(q.dequantize().astype(np.float64) - weights.astype(np.float64))
    assert np.all(error <= _tolerance(weights, q))


@settings(max_examples=200, deadline=None)
@given(shape=SHAPES, value=FLOATS, bits=BITS)
def test_constant_tensors_map_to_zero_and_come_back_exactly(shape, value, bits):
    weights = np.full(shape, value, dtype=np.float32)
    q = quantize(weights, bits)
    assert not q.values.any()  # every integer is 0
    assert float(q.scale) == 1.0 and float(q.min) == float(np.float32(value))
    assert np.array_equal(q.dequantize(), weights)


@settings(max_examples=200, deadline=None)
@given(weights=TENSORS, bits=BITS, per_channel=st.booleans())
def test_round_trip_keeps_shape_and_dtype(weights, bits, per_channel):
    axis = weights.ndim - 1 if per_channel else None
    q = quantize(weights, bits, axis)
    assert q.values.shape == weights.shape
    assert q.values.dtype == storage_dtype(bits)
    restored = q.dequantize()
    assert restored.shape == weights.shape and restored.dtype == weights.dtype
    assert int(q.values.max(initial=0)) <= 2**bits - 1


@settings(max_examples=200, deadline=None)
@given(weights=TENSORS, bits=BITS)
def test_zeros_stay_exactly_zero_when_the_range_covers_zero(weights, bits):
    weights = weights.copy()
    weights.flat[0] = 0.0
    q = quantize(weights, bits)
    assert q.dequantize().flat[0] == 0.0


@settings(max_examples=300, deadline=None)
@given(weights=TENSORS, bits=BITS)
def test_bit_exact_with_the_tensorflowjs_converter(weights, bits):
    from tensorflowjs import quantization as tfjs_quantization

    expected, metadata = tfjs_quantization.quantize_weights(weights, storage_dtype(bits).type)
    q = quantize(weights, bits)
    assert np.array_equal(q.values, expected)
    assert float(q.min) == metadata["min"] and float(q.scale) == metadata["scale"]
    assert np.array_equal(q.dequantize(), tfjs_quantization.dequantize_weights(expected, metadata))


def test_eight_bits_per_tensor_collapses_a_small_channel_next_to_a_large_one():
    # The failure the per-channel scheme fixes: one channel of +-100 and one of +-0.01.
    weights = np.stack([np.linspace(-100, 100, 9), np.linspace(-0.01, 0.01, 9)], axis=-1).astype(np.float32)
    per_tensor = quantize(weights, 8).dequantize()
    per_channel = quantize(weights, 8, axis=-1).dequantize()
    assert len(np.unique(per_tensor[:, 1])) == 1  # the small channel became a single value
    assert np.allclose(per_channel[:, 1], weights[:, 1], atol=0.01 / 255)


def test_named_weights_use_the_output_channel_axis():
    weights = {
        "conv/kernel": np.ones((3, 3, 4, 8), np.float32),
        "dw/depthwise_kernel": np.ones((3, 3, 4, 1), np.float32),
        "bn/gamma": np.ones(8, np.float32),
    }
    assert channel_axis("conv/kernel", (3, 3, 4, 8)) == 3
    assert channel_axis("dw/depthwise_kernel", (3, 3, 4, 1)) == 2
    assert channel_axis("bn/gamma", (8,)) is None
    quantized = quantize_named_weights(weights, 8, per_channel=True)
    assert quantized["conv/kernel"].min.shape == (8,)
    assert quantized["dw/depthwise_kernel"].min.shape == (4,)
    assert quantized["bn/gamma"].axis is None
    restored = dequantize_named_weights(quantized)
    assert all(np.array_equal(restored[n], weights[n]) for n in weights)


@pytest.mark.parametrize("bad, message", [
    (np.array([1.0, np.nan], np.float32), "NaN"),
    (np.array([], np.float32), "empty"),
    (np.array([1, 2], np.int32), "float"),
])
def test_bad_tensors_are_refused_with_a_sentence(bad, message):
    with pytest.raises(ValueError, match=message):
        quantize(bad, 8)


def test_only_8_and_16_bits():
    with pytest.raises(ValueError, match="8 or 16 bits"):
        quantize(np.ones(3, np.float32), 4)
