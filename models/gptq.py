"""Error-compensating int8 weight rounding (GPTQ, Frantar et al. 2022) for the TFLite grid.

Rounding every weight to the nearest int8 level (what the TFLite converter does) is optimal
per weight but not per layer: the rounding errors of a layer add up in its outputs. GPTQ
quantizes the input columns of a layer one at a time and spreads each column's rounding
error over the columns not yet quantized, weighted by the inverse of H = E[x x^T], the
second moment of the layer's inputs measured on calibration images. That minimises the
expected squared error of the layer's outputs, ||W x - Q x||^2, instead of ||W - Q||^2.

The result is written back as float weights that lie exactly on TFLite's int8 grid:
per output channel, symmetric, narrow range, scale = max|w| / 127. The weight with the
largest magnitude of each channel is pinned to +-127 so that the converter recomputes the
very same scale and keeps our integers unchanged. Apply it to a batch-norm-folded model
(models/folding.py), whose kernels are the ones the converter quantizes.

Calibration uses only the 100 calibration images: never the evaluation images.
"""

from __future__ import annotations

import logging
from typing import Callable

import numpy as np
from tqdm import tqdm

log = logging.getLogger(__name__)

INT8_MAX = 127  # TFLite per-channel weights: symmetric int8 in [-127, 127]
DAMPING = 0.01  # fraction of the mean diagonal of H added to it (numerical stability)
CHUNK_IMAGES = 10  # calibration images per forward pass when collecting H


def channel_scales(weights: np.ndarray) -> np.ndarray:
    """TFLite's per-output-channel scale for [channels, inputs] weights."""
    peak = np.abs(weights).max(axis=1)
    return np.where(peak > 0, peak / INT8_MAX, 1.0)


def round_to_grid(weights: np.ndarray) -> np.ndarray:
    """Round to nearest on the TFLite grid: the converter's own result, as floats."""
    scales = channel_scales(weights)[:, None]
    return np.clip(np.round(weights / scales), -INT8_MAX, INT8_MAX) * scales


def _upper_cholesky_of_inverse(hessian: np.ndarray, damping: float) -> np.ndarray:
    """U with U^T U = (H + damping * mean(diag H) * I)^-1, for one H or a batch of them."""
    size = hessian.shape[-1]
    diagonal = np.diagonal(hessian, axis1=-2, axis2=-1)
    dead = diagonal <= 0  # inputs that are always zero: any weight is as good
    hessian = hessian.copy()
    index = np.arange(size)
    hessian[..., index, index] = np.where(dead, 1.0, diagonal)
    mean_diag = np.mean(np.diagonal(hessian, axis1=-2, axis2=-1), axis=-1)
    hessian[..., index, index] += damping * mean_diag[..., None]
    inverse = np.linalg.inv(hessian)
    inverse = (inverse + np.swapaxes(inverse, -1, -2)) / 2
    return np.swapaxes(np.linalg.cholesky(inverse), -1, -2)


def gptq(weights: np.ndarray, hessian: np.ndarray, damping: float = DAMPING, act_order: bool = True) -> np.ndarray:
    """Quantize [channels, inputs] weights on the TFLite grid with error compensation.

    `hessian` is [inputs, inputs] shared by all channels, or [channels, inputs, inputs]
    (one per channel, e.g. depthwise convolutions). Returns float64 weights on the grid.
    """
    weights = np.asarray(weights, dtype=np.float64)
    hessian = np.asarray(hessian, dtype=np.float64)
    channels, inputs = weights.shape
    scales = channel_scales(weights)
    pinned_column = np.argmax(np.abs(weights), axis=1)
    pinned_sign = np.sign(weights[np.arange(channels), pinned_column])
    order = np.arange(inputs)
    if act_order and hessian.ndim == 2:  # largest input energy first
        order = np.argsort(-np.diagonal(hessian), kind="stable")
        hessian = hessian[np.ix_(order, order)]
    work = weights[:, order].copy()
    pinned_position = np.argsort(order)[pinned_column]
    upper = _upper_cholesky_of_inverse(hessian, damping)
    shared = upper.ndim == 2
    quantized = np.zeros_like(work)
    for i in range(inputs):
        column = work[:, i]
        levels = np.clip(np.round(column / scales), -INT8_MAX, INT8_MAX)
        is_pinned = pinned_position == i
        levels[is_pinned] = pinned_sign[is_pinned] * INT8_MAX
        quantized[:, i] = levels * scales
        if shared:
            error = (column - quantized[:, i]) / upper[i, i]
            work[:, i + 1:] -= np.outer(error, upper[i, i + 1:])
        else:
            error = (column - quantized[:, i]) / upper[:, i, i]
            work[:, i + 1:] -= error[:, None] * upper[:, i, i + 1:]
    result = np.empty_like(quantized)
    result[:, order] = quantized
    return result


