"""Keyword spotting: log-mel windows -> the int8 keyword model -> commands.

`KeywordSpotter` scores one 1.5 s window. `recognize` finds the best command in a clip.
`StreamDetector` follows a live stream: it resamples chunks of any rate to 16 kHz,
computes feature frames incrementally (the same `log_mel` as training), scores a window
every 100 ms, averages the last few posteriors, applies per-command thresholds and a
refractory period, and reports each command once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from .audio import Resampler
from .errors import ModelCorrupt
from .features import HOP, LOG_FLOOR, MEL_BINS, SAMPLE_RATE, WINDOW, log_mel
from .speech_params import COMMANDS, HOP_FRAMES, WINDOW_FRAMES, WINDOW_SAMPLES

log = logging.getLogger(__name__)
DEFAULT_THRESHOLD = 0.8
MAX_SMOOTHING = 20  # windows: 2 s
RECENT_WINDOWS = 5  # the last 0.5 s of smoothed scores, kept for a second opinion
# What a user can choose (the extension's options): the model lab tunes one set of thresholds per
# level on its validation voices ("low": fewer mistaken switches, "high": fewer missed commands).
SENSITIVITIES = ("low", "normal", "high")
SILENT_FRAME = np.full(MEL_BINS, np.log(LOG_FLOOR), dtype=np.float32)  # log_mel of digital silence


@dataclass
class DetectorSettings:
    thresholds: dict[str, float] = field(default_factory=dict)
    smoothing: int = 3  # windows averaged (each 100 ms apart)
    refractory_s: float = 1.0  # no second command this soon after one
    commands: tuple[str, ...] | None = None  # the commands that may fire (None: all the model knows)
    sensitivity: str = "normal"  # the level asked for
    sensitivity_used: str = "normal"  # the level whose thresholds these are (a model may lack the one asked for)

    @classmethod
    def from_params(cls, params: dict, sensitivity: str = "normal") -> "DetectorSettings":
        """A model entry's detector parameters; `thresholds` are the "normal" level's, and
        `sensitivity_thresholds` has one set per level (a model without the level uses "normal")."""
        used, thresholds = sensitivity, params.get("sensitivity_thresholds", {}).get(sensitivity)
        if thresholds is None:
            if sensitivity != "normal":
                log.info("the keyword model has no %r thresholds: using its normal ones", sensitivity)
            used, thresholds = "normal", params.get("thresholds", {})
        return cls(
            thresholds={k: float(v) for k, v in thresholds.items()},
            # Bounded whatever an entry says: the history holds `smoothing` windows (0 would keep all).
            smoothing=min(max(int(params.get("smoothing", 3)), 1), MAX_SMOOTHING),
            refractory_s=min(max(float(params.get("refractory_s", 1.0)), 0.0), 10.0),
            sensitivity=sensitivity,
            sensitivity_used=used,
        )

    def threshold(self, command: str) -> float:
        return self.thresholds.get(command, DEFAULT_THRESHOLD)

    def only(self, commands) -> "DetectorSettings":
        """The same settings with only `commands` enabled (a user who turned the others off
        gets no false switches from them)."""
        return replace(self, commands=tuple(commands))


class KeywordSpotter:
    """One loaded keyword model (TFLite, int8 or float input)."""

    def __init__(self, model_path: Path, labels_path: Path, num_threads: int = 1, name: str = "", version: str = ""):
        from .runtime import create_interpreter

        self.name, self.version = name, version
        try:
            self.interpreter = create_interpreter(model_path, num_threads)
        except (ValueError, RuntimeError) as exc:
            raise ModelCorrupt(f"The keyword model cannot be loaded by LiteRT ({exc}).") from exc
        self._input = self.interpreter.get_input_details()[0]
        self._output = self.interpreter.get_output_details()[0]
        shape = [int(d) for d in self._input["shape"]]
        if shape[1:3] != [WINDOW_FRAMES, MEL_BINS]:
            raise ModelCorrupt(f"The keyword model takes {shape}, not [1, {WINDOW_FRAMES}, {MEL_BINS}, ...].")
        self.labels = [line.strip() for line in Path(labels_path).read_text("utf-8").splitlines() if line.strip()]
        if len(self.labels) != int(np.prod(self._output["shape"])):
            raise ModelCorrupt("The keyword model's label file does not match its outputs.")
        self.command_index = {label: i for i, label in enumerate(self.labels) if label in COMMANDS}
        self._lock = threading.Lock()
        self.last_infer_ms = 0.0

    def probabilities_from_features(self, features: np.ndarray) -> np.ndarray:
        x = features.reshape(self._input["shape"]).astype(np.float32)
        scale, zero_point = self._input.get("quantization") or (0.0, 0)
        dtype = self._input["dtype"]
        if scale and np.issubdtype(dtype, np.integer):
            info = np.iinfo(dtype)
            x = np.clip(np.rint(x / scale + zero_point), info.min, info.max)
        with self._lock:
            start = time.perf_counter()
            self.interpreter.set_tensor(self._input["index"], x.astype(dtype))
            self.interpreter.invoke()
            raw = self.interpreter.get_tensor(self._output["index"]).reshape(-1).astype(np.float32)
            self.last_infer_ms = (time.perf_counter() - start) * 1000
        out_scale, out_zero = self._output.get("quantization") or (0.0, 0)
        if out_scale:
            raw = (raw - out_zero) * out_scale
        raw = np.clip(raw, 0.0, None)
        total = raw.sum()
        return raw / total if total > 0 else np.full_like(raw, 1.0 / len(raw))

    def window_probabilities(self, window16k: np.ndarray) -> np.ndarray:
        """Probabilities for one window of WINDOW_SAMPLES samples at 16 kHz (padded/cut)."""
        window = np.zeros(WINDOW_SAMPLES, np.float32)
        clip = np.asarray(window16k, np.float32)[-WINDOW_SAMPLES:]
        window[WINDOW_SAMPLES - len(clip):] = clip
        return self.probabilities_from_features(log_mel(window))



def recognize(spotter: KeywordSpotter, audio16k: np.ndarray, settings: DetectorSettings) -> dict:
    """The best command in a clip, or None: the clip is streamed through a fresh detector
    (with half a window of silence after it, so a phrase at the very end is heard)."""
    detector = StreamDetector(spotter, settings, SAMPLE_RATE)
    tail = np.zeros(WINDOW_SAMPLES // 2, np.float32)
    events = detector.feed(np.concatenate([np.asarray(audio16k, np.float32), tail]))
    best = detector.peak_probabilities
    scores = {label: round(float(p), 6) for label, p in zip(spotter.labels, best)} if best is not None else {}
    if events:
        first = max(events, key=lambda e: e["score"])
        return {"command": first["command"], "score": first["score"], "scores": scores}
    top_command = max(COMMANDS, key=lambda c: scores.get(c, 0.0)) if scores else None
    return {"command": None, "score": scores.get(top_command, 0.0) if top_command else 0.0, "scores": scores}


class StreamDetector:
    """Follows one audio stream and turns it into command events."""

    def __init__(self, spotter: KeywordSpotter, settings: DetectorSettings, source_rate: int = SAMPLE_RATE):
        self.spotter = spotter
        self.settings = settings
        self.source_rate = source_rate
        self._resampler = Resampler(source_rate) if source_rate != SAMPLE_RATE else None
        self._pending = np.zeros(0, np.float32)  # 16 kHz samples not yet framed
        self._frames = np.tile(SILENT_FRAME, (WINDOW_FRAMES, 1))  # the last window of feature frames
        self._new_frames = 0
        self._frames_total = 0
        self._history: list[np.ndarray] = []
        self._quiet_until = -1.0
        self._latched: set[str] = set()  # commands that fired and have not fallen below threshold
        self._peak_probabilities: np.ndarray | None = None
        self._recent_smoothed: deque = deque(maxlen=RECENT_WINDOWS)
        # Windows (frames, time) not scored yet. With no command enabled (the voice profile's second
        # opinion) nothing can fire: windows are scored only when their scores are read, which is
        # rare, and enough are kept to give the same smoothed scores as scoring each in turn.
        self._unscored: deque = deque(maxlen=RECENT_WINDOWS + MAX_SMOOTHING)
        self._peak_score = -1.0
        self._enabled: list = []
        self.enable(settings.commands)

    @property
    def recent_smoothed(self) -> deque:
        """The last 0.5 s of smoothed scores (read by the voice profile's second opinion)."""
        self._score_unscored()
        return self._recent_smoothed

    @property
    def peak_probabilities(self) -> np.ndarray | None:
        """The smoothed scores of the window where an enabled command peaked."""
        self._score_unscored()
        return self._peak_probabilities

    def enable(self, commands) -> None:
        """Only `commands` may fire from now on (None: all); the stream itself goes on."""
        self._score_unscored()  # windows heard so far are judged under the commands enabled then
        wanted = None if commands is None else tuple(commands)
        if wanted is not None and wanted != self.settings.commands:  # the extension repeats its list every chunk
            self.settings = self.settings.only(wanted)
        self._enabled = [(c, i) for c, i in self.spotter.command_index.items() if wanted is None or c in wanted]

    def use(self, settings: DetectorSettings) -> None:
        """Other thresholds from now on (a new sensitivity); the enabled commands, the stream,
        the smoothing history and the refractory period go on."""
        self._score_unscored()
        self.settings = replace(settings, commands=self.settings.commands)

    @property
    def time_s(self) -> float:
        """Stream time at the end of the newest feature frame."""
        return (self._frames_total * HOP + (WINDOW - HOP)) / SAMPLE_RATE if self._frames_total else 0.0

    def feed(self, chunk: np.ndarray) -> list[dict]:
        audio = np.asarray(chunk, np.float32)
        if self._resampler is not None:
            audio = self._resampler.process(audio)
        self._pending = np.concatenate([self._pending, audio])
        events = []
        count = (len(self._pending) - WINDOW) // HOP + 1 if len(self._pending) >= WINDOW else 0
        if count <= 0:
            return events
        frames = log_mel(self._pending[: (count - 1) * HOP + WINDOW])
        self._pending = self._pending[count * HOP :]
        # The last window and the new frames in one array: the window ending at each new frame is a slice.
        joined = np.concatenate([self._frames, frames])
        for k in range(len(frames)):  # one frame at a time, exactly as a live stream would
            self._frames_total += 1
            self._new_frames += 1
            if self._new_frames >= HOP_FRAMES:
                self._new_frames = 0
                self._unscored.append((joined[k + 1: k + 1 + WINDOW_FRAMES], self.time_s))
                if self._enabled:
                    events += self._score_unscored()
        self._frames = joined[-WINDOW_FRAMES:]
        return events

    def _score_unscored(self) -> list[dict]:
        events = []
        while self._unscored:
            event = self._score_window(*self._unscored.popleft())
            if event:
                events.append(event)
        return events

    def _score_window(self, frames: np.ndarray, now: float) -> dict | None:
        probabilities = self.spotter.probabilities_from_features(frames)
        self._history.append(probabilities)
        del self._history[: -max(self.settings.smoothing, 1)]
        smoothed = np.mean(self._history, axis=0)
        self._recent_smoothed.append(smoothed)
        best_command, best_score = None, 0.0
        for command, index in self._enabled:
            score = float(smoothed[index])
            if score < self.settings.threshold(command):
                self._latched.discard(command)  # re-armed: the phrase has left the window
            if score > best_score:
                best_command, best_score = command, score
        if best_score > self._peak_score:
            self._peak_score, self._peak_probabilities = best_score, smoothed
        if best_command is None or now < self._quiet_until or best_command in self._latched:
            return None
        if best_score >= self.settings.threshold(best_command):
            # One phrase stays in the 1.5 s window after the refractory period ends: the
            # command fires again only after its score has dropped below the threshold.
            self._quiet_until = now + self.settings.refractory_s
            self._latched.add(best_command)
            return {"command": best_command, "score": round(best_score, 4), "time_s": round(now, 3)}
        return None
