"""Recorded audio from Debian data packages: real human speech (negatives, babble) and sounds
(background, `_silence_`). Each corpus names the package that ships it; a corpus that finds no
file stops the run with that package's name (MissingPackage), never a smaller data set.

  asterisk           asterisk-core-sounds-en-wav: 568 telephone prompts of one speaker (8 kHz),
                     transcripts from asterisk-core-sounds-en;
  fillets            fillets-ng-data: English game dialogue, transcripts in its Lua scripts;
  librivox           pocketsphinx-testdata: a few LibriVox clips with transcripts;
  freedesktop-voice  sound-theme-freedesktop: spoken channel names ("front left");
  sonic-pi           sonic-pi-samples: ambient, drums, loops, vinyl;
  freedesktop        sound-theme-freedesktop: desktop event sounds.
Files are split by name (stable_fraction), never by the run seed. Adding a corpus is one
`Corpus(...)` entry in SPEECH or SOUNDS (and its package in scripts/lib.sh's test packages).
"""

from __future__ import annotations

import gzip
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, NamedTuple

from .common import UNKNOWN, stable_fraction
from .missing import MissingPackage, require_path
from .texts import label_of

REAL_SPLIT = {"train": 0.5, "val": 0.6}  # stable_fraction(name) < 0.5 train, < 0.6 val, else test
SOUND_SPLIT = {"train": 0.6, "val": 0.75}

ASTERISK_DIR = Path("/usr/share/asterisk/sounds/en_US_f_Allison")
ASTERISK_TEXT = Path("/usr/share/doc/asterisk-core-sounds-en/core-sounds-en.txt.gz")
FILLETS_DIR = Path("/usr/share/games/fillets-ng")
LIBRIVOX_DIR = Path("/usr/share/pocketsphinx/test/data/librivox")
FREEDESKTOP_DIR = Path("/usr/share/sounds/freedesktop/stereo")
SONIC_PI_DIR = Path("/usr/share/sonic-pi/samples")


class Recording(NamedTuple):
    path: Path
    source: str  # the corpus name
    text: str    # what is said ("" for sounds)


@dataclass(frozen=True)
class Corpus:
    name: str
    package: str    # the Debian package that ships the files
    directory: Path
    list_files: Callable[[Path], list[tuple[Path, str]]]  # directory -> (file, transcript), in a fixed order

    def recordings(self) -> list[Recording]:
        found = self.list_files(self.directory) if self.directory.is_dir() else []
        if not found:
            raise MissingPackage(f"No clips found in {self.directory}: install the Debian package {self.package}")
        return [Recording(path, self.name, text) for path, text in found]


def _asterisk(directory: Path) -> list[tuple[Path, str]]:
    require_path(ASTERISK_TEXT, "asterisk-core-sounds-en", "asterisk prompt transcripts")
    texts = {}
    for line in gzip.open(ASTERISK_TEXT, "rt", errors="replace"):
        if ":" in line and not line.startswith(";"):
            name, text = line.split(":", 1)
            texts[name.strip()] = text.strip()
    return [(p, texts.get(str(p.relative_to(directory).with_suffix("")), "")) for p in sorted(directory.rglob("*.wav"))]


def _fillets(directory: Path) -> list[tuple[Path, str]]:
    texts = {}
    for lua in directory.glob("script/*/*dialogs_en.lua"):
        for m in re.finditer(r'dialogId\("([^"]+)",\s*"[^"]*",\s*"([^"]*)"\)', lua.read_text("utf-8", "replace")):
            texts[m.group(1)] = m.group(2)
    return [(p, texts.get(p.stem, "")) for p in sorted(directory.glob("sound/*/en/*.ogg"))]


def _librivox(directory: Path) -> list[tuple[Path, str]]:
    require_path(directory / "transcription", "pocketsphinx-testdata", "LibriVox transcripts")
    texts = {}
    for line in (directory / "transcription").read_text().splitlines():
        m = re.match(r"<s>(.*)</s> \((.*)\)", line)
        if m:
            texts[m.group(2)] = m.group(1).strip()
    return [(p, texts.get(p.stem, "")) for p in sorted(directory.glob("*.wav"))]


def _freedesktop_voice(directory: Path) -> list[tuple[Path, str]]:
    return [(p, p.stem.replace("audio-channel-", "").replace("-", " "))
            for p in sorted(directory.glob("audio-channel-*"))]


def _sonic_pi(directory: Path) -> list[tuple[Path, str]]:
    return [(p, "") for p in sorted(directory.glob("*.flac"))]


def _freedesktop(directory: Path) -> list[tuple[Path, str]]:
    return [(p, "") for p in sorted(directory.glob("*.oga")) if not p.name.startswith("audio-channel")]


SPEECH = [  # in this order (a --small run takes every 20th file of the list)
    Corpus("asterisk", "asterisk-core-sounds-en-wav", ASTERISK_DIR, _asterisk),
    Corpus("fillets", "fillets-ng-data", FILLETS_DIR, _fillets),
    Corpus("librivox", "pocketsphinx-testdata", LIBRIVOX_DIR, _librivox),
    Corpus("freedesktop-voice", "sound-theme-freedesktop", FREEDESKTOP_DIR, _freedesktop_voice),
]
SOUNDS = [  # in this order (a --small run takes every 8th file of the list)
    Corpus("sonic-pi", "sonic-pi-samples", SONIC_PI_DIR, _sonic_pi),
    Corpus("freedesktop", "sound-theme-freedesktop", FREEDESKTOP_DIR, _freedesktop),
]


def real_speech_files() -> list[Recording]:
    """Recorded human speech; transcripts with a command are dropped (they are not negatives)."""
    return [r for corpus in SPEECH for r in corpus.recordings() if label_of(r.text) == UNKNOWN]


def sound_files() -> list[Recording]:
    return [r for corpus in SOUNDS for r in corpus.recordings()]


def file_split(path: Path, bounds: dict[str, float]) -> str:
    f = stable_fraction(path.name)
    return "train" if f < bounds["train"] else "val" if f < bounds["val"] else "test"
