// User choices live in chrome.storage.local (not sync: the WebSocket token must stay on
// this computer). Reading with the defaults object fills in anything never saved.
export const DEFAULT_SETTINGS = Object.freeze({
  transport: 'native', // or 'websocket'
  wsPort: 8765,
  wsToken: '',
  requestTimeoutMs: 20000, // not in the options UI; tests lower it
  // Which helper-app model classifies pictures (IMAGE_MODELS): 'fastest', MobileNetV2 alone, or
  // 'accurate', the ensemble of it and the model lab's int8 MobileNet v1 0.75 (one more inference
  // per picture; +0.25 points top-1 on the lab's evaluation photos, docs/model-lab/ensemble.md).
  imageModel: 'fastest',
  // How long the in-browser model stays loaded after its last picture (background/browser-model.js
  // says why a minute). Not in the options UI; tests lower it.
  browserModelIdleMs: 60_000,
  // The voice commands that may act. Only next/previous tab by default: they cost nothing when
  // misheard, and with only them enabled the keyword model fired on 0.8% of the near-miss
  // phrases and once in 43 minutes of other speech (docs/speech/report.md); closing a tab
  // by mistake loses work, so the other four are the user's choice.
  voiceCommands: ['next_tab', 'previous_tab'],
  // Use the keyword model even though the model lab has not blessed it (speech requests then
  // carry `allow_unblessed: true`). Off by default: it missed its accuracy targets, so it may
  // miss commands or act on speech that was not one; only the user may accept that.
  experimentalVoiceModel: false,
  // How readily the keyword model acts: 'low', 'normal' or 'high' (sent with every audio chunk).
  // Normal by default: its thresholds were tuned on the validation voices; low and high trade
  // missed commands against mistaken switches (docs/speech/report.md has the numbers per level).
  voiceSensitivity: 'normal',
});

// The model each picture-classification choice asks the helper app for. 'fastest' sends no name:
// the helper app's default image model, MobileNetV2 alone (the ensemble missed the accuracy gain
// that would make it the default); were the ensemble made the default, 'fastest' would name
// 'mobilenet_v2_1.0_224_quant' here.
export const IMAGE_MODELS = Object.freeze({
  fastest: null,
  accurate: 'mobilenet_ensemble',
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
