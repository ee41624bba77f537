"""End to end on the small MobileNet v1 0.25 and a 20-photo sample folder: `build` makes every
variant, validates and registers it; the host lists and serves exactly the blessed ones; every
exported file has the model API its registry entry promises; the report is written.

One module-scoped build (about two minutes on two cores) feeds every test here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from models import config
from support import SAMPLES, SHARED_MODELS, sample_folder

SOURCE = "mobilenet_v1_0.25_224"
PHOTOS = 20  # every 5th (4) calibrates, 16 evaluate


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    from models.build import build_all

    root = tmp_path_factory.mktemp("lab")
    samples = sample_folder(root, PHOTOS)
    home = root / "home"
    results = build_all(SHARED_MODELS, home, samples, [SOURCE], analyses=False, progress=lambda message: None)
    return {"home": home, "samples": samples, "results": results,
            "variants": {v["key"]: v for v in results["models"][SOURCE]["variants"]}}


@pytest.fixture(scope="module")
def store(lab):
    from host.store import ModelStore

    return ModelStore(lab["home"])


def _env(lab) -> dict:
    return dict(os.environ, TABSENSE_HOME=str(lab["home"]), TABSENSE_THREADS="1")


def test_every_shipped_variant_is_registered_with_its_verdict(lab, store):
    lab_specs = {s.name: s for s in store.registry.specs() if s.name.startswith(SOURCE)}
    shipped = {v.model_name(SOURCE) for v in config.VARIANTS if v.ship}
    assert set(lab_specs) == shipped  # measured-only variants are never registered
    for key, variant in lab["variants"].items():
        if not variant["shipped"]:
            continue
        spec = lab_specs[variant["name"]]
        assert spec.blessed == variant["blessed"] == (spec.validation["verdict"] == "blessed")
        assert spec.quantization == variant["quantization"]
        assert spec.derived_from == (None if key == "" else SOURCE)
        assert {"top1", "float_top1", "agreement", "top1_drop_points", "images", "rule"} <= set(spec.validation)
        assert [s.state for s in store.check(spec)] == ["ok"] * len(spec.files)  # sha256 verified


def test_the_validator_blesses_the_float_model_and_rejects_8_bit_per_tensor(lab):
    variants = lab["variants"]
    assert variants[""]["blessed"] and variants[""]["validation"]["agreement"] == 1.0
    assert variants["w16"]["blessed"]
    w8 = variants["w8"]
    assert not w8["blessed"] and w8["validation"]["reasons"]


@pytest.mark.parametrize("key", [v.key for v in config.VARIANTS])
def test_model_api_of_every_exported_tflite(lab, key):
    from host.classifier import ImageClassifier
    from host.store import ModelSpec
    from models.evaluation import classifier_for

    variant = lab["variants"][key]
    model_path = Path(variant["model_path"])
    labels_path = model_path.parent / config.LABELS_FILE
    entry = {"name": variant["name"], "version": "1", "task": "image_classification",
             "files": {r: {"path": f["path"], "sha256": f["sha256"]} for r, f in variant["files"].items()},
             "input": {"height": 224, "width": 224, "channels": 3,
                       "dtype": "int8" if key.startswith("int8") else "float32",
                       "mean": variant["input_mean"], "std": config.INPUT_STD},
             "output": {"kind": "probabilities", "num_classes": 1000, "label_offset": 0},
             "preprocess": config.PREPROCESS}
    classifier = classifier_for(entry, model_path, labels_path, threads=1)
    assert isinstance(classifier, ImageClassifier)
    assert list(classifier.input_details["shape"]) == [1, 224, 224, 3]
    assert list(classifier.output_details["shape"]) == [1, 1000]
    photo = sorted(SAMPLES.glob("*great_grey_owl*.JPEG"))[0]
    result = classifier.classify(photo.read_bytes(), top_k=5)
    assert len(result["labels"]) == 5 and result["labels"][0]["label"] == classifier.labels[result["labels"][0]["index"]]
    probabilities = classifier.predict(photo.read_bytes()).probabilities
    assert probabilities.shape == (1000,) and abs(float(probabilities.sum()) - 1) < 1e-3
    if key not in ("w8", "w8_folded", "w8_channel"):
        assert result["labels"][0]["index"] == 24  # great grey owl
    ModelSpec.from_dict(entry, "test")


def test_labels_match_the_hosts_builtin_models(lab, store):
    from host.classifier import load_labels

    lab_labels = load_labels(Path(lab["variants"][""]["model_path"]).parent / config.LABELS_FILE, 0, 1000)
    builtin = store.registry.get("mobilenet_v1_0.25_128_quant")
    host_labels = load_labels(SHARED_MODELS / "mobilenet_v1_0.25_128_quant" / builtin.files["labels"].path, 1, 1000)
    assert lab_labels == host_labels


def test_tfjs_style_artifacts_match_the_served_tflite(lab):
    from tensorflowjs.converters import keras_tfjs_loader

    from models.evaluation import classifier_for
    from models.samples import float_input

    variant = lab["variants"]["w8"]
    folder = Path(variant["model_path"]).parent
    reloaded = keras_tfjs_loader.load_keras_model(str(folder / "model.json"))  # standard TF.js format
    photo = sorted(SAMPLES.glob("*great_grey_owl*.JPEG"))[0]
    keras_output = reloaded.predict(float_input(photo, 224), verbose=0)[0]
    entry = {"name": "w8", "version": "1", "task": "image_classification",
             "files": {"model": {"path": "m", "sha256": "0" * 64}},
             "input": {"height": 224, "width": 224, "channels": 3, "dtype": "float32", "mean": 127.5, "std": 127.5},
             "output": {"kind": "probabilities", "num_classes": 1000, "label_offset": 0}, "preprocess": config.PREPROCESS}
    served = classifier_for(entry, folder / variant["files"]["model"]["path"], folder / config.LABELS_FILE, 1)
    assert np.abs(served.predict(photo.read_bytes()).probabilities - keras_output).max() < 1e-4
    assert variant["artifact"]["bytes"] < 0.3 * lab["variants"][""]["artifact"]["bytes"]


def test_the_host_lists_and_serves_only_blessed_lab_models(lab):
    listing = subprocess.run([sys.executable, "-m", "host.cli", "models", "list", "--json"], env=_env(lab),
                             capture_output=True, text=True, timeout=60, check=True)
    rows = {row["name"]: row for row in map(json.loads, listing.stdout.splitlines())}
    float_row = rows[SOURCE]
    for field in ("name", "version", "bytes", "quantization", "derived_from", "blessed", "validation"):
        assert field in float_row
    assert float_row["blessed"] is True and rows[f"{SOURCE}_w8"]["blessed"] is False

    photo = sorted(SAMPLES.glob("*great_grey_owl*.JPEG"))[0]
    served = subprocess.run([sys.executable, "-m", "host.cli", "classify", "--json", "--model", SOURCE, str(photo)],
                            env=_env(lab), capture_output=True, text=True, timeout=60)
    assert served.returncode == 0, served.stderr
    assert json.loads(served.stdout)["labels"][0]["index"] == 24
    refused = subprocess.run([sys.executable, "-m", "host.cli", "classify", "--model", f"{SOURCE}_w8", str(photo)],
                             env=_env(lab), capture_output=True, text=True, timeout=60)
    assert refused.returncode != 0 and "not passed validation" in refused.stderr


def test_evaluate_command_reproduces_the_build_numbers(lab):
    output = subprocess.run([sys.executable, "-m", "models.cli", "evaluate", SOURCE, "--samples", str(lab["samples"])],
                            env=_env(lab), capture_output=True, text=True, timeout=120, check=True)
    measured = json.loads(output.stdout.strip().splitlines()[-1])
    assert measured["images"] == 16
    assert measured["top1"] == pytest.approx(lab["variants"][""]["metrics"]["top1"], abs=1e-4)


def test_the_report_is_written(lab, tmp_path):
    from models.report import PLOT_FILE, write_report

    written = write_report(lab["results"], tmp_path)
    assert {p.name for p in written} == {"report.json", "report.md", PLOT_FILE}
    markdown = (tmp_path / "report.md").read_text()
    for variant in lab["variants"].values():
        assert f"`{variant['name']}`" in markdown
    assert (tmp_path / PLOT_FILE).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    report = json.loads((tmp_path / "report.json").read_text())
    assert SOURCE in report["summary"] and "model_path" not in json.dumps(report)
