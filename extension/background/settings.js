// User choices live in chrome.storage.local (not sync: the WebSocket token must stay on
// this computer). Reading with the defaults object fills in anything never saved.
export const DEFAULT_SETTINGS = Object.freeze({
  transport: 'native', // or 'websocket'
  wsPort: 8765,
  wsToken: '',
  requestTimeoutMs: 20000, // not in the options UI; tests lower it
});

// Read once per context and kept until something changes: each read is a round trip to the
// browser process, and a click read them twice on its way to the host.
let cached = null;
chrome.storage.onChanged.addListener((changes, area) => {
  if (area === 'local') cached = null;
});

export function getSettings() {
  if (!cached) {
    cached = chrome.storage.local.get(DEFAULT_SETTINGS);
    cached.catch(() => {
      cached = null;
    });
  }
  return cached;
}
