"""Models that ship inside TabSense (models/bundled/), so that a machine without the model lab's
TensorFlow still gets them:

- a lab-built image model, `models/bundled/<name>/<version>/`: its files, `entry.json` (its
  registry entry, as the lab registered it, verdict included) and `MODEL_CARD.md`; the host's
  store installs it into the data home on first use (host/store.py);
- the extension's in-browser fallback model, `models/bundled/browser_fallback/<version>/`: the
  files `tabsense-models export-fallback` writes (TF.js graph model, labels, fallback.json) and
  `MODEL_CARD.md`; `install_fallback` copies them, sha256-checked, into extension/models/fallback/.

Only files this project produces are bundled, never the pretrained weights from ../shared.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from pathlib import Path

from host.files import swap_folder

from . import config

BUNDLED_DIR = config.REPO_ROOT / "models" / "bundled"
FALLBACK_BUNDLE = BUNDLED_DIR / "browser_fallback" / "1"
ENTRY_FILE = "entry.json"
MODEL_CARD = "MODEL_CARD.md"
FALLBACK_MANIFEST = "fallback.json"  # models/browser_fallback.py MANIFEST (kept free of its imports)


def _sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def publish_model(entry: dict, model_dir: Path, card: str, bundled_dir: Path = BUNDLED_DIR) -> Path:
    """Copy a registered lab model (its files in `model_dir`, checked) into the bundle folder."""
    target = Path(bundled_dir) / entry["name"] / entry["version"]
    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        for role, file_entry in entry.get("files", {}).items():
            source = Path(model_dir) / file_entry["path"]
            if _sha256(source) != file_entry["sha256"]:
                raise ValueError(f"{source} does not match its registry entry ({role}); rebuild it first.")
            shutil.copyfile(source, work / file_entry["path"])
        shipped = {k: v for k, v in entry.items() if k != "origin"}
        (work / ENTRY_FILE).write_text(json.dumps(shipped, indent=2) + "\n", "utf-8")
        (work / MODEL_CARD).write_text(card, "utf-8")
        for path in [work, *work.iterdir()]:
            path.chmod(0o755 if path.is_dir() else 0o644)
        swap_folder(work, target)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return target


def fallback_files_ok(folder: Path) -> bool:
    """True when `folder` holds a fallback model whose files all match its fallback.json."""
    try:
        manifest = json.loads((Path(folder) / FALLBACK_MANIFEST).read_text("utf-8"))
        return bool(manifest["files"]) and all(
            _sha256(Path(folder) / name) == sha for name, sha in manifest["files"].items())
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return False


def publish_fallback(export_dir: Path, card: str, bundle: Path = FALLBACK_BUNDLE) -> Path:
    """Copy an export of `tabsense-models export-fallback` (checked) into the bundle folder."""
    export_dir = Path(export_dir)
    if not fallback_files_ok(export_dir):
        raise ValueError(f"{export_dir} does not hold a complete fallback model; run "
                         "`tabsense-models export-fallback` first.")
    bundle.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{bundle.name}.", dir=bundle.parent))
    try:
        manifest = json.loads((export_dir / FALLBACK_MANIFEST).read_text("utf-8"))
        for name in [*manifest["files"], FALLBACK_MANIFEST]:
            shutil.copyfile(export_dir / name, work / name)
        (work / MODEL_CARD).write_text(card, "utf-8")
        for path in [work, *work.iterdir()]:
            path.chmod(0o755 if path.is_dir() else 0o644)
        swap_folder(work, bundle)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return bundle


def install_fallback(out_dir: Path, bundle: Path = FALLBACK_BUNDLE) -> str:
    """Install the bundled fallback model into the extension; "present" or "installed".

    Needs no TensorFlow: the files are copied and each is checked against fallback.json."""
    out_dir = Path(out_dir)
    if not fallback_files_ok(bundle):
        raise ValueError(f"The bundled fallback model in {bundle} is missing or damaged; reinstall TabSense.")
    manifest = json.loads((bundle / FALLBACK_MANIFEST).read_text("utf-8"))
    if fallback_files_ok(out_dir) and _sha256(out_dir / FALLBACK_MANIFEST) == _sha256(bundle / FALLBACK_MANIFEST):
        return "present"
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        work.chmod(0o755)  # the browser reads these files
        for name in [*manifest["files"], FALLBACK_MANIFEST]:
            shutil.copyfile(bundle / name, work / name)
            (work / name).chmod(0o644)
        if not fallback_files_ok(work):
            raise ValueError(f"Copying the fallback model into {out_dir.parent} gave damaged files; "
                             "check the disk and run the command again.")
        swap_folder(work, out_dir)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return "installed"


# --- model cards -------------------------------------------------------------------------

PROVENANCE = (
    "Weights: the Keras ImageNet weights of MobileNet v1 0.75 224 (Apache-2.0, Keras Applications; "
    "read from their TF.js layers export in `../shared/models/mobilenet_v1_0.75_224_tfjs`, which is "
    "not part of TabSense). Labels: lines 2-1001 of `imagenet_labels.txt` from google-coral/test_data "
    "(Apache-2.0). Converted and quantized by the TabSense model lab (`models/`); the float weights "
    "themselves are never shipped."
)


def image_model_card(entry: dict, results_line: str) -> str:
    """MODEL_CARD.md of a bundled lab image model, from its registry entry."""
    files = entry["files"]
    validation = entry.get("validation") or {}
    model_file = files["model"]
    return f"""# Model card: {entry['name']} v{entry['version']}

