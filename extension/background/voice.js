// Voice commands, the worker's side. A worker has no getUserMedia, so the microphone lives in
// the offscreen document (shared with the in-browser image model: offscreen-document.js),
// which streams ~100 ms PCM chunks here over a port; this file passes
// them to the host on the one host connection and acts on the commands the host hears.
// Whether listening is on lives in chrome.storage.session (the worker may restart); the
// toolbar icon and badge show it.
import '../strings.js';
import { TabSenseError, describeError, toTabSenseError } from './errors.js';
import { isHostConnected, isSettingsChange, onHostEvent, sendInOrder } from './host-client.js';
import { closeOffscreen, offscreenJobs, openOffscreen, sendToOffscreen } from './offscreen-document.js';
import { DEFAULT_SETTINGS, getSettings } from './settings.js';
import { runTabCommand } from './tab-commands.js';
import { readVoiceProfile } from './voice-profile.js';
import { microphoneErrorCode } from './microphone-errors.js';

const { STRINGS } = globalThis;
export const MICROPHONE_PORT = 'microphone';
const MICROPHONE_JOB = 'microphone'; // the offscreen document's job name
const PERMISSION_PATH = 'permission/permission.html';
const STATS_EVERY_MS = 1000; // chunk statistics reach storage at most once a second
const ICONS = {
  idle: { 16: '/icons/icon16.png', 32: '/icons/icon32.png' },
  listening: { 16: '/icons/listening16.png', 32: '/icons/listening32.png' },
};
const BADGE_COLOR = '#dc2626';
const KEEP_RECENT = 10; // commands heard, newest last

let capture = null; // the stream being forwarded: {id, rate, samples, lastChunk, timeoutMs, sensitivity, stats}
let steps = Promise.resolve(); // start, stop and restore run one at a time
let commands = Promise.resolve(); // tab actions run one at a time, in the order heard

function serially(step) {
  const result = steps.then(step);
  steps = result.catch((error) => console.error('TabSense: voice step failed', error));
  return result;
}

export async function getVoice() {
  const { voice } = await chrome.storage.session.get({ voice: {} });
  return { listening: false, error: null, ...voice };
}

// Read-modify-write, one at a time: statistics and heard commands must not overwrite each other.
let writes = Promise.resolve();
function setVoice(changes) {
  const write = writes.then(async () => {
    const voice = await getVoice();
    const next = typeof changes === 'function' ? changes(voice) : changes;
    await chrome.storage.session.set({ voice: { ...voice, ...next, updatedAt: Date.now() } });
  });
  writes = write.catch((error) => console.error('TabSense: could not save the voice state', error));
  return write;
}

export function toggleListening() {
  return serially(async () => ((await getVoice()).listening ? stop() : start()));
}

export function startListening() {
  return serially(start);
}

function stopListening(error) {
  return serially(() => stop(error));
}

// --- First time: teach TabSense the user's voice before listening --------------------

// The microphone was just allowed on the permission page. The generic model hears voices it
// was built around, not every voice: unless a profile already covers the enabled commands or
// the user chose the generic model, enrollment comes first -> {enroll: true}; else listen.
export async function afterMicrophoneGranted() {
  if (await shouldEnroll()) return { enroll: true };
  return startListening();
}

async function shouldEnroll() {
  const { voiceEnrollmentSkipped } = await chrome.storage.local.get('voiceEnrollmentSkipped');
  if (voiceEnrollmentSkipped) return false;
  const profile = await readVoiceProfile();
  // A host that cannot say (missing, or older than voice profiles): listening reports why.
  if (!profile) return false;
  const { voiceCommands } = await getSettings();
  return !voiceCommands.every((command) => profile.ready_commands?.includes(command));
}

// "Skip — use the generic model": remembered, so the permission page never sends the user
// back here; then listening starts, as the user asked when turning voice on.
export async function skipEnrollment() {
  await chrome.storage.local.set({ voiceEnrollmentSkipped: true });
  return startListening();
}

// While the user records takes, a running stream would act on them ("next tab" switches
// away from the page) and would not use the profile being built: it stops, and the page
// offers to start it again.
export function pauseForEnrollment() {
  return serially(async () => {
    const paused = (await getVoice()).listening;
    if (paused) await stop();
    return { paused };
  });
}

// After a worker restart: the badge must match whether a microphone is really open.
export function restoreVoice() {
  return serially(async () => {
    const [{ listening }, open] = await Promise.all([getVoice(), hasMicrophone()]);
    if (listening && !open) await stop();
    if (!listening && open) await closeOffscreen(MICROPHONE_JOB);
  });
}

