// Asks for the microphone once, in a visible tab: the offscreen document that listens later
// cannot show the browser's prompt. The grant belongs to the extension's origin, so it holds
// for the offscreen document too; chrome.storage remembers that it was given.
const { STRINGS } = globalThis;
const $ = (id) => document.getElementById(id);

for (const node of document.querySelectorAll('[data-text]')) node.textContent = STRINGS[node.dataset.text];

function show(state, text, fix = '') {
  $('message').dataset.state = state;
  $('message').textContent = text;
  $('fix').textContent = fix;
  $('retry').hidden = state !== 'denied';
}

async function ask() {
  show('asking', STRINGS.permissionAsking);
  try {
    const media = await navigator.mediaDevices.getUserMedia({ audio: true });
    for (const track of media.getTracks()) track.stop(); // only the permission was needed
  } catch (error) {
    await chrome.storage.local.set({ microphoneGranted: false });
    if (error.name === 'NotFoundError') {
      show('denied', STRINGS.voiceErrors.microphone_missing.text, STRINGS.voiceErrors.microphone_missing.fix);
    } else {
      show('denied', STRINGS.permissionDenied, STRINGS.permissionDeniedFix);
    }
    return;
  }
  await chrome.storage.local.set({ microphoneGranted: true });
  show('granted', STRINGS.permissionGranted);
  // The user asked to listen before this page opened: start now.
  await chrome.runtime.sendMessage({ target: 'background', type: 'microphone-granted' });
}

$('retry').addEventListener('click', ask);
ask();
