"""Voice commands through the host with the real bundled keyword model and real speech.

Clips are synthesised at test time with espeak-ng in a voice the model lab holds out of
training (en-us+m3) and resampled with sox to the rates browsers capture at. The model is
served even before the validator blesses it (`serve_unblessed`), because most of these tests
are about the host's audio path: decoding, resampling, streaming, events. The tests of the
per-request opt-in (`allow_unblessed`, the extension's "experimental voice model") use a home
whose local registry says the bundle is not blessed, whatever the model lab's verdict.
"""

from __future__ import annotations

import base64
import json
import subprocess
from pathlib import Path

import numpy as np
import pytest

from support import EXTENSION_ORIGIN, PYTHON, REPO, TINY_MODEL, sample
from host.capabilities import Capabilities, Session
from host.errors import TabSenseError
from host.protocol import FrameDecoder, encode_frame
from host.store import ModelStore
from models.speech.common import BUNDLE_DIR  # the one bundled version

VOICE = "en-us+m3"
ENTRY = BUNDLE_DIR / "entry.json"


def speak(text: str, folder: Path, rate: int) -> bytes:
    """A 16-bit mono WAV of `text` at `rate`, with 0.5 s of silence before and 1 s after."""
    raw, out = folder / f"{text}-raw.wav", folder / f"{text}-{rate}.wav"
    subprocess.run(["espeak-ng", "-v", VOICE, "-w", str(raw), text], check=True)
    subprocess.run(["sox", str(raw), "-r", str(rate), "-c", "1", "-b", "16", str(out), "pad", "0.5", "1.0"], check=True)
    return out.read_bytes()


def pcm_of(wav: bytes) -> bytes:
    return wav[44:]  # sox writes a plain 44-byte header for 16-bit PCM


@pytest.fixture(scope="module")
def voice(tabsense_home):
    return Capabilities(ModelStore(tabsense_home), num_threads=1, serve_unblessed=True)


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    folder = tmp_path_factory.mktemp("clips")
    return {
        "next": speak("next tab", folder, 44100),
        "previous": speak("previous tab", folder, 48000),
        "near_miss": speak("next time we will see", folder, 16000),
    }


def test_recognize_speech_from_wav_files_at_any_rate(voice, clips):
    heard = {name: voice.recognize_speech({"audio": base64.b64encode(wav).decode()})["command"]
             for name, wav in clips.items()}
    assert heard == {"next": "next_tab", "previous": "previous_tab", "near_miss": None}


def test_recognize_speech_from_raw_pcm_needs_the_rate(voice, clips):
    audio = base64.b64encode(pcm_of(clips["next"])).decode()
    result = voice.recognize_speech({"audio": audio, "sample_rate": 44100})
    assert result["command"] == "next_tab" and result["score"] >= 0.5
    assert abs(sum(result["scores"].values()) - 1) < 0.02
    with pytest.raises(TabSenseError) as info:
        voice.recognize_speech({"audio": audio})
    assert info.value.code == "unsupported_audio"


def stream(voice, pcm: bytes, rate: int, session: Session, name="mic", **extra) -> None:
    """`pcm` in 100 ms `audio_chunk`s; `extra` goes with every chunk (e.g. `commands`)."""
    chunk = rate // 10 * 2  # 100 ms of 16-bit samples
    for start in range(0, len(pcm), chunk):
        voice.audio_chunk({"stream": name, "audio": base64.b64encode(pcm[start : start + chunk]).decode(),
                           "sample_rate": rate, **extra}, session)


def test_streaming_chunks_give_one_event_per_phrase(voice, clips):
    events = []
    session = Session(emit=events.append)
    stream(voice, pcm_of(clips["next"]), 44100, session)
    stream(voice, pcm_of(clips["near_miss"]), 16000, session, name="other")
    assert [(e["event"], e["command"], e["stream"]) for e in events] == [("command", "next_tab", "mic")]
    assert voice.stop_stream({"stream": "mic"}, session) == {"stream": "mic", "stopped": True}
    assert voice.stop_stream({"stream": "mic"}, session)["stopped"] is False


def test_a_stream_hears_only_the_commands_it_enabled(voice, clips):
    events = []
    session = Session(emit=events.append)
    pcm = pcm_of(clips["next"])
    stream(voice, pcm, 44100, session, name="prev-only", commands=["previous_tab", "close_tab"])
    stream(voice, pcm, 44100, session, name="next-only", commands=["next_tab"])
    assert [(e["command"], e["stream"]) for e in events] == [("next_tab", "next-only")]
    events.clear()  # the list can change mid-stream: the next phrase on "prev-only" is heard once enabled
    stream(voice, pcm, 44100, session, name="prev-only", commands=["next_tab"])
    assert [(e["command"], e["stream"]) for e in events] == [("next_tab", "prev-only")]
    one_shot = {"audio": base64.b64encode(clips["next"]).decode(), "commands": ["previous_tab"]}
    assert voice.recognize_speech(one_shot)["command"] is None


