// One long-lived connectNative port: the host process starts once and later requests cost
// well under a millisecond instead of a fresh process each time (sendNativeMessage).
import { TabSenseError, codeFromNativeError } from './errors.js';

export const HOST_NAME = 'com.tabsense.host';

export function openNativeTransport({ onMessage, onClose }) {
  const port = chrome.runtime.connectNative(HOST_NAME);
  let answered = false;
  port.onMessage.addListener((message) => {
    answered = true;
    onMessage(message);
  });
  // Fires only when the other side goes away (host missing, exited, crashed), not on close().
  port.onDisconnect.addListener(() => {
    const reason = chrome.runtime.lastError?.message || 'Native host has exited.';
    let code = codeFromNativeError(reason);
    // Exiting before the first answer means the launcher or Python setup is broken.
    if (code === 'host_disconnected' && !answered) code = 'host_failed_to_start';
    onClose(new TabSenseError(code, { message: reason }));
  });
  return {
    kind: 'native',
    ready: Promise.resolve(), // Chrome reports a missing host only through onDisconnect
    send(message) {
      try {
        port.postMessage(message);
      } catch (error) {
        throw new TabSenseError('host_disconnected', { message: error.message });
      }
    },
    close() {
      port.disconnect();
    },
  };
}
