"""A live audio stream heard through the user's voice profile, and the generic model for the rest.

Commands the user taught are decided by the personal matcher: it was checked on the user's own
takes, while the generic model misses half of the commands of voices it never met. A match just
above its threshold needs a confirmation: the profile's verifier (voice_verifier.py), or the
generic model's score for that command, which never fires a taught command by itself.
Commands not taught fall back to the generic keyword model when the host may serve it (blessed,
or the request opted in). Both share one resampler and one refractory period, so one phrase is
one command.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .audio import Resampler
from .speech import DetectorSettings, StreamDetector
from .speech_embedding import MIN_SAMPLES, SAMPLE_RATE, STEP_SAMPLES
from .voice_front_end import FrontEndStream, VoiceFrontEnd
from .voice_matcher import CONFIRM_POSTERIOR, CONFIRM_RATIO, REFRACTORY_S, PersonalDetector
from .voice_noise import NoiseGauge
from .voice_profile import Matcher
from .voice_verifier import ACCEPT_FAR, ACCEPT_NEAR, WINDOW, Verifier


@dataclass
class ProfileStream:
    """Same interface as `StreamDetector` for the transports: `feed`, `time_s`, `enable`, `use`."""

    embedder: VoiceFrontEnd
    matcher: Matcher
    source_rate: int
    commands: tuple[str, ...] | None = None  # enabled commands (None: all)
    generic: StreamDetector | None = None  # for enabled commands the profile does not know
    second_opinion: StreamDetector | None = None  # the generic model's scores, never its decisions
    _personal: PersonalDetector = field(init=False)
    _embeddings: FrontEndStream = field(init=False)
    _resampler: Resampler | None = field(init=False)
    _noise: NoiseGauge = field(default_factory=NoiseGauge, init=False)
    _recent: list = field(default_factory=list, init=False)  # the last vectors, for the verifier
    _quiet_until: float = field(default=-1.0, init=False)

    def __post_init__(self):
        self._resampler = Resampler(self.source_rate) if self.source_rate != SAMPLE_RATE else None
        self._embeddings = self.embedder.stream()
        self._personal = PersonalDetector(self.matcher.bank, self.matcher.calibration.thresholds)
        self.enable(self.commands)

    @property
    def profile_id(self) -> str:
        return self.matcher.id

    @property
    def profile_commands(self) -> list[str]:
        return self._personal.commands()

    @property
    def closest(self) -> dict[str, float]:
        """Each enabled taught command's lowest cost / threshold so far (<= 1 fired)."""
        return dict(self._personal.best_ratio)

    @staticmethod
    def _vector_end_s(index: int) -> float:
        """Stream time at the end of the audio that embedding vector `index` covers."""
        return (index * STEP_SAMPLES + MIN_SAMPLES) / SAMPLE_RATE

    @property
    def time_s(self) -> float:
        return self._vector_end_s(self._embeddings.vectors - 1) if self._embeddings.vectors else 0.0

    def enable(self, commands) -> None:
        self.commands = None if commands is None else tuple(commands)
        self._personal.enabled = self.commands
        if self.generic is not None:
            rest = [c for c in (self.commands or self.generic.spotter.command_index) if c not in self.matcher.commands]
            self.generic.enable(rest or ())

    def use(self, settings: DetectorSettings) -> None:
        """A new sensitivity: it applies to the generic model; the profile has its own thresholds."""
        if self.generic is not None:
            self.generic.use(settings)

    def feed(self, chunk: np.ndarray) -> list[dict]:
        audio = np.asarray(chunk, np.float32)
        if self._resampler is not None:
            audio = self._resampler.process(audio)
        events = []
        scorer = self.generic or self.second_opinion  # a second opinion alone enables no command: no events
        generic_events = scorer.feed(audio) if scorer is not None else []
        confirm = _confirm_with(self.matcher.verifier, self._recent, scorer)
        vectors = self._embeddings.feed(audio)
        self._noise.feed(audio)
        allowance = self._noise.allowance()  # per chunk: the floor moves over seconds, not 80 ms
        first = self._embeddings.vectors - len(vectors)
        for offset, vector in enumerate(vectors):
            now = self._vector_end_s(first + offset)
            self._recent.append(vector)
            del self._recent[:-WINDOW]
            found = self._personal.step(vector, now, confirm, allowance)
            if found and now >= self._quiet_until:
                self._quiet_until = now + REFRACTORY_S
                found["source"] = "profile"
                events.append(found)
        for found in generic_events:
            if found["time_s"] >= self._quiet_until:
                self._quiet_until = found["time_s"] + REFRACTORY_S
                found["source"] = "generic"
                events.append(found)
        return events


def verifier_bar(ratio: float) -> float:
    """The verifier's probability that confirms a match `ratio` times its threshold: the nearer
    the templates found the phrase, the less sure the verifier must be."""
    share = min(max((ratio - 1.0) / (CONFIRM_RATIO - 1.0), 0.0), 1.0)
    return ACCEPT_NEAR + (ACCEPT_FAR - ACCEPT_NEAR) * share


def _confirm_with(verifier: Verifier | None, recent: list, opinion: StreamDetector | None):
    """Who confirms a near match: the profile's verifier, then the generic model's scores."""
    if verifier is None and opinion is None:
        return None
    index = opinion.spotter.command_index if opinion is not None else {}

    def confirm(command: str, ratio: float) -> str | None:
        if verifier is not None and verifier.probability(command, np.asarray(recent)) >= verifier_bar(ratio):
            return "verifier"
        # Over the last half second: the two models peak at slightly different moments of a phrase.
        if command not in index or not opinion.recent_smoothed:
            return None
        heard = max(float(scores[index[command]]) for scores in opinion.recent_smoothed)
        return "generic" if heard >= CONFIRM_POSTERIOR else None

    return confirm


def recognize_clip(detector, audio16k: np.ndarray) -> dict:
    """The best command in a whole clip, through a fresh detector of either kind."""
    from .speech import recognize

    if isinstance(detector, StreamDetector):
        return recognize(detector.spotter, audio16k, detector.settings)
    tail = np.zeros(MIN_SAMPLES // 2, np.float32)  # a phrase at the very end is still heard
    events = detector.feed(np.concatenate([np.asarray(audio16k, np.float32), tail]))
    if not events:
        return {"command": None, "score": 0.0, "scores": {}}
    best = max(events, key=lambda e: e["score"])
    return {"command": best["command"], "score": best["score"], "scores": {best["command"]: best["score"]},
            "source": best.get("source")}