@pytest.mark.parametrize("commands", [[], "next_tab", ["next_tab", 3], ["next_tab", "open_sesame"]])
def test_bad_command_lists_are_errors(voice, commands):
    silence = base64.b64encode(np.zeros(1600, "<i2").tobytes()).decode()
    with pytest.raises(TabSenseError) as info:
        voice.audio_chunk({"stream": "s", "audio": silence, "sample_rate": 16000, "commands": commands}, Session())
    assert info.value.code == "invalid_request"


def test_stale_streams_make_room_for_new_ones(voice):
    session = Session()
    silence = base64.b64encode(np.zeros(1600, "<i2").tobytes()).decode()
    for n in range(Session.MAX_STREAMS + 2):
        voice.audio_chunk({"stream": f"s{n}", "audio": silence, "sample_rate": 16000}, session)
    assert list(session.streams) == [f"s{n}" for n in range(2, Session.MAX_STREAMS + 2)]


@pytest.mark.parametrize(
    "params, code",
    [
        ({"stream": "s", "audio": base64.b64encode(b"\x01\x02\x03").decode(), "sample_rate": 16000}, "bad_audio"),
        ({"stream": "s", "audio": base64.b64encode(b"\x00\x00").decode(), "sample_rate": 4000}, "unsupported_audio"),
        ({"stream": "s", "audio": base64.b64encode(b"\x00\x00" * 16000 * 6).decode(), "sample_rate": 16000}, "audio_too_long"),
        ({"stream": "", "audio": "AAA=", "sample_rate": 16000}, "invalid_request"),
        ({"stream": "s", "audio": "@@", "sample_rate": 16000}, "bad_base64"),
    ],
)
def test_bad_chunks_are_errors(voice, params, code):
    with pytest.raises(TabSenseError) as info:
        voice.audio_chunk(params, Session())
    assert info.value.code == code


