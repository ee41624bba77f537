// The in-browser image model, the offscreen document's side: a dedicated worker runs TF.js
// (wasm) so that inference never blocks this document, which also forwards microphone
// audio. The worker loads the model on the first picture and keeps it until the service
// worker says the helper app is back (or closes the document), or until no picture came for
// the idle time the service worker sends with each one (background/browser-model.js).
// Terminating the worker is what gives its memory back: the wasm heap and the weights.
const WORKER_PATH = 'classifier-worker.js';

let worker = null;
let nextId = 0;
const pending = new Map(); // id -> {resolve, reject}
let idleTimer = null;

function failAll(error) {
  for (const { reject } of pending.values()) reject(error);
  pending.clear();
}

function ensureWorker() {
  if (worker) return worker;
  worker = new Worker(WORKER_PATH);
  worker.addEventListener('message', ({ data }) => {
    const request = pending.get(data.id);
    if (!request) return;
    pending.delete(data.id);
    if (data.ok) {
      request.resolve(data.result);
    } else {
      request.reject(Object.assign(new Error(data.error.message), { code: data.error.code }));
    }
  });
  // A script error in the worker (e.g. TF.js could not start): fail what waits, start over next time.
  worker.addEventListener('error', (event) => {
    event.preventDefault();
    const failed = worker;
    worker = null;
    failed.terminate();
    failAll(Object.assign(new Error(event.message || 'worker error'), { code: 'browser_model_failed' }));
  });
  return worker;
}

// The model sat unused: free it here at once, then tell the service worker, which closes the
// document too unless the microphone uses it (a lost message only leaves the empty document).
function idle() {
  unloadBrowserModel();
  chrome.runtime.sendMessage({ target: 'background', type: 'classifier-idle' }).catch(() => {});
}

// Counts from the last answer, once no other picture waits.
function startIdleTimer(idleMs) {
  clearTimeout(idleTimer);
  if (pending.size === 0 && worker && idleMs > 0) idleTimer = setTimeout(idle, idleMs);
}

// image: base64 of the picture file (what the host gets) -> the host's classify_image result shape
export function classifyInBrowser(image, topK, idleMs) {
  clearTimeout(idleTimer);
  const answer = new Promise((resolve, reject) => {
    const id = (nextId += 1);
    pending.set(id, { resolve, reject });
    ensureWorker().postMessage({ id, image, topK });
  });
  const restart = () => startIdleTimer(idleMs);
  answer.then(restart, restart);
  return answer;
}

export function unloadBrowserModel() {
  clearTimeout(idleTimer);
  if (!worker) return;
  worker.terminate(); // frees the model's memory (tens of MB) at once
  worker = null;
  failAll(Object.assign(new Error('unloaded'), { code: 'browser_model_failed' }));
}
