// Records one take in the visible enrollment page (which may use getUserMedia once the
// microphone is allowed): the same raw capture as listening (offscreen/microphone.js, and
// its AudioWorklet), so the takes sound like what the host will hear later. Short frames
// drive the level meter and the endpoint; the microphone is released as soon as the take ends.
import { SpeechEndpoint } from './speech-endpoint.js';

const FRAME_SECONDS = 0.02;
const RECORDER = new URL('../offscreen/pcm-recorder.js', import.meta.url).href;
// Raw sound: the models were built without echo cancellation or gain control.
const RAW_AUDIO = { echoCancellation: false, noiseSuppression: false, autoGainControl: false };

function levelOf(samples) {
  let sum = 0;
  for (const sample of samples) sum += sample * sample;
  return Math.sqrt(sum / samples.length) / 32768;
}

// onLevel(level 0-1, isSpeech) per frame -> {samples: Int16Array, sampleRate, heardSpeech}.
// Throws the getUserMedia DOMException when the microphone cannot be opened.
export async function recordTake({ onLevel = () => {} } = {}) {
  const media = await navigator.mediaDevices.getUserMedia({ audio: RAW_AUDIO });
  let context = null;
  try {
    const [track] = media.getAudioTracks();
    const { sampleRate } = track.getSettings();
    // At the track's own rate, so the browser does not resample (the host does, for every take alike).
    context = new AudioContext(sampleRate ? { sampleRate } : {});
    await context.audioWorklet.addModule(RECORDER);
    const frameLength = Math.round(context.sampleRate * FRAME_SECONDS);
    const recorder = new AudioWorkletNode(context, 'pcm-recorder', {
      numberOfOutputs: 0,
      processorOptions: { chunkFrames: frameLength },
    });
    const endpoint = new SpeechEndpoint(FRAME_SECONDS);
    const frames = [];
    await new Promise((resolve, reject) => {
      recorder.port.onmessage = ({ data }) => {
        if (endpoint.done) return;
        frames.push(data);
        const level = levelOf(data);
        onLevel(level, endpoint.push(level));
        if (endpoint.done) resolve();
      };
      track.addEventListener('ended', () => reject(new DOMException('The microphone stopped.', 'AbortError')));
      context.createMediaStreamSource(media).connect(recorder);
    });
    const take = frames.slice(endpoint.start, endpoint.end);
    const samples = new Int16Array(take.length * frameLength);
    take.forEach((frame, i) => samples.set(frame, i * frameLength));
    return { samples, sampleRate: context.sampleRate, heardSpeech: endpoint.heardSpeech };
  } finally {
    // Ending the tracks turns the browser's microphone indicator off.
    media.getTracks().forEach((track) => track.stop());
    context?.close().catch(() => {});
  }
}
