// Chrome allows one offscreen document per extension, and TabSense has two jobs for it: the
// microphone (voice commands) and the in-browser image model (when the helper app is not
// installed). This module shares it: a job is started with a message, the document is created
// for the first job and closed with the last one (closing is what releases the microphone and
// the model's memory for sure). The jobs live in chrome.storage.session because the worker
// may be stopped while the document lives on.
import '../strings.js';

const { STRINGS } = globalThis;
const PATH = 'offscreen/offscreen.html';
// Reasons cannot be changed once the document exists, so it is created with both.
const REASONS = ['USER_MEDIA', 'WORKERS'];
const SEND_TRIES = 20; // a just-created document may not listen yet: retry for up to ~1 s
const SEND_RETRY_MS = 50;

let steps = Promise.resolve(); // create and close one at a time

function serially(step) {
  const result = steps.then(step);
  steps = result.catch(() => {});
  return result;
}

export async function isOffscreenOpen() {
  const contexts = await chrome.runtime.getContexts({ contextTypes: ['OFFSCREEN_DOCUMENT'] });
  return contexts.length > 0;
}

// The jobs the open document is doing ([] when there is no document).
export async function offscreenJobs() {
  if (!(await isOffscreenOpen())) return [];
  const { offscreenJobs: jobs = [] } = await chrome.storage.session.get('offscreenJobs');
  return jobs;
}

async function setJobs(jobs) {
  await chrome.storage.session.set({ offscreenJobs: jobs });
}

// Makes sure the document exists and records `job` ('microphone' or 'classifier').
export function openOffscreen(job) {
  return serially(async () => {
    const jobs = await offscreenJobs();
    if (jobs.length === 0 && !(await isOffscreenOpen())) {
      await chrome.offscreen.createDocument({ url: PATH, reasons: REASONS, justification: STRINGS.offscreenReason });
    }
    if (!jobs.includes(job)) await setJobs([...jobs, job]);
  });
}

// Ends `job`: the document closes when it was the last one, otherwise it is told to stop it.
// `keep`, asked when this step's turn comes (after any open queued before it), can cancel it.
export function closeOffscreen(job, keep = () => false) {
  return serially(async () => {
    if (keep()) return;
    const jobs = await offscreenJobs();
    const rest = jobs.filter((j) => j !== job);
    await setJobs(rest);
    if (rest.length === 0) {
      if (await isOffscreenOpen()) await chrome.offscreen.closeDocument();
    } else if (jobs.includes(job)) {
      await sendToOffscreen({ type: `stop-${job}` });
    }
  });
}

// One request to the document -> its answer. Broadcast, but only the document answers
// messages with target 'offscreen'.
export async function sendToOffscreen(message) {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await chrome.runtime.sendMessage({ target: 'offscreen', ...message });
    } catch (error) {
      // "Receiving end does not exist": the document is still loading its scripts.
      if (attempt >= SEND_TRIES || !/receiving end/i.test(error.message)) throw error;
      await new Promise((resolve) => setTimeout(resolve, SEND_RETRY_MS));
    }
  }
}
