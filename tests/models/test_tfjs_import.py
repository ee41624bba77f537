"""TF.js import: every weight lands in the right layer, compared with a direct read of the shards.

The direct read below is deliberately independent of models/tfjs_io.py: it follows the
format description in ../shared/models/README.md (concatenate each group's shards, read
the manifest entries in order, little-endian float32).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from models import tfjs_io
from models.importers import ModelImportError, load_float_model, mobilenet_v1, model_weights, set_weights_by_name
from support import SHARED_MODELS

V1_075 = SHARED_MODELS / "mobilenet_v1_0.75_224_tfjs"
V1_025 = SHARED_MODELS / "mobilenet_v1_0.25_224_tfjs"


def direct_read(folder: Path) -> dict[str, np.ndarray]:
    manifest = json.loads((folder / "model.json").read_text())["weightsManifest"]
    weights = {}
    for group in manifest:
        data = b"".join((folder / p).read_bytes() for p in group["paths"])
        offset = 0
        for entry in group["weights"]:
            assert entry["dtype"] == "float32" and "quantization" not in entry
            count = int(np.prod(entry["shape"]))
            weights[entry["name"]] = np.frombuffer(data, "<f4", count, offset).reshape(entry["shape"])
            offset += 4 * count
        assert offset == len(data)
    return weights


@pytest.fixture(scope="module")
def model_025():
    return load_float_model(V1_025)


@pytest.fixture(scope="module")
def model_075():
    return load_float_model(V1_075)


@pytest.mark.parametrize("which", ["model_075", "model_025"])
def test_every_weight_lands_in_its_layer(which, request):
    model = request.getfixturevalue(which)
    folder = V1_075 if which == "model_075" else V1_025
    stored = direct_read(folder)
    assert len(stored) == 137
    placed = 0
    for name, value in stored.items():
        layer_name, weight_name = name.split("/")
        layer = model.get_layer(layer_name)
        (variable,) = [v for v in layer.weights if v.name.split("/")[-1].split(":")[0] == weight_name]
        assert np.array_equal(variable.numpy(), value), name
        placed += 1
    assert placed == len(model.weights)


def test_the_module_reader_agrees_with_the_direct_read():
    ours = tfjs_io.read_weights(V1_075)
    theirs = direct_read(V1_075)
    assert list(ours) == list(theirs)
    assert all(np.array_equal(ours[n], theirs[n]) for n in ours)


def test_the_weights_only_model_is_rebuilt_with_the_right_width(model_025):
    assert model_025.get_layer("conv1").filters == 8  # 32 * 0.25
    assert model_025.output_shape == (None, 1000)
    assert model_025.count_params() == 475_544


def test_imported_models_classify_a_sample_photo(model_075, model_025):
    from models.samples import float_input
    from support import sample

    batch = float_input(sample("great_grey_owl"), 224)
    for model in (model_075, model_025):
        probabilities = model.predict(batch, verbose=0)[0]
        assert abs(float(probabilities.sum()) - 1) < 1e-4
        assert int(probabilities.argmax()) == 24 and probabilities[24] > 0.9  # great grey owl


def test_mismatched_weights_are_refused_with_a_sentence(model_025):
    weights = model_weights(model_025)
    target = mobilenet_v1(0.25)
    missing = dict(weights)
    missing.pop("conv1/kernel")
    with pytest.raises(ModelImportError, match="1 model weights have no value"):
        set_weights_by_name(target, missing)
    wrong = dict(weights)
    wrong["conv1/kernel"] = np.zeros((3, 3, 3, 9), np.float32)
    with pytest.raises(ModelImportError, match="has shape"):
        set_weights_by_name(target, wrong)


def test_keras_file_and_saved_model_sources_load_back(model_025, tmp_path):
    from models import export

    batch = np.random.default_rng(0).uniform(-1, 1, (2, 224, 224, 3)).astype(np.float32)
    expected = model_025.predict(batch, verbose=0)
    keras_file = export.to_keras_file(model_025, tmp_path / "model.h5")
    saved_model = tmp_path / "saved"
    model_025.save(str(saved_model), save_format="tf")
    for source in (keras_file, saved_model):
        loaded = load_float_model(source)
        assert np.allclose(loaded.predict(batch, verbose=0), expected, atol=1e-6), source
    with pytest.raises(ModelImportError, match="is not a TF.js layers model folder"):
        load_float_model(tmp_path)
