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
