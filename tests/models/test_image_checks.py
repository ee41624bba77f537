"""The example validator for image inputs (host/image_checks.py): pure functions, findings with reasons."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from host.image_checks import (
    ERROR,
    INFO,
    WARNING,
    check_image,
    check_image_bytes,
    check_mode,
    check_pixels,
    check_size,
    is_classifiable,
)
from support import SAMPLES


def codes(findings) -> set[str]:
    return {f.code for f in findings}


def encode(image: Image.Image, fmt: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt)
    return buffer.getvalue()


def noise(width: int, height: int, mode: str = "RGB") -> Image.Image:
    rng = np.random.default_rng(0)
    channels = {"RGB": 3, "RGBA": 4}.get(mode)
    shape = (height, width, channels) if channels else (height, width)
    return Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8), mode)


@pytest.mark.parametrize("width, height, code", [
    (1, 1, "one_pixel"),
    (1, 500, "one_pixel_line"),
    (640, 1, "one_pixel_line"),
    (0, 10, "no_pixels"),
])
def test_degenerate_sizes_are_errors(width, height, code):
    findings = check_size(width, height)
    assert codes(findings) == {code}
    assert findings[0].severity == ERROR and not is_classifiable(findings)
    assert findings[0].message.endswith(".")


def test_small_and_elongated_images_are_warnings():
    assert codes(check_size(20, 24)) == {"too_small"}
    findings = check_size(1000, 100)
    assert codes(findings) == {"extreme_aspect_ratio"}
    assert findings[0].severity == WARNING and "10%" in findings[0].message
    assert check_size(400, 120) == []  # 3.3:1 is fine
    assert check_size(224, 224) == []


def test_too_many_pixels_is_an_error():
    assert "too_large" in codes(check_size(40_000, 40_000))


def test_modes_explain_the_conversion():
    assert codes(check_mode("RGB")) == set()
    assert codes(check_mode("L")) == {"grayscale"}
    assert codes(check_mode("RGBA")) == {"transparency"}
    assert codes(check_mode("P", has_transparency=True)) == {"palette", "transparency"}
    assert codes(check_mode("CMYK")) == {"cmyk"}
    assert codes(check_mode("I;16")) == {"high_bit_depth"}
    assert codes(check_mode("1")) == {"bilevel"}
    assert codes(check_mode("XYZ")) == {"unusual_mode"}
    assert codes(check_mode("RGB", frames=12)) == {"animated"}
    assert all(f.severity == INFO for f in check_mode("LA"))


def test_blank_and_low_contrast_pixels():
    flat = np.full((50, 60, 3), (10, 200, 30), np.uint8)
    findings = check_pixels(flat)
    assert codes(findings) == {"blank"} and findings[0].severity == ERROR
    assert "(10, 200, 30)" in findings[0].message
    faint = flat.copy()
    faint[::2] += 6
    assert codes(check_pixels(faint)) == {"low_contrast"}
    assert check_pixels(np.asarray(noise(64, 64))) == []


def test_check_image_combines_everything_and_does_not_modify_the_image():
    image = Image.new("RGB", (300, 40), "white")
    before = image.tobytes()
    found = codes(check_image(image))
    assert found == {"blank", "extreme_aspect_ratio"}
    assert image.tobytes() == before
    assert codes(check_image(noise(120, 90, "RGBA"))) == {"transparency"}


def test_check_image_bytes_reports_unreadable_files():
    assert codes(check_image_bytes(b"")) == {"not_an_image"}
    assert codes(check_image_bytes(b"not an image at all")) == {"not_an_image"}
    assert codes(check_image_bytes(encode(Image.new("L", (1, 1))))) == {"one_pixel"}
    assert codes(check_image_bytes(encode(noise(200, 150), "JPEG"))) == set()


def test_sample_photos_are_classifiable():
    photos = sorted(SAMPLES.glob("*.JPEG"))[:25]
    for path in photos:
        findings = check_image_bytes(path.read_bytes())
        assert is_classifiable(findings), (path.name, findings)
