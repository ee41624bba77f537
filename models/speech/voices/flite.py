"""flite (Debian flite): the recorded speakers kal, kal16, slt, rms and awb built into the binary;
duration_stretch slows them, sox moves the pitch."""

from __future__ import annotations

import subprocess
from functools import cache
from pathlib import Path

from ..missing import MissingPackage, installs, require_command
from .job import Job, pitch_effect

NAME = "flite"
PACKAGE = "flite"
BATCH = 1  # one process per clip (10-25 ms)


@cache
def _voices() -> frozenset[str]:
    listing = subprocess.run(["flite", "-lv"], capture_output=True, text=True, timeout=60).stdout
    return frozenset(listing.split(":", 1)[-1].split())


def available() -> bool:
    return installs(prepare)


def prepare(voices: set[str]) -> None:
    require_command("flite", PACKAGE)
    for voice in sorted(voices - _voices()):
        raise MissingPackage(f"flite has no voice {voice!r} (it has {' '.join(sorted(_voices()))}): install the "
                             f"Debian package {PACKAGE}")


def render(jobs: list[Job], workdir: Path) -> list[Path | str]:
    out = []
    for i, job in enumerate(jobs):
        raw = workdir / f"{i}.wav"
        proc = subprocess.run(["flite", "-voice", job.voice, "--setf", f"duration_stretch={job.stretch}", "-t",
                               job.text, "-o", str(raw)], capture_output=True, timeout=60)
        out.append(raw if proc.returncode == 0 and raw.exists() else
                   f"flite failed: {proc.stderr.decode(errors='replace')[:200]}")
    return out


def sox_effects(job: Job) -> list[str]:
    return pitch_effect(job)
