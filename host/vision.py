"""Image decoding and preprocessing: any image file a web page can hold -> model input.

Decoding is defensive because the bytes come from arbitrary web pages: every failure
maps to a `TabSenseError` with a clear code, and huge images are refused before their
pixels are allocated.

Memory is bounded by the decoded picture itself: right after decoding, a big picture is
reduced toward the model's input (JPEG: `draft`, at decode time; other formats: Pillow's
box `reduce`) and converted to 8-bit RGB a strip at a time, so no other full-size copy is
ever made, and decodes of big pictures take turns.
"""

from __future__ import annotations

import contextlib
import io
import math
import struct
import threading
import warnings

import numpy as np
from PIL import ExifTags, Image, ImageFile, UnidentifiedImageError

from .errors import ImageTooLarge, ImageTruncated, NotAnImage, UnsupportedImage

# Refuse images whose decoded pixels would not fit comfortably in memory: a 48 MP phone
# photo (8000x6000) passes; 50 MP is 200 MB decoded (Pillow keeps RGB in 4 bytes a pixel).
MAX_PIXELS = 50_000_000
MAX_SIDE = 30_000
WHITE = (255, 255, 255)

# Early reduction (non-JPEG; JPEGs get `draft`): a picture at least REDUCING_GAP times the
# model's need on each side is box-reduced down to that gap; smaller ones keep the plain
# resize. A picture still over MAX_WORKING_PIXELS is reduced further, never below the need.
REDUCING_GAP = 4
MAX_WORKING_PIXELS = 8_000_000
STRIP_PIXELS = 1 << 16  # conversions work on strips of about this many pixels (256 KB as RGB)
LARGE_DECODE_PIXELS = 16_000_000  # decodes above this (64 MB and more) run one at a time
_large_decode = threading.Lock()

HIGH_DEPTH_MODES = ("I;16", "I;16B", "I;16L", "I;16N", "I", "F")
_ORIENTATION = ExifTags.Base.Orientation
_TRANSPOSE = {  # EXIF orientation -> the transposition that makes the picture upright
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}

# Never decode partial files silently: a truncated image must be reported.
ImageFile.LOAD_TRUNCATED_IMAGES = False


def decode_image(data: bytes, min_size: tuple[int, int] | None = None) -> Image.Image:
    """Decode file bytes to an upright RGB image.

    `min_size` is what the model needs (`draft_size`): a picture much bigger than that is
    returned reduced, never below it (JPEGs decode at a reduced scale, several times faster
    than a full decode). Without `min_size` the picture keeps its full size.
    """
    if not data:
        raise NotAnImage("The image is empty (0 bytes).")
    with warnings.catch_warnings():
        # Pillow warns, then errors, on decompression bombs; our own limit below is stricter.
        warnings.simplefilter("ignore", UserWarning)  # Pillow's notes on odd metadata: not actionable
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(data))
        except Image.DecompressionBombError as exc:
            raise ImageTooLarge("The image has too many pixels to classify safely.") from exc
        except Image.DecompressionBombWarning as exc:
            raise ImageTooLarge("The image has too many pixels to classify safely.") from exc
        except UnidentifiedImageError as exc:
            raise NotAnImage() from exc
        except (OSError, ValueError, SyntaxError, struct.error) as exc:
            raise NotAnImage(f"The file is not an image TabSense can read ({_reason(exc)}).") from exc
        width, height = image.size
        if width < 1 or height < 1:
            raise UnsupportedImage("The image has no pixels.")
        if width * height > MAX_PIXELS or max(width, height) > MAX_SIDE:
            raise ImageTooLarge(
                f"The image is {width}x{height} pixels; TabSense accepts up to "
                f"{MAX_PIXELS // 1_000_000} megapixels."
            )
        try:
            image.seek(0)  # first frame of animations
            if min_size and image.format == "JPEG":
                image.draft("RGB", min_size)
            big = image.size[0] * image.size[1] > LARGE_DECODE_PIXELS
            with _large_decode if big else contextlib.nullcontext():
                image.load()
                method = _TRANSPOSE.get(image.getexif().get(_ORIENTATION, 1))
                w, h = image.size
                upright = (h, w) if method in (Image.Transpose.TRANSPOSE, Image.Transpose.TRANSVERSE,
                                               Image.Transpose.ROTATE_90, Image.Transpose.ROTATE_270) else (w, h)
                rgb = to_rgb(image, reduction_factor(upright, min_size))
                if rgb is not image:
                    image.close()  # free the full-size pixels before the next big decode starts
            # Transposed after the reduction: a rotated full-size copy would double the memory.
            return rgb.transpose(method) if method is not None else rgb
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise ImageTooLarge("The image has too many pixels to classify safely.") from exc
        except MemoryError as exc:
            raise ImageTooLarge("The image is too large to decode in memory.") from exc
        except (OSError, SyntaxError, EOFError, struct.error) as exc:
            if _looks_truncated(exc):
                raise ImageTruncated() from exc
            raise ImageTruncated(f"The image file is damaged ({_reason(exc)}).") from exc
        except (ValueError, TypeError, IndexError, KeyError, ZeroDivisionError) as exc:
            # Pillow raises these on some malformed headers and metadata.
            raise UnsupportedImage(f"This image cannot be decoded ({_reason(exc)}).") from exc


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().rstrip(".")
    return text[:120] if text else type(exc).__name__


