"""Log-mel features for the keyword model: the ONE implementation used in training
(models/speech) and in the host, so there is no training/serving skew.

16 kHz mono float32 in [-1, 1] -> float32 [frames, MEL_BINS], 25 ms windows every 10 ms.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

SAMPLE_RATE = 16_000
WINDOW = 400  # 25 ms
HOP = 160  # 10 ms
FFT_SIZE = 512
MEL_BINS = 40
FMIN, FMAX = 60.0, 7_600.0
LOG_FLOOR = 1e-6


def hz_to_mel(hz):
    return 2595.0 * np.log10(1.0 + np.asarray(hz, dtype=np.float64) / 700.0)


def mel_to_hz(mel):
    return 700.0 * (10.0 ** (np.asarray(mel, dtype=np.float64) / 2595.0) - 1.0)


@lru_cache(maxsize=4)
def mel_filterbank(n_mels: int = MEL_BINS, fft_size: int = FFT_SIZE, rate: int = SAMPLE_RATE) -> np.ndarray:
    """Triangular HTK-mel filters, [fft_size // 2 + 1, n_mels], each peaking at 1."""
    bins = np.linspace(0, rate / 2, fft_size // 2 + 1)
    edges = mel_to_hz(np.linspace(hz_to_mel(FMIN), hz_to_mel(FMAX), n_mels + 2))
    lower, center, upper = edges[:-2], edges[1:-1], edges[2:]
    rising = (bins[:, None] - lower) / (center - lower)
    falling = (upper - bins[:, None]) / (upper - center)
    return np.clip(np.minimum(rising, falling), 0.0, None).astype(np.float32)


@lru_cache(maxsize=1)
def _window() -> np.ndarray:
    return np.hanning(WINDOW + 1)[:-1].astype(np.float32)  # periodic Hann


def frame_count(samples: int) -> int:
    return 0 if samples < WINDOW else 1 + (samples - WINDOW) // HOP


def log_mel(audio: np.ndarray) -> np.ndarray:
    """[samples] float32 at 16 kHz -> [frame_count(samples), MEL_BINS] natural-log mel energies."""
    audio = np.asarray(audio, dtype=np.float32)
    count = frame_count(len(audio))
    if count == 0:
        return np.zeros((0, MEL_BINS), np.float32)
    frames = np.lib.stride_tricks.sliding_window_view(audio, WINDOW)[::HOP][:count]
    spectrum = np.fft.rfft(frames * _window(), n=FFT_SIZE)
    power = (spectrum.real**2 + spectrum.imag**2).astype(np.float32)
    # einsum, not `@`: BLAS threads cost milliseconds for this small product on a busy machine.
    energies = np.einsum("fk,km->fm", power, mel_filterbank())
    return np.log(energies + LOG_FLOOR).astype(np.float32)
