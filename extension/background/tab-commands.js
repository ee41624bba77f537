// What each spoken command does, always to the active tab of the window the user was last in.
// None of this needs the "tabs" permission: it uses ids, indexes and windows, never URLs.

export async function runTabCommand(command) {
  const [tab] = await chrome.tabs.query({ active: true, lastFocusedWindow: true });
  if (!tab) return; // no browser window (e.g. only the popup of another profile)
  switch (command) {
    case 'next_tab':
      return switchTab(tab, 1);
    case 'previous_tab':
      return switchTab(tab, -1);
    case 'close_tab':
      return chrome.tabs.remove(tab.id);
    case 'new_tab':
      // Opened from this tab, so that "close tab" right after comes back here.
      return chrome.tabs.create({ windowId: tab.windowId, index: tab.index + 1, openerTabId: tab.id });
    case 'go_back':
      return chrome.tabs.goBack(tab.id).catch(() => {}); // no page to go back to: nothing to do
    case 'reload':
      return chrome.tabs.reload(tab.id);
    default:
      return undefined; // a command from a newer host: ignore rather than guess
  }
}

// Next or previous tab in the same window, wrapping around at either end.
async function switchTab(tab, step) {
  const tabs = await chrome.tabs.query({ windowId: tab.windowId });
  if (tabs.length < 2) return;
  tabs.sort((a, b) => a.index - b.index);
  const at = tabs.findIndex((t) => t.id === tab.id);
  const target = tabs[(at + step + tabs.length) % tabs.length];
  await chrome.tabs.update(target.id, { active: true });
}
