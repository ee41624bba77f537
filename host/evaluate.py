"""`tabsense evaluate`: top-1/top-5 of a model on a labelled ImageNet sample folder.

The folder holds `WNID_name.JPEG` files and `classes.tsv` (index, wnid, name); a file's
true class is the index of the WNID that starts its name. With `--resize both` the
two preprocessing choices (central crop, whole image) are measured side by side.
"""

from __future__ import annotations

import csv
import json
import sys
import time
from pathlib import Path

import numpy as np

from .capabilities import ModelPool
from .classifier import ImageClassifier
from .native import thread_count
from .store import ModelStore

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "imagenet-sample"
IMAGE_SUFFIXES = {".jpeg", ".jpg", ".png", ".webp"}


def load_samples(folder: Path) -> list[tuple[Path, int]]:
    """(file, true ImageNet index) for every image in `folder`, sorted by name."""
    with open(folder / "classes.tsv", newline="", encoding="utf-8") as handle:
        index_of = {row["wnid"]: int(row["index"]) for row in csv.DictReader(handle, delimiter="\t")}
    samples = []
    for path in sorted(folder.iterdir()):
        if path.suffix.lower() in IMAGE_SUFFIXES:
            wnid = path.name.split("_", 1)[0]
            if wnid in index_of:
                samples.append((path, index_of[wnid]))
    return samples


def accuracy(classifier: ImageClassifier, samples: list[tuple[Path, int]]) -> dict:
    top1 = top5 = 0
    started = time.perf_counter()
    for n, (path, truth) in enumerate(samples, 1):
        probabilities = classifier.predict(path.read_bytes()).probabilities
        best5 = np.argsort(-probabilities, kind="stable")[:5]
        top1 += int(best5[0] == truth)
        top5 += int(truth in best5)
        if n % 100 == 0:
            print(f"  {n}/{len(samples)} images", file=sys.stderr, flush=True)
    return {
        "images": len(samples),
        "top1": round(top1 / len(samples), 4),
        "top5": round(top5 / len(samples), 4),
        "seconds": round(time.perf_counter() - started, 1),
    }


def run_evaluate(args) -> int:
    folder = Path(args.data) if args.data else DEFAULT_DATA
    if not (folder / "classes.tsv").is_file():
        print(f"tabsense evaluate: {folder} has no classes.tsv; pass --data DIR.", file=sys.stderr)
        return 2
    samples = load_samples(folder)[: args.limit]
    pool = ModelPool(ModelStore(), thread_count(None))
    classifier = pool.get(args.model)
    modes = ["center_crop", "whole"] if args.resize == "both" else [args.resize]
    results = {}
    for mode in modes:
        classifier.resize = mode
        print(f"{classifier.spec.name}, resize={mode}:", file=sys.stderr)
        results[mode] = accuracy(classifier, samples)
    configured = classifier.spec.preprocess.get("resize", "center_crop")
    report = {"model": classifier.spec.name, "version": classifier.spec.version, "data": str(folder),
              "configured_resize": configured, "results": results}
    print(f"model {classifier.spec.name} v{classifier.spec.version} on {len(samples)} images from {folder}")
    print("| resize | top-1 | top-5 |\n|---|---|---|")
    for mode, r in results.items():
        marker = " (default)" if mode == configured else ""
        print(f"| {mode}{marker} | {r['top1']:.3f} | {r['top5']:.3f} |")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
    return 0
