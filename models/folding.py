"""Fold batch normalization into the preceding convolution, in Keras.

    y = gamma * (conv(x, W) - mean) / sqrt(var + eps) + beta
      = conv(x, W * s) + (beta - mean * s)        with s = gamma / sqrt(var + eps) per channel

The TFLite and TF.js graph converters do the same internally; doing it here first gives the
lab the exact kernels that will be quantized, so that the error-compensating rounding
(models/gptq.py) can place them on the converter's int8 grid. The folded model computes the
same function (tested to float32 precision); each BatchNormalization layer becomes a
`linear` Activation of the same name, which the converters drop.
"""

from __future__ import annotations

import numpy as np

CONV_TYPES = ("Conv2D", "DepthwiseConv2D")


def _bn_after(model) -> dict[str, object]:
    """conv layer name -> the BatchNormalization layer that directly consumes it."""
    pairs = {}
    for layer in model.layers:
        if layer.__class__.__name__ != "BatchNormalization":
            continue
        inbound = layer._inbound_nodes[0].inbound_layers
        producer = inbound[0] if isinstance(inbound, (list, tuple)) else inbound
        if producer.__class__.__name__ in CONV_TYPES:
            consumers = [n for n in producer._outbound_nodes]
            if len(consumers) != 1:
                raise ValueError(f"{producer.name} feeds more than the batch norm; it cannot be folded.")
            pairs[producer.name] = layer
    return pairs


def _channel_shape(layer, kernel: np.ndarray) -> list[int]:
    shape = [1] * kernel.ndim
    if layer.__class__.__name__ == "DepthwiseConv2D":
        shape[2] = -1  # (h, w, channels, multiplier 1)
    else:
        shape[-1] = -1
    return shape


def fold_batch_norm(model):
    """A new tf_keras model with every conv -> batch norm pair folded into one conv with bias."""
    import tf_keras

    pairs = _bn_after(model)
    folded_bn_names = {bn.name for bn in pairs.values()}

    def clone_layer(layer):
        kind = layer.__class__.__name__
        if layer.name in folded_bn_names:
            return tf_keras.layers.Activation("linear", name=layer.name)
        config = layer.get_config()
        if layer.name in pairs:
            if kind == "DepthwiseConv2D" and config.get("depth_multiplier", 1) != 1:
                raise ValueError(f"{layer.name} has a depth multiplier; only 1 is supported.")
            config["use_bias"] = True
        return layer.__class__.from_config(config)

    folded = tf_keras.models.clone_model(model, clone_function=clone_layer)
    for layer in model.layers:
        target = folded.get_layer(layer.name)
        if layer.name in folded_bn_names:
            continue
        weights = layer.get_weights()
        if layer.name in pairs:
            bn = pairs[layer.name]
            kernel = weights[0].astype(np.float64)
            bias = weights[1].astype(np.float64) if len(weights) > 1 else 0.0
            mean = bn.moving_mean.numpy().astype(np.float64)
            variance = bn.moving_variance.numpy().astype(np.float64)
            gamma = bn.gamma.numpy().astype(np.float64) if bn.scale else np.ones_like(mean)
            beta = bn.beta.numpy().astype(np.float64) if bn.center else np.zeros_like(mean)
            scale = gamma / np.sqrt(variance + bn.epsilon)
            kernel = kernel * scale.reshape(_channel_shape(layer, kernel))
            bias = beta + (bias - mean) * scale
            weights = [kernel.astype(np.float32), bias.astype(np.float32)]
        target.set_weights(weights)
    return folded


def conv_layers(model) -> list:
    """The convolution layers of a model, in topological order."""
    return [layer for layer in model.layers if layer.__class__.__name__ in CONV_TYPES]
