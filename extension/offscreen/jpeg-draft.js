// The host decodes big JPEGs at 1/2, 1/4 or 1/8 scale (Pillow's draft(), inside libjpeg's
// IDCT), which the browser cannot do, so this approximates it: the same scale, chosen the way
// Pillow chooses it, then each s x s block of the full decode averaged. libjpeg's scaled IDCT
// is a slightly different low-pass, so a few pixel levels can differ; without this the
// in-browser model saw sharper pictures than the host for every JPEG over 512 px.
// Classic script for the classifier worker: defines self.jpegDraft.
'use strict';

(() => {
  // Pillow's JpegImageFile.draft: the largest of 8, 4, 2, 1 not above min(w // W, h // H).
  function draftScale(width, height, [wantWidth, wantHeight]) {
    const scale = Math.min(Math.floor(width / wantWidth), Math.floor(height / wantHeight));
    return [8, 4, 2, 1].find((s) => scale >= s) || 1;
  }

  function isJpeg(bytes) {
    return bytes.length > 2 && bytes[0] === 0xff && bytes[1] === 0xd8;
  }

  // -> {rgba, width, height}: the picture as the host would have decoded it (approximately).
  function jpegDraft(bytes, rgba, width, height, minSize) {
    const scale = isJpeg(bytes) ? draftScale(width, height, minSize) : 1;
    if (scale === 1) return { rgba, width, height };
    const outWidth = Math.ceil(width / scale);
    const outHeight = Math.ceil(height / scale);
    const out = new Uint8ClampedArray(outWidth * outHeight * 4);
    for (let y = 0; y < outHeight; y += 1) {
      const y0 = y * scale;
      const y1 = Math.min(y0 + scale, height);
      for (let x = 0; x < outWidth; x += 1) {
        const x0 = x * scale;
        const x1 = Math.min(x0 + scale, width);
        let r = 0;
        let g = 0;
        let b = 0;
        for (let yy = y0; yy < y1; yy += 1) {
          for (let xx = x0, at = (yy * width + x0) * 4; xx < x1; xx += 1, at += 4) {
            r += rgba[at];
            g += rgba[at + 1];
            b += rgba[at + 2];
          }
        }
        const n = (y1 - y0) * (x1 - x0);
        const to = (y * outWidth + x) * 4;
        out[to] = Math.round(r / n);
        out[to + 1] = Math.round(g / n);
        out[to + 2] = Math.round(b / n);
        out[to + 3] = 255;
      }
    }
    return { rgba: out, width: outWidth, height: outHeight };
  }

  self.jpegDraft = jpegDraft;
})();
