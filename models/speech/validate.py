"""Example validator for generated clips: every clip that enters a dataset passes here.

A clip is rejected, with human-readable reasons, when it is not 16 kHz, not a finite
1-D float signal, too short or too long for its role, clipped, silent where speech is
expected, or carries a large DC offset. `ClipValidator` counts rejections by reason so
that a generation run can print (and a test can check) what was thrown away and why.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from host.features import SAMPLE_RATE
from host.speech_params import WINDOW_SAMPLES

# Limits per role: (min seconds, max seconds, expect sound)
ROLES = {
    "phrase": (0.15, 1.45, True),    # a command / near miss: must fit in the 1.5 s window
    "sentence": (0.15, 12.0, True),  # longer speech, cut into windows later
    "window": (WINDOW_SAMPLES / SAMPLE_RATE, WINDOW_SAMPLES / SAMPLE_RATE, False),  # model input
    "background": (0.05, 600.0, False),
}
CLIP_LEVEL = 0.999          # |x| at or above this counts as a clipped sample
MAX_CLIPPED_FRACTION = 0.001
SILENCE_DBFS = -55.0        # speech whose loudest 10 ms frame is below this is "silent"
MAX_DC = 0.05


def check_clip(audio, rate: int = SAMPLE_RATE, role: str = "phrase") -> list[str]:
    """Reasons why `audio` is not a good example for `role` ([] when it is good)."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}")
    reasons = []
    if rate != SAMPLE_RATE:
        reasons.append(f"sample rate {rate} Hz, expected {SAMPLE_RATE}")
    audio = np.asarray(audio)
    if audio.ndim != 1:
        return reasons + [f"shape {audio.shape}, expected mono 1-D"]
    if not np.issubdtype(audio.dtype, np.floating):
        return reasons + [f"dtype {audio.dtype}, expected float"]
    if not np.all(np.isfinite(audio)):
        return reasons + ["contains NaN or infinite samples"]
    low, high, expect_sound = ROLES[role]
    seconds = len(audio) / SAMPLE_RATE
    if seconds < low - 1e-9:
        reasons.append(f"too short: {seconds:.3f} s < {low:.3f} s")
    if seconds > high + 1e-9:
        reasons.append(f"too long: {seconds:.3f} s > {high:.3f} s")
    if len(audio) == 0:
        return reasons
    clipped = float(np.mean(np.abs(audio) >= CLIP_LEVEL))
    if clipped > MAX_CLIPPED_FRACTION:
        reasons.append(f"clipped: {clipped:.2%} of samples at full scale")
    if np.max(np.abs(audio)) > 1.0 + 1e-6:
        reasons.append("samples outside [-1, 1]")
    if expect_sound:
        hop = SAMPLE_RATE // 100
        n = max(1, len(audio) // hop)
        frames = np.resize(audio, n * hop).reshape(n, hop) if len(audio) >= hop else audio[None, :]
        peak_db = 10 * np.log10(np.max(np.mean(frames.astype(np.float64) ** 2, axis=1)) + 1e-20)
        if peak_db < SILENCE_DBFS:
            reasons.append(f"silent: loudest 10 ms at {peak_db:.1f} dBFS")
    if abs(float(np.mean(audio))) > MAX_DC:
        reasons.append(f"DC offset: {float(np.mean(audio)):.3f}")
    return reasons


@dataclass
class ClipValidator:
    """Counts accepted and rejected clips; `accept` returns True for a good clip."""

    accepted: int = 0
    rejected_clips: int = 0
    rejected: Counter = field(default_factory=Counter)
    examples: list = field(default_factory=list)

    def accept(self, audio, rate: int = SAMPLE_RATE, role: str = "phrase", name: str = "") -> bool:
        reasons = check_clip(audio, rate, role)
        if not reasons:
            self.accepted += 1
            return True
        self.rejected_clips += 1
        for reason in reasons:
            self.rejected[reason.split(":")[0]] += 1
        if len(self.examples) < 20:
            self.examples.append((name, reasons))
        return False

    def summary(self) -> dict:
        return {"accepted": self.accepted, "rejected": self.rejected_clips,
                "rejected_by_reason": dict(self.rejected),
                "examples": [f"{n}: {'; '.join(r)}" for n, r in self.examples[:5]]}
