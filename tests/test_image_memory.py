"""Peak memory of classifying the biggest pictures the host accepts (50 MP), of every kind.

Each measurement is a fresh process that loads the real default classifier, reads the
files and classifies them (several at once on threads, as the host's workers do); its peak
is the whole process's ru_maxrss, baseline included, read by a slim parent process: Linux
keeps the high-water mark across exec, so a child started straight from the test process
would report the test's own pages. The pictures are a sample photo enlarged to 8660 x 5773,
written once by another process.
"""

from __future__ import annotations

import json
import subprocess

import pytest

from support import PYTHON, REPO, sample

pytestmark = pytest.mark.slow

MAX_ONE_MIB = 300  # one 50 MP request, the whole process (~60 MiB of it is Python, LiteRT and the model)
MAX_TWO_MIB = 400  # two at once

KINDS = {  # file name -> how the enlarged photo is stored
    "rgb.jpg": "RGB JPEG",
    "rgb.png": "RGB PNG",
    "rgba.png": "RGBA PNG, alpha gradient",
    "i16.png": "16-bit grayscale PNG (I;16)",
    "f.tiff": "float grayscale TIFF (F), deflate",
    "p.png": "palette PNG with a transparent index",
    "la.png": "grayscale + alpha PNG (LA)",
    "cmyk.jpg": "CMYK JPEG",
}

GENERATE = r"""
import sys
from pathlib import Path
import numpy as np
from PIL import Image
photo, out = sys.argv[1], Path(sys.argv[2])
W, H = 8660, 5773  # 49.99 MP, under the 50 MP limit
big = Image.open(photo).convert("RGB").resize((W, H), Image.Resampling.BILINEAR)
big.save(out / "rgb.jpg", quality=90)
big.save(out / "rgb.png", compress_level=1)
rgba = big.convert("RGBA")
rgba.putalpha(Image.linear_gradient("L").resize((W, H)))
rgba.save(out / "rgba.png", compress_level=1)
del rgba
gray = np.asarray(big.convert("L"))
Image.fromarray(gray.astype(np.uint16) * 257).save(out / "i16.png", compress_level=1)
Image.fromarray(gray.astype(np.float32) / 255, mode="F").save(out / "f.tiff", compression="tiff_adobe_deflate")
del gray
big.convert("P", palette=Image.Palette.ADAPTIVE, colors=64).save(out / "p.png", transparency=0, compress_level=1)
big.convert("LA").save(out / "la.png", compress_level=1)
big.convert("CMYK").save(out / "cmyk.jpg", quality=90)
"""

# Classifies argv[1:] at once, one thread each, with the real default classifier.
PROBE = r"""
import json, sys, threading
from pathlib import Path
from host.capabilities import ModelPool
from host.store import ModelStore
classifier = ModelPool(ModelStore(), 1).get(None)
datas = [Path(p).read_bytes() for p in sys.argv[1:]]
labels = [None] * len(datas)
def run(i):
    labels[i] = classifier.classify(datas[i], 1)["labels"][0]["label"]
threads = [threading.Thread(target=run, args=(i,)) for i in range(len(datas))]
for t in threads: t.start()
for t in threads: t.join()
print(json.dumps(labels))
"""

# Runs the probe (argv[1:]) as its child and reports the child's labels and peak RSS.
WRAPPER = r"""
import json, resource, subprocess, sys
run = subprocess.run(sys.argv[1:], stdout=subprocess.PIPE, text=True)
if run.returncode:
    sys.exit(run.returncode)
print(json.dumps({"labels": json.loads(run.stdout),
                  "peak_mib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}))
"""


@pytest.fixture(scope="module")
def pictures(tmp_path_factory):
    folder = tmp_path_factory.mktemp("50mp")
    subprocess.run([PYTHON, "-c", GENERATE, str(sample("tench")), str(folder)], check=True, timeout=280)
    from PIL import Image

    for name in KINDS:
        with Image.open(folder / name) as image:
            assert 49_000_000 < image.width * image.height <= 50_000_000, name
    return folder


def peak(host_env, *files) -> dict:
    run = subprocess.run([PYTHON, "-c", WRAPPER, PYTHON, "-c", PROBE, *map(str, files)], capture_output=True, text=True,
                         env=host_env, cwd=REPO, timeout=280)
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


@pytest.mark.parametrize("name", list(KINDS))
def test_one_50_mp_picture_stays_under_the_budget(host_env, pictures, name):
    result = peak(host_env, pictures / name)
    print(f"\n{KINDS[name]}, 50 MP: peak RSS {result['peak_mib']:.0f} MiB")
    assert result["labels"] == ["tench"]
    assert result["peak_mib"] <= MAX_ONE_MIB


@pytest.mark.parametrize("names", [("rgb.png", "rgb.png"), ("rgba.png", "rgba.png"), ("i16.png", "i16.png"),
                                   ("f.tiff", "f.tiff"), ("rgba.png", "f.tiff")], ids="+".join)
def test_two_50_mp_pictures_at_once_stay_under_the_budget(host_env, pictures, names):
    result = peak(host_env, *(pictures / n for n in names))
    print(f"\n{' and '.join(KINDS[n] for n in names)} at once: peak RSS {result['peak_mib']:.0f} MiB")
    assert result["labels"] == ["tench", "tench"]
    assert result["peak_mib"] <= MAX_TWO_MIB
