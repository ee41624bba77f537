"""Draws the TabSense toolbar icons (a lens over a rounded tile), and the variant shown
while listening for voice commands (the same tile with a red dot, like a recording light).

Run once after changing the design: python extension/icons/make_icons.py
Drawn at 8x and downscaled so small sizes stay crisp. Dev tool only; the PNGs are committed.
"""
from pathlib import Path

from PIL import Image, ImageDraw

HERE = Path(__file__).resolve().parent
TILE = (79, 70, 229)  # indigo, same as --accent in the popup
WHITE = (255, 255, 255)
RED = (220, 38, 38)  # --bad in the popup


def draw(size: int, listening: bool = False) -> Image.Image:
    s = size * 8
    img = Image.new("RGBA", (s, s), (0, 0, 0, 0))
    d = ImageDraw.Draw(img)
    d.rounded_rectangle([0, 0, s - 1, s - 1], radius=s // 5, fill=TILE)
    # Lens: a ring with a pupil, offset up-left, and a short handle down-right.
    c, r, w = s * 0.44, s * 0.26, max(8, s // 11)
    d.ellipse([c - r, c - r, c + r, c + r], outline=WHITE, width=w)
    p = r * 0.38
    d.ellipse([c - p, c - p, c + p, c + p], fill=WHITE)
    h0, h1 = c + r * 0.72, s * 0.84
    d.line([h0, h0, h1, h1], fill=WHITE, width=int(w * 1.3))
    if listening:  # top-right, where the badge does not cover it
        r, c = s * 0.2, s * 0.78
        d.ellipse([c - r, s - c - r, c + r, s - c + r], fill=RED, outline=WHITE, width=max(4, s // 24))
    return img.resize((size, size), Image.LANCZOS)


if __name__ == "__main__":
    for size in (16, 32, 48, 128):
        draw(size).save(HERE / f"icon{size}.png", optimize=True)
        print(f"wrote icon{size}.png")
    for size in (16, 32):  # toolbar sizes only
        draw(size, listening=True).save(HERE / f"listening{size}.png", optimize=True)
        print(f"wrote listening{size}.png")
