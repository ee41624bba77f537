"""Enrollment evaluation: TabSense's voice commands on voices the keyword model never trained on,
the generic keyword model alone vs with the user's personal profile.

What it measures, per voice and over voices (mean, spread, worst voice):
  * recall per command: 3 test takes per command at another speed and pitch than the enrollment
    takes: one clean, one in a noisy room (sox reverb + a real or synthesized background at 10 dB
    SNR), one quiet (-20 dB); each streamed on its own with ~1 s of silence or room noise around
    it. A hit = the right command fired and no other; a wrong command is a miss and a confusion;
  * false accepts on >= 20 near misses (sharing a word with a command) and >= 20 ordinary sentences
    by the same voice (any command event counts), as recorded and again in a noisy room (like the
    noisy test takes: there the profile's thresholds widen);
  * false triggers per hour on a long stream per voice (Allison's telephone prompts, sentences of
    the other voices and its own, sonic-pi music and ambience, gaps, a noise floor), with all six
    commands and with only next/previous tab enabled;
  * phrase end -> command p50/p90 over the heard takes, in stream time (when the 100 ms chunk that
    completes the event arrives);
  * the profile: enroll_take latency p50/p95 (3 takes per command at the voice's own pace, 0.2-0.5 s
    of silence around them), verdicts; CPU per second of streamed audio (time.process_time).
Everything goes through the host's message handlers in-process (`enroll_take`, `audio_chunk`,
`stop_stream`: what the browser sends), one fresh TABSENSE_HOME per voice. Voices that speak German,
French and Spanish teach their own phrases (the profile must learn what the user says).

    .venv/bin/python -m models.speech.enroll_eval            # ~4 min on 2 cores once the renders are cached
                                                             # (the first run renders ~1800 utterances: 5-15 min)
    .venv/bin/python -m models.speech.enroll_eval --small --voices espeak-en-us-m3 --out /tmp/ee

Writes docs/speech/enrollment.md and docs/speech/enrollment.json (the full run), prints the table.
"""

from __future__ import annotations

import argparse
import base64
import gzip
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import augment
from .common import CACHE_DIR, COMMANDS, DOCS_DIR, SAMPLE_RATE, ClipBank, load_audio, log, save_json, setup_logging
from .eval_voices import (EMBEDDED, NEAR_MISSES, PHRASES, SENTENCES, VOICES, EvalVoice, Render, available,
                          check_unseen, command_in, find, load, render, training_speakers)
from .workers import BrokenProcessPool, fork_pool, one_process_each

# ----------------------------------------------------------------------------- constants
SEED = 18
WORKERS = 2
REQUIRED = ("next_tab", "previous_tab")
ENROLL_TAKES = [(1.0, 0), (0.95, 40), (1.06, -40)]  # (stretch, cents): the voice's own pace, a little varied
RERECORD_TAKES = [(0.98, 20), (1.03, -20)]  # what a user says again after a take's verdict asks for it
ENROLL_PAD_S = (0.2, 0.5)  # silence before and after an enrollment take
TEST_TAKES = [  # (condition, stretch, cents): other speed and pitch than enrollment
    ("clean", 0.82, 200),
    ("noisy", 1.2, -150),
    ("quiet", 1.1, 100),
]
QUIET_DB = -20.0
ROOM_SNR_DB = 10.0
REVERB = ["reverb", "50", "50", "80"]  # sox: reverberance %, HF damping %, room scale %
LEAD_S, TAIL_S = 1.0, 1.2  # around each streamed take (the detector needs the phrase inside its 1.5 s window)
FLOOR_DB = -66.0  # a quiet microphone's noise floor under every take
CHUNK_S = 0.1  # what the extension sends per audio_chunk
STREAM_S = {"full": 75.0, "small": 20.0}  # long stream per voice (18 voices: 22 min)
STREAM_FLOOR_DB = (-60.0, -45.0)
SIZES = {"full": dict(near_misses=None, sentences=None, embedded=True),
         "small": dict(near_misses=5, sentences=5, embedded=False)}
ALLISON_DIR = Path("/usr/share/asterisk/sounds/en_US_f_Allison")
ALLISON_TEXT = Path("/usr/share/doc/asterisk-core-sounds-en/core-sounds-en.txt.gz")
SONIC_PI_DIR = Path("/usr/share/sonic-pi/samples")
ROOM_SOUNDS = ("ambi_", "vinyl_", "loop_")  # sonic-pi samples used as a noisy room's background
EVAL_CACHE = CACHE_DIR / "enroll-eval"
# Imported once before the workers fork, so every voice is heard by the same host code even if the
# files change during a run (a handler imports some of them lazily).
HOST_MODULES = ("host.capabilities", "host.speech", "host.voice_stream", "host.voice_profile", "host.voice_matcher",
                "host.voice_takes", "host.voice_front_end", "host.voice_verifier", "host.speech_embedding", "host.audio",
                "host.store", "host.errors")
TARGETS = {"required_recall": 0.97, "all_six_recall": 0.95, "voice_min_recall": 0.90, "false_accepts": 0.02,
           "false_triggers_per_hour": 1.0, "enroll_p95_s": 1.0, "cpu_ms_per_s": 20.0, "command_p90_s": 0.3}


# ----------------------------------------------------------------------------- the plan
@dataclass(frozen=True)
class Item:
    kind: str            # enroll | rerecord | test | near_miss | sentence | embedded
    render: Render
    command: str | None  # what the voice says (None: not a command)
    condition: str = "natural"  # test takes: clean | noisy | quiet


def plan_voice(voice: EvalVoice, mode: str = "full") -> list[Item]:
    """Everything one voice says, in a fixed order (no randomness: the plan is the same every run)."""
    size = SIZES[mode]
    phrases = PHRASES[voice.language]
    items = []
    for command in COMMANDS:
        items += [Item("enroll", Render(voice, phrases[command], s, c), command) for s, c in ENROLL_TAKES]
        items += [Item("rerecord", Render(voice, phrases[command], s, c), command) for s, c in RERECORD_TAKES]
        items += [Item("test", Render(voice, phrases[command], s, c), command, cond) for cond, s, c in TEST_TAKES]
    items += [Item("near_miss", Render(voice, t), None) for t in NEAR_MISSES[voice.language][: size["near_misses"]]]
    items += [Item("sentence", Render(voice, t), None) for t in SENTENCES[voice.language][: size["sentences"]]]
    if size["embedded"]:
        items += [Item("embedded", Render(voice, t), command_in(t, voice.language))
                  for t in EMBEDDED.get(voice.language, [])]
    return items


