"""Augmentation of 16 kHz clips with numpy/scipy (fast enough for tens of thousands).

Per example, each with its own probability: speed perturbation (resampling: changes tempo
and pitch/formants together, like a different vocal tract), gain, synthetic room reverb,
band-limiting (telephone-like or muffled), additive noise (white/pink/brown) or a real
sound background (music, ambient, drums) at a random SNR, and a random time shift inside
the 1.5 s window. Pitch-only and tempo-only variants come from the TTS engines and sox in
`generate.py`; here everything is in-process numpy. The `voice_change` experiment (off in the
published recipe, see docs/speech/experiments.md) first gives half the clips another voice with
Praat's "Change gender" (praat-parselmouth): formants, pitch median and pitch range moved
independently.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy import signal

from host.features import SAMPLE_RATE
from host.speech_params import WINDOW_SAMPLES

SPEED_RANGE = (0.85, 1.15)
PEAK_RANGE_DB = (-30.0, -1.0)   # final peak level of the window's speech
SNR_RANGE_DB = (0.0, 30.0)
P_SPEED, P_REVERB, P_BAND, P_BACKGROUND = 0.7, 0.3, 0.3, 0.9
P_VOICE = 0.5                       # the voice_change experiment only
FORMANT_SHIFT_RANGE = (0.85, 1.2)   # 1.2 ~ a typical man's formants moved to a woman's
PITCH_MEDIAN_RANGE_HZ = (80.0, 260.0)
PITCH_RANGE_FACTOR = (0.6, 1.6)     # flatter or livelier intonation
END_MARGIN_NEAR_S = 0.25       # half the positives end within this of the window end (fast events)


def db_to_gain(db: float) -> float:
    return float(10 ** (db / 20))


def rms(audio: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(audio, dtype=np.float64)) + 1e-20))


def speed(audio: np.ndarray, factor: float) -> np.ndarray:
    """Play `factor` times faster (resampling; pitch moves with it)."""
    if abs(factor - 1.0) < 1e-3:
        return audio
    up = 100
    down = int(round(100 * factor))
    return signal.resample_poly(audio, up, down).astype(np.float32)


def change_voice(audio: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The same words from a different-sounding speaker: a random formant shift, pitch median
    and pitch range (see `change_gender`)."""
    formants = rng.uniform(*FORMANT_SHIFT_RANGE)
    median = rng.uniform(*PITCH_MEDIAN_RANGE_HZ)
    spread = rng.uniform(*PITCH_RANGE_FACTOR)
    return change_gender(audio, formants, median, spread, seed=int(rng.integers(2**31 - 1)))


def change_gender(audio: np.ndarray, formant_shift: float, pitch_median_hz: float,
                  pitch_range_factor: float, seed: int = 0) -> np.ndarray:
    """Praat's "Change gender" (PSOLA resynthesis), duration kept. Unvoiced or very short audio,
    where Praat finds no pitch to work with, comes back unchanged. Praat draws random numbers
    here, so its generator is seeded first: the same call gives the same samples."""
    import parselmouth  # the model lab's extra only; the host never augments
    from parselmouth.praat import call, run

    if len(audio) < SAMPLE_RATE // 10:
        return audio
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", parselmouth.PraatWarning)  # "no voiced segments": handled below
            run(f"random_initializeWithSeedUnsafelyButPredictably ({seed})")
            sound = parselmouth.Sound(np.asarray(audio, np.float64), sampling_frequency=SAMPLE_RATE)
            out = call(sound, "Change gender", 75, 600, formant_shift, pitch_median_hz, pitch_range_factor,
                       1.0).values[0]
    except parselmouth.PraatError:
        return audio
    if len(out) != len(audio) or not np.all(np.isfinite(out)):
        return audio
    return out.astype(np.float32)


def colored_noise(n: int, rng: np.random.Generator, color: str = "white") -> np.ndarray:
    white = rng.standard_normal(n)
    if color == "white":
        out = white
    else:
        spectrum = np.fft.rfft(white)
        f = np.maximum(np.fft.rfftfreq(n, 1 / SAMPLE_RATE), 20.0)
        spectrum = spectrum / (np.sqrt(f) if color == "pink" else f)
        out = np.fft.irfft(spectrum, n)
    return (out / (np.std(out) + 1e-12)).astype(np.float32)


