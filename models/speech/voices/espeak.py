"""espeak-ng (Debian espeak-ng + espeak-ng-data): 8 English accents x the voice variants in
voices/!v (each variant is one "speaker"), with its own speed (-s) and pitch (-p)."""

from __future__ import annotations

import subprocess
from functools import cache
from pathlib import Path

from ..missing import MissingPackage, installs, require_command
from .job import Job, pitch_effect

NAME = "espeak"
PACKAGE = "espeak-ng"
BATCH = 1  # one process per clip (~20 ms)
ACCENTS = ["en-us", "en-gb", "en-gb-scotland", "en-gb-x-gbclan", "en-gb-x-rp", "en-gb-x-gbcwmd", "en-029", "en-us-nyc"]
# espeak-ng-data lives under the machine's multiarch directory (x86_64-linux-gnu, aarch64-linux-gnu, ...)
VARIANT_DIRS = ("/usr/lib/*/espeak-ng-data/voices/!v", "/usr/share/espeak-ng-data/voices/!v")


@cache
def variants() -> tuple[str, ...]:
    """The variant names (speakers), sorted: the espeak-ng speaker split is drawn over this list."""
    for pattern in VARIANT_DIRS:
        for directory in sorted(Path("/").glob(pattern.lstrip("/"))):
            names = sorted(p.name for p in directory.iterdir() if p.is_file())
            if names:
                return tuple(names)
    raise MissingPackage(f"No espeak-ng voice variants found in {VARIANT_DIRS[0]}: install the Debian package "
                         "espeak-ng-data")


def available() -> bool:
    return installs(prepare)


def prepare(voices: set[str]) -> None:
    require_command("espeak-ng", PACKAGE)
    known = set(variants())
    for voice in voices:
        if voice.split("+", 1)[1] not in known:
            raise MissingPackage(f"espeak-ng has no voice variant {voice.split('+', 1)[1]!r}: install the Debian "
                                 "package espeak-ng-data")


def render(jobs: list[Job], workdir: Path) -> list[Path | str]:
    out = []
    for i, job in enumerate(jobs):
        raw = workdir / f"{i}.wav"
        proc = subprocess.run(["espeak-ng", "-v", job.voice, "-s", str(job.speed), "-p", str(job.epitch), "-w",
                               str(raw), job.text], capture_output=True, timeout=60)
        out.append(raw if proc.returncode == 0 and raw.exists() else
                   f"espeak failed: {proc.stderr.decode(errors='replace')[:200]}")
    return out


def sox_effects(job: Job) -> list[str]:
    return pitch_effect(job)
