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
from dataclasses import dataclass
from typing import Callable

from . import __version__
from .classifier import ImageClassifier
from .constants import DEFAULT_TOP_K
from .errors import BadBase64, InvalidRequest, ModelNotBlessed, NotAnImage
from .store import ModelStore

log = logging.getLogger(__name__)

MAX_TOP_K = 1000


@dataclass(frozen=True)
class Capability:
    name: str
    handler: Callable[[dict], dict]
    blocking: bool


class ModelPool:
    """Loaded classifiers by name; each is verified (sha256) and loaded once."""

    def __init__(self, store: ModelStore, num_threads: int = 2, serve_unblessed: bool = False):
        self.store = store
        self.num_threads = num_threads
        self.serve_unblessed = serve_unblessed
        self._loaded: dict[str, ImageClassifier] = {}
        self._lock = threading.Lock()

    def get(self, name: str | None) -> ImageClassifier:
        spec = self.store.registry.get(name, "image_classification")
        with self._lock:
            classifier = self._loaded.get(spec.name)
            if classifier is None:
                if not spec.blessed and not self.serve_unblessed:
                    raise ModelNotBlessed(
                        f"The model {spec.name!r} has not passed validation, so the host will not serve it."
                    )
                files = self.store.require(spec)
                classifier = ImageClassifier(spec, files["model"], files["labels"], self.num_threads)
                self._loaded[spec.name] = classifier
                log.info("loaded model %s v%s (%d threads)", spec.name, spec.version, self.num_threads)
            return classifier


def decode_base64(value) -> bytes:
    if not isinstance(value, str):
        raise InvalidRequest("`image` must be a base64 string of the image file.")
    try:
        data = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise BadBase64() from exc
    if not data:
        raise NotAnImage("The image is empty (0 bytes).")
    return data


def _top_k(params: dict) -> int:
    value = params.get("top_k", DEFAULT_TOP_K)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_TOP_K:
        raise InvalidRequest(f"`top_k` must be a whole number from 1 to {MAX_TOP_K}.")
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
        self.table: dict[str, Capability] = {
            "ping": Capability("ping", self.ping, blocking=False),
            "classify_image": Capability("classify_image", self.classify_image, blocking=True),
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
