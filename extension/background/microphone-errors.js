// getUserMedia failures (DOMException names) -> TabSense's error codes; the rest is
// microphone_failed. Shared by listening (service worker) and the enrollment page.
const MICROPHONE_ERRORS = Object.freeze({
  NotAllowedError: 'microphone_denied',
  SecurityError: 'microphone_denied',
  NotFoundError: 'microphone_missing',
  OverconstrainedError: 'microphone_missing',
  NotReadableError: 'microphone_busy',
  AbortError: 'microphone_busy',
});

export function microphoneErrorCode(name) {
  return MICROPHONE_ERRORS[name] || 'microphone_failed';
}
