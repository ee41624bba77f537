// Optional transport for a host the user started with `tabsense serve --ws`. Same JSON
// messages as native messaging, one per text frame. The browser sets the Origin header
// to this extension, which the host checks together with the token.
import { TabSenseError } from './errors.js';

export function openWebSocketTransport({ wsPort, wsToken }, { onMessage, onClose }) {
  const url = `ws://127.0.0.1:${wsPort}/?token=${encodeURIComponent(wsToken)}`;
  const socket = new WebSocket(url);
  let opened = false;
  const ready = new Promise((resolve, reject) => {
    socket.addEventListener('open', () => {
      opened = true;
      resolve();
    });
    socket.addEventListener('close', () => reject(new TabSenseError('ws_unavailable')));
  });
  ready.catch(() => {}); // the caller awaits it; avoid an unhandled rejection if it does not
  socket.addEventListener('message', (event) => {
    let message;
    try {
      message = JSON.parse(event.data);
    } catch {
      return; // not ours to answer; the matching request times out with a clear sentence
    }
    onMessage(message);
  });
  socket.addEventListener('close', (event) => {
    const code = opened ? 'host_disconnected' : 'ws_unavailable';
    onClose(new TabSenseError(code, { message: `WebSocket closed (${event.code})` }));
  });
  return {
    kind: 'websocket',
    ready,
    send(message) {
      if (socket.readyState !== WebSocket.OPEN) throw new TabSenseError('host_disconnected');
      socket.send(JSON.stringify(message));
    },
    close() {
      socket.close();
    },
  };
}
