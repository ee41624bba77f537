#!/usr/bin/env bash
# Set TabSense up on this machine and show that it works:
#   1. a virtual environment in .venv with the host installed (editable),
#   2. the models, from ../shared/models when present (or TABSENSE_MODELS_FROM), else downloaded,
#   3. a classification of a sample image,
#   4. the native messaging host registered for every browser found (install_host.py),
#   and, when TensorFlow is installed (or TABSENSE_BROWSER_MODEL=1), the extension's
#   in-browser fallback model, generated from ../shared/models.
# Re-running it is safe: every step is idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

ensure_venv
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -e .

models_from="${TABSENSE_MODELS_FROM:-}"
if [ -z "$models_from" ] && [ -d ../shared/models ]; then models_from=../shared/models; fi
if [ -n "$models_from" ]; then
  step "Installing models from $models_from"
  "$VENV/bin/tabsense" models fetch --from "$models_from"
else
  step "Downloading models (sha256-checked)"
  "$VENV/bin/tabsense" models fetch
fi

# The extension classifies in the browser when the helper app is not installed, with a TF.js
# model generated here from the pretrained MobileNet (not committed: derived from ../shared).
# Generating it needs TensorFlow, the 'build' extra (~3 GB): used when installed, installed
# when TABSENSE_BROWSER_MODEL=1.
fallback_source="${models_from:-../shared/models}"
if [ -d "$fallback_source/mobilenet_v1_0.75_224_tfjs" ]; then
  if [ "${TABSENSE_BROWSER_MODEL:-}" = 1 ]; then
    step "Installing the model lab (the 'build' extra, TensorFlow) for the in-browser model"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -e '.[build]'
  fi
  if "$VENV/bin/python" -c 'import tensorflowjs' >/dev/null 2>&1; then
    step "Generating the in-browser fallback model (extension/models/fallback/)"
    TF_CPP_MIN_LOG_LEVEL=2 "$VENV/bin/tabsense-models" export-fallback --from "$fallback_source"
  else
    step "Skipping the in-browser fallback model (needs TensorFlow: TABSENSE_BROWSER_MODEL=1 ./scripts/setup.sh)"
  fi
else
  step "Skipping the in-browser fallback model ($fallback_source/mobilenet_v1_0.75_224_tfjs is not here)"
fi

step "Classifying a sample image"
image=$(ls ../shared/data/imagenet-sample/*.JPEG 2>/dev/null | head -n 1 || true)
if [ -z "$image" ]; then
  image="$(mktemp -d)/sample.jpg"
  "$VENV/bin/python" -c "from PIL import Image; Image.new('RGB', (224, 224), (30, 120, 200)).save('$image')"
fi
"$VENV/bin/tabsense" classify "$image"

if [ -f install_host.py ]; then
  step "Registering the native messaging host with your browsers"
  "$VENV/bin/python" install_host.py || echo "install_host.py reported a problem (see above); 'tabsense doctor' explains."
fi

step "Done"
cat <<MSG
TabSense is installed in $(pwd)/.venv.
  Classify images:   .venv/bin/tabsense classify FILE...
  Check everything:  .venv/bin/tabsense doctor
  Load the extension: chrome://extensions -> Developer mode -> Load unpacked -> $(pwd)/extension
MSG