def test_events_reach_the_browser_through_the_native_host(host_env, tmp_path, clips):
    """The real host process: chunks in, a `command` event frame out, on stdout, in order."""
    entry = json.loads(ENTRY.read_text())
    entry["blessed"] = True  # this test home serves the bundle whatever its verdict
    for file_entry in entry["files"].values():
        file_entry["bundled"] = True
    (tmp_path / "registry.json").write_text(json.dumps({"models": [entry]}))
    env = dict(host_env, TABSENSE_HOME=str(tmp_path))
    proc = subprocess.Popen([PYTHON, "-m", "host", EXTENSION_ORIGIN + "/"], cwd=REPO, env=env,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    pcm = pcm_of(clips["next"])
    chunk = 4410 * 2
    for n, start in enumerate(range(0, len(pcm), chunk)):
        message = {"id": n, "type": "audio_chunk", "stream": "mic", "sample_rate": 44100,
                   "audio": base64.b64encode(pcm[start : start + chunk]).decode()}
        proc.stdin.write(encode_frame(json.dumps(message).encode()))
    proc.stdin.write(encode_frame(json.dumps({"id": "stop", "type": "stop_stream", "stream": "mic"}).encode()))
    stdout, _ = proc.communicate(timeout=60)
    frames = [json.loads(f) for f in FrameDecoder().feed(stdout)]
    answers = [f for f in frames if "id" in f]
    events = [f for f in frames if f.get("type") == "event"]
    assert all(a["ok"] for a in answers), [a for a in answers if not a["ok"]][:1]
    assert [a["id"] for a in answers if a["id"] != "stop"] == list(range(len(answers) - 1))  # in order
    assert [(e["event"], e["command"], e["stream"]) for e in events] == [("command", "next_tab", "mic")]
    chunks = [a for a in answers if a["id"] != "stop"]
    assert chunks[0]["result"]["model"] == {"name": entry["name"], "version": entry["version"], "blessed": True,
                                            "sensitivity": "normal"}
    assert all("model" not in a["result"] for a in chunks[1:])  # said once, when the stream starts


# --- the sensitivity a user chose (`sensitivity`: the model's threshold set per level) -------


@pytest.fixture(scope="module")
def levels(tmp_path_factory) -> Capabilities:
    """A home whose registry gives the bundled keyword model a "low" level that can never fire
    (thresholds above 1), so that which level a stream uses is plain to see."""
    home = tmp_path_factory.mktemp("levels-home")
    keyword = json.loads(ENTRY.read_text())
    for file_entry in keyword["files"].values():
        file_entry["bundled"] = True
    normal = keyword["params"]["thresholds"]
    keyword["params"]["sensitivity_thresholds"] = {"low": {c: 1.01 for c in normal}, "normal": normal}
    (home / "registry.json").write_text(json.dumps({"models": [keyword]}))
    return Capabilities(ModelStore(home), num_threads=1, serve_unblessed=True)


def test_the_sensitivity_picks_the_threshold_set_and_can_change_while_listening(levels, clips):
    wav = base64.b64encode(clips["next"]).decode()
    assert levels.recognize_speech({"audio": wav})["command"] == "next_tab"
    low = levels.recognize_speech({"audio": wav, "sensitivity": "low"})
    assert low["command"] is None and low["model"]["sensitivity"] == "low"
    high = levels.recognize_speech({"audio": wav, "sensitivity": "high"})  # a level the model lacks: its normal set
    assert (high["command"], high["model"]["sensitivity"]) == ("next_tab", "normal")

    events = []
    session = Session(emit=events.append)
    pcm, chunk = pcm_of(clips["next"]), 4410 * 2

    def send(sensitivity):
        return [levels.audio_chunk({"stream": "mic", "audio": base64.b64encode(pcm[start : start + chunk]).decode(),
                                    "sample_rate": 44100, "sensitivity": sensitivity, "commands": ["next_tab"]}, session)
                for start in range(0, len(pcm), chunk)]

    answers = send("low")
    assert events == [] and answers[0]["model"]["sensitivity"] == "low"
    assert all("sensitivity" not in a for a in answers)  # nothing changed after the start
    answers = send("normal")  # the same stream: the change is said once, and the phrase is heard
    assert answers[0]["sensitivity"] == "normal" and all("sensitivity" not in a for a in answers[1:])
    assert [(e["command"], e["stream"]) for e in events] == [("next_tab", "mic")]
    assert session.streams["mic"].settings.commands == ("next_tab",)  # the enabled commands stay


@pytest.mark.parametrize("value", ["medium", "HIGH", 1, None, ["low"]])
def test_an_unknown_sensitivity_is_an_error(levels, value):
    silence = base64.b64encode(np.zeros(1600, "<i2").tobytes()).decode()
    for call, params in ((levels.recognize_speech, ({"audio": silence, "sample_rate": 16000},)),
                         (levels.audio_chunk, ({"stream": "s", "audio": silence, "sample_rate": 16000}, Session()))):
        with pytest.raises(TabSenseError) as info:
            call({**params[0], "sensitivity": value}, *params[1:])
        assert info.value.code == "invalid_request" and "sensitivity" in info.value.message


# --- the per-request opt-in to an unblessed keyword model (`allow_unblessed`) -------------


@pytest.fixture(scope="module")
def unblessed_home(tmp_path_factory) -> Path:
    """A home whose local registry marks the bundled keyword model and an image model as not
    blessed (the image model is not installed: the blessing check comes first)."""
    home = tmp_path_factory.mktemp("unblessed-home")
    keyword = json.loads(ENTRY.read_text())
    keyword["blessed"] = False
    for file_entry in keyword["files"].values():
        file_entry["bundled"] = True
    shipped = json.loads((REPO / "models" / "registry.json").read_text())["models"]
    image = dict(next(m for m in shipped if m["name"] == TINY_MODEL), blessed=False)
    (home / "registry.json").write_text(json.dumps({"models": [keyword, image]}))
    return home


@pytest.fixture(scope="module")
def strict(unblessed_home):
    """The host as the browser starts it: no process-wide `serve_unblessed`."""
    return Capabilities(ModelStore(unblessed_home), num_threads=1)


def refused(call, *args) -> TabSenseError:
    with pytest.raises(TabSenseError) as info:
        call(*args)
    return info.value


def test_an_unblessed_keyword_model_is_served_only_to_requests_that_opt_in(strict, clips):
    wav = base64.b64encode(clips["next"]).decode()
    for params in ({"audio": wav}, {"audio": wav, "allow_unblessed": False}):
        assert refused(strict.recognize_speech, params).code == "model_not_blessed"
    session = Session()
    chunk = {"stream": "mic", "audio": base64.b64encode(pcm_of(clips["next"])[:8820]).decode(), "sample_rate": 44100}
    assert refused(strict.audio_chunk, chunk, session).code == "model_not_blessed"
    assert not session.streams

    result = strict.recognize_speech({"audio": wav, "allow_unblessed": True})
    assert result["command"] == "next_tab"
    assert result["model"] == {"name": "kws_commands", "version": json.loads(ENTRY.read_text())["version"],
                               "blessed": False, "sensitivity": "normal"}


def test_the_opt_in_of_one_stream_lets_no_other_request_through(strict, clips):
    events = []
    session = Session(emit=events.append)
    pcm, chunk = pcm_of(clips["next"]), 4410 * 2
    answers = [strict.audio_chunk({"stream": "opted", "audio": base64.b64encode(pcm[start : start + chunk]).decode(),
                                   "sample_rate": 44100, "allow_unblessed": True}, session)
               for start in range(0, len(pcm), chunk)]
    assert [(e["command"], e["stream"]) for e in events] == [("next_tab", "opted")]
    assert answers[0]["model"]["blessed"] is False  # the extension shows "experimental" from this
    assert all("model" not in a for a in answers[1:])

    # The model is loaded now, and still refused to everything that did not opt in: another
    # stream on the same connection, another connection, a one-shot request.
    silence = base64.b64encode(np.zeros(1600, "<i2").tobytes()).decode()
    assert refused(strict.audio_chunk, {"stream": "plain", "audio": silence, "sample_rate": 16000},
                   session).code == "model_not_blessed"
    assert refused(strict.audio_chunk, {"stream": "opted", "audio": silence, "sample_rate": 16000},
                   Session()).code == "model_not_blessed"
    assert refused(strict.recognize_speech, {"audio": base64.b64encode(clips["next"]).decode()}).code \
        == "model_not_blessed"
    assert list(session.streams) == ["opted"] and strict.pool.serve_unblessed is False


@pytest.mark.parametrize("value", ["true", 1, 0, None, [True], {"yes": True}])
def test_allow_unblessed_must_be_true_or_false(strict, value):
    silence = base64.b64encode(np.zeros(1600, "<i2").tobytes()).decode()
    for call, params in ((strict.recognize_speech, ({"audio": silence, "sample_rate": 16000},)),
                         (strict.audio_chunk, ({"stream": "s", "audio": silence, "sample_rate": 16000}, Session()))):
        error = refused(call, {**params[0], "allow_unblessed": value}, *params[1:])
        assert (error.code, error.message) == ("invalid_request", "`allow_unblessed` must be true or false.")


def test_the_opt_in_never_applies_to_image_models(strict):
    assert refused(strict.pool.get, TINY_MODEL, "image_classification", True).code == "model_not_blessed"
    image = base64.b64encode(sample("Siamese_cat").read_bytes()).decode()
    error = refused(strict.classify_image, {"image": image, "model": TINY_MODEL, "allow_unblessed": True})
    assert error.code == "model_not_blessed"


def test_the_opt_in_through_the_native_host(host_env, unblessed_home, clips):
    """The real host process, as the browser starts it: refused, then served with the opt-in."""
    env = dict(host_env, TABSENSE_HOME=str(unblessed_home))
    proc = subprocess.Popen([PYTHON, "-m", "host", EXTENSION_ORIGIN + "/"], cwd=REPO, env=env,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    pcm, chunk = pcm_of(clips["next"]), 4410 * 2
    first = {"type": "audio_chunk", "sample_rate": 44100, "audio": base64.b64encode(pcm[:chunk]).decode()}
    messages = [
        dict(first, id="plain", stream="plain"),
        dict(first, id="bad", stream="bad", allow_unblessed="yes"),
        *({"id": n, "type": "audio_chunk", "stream": "mic", "sample_rate": 44100, "allow_unblessed": True,
           "audio": base64.b64encode(pcm[start : start + chunk]).decode()}
          for n, start in enumerate(range(0, len(pcm), chunk))),
    ]
    for message in messages:
        proc.stdin.write(encode_frame(json.dumps(message).encode()))
    stdout, _ = proc.communicate(timeout=60)
    frames = [json.loads(f) for f in FrameDecoder().feed(stdout)]
    answers = {f["id"]: f for f in frames if "id" in f}
    assert answers["plain"]["error"]["code"] == "model_not_blessed"
    assert answers["bad"]["error"]["code"] == "invalid_request"
    assert answers[0]["ok"] and answers[0]["result"]["model"]["blessed"] is False
    assert all(answers[n]["ok"] for n in range(len(messages) - 2))
    events = [f for f in frames if f.get("type") == "event"]
    assert [(e["event"], e["command"], e["stream"]) for e in events] == [("command", "next_tab", "mic")]


def test_a_bad_request_for_a_new_stream_never_ends_a_live_one(voice):
    session = Session()
    silence = base64.b64encode(b"\0\0" * 1600).decode()
    for n in range(Session.MAX_STREAMS):
        voice.audio_chunk({"stream": f"s{n}", "audio": silence, "sample_rate": 16000}, session)
    with pytest.raises(TabSenseError) as error:
        voice.audio_chunk({"stream": "new", "audio": silence, "sample_rate": 16000, "commands": ["open_sesame"]}, session)
    assert error.value.code == "invalid_request"
    assert list(session.streams) == [f"s{n}" for n in range(Session.MAX_STREAMS)]
    voice.audio_chunk({"stream": "new", "audio": silence, "sample_rate": 16000}, session)  # a good one makes room
    assert list(session.streams) == [f"s{n}" for n in range(1, Session.MAX_STREAMS)] + ["new"]
