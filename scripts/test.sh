#!/usr/bin/env bash
# Install everything the tests need (Debian packages, the host with its dev extra) and
# run the whole test suite against the real models in ../shared. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

ensure_debian_packages
ensure_venv
step "Installing TabSense with the dev and build extras (the model lab's tests need TensorFlow)"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -e '.[build,dev]'

# The browser benchmark test compares the host with the model lab's TF.js export of MobileNet
# v1 0.75: build it once (about 4 minutes) into a cache folder that later runs reuse.
export TABSENSE_BENCH_HOME="${TABSENSE_BENCH_HOME:-$PWD/.cache/bench-home}"
if [ ! -f "$TABSENSE_BENCH_HOME/lab/mobilenet_v1_0.75_224/exports/tfjs_graph/model.json" ]; then
  step "Building the model lab's MobileNet v1 0.75 variants for the browser benchmark"
  mkdir -p .cache
  if ! TABSENSE_HOME="$TABSENSE_BENCH_HOME" TF_CPP_MIN_LOG_LEVEL=2 "$VENV/bin/tabsense-models" build \
      --from ../shared/models --model mobilenet_v1_0.75_224 --quick --no-report > .cache/lab-build.log 2>&1; then
    tail -n 40 .cache/lab-build.log
    echo "The model lab build failed (full log: .cache/lab-build.log)." >&2
    exit 1
  fi
fi

# The extension's in-browser fallback model is derived from ../shared, so it is generated, not
# committed: into extension/models/fallback/ (gitignored), which is its cache: the command
# checks every file's sha256 and the source's, and rebuilds (~15 s) only when they changed.
step "Building the in-browser fallback model (extension/models/fallback/)"
mkdir -p .cache
if ! TF_CPP_MIN_LOG_LEVEL=2 "$VENV/bin/tabsense-models" export-fallback --from ../shared/models > .cache/fallback-build.log 2>&1; then
  tail -n 40 .cache/fallback-build.log
  echo "Building the fallback model failed (full log: .cache/fallback-build.log)." >&2
  exit 1
fi
tail -n 1 .cache/fallback-build.log

mkdir -p artifacts
step "Running the tests"
"$VENV/bin/python" -m pytest -ra "$@"
