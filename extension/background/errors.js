// Failures travel as TabSenseError with a snake_case code; describeError turns a code into
// the sentence, fix and command that the overlay, popup and options page show.
import '../strings.js';

const { STRINGS, formatString } = globalThis;

export class TabSenseError extends Error {
  constructor(code, { message, detail } = {}) {
    super(message || code);
    this.name = 'TabSenseError';
    this.code = code;
    this.detail = detail; // optional extra sentence for people, already worded
  }
}

export function toTabSenseError(error) {
  if (error instanceof TabSenseError) return error;
  return new TabSenseError('unknown', { message: String(error?.message || error) });
}

// Host codes that only happen when extension and host speak different protocol versions.
const PROTOCOL_CODES = new Set(['invalid_json', 'invalid_request', 'unknown_type', 'bad_base64']);

// Chrome reports native messaging failures only as English sentences in runtime.lastError.
const NATIVE_ERRORS = [
  [/not found/i, 'host_not_installed'],
  [/forbidden/i, 'host_forbidden'],
  [/failed to start/i, 'host_failed_to_start'],
];

export function codeFromNativeError(message = '') {
  for (const [pattern, code] of NATIVE_ERRORS) {
    if (pattern.test(message)) return code;
  }
  return 'host_disconnected'; // "Native host has exited." and "Error when communicating ..."
}

async function commandValues(settings) {
  const { os } = await chrome.runtime.getPlatformInfo();
  const python = os === 'win' ? 'py' : 'python3';
  const port = settings?.wsPort ?? 8765;
  return {
    port,
    installCommand: formatString(STRINGS.installCommand, { python }),
    checkCommand: formatString(STRINGS.checkCommand, { python }),
    fetchModelsCommand: STRINGS.fetchModelsCommand,
    serveCommand: formatString(STRINGS.serveCommand, { port }),
  };
}

// -> {code, text, fix, command, detail}; `code` stays the precise one for data attributes.
// `wording` (e.g. STRINGS.voiceErrors) rewords codes whose image sentence would not fit.
export async function describeError(error, settings, wording = {}) {
  const code = error.code || 'unknown';
  const key = PROTOCOL_CODES.has(code) ? 'protocol_mismatch' : code;
  const entry = wording[key] || STRINGS.errors[key] || wording.unknown || STRINGS.errors.unknown;
  const values = await commandValues(settings);
  return {
    code,
    text: formatString(entry.text, values),
    fix: entry.fix ? formatString(entry.fix, values) : '',
    command: entry.command ? values[entry.command] : '',
    detail: error.detail || '',
  };
}
