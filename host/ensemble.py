"""Several image classifiers answering as one: the registry's entries of kind "ensemble".

The picture is decoded once, at the largest size any member needs, and cropped and resized
once per input geometry; each member quantizes it with its own input parameters and runs on
its own interpreter. Their
probabilities over the same 1000 ImageNet classes are combined by a weighted arithmetic or
geometric mean, and the answer is the one label list of a single model, with `model` naming
the ensemble and its members' versions.

Members run one after the other, each with all the pool's inference threads: on two cores that
was faster than side by side on one thread each (`tabsense bench --model mobilenet_ensemble`,
100 KB JPEG, total p50 10.5 vs 18.6 ms on a loaded machine), as the larger member alone then
takes longer on one thread than both take in turn on two. `parallel=True` keeps the other
schedule for measuring.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .classifier import ImageClassifier, Prediction
from .errors import ModelCorrupt
from .image_checks import check_pixels, check_size
from .store import ModelSpec
from .vision import decode_image, resize_for_model, to_input_array

# Floor of each member's probability in the geometric mean: 8-bit outputs hold exact zeros,
# and one member's zero must not veto a class the others rank highly.
GEOMETRIC_FLOOR = 1e-4


def combine_probabilities(stacked: np.ndarray, weights, method: str) -> np.ndarray:
    """[members, ..., classes] probabilities -> [..., classes], each row summing to 1.

    "arithmetic": the weighted mean; "geometric": the weighted mean of the logs, renormalised."""
    stacked = np.asarray(stacked, dtype=np.float32)
    w = np.asarray(weights, dtype=np.float32).reshape((-1,) + (1,) * (stacked.ndim - 1))
    if method == "geometric":
        logs = (np.log(np.maximum(stacked, GEOMETRIC_FLOOR)) * w).sum(axis=0)
        combined = np.exp(logs - logs.max(axis=-1, keepdims=True))
    elif method == "arithmetic":
        combined = (stacked * w).sum(axis=0)
    else:
        raise ValueError(f"unknown combine method {method!r}")
    return combined / combined.sum(axis=-1, keepdims=True)


class EnsembleClassifier:
    """An ensemble entry with its loaded member classifiers; used like an `ImageClassifier`."""

    def __init__(self, spec: ModelSpec, members: list[ImageClassifier], parallel: bool = False):
        if len(members) != len(spec.members):
            raise ValueError("one loaded classifier per member is needed")
        first = members[0]
        for member in members[1:]:
            if member.num_classes != first.num_classes or member.labels != first.labels:
                raise ModelCorrupt(
                    f"The members of the ensemble {spec.name!r} do not share one label set "
                    f"({first.spec.name} and {member.spec.name} differ); fix its registry entry."
                )
        self.spec = spec
        self.members = members
        self.labels = first.labels
        self.num_classes = first.num_classes
        self.weights = np.asarray(spec.weights, dtype=np.float32)
        # Side by side (one thread per member) only when asked: bench.py measures both schedules.
        self._executor = ThreadPoolExecutor(len(members) - 1, "tabsense-member") if parallel else None

    @property
    def resize(self) -> str:
        return self.members[0].resize

    @resize.setter
    def resize(self, mode: str) -> None:  # `tabsense evaluate --resize` sets it on every member
        for member in self.members:
            member.resize = mode

    def describe(self) -> dict:
        return {
            "name": self.spec.name,
            "version": self.spec.version,
            "members": [{"name": m.spec.name, "version": m.spec.version} for m in self.members],
        }

    def decode_size(self) -> tuple[int, int]:
        sizes = [member.decode_size() for member in self.members]
        return max(w for w, _ in sizes), max(h for _, h in sizes)

    def combine(self, probabilities: list[np.ndarray]) -> np.ndarray:
        """The members' probability vectors -> the ensemble's (sums to 1)."""
        return combine_probabilities(np.stack(probabilities), self.weights, self.spec.combine)

    def prepare(self, image) -> tuple[list[np.ndarray], np.ndarray]:
        """One input batch per member, and the first member's view (uint8 pixels). Members with
        the same input size and crop share one resize (~0.5 ms for a 500 px photo)."""
        views = {}
        batches = []
        for member in self.members:
            geometry = (member.width, member.height, member.resize, member.crop_fraction)
            if geometry not in views:
                views[geometry] = resize_for_model(image, *geometry)
            quantization = member.input_details.get("quantization") or None
            batches.append(to_input_array(views[geometry], member.spec.input, quantization))
        return batches, np.asarray(next(iter(views.values())))

    def infer_members(self, batches: list[np.ndarray]) -> list[np.ndarray]:
        if self._executor is None:
            return [member.infer(batch) for member, batch in zip(self.members, batches)]
        later = [self._executor.submit(m.infer, b) for m, b in zip(self.members[1:], batches[1:])]
        first = self.members[0].infer(batches[0])
        return [first, *(future.result() for future in later)]

    def member_probabilities(self, data: bytes) -> tuple[list[np.ndarray], Prediction]:
        """Each member's probabilities and the combined prediction, from one decode."""
        start = time.perf_counter()
        image = decode_image(data, self.decode_size())
        batches, first_view = self.prepare(image)
        # As for a single model: size from the decoded picture, pixels from what a model sees.
        findings = check_size(*image.size) + check_pixels(first_view)
        decoded = time.perf_counter()
        rows = self.infer_members(batches)
        combined = self.combine(rows)
        done = time.perf_counter()
        return rows, Prediction(combined, (decoded - start) * 1000, (done - decoded) * 1000, findings)

    def predict(self, data: bytes) -> Prediction:
        return self.member_probabilities(data)[1]

    # The answer is built exactly as a single model builds it (top-k, refusals, warnings).
    top_k = ImageClassifier.top_k
    classify = ImageClassifier.classify

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False)
