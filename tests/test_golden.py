"""Golden outputs of the frozen, checksummed default model on fixed sample photos."""

import json
from pathlib import Path

import pytest

from support import SAMPLES
from host.store import sha256_file

GOLDEN = json.loads((Path(__file__).parent / "golden" / "mobilenet_v2_1.0_224_quant-v1.json").read_text())


def test_golden_values_belong_to_the_installed_model(store, classifier):
    spec = classifier.spec
    assert (spec.name, spec.version) == (GOLDEN["model"], GOLDEN["version"])
    assert sha256_file(store.file_path(spec, "model")) == GOLDEN["sha256"] == spec.files["model"].sha256
    assert spec.preprocess == GOLDEN["preprocess"]


@pytest.mark.parametrize("case", GOLDEN["images"], ids=[c["file"] for c in GOLDEN["images"]])
def test_golden_top5(classifier, case):
    labels = classifier.classify((SAMPLES / case["file"]).read_bytes(), 5)["labels"]
    expected = case["top5"]
    assert labels[0]["index"] == expected[0]["index"]
    assert labels[0]["label"] == expected[0]["label"]
    assert labels[0]["score"] == pytest.approx(expected[0]["score"], abs=0.02)
    # Lower ranks may swap on near-ties; the set of confident classes must not change.
    confident = {e["index"] for e in expected if e["score"] >= 0.05}
    assert confident <= {l["index"] for l in labels}
