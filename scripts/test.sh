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

mkdir -p artifacts
step "Running the tests"
"$VENV/bin/python" -m pytest -ra "$@"
