"""The example validator rejects bad clips with reasons, and accepts good ones."""

import numpy as np
import pytest

from models.speech.validate import ClipValidator, check_clip

RATE = 16_000


def tone(seconds=0.6, amp=0.5, rate=RATE):
    t = np.arange(int(seconds * rate)) / rate
    return (amp * np.sin(2 * np.pi * 220 * t)).astype(np.float32)


def test_good_phrase_passes():
    assert check_clip(tone(), RATE, "phrase") == []


def test_good_window_passes():
    assert check_clip(np.zeros(24_000, np.float32), RATE, "window") == []


@pytest.mark.parametrize("audio, rate, role, reason", [
    (tone(rate=22_050), 22_050, "phrase", "sample rate"),
    (np.full(8000, np.nan, np.float32), RATE, "phrase", "NaN"),
    (np.full(8000, np.inf, np.float32), RATE, "phrase", "NaN or infinite"),
    (tone(0.05), RATE, "phrase", "too short"),
    (tone(1.6), RATE, "phrase", "too long"),  # does not fit the 1.5 s window
    (np.zeros(23_999, np.float32), RATE, "window", "too short"),
    (np.clip(tone(amp=3.0), -1, 1), RATE, "phrase", "clipped"),
    (tone(amp=1e-4), RATE, "phrase", "silent"),
    (np.zeros(8000, np.float32), RATE, "phrase", "silent"),
    (tone() + 0.2, RATE, "phrase", "DC offset"),
    (np.stack([tone(), tone()]), RATE, "phrase", "mono"),
    ((tone() * 3000).astype(np.int16), RATE, "phrase", "dtype"),
])
def test_bad_clips_are_rejected_with_a_reason(audio, rate, role, reason):
    reasons = check_clip(audio, rate, role)
    assert any(reason in r for r in reasons), reasons


def test_validator_counts_reasons():
    v = ClipValidator()
    assert v.accept(tone(), RATE, "phrase", "good")
    assert not v.accept(tone(0.05), RATE, "phrase", "short")
    assert not v.accept(np.full(8000, np.nan, np.float32), RATE, "phrase", "nan")
    s = v.summary()
    assert s["accepted"] == 1 and s["rejected"] == 2
    assert s["rejected_by_reason"]["too short"] == 1
    assert any("short" in e for e in s["examples"])


def test_unknown_role_is_an_error():
    with pytest.raises(ValueError):
        check_clip(tone(), RATE, "song")
