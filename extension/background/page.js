// The worker's side of the content script: inject it on demand (no script runs on pages
// until the user asks for something) and address the frames that show the picture.
import { TabSenseError } from './errors.js';

const CONTENT_FILES = ['strings.js', 'content/overlay.js', 'content/page-image.js', 'content/router.js'];

function sendToFrame(tabId, frameId, message) {
  return chrome.tabs
    .sendMessage(tabId, { target: 'content', ...message }, { frameId })
    .catch(() => null); // the frame navigated away or was removed: nothing left to draw on
}

// Injects into the clicked frame (into every frame when the click did not say which) and
// shows "Classifying…" on each copy of the picture. -> {frameIds, fallback}
export async function startOverlay(tabId, frameId, srcUrl, timeoutMs) {
  // A frame clicked before still has the content script: one message instead of injecting
  // four files again (which also kept the page busy while the picture downloads).
  if (frameId !== undefined) {
    const reply = await sendToFrame(tabId, frameId, { type: 'show-pending', srcUrl, timeoutMs });
    if (reply?.found) return { frameIds: [frameId], fallback: false };
    if (reply) {
      await sendToFrame(tabId, frameId, { type: 'show-pending', srcUrl, timeoutMs, fallback: true });
      return { frameIds: [frameId], fallback: true };
    }
  }
  const target = frameId === undefined ? { tabId, allFrames: true } : { tabId, frameIds: [frameId] };
  let injections;
  try {
    injections = await chrome.scripting.executeScript({ target, files: CONTENT_FILES });
  } catch (error) {
    throw new TabSenseError('cannot_draw', { message: error.message });
  }
  const frameIds = [];
  for (const injection of injections) {
    const reply = await sendToFrame(tabId, injection.frameId, { type: 'show-pending', srcUrl, timeoutMs });
    if (reply?.found) frameIds.push(injection.frameId);
  }
  if (frameIds.length > 0) return { frameIds, fallback: false };
  // No <img> with that address (CSS tricks, shadow DOM): answer in the corner of the frame.
  const fallbackFrame = frameId ?? 0;
  await sendToFrame(tabId, fallbackFrame, { type: 'show-pending', srcUrl, timeoutMs, fallback: true });
  return { frameIds: [fallbackFrame], fallback: true };
}

export async function showInPage(tabId, overlay, message) {
  await Promise.all(
    overlay.frameIds.map((frameId) => sendToFrame(tabId, frameId, { ...message, fallback: overlay.fallback })),
  );
}

// For pictures only the page can read (blob: URLs): -> data: URL
export async function readFromPage(tabId, overlay, srcUrl) {
  const reply = await sendToFrame(tabId, overlay.frameIds[0], { type: 'read-image', srcUrl });
  if (reply?.dataUrl) return reply.dataUrl;
  const { code = 'fetch_failed', message, detail } = reply?.error || {};
  throw new TabSenseError(code, { message, detail });
}
