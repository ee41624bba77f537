"""The image ensemble (registry kind "ensemble") with the real members: MobileNetV2 uint8 from
../shared and the bundled int8 MobileNet v1 0.75: one decode, each member's own preprocessing,
combined probabilities, members checksummed and pinned, clear errors."""

from __future__ import annotations

import base64
import json

import numpy as np
import pytest

from support import DEFAULT_MODEL, SHARED_MODELS, sample
from host.errors import ModelCorrupt, ModelNotFound
from host.store import ModelStore, Registry, RegistryError, ModelSpec

ENSEMBLE = "mobilenet_ensemble"
INT8 = "mobilenet_v1_0.75_224_int8"


@pytest.fixture(scope="module")
def ensemble(capabilities):
    return capabilities.pool.get(ENSEMBLE)


def test_the_ensemble_answers_one_label_list_naming_its_members(capabilities):
    photo = sample("great_grey_owl")
    result = capabilities.classify_image({"image": base64.b64encode(photo.read_bytes()).decode(), "model": ENSEMBLE})
    assert result["labels"][0]["index"] == 24 and result["labels"][0]["label"] == "great grey owl"
    assert len(result["labels"]) == 5
    scores = [label["score"] for label in result["labels"]]
    assert scores == sorted(scores, reverse=True) and 0 < sum(scores) <= 1.0001
    assert result["model"] == {"name": ENSEMBLE, "version": "1", "members": [
        {"name": DEFAULT_MODEL, "version": "1"}, {"name": INT8, "version": "1"}]}
    assert set(result["timing_ms"]) == {"decode", "infer", "total"}


def test_members_see_what_they_see_alone_and_the_mean_is_the_registry_s(capabilities, ensemble):
    from host.ensemble import combine_probabilities

    data = sample("tench").read_bytes()
    rows, prediction = ensemble.member_probabilities(data)
    for member, row in zip(ensemble.members, rows):
        alone = capabilities.pool.get(member.spec.name).predict(data).probabilities
        np.testing.assert_array_equal(row, alone)  # same decoded pixels, same crop, same interpreter
    weights = np.asarray(ensemble.spec.weights)
    np.testing.assert_allclose(prediction.probabilities, combine_probabilities(np.stack(rows), weights,
                                                                               ensemble.spec.combine), rtol=1e-6)
    arithmetic = combine_probabilities(np.stack(rows), [0.5, 0.5], "arithmetic")
    np.testing.assert_allclose(arithmetic, (rows[0] + rows[1]) / 2, rtol=1e-6)
    assert abs(float(prediction.probabilities.sum()) - 1) < 1e-5


def test_the_picture_is_decoded_once(ensemble, monkeypatch):
    import host.ensemble

    calls = []
    real = host.ensemble.decode_image
    monkeypatch.setattr(host.ensemble, "decode_image", lambda data, size: calls.append(size) or real(data, size))
    ensemble.classify(sample("great_grey_owl").read_bytes(), 5)
    assert calls == [(256, 256)]  # the largest draft size any member needs (224 / 0.875)


def test_side_by_side_members_give_the_same_answer(store, ensemble):
    from host.ensemble import EnsembleClassifier

    side_by_side = EnsembleClassifier(ensemble.spec, ensemble.members, parallel=True)
    try:
        data = sample("tench").read_bytes()
        np.testing.assert_array_equal(side_by_side.predict(data).probabilities, ensemble.predict(data).probabilities)
    finally:
        side_by_side.close()


def test_degenerate_pictures_are_refused_as_by_a_single_model(ensemble):
    import io

    from PIL import Image

    from host.errors import DegenerateImage

    buffer = io.BytesIO()
    Image.new("RGB", (300, 300), (40, 90, 200)).save(buffer, "PNG")
    with pytest.raises(DegenerateImage):
        ensemble.classify(buffer.getvalue(), 5)


@pytest.fixture
def fresh_home(tmp_path, monkeypatch):
    monkeypatch.setenv("TABSENSE_HOME", str(tmp_path))
    return tmp_path


def test_fetching_the_ensemble_installs_and_checks_every_member(fresh_home):
    store = ModelStore(fresh_home)
    spec = store.registry.get(ENSEMBLE)
    assert not store.is_available(spec)
    outcome = store.fetch(spec, SHARED_MODELS)
    assert outcome == {f"{DEFAULT_MODEL}/model": "copied", f"{DEFAULT_MODEL}/labels": "copied",
                       f"{INT8}/model": "copied", f"{INT8}/labels": "copied"}  # the int8 member from the bundle
    assert store.is_available(spec)
    assert [s.state for s in store.check(spec)] == ["ok"] * 4
    assert {s.role for s in store.check(spec)} == set(outcome)


