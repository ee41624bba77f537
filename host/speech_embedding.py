"""Google's speech_embedding front end: 16 kHz audio -> one 96-d vector every 80 ms.

Two LiteRT models (the bundled `speech_embedding` entry): a log-mel layer (32 bins every
10 ms; frame f covers samples [160 f, 160 f + 512)) and the embedding network (76 mel frames,
0.76 s, per vector; vectors every 8 frames). `embed()` does a whole clip at once;
`EmbeddingStream` does the same chunk by chunk for a live stream and gives exactly the same
vectors (each mel call sees 480 samples of left context, so frames line up with the batch).

The network's windows overlap by 68 of their 76 frames. `StepNetwork` (the bundled
`speech_embedding_stream`, derived from the network by models/speech/speech_embedding_stream.py)
computes only the rows each 80 ms adds and gives the same vectors for a quarter of the CPU;
without it, every window is computed whole.
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


class ResizingInterpreter:
    """One LiteRT interpreter whose input takes the shape of what it is given. Resizing
    reallocates its tensors, so each use keeps its own: a stream's always has the same shape."""

    def __init__(self, path: Path):
        from ai_edge_litert.interpreter import Interpreter

        with native_stderr_to_log():
            self._interpreter = Interpreter(model_path=str(path), num_threads=1)
        # Tensor indices stay the same when the input is resized: looked up once, not per 80 ms step.
        self.input_details = self._interpreter.get_input_details()[0]
        self.output_details = self._interpreter.get_output_details()[0]
        self._input, self._output = self.input_details["index"], self.output_details["index"]
        self._shape: tuple | None = None

    def run(self, x: np.ndarray) -> np.ndarray:
        if x.shape != self._shape:
            self._interpreter.resize_tensor_input(0, list(x.shape), strict=True)
            with native_stderr_to_log():
                self._interpreter.allocate_tensors()
            self._shape = x.shape
        self._interpreter.set_tensor(self._input, x)
        self._interpreter.invoke()
        return self._interpreter.get_tensor(self._output)


class StepNetwork:
    """The embedding network one 80 ms step at a time: 12 mel frames (8 new) and the states the
    step before left in; a vector and the next states out. From the first frame of a clip or
    stream, with zero states, step j gives vector j - `warmup` (the first steps fill the states)."""

    def __init__(self, path: Path, name: str = "speech_embedding_stream", version: str = "1"):
        from ai_edge_litert.interpreter import Interpreter

        self.name, self.version = name, version
        try:
            with native_stderr_to_log():
                self._interpreter = Interpreter(model_path=str(path), num_threads=1)
                self._interpreter.allocate_tensors()
            frames, *states = self._interpreter.get_input_details()
            outputs = {d["name"]: d for d in self._interpreter.get_output_details()}
        except (RuntimeError, ValueError) as exc:
            raise ModelCorrupt(f"The speech embedding steps {name} v{version} cannot be loaded ({exc}).") from exc
        self.input_frames = int(frames["shape"][1])
        self.warmup, extra = divmod(MEL_WINDOW - self.input_frames, MEL_STEP)
        next_states = [outputs.get(f"next_{d['name']}") for d in states]
        if (frames["name"] != "frames" or [int(d) for d in frames["shape"]] != [1, self.input_frames, 32, 1] or extra
                or "embedding" not in outputs or int(np.prod(outputs["embedding"]["shape"])) != EMBED_DIM
                or any(n is None or list(n["shape"]) != list(d["shape"]) for n, d in zip(next_states, states))):
            raise ModelCorrupt(f"The speech embedding steps {name} v{version} do not have the inputs and outputs of "
                               "models/speech/speech_embedding_stream.py.")
        self._frames, self._embedding = frames["index"], outputs["embedding"]["index"]
        self._states = [(d["index"], n["index"], tuple(d["shape"])) for d, n in zip(states, next_states)]
        self._lock = threading.Lock()

    def start(self) -> list[np.ndarray]:
        return [np.zeros(shape, np.float32) for _, _, shape in self._states]

    def step(self, frames: np.ndarray, states: list[np.ndarray]) -> tuple[np.ndarray, list[np.ndarray]]:
        """[input_frames, 32] mel frames and the states -> a [96] vector and the next states."""
        with self._lock:
            self._interpreter.set_tensor(self._frames, np.ascontiguousarray(frames, np.float32)[None, :, :, None])
            for (state, _, _), value in zip(self._states, states):
                self._interpreter.set_tensor(state, value)
            self._interpreter.invoke()
            return (self._interpreter.get_tensor(self._embedding).reshape(EMBED_DIM),
                    [self._interpreter.get_tensor(next_state) for _, next_state, _ in self._states])

    def embed_mel(self, mel: np.ndarray) -> np.ndarray:
        """[frames, 32] from a clip's start -> [vectors, 96], as the whole-window network gives."""
        vectors = Stepper(self).feed(mel)
        return np.stack(vectors) if vectors else np.zeros((0, EMBED_DIM), np.float32)


