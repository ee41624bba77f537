"""The streaming detector's logic: framing, smoothing, thresholds, refractory period.

A scripted spotter stands in for the network here (the real keyword model is tested in
tests/speech/): it reports "next_tab" while the newest 0.3 s of the window is loud,
which makes every timing decision of the detector observable.
"""

from __future__ import annotations

import numpy as np
import pytest

from host.speech import DetectorSettings, StreamDetector, recognize
from host.speech_params import CLASSES, COMMANDS

RATE = 16_000


class LoudnessSpotter:
    labels = list(CLASSES)
    command_index = {c: CLASSES.index(c) for c in COMMANDS}
    name, version = "scripted", "0"

    def __init__(self):
        self.windows = 0

    def probabilities_from_features(self, features):
        self.windows += 1
        assert features.shape == (148, 40)
        loud = features[-30:].mean() > -4.0
        p = np.full(len(CLASSES), 0.01, np.float32)
        p[CLASSES.index("next_tab" if loud else "_silence_")] = 0.93
        return p / p.sum()


def burst(seconds: float, rate: int = RATE) -> np.ndarray:
    return np.random.default_rng(0).normal(0, 0.3, int(seconds * rate)).astype(np.float32)


def quiet(seconds: float, rate: int = RATE) -> np.ndarray:
    return np.zeros(int(seconds * rate), np.float32)


def feed_in_chunks(detector, audio, chunk):
    events = []
    for start in range(0, len(audio), chunk):
        events += detector.feed(audio[start : start + chunk])
    return events


def test_one_event_per_phrase_soon_after_it():
    spotter = LoudnessSpotter()
    detector = StreamDetector(spotter, DetectorSettings({"next_tab": 0.8}, smoothing=3, refractory_s=1.0))
    events = feed_in_chunks(detector, np.concatenate([quiet(2), burst(0.6), quiet(2)]), 1600)
    assert [e["command"] for e in events] == ["next_tab"]
    assert 2.0 < events[0]["time_s"] <= 2.6 + 0.3  # within 300 ms of the end of the sound
    assert spotter.windows == pytest.approx(45, abs=1)  # one window per 100 ms


def test_refractory_period_suppresses_repeats():
    settings = DetectorSettings({"next_tab": 0.8}, smoothing=1, refractory_s=1.5)
    audio = np.concatenate([quiet(1), burst(0.4), quiet(0.4), burst(0.4), quiet(2), burst(0.4), quiet(1)])
    events = StreamDetector(LoudnessSpotter(), settings).feed(audio)
    assert len(events) == 2
    assert events[1]["time_s"] - events[0]["time_s"] >= 1.5


def test_threshold_and_smoothing_reject_short_blips():
    blip = np.concatenate([quiet(1), burst(0.12), quiet(1)])
    strict = StreamDetector(LoudnessSpotter(), DetectorSettings({"next_tab": 0.8}, smoothing=5))
    assert strict.feed(blip) == []
    never = StreamDetector(LoudnessSpotter(), DetectorSettings({"next_tab": 0.99}, smoothing=1))
    assert never.feed(np.concatenate([quiet(1), burst(1), quiet(1)])) == []


