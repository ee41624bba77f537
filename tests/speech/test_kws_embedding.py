"""The bundled keyword embedding: derived from the committed keyword model, reproducibly, and
equal to that model's pooled layer on real speech."""

from __future__ import annotations

import json
import subprocess
import tempfile
import warnings
from pathlib import Path

import numpy as np

from host.features import log_mel
from host.speech_params import WINDOW_SAMPLES
from host.voice_front_end import KWS_DIM, KeywordEmbedder
from models.speech import kws_embedding
from support import derive_again

BUNDLE = kws_embedding.BUNDLED / kws_embedding.NAME / kws_embedding.VERSION
ENTRY = json.loads((BUNDLE / "entry.json").read_text())
SOURCE = json.loads((kws_embedding.SOURCE / "entry.json").read_text())


def spoken(text: str) -> np.ndarray:
    with tempfile.TemporaryDirectory() as folder:
        raw, out = Path(folder) / "raw.wav", Path(folder) / "out.wav"
        subprocess.run(["espeak-ng", "-v", "en-gb-scotland+m5", "-w", str(raw), text], check=True)
        subprocess.run(["sox", "-R", str(raw), "-r", "16000", "-c", "1", "-b", "16", str(out)], check=True)
        import wave

        with wave.open(str(out)) as wav:
            return np.frombuffer(wav.readframes(wav.getnframes()), "<i2").astype(np.float32) / 32768.0


def test_deriving_again_gives_the_bundled_file_and_entry(tmp_path):
    assert derive_again("models.speech.kws_embedding", tmp_path, BUNDLE) == ENTRY
    assert ENTRY["output"]["dim"] == KWS_DIM


def test_its_output_is_the_keyword_models_pooled_layer_on_real_speech():
    from ai_edge_litert.interpreter import Interpreter

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # preserving every tensor is for debugging, as here
        source = Interpreter(str(kws_embedding.SOURCE / SOURCE["files"]["model"]["path"]),
                             experimental_preserve_all_tensors=True)
    source.allocate_tensors()
    pooled = next(d for d in source.get_tensor_details() if d["name"] == kws_embedding.POOLED_TENSOR)
    scale, zero = pooled["quantization"]
    embedder = KeywordEmbedder(BUNDLE / ENTRY["files"]["model"]["path"])
    audio = np.concatenate([spoken("next tab"), spoken("the weather is nice today"), spoken("reload")])
    windows = np.stack([log_mel(audio[end - WINDOW_SAMPLES: end]) for end in range(WINDOW_SAMPLES, len(audio), 4000)])
    derived = embedder.embed_windows(windows)
    assert derived.shape == (len(windows), KWS_DIM) and len(windows) >= 5
    quant = source.get_input_details()[0]["quantization"]
    for window, vector in zip(windows, derived):
        x = np.clip(np.rint(window / quant[0] + quant[1]), -128, 127).astype(np.int8)
        source.set_tensor(source.get_input_details()[0]["index"], x.reshape(source.get_input_details()[0]["shape"]))
        source.invoke()
        expected = (source.get_tensor(pooled["index"]).reshape(-1).astype(np.float32) - zero) * scale
        np.testing.assert_array_equal(vector, expected)
    assert np.ptp(derived, axis=0).max() > 0.5  # different speech, different vectors
