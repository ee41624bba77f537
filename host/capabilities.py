"""What the host can do: one handler per message type.

Handlers take the request's parameters (everything but `id` and `type`) and return the
`result` object, or raise a `TabSenseError`. `blocking` handlers run on a worker thread
so that a slow classification never delays a `ping`.
"""

from __future__ import annotations

import base64
import binascii
import logging
import threading
from collections import OrderedDict
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np

from . import __version__
from .classifier import ImageClassifier
from .constants import DEFAULT_TOP_K
from .protocol import event
from .audio import AudioTooLong, BadAudio, check_rate, decode_audio, pcm16_to_float, resample
from .errors import (BadBase64, InvalidRequest, ModelCorrupt, ModelNotBlessed, ModelNotFound, NotAnImage,
                     TabSenseError)
from .store import ModelStore

log = logging.getLogger(__name__)

MAX_TOP_K = 1000
MAX_CHUNK_SECONDS = 5.0
MAX_STREAM_ID = 64
VOICE_SECOND_OPINION = True
STEP_NETWORK = "speech_embedding_stream"  # name and task


@dataclass(frozen=True)
class Capability:
    name: str
    handler: Callable[..., dict]
    blocking: bool  # run on a worker thread (inference); else inline on the event loop
    needs_session: bool = False  # handler(params, session): for per-connection state
    ordered: bool = False  # blocking, but on one dedicated thread, in arrival order (audio)


class Session:
    """Per-connection state: where host events go, and the live audio streams."""

    MAX_STREAMS = 4

    def __init__(self, emit: Callable[[dict], None] = lambda message: None):
        self.emit = emit
        self.streams: OrderedDict = OrderedDict()  # least recently fed first


class ModelPool:
    """Loaded models by name; each is verified (sha256) and loaded once, on first use.

    Only blessed models are served, unless `serve_unblessed` (the whole process: tests,
    `tabsense listen --allow-unblessed`) or the caller's `allow_unblessed` (one request: a
    user who opted in to the experimental voice model; never for image models) says otherwise.
    """

    # Tasks whose unblessed models one request may opt in to: a misheard command costs a tab
    # switch the user can undo, while an unvalidated image label would be presented as fact.
    OPT_IN_TASKS = frozenset({"keyword_spotting"})

    def __init__(self, store: ModelStore, num_threads: int = 2, serve_unblessed: bool = False):
        self.store = store
        self.num_threads = num_threads
        self.serve_unblessed = serve_unblessed
        self._loaded: dict[str, object] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()

    def get(self, name: str | None, task: str = "image_classification", allow_unblessed: bool = False):
        spec = self.store.registry.get(name, task)
        if spec.task != task:
            raise InvalidRequest(f"The model {spec.name!r} is for {spec.task}, not {task}.")
        # Checked on every call, not only on the first load: a model loaded for one request
        # that opted in must not be served to the next one that did not.
        allowed = self.serve_unblessed or (allow_unblessed and task in self.OPT_IN_TASKS)
        if not spec.blessed and not allowed:
            raise ModelNotBlessed(
                f"The model {spec.name!r} has not passed validation, so the host will not serve it."
            )
        return self._loaded_model(spec)

    def _loaded_model(self, spec):
        with self._lock:  # one lock per model: loading one never delays another
            model_lock = self._locks.setdefault(spec.name, threading.Lock())
        with model_lock:
            model = self._loaded.get(spec.name)
            if model is None:
                model = self._load(spec)
                self._loaded[spec.name] = model
                log.info("loaded model %s v%s (%d threads)", spec.name, spec.version, self.num_threads)
            return model

    def _load(self, spec):
        if spec.is_ensemble:
            from .ensemble import EnsembleClassifier

            # Members are shared with requests for them by name; the ensemble's blessing covers
            # them, and each is verified against its own entry's sha256 when first loaded.
            return EnsembleClassifier(spec, [self._loaded_model(m) for m in self.store.registry.members(spec)])
        files = self.store.require(spec)
        if spec.task == "speech_embedding":
            from .speech_embedding import SpeechEmbedder

            return SpeechEmbedder(files["model"], files["melspectrogram"], spec.name, spec.version,
                                  self._step_network(spec))
        if spec.task == STEP_NETWORK:
            from .speech_embedding import StepNetwork

            return StepNetwork(files["model"], spec.name, spec.version)
        if spec.task == "voice_negatives":
            return _load_windows(files["model"], spec)
        if spec.task == "keyword_embedding":
            from .voice_front_end import KeywordEmbedder

            return KeywordEmbedder(files["model"], spec.name, spec.version)
        if spec.task == "keyword_spotting":
            from .speech import KeywordSpotter

            return KeywordSpotter(files["model"], files["labels"], 1, spec.name, spec.version)
        return ImageClassifier(spec, files["model"], files["labels"], self.num_threads)

    def _step_network(self, spec):
        """The network's step-by-step build (`speech_embedding_stream`), derived from `spec`; without
        it the whole-window network gives the same vectors for four times the CPU."""
        try:
            steps = self.store.registry.get(STEP_NETWORK, STEP_NETWORK)
            if steps.params.get("derived_from") != f"{spec.name}/{spec.version}":
                raise ModelNotFound(f"{steps.name} v{steps.version} is derived from "
                                    f"{steps.params.get('derived_from')}, not {spec.name}/{spec.version}")
            return self.get(STEP_NETWORK, STEP_NETWORK)
        except TabSenseError as exc:
            log.warning("computing every speech_embedding window whole (four times the CPU): %s", exc.message)
            return None


