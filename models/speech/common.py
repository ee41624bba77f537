"""Shared paths, logging and audio helpers of the speech model lab.

Features and model constants come from the host (`host.features`, `host.speech_params`):
the lab never re-implements them, so training and serving cannot drift apart.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from host.features import SAMPLE_RATE, log_mel  # noqa: F401  (re-exported for the lab)
from host.speech_params import CLASSES, COMMANDS, PHRASES, SILENCE, UNKNOWN, WINDOW_FRAMES, WINDOW_SAMPLES  # noqa: F401

PACKAGE_DIR = Path(__file__).resolve().parent
REPO_ROOT = PACKAGE_DIR.parent.parent
CACHE_DIR = Path(os.environ.get("TABSENSE_SPEECH_CACHE", PACKAGE_DIR / ".cache"))
MODEL_NAME, MODEL_VERSION = "kws_commands", "4"  # a new version for every published retraining
BUNDLE_DIR = REPO_ROOT / "models" / "bundled" / MODEL_NAME / MODEL_VERSION
DOCS_DIR = REPO_ROOT / "docs" / "speech"

log = logging.getLogger("models.speech")


def setup_logging(verbose: bool = False) -> None:
    """Progress and info to stderr (stdout carries the final metrics)."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
        datefmt="%H:%M:%S",
        stream=sys.stderr,
    )
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def run_dir(small: bool) -> Path:
    """Where one pipeline run keeps its datasets, model and reports."""
    path = CACHE_DIR / ("run-small" if small else "run-full")
    path.mkdir(parents=True, exist_ok=True)
    return path


def stable_fraction(text: str) -> float:
    """A fixed pseudo-random number in [0, 1) for a name (file-level splits that never move)."""
    return int(hashlib.sha1(text.encode("utf-8")).hexdigest()[:8], 16) / 2**32


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def load_audio(path: Path | str, rate: int = SAMPLE_RATE) -> np.ndarray:
    """Any file sox reads (wav, flac, ogg, oga) -> mono float32 at `rate`."""
    out = subprocess.run(
        ["sox", "-V1", str(path), "-t", "f32", "-e", "floating-point", "-r", str(rate), "-c", "1", "-"],
        check=True, capture_output=True,
    ).stdout
    return np.frombuffer(out, np.float32).copy()


def write_wav(path: Path | str, audio: np.ndarray, rate: int = SAMPLE_RATE) -> None:
    """16-bit PCM mono WAV."""
    import wave

    pcm = (np.clip(np.asarray(audio, np.float32), -1.0, 1.0) * 32767.0).round().astype("<i2")
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(rate)
        handle.writeframes(pcm.tobytes())


def read_wav(path: Path | str) -> tuple[np.ndarray, int]:
    import wave

    with wave.open(str(path), "rb") as handle:
        rate, channels, width = handle.getframerate(), handle.getnchannels(), handle.getsampwidth()
        data = handle.readframes(handle.getnframes())
    if width != 2:
        raise ValueError(f"{path}: only 16-bit WAV is read here")
    audio = np.frombuffer(data, "<i2").astype(np.float32) / 32768.0
    if channels > 1:
        audio = audio.reshape(-1, channels).mean(axis=1)
    return audio, rate


def trim_silence(audio: np.ndarray, rel_db: float = -40.0, pad_s: float = 0.02) -> np.ndarray:
    """Cut leading/trailing silence: keep from the first to the last 10 ms frame whose RMS is
    within `rel_db` of the loudest frame (and above -70 dBFS), plus a little padding."""
    hop = SAMPLE_RATE // 100
    n = len(audio) // hop
    if n == 0:
        return audio
    rms = np.sqrt(np.mean(audio[: n * hop].reshape(n, hop) ** 2, axis=1) + 1e-12)
    floor = max(rms.max() * 10 ** (rel_db / 20), 10 ** (-70 / 20))
    loud = np.flatnonzero(rms >= floor)
    if len(loud) == 0:
        return audio[:0]
    pad = int(pad_s * SAMPLE_RATE)
    start = max(0, loud[0] * hop - pad)
    end = min(len(audio), (loud[-1] + 1) * hop + pad)
    return audio[start:end]


def save_json(path: Path, data) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    def plain(value):  # numpy scalars and arrays -> JSON
        return value.item() if hasattr(value, "item") and getattr(value, "ndim", 0) == 0 else (
            value.tolist() if hasattr(value, "tolist") else str(value))

    path.write_text(json.dumps(data, indent=2, sort_keys=False, default=plain) + "\n", "utf-8")


class ClipBank:
    """Many variable-length clips in one array (+ offsets) with per-clip metadata; one .npz."""

    def __init__(self):
        self.chunks: list[np.ndarray] = []
        self.meta: list[dict] = []

    def add(self, audio: np.ndarray, **meta) -> None:
        self.chunks.append(np.asarray(audio, np.float32))
        self.meta.append(meta)

    def __len__(self) -> int:
        return len(self.chunks)

    def save(self, path: Path) -> None:
        lengths = np.array([len(c) for c in self.chunks], np.int64)
        offsets = np.concatenate([[0], np.cumsum(lengths)])
        audio = np.concatenate(self.chunks) if self.chunks else np.zeros(0, np.float32)
        np.savez(path, audio=(audio * 32767).round().astype(np.int16), offsets=offsets,
                 meta=np.array(json.dumps(self.meta)))

    @classmethod
    def load(cls, path: Path) -> "ClipBank":
        data = np.load(path)
        bank = cls()
        audio = data["audio"].astype(np.float32) / 32767.0
        offsets = data["offsets"]
        bank.chunks = [audio[offsets[i]: offsets[i + 1]] for i in range(len(offsets) - 1)]
        bank.meta = json.loads(str(data["meta"]))
        return bank

    def items(self):
        return zip(self.chunks, self.meta)
