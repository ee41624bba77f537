// The in-browser fallback model: MobileNet v1 0.75 224 (float16 weights) as a TF.js graph
// model on the wasm backend, in a dedicated worker of the offscreen document. Made by
// `tabsense-models export-fallback` into ../models/fallback/ (not committed: the weights are
// derived from the pretrained model in ../shared). Pictures are prepared the way the host
// prepares them (host/vision.py): EXIF orientation, no colour management, transparency over
// white, a centred square of 87.5% of the shorter side resized to 224x224 with Pillow's own
// bilinear filter (pillow-resize.js), (pixel - 127.5) / 127.5. Chromium's JPEG decoder gives
// Pillow's pixels exactly; JPEGs over 512 px, which the host decodes at a reduced scale
// (Pillow's draft()), are reduced the same way approximately (jpeg-draft.js).
// Answers in the host's classify_image shape: {labels: [{label, index, score}], model, timing_ms}.
// model.loadedAt (ms since the epoch) names this load of the model: the same on every answer
// until the worker lets the model go, so an answer that had to load it again can be told apart.
/* global tf */
'use strict';

const VENDOR = new URL('../vendor/', self.location.href).href;
const MODEL_DIR = new URL('../models/fallback/', self.location.href).href;

importScripts(`${VENDOR}tf.es2017.min.js`, `${VENDOR}tf-backend-wasm.es2017.min.js`, 'pillow-resize.js', 'jpeg-draft.js');

let loading = null; // promise of {model, labels, manifest, canvas, context}

class ModelError extends Error {
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}

async function fetchJson(name) {
  let response;
  try {
    response = await fetch(MODEL_DIR + name);
  } catch (error) {
    throw new ModelError('browser_model_missing', `${name}: ${error.message}`);
  }
  if (!response.ok) throw new ModelError('browser_model_missing', `${name}: HTTP ${response.status}`);
  return response.json();
}

async function load() {
  const manifest = await fetchJson('fallback.json');
  const labels = await fetchJson('labels.json');
  // The threaded wasm build needs cross-origin isolation, which extension documents lack.
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
  tf.wasm.setWasmPaths(VENDOR);
  if (!(await tf.setBackend('wasm'))) {
    throw new ModelError('browser_model_failed', "TF.js could not start its wasm backend (the manifest's CSP needs 'wasm-unsafe-eval')");
  }
  await tf.ready();
  const model = await tf.loadGraphModel(`${MODEL_DIR}model.json`);
  const { size } = manifest.input;
  // One run now compiles the wasm kernels, so the first picture is not the slow one.
  tf.tidy(() => model.predict(tf.zeros([1, size, size, 3])).dataSync());
  return { model, labels, manifest, loadedAt: Date.now() };
}

function ensureLoaded() {
  if (!loading) {
    loading = load();
    loading.catch(() => {
      loading = null; // try again on the next picture (e.g. the model was built meanwhile)
    });
  }
  return loading;
}

function base64ToBytes(image) {
  if (typeof Uint8Array.fromBase64 === 'function') return Uint8Array.fromBase64(image);
  const binary = atob(image);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i += 1) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

// -> Float32Array of size*size*3 in [-1, 1]
function pixels({ manifest }, bitmap, bytes) {
  const { size, mean, std, crop_fraction: crop } = manifest.input;
  const context = new OffscreenCanvas(bitmap.width, bitmap.height).getContext('2d', { willReadFrequently: true });
  context.fillStyle = '#fff';
  context.fillRect(0, 0, bitmap.width, bitmap.height);
  context.drawImage(bitmap, 0, 0);
  const decoded = context.getImageData(0, 0, bitmap.width, bitmap.height).data;
  // host/vision.py draft_size: the smallest decode that still covers the crop at full resolution
  const minSide = Math.ceil(size / crop);
  const { rgba, width, height } = self.jpegDraft(bytes, decoded, bitmap.width, bitmap.height, [minSide, minSide]);
  const side = Math.max(1, Math.min(width, height) * crop);
  const left = (width - side) / 2;
  const top = (height - side) / 2;
  const rgb = self.pillowResizeBilinear(rgba, width, height, [left, top, left + side, top + side], size, size);
  const input = new Float32Array(rgb.length);
  for (let i = 0; i < rgb.length; i += 1) input[i] = (rgb[i] - mean) / std;
  return input;
}

async function classify(image, topK = 5) {
  const started = performance.now();
  const loaded = await ensureLoaded();
  const { model, labels, manifest, loadedAt } = loaded;
  const t0 = performance.now();
  const bytes = base64ToBytes(image);
  let bitmap;
  try {
    // Pillow ignores embedded colour profiles; so must we, to see the same pixels.
    bitmap = await createImageBitmap(new Blob([bytes]), { colorSpaceConversion: 'none' });
  } catch (error) {
    throw new ModelError('not_an_image', error.message);
  }
  const t1 = performance.now();
  const input = pixels(loaded, bitmap, bytes);
  bitmap.close();
  const { size } = manifest.input;
  const t2 = performance.now();
  const probabilities = tf.tidy(() => model.predict(tf.tensor4d(input, [1, size, size, 3])).dataSync());
  const t3 = performance.now();
  const order = Array.from(probabilities.keys()).sort((a, b) => probabilities[b] - probabilities[a]);
  const round = (ms) => Math.round(ms * 100) / 100;
  return {
    labels: order.slice(0, topK).map((index) => ({ label: labels[index], index, score: probabilities[index] })),
    model: { name: manifest.name, version: manifest.version, weights: manifest.weights, loadedAt },
    timing_ms: { load: round(t0 - started), decode: round(t1 - t0), preprocess: round(t2 - t1), infer: round(t3 - t2), total: round(t3 - started) },
  };
}

self.addEventListener('message', async ({ data }) => {
  try {
    self.postMessage({ id: data.id, ok: true, result: await classify(data.image, data.topK) });
  } catch (error) {
    self.postMessage({ id: data.id, ok: false, error: { code: error.code || 'browser_model_failed', message: String(error.message || error) } });
  }
});
