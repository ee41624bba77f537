// "Teach TabSense your voice": three takes of each enabled command, recorded here, judged by
// the host (one verdict sentence per take, shown as is) and kept in its voice profile. The
// host owns the profile; this page shows it, and keeps the audio of this visit's takes only
// so the user can play them back. Everything goes through the worker, like the other pages.
import { getSettings } from '../background/settings.js';
import { toBase64, toWavBlob } from './pcm.js';
import { recordTake } from './take-recorder.js';
import { microphoneErrorCode } from '../background/microphone-errors.js';

const { STRINGS, formatString } = globalThis;
const $ = (id) => document.getElementById(id);
const TAKES_PER_COMMAND = 3;

const state = {
  commands: [], // the enabled commands, one section each
  profile: null, // the host's voice profile; null until it answered
  recordings: new Map(), // take id -> object URL of this visit's audio
  slotErrors: new Map(), // "command/slot" -> a failure to show under that take
  active: null, // "command/slot" being recorded or checked: one at a time
  paused: false, // listening was stopped when this page opened
  listenRequested: false, // the user asked this page to start listening: its failure is shown here
};

for (const node of document.querySelectorAll('[data-text]')) node.textContent = STRINGS[node.dataset.text];

function toWorker(type, params = {}) {
  return chrome.runtime.sendMessage({ target: 'background', type, ...params });
}

function fillError(prefix, error) {
  $(`${prefix}-text`).textContent = error.text;
  $(`${prefix}-fix`).textContent = error.fix;
  $(`${prefix}-command`).hidden = !error.command;
  $(`${prefix}-command`).textContent = error.command;
}

// A failure that stops the whole page (no helper app, or one that cannot learn voices).
function showProblem(error) {
  $('problem').hidden = !error;
  if (error) {
    $('problem').dataset.code = error.code;
    fillError('problem', error);
  }
}

function takesOf(command) {
  return state.profile?.commands?.[command]?.takes ?? [];
}

function isReady(command) {
  return Boolean(state.profile?.commands?.[command]?.ready);
}

// --- rendering -----------------------------------------------------------------------------

function buildCommands() {
  $('commands').replaceChildren();
  if (!state.commands.length) {
    showProblem({ code: 'no_commands', text: STRINGS.enrollNoCommands, fix: '', command: '' });
  }
  for (const command of state.commands) {
    const section = $('command-template').content.firstElementChild.cloneNode(true);
    section.dataset.command = command;
    section.querySelector('.action').textContent = STRINGS.enrollActions[command] ?? command;
    const phrase = STRINGS.commandPhrases[command];
    section.querySelector('.example').textContent = phrase ? formatString(STRINGS.enrollExample, { phrase }) : '';
    for (let slot = 0; slot < TAKES_PER_COMMAND; slot += 1) {
      const row = $('take-template').content.firstElementChild.cloneNode(true);
      row.dataset.slot = String(slot);
      row.querySelector('.take-name').textContent = formatString(STRINGS.enrollTake, { number: slot + 1 });
      row.querySelector('.record').addEventListener('click', () => record(command, slot));
      row.querySelector('.play').textContent = STRINGS.enrollPlay;
      row.querySelector('.play').addEventListener('click', () => play(command, slot));
      row.querySelector('.remove').textContent = STRINGS.enrollRemove;
      row.querySelector('.remove').addEventListener('click', () => remove(command, slot));
      section.querySelector('.takes').append(row);
    }
    $('commands').append(section);
  }
}

function render() {
  const blocked = !state.profile; // the host could not be asked: nothing can be saved
  for (const section of $('commands').children) {
    const { command } = section.dataset;
    const takes = takesOf(command);
    const ready = isReady(command);
    section.dataset.ready = String(ready);
    const good = takes.filter((take) => take.verdict === 'ok').length;
    section.querySelector('.mark').textContent = ready
      ? STRINGS.enrollReady
      : formatString(STRINGS.enrollNotReady, { ok: Math.min(good, TAKES_PER_COMMAND) });
    // The host checks a ready phrase against everyday speech before using it; one that matches it
    // too often is held back, and the host says why.
    const { check, message } = state.profile?.commands?.[command] ?? {};
    const checkLine = section.querySelector('.check');
    checkLine.dataset.held = String(Boolean(check?.held));
    if (check?.held) checkLine.textContent = message ?? '';
    else if (check) checkLine.textContent = formatString(STRINGS.enrollChecked, { count: check.windows.toLocaleString() });
    else checkLine.textContent = '';
    section.querySelectorAll('.take').forEach((row, slot) => renderTake(row, command, slot, takes[slot], blocked));
  }
  // What the host found wrong with the saved profile (a take missing, a damaged manifest), in its words.
  const problems = state.profile?.problems ?? [];
  $('profile-problems').hidden = !problems.length;
  $('profile-problems').replaceChildren(...problems.map((text) => Object.assign(document.createElement('li'), { textContent: text })));
  const allReady = !blocked && state.commands.length > 0 && state.commands.every(isReady);
  $('all-ready').hidden = !allReady;
  $('reset').disabled = blocked || !state.profile.exists;
  renderListening();
}

