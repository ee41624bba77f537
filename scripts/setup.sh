#!/usr/bin/env bash
# Set TabSense up on this machine and show that it works:
#   1. a virtual environment in .venv with the host installed (editable),
#   2. the models, from ../shared/models when present (or TABSENSE_MODELS_FROM), else downloaded,
#   3. a classification of a sample image,
#   4. the native messaging host registered for every browser found (install_host.py),
#   and the extension's in-browser fallback model, copied from the bundle that ships with
#   TabSense (models/bundled/browser_fallback/; no TensorFlow needed).
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

# The extension classifies in the browser when the helper app is not installed, with the model
# lab's float16 TF.js export of MobileNet v1 0.75, which ships in models/bundled/browser_fallback/
# (sha256-checked on the way into extension/models/fallback/).
step "Installing the in-browser fallback model (extension/models/fallback/)"
"$VENV/bin/tabsense-models" install-fallback

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