def test_a_damaged_member_is_refused_with_the_fix(fresh_home):
    from host.capabilities import ModelPool

    store = ModelStore(fresh_home)
    store.fetch(store.registry.get(ENSEMBLE), SHARED_MODELS)
    path = store.file_path(store.registry.get(INT8), "model")
    data = bytearray(path.read_bytes())
    data[5000] ^= 0xFF
    path.write_bytes(bytes(data))
    assert [s.state for s in store.check(store.registry.get(ENSEMBLE)) if s.role == f"{INT8}/model"] == ["corrupt"]
    with pytest.raises(ModelCorrupt, match=f"tabsense models fetch --force {INT8}"):
        ModelPool(store, 1).get(ENSEMBLE)


def _bundled_entry(name: str) -> dict:
    from importlib import resources
    from pathlib import Path

    return json.loads((Path(str(resources.files("models"))) / "bundled" / name / "1" / "entry.json").read_text())


def _override_int8(home, **changes):
    (home / "registry.json").write_text(json.dumps({"models": [{**_bundled_entry(INT8), **changes}]}))


def test_a_member_of_another_version_is_named(fresh_home):
    _override_int8(fresh_home, version="2")
    registry = Registry.load(fresh_home)
    with pytest.raises(ModelNotFound, match=f"needs {INT8} v1, but v2 is registered"):
        registry.members(registry.get(ENSEMBLE))
    store = ModelStore(fresh_home)
    statuses = store.check(store.registry.get(ENSEMBLE))
    assert [s.state for s in statuses] == ["missing"] and "v2 is registered" in statuses[0].detail


def test_a_member_rebuilt_differently_is_not_served_in_the_ensemble(fresh_home):
    from host.capabilities import ModelPool

    entry_files = _bundled_entry(INT8)["files"]
    entry_files["model"]["sha256"] = "ab" * 32
    _override_int8(fresh_home, files=entry_files)
    with pytest.raises(ModelCorrupt, match="validated with another build"):
        ModelPool(ModelStore(fresh_home), 1).get(ENSEMBLE)


@pytest.mark.parametrize("change, message", [
    ({"members": [{"name": DEFAULT_MODEL, "version": "1"}]}, "at least two members"),
    ({"combine": "median"}, "combine must be one of"),
    ({"weights": [1.0]}, "one positive number per member"),
    ({"weights": [1.0, -1.0]}, "one positive number per member"),
    ({"members": [{"name": DEFAULT_MODEL, "version": "1"}, {"name": DEFAULT_MODEL, "version": "1"}]}, "different"),
    ({"kind": "mixture"}, "kind must be"),
])
def test_invalid_ensemble_entries_are_refused_in_one_sentence(change, message):
    entry = {"name": "e", "version": "1", "kind": "ensemble", "task": "image_classification",
             "members": [{"name": DEFAULT_MODEL, "version": "1"}, {"name": INT8, "version": "1"}]}
    with pytest.raises(RegistryError, match=message):
        ModelSpec.from_dict({**entry, **change}, "test")


def test_a_default_list_uses_the_first_blessed_model(fresh_home):
    shipped = _bundled_entry(ENSEMBLE)
    document = {"models": [], "defaults": {"image_classification": [ENSEMBLE, DEFAULT_MODEL]}}
    (fresh_home / "registry.json").write_text(json.dumps(document))
    assert Registry.load(fresh_home).default_name() == (ENSEMBLE if shipped["blessed"] else DEFAULT_MODEL)
    document["models"] = [{**shipped, "blessed": False}]  # e.g. a rebuild that the validator rejected
    (fresh_home / "registry.json").write_text(json.dumps(document))
    assert Registry.load(fresh_home).default_name() == DEFAULT_MODEL


def test_ping_and_models_list_show_the_ensemble(capabilities):
    models = {m["name"]: m for m in capabilities.ping({})["models"]}
    assert models[ENSEMBLE]["available"] is True and models[ENSEMBLE]["task"] == "image_classification"
    summary = capabilities.store.registry.get(ENSEMBLE).summary()
    assert summary["members"] == [{"name": DEFAULT_MODEL, "version": "1"}, {"name": INT8, "version": "1"}]


def test_bench_times_both_schedules_of_the_members(store):
    from host.bench import measure_ensemble_schedules

    spec = store.registry.get(ENSEMBLE)
    timed = measure_ensemble_schedules(store, spec, sample("tench"), runs=5, warmup=1, rounds=5)
    assert set(timed) == {"one_after_the_other_2_threads_each", "side_by_side_1_thread_each"}
    assert all(row["total_ms"]["n"] == 5 and row["infer_ms"]["n"] == 5 for row in timed.values())
