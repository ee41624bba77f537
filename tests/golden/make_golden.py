"""Regenerate the golden outputs of the frozen default model.

Run only when the model file or the preprocessing deliberately changes (then bump the
model version): golden values are only meaningful against one checksummed model.

    TABSENSE_HOME=... python tests/golden/make_golden.py
"""

import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from host.capabilities import Capabilities  # noqa: E402
from host.store import ModelStore  # noqa: E402

MODEL = "mobilenet_v2_1.0_224_quant"
SAMPLES = REPO.parent / "shared" / "data" / "imagenet-sample"
EVERY = 40  # a fixed, spread-out subset: every 40th photo by name


def main() -> None:
    classifier = Capabilities(ModelStore(), num_threads=1).pool.get(MODEL)
    spec = classifier.spec
    files = sorted(SAMPLES.glob("*.JPEG"))[::EVERY]
    images = []
    for path in files:
        labels = classifier.classify(path.read_bytes(), 5)["labels"]
        images.append({"file": path.name, "top5": labels})
        print(f"{path.name}: {labels[0]['label']} {labels[0]['score']:.3f}")
    document = {
        "model": spec.name,
        "version": spec.version,
        "sha256": spec.files["model"].sha256,
        "preprocess": spec.preprocess,
        "images": images,
    }
    target = Path(__file__).with_name(f"{spec.name}-v{spec.version}.json")
    target.write_text(json.dumps(document, indent=1) + "\n")
    print(f"wrote {target}")


if __name__ == "__main__":
    main()