{entry['description']}

## Interface

- File `{model_file['path']}` (sha256 `{model_file['sha256']}`, {model_file['bytes']:,} bytes), TFLite for
  LiteRT / ai-edge-litert; labels `{files['labels']['path']}` (sha256 `{files['labels']['sha256']}`), 1000
  ImageNet classes in the standard index order.
- Input `[1, {entry['input']['height']}, {entry['input']['width']}, 3]` {entry['input']['dtype']}: RGB, central
  {entry['preprocess']['crop_fraction']:.1%} square crop resized (bilinear) to {entry['input']['width']} px,
  real value (pixel - {entry['input']['mean']:g}) / {entry['input']['std']:g}, quantized with the input tensor's
  scale and zero point (host/vision.py `to_input_array`).
- Output `[1, 1000]` {entry['input']['dtype']} softmax probabilities (dequantized by the host).

## Provenance and licence

{PROVENANCE} Licence: {entry.get('license', 'Apache-2.0')}.

Rebuild: `tabsense-models build --from ../shared/models --model mobilenet_v1_0.75_224` (the
`build` extra, TensorFlow 2.19), then `tabsense-models publish`; the build is deterministic
(seeded), so it gives this file byte for byte.

## Quantization

Batch norm folded into the convolutions; full-integer int8 (int8 activations, per-output-channel
int8 weights) calibrated on the 100 calibration photos of the lab's ImageNet sample split; the
weights are rounded onto the int8 grid by GPTQ (models/gptq.py) rather than to nearest.

## Measured accuracy

On the 400 evaluation photos of `../shared/data/imagenet-sample` (every photo whose position in
file-name order is not a multiple of 5; never used for calibration): top-1
{validation.get('top1', float('nan')):.4f}, top-5 {validation.get('top5', float('nan')):.4f}; the float32
model {validation.get('float_top1', float('nan')):.4f}; top-1 agreement with it
{validation.get('agreement', float('nan')):.1%}. Verdict of the lab's validator:
**{validation.get('verdict', 'not validated')}** ({validation.get('rule', '')}). {results_line}

## Limits

