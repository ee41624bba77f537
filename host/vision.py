"""Image decoding and preprocessing: any image file a web page can hold -> model input.

Decoding is defensive because the bytes come from arbitrary web pages: every failure
maps to a `TabSenseError` with a clear code, and huge images are refused before their
pixels are allocated.
"""

from __future__ import annotations

import io
import math
import struct
import warnings

import numpy as np
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from .errors import ImageTooLarge, ImageTruncated, NotAnImage, UnsupportedImage

# Refuse images whose decoded pixels would not fit comfortably in memory: a 48 MP phone
# photo (8000x6000) passes; 50 MP is ~150 MB as RGB, the most one request may cost.
MAX_PIXELS = 50_000_000
MAX_SIDE = 30_000
WHITE = (255, 255, 255)

# Never decode partial files silently: a truncated image must be reported.
ImageFile.LOAD_TRUNCATED_IMAGES = False


def decode_image(data: bytes, min_size: tuple[int, int] | None = None) -> Image.Image:
    """Decode file bytes to an upright RGB image.

    `min_size` lets big JPEGs decode at a reduced scale (`draft`) while keeping at least
    that many pixels on each side, which is several times faster than a full decode.
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
            image.load()
            # In place: the returned copy of an upright picture cost ~0.4 ms per request.
            ImageOps.exif_transpose(image, in_place=True)
            return to_rgb(image)
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


def to_rgb(image: Image.Image) -> Image.Image:
    """Any Pillow mode -> 8-bit RGB; transparency is composited over white."""
    mode = image.mode
    if mode == "RGB":
        return image
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        return _high_depth_to_rgb(image)
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


def _high_depth_to_rgb(image: Image.Image) -> Image.Image:
    """16-bit and float grayscale: scale the value range to 0..255 instead of clipping."""
    array = np.asarray(image, dtype=np.float64)
    if image.mode.startswith("I;16"):
        scaled = array / 65535.0 * 255.0
    else:
        finite = array[np.isfinite(array)]
        low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
        if image.mode == "I" and low >= 0 and high <= 65535 and high > 255:
            low, high = 0.0, 65535.0
        elif image.mode == "I" and low >= 0 and high <= 255:
            low, high = 0.0, 255.0
        span = high - low or 1.0
        scaled = (np.nan_to_num(array, nan=low) - low) / span * 255.0
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
