"""The real native messaging host as a subprocess, exactly as Chrome starts it."""

from __future__ import annotations

import base64
import json
import struct
import subprocess


from support import EXTENSION_ORIGIN, PYTHON, REPO, sample
from host.protocol import FrameDecoder, encode_frame

PHOTO_B64 = base64.b64encode(sample("tench").read_bytes()).decode()


class NativeHost:
    def __init__(self, env, *extra_python_flags):
        self.proc = subprocess.Popen(
            [PYTHON, *extra_python_flags, "-m", "host", EXTENSION_ORIGIN + "/"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=REPO,
        )

    def send(self, message: dict | bytes) -> None:
        payload = message if isinstance(message, bytes) else json.dumps(message).encode()
        self.proc.stdin.write(encode_frame(payload))
        self.proc.stdin.flush()

    def finish(self, timeout=30) -> tuple[list[dict], str, int]:
        """Close stdin; return every frame on stdout (which must be nothing but frames)."""
        stdout, stderr = self.proc.communicate(timeout=timeout)
        decoder = FrameDecoder()
        frames = [json.loads(f) for f in decoder.feed(stdout)]
        assert decoder.at_boundary, f"stdout has bytes that are not frames: {stdout[-200:]!r}"
        return frames, stderr.decode(errors="replace"), self.proc.returncode


def by_id(frames):
    return {f.get("id"): f for f in frames}


def test_ping_and_classify(host_env):
    host = NativeHost(host_env)
    host.send({"id": 1, "type": "ping"})
    host.send({"id": "c1", "type": "classify_image", "image": PHOTO_B64, "top_k": 5})
    frames, stderr, code = host.finish()
    assert code == 0
    answers = by_id(frames)
    assert answers[1]["ok"] and answers[1]["result"]["version"] == "0.1.0"
    result = answers["c1"]["result"]
    assert result["labels"][0]["label"] == "tench"
    assert result["model"] == {"name": "mobilenet_v2_1.0_224_quant", "version": "1"}
    assert "Traceback" not in stderr


def test_bad_messages_get_errors_and_the_host_keeps_serving(host_env):
    host = NativeHost(host_env)
    host.send(b"this is not json")
    host.send(b"\xff\xfe\x00")
    host.send(b"[]")
    host.send({"id": 2, "type": "nope"})
    host.send({"id": 3, "type": "classify_image", "image": "@@@"})
    host.send({"id": 4, "type": "classify_image", "image": base64.b64encode(b"\x89PNG\r\n\x1a\nxx").decode()})
    host.send({"id": 5, "type": "classify_image", "image": PHOTO_B64, "model": "missing"})
    host.send({"id": 6, "type": "ping"})
    frames, stderr, code = host.finish()
    assert code == 0 and "Traceback" not in stderr
    codes = [f["error"]["code"] for f in frames if not f.get("ok")]
    assert sorted(codes) == sorted(["invalid_json", "invalid_json", "invalid_request", "unknown_type",
                                    "bad_base64", "not_an_image", "model_not_found"])
    assert by_id(frames)[6]["ok"]


def test_a_lone_surrogate_id_is_refused_and_the_host_keeps_serving(host_env):
    """Valid JSON text whose id no UTF-8 answer can carry (it once stopped the reader)."""
    host = NativeHost(host_env)
    host.send(b'{"id": "\\ud800", "type": "ping"}')
    host.send({"id": 2, "type": "ping"})
    frames, stderr, code = host.finish()
    assert code == 0 and "Traceback" not in stderr
    assert [(f["id"], f["ok"]) for f in frames] == [(None, False), (2, True)]
    assert frames[0]["error"]["code"] == "invalid_request" and "surrogate" in frames[0]["error"]["message"]


# Starts the host as `python -m host` does, with a start-up thread (where the model preload
# runs) that prints through Python and straight to fd 1, as a native library might, and is
# waited for: its output comes before the host goes on, whatever the scheduling.
STRAY_PRINTS = """
import os, sys, threading, types
import host.native

printed = threading.Event()

def noisy_preload(capabilities):
    print("STRAY-PRINT", flush=True)
    os.write(1, b"STRAY-FD1\\n")
    printed.set()

class StartAndWait(threading.Thread):
    def start(self):
        super().start()
        printed.wait(30)

host.native._preload = noisy_preload
host.native.threading = types.SimpleNamespace(Thread=StartAndWait)
from host.__main__ import main
sys.exit(main(sys.argv[1:]))
"""


def test_nothing_a_startup_thread_prints_reaches_the_frames(host_env):
    proc = subprocess.run([PYTHON, "-c", STRAY_PRINTS, EXTENSION_ORIGIN + "/"], cwd=REPO, env=host_env,
                          input=encode_frame(json.dumps({"id": 1, "type": "ping"}).encode()),
                          capture_output=True, timeout=60)
    decoder = FrameDecoder()
    frames = [json.loads(f) for f in decoder.feed(proc.stdout)]
    assert decoder.at_boundary and b"STRAY" not in proc.stdout, proc.stdout[:200]
    assert [(f["id"], f["ok"]) for f in frames] == [(1, True)] and proc.returncode == 0
    assert b"STRAY-PRINT" in proc.stderr and b"STRAY-FD1" in proc.stderr  # the thread did print: to stderr


def test_requests_are_answered_concurrently_by_id(host_env):
    host = NativeHost(host_env)
    for i in range(6):
        host.send({"id": f"c{i}", "type": "classify_image", "image": PHOTO_B64, "top_k": 1})
        host.send({"id": f"p{i}", "type": "ping"})
    frames, _, code = host.finish()
    assert code == 0
    assert sorted(f["id"] for f in frames) == sorted([f"c{i}" for i in range(6)] + [f"p{i}" for i in range(6)])
    assert all(f["ok"] for f in frames)


def test_oversized_frame_length_closes_cleanly_with_an_error(host_env):
    host = NativeHost(host_env)
    host.send({"id": 1, "type": "ping"})
    host.proc.stdin.write(struct.pack("=I", 64 * 1024 * 1024 + 1) + b"{}")
    host.proc.stdin.flush()
    frames, stderr, code = host.finish()
    assert code == 0 and "Traceback" not in stderr
    assert frames[0]["id"] == 1 and frames[0]["ok"]
    assert frames[-1] == {"id": None, "ok": False, "error": {"code": "message_too_large", "message": frames[-1]["error"]["message"]}}


def test_input_ending_mid_frame_exits_cleanly(host_env):
    host = NativeHost(host_env)
    host.proc.stdin.write(struct.pack("=I", 500) + b'{"id": 1, "ty')
    frames, stderr, code = host.finish()
    assert (frames, code) == ([], 0)
    assert "Traceback" not in stderr


def test_large_image_frame_is_accepted(host_env):
    """A ~20 MB request (a big PNG) is read, decoded and answered."""
    import io

    import numpy as np
    from PIL import Image

    noise = np.random.default_rng(1).integers(0, 256, (2600, 2600, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(noise).save(buffer, "PNG", compress_level=0)
    assert buffer.tell() > 15_000_000
    host = NativeHost(host_env)
    host.send({"id": "big", "type": "classify_image", "image": base64.b64encode(buffer.getvalue()).decode()})
    frames, _, code = host.finish(timeout=60)
    assert code == 0 and frames[0]["ok"], frames


def test_missing_model_is_a_clear_error(host_env, tmp_path):
    env = dict(host_env, TABSENSE_HOME=str(tmp_path))
    host = NativeHost(env)
    host.send({"id": 1, "type": "classify_image", "image": PHOTO_B64})
    host.send({"id": 2, "type": "ping"})
    frames, _, code = host.finish()
    answers = by_id(frames)
    assert answers[1]["error"]["code"] == "model_missing"
    assert "tabsense models fetch" in answers[1]["error"]["message"]
    assert answers[2]["ok"] and not any(m["available"] for m in answers[2]["result"]["models"])
    assert code == 0


def test_host_never_imports_tensorflow(host_env):
    host = NativeHost(host_env, "-X", "importtime")
    host.send({"id": 1, "type": "classify_image", "image": PHOTO_B64})
    frames, stderr, code = host.finish()
    assert frames[0]["ok"] and code == 0
    imported = [line.rsplit("|", 1)[-1].strip() for line in stderr.splitlines() if line.startswith("import time:")]
    assert "ai_edge_litert.interpreter" in imported
    assert not [m for m in imported if m.split(".")[0] in ("tensorflow", "tf_keras", "keras", "tensorflowjs")]


def test_log_file_is_written_in_the_data_home(host_env, tabsense_home):
    host = NativeHost(host_env)
    host.send({"id": 1, "type": "ping"})
    host.finish()
    log = (tabsense_home / "logs" / "host.log").read_text()
    assert "TabSense host 0.1.0 starting" in log
