// Pillow's BILINEAR resize of a box of an RGBA picture, integer for integer (libImaging
// Resample.c: a triangle filter widened by the scale factor, 22-bit fixed-point weights,
// horizontal pass then vertical, each rounded to 8 bits). The host prepares pictures with
// exactly this (host/vision.py), so the in-browser model sees the host's pixels; the
// canvas's own smoothing made 3.6% of the sample photos change their top-1 label.
// Classic script for the classifier worker: defines self.pillowResizeBilinear.
'use strict';

(() => {
  const PRECISION_BITS = 32 - 8 - 2;
  const ONE = 2 ** PRECISION_BITS;
  const HALF = 2 ** (PRECISION_BITS - 1);

  // Taps of every output pixel along one axis: {first[], count[], weights: Int32 per tap}
  function coefficients(inSize, in0, in1, outSize) {
    const scale = (in1 - in0) / outSize;
    const filterScale = Math.max(scale, 1);
    const support = filterScale; // bilinear support is 1
    const maxTaps = Math.ceil(support) * 2 + 1;
    const first = new Int32Array(outSize);
    const count = new Int32Array(outSize);
    const weights = new Float64Array(outSize * maxTaps);
    for (let xx = 0; xx < outSize; xx += 1) {
      const center = in0 + (xx + 0.5) * scale;
      const xmin = Math.max(Math.trunc(center - support + 0.5), 0);
      const xmax = Math.min(Math.trunc(center + support + 0.5), inSize) - xmin;
      let total = 0;
      const row = [];
      for (let x = 0; x < xmax; x += 1) {
        const distance = Math.abs((x + xmin - center + 0.5) / filterScale);
        const w = distance < 1 ? 1 - distance : 0;
        row.push(w);
        total += w;
      }
      for (let x = 0; x < xmax; x += 1) {
        const k = total !== 0 ? row[x] / total : 0;
        // normalize_coeffs_8bpc: round half away from zero to fixed point
        weights[xx * maxTaps + x] = k < 0 ? Math.trunc(-0.5 + k * ONE) : Math.trunc(0.5 + k * ONE);
      }
      first[xx] = xmin;
      count[xx] = xmax;
    }
    return { first, count, weights, maxTaps };
  }

  function clip8(sum) {
    const value = Math.floor(sum / ONE);
    return value < 0 ? 0 : value > 255 ? 255 : value;
  }

  // rgba: Uint8ClampedArray width*height*4; box: [left, top, right, bottom] (floats)
  // -> Uint8Array outWidth*outHeight*3 (RGB)
  function pillowResizeBilinear(rgba, width, height, box, outWidth, outHeight) {
    const [left, top, right, bottom] = box;
    const h = coefficients(width, left, right, outWidth);
    const v = coefficients(height, top, bottom, outHeight);
    // Only the rows the vertical pass reads go through the horizontal pass (as Pillow does).
    const rowFirst = v.first[0];
    const rowLast = v.first[outHeight - 1] + v.count[outHeight - 1];
    const rows = rowLast - rowFirst;
    const middle = new Uint8Array(rows * outWidth * 3);
    for (let y = 0; y < rows; y += 1) {
      const inRow = (y + rowFirst) * width * 4;
      for (let xx = 0; xx < outWidth; xx += 1) {
        const start = h.first[xx];
        const taps = h.count[xx];
        const base = xx * h.maxTaps;
        let r = HALF;
        let g = HALF;
        let b = HALF;
        for (let x = 0; x < taps; x += 1) {
          const k = h.weights[base + x];
          const at = inRow + (start + x) * 4;
          r += rgba[at] * k;
          g += rgba[at + 1] * k;
          b += rgba[at + 2] * k;
        }
        const out = (y * outWidth + xx) * 3;
        middle[out] = clip8(r);
        middle[out + 1] = clip8(g);
        middle[out + 2] = clip8(b);
      }
    }
    const result = new Uint8Array(outWidth * outHeight * 3);
    for (let yy = 0; yy < outHeight; yy += 1) {
      const start = v.first[yy] - rowFirst;
      const taps = v.count[yy];
      const base = yy * v.maxTaps;
      for (let xx = 0; xx < outWidth; xx += 1) {
        let r = HALF;
        let g = HALF;
        let b = HALF;
        for (let y = 0; y < taps; y += 1) {
          const k = v.weights[base + y];
          const at = ((start + y) * outWidth + xx) * 3;
          r += middle[at] * k;
          g += middle[at + 1] * k;
          b += middle[at + 2] * k;
        }
        const out = (yy * outWidth + xx) * 3;
        result[out] = clip8(r);
        result[out + 1] = clip8(g);
        result[out + 2] = clip8(b);
      }
    }
    return result;
  }

  self.pillowResizeBilinear = pillowResizeBilinear;
})();
