// User choices live in chrome.storage.local (not sync: the WebSocket token must stay on
// this computer). Reading with the defaults object fills in anything never saved.
export const DEFAULT_SETTINGS = Object.freeze({
  transport: 'native', // or 'websocket'
  wsPort: 8765,
  wsToken: '',
  requestTimeoutMs: 20000, // not in the options UI; tests lower it
});

export function getSettings() {
  return chrome.storage.local.get(DEFAULT_SETTINGS);
}
