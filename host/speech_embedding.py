"""Google's speech_embedding front end: 16 kHz audio -> one 96-d vector every 80 ms.

Two LiteRT models (the bundled `speech_embedding` entry): a log-mel layer (32 bins every
10 ms; frame f covers samples [160 f, 160 f + 512)) and the embedding network (76 mel frames,
0.76 s, per vector; vectors every 8 frames). `embed()` does a whole clip at once;
`EmbeddingStream` does the same chunk by chunk for a live stream and gives exactly the same
vectors (each mel call sees 480 samples of left context, so frames line up with the batch).
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from .errors import ModelCorrupt
from .runtime import native_stderr_to_log

SAMPLE_RATE = 16_000
MEL_HOP = 160
MEL_FFT = 512
MEL_WINDOW = 76  # mel frames per embedding
MEL_STEP = 8  # mel frames between embeddings: 80 ms
EMBED_DIM = 96
STEP_SAMPLES = MEL_STEP * MEL_HOP  # 1280
CONTEXT_SAMPLES = 480  # n steps of 1280 samples plus this give exactly 8 n mel frames, aligned with the whole clip's
MIN_SAMPLES = (MEL_WINDOW - 1) * MEL_HOP + MEL_FFT  # the shortest audio that gives one vector (0.78 s)


class SpeechEmbedder:
    """The two interpreters (one thread each: the stream runs beside the keyword model).

    Not thread-safe by itself: calls are serialised by a lock, since one loaded model is
    shared by every stream and enrollment request of the host.
    """

    def __init__(self, model_path: Path, mel_path: Path, name: str = "speech_embedding", version: str = "1"):
        from ai_edge_litert.interpreter import Interpreter

        self.name, self.version = name, version
        # Tensors are allocated per input length below (the mel layer cannot at its default [1, 1]).
        try:
            with native_stderr_to_log():
                self._mel = Interpreter(model_path=str(mel_path), num_threads=1)
                self._embed = Interpreter(model_path=str(model_path), num_threads=1)
        except (RuntimeError, ValueError) as exc:
            raise ModelCorrupt(f"The speech front end {name} v{version} cannot be loaded ({exc}).") from exc
        self._mel_samples = self._embed_batch = None
        self._lock = threading.Lock()

    def mel(self, audio16k: np.ndarray) -> np.ndarray:
        """[samples] float in [-1, 1] -> [frames, 32] (empty when shorter than one FFT)."""
        x = np.asarray(audio16k, np.float32)
        if len(x) < MEL_FFT:
            return np.zeros((0, 32), np.float32)
        with self._lock:
            if self._mel_samples != len(x):
                self._mel.resize_tensor_input(0, [1, len(x)], strict=True)
                with native_stderr_to_log():
                    self._mel.allocate_tensors()
                self._mel_samples = len(x)
            self._mel.set_tensor(self._mel.get_input_details()[0]["index"], (x * 32767.0)[None])
            self._mel.invoke()
            out = self._mel.get_tensor(self._mel.get_output_details()[0]["index"])
        return (out.reshape(-1, 32) / 10.0 + 2.0).astype(np.float32)  # the scaling the network was trained with

    def embed_mel(self, mel: np.ndarray) -> np.ndarray:
        """[frames, 32] -> [vectors, 96], one per MEL_STEP frames with a full window."""
        count = 0 if len(mel) < MEL_WINDOW else 1 + (len(mel) - MEL_WINDOW) // MEL_STEP
        if count == 0:
            return np.zeros((0, EMBED_DIM), np.float32)
        windows = np.lib.stride_tricks.sliding_window_view(mel, (MEL_WINDOW, 32))[::MEL_STEP, 0][:count]
        with self._lock:
            if self._embed_batch != count:
                self._embed.resize_tensor_input(0, [count, MEL_WINDOW, 32, 1], strict=True)
                with native_stderr_to_log():
                    self._embed.allocate_tensors()
                self._embed_batch = count
            self._embed.set_tensor(self._embed.get_input_details()[0]["index"],
                                   np.ascontiguousarray(windows[..., None], dtype=np.float32))
            self._embed.invoke()
            out = self._embed.get_tensor(self._embed.get_output_details()[0]["index"])
        return out.reshape(count, EMBED_DIM).astype(np.float32)

    def embed(self, audio16k: np.ndarray) -> np.ndarray:
        """A whole clip -> [vectors, 96]; vector k covers samples [1280 k, 1280 k + MIN_SAMPLES)."""
        return self.embed_mel(self.mel(audio16k))


class EmbeddingStream:
    """Chunks of 16 kHz audio in, new embedding vectors out (the same as `embed` of the whole)."""

    def __init__(self, embedder: SpeechEmbedder):
        self.embedder = embedder
        self._audio = np.zeros(0, np.float32)  # samples from the next mel chunk's start on
        self._mel = np.zeros((0, 32), np.float32)  # frames from the next vector's first frame on
        self.vectors = 0  # vectors given so far

    def feed(self, audio16k: np.ndarray) -> np.ndarray:
        self._audio = np.concatenate([self._audio, np.asarray(audio16k, np.float32)])
        usable = (len(self._audio) - CONTEXT_SAMPLES) // STEP_SAMPLES  # whole 80 ms steps available
        if usable <= 0:
            return np.zeros((0, EMBED_DIM), np.float32)
        span = usable * STEP_SAMPLES + CONTEXT_SAMPLES
        frames = self.embedder.mel(self._audio[:span])[: usable * MEL_STEP]
        self._audio = self._audio[usable * STEP_SAMPLES:]
        self._mel = np.concatenate([self._mel, frames])
        vectors = self.embedder.embed_mel(self._mel)
        if len(vectors):
            self._mel = self._mel[len(vectors) * MEL_STEP:]
            self.vectors += len(vectors)
        return vectors
