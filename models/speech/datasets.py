"""Rendered clips and recordings -> the datasets: augmented feature windows (train.npz, val.npz),
the mining pool (mine.npz) and the evaluation's clean clips (eval-val.npz, eval-test.npz).

Window workers are forked processes that read the clips through `WindowSources`: the pool's
initializer (`_start_worker`) stores it in each worker once, and a fork hands it over without
pickling, so a task is only (kind, index, seed, label).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
from tqdm import tqdm

from . import augment
from .common import CLASSES, SAMPLE_RATE, SILENCE, UNKNOWN, WINDOW_FRAMES, ClipBank, load_audio, log, log_mel, read_wav
from .corpora import Recording
from .plans import SIZES
from .speakers import speaker_of
from .texts import NEAR_MISSES, label_of
from .validate import ClipValidator, check_clip
from .voices.job import Job
from .workers import fork_pool

# What a window becomes: the host's log-mel (an experiment may pass another front end to `generate`).
FEATURES = log_mel
FEATURE_SHAPE = (WINDOW_FRAMES, 40)

# Hard-negative mining (train.py): a long stream of TRAINING material, built like the evaluation's
# stream (real speech, near misses, other sentences, sounds, gaps, a noise floor), cut into
# windows every MINE_HOP_S; train.py adds the windows its model scores highest for a command.
MINE_TTS_S = {"full": 20 * 60, "small": 60}  # synthetic sentences and near misses (a random subset)
MINE_HOP_S = 0.2

P_CONTEXT = 0.25  # share of positive windows with other speech of the same voice around the command
P_CONTEXT_NEGATIVE = 0.4  # share of near-miss / other windows with more speech around them (as in a stream)


@dataclass
class WindowSources:
    """Everything a window worker reads; indexes in the tasks point into these lists."""
    clips: list[np.ndarray]                 # rendered speech, validated
    clip_voice: list[str]                   # the voice of each clip (context speech comes from the same voice)
    context: dict[str, list[np.ndarray]]    # voice -> its negative clips (speech around a phrase)
    real: list[np.ndarray]                  # recorded human speech of the split
    sounds: list[np.ndarray]                # background sounds of the split
    voice_change: bool                      # the voice-change experiment (off in the published recipe)
    features: Callable[[np.ndarray], np.ndarray]


_sources: WindowSources | None = None  # this worker's, set by _start_worker


def _start_worker(sources: WindowSources) -> None:
    global _sources
    _sources = sources


def load_files(paths: list[Path], desc: str, workers: int) -> list[np.ndarray]:
    with fork_pool(workers) as pool:
        return list(tqdm(pool.map(load_audio, paths, chunksize=8), total=len(paths), desc=desc, mininterval=2.0))


def _make_window(task: tuple) -> tuple[np.ndarray, int] | None:
    """(kind, index, seed, label) -> (features float16, label) or None if rejected."""
    kind, index, seed, label = task
    src = _sources
    rng = np.random.default_rng(seed)
    if kind == "silence":
        window = augment.noise_window(rng, src.sounds)
    elif kind == "real":
        real = src.real[index]
        window = augment.augment_window(augment.crop_or_loop(real, min(len(real), 24000), rng), rng, src.sounds,
                                        near_end=0.0, voice_change=src.voice_change)
    else:
        clip = src.clips[index]
        if kind == "context":
            clip = _with_context(clip, src.context.get(src.clip_voice[index], []), rng)
        window = augment.augment_window(clip, rng, src.sounds, near_end=0.5,  # negatives too: no position cue
                                        voice_change=src.voice_change)
    if check_clip(window, role="window"):
        return None
    return src.features(window).astype(np.float16), label


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
                seed: int, out: Path, validator: ClipValidator, *, voice_change: bool = False,
                features=FEATURES, feature_shape=FEATURE_SHAPE, workers: int = 2) -> Counter:
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
    sources = WindowSources(clips=clips, clip_voice=voices, context=context, real=real, sounds=sounds,
                            voice_change=voice_change, features=features)
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
    X = np.zeros((len(tasks), *feature_shape), np.float16)
    y = np.zeros(len(tasks), np.int8)
    group = []
    kept = 0
    with fork_pool(workers, initializer=_start_worker, initargs=(sources,)) as pool:
        for task, result in zip(tasks, tqdm(pool.map(_make_window, tasks, chunksize=32), total=len(tasks),
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
                      out: Path, features=FEATURES) -> int:
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
    frames = features(stream)
    hop = int(round(MINE_HOP_S * 100))  # 10 ms feature frames
    starts = np.arange(0, len(frames) - WINDOW_FRAMES + 1, hop)
    X = np.stack([frames[i: i + WINDOW_FRAMES] for i in starts]).astype(np.float16)
    np.savez(out, X=X, time_s=(starts + WINDOW_FRAMES) / 100.0)
    log.info("mining pool: %d windows from %.0f s of training-split stream %s -> %s", len(X), info["seconds"],
             info["content_s"], out)
    return len(X)


def build_eval(split: str, rendered: list[tuple[Job, str]], real_files: list[Recording], real: list, sound_paths: list,
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
