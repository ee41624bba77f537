"""The shared ImageNet sample images: labels, the calibration/evaluation split, slices, and
model inputs made with the host's own preprocessing (no training/serving skew).

Split: in file-name order, every 5th image (positions 0, 5, 10, ...; 100 images) is the
calibration set of full-integer quantization, and the other 400 are the evaluation set of
every variant. Slices: a coarse category from the ImageNet class index, and a bucket of the
image's shorter side in pixels.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from host.image_checks import check_image
from host.vision import decode_image, draft_size, resize_for_model, to_input_array

from . import config

IMAGE_SUFFIXES = {".jpeg", ".jpg", ".png", ".webp"}

# Coarse categories by ImageNet class index (standard order = sorted WNIDs): 0-397 are
# animals, 398-923 man-made objects, 924-969 food (dishes, fruit, drinks), 970-980 scenes
# (alp, cliff, lakeside, volcano...); 981-999 (people, plants, fungi) are "other".
CATEGORY_RANGES = (
    ("animals", 0, 397),
    ("objects", 398, 923),
    ("food", 924, 969),
    ("scenes", 970, 980),
    ("other", 981, 999),
)
# Shorter side of the original photo, in pixels: the crop is resized down to 224 from it.
SIZE_BUCKETS = (("small (<300 px)", 0, 299), ("medium (300-399 px)", 300, 399), ("large (>=400 px)", 400, 10**9))


def category_of(class_index: int) -> str:
    for name, low, high in CATEGORY_RANGES:
        if low <= class_index <= high:
            return name
    raise ValueError(f"{class_index} is not an ImageNet class index (0-999).")


def size_bucket_of(width: int, height: int) -> str:
    side = min(width, height)
    for name, low, high in SIZE_BUCKETS:
        if low <= side <= high:
            return name
    raise ValueError(f"Image size {width}x{height} fits no bucket.")


@dataclass(frozen=True)
class Sample:
    path: Path
    label: int
    position: int
    split: str  # "calibration" | "evaluation"
    width: int
    height: int
    mode: str
    category: str
    size_bucket: str
    findings: tuple[str, ...] = field(default=())


def load_samples(folder: Path = config.DEFAULT_SAMPLES_DIR) -> list[Sample]:
    """Every labelled image of the folder, in file-name order, with split and slices."""
    folder = Path(folder)
    table = folder / "classes.tsv"
    if not table.is_file():
        raise FileNotFoundError(f"{table} does not exist; pass the ImageNet sample folder.")
    with open(table, newline="", encoding="utf-8") as handle:
        index_of = {row["wnid"]: int(row["index"]) for row in csv.DictReader(handle, delimiter="\t")}
    samples = []
    for path in sorted(folder.iterdir()):
        if path.suffix.lower() not in IMAGE_SUFFIXES:
            continue
        wnid = path.name.split("_", 1)[0]
        if wnid not in index_of:
            continue
        position = len(samples)
        with Image.open(path) as image:
            width, height, mode = image.width, image.height, image.mode
            findings = tuple(f.code for f in check_image(image))
        samples.append(
            Sample(
                path=path,
                label=index_of[wnid],
                position=position,
                split="calibration" if position % config.CALIBRATION_EVERY == 0 else "evaluation",
                width=width,
                height=height,
                mode=mode,
                category=category_of(index_of[wnid]),
                size_bucket=size_bucket_of(width, height),
                findings=findings,
            )
        )
    if not samples:
        raise FileNotFoundError(f"{folder} holds no labelled images (WNID_name.JPEG).")
    return samples


def calibration(samples: list[Sample]) -> list[Sample]:
    return [s for s in samples if s.split == "calibration"]


def evaluation(samples: list[Sample]) -> list[Sample]:
    return [s for s in samples if s.split == "evaluation"]


def model_pixels(path: Path, size: int) -> Image.Image:
    """The RGB crop the host feeds a size x size model (decode, draft, central crop, resize)."""
    resize, crop = config.PREPROCESS["resize"], config.PREPROCESS["crop_fraction"]
    image = decode_image(Path(path).read_bytes(), draft_size(size, size, resize, crop))
    return resize_for_model(image, size, size, resize, crop)


def float_input(path: Path, size: int) -> np.ndarray:
    """A [1, size, size, 3] float32 batch scaled to [-1, 1], exactly as the host builds it."""
    spec = {"dtype": "float32", "mean": config.INPUT_MEAN, "std": config.INPUT_STD}
    return to_input_array(model_pixels(path, size), spec, None)
