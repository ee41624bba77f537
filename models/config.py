"""Constants of the model lab: where the inputs are, which variants exist, the split of the
sample images, and the blessing rule. Plain data, no TensorFlow: the tests, the CLI and the
report all read this module.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

SEED = 1234

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SOURCE_DIR = REPO_ROOT.parent / "shared" / "models"
DEFAULT_SAMPLES_DIR = REPO_ROOT.parent / "shared" / "data" / "imagenet-sample"
DEFAULT_REPORT_DIR = REPO_ROOT / "docs" / "model-lab"

# Labels of the lab models: lines 1..1000 of the TFLite models' imagenet_labels.txt (line 0
# is "background"), so the host shows exactly the same strings as for its built-in models.
LABELS_SOURCE = "mobilenet_v2_1.0_224_quant/imagenet_labels.txt"
LABELS_FILE = "imagenet_labels_1000.txt"
NUM_CLASSES = 1000

# Every lab model takes float RGB scaled to [-1, 1]: (pixel - 127.5) / 127.5.
INPUT_MEAN = 127.5
INPUT_STD = 127.5
PREPROCESS = {"resize": "center_crop", "crop_fraction": 0.875}
MODEL_VERSION = "1"
LICENSE = "Apache-2.0"

# Representative (calibration) set for full-integer quantization: every 5th sample image in
# name order (100 images). The other 400 are the evaluation set of every variant, so no
# variant is ever scored on an image it was calibrated on.
CALIBRATION_EVERY = 5

# Blessing rule of the model validator.
MAX_TOP1_DROP_POINTS = 1.0
MIN_TOP1_AGREEMENT = 0.97

# Latency measurement of LiteRT (per variant and thread count).
LATENCY_WARMUP = 20
LATENCY_RUNS = 100
LATENCY_THREADS = (1, 2)
LATENCY_ROUNDS = 5  # variants are timed in interleaved rounds, so load from other jobs hits all alike
EVAL_THREADS = 1  # accuracy does not depend on it; 1 thread leaves a core to the others

# Full-integer int8 models take int8 pixels. With mean 127.5 the pixel grid (p - 127.5) / 127.5
# does not contain 0, which int8's integer zero point needs, so two pixel values would share
# one input level; mean 128 (calibrated the same way) makes the input exact, q = p - 128, at
# the cost of a constant half-level shift (0.004) that the validator's numbers include.
INT8_INPUT_MEAN = 128.0
# GPTQ needs more calibration vectors than a layer has inputs to estimate E[x x^T]; a layer
# with fewer than this many per input (the classifier: one 768-vector per image) keeps
# nearest rounding.
GPTQ_MIN_ROWS_PER_INPUT = 4


@dataclass(frozen=True)
class SourceModel:
    """A pretrained float model in ../shared/models and how to rebuild it."""

    name: str
    folder: str
    alpha: float
    size: int
    description: str


SOURCE_MODELS = (
    SourceModel(
        name="mobilenet_v1_0.75_224",
        folder="mobilenet_v1_0.75_224_tfjs",
        alpha=0.75,
        size=224,
        description="MobileNet v1 0.75 224, Keras ImageNet weights (from the TF.js layers model)",
    ),
    SourceModel(
        name="mobilenet_v1_0.25_224",
        folder="mobilenet_v1_0.25_224_tfjs",
        alpha=0.25,
        size=224,
        description="MobileNet v1 0.25 224, Keras ImageNet weights (TF.js weights, rebuilt architecture)",
    ),
)
MAIN_MODEL = "mobilenet_v1_0.75_224"


@dataclass(frozen=True)
class Variant:
    """One way of storing the float model's weights."""

    key: str  # suffix of the registered name ("" for the float model itself)
    quantization: str  # the registry's `quantization` value
    kind: str  # "tflite" (converter) or "tfjs_weights" (our TF.js-style weight quantization)
    ship: bool  # False: measured and reported, never registered
    summary: str

    def model_name(self, base: str) -> str:
        return f"{base}_{self.key}" if self.key else base


VARIANTS = (
    Variant("", "float32", "tflite", True, "float32 TFLite"),
    Variant("float16", "float16", "tflite", True, "float16 weights (TFLite, dequantized at load)"),
    Variant("w16", "weights16-per-tensor", "tfjs_weights", True,
            "TF.js-style 16-bit weights, one min/scale per tensor, evaluated dequantized"),
    Variant("w8", "weights8-per-tensor", "tfjs_weights", True,
            "TF.js-style 8-bit weights, one min/scale per tensor, evaluated dequantized"),
    Variant("w8_channel", "weights8-per-channel", "tfjs_weights", True,
            "8-bit kernels with one min/scale per output channel (vectors per tensor, as TF.js), "
            "evaluated dequantized"),
    Variant("w8_folded", "weights8-per-tensor-folded", "tfjs_weights", False,
            "batch norm folded first (as in a TF.js graph model), then 8-bit per tensor: measured only"),
    Variant("int8", "int8-per-channel", "int8", True,
            "TFLite full-integer int8, per-channel weights rounded by GPTQ onto the TFLite grid, "
            "calibrated on the 100 calibration images"),
    Variant("int8_nearest", "int8-per-channel", "int8", False,
            "TFLite full-integer int8 as the converter rounds it (nearest), same calibration: measured only"),
    Variant("dynamic_int8", "int8-dynamic-range", "tflite", False,
            "TFLite dynamic-range int8 (int8 weights, float activations): measured only"),
)
VARIANTS_BY_KEY = {v.key: v for v in VARIANTS}


def source_by_name(name: str) -> SourceModel:
    for source in SOURCE_MODELS:
        if source.name == name:
            return source
    choices = ", ".join(s.name for s in SOURCE_MODELS)
    raise ValueError(f"There is no source model named {name!r}; choose one of: {choices}.")
