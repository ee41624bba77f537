"""A 60 MB picture: classified from a file with bounded memory, refused over native messaging
(its base64 is over the 64 MiB frame limit) without the host ever buffering it.

Peak memory is the child's ru_maxrss, measured from a slim wrapper process: a child forked
from the test process would report the test's own pages as well.
"""

from __future__ import annotations

import json
import subprocess

import numpy as np
import pytest
from PIL import Image

from support import EXTENSION_ORIGIN, PYTHON, REPO

pytestmark = pytest.mark.slow

SIDE = 4500  # 4500 x 4500 RGB, stored uncompressed: a 60.8 MB PNG
MAX_CLASSIFY_MB = 300
MAX_REFUSE_MB = 150

# Runs argv[1:] as a child, feeds it stdin (from a file, or a frame header + zeros of that
# length), and prints {"stdout": ..., "maxrss_mb": ...} as JSON.
WRAPPER = r"""
import json, resource, struct, subprocess, sys
mode, arg, cmd = sys.argv[1], sys.argv[2], sys.argv[3:]
proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
try:
    if mode == "frame":
        payload = open(arg, "rb").read()
        proc.stdin.write(struct.pack("=I", len(payload)))
        proc.stdin.write(payload)
    proc.stdin.close()
except BrokenPipeError:
    pass  # the host closed the stream after refusing the frame
out = proc.stdout.read()
proc.wait()
print(json.dumps({"stdout": out.hex(), "code": proc.returncode,
                  "maxrss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}))
"""


@pytest.fixture(scope="module")
def huge_png(tmp_path_factory):
    path = tmp_path_factory.mktemp("huge") / "huge.png"
    noise = np.random.default_rng(7).integers(0, 256, (SIDE, SIDE, 3), dtype=np.uint8)
    Image.fromarray(noise).save(path, "PNG", compress_level=0)
    assert path.stat().st_size > 60_000_000
    return path


def run_wrapped(mode: str, arg: str, cmd: list[str], env) -> dict:
    done = subprocess.run([PYTHON, "-c", WRAPPER, mode, arg, *cmd], capture_output=True, text=True,
                          env=env, cwd=REPO, timeout=240)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    result["stdout"] = bytes.fromhex(result["stdout"])
    return result


def test_a_60_mb_file_is_classified_in_bounded_memory(host_env, huge_png):
    result = run_wrapped("none", "-", [PYTHON, "-m", "host.cli", "classify", "--json", str(huge_png)], host_env)
    answer = json.loads(result["stdout"])
    assert result["code"] == 0 and answer["labels"], answer
    print(f"\n60.8 MB PNG classified from a file: peak RSS {result['maxrss_mb']:.0f} MB")
    assert result["maxrss_mb"] < MAX_CLASSIFY_MB


def test_a_60_mb_picture_is_refused_over_native_messaging_without_buffering(host_env, huge_png, tmp_path):
    import base64

    request = tmp_path / "request.json"
    request.write_text(json.dumps({"id": 1, "type": "classify_image",
                                   "image": base64.b64encode(huge_png.read_bytes()).decode()}))
    result = run_wrapped("frame", str(request), [PYTHON, "-m", "host", EXTENSION_ORIGIN + "/"], host_env)
    from host.protocol import FrameDecoder

    frames = [json.loads(f) for f in FrameDecoder().feed(result["stdout"])]
    assert [f["error"]["code"] for f in frames] == ["message_too_large"], frames
    assert result["code"] == 0  # a clean exit: the stream cannot be resynchronised
    print(f"\n81 MB frame refused: host peak RSS {result['maxrss_mb']:.0f} MB")
    assert result["maxrss_mb"] < MAX_REFUSE_MB
