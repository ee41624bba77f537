"""Audio decoding, resampling and log-mel features: the host's speech front end."""

from __future__ import annotations

import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from host.audio import AudioTooLong, BadAudio, Resampler, UnsupportedAudio, decode_audio, resample
from host.features import FFT_SIZE, HOP, LOG_FLOOR, MEL_BINS, SAMPLE_RATE, WINDOW, frame_count, log_mel, mel_filterbank
from support import wav_bytes


def tone(freq: float, rate: int, seconds: float = 1.0, amplitude: float = 0.5) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def float_wav(samples: np.ndarray, rate: int) -> bytes:
    data = samples.astype("<f4").tobytes()
    fmt = struct.pack("<HHIIHH", 3, 1, rate, rate * 4, 4, 32)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(data)) + data
    return b"RIFF" + struct.pack("<I", len(body)) + body


@pytest.mark.parametrize("width", [1, 2, 3, 4])
def test_pcm_wav_of_every_width(width):
    signal = tone(440, 8000, 0.25)
    audio, rate = decode_audio(wav_bytes(signal, 8000, width))
    assert rate == 8000 and audio.dtype == np.float32
    assert np.abs(audio - signal).max() < (0.02 if width == 1 else 1e-3)


def test_stereo_is_mixed_to_mono_and_float_wav_is_read():
    left = tone(440, 16000, 0.1)
    stereo = np.stack([left, left], axis=1).reshape(-1)
    audio, _ = decode_audio(wav_bytes(stereo, 16000, 2, channels=2))
    assert len(audio) == len(left) and np.abs(audio - left).max() < 1e-3
    audio, rate = decode_audio(float_wav(left, 22050))
    assert rate == 22050 and np.allclose(audio, left)


def test_raw_pcm_needs_and_checks_its_rate():
    pcm = (tone(440, 48000, 0.1) * 32767).astype("<i2").tobytes()
    audio, rate = decode_audio(pcm, 48000)
    assert rate == 48000 and len(audio) == 4800
    with pytest.raises(UnsupportedAudio, match="sample_rate"):
        decode_audio(pcm)
    for bad in (0, 7999, 500000, True, "48000", 44100.0):
        with pytest.raises(UnsupportedAudio):
            decode_audio(pcm, bad)


@pytest.mark.parametrize(
    "data, rate, error",
    [
        (b"", 16000, BadAudio),
        (b"\x01\x02\x03", 16000, BadAudio),
        (b"RIFF\x10\x00\x00\x00WAVEjunk", None, BadAudio),
        (float_wav(np.array([0.1, np.nan], np.float32), 16000), None, BadAudio),
        (b"\x00\x00" * (16000 * 61), 16000, AudioTooLong),
    ],
    ids=["empty", "odd-bytes", "wav-without-chunks", "nan", "too-long"],
)
def test_bad_audio(data, rate, error):
    with pytest.raises(error):
        decode_audio(data, rate)


def test_unsupported_wav_encoding():
    data = bytearray(wav_bytes(tone(440, 8000, 0.1), 8000))
    data[20:22] = struct.pack("<H", 6)  # A-law
    with pytest.raises(UnsupportedAudio, match="PCM"):
        decode_audio(bytes(data))


@pytest.mark.parametrize("rate", [8000, 22050, 44100, 48000, 96000])
def test_resampling_keeps_the_tone_and_the_length(rate):
    out = resample(tone(1000, rate, 1.0), rate)
    assert len(out) == SAMPLE_RATE
    t = np.arange(len(out)) / SAMPLE_RATE
    middle = slice(2000, -2000)
    assert np.abs(out[middle] - 0.5 * np.sin(2 * np.pi * 1000 * t[middle])).max() < 0.005


@pytest.mark.parametrize("rate", [22050, 44100, 48000])
def test_resampling_removes_content_above_8khz_instead_of_aliasing(rate):
    out = resample(tone(10_000, rate, 1.0), rate)
    assert np.sqrt(np.mean(out[2000:-2000] ** 2)) < 0.5 / np.sqrt(2) / 100  # > 40 dB down


@settings(max_examples=30, deadline=None)
@given(st.sampled_from([8000, 44100, 48000]), st.lists(st.integers(1, 5000), min_size=1, max_size=12))
def test_streaming_resampler_equals_one_shot(rate, chunk_sizes):
    signal = np.random.default_rng(len(chunk_sizes)).normal(0, 0.1, sum(chunk_sizes)).astype(np.float32)
    stream = Resampler(rate)
    pieces, start = [], 0
    for size in chunk_sizes:
        pieces.append(stream.process(signal[start : start + size]))
        start += size
    pieces.append(stream.flush())
    assert np.allclose(np.concatenate(pieces), resample(signal, rate), atol=1e-5)


def test_log_mel_shape_silence_and_tone_placement():
    assert log_mel(np.zeros(WINDOW - 1)).shape == (0, MEL_BINS)
    silence = log_mel(np.zeros(SAMPLE_RATE, np.float32))
    assert silence.shape == (frame_count(SAMPLE_RATE), MEL_BINS) == (98, 40)
    assert np.allclose(silence, np.log(LOG_FLOOR))
    low, high = log_mel(tone(300, SAMPLE_RATE)), log_mel(tone(3000, SAMPLE_RATE))
    assert low.mean(axis=0).argmax() < high.mean(axis=0).argmax()
    peak_bin = mel_filterbank()[int(3000 / (SAMPLE_RATE / FFT_SIZE))].argmax()
    assert abs(int(high.mean(axis=0).argmax()) - int(peak_bin)) <= 1


def test_log_mel_is_frame_local_so_streaming_matches_batch():
    audio = np.random.default_rng(3).normal(0, 0.1, SAMPLE_RATE).astype(np.float32)
    whole = log_mel(audio)
    split = 37 * HOP
    parts = np.concatenate([log_mel(audio[: split + WINDOW - HOP]), log_mel(audio[split:])])
    assert np.allclose(whole, parts)


def test_louder_audio_shifts_log_mel_by_a_constant():
    audio = np.random.default_rng(4).normal(0, 0.05, SAMPLE_RATE).astype(np.float32)
    difference = log_mel(audio * 2) - log_mel(audio)
    assert np.allclose(difference, np.log(4), atol=1e-3)


def test_odd_rates_are_refused_with_the_rates_to_use_and_standard_ones_build_small_tables():
    from host.audio import MAX_PHASES, STANDARD_RATES, Resampler, check_rate

    for odd in (44101, 47999, 191999):
        with pytest.raises(UnsupportedAudio, match="44,100"):
            check_rate(odd)
    for rate in STANDARD_RATES:
        assert check_rate(rate) == rate
        table = Resampler(rate).table
        assert table.shape[0] <= MAX_PHASES and table.nbytes < 2_000_000


def test_detector_history_is_bounded_whatever_the_entry_says():
    from host.speech import MAX_SMOOTHING, DetectorSettings

    assert DetectorSettings.from_params({"smoothing": 0}).smoothing == 1
    assert DetectorSettings.from_params({"smoothing": -5}).smoothing == 1
    assert DetectorSettings.from_params({"smoothing": 10**9}).smoothing == MAX_SMOOTHING
