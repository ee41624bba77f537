"""Experiment (not part of the pipeline): a frozen pretrained speech embedding instead of log-mel.

Question: does Google's `speech_embedding` (trained on a large amount of real speech; the
front end of openWakeWord, which trains keyword heads on synthetic speech only) generalise
to unseen natural voices better than our DS-CNN on log-mel, with the same synthetic data?

Method: the front end is the two TFLite files that the PyPI wheel openwakeword==0.5.1 ships
(melspectrogram.tflite: 32 mel bins every 10 ms; embedding_model.tflite: one 96-d vector per
76 mel frames, every 8 frames), run with ai_edge_litert. The pipeline's own windows (same
clips, same augmentation, same seed; the features swapped) become 9 x 96 embeddings;
a small head (dense, as openWakeWord uses) is trained on them. Each held-out command or
near-miss clip is framed with 0.5-1.0 s before and 1.2 s after, every 80 ms window is scored,
3 posteriors are averaged and the maximum per command is kept; recall and near-miss false
accepts are then read at fixed thresholds. This is a proxy, not the host detector.

    .venv/bin/python -m models.speech.experiment_embedding      # ~15 min; needs PyPI and the TTS cache

Result on 2026-11-26 (docs/speech/experiments.md): not adopted.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from . import generate
from .common import CACHE_DIR, CLASSES, COMMANDS, ClipBank, log, setup_logging

# ----------------------------------------------------------------------------- constants
SEED = 1
WHEEL = "openwakeword==0.5.1"
FRONT_END_SHA256 = {  # the two front-end files inside the wheel
    "melspectrogram.tflite": "96fa0adccb6e8cf95cb14465409a1a2898ee4a96a85bb9ed3c7eb0e68bf163e8",
    "embedding_model.tflite": "c0aea21eb84a4ce90a08c870da41b7a7173b45269e6a3207c71d67c40f3a59d8",
}
OUT = CACHE_DIR / "experiment-embedding"
MEL_WINDOW, MEL_STEP, EMBED_DIM = 76, 8, 96
WINDOW_EMBEDDINGS = 9  # what a 1.5 s window gives
THRESHOLDS = (0.5, 0.7, 0.8, 0.9, 0.95)
EPOCHS = 60


def front_end_files() -> dict[str, Path]:
    """The two TFLite files, extracted once from the wheel pip downloads from PyPI."""
    folder = OUT / "front-end"
    files = {name: folder / name for name in FRONT_END_SHA256}
    if all(p.exists() for p in files.values()):
        return files
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", tmp, WHEEL], check=True)
        wheel = next(Path(tmp).glob("*.whl"))
        with zipfile.ZipFile(wheel) as z:
            for name, path in files.items():
                data = z.read(f"openwakeword/resources/models/{name}")
                if hashlib.sha256(data).hexdigest() != FRONT_END_SHA256[name]:
                    raise SystemExit(f"{name} from {wheel.name} does not have the expected sha256")
                path.write_bytes(data)
    return files


class Embedder:
    """audio 16 kHz float -> [n, 96] embeddings, one per 80 ms."""

    def __init__(self, files: dict[str, Path]):
        from ai_edge_litert.interpreter import Interpreter

        self.mel = Interpreter(str(files["melspectrogram.tflite"]), num_threads=1)
        self.emb = Interpreter(str(files["embedding_model.tflite"]), num_threads=1)
        self._samples = self._batch = None

    def __call__(self, audio: np.ndarray) -> np.ndarray:
        x = (np.asarray(audio, np.float32) * 32767.0)[None]
        if self._samples != x.shape[1]:
            self.mel.resize_tensor_input(0, list(x.shape), strict=True)
            self.mel.allocate_tensors()
            self._samples = x.shape[1]
        self.mel.set_tensor(self.mel.get_input_details()[0]["index"], x)
        self.mel.invoke()
        spec = np.squeeze(self.mel.get_tensor(self.mel.get_output_details()[0]["index"])) / 10 + 2  # openWakeWord's scaling
        windows = np.stack([spec[i: i + MEL_WINDOW] for i in range(0, len(spec) - MEL_WINDOW + 1, MEL_STEP)])
        if self._batch != len(windows):
            self.emb.resize_tensor_input(0, [len(windows), MEL_WINDOW, 32, 1], strict=True)
            self.emb.allocate_tensors()
            self._batch = len(windows)
        self.emb.set_tensor(self.emb.get_input_details()[0]["index"], windows[..., None].astype(np.float32))
        self.emb.invoke()
        return self.emb.get_tensor(self.emb.get_output_details()[0]["index"]).reshape(len(windows), EMBED_DIM)


_EMBEDDER: list = []


def embed(window: np.ndarray) -> np.ndarray:
    if not _EMBEDDER:  # one per (forked) worker
        _EMBEDDER.append(Embedder(front_end_files()))
    return _EMBEDDER[0](window)


def build_data() -> None:
    if (OUT / "train.npz").exists():
        return
    front_end_files()
    OUT.mkdir(parents=True, exist_ok=True)
    generate.generate("full", SEED, features=embed, feature_shape=(WINDOW_EMBEDDINGS, EMBED_DIM), out_dir=OUT)


def train_head():
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    import tensorflow as tf
    import tf_keras as keras

    tf.random.set_seed(SEED)
    np.random.seed(SEED)
    data = {s: np.load(OUT / f"{s}.npz") for s in ("train", "val")}
    X, y = data["train"]["X"].astype(np.float32), data["train"]["y"].astype(np.int64)
    Xv, yv = data["val"]["X"].astype(np.float32), data["val"]["y"].astype(np.int64)
    flat = X.reshape(-1, EMBED_DIM)
    L = keras.layers
    inputs = keras.Input((WINDOW_EMBEDDINGS, EMBED_DIM))
    x = L.Normalization(axis=-1, mean=flat.mean(0), variance=flat.var(0))(inputs)
    x = L.Flatten()(x)
    x = L.Dropout(0.4)(x)
    x = L.Dense(256, activation="relu")(x)
    x = L.Dropout(0.4)(x)
    x = L.Dense(128, activation="relu")(x)
    model = keras.Model(inputs, L.Dense(len(CLASSES), activation="softmax")(x))
    counts = np.bincount(y, minlength=len(CLASSES))
    weights = np.sqrt(len(y) / (len(CLASSES) * counts))
    weights /= (weights * counts).sum() / len(y)
    model.compile(keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(X, y, validation_data=(Xv, yv), epochs=EPOCHS, batch_size=128, verbose=2,
              class_weight=dict(enumerate(weights)),
              callbacks=[keras.callbacks.EarlyStopping(patience=8, restore_best_weights=True)])
    return model


def clip_scores(model, clip: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Max over time of the 3-window mean posteriors, the clip framed by silence and a faint floor."""
    lead = np.zeros(int(rng.uniform(0.5, 1.0) * 16000), np.float32)
    audio = np.concatenate([lead, clip, np.zeros(int(1.2 * 16000), np.float32)])
    audio += rng.standard_normal(len(audio)).astype(np.float32) * 10 ** (-55 / 20)
    e = embed(audio)
    p = model.predict(np.stack([e[i - WINDOW_EMBEDDINGS: i] for i in range(WINDOW_EMBEDDINGS, len(e) + 1)]), verbose=0)
    return np.stack([p[max(0, i - 2): i + 1].mean(0) for i in range(len(p))]).max(0)


