"""Conversion round trips on the small MobileNet v1 0.25: TF.js layers and graph exports load back
and agree with Keras, our quantized TF.js artifacts load in tensorflowjs, batch-norm folding is
exact, and GPTQ's integers survive the TFLite converter unchanged."""

from __future__ import annotations

import numpy as np
import pytest

from models import export, tfjs_io
from models.folding import conv_layers, fold_batch_norm
from models.gptq import _layer_matrix, channel_scales, gptq, quantize_model_weights, round_to_grid
from models.importers import load_float_model, model_weights
from models.samples import calibration, float_input, load_samples
from models.weight_quantization import dequantize_named_weights, quantize_named_weights
from support import SHARED_MODELS


@pytest.fixture(scope="module")
def model():
    return load_float_model(SHARED_MODELS / "mobilenet_v1_0.25_224_tfjs")


@pytest.fixture(scope="module")
def images():
    samples = load_samples()
    chosen = [s for s in samples if s.split == "evaluation"][:4]
    return np.concatenate([float_input(s.path, 224) for s in chosen])


@pytest.fixture(scope="module")
def reference(model, images):
    return model.predict(images, verbose=0)


def test_tfjs_layers_export_loads_back_exactly(model, images, reference, tmp_path):
    from tensorflowjs.converters import keras_tfjs_loader

    model_json = export.to_tfjs_layers(model, tmp_path / "layers")
    document = tfjs_io.read_model_json(model_json.parent)
    assert document["format"] == "layers-model" and "batch_input_shape" in model_json.read_text()  # tf_keras origin
    reloaded = keras_tfjs_loader.load_keras_model(str(model_json))
    assert np.array_equal(reloaded.predict(images, verbose=0), reference)


def test_tfjs_graph_export_runs_in_tensorflow_and_agrees(model, images, reference, tmp_path):
    from models.tfjs_graph import load_graph_model

    model_json = export.to_tfjs_graph(model, tmp_path / "graph")
    document = tfjs_io.read_model_json(model_json.parent)
    ops = [node["op"] for node in document["modelTopology"]["node"]]
    assert "FusedBatchNormV3" not in ops and ops.count("_FusedConv2D") == 15  # folded and fused
    run = load_graph_model(model_json.parent)
    output = run(images)
    assert output.shape == reference.shape
    assert np.abs(output - reference).max() < 1e-4
    assert (output.argmax(1) == reference.argmax(1)).all()


@pytest.mark.parametrize("bits, per_channel", [(8, False), (16, False), (8, True)])
def test_quantized_tfjs_artifacts_round_trip(model, tmp_path, bits, per_channel):
    import json

    weights = model_weights(model)
    quantized = quantize_named_weights(weights, bits, per_channel)
    files = tfjs_io.write_layers_model(tmp_path, json.loads(model.to_json()), quantized)
    expected = dequantize_named_weights(quantized)
    stored = tfjs_io.read_weights(tmp_path)
    assert all(np.array_equal(stored[n], expected[n]) for n in expected)
    raw = tfjs_io.read_weights(tmp_path, dequantize=False)
    assert raw["conv1/kernel"].dtype == (np.uint8 if bits == 8 else np.uint16)
    payload = sum(q.values.nbytes for q in quantized.values())
    assert files[1].stat().st_size == payload  # one byte (or two) per weight, nothing else
    if not per_channel:  # standard TF.js format: tensorflowjs itself reads it back
        from tensorflowjs.converters import keras_tfjs_loader

        reloaded = keras_tfjs_loader.load_keras_model(str(files[0]))
        assert all(np.array_equal(v, expected[n]) for n, v in model_weights(reloaded).items())


def test_batch_norm_folding_is_exact(model, images, reference):
    folded = fold_batch_norm(model)
    kinds = {layer.__class__.__name__ for layer in folded.layers}
    assert "BatchNormalization" not in kinds
    assert all(layer.use_bias for layer in conv_layers(folded))
    assert np.abs(folded.predict(images, verbose=0) - reference).max() < 1e-5


def test_gptq_beats_nearest_rounding_on_the_layer_output():
    rng = np.random.default_rng(0)
    inputs = rng.normal(size=(2000, 48)) @ rng.normal(size=(48, 48))  # correlated inputs
    weights = rng.normal(size=(16, 48))
    hessian = inputs.T @ inputs / len(inputs)
    compensated = gptq(weights, hessian)
    nearest = round_to_grid(weights)

    def output_error(q):
        return float(np.mean((inputs @ (q - weights).T) ** 2))

    assert output_error(compensated) < 0.7 * output_error(nearest)
    scales = channel_scales(weights)[:, None]
    levels = compensated / scales
    assert np.allclose(levels, np.round(levels)) and np.abs(levels).max() <= 127 + 1e-9
    assert np.allclose(np.abs(levels).max(axis=1), 127)  # the pinned peak keeps the converter's scale


def test_gptq_with_one_hessian_per_channel():
    rng = np.random.default_rng(1)
    patches = rng.normal(size=(8, 500, 9))
    hessians = np.einsum("cni,cnj->cij", patches, patches) / 500
    weights = rng.normal(size=(8, 9))
    compensated = gptq(weights, hessians)
    errors = [np.mean((patches[c] @ (q[c] - weights[c])) ** 2) for q in (compensated, round_to_grid(weights))
              for c in range(8)]
    assert sum(errors[:8]) <= sum(errors[8:])


def test_gptq_integers_survive_the_tflite_converter(model):
    from ai_edge_litert.interpreter import Interpreter

    samples = calibration(load_samples())[:3]
    batch = np.concatenate([float_input(s.path, 224) for s in samples])
    folded = fold_batch_norm(model)
    chosen = [folded.get_layer("conv_dw_2"), folded.get_layer("conv_pw_2")]
    stats = quantize_model_weights(folded, batch, layers=chosen, min_rows_per_input=1)
    assert all(s["output_mse_gptq"] <= s["output_mse_nearest"] for s in stats)
    tflite = export.to_tflite(folded, "int8", lambda: iter(batch[i:i + 1] for i in range(3)))
    interpreter = Interpreter(model_content=tflite)
    interpreter.allocate_tensors()
    found = 0
    for layer in chosen:
        ours = _layer_matrix(layer).astype(np.float64)  # [channels, inputs]
        for detail in interpreter.get_tensor_details():
            if detail["dtype"] != np.int8 or int(np.prod(detail["shape"])) != ours.size:
                continue
            scales = detail["quantization_parameters"]["scales"]
            if len(scales) != ours.shape[0]:
                continue
            values = interpreter.get_tensor(detail["index"]).astype(np.float64)
            matrix = values.reshape(-1, ours.shape[0]).T if layer.name.startswith("conv_dw") else \
                values.reshape(ours.shape[0], -1)
            if np.allclose(matrix * scales[:, None], ours, atol=1e-6):
                found += 1
                break
    assert found == len(chosen)
