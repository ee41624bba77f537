"""Data recipe: speaker-disjoint splits, the labelling policy, augmentation invariants."""

import numpy as np
import pytest

from host.speech_params import PHRASES, UNKNOWN, WINDOW_SAMPLES
from models.speech import augment
from models.speech.generate import (AMBIGUOUS, KOKORO_SPLIT, NATURAL_VOICES, NEAR_MISSES, OTHER_TEXTS, SIZES, label_of,
                                    plan_jobs, plan_kokoro, plan_val_extra, speaker_of, speaker_splits)


def test_splits_are_speaker_disjoint_across_engines():
    splits = speaker_splits()
    assert set(splits.values()) == {"train", "val", "test"}
    # the same person in two engines is one speaker, in one split
    assert speaker_of("flite", "kal") == speaker_of("festival", "kal_diphone") == speaker_of("flite", "kal16")
    assert speaker_of("flite", "slt") == speaker_of("festival", "cmu_us_slt_arctic_hts")
    for engine, voice, speaker in NATURAL_VOICES:
        assert splits[speaker_of(engine, voice)] == splits[f"natural:{speaker}"]
    # whole natural voices are held out for test
    assert {s for s, p in splits.items() if p == "test" and s.startswith("natural:")}
    assert speaker_splits() == splits  # fixed, whatever the run seed


@pytest.mark.parametrize("mode", ["small", "full"])
def test_planned_jobs_never_share_a_speaker_between_splits(mode):
    splits = speaker_splits()
    rng = np.random.default_rng(0)
    seen = {}
    for part in ("train", "val", "test"):
        jobs = plan_jobs(part, mode, rng, splits) + plan_kokoro(part, mode, seed=0)
        if part == "val":
            jobs += plan_val_extra(mode, 0, splits)
        assert jobs
        speakers = {speaker_of(j.engine, j.voice) for j, _ in jobs}
        assert all(splits[s] == part for s in speakers)
        seen[part] = speakers
    assert not (seen["train"] & seen["val"] or seen["train"] & seen["test"] or seen["val"] & seen["test"])
    assert SIZES[mode]
    # the Kokoro validation style is never heard in training, not even inside a blend
    held_out = {name for name, part in KOKORO_SPLIT.items() if part != "train"}
    assert held_out and not any(name in s for s in seen["train"] for name in held_out)
    assert any("+" in s for s in seen["train"])  # blends of training styles are trained on


def test_labelling_policy():
    for command, phrase in PHRASES.items():
        assert label_of(phrase) == command
        assert label_of(f"please switch to the {phrase} now") == command  # embedded = the command
    assert label_of("go back home") == "go_back"
    for text in NEAR_MISSES + OTHER_TEXTS:
        assert label_of(text) == UNKNOWN, text
    for text in ["next", "next time", "previous day", "previously", "open tab", "tab", "tab next"]:
        assert text in NEAR_MISSES and label_of(text) == UNKNOWN
    for text in AMBIGUOUS:
        assert label_of(text) is None, text


def test_augmented_window_is_valid_and_keeps_the_phrase():
    rng = np.random.default_rng(3)
    phrase = (0.3 * np.sin(np.arange(12_000) / 7.0)).astype(np.float32)
    sounds = [rng.standard_normal(40_000).astype(np.float32)]
    for _ in range(20):
        w = augment.augment_window(phrase, rng, sounds)
        assert w.shape == (WINDOW_SAMPLES,) and w.dtype == np.float32
        assert np.all(np.isfinite(w)) and np.max(np.abs(w)) <= 0.98 + 1e-6
    window, end = augment.place(phrase, rng, near_end=1.0)
    assert WINDOW_SAMPLES - end <= augment.END_MARGIN_NEAR_S * 16_000
    assert np.allclose(window[end - len(phrase): end], phrase)


def test_mix_at_snr_sets_the_ratio():
    rng = np.random.default_rng(1)
    speech = rng.standard_normal(16_000).astype(np.float32)
    noise = rng.standard_normal(16_000).astype(np.float32) * 5
    mixed = augment.mix_at_snr(speech, noise, 10.0)
    added = mixed - speech
    snr = 20 * np.log10(augment.rms(speech) / augment.rms(added))
    assert abs(snr - 10.0) < 0.01


def test_extra_validation_clips_are_new_takes_of_validation_speakers():
    splits = speaker_splits()
    extra = plan_val_extra("full", 1, splits)
    base = {job for job, _ in plan_jobs("val", "full", np.random.default_rng(1), splits)}
    assert {splits[speaker_of(j.engine, j.voice)] for j, _ in extra} == {"val"}
    assert not base & {job for job, _ in extra}  # new renders, not copies of the base plan
    natural = [j for j, kind in extra if j.engine != "espeak" and kind == "command"]
    assert natural and len(natural) == len(set(natural))
    assert len(extra) > len(base) // 2  # a real enlargement: the validation set grows by more than half
