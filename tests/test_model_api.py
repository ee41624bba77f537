"""The model's API against the real LiteRT files: shapes, dtypes, probabilities."""

import numpy as np
import pytest

from support import DEFAULT_MODEL, SAMPLES, TINY_MODEL, sample


@pytest.mark.parametrize("name, side", [(DEFAULT_MODEL, 224), (TINY_MODEL, 128)])
def test_input_and_output_signature(capabilities, name, side):
    classifier = capabilities.pool.get(name)
    details = classifier.input_details
    assert list(details["shape"]) == [1, side, side, 3]
    assert details["dtype"] == np.uint8
    assert classifier.output_details["dtype"] == np.uint8
    assert int(np.prod(classifier.output_details["shape"])) == 1001
    assert len(classifier.labels) == 1000
    assert classifier.labels[0] == "tench" and classifier.labels[999] == "toilet tissue"


@pytest.mark.parametrize("name", [DEFAULT_MODEL, TINY_MODEL])
def test_probabilities_are_a_distribution_over_1000_classes(capabilities, name):
    classifier = capabilities.pool.get(name)
    for path in sorted(SAMPLES.glob("*.JPEG"))[:20]:
        probabilities = classifier.predict(path.read_bytes()).probabilities
        assert probabilities.shape == (1000,)
        assert probabilities.dtype == np.float32
        assert np.all(probabilities >= 0) and np.all(probabilities <= 1)
        assert probabilities.sum() == pytest.approx(1.0, abs=1e-5)


def test_preprocessed_batch_matches_the_input_tensor(classifier):
    batch, findings = classifier.preprocess(sample("tench").read_bytes())
    assert findings == []
    assert batch.shape == (1, 224, 224, 3) and batch.dtype == np.uint8
    # A real photo uses most of the pixel range.
    assert batch.min() < 40 and batch.max() > 215


def test_background_class_is_dropped(classifier):
    raw = np.zeros(1001, dtype=np.uint8)
    raw[0] = 200  # all mass on "background"
    raw[1] = 50
    probabilities = classifier.postprocess(raw)
    assert probabilities[0] == pytest.approx(1.0)  # tench, renormalised


def test_top_k_is_sorted_and_labelled(classifier):
    probabilities = classifier.predict(sample("brambling").read_bytes()).probabilities
    top = classifier.top_k(probabilities, 5)
    scores = [entry["score"] for entry in top]
    assert scores == sorted(scores, reverse=True)
    assert top[0]["label"] == classifier.labels[top[0]["index"]] == "brambling"
    assert len(classifier.top_k(probabilities, 5000)) == 1000


def test_classify_result_schema(classifier):
    result = classifier.classify(sample("tench").read_bytes(), 3)
    assert set(result) == {"labels", "model", "timing_ms"}
    assert result["model"] == {"name": DEFAULT_MODEL, "version": "1"}
    assert set(result["timing_ms"]) == {"decode", "infer", "total"}
    assert all(v >= 0 for v in result["timing_ms"].values())
    assert [set(l) for l in result["labels"]] == [{"label", "index", "score"}] * 3
