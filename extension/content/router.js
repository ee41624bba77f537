// The content script's one message switch: the service worker drives the overlay and asks
// for page-only pictures through here. Injected last, after the files it calls into.
(() => {
  if (globalThis.TabSenseRouterReady) return;
  globalThis.TabSenseRouterReady = true;

  const { TabSenseOverlay: overlay, TabSensePageImage: pageImage } = globalThis;

  chrome.runtime.onMessage.addListener((message, sender, sendResponse) => {
    if (message?.target !== 'content' || sender.id !== chrome.runtime.id) return false;
    switch (message.type) {
      case 'show-pending':
        sendResponse({ found: overlay.showPending(message.srcUrl, message.timeoutMs, message.fallback) });
        return false;
      case 'show-result':
        sendResponse({ found: overlay.showResult(message.srcUrl, message.result, message.elapsedMs, message.fallback) });
        return false;
      case 'show-error':
        sendResponse({ found: overlay.showError(message.srcUrl, message.error, message.fallback) });
        return false;
      case 'read-image':
        pageImage.read(message.srcUrl).then(sendResponse);
        return true; // answers asynchronously
      default:
        return false;
    }
  });
})();