ImageNet's 1000 classes only; the sample set is easier than the ImageNet validation set
(published top-1 of MobileNet v1 0.75 224 float there: about 68%).
"""


def fallback_card(manifest: dict, results_line: str) -> str:
    """MODEL_CARD.md of the bundled in-browser fallback model, from its fallback.json."""
    files = "\n".join(f"  - `{name}` sha256 `{sha}`" for name, sha in manifest["files"].items())
    check = manifest.get("check", {})
    return f"""# Model card: in-browser fallback {manifest['name']} v{manifest['version']} ({manifest['weights']})

The model TabSense classifies with inside the browser (TF.js 4.22, wasm backend, in a worker of
the extension's offscreen document) when the helper app is not installed. One network, not the
helper app's ensemble: in the browser it costs ~45-70 ms per picture, so a second network would
double the wait for about two points of top-1.

## Interface

- TF.js graph model: `model.json` and its weight shards ({manifest['bytes']:,} bytes in all,
  {manifest['weights']} weights); `labels.json`, the 1000 label strings the host shows;
  `fallback.json`, the preprocessing (input {manifest['input']['size']} px, central
  {manifest['input']['crop_fraction']:.1%} crop, (pixel - {manifest['input']['mean']:g}) /
  {manifest['input']['std']:g}) and the sha256 of every file:
{files}

## Provenance and licence

{PROVENANCE} Licence: Apache-2.0. Exported by `tabsense-models export-fallback` (batch norm
folded, float16 weights); the export was checked against the Keras model on
{check.get('images', '?')} photos: top-1 equal on {check.get('top1_equal', '?')}, max |difference|
{check.get('max_abs_diff_vs_keras', float('nan')):.1e}. `./scripts/setup.sh` installs these files into
`extension/models/fallback/` (`tabsense-models install-fallback`, no TensorFlow needed).

## Measured accuracy

{results_line}
"""


# --- publishing what the lab built -----------------------------------------------------------

INT8_MODEL = f"{config.MAIN_MODEL}_int8"
FLOAT16_MODEL = f"{config.MAIN_MODEL}_float16"


def publish_all(home: Path, fallback_from: Path, bundled_dir: Path = BUNDLED_DIR) -> list[Path]:
    """Bundle the lab's blessed int8 MobileNet v1 0.75, the image ensemble's entry (when
    `tabsense-models ensemble` registered one) and the in-browser fallback export."""
    from . import registration
    from .ensemble import ENSEMBLE_NAME, ensemble_card

    entries = {e["name"]: e for e in registration.read_local_registry(home)["models"]}
    int8 = entries.get(INT8_MODEL)
    if int8 is None or not int8.get("blessed"):
        raise ValueError(f"{INT8_MODEL} is not registered as blessed in {home}; run "
                         "`tabsense-models build --from ../shared/models --model mobilenet_v1_0.75_224` first.")
    written = [publish_model(int8, registration.model_dir(home, INT8_MODEL, int8["version"]),
                             image_model_card(int8, ""), bundled_dir)]
    if ENSEMBLE_NAME in entries:
        ensemble = entries[ENSEMBLE_NAME]
        written.append(publish_model(ensemble, Path(home), ensemble_card(ensemble), bundled_dir))
    float16 = (entries.get(FLOAT16_MODEL) or {}).get("validation") or {}
    manifest = json.loads((Path(fallback_from) / FALLBACK_MANIFEST).read_text("utf-8"))
    accuracy = (f"The same weights as a float16 TFLite model in the lab: top-1 {float16['top1']:.4f}, top-5 "
                f"{float16['top5']:.4f} on the 400 evaluation photos, top-1 agreement with float32 "
                f"{float16['agreement']:.1%}. " if float16 else "")
    accuracy += ("In the browser, its top-1 equals the helper app's float32 MobileNet v1 0.75 on 500/500 shared "
                 "photos (`python -m bench.fallback_agreement`, bench/results/fallback.md).")
    written.append(publish_fallback(Path(fallback_from), fallback_card(manifest, accuracy),
                                    bundled_dir / FALLBACK_BUNDLE.relative_to(BUNDLED_DIR)))
    return written
