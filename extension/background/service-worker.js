// TabSense service worker: registers the menu item and the voice shortcut, and routes
// messages. Listeners are added at the top level so Chrome can wake the worker for them
// after it was stopped.
import '../strings.js';
import { browserModelIdle, browserModelInfo } from './browser-model.js';
import { FALLBACK_CODES } from './choose-classifier.js';
import { classifyFromMenu } from './classify-image.js';
import { describeError, toTabSenseError } from './errors.js';
import { applyConnectionSettings, callHost } from './host-client.js';
import { getSettings } from './settings.js';
import { getStatus } from './status.js';
import {
  MICROPHONE_PORT,
  acceptMicrophonePort,
  afterMicrophoneGranted,
  pauseForEnrollment,
  restoreVoice,
  skipEnrollment,
  startListening,
  toggleListening,
} from './voice.js';
import { enrollTake, voiceProfile } from './voice-profile.js';

const MENU_ID = 'tabsense-classify-image';

chrome.runtime.onInstalled.addListener(() => {
  chrome.contextMenus.create({ id: MENU_ID, title: globalThis.STRINGS.menuTitle, contexts: ['image'] });
});

chrome.contextMenus.onClicked.addListener((info, tab) => {
  if (info.menuItemId === MENU_ID) classifyFromMenu(info, tab);
});

// A new transport, port or token only applies to a fresh connection.
chrome.storage.onChanged.addListener((changes, area) => {
  if (area === 'local') applyConnectionSettings(changes);
});

chrome.commands.onCommand.addListener((command) => {
  if (command === 'toggle-listening') toggleListening();
});

// The microphone's offscreen document streams audio chunks over a port (ordered, and cheaper
// than a broadcast runtime message per chunk).
chrome.runtime.onConnect.addListener((port) => {
  if (port.name === MICROPHONE_PORT && port.sender?.url?.startsWith(chrome.runtime.getURL('offscreen/'))) {
    acceptMicrophonePort(port);
  }
});

chrome.runtime.onMessage.addListener((message, sender, sendResponse) => {
  // Only our own pages (popup, options, permission, enrollment, offscreen) talk to the worker; content scripts only listen.
  if (message?.target !== 'background' || sender.url?.startsWith(chrome.runtime.getURL('')) !== true) {
    return false;
  }
  switch (message.type) {
    case 'get-status':
      hostStatus().then(sendResponse);
      return true; // answers asynchronously
    case 'toggle-listening':
      toggleListening().then(sendResponse);
      return true;
    case 'microphone-granted': // the first time, enrollment comes before listening
      afterMicrophoneGranted().then(sendResponse);
      return true;
    case 'start-listening':
      startListening().then(sendResponse);
      return true;
    // The enrollment page ("Teach TabSense your voice").
    case 'enroll-opened':
      pauseForEnrollment().then(sendResponse);
      return true;
    case 'enroll-take':
      enrollTake(message).then(sendResponse);
      return true;
    case 'voice-profile':
      voiceProfile(message).then(sendResponse);
      return true;
    case 'enroll-skip':
      skipEnrollment().then(sendResponse);
      return true;
    case 'classifier-idle': // the offscreen document stopped the in-browser model
      browserModelIdle().then(() => sendResponse({ ok: true }), () => sendResponse({ ok: false }));
      return true;
    default:
      return false;
  }
});

// The worker may have been stopped and restarted: make the toolbar match the microphone.
restoreVoice();

// Asks the host for a fresh ping so the popup never shows a stale "connected".
// -> stored status + {transport, wsPort, connected, error, browserModel}
// browserModel ({name, version, weights}) is set when pictures go to the in-browser model.
async function hostStatus() {
  const settings = await getSettings();
  let error = null;
  let browserModel = null;
  try {
    await callHost('ping');
  } catch (caught) {
    const tsError = toTabSenseError(caught);
    error = await describeError(tsError, settings);
    if (FALLBACK_CODES.has(tsError.code)) browserModel = await browserModelInfo();
  }
  const status = await getStatus();
  return {
    ...status,
    connected: !error,
    transport: settings.transport,
    wsPort: settings.wsPort,
    error,
    browserModel: browserModel && { name: browserModel.name, version: browserModel.version, weights: browserModel.weights },
  };
}
