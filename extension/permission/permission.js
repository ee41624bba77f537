// Asks for the microphone once, in a visible tab: the offscreen document that listens later
// cannot show the browser's prompt. The grant belongs to the extension's origin, so it holds
// for the offscreen document too (and the enrollment page); chrome.storage remembers it.
const { STRINGS } = globalThis;
const $ = (id) => document.getElementById(id);
const ENROLL_PAGE = 'enroll/enroll.html';

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
  // The user asked to listen before this page opened: the first time, the worker sends them on
  // to teach TabSense their voice (they may skip it there); otherwise listening starts now.
  const next = await chrome.runtime.sendMessage({ target: 'background', type: 'microphone-granted' });
  if (next?.enroll) {
    location.replace(chrome.runtime.getURL(ENROLL_PAGE));
    return;
  }
  show('granted', STRINGS.permissionGranted);
}

$('retry').addEventListener('click', ask);
ask();
