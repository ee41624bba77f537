"""extension/background/image-size.js reads sizes from file headers (it decides what gets
downscaled); checked against Pillow on every format it claims to know."""

from __future__ import annotations

import base64
import io

import pytest
from PIL import Image

from e2e_support import EXTENSION_URL

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]

CASES = [
    ("JPEG", {}, (1234, 567)),
    ("JPEG", {"progressive": True}, (640, 4001)),
    ("JPEG", {"exif": Image.Exif()}, (300, 200)),
    ("PNG", {}, (1025, 3)),
    ("GIF", {}, (77, 1500)),
    ("WEBP", {"lossless": False}, (2000, 1000)),
    ("WEBP", {"lossless": True}, (999, 1001)),
    ("BMP", {}, (1600, 900)),
]


def encode(fmt, options, size):
    buffer = io.BytesIO()
    Image.new("RGB", size, (40, 120, 200)).save(buffer, fmt, **options)
    return base64.b64encode(buffer.getvalue()).decode()


def read_sizes(page, samples):
    return page.evaluate(
        """async (samples) => {
             const { readImageSize } = await import('/background/image-size.js');
             return samples.map((b64) => readImageSize(Uint8Array.from(atob(b64), (c) => c.charCodeAt(0))));
           }""",
        samples,
    )


def test_header_sizes_match_pillow(page_factory):
    page = page_factory(f"{EXTENSION_URL}/options/options.html")  # any extension page can import it
    got = read_sizes(page, [encode(*case) for case in CASES])
    assert [(s["width"], s["height"]) for s in got] == [size for _, _, size in CASES]


def test_unknown_or_cut_short_is_null(page_factory):
    page = page_factory(f"{EXTENSION_URL}/options/options.html")
    jpeg = encode("JPEG", {}, (50, 50))
    short = base64.b64encode(base64.b64decode(jpeg)[:40]).decode()
    text = base64.b64encode(b"This is a text file pretending to be a JPEG.\n").decode()
    assert read_sizes(page, [short, text, ""]) == [None, None, None]
