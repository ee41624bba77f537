"""The per-test timeout (pyproject.toml) cuts a hung test but not the fixtures it waits for:
module and session fixtures that build a model lab run or a venv may take longer."""

from __future__ import annotations

import subprocess

from support import PYTHON, REPO

SLOW_FIXTURE = '''
import time
import pytest

@pytest.fixture(scope="module")
def slow_fixture():
    time.sleep(2)
    return "built"

def test_waits_for_a_slow_fixture(slow_fixture):
    assert slow_fixture == "built"

def test_hangs():
    time.sleep(2)
'''


def test_the_timeout_counts_the_test_not_its_fixtures(tmp_path):
    (tmp_path / "test_slow.py").write_text(SLOW_FIXTURE)
    run = subprocess.run([PYTHON, "-m", "pytest", "-c", str(REPO / "pyproject.toml"), "--rootdir", str(tmp_path),
                          str(tmp_path / "test_slow.py"), "-q", "-p", "no:cacheprovider", "--timeout=1", "-rA"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert "PASSED test_slow.py::test_waits_for_a_slow_fixture" in run.stdout, run.stdout
    assert "FAILED test_slow.py::test_hangs - Failed: Timeout" in run.stdout, run.stdout
