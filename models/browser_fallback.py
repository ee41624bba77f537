"""The extension's in-browser fallback model: MobileNet v1 0.75 224 as a TF.js graph model.

When the TabSense host is not installed, the extension classifies with this model in its
offscreen document (TF.js, wasm backend). This module generates it from the pretrained model
in ../shared/models (TensorFlow needed) into the extension's gitignored folder
`extension/models/fallback/`; `tabsense-models publish` copies that export into
models/bundled/browser_fallback/, from which `./scripts/setup.sh` installs it on machines
without TensorFlow (models/bundle.py). It stays one network, not the host's ensemble: in the
browser a second network would double its 45-70 ms per picture. The files:

- `model.json` + weight shards: the lab's graph-model export (models/export.py), float16
  weights, which the lab blessed for this network (100% top-1 agreement with float32, half
  the size). 8-bit weights are refused: a graph model folds batch norm before quantizing,
  which the lab measured as the collapse (8.8% agreement).
- `labels.json`: the 1000 label strings, exactly the ones the host shows (host.classifier's
  load_labels: the first synonym of each line of the lab's label file).
- `fallback.json`: what the extension needs to preprocess like the host (input size, mean,
  std, central crop) plus provenance and the export check.

The export is checked before it replaces anything: the graph model, run back in TensorFlow
(models/tfjs_graph.py), must give the Keras model's top-1 on sample photos.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from host.files import swap_folder

from . import config, registration, tfjs_io

MODEL_NAME = config.MAIN_MODEL  # mobilenet_v1_0.75_224: the network the lab measured in TF.js
VERSION = "1"
DEFAULT_OUT = config.REPO_ROOT / "extension" / "models" / "fallback"
MANIFEST = "fallback.json"
LABELS = "labels.json"
WEIGHTS = ("float16", "float32")
CHECK_IMAGES = 20
# Bumped whenever this module writes different files from the same source, so that
# `is_current` rebuilds folders written by an older version.
EXPORT_FORMAT = 2


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _source_digest(folder: Path) -> str:
    """One hash over the source model's files, so a changed source triggers a rebuild."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.iterdir() if p.is_file()):
        digest.update(path.name.encode() + b"\0" + _sha256(path).encode() + b"\n")
    return digest.hexdigest()


def is_current(out_dir: Path, source_dir: Path, weights: str) -> bool:
    """True when out_dir already holds this export of this source (every file checksummed)."""
    try:
        manifest = json.loads((Path(out_dir) / MANIFEST).read_text("utf-8"))
        source = config.source_by_name(MODEL_NAME)
        if (manifest.get("weights"), manifest.get("version"), manifest.get("export_format")) != (weights, VERSION, EXPORT_FORMAT):
            return False
        if manifest.get("source", {}).get("sha256") != _source_digest(Path(source_dir) / source.folder):
            return False
        return all(_sha256(Path(out_dir) / name) == sha for name, sha in manifest["files"].items())
    except (OSError, ValueError, KeyError, AttributeError):
        return False


def host_labels(source_dir: Path) -> list[str]:
    """The label strings the host shows for the lab's models, index -> name."""
    from host.classifier import load_labels

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / config.LABELS_FILE
        path.write_text(registration.labels_text(source_dir), "utf-8")
        return load_labels(path, 0, config.NUM_CLASSES)


def export_fallback(source_dir: Path, out_dir: Path = DEFAULT_OUT, weights: str = "float16",
                    samples_dir: Path = config.DEFAULT_SAMPLES_DIR, progress=print) -> dict:
    """Build, check and install the fallback model into out_dir; returns its manifest."""
    if weights not in WEIGHTS:
        raise ValueError(f"The fallback model stores {' or '.join(WEIGHTS)} weights, not {weights!r}: 8-bit "
                         "weights in a TF.js graph model collapse (docs/model-lab/report.md).")
    from . import export
    from .importers import load_float_model
    from .samples import evaluation, float_input, load_samples
    from .tfjs_graph import load_graph_model

    source = config.source_by_name(MODEL_NAME)
    source_dir, out_dir = Path(source_dir), Path(out_dir)
    folder = source_dir / source.folder
    started = time.perf_counter()
    model = load_float_model(folder, source.size)
    labels = host_labels(source_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    work.chmod(0o755)  # mkdtemp makes it private; the browser and other users read these files
    try:
        export.to_tfjs_graph(model, work, weights)
        # The check: the exported graph (folded, fused, float16) answers like the Keras model.
        chosen = evaluation(load_samples(Path(samples_dir)))[:CHECK_IMAGES]
        batch = np.concatenate([float_input(s.path, source.size) for s in chosen])
        reference = model.predict(batch, verbose=0)
        output = load_graph_model(work)(batch)
        check = {"images": len(chosen), "max_abs_diff_vs_keras": float(np.abs(output - reference).max()),
                 "top1_equal": int((output.argmax(1) == reference.argmax(1)).sum())}
        if check["top1_equal"] != len(chosen):
            raise RuntimeError(f"The exported fallback model disagrees with the Keras model on "
                               f"{len(chosen) - check['top1_equal']} of {len(chosen)} photos; not installed.")
        (work / LABELS).write_text(json.dumps(labels, indent=0) + "\n", "utf-8")
        document = tfjs_io.read_model_json(work)
        files = {p.name: _sha256(p) for p in sorted(work.iterdir()) if p.is_file()}
        manifest = {
            "name": MODEL_NAME,
            "version": VERSION,
            "weights": weights,
            "export_format": EXPORT_FORMAT,
            "format": document.get("format"),
            "input": {"size": source.size, "mean": config.INPUT_MEAN, "std": config.INPUT_STD,
                      "crop_fraction": config.PREPROCESS["crop_fraction"]},
            "classes": len(labels),
            "files": files,
            "bytes": sum((work / name).stat().st_size for name in files),
            "source": {"folder": source.folder, "sha256": _source_digest(folder), "description": source.description},
            "check": check,
            "generated_by": "tabsense-models export-fallback",
            "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        }
        (work / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", "utf-8")
        swap_folder(work, out_dir)  # the extension never sees half a model
    finally:
        shutil.rmtree(work, ignore_errors=True)
    progress(f"fallback model {MODEL_NAME} ({weights}): {manifest['bytes']:,} bytes in {out_dir}; "
             f"check: top-1 equal on {check['top1_equal']}/{check['images']} photos, max |diff| "
             f"{check['max_abs_diff_vs_keras']:.1e} ({time.perf_counter() - started:.0f} s)")
    return manifest
