"""Paths and helpers shared by the tests (imported as `support`, not via conftest)."""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
SHARED_MODELS = SHARED / "models"
SAMPLES = SHARED / "data" / "imagenet-sample"
DEFAULT_MODEL = "mobilenet_v2_1.0_224_quant"
TINY_MODEL = "mobilenet_v1_0.25_128_quant"
EXTENSION_ORIGIN = "chrome-extension://dkkhfeafnpmeclbkjcjjdoohdalbafda"

PYTHON = sys.executable


def sample(name_fragment: str) -> Path:
    matches = sorted(SAMPLES.glob(f"*{name_fragment}*.JPEG"))
    assert matches, f"no sample image matches {name_fragment!r}"
    return matches[0]


def sample_folder(root: Path, count: int) -> Path:
    """A folder with the first `count` sample photos and classes.tsv (symlinks), as the lab reads it."""
    folder = root / "samples"
    folder.mkdir()
    (folder / "classes.tsv").symlink_to(SAMPLES / "classes.tsv")
    for photo in sorted(SAMPLES.glob("*.JPEG"))[:count]:
        (folder / photo.name).symlink_to(photo)
    return folder


def wav_bytes(samples, rate: int, width: int = 2, channels: int = 1) -> bytes:
    """A PCM WAV file of float samples in [-1, 1] (interleaved when `channels` > 1), 8 to 32 bits."""
    import io
    import wave

    import numpy as np

    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(width)
        w.setframerate(rate)
        if width == 1:
            data = (np.clip(samples, -1, 1) * 127 + 128).astype(np.uint8).tobytes()
        elif width == 2:
            data = (np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes()
        elif width == 3:
            ints = (np.clip(samples, -1, 1) * 8388607).astype("<i4")
            data = b"".join(int(v).to_bytes(3, "little", signed=True) for v in ints)
        else:
            data = (np.clip(samples, -1, 1) * 2147483647).astype("<i4").tobytes()
        w.writeframes(data)
    return buffer.getvalue()


def derive_again(module: str, out: Path, bundle: Path) -> dict:
    """Run a model derivation (`python -m module --out out`) and check that it gives the bundled
    file and entry again, derived from the source file it names; the entry."""
    import hashlib
    import json
    import subprocess

    subprocess.run([PYTHON, "-m", module, "--out", str(out)], check=True, capture_output=True, cwd=REPO)
    entry = json.loads((bundle / "entry.json").read_text())
    file = entry["files"]["model"]
    assert hashlib.sha256((out / file["path"]).read_bytes()).hexdigest() == file["sha256"]
    assert hashlib.sha256((bundle / file["path"]).read_bytes()).hexdigest() == file["sha256"]
    assert json.loads((out / "entry.json").read_text()) == entry
    source = REPO / "models" / "bundled" / entry["params"]["derived_from"]
    assert entry["params"]["derived_from_sha256"] == json.loads((source / "entry.json").read_text())["files"]["model"]["sha256"]
    return entry
