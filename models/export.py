"""Export a float tf_keras model: TFLite (float32, float16, dynamic-range int8, full-integer
int8), TF.js layers and graph models, SavedModel.

Every TFLite file takes a batch of one, [1, H, W, 3] (the host feeds one image at a time and
checks that shape against the registry entry). Full-integer int8 is calibrated on a
representative set that the caller passes in: the lab uses the 100 calibration images,
disjoint from the 400 evaluation images (see models/config.py).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

# tensorflowjs imports tensorflow_decision_forests, whose welcome banner imports IPython
# whenever stdout is not a terminal (pytest, pipes) and fails without it.
os.environ.setdefault("TFDF_DISABLE_WELCOME_MESSAGE", "1")

log = logging.getLogger(__name__)

TFLITE_KINDS = ("float32", "float16", "dynamic_int8", "int8")


def _concrete_function(model):
    import tensorflow as tf

    height, width, channels = model.input_shape[1:]
    spec = tf.TensorSpec([1, height, width, channels], tf.float32, name="image")

    @tf.function(input_signature=[spec])
    def serve(image):
        return model(image, training=False)

    return serve.get_concrete_function()


def to_tflite(
    model,
    kind: str = "float32",
    representative: Callable[[], Iterable[np.ndarray]] | None = None,
) -> bytes:
    """Convert to a TFLite flatbuffer of the given kind (see TFLITE_KINDS)."""
    import tensorflow as tf

    if kind not in TFLITE_KINDS:
        raise ValueError(f"Unknown TFLite kind {kind!r}; choose one of {', '.join(TFLITE_KINDS)}.")
    function = _concrete_function(model)
    converter = tf.lite.TFLiteConverter.from_concrete_functions([function], model)
    if kind == "float16":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
    elif kind == "dynamic_int8":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]  # no dataset: weights only
    elif kind == "int8":
        if representative is None:
            raise ValueError("Full-integer int8 needs a representative dataset to calibrate on.")

        def dataset():
            for batch in representative():
                yield [np.asarray(batch, dtype=np.float32)]

        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = dataset
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
    return converter.convert()


def to_tfjs_layers(model, out_dir: Path) -> Path:
    """TF.js layers model (from tf_keras, so TF.js 4.22 can load it); returns model.json."""
    from tensorflowjs.converters import save_keras_model

    Path(out_dir).mkdir(parents=True, exist_ok=True)
    save_keras_model(model, str(out_dir))
    return Path(out_dir) / "model.json"


# Weight storage of a TF.js graph model: the converter's own quantization. Only float16 keeps
# the float model's answers (docs/model-lab/report.md: 8-bit per tensor after the batch-norm
# folding a graph model does is "the collapse", 8.8% agreement).
TFJS_GRAPH_WEIGHTS = {"float32": None, "float16": {"float16": "*"}}


def to_tfjs_graph(model, out_dir: Path, weights: str = "float32") -> Path:
    """TF.js graph model (frozen, batch norm folded, bias + activation fused); returns model.json.

    `weights` is "float32" or "float16" (stored as float16, dequantized by TF.js at load).
    """
    from tensorflowjs.converters import tf_saved_model_conversion_v2

    if weights not in TFJS_GRAPH_WEIGHTS:
        raise ValueError(f"Unknown TF.js graph weights {weights!r}; choose one of {', '.join(TFJS_GRAPH_WEIGHTS)}.")
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    tf_saved_model_conversion_v2.convert_keras_model_to_graph_model(
        model, str(out_dir), quantization_dtype_map=TFJS_GRAPH_WEIGHTS[weights])
    return Path(out_dir) / "model.json"


def to_saved_model(model, out_dir: Path) -> Path:
    import tensorflow as tf

    tf.saved_model.save(model, str(out_dir), signatures={"serving_default": _concrete_function(model)})
    return Path(out_dir)


def to_keras_file(model, path: Path) -> Path:
    model.save(str(path))
    return Path(path)