# --- Keras layers ----------------------------------------------------------------------


def _patches(inputs, layer):
    """im2col of the layer's input: [..., kh * kw * channels] in kernel order."""
    import tensorflow as tf

    config = layer.get_config()
    kh, kw = config["kernel_size"]
    sh, sw = config["strides"]
    dh, dw = config.get("dilation_rate", (1, 1))
    if (kh, kw, sh, sw) == (1, 1, 1, 1):
        return inputs
    return tf.image.extract_patches(inputs, sizes=[1, kh, kw, 1], strides=[1, sh, sw, 1],
                                    rates=[1, dh, dw, 1], padding=config["padding"].upper()).numpy()


def _layer_matrix(layer) -> np.ndarray:
    kernel = layer.get_weights()[0]
    if layer.__class__.__name__ == "DepthwiseConv2D":
        kh, kw, channels, _ = kernel.shape
        return kernel[..., 0].reshape(kh * kw, channels).T  # [channels, kh*kw]
    return kernel.reshape(-1, kernel.shape[-1]).T  # [out, kh*kw*in]


def _set_layer_matrix(layer, matrix: np.ndarray) -> None:
    weights = layer.get_weights()
    kernel = weights[0]
    if layer.__class__.__name__ == "DepthwiseConv2D":
        kh, kw, channels, _ = kernel.shape
        weights[0] = matrix.T.reshape(kh, kw, channels, 1).astype(kernel.dtype)
    else:
        weights[0] = matrix.T.reshape(kernel.shape).astype(kernel.dtype)
    layer.set_weights(weights)


def layer_hessian(model, layer, images: np.ndarray) -> tuple[np.ndarray, int]:
    """E[x x^T] of the layer's input patches over the calibration images, and the number
    of patch vectors it was measured on."""
    import tf_keras

    probe = tf_keras.Model(model.inputs, layer.input)
    depthwise = layer.__class__.__name__ == "DepthwiseConv2D"
    total, count = None, 0
    for start in range(0, len(images), CHUNK_IMAGES):
        patches = _patches(probe(images[start:start + CHUNK_IMAGES], training=False), layer)
        patches = np.asarray(patches, dtype=np.float64)
        if depthwise:
            channels = layer.get_weights()[0].shape[2]
            rows = patches.reshape(-1, patches.shape[-1] // channels, channels)  # [n, kh*kw, C]
            part = np.einsum("nkc,njc->ckj", rows, rows)
        else:
            rows = patches.reshape(-1, patches.shape[-1])
            part = rows.T @ rows
        total = part if total is None else total + part
        count += rows.shape[0]
    return total / count, count


def quantize_model_weights(
    model,
    images: np.ndarray,
    layers: list | None = None,
    damping: float = DAMPING,
    min_rows_per_input: int = 4,
    progress: Callable[[str], None] | None = None,
) -> list[dict]:
    """GPTQ every conv layer of a folded model in place, in order; returns per-layer stats.

    Each layer's H is measured with the layers before it already quantized, so later
    layers also compensate the errors that earlier ones left. A layer measured on fewer
    than `min_rows_per_input` vectors per input would fit its compensation to the
    calibration images (H is then rank-deficient), so it keeps nearest rounding.
    """
    from .folding import conv_layers

    stats = []
    for layer in tqdm(layers or conv_layers(model), desc="GPTQ layers", unit="layer", leave=False):
        matrix = _layer_matrix(layer).astype(np.float64)
        hessian, rows = layer_hessian(model, layer, images)
        nearest = round_to_grid(matrix)
        enough = rows >= min_rows_per_input * matrix.shape[1]
        compensated = gptq(matrix, hessian, damping) if enough else nearest
        if hessian.ndim == 2:
            def output_error(q):
                delta = q - matrix
                return float(np.einsum("ci,ij,cj->", delta, hessian, delta))
        else:
            def output_error(q):
                delta = q - matrix
                return float(np.einsum("ci,cij,cj->", delta, hessian, delta))
        stats.append({"layer": layer.name, "inputs": int(matrix.shape[1]), "channels": int(matrix.shape[0]),
                      "calibration_vectors": int(rows), "method": "gptq" if enough else "nearest",
                      "output_mse_nearest": output_error(nearest) / matrix.shape[0],
                      "output_mse_gptq": output_error(compensated) / matrix.shape[0]})
        _set_layer_matrix(layer, compensated)
        if progress:
            s = stats[-1]
            progress(f"GPTQ {layer.name}: output error {s['output_mse_gptq']:.3g} vs {s['output_mse_nearest']:.3g} nearest")
    return stats