async function start() {
  if ((await getVoice()).listening && (await hasMicrophone())) return getVoice(); // already on
  // An offscreen document cannot ask for the microphone: a visible page asks once.
  const { microphoneGranted } = await chrome.storage.local.get('microphoneGranted');
  if (!microphoneGranted) {
    await openPermissionPage();
    return getVoice();
  }
  await setVoice({
    listening: true,
    error: null,
    stats: null,
    hostStopped: null,
    lastCommand: null,
    heard: 0,
    recent: [],
    model: null,
    sensitivity: null, // the host says which level it uses when the stream starts
    profile: null, // and whether the user's voice profile is used: {used, id, commands}
  });
  await showIndicator(true);
  await openOffscreen(MICROPHONE_JOB);
  await sendToOffscreen({ type: 'start-microphone' });
  return getVoice(); // capture starts when the document says so (capture-started)
}

async function stop(error = null) {
  const stopped = capture;
  capture = null; // from here on, late chunks and events of this stream are dropped
  const described = error ? await describeError(error, await getSettings(), STRINGS.voiceErrors) : null;
  await setVoice({ listening: false, error: described, ...(stopped && { stats: statsOf(stopped) }) });
  // Ending the tracks (or closing the document) turns the browser's microphone indicator off.
  await closeOffscreen(MICROPHONE_JOB);
  // Sent after every chunk of this stream (same ordered path), so the host frees it for good.
  if (stopped && isHostConnected()) {
    sendInOrder('stop_stream', { stream: stopped.id }, stopped.timeoutMs)
      .then((result) => setVoice({ hostStopped: result }))
      .catch(() => {}); // the host is gone, and the stream with it
  }
  await showIndicator(false, described);
  return getVoice();
}

async function hasMicrophone() {
  return (await offscreenJobs()).includes(MICROPHONE_JOB);
}

async function openPermissionPage() {
  const url = chrome.runtime.getURL(PERMISSION_PATH);
  const [open] = await chrome.runtime.getContexts({ contextTypes: ['TAB'], documentUrls: [url] });
  if (open) {
    await chrome.tabs.update(open.tabId, { active: true });
  } else {
    await chrome.tabs.create({ url });
  }
}

async function showIndicator(listening, error = null) {
  const title = listening ? STRINGS.voiceListeningTitle : error?.text || STRINGS.actionTitle;
  await Promise.all([
    chrome.action.setIcon({ path: listening ? ICONS.listening : ICONS.idle }),
    chrome.action.setBadgeBackgroundColor({ color: BADGE_COLOR }),
    chrome.action.setBadgeText({ text: listening ? STRINGS.voiceBadge : error ? '!' : '' }),
    chrome.action.setTitle({ title }),
  ]);
}

// --- The offscreen document's port ----------------------------------------------------

export function acceptMicrophonePort(port) {
  port.onMessage.addListener((message) => {
    switch (message?.type) {
      case 'audio-chunk':
        if (capture?.id === message.stream) forwardChunk(capture, message);
        break;
      case 'capture-started':
        captureStarted(message);
        break;
      case 'capture-failed':
        captureFailed(message.error);
        break;
      case 'capture-ended':
        if (capture?.id === message.stream) stopListening(new TabSenseError('microphone_ended'));
        break;
      default:
        break;
    }
  });
}

// Also sent again when the document reconnects after a worker restart.
function captureStarted({ stream, sampleRate }) {
  capture = {
    id: stream,
    rate: sampleRate,
    samples: 0,
    failed: false,
    forwardingSince: Date.now(), // by this worker (a restarted worker adopts the stream)
    lastChunk: null,
    firstSoundS: null,
    timeoutMs: DEFAULT_SETTINGS.requestTimeoutMs,
    stats: { chunks: 0, transitMs: [], hostMs: [], hostTimeS: 0, savedAt: 0 },
  };
  const started = capture;
  // Chunks wait for the settings: the host must know from the first chunk which commands may
  // act, how readily, and whether the user accepted a keyword model that has not passed validation.
  started.ready = getSettings().then((settings) => {
    const { requestTimeoutMs, voiceCommands, voiceSensitivity, experimentalVoiceModel } = settings;
    started.timeoutMs = requestTimeoutMs;
    started.commands = voiceCommands;
    started.sensitivity = voiceSensitivity;
    started.allowUnblessed = experimentalVoiceModel === true;
  });
  getVoice().then(({ listening }) => {
    if (!listening && capture === started) stopListening(); // stopped while the document started
  });
}

async function captureFailed(name) {
  const code = microphoneErrorCode(name);
  if (code === 'microphone_denied') {
    // The grant was taken back in the browser's settings: ask again on the permission page.
    await chrome.storage.local.set({ microphoneGranted: false });
    await openPermissionPage();
  }
  await stopListening(new TabSenseError(code, { message: name }));
}

