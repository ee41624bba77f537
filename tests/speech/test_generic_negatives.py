"""The voice profile's bundled generic speech: built from training voices and texts only, and
shipped as the checksummed windows the host expects."""

from __future__ import annotations

import hashlib
import json
from types import SimpleNamespace

import numpy as np

from host.voice_verifier import DIM, WINDOW
from models.speech import generic_negatives
from models.speech.eval_voices import NEAR_MISSES, PHRASES, SENTENCES, VOICES
from models.speech.speakers import espeak_variants_of, speaker_splits


def test_nothing_the_enrollment_evaluation_says_or_who_says_it_is_in_the_bank():
    evaluated = {t.lower() for lang in SENTENCES for t in SENTENCES[lang] + NEAR_MISSES[lang]}
    evaluated |= {t.lower() for lang in PHRASES for t in PHRASES[lang].values()}
    for language in generic_negatives.CLIPS_PER_VARIANT:
        texts = generic_negatives.texts_of(language)
        assert len(texts) >= generic_negatives.CLIPS_PER_VARIANT[language]
        assert not {t.lower() for t in texts} & evaluated, language
    variants = set(espeak_variants_of("train", speaker_splits()))
    assert not {v.speaker.split(":", 1)[1] for v in VOICES if v.engine == "espeak"} & variants
    assert {job[1] for job in generic_negatives.plan(__import__("random").Random(0)) if job[0] == "flite"} <= {"kal", "slt"}


def test_the_bundled_bank_matches_its_entry_and_the_host():
    from host.capabilities import _load_windows
    from host.voice_front_end import KWS_DIM

    folder = generic_negatives.BUNDLE_DIR
    entry = json.loads((folder / "entry.json").read_text())
    file = entry["files"]["model"]
    data = (folder / file["path"]).read_bytes()
    assert hashlib.sha256(data).hexdigest() == file["sha256"] and len(data) == file["bytes"]
    assert entry["input"] == {"front_end": "speech_embedding+kws_embedding/1+1", "window": WINDOW,
                              "dims": {"speech_embedding": DIM, "kws_embedding": KWS_DIM}}
    with np.load(folder / file["path"]) as saved:
        for part, dim in entry["input"]["dims"].items():
            windows = saved[part]
            assert windows.dtype == np.float16 and windows.shape == (entry["output"]["count"], WINDOW * dim)
            norms = np.linalg.norm(windows.astype(np.float32).reshape(len(windows), WINDOW, dim), axis=2)
            assert np.allclose(norms, 1.0, atol=2e-3)  # unit rows, as `voice_verifier.windows` makes them
    bank = _load_windows(folder / file["path"], SimpleNamespace(name=entry["name"], version=entry["version"]))
    assert bank.stretches.shape == (entry["output"]["count"], WINDOW, DIM + KWS_DIM)
    assert np.allclose(np.linalg.norm(bank.stretches, axis=2), 1.0, atol=2e-3)
