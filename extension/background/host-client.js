// Talks to the TabSense host: one connection at a time, requests matched to answers by id,
// each with a timeout, and a reconnect with backoff when the host crashes.
// The connection object cannot be stored, so it lives in this module; everything the
// popup needs afterwards goes to chrome.storage (status.js) because the worker may stop.
import { TabSenseError } from './errors.js';
import { DEFAULT_SETTINGS, getSettings } from './settings.js';
import { updateStatus } from './status.js';
import { openNativeTransport } from './transport-native.js';
import { openWebSocketTransport } from './transport-websocket.js';

// A host that answered and then died is started again after 0.5, 1, 2, 4 and 8 s (each try
// that also dies waits twice as long); after five tries only a new request starts it. Any
// request the host answers starts the count over (not the reconnect's own ping: a host that
// dies right after starting must not be restarted forever).
const RECONNECT_BASE_MS = 500;
const RECONNECT_MAX_ATTEMPTS = 5;

let connection = null; // {transport, pending: Map(id -> {resolve, reject, timer})}
let connecting = null; // promise of a connection that has answered ping
let eventHandler = () => {}; // host events: messages without an id, `type: "event"`

// One handler for everything the host says unasked (e.g. a spoken command it heard).
export function onHostEvent(handler) {
  eventHandler = handler;
}

export function callHost(type, params = {}) {
  return callWithRetry(type, params, true);
}

async function callWithRetry(type, params, mayRetry) {
  const { requestTimeoutMs } = await getSettings();
  try {
    const conn = await ensureConnected();
    return await request(conn, type, params, requestTimeoutMs);
  } catch (error) {
    // The host died under this request (crash, killed): a fresh host gets one more try.
    if (mayRetry && error.code === 'host_disconnected') return callWithRetry(type, params, false);
    throw error;
  }
}

// For streams (audio chunks): one try, no settings read, and sent in call order, because
// every call waits on the same connection promise and promise callbacks run first-in first-out.
export async function sendInOrder(type, params, timeoutMs) {
  const conn = await ensureConnected();
  return request(conn, type, params, timeoutMs);
}

export function isHostConnected() {
  return connection !== null;
}

// Closes the connection so the next request starts a fresh one; its pending requests fail with
// `error` (by default: the host is gone).
export function disconnectHost(error = new TabSenseError('host_disconnected')) {
  const conn = connection;
  connection = null;
  connecting = null;
  if (conn) {
    failPending(conn, error);
    conn.transport.close();
  }
}

// Failed only because the connection was closed for new settings: a request may go again at once
// (callHost does), and a stream goes on over the new connection (its next chunk starts it there).
export function isSettingsChange(error) {
  return error?.code === 'host_disconnected' && error.settingsChanged === true;
}

// What a connection depends on: the transport, and for the WebSocket its port and token.
function connectionKey({ transport, wsPort, wsToken }) {
  return JSON.stringify(transport === 'websocket' ? [transport, wsPort, wsToken] : [transport]);
}

// Settings were saved (storage.onChanged `changes`): a connection opened with other ones is
// closed, so the next request uses the new ones. The options page saves every field, so most
// saves leave the connection, and a running audio stream, alone.
export function applyConnectionSettings(changes) {
  const conn = connection;
  if (!conn) return;
  const wanted = { ...conn.opened };
  for (const key of Object.keys(wanted)) {
    if (key in changes) wanted[key] = changes[key].newValue ?? DEFAULT_SETTINGS[key];
  }
  if (connectionKey(wanted) !== connectionKey(conn.opened)) {
    disconnectHost(Object.assign(new TabSenseError('host_disconnected'), { settingsChanged: true }));
  }
}

function ensureConnected() {
  if (!connecting) {
    connecting = connect().catch((error) => {
      connecting = null;
      throw error;
    });
  }
  return connecting;
}

