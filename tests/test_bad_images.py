"""A corpus of awkward and broken images: each gets a label or the right error code.

Every case goes through the `classify_image` handler exactly as a browser request does
(base64 in, result or error out) against the real default model.
"""

from __future__ import annotations

import base64
import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from support import sample
from host.errors import TabSenseError

PHOTO = sample("tench").read_bytes()


def _photo(size=(320, 240)) -> Image.Image:
    return Image.open(io.BytesIO(PHOTO)).convert("RGB").resize(size)


def _save(image: Image.Image, fmt: str, **kwargs) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **kwargs)
    return buffer.getvalue()


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims `width` x `height` with almost no data behind it."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 10)) + chunk(b"IEND", b"")


def _animated_gif() -> bytes:
    frames = [_photo().convert("P"), Image.new("P", (320, 240), 3)]
    return _save(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)


def _exif_rotated_jpeg() -> bytes:
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90 degrees clockwise on display
    return _save(_photo((320, 200)), "JPEG", exif=exif)


def _corrupt_middle(data: bytes) -> bytes:
    middle = len(data) // 2
    return data[:middle] + b"\x00" * 4096 + data[middle + 4096:]


def _rgba_transparent() -> Image.Image:
    image = _photo().convert("RGBA")
    image.putalpha(0)
    return image


def _cmyk_jpeg() -> bytes:
    return _save(_photo().convert("CMYK"), "JPEG")


def _gray16_png() -> bytes:
    gray = np.asarray(_photo().convert("L"), dtype=np.uint16) * 257
    return _save(Image.fromarray(gray), "PNG")


def _float_tiff() -> bytes:
    gray = np.asarray(_photo().convert("L"), dtype=np.float32) / 255.0
    return _save(Image.fromarray(gray, mode="F"), "TIFF")


def _palette_with_transparency() -> bytes:
    image = _photo().convert("P", palette=Image.Palette.ADAPTIVE, colors=64)
    return _save(image, "PNG", transparency=0)


LABEL = "label"

# (case id, bytes, expected: "label" or an error code)
CASES = [
    ("jpeg", PHOTO, LABEL),
    ("png-rgb", _save(_photo(), "PNG"), LABEL),
    ("webp", _save(_photo(), "WEBP"), LABEL),
    ("bmp-1bit", _save(_photo().convert("1"), "BMP"), LABEL),
    ("gif-animated-first-frame", _animated_gif(), LABEL),
    ("png-palette-transparency", _palette_with_transparency(), LABEL),
    ("png-la", _save(_photo().convert("LA"), "PNG"), LABEL),
    ("png-rgba-fully-transparent", _save(_rgba_transparent(), "PNG"), "degenerate_image"),  # white: blank
    ("jpeg-cmyk", _cmyk_jpeg(), LABEL),
    ("jpeg-grayscale", _save(_photo().convert("L"), "JPEG"), LABEL),
    ("png-16bit-gray", _gray16_png(), LABEL),
    ("tiff-float", _float_tiff(), LABEL),
    ("jpeg-exif-rotated", _exif_rotated_jpeg(), LABEL),
    ("jpeg-progressive", _save(_photo(), "JPEG", progressive=True), LABEL),
    ("ico", _save(_photo((64, 64)), "ICO"), LABEL),
    ("one-pixel", _save(Image.new("RGB", (1, 1), (200, 10, 10)), "PNG"), "degenerate_image"),
    ("line-4000x1", _save(_photo((4000, 1)), "PNG"), "degenerate_image"),
    ("extreme-aspect-2000x100", _save(_photo((2000, 100)), "PNG"), LABEL),
    ("tiny-16x12", _save(_photo((16, 12)), "PNG"), LABEL),
    ("blank-white", _save(Image.new("RGB", (300, 300), "white"), "PNG"), "degenerate_image"),
    ("empty", b"", "not_an_image"),
    ("random-bytes", np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes(), "not_an_image"),
    ("html", b"<!doctype html><html><body>Not found</body></html>", "not_an_image"),
    ("svg", b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>', "not_an_image"),
    ("pdf", b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF", "not_an_image"),
    ("zip", b"PK\x03\x04" + b"\x00" * 100, "not_an_image"),
    ("jpeg-truncated-half", PHOTO[: len(PHOTO) // 2], "image_truncated"),
    ("jpeg-header-only", PHOTO[:600], "image_truncated"),
    ("png-truncated", _save(_photo(), "PNG")[:3000], "image_truncated"),
    ("jpeg-corrupt-middle", _corrupt_middle(PHOTO), (LABEL, "image_truncated")),
    ("png-bomb-header-60000x60000", _png_header_only(60000, 60000), "image_too_large"),
    ("png-40000x1", _png_header_only(40000, 1), "image_too_large"),
    ("png-zero-height", _png_header_only(100, 0), ("not_an_image", "unsupported_image")),
]


@pytest.mark.parametrize("data, expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_image_corpus(capabilities, data, expected):
    params = {"image": base64.b64encode(data).decode()}
    accepted = expected if isinstance(expected, tuple) else (expected,)
    try:
        result = capabilities.classify_image(params)
    except TabSenseError as exc:
        assert exc.code in accepted, f"got {exc.code}: {exc.message}"
        assert exc.message.endswith(".") and "Traceback" not in exc.message
        return
    assert LABEL in accepted, f"expected an error {accepted}, got a label"
    assert all(set(w) == {"code", "message"} for w in result.get("warnings", []))
    assert len(result["labels"]) == 5
    assert sum(l["score"] for l in result["labels"]) <= 1.0 + 1e-6


def test_corpus_has_at_least_25_kinds():
    assert len(CASES) >= 25


@pytest.mark.parametrize(
    "params, code",
    [
        ({}, "invalid_request"),
        ({"image": 42}, "invalid_request"),
        ({"image": "not base64!!"}, "bad_base64"),
        ({"image": "QUJ"}, "bad_base64"),
        ({"image": ""}, "not_an_image"),
        ({"image": base64.b64encode(PHOTO).decode(), "top_k": 0}, "invalid_request"),
        ({"image": base64.b64encode(PHOTO).decode(), "top_k": True}, "invalid_request"),
        ({"image": base64.b64encode(PHOTO).decode(), "top_k": "5"}, "invalid_request"),
        ({"image": base64.b64encode(PHOTO).decode(), "model": "no-such-model"}, "model_not_found"),
        ({"image": base64.b64encode(PHOTO).decode(), "model": 3}, "invalid_request"),
    ],
)
def test_bad_request_fields(capabilities, params, code):
    with pytest.raises(TabSenseError) as info:
        capabilities.classify_image(params)
    assert info.value.code == code


def test_a_photo_still_gets_its_label_in_every_container(capabilities):
    """The lossless re-encodings of the tench photo keep the tench label."""
    for name, data, expected in CASES[:3]:
        result = capabilities.classify_image({"image": base64.b64encode(data).decode()})
        assert result["labels"][0]["label"] == "tench", name


@pytest.mark.parametrize("size, code", [((2000, 100), "extreme_aspect_ratio"), ((16, 12), "too_small")])
def test_unreliable_pictures_carry_a_warning(capabilities, size, code):
    result = capabilities.classify_image({"image": base64.b64encode(_save(_photo(size), "PNG")).decode()})
    assert code in [w["code"] for w in result["warnings"]]


def test_a_normal_photo_has_no_warnings(capabilities):
    assert "warnings" not in capabilities.classify_image({"image": base64.b64encode(PHOTO).decode()})
