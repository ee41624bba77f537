"""Audio input: WAV or raw 16-bit PCM bytes -> mono float32 at 16 kHz.

The browser captures at whatever rate the device runs (44.1 or 48 kHz, sometimes 8 or 16
kHz); the speech model listens at 16 kHz. `Resampler` converts any integer rate with a
Kaiser-windowed sinc filter, either in one go or chunk by chunk for a live stream (the
two give the same samples), so the host never depends on the capture rate.
"""

from __future__ import annotations

import math
import struct

import numpy as np

from .errors import TabSenseError

MODEL_RATE = 16_000
MIN_RATE, MAX_RATE = 8_000, 192_000
MAX_SECONDS = 60.0


class BadAudio(TabSenseError):
    code = "bad_audio"
    default_message = "The audio data cannot be read."


class UnsupportedAudio(TabSenseError):
    code = "unsupported_audio"
    default_message = "This kind of audio is not supported; send 16-bit PCM or a PCM WAV file."


class AudioTooLong(TabSenseError):
    code = "audio_too_long"
    default_message = f"The audio is longer than {MAX_SECONDS:.0f} seconds; send it in chunks."


STANDARD_RATES = (8000, 11025, 16000, 22050, 24000, 32000, 44100, 48000, 88200, 96000, 176400, 192000)
MAX_PHASES = 640  # 11,025 Hz needs 640 filter phases; odd rates would need up to 16,000 (a ~50 MB table)


def check_rate(sample_rate) -> int:
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, int) or not MIN_RATE <= sample_rate <= MAX_RATE:
        raise UnsupportedAudio(f"`sample_rate` must be a whole number of Hz from {MIN_RATE} to {MAX_RATE}.")
    if MODEL_RATE // math.gcd(sample_rate, MODEL_RATE) > MAX_PHASES:
        rates = ", ".join(f"{r:,}" for r in STANDARD_RATES)
        raise UnsupportedAudio(f"{sample_rate:,} Hz is not a rate audio devices use; send one of {rates} Hz.")
    return sample_rate


def pcm16_to_float(data: bytes) -> np.ndarray:
    if len(data) % 2:
        raise BadAudio("16-bit PCM audio must have an even number of bytes.")
    return np.frombuffer(data, dtype="<i2").astype(np.float32) / 32768.0


def is_wav(data: bytes) -> bool:
    return len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WAVE"


def parse_wav(data: bytes) -> tuple[np.ndarray, int]:
    """A RIFF/WAVE file -> (mono float32 in [-1, 1], sample rate). PCM 8/16/24/32-bit, float 32/64."""
    offset, fmt, samples = 12, None, None
    while offset + 8 <= len(data):
        chunk_id, size = struct.unpack_from("<4sI", data, offset)
        body = data[offset + 8 : offset + 8 + size]
        if chunk_id == b"fmt ":
            if len(body) < 16:
                raise BadAudio("The WAV file's format chunk is too short.")
            tag, channels, rate, _, _, bits = struct.unpack_from("<HHIIHH", body)
            if tag == 0xFFFE and len(body) >= 26:  # WAVE_FORMAT_EXTENSIBLE: the real tag is in the GUID
                tag = struct.unpack_from("<H", body, 24)[0]
            fmt = (tag, channels, rate, bits)
        elif chunk_id == b"data":
            samples = body
            break
        offset += 8 + size + (size & 1)
    if fmt is None or samples is None:
        raise BadAudio("The WAV file has no format or no data chunk.")
    tag, channels, rate, bits = fmt
    if channels < 1 or channels > 16:
        raise UnsupportedAudio(f"The WAV file has {channels} channels.")
    rate = check_rate(rate)
    width = bits // 8
    usable = len(samples) - len(samples) % (width * channels) if width else 0
    raw = samples[:usable]
    if tag == 1 and bits == 8:
        audio = (np.frombuffer(raw, np.uint8).astype(np.float32) - 128.0) / 128.0
    elif tag == 1 and bits == 16:
        audio = np.frombuffer(raw, "<i2").astype(np.float32) / 32768.0
    elif tag == 1 and bits == 24:
        bytes3 = np.frombuffer(raw, np.uint8).reshape(-1, 3).astype(np.int32)
        value = bytes3[:, 0] | (bytes3[:, 1] << 8) | (bytes3[:, 2] << 16)
        audio = (np.where(value >= 1 << 23, value - (1 << 24), value)).astype(np.float32) / float(1 << 23)
    elif tag == 1 and bits == 32:
        audio = np.frombuffer(raw, "<i4").astype(np.float32) / float(1 << 31)
    elif tag == 3 and bits in (32, 64):
        audio = np.frombuffer(raw, "<f4" if bits == 32 else "<f8").astype(np.float32)
    else:
        raise UnsupportedAudio(f"WAV format {tag} with {bits}-bit samples is not supported; use PCM.")
    audio = audio.reshape(-1, channels).mean(axis=1) if channels > 1 else audio
    return audio, rate


