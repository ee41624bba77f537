"""How noisy the room is right now, and how much further a taught phrase may then match.

In a noisy room every embedding of the user's phrase moves away from the takes recorded in a
quiet one, so a fixed threshold misses it. `NoiseGauge` follows a live stream's loudness per
80 ms: its noise floor (a low percentile of the last few seconds) and its loudest recent frame.
While someone speaks over a loud floor (speech well above the floor, but not by much), a taught
command's threshold is widened up to `NOISY_ALLOWANCE` times; in a quiet room, and where no
speech stands out of the noise at all, nothing changes. So the near misses of a quiet room keep
their margin, and a take said over music or a fan is still heard.
Chosen on development voices (docs/speech/experiments.md).
"""

from __future__ import annotations

from collections import deque

import numpy as np

from .speech_embedding import STEP_SAMPLES
from .voice_takes import frame_dbfs

FRAME = STEP_SAMPLES  # 80 ms, one embedding step
FLOOR_FRAMES = 63  # ~5 s: long enough to hold pauses between phrases
PEAK_FRAMES = 19  # ~1.5 s: the phrase being matched
# The 30th, not the 10th: a background with quiet moments (music between its notes, a room's
# sounds) put the floor in its gaps, and a third of the noisy-room takes got less than the full
# allowance (development voices; docs/speech/experiments.md). At the 50th, a sentence said in a
# quiet room raised the floor itself and got the full allowance.
FLOOR_PERCENTILE = 30
MIN_FRAMES = 12  # under ~1 s of audio the floor is unknown: no allowance
SPEECH_OVER_FLOOR_DB = 8.0  # less than this above the floor: no speech stands out, nothing to widen
CLEAN_SNR_DB = 30.0  # at or above: a quiet room, thresholds as calibrated
NOISY_SNR_DB = 15.0  # at or below: the full allowance
NOISY_ALLOWANCE = 1.3


class NoiseGauge:
    """Feed it the stream's 16 kHz audio; `allowance()` is the threshold factor for now."""

    def __init__(self):
        self._rest = np.zeros(0, np.float32)
        self._levels: deque[float] = deque(maxlen=FLOOR_FRAMES)  # dB per frame

    def feed(self, audio16k: np.ndarray) -> None:
        audio = np.concatenate([self._rest, np.asarray(audio16k, np.float32)])
        count = len(audio) // FRAME
        if count:
            self._levels.extend(frame_dbfs(audio[: count * FRAME], FRAME).tolist())
        self._rest = audio[count * FRAME:]

    def snr_db(self) -> float | None:
        """Loudest recent frame over the noise floor; None until about a second was heard."""
        if len(self._levels) < MIN_FRAMES:
            return None
        # Plain Python on ~60 numbers: ten times cheaper than numpy's call overhead, every 100 ms.
        levels = list(self._levels)
        ordered = sorted(levels)
        position = (len(ordered) - 1) * FLOOR_PERCENTILE / 100  # numpy's default (linear) percentile
        low = int(position)
        high = min(low + 1, len(ordered) - 1)
        floor = ordered[low] + (ordered[high] - ordered[low]) * (position - low)
        return float(max(levels[-PEAK_FRAMES:]) - floor)

    def allowance(self) -> float:
        snr = self.snr_db()
        if snr is None or snr < SPEECH_OVER_FLOOR_DB:
            return 1.0
        noisy = np.clip((CLEAN_SNR_DB - snr) / (CLEAN_SNR_DB - NOISY_SNR_DB), 0.0, 1.0)
        return float(1.0 + (NOISY_ALLOWANCE - 1.0) * noisy)