def _load_windows(path, spec):
    """The voice profile's generic speech: speech_embedding and kws_embedding windows."""
    from .voice_front_end import KWS_DIM
    from .voice_verifier import DIM, WINDOW, GenericSpeech

    expected = {"speech_embedding": WINDOW * DIM, "kws_embedding": WINDOW * KWS_DIM}
    try:
        saved = np.load(path, allow_pickle=False)
        if not isinstance(saved, np.lib.npyio.NpzFile):
            raise ValueError("not an archive of named windows")
        with saved:
            parts = {name: saved[name].astype(np.float32) for name in expected}
    except (OSError, ValueError, KeyError) as exc:
        raise ModelCorrupt(f"The voice profile's generic speech {spec.name} v{spec.version} cannot be read "
                           f"({exc}).") from exc
    shapes = {name: part.shape for name, part in parts.items()}
    if (any(part.ndim != 2 or part.shape[1] != expected[name] or not np.isfinite(part).all()
            for name, part in parts.items()) or len({len(part) for part in parts.values()}) != 1):
        raise ModelCorrupt(f"The voice profile's generic speech {spec.name} v{spec.version} has the wrong shapes "
                           f"{shapes} (expected as many windows of {WINDOW} x {DIM} and {WINDOW} x {KWS_DIM}).")
    return GenericSpeech(parts["speech_embedding"], parts["kws_embedding"])


def decode_base64(value, field: str = "image") -> bytes:
    if not isinstance(value, str):
        raise InvalidRequest(f"`{field}` must be a base64 string.")
    try:
        data = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise BadBase64(f"The {field} data is not valid base64.") from exc
    if not data:
        if field == "image":
            raise NotAnImage("The image is empty (0 bytes).")
        raise BadAudio("The audio is empty.")
    return data


def _commands(value, known) -> list[str]:
    """The optional `commands` filter of the speech requests: a non-empty list of known names."""
    if not isinstance(value, list) or not value or not all(isinstance(c, str) for c in value):
        raise InvalidRequest("`commands` must be a non-empty list of command names.")
    unknown = sorted(set(value) - set(known))
    if unknown:
        raise InvalidRequest(f"Unknown command(s) {', '.join(map(repr, unknown))}; the model knows {', '.join(known)}.")
    return value


def _top_k(params: dict) -> int:
    value = params.get("top_k", DEFAULT_TOP_K)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_TOP_K:
        raise InvalidRequest(f"`top_k` must be a whole number from 1 to {MAX_TOP_K}.")
    return value


