"""`tabsense doctor` on a fresh install, set up as scripts/setup.sh does it."""

from __future__ import annotations

import re
import subprocess

from support import PYTHON, REPO, SHARED_MODELS
from host.store import ModelStore


def test_doctor_finds_no_problem_on_a_fresh_install(host_env, tmp_path):
    env = dict(host_env, TABSENSE_HOME=str(tmp_path / "home"), XDG_CONFIG_HOME=str(tmp_path / "config"))
    (tmp_path / "config" / "chromium").mkdir(parents=True)  # a browser that has been started once

    def run(*args):
        return subprocess.run([PYTHON, *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=180)

    fetch = run("-m", "host.cli", "models", "fetch", "--from", str(SHARED_MODELS))
    assert fetch.returncode == 0, fetch.stderr
    install = run("install_host.py")
    assert install.returncode == 0, install.stdout + install.stderr

    doctor = run("-m", "host.cli", "doctor")
    assert "FAIL" not in doctor.stdout, doctor.stdout
    assert doctor.returncode == 0 and doctor.stdout.rstrip().endswith("Everything looks fine.")
    # Every installed model loads with its own task's loader; an unblessed one is a note.
    for spec in ModelStore(tmp_path / "home").registry.specs():
        label = re.escape(f"{spec.name} v{spec.version}")
        if (tmp_path / "home" / "models" / spec.name).is_dir():
            loads = "loads" if spec.task == "voice_negatives" else "loads in LiteRT"  # data, not a network
            assert re.search(rf"ok    {label}( \(default\))?: installed, sha256 verified, {loads}", doctor.stdout)
            assert (f"note  {spec.name} v{spec.version}: not blessed" in doctor.stdout) == (not spec.blessed)
    assert "kws_commands" in doctor.stdout
