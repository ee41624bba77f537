"""The enrollment evaluation: its voices are ones the keyword model never trained on, its plan is
fixed, and a one-voice run goes through the host's real handlers end to end (generic model, then
enrollment and the profile)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections import Counter

import numpy as np
import pytest

from host.speech_params import COMMANDS
from models.speech import eval_voices
from models.speech.common import REPO_ROOT
from models.speech.enroll_eval import (LEAD_S, TEST_TAKES, background_kind, background_shift, command_latency,
                                      plan_voice, scored_items)
from models.speech.eval_voices import VOICES, EvalVoice, check_unseen, find, training_speakers


def test_no_evaluation_voice_was_trained_on():
    trained = training_speakers()
    assert "natural:kal" in trained and "natural:slt" in trained  # the record is the real one
    check_unseen(VOICES, trained)
    assert not {v.speaker for v in VOICES} & trained
    assert len(VOICES) >= 12
    assert len({v.language for v in VOICES} - {"en"}) >= 3
    assert all(v.engine in ("espeak", "flite", "piper", "kokoro") for v in VOICES)  # never MBROLA or pico


def test_a_trained_voice_is_refused():
    kal = EvalVoice("flite:kal", "flite", "kal", "en", "natural:kal", "")
    with pytest.raises(ValueError, match="flite:kal"):
        check_unseen([*VOICES, kal], training_speakers())


def test_the_plan_is_fixed_and_complete():
    for voice in VOICES:
        plan = plan_voice(voice)
        assert plan == plan_voice(voice)
        for command in COMMANDS:
            enroll = [i for i in plan if i.kind == "enroll" and i.command == command]
            tests = [i for i in plan if i.kind == "test" and i.command == command]
            assert len(enroll) == 3 and len(tests) == len(TEST_TAKES) == 3
            # test takes are said at other speeds and pitches than the enrollment takes
            assert not {(i.render.stretch, i.render.cents) for i in tests} & {(i.render.stretch, i.render.cents)
                                                                               for i in enroll}
            assert {i.condition for i in tests} == {"clean", "noisy", "quiet"}
        negatives = [i for i in plan if i.kind in ("near_miss", "sentence")]
        assert sum(i.kind == "near_miss" for i in negatives) >= 20 and sum(i.kind == "sentence" for i in negatives) >= 20
        assert all(eval_voices.command_in(i.render.text, voice.language) is None for i in negatives)


def test_every_command_meets_a_recorded_background_and_steady_noise_in_the_noisy_room():
    """Each voice starts the backgrounds' alternation elsewhere: a command's noisy-room recall is
    not the recall of one kind of background."""
    kinds = {c: Counter() for c in COMMANDS}
    for voice in VOICES:
        shift = background_shift(voice)
        for n, item in enumerate(scored_items(plan_voice(voice))):
            if item.kind == "test" and item.condition == "noisy":
                kinds[item.command][background_kind(n + shift) == "recording"] += 1
    assert all(min(k[True], k[False]) >= 4 for k in kinds.values()), kinds
    assert background_kind(0) == "recording" and {background_kind(1), background_kind(3)} == {"brown noise", "pink noise"}


def test_a_negative_with_a_command_inside_is_caught():
    assert eval_voices.command_in("please go back home", "en") == "go_back"
    assert eval_voices.command_in("reloading", "en") == "reload"
    assert eval_voices.command_in("bitte neu laden", "de") == "reload"
    assert eval_voices.command_in("next stop", "en") is None


def test_command_latency_counts_from_the_phrase_end_to_the_chunk_that_completes_the_event():
    rate = 16000
    tone = 0.3 * np.sin(2 * np.pi * 220 * np.arange(int(0.5 * rate)) / rate)
    clip = np.concatenate([np.zeros(int(0.2 * rate)), tone, np.zeros(int(0.3 * rate))]).astype(np.float32)
    phrase_end = LEAD_S + 0.7
    # the vector that fired ends inside a chunk: the command is known when that chunk has arrived
    assert command_latency(clip, {"time_s": phrase_end + 0.08}) == pytest.approx(0.1)
    assert command_latency(clip, {"time_s": phrase_end + 0.1}) == pytest.approx(0.1)  # exactly at a chunk's end
    assert command_latency(clip, {"time_s": phrase_end - 0.25}) == pytest.approx(-0.2)  # before the phrase ended


@pytest.fixture(scope="module")
def one_voice_run(tmp_path_factory):
    """The evaluation's command line in a fresh interpreter, as it is run. It forks its workers, and
    this test process may hold TensorFlow objects from the model lab's tests: collected in a forked
    child, they crash it."""
    if not shutil.which("espeak-ng") or not shutil.which("sox"):
        pytest.skip("needs espeak-ng and sox (apt-get install espeak-ng sox)")
    out = tmp_path_factory.mktemp("enroll-eval")
    voice = find(["espeak-en-us-m3"])[0]
    done = subprocess.run([sys.executable, "-m", "models.speech.enroll_eval", "--voices", voice.name, "--small",
                           "--workers", "1", "--out", str(out)], cwd=REPO_ROOT, capture_output=True, text=True,
                          timeout=1200)
    assert done.returncode == 0, done.stderr[-4000:]
    return voice, json.loads((out / "enrollment.json").read_text()), out


@pytest.mark.slow
def test_one_voice_generic_model(one_voice_run):
    voice, summary, out = one_voice_run
    row = summary["voices"][0]
    assert "error" not in row, row
    generic = row["generic"]
    # a clear US voice: the generic keyword model hears its next/previous tab takes
    assert generic["recall"]["next_tab"] > 0 and generic["recall"]["previous_tab"] > 0
    assert generic["near_miss_false_accepts"][1] == 5 and generic["sentence_false_accepts"][1] == 5
    assert generic["noisy_room_false_accepts"][1] == 10  # the same ten again, in a noisy room
    assert generic["stream_s"] >= 20 and generic["cpu_ms_per_s"] > 0
    report = json.loads((out / "enrollment.json").read_text())
    assert report["voices"][0]["voice"] == voice.name
    assert voice.name in (out / "enrollment.md").read_text()


@pytest.mark.slow
def test_one_voice_enrolls_and_listens_with_its_profile(one_voice_run):
    _, summary, _ = one_voice_run
    row = summary["voices"][0]
    assert row["enroll"]["ready"] == len(COMMANDS), row["enroll"]
    assert summary["enroll_latency_s"]["n"] >= 3 * len(COMMANDS)
    assert row["profile"]["all_six_recall"] > 0
    heard = row["profile"]["latencies_s"]
    assert len(heard) == round(row["profile"]["all_six_recall"] * 3 * len(COMMANDS))
    assert all(-1.0 < s < 1.0 for s in heard), heard  # the phrase's own end, not the streamed clip's
    assert summary["profile_answer"]["profile"]["commands"] == list(COMMANDS)