def _allow_unblessed(params: dict) -> bool:
    """The speech requests' optional opt-in to a keyword model the validator has not blessed."""
    value = params.get("allow_unblessed", False)
    if not isinstance(value, bool):
        raise InvalidRequest("`allow_unblessed` must be true or false.")
    return value


def _sensitivity(params: dict) -> str:
    """The speech requests' optional `sensitivity`: which of the model's threshold sets to use."""
    from .speech import SENSITIVITIES

    value = params.get("sensitivity", "normal")
    if value not in SENSITIVITIES:
        raise InvalidRequest(f"`sensitivity` must be one of {', '.join(map(repr, SENSITIVITIES))}.")
    return value


def _model_name(params: dict) -> str | None:
    value = params.get("model")
    if value is not None and not isinstance(value, str):
        raise InvalidRequest("`model` must be the name of a registered model.")
    return value


class Capabilities:
    """The host's handlers, bound to one model store."""

    def __init__(self, store: ModelStore, num_threads: int = 2, serve_unblessed: bool = False):
        self.store = store
        self.pool = ModelPool(store, num_threads, serve_unblessed)
        from .voice_profile import VoiceProfile

        self._front_end = None
        self.voice_profile = VoiceProfile(store.home, self.voice_front_end, self._generic_speech)
        self.table: dict[str, Capability] = {
            "ping": Capability("ping", self.ping, blocking=False),
            "classify_image": Capability("classify_image", self.classify_image, blocking=True),
            "recognize_speech": Capability("recognize_speech", self.recognize_speech, blocking=True),
            # Chunks of a stream must be processed in order: one dedicated thread, FIFO.
            "audio_chunk": Capability("audio_chunk", self.audio_chunk, blocking=True, needs_session=True,
                                      ordered=True),
            # In the same queue: a stop sent after chunks must not overtake them (they would start the stream again).
            "stop_stream": Capability("stop_stream", self.stop_stream, blocking=True, needs_session=True, ordered=True),
            "enroll_take": Capability("enroll_take", self.enroll_take, blocking=True),
            "voice_profile": Capability("voice_profile", self.voice_profile_request, blocking=True),
        }

    def get(self, name: str) -> Capability | None:
        return self.table.get(name)

    def ping(self, params: dict) -> dict:
        registry = self.store.registry
        default = registry.default_name()
        models = [
            {
                "name": spec.name,
                "version": spec.version,
                "task": spec.task,
                "quantization": spec.quantization,
                "default": spec.name == default,
                "available": self.store.is_available(spec),
                "blessed": spec.blessed,
            }
            for spec in registry.specs()
        ]
        return {"version": __version__, "models": models, "capabilities": sorted(self.table)}

    def classify_image(self, params: dict) -> dict:
        top_k = _top_k(params)
        model = _model_name(params)
        if "image" not in params:
            raise InvalidRequest("`classify_image` needs an `image`: the base64 of the image file.")
        data = decode_base64(params["image"])
        classifier = self.pool.get(model)
        return classifier.classify(data, top_k)

    # --- Speech -----------------------------------------------------------------------

    def _spotter(self, params: dict):
        """(keyword model, detector settings, its `model` answer: name, version, blessed)."""
        from .speech import DetectorSettings

        allow_unblessed = _allow_unblessed(params)
        spotter = self.pool.get(_model_name(params), "keyword_spotting", allow_unblessed=allow_unblessed)
        spec = self.store.registry.get(spotter.name, "keyword_spotting")
        settings = DetectorSettings.from_params(spec.params, _sensitivity(params))
        if "commands" in params:
            settings = settings.only(_commands(params["commands"], spotter.command_index))
        # `blessed` lets the extension tell a user who opted in that commands are experimental.
        model = {"name": spotter.name, "version": spotter.version, "blessed": spec.blessed,
                 "sensitivity": settings.sensitivity_used}
        return spotter, settings, model

    def _listener(self, params: dict, rate: int):
        """A detector for one request or stream, and its answer's `model` and `profile`.

        Commands the user taught are heard through the voice profile; the others through the
        generic keyword model when the host may serve it. With neither, the generic model's
        error (not blessed, missing) is the answer."""
        from .speech import StreamDetector
        from .speech_params import COMMANDS

        commands = _commands(params["commands"], COMMANDS) if "commands" in params else None
        _allow_unblessed(params)
        _sensitivity(params)
        matcher = self.voice_matcher()
        taught = [c for c in matcher.commands if commands is None or c in commands] if matcher else []
        rest = [c for c in (commands or COMMANDS) if c not in taught]
        generic = model = None
        if rest or not taught:
            try:
                spotter, settings, model = self._spotter(params)
                generic = StreamDetector(spotter, settings, rate if not taught else 16_000)
            except TabSenseError:
                if not taught:
                    raise
                log.info("commands %s are not taught and the generic keyword model is not served", rest)
        if not taught:
            return generic, model, None
        from .voice_stream import ProfileStream

        embedder = self.voice_front_end()
        if generic is not None:
            generic.enable(rest)
        detector = ProfileStream(embedder, matcher, rate, commands, generic, self._second_opinion(generic))
        if model is None:
            model = {"name": embedder.name, "version": embedder.version, "blessed": True, "sensitivity": "normal"}
        return detector, model, {"id": matcher.id, "commands": taught}

    def voice_front_end(self):
        """What voice profiles hear: speech_embedding and kws_embedding, loaded on first need."""
        from .runtime import one_blas_thread
        from .voice_front_end import VoiceFrontEnd

        one_blas_thread()

        speech = self.pool.get("speech_embedding", "speech_embedding")
        keyword = self.pool.get("kws_embedding", "keyword_embedding")
        if self._front_end is None or (self._front_end.speech, self._front_end.keyword) != (speech, keyword):
            self._front_end = VoiceFrontEnd(speech, keyword)
        return self._front_end

    def _second_opinion(self, generic):
        """The generic keyword model's scores for taught commands: it only confirms a profile
        match just above its threshold (a take said in a room the takes were not), never decides.
        None when the generic model already runs for other commands (its scores serve) or is absent."""
        from .speech import DetectorSettings, StreamDetector

        if generic is not None or not VOICE_SECOND_OPINION:
            return None
        try:
            spotter = self.pool.get(None, "keyword_spotting", allow_unblessed=True)
        except TabSenseError:
            return None
        spec = self.store.registry.get(spotter.name, "keyword_spotting")
        return StreamDetector(spotter, DetectorSettings.from_params(spec.params).only(()), 16_000)

    def _generic_speech(self):
        """The verifier's bundled negatives; None (no verifier, the profile still works) when missing."""
        try:
            return self.pool.get("voice_negatives", "voice_negatives")
        except TabSenseError as exc:
            log.warning("voice profile without its verifier: %s", exc)
            return None

    def voice_matcher(self):
        """The voice profile's matcher, or None (no profile, none ready, or it cannot be read)."""
        try:
            return self.voice_profile.matcher()
        except (OSError, ValueError, TabSenseError) as exc:
            log.warning("voice profile not used: %s", exc)
            return None

    def recognize_speech(self, params: dict) -> dict:
        from .voice_stream import recognize_clip

        if "audio" not in params:
            raise InvalidRequest("`recognize_speech` needs `audio`: base64 of 16-bit PCM or of a WAV file.")
        started = time.perf_counter()
        audio, rate = decode_audio(decode_base64(params["audio"], "audio"), params.get("sample_rate"))
        detector, model, profile = self._listener(params, 16_000)
        result = recognize_clip(detector, resample(audio, rate))
        result["model"] = model
        result["profile"] = profile
        result["timing_ms"] = {"total": round((time.perf_counter() - started) * 1000, 3)}
        return result

    def audio_chunk(self, params: dict, session: Session) -> dict:
        stream = params.get("stream")
        if not isinstance(stream, str) or not 1 <= len(stream) <= MAX_STREAM_ID:
            raise InvalidRequest(f"`stream` must be a name of 1 to {MAX_STREAM_ID} characters.")
        rate = check_rate(params.get("sample_rate"))
        audio = pcm16_to_float(decode_base64(params.get("audio"), "audio"))
        if len(audio) > MAX_CHUNK_SECONDS * rate:
            raise AudioTooLong(f"An audio chunk may hold at most {MAX_CHUNK_SECONDS:.0f} seconds.")
        _allow_unblessed(params)  # a bad value is an error on every chunk, not only the first
        sensitivity = _sensitivity(params)
        detector = session.streams.get(stream)
        answer = {}  # the model and profile, said once: in the answer to the chunk that starts the stream
        if detector is None or detector.source_rate != rate:
            # Built (and so validated) before anything is evicted: a bad request never ends a good stream.
            detector, model, profile = self._listener(params, rate)
            if stream not in session.streams and len(session.streams) >= Session.MAX_STREAMS:
                # A page that died without stop_stream leaves its stream behind: drop the stalest.
                stale, _ = session.streams.popitem(last=False)
                log.info("dropped audio stream %r to make room for %r", stale, stream)
            session.streams[stream] = detector
            answer = {"model": model, "profile": profile}
        else:  # the user may change the enabled commands or the sensitivity while listening
            if "commands" in params:
                from .speech_params import COMMANDS

                detector.enable(_commands(params["commands"], COMMANDS))
            generic = getattr(detector, "generic", detector)
            if generic is not None and sensitivity != generic.settings.sensitivity:
                from .speech import DetectorSettings

                spec = self.store.registry.get(generic.spotter.name, "keyword_spotting")
                detector.use(DetectorSettings.from_params(spec.params, sensitivity))
                answer["sensitivity"] = generic.settings.sensitivity_used
        session.streams.move_to_end(stream)
        for found in detector.feed(audio):
            session.emit(event("command", stream=stream, **found))
        return {"stream": stream, "time_s": round(detector.time_s, 3), **answer}

    # --- Voice profile ------------------------------------------------------------------

    def enroll_take(self, params: dict) -> dict:
        from .speech_params import COMMANDS

        command = params.get("command")
        if command not in COMMANDS:
            raise InvalidRequest(f"`enroll_take` needs `command`, one of {', '.join(COMMANDS)}.")
        if "audio" not in params:
            raise InvalidRequest("`enroll_take` needs `audio`: base64 of 16-bit PCM (with `sample_rate`) or of a WAV file.")
        replace = params.get("replace")
        if replace is not None and not isinstance(replace, str):
            raise InvalidRequest("`replace` must be the id of a take.")
        audio, rate = decode_audio(decode_base64(params["audio"], "audio"), params.get("sample_rate"))
        return self.voice_profile.enroll(command, resample(audio, rate), replace)

    def voice_profile_request(self, params: dict) -> dict:
        action = params.get("action", "get")
        command = params.get("command")
        if command is not None and not isinstance(command, str):
            raise InvalidRequest("`command` must be the name of a command.")
        if action == "get":
            return self.voice_profile.summary()
        if action == "reset":
            return self.voice_profile.reset(command)
        if action == "remove_take":
            take = params.get("take")
            if not isinstance(command, str) or not isinstance(take, str):
                raise InvalidRequest("`remove_take` needs the `command` and the `take` to remove.")
            return self.voice_profile.remove_take(command, take)
        raise InvalidRequest("`action` must be \"get\", \"reset\" or \"remove_take\".")

    def stop_stream(self, params: dict, session: Session) -> dict:
        stream = params.get("stream")
        if not isinstance(stream, str):
            raise InvalidRequest("`stream` must name the audio stream to stop.")
        detector = session.streams.pop(stream, None)
        closest = getattr(detector, "closest", None)
        if closest:  # how near each taught command came: why a take was or was not heard
            log.info("stream %r ended; closest profile matches (cost / threshold): %s", stream,
                     ", ".join(f"{c} {r:.2f}" for c, r in closest.items()))
        return {"stream": stream, "stopped": detector is not None}