def voice_seed(voice: EvalVoice) -> list[int]:
    return [SEED, int.from_bytes(voice.name.encode("utf-8")[:8].ljust(8, b"\0"), "little") % 2**32,
            len(voice.name)]


# ----------------------------------------------------------------------------- background material
def allison_prompts() -> list[tuple[Path, str]]:
    """Allison's asterisk prompts (real speech, many with "next", "previous", "back") without any
    that holds a command's words."""
    texts = {}
    if ALLISON_TEXT.exists():
        for line in gzip.open(ALLISON_TEXT, "rt", errors="replace"):
            if ":" in line and not line.startswith(";"):
                name, text = line.split(":", 1)
                texts[name.strip()] = text.strip()
    files = sorted(ALLISON_DIR.rglob("*.wav")) if ALLISON_DIR.is_dir() else []
    out = []
    for path in files:
        text = texts.get(str(path.relative_to(ALLISON_DIR).with_suffix("")), "")
        if command_in(text, "en") is None:
            out.append((path, text))
    return out


def background_material(workers: int) -> tuple[ClipBank, ClipBank]:
    """(Allison's prompts, sonic-pi samples) at 16 kHz, decoded once and cached."""
    banks = []
    for name, files in (("allison", allison_prompts()), ("sonic-pi", [(p, "") for p in sorted(SONIC_PI_DIR.glob("*.flac"))])):
        path = EVAL_CACHE / f"{name}.npz"
        if path.exists():
            banks.append(ClipBank.load(path))
            continue
        log.info("decoding %d %s files (once)", len(files), name)
        with fork_pool(workers) as pool:
            audio = list(pool.map(load_audio, [p for p, _ in files], chunksize=8))
        bank = ClipBank()
        for (p, text), a in zip(files, audio):
            if len(a) >= SAMPLE_RATE // 10:
                bank.add(a, name=p.name, text=text)
        path.parent.mkdir(parents=True, exist_ok=True)
        bank.save(path)
        banks.append(bank)
    return banks[0], banks[1]


# ----------------------------------------------------------------------------- audio conditions
def floor_noise(n: int, rng: np.random.Generator, db: float = FLOOR_DB) -> np.ndarray:
    return augment.colored_noise(n, rng, "pink") * augment.db_to_gain(db)


def sox_reverb(audio: np.ndarray) -> np.ndarray:
    proc = subprocess.run(["sox", "-V1", "-t", "f32", "-r", str(SAMPLE_RATE), "-c", "1", "-", "-t", "f32", "-",
                           *REVERB], input=np.asarray(audio, np.float32).tobytes(), capture_output=True, check=True)
    return np.frombuffer(proc.stdout, np.float32)[: len(audio)].copy()


