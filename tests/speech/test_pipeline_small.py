"""The whole keyword-model pipeline on the small generated set: generate -> train (with mining
rounds) -> evaluate (through the host's detector) -> publish, from the one documented command, in
a throwaway cache. The numbers of so small a model mean nothing; what is checked is that every
step runs and hands the next one what it needs, and that the published bundle is servable."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from host.speech_params import CLASSES

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def small_run(tmp_path_factory) -> Path:
    cache = tmp_path_factory.mktemp("speech-cache")
    env = {**os.environ, "TABSENSE_SPEECH_CACHE": str(cache), "TF_CPP_MIN_LOG_LEVEL": "2"}
    proc = subprocess.run([sys.executable, "-m", "models.speech", "all", "--small", "--seed", "3"],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "pipeline all (small, seed 3)" in proc.stdout
    return cache / "run-small"


def test_generate_writes_speaker_disjoint_splits_and_a_mining_pool(small_run):
    data = json.loads((small_run / "data.json").read_text())
    speakers = {part: set(names) for part, names in data["speakers"].items()}
    assert speakers["train"] and speakers["val"] and speakers["test"]
    assert not (speakers["train"] & speakers["val"] or speakers["train"] & speakers["test"]
                or speakers["val"] & speakers["test"])
    assert data["mining_pool_windows"] > 0
    train = np.load(small_run / "train.npz")
    assert train["X"].shape[1:] == (148, 40) and set(np.unique(train["y"])) == set(range(len(CLASSES)))


def test_generate_takes_a_fixed_number_of_clips_from_every_source(small_run):
    """Rendered clips per engine and validated recordings per Debian corpus (a small run takes every
    20th speech file, every 8th sound). Deterministic: a source that gives fewer clips lost data."""
    from models.speech.voices import piper

    data = json.loads((small_run / "data.json").read_text())
    expected = {"espeak": 159, "flite": 211, "festival": 129,
                "asterisk": 29, "fillets": 6, "librivox": 1, "sonic-pi": 20, "freedesktop": 3}
    if piper.available():  # the optional `speech-eval` extra: test-split clips of the Piper voice
        expected["piper"] = 38
    assert data["clips_by_source"] == expected
    assert data["render_failures"] == 0


def test_train_mines_and_exports_a_full_integer_model(small_run):
    train = json.loads((small_run / "train.json").read_text())
    assert [r["epoch"] for r in train["mined"]] == [1, 2]
    assert train["int8_float_agreement"] > 0.5  # the int8 export computes the same function as the float model
    assert train["averaged_epochs"] == [2, 3]  # the published weights: the mean of the last epochs
    assert sorted(p.name for p in (small_run / "snapshots").glob("epoch-*.npz")) == [
        "epoch-01.npz", "epoch-02.npz", "epoch-03.npz"]


def test_reaverage_exports_other_epochs_without_training(small_run):
    env = {**os.environ, "TABSENSE_SPEECH_CACHE": str(small_run.parent), "TF_CPP_MIN_LOG_LEVEL": "2"}
    proc = subprocess.run([sys.executable, "-m", "models.speech.train", "--small", "--reaverage", "1-3"],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads((small_run / "epochs-1-3" / "train.json").read_text())
    assert result["averaged_epochs"] == [1, 2, 3]
    assert (small_run / "epochs-1-3" / "kws_int8.tflite").stat().st_size > 10_000
    assert result["int8_float_agreement"] > 0.5


def test_evaluate_reports_every_target_and_a_verdict(small_run):
    report = json.loads((small_run / "report.json").read_text())
    assert set(report["thresholds"]) == set(CLASSES[2:])
    assert all(0.3 <= t <= 0.99 for t in report["thresholds"].values())
    assert report["detector"]["replay_mismatches"].startswith("0/")  # fast replay == host detector
    checks = report["blessing"]["checks"]
    assert len(checks) == 8 and report["blessed"] == all(checks.values())
    for part in ("validation", "test"):
        assert report[part]["stream"]["seconds"] > 60
        assert set(report[part]["recall"]) == set(CLASSES[2:])
    # every sensitivity level, "normal" being the published thresholds; the replay of "normal"
    # gives the validation numbers the host's detector gave
    levels = report["sensitivity_thresholds"]
    assert list(levels) == ["low", "normal", "high"] and levels["normal"] == report["thresholds"]
    assert all(levels["low"][c] >= levels["normal"][c] >= levels["high"][c] for c in CLASSES[2:])
    normal = report["sensitivity"]["normal"]["validation"]
    assert normal["recall"] == report["validation"]["recall"]
    assert normal["false_triggers_per_hour"] == report["validation"]["stream"]["per_hour"]


def test_publish_writes_a_checksummed_bundle_the_host_serves(small_run):
    from host.speech import KeywordSpotter

    bundle = small_run / "bundle"
    entry = json.loads((bundle / "entry.json").read_text())
    assert {meta["path"] for meta in entry["files"].values()} == {"kws_commands.tflite", "labels.txt"}
    for meta in entry["files"].values():
        assert hashlib.sha256((bundle / meta["path"]).read_bytes()).hexdigest() == meta["sha256"]
    assert "Kokoro" not in entry["description"]  # this run used the Debian voices only
    assert entry["params"]["sensitivity_thresholds"]["normal"] == entry["params"]["thresholds"]
    assert (bundle / "MODEL_CARD.md").read_text().count("|") > 20  # the metrics table
    spotter = KeywordSpotter(bundle / "kws_commands.tflite", bundle / "labels.txt", num_threads=1)
    probs = spotter.probabilities_from_features(np.full((148, 40), -13.8, np.float32))
    assert probs.shape == (len(CLASSES),) and abs(float(probs.sum()) - 1.0) < 0.05


def test_train_members_exports_an_ensemble_as_one_full_integer_model(small_run, tmp_path):
    """--members 2: two models differing by seed only, served as ONE model with a single model's
    input and output (its output the mean of their probabilities)."""
    from ai_edge_litert.interpreter import Interpreter

    run = tmp_path / "run-small"
    run.mkdir()
    for name in ("train.npz", "val.npz", "mine.npz"):
        (run / name).symlink_to(small_run / name)
    env = {**os.environ, "TABSENSE_SPEECH_CACHE": str(tmp_path), "TF_CPP_MIN_LOG_LEVEL": "2"}
    proc = subprocess.run([sys.executable, "-m", "models.speech.train", "--small", "--seed", "3", "--mine",
                           "--members", "2"], cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    train = json.loads((run / "train.json").read_text())
    assert [m["seed"] for m in train["members"]] == [3, 4]
    for i, member in enumerate(train["members"], 1):
        assert [r["epoch"] for r in member["mined"]] == [1, 2] and member["averaged_epochs"] == [2, 3]
        assert len(list((run / f"member-{i}" / "snapshots").glob("epoch-*.npz"))) == 3
    # member 1 is the single model of the same seed, trained the same way
    single = json.loads((small_run / "train.json").read_text())
    assert train["members"][0]["history"]["loss"] == single["history"]["loss"]
    assert train["members"][1]["history"]["loss"] != single["history"]["loss"]
    assert train["int8_float_agreement"] > 0.5
    interpreter = Interpreter(model_path=str(run / "kws_int8.tflite"))
    assert list(interpreter.get_input_details()[0]["shape"]) == [1, 148, 40, 1]
    assert list(interpreter.get_output_details()[0]["shape"]) == [1, len(CLASSES)]
    assert (run / "kws_int8.tflite").stat().st_size > 1.8 * (small_run / "kws_int8.tflite").stat().st_size


def test_ensemble_of_finished_runs_averages_their_probabilities(small_run, tmp_path):
    """--ensemble RUN RUN: the same run twice is the same function as the run alone."""
    run = tmp_path / "run-small"
    run.mkdir()
    for name in ("train.npz", "val.npz"):
        (run / name).symlink_to(small_run / name)
    env = {**os.environ, "TABSENSE_SPEECH_CACHE": str(tmp_path), "TF_CPP_MIN_LOG_LEVEL": "2"}
    proc = subprocess.run([sys.executable, "-m", "models.speech.train", "--small", "--ensemble", str(small_run), str(small_run)],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads((run / "ensemble-2" / "train.json").read_text())
    single = json.loads((small_run / "train.json").read_text())
    assert result["members"] == [str(small_run)] * 2
    assert result["float_val_accuracy"] == single["float_val_accuracy"]
    from models.speech.train import litert_predict

    windows = np.load(small_run / "val.npz")["X"][:40].astype(np.float32)
    alone = litert_predict(small_run / "kws_int8.tflite", windows)
    averaged = litert_predict(run / "ensemble-2" / "kws_int8.tflite", windows)
    np.testing.assert_allclose(averaged, alone, atol=0.03)  # int8 rounding apart, the same probabilities
