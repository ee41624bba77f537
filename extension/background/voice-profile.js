// The user's voice profile lives in the host (takes, features, the personal model); the
// enrollment page and the popup reach it through the worker, which owns the host connection.
// Answers are plain objects, {ok, result} or {ok: false, error}, because a thrown error does
// not cross runtime messaging and the page must show a sentence either way.
import '../strings.js';
import { describeError, toTabSenseError } from './errors.js';
import { callHost } from './host-client.js';
import { getSettings } from './settings.js';

const { STRINGS } = globalThis;
const PROFILE_ACTIONS = new Set(['get', 'reset', 'remove_take']);

export function enrollTake({ command, audio, sampleRate, replace }) {
  const params = { command, audio, sample_rate: sampleRate };
  if (replace) params.replace = replace;
  return ask('enroll_take', params);
}

export function voiceProfile({ action = 'get', command, take }) {
  if (!PROFILE_ACTIONS.has(action)) return failed(new Error(`unknown voice profile action ${action}`));
  const params = { action };
  if (command) params.command = command;
  if (take) params.take = take;
  return ask('voice_profile', params);
}

// -> the host's profile ({exists, commands, ready_commands}), or null when it cannot say
// (no host, or one that predates voice profiles).
export async function readVoiceProfile() {
  const answer = await voiceProfile({ action: 'get' });
  return answer.ok ? answer.result : null;
}

async function ask(type, params) {
  try {
    return { ok: true, result: await callHost(type, params) };
  } catch (error) {
    return failed(error);
  }
}

async function failed(caught) {
  const error = toTabSenseError(caught);
  const described = await describeError(error, await getSettings(), STRINGS.enrollErrors);
  // A code this extension has no sentence for (a newer host's own, e.g. about a command or a
  // damaged profile): the host's own sentence says more than the generic one.
  const generic = described.text === STRINGS.enrollErrors.unknown.text;
  if (generic && error.code !== 'unknown' && error.message && error.message !== error.code) {
    return { ok: false, error: { ...described, text: error.message, fix: '', command: '' } };
  }
  return { ok: false, error: described };
}