function renderTake(row, command, slot, take, blocked) {
  const key = `${command}/${slot}`;
  const error = state.slotErrors.get(key);
  const busy = state.active !== null;
  if (state.active === key) {
    // recording or checking: set by record() as it goes
  } else if (error) {
    row.dataset.state = 'error';
  } else {
    row.dataset.state = take ? 'recorded' : 'empty';
  }
  if (take && !error) row.dataset.verdict = take.verdict;
  else delete row.dataset.verdict;
  if (take) row.dataset.take = take.take;
  else delete row.dataset.take;

  const record = row.querySelector('.record');
  if (state.active !== key) record.textContent = take ? STRINGS.enrollRerecord : STRINGS.enrollRecord;
  // Takes fill in order: the next empty one, or any recorded one to replace it.
  record.disabled = blocked || busy || slot > takesOf(command).length;
  const play = row.querySelector('.play');
  play.hidden = !(take && state.recordings.has(take.take));
  play.disabled = busy;
  const remove = row.querySelector('.remove');
  remove.hidden = !take;
  remove.disabled = blocked || busy;
  if (state.active === key) return;
  const verdict = row.querySelector('.verdict');
  const fix = row.querySelector('.verdict-fix');
  if (error) {
    verdict.textContent = error.text;
    fix.textContent = error.fix;
  } else if (take) {
    verdict.textContent = take.message || (state.recordings.has(take.take) ? '' : STRINGS.enrollSavedEarlier);
    fix.textContent = '';
  } else {
    verdict.textContent = STRINGS.enrollNotRecorded;
    fix.textContent = '';
  }
}

// Whether TabSense listens, and with which model (the stream's start told the worker).
async function renderListening() {
  const { voice = {} } = await chrome.storage.session.get('voice');
  const line = $('listening');
  const allReady = state.profile && state.commands.length > 0 && state.commands.every(isReady);
  let text = '';
  let kind = 'info';
  if (voice.listening) {
    if (voice.profile?.used === true) text = STRINGS.enrollListening;
    else if (voice.profile?.used === false) text = STRINGS.enrollListeningGeneric;
    else text = STRINGS.enrollListeningNow;
  } else if (voice.error && state.listenRequested) {
    text = `${voice.error.text} ${voice.error.fix}`.trim();
    kind = 'error';
  } else if (state.paused) {
    text = STRINGS.enrollPaused;
  }
  line.hidden = !text;
  line.textContent = text;
  line.dataset.state = kind;
  $('start').hidden = Boolean(!allReady || voice.listening);
  $('skip').hidden = Boolean(allReady || voice.listening || !state.commands.length);
}

// --- recording -----------------------------------------------------------------------------

function rowOf(command, slot) {
  return $('commands').querySelector(`.command[data-command="${command}"] .take[data-slot="${slot}"]`);
}

async function record(command, slot) {
  if (state.active) return;
  const key = `${command}/${slot}`;
  const replaced = takesOf(command)[slot]?.take;
  const row = rowOf(command, slot);
  state.active = key;
  state.slotErrors.delete(key);
  render();
  row.dataset.state = 'recording';
  row.querySelector('.record').textContent = STRINGS.enrollRecording;
  row.querySelector('.verdict').textContent = '';
  row.querySelector('.verdict-fix').textContent = '';
  const level = row.querySelector('.level');
  try {
    let take;
    try {
      take = await recordTake({
        onLevel: (rms, speech) => {
          // -60..0 dBFS across the bar: speech sits in its right half.
          const db = 20 * Math.log10(Math.max(rms, 1e-6));
          level.style.width = `${Math.max(0, Math.min(100, ((db + 60) / 60) * 100))}%`;
          level.dataset.speech = String(speech);
        },
      });
    } catch (error) {
      const code = microphoneErrorCode(error?.name);
      throw { code, ...STRINGS.enrollErrors[code] };
    } finally {
      level.style.width = '0';
    }
    // The page just used the microphone: the grant holds for listening too.
    chrome.storage.local.set({ microphoneGranted: true });
    row.dataset.state = 'checking';
    row.querySelector('.record').textContent = STRINGS.enrollChecking;
    const answer = await toWorker('enroll-take', {
      command,
      audio: toBase64(take.samples),
      sampleRate: take.sampleRate,
      replace: replaced,
    });
    if (!answer?.ok) throw answer?.error;
    keep(answer.result, toWavBlob(take.samples, take.sampleRate), replaced);
    // A take can change the verdicts of another command's takes too ("too like another command").
    const fresh = await toWorker('voice-profile', { action: 'get' });
    if (fresh?.ok) state.profile = fresh.result;
  } catch (caught) {
    if (!caught?.text) console.error('TabSense: could not record a take', caught);
    row.dataset.code = failTake(key, caught).code;
  } finally {
    state.active = null;
    render();
  }
}

