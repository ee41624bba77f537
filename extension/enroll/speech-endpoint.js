// Decides, from the level of each short frame, where a spoken take starts and ends, so the
// user only clicks Record and speaks. Pure (no audio APIs), so its rules are easy to follow:
// - speech is a frame louder than -40 dBFS and ~10 dB above the quietest frame heard so far
//   (a noisy room raises the bar with its own noise);
// - a take starts at a rise after a quarter second of quiet, so a phrase already under way
//   when recording began is never cut in half (the next one is taken whole);
// - it ends after 0.6 s of quiet or at 3 s; with no speech within 5 s the last 3 s are sent
//   anyway, so the host's verdict ("silence", "noise only") says what went wrong.
const MIN_SPEECH_LEVEL = 0.01; // RMS of full scale, -40 dBFS
const ABOVE_NOISE = 3; // x the quietest frame, ~10 dB
const QUIET_BEFORE_S = 0.25;
const PRE_ROLL_S = 0.25; // kept before the rise: soft first sounds ("f", "h") start below the bar
const END_QUIET_S = 0.6;
const MAX_TAKE_S = 3;
const WAIT_FOR_SPEECH_S = 5;

export class SpeechEndpoint {
  constructor(frameSeconds) {
    this.frames = (seconds) => Math.round(seconds / frameSeconds);
    this.count = 0; // frames seen
    this.floor = Infinity; // quietest frame level so far
    this.quietRun = 0; // quiet frames in a row
    this.start = null; // first frame of the take, once speech began
    this.end = null; // frame after the take's last, once done
    this.heardSpeech = false;
  }

  get done() {
    return this.end !== null;
  }

  // One frame's RMS level (0-1) -> whether this frame is speech.
  push(level) {
    const index = this.count;
    this.count += 1;
    this.floor = Math.min(this.floor, Math.max(level, 1e-4));
    const loud = level > Math.max(MIN_SPEECH_LEVEL, this.floor * ABOVE_NOISE);
    if (this.done) return loud;
    if (this.start === null) {
      if (loud && this.quietRun >= this.frames(QUIET_BEFORE_S)) {
        this.start = Math.max(0, index - this.frames(PRE_ROLL_S));
        this.heardSpeech = true;
        this.quietRun = 0;
      } else {
        this.quietRun = loud ? 0 : this.quietRun + 1;
        if (this.count >= this.frames(WAIT_FOR_SPEECH_S)) {
          this.start = Math.max(0, this.count - this.frames(MAX_TAKE_S));
          this.end = this.count;
        }
      }
      return loud;
    }
    this.quietRun = loud ? 0 : this.quietRun + 1;
    if (this.quietRun >= this.frames(END_QUIET_S) || this.count - this.start >= this.frames(MAX_TAKE_S)) {
      this.end = this.count;
    }
    return loud;
  }
}
