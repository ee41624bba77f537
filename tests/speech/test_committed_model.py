"""The committed keyword model: files, checksums, registry entry, LiteRT API, real behaviour."""

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from host.features import log_mel
from host.speech_params import CLASSES, MEL_BINS, WINDOW_FRAMES, WINDOW_SAMPLES

from models.speech.common import BUNDLE_DIR as BUNDLE, MODEL_NAME, MODEL_VERSION
ENTRY = json.loads((BUNDLE / "entry.json").read_text())
MODEL = BUNDLE / ENTRY["files"]["model"]["path"]
LABELS = BUNDLE / ENTRY["files"]["labels"]["path"]


def sha256(path):
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_files_match_their_checksums():
    for spec in ENTRY["files"].values():
        path = BUNDLE / spec["path"]
        assert sha256(path) == spec["sha256"]
        assert path.stat().st_size == spec["bytes"]


def test_entry_is_a_valid_registry_entry():
    from host.store import ModelSpec

    spec = ModelSpec.from_dict(ENTRY, "entry.json")
    assert (spec.name, spec.version, spec.task) == (MODEL_NAME, MODEL_VERSION, "keyword_spotting")
    assert spec.input == {**spec.input, "frames": WINDOW_FRAMES, "mel_bins": MEL_BINS, "dtype": "int8"}
    assert spec.output["kind"] == "probabilities" and spec.output["classes"] == len(CLASSES)
    assert set(ENTRY["params"]["thresholds"]) == set(CLASSES[2:])
    assert all(0 < t < 1 for t in ENTRY["params"]["thresholds"].values())
    assert ENTRY["params"]["smoothing"] == 3 and ENTRY["params"]["window_s"] == 1.5
    assert isinstance(spec.blessed, bool) and spec.validation["checks"]


def test_labels_are_the_classes_in_order():
    assert LABELS.read_text().splitlines() == list(CLASSES)


@pytest.fixture(scope="module")
def interpreter():
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_path=str(MODEL), num_threads=1)
    it.allocate_tensors()
    return it


def test_litert_api_is_full_integer_int8(interpreter):
    inp, out = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    assert list(inp["shape"]) == [1, WINDOW_FRAMES, MEL_BINS, 1] and inp["dtype"] == np.int8
    assert list(out["shape"]) == [1, len(CLASSES)] and out["dtype"] == np.int8
    scale, zero = inp["quantization"]
    assert scale > 0 and -128 <= zero <= 127
    # the input range covers log-mel of digital silence (log 1e-6) up to loud speech
    assert (-128 - zero) * scale <= np.log(1e-6) and (127 - zero) * scale >= 5.0
    out_scale, out_zero = out["quantization"]
    assert out_scale == pytest.approx(1 / 256) and out_zero == -128  # softmax in int8
    weights = [d for d in interpreter.get_tensor_details() if d["dtype"] == np.int8 and len(d["shape"]) == 4
               and len(d["quantization_parameters"]["scales"]) > 1]
    assert weights, "expected per-channel quantized convolution weights"


@pytest.fixture(scope="module")
def spotter():
    from host.speech import KeywordSpotter

    return KeywordSpotter(MODEL, LABELS, num_threads=1)


def test_probabilities_sum_to_one(spotter):
    rng = np.random.default_rng(0)
    for audio in (np.zeros(WINDOW_SAMPLES, np.float32), 0.1 * rng.standard_normal(WINDOW_SAMPLES).astype(np.float32)):
        p = spotter.window_probabilities(audio)
        assert p.shape == (len(CLASSES),) and abs(p.sum() - 1) < 0.02 and (p >= 0).all()
    assert CLASSES[int(np.argmax(spotter.window_probabilities(np.zeros(WINDOW_SAMPLES, np.float32))))] == "_silence_"
    assert spotter.probabilities_from_features(log_mel(np.zeros(WINDOW_SAMPLES, np.float32))).shape == (len(CLASSES),)


# ---- real behaviour on freshly synthesised speech from voices held out of training ----


def synthesise(engine, voice, text, tmp_path):
    from models.speech.common import load_audio, trim_silence

    raw = tmp_path / "raw.wav"
    if engine == "flite":
        subprocess.run(["flite", "-voice", voice, "-t", text, "-o", str(raw)], check=True)
    else:
        from models.speech.speakers import speaker_splits

        variant = sorted(s.split(":")[1] for s, part in speaker_splits().items() if part == "test" and s.startswith("espeak:"))
        variant = "m3" if "m3" in variant else variant[0]
        subprocess.run(["espeak-ng", "-v", voice.format(variant=variant), "-w", str(raw), text], check=True)
    return trim_silence(load_audio(raw))


def recognise(spotter, audio):
    from host.speech import DetectorSettings, recognize

    audio = np.concatenate([np.zeros(8000, np.float32), 0.5 * audio / np.max(np.abs(audio)), np.zeros(4000, np.float32)])
    return recognize(spotter, audio, DetectorSettings.from_params(ENTRY["params"]))


def _held_out(engine, voice):
    from models.speech.speakers import speaker_of, speaker_splits

    return speaker_splits()[speaker_of(engine, voice if engine == "flite" else "en-us+m3")] == "test"


@pytest.mark.skipif(not shutil.which("espeak-ng"), reason="needs espeak-ng")
def test_held_out_espeak_voice_next_previous_and_near_miss(spotter, tmp_path):
    voice = "en-us+{variant}"
    assert recognise(spotter, synthesise("espeak", voice, "next tab", tmp_path))["command"] == "next_tab"
    assert recognise(spotter, synthesise("espeak", voice, "previous tab", tmp_path))["command"] == "previous_tab"
    for near_miss in ("next time", "previous day"):
        result = recognise(spotter, synthesise("espeak", voice, near_miss, tmp_path))
        assert result["command"] is None, (near_miss, result)


@pytest.mark.skipif(not shutil.which("flite"), reason="needs flite")
def test_held_out_natural_voice_awb(spotter, tmp_path):
    assert _held_out("flite", "awb")  # never seen in training or threshold tuning
    assert recognise(spotter, synthesise("flite", "awb", "previous tab", tmp_path))["command"] == "previous_tab"
    result = recognise(spotter, synthesise("flite", "awb", "next time", tmp_path))
    assert result["command"] is None, result


@pytest.mark.skipif(not shutil.which("flite"), reason="needs flite")
def test_held_out_natural_voice_awb_next_tab(spotter, tmp_path):
    # v2 never recognised awb's "next tab"; v3 does at the voice's own speed and pitch (60% of
    # its 25 takes, docs/speech/report.md). A check of this frozen bundle, not of the recipe.
    assert recognise(spotter, synthesise("flite", "awb", "next tab", tmp_path))["command"] == "next_tab"
