// Who classifies a picture: the helper app when it answers, else the model inside the browser.
// The helper app is asked first on every click (connecting to a missing one fails in a few
// milliseconds), so TabSense switches back by itself as soon as it is installed or started.
import { browserModelInfo, classifyInBrowser, releaseBrowserModel } from './browser-model.js';
import { callHost } from './host-client.js';
import { IMAGE_MODELS, getSettings } from './settings.js';

// Only "there is no helper app" falls back; a helper app that is there but fails says why.
export const FALLBACK_CODES = new Set(['host_not_installed', 'host_forbidden', 'ws_unavailable']);

// image: base64 of the picture file -> classify_image result + {engine: 'host'|'browser', hostError}
export async function classifyImage(image, topK) {
  let hostError;
  try {
    const model = IMAGE_MODELS[(await getSettings()).imageModel]; // the options page's choice
    const result = await callHost('classify_image', { image, top_k: topK, ...(model ? { model } : {}) });
    releaseBrowserModel().catch(() => {}); // not awaited: the answer is ready, freeing can follow
    return { ...result, engine: 'host' };
  } catch (error) {
    if (!FALLBACK_CODES.has(error.code) || !(await browserModelInfo())) throw error;
    hostError = error;
  }
  try {
    return { ...(await classifyInBrowser(image, topK)), engine: 'browser', hostError: hostError.code };
  } catch (error) {
    if (error.code === 'not_an_image') throw error; // about the picture, whoever looks at it
    // A broken fallback must not hide the real problem and its fix (install the helper app).
    console.error('TabSense: the in-browser model failed', error);
    throw hostError;
  }
}
