"""Install lab-built files into the model store and register them in the local registry.

Layout (the host's contract): files in `$TABSENSE_HOME/models/<name>/<version>/<file>`,
entries in `$TABSENSE_HOME/registry.json` as `{"models": [entry, ...], "defaults": {}}`, in
the schema of models/registry.json. Every write goes to a temporary file that is renamed
into place, so a crash never leaves a half-written model or registry; entries are merged by
name (a rebuild replaces the lab's entries and keeps everyone else's).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from host import paths
from host.files import atomic_write
from host.store import ModelSpec

from . import config


def model_dir(home: Path, name: str, version: str = config.MODEL_VERSION) -> Path:
    return paths.models_dir(home) / name / version


def install_file(home: Path, name: str, file_name: str, data: bytes,
                 version: str = config.MODEL_VERSION) -> dict:
    """Write one file of a model into the store; returns its registry `files` record."""
    if Path(file_name).name != file_name:
        raise ValueError(f"Model file names must be bare names, not {file_name!r}.")
    target = model_dir(home, name, version) / file_name
    atomic_write(target, data)
    return {"path": file_name, "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}


def labels_text(source_dir: Path) -> str:
    """The 1000 labels of the lab models: imagenet_labels.txt without its background line."""
    path = Path(source_dir) / config.LABELS_SOURCE
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist; it provides the ImageNet label names.")
    lines = [line.strip() for line in path.read_text("utf-8").splitlines() if line.strip()]
    if len(lines) != config.NUM_CLASSES + 1 or lines[0] != "background":
        raise ValueError(f"{path} should hold 'background' and then {config.NUM_CLASSES} labels.")
    return "\n".join(lines[1:]) + "\n"


def make_entry(
    *,
    name: str,
    description: str,
    quantization: str,
    files: dict,
    input_dtype: str,
    size: int,
    derived_from: str | None,
    blessed: bool,
    validation: dict | None,
    input_mean: float = config.INPUT_MEAN,
) -> dict:
    """A registry entry for a lab-built 1000-class ImageNet classifier (schema of the host)."""
    entry = {
        "name": name,
        "version": config.MODEL_VERSION,
        "task": "image_classification",
        "description": description,
        "license": config.LICENSE,
        "quantization": quantization,
        "blessed": bool(blessed),
        "derived_from": derived_from,
        "validation": validation,
        "files": files,
        "input": {"height": size, "width": size, "channels": 3, "dtype": input_dtype,
                  "mean": input_mean, "std": config.INPUT_STD},
        "output": {"kind": "probabilities", "num_classes": config.NUM_CLASSES, "label_offset": 0},
        "preprocess": dict(config.PREPROCESS),
    }
    ModelSpec.from_dict(entry, "the model lab")  # the host's own validation of the schema
    return entry


def read_local_registry(home: Path) -> dict:
    path = paths.local_registry_path(home)
    if not path.exists():
        return {"models": [], "defaults": {}}
    try:
        document = json.loads(path.read_text("utf-8"))
    except ValueError as exc:
        raise ValueError(f"{path} is not valid JSON ({exc}); fix or remove it before building.") from exc
    if not isinstance(document, dict) or not isinstance(document.get("models"), list):
        raise ValueError(f"{path} has no `models` list; fix or remove it before building.")
    document.setdefault("defaults", {})
    return document


def register(home: Path, entries: list[dict]) -> Path:
    """Merge `entries` by name into the local registry, atomically; returns its path."""
    document = read_local_registry(home)
    by_name = {e.get("name"): e for e in document["models"]}
    for entry in entries:
        ModelSpec.from_dict(entry, "the model lab")
        by_name[entry["name"]] = entry
    document["models"] = list(by_name.values())
    path = paths.local_registry_path(home)
    atomic_write(path, (json.dumps(document, indent=2) + "\n").encode("utf-8"))
    return path