class Stepper:
    """One clip's or stream's way through a `StepNetwork`: mel frames in, in any number, and the
    vectors they complete out (none for the warm-up steps)."""

    def __init__(self, network: StepNetwork):
        self.network = network
        self._states = network.start()
        self._mel = np.zeros((0, 32), np.float32)  # frames from the next step's first frame on
        self._steps = 0

    def feed(self, mel: np.ndarray) -> list[np.ndarray]:
        self._mel = np.concatenate([self._mel, np.asarray(mel, np.float32)])
        vectors, size = [], self.network.input_frames
        while len(self._mel) >= size:
            vector, self._states = self.network.step(self._mel[:size], self._states)
            self._mel = self._mel[MEL_STEP:]
            self._steps += 1
            if self._steps > self.network.warmup:
                vectors.append(vector)
        return vectors


class SpeechEmbedder:
    """The two models, twice: for whole clips (any length) and for live streams (one 80 ms step
    at a time, so their tensors are never reallocated). One thread each: the stream runs beside
    the keyword model. With `steps`, the network runs step by step for both (the same vectors).

    Not thread-safe by itself: calls are serialised by a lock, since one loaded model is
    shared by every stream and enrollment request of the host.
    """

    def __init__(self, model_path: Path, mel_path: Path, name: str = "speech_embedding", version: str = "1",
                 steps: StepNetwork | None = None):
        self.name, self.version, self.steps = name, version, steps
        try:
            self._clip = (ResizingInterpreter(mel_path), ResizingInterpreter(model_path))
            self._step = (ResizingInterpreter(mel_path), ResizingInterpreter(model_path))
        except (RuntimeError, ValueError) as exc:
            raise ModelCorrupt(f"The speech front end {name} v{version} cannot be loaded ({exc}).") from exc
        self._lock = threading.Lock()

    def mel(self, audio16k: np.ndarray, stream: bool = False) -> np.ndarray:
        """[samples] float in [-1, 1] -> [frames, 32] (empty when shorter than one FFT)."""
        x = np.asarray(audio16k, np.float32)
        if len(x) < MEL_FFT:
            return np.zeros((0, 32), np.float32)
        with self._lock:
            out = (self._step if stream else self._clip)[0].run((x * 32767.0)[None])
        return (out.reshape(-1, 32) / 10.0 + 2.0).astype(np.float32)  # the scaling the network was trained with

    def embed_mel(self, mel: np.ndarray, stream: bool = False) -> np.ndarray:
        """[frames, 32] -> [vectors, 96], one per MEL_STEP frames with a full window."""
        count = 0 if len(mel) < MEL_WINDOW else 1 + (len(mel) - MEL_WINDOW) // MEL_STEP
        if count == 0:
            return np.zeros((0, EMBED_DIM), np.float32)
        windows = np.lib.stride_tricks.sliding_window_view(mel, (MEL_WINDOW, 32))[::MEL_STEP, 0][:count]
        with self._lock:
            out = (self._step if stream else self._clip)[1].run(np.ascontiguousarray(windows[..., None], dtype=np.float32))
        return out.reshape(count, EMBED_DIM).astype(np.float32)

    def embed(self, audio16k: np.ndarray) -> np.ndarray:
        """A whole clip -> [vectors, 96]; vector k covers samples [1280 k, 1280 k + MIN_SAMPLES)."""
        mel = self.mel(audio16k)
        return self.steps.embed_mel(mel) if self.steps is not None else self.embed_mel(mel)


class EmbeddingStream:
    """Chunks of 16 kHz audio in, new embedding vectors out (the same as `embed` of the whole)."""

    def __init__(self, embedder: SpeechEmbedder):
        self.embedder = embedder
        self._audio = np.zeros(0, np.float32)  # samples from the next mel chunk's start on
        self._mel = np.zeros((0, 32), np.float32)  # frames from the next vector's first frame on
        self.vectors = 0  # vectors given so far
        self._stepper = Stepper(embedder.steps) if embedder.steps is not None else None

    def feed(self, audio16k: np.ndarray) -> np.ndarray:
        self._audio = np.concatenate([self._audio, np.asarray(audio16k, np.float32)])
        vectors = []
        # One 80 ms step at a time: the same shapes every call (one mel call per step, one vector).
        while len(self._audio) >= STEP_SAMPLES + CONTEXT_SAMPLES:
            frames = self.embedder.mel(self._audio[: STEP_SAMPLES + CONTEXT_SAMPLES], stream=True)[:MEL_STEP]
            self._audio = self._audio[STEP_SAMPLES:]
            if self._stepper is not None:
                vectors += self._stepper.feed(frames)
            else:  # every window whole
                self._mel = np.concatenate([self._mel, frames])
                if len(self._mel) >= MEL_WINDOW:
                    vectors.append(self.embedder.embed_mel(self._mel[:MEL_WINDOW], stream=True)[0])
                    self._mel = self._mel[MEL_STEP:]
        self.vectors += len(vectors)
        return np.stack(vectors) if vectors else np.zeros((0, EMBED_DIM), np.float32)