function forwardChunk(stream, { audio, frames, capturedAt, soundAt }) {
  const receivedAt = Date.now();
  if (stream.firstSoundS === null && soundAt != null) stream.firstSoundS = (stream.samples + soundAt) / stream.rate;
  stream.samples += frames;
  // Stream time <-> wall clock, to say when a command was acted on in stream time.
  stream.lastChunk = { endS: stream.samples / stream.rate, at: capturedAt };
  const { stats } = stream;
  stats.chunks += 1;
  remember(stats.transitMs, receivedAt - capturedAt);
  // Callbacks on the one settings promise run in the order they were added: chunks stay in order.
  stream.ready
    .then(() => {
      const sentAt = performance.now();
      const params = {
        stream: stream.id,
        audio,
        sample_rate: stream.rate,
        commands: stream.commands,
        sensitivity: stream.sensitivity,
      };
      // On every chunk: the host may start the stream again (a new rate) with any of them.
      if (stream.allowUnblessed) params.allow_unblessed = true;
      return sendInOrder('audio_chunk', params, stream.timeoutMs).then((result) => ({ result, sentAt }));
    })
    .then(({ result, sentAt }) => {
      remember(stats.hostMs, performance.now() - sentAt);
      stats.hostTimeS = result.time_s;
      // Only the chunk that starts the stream names the model (and the sensitivity in use); the
      // popup says when it is experimental, and which sensitivity when not the usual one.
      if (result.model && capture === stream) {
        const { sensitivity } = result.model; // absent from a host without sensitivity levels
        setVoice({ model: result.model, ...(sensitivity && { sensitivity }), ...profileOf(result) });
      }
      // The host applied a changed sensitivity to the running stream: from this chunk on.
      if (result.sensitivity && capture === stream) setVoice({ sensitivity: result.sensitivity });
      saveStatsSometimes(stream);
    })
    .catch((error) => {
      if (capture !== stream || stream.failed) return; // only the first failure counts
      if (isSettingsChange(error)) return; // this chunk is lost; the next one goes over the new connection
      stream.failed = true;
      stopListening(toTabSenseError(error));
    });
}

// {profile: {used, id, commands}} from the answer that starts a stream; nothing from a host
// older than voice profiles (the popup then asks the host for the profile instead).
function profileOf(result) {
  if (!('profile' in result)) return {};
  return { profile: result.profile ? { used: true, ...result.profile } : { used: false } };
}

// The options page changed the enabled commands or the sensitivity: the next chunk tells the
// host. (The experimental model choice applies from the next time listening starts.)
chrome.storage.onChanged.addListener((changes, area) => {
  if (area !== 'local' || !capture) return;
  if (changes.voiceCommands) capture.commands = changes.voiceCommands.newValue;
  if (changes.voiceSensitivity) {
    capture.sensitivity = changes.voiceSensitivity.newValue ?? DEFAULT_SETTINGS.voiceSensitivity;
  }
});

function saveStatsSometimes(stream) {
  const now = Date.now();
  if (now - stream.stats.savedAt < STATS_EVERY_MS || capture !== stream) return;
  stream.stats.savedAt = now;
  setVoice({ stats: statsOf(stream) });
}

// What the tests (and anyone debugging) read: how much audio went through and how fast.
function statsOf(stream) {
  const { chunks, transitMs, hostMs, hostTimeS } = stream.stats;
  return {
    stream: stream.id,
    sampleRate: stream.rate,
    forwardingSince: stream.forwardingSince,
    chunks,
    sentS: Math.round((stream.samples / stream.rate) * 1000) / 1000,
    hostTimeS,
    firstSoundS: stream.firstSoundS,
    transitMs: summarize(transitMs), // offscreen document -> worker
    hostMs: summarize(hostMs), // worker -> host -> worker, per chunk
  };
}

const KEEP_TIMINGS = 600; // the last minute of chunks

function remember(values, value) {
  values.push(value);
  if (values.length > KEEP_TIMINGS) values.shift();
}

function summarize(values) {
  if (!values.length) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q) => Math.round(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] * 10) / 10;
  return { median: at(0.5), p95: at(0.95), max: at(1) };
}

// --- Commands the host heard -----------------------------------------------------------

onHostEvent((message) => {
  if (message.event === 'command') commands = commands.then(() => actOn(message));
});

async function actOn({ stream, command, score, time_s: timeS }) {
  const current = capture;
  if (!current || current.id !== stream) return; // a stream that was already stopped
  try {
    await runTabCommand(command);
  } catch (error) {
    console.warn('TabSense: could not run', command, error); // e.g. the tab closed meanwhile
  }
  const at = Date.now();
  const { lastChunk } = current;
  // Where the microphone was (in stream time) when the tab had switched.
  const streamS = lastChunk ? lastChunk.endS + (at - lastChunk.at) / 1000 : null;
  const lastCommand = { command, score, timeS, streamS, at };
  await setVoice((voice) => ({
    lastCommand,
    heard: (voice.heard || 0) + 1,
    recent: [...(voice.recent || []), lastCommand].slice(-KEEP_RECENT),
    stats: statsOf(current),
  }));
}
