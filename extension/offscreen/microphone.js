// The microphone, in the offscreen document because a service worker has no getUserMedia.
// Captures at the device's own rate, and sends ~100 ms chunks of mono 16-bit PCM (base64,
// little-endian) to the worker over a port. The worker starts and stops capture with
// messages (offscreen.js); when nothing else uses the document it closes it instead.
const CHUNK_SECONDS = 0.1;
const SOUND_LEVEL = 328; // |sample| above -40 dBFS counts as sound (for the worker's timing stats)

let capture = null; // {stream, port, started, soundHeard, media, context}

// The port closes when the worker stops; a new one wakes it so the chunks keep flowing.
function connect(current) {
  current.port = chrome.runtime.connect({ name: 'microphone' });
  current.port.onDisconnect.addListener(() => {
    if (capture === current) setTimeout(() => capture === current && connect(current), 100);
  });
  if (current.started) current.port.postMessage(current.started);
}

function post(current, message) {
  current.port.postMessage({ target: 'background', stream: current.stream, ...message });
}

// Little-endian int16 -> base64 (x86 and ARM are little-endian, like the host expects).
function toBase64(samples) {
  const bytes = new Uint8Array(samples.buffer, samples.byteOffset, samples.byteLength);
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

function sendChunk(current, samples) {
  const capturedAt = Date.now();
  let soundAt = null;
  if (!current.soundHeard) {
    const index = samples.findIndex((s) => s > SOUND_LEVEL || s < -SOUND_LEVEL);
    if (index >= 0) {
      current.soundHeard = true;
      soundAt = index;
    }
  }
  post(current, { type: 'audio-chunk', audio: toBase64(samples), frames: samples.length, capturedAt, soundAt });
}

async function open(current) {
  try {
    // Raw sound: the keyword model was trained without echo cancellation or gain control.
    current.media = await navigator.mediaDevices.getUserMedia({
      audio: { echoCancellation: false, noiseSuppression: false, autoGainControl: false },
    });
  } catch (error) {
    post(current, { type: 'capture-failed', error: error.name });
    return;
  }
  if (capture !== current) return release(current); // stopped while the browser was asking
  const [track] = current.media.getAudioTracks();
  // An AudioContext at the track's own rate, so the browser does not resample either.
  const { sampleRate } = track.getSettings();
  current.context = new AudioContext(sampleRate ? { sampleRate } : {});
  await current.context.audioWorklet.addModule('pcm-recorder.js');
  const recorder = new AudioWorkletNode(current.context, 'pcm-recorder', {
    numberOfOutputs: 0,
    processorOptions: { chunkFrames: Math.round(current.context.sampleRate * CHUNK_SECONDS) },
  });
  recorder.port.onmessage = ({ data }) => capture === current && sendChunk(current, data);
  current.context.createMediaStreamSource(current.media).connect(recorder);
  track.addEventListener('ended', () => post(current, { type: 'capture-ended' }));
  current.started = { target: 'background', stream: current.stream, type: 'capture-started', sampleRate: current.context.sampleRate };
  current.port.postMessage(current.started);
}

// Ending the tracks is what turns off the browser's microphone indicator.
function release(current) {
  current.media?.getTracks().forEach((track) => track.stop());
  current.context?.close().catch(() => {});
}

export function startMicrophone() {
  if (capture) return; // already capturing: the worker re-adopts the stream on reconnect
  const current = { stream: crypto.randomUUID(), port: null, started: null, soundHeard: false };
  capture = current;
  connect(current);
  open(current).catch((error) => post(current, { type: 'capture-failed', error: error.name || String(error) }));
}

export function stopMicrophone() {
  const current = capture;
  capture = null;
  if (!current) return;
  release(current);
  current.port.disconnect();
}
