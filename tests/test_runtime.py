"""LiteRT's own console notes ("INFO: Created TensorFlow Lite XNNPACK delegate for CPU.") are
written by native code to fd 2: the host sends them to logging instead of the terminal."""

from __future__ import annotations

import base64
import json
import logging
import os
import subprocess

from support import EXTENSION_ORIGIN, PYTHON, REPO, sample
from host.protocol import FrameDecoder, encode_frame
from host.runtime import native_stderr_to_log

PHOTO = sample("tench")


def tabsense(env, *args):
    return subprocess.run([PYTHON, "-m", "host.cli", *args], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=120)


def test_classify_prints_no_runtime_notes(host_env):
    run = tabsense(host_env, "classify", str(PHOTO))
    assert run.returncode == 0 and "tench" in run.stdout
    assert "XNNPACK" not in run.stderr and "INFO" not in run.stderr, run.stderr
    assert run.stderr == ""


def test_verbose_shows_them_through_the_litert_logger(host_env):
    for args in (["-v", "classify", str(PHOTO)], ["classify", "-v", str(PHOTO)]):
        run = tabsense(host_env, *args)
        assert run.returncode == 0 and "tench" in run.stdout
        notes = [line for line in run.stderr.splitlines() if "XNNPACK" in line]
        assert notes and all(" INFO litert " in line for line in notes), run.stderr


def test_the_browser_started_host_writes_them_to_its_log_never_to_stdout(host_env, tabsense_home):
    log_file = tabsense_home / "logs" / "host.log"
    before = log_file.stat().st_size if log_file.exists() else 0
    host = subprocess.Popen([PYTHON, "-m", "host", EXTENSION_ORIGIN + "/"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=host_env, cwd=REPO)
    request = {"id": 1, "type": "classify_image", "image": base64.b64encode(PHOTO.read_bytes()).decode()}
    stdout, _ = host.communicate(encode_frame(json.dumps(request).encode()), timeout=60)
    decoder = FrameDecoder()
    frames = [json.loads(f) for f in decoder.feed(stdout)]
    assert decoder.at_boundary and b"XNNPACK" not in stdout
    assert frames[0]["result"]["labels"][0]["label"] == "tench"
    written = log_file.read_bytes()[before:].decode(errors="replace")
    assert any(" INFO litert " in line and "XNNPACK" in line for line in written.splitlines()), written


def test_captured_lines_keep_their_level_and_fd_2_comes_back(caplog, capfd):
    with caplog.at_level(logging.DEBUG, logger="litert"), native_stderr_to_log():
        os.write(2, b"INFO: a note\nERROR: a failure\nno level here\n")
    assert [(r.levelno, r.getMessage()) for r in caplog.records] == [
        (logging.INFO, "a note"), (logging.ERROR, "a failure"), (logging.WARNING, "no level here")]
    os.write(2, b"after\n")
    assert capfd.readouterr().err == "after\n"
