"""What to render: the jobs (engine, voice, text, speed, pitch) of every split, from fixed seeds.

Voices (Debian main only; MBROLA and SVOX pico are never used):
  espeak-ng  8 English accents x the variant files in voices/!v (each variant = one "speaker"),
             speed (-s) and pitch (-p) drawn at random;
  flite      kal, kal16, slt, rms, awb with duration_stretch, pitch moved by sox;
  festival   kal_diphone, ked_diphone, cmu_us_slt_arctic_hts, Duration_Stretch (diphones) or
             sox tempo (HTS), pitch moved by sox.
Neural voices from PyPI:
  piper      Piper's US voice joe: test only, never trained on (speakers.NATURAL_SPLIT);
  kokoro     (experiment, --kokoro; not in the published recipe) Kokoro-82M's five voice styles
             speaking espeak-ng's English phonemes in any of the 8 accents, or a blend of two
             styles (train and validation).

A plan is a list of (Job, kind), kind = command | near_miss | other. `plan_all` assembles them as
`generate` renders them; `digest` fingerprints them: the same digest means the same clips, so
the data a published model was trained on can be checked to have not moved
(`python -m models.speech.plans [--small] [--seed N]` prints them).
"""

from __future__ import annotations

import argparse
import hashlib

import numpy as np

from .common import PHRASES
from .speakers import KOKORO_SPLIT, espeak_variants_of, natural_voices_of, speaker_splits
from .texts import CARRIER_NEGATIVES, CARRIERS, NEAR_MISSES, OTHER_TEXTS
from .voices.espeak import ACCENTS as ESPEAK_ACCENTS
from .voices.job import Job

STRETCHES = [0.8, 0.9, 1.0, 1.12, 1.25]      # duration stretch (>1 = slower)
PITCHES = [-400, -200, 0, 200, 400]          # cents, sox pitch (moves formants too)
CARRIER_SEED = 7  # each extra plan has its own generator: adding one never moves the others
PIPER_SEED = 11
KOKORO_SEED = 13
P_KOKORO_BLEND = 0.5
# Validation picks the thresholds and blesses the model, so it must not hang on a few clips (v2's
# had 25 clips of its natural voice per command: one clip = 4 points of recall). More renders of the
# validation speakers, from their own generator so that the training and test plans do not move;
# the natural voice's extra takes use stretches and pitches between those of STRETCHES x PITCHES.
# The sizes keep v2's mix of espeak-ng and natural-voice clips (espeak-ng, recognised almost
# perfectly, must not dilute the natural voice's weight in the pooled numbers).
VAL_EXTRA_SEED = 17
VAL_EXTRA_STRETCHES = [0.85, 0.95, 1.06, 1.18]
VAL_EXTRA_PITCHES = [-300, -100, 100, 300]

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
    variants = espeak_variants_of(split, splits)
    naturals = natural_voices_of(split)
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
    variants = espeak_variants_of("val", splits)
    naturals = natural_voices_of("val")
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
    variants = espeak_variants_of("train", splits)
    naturals = natural_voices_of("train")
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


def plan_all(mode: str, seed: int, kokoro: bool = False, piper: bool = True) -> dict[str, list[tuple[Job, str]]]:
    """Every split's jobs as `generate` renders them: the base plans from one generator, then the
    carriers (train), the extra validation takes, Kokoro (train, val; --kokoro) and Piper (test)."""
    splits = speaker_splits()
    rng = np.random.default_rng(seed)
    plans = {part: plan_jobs(part, mode, rng, splits) for part in ("train", "val", "test")}
    plans["train"] += plan_carriers(mode, seed, splits)
    plans["val"] += plan_val_extra(mode, seed, splits)
    if kokoro:
        for part in ("train", "val"):
            plans[part] += plan_kokoro(part, mode, seed)
    if piper:
        plans["test"] += plan_piper(mode, seed)
    return plans


def digest(plan: list[tuple[Job, str]]) -> str:
    """sha256 of a plan: every job's fields, its cache key and its kind, in order."""
    h = hashlib.sha256()
    for job, kind in plan:
        h.update(f"{kind}|{job.engine}|{job.voice}|{job.text}|{job.stretch!r}|{job.pitch}|{job.speed}|{job.epitch}|"
                 f"{job.key}\n".encode())
    return h.hexdigest()


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description="Print the digest of every split's plan (no rendering).")
    parser.add_argument("--small", action="store_true")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--kokoro", action="store_true", help="with the Kokoro experiment's jobs")
    parser.add_argument("--no-piper", action="store_true", help="without the Piper test voice (not installed)")
    args = parser.parse_args(argv)
    mode = "small" if args.small else "full"
    for part, plan in plan_all(mode, args.seed, kokoro=args.kokoro, piper=not args.no_piper).items():
        print(f"plans {mode} seed {args.seed} {part}: {len(plan)} jobs sha256 {digest(plan)}")


if __name__ == "__main__":
    main()
