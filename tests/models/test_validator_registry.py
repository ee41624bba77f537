"""The blessing rule (models/validator.py) and the local registry writer (models/registration.py)."""

from __future__ import annotations

import json

import pytest

from host.store import ModelStore, Registry
from models import config, registration
from models.validator import validate


def test_blesses_a_variant_within_one_point_and_97_percent_agreement():
    verdict = validate(top1=0.8400, float_top1=0.8425, agreement=0.9725, images=400)
    assert verdict.blessed and verdict.reasons == []
    assert verdict.top1_drop_points == pytest.approx(0.25)
    assert verdict.as_dict()["verdict"] == "blessed"
    assert verdict.sentence().startswith("blessed: top-1 84.00% vs float 84.25%")


def test_a_better_variant_is_blessed_and_the_boundaries_count_as_passing():
    assert validate(0.86, 0.84, 0.99, 400).blessed
    assert validate(0.8325, 0.8425, 0.97, 400).blessed  # exactly 1 point, exactly 97%


@pytest.mark.parametrize("top1, agreement, reason", [
    (0.7775, 0.99, "drops 6.50 points"),
    (0.8425, 0.9375, "agreement 93.75% is below 97%"),
    (0.8300, 0.9690, "drops 1.25 points"),
])
def test_rejects_with_the_reason(top1, agreement, reason):
    verdict = validate(top1, 0.8425, agreement, 400)
    assert not verdict.blessed
    assert any(reason in r for r in verdict.reasons)
    assert verdict.as_dict()["verdict"] == "rejected"
    assert reason in verdict.sentence()


def test_refuses_nonsense_numbers():
    with pytest.raises(ValueError, match="at least one"):
        validate(0.5, 0.5, 1.0, 0)
    with pytest.raises(ValueError, match="between 0 and 1"):
        validate(84.0, 0.84, 1.0, 400)


def _entry(name: str, blessed: bool) -> dict:
    files = {"model": {"path": f"{name}.tflite", "sha256": "a" * 64, "bytes": 10},
             "labels": {"path": config.LABELS_FILE, "sha256": "b" * 64, "bytes": 5}}
    return registration.make_entry(
        name=name, description="test", quantization="int8-per-channel", files=files, input_dtype="int8",
        size=224, derived_from="base", blessed=blessed, validation=validate(0.8, 0.8, 1.0, 4).as_dict(),
        input_mean=config.INT8_INPUT_MEAN)


def test_entries_follow_the_host_schema_and_merge_by_name(tmp_path):
    (tmp_path / "registry.json").write_text(json.dumps(
        {"models": [{"name": "someone_else", "keep": True}], "defaults": {"image_classification": "x"}}))
    with pytest.raises(Exception):
        registration.register(tmp_path, [{"name": "broken"}])  # the host's own schema check
    (tmp_path / "registry.json").write_text(json.dumps({"models": [], "defaults": {"keyword_spotting": "kws"}}))
    registration.register(tmp_path, [_entry("lab_a", True), _entry("lab_b", False)])
    registration.register(tmp_path, [_entry("lab_a", False)])  # rebuild replaces, keeps the rest
    document = json.loads((tmp_path / "registry.json").read_text())
    assert [e["name"] for e in document["models"]] == ["lab_a", "lab_b"]
    assert document["defaults"] == {"keyword_spotting": "kws"}
    assert not list(tmp_path.glob(".registry.json.*"))  # no temporary file left behind
    registry = Registry.load(tmp_path)
    spec = registry.get("lab_a")
    assert spec.blessed is False and spec.derived_from == "base" and spec.quantization == "int8-per-channel"
    assert spec.validation["verdict"] == "blessed"
    assert spec.input["mean"] == config.INT8_INPUT_MEAN and spec.output["label_offset"] == 0


def test_installed_files_are_checksummed_and_verified_by_the_host(tmp_path):
    record = registration.install_file(tmp_path, "lab_c", "weights.bin", b"\x00\x01" * 100)
    assert record["bytes"] == 200 and len(record["sha256"]) == 64
    entry = _entry("lab_c", True)
    entry["files"] = {"model": record, "labels": registration.install_file(tmp_path, "lab_c", "l.txt", b"x\n")}
    registration.register(tmp_path, [entry])
    store = ModelStore(tmp_path)
    assert [s.state for s in store.check(store.registry.get("lab_c"))] == ["ok", "ok"]
    with pytest.raises(ValueError, match="bare"):
        registration.install_file(tmp_path, "lab_c", "../evil.bin", b"")


def test_a_broken_local_registry_is_not_overwritten(tmp_path):
    (tmp_path / "registry.json").write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        registration.register(tmp_path, [_entry("lab_d", True)])
    assert (tmp_path / "registry.json").read_text() == "{not json"


def test_labels_are_the_hosts_first_synonyms_without_background():
    text = registration.labels_text(config.DEFAULT_SOURCE_DIR)
    lines = text.splitlines()
    assert len(lines) == 1000 and lines[0].startswith("tench") and "background" not in lines[0]