// Shown under the take until it is recorded again: a sentence from the worker, or the generic one.
function failTake(key, caught) {
  const error = caught?.text ? caught : { code: 'unknown', ...STRINGS.enrollErrors.unknown, fix: '' };
  state.slotErrors.set(key, { text: error.text, fix: error.fix ?? '' });
  return error;
}

// The host's answer to a take: the command's takes (all re-judged) and which commands are ready.
function keep(result, audio, replaced) {
  if (replaced) forget(replaced);
  state.recordings.set(result.take, URL.createObjectURL(audio));
  const commands = {
    ...state.profile.commands,
    [result.command]: { ready: result.command_ready, takes: result.takes, check: result.check, message: result.command_message },
  };
  state.profile = { ...state.profile, exists: true, commands, ready_commands: result.ready_commands };
}

// Deleting a take frees its slot; the takes after it move up, as the host lists them.
async function remove(command, slot) {
  const take = takesOf(command)[slot];
  if (state.active || !take) return;
  const key = `${command}/${slot}`;
  state.active = key;
  state.slotErrors.delete(key);
  render();
  try {
    const answer = await toWorker('voice-profile', { action: 'remove_take', command, take: take.take });
    if (!answer?.ok) throw answer?.error;
    forget(take.take);
    state.profile = answer.result;
  } catch (caught) {
    failTake(key, caught);
  } finally {
    state.active = null;
    render();
  }
}

function forget(take) {
  if (!state.recordings.has(take)) return;
  URL.revokeObjectURL(state.recordings.get(take));
  state.recordings.delete(take);
}

function play(command, slot) {
  const take = takesOf(command)[slot];
  const url = take && state.recordings.get(take.take);
  if (url) new Audio(url).play().catch((error) => console.warn('TabSense: could not play the take', error));
}

// --- listening, skipping, resetting ------------------------------------------------------------

$('start').addEventListener('click', async () => {
  state.listenRequested = true;
  $('start').disabled = true;
  await toWorker('start-listening');
  $('start').disabled = false;
  renderListening();
});

$('skip').addEventListener('click', async (event) => {
  event.preventDefault();
  state.listenRequested = true;
  await toWorker('enroll-skip');
  renderListening();
});

$('reset').addEventListener('click', () => {
  $('reset-confirm').hidden = false;
  $('reset-done').hidden = true;
  $('reset').hidden = true;
});

$('reset-no').addEventListener('click', () => {
  $('reset-confirm').hidden = true;
  $('reset').hidden = false;
});

$('reset-yes').addEventListener('click', async () => {
  $('reset-confirm').hidden = true;
  $('reset').hidden = false;
  const answer = await toWorker('voice-profile', { action: 'reset' });
  $('reset-done').hidden = false;
  if (answer?.ok) {
    for (const url of state.recordings.values()) URL.revokeObjectURL(url);
    state.recordings.clear();
    state.slotErrors.clear();
    state.profile = answer.result;
    $('reset-done').textContent = STRINGS.enrollResetDone;
    $('reset-done').dataset.state = 'ok';
  } else {
    $('reset-done').textContent = `${answer?.error?.text ?? STRINGS.enrollErrors.unknown.text} ${answer?.error?.fix ?? ''}`.trim();
    $('reset-done').dataset.state = 'error';
  }
  render();
});

chrome.storage.onChanged.addListener((changes, area) => {
  if (area === 'session' && changes.voice) renderListening();
});

// --- start ---------------------------------------------------------------------------------------

async function load() {
  state.commands = (await getSettings()).voiceCommands;
  buildCommands();
  render(); // every take "not recorded yet" while the host is asked
  const [paused, answer] = await Promise.all([toWorker('enroll-opened'), toWorker('voice-profile', { action: 'get' })]);
  state.paused = Boolean(paused?.paused);
  if (answer?.ok) {
    state.profile = answer.result;
  } else {
    showProblem(answer?.error ?? { code: 'unknown', ...STRINGS.enrollErrors.unknown });
  }
  document.body.dataset.loaded = answer?.ok ? 'ok' : 'error';
  render();
}

load();
