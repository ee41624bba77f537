"""The evaluation tunes thresholds by replaying the detector's rule over recorded posteriors;
the replay must give exactly the events of the host's StreamDetector (smoothing, per-command
thresholds, refractory period, re-arm latch), or the tuned thresholds mean something else
in the host."""

from __future__ import annotations

import numpy as np
import pytest

from host.speech_params import CLASSES, COMMANDS, SAMPLE_RATE
from models.speech import evaluate


class ScriptedSpotter:
    """Returns pre-drawn posteriors in call order (the detector's window order)."""

    labels = list(CLASSES)
    command_index = {c: CLASSES.index(c) for c in COMMANDS}

    def __init__(self, posteriors: np.ndarray):
        self.posteriors, self.calls = posteriors, 0

    def probabilities_from_features(self, features):
        row = self.posteriors[self.calls]
        self.calls += 1
        return row


def scripted_posteriors(rng: np.random.Generator, windows: int) -> np.ndarray:
    """Long runs of one class (a phrase that stays in the window), bursts and flicker."""
    out = np.full((windows, len(CLASSES)), 0.02, np.float32)
    i = 0
    while i < windows:
        length = int(rng.integers(1, 25))
        out[i: i + length, int(rng.integers(len(CLASSES)))] = rng.uniform(0.5, 1.0)
        i += length
    return out / out.sum(1, keepdims=True)


@pytest.mark.parametrize("seed", range(6))
def test_replay_matches_the_host_detector(seed):
    rng = np.random.default_rng(seed)
    audio = rng.normal(0, 0.01, 40 * SAMPLE_RATE).astype(np.float32)
    thresholds = {c: float(rng.uniform(0.4, 0.8)) for c in COMMANDS}
    posteriors = scripted_posteriors(rng, 1000)

    probs, times = evaluate.trace(ScriptedSpotter(posteriors), audio)
    replayed = evaluate.replay(probs, times, thresholds, ScriptedSpotter.command_index)
    streamed = evaluate.stream_events(ScriptedSpotter(posteriors), thresholds, audio)

    assert len(streamed) > 5  # the script must exercise the rule, not trivially agree
    assert [(e["command"], round(e["time_s"], 3)) for e in replayed] == \
        [(e["command"], round(e["time_s"], 3)) for e in streamed]
