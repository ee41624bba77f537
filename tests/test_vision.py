"""Decoding and preprocessing, line by line."""

import io

import numpy as np
import pytest
from PIL import Image

from support import sample
from host.errors import ImageTooLarge
from host.vision import decode_image, draft_size, reduction_factor, resize_for_model, to_input_array, to_rgb


def encode(image, fmt="PNG", **kwargs) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **kwargs)
    return buffer.getvalue()


def test_exif_orientation_is_applied():
    exif = Image.Exif()
    exif[0x0112] = 6
    data = encode(Image.new("RGB", (40, 20), "red"), "JPEG", exif=exif)
    assert decode_image(data).size == (20, 40)


def test_transparency_is_composited_over_white():
    image = Image.new("RGBA", (8, 8), (255, 0, 0, 0))
    assert to_rgb(image).getpixel((0, 0)) == (255, 255, 255)
    half = Image.new("LA", (4, 4), (0, 128))
    assert to_rgb(half).getpixel((0, 0)) == (127, 127, 127)


def test_palette_transparency_index_becomes_white():
    image = Image.new("P", (4, 4), 1)
    image.putpalette([0, 0, 0, 10, 20, 30] + [0] * 762)
    decoded = decode_image(encode(image, "PNG", transparency=1))
    assert decoded.getpixel((0, 0)) == (255, 255, 255)


def test_sixteen_bit_gray_keeps_its_range():
    gray = np.full((4, 4), 65535, dtype=np.uint16)
    gray[0, 0] = 0
    rgb = decode_image(encode(Image.fromarray(gray)))
    assert rgb.mode == "RGB"
    assert rgb.getpixel((1, 1)) == (255, 255, 255) and rgb.getpixel((0, 0)) == (0, 0, 0)


def test_cmyk_becomes_rgb():
    image = Image.new("CMYK", (4, 4), (0, 255, 255, 0))  # pure red in CMYK
    red, green, blue = decode_image(encode(image, "JPEG", quality=100)).getpixel((1, 1))
    assert red > 200 and green < 60 and blue < 60


def test_first_frame_of_an_animation():
    first = Image.new("RGB", (10, 10), (255, 0, 0))
    second = Image.new("RGB", (10, 10), (0, 0, 255))
    data = encode(first, "GIF", save_all=True, append_images=[second])
    red, green, blue = decode_image(data).getpixel((5, 5))
    assert red > 200 and blue < 50


def test_draft_decodes_big_jpegs_smaller_but_never_below_the_crop():
    big = Image.open(sample("tench")).convert("RGB").resize((4000, 3000))
    data = encode(big, "JPEG")
    need = draft_size(224, 224, "center_crop", 0.875)
    decoded = decode_image(data, need)
    assert decoded.size[0] < 4000
    assert min(decoded.size) * 0.875 >= 224


def test_pixel_limit_is_checked_before_decoding(monkeypatch):
    import host.vision as vision

    monkeypatch.setattr(vision, "MAX_PIXELS", 100)
    with pytest.raises(ImageTooLarge):
        decode_image(encode(Image.new("RGB", (20, 20))))


def test_center_crop_takes_the_middle():
    image = Image.new("RGB", (300, 100), "black")
    image.paste((255, 255, 255), (80, 0, 220, 100))  # white middle, wider than the crop
    out = resize_for_model(image, 10, 10, "center_crop", 1.0)
    assert np.asarray(out).min() > 250
    whole = resize_for_model(image, 30, 10, "whole")
    assert np.asarray(whole)[:, 0].max() < 5


def test_uint8_identity_quantization_passes_pixels_through():
    image = Image.fromarray(np.arange(48, dtype=np.uint8).reshape(4, 4, 3))
    batch = to_input_array(image, {"dtype": "uint8", "mean": 128, "std": 128}, (1 / 128, 128))
    assert batch.shape == (1, 4, 4, 3)
    assert np.array_equal(batch[0], np.asarray(image))


def test_float_input_is_normalised():
    image = Image.fromarray(np.array([[[0, 127.5, 255]]], dtype=np.uint8))
    batch = to_input_array(image, {"dtype": "float32", "mean": 127.5, "std": 127.5}, None)
    assert batch.dtype == np.float32
    assert batch[0, 0, 0].tolist() == pytest.approx([-1.0, 0.0, 1.0], abs=0.01)


def test_int8_input_is_requantised():
    image = Image.fromarray(np.array([[[0, 128, 255]]], dtype=np.uint8))
    batch = to_input_array(image, {"dtype": "int8", "mean": 127.5, "std": 127.5}, (1 / 128, 0))
    assert batch.dtype == np.int8
    # (p - 127.5) / 127.5 / (1/128): 0 -> -128.5 (clipped), 128 -> 0.502 -> 1, 255 -> 128.5 (clipped)
    assert batch[0, 0, 0].tolist() == [-128, 1, 127]


