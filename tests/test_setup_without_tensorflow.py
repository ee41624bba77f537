"""A user's install without the model lab: a fresh virtual environment with TabSense installed
from this folder and no extras (no TensorFlow), then the commands of scripts/setup.sh against an
empty data home. The ensemble answers (its int8 member comes from the package's bundle) and the
in-browser fallback model lands in the extension folder, every file matching its checksum.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from support import REPO, SHARED_MODELS, sample

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def plain_venv(tmp_path_factory) -> Path:
    """A venv holding TabSense (not editable: what its package ships) and only its dependencies."""
    venv = tmp_path_factory.mktemp("plain-venv") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    install = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", str(REPO)],
                             capture_output=True, text=True, timeout=600)
    assert install.returncode == 0, install.stdout + install.stderr
    return venv


def _run(venv: Path, home: Path, *command: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(TABSENSE_HOME=str(home), TABSENSE_THREADS="1")
    return subprocess.run([str(venv / "bin" / command[0]), *command[1:]], env=env, cwd=home,
                          capture_output=True, text=True, timeout=300)


def test_the_plain_install_has_no_tensorflow(plain_venv, tmp_path):
    probe = _run(plain_venv, tmp_path, "python", "-c",
                 "import importlib.util as u; print([m for m in ('tensorflow', 'tf_keras', 'tensorflowjs') "
                 "if u.find_spec(m)])")
    assert probe.returncode == 0 and probe.stdout.strip() == "[]", probe.stderr


def test_setup_steps_serve_the_ensemble_and_install_the_fallback(plain_venv, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    fetched = _run(plain_venv, home, "tabsense", "models", "fetch", "--from", str(SHARED_MODELS))
    assert fetched.returncode == 0, fetched.stderr
    assert "mobilenet_v1_0.75_224_int8 v1:" in fetched.stdout

    photo = sample("great_grey_owl")
    answer = _run(plain_venv, home, "tabsense", "classify", "--json", "--model", "mobilenet_ensemble", str(photo))
    assert answer.returncode == 0, answer.stderr
    result = json.loads(answer.stdout)
    assert result["labels"][0]["index"] == 24
    assert [m["name"] for m in result["model"]["members"]] == ["mobilenet_v2_1.0_224_quant",
                                                               "mobilenet_v1_0.75_224_int8"]

    fallback = tmp_path / "extension" / "models" / "fallback"
    installed = _run(plain_venv, home, "tabsense-models", "install-fallback", "--out", str(fallback))
    assert installed.returncode == 0, installed.stderr
    manifest = json.loads((fallback / "fallback.json").read_text())
    assert manifest["weights"] == "float16" and manifest["classes"] == 1000
    for name, sha256 in manifest["files"].items():
        assert hashlib.sha256((fallback / name).read_bytes()).hexdigest() == sha256
    assert len(json.loads((fallback / "labels.json").read_text())) == 1000
    again = _run(plain_venv, home, "tabsense-models", "install-fallback", "--out", str(fallback))
    assert again.returncode == 0 and "present" in again.stderr  # idempotent, as setup.sh needs
