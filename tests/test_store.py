"""The model store: fetch from a folder or a URL, sha256 checks, clear errors."""

import functools
import http.server
import json
import shutil
import threading

import pytest

from support import DEFAULT_MODEL, SHARED_MODELS, TINY_MODEL
from host.errors import FetchError, ModelCorrupt, ModelMissing, ModelNotFound
from host.store import ModelStore, Registry, sha256_file


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("TABSENSE_HOME", str(tmp_path))
    return tmp_path


def test_registry_lists_the_default_model_with_checksums(home):
    registry = Registry.load(home)
    spec = registry.get(None)
    assert spec.name == DEFAULT_MODEL
    assert spec.files["model"].sha256 == "7aad0c74c5e3c06e5eb3c827e13304fdd68a83da6087d92ee169c24ff9fd4776"
    assert spec.files["model"].urls[0].startswith("https://github.com/google-coral/test_data/")
    assert spec.output["label_offset"] == 1
    with pytest.raises(ModelNotFound, match="choose one of"):
        registry.get("nope")


def test_fetch_from_folder_verifies_and_is_idempotent(home):
    store = ModelStore(home)
    spec = store.registry.get(TINY_MODEL)
    assert store.fetch(spec, SHARED_MODELS) == {"model": "copied", "labels": "copied"}
    assert store.fetch(spec, SHARED_MODELS) == {"model": "present", "labels": "present"}
    assert all(s.state == "ok" for s in store.check(spec))


def test_missing_model_names_the_fix(home):
    store = ModelStore(home)
    with pytest.raises(ModelMissing, match="tabsense models fetch"):
        store.require(store.registry.get(TINY_MODEL))


def test_corrupted_model_is_detected_and_repaired(home):
    store = ModelStore(home)
    spec = store.registry.get(TINY_MODEL)
    store.fetch(spec, SHARED_MODELS)
    path = store.file_path(spec, "model")
    data = bytearray(path.read_bytes())
    data[1000] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ModelCorrupt, match="--force"):
        store.require(spec)
    store.fetch(spec, SHARED_MODELS, force=True)
    assert store.require(spec)["model"] == path


def test_wrong_source_file_is_refused_and_leaves_nothing(home, tmp_path_factory):
    source = tmp_path_factory.mktemp("fake-source") / TINY_MODEL
    source.mkdir()
    shutil.copy(SHARED_MODELS / TINY_MODEL / "imagenet_labels.txt", source)
    (source / f"{TINY_MODEL}.tflite").write_bytes(b"not a model")
    store = ModelStore(home)
    spec = store.registry.get(TINY_MODEL)
    with pytest.raises(FetchError, match="sha256"):
        store.fetch(spec, source.parent)
    assert not store.file_path(spec, "model").exists()
    assert not list(store.model_dir(spec).glob(".fetch-*"))


def test_source_folder_without_the_model(home, tmp_path_factory):
    store = ModelStore(home)
    with pytest.raises(FetchError, match="is not in"):
        store.fetch(store.registry.get(TINY_MODEL), tmp_path_factory.mktemp("empty"))


@pytest.fixture
def model_server():
    """The shared models served over HTTP on 127.0.0.1, to exercise the real download path."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(SHARED_MODELS))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def _local_entry(base_url: str, model_sha: str) -> dict:
    labels = SHARED_MODELS / TINY_MODEL / "imagenet_labels.txt"
    return {
        "name": "tiny-download-test",
        "version": "7",
        "task": "image_classification",
        "blessed": True,
        "files": {
            "model": {"path": f"{TINY_MODEL}.tflite", "sha256": model_sha,
                      "urls": [f"{base_url}/missing.tflite", f"{base_url}/{TINY_MODEL}/{TINY_MODEL}.tflite"]},
            "labels": {"path": "imagenet_labels.txt", "sha256": sha256_file(labels),
                       "urls": [f"{base_url}/{TINY_MODEL}/imagenet_labels.txt"]},
        },
        "input": {"height": 128, "width": 128, "channels": 3, "dtype": "uint8", "mean": 128, "std": 128},
        "output": {"kind": "probabilities", "num_classes": 1000, "label_offset": 1},
    }


def test_download_tries_urls_in_order_and_verifies(home, model_server):
    model_sha = sha256_file(SHARED_MODELS / TINY_MODEL / f"{TINY_MODEL}.tflite")
    (home / "registry.json").write_text(json.dumps({"models": [_local_entry(model_server, model_sha)]}))
    store = ModelStore(home)
    spec = store.registry.get("tiny-download-test")
    messages = []
    assert store.fetch(spec, progress=messages.append) == {"model": "downloaded", "labels": "downloaded"}
    assert store.require(spec)["model"].name == f"{TINY_MODEL}.tflite"
    assert any("100%" in m for m in messages)


def test_download_with_wrong_checksum_fails(home, model_server):
    (home / "registry.json").write_text(json.dumps({"models": [_local_entry(model_server, "0" * 64)]}))
    store = ModelStore(home)
    spec = store.registry.get("tiny-download-test")
    with pytest.raises(FetchError, match="sha256"):
        store.fetch(spec)
    assert not store.file_path(spec, "model").exists()


def test_unreachable_url_says_what_to_do(home):
    entry = _local_entry("http://127.0.0.1:9", "0" * 64)
    (home / "registry.json").write_text(json.dumps({"models": [entry]}))
    store = ModelStore(home)
    with pytest.raises(FetchError, match="--from DIR"):
        store.fetch(store.registry.get("tiny-download-test"))


def test_broken_local_registry_keeps_the_shipped_models(home):
    (home / "registry.json").write_text("{not json")
    registry = Registry.load(home)
    assert registry.get(None).name == DEFAULT_MODEL
    assert registry.problems and "ignored" in registry.problems[0]
