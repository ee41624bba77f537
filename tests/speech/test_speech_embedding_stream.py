"""The bundled step-by-step speech_embedding: derived from the committed network, reproducibly,
giving that network's vectors on real speech, and the host still hears without it."""

from __future__ import annotations

import functools
import json
import logging

import numpy as np

from host.capabilities import Capabilities
from host.speech_embedding import EMBED_DIM, EmbeddingStream, SpeechEmbedder, StepNetwork
from host.store import ModelStore
from models.speech import speech_embedding_stream as derivation
from speech.test_kws_embedding import spoken
from support import derive_again

BUNDLE = derivation.BUNDLED / derivation.NAME / derivation.VERSION
ENTRY = json.loads((BUNDLE / "entry.json").read_text())
SOURCE = json.loads((derivation.SOURCE / "entry.json").read_text())


def whole_window_network() -> SpeechEmbedder:
    files = SOURCE["files"]
    return SpeechEmbedder(derivation.SOURCE / files["model"]["path"], derivation.SOURCE / files["melspectrogram"]["path"])


@functools.cache
def speech_over_hiss() -> np.ndarray:
    audio = np.concatenate([spoken("next tab"), spoken("the weather is nice today"), spoken("reload")])
    return audio + (np.random.default_rng(3).standard_normal(len(audio)) * 1e-3).astype(np.float32)


def test_deriving_again_gives_the_bundled_file_and_entry(tmp_path):
    assert derive_again("models.speech.speech_embedding_stream", tmp_path, BUNDLE) == ENTRY
    assert ENTRY["params"]["derived_from"] == f"{SOURCE['name']}/{SOURCE['version']}"


def test_its_steps_give_the_whole_window_networks_vectors_on_real_speech():
    whole = whole_window_network()
    steps = StepNetwork(BUNDLE / ENTRY["files"]["model"]["path"])
    assert (steps.input_frames, steps.warmup) == (ENTRY["params"]["input_frames"], ENTRY["params"]["warmup_steps"])
    for audio in (speech_over_hiss(), speech_over_hiss()[:13000], speech_over_hiss()[:12480]):  # 1 vector, 0 vectors
        mel = whole.mel(audio)
        expected, stepped = whole.embed_mel(mel), steps.embed_mel(mel)
        assert stepped.shape == expected.shape == (max(0, 1 + (len(mel) - 76) // 8), EMBED_DIM)
        np.testing.assert_allclose(stepped, expected, rtol=1e-5, atol=1e-4)
    assert len(expected) == 0 and len(stepped) == 0
    assert np.ptp(steps.embed_mel(whole.mel(speech_over_hiss())), axis=0).max() > 5  # speech moves the vectors


def test_a_stream_through_the_steps_gives_the_whole_window_networks_vectors():
    """Chunks of any size: the live stream's vectors are the whole-window network's over the clip."""
    whole = whole_window_network()
    files = SOURCE["files"]
    stepped = SpeechEmbedder(derivation.SOURCE / files["model"]["path"], derivation.SOURCE / files["melspectrogram"]["path"],
                             steps=StepNetwork(BUNDLE / ENTRY["files"]["model"]["path"]))
    audio = speech_over_hiss()
    expected = whole.embed(audio)
    for chunk in (1280, 441, 8000):
        stream = EmbeddingStream(stepped)
        got = np.concatenate([stream.feed(audio[i: i + chunk]) for i in range(0, len(audio), chunk)])
        # A stream makes mel frames 80 ms at a time: the clip's last vector may wait for 50 ms more audio.
        assert stream.vectors == len(got) and len(expected) - 1 <= len(got) <= len(expected)
        np.testing.assert_allclose(got, expected[: len(got)], rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(stepped.embed(audio), expected, rtol=1e-5, atol=1e-4)


def test_the_host_uses_the_steps_and_still_hears_with_them_damaged(tmp_path, caplog):
    store = ModelStore(tmp_path)
    speech = Capabilities(store, num_threads=1).pool.get("speech_embedding", "speech_embedding")
    assert isinstance(speech.steps, StepNetwork)
    expected = speech.embed(speech_over_hiss())

    spec = store.registry.get(derivation.NAME, "speech_embedding_stream")
    path = store.file_path(spec, "model")
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with caplog.at_level(logging.WARNING, logger="host.capabilities"):
        damaged = Capabilities(store, num_threads=1).pool.get("speech_embedding", "speech_embedding")
    assert damaged.steps is None
    assert any("four times the CPU" in r.getMessage() and "damaged" in r.getMessage() for r in caplog.records)
    np.testing.assert_allclose(damaged.embed(speech_over_hiss()), expected, rtol=1e-5, atol=1e-4)