@pytest.mark.parametrize("rate", [8000, 44100, 48000])
def test_any_capture_rate_gives_the_same_timing(rate):
    audio = np.concatenate([quiet(2, rate), burst(0.6, rate), quiet(1.5, rate)])
    detector = StreamDetector(LoudnessSpotter(), DetectorSettings({"next_tab": 0.8}), source_rate=rate)
    events = feed_in_chunks(detector, audio, rate // 10)
    reference = StreamDetector(LoudnessSpotter(), DetectorSettings({"next_tab": 0.8})).feed(
        np.concatenate([quiet(2), burst(0.6), quiet(1.5)]))
    assert len(events) == len(reference) == 1
    assert abs(events[0]["time_s"] - reference[0]["time_s"]) <= 0.1


def test_chunk_size_does_not_change_the_result():
    audio = np.concatenate([quiet(1.3), burst(0.7), quiet(1.7)])
    results = []
    for chunk in (128, 1000, 4096, len(audio)):
        detector = StreamDetector(LoudnessSpotter(), DetectorSettings({"next_tab": 0.8}))
        results.append(feed_in_chunks(detector, audio, chunk))
    assert all(r == results[0] for r in results) and len(results[0]) == 1


def test_recognize_a_clip_reports_command_and_scores():
    result = recognize(LoudnessSpotter(), np.concatenate([quiet(0.3), burst(0.5), quiet(0.2)]), DetectorSettings({"next_tab": 0.8}))
    assert result["command"] == "next_tab" and result["score"] >= 0.8
    assert set(result["scores"]) == set(CLASSES)
    silent = recognize(LoudnessSpotter(), quiet(1.0), DetectorSettings({"next_tab": 0.8}))
    assert silent["command"] is None


def test_a_long_phrase_fires_once_even_past_the_refractory_period():
    """A phrase still inside the window when the refractory period ends must not fire again."""
    settings = DetectorSettings({"next_tab": 0.8}, smoothing=1, refractory_s=0.3)
    events = StreamDetector(LoudnessSpotter(), settings).feed(np.concatenate([quiet(1), burst(1.5), quiet(1)]))
    assert len(events) == 1


def test_only_enabled_commands_fire():
    """A user who enabled only some commands never gets the others, even when they score."""
    settings = DetectorSettings({"next_tab": 0.8})
    audio = np.concatenate([quiet(1), burst(1.5), quiet(1)])
    assert [e["command"] for e in StreamDetector(LoudnessSpotter(), settings).feed(audio)] == ["next_tab"]
    assert StreamDetector(LoudnessSpotter(), settings.only(["previous_tab", "reload"])).feed(audio) == []
    assert [e["command"] for e in StreamDetector(LoudnessSpotter(), settings.only(["next_tab"])).feed(audio)] == ["next_tab"]


def test_a_sensitivity_level_picks_its_own_thresholds():
    """A model entry carries one threshold set per level; a level it lacks falls back to "normal"."""
    params = {"thresholds": {"next_tab": 0.8}, "smoothing": 1,
              "sensitivity_thresholds": {"low": {"next_tab": 0.99}, "normal": {"next_tab": 0.8},
                                         "high": {"next_tab": 0.5}}}
    assert DetectorSettings.from_params(params).threshold("next_tab") == 0.8
    assert DetectorSettings.from_params(params, "low").threshold("next_tab") == 0.99
    high = DetectorSettings.from_params(params, "high")
    assert (high.threshold("next_tab"), high.sensitivity, high.smoothing) == (0.5, "high", 1)
    older = DetectorSettings.from_params({"thresholds": {"next_tab": 0.7}}, "low")  # a model without levels
    assert (older.threshold("next_tab"), older.sensitivity, older.sensitivity_used) == (0.7, "low", "normal")


def test_a_new_sensitivity_applies_to_a_running_stream_and_keeps_its_commands():
    """The scripted spotter scores 0.93: "low" (0.99) hears nothing, then "normal" (0.8) does."""
    params = {"thresholds": {"next_tab": 0.8}, "sensitivity_thresholds": {"low": {"next_tab": 0.99}}}
    phrase = np.concatenate([quiet(1), burst(1.5), quiet(1)])
    detector = StreamDetector(LoudnessSpotter(), DetectorSettings.from_params(params, "low").only(["next_tab"]))
    assert detector.feed(phrase) == []
    detector.use(DetectorSettings.from_params(params, "normal"))
    assert [e["command"] for e in detector.feed(phrase)] == ["next_tab"]
    assert detector.settings.commands == ("next_tab",) and detector.settings.sensitivity == "normal"


class GradedSpotter(LoudnessSpotter):
    """Scores that follow the window's loudness smoothly, so any smoothing slip would show."""

    def probabilities_from_features(self, features):
        self.windows += 1
        p = np.full(len(CLASSES), 0.01, np.float32)
        p[CLASSES.index("next_tab")] = 1.0 / (1.0 + np.exp(-(features[-30:].mean() + 6.0)))
        p[CLASSES.index("close_tab")] = 1.0 / (1.0 + np.exp(-(features[-90:-30].mean() + 6.0)))
        return p / p.sum()


def test_with_no_command_enabled_windows_are_scored_only_when_read_with_the_same_scores():
    """The voice profile's second opinion reads the last 0.5 s of scores only now and then: a
    detector with nothing enabled scores windows then, not every 100 ms, and gives the same."""
    settings = DetectorSettings({"next_tab": 0.8, "close_tab": 0.8}, smoothing=3, refractory_s=1.0)
    audio = np.concatenate([quiet(1), burst(0.5), quiet(0.7), burst(0.2) * 0.3, quiet(1.5), burst(0.4)])
    eager_spotter, lazy_spotter = GradedSpotter(), GradedSpotter()
    eager = StreamDetector(eager_spotter, settings)
    lazy = StreamDetector(lazy_spotter, settings.only(()))
    for start in range(0, len(audio), 1600):
        eager.feed(audio[start: start + 1600])
        assert lazy.feed(audio[start: start + 1600]) == []
        if start // 1600 in (9, 14, 15, 30, 44):  # read now and then
            np.testing.assert_allclose(np.array(lazy.recent_smoothed), np.array(eager.recent_smoothed), rtol=1e-6)
    assert lazy_spotter.windows < eager_spotter.windows
    np.testing.assert_allclose(np.array(lazy.recent_smoothed), np.array(eager.recent_smoothed), rtol=1e-6)
    # Enabled later, a command fires on what is heard from then on, not on the windows before.
    lazy.feed(burst(0.4))
    lazy.enable(["next_tab"])
    assert lazy.feed(quiet(0.5)) == []
    events = feed_in_chunks(lazy, np.concatenate([quiet(1.5), burst(0.6)]), 1600)
    assert [e["command"] for e in events] == ["next_tab"] and events[0]["time_s"] > len(audio) / RATE + 2.4