def _looks_truncated(exc: BaseException) -> bool:
    text = str(exc).lower()
    return any(w in text for w in ("truncated", "broken data stream", "premature end", "unexpected end"))


def reduction_factor(size: tuple[int, int], need: tuple[int, int] | None) -> int:
    """How many times to box-reduce a picture of `size` for a model that needs `need` pixels."""
    if not need:
        return 1
    (width, height), (need_w, need_h) = size, need
    most = min(width // need_w, height // need_h)  # never below the model's need
    wanted = max(min(width // (REDUCING_GAP * need_w), height // (REDUCING_GAP * need_h)),
                 math.ceil(math.sqrt(width * height / MAX_WORKING_PIXELS)))
    return max(1, min(most, wanted))


def to_rgb(image: Image.Image, factor: int = 1) -> Image.Image:
    """Any Pillow mode -> 8-bit RGB, box-reduced `factor` times; transparency is composited
    over white, and 16-bit and float grayscale scaled to 0..255.

    Non-RGB pictures are converted a strip at a time: besides the input, memory holds the
    (reduced) output and one strip.
    """
    if image.mode == "RGB":
        return image.reduce(factor) if factor > 1 else image
    convert = _strip_converter(image)
    width, height = image.size
    rows = max(1, STRIP_PIXELS // width)
    rows = max(factor, rows - rows % factor)  # whole reduction boxes: strips reduce like the whole
    if rows >= height:
        rgb = convert(image)
        return rgb.reduce(factor) if factor > 1 else rgb
    out = Image.new("RGB", (-(-width // factor), -(-height // factor)))
    for top in range(0, height, rows):
        strip = convert(image.crop((0, top, width, min(height, top + rows))))
        out.paste(strip.reduce(factor) if factor > 1 else strip, (0, top // factor))
    return out


def _strip_converter(image: Image.Image):
    """The function that turns a strip of `image` into RGB."""
    if image.mode in HIGH_DEPTH_MODES:
        low, high = _high_depth_range(image)
        return lambda strip: _high_depth_to_rgb(strip, low, high)
    return _to_rgb_pointwise


def _to_rgb_pointwise(image: Image.Image) -> Image.Image:
    mode = image.mode
    if mode == "RGB":
        return image
    if mode == "P" or mode == "PA":
        image = image.convert("RGBA" if ("transparency" in image.info or mode == "PA") else "RGB")
        mode = image.mode
    elif "transparency" in image.info and mode in ("L", "RGB", "1"):
        image = image.convert("RGBA")
        mode = image.mode
    if mode in ("RGBA", "LA", "RGBa", "La"):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, WHITE + (255,))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")  # L, 1, CMYK, YCbCr, LAB, HSV


def _high_depth_range(image: Image.Image) -> tuple[float, float]:
    """The value range of a 16-bit or float picture that maps to 0..255."""
    if image.mode.startswith("I;16"):
        return 0.0, 65535.0
    low, high = math.inf, -math.inf
    width, height = image.size
    rows = max(1, STRIP_PIXELS // width)
    for top in range(0, height, rows):
        array = np.asarray(image.crop((0, top, width, min(height, top + rows))))
        finite = array[np.isfinite(array)]
        if finite.size:
            low, high = min(low, float(finite.min())), max(high, float(finite.max()))
    if low > high:  # nothing finite
        low, high = 0.0, 1.0
    if image.mode == "I" and low >= 0 and high <= 65535 and high > 255:
        low, high = 0.0, 65535.0
    elif image.mode == "I" and low >= 0 and high <= 255:
        low, high = 0.0, 255.0
    return low, high


def _high_depth_to_rgb(image: Image.Image, low: float, high: float) -> Image.Image:
    """16-bit and float grayscale: scale the value range to 0..255 instead of clipping."""
    array = np.asarray(image, dtype=np.float64)
    span = high - low or 1.0
    scaled = (np.nan_to_num(array, nan=low, posinf=high, neginf=low) - low) / span * 255.0
    gray = np.clip(np.rint(scaled), 0, 255).astype(np.uint8)
    return Image.fromarray(gray).convert("RGB")


# --- Preprocessing -------------------------------------------------------------------


def draft_size(model_width: int, model_height: int, resize: str, crop_fraction: float) -> tuple[int, int]:
    """Smallest decode size that still gives the model full-resolution pixels."""
    if resize == "center_crop":
        side = math.ceil(max(model_width, model_height) / crop_fraction)
        return side, side
    return model_width, model_height


def resize_for_model(
    image: Image.Image, width: int, height: int, resize: str = "center_crop", crop_fraction: float = 0.875
) -> Image.Image:
    """Resize to the model's input size.

    `center_crop`: take a centered square of `crop_fraction` of the shorter side, then
    resize (the ImageNet evaluation convention). `whole`: resize the whole image, ignoring
    its aspect ratio.
    """
    if resize == "center_crop":
        w, h = image.size
        side = max(1.0, min(w, h) * crop_fraction)
        left, top = (w - side) / 2, (h - side) / 2
        box = (left, top, left + side, top + side)
        return image.resize((width, height), Image.Resampling.BILINEAR, box=box, reducing_gap=None)
    if resize == "whole":
        return image.resize((width, height), Image.Resampling.BILINEAR)
    raise ValueError(f"unknown resize mode {resize!r}")


def to_input_array(image: Image.Image, input_spec: dict, quantization: tuple[float, int] | None) -> np.ndarray:
    """RGB image (already at model size) -> a batch of one in the model's dtype.

    Real input value = (pixel - mean) / std. For quantized inputs that is then mapped to
    integers with the tensor's scale and zero point; when that mapping is the identity
    (the common uint8 case) the pixels go in unchanged.
    """
    pixels = np.asarray(image, dtype=np.uint8)
    mean = float(input_spec.get("mean", 0.0))
    std = float(input_spec.get("std", 1.0))
    dtype = np.dtype(input_spec["dtype"])
    if dtype.kind == "f":
        return ((pixels.astype(np.float32) - mean) / std)[np.newaxis].astype(dtype, copy=False)
    scale, zero_point = quantization or (0.0, 0)
    if not scale:
        # An integer input without quantization parameters takes raw pixels.
        return pixels[np.newaxis].astype(dtype)
    info = np.iinfo(dtype)
    offset = mean - zero_point
    if math.isclose(std * scale, 1.0) and math.isclose(offset, round(offset)):
        # Each pixel lands exactly on its own integer level: shift, no float round trip.
        if dtype == np.uint8 and round(offset) == 0:
            return pixels[np.newaxis]
        shifted = pixels.astype(np.int16) - int(round(offset))
        return np.clip(shifted, info.min, info.max).astype(dtype)[np.newaxis]
    real = (pixels.astype(np.float32) - mean) / std
    quantized = np.rint(real / scale + zero_point)
    return np.clip(quantized, info.min, info.max).astype(dtype)[np.newaxis]
