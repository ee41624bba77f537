"""festival (Debian festival, festlex-cmu, festlex-poslex and one festvox package per voice):
kal_diphone, ked_diphone and cmu_us_slt_arctic_hts. One `festival --pipe` process renders a
batch of one voice (6-30 ms a clip instead of ~250 ms for a process each); Duration_Stretch
slows the diphone voices, sox the HTS voice (which ignores it); sox moves the pitch."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from ..missing import MissingPackage, installs, require_command, require_path
from .job import Job, pitch_effect

NAME = "festival"
PACKAGE = "festival"
BATCH = 150  # clips of ONE voice per festival process
VOICE_ROOT = Path("/usr/share/festival/voices")
VOICES = {  # voice -> (its directory under VOICE_ROOT, the Debian package that ships it)
    "kal_diphone": ("english/kal_diphone", "festvox-kallpc16k"),
    "ked_diphone": ("english/ked_diphone", "festvox-kdlpc16k"),
    "cmu_us_slt_arctic_hts": ("us/cmu_us_slt_arctic_hts", "festvox-us-slt-hts"),
}
LEXICONS = {Path("/usr/share/festival/dicts/cmu"): "festlex-cmu",
            Path("/usr/share/festival/dicts/wsj.wp39.poslexR"): "festlex-poslex"}


def available() -> bool:
    return installs(prepare)


def prepare(voices: set[str]) -> None:
    require_command("festival", PACKAGE)
    for path, package in LEXICONS.items():
        require_path(path, package, "festival lexicon")
    for voice in sorted(voices):
        if voice not in VOICES:
            raise MissingPackage(f"festival voice {voice!r} is not in {__name__}.VOICES: add its folder and "
                                 "Debian package there")
        folder, package = VOICES[voice]
        require_path(VOICE_ROOT / folder, package, f"festival voice {voice}")


def render(jobs: list[Job], workdir: Path) -> list[Path | str]:
    lines = [f"(voice_{jobs[0].voice})"]
    for i, job in enumerate(jobs):
        text = re.sub(r"[^A-Za-z' ,.?]", " ", job.text)
        lines.append(f"(Parameter.set 'Duration_Stretch {job.stretch})")
        lines.append(f'(utt.save.wave (utt.synth (Utterance Text "{text}")) "{workdir}/{i}.wav" \'riff)')
    proc = subprocess.run(["festival", "--pipe"], input="\n".join(lines) + "\n", capture_output=True, text=True,
                          timeout=900)
    raws = [workdir / f"{i}.wav" for i in range(len(jobs))]
    return [raw if raw.exists() else f"festival failed: {proc.stderr[-200:]}" for raw in raws]


def sox_effects(job: Job) -> list[str]:
    tempo = ["tempo", "-s", f"{1.0 / job.stretch:.4f}"] if job.voice.endswith("_hts") and job.stretch != 1.0 else []
    return tempo + pitch_effect(job)
