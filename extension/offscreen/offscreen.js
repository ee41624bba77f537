// TabSense's one offscreen document (Chrome allows a single one per extension) does two
// jobs for the service worker, each started and stopped by a message: the microphone for
// voice commands, and the in-browser image model used when the helper app is not installed.
// Nothing starts on load, so the document costs nothing for a job it is not doing.
import { classifyInBrowser, unloadBrowserModel } from './browser-model.js';
import { startMicrophone, stopMicrophone } from './microphone.js';

// Only the extension's own pages (in practice the service worker) may start the microphone or
// the model. A content script shares the extension's id, so the sender's URL is what tells
// it apart: a content script's is the web page's.
function fromExtensionPage(sender) {
  return sender.id === chrome.runtime.id && sender.url?.startsWith(chrome.runtime.getURL('')) === true;
}

chrome.runtime.onMessage.addListener((message, sender, sendResponse) => {
  if (message?.target !== 'offscreen' || !fromExtensionPage(sender)) return false;
  switch (message.type) {
    case 'start-microphone':
      startMicrophone();
      sendResponse({ ok: true });
      return false;
    case 'stop-microphone':
      stopMicrophone();
      sendResponse({ ok: true });
      return false;
    case 'classify-image':
      classifyInBrowser(message.image, message.topK, message.idleMs).then(
        (result) => sendResponse({ ok: true, result }),
        (error) => sendResponse({ ok: false, error: { code: error.code || 'browser_model_failed', message: String(error.message || error) } }),
      );
      return true; // answers asynchronously
    case 'stop-classifier':
      unloadBrowserModel();
      sendResponse({ ok: true });
      return false;
    default:
      return false;
  }
});
