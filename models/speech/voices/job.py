"""One clip to render, where it is cached, and the post-processing every engine's output gets."""

from __future__ import annotations

import hashlib
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..common import CACHE_DIR, SAMPLE_RATE, trim_silence, write_wav

TTS_CACHE = CACHE_DIR / "tts"


@dataclass(frozen=True)
class Job:
    engine: str          # a name in voices.ENGINES
    voice: str           # espeak: accent+variant; kokoro: accent/style[+style]; others: the voice name
    text: str
    stretch: float = 1.0  # >1 slower
    pitch: int = 0        # cents (sox), flite/festival only
    speed: int = 175      # espeak words per minute
    epitch: int = 50      # espeak pitch 0-99

    @property
    def key(self) -> str:
        # the cache key: changing this string re-renders every clip (and changes the data)
        raw = f"{self.engine}|{self.voice}|{self.text}|{self.stretch}|{self.pitch}|{self.speed}|{self.epitch}|v2"
        return hashlib.sha1(raw.encode()).hexdigest()[:20]

    @property
    def path(self) -> Path:
        return TTS_CACHE / self.key[:2] / f"{self.key}.wav"


def finish(job: Job, raw_path: Path, effects: list[str]) -> str | None:
    """Engine output -> 16 kHz mono, sox `effects`, trimmed, cached at job.path. Returns an error or None."""
    proc = subprocess.run(["sox", "-V1", str(raw_path), "-t", "f32", "-e", "floating-point", "-r", str(SAMPLE_RATE),
                           "-c", "1", "-", *effects], capture_output=True)
    if proc.returncode:
        return f"sox failed: {proc.stderr.decode(errors='replace')[:200]}"
    audio = trim_silence(np.frombuffer(proc.stdout, np.float32))
    peak = float(np.max(np.abs(audio))) if len(audio) else 0.0
    if peak > 0.98:  # sox pitch can overshoot: normalise rather than clip
        audio = audio * (0.95 / peak)
    job.path.parent.mkdir(parents=True, exist_ok=True)
    partial = job.path.with_suffix(".part")
    write_wav(partial, audio)
    partial.replace(job.path)  # atomic: an interrupted run never leaves a truncated clip in the cache
    return None


def pitch_effect(job: Job) -> list[str]:
    """sox pitch shift in cents (moves the formants too): the engines without their own pitch control."""
    return ["pitch", str(job.pitch)] if job.pitch else []


def installed(*modules: str) -> bool:
    """Are these optional Python packages importable (without importing them)?"""
    import importlib.util

    return all(importlib.util.find_spec(name) is not None for name in modules)


def render_each(jobs: list[Job], workdir: Path, engine: str, render_one) -> list[Path | str]:
    """`render_one(job, path)` for each job, into `workdir/<i>.wav`; a voice failure becomes that
    clip's reason (reported by the caller), never the whole batch's."""
    out: list[Path | str] = []
    for i, job in enumerate(jobs):
        raw = workdir / f"{i}.wav"
        try:
            render_one(job, raw)
        except Exception as exc:  # noqa: BLE001
            out.append(f"{engine} failed: {exc}")
            continue
        out.append(raw)
    return out
