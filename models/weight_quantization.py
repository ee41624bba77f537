"""TF.js-style post-training weight quantization, per tensor or per output channel.

This is the affine scheme of the TensorFlow.js converter (`tensorflowjs/quantization.py`,
what `--quantize_uint8` / `--quantize_uint16` do), re-implemented here so that the lab can
also apply it per output channel and so that its properties are tested in the project:

    scale     = (max - min) / (2^B - 1)          # TF.js stores this "scale" in model.json
    q         = round((clip(w, min, max) - min) / scale)        (round half to even)
    w'        = q * scale + min

Written with `scale` as the range max - min instead, it is the same:
q = round((w - min) / (max - min) * (2^B - 1)) and w' = q * (max - min) / (2^B - 1) + min.

Two details of TF.js are kept exactly (the tests compare bit for bit with the converter):
- when the range covers 0, min is "nudged" by less than half a step so that 0 falls on an
  integer, hence real zeros (padding, pruned weights) stay exactly 0 after dequantization;
- a constant tensor (min == max) is stored as all-zero integers with scale 1 and min equal to
  the constant, so it dequantizes exactly.

Only numpy: no TensorFlow here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SUPPORTED_BITS = (8, 16)


def storage_dtype(bits: int) -> np.dtype:
    if bits not in SUPPORTED_BITS:
        raise ValueError(f"Weights can be quantized to 8 or 16 bits, not {bits}.")
    return np.dtype(np.uint8 if bits == 8 else np.uint16)


@dataclass(frozen=True)
class QuantizedTensor:
    """Integers plus the min/scale needed to recover approximately the float weights.

    `min` and `scale` are float64 arrays: of shape () for one pair per tensor, or of shape
    (channels,) along `axis` for one pair per output channel.
    """

    values: np.ndarray
    min: np.ndarray
    scale: np.ndarray
    axis: int | None
    bits: int
    original_dtype: np.dtype

    @property
    def per_channel(self) -> bool:
        return self.axis is not None

    @property
    def payload_bytes(self) -> int:
        """Bytes to store it: the integers, plus min and scale as float32 each."""
        return int(self.values.nbytes + 2 * 4 * self.min.size)

    def dequantize(self) -> np.ndarray:
        values = self.values.astype(np.float64)
        if self.axis is None:
            real = values * self.scale + self.min
        else:
            shape = [1] * values.ndim
            shape[self.axis] = -1
            real = values * self.scale.reshape(shape) + self.min.reshape(shape)
        return real.astype(self.original_dtype)


def _quantize_rows(rows: np.ndarray, bits: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Quantize each row of a 2-D float64 array on its own range; TF.js rules per row."""
    levels = float(2**bits - 1)
    low = rows.min(axis=1)
    high = rows.max(axis=1)
    constant = low == high
    scale = np.where(constant, 1.0, (high - low) / levels)
    covers_zero = (low <= 0) & (0 <= high) & ~constant
    # Nudge min so that real 0 is an integer step (TF.js _get_affine_quantization_range).
    nudged_zero_point = np.round(np.where(covers_zero, -low / scale, 0.0))
    nudged_min = np.where(covers_zero, -nudged_zero_point * scale, low)
    nudged_max = np.where(covers_zero, levels * scale + nudged_min, high)
    clipped = np.clip(rows, nudged_min[:, None], nudged_max[:, None])
    integers = np.round((clipped - nudged_min[:, None]) / scale[:, None])
    integers[constant] = 0
    return integers, nudged_min, scale


def quantize(weights: np.ndarray, bits: int, axis: int | None = None) -> QuantizedTensor:
    """Quantize `weights` to `bits` per tensor (`axis=None`) or per slice along `axis`."""
    weights = np.asarray(weights)
    dtype = storage_dtype(bits)
    if weights.dtype.kind != "f":
        raise ValueError(f"Only float weights are quantized; this tensor is {weights.dtype}.")
    if weights.size == 0:
        raise ValueError("An empty tensor cannot be quantized (it has no range).")
    if not np.all(np.isfinite(weights)):
        raise ValueError("The tensor holds NaN or infinite values; it cannot be quantized.")
    real = weights.astype(np.float64)
    if axis is None:
        integers, low, scale = _quantize_rows(real.reshape(1, -1), bits)
        return QuantizedTensor(
            integers.reshape(weights.shape).astype(dtype), low[0], scale[0], None, bits, weights.dtype
        )
    axis = axis % weights.ndim
    moved = np.moveaxis(real, axis, 0)
    integers, low, scale = _quantize_rows(moved.reshape(moved.shape[0], -1), bits)
    values = np.moveaxis(integers.reshape(moved.shape), 0, axis).astype(dtype)
    return QuantizedTensor(values, low, scale, axis, bits, weights.dtype)


def channel_axis(weight_name: str, shape: tuple[int, ...]) -> int | None:
    """The output-channel axis of a Keras weight, or None for vectors (kept per tensor).

    Conv2D / Dense kernels end with the output channels; a depthwise kernel
    (h, w, in, multiplier) has one output channel per input channel (multiplier 1).
    """
    if len(shape) < 2:
        return None
    if weight_name.endswith("depthwise_kernel") and len(shape) == 4:
        return 2
    return len(shape) - 1


def quantize_named_weights(
    weights: dict[str, np.ndarray], bits: int, per_channel: bool
) -> dict[str, QuantizedTensor]:
    """Quantize every float tensor of a model, as `tensorflowjs_converter --quantize_*` does.

    With `per_channel`, kernels get one min/scale per output channel; vectors (biases and
    batch-norm parameters) keep one per tensor, as in TF.js.
    """
    quantized = {}
    for name, value in weights.items():
        axis = channel_axis(name, value.shape) if per_channel else None
        quantized[name] = quantize(value, bits, axis)
    return quantized


def dequantize_named_weights(quantized: dict[str, QuantizedTensor]) -> dict[str, np.ndarray]:
    return {name: tensor.dequantize() for name, tensor in quantized.items()}