def decode_audio(data: bytes, sample_rate: int | None = None) -> tuple[np.ndarray, int]:
    """WAV bytes (rate from the header) or raw little-endian 16-bit mono PCM at `sample_rate`."""
    if not data:
        raise BadAudio("The audio is empty.")
    if is_wav(data):
        audio, rate = parse_wav(data)
    else:
        if sample_rate is None:
            raise UnsupportedAudio("Raw PCM audio needs its `sample_rate`.")
        rate = check_rate(sample_rate)
        audio = pcm16_to_float(data)
    if not np.all(np.isfinite(audio)):
        raise BadAudio("The audio contains values that are not numbers.")
    if len(audio) > MAX_SECONDS * rate:
        raise AudioTooLong()
    return np.clip(audio, -1.0, 1.0), rate


class Resampler:
    """Band-limited rational resampling, one call or chunk by chunk.

    Output sample n sits at input time n * down / up; it is the input convolved with a
    Kaiser-windowed sinc whose cutoff is just below the lower Nyquist frequency, so
    content above 8 kHz in 44.1/48 kHz audio is removed rather than aliased.
    """

    def __init__(self, source_rate: int, target_rate: int = MODEL_RATE, zero_crossings: int = 16, beta: float = 8.0):
        g = math.gcd(source_rate, target_rate)
        self.up, self.down = target_rate // g, source_rate // g
        self.source_rate, self.target_rate = source_rate, target_rate
        cutoff = min(1.0, self.up / self.down) * 0.92  # fraction of the input Nyquist rate
        self.half = int(math.ceil(zero_crossings / cutoff))
        taps = np.arange(-self.half + 1, self.half + 1, dtype=np.float64)  # 2*half taps
        phases = np.arange(self.up, dtype=np.float64)[:, None] / self.up
        distance = taps[None, :] - phases  # input offset of each tap from the output time
        window = np.kaiser(2 * self.half + 1, beta)
        window_at = np.interp(distance, np.arange(-self.half, self.half + 1), window, left=0.0, right=0.0)
        self.table = (cutoff * np.sinc(cutoff * distance) * window_at).astype(np.float32)
        self._buffer = np.zeros(self.half, dtype=np.float32)  # left context: silence
        self._consumed = 0  # input samples dropped from the front of _buffer
        self._next = 0  # index of the next output sample

    def process(self, chunk: np.ndarray) -> np.ndarray:
        if self.up == self.down:
            return chunk.astype(np.float32, copy=False)
        self._buffer = np.concatenate([self._buffer, chunk.astype(np.float32, copy=False)])
        return self._emit(final=False)

    def flush(self) -> np.ndarray:
        """Outputs that still wait for right context (pads with silence)."""
        if self.up == self.down:
            return np.zeros(0, np.float32)
        total_input = self._consumed + len(self._buffer) - self.half
        last = int(math.ceil(total_input * self.up / self.down))
        self._buffer = np.concatenate([self._buffer, np.zeros(self.half + 1, np.float32)])
        return self._emit(final=True, stop=last)

    def _emit(self, final: bool, stop: int | None = None) -> np.ndarray:
        # Input index i of the stream lives at _buffer[i - _consumed + half].
        available = self._consumed + len(self._buffer) - self.half  # stream samples received
        n_max = (available - self.half) * self.up // self.down if not final else stop
        if n_max is None or n_max <= self._next:
            return np.zeros(0, np.float32)
        n = np.arange(self._next, n_max, dtype=np.int64)
        base = n * self.down // self.up  # input sample at or before the output time
        phase = (n * self.down) % self.up
        start = base - self._consumed + 1  # buffer index of the first tap (offset -half+1)
        windows = np.lib.stride_tricks.sliding_window_view(self._buffer, 2 * self.half)
        out = np.empty(len(n), np.float32)
        if self.up == 1:
            out[:] = windows[start] @ self.table[0]
        else:
            # Outputs repeat their filter phase every `up` samples: one matrix product per phase.
            for p in range(min(self.up, len(n))):
                rows = slice(p, None, self.up)
                out[rows] = windows[start[rows]] @ self.table[phase[p]]
        self._next = n_max
        keep_from = int(max(0, base[-1] - self._consumed + 1 - self.half))  # keep what later outputs need
        self._buffer = self._buffer[keep_from:]
        self._consumed += keep_from
        return out


def resample(audio: np.ndarray, source_rate: int, target_rate: int = MODEL_RATE) -> np.ndarray:
    if source_rate == target_rate:
        return audio.astype(np.float32, copy=False)
    resampler = Resampler(source_rate, target_rate)
    return np.concatenate([resampler.process(audio), resampler.flush()])
