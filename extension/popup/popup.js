// Popup: host status (connected, version, model, last latency) or what to do when the host
// is missing. The worker does the talking; the popup only asks and renders.
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
  state.dataset.state = status.connected ? 'connected' : 'error';
  const word = status.connected ? STRINGS.popupConnected : STRINGS.popupNotConnected;
  $('state-text').textContent = `${word} · ${transportName(status)}`;

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
