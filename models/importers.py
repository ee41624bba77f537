"""Import a float Keras (tf_keras) model from a TF.js layers model, a Keras file or a SavedModel.

- TF.js layers model with a topology (`mobilenet_v1_0.75_224_tfjs`): the Keras config is
  rebuilt by the tensorflowjs loader, which also sets the weights.
- TF.js weights only (`modelTopology` null, `mobilenet_v1_0.25_224_tfjs`): the architecture
  is rebuilt with `tf_keras.applications.MobileNet(alpha, weights=None)`, alpha read from the
  first convolution's width, and every weight is set by its layer and weight name, checking
  shapes, so that a weight can never land in the wrong layer silently.
- `.keras` / `.h5` file or a SavedModel folder: `tf_keras.models.load_model`.

tf_keras (Keras 2) is used rather than Keras 3 because TF.js 4.22 loads layers models
only from tf_keras, and the TFLite converter handles both.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np

# tensorflowjs imports tensorflow_decision_forests, whose welcome banner imports IPython
# whenever stdout is not a terminal (pytest, pipes) and fails without it.
os.environ.setdefault("TFDF_DISABLE_WELCOME_MESSAGE", "1")

from . import tfjs_io

log = logging.getLogger(__name__)

MOBILENET_V1_FIRST_FILTERS = 32  # conv1 has 32 * alpha filters


class ModelImportError(ValueError):
    """The source cannot be turned into a Keras model (message says why)."""


def _weight_name(variable) -> str:
    # tf_keras names variables "layer/weight:0"; TF.js manifests drop the ":0".
    name = variable.name
    return name[: -len(":0")] if name.endswith(":0") else name


def set_weights_by_name(model, weights: dict[str, np.ndarray]) -> int:
    """Copy every named array into the model variable of the same name; returns the count.

    Every model variable must be given and every given array must be used, with equal shape.
    """
    by_name = {_weight_name(v): v for v in model.weights}
    missing = sorted(set(by_name) - set(weights))
    unused = sorted(set(weights) - set(by_name))
    if missing or unused:
        raise ModelImportError(
            "The weights do not match the architecture: "
            f"{len(missing)} model weights have no value ({', '.join(missing[:5])}) and "
            f"{len(unused)} stored weights have no place ({', '.join(unused[:5])})."
        )
    for name, variable in by_name.items():
        value = weights[name]
        if tuple(variable.shape) != tuple(value.shape):
            raise ModelImportError(
                f"Weight {name!r} has shape {tuple(value.shape)} in the file but "
                f"{tuple(variable.shape)} in the model."
            )
        variable.assign(value.astype(variable.dtype.as_numpy_dtype))
    return len(by_name)


def model_weights(model) -> dict[str, np.ndarray]:
    """The model's weights by manifest-style name, in the model's own order."""
    return {_weight_name(v): v.numpy() for v in model.weights}


def mobilenet_v1(alpha: float, size: int = 224):
    """An untrained MobileNet v1 (tf_keras.applications) with the ImageNet head."""
    import tf_keras

    return tf_keras.applications.MobileNet(
        input_shape=(size, size, 3), alpha=alpha, weights=None, include_top=True, classes=1000
    )


def alpha_from_weights(weights: dict[str, np.ndarray]) -> float:
    try:
        filters = weights["conv1/kernel"].shape[-1]
    except KeyError:
        raise ModelImportError("There is no conv1/kernel weight, so this is not a MobileNet v1.") from None
    return filters / MOBILENET_V1_FIRST_FILTERS


def load_tfjs_layers_model(model_dir: Path, input_size: int = 224):
    """A tf_keras model from a TF.js layers model folder (with or without topology)."""
    model_dir = Path(model_dir)
    document = tfjs_io.read_model_json(model_dir)
    if document.get("modelTopology"):
        from tensorflowjs.converters import keras_tfjs_loader

        log.info("loading TF.js layers model %s (topology + weights)", model_dir)
        return keras_tfjs_loader.load_keras_model(str(model_dir / tfjs_io.MODEL_JSON))
    weights = tfjs_io.read_weights(model_dir)
    alpha = alpha_from_weights(weights)
    log.info("rebuilding MobileNet v1 alpha=%s for the weights-only model %s", alpha, model_dir)
    model = mobilenet_v1(alpha, input_size)
    set_weights_by_name(model, weights)
    return model


def load_float_model(source: Path, input_size: int = 224):
    """A tf_keras model from any supported source path."""
    import tf_keras

    source = Path(source)
    if source.is_dir() and (source / tfjs_io.MODEL_JSON).is_file():
        return load_tfjs_layers_model(source, input_size)
    if source.name == tfjs_io.MODEL_JSON and source.is_file():
        return load_tfjs_layers_model(source.parent, input_size)
    if source.is_file() and source.suffix in (".keras", ".h5", ".hdf5"):
        return tf_keras.models.load_model(source, compile=False)
    if source.is_dir() and (source / "saved_model.pb").is_file():
        return tf_keras.models.load_model(source, compile=False)
    raise ModelImportError(
        f"{source} is not a TF.js layers model folder, a .keras/.h5 file or a SavedModel folder."
    )
