// The microphone, in an offscreen document because a service worker has no getUserMedia.
// Captures at the device's own rate, and sends ~100 ms chunks of mono 16-bit PCM (base64,
// little-endian) to the worker over a port. The worker ends capture by closing this document.
const CHUNK_SECONDS = 0.1;
const SOUND_LEVEL = 328; // |sample| above -40 dBFS counts as sound (for the worker's timing stats)

const stream = crypto.randomUUID();
let port = null;
let started = null; // the capture-started message, sent again if the worker restarts
let soundHeard = false;

// The port closes when the worker stops; a new one wakes it so the chunks keep flowing.
function connect() {
  port = chrome.runtime.connect({ name: 'microphone' });
  port.onDisconnect.addListener(() => setTimeout(connect, 100));
  if (started) port.postMessage(started);
}

function post(message) {
  port.postMessage({ target: 'background', stream, ...message });
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

function sendChunk(samples) {
  const capturedAt = Date.now();
  let soundAt = null;
  if (!soundHeard) {
    const index = samples.findIndex((s) => s > SOUND_LEVEL || s < -SOUND_LEVEL);
    if (index >= 0) {
      soundHeard = true;
      soundAt = index;
    }
  }
  post({ type: 'audio-chunk', audio: toBase64(samples), frames: samples.length, capturedAt, soundAt });
}

async function start() {
  let media;
  try {
    // Raw sound: the keyword model was trained without echo cancellation or gain control.
    media = await navigator.mediaDevices.getUserMedia({
      audio: { echoCancellation: false, noiseSuppression: false, autoGainControl: false },
    });
  } catch (error) {
    post({ type: 'capture-failed', error: error.name });
    return;
  }
  const [track] = media.getAudioTracks();
  // An AudioContext at the track's own rate, so the browser does not resample either.
  const { sampleRate } = track.getSettings();
  const context = new AudioContext(sampleRate ? { sampleRate } : {});
  await context.audioWorklet.addModule('pcm-recorder.js');
  const recorder = new AudioWorkletNode(context, 'pcm-recorder', {
    numberOfOutputs: 0,
    processorOptions: { chunkFrames: Math.round(context.sampleRate * CHUNK_SECONDS) },
  });
  recorder.port.onmessage = ({ data }) => sendChunk(data);
  context.createMediaStreamSource(media).connect(recorder);
  track.addEventListener('ended', () => post({ type: 'capture-ended' }));
  started = { target: 'background', stream, type: 'capture-started', sampleRate: context.sampleRate };
  port.postMessage(started);
}

connect();
start().catch((error) => post({ type: 'capture-failed', error: error.name || String(error) }));
