"""Paths and helpers shared by the tests (imported as `support`, not via conftest)."""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
SHARED_MODELS = SHARED / "models"
SAMPLES = SHARED / "data" / "imagenet-sample"
DEFAULT_MODEL = "mobilenet_v2_1.0_224_quant"
TINY_MODEL = "mobilenet_v1_0.25_128_quant"
EXTENSION_ORIGIN = "chrome-extension://dkkhfeafnpmeclbkjcjjdoohdalbafda"

PYTHON = sys.executable


def sample(name_fragment: str) -> Path:
    matches = sorted(SAMPLES.glob(f"*{name_fragment}*.JPEG"))
    assert matches, f"no sample image matches {name_fragment!r}"
    return matches[0]


def sample_folder(root: Path, count: int) -> Path:
    """A folder with the first `count` sample photos and classes.tsv (symlinks), as the lab reads it."""
    folder = root / "samples"
    folder.mkdir()
    (folder / "classes.tsv").symlink_to(SAMPLES / "classes.tsv")
    for photo in sorted(SAMPLES.glob("*.JPEG"))[:count]:
        (folder / photo.name).symlink_to(photo)
    return folder