def _noise_color(which: int) -> str:
    return ["brown", "pink"][which // 2 % 2]


def background_kind(which: int) -> str:
    """The noisy-room backgrounds in turn: a recording, brown noise, a recording, pink noise."""
    return "recording" if which % 2 == 0 else f"{_noise_color(which)} noise"


def room_noise(n: int, rng: np.random.Generator, sounds: list[np.ndarray], which: int) -> tuple[np.ndarray, str]:
    """A noisy room's background: a sonic-pi recording (ambience, vinyl, a music loop) or brown/pink noise."""
    if background_kind(which) == "recording" and sounds:
        index = int(rng.integers(len(sounds)))
        out = augment.crop_or_loop(sounds[index], n, rng)
        if augment.rms(out) > 1e-4:
            return out / augment.rms(out), "recording"
    color = _noise_color(which)  # also where a recording could not be used
    return augment.colored_noise(n, rng, color), f"{color} noise"


def enroll_audio(clip: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    lead, tail = (int(rng.uniform(*ENROLL_PAD_S) * SAMPLE_RATE) for _ in range(2))
    audio = np.concatenate([np.zeros(lead, np.float32), clip, np.zeros(tail, np.float32)])
    return audio + floor_noise(len(audio), rng)


def test_audio(clip: np.ndarray, condition: str, rng: np.random.Generator, room_sounds: list[np.ndarray],
               which: int = 0, room: str = "both") -> tuple[np.ndarray, str]:
    """lead + take + tail as the microphone hears it in `condition` (natural = clean); `room` says what
    a noisy room adds: both reverb and noise (the evaluation), or one of them (to tell which one costs)."""
    lead, tail = int(LEAD_S * SAMPLE_RATE), int(TAIL_S * SAMPLE_RATE)
    speech = np.concatenate([np.zeros(lead, np.float32), clip, np.zeros(tail, np.float32)])
    note = ""
    if condition == "quiet":
        speech = speech * augment.db_to_gain(QUIET_DB)
    if condition == "noisy":
        wet = sox_reverb(speech) if room in ("both", "reverb") else speech
        noise, note = room_noise(len(wet), rng, room_sounds, which)
        audio = (augment.mix_at_snr(wet, noise, ROOM_SNR_DB, augment.rms(clip)) if room in ("both", "noise")
                 else wet + floor_noise(len(wet), rng))
    else:
        audio = speech + floor_noise(len(speech), rng)
    peak = float(np.max(np.abs(audio)))
    return (audio * (0.98 / peak) if peak > 0.98 else audio).astype(np.float32), note


def long_stream(own: list[tuple[np.ndarray, str]], others: list[tuple[np.ndarray, str]],
                allison: list[tuple[np.ndarray, str]], sounds: list[tuple[np.ndarray, str]], seconds: float,
                rng: np.random.Generator) -> tuple[np.ndarray, dict, list]:
    """>= `seconds` of speech and sound without a command: Allison's prompts, other voices' and the
    voice's own sentences, sonic-pi samples, gaps, over a noise floor. Also (start s, end s, what)
    of every piece, to say what was playing when a false trigger fired."""
    pools = {"allison": allison, "other voices": others, "own sentences": own, "music and sounds": sounds}
    weights = {"allison": 0.35, "other voices": 0.25, "own sentences": 0.2, "music and sounds": 0.2}
    kinds = [k for k in pools if pools[k]]
    p = np.array([weights[k] for k in kinds]) / sum(weights[k] for k in kinds)
    pieces, content, segments, total = [], Counter(), [], 0
    while total < seconds * SAMPLE_RATE:
        kind = kinds[int(rng.choice(len(kinds), p=p))]
        audio, text = pools[kind][int(rng.integers(len(pools[kind])))]
        audio = audio[: 12 * SAMPLE_RATE]
        level_db = rng.uniform(-30, -14) if kind == "music and sounds" else rng.uniform(-26, -16)
        audio = audio * (augment.db_to_gain(level_db) / max(augment.rms(audio), 1e-6))
        gap = np.zeros(int(rng.uniform(0.3, 1.5) * SAMPLE_RATE), np.float32)
        pieces += [audio, gap]
        content[kind] += len(audio) / SAMPLE_RATE
        segments.append((total / SAMPLE_RATE, (total + len(audio)) / SAMPLE_RATE, f"{kind}: {text}"))
        total += len(audio) + len(gap)
    stream = np.concatenate(pieces).astype(np.float32)
    stream += floor_noise(len(stream), rng, rng.uniform(*STREAM_FLOOR_DB))
    peak = float(np.max(np.abs(stream)))
    if peak > 0.98:
        stream *= 0.98 / peak
    return stream, {k: round(v, 1) for k, v in content.items()}, segments


def playing(time_s: float, segments: list, window_s: float = 1.5) -> list[str]:
    """What the stream held in the 1.5 s before an event."""
    return [what for start, end, what in segments if start < time_s and end > time_s - window_s]


# ----------------------------------------------------------------------------- the host, in-process
def pcm16_b64(audio: np.ndarray) -> str:
    pcm = (np.clip(audio, -1.0, 1.0) * 32767.0).round().astype("<i2")
    return base64.b64encode(pcm.tobytes()).decode("ascii")


class Host:
    """TabSense's host handlers with a fresh data home: the messages the browser sends, in-process."""

    def __init__(self, home: Path):
        os.environ["TABSENSE_HOME"] = str(home)
        from host.capabilities import Capabilities, Session
        from host.store import ModelStore

        self.caps = Capabilities(ModelStore(home), num_threads=1)
        self.events: list[dict] = []
        self.session = Session(emit=self.events.append)
        self.streams = 0
        self.cpu_s = self.audio_s = 0.0
        self.first_answers: list[dict] = []

    @property
    def has_profiles(self) -> bool:
        return "enroll_take" in self.caps.table

    def enroll(self, command: str, audio: np.ndarray, replace: str | None = None) -> tuple[dict, float]:
        params = {"command": command, "audio": pcm16_b64(audio), "sample_rate": SAMPLE_RATE}
        if replace:
            params["replace"] = replace
        start = time.perf_counter()
        answer = self.caps.table["enroll_take"].handler(params)
        return answer, time.perf_counter() - start

    def profile_summary(self) -> dict:
        return self.caps.table["voice_profile"].handler({"action": "get"})

    def stream(self, audio: np.ndarray, commands: tuple[str, ...], allow_unblessed: bool) -> list[dict]:
        """Stream `audio` in 100 ms chunks as a new stream; its command events."""
        self.streams += 1
        name = f"s{self.streams}"
        step = int(CHUNK_S * SAMPLE_RATE)
        chunks = [pcm16_b64(audio[i: i + step]) for i in range(0, len(audio), step)]  # the browser's work
        base = {"stream": name, "sample_rate": SAMPLE_RATE, "commands": list(commands)}
        if allow_unblessed:
            base["allow_unblessed"] = True
        handler, stop = self.caps.table["audio_chunk"].handler, self.caps.table["stop_stream"].handler
        first = len(self.events)
        start = time.process_time()
        for i, chunk in enumerate(chunks):
            answer = handler({**base, "audio": chunk}, self.session)
            if i == 0 and len(self.first_answers) < 3:
                self.first_answers.append(answer)
        stop({"stream": name}, self.session)
        self.cpu_s += time.process_time() - start
        self.audio_s += len(audio) / SAMPLE_RATE
        return [e for e in self.events[first:] if e.get("event") == "command" and e.get("stream") == name]


# ----------------------------------------------------------------------------- one voice
_G: dict = {}  # shared with forked workers: background material and every voice's sentences


def enroll_voice(host: Host, voice: EvalVoice, plan: list[Item], rng: np.random.Generator) -> dict:
    """3 takes per command, as the enrollment page asks; a take whose verdict is not "ok" is said
    again (RERECORD_TAKES, replacing it) the way a user would, at once and again at the end (a later
    command's takes can change an earlier take's verdict: "too like another command")."""
    latencies, verdicts, messages, rerecords = [], Counter(), [], 0
    spares = {c: [i for i in plan if i.kind == "rerecord" and i.command == c] for c in COMMANDS}

    def say(command: str, item: Item, replace: str | None = None) -> dict:
        answer, seconds = host.enroll(command, enroll_audio(load(item.render), rng), replace)
        latencies.append(seconds)
        verdicts[answer.get("verdict")] += 1
        if answer.get("verdict") != "ok" and f"{command}: {answer.get('message')}" not in messages:
            messages.append(f"{command}: {answer.get('message')}")
        return answer

    for command in COMMANDS:
        for item in (i for i in plan if i.kind == "enroll" and i.command == command):
            answer = say(command, item)
            while answer.get("verdict") != "ok" and spares[command]:
                rerecords += 1
                answer = say(command, spares[command].pop(0), replace=answer.get("take"))
    profile = host.profile_summary()
    for command in COMMANDS:
        state = profile["commands"].get(command, {})
        for take in state.get("takes", []):
            if not state.get("ready") and take["verdict"] != "ok" and spares[command]:
                rerecords += 1
                say(command, spares[command].pop(0), replace=take["take"])
    profile = host.profile_summary()
    ready = {c: c in profile.get("ready_commands", []) for c in COMMANDS}
    for command in COMMANDS:
        if not ready[command]:
            bad = [t["message"] for t in profile["commands"].get(command, {}).get("takes", []) if t["verdict"] != "ok"]
            messages.append(f"{command} not ready: {'; '.join(bad)}")
    return {"latencies_s": latencies, "verdicts": dict(verdicts), "rerecords": rerecords, "ready": ready,
            "messages": messages[:12]}


def background_shift(voice: EvalVoice) -> int:
    """Where the alternation of noisy-room backgrounds (a recording, brown noise, a recording, pink
    noise, ...) starts for this voice's test takes. Without it the same commands always met a
    recording and the others always steady noise, and how hard a command is could not be told
    from how hard its background is."""
    return int(np.random.default_rng([*voice_seed(voice), 3]).integers(4))


def scored_items(plan: list[Item]) -> list[Item]:
    return [i for i in plan if i.kind in ("test", "near_miss", "sentence", "embedded")]


def score_takes(host: Host, voice: EvalVoice, plan: list[Item], allow_unblessed: bool) -> dict:
    rng = np.random.default_rng([*voice_seed(voice), 2])
    room = _G["room_sounds"]
    shift = background_shift(voice)
    takes, negatives, embedded = [], [], []
    for n, item in enumerate(scored_items(plan)):
        clip = load(item.render)
        audio, note = test_audio(clip, item.condition, rng, room, n + shift, _G.get("room", "both"))
        events = host.stream(audio, COMMANDS, allow_unblessed)
        fired = [e["command"] for e in events]
        row = {"text": item.render.text, "fired": fired}
        if item.kind == "test":
            wrong = [c for c in fired if c != item.command]
            hit = item.command in fired and not wrong
            takes.append({**row, "command": item.command, "condition": item.condition, "noise": note,
                          "hit": hit, "wrong": wrong,
                          "latency_s": command_latency(clip, events[fired.index(item.command)]) if hit else None})
        elif item.kind == "embedded":
            embedded.append({**row, "command": item.command, "detected": item.command in fired})
        else:
            negatives.append({**row, "kind": item.kind, "room": "as recorded", "false_accept": bool(fired)})
    # The same near misses and sentences said in a noisy room, where thresholds widen (after the
    # rest, with their own random stream, so the takes above hear the same rooms as without them).
    rng = np.random.default_rng([*voice_seed(voice), 4])
    for n, item in enumerate(i for i in plan if i.kind in ("near_miss", "sentence")):
        audio, _ = test_audio(load(item.render), "noisy", rng, room, n, _G.get("room", "both"))
        fired = [e["command"] for e in host.stream(audio, COMMANDS, allow_unblessed)]
        negatives.append({"text": item.render.text, "fired": fired, "kind": item.kind, "room": "noisy",
                          "false_accept": bool(fired)})
    return {"takes": takes, "negatives": negatives, "embedded": embedded}


def command_latency(clip: np.ndarray, event: dict) -> float:
    """Phrase end -> command, in stream time: the event's audio is complete when the 100 ms chunk
    holding its last sample arrives (the host's own time per chunk is the CPU measure)."""
    from host.voice_takes import inspect_take

    speech = inspect_take(clip).speech  # the product's own speech detector: (start, end) samples
    phrase_end = LEAD_S + (speech[1] if speech else len(clip)) / SAMPLE_RATE
    decided = np.ceil(round(event["time_s"] / CHUNK_S, 6)) * CHUNK_S
    return round(float(decided - phrase_end), 3)


def stream_voice(host: Host, stream: np.ndarray, segments: list, allow_unblessed: bool) -> dict:
    out = {}
    for label, commands in (("all_six", COMMANDS), ("next_previous", REQUIRED)):
        events = host.stream(stream, commands, allow_unblessed)
        out[label] = [{"command": e["command"], "time_s": e.get("time_s"), "score": e.get("score"),
                       "playing": playing(e.get("time_s", 0.0), segments)} for e in events]
    return out


def evaluate_voice(voice: EvalVoice, mode: str, profile: bool) -> dict:
    """Generic model first (fresh home, no profile), then enroll and the same audio with the profile."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    plan = plan_voice(voice, mode)
    rng = np.random.default_rng([*voice_seed(voice), 1])
    own = [(load(i.render), i.render.text) for i in plan if i.kind == "sentence"]
    others = [(load(r), f"{r.text} ({r.voice.name})") for r in _G["sentences"] if r.voice != voice]
    stream, content, segments = long_stream(own, others, _G["allison"], _G["sounds"], STREAM_S[mode], rng)
    result = {"voice": voice.name, "language": voice.language, "engine": voice.engine, "speaker": voice.speaker,
              "why_unseen": voice.why, "stream_s": round(len(stream) / SAMPLE_RATE, 1), "stream_content_s": content}
    started = time.time()
    with tempfile.TemporaryDirectory(prefix="tabsense-enroll-eval-") as home:
        host = Host(Path(home))
        result["generic"] = score_takes(host, voice, plan, allow_unblessed=True)
        result["generic"]["stream"] = stream_voice(host, stream, segments, allow_unblessed=True)
        result["generic"]["cpu_ms_per_s"] = round(1000 * host.cpu_s / host.audio_s, 2)
        result["generic"]["model"] = host.first_answers[0].get("model")
        if profile and host.has_profiles:
            host.cpu_s = host.audio_s = 0.0
            host.first_answers.clear()
            result["enroll"] = enroll_voice(host, voice, plan, np.random.default_rng([*voice_seed(voice), 3]))
            result["profile"] = score_takes(host, voice, plan, allow_unblessed=False)
            result["profile"]["stream"] = stream_voice(host, stream, segments, allow_unblessed=False)
            result["profile"]["cpu_ms_per_s"] = round(1000 * host.cpu_s / host.audio_s, 2)
            result["profile"]["model"] = host.first_answers[0].get("model")
            result["profile"]["answer"] = {k: v for k, v in host.first_answers[0].items() if k != "model"}
        elif profile:
            result["profile_missing"] = "the host has no enroll_take handler"
        else:
            result["profile_missing"] = "this run measured the generic model only (--no-profile)"
    result["seconds"] = round(time.time() - started, 1)
    return result


def _evaluate_task(args) -> dict:
    voice, mode, profile = args
    try:
        return evaluate_voice(voice, mode, profile)
    except Exception as exc:  # noqa: BLE001  (one voice's failure is reported with the others' results)
        log.exception("%s failed", voice.name)
        return {"voice": voice.name, "language": voice.language, "error": f"{type(exc).__name__}: {exc}"}


# ----------------------------------------------------------------------------- metrics
def rate(hits: int, n: int) -> float | None:
    return round(hits / n, 4) if n else None


def condition_metrics(cond: dict, stream_s: float) -> dict:
    takes = cond["takes"]
    negatives = [n for n in cond["negatives"] if n.get("room", "as recorded") == "as recorded"]
    noisy_room = [n for n in cond["negatives"] if n.get("room") == "noisy"]
    per_command = {c: rate(sum(t["hit"] for t in takes if t["command"] == c), sum(t["command"] == c for t in takes))
                   for c in COMMANDS}
    required = [t for t in takes if t["command"] in REQUIRED]
    by_condition = {k: rate(sum(t["hit"] for t in takes if t["condition"] == k), sum(t["condition"] == k for t in takes))
                    for k, _, _ in TEST_TAKES}
    missed = [f"{t['command']} ({t['condition']})" + (f" -> {'/'.join(t['wrong'])}" if t["wrong"] else "")
              for t in takes if not t["hit"]]
    fa = [n for n in negatives if n["false_accept"]]
    return {
        "recall": per_command,
        "required_recall": rate(sum(t["hit"] for t in required), len(required)),
        "all_six_recall": rate(sum(t["hit"] for t in takes), len(takes)),
        "recall_by_condition": by_condition,
        "confusions": sum(bool(t["wrong"]) for t in takes),
        "missed": missed,
        "near_miss_false_accepts": [sum(n["false_accept"] for n in negatives if n["kind"] == "near_miss"),
                                    sum(n["kind"] == "near_miss" for n in negatives)],
        "sentence_false_accepts": [sum(n["false_accept"] for n in negatives if n["kind"] == "sentence"),
                                   sum(n["kind"] == "sentence" for n in negatives)],
        "false_accept_rate": rate(len(fa), len(negatives)),
        "fired_on": [f"{n['text']} -> {'/'.join(n['fired'])}" for n in fa],
        "noisy_room_false_accepts": [sum(n["false_accept"] for n in noisy_room), len(noisy_room)],
        "noisy_room_fired_on": [f"{n['text']} -> {'/'.join(n['fired'])}" for n in noisy_room if n["false_accept"]],
        "embedded_detected": [sum(e["detected"] for e in cond["embedded"]), len(cond["embedded"])],
        "latencies_s": [t["latency_s"] for t in takes if t.get("latency_s") is not None],
        "stream_false_triggers": {k: len(v) for k, v in cond["stream"].items()},
        "stream_events": cond["stream"]["all_six"],
        "stream_s": stream_s,
        "cpu_ms_per_s": cond["cpu_ms_per_s"],
    }


def spread(values: list[float]) -> dict:
    v = np.array([x for x in values if x is not None], float)
    if not len(v):
        return {}
    return {"mean": round(float(v.mean()), 4), "std": round(float(v.std()), 4), "min": round(float(v.min()), 4),
            "max": round(float(v.max()), 4), "n": int(len(v))}


def overall(rows: list[dict], key: str) -> dict:
    """Mean and spread over voices, pooled counts, per-command recall pooled over voices."""
    ms = [r[key] for r in rows if key in r]
    if not ms:
        return {}
    hours = sum(m["stream_s"] for m in ms) / 3600
    neg = [sum(m["near_miss_false_accepts"][i] + m["sentence_false_accepts"][i] for m in ms) for i in (0, 1)]
    noisy = [sum(m.get("noisy_room_false_accepts", [0, 0])[i] for m in ms) for i in (0, 1)]
    out = {
        "voices": len(ms),
        "required_recall": spread([m["required_recall"] for m in ms]),
        "all_six_recall": spread([m["all_six_recall"] for m in ms]),
        "false_accept_rate": spread([m["false_accept_rate"] for m in ms]),
        "false_accepts_pooled": [neg[0], neg[1], rate(neg[0], neg[1])],
        "noisy_room_false_accepts_pooled": [noisy[0], noisy[1], rate(noisy[0], noisy[1])],
        "recall_by_command": {c: spread([m["recall"][c] for m in ms]) for c in COMMANDS},
        "recall_by_condition": {k: spread([m["recall_by_condition"][k] for m in ms]) for k, _, _ in TEST_TAKES},
        "confusions": sum(m["confusions"] for m in ms),
        "stream_hours": round(hours, 3),
        "false_triggers_per_hour": {k: round(sum(m["stream_false_triggers"][k] for m in ms) / hours, 2) if hours else None
                                    for k in ("all_six", "next_previous")},
        "false_triggers": {k: sum(m["stream_false_triggers"][k] for m in ms) for k in ("all_six", "next_previous")},
        "cpu_ms_per_s": spread([m["cpu_ms_per_s"] for m in ms]),
    }
    emb = [sum(m["embedded_detected"][i] for m in ms) for i in (0, 1)]
    out["embedded_detected"] = emb
    latencies = [s for m in ms for s in m.get("latencies_s", [])]
    out["command_latency_s"] = ({"p50": round(float(np.percentile(latencies, 50)), 3),
                                 "p90": round(float(np.percentile(latencies, 90)), 3),
                                 "max": round(float(max(latencies)), 3), "n": len(latencies)} if latencies else {})
    return out


def summarise(results: list[dict]) -> dict:
    rows = []
    for r in results:
        if "error" in r:
            rows.append(r)
            continue
        row = {k: r[k] for k in ("voice", "language", "engine", "speaker", "why_unseen", "stream_s", "seconds")}
        for key in ("generic", "profile"):
            if key in r:
                row[key] = condition_metrics(r[key], r["stream_s"])
        if "enroll" in r:
            e = r["enroll"]
            row["enroll"] = {"takes": len(e["latencies_s"]), "rerecords": e["rerecords"], "verdicts": e["verdicts"],
                             "ready": sum(e["ready"].values()), "not_ready": [c for c, ok in e["ready"].items() if not ok],
                             "p50_s": round(float(np.percentile(e["latencies_s"], 50)), 3),
                             "messages": e["messages"]}
        rows.append(row)
    ok = [r for r in rows if "error" not in r]
    english = [r for r in ok if r["language"] == "en"]
    latencies = [s for r in results if "enroll" in r for s in r["enroll"]["latencies_s"]]
    summary = {
        "voices": rows,
        "generic": {"all": overall(ok, "generic"), "english": overall(english, "generic")},
        "profile": {"all": overall(ok, "profile"), "english": overall(english, "profile")},
        "enroll_latency_s": ({"p50": round(float(np.percentile(latencies, 50)), 3),
                              "p95": round(float(np.percentile(latencies, 95)), 3),
                              "max": round(float(max(latencies)), 3), "n": len(latencies)} if latencies else {}),
        "profile_model": next((r["profile"].get("model") for r in results if "profile" in r), None),
        "profile_answer": next((r["profile"].get("answer") for r in results if "profile" in r), None),
        "generic_model": next((r["generic"].get("model") for r in results if "generic" in r), None),
        "failed_voices": [r["voice"] for r in rows if "error" in r],
        "profile_missing": next((r["profile_missing"] for r in results if "profile_missing" in r), None),
    }
    summary["checks"] = checks(summary)
    return summary


def checks(summary: dict) -> dict:
    out = {}
    for key in ("generic", "profile"):
        o = summary[key]["all"]
        if not o:
            continue
        c = {
            f"next/previous recall >= {TARGETS['required_recall']:.0%} (mean over voices)":
                o["required_recall"]["mean"] >= TARGETS["required_recall"],
            f"all six recall >= {TARGETS['all_six_recall']:.0%} (mean over voices)":
                o["all_six_recall"]["mean"] >= TARGETS["all_six_recall"],
            f"no voice below {TARGETS['voice_min_recall']:.0%} (all six)":
                o["all_six_recall"]["min"] >= TARGETS["voice_min_recall"],
            f"false accepts <= {TARGETS['false_accepts']:.0%} (pooled)":
                o["false_accepts_pooled"][2] <= TARGETS["false_accepts"],
            f"false accepts in a noisy room <= {TARGETS['false_accepts']:.0%} (pooled)":
                (o["noisy_room_false_accepts_pooled"][2] or 0.0) <= TARGETS["false_accepts"],
            f"false triggers per hour <= {TARGETS['false_triggers_per_hour']:g} (all six)":
                o["false_triggers_per_hour"]["all_six"] <= TARGETS["false_triggers_per_hour"],
            f"CPU per second of audio <= {TARGETS['cpu_ms_per_s']:g} ms (worst voice)":
                o["cpu_ms_per_s"]["max"] <= TARGETS["cpu_ms_per_s"],
        }
        if o.get("command_latency_s"):
            c[f"phrase end -> command p90 <= {1000 * TARGETS['command_p90_s']:.0f} ms"] = \
                o["command_latency_s"]["p90"] <= TARGETS["command_p90_s"]
        if key == "profile" and summary["enroll_latency_s"]:
            c[f"profile build (enroll_take) p95 <= {TARGETS['enroll_p95_s']:g} s"] = \
                summary["enroll_latency_s"]["p95"] <= TARGETS["enroll_p95_s"]
        out[key] = c
    return out


# ----------------------------------------------------------------------------- report
def pct(x) -> str:
    return "–" if x is None else f"{100 * x:.1f}%"


def mean_spread(s: dict) -> str:
    return "–" if not s else f"{pct(s['mean'])} ± {100 * s['std']:.1f} (min {pct(s['min'])})"


def frac(pair) -> str:
    return f"{pair[0]}/{pair[1]}"


def metric_table(summary: dict) -> list[str]:
    columns = [summary["generic"]["english"], summary["generic"]["all"], summary["profile"]["english"],
               summary["profile"]["all"]]
    lines = ["| metric | target | generic model, English voices | generic model, all voices | "
             "with the profile, English voices | with the profile, all voices |", "|---|---|---|---|---|---|"]

    def row(name, target, fn):
        vals = [fn(x) if x else "–" for x in columns]
        lines.append(f"| {name} | {target} | " + " | ".join(vals) + " |")

    row("voices", ">= 12", lambda o: str(o["voices"]))
    row("next/previous tab recall (mean ± std, worst voice)", ">= 97%", lambda o: mean_spread(o["required_recall"]))
    row("all six commands recall", ">= 95%, no voice < 90%", lambda o: mean_spread(o["all_six_recall"]))
    for k, _, _ in TEST_TAKES:
        row(f"  {k} takes recall", "", lambda o, k=k: mean_spread(o["recall_by_condition"][k]))
    row("takes answered with a wrong command", "", lambda o: str(o["confusions"]))
    row("false accepts, near misses + sentences (pooled)", "<= 2%",
        lambda o: f"{pct(o['false_accepts_pooled'][2])} ({o['false_accepts_pooled'][0]}/{o['false_accepts_pooled'][1]})")
    row("the same in a noisy room (pooled)", "<= 2%",
        lambda o: f"{pct(o['noisy_room_false_accepts_pooled'][2])} ({o['noisy_room_false_accepts_pooled'][0]}/"
                  f"{o['noisy_room_false_accepts_pooled'][1]})")
    row("false triggers per hour, all six enabled", "<= 1",
        lambda o: f"{o['false_triggers_per_hour']['all_six']} ({o['false_triggers']['all_six']} in {60 * o['stream_hours']:.1f} min)")
    row("false triggers per hour, next/previous only", "<= 1",
        lambda o: f"{o['false_triggers_per_hour']['next_previous']} ({o['false_triggers']['next_previous']})")
    row("CPU per second of audio (mean, worst voice)", "<= 20 ms",
        lambda o: f"{o['cpu_ms_per_s']['mean']:.1f} / {o['cpu_ms_per_s']['max']:.1f} ms")
    row("phrase end -> command p50 / p90 (heard takes)", "p90 <= 300 ms",
        lambda o: (f"{1000 * o['command_latency_s']['p50']:.0f} / {1000 * o['command_latency_s']['p90']:.0f} ms "
                   f"({o['command_latency_s']['n']})") if o.get("command_latency_s") else "–")
    row("command words inside a longer phrase detected (info)", "", lambda o: frac(o["embedded_detected"]))
    lat = summary["enroll_latency_s"]
    lines.append("| profile build: enroll_take latency p50 / p95 | <= 1 s | | | | "
                 + (f"{1000 * lat['p50']:.0f} / {1000 * lat['p95']:.0f} ms ({lat['n']} takes)" if lat else "–") + " |")
    return lines


def voice_table(summary: dict, key: str) -> list[str]:
    lines = ["| voice | lang | next/prev | all six | clean / noisy / quiet | near misses fired | sentences fired | "
             "both in a noisy room | stream false triggers (six / next-prev) | CPU ms/s | missed |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in summary["voices"]:
        if "error" in r:
            lines.append(f"| {r['voice']} | {r['language']} | failed: {r['error']} | | | | | | | | |")
            continue
        m = r.get(key)
        if not m:
            continue
        bc = m["recall_by_condition"]
        lines.append(
            f"| {r['voice']} | {r['language']} | {pct(m['required_recall'])} | {pct(m['all_six_recall'])} | "
            f"{pct(bc['clean'])} / {pct(bc['noisy'])} / {pct(bc['quiet'])} | {frac(m['near_miss_false_accepts'])} | "
            f"{frac(m['sentence_false_accepts'])} | {frac(m['noisy_room_false_accepts'])} | "
            f"{m['stream_false_triggers']['all_six']} / "
            f"{m['stream_false_triggers']['next_previous']} in {m['stream_s'] / 60:.1f} min | {m['cpu_ms_per_s']:.1f} | "
            f"{missed_text(m['missed'])} |")
    return lines


def missed_text(missed: list[str], shown: int = 6) -> str:
    if not missed:
        return "–"
    more = f" and {len(missed) - shown} more" if len(missed) > shown else ""
    return ", ".join(missed[:shown]) + more


def host_revision() -> str:
    """The commit the host's code comes from (and whether host/ differs from it)."""
    from .common import REPO_ROOT

    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True,
                              check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "host"], cwd=REPO_ROOT, capture_output=True,
                               text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + (" with uncommitted changes in host/" if dirty else "")


def write_report(summary: dict, out: Path, command: str, runtime_s: float) -> None:
    lines = [
        "# Voice commands on unseen voices: the generic keyword model vs the personal profile",
        "",
        f"Produced by `{command}` (models/speech/enroll_eval.py) in {runtime_s / 60:.1f} min on 2 shared cores "
        f"({summary['utterances']['rendered_now']} of its {summary['utterances']['all']} utterances rendered in this run, "
        "the rest from models/speech/.cache/enroll-eval; rendering them all, mostly Kokoro, takes 5-15 min).",
        "Every number comes from the host's own message handlers, in-process, one fresh `TABSENSE_HOME` per voice:",
        "`audio_chunk` / `stop_stream` in 100 ms chunks (what the extension sends) and `enroll_take`.",
        "Each voice enrolls 3 takes per command at its own pace (0.2-0.5 s of silence around them; a take whose verdict "
        "is not `ok` is said again, replacing it). Its 3 test takes per command are at another speed and pitch: "
        f"one clean, one in a noisy room (sox `{' '.join(REVERB)}`, then a sonic-pi recording or brown/pink noise at "
        f"{ROOM_SNR_DB:g} dB SNR, in turn from a point drawn per voice, so every command meets both), "
        f"one quiet ({QUIET_DB:g} dB), each streamed alone with {LEAD_S:g} s before and "
        f"{TAIL_S:g} s after (speed and pitch: " + "; ".join(f"{k} {1 / st:.2f}x {c:+d} cents" for k, st, c in TEST_TAKES)
        + "; enrollment " + ", ".join(f"{1 / st:.2f}x {c:+d} cents" for st, c in ENROLL_TAKES) + "). "
        "A hit is the right command and no other; any command on a near miss or sentence is a false accept. "
        "The near misses and sentences are streamed as recorded and again in a noisy room, as the noisy takes are. "
        "Phrases that hold a command's exact words (\"go back home\", \"reload the dishwasher\", \"new tab? no\") are "
        "positives under TabSense's labelling policy: they are counted apart, for information, never as false accepts. "
        "The long stream per voice mixes Allison's telephone prompts, the other voices' sentences, "
        "its own sentences, sonic-pi music and ambience and gaps over a noise floor.",
        "",
    ]
    if summary.get("room", "both") != "both":
        lines += [f"**Ablation**: the noisy-room takes get only the {summary['room']} (`--room {summary['room']}`).", ""]
    if summary.get("profile_missing"):
        lines += [f"**These are the generic keyword model's numbers only**: {summary['profile_missing']}, so the "
                  "profile columns are empty.", ""]
    gm = summary.get("generic_model") or {}
    lines += [f"Host code: commit {summary['host_revision']}.", ""]
    lines += [f"Generic model: {gm.get('name')} v{gm.get('version')} (sensitivity {gm.get('sensitivity')}, "
              f"blessed: {gm.get('blessed')}; asked with `allow_unblessed`)."]
    if summary.get("profile_model") is not None or summary.get("profile_answer"):
        lines += [f"With the profile, the stream's first answer: {json.dumps(summary.get('profile_answer'))}, "
                  f"model {json.dumps(summary.get('profile_model'))} (no `allow_unblessed`)."]
    lines += ["", "## Targets vs measured", ""] + metric_table(summary) + [""]
    for key, name in (("generic", "generic model"), ("profile", "with the profile")):
        if summary["checks"].get(key):
            met = ", ".join(f"{k}: {'yes' if v else 'NO'}" for k, v in summary["checks"][key].items())
            lines += [f"Targets met, {name}: {met}.", ""]
    for key, name in (("generic", "Generic keyword model"), ("profile", "With the personal profile")):
        o = summary[key]["all"]
        if not o:
            continue
        lines += [f"## {name}: per voice", ""] + voice_table(summary, key) + [""]
        lines += ["Recall per command (mean ± std over voices, worst voice): " +
                  "; ".join(f"{c} {mean_spread(o['recall_by_command'][c])}" for c in COMMANDS) + ".", ""]
        fired = Counter(f for r in summary["voices"] if key in r for f in r[key]["fired_on"])
        if fired:
            lines += ["Near misses and sentences that fired: " + ", ".join(f"{k} ({v})" for k, v in fired.most_common(30))
                      + ".", ""]
        noisy = Counter(f for r in summary["voices"] if key in r for f in r[key].get("noisy_room_fired_on", []))
        if noisy:
            lines += ["The same in a noisy room: " + ", ".join(f"{k} ({v})" for k, v in noisy.most_common(30)) + ".", ""]
        triggers = [f"{e['command']} ({r['voice']}, during {' + '.join(e['playing']) or 'a gap'})"
                    for r in summary["voices"] if key in r for e in r[key]["stream_events"]]
        if triggers:
            lines += ["False triggers on the long streams (all six enabled): " + "; ".join(triggers) + ".", ""]
    enrolled = [r for r in summary["voices"] if "enroll" in r]
    if enrolled:
        lines += ["## Enrollment", "", "| voice | takes sent | said again | verdicts | commands ready | enroll_take p50 | "
                  "messages |", "|---|---|---|---|---|---|---|"]
        for r in enrolled:
            e = r["enroll"]
            lines.append(f"| {r['voice']} | {e['takes']} | {e['rerecords']} | {json.dumps(e['verdicts'])} | {e['ready']}/6"
                         f"{' (not: ' + ', '.join(e['not_ready']) + ')' if e['not_ready'] else ''} | "
                         f"{1000 * e['p50_s']:.0f} ms | {'; '.join(e['messages'][:3]) or '–'} |")
        lines += [""]
    lines += ["## The voices and why the keyword model never trained on them", "",
              "The keyword model's training speakers are read from docs/speech/report.json (`data.speakers.train`) "
              "and no evaluation voice is one of them (checked on every run). MBROLA and SVOX pico voices are never used.",
              "", "| voice | language | speaker identity | why unseen |", "|---|---|---|---|"]
    for r in summary["voices"]:
        if "error" not in r:
            lines.append(f"| {r['voice']} | {r['language']} | {r['speaker']} | {r['why_unseen']} |")
    lines += ["", "Phrases taught by the voices that speak another language: " +
              "; ".join(f"{lang}: " + ", ".join(f"{c} \"{t}\"" for c, t in PHRASES[lang].items())
                        for lang in ("de", "fr", "es")) + ".", ""]
    if summary["failed_voices"]:
        lines += [f"Voices that failed: {', '.join(summary['failed_voices'])}.", ""]
    out.mkdir(parents=True, exist_ok=True)
    (out / "enrollment.md").write_text("\n".join(lines), "utf-8")
    save_json(out / "enrollment.json", {"command": command, "seed": SEED, "runtime_s": round(runtime_s, 1),
                                        "targets": TARGETS, **summary})


def print_table(summary: dict) -> None:
    print("\n".join(metric_table(summary)))
    for key in ("generic", "profile"):
        if summary["checks"].get(key):
            print(f"{key}: " + ", ".join(f"{k}: {'yes' if v else 'NO'}" for k, v in summary["checks"][key].items()))


# ----------------------------------------------------------------------------- main
def render_plans(voices: list[EvalVoice], mode: str, workers: int) -> tuple[int, int]:
    """Render every utterance not cached yet; (all, rendered now)."""
    jobs = list(dict.fromkeys(i.render for v in voices for i in plan_voice(v, mode)))
    todo = [j for j in jobs if not j.path.exists()]
    log.info("rendering %d utterances (%d cached)", len(todo), len(jobs) - len(todo))
    # the neural voices first: they are the slow ones, so both workers stay busy to the end
    todo.sort(key=lambda j: j.voice.engine not in ("kokoro", "piper"))
    failed = []
    started = time.time()
    with fork_pool(workers) as pool:
        for n, (job, error) in enumerate(pool.map(render, todo, chunksize=2), 1):
            if error:
                failed.append((job, error))
            if n % 100 == 0 or n == len(todo):
                log.info("rendered %d/%d (%.0f s)", n, len(todo), time.time() - started)
    if failed:
        raise RuntimeError(f"{len(failed)} renders failed, e.g. {failed[0][0].voice.name} {failed[0][0].text!r}: "
                           f"{failed[0][1]}")
    return len(jobs), len(todo)


def import_host() -> None:
    import importlib

    for name in HOST_MODULES:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:  # a module of the host that exists but cannot be imported is an error
                raise
            log.info("%s is not in this host", name)


def run(voices: list[EvalVoice], mode: str = "full", workers: int = WORKERS, profile: bool = True,
        out: Path | None = None, command: str = "", room: str = "both") -> dict:
    started = time.time()
    revision = host_revision()
    import_host()
    check_unseen(voices, training_speakers())
    missing = [v.name for v in voices if not available(v)]
    if missing:
        log.warning("skipping %s: pip install -e '.[speech-eval]' for Piper and Kokoro", ", ".join(missing))
        voices = [v for v in voices if available(v)]
    utterances, rendered = render_plans(voices, mode, workers)
    allison, sonic = background_material(workers)
    _G.update(room=room, allison=[(a, m["text"] or m["name"]) for a, m in allison.items()],
              sounds=[(a, m["name"]) for a, m in sonic.items()],
              room_sounds=[a for a, m in sonic.items() if m["name"].startswith(ROOM_SOUNDS)],
              sentences=[i.render for v in voices for i in plan_voice(v, mode) if i.kind == "sentence"])
    results = []
    for (voice, _, _), finished in one_process_each(_evaluate_task, [(v, mode, profile) for v in voices], workers):
        try:
            result = finished.result()
        except BrokenProcessPool:  # a crash in native code or the out-of-memory killer: the other voices go on
            result = {"voice": voice.name, "language": voice.language,
                      "error": "its worker process died (run this voice alone to see why)"}
        results.append(result)
        if "error" in result:
            log.error("%s: %s", result["voice"], result["error"])
        else:
            m = condition_metrics(result["generic"], result["stream_s"])
            text = f"generic next/prev {pct(m['required_recall'])} all six {pct(m['all_six_recall'])}"
            if "profile" in result:
                m = condition_metrics(result["profile"], result["stream_s"])
                text += f"; profile next/prev {pct(m['required_recall'])} all six {pct(m['all_six_recall'])}"
            log.info("[%d/%d] %s: %s (%.0f s)", len(results), len(voices), result["voice"], text, result["seconds"])
    order = {v.name: i for i, v in enumerate(voices)}
    results.sort(key=lambda r: order[r["voice"]])
    summary = summarise(results)
    summary["utterances"] = {"all": utterances, "rendered_now": rendered}
    summary["host_revision"] = revision
    summary["room"] = room
    runtime = time.time() - started
    if out is not None:
        write_report(summary, out, command, runtime)
        log.info("wrote %s and %s", out / "enrollment.md", out / "enrollment.json")
    summary["runtime_s"] = round(runtime, 1)
    return summary


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--voices", help="comma-separated voice names or slugs (default: all)")
    parser.add_argument("--small", action="store_true", help="fewer near misses and sentences, a short stream")
    parser.add_argument("--no-profile", action="store_true", help="the generic keyword model only")
    parser.add_argument("--workers", type=int, default=WORKERS)
    parser.add_argument("--room", choices=["both", "reverb", "noise"], default="both",
                        help="what the noisy-room takes get (an ablation: reverb or noise alone)")
    parser.add_argument("--seed", type=int, default=SEED,
                        help=f"noise, room and stream draws (default {SEED}; the utterances stay the same)")
    parser.add_argument("--out", type=Path, help="where the report goes (default: docs/speech for the full run, "
                                                 "else models/speech/.cache/enroll-eval/report)")
    args = parser.parse_args(argv)
    sys.modules[__name__].SEED = args.seed  # read by voice_seed() here and in the forked workers
    setup_logging()
    voices = find(args.voices.split(",")) if args.voices else VOICES
    full = not args.voices and not args.small and args.room == "both" and args.seed == parser.get_default("seed")
    out = args.out or (DOCS_DIR if full else EVAL_CACHE / "report")
    command = ".venv/bin/python -m models.speech.enroll_eval" + (" " + " ".join(argv if argv is not None else sys.argv[1:])
                                                                 if (argv if argv is not None else sys.argv[1:]) else "")
    summary = run(voices, "small" if args.small else "full", args.workers, not args.no_profile, out, command, args.room)
    print_table(summary)
    print(f"enroll_eval: {len(voices)} voices, {summary['runtime_s'] / 60:.1f} min; report in {out}")


if __name__ == "__main__":
    main()