def main() -> None:
    setup_logging()
    build_data()
    model = train_head()
    for split in ("val", "test"):
        rng = np.random.default_rng(SEED + 1)
        rows = [(m["kind"], m["label"], m["speaker"], clip_scores(model, a, rng))
                for a, m in ClipBank.load(OUT / f"eval-{split}.npz").items() if m["kind"] in ("command", "near_miss")]
        near = np.array([r[3] for r in rows if r[0] == "near_miss"])
        cols = [CLASSES.index(c) for c in COMMANDS]
        for command in COMMANDS:
            ci = CLASSES.index(command)
            pos = [r for r in rows if r[1] == command]
            for th in THRESHOLDS:
                natural = [r[3][ci] >= th for r in pos if r[2].startswith("natural")]
                print(f"{split} {command:13s} threshold {th}: recall {np.mean([r[3][ci] >= th for r in pos]):.3f} "
                      f"(natural voice {np.mean(natural) if natural else float('nan'):.3f}), "
                      f"near-miss false accepts {np.mean(near[:, ci] >= th):.3f}")
        any_fa = [float((near[:, cols] >= th).any(1).mean()) for th in THRESHOLDS]
        print(f"{split}: near misses firing any command at {THRESHOLDS}: {np.round(any_fa, 3).tolist()}")
    log.info("done")


if __name__ == "__main__":
    main()
