// AudioWorklet processor: mixes the microphone to mono, converts it to 16-bit PCM at the
// capture rate (the host resamples) and posts one Int16Array every `chunkFrames` frames.
class PcmRecorder extends AudioWorkletProcessor {
  constructor({ processorOptions }) {
    super();
    this.chunkFrames = processorOptions.chunkFrames;
    this.chunk = new Int16Array(this.chunkFrames);
    this.filled = 0;
  }

  process([channels]) {
    if (!channels || channels.length === 0) return true; // input not connected yet
    const count = channels.length;
    const frames = channels[0].length;
    for (let i = 0; i < frames; i += 1) {
      let sum = 0;
      for (let c = 0; c < count; c += 1) sum += channels[c][i];
      const sample = Math.max(-1, Math.min(1, sum / count));
      this.chunk[this.filled] = Math.round(sample * 32767);
      this.filled += 1;
      if (this.filled === this.chunkFrames) {
        this.port.postMessage(this.chunk, [this.chunk.buffer]); // moved, not copied
        this.chunk = new Int16Array(this.chunkFrames);
        this.filled = 0;
      }
    }
    return true; // keep running until the document closes
  }
}

registerProcessor('pcm-recorder', PcmRecorder);