def test_int8_input_with_aligned_mean_is_an_exact_shift():
    pixels = np.arange(256, dtype=np.uint8).reshape(16, 16, 1).repeat(3, axis=2)
    image = Image.fromarray(pixels)
    batch = to_input_array(image, {"dtype": "int8", "mean": 128, "std": 128}, (1 / 128, 0))
    assert batch.dtype == np.int8
    assert np.array_equal(batch[0].astype(np.int16), pixels.astype(np.int16) - 128)


# --- Big pictures: early reduction and strip-wise conversion ---------------------------


def _strip_cases():
    photo = Image.open(sample("tench")).convert("RGB").resize((300, 200))
    rgba = photo.convert("RGBA")
    rgba.putalpha(Image.linear_gradient("L").resize((300, 200)))
    palette = photo.convert("P", palette=Image.Palette.ADAPTIVE, colors=32)
    palette.info["transparency"] = 0
    gray = np.asarray(photo.convert("L"))
    floats = gray.astype(np.float32) / 255
    floats[0, 0], floats[-1, -1], floats[-1, 0] = np.nan, 7.0, -np.inf  # the maximum sits in the last strip
    return {"RGBA": rgba, "P+transparency": palette, "LA": photo.convert("LA"), "CMYK": photo.convert("CMYK"),
            "1": photo.convert("1"), "I;16": Image.fromarray(gray.astype(np.uint16) * 257),
            "F": Image.fromarray(floats, mode="F"), "I": Image.fromarray(gray.astype(np.int32) * 300)}


@pytest.mark.parametrize("name", list(_strip_cases()))
@pytest.mark.parametrize("factor", [1, 3])
def test_strip_conversion_equals_whole_picture_conversion(monkeypatch, name, factor):
    import host.vision as vision

    image = _strip_cases()[name]
    whole = to_rgb(image, factor)  # 60,000 pixels: one strip
    monkeypatch.setattr(vision, "STRIP_PIXELS", 1000)  # 3 rows a strip: 67 strips
    strips = to_rgb(image, factor)
    assert strips.mode == "RGB" and strips.size == (-(-300 // factor), -(-200 // factor))
    assert np.array_equal(np.asarray(strips), np.asarray(whole))


def test_reduced_conversion_averages_the_converted_pixels():
    image = Image.new("RGBA", (8, 4), (0, 0, 0, 0))
    image.paste((0, 0, 0, 255), (0, 0, 1, 4))  # one opaque black column in each 2x2 box at x=0
    out = to_rgb(image, 2)
    assert out.size == (4, 2)
    assert out.getpixel((0, 0)) == (128, 128, 128) and out.getpixel((1, 0)) == (255, 255, 255)


def test_float_range_ignores_nan_and_infinity():
    floats = np.array([[0.0, 0.5, np.nan], [1.0, np.inf, -np.inf]], dtype=np.float32)
    gray = np.asarray(to_rgb(Image.fromarray(floats, mode="F")))[..., 0]
    assert gray.tolist() == [[0, 128, 0], [255, 255, 0]]


@pytest.mark.parametrize("size, factor", [((500, 375), 1), ((2047, 4000), 2), ((4000, 3000), 2),
                                          ((8660, 5773), 5), ((30000, 1666), 3), ((30000, 300), 1)])
def test_reduction_factor_keeps_normal_pictures_and_the_models_need(size, factor):
    need = draft_size(224, 224, "center_crop", 0.875)
    assert reduction_factor(size, need) == factor
    assert min(size) // factor >= need[0] or factor == 1
    assert reduction_factor(size, None) == 1


def test_a_normal_png_decodes_to_exactly_its_pixels():
    photo = Image.open(sample("tench")).convert("RGB")
    rgba = photo.convert("RGBA")
    rgba.putalpha(200)
    for image in (photo, rgba):
        decoded = decode_image(encode(image), draft_size(224, 224, "center_crop", 0.875))
        assert decoded.size == photo.size
        assert np.array_equal(np.asarray(decoded), np.asarray(to_rgb(image)))


def test_a_big_png_is_reduced_but_never_below_the_models_need():
    big = Image.open(sample("tench")).convert("RGB").resize((4200, 2100))
    need = draft_size(224, 224, "center_crop", 0.875)
    decoded = decode_image(encode(big, compress_level=1), need)
    assert decoded.size == (2100, 1050)  # 2100 // (4 * 256) = 2
    assert min(decoded.size) >= need[0]
    assert decode_image(encode(big, compress_level=1)).size == (4200, 2100)  # no need given: full size


def test_exif_orientation_is_applied_after_the_reduction():
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise on display
    image = Image.new("RGB", (4200, 2100), "blue")
    image.paste((255, 0, 0), (0, 0, 2100, 2100))  # left half red: on top once upright
    decoded = decode_image(encode(image, "PNG", exif=exif, compress_level=1), (256, 256))
    assert decoded.size == (1050, 2100)
    assert decoded.getpixel((500, 10))[0] > 200 and decoded.getpixel((500, 2090))[2] > 200