def reverb(audio: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Convolve with a synthetic room: exponentially decaying noise, RT60 0.15-0.7 s."""
    rt60 = rng.uniform(0.15, 0.7)
    n = int(rt60 * SAMPLE_RATE)
    t = np.arange(n) / SAMPLE_RATE
    ir = rng.standard_normal(n) * np.exp(-6.9 * t / rt60)
    ir[0] = 1.0 / rng.uniform(0.3, 1.0)  # direct path vs reverberant energy
    wet = signal.fftconvolve(audio, ir)[: len(audio)]
    return (wet * rms(audio) / rms(wet)).astype(np.float32)


def band_limit(audio: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A telephone / cheap-microphone band: low-pass 2.8-7 kHz and maybe high-pass 80-400 Hz."""
    low = rng.uniform(2800, 7000)
    sos = signal.butter(4, low, "lowpass", fs=SAMPLE_RATE, output="sos")
    out = signal.sosfilt(sos, audio)
    if rng.random() < 0.6:
        sos = signal.butter(2, rng.uniform(80, 400), "highpass", fs=SAMPLE_RATE, output="sos")
        out = signal.sosfilt(sos, out)
    return out.astype(np.float32)


def crop_or_loop(audio: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    if len(audio) == 0:
        return np.zeros(n, np.float32)
    if len(audio) < n:
        audio = np.tile(audio, n // len(audio) + 1)
    start = int(rng.integers(0, len(audio) - n + 1))
    return audio[start: start + n]


def background(n: int, rng: np.random.Generator, sounds: list[np.ndarray]) -> np.ndarray:
    """Noise of a random colour, a real sound, or both, scaled to unit RMS."""
    choice = rng.random()
    if sounds and choice < 0.5:
        out = crop_or_loop(sounds[int(rng.integers(len(sounds)))], n, rng).astype(np.float32)
        if rms(out) < 1e-4:  # a silent stretch of a sound file: use noise instead
            out = colored_noise(n, rng, "pink")
    else:
        out = colored_noise(n, rng, ["white", "pink", "brown"][int(rng.integers(3))])
    if sounds and choice >= 0.85:
        extra = crop_or_loop(sounds[int(rng.integers(len(sounds)))], n, rng)
        out = out / rms(out) + 0.5 * extra / max(rms(extra), 1e-4)
    return (out / rms(out)).astype(np.float32)


def mix_at_snr(speech: np.ndarray, noise: np.ndarray, snr_db: float, speech_rms: float | None = None) -> np.ndarray:
    """speech + noise with noise power `snr_db` below the speech power (of the speech part)."""
    level = speech_rms if speech_rms is not None else rms(speech)
    return speech + noise * (level / db_to_gain(snr_db) / rms(noise))


def place(clip: np.ndarray, rng: np.random.Generator, n: int = WINDOW_SAMPLES, near_end: float = 0.5) -> tuple[np.ndarray, int]:
    """Put `clip` inside an n-sample window at a random offset; with probability `near_end`
    its end lands within END_MARGIN_NEAR_S of the window end (what the streaming detector
    sees first). Longer clips are cropped at a random place. Returns (window, end index)."""
    window = np.zeros(n, np.float32)
    if len(clip) >= n:
        start = int(rng.integers(0, len(clip) - n + 1))
        window[:] = clip[start: start + n]
        return window, n
    slack = n - len(clip)
    if rng.random() < near_end:
        margin = int(rng.uniform(0, min(END_MARGIN_NEAR_S * SAMPLE_RATE, slack)))
    else:
        margin = int(rng.integers(0, slack + 1))
    start = slack - margin
    window[start: start + len(clip)] = clip
    return window, start + len(clip)


def augment_window(clip: np.ndarray, rng: np.random.Generator, sounds: list[np.ndarray],
                   near_end: float = 0.5, clean: bool = False, voice_change: bool = False) -> np.ndarray:
    """One augmented 1.5 s training window around a speech clip."""
    x = np.asarray(clip, np.float32)
    if voice_change and not clean and rng.random() < P_VOICE:  # no draw when off: the recipe's windows stay put
        x = change_voice(x, rng)
    if not clean and rng.random() < P_SPEED:
        x = speed(x, rng.uniform(*SPEED_RANGE))
        if len(x) > WINDOW_SAMPLES - 160 and len(clip) <= WINDOW_SAMPLES - 160:
            x = np.asarray(clip, np.float32)  # a slowed phrase no longer fits: keep the original
    if not clean and rng.random() < P_REVERB:
        x = reverb(x, rng)
    if not clean and rng.random() < P_BAND:
        x = band_limit(x, rng)
    window, _ = place(x, rng, near_end=near_end)
    peak = np.max(np.abs(window)) + 1e-9
    speech_rms = rms(x)
    gain = db_to_gain(rng.uniform(*PEAK_RANGE_DB)) / peak
    window *= gain
    if not clean and rng.random() < P_BACKGROUND:
        noise = background(len(window), rng, sounds)
        window = mix_at_snr(window, noise, rng.uniform(*SNR_RANGE_DB), speech_rms * gain)
    return normalise_peak(window)


def normalise_peak(window: np.ndarray, limit: float = 0.98) -> np.ndarray:
    """Scale down (never clip) a window whose peak exceeds `limit`."""
    peak = float(np.max(np.abs(window))) if len(window) else 0.0
    if peak > limit:
        window = window * (limit / peak)
    return window.astype(np.float32)


def noise_window(rng: np.random.Generator, sounds: list[np.ndarray]) -> np.ndarray:
    """A `_silence_` example: digital silence, faint or loud noise, or music/ambient sound."""
    n = WINDOW_SAMPLES
    kind = rng.random()
    if kind < 0.08:
        return np.zeros(n, np.float32)
    out = background(n, rng, sounds)
    if rng.random() < 0.2:
        out = band_limit(out, rng)
    level_db = rng.uniform(-75, -15) if kind < 0.5 else rng.uniform(-45, -8)
    out = out * db_to_gain(level_db)
    return normalise_peak(out)
