"""Evaluate a registered TFLite model exactly as the host serves it, and time it in LiteRT.

Accuracy goes through `host.classifier.ImageClassifier.predict` on the file bytes (decode,
draft, central crop, resize, normalise or quantize the input, dequantize the output), so the
numbers are those of `tabsense classify` / `tabsense evaluate`. Probabilities of every image
are kept, so agreement and KL divergence against the float model need no second run.
"""

from __future__ import annotations

import gzip
import logging
from pathlib import Path

import numpy as np
from tqdm import tqdm

from host.classifier import ImageClassifier
from host.store import ModelSpec

from .samples import Sample

log = logging.getLogger(__name__)

KL_EPSILON = 1e-7  # probabilities are clipped to this before the log (int8 outputs hold zeros)


def classifier_for(entry: dict, model_path: Path, labels_path: Path, threads: int) -> ImageClassifier:
    spec = ModelSpec.from_dict(entry, "the model lab")
    return ImageClassifier(spec, model_path, labels_path, num_threads=threads)


def predict_samples(classifier: ImageClassifier, samples: list[Sample], desc: str) -> np.ndarray:
    """[len(samples), num_classes] probabilities, in sample order."""
    rows = []
    for sample in tqdm(samples, desc=desc, unit="img", leave=False, mininterval=2.0):
        rows.append(classifier.predict(sample.path.read_bytes()).probabilities)
    return np.stack(rows).astype(np.float32)


def top_k_hits(probabilities: np.ndarray, labels: np.ndarray, k: int) -> np.ndarray:
    order = np.argsort(-probabilities, axis=1, kind="stable")[:, :k]
    return (order == labels[:, None]).any(axis=1)


def mean_kl(reference: np.ndarray, candidate: np.ndarray) -> float:
    """Mean over images of KL(reference || candidate), in nats."""
    p = np.clip(reference.astype(np.float64), KL_EPSILON, 1.0)
    q = np.clip(candidate.astype(np.float64), KL_EPSILON, 1.0)
    p /= p.sum(axis=1, keepdims=True)
    q /= q.sum(axis=1, keepdims=True)
    return float(np.mean(np.sum(p * (np.log(p) - np.log(q)), axis=1)))


def accuracy(probabilities: np.ndarray, labels: np.ndarray, reference: np.ndarray | None) -> dict:
    """top-1, top-5, and (with a reference) top-1 agreement and mean KL."""
    result = {
        "images": int(len(labels)),
        "top1": float(top_k_hits(probabilities, labels, 1).mean()),
        "top5": float(top_k_hits(probabilities, labels, 5).mean()),
    }
    if reference is not None:
        result["agreement"] = float((probabilities.argmax(1) == reference.argmax(1)).mean())
        result["mean_kl"] = mean_kl(reference, probabilities)
    return result


def slice_accuracy(probabilities: np.ndarray, samples: list[Sample]) -> dict:
    """top-1 per coarse category, per size bucket and per image-check finding."""
    labels = np.array([s.label for s in samples])
    hits = top_k_hits(probabilities, labels, 1)
    groups: dict[str, dict[str, list[int]]] = {"category": {}, "size": {}, "image_checks": {}}
    for i, sample in enumerate(samples):
        groups["category"].setdefault(sample.category, []).append(i)
        groups["size"].setdefault(sample.size_bucket, []).append(i)
        for code in sample.findings or ("no findings",):
            groups["image_checks"].setdefault(code, []).append(i)
    return {
        kind: {name: {"images": len(idx), "top1": float(hits[idx].mean())} for name, idx in sorted(members.items())}
        for kind, members in groups.items()
    }


def evaluate(probabilities: np.ndarray, samples: list[Sample], reference: np.ndarray | None) -> dict:
    """Metrics on the evaluation split (plus top-1/top-5 on all images, for `tabsense evaluate`)."""
    labels = np.array([s.label for s in samples])
    evaluation = np.array([s.split == "evaluation" for s in samples])
    ref_eval = reference[evaluation] if reference is not None else None
    result = accuracy(probabilities[evaluation], labels[evaluation], ref_eval)
    result["slices"] = slice_accuracy(probabilities[evaluation], [s for s in samples if s.split == "evaluation"])
    everything = accuracy(probabilities, labels, None)
    result["all_images"] = {"images": everything["images"], "top1": everything["top1"], "top5": everything["top5"]}
    return result


def size_record(files: list[Path]) -> dict:
    """Bytes, gzip -9 bytes and their ratio of a model artifact (one or more files)."""
    data = b"".join(Path(f).read_bytes() for f in files)
    packed = len(gzip.compress(data, compresslevel=9, mtime=0))
    return {"bytes": len(data), "gzip_bytes": packed, "gzip_ratio": packed / len(data)}
