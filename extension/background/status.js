// What the popup shows (connection, versions, last latency). Kept in chrome.storage.session
// because the service worker can be stopped at any time; cleared when the browser quits.
export async function getStatus() {
  const { status } = await chrome.storage.session.get({ status: {} });
  return status;
}

export async function updateStatus(changes) {
  const status = await getStatus();
  await chrome.storage.session.set({ status: { ...status, ...changes, updatedAt: Date.now() } });
}