async function connect() {
  const settings = await getSettings();
  const conn = { pending: new Map() };
  const handlers = {
    onMessage: (message) => handleMessage(conn, message),
    onClose: (error) => handleClose(conn, error),
  };
  conn.opened = { transport: settings.transport, wsPort: settings.wsPort, wsToken: settings.wsToken };
  conn.transport =
    settings.transport === 'websocket'
      ? openWebSocketTransport(settings, handlers)
      : openNativeTransport(handlers);
  connection = conn;
  await conn.transport.ready;
  // The first answer proves the host runs and tells the popup what it serves. The default
  // timeout (20 s) also covers a cold start: Python, LiteRT and numpy imports.
  const info = await send(conn, 'ping', {}, settings.requestTimeoutMs);
  await updateStatus({
    connected: true,
    transport: conn.transport.kind,
    version: info.version,
    models: info.models || [],
    lastError: null,
  });
  return conn;
}

// A request of the extension's: its answer shows the host is healthy again.
async function request(conn, type, params, timeoutMs) {
  const result = await send(conn, type, params, timeoutMs);
  resetReconnectBackoff().catch((error) => console.warn('TabSense: could not reset the reconnect backoff', error));
  return result;
}

function send(conn, type, params, timeoutMs) {
  return new Promise((resolve, reject) => {
    const id = crypto.randomUUID();
    const timer = setTimeout(() => {
      conn.pending.delete(id);
      reject(new TabSenseError('timeout'));
      // A host that misses a deadline may be stuck: start a fresh one next time.
      if (conn === connection) disconnectHost();
    }, timeoutMs);
    conn.pending.set(id, { resolve, reject, timer });
    try {
      conn.transport.send({ id, type, ...params });
    } catch (error) {
      clearTimeout(timer);
      conn.pending.delete(id);
      reject(error);
    }
  });
}

function handleMessage(conn, message) {
  if (message?.type === 'event') {
    if (conn === connection) eventHandler(message);
    return;
  }
  const request = conn.pending.get(message?.id);
  if (!request) return; // late answer to a request that already timed out
  conn.pending.delete(message.id);
  clearTimeout(request.timer);
  if (message.ok) {
    request.resolve(message.result);
  } else {
    const { code = 'unknown', message: text } = message.error || {};
    request.reject(new TabSenseError(code, { message: text }));
  }
}

function handleClose(conn, error) {
  failPending(conn, error);
  if (conn !== connection) return; // an old connection we already replaced
  connection = null;
  connecting = null;
  updateStatus({ connected: false, lastError: { code: error.code, message: error.message } });
  // Only a host that worked and then died is worth restarting unasked.
  if (error.code === 'host_disconnected') scheduleReconnect();
}

function failPending(conn, error) {
  for (const { reject, timer } of conn.pending.values()) {
    clearTimeout(timer);
    reject(error);
  }
  conn.pending.clear();
}

// Whether storage may hold a non-zero attempt count: unknown (true) after a worker restart.
// The count lives in storage so that a restarted worker goes on counting.
let backoffMayBeSet = true;
let reconnectTimer = null; // one pending try at a time

async function scheduleReconnect() {
  backoffMayBeSet = true;
  const { reconnectAttempts = 0 } = await chrome.storage.session.get('reconnectAttempts');
  if (reconnectAttempts >= RECONNECT_MAX_ATTEMPTS) return;
  await chrome.storage.session.set({ reconnectAttempts: reconnectAttempts + 1 });
  clearTimeout(reconnectTimer);
  reconnectTimer = setTimeout(() => {
    reconnectTimer = null;
    if (!connection) ensureConnected().catch(() => {}); // failures are recorded by handleClose
  }, RECONNECT_BASE_MS * 2 ** reconnectAttempts);
}

// Skipped when there is nothing to reset: a storage write per audio chunk is not free.
async function resetReconnectBackoff() {
  if (!backoffMayBeSet) return;
  backoffMayBeSet = false;
  await chrome.storage.session.set({ reconnectAttempts: 0 });
}
