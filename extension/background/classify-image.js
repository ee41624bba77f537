// What happens after "Classify image with TabSense": show progress on the picture, get its
// bytes, shrink it if huge, ask the helper app (or the in-browser model when the helper app is
// not installed), and draw the answer or a sentence about the failure.
import '../strings.js';
import { classifyImage } from './choose-classifier.js';
import { describeError, toTabSenseError } from './errors.js';
import { loadImage } from './image-source.js';
import { readFromPage, showInPage, startOverlay } from './page.js';
import { bytesToBase64, prepareImage } from './prepare-image.js';
import { getSettings } from './settings.js';
import { updateStatus } from './status.js';

const { STRINGS } = globalThis;
const TOP_K = 5;
const WATCHDOG_MARGIN_MS = 20000; // the page gives up a little after the worker would

export async function classifyFromMenu(info, tab) {
  const started = performance.now();
  const { srcUrl } = info;
  const tabId = tab?.id;
  if (tabId === undefined || tabId < 0) return; // not in a tab (e.g. a side panel): nowhere to draw
  const settings = await getSettings();
  // Where the time goes, in ms since the click (saved as lastStages; bench/browser.py reports it).
  const stages = {};
  const mark = (name) => {
    stages[name] = Math.round((performance.now() - started) * 10) / 10;
  };

  const overlayReady = startOverlay(tabId, info.frameId, srcUrl, settings.requestTimeoutMs + WATCHDOG_MARGIN_MS);
  overlayReady.then(() => mark('overlay'), () => {});
  // Getting the answer does not need the page (only blob: URLs do): download, prepare and
  // classify while the content script is injected, not after it. The overlay is ready long
  // before the answer, so the click costs the picture's download plus the classification.
  const answerReady = (async () => {
    const blob = await loadImage(srcUrl, async (url) => readFromPage(tabId, await overlayReady, url));
    mark('fetched');
    const image = await prepareImage(blob);
    mark('prepared');
    const encoded = bytesToBase64(image.bytes);
    mark('encoded');
    const result = await classifyImage(encoded, TOP_K);
    mark('answered');
    return { image, result };
  })();
  answerReady.catch(() => {}); // awaited below; this only keeps an early failure from going unhandled

  let overlay;
  try {
    overlay = await overlayReady;
  } catch (error) {
    await reportWithoutPage(tabId, toTabSenseError(error), settings);
    return;
  }

  try {
    const { image, result } = await answerReady;
    const inBrowser = result.engine === 'browser';
    const elapsedMs = Math.round(performance.now() - started);
    const notice = inBrowser ? STRINGS.overlayInBrowser[result.hostError] || STRINGS.overlayInBrowser.host_not_installed : '';
    await showInPage(tabId, overlay, { type: 'show-result', srcUrl, result: { ...result, notice }, elapsedMs });
    mark('drawn');
    await updateStatus({
      lastLatencyMs: elapsedMs,
      lastHostMs: inBrowser ? null : result.timing_ms?.total ?? null,
      lastBrowserMs: inBrowser ? result.timing_ms?.total ?? null : null,
      lastEngine: result.engine,
      lastStages: stages,
      lastModel: result.model ?? null,
      lastImage: {
        bytes: image.bytes.length,
        width: image.width,
        height: image.height,
        originalWidth: image.originalWidth,
        originalHeight: image.originalHeight,
        downscaled: image.downscaled,
      },
      lastError: null,
    });
  } catch (caught) {
    const error = toTabSenseError(caught);
    if (error.code === 'unknown') console.error('TabSense: unexpected failure', caught);
    const described = await describeError(error, settings);
    await showInPage(tabId, overlay, { type: 'show-error', srcUrl, error: described });
    await updateStatus({ lastError: { code: error.code, message: error.message } });
  }
}

// Pages the extension may not touch (the Web Store, chrome:// pages, PDFs): the popup and
// the toolbar badge carry the sentence instead.
async function reportWithoutPage(tabId, error, settings) {
  const described = await describeError(error, settings);
  await updateStatus({ lastError: { code: error.code, message: error.message } });
  await chrome.action.setBadgeText({ tabId, text: '!' });
  await chrome.action.setTitle({ tabId, title: described.text });
}
