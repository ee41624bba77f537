"""The user's personal voice profile: takes on disk, verdicts, and the matcher built from them.

Layout under `$TABSENSE_HOME/voice/profile/`:

    manifest.json                      the takes of each command, their verdicts, the front end's version
    takes/<command>/<take>.wav         16 kHz mono 16-bit, as said (nothing ever leaves the machine)
    features/<front end>-<version>-<room versions>/<sha256>.npz
                                       derived: the take's embeddings, clean and in a room / noise
    features/speech_embedding-<version>-<verifier versions>/<sha256>.npz
                                       derived: more random rooms, noises and speeds (the verifier's,
                                       which reads the speech_embedding part of the vectors alone)

Every write goes to a temporary file first and is renamed into place, and the manifest is
written last: a crash mid-enrollment leaves the previous profile as it was. Features are a
cache keyed by the take's sha256 and the front end's version: a new front end rebuilds them
from the takes, and the old ones are deleted. A manifest edited by hand or truncated is
reported (`problems`) and never crashes the host: takes that do not check out are left out of
the matcher.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import secrets
import shutil
import threading
import time
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from .audio import AudioTooLong
from .errors import InvalidRequest, TabSenseError
from .files import atomic_write
from .speech_embedding import MIN_SAMPLES, STEP_SAMPLES
from .speech_params import COMMANDS, PHRASES
from .voice_front_end import VoiceFrontEnd
from .voice_matcher import THRESHOLD_CEILING, Calibration, PairCosts, SequenceSearch, TemplateBank, calibrate
from .voice_takes import (MAX_TAKE_S, MESSAGES, QUERY_VERSIONS_ID, RATE, VERSIONS_ID, after_quiet, as_heard_live,
                          inspect_take, room_versions, speech_clip)
from . import voice_verifier
from .voice_verifier import GenericSpeech, Verifier, verifier_versions

log = logging.getLogger(__name__)

SCHEMA = 1
TAKES_NEEDED = 3
MAX_TAKES = 6  # per command: replace or remove one to record more
# A take this far from all the command's other takes is not the same phrase. Judged as heard
# live (`as_heard_live`), the same phrase reaches at most 0.094 (1,080 takes of 30 unseen voices,
# two seeds; 99th percentile 0.07) and another command's takes are from 0.08 (median 0.19).
# Judged by its own template instead, a take said as the recording started reached 0.25.
UNLIKE_COST = 0.12
LIKE_OTHER_COST = 0.05  # a first take this close to another command's takes would be confused with it
# A template is at least 4 embedding vectors (1.0 s of audio): a one-word command then has a
# shape in time, not one vector that matches a syllable inside other words. Chosen on the
# development voices over three seeds (docs/speech/experiments.md).
TEMPLATE_SAMPLES = MIN_SAMPLES + 3 * STEP_SAMPLES
# Before a command is served, its templates are matched against the bundled everyday speech
# (voice_negatives: 1.24 s stretches of many voices, languages, rooms and noises). A phrase that
# matches at least SPEECH_HELD of them at its calibrated threshold is held back (not served):
# it would fire in conversation. Otherwise its threshold is kept just under the closest stretch
# (development voices: none is closer than 1.04x a calibrated threshold, so this only ever
# tightens an unusual profile).
SPEECH_HELD = 0.005  # 1 in 200 stretches: in conversation, a false switch every ~16 s
SPEECH_MARGIN = 0.99
HELD_MESSAGE = ("{phrase} as you taught it matches everyday speech too often: it would switch tabs while you "
                "talk. Teach a longer or more distinctive phrase (two or three words), then record its takes again.")


class ProfileError(TabSenseError):
    code = "voice_profile"
    default_message = "The voice profile cannot be used."


def wav_bytes(audio16k: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes((np.clip(audio16k, -1, 1) * 32767).astype("<i2").tobytes())
    return buffer.getvalue()


def _read_wav16(path: Path) -> np.ndarray:
    with wave.open(str(path), "rb") as wav:
        if wav.getframerate() != RATE or wav.getnchannels() != 1 or wav.getsampwidth() != 2:
            raise ValueError("not 16 kHz mono 16-bit")
        return np.frombuffer(wav.readframes(wav.getnframes()), "<i2").astype(np.float32) / 32768.0


def command_label(command: str) -> str:
    return f"“{PHRASES.get(command, command)}”"


@dataclass
class Matcher:
    """What a stream needs: the templates of the ready commands, their thresholds and the
    verifier for near matches (None without the bundled generic speech)."""

    id: str
    bank: TemplateBank
    calibration: Calibration
    verifier: Verifier | None = None

    @property
    def commands(self) -> list[str]:
        return self.bank.commands


class VoiceProfile:
    """One user's profile in one data home. All methods are thread-safe."""

    def __init__(self, home: Path, embedder: Callable[[], VoiceFrontEnd],
                 generic_speech: Callable[[], GenericSpeech | None] = lambda: None):
        self.root = Path(home) / "voice" / "profile"
        self._embedder = embedder  # loaded on first need: hosts without a profile never pay for it
        self._generic_speech = generic_speech  # the verifier's negatives; None: no verifier
        self._lock = threading.RLock()
        self._matcher: Matcher | None = None
        self._matcher_key: str | None = None
        # Features read or made this session (a take's sha256 fixes them): no re-reading per take.
        self._recent_features: dict[Path, list[np.ndarray]] = {}
        self._pairs = PairCosts()  # costs between takes this session: a new take adds only its own
        self._everyday: tuple[GenericSpeech, SequenceSearch] | None = None  # the check's search, per bundle
        self.problems: list[str] = []

    # --- manifest -----------------------------------------------------------------------

    @property
    def manifest_path(self) -> Path:
        return self.root / "manifest.json"

    def _empty(self) -> dict:
        embedder = self._embedder()
        return {"schema": SCHEMA, "base": {"name": embedder.name, "version": embedder.version},
                "commands": {}, "updated": None}

    def _load(self) -> dict:
        """The manifest as far as it checks out; what does not is put in `problems`."""
        self.problems = []
        if not self.manifest_path.exists():
            return {"schema": SCHEMA, "base": None, "commands": {}, "updated": None}
        try:
            manifest = json.loads(self.manifest_path.read_text("utf-8"))
            if not isinstance(manifest, dict) or manifest.get("schema") != SCHEMA:
                raise ValueError("unknown schema")
            commands = manifest.get("commands")
            if not isinstance(commands, dict):
                raise ValueError("no commands")
        except (OSError, ValueError, UnicodeDecodeError) as exc:
            self.problems.append(f"The voice profile's manifest ({self.manifest_path}) cannot be read ({exc}); "
                                 "fix: tabsense enroll --reset, then teach your commands again.")
            return {"schema": SCHEMA, "base": None, "commands": {}, "updated": None, "damaged": True}
        clean = {}
        for command, takes in commands.items():
            if command not in COMMANDS or not isinstance(takes, list):
                self.problems.append(f"The voice profile names an unknown command {command!r}; it is ignored.")
                continue
            kept = []
            for take in takes:
                path = self.root / "takes" / command / f"{take.get('take')}.wav" if isinstance(take, dict) else None
                if path is None or not isinstance(take.get("sha256"), str) or not path.is_file():
                    self.problems.append(f"A take of {command} is missing from the voice profile; record it again.")
                    continue
                if hashlib.sha256(path.read_bytes()).hexdigest() != take["sha256"]:
                    self.problems.append(f"The take {path} was changed or damaged; record it again.")
                    continue
                kept.append(take)
            clean[command] = kept
        manifest["commands"] = clean
        return manifest

    def _save(self, manifest: dict) -> None:
        manifest["updated"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        atomic_write(self.manifest_path, json.dumps(manifest, indent=1).encode())

    # --- features -----------------------------------------------------------------------

    def _features(self, take: dict, command: str, versions=room_versions, versions_id: str = VERSIONS_ID,
                  speech_only: bool = False) -> list[np.ndarray]:
        """The take's embedding sequences in `versions` (by default the enrollment rooms: clean,
        then room and noise versions), cached on disk and for this session. `speech_only`: the
        speech_embedding part alone (all the verifier reads)."""
        embedder = self._model(speech_only)
        folder = self._feature_folder(versions_id, speech_only)
        path = folder / f"{take['sha256']}.npz"
        if path in self._recent_features and path.exists():
            return self._recent_features[path]
        if path.exists():
            try:
                with np.load(path) as saved:
                    vectors = [saved[f"v{i}"] for i in range(len(saved.files))]
                self._recent_features[path] = vectors
                return vectors
            except (OSError, ValueError, KeyError):
                log.warning("recomputing damaged voice features %s", path)
        if not folder.exists():
            self._drop_stale_features()
        audio = _read_wav16(self.root / "takes" / command / f"{take['take']}.wav")
        audio, speech = after_quiet(audio, inspect_take(audio))
        clip = speech_clip(audio, speech, TEMPLATE_SAMPLES)
        vectors = [embedder.embed(version) for version in versions(clip)]
        buffer = io.BytesIO()
        np.savez(buffer, **{f"v{i}": v for i, v in enumerate(vectors)})
        atomic_write(path, buffer.getvalue())
        self._recent_features[path] = vectors
        return vectors

    def _take_name(self, command: str, take: dict) -> str:
        """Names a take's features for the remembered costs (PairCosts): its front end, command,
        take and content."""
        return f"{self._feature_folder(VERSIONS_ID).name}/{command}/{take['take']}/{take['sha256']}"

    def _model(self, speech_only: bool):
        """What makes the features: the front end, or its speech_embedding alone."""
        return self._embedder().speech if speech_only else self._embedder()

    def _feature_folder(self, versions_id: str, speech_only: bool = False) -> Path:
        embedder = self._model(speech_only)
        return self.root / "features" / f"{embedder.name}-{embedder.version}-{versions_id}"

    def _drop_stale_features(self) -> None:
        """Feature folders of an older front end or set of versions are never read again (the
        current ones are rebuilt from the takes): delete them, as a new set is first written."""
        current = {self._feature_folder(VERSIONS_ID), self._feature_folder(QUERY_VERSIONS_ID),
                   self._feature_folder(voice_verifier.VERSIONS_ID, speech_only=True)}
        for folder in (self.root / "features").glob("*"):
            if folder.is_dir() and folder not in current:
                log.info("deleting voice features of an older version: %s", folder)
                shutil.rmtree(folder, ignore_errors=True)

    # --- verdicts -----------------------------------------------------------------------

    def _judge(self, manifest: dict) -> dict[str, dict[str, list[np.ndarray]]]:
        """Re-judge every take whose signal was fine against the others; the usable takes'
        features per command, by take name (`_take_name`: what remembered costs are kept under)."""
        embedder = self._embedder()
        base = {"name": embedder.name, "version": embedder.version}
        if manifest.get("base") not in (None, base):
            # Made with another front end: the features below are made again from the takes.
            log.info("voice profile of %s is rebuilt for %s", manifest["base"], base)
            manifest["base"] = base
        features = {c: {t["take"]: self._features(t, c) for t in takes if t.get("signal") == "ok"}
                    for c, takes in manifest["commands"].items()}
        # Each take is judged as a live stream would hear it (with the room's quiet before it)
        # against the other takes' templates.
        heard = {c: {t["take"]: self._features(t, c, as_heard_live, QUERY_VERSIONS_ID)[0]
                     for t in takes if t.get("signal") == "ok"} for c, takes in manifest["commands"].items()}
        names = {c: {t["take"]: self._take_name(c, t) for t in takes} for c, takes in manifest["commands"].items()}

        def lowest(command: str, take: dict, templates: dict) -> float:
            query = heard[command][take["take"]]
            return self._pairs.lowest_of_all((names[command][take["take"]], "heard"), query, templates)

        # Same phrase? Each take against the command's other takes.
        for command, takes in manifest["commands"].items():
            for take in takes:
                take.pop("cost_own", None)
                take.pop("like", None)
                if take.get("signal") != "ok":
                    take["verdict"] = take.get("signal")
                    continue
                others = {names[command][name]: v for name, v in features[command].items() if name != take["take"]}
                take["verdict"] = "ok"
                if others:
                    cost = lowest(command, take, others)
                    take["cost_own"] = round(cost, 5)
                    if cost > UNLIKE_COST:
                        take["verdict"] = "unlike_others"
        # Too like another command? A take is flagged when it sounds more like another command's
        # consistent takes than like its own (or, with no other take of its own yet, closer to
        # them than LIKE_OTHER_COST): one odd take never un-readies the other command's good ones.
        usable = {c: {names[c][t["take"]]: features[c][t["take"]] for t in takes if t["verdict"] == "ok"}
                  for c, takes in manifest["commands"].items()}
        flagged = []
        for command, takes in manifest["commands"].items():
            for take in takes:
                if take["verdict"] not in ("ok", "unlike_others"):  # unlike its own may be like another
                    continue
                own_cost = take.get("cost_own", np.inf)
                for other, other_takes in usable.items():
                    if other == command or not other_takes:
                        continue
                    cost = lowest(command, take, other_takes)
                    closer_to_other = take["verdict"] == "ok" and np.isfinite(own_cost) and cost < own_cost
                    if cost < min(own_cost, LIKE_OTHER_COST) or closer_to_other:
                        flagged.append((take, other))
                        break
        for take, other in flagged:
            take["verdict"], take["like"] = "like_other_command", other
        for command, takes in manifest["commands"].items():
            for take in takes:
                take["message"] = MESSAGES[take["verdict"]].format(
                    phrase=command_label(command), other=command_label(take.get("like", "")))
        return {c: {names[c][t["take"]]: features[c][t["take"]] for t in takes if t["verdict"] == "ok"}
                for c, takes in manifest["commands"].items()}

    # --- public -------------------------------------------------------------------------

    def enroll(self, command: str, audio16k: np.ndarray, replace: str | None = None) -> dict:
        """Add (or replace) one take and answer its verdict; the profile is rebuilt."""
        if command not in COMMANDS:
            raise InvalidRequest(f"Unknown command {command!r}; the commands are {', '.join(COMMANDS)}.")
        if len(audio16k) > MAX_TAKE_S * RATE:
            raise AudioTooLong(f"A take may last at most {MAX_TAKE_S:.0f} seconds: say the command once.")
        with self._lock:
            manifest = self._load()
            if manifest.get("damaged"):
                raise ProfileError(self.problems[0])
            if manifest.get("base") is None:
                manifest.update(self._empty())
            takes = manifest["commands"].setdefault(command, [])
            if replace is not None and not any(t["take"] == replace for t in takes):
                raise InvalidRequest(f"There is no take {replace!r} of {command} to replace.")
            if replace is None and len(takes) >= MAX_TAKES:
                raise InvalidRequest(f"{command} already has {MAX_TAKES} takes: replace or remove one first.")
            signal = inspect_take(audio16k)
            data = wav_bytes(audio16k)
            take_id = secrets.token_hex(4)
            atomic_write(self.root / "takes" / command / f"{take_id}.wav", data)
            entry = {"take": take_id, "sha256": hashlib.sha256(data).hexdigest(),
                     "seconds": round(len(audio16k) / RATE, 3), "signal": signal.verdict}
            if replace is not None:
                index = next(i for i, t in enumerate(takes) if t["take"] == replace)
                takes[index] = entry
            else:
                takes.append(entry)
            usable = self._judge(manifest)
            everyday = self._everyday_speech()
            if entry["verdict"] == "ok" and everyday is not None:
                # Now, not all at once when the command is ready.
                self._verifier_features(entry, command)
                everyday.bound(self._take_name(command, entry), self._features(entry, command))
            # Built now, while the user reads the verdict, not when voice starts.
            self._build_and_save(manifest, usable)
            if replace is not None:
                (self.root / "takes" / command / f"{replace}.wav").unlink(missing_ok=True)
            summary = self._summary(manifest)
            return {"command": command, "take": take_id, "verdict": entry["verdict"], "message": entry["message"],
                    "command_ready": summary["commands"][command]["ready"],
                    "check": summary["commands"][command].get("check"),
                    "command_message": summary["commands"][command].get("message", ""),
                    "takes": summary["commands"][command]["takes"], "ready_commands": summary["ready_commands"],
                    "profile": summary["id"]}

    def remove_take(self, command: str, take: str) -> dict:
        with self._lock:
            manifest = self._load()
            takes = manifest["commands"].get(command, [])
            if not any(t["take"] == take for t in takes):
                raise InvalidRequest(f"There is no take {take!r} of {command}.")
            manifest["commands"][command] = [t for t in takes if t["take"] != take]
            self._build_and_save(manifest, self._judge(manifest))
            (self.root / "takes" / command / f"{take}.wav").unlink(missing_ok=True)
            return self._summary(manifest)

    def reset(self, command: str | None = None) -> dict:
        """Forget one command's takes, or the whole profile (files deleted)."""
        with self._lock:
            self._recent_features.clear()
            if command is None:
                if self.root.exists():
                    # Rename first: a crash mid-delete leaves no half profile behind.
                    doomed = self.root.with_name(f".deleted-{secrets.token_hex(4)}")
                    os.replace(self.root, doomed)
                    shutil.rmtree(doomed, ignore_errors=True)
                self._matcher = self._matcher_key = None
                return self.summary()
            if command not in COMMANDS:
                raise InvalidRequest(f"Unknown command {command!r}; the commands are {', '.join(COMMANDS)}.")
            manifest = self._load()
            if manifest.get("base") is None:
                return self._summary(manifest)
            manifest["commands"].pop(command, None)
            self._build_and_save(manifest, self._judge(manifest))
            shutil.rmtree(self.root / "takes" / command, ignore_errors=True)
            return self._summary(manifest)

    def summary(self) -> dict:
        with self._lock:
            return self._summary(self._load())

    def _summary(self, manifest: dict) -> dict:
        commands = {}
        for command, takes in manifest["commands"].items():
            listed = [{"take": t["take"], "verdict": t.get("verdict", t.get("signal")),
                       "message": t.get("message", ""), "seconds": t.get("seconds")} for t in takes]
            ok = sum(1 for t in listed if t["verdict"] == "ok")
            check = self._current_check(manifest, command)
            commands[command] = {"ready": ok >= TAKES_NEEDED and not (check or {}).get("held"), "takes": listed}
            if ok >= TAKES_NEEDED and check:
                commands[command]["check"] = {key: check[key] for key in ("windows", "matched", "closest", "held")}
                if check["held"]:
                    commands[command]["message"] = HELD_MESSAGE.format(phrase=command_label(command))
        ready = [c for c in COMMANDS if commands.get(c, {}).get("ready")]
        return {"exists": self.manifest_path.exists(), "id": self._id(manifest, ready) if ready else None,
                "commands": commands, "ready_commands": ready, "problems": list(self.problems)}

    @staticmethod
    def _id(manifest: dict, ready: list[str]) -> str:
        """Changes whenever the takes that define the matcher change."""
        key = json.dumps([(c, sorted(t["sha256"] for t in manifest["commands"][c] if t.get("verdict") == "ok"))
                          for c in ready] + [manifest.get("base")])
        return hashlib.sha256(key.encode()).hexdigest()[:12]

    def matcher(self) -> Matcher | None:
        """The matcher of the ready commands (None when none is ready); rebuilt when takes change."""
        with self._lock:
            if not self.manifest_path.exists():
                return None
            try:
                stamp = str(self.manifest_path.stat().st_mtime_ns)
            except OSError:
                return None
            if stamp == self._matcher_key:
                return self._matcher
            manifest = self._load()
            try:
                usable = self._judge(manifest)
            except (OSError, ValueError) as exc:
                self.problems.append(f"The voice profile cannot be read ({exc}); fix: tabsense enroll --reset.")
                usable = {}
            saved_checks = json.dumps(manifest.get("checks"), sort_keys=True)
            matcher = self._build(manifest, usable, stamp)
            if not self.problems and json.dumps(manifest.get("checks"), sort_keys=True) != saved_checks:
                # Checks made now (a profile from before them): saved, so every summary states them.
                self._save(manifest)
                self._matcher_key = str(self.manifest_path.stat().st_mtime_ns)
            return matcher

    def _build_and_save(self, manifest: dict, usable: dict[str, dict[str, list[np.ndarray]]]) -> None:
        """Build the matcher (its checks go into the manifest), then save: the manifest on disk
        always says what the served matcher was checked on."""
        self._build(manifest, usable, stamp=None)
        self._save(manifest)
        self._matcher_key = str(self.manifest_path.stat().st_mtime_ns)

    def _build(self, manifest: dict, usable: dict[str, dict[str, list[np.ndarray]]],
               stamp: str | None) -> Matcher | None:
        names = {c: list(takes) for c, takes in usable.items() if len(takes) >= TAKES_NEEDED}
        ready = {c: list(usable[c].values()) for c in names}
        matcher = None
        if ready:
            calibration = calibrate(ready, names, self._pairs)
            held = self._check_speech(manifest, ready, calibration, names)
            if held:
                ready = {c: takes for c, takes in ready.items() if c not in held}
                calibration = calibrate(ready, names, self._pairs) if ready else None
                if ready:
                    self._check_speech(manifest, ready, calibration, names)
        if ready:
            profile_id = self._id(manifest, list(ready))
            if self._matcher is not None and self._matcher.id == profile_id:
                matcher = self._matcher  # the same ready takes (e.g. a take of a command not ready yet)
            else:
                bank = TemplateBank({c: [v for take in takes for v in take] for c, takes in ready.items()})
                matcher = Matcher(profile_id, bank, calibration, self._train_verifier(manifest, ready))
        self._matcher, self._matcher_key = matcher, stamp
        return matcher

    # --- the check on everyday speech ----------------------------------------------------

    @staticmethod
    def _takes_key(manifest: dict, command: str) -> str:
        """Names what a check was made on: the command's takes and the front end that heard them."""
        takes = sorted(t["sha256"] for t in manifest["commands"].get(command, []) if t.get("verdict") == "ok")
        return hashlib.sha256(json.dumps([manifest.get("base"), takes]).encode()).hexdigest()[:16]

    def _current_check(self, manifest: dict, command: str) -> dict | None:
        """The command's saved check, if it was made on its present takes (a hand-edited one is ignored)."""
        check = manifest.get("checks", {}).get(command) if isinstance(manifest.get("checks"), dict) else None
        fields = {"windows": int, "near": list, "cost": float, "matched": int, "closest": float, "held": bool}
        valid = (isinstance(check, dict) and check.get("takes") == self._takes_key(manifest, command)
                 and all(isinstance(check.get(name), kind) for name, kind in fields.items())
                 and all(isinstance(cost, float) and np.isfinite(cost) for cost in check["near"])
                 and np.isfinite(check["cost"]) and np.isfinite(check["closest"]))
        return dict(check) if valid else None

    def _everyday_speech(self) -> SequenceSearch | None:
        """The bundled everyday speech, ready to be searched (None without the bundle)."""
        generic = self._generic_speech()
        if generic is None:
            return None
        if self._everyday is None or self._everyday[0] is not generic:
            self._everyday = (generic, SequenceSearch(generic.stretches))
        return self._everyday[1]

    def _check_speech(self, manifest: dict, ready: dict[str, list[list[np.ndarray]]], calibration: Calibration,
                      names: dict[str, list[str]]) -> set[str]:
        """Match each ready command against the bundled everyday speech: hold back (return) the
        commands that match SPEECH_HELD of it, keep the others' thresholds under the closest
        stretch. The costs depend on the takes alone (no threshold goes past THRESHOLD_CEILING),
        so they are kept in `manifest["checks"]` and made again only when the takes change."""
        everyday = self._everyday_speech()
        if not isinstance(manifest.get("checks"), dict):
            manifest["checks"] = {}
        checks = manifest["checks"]
        if everyday is None:
            return set()
        enough = int(np.ceil(SPEECH_HELD * len(everyday)))  # this many under a threshold hold a command back
        held = set()
        for command, takes in ready.items():
            check = self._current_check(manifest, command)
            if check is None or check["windows"] != len(everyday):
                started = time.perf_counter()
                near, cost = everyday.lowest_costs(dict(zip(names[command], takes)), THRESHOLD_CEILING)
                check = {"takes": self._takes_key(manifest, command), "windows": len(everyday),
                         "near": [round(float(c), 5) for c in near[:enough]], "cost": round(cost, 5)}
                log.info("%s checked on %d stretches of everyday speech in %.2f s", command, len(everyday),
                         time.perf_counter() - started)
            threshold = calibration.thresholds[command]
            check["matched"] = sum(1 for c in check["near"] if c < threshold)
            check["held"] = check["matched"] >= enough
            if check["cost"] * SPEECH_MARGIN < threshold:
                calibration.thresholds[command] = round(check["cost"] * SPEECH_MARGIN, 5)
            check["closest"] = round(check["cost"] / calibration.thresholds[command], 3)
            checks[command] = check
            if check["held"]:
                held.add(command)
        return held

    def _train_verifier(self, manifest: dict, ready: dict[str, list[list[np.ndarray]]]) -> Verifier | None:
        """The verifier of the ready commands, from their takes' cached versions (None without
        the bundled generic speech: the matcher then relies on the second opinion alone)."""
        generic = self._generic_speech()
        if generic is None:
            return None
        started = time.perf_counter()
        sequences = {}
        for command, takes in ready.items():
            extra = [v for take in manifest["commands"][command] if take.get("verdict") == "ok"
                     for v in self._verifier_features(take, command)]
            sequences[command] = [v for take_versions in takes for v in take_versions] + extra
        verifier = voice_verifier.train(sequences, generic)
        log.info("voice verifier for %d commands trained in %.2f s", len(sequences), time.perf_counter() - started)
        return verifier

    def _verifier_features(self, take: dict, command: str) -> list[np.ndarray]:
        return self._features(take, command, verifier_versions, voice_verifier.VERSIONS_ID, speech_only=True)
