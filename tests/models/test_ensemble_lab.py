"""The model lab's image ensemble: the validator's rule, and `build_ensemble` on 20 real photos
with the real members (MobileNetV2 uint8 from ../shared, the bundled int8 MobileNet v1 0.75):
scored through the host, registered with its members pinned, served by the host, reported."""

from __future__ import annotations

import json

import numpy as np
import pytest

from support import SHARED_MODELS, sample_folder

PHOTOS = 20  # every 5th (4) is a calibration photo, 16 evaluate


def _metrics(top1, top5, slices):
    return {"top1": top1, "top5": top5, "images": 400,
            "slices": {"category": {name: {"images": 100, "top1": value} for name, value in slices.items()}}}


def test_the_validator_blesses_only_a_gain_without_a_slice_losing_more_than_a_point():
    from models.ensemble import validate_ensemble

    members = {"a": _metrics(0.90, 0.97, {"animals": 0.90, "objects": 0.90}),
               "b": _metrics(0.85, 0.96, {"animals": 0.88, "objects": 0.82})}
    good = validate_ensemble(_metrics(0.92, 0.97, {"animals": 0.94, "objects": 0.895}), members)
    assert good["blessed"] and good["best_member"] == "a" and good["top1_gain_points"] == pytest.approx(2.0)
    assert good["targets_met"]  # +2 points, top-5 equal
    small = validate_ensemble(_metrics(0.9025, 0.97, {"animals": 0.905, "objects": 0.90}), members)
    assert small["blessed"] and not small["targets_met"]  # better, but under the +1.5-point target
    equal = validate_ensemble(_metrics(0.90, 0.98, {"animals": 0.90, "objects": 0.90}), members)
    assert not equal["blessed"] and "does not beat" in equal["reasons"][0]
    slice_drop = validate_ensemble(_metrics(0.93, 0.98, {"animals": 0.98, "objects": 0.88}), members)
    assert not slice_drop["blessed"] and "objects" in slice_drop["reasons"][0]
    assert slice_drop["worst_slice"]["drop_points"] == pytest.approx(2.0)


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    from models.ensemble import build_ensemble

    root = tmp_path_factory.mktemp("ensemble-lab")
    samples = sample_folder(root, PHOTOS)
    home = root / "home"
    result = build_ensemble(home, SHARED_MODELS, samples, progress=lambda line: None)
    return {"home": home, "samples": samples, "result": result}


def test_the_ensemble_is_scored_against_each_member_and_registered_pinned(lab):
    from host.store import ModelStore

    result = lab["result"]
    assert set(result["members"]) == {"mobilenet_v2_1.0_224_quant", "mobilenet_v1_0.75_224_int8"}
    assert result["combine"] in result["ensembles"] and result["images"] == {"all": 20, "evaluation": 16}
    for metrics in [*result["members"].values(), *result["ensembles"].values()]:
        assert metrics["images"] == 16 and 0 <= metrics["top1"] <= metrics["top5"] <= 1
        assert set(metrics["slices"]) == {"category", "size", "image_checks"}
    validation = result["validation"]
    assert validation["blessed"] == result["blessed"] == (validation["verdict"] == "blessed")
    assert validation["top1"] == pytest.approx(result["ensembles"][result["combine"]]["top1"])

    store = ModelStore(lab["home"])
    spec = store.registry.get("mobilenet_ensemble")
    assert spec.origin.endswith("registry.json") and spec.combine == result["combine"]
    for member, pinned in zip(store.registry.members(spec), spec.members):
        assert member.files["model"].sha256 == pinned.sha256
    assert [s.state for s in store.check(spec)] == ["ok"] * 4
    timed = {row["model"] for row in result["latency"]}
    assert {"mobilenet_v2_1.0_224_quant", "mobilenet_v1_0.75_224_int8"} <= timed
    assert any("side by side" in name for name in timed) and any("one after the other" in name for name in timed)


def test_the_lab_numbers_are_what_the_host_serves(lab):
    from host.capabilities import ModelPool
    from host.store import ModelStore
    from models.evaluation import top_k_hits
    from models.samples import load_samples

    samples = [s for s in load_samples(lab["samples"]) if s.split == "evaluation"]
    pool = ModelPool(ModelStore(lab["home"]), 1, serve_unblessed=True)
    ensemble = pool.get("mobilenet_ensemble")
    probabilities = np.stack([ensemble.predict(s.path.read_bytes()).probabilities for s in samples])
    top1 = float(top_k_hits(probabilities, np.array([s.label for s in samples]), 1).mean())
    assert top1 == pytest.approx(lab["result"]["validation"]["top1"])


def test_the_report_compares_the_ensemble_with_its_members(lab, tmp_path):
    from models.ensemble import write_ensemble_report

    path = write_ensemble_report(lab["result"], tmp_path)
    markdown = path.read_text()
    assert "`mobilenet_v2_1.0_224_quant`" in markdown and "`mobilenet_v1_0.75_224_int8`" in markdown
    assert "Per slice" in markdown and "Latency" in markdown and "Verdict" in markdown
    assert json.loads((tmp_path / "ensemble.json").read_text())["name"] == "mobilenet_ensemble"
