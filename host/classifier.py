"""Image classification with LiteRT: bytes in, top-k ImageNet labels out.

The interpreter is created once per model and reused; LiteRT interpreters are not
thread-safe, so `invoke` runs under a lock while decoding runs in parallel.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import DegenerateImage, InternalError, ModelCorrupt
from .image_checks import ERROR, WARNING, Finding, check_pixels, check_size
from .runtime import create_interpreter
from .store import ModelSpec
from .vision import decode_image, draft_size, resize_for_model, to_input_array

log = logging.getLogger(__name__)


def load_labels(path: Path, offset: int, num_classes: int) -> list[str]:
    """Class names in model order, without the `offset` leading entries (e.g. background).

    A line such as "tench, Tinca tinca" lists synonyms; the first one is the label shown.
    """
    lines = [line.strip() for line in path.read_text("utf-8").splitlines() if line.strip()]
    names = [line.split(",")[0].strip() for line in lines[offset:]]
    if len(names) != num_classes:
        raise ModelCorrupt(
            f"The label file {path.name} has {len(names)} classes, the model {num_classes}."
        )
    return names


@dataclass
class Prediction:
    probabilities: np.ndarray  # float32, one per class, sums to 1
    decode_ms: float
    infer_ms: float
    findings: list[Finding]  # the image-input validator's notes on this picture


class ImageClassifier:
    """One loaded TFLite image classifier described by a registry entry."""

    def __init__(self, spec: ModelSpec, model_path: Path, labels_path: Path, num_threads: int = 2):
        self.spec = spec
        self.num_classes = int(spec.output["num_classes"])
        self.label_offset = int(spec.output.get("label_offset", 0))
        self.output_kind = spec.output.get("kind", "probabilities")
        try:
            self.interpreter = create_interpreter(model_path, num_threads)
        except (ValueError, RuntimeError) as exc:
            raise ModelCorrupt(
                f"The model file of {spec.name!r} cannot be loaded by LiteRT ({exc}); "
                f"run `tabsense models fetch --force {spec.name}`."
            ) from exc
        self._input = self.interpreter.get_input_details()[0]
        self._output = self.interpreter.get_output_details()[0]
        self._check_signature()
        self.labels = load_labels(labels_path, self.label_offset, self.num_classes)
        self.height = int(spec.input["height"])
        self.width = int(spec.input["width"])
        self.resize = spec.preprocess.get("resize", "center_crop")
        self.crop_fraction = float(spec.preprocess.get("crop_fraction", 0.875))
        self._lock = threading.Lock()

    def _check_signature(self) -> None:
        spec = self.spec
        expected_in = [1, spec.input["height"], spec.input["width"], spec.input.get("channels", 3)]
        if list(self._input["shape"]) != expected_in or self._input["dtype"] != np.dtype(spec.input["dtype"]):
            raise ModelCorrupt(
                f"Model {spec.name!r} takes {list(self._input['shape'])} {np.dtype(self._input['dtype'])}, "
                f"but its registry entry says {expected_in} {spec.input['dtype']}."
            )
        outputs = int(np.prod(self._output["shape"]))
        if outputs != self.num_classes + self.label_offset:
            raise ModelCorrupt(
                f"Model {spec.name!r} has {outputs} outputs, but its registry entry says "
                f"{self.num_classes} classes + {self.label_offset} offset."
            )

    @property
    def input_details(self) -> dict:
        return self._input

    @property
    def output_details(self) -> dict:
        return self._output

    def decode_size(self) -> tuple[int, int]:
        """The fewest decoded pixels a side that still give this model full resolution."""
        return draft_size(self.width, self.height, self.resize, self.crop_fraction)

    def prepare(self, image) -> tuple[np.ndarray, np.ndarray]:
        """A decoded RGB picture -> (model input batch, the model's view as uint8 pixels).

        Separate from decoding so that several models can share one decoded picture."""
        resized = resize_for_model(image, self.width, self.height, self.resize, self.crop_fraction)
        quantization = self._input.get("quantization") or None
        return to_input_array(resized, self.spec.input, quantization), np.asarray(resized)

    def preprocess(self, data: bytes) -> tuple[np.ndarray, list[Finding]]:
        """File bytes -> (model input batch, validator findings on what the model sees)."""
        image = decode_image(data, self.decode_size())
        batch, view = self.prepare(image)
        # Size from the decoded picture, pixel statistics from the model's view (cheap: 224x224).
        findings = check_size(*image.size) + check_pixels(view)
        return batch, findings

    def infer(self, batch: np.ndarray) -> np.ndarray:
        """Run the model on a preprocessed batch of one; probabilities over the classes."""
        with self._lock:
            self.interpreter.set_tensor(self._input["index"], batch)
            self.interpreter.invoke()
            raw = self.interpreter.get_tensor(self._output["index"]).reshape(-1)
        return self.postprocess(raw)

    def postprocess(self, raw: np.ndarray) -> np.ndarray:
        scale, zero_point = self._output.get("quantization") or (0.0, 0)
        values = raw.astype(np.float32)
        if scale:
            values = (values - zero_point) * scale
        values = values[self.label_offset :]
        if self.output_kind == "logits":
            values = values - values.max()
            exp = np.exp(values)
            return exp / exp.sum()
        values = np.clip(values, 0.0, None)
        total = float(values.sum())
        if not np.isfinite(total) or total <= 0:
            raise InternalError("The model returned no usable probabilities for this image.")
        return values / total

    def predict(self, data: bytes) -> Prediction:
        start = time.perf_counter()
        batch, findings = self.preprocess(data)
        decoded = time.perf_counter()
        probabilities = self.infer(batch)
        done = time.perf_counter()
        return Prediction(probabilities, (decoded - start) * 1000, (done - decoded) * 1000, findings)

    def top_k(self, probabilities: np.ndarray, k: int) -> list[dict]:
        k = max(1, min(k, self.num_classes))
        # Stable ordering: highest score first, ties by class index.
        order = np.lexsort((np.arange(self.num_classes), -probabilities))[:k]
        return [
            {"label": self.labels[i], "index": int(i), "score": round(float(probabilities[i]), 6)}
            for i in order
        ]

    def describe(self) -> dict:
        """The `model` of an answer."""
        return {"name": self.spec.name, "version": self.spec.version}

    def classify(self, data: bytes, top_k: int = 5) -> dict:
        """Top-k labels; a picture with nothing to classify (blank, one pixel) is refused, and
        one whose label is unreliable (tiny, extreme aspect ratio) carries `warnings`."""
        start = time.perf_counter()
        prediction = self.predict(data)
        errors = [f for f in prediction.findings if f.severity == ERROR]
        if errors:
            raise DegenerateImage(errors[0].message)
        labels = self.top_k(prediction.probabilities, top_k)
        total = (time.perf_counter() - start) * 1000
        warnings = [{"code": f.code, "message": f.message} for f in prediction.findings if f.severity == WARNING]
        return {
            "labels": labels,
            "model": self.describe(),
            "timing_ms": {
                "decode": round(prediction.decode_ms, 3),
                "infer": round(prediction.infer_ms, 3),
                "total": round(total, 3),
            },
            **({"warnings": warnings} if warnings else {}),
        }
