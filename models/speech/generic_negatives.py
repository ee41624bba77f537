"""Generic speech for voice profiles: windows of the profile's vectors over speech that is not a command.

A personal voice profile uses this bank twice. Its verifier (host/voice_verifier.py) learns,
per taught command, to tell the user's takes from everything else: the user's other commands
plus the bank's speech_embedding windows. And before a command is served, its templates are
matched against the bank's stretches (both parts of the vectors, host/voice_front_end.py):
a phrase that matches everyday speech too often is held back. The bank holds short windows
of ordinary speech in many voices, languages, rooms and noises. It is built once here and
bundled (`models/bundled/voice_negatives/<version>/`, sha256 in its entry), never on the
user's machine.

What goes in, all from the keyword model's TRAINING side, so the enrollment evaluation's voices,
texts and background sounds stay unseen:
  * espeak-ng training-split variants (English accents, German, French, Spanish) and flite
    kal / slt, saying ordinary phrases and the training near misses, in languages the user may
    teach in; texts that the enrollment evaluation speaks are left out (checked below);
  * recorded human speech: the training split of Fish Fillets and LibriVox clips;
  * each clip clean and in 2 random conditions: room reverb, coloured noise, babble, or
    freedesktop sounds (not sonic-pi, which the evaluation's long stream plays).

Usage: python -m models.speech.generic_negatives [--out DIR] [--workers 2]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import random
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from host.speech_embedding import SpeechEmbedder
from host.voice_front_end import KWS_DIM, KeywordEmbedder, VoiceFrontEnd, keyword_part, speech_part
from host.voice_takes import at_snr, reverb
from host.voice_verifier import DIM, WINDOW, windows

from . import augment
from .common import load_audio
from .corpora import FREEDESKTOP_DIR, REAL_SPLIT, SPEECH, file_split
from .eval_voices import NEAR_MISSES as EVAL_NEAR_MISSES, PHRASES as EVAL_PHRASES, SENTENCES as EVAL_SENTENCES
from .speakers import espeak_variants_of, speaker_splits
from .texts import CARRIER_NEGATIVES, NEAR_MISSES, OTHER_TEXTS
from .workers import fork_pool

log = logging.getLogger("generic_negatives")

SEED = 20261204
NAME, VERSION = "voice_negatives", "2"
BUNDLED = Path(__file__).resolve().parents[1] / "bundled"
BUNDLE_DIR = BUNDLED / NAME / VERSION
SPEECH_EMBEDDING = BUNDLED / "speech_embedding" / "1"
KWS_EMBEDDING = BUNDLED / "kws_embedding" / "1"
WINDOWS_KEPT = 4000  # sampled from ~60k; enough for the verifier, small to ship (float16)
FILE = "generic_speech.npz"  # speech_embedding [n, WINDOW * 96] and kws_embedding [n, WINDOW * 160], unit rows
CLIPS_PER_VARIANT = {"en": 12, "de": 3, "fr": 3, "es": 3}
ACCENTS = {"en": ["en-us", "en-gb", "en", "en-029", "en-gb-scotland", "en-us-nyc", "en-gb-x-rp"],
           "de": ["de"], "fr": ["fr-fr"], "es": ["es"]}
REAL_CLIPS = 150  # recorded human speech, training split
CONDITIONS_PER_CLIP = 2
# Ordinary speech in the languages users teach in (not commands, not the evaluation's texts).
OTHER_LANGUAGES = {
    "de": ["guten Morgen", "wie spät ist es", "das Wetter ist schön heute", "ich habe keine Zeit",
           "mach bitte das Fenster zu", "wir sehen uns morgen", "der Zug hat Verspätung", "noch einen Kaffee",
           "wo ist der Bahnhof", "das Essen ist fertig", "nächste Woche", "die Tabelle", "zurück nach Hause",
           "neue Schuhe", "schließ die Tür", "lade die Batterie", "vorher", "weiter so"],
    "fr": ["bonjour tout le monde", "quelle heure est-il", "il fait beau aujourd'hui", "je n'ai pas le temps",
           "ferme la fenêtre s'il te plaît", "à demain", "le train est en retard", "encore un café",
           "où est la gare", "le dîner est prêt", "la semaine prochaine", "le tableau", "retour à la maison",
           "une nouvelle voiture", "ferme la porte", "charge la batterie", "avant", "continue comme ça"],
    "es": ["buenos días", "qué hora es", "hace buen tiempo hoy", "no tengo tiempo",
           "cierra la ventana por favor", "hasta mañana", "el tren llega tarde", "otro café",
           "dónde está la estación", "la cena está lista", "la semana que viene", "la tabla", "vuelta a casa",
           "un coche nuevo", "cierra la puerta", "carga la batería", "antes", "sigue así"],
}


def texts_of(language: str) -> list[str]:
    english = sorted(set(OTHER_TEXTS + NEAR_MISSES + CARRIER_NEGATIVES))
    texts = english if language == "en" else OTHER_LANGUAGES[language]
    evaluated = {t.lower() for lang in EVAL_SENTENCES for t in EVAL_SENTENCES[lang] + EVAL_NEAR_MISSES[lang]}
    evaluated |= {t.lower() for lang in EVAL_PHRASES for t in EVAL_PHRASES[lang].values()}
    return [t for t in texts if t.lower() not in evaluated]


def level(audio: np.ndarray) -> np.ndarray:
    return (audio / (np.sqrt(np.mean(audio**2)) + 1e-9) * 0.1).astype(np.float32)


def _run_tts(command: list[str], out: str) -> np.ndarray:
    subprocess.run(command, check=True, capture_output=True)
    return level(load_audio(out))


def render(job: tuple) -> np.ndarray:
    engine, voice, text, speed, pitch = job
    with tempfile.NamedTemporaryFile(suffix=".wav") as f:
        if engine == "espeak":
            return _run_tts(["espeak-ng", "-v", voice, "-s", str(speed), "-p", str(pitch), "-w", f.name, text], f.name)
        return _run_tts(["flite", "-voice", voice, "-t", text, "-o", f.name], f.name)


def real_speech(rng: random.Random) -> list[np.ndarray]:
    files = [r.path for corpus in SPEECH if corpus.name in ("fillets", "librivox") and corpus.directory.is_dir()
             for r in corpus.recordings() if file_split(r.path, REAL_SPLIT) == "train"]
    clips = []
    for path in rng.sample(files, min(REAL_CLIPS, len(files))):
        audio = load_audio(path)
        if len(audio) > 16_000 // 2:
            start = rng.randrange(max(1, len(audio) - 48_000))
            clips.append(level(audio[start: start + 48_000]))
    return clips


def plan(rng: random.Random) -> list[tuple]:
    jobs = []
    for variant in espeak_variants_of("train", speaker_splits()):
        for language, count in CLIPS_PER_VARIANT.items():
            for text in rng.sample(texts_of(language), count):
                jobs.append(("espeak", rng.choice(ACCENTS[language]) + "+" + variant, text,
                             rng.randint(130, 200), rng.randint(30, 70)))
    for voice in ("kal", "slt"):
        jobs += [("flite", voice, text, 0, 0) for text in rng.sample(texts_of("en"), 25)]
    return jobs


def condition(clip: np.ndarray, pool: list[np.ndarray], sounds: list[np.ndarray], rng: np.random.Generator) -> np.ndarray:
    """One random room / noise: reverb, noise (coloured, babble or a sound) at 5-20 dB SNR, or both."""
    kind = rng.integers(3)
    if kind != 1:
        clip = reverb(clip, float(rng.uniform(0.2, 1.0)), rng, float(rng.uniform(0, 6)))
    if kind != 0:
        source = rng.integers(3)
        if source == 0:
            noise = augment.colored_noise(len(clip), rng, ["white", "pink", "brown"][rng.integers(3)])
        elif source == 1:
            noise = sum(np.resize(pool[rng.integers(len(pool))], len(clip)) for _ in range(3))
        else:
            noise = np.resize(sounds[rng.integers(len(sounds))], len(clip))
        clip = at_snr(clip, noise, float(rng.uniform(5, 20)))
    return np.asarray(clip, np.float32)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=BUNDLE_DIR)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    rng, nrng = random.Random(SEED), np.random.default_rng(SEED)

    jobs = plan(rng)
    log.info("rendering %d TTS clips", len(jobs))
    with fork_pool(args.workers) as pool:
        clips = list(pool.map(render, jobs, chunksize=8))
    clips += real_speech(rng)
    sounds = [level(load_audio(p)) for p in sorted(FREEDESKTOP_DIR.glob("*.oga"))
              if not p.name.startswith(("audio-channel", "message", "phone", "dialog"))]
    log.info("%d speech clips, %d sounds", len(clips), len(sounds))

    front_end = VoiceFrontEnd(
        SpeechEmbedder(SPEECH_EMBEDDING / "embedding_model.tflite", SPEECH_EMBEDDING / "melspectrogram.tflite"),
        KeywordEmbedder(KWS_EMBEDDING / "kws_embedding.tflite"))
    speech_found, keyword_found = [], []
    for i, clip in enumerate(clips):
        pad = np.zeros(4800, np.float32)
        clip = np.concatenate([pad, clip, pad]) + (nrng.standard_normal(len(clip) + 9600) * 3e-4).astype(np.float32)
        for version in [clip] + [condition(clip, clips, sounds, nrng) for _ in range(CONDITIONS_PER_CLIP)]:
            vectors = front_end.embed(version)
            speech_found.append(windows(speech_part(vectors)))
            keyword_found.append(windows(keyword_part(vectors)))
        if i % 200 == 0:
            log.info("embedded %d/%d clips", i, len(clips))
    every = np.concatenate(speech_found)
    chosen = np.sort(nrng.choice(len(every), min(WINDOWS_KEPT, len(every)), replace=False))
    kept = {"speech_embedding": every[chosen].astype(np.float16),
            "kws_embedding": np.concatenate(keyword_found)[chosen].astype(np.float16)}

    args.out.mkdir(parents=True, exist_ok=True)
    np.savez(args.out / FILE, **kept)
    data = (args.out / FILE).read_bytes()
    count = len(kept["speech_embedding"])
    entry = {
        "name": NAME, "version": VERSION, "task": "voice_negatives",
        "description": ("Generic speech for voice profiles: windows of speech_embedding v1 and kws_embedding v1 "
                        f"vectors ({WINDOW} vectors, unit rows) of ordinary speech in many voices, languages, rooms "
                        "and noises; the verifier's negatives and the check before a command is served."),
        "license": "Apache-2.0", "quantization": "float16", "blessed": True,
        "files": {"model": {"path": FILE, "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}},
        "input": {"front_end": f"{front_end.name}/{front_end.version}", "window": WINDOW,
                  "dims": {"speech_embedding": DIM, "kws_embedding": KWS_DIM}},
        "output": {"kind": "windows", "count": count},
        "params": {"clips": len(clips), "windows_total": int(len(every)), "seed": SEED},
    }
    (args.out / "entry.json").write_text(json.dumps(entry, indent=2) + "\n", "utf-8")
    (args.out / "MODEL_CARD.md").write_text(
        f"# {NAME} v{VERSION}\n\n{entry['description']}\n\nBuilt by `python -m models.speech.generic_negatives` "
        f"(seed {SEED}) from {len(clips)} clips: espeak-ng training-split variants and flite kal/slt saying "
        "ordinary phrases in English, German, French and Spanish, and recorded speech (Fish Fillets, LibriVox, "
        "training split), each clean and in 2 random rooms / noises. None of the enrollment evaluation's "
        f"voices, texts or background sounds. {count} of {len(every)} windows kept, float16.\n", "utf-8")
    print(f"{count} windows of {len(every)} from {len(clips)} clips -> {args.out} "
          f"({len(data) / 1e6:.1f} MB, sha256 {entry['files']['model']['sha256'][:12]})")


if __name__ == "__main__":
    main()
