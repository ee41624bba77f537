// Options: which transport to use (native messaging by default, or a WebSocket host the
// user started) with its port and token, which image model classifies pictures (fastest or most
// accurate), which voice commands may act, how sensitive voice
// recognition is, and whether to use a voice model that has not passed validation. Saved to
// chrome.storage.local; the worker reconnects, a listening stream picks up the commands and
// the sensitivity, and the model choice applies when listening next starts.
import { DEFAULT_SETTINGS, getSettings } from '../background/settings.js';

const { STRINGS, formatString } = globalThis;
const $ = (id) => document.getElementById(id);
const form = $('form');

for (const node of document.querySelectorAll('[data-text]')) node.textContent = STRINGS[node.dataset.text];

function say(text, kind = '', fix = '') {
  $('message').textContent = text;
  $('message').dataset.kind = kind;
  $('fix').textContent = fix;
}

function chosenTransport() {
  return form.elements.transport.value || DEFAULT_SETTINGS.transport;
}

function showWebSocketFields() {
  $('ws-fields').hidden = chosenTransport() !== 'websocket';
}

// -> settings to save, or null after saying what is wrong
function readForm() {
  const transport = chosenTransport();
  const wsPort = Number($('port').value);
  const wsToken = $('token').value.trim();
  if (transport === 'websocket') {
    if (!Number.isInteger(wsPort) || wsPort < 1024 || wsPort > 65535) {
      say(STRINGS.optionsBadPort, 'error');
      return null;
    }
    if (!wsToken) {
      say(STRINGS.optionsNeedToken, 'error');
      return null;
    }
  }
  const voiceCommands = [...form.querySelectorAll('input[name="command"]:checked')].map((box) => box.value);
  if (!voiceCommands.length) {
    say(STRINGS.optionsNeedCommand, 'error');
    return null;
  }
  const voiceSensitivity = form.elements.sensitivity.value || DEFAULT_SETTINGS.voiceSensitivity;
  const experimentalVoiceModel = $('experimental-voice').checked;
  const imageModel = form.elements.imageModel.value || DEFAULT_SETTINGS.imageModel;
  return {
    transport,
    imageModel,
    wsPort: wsPort || DEFAULT_SETTINGS.wsPort,
    wsToken,
    voiceCommands,
    voiceSensitivity,
    experimentalVoiceModel,
  };
}

// One checkbox per command, labelled with the phrase to say.
function showCommands(enabled) {
  for (const [command, phrase] of Object.entries(STRINGS.commandPhrases)) {
    const label = document.createElement('label');
    label.className = 'choice';
    const box = Object.assign(document.createElement('input'), { type: 'checkbox', name: 'command', value: command });
    box.checked = enabled.includes(command);
    label.append(box, ` “${phrase}”`);
    $('voice-commands').append(label);
  }
}

async function save() {
  const settings = readForm();
  if (!settings) return false;
  await chrome.storage.local.set(settings);
  say(STRINGS.optionsSaved, 'ok');
  return true;
}

async function test() {
  if (!(await save())) return;
  say(STRINGS.popupChecking);
  const status = await chrome.runtime.sendMessage({ target: 'background', type: 'get-status' });
  if (status.error) {
    say(status.error.text, 'error', status.error.fix);
  } else {
    say(formatString(STRINGS.optionsTestOk, { version: status.version }), 'ok');
  }
}

form.addEventListener('change', showWebSocketFields);
form.addEventListener('submit', (event) => {
  event.preventDefault();
  save();
});
$('test').addEventListener('click', test);
// The enrollment page records in a tab of its own (the microphone meter, playback).
$('teach').addEventListener('click', () => chrome.tabs.create({ url: chrome.runtime.getURL('enroll/enroll.html') }));

const settings = await getSettings();
form.elements.transport.value = settings.transport;
form.elements.imageModel.value = settings.imageModel;
$('port').value = settings.wsPort;
$('token').value = settings.wsToken;
showCommands(settings.voiceCommands);
form.elements.sensitivity.value = settings.voiceSensitivity;
$('experimental-voice').checked = settings.experimentalVoiceModel;
showWebSocketFields();
