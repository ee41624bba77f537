// Popup: host status (connected, version, model, last latency) or what to do when the host
// is missing, and the microphone toggle for voice commands. The worker does the talking;
// the popup only asks and renders.
import { getSettings } from '../background/settings.js';

const { STRINGS, formatString } = globalThis;
const $ = (id) => document.getElementById(id);

for (const node of document.querySelectorAll('[data-text]')) node.textContent = STRINGS[node.dataset.text];

$('options').addEventListener('click', (event) => {
  event.preventDefault();
  chrome.runtime.openOptionsPage();
});

$('copy').addEventListener('click', async () => {
  await navigator.clipboard.writeText($('command').textContent);
  $('copy').textContent = STRINGS.overlayCopied;
});

function defaultModel(models = []) {
  const model = models.find((m) => m.default) || models[0];
  if (!model) return STRINGS.popupNoModel;
  return model.version ? `${model.name} v${model.version}` : model.name;
}

function latency(status) {
  if (status.lastLatencyMs == null) return STRINGS.popupLatencyNone;
  return formatString(STRINGS.popupLatencyValue, { ms: status.lastLatencyMs });
}

function transportName(status) {
  return status.transport === 'websocket'
    ? formatString(STRINGS.popupTransportWebSocket, { port: status.wsPort })
    : STRINGS.popupTransportNative;
}

function render(status) {
  const state = $('state');
  const { browserModel } = status;
  state.dataset.state = status.connected ? 'connected' : browserModel ? 'browser' : 'error';
  const word = status.connected ? STRINGS.popupConnected : browserModel ? STRINGS.popupInBrowser : STRINGS.popupNotConnected;
  $('state-text').textContent = `${word} · ${transportName(status)}`;
  // No helper app, but the model inside the browser answers: say so, and how to get the fast one back.
  $('in-browser').hidden = !browserModel;
  if (browserModel) {
    const model = `${browserModel.name}, ${browserModel.weights}`;
    $('in-browser').textContent = formatString(STRINGS.popupInBrowserHint, { model });
  }

  $('details').hidden = !status.connected;
  $('how-to').hidden = !status.connected;
  if (status.connected) {
    $('version').textContent = status.version ?? '?';
    $('model').textContent = defaultModel(status.models);
    $('latency').textContent = latency(status);
  }

  const { error } = status;
  $('problem').hidden = !error;
  if (!error) return;
  $('problem').dataset.code = error.code;
  $('problem-text').textContent = error.text;
  // For a missing host, the command itself is the whole fix: show it ready to copy.
  $('problem-fix').textContent = error.code === 'host_not_installed' ? STRINGS.popupInstallIntro : error.fix;
  $('command-box').hidden = !error.command;
  $('command').textContent = error.command;
}

chrome.runtime.sendMessage({ target: 'background', type: 'get-status' }).then(render);

// --- Voice commands: the microphone toggle. The worker owns the state (chrome.storage.session).

function renderVoice(voice = {}) {
  const listening = Boolean(voice.listening);
  $('voice').dataset.listening = String(listening);
  $('mic').setAttribute('aria-pressed', String(listening));
  $('mic-text').textContent = listening ? STRINGS.popupListenStop : STRINGS.popupListenStart;
  $('voice-hint').textContent = listening ? STRINGS.popupListening : STRINGS.popupNotListening;
  // The host said so when the stream started: the user opted in to an unvalidated model.
  $('voice-experimental').hidden = !(listening && voice.model?.blessed === false);
  // Only a level the user chose away from the recommended one is worth a line (none for normal).
  const sensitivity = listening && STRINGS.popupSensitivity[voice.sensitivity];
  $('voice-sensitivity').hidden = !sensitivity;
  if (sensitivity) $('voice-sensitivity').textContent = sensitivity;
  renderProfile(voice);
  const phrase = STRINGS.commandPhrases[voice.lastCommand?.command];
  $('last-heard').hidden = !phrase;
  if (phrase) $('last-heard').textContent = formatString(STRINGS.popupLastHeard, { phrase });

  const { error } = voice;
  $('voice-problem').hidden = !error;
  if (!error) return;
  $('voice-problem').dataset.code = error.code;
  $('voice-problem-text').textContent = error.text;
  $('voice-problem-fix').textContent = error.fix;
  $('voice-command-box').hidden = !error.command;
  $('voice-command').textContent = error.command;
}

// Whether voice uses the user's own voice: while listening, the stream's start said so;
// otherwise the host's profile tells which enabled commands it covers. Hidden when neither can
// say (no helper app, or one older than voice profiles: the problem line says why).
let hostProfile = null; // the host's voice_profile answer
let enabledCommands = [];
let shownVoice = {};

function renderProfile(voice = {}) {
  shownVoice = voice;
  let taught = null;
  if (voice.listening && voice.profile) {
    taught = voice.profile.used ? voice.profile.commands ?? enabledCommands : [];
  } else if (hostProfile) {
    taught = enabledCommands.filter((command) => hostProfile.ready_commands?.includes(command));
  }
  const line = $('voice-profile');
  line.hidden = taught === null;
  if (taught === null) return;
  const all = enabledCommands.every((command) => taught.includes(command));
  line.dataset.profile = !taught.length ? 'generic' : all ? 'profile' : 'partly';
  if (!taught.length) {
    line.textContent = STRINGS.popupVoiceGeneric;
  } else if (all) {
    line.textContent = STRINGS.popupVoiceProfile;
  } else {
    const phrases = taught.map((command) => `“${STRINGS.commandPhrases[command] ?? command}”`).join(', ');
    line.textContent = formatString(STRINGS.popupVoicePartly, { taught: phrases });
  }
}

async function loadProfile() {
  enabledCommands = (await getSettings()).voiceCommands;
  const answer = await chrome.runtime.sendMessage({ target: 'background', type: 'voice-profile', action: 'get' });
  hostProfile = answer?.ok ? answer.result : null;
  renderProfile(shownVoice);
}

$('teach').addEventListener('click', async (event) => {
  event.preventDefault();
  await chrome.tabs.create({ url: chrome.runtime.getURL('enroll/enroll.html') });
  window.close();
});

loadProfile();

$('mic').addEventListener('click', async () => {
  $('mic').disabled = true;
  try {
    renderVoice(await chrome.runtime.sendMessage({ target: 'background', type: 'toggle-listening' }));
  } finally {
    $('mic').disabled = false;
  }
});

chrome.storage.session.get('voice').then(({ voice }) => renderVoice(voice));
chrome.storage.onChanged.addListener((changes, area) => {
  if (area === 'session' && changes.voice) renderVoice(changes.voice.newValue);
});

chrome.commands.getAll().then((all) => {
  const keys = all.find((c) => c.name === 'toggle-listening')?.shortcut;
  $('shortcut').textContent = keys ? formatString(STRINGS.popupShortcut, { keys }) : STRINGS.popupNoShortcut;
});
