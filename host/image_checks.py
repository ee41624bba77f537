"""Example validator for image inputs: is this picture something a classifier can judge?

Pure functions that return a list of `Finding`s (empty = nothing to report), each with a
stable `code`, a `severity` and a sentence a user understands:

- "error": nothing meaningful can be classified (no pixels, a single pixel or a 1-pixel
  line, a blank image of one flat colour, too many pixels to decode safely);
- "warning": a label will come back but is unreliable (tiny, extreme aspect ratio so the
  central crop drops most of the picture, very low contrast, bilevel, unusual mode);
- "info": the picture is converted before classification (grayscale, palette, CMYK,
  transparency composited over white, high bit depth, only the first frame of an animation).

Only the standard library, numpy and Pillow. The model lab runs it on every evaluation image
(findings are a slice of its report); the host can call `check_image_bytes` before
classifying.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from PIL import Image

from .vision import MAX_PIXELS, MAX_SIDE, to_rgb

ERROR, WARNING, INFO = "error", "warning", "info"

MIN_SIDE = 32  # below this the 224-pixel models see an upscaled blur (> 7x)
MAX_ASPECT_RATIO = 4.0  # beyond 4:1 the central square crop keeps under a quarter of the image
BLANK_STD = 2.0  # pixel standard deviation (0-255) under which an image is one flat colour
LOW_CONTRAST_STD = 10.0
PIXEL_CHECK_SIDE = 256  # pixel statistics are computed on a copy reduced to about this size

GRAYSCALE_MODES = {"L", "LA", "I", "I;16", "I;16B", "I;16L", "I;16N", "F"}
HIGH_DEPTH_MODES = {"I", "I;16", "I;16B", "I;16L", "I;16N", "F"}
ALPHA_MODES = {"RGBA", "LA", "PA", "RGBa", "La"}
KNOWN_MODES = {"RGB", "RGBA", "RGBa", "L", "LA", "La", "P", "PA", "1", "CMYK", "YCbCr", "LAB", "HSV",
               "I", "I;16", "I;16B", "I;16L", "I;16N", "F"}


@dataclass(frozen=True)
class Finding:
    code: str
    severity: str
    message: str

    def to_dict(self) -> dict:
        return {"code": self.code, "severity": self.severity, "message": self.message}


def check_size(width: int, height: int) -> list[Finding]:
    """Findings about the pixel dimensions alone."""
    if width < 1 or height < 1:
        return [Finding("no_pixels", ERROR, f"The image is {width}x{height} pixels: it has no pixels.")]
    if width == 1 and height == 1:
        return [Finding("one_pixel", ERROR, "The image is a single pixel; there is nothing to classify.")]
    if min(width, height) == 1:
        return [Finding("one_pixel_line", ERROR,
                        f"The image is {width}x{height} pixels, a 1-pixel line; there is nothing to classify.")]
    findings = []
    if width * height > MAX_PIXELS or max(width, height) > MAX_SIDE:
        findings.append(Finding("too_large", ERROR,
                                f"The image is {width}x{height} pixels, more than TabSense decodes safely "
                                f"({MAX_PIXELS // 1_000_000} megapixels, {MAX_SIDE} pixels a side)."))
    if min(width, height) < MIN_SIDE:
        findings.append(Finding("too_small", WARNING,
                                f"The image is only {width}x{height} pixels; it is enlarged many times "
                                "to fit the model, so the result is unreliable."))
    ratio = max(width, height) / min(width, height)
    if ratio > MAX_ASPECT_RATIO:
        kept = min(width, height) / max(width, height)
        findings.append(Finding("extreme_aspect_ratio", WARNING,
                                f"The image is {ratio:.1f} times longer than wide; the central square the "
                                f"model sees holds at most {kept:.0%} of it."))
    return findings


def check_mode(mode: str, has_transparency: bool = False, frames: int = 1) -> list[Finding]:
    """Findings about the colour mode and frames (what the host converts, and how)."""
    findings = []
    if mode not in KNOWN_MODES:
        findings.append(Finding("unusual_mode", WARNING,
                                f"The image uses the unusual colour mode {mode!r}; colours may be converted badly."))
    elif mode == "1":
        findings.append(Finding("bilevel", WARNING,
                                "The image is black and white only (1 bit per pixel); the models were "
                                "trained on photographs."))
    elif mode in HIGH_DEPTH_MODES:
        findings.append(Finding("high_bit_depth", INFO,
                                f"The image has more than 8 bits per pixel (mode {mode}); its range is "
                                "scaled to 8-bit grayscale."))
    elif mode in GRAYSCALE_MODES:
        findings.append(Finding("grayscale", INFO, "The image is grayscale; it is classified as gray RGB."))
    if mode in ("P", "PA"):
        findings.append(Finding("palette", INFO, "The image has a colour palette; it is expanded to RGB."))
    if mode == "CMYK":
        findings.append(Finding("cmyk", INFO, "The image is CMYK (print colours); it is converted to RGB."))
    if mode in ALPHA_MODES or has_transparency:
        findings.append(Finding("transparency", INFO,
                                "The image has transparent parts; they are shown over white."))
    if frames > 1:
        findings.append(Finding("animated", INFO,
                                f"The image has {frames} frames; only the first one is classified."))
    return findings


def check_pixels(pixels: np.ndarray) -> list[Finding]:
    """Findings about the content of an 8-bit image array (H x W or H x W x C)."""
    pixels = np.asarray(pixels)
    if pixels.size == 0:
        return [Finding("no_pixels", ERROR, "The image has no pixels.")]
    # One contiguous row per channel: reducing the interleaved layout is ~10x slower, and
    # this runs on every classification.
    channels = np.ascontiguousarray(pixels.reshape(pixels.shape[0] * pixels.shape[1], -1).T).astype(np.float32)
    spread = float(channels.std(axis=1).max())
    if spread < BLANK_STD:
        colour = tuple(int(round(c)) for c in channels.mean(axis=1))
        return [Finding("blank", ERROR,
                        f"The image is one flat colour (about {colour}); there is nothing to classify.")]
    if spread < LOW_CONTRAST_STD:
        return [Finding("low_contrast", WARNING,
                        "The image has very little contrast; the result is unreliable.")]
    return []


def _reduced_rgb(image: Image.Image) -> Image.Image:
    # Reduced while converting: no full-size RGB copy of a big picture.
    return to_rgb(image, max(1, min(image.size) // PIXEL_CHECK_SIDE))


def check_image(image: Image.Image) -> list[Finding]:
    """All findings for an opened Pillow image (the caller's image is not modified)."""
    width, height = image.size
    findings = check_size(width, height)
    frames = int(getattr(image, "n_frames", 1) or 1)
    findings += check_mode(image.mode, "transparency" in image.info, frames)
    if any(f.severity == ERROR for f in findings):
        return findings  # no pixels, or too many to decode safely
    findings += check_pixels(np.asarray(_reduced_rgb(image)))
    return findings


def check_image_bytes(data: bytes) -> list[Finding]:
    """All findings for the bytes of an image file; unreadable files give one error finding."""
    if not data:
        return [Finding("not_an_image", ERROR, "The image is empty (0 bytes).")]
    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
            findings = check_size(width, height)
            if any(f.severity == ERROR for f in findings):
                return findings
            image.load()
            return check_image(image)
    except Image.DecompressionBombError:
        return [Finding("too_large", ERROR, "The image has too many pixels to decode safely.")]
    except (OSError, ValueError, SyntaxError, EOFError) as exc:
        reason = str(exc).strip().rstrip(".")[:120] or type(exc).__name__
        return [Finding("not_an_image", ERROR, f"The file cannot be read as an image ({reason}).")]


def is_classifiable(findings: list[Finding]) -> bool:
    """True when no finding is an error."""
    return not any(f.severity == ERROR for f in findings)
