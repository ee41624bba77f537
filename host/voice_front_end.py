"""What a voice profile hears: one vector every 80 ms, made of two embeddings.

- speech_embedding (96 values, speech_embedding.py): learned from real speech of many
  speakers; it tells one voice's phrases apart.
- kws_embedding (160 values): the keyword model's pooled layer over the 1.5 s log-mel window
  that ends where the speech_embedding vector's window ends; learned on rooms, noise and near
  misses, it still hears a phrase said in a noisy room.

Each part has unit length and a weight, so the cosine of two vectors is
SPEECH_WEIGHT x the speech_embedding cosine + (1 - SPEECH_WEIGHT) x the kws_embedding one.
At 2% false accepts, templates on both heard 93.4% of unseen voices' takes and 81.8% of those
in a noisy room, against 87.9% and 67.0% on speech_embedding alone (docs/speech/experiments.md,
"What a profile matches on"). The verifier reads the speech_embedding part (`speech_part`).
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from .errors import ModelCorrupt
from .features import HOP, MEL_BINS, WINDOW as MEL_FRAME, frame_count, log_mel
from .speech_embedding import (EMBED_DIM, MIN_SAMPLES, STEP_SAMPLES, EmbeddingStream, ResizingInterpreter,
                               SpeechEmbedder)
from .speech_params import WINDOW_FRAMES, WINDOW_SAMPLES

SPEECH_WEIGHT = 0.7  # chosen on development voices the keyword model never trained on
KWS_DIM = 160
DIM = EMBED_DIM + KWS_DIM
# The kws window of vector k is the 1.5 s that ends with its speech_embedding window, at sample
# 1280 k + MIN_SAMPLES: it starts LEAD samples before the stream's start for the first vectors
# (silence there). Frames are taken every HOP from there, so vector k's window is frames
# [8 k, 8 k + 148) of the stream with LEAD samples of silence before it.
LEAD = WINDOW_SAMPLES - MIN_SAMPLES
FRAMES_PER_VECTOR = STEP_SAMPLES // HOP
assert STEP_SAMPLES % HOP == 0


class KeywordEmbedder:
    """The kws_embedding model: [windows, 148, 40] log-mel -> [windows, 160] (int8 inside)."""

    def __init__(self, model_path: Path, name: str = "kws_embedding", version: str = "1"):
        self.name, self.version = name, version
        try:
            self._clip, self._step = ResizingInterpreter(model_path), ResizingInterpreter(model_path)
            details, output = self._clip.input_details, self._clip.output_details
        except (RuntimeError, ValueError) as exc:
            raise ModelCorrupt(f"The keyword embedding {name} v{version} cannot be loaded ({exc}).") from exc
        shape = [int(d) for d in details["shape"]]
        if shape[1:3] != [WINDOW_FRAMES, MEL_BINS] or int(np.prod(output["shape"][1:])) != KWS_DIM:
            raise ModelCorrupt(f"The keyword embedding {name} v{version} maps {shape} to {list(output['shape'])}, "
                               f"not [n, {WINDOW_FRAMES}, {MEL_BINS}] to [n, {KWS_DIM}].")
        self._rank, self._dtype = len(shape), details["dtype"]
        self._in_quant = details.get("quantization") or (0.0, 0)
        self._in_range = np.iinfo(self._dtype) if np.issubdtype(self._dtype, np.integer) else None
        self._out_quant = output.get("quantization") or (0.0, 0)
        self._lock = threading.Lock()

    def embed_windows(self, windows: np.ndarray, stream: bool = False) -> np.ndarray:
        """[n, 148, 40] log-mel windows -> [n, 160] float32."""
        x = np.asarray(windows, np.float32).reshape((len(windows), WINDOW_FRAMES, MEL_BINS) + (1,) * (self._rank - 3))
        scale, zero = self._in_quant
        if scale and self._in_range is not None:
            x = np.clip(np.rint(x / scale + zero), self._in_range.min, self._in_range.max)
        x = np.ascontiguousarray(x, dtype=self._dtype)
        with self._lock:
            if stream:  # one window at a time: the stream's tensors keep one shape, never reallocated
                out = np.concatenate([self._step.run(x[i: i + 1]) for i in range(len(x))])
            else:
                out = self._clip.run(x)
        out = out.reshape(len(windows), KWS_DIM).astype(np.float32)
        scale, zero = self._out_quant
        return (out - zero) * scale if scale else out


def fuse(speech: np.ndarray, keyword: np.ndarray) -> np.ndarray:
    """[..., 96] and [..., 160] -> [..., 256]: each part unit length, weighted (see the module doc)."""
    speech, keyword = np.asarray(speech, np.float32), np.asarray(keyword, np.float32)
    out = np.empty((*speech.shape[:-1], DIM), np.float32)
    for part, values, weight in ((out[..., :EMBED_DIM], speech, SPEECH_WEIGHT),
                                 (out[..., EMBED_DIM:], keyword, 1.0 - SPEECH_WEIGHT)):
        norms = np.sqrt(np.einsum("...i,...i->...", values, values))[..., None]
        np.multiply(values, np.float32(np.sqrt(weight)) / np.maximum(norms, 1e-6), out=part)
    return out


def speech_part(vectors: np.ndarray) -> np.ndarray:
    return np.asarray(vectors, np.float32)[..., :EMBED_DIM]


def keyword_part(vectors: np.ndarray) -> np.ndarray:
    return np.asarray(vectors, np.float32)[..., EMBED_DIM:]


class VoiceFrontEnd:
    """Both models: `embed` does a whole clip, `stream()` a live stream (the same vectors)."""

    def __init__(self, speech: SpeechEmbedder, keyword: KeywordEmbedder):
        self.speech, self.keyword = speech, keyword
        # Names the vectors: profile features made by another pair are rebuilt from the takes.
        self.name = f"{speech.name}+{keyword.name}"
        self.version = f"{speech.version}+{keyword.version}"

    def embed(self, audio16k: np.ndarray) -> np.ndarray:
        """A whole clip -> [vectors, 256]; vector k covers samples [1280 k, 1280 k + MIN_SAMPLES)
        (its kws part the 1.5 s before 1280 k + MIN_SAMPLES)."""
        audio = np.asarray(audio16k, np.float32)
        speech = self.speech.embed(audio)
        if not len(speech):
            return np.zeros((0, DIM), np.float32)
        mel = log_mel(np.concatenate([np.zeros(LEAD, np.float32), audio]))
        windows = np.lib.stride_tricks.sliding_window_view(mel, (WINDOW_FRAMES, MEL_BINS))[::FRAMES_PER_VECTOR, 0]
        return fuse(speech, self.keyword.embed_windows(windows[: len(speech)]))

    def stream(self) -> "FrontEndStream":
        return FrontEndStream(self)


class FrontEndStream:
    """Chunks of 16 kHz audio in, new vectors out (the same as `embed` of the whole). The
    log-mel frames are made once each, as their audio arrives."""

    def __init__(self, front_end: VoiceFrontEnd):
        self.front_end = front_end
        self._speech = EmbeddingStream(front_end.speech)
        self._audio = np.zeros(LEAD, np.float32)  # from the next frame's start on (silence before the stream)
        self._mel = np.zeros((0, MEL_BINS), np.float32)  # from the next vector's first frame on

    @property
    def vectors(self) -> int:
        return self._speech.vectors

    def feed(self, audio16k: np.ndarray) -> np.ndarray:
        audio = np.asarray(audio16k, np.float32)
        speech = self._speech.feed(audio)
        self._audio = np.concatenate([self._audio, audio])
        count = frame_count(len(self._audio))
        if count:
            self._mel = np.concatenate([self._mel, log_mel(self._audio[: (count - 1) * HOP + MEL_FRAME])])
            self._audio = self._audio[count * HOP:]
        if not len(speech):
            return np.zeros((0, DIM), np.float32)
        # Every speech vector's kws window is complete: it ends before the speech window does.
        windows = [self._mel[i * FRAMES_PER_VECTOR: i * FRAMES_PER_VECTOR + WINDOW_FRAMES] for i in range(len(speech))]
        self._mel = self._mel[len(speech) * FRAMES_PER_VECTOR:]
        return fuse(speech, self.front_end.keyword.embed_windows(np.stack(windows), stream=True))
