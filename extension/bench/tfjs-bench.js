// The TF.js side of the browser benchmark (bench/browser.py): loads a TF.js graph
// model in this extension page and classifies pictures the way the host does
// (host/vision.py): a centred square of 87.5% of the shorter side, resized to 224x224,
// then (x - 127.5) / 127.5. Crop and resize are done with a 2D canvas (drawImage with
// imageSmoothingQuality 'high'), not Pillow's bilinear filter, so pixels differ slightly.
//
// Query parameters: backend=wasm|cpu, model=URL of model.json (relative to this page),
// image=URL (optional): when given, the page classifies it as soon as it loads and stores
// the answer in window.benchCold (timestamps are performance.now(), i.e. ms since this
// page's navigation started: the "cold" number).
'use strict';

(() => {
  const SIZE = 224;
  const CROP = 0.875;
  let model = null;
  let canvas = null;
  let context = null;

  function log(text) {
    const element = document.getElementById('log');
    if (element) element.textContent += text + '\n';
  }

  async function setup({ backend = 'wasm', modelUrl = 'model/model.json' } = {}) {
    const started = performance.now();
    if (backend === 'wasm') {
      // Extension pages have SharedArrayBuffer-less defaults but TF.js may still pick the
      // threaded build: force the single-threaded one (see docs: runtime facts).
      tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
      tf.wasm.setWasmPaths(chrome.runtime.getURL('vendor/'));
    }
    const ok = await tf.setBackend(backend);
    await tf.ready();
    if (!ok || tf.getBackend() !== backend) {
      throw new Error(`TF.js backend ${backend} is not available (got ${tf.getBackend()}); ` +
        "for wasm the manifest's CSP needs 'wasm-unsafe-eval'");
    }
    const backendMs = performance.now() - started;
    model = await tf.loadGraphModel(modelUrl);
    const loadMs = performance.now() - started - backendMs;
    canvas = new OffscreenCanvas(SIZE, SIZE);
    context = canvas.getContext('2d', { willReadFrequently: true });
    context.imageSmoothingEnabled = true;
    context.imageSmoothingQuality = 'high';
    const info = {
      backend: tf.getBackend(),
      tfjsVersion: tf.version.tfjs,
      wasmSimd: backend === 'wasm' ? await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT') : null,
      wasmThreads: backend === 'wasm' ? await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT') : null,
      backendMs,
      loadMs,
    };
    log(`ready: ${JSON.stringify(info)}`);
    return info;
  }

  // url -> {index, score, ms, stages: {fetch, decode, preprocess, infer}}
  async function classify(url) {
    if (!model) throw new Error('call setup() first');
    const t0 = performance.now();
    const response = await fetch(url, { cache: 'no-store' });
    if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
    const blob = await response.blob();
    const t1 = performance.now();
    const bitmap = await createImageBitmap(blob); // EXIF orientation applied, like ImageOps.exif_transpose
    const t2 = performance.now();
    const side = Math.max(1, Math.min(bitmap.width, bitmap.height) * CROP);
    const left = (bitmap.width - side) / 2;
    const top = (bitmap.height - side) / 2;
    context.fillStyle = '#fff';
    context.fillRect(0, 0, SIZE, SIZE); // transparency over white, like host/vision.py
    context.drawImage(bitmap, left, top, side, side, 0, 0, SIZE, SIZE);
    bitmap.close();
    const pixels = context.getImageData(0, 0, SIZE, SIZE);
    const input = tf.tidy(() => tf.browser.fromPixels(pixels, 3).toFloat().sub(127.5).div(127.5).expandDims(0));
    const t3 = performance.now();
    const output = model.predict(input);
    const probabilities = await output.data();
    input.dispose();
    output.dispose();
    let index = 0;
    for (let i = 1; i < probabilities.length; i++) if (probabilities[i] > probabilities[index]) index = i;
    const t4 = performance.now();
    return {
      index,
      score: probabilities[index],
      ms: t4 - t0,
      stages: { fetch: t1 - t0, decode: t2 - t1, preprocess: t3 - t2, infer: t4 - t3 },
    };
  }

  async function classifyMany(urls) {
    const answers = [];
    for (const url of urls) answers.push(await classify(url));
    return answers;
  }

  window.tabsenseBench = { setup, classify, classifyMany, memory: () => tf.memory() };

  const params = new URLSearchParams(location.search);
  if (params.get('image')) {
    window.benchCold = (async () => {
      try {
        const info = await setup({ backend: params.get('backend') || 'wasm', modelUrl: params.get('model') || 'model/model.json' });
        const first = await classify(params.get('image'));
        return { ok: true, info, first, firstResultMs: performance.now() };
      } catch (error) {
        log(`error: ${error.message}`);
        return { ok: false, error: String(error.message || error) };
      }
    })();
  }
})();
