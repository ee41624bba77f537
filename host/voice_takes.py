"""One enrollment take: is it usable, where is the speech, and its room/noise versions.

`inspect_take` judges the signal alone (silence, clipping, noise, length) and finds the
spoken part with a frame-energy detector relative to the take's own noise floor, so it works
at any microphone level. `room_versions` makes the copies that teach the profile how the same
take sounds in a reverberant room and in noise (numpy only, seeded by the take itself).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

RATE = 16_000
FRAME = 400  # 25 ms
MAX_TAKE_S = 10.0  # longer is not one command: refused before anything is stored
MIN_SPEECH_S = 0.2
MAX_SPEECH_S = 2.5
SILENCE_DBFS = -55.0  # the loudest 25 ms quieter than this: nothing was heard
SPEECH_OVER_FLOOR_DB = 12.0  # speech must stand this far above the take's noise floor
CLIPPED_FRACTION = 0.002
CONTEXT_BEFORE_S, CONTEXT_AFTER_S = 0.25, 0.1  # kept around the speech in a template
QUIET_BEFORE_S, QUIET_AFTER_S = 0.8, 0.2  # the room's quiet around a take as a stream hears it (0.8 s: one embedding window)

# Verdict -> one sentence and its fix, as the user reads them.
MESSAGES = {
    "ok": "Good take.",
    "too_short": "That was too short to be a command: say the whole command, then record again.",
    "too_long": "That was longer than a command: say just the command, in one breath (at most 2.5 s).",
    "silence": "Nothing was heard: check that the right microphone is selected and not muted, then record again.",
    "clipped": "That take was too loud and got distorted: move back from the microphone or lower its level, then record again.",
    "noise_only": "Only noise was heard, no clear speech: record somewhere quieter or closer to the microphone.",
    "unlike_others": "This take sounds unlike your other takes of {phrase}: say the same words the same way, then record again.",
    "like_other_command": "This take sounds too much like your takes of {other}: choose words that sound more different, then record again.",
}


@dataclass
class TakeSignal:
    verdict: str
    speech: tuple[int, int] | None  # sample range of the spoken part
    peak_dbfs: float
    floor_dbfs: float

    @property
    def ok(self) -> bool:
        return self.verdict == "ok"


def frame_dbfs(audio: np.ndarray, frame: int = FRAME) -> np.ndarray:
    count = len(audio) // frame
    if count == 0:
        return np.full(1, 20 * np.log10(max(float(np.sqrt(np.mean(audio**2))) if len(audio) else 0.0, 1e-9)))
    frames = audio[: count * frame].reshape(count, frame)
    return 20 * np.log10(np.maximum(np.sqrt(np.mean(frames**2, axis=1)), 1e-9))


def inspect_take(audio: np.ndarray) -> TakeSignal:
    """The signal-level verdict of a 16 kHz take."""
    if len(audio) < MIN_SPEECH_S * RATE:
        return TakeSignal("too_short", None, float(frame_dbfs(audio).max()), float(frame_dbfs(audio).min()))
    levels = frame_dbfs(audio)
    peak, floor = float(levels.max()), float(np.percentile(levels, 10))
    if peak < SILENCE_DBFS:
        return TakeSignal("silence", None, peak, floor)
    if np.mean(np.abs(audio) >= 0.99) > CLIPPED_FRACTION:
        return TakeSignal("clipped", None, peak, floor)
    # Speech frames: well above the floor and within 30 dB of the loudest frame.
    loud = levels >= max(floor + SPEECH_OVER_FLOOR_DB, peak - 30.0)
    if len(levels) < 4 or peak - floor < SPEECH_OVER_FLOOR_DB:
        verdict = "too_short" if len(audio) < MIN_SPEECH_S * RATE else "noise_only"
        return TakeSignal(verdict, None, peak, floor)
    frames = np.flatnonzero(loud)
    start, end = int(frames[0]) * FRAME, int(frames[-1] + 1) * FRAME
    seconds = (end - start) / RATE
    if seconds < MIN_SPEECH_S:
        return TakeSignal("too_short", (start, end), peak, floor)
    if seconds > MAX_SPEECH_S:
        return TakeSignal("too_long", (start, end), peak, floor)
    return TakeSignal("ok", (start, end), peak, floor)


def after_quiet(audio: np.ndarray, signal: TakeSignal) -> tuple[np.ndarray, tuple[int, int]]:
    """The recording after QUIET_BEFORE_S of noise at its own floor, and where its speech now is:
    a take said the moment recording started then makes the same template (the phrase with the
    room's sound before it) as one said a second later."""
    speech = signal.speech or (0, len(audio))
    lead = int(QUIET_BEFORE_S * RATE)
    quiet = _room_quiet(lead, signal.floor_dbfs, seeded_rng(audio, "quiet"))
    return np.concatenate([quiet, np.asarray(audio, np.float32)]), (speech[0] + lead, speech[1] + lead)


def _room_quiet(samples: int, floor_dbfs: float, rng: np.random.Generator) -> np.ndarray:
    """White noise at a take's noise floor: the room's sound between phrases."""
    return (rng.standard_normal(samples) * 10 ** (floor_dbfs / 20)).astype(np.float32)


def speech_clip(audio: np.ndarray, speech: tuple[int, int], min_samples: int) -> np.ndarray:
    """The spoken part with a little context, widened to at least `min_samples` with the
    take's own recording around it (3/4 before, 1/4 after: the room's sound, which a live
    stream has too); padded with silence only when the recording itself is shorter."""
    start = max(0, speech[0] - int(CONTEXT_BEFORE_S * RATE))
    end = min(len(audio), speech[1] + int(CONTEXT_AFTER_S * RATE))
    missing = min_samples - (end - start)
    if missing > 0:
        start = max(0, start - (missing - missing // 4))
        end = min(len(audio), start + min_samples)
        start = max(0, end - min_samples)
    clip = audio[start:end]
    missing = min_samples - len(clip)
    if missing > 0:
        clip = np.concatenate([np.zeros(missing - missing // 4, np.float32), clip,
                               np.zeros(missing // 4, np.float32)])
    return clip.astype(np.float32)


def seeded_rng(audio: np.ndarray, salt: str) -> np.random.Generator:
    digest = hashlib.sha256(audio.tobytes() + salt.encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


def reverb(audio: np.ndarray, rt60_s: float, rng: np.random.Generator, wet_db: float = 0.0) -> np.ndarray:
    """A synthetic room: direct sound plus exponentially decaying diffuse noise `wet_db`
    louder than it (0 dB: a talker about a metre from the microphone; more: farther)."""
    length = int(rt60_s * RATE)
    t = np.arange(length) / RATE
    decay = np.exp(-6.9 * t / rt60_s)
    # Walls absorb high frequencies first: the tail's treble dies out at twice the rate.
    treble = rng.standard_normal(length) * np.exp(-6.9 * t / (rt60_s / 2))
    bass = np.convolve(rng.standard_normal(length), np.ones(8) / np.sqrt(8), mode="same") * decay
    tail = treble + bass
    response = tail / np.sqrt(np.sum(tail**2)) * 10 ** (wet_db / 20)
    response[:int(0.002 * RATE)] = 0.0  # the first reflection arrives a few ms after the direct sound
    response[0] = 1.0
    size = 1 << int(np.ceil(np.log2(len(audio) + length)))
    wet = np.fft.irfft(np.fft.rfft(audio, size) * np.fft.rfft(response, size), size)[: len(audio)]
    return (wet * np.sqrt(np.sum(audio**2) / max(np.sum(wet**2), 1e-12))).astype(np.float32)


def at_snr(audio: np.ndarray, noise: np.ndarray, snr_db: float) -> np.ndarray:
    """`audio` plus `noise` scaled to `snr_db` below the speech (the samples over 0.01)."""
    speech = audio[np.abs(audio) > 0.01]
    power = float(np.mean(speech**2)) if len(speech) else float(np.mean(audio**2))
    noise = noise * np.sqrt(power / 10 ** (snr_db / 10) / max(float(np.mean(noise**2)), 1e-12))
    return (audio + noise).astype(np.float32)


def _noise(audio: np.ndarray, snr_db: float, rng: np.random.Generator) -> np.ndarray:
    """Low-frequency-heavy noise (a room's hum and rumble) at `snr_db` below the speech."""
    noise = np.cumsum(rng.standard_normal(len(audio)))
    noise -= np.convolve(noise, np.ones(400) / 400, mode="same")
    return at_snr(audio, noise, snr_db)


def change_speed(audio: np.ndarray, factor: float) -> np.ndarray:
    """Said `factor` times faster (and a little higher, like a tape): people vary both."""
    positions = np.arange(0, len(audio) - 1, factor)
    return np.interp(positions, np.arange(len(audio)), audio).astype(np.float32)


VERSIONS_ID = "rooms3"  # names the set below in the feature cache: change it when the set changes
QUERY_VERSIONS_ID = "live2"  # names `as_heard_live` in the feature cache


def room_versions(clip: np.ndarray) -> list[np.ndarray]:
    """The take as recorded; in rooms small and large (one with noise), farther from the
    microphone; in noise; said a little slower and faster. Chosen on development voices
    (docs/speech/enrollment.md): without them a take said in a reverberant room is missed."""
    rng = seeded_rng(clip, "room")
    return [clip, reverb(clip, 0.3, rng), _noise(reverb(clip, 0.6, rng), 15.0, rng), _noise(clip, 12.0, rng),
            reverb(clip, 0.9, rng, 6.0), reverb(clip, 0.5, rng, 3.0),
            change_speed(clip, 0.88), change_speed(clip, 1.14)]


def as_heard_live(clip: np.ndarray) -> list[np.ndarray]:
    """The take's clip after and before some of the room's quiet, as a live stream hears a
    phrase: what a take is judged by against the other takes' templates. Judged by its own
    template instead, a take said the moment recording started lacked the embedding vectors in
    which the phrase enters the 0.78 s window, and scored 0.12-0.25 against takes of the same
    phrase instead of 0.03-0.06."""
    floor_dbfs = float(np.percentile(frame_dbfs(clip), 10))
    rng = seeded_rng(clip, "quiet")
    before = _room_quiet(int(QUIET_BEFORE_S * RATE), floor_dbfs, rng)
    after = _room_quiet(int(QUIET_AFTER_S * RATE), floor_dbfs, rng)
    return [np.concatenate([before, np.asarray(clip, np.float32), after])]
