"""Who may drive the offscreen document (offscreen/offscreen.js): the microphone and the
in-browser model start and stop on a message, and a content script's messages carry the
extension's own id. Only messages from the extension's pages (the service worker) are
served; a script in a web page gets no answer and starts nothing.
"""

from __future__ import annotations

import base64
import time

import pytest

from e2e_support import PHOTOS, SAMPLES, img_page, launch, wait_for

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]

FAKE_MICROPHONE = ("--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream")

# The document as background/offscreen-document.js creates it, recorded with the model's job so
# that background/voice.js leaves it open when the microphone starts, and a count of the
# microphone's ports (offscreen/microphone.js opens one when capture starts, closes it on stop).
PREPARE_JS = """async () => {
  self.microphonePorts = { connected: 0, disconnected: 0 };
  chrome.runtime.onConnect.addListener((port) => {
    if (port.name !== 'microphone') return;
    self.microphonePorts.connected += 1;
    port.onDisconnect.addListener(() => { self.microphonePorts.disconnected += 1; });
  });
  await chrome.storage.session.set({ offscreenJobs: ['classifier'] });
  await chrome.offscreen.createDocument({
    url: 'offscreen/offscreen.html', reasons: ['USER_MEDIA', 'WORKERS'], justification: 'test' });
}"""

# Sends each message from the page's content script (the isolated world) -> what each got back ('none': no answer).
FROM_PAGE_JS = """async ([url, messages]) => {
  const tab = (await chrome.tabs.query({})).find((t) => t.url === url);
  const [{ result }] = await chrome.scripting.executeScript({
    target: { tabId: tab.id },
    args: [messages],
    func: async (messages) => {
      const answers = [];
      for (const message of messages) {
        try {
          answers.push((await chrome.runtime.sendMessage(message)) ?? 'none');
        } catch (error) {
          answers.push({ thrown: error.message });
        }
      }
      return { answers, url: location.href, canMessage: typeof chrome.runtime.sendMessage };
    },
  });
  return result;
}"""

FROM_WORKER_JS = """(message) => chrome.runtime.sendMessage(message)"""


def message(kind: str, image: str = "") -> dict:
    extra = {"image": image, "topK": 3, "idleMs": 60000} if kind == "classify-image" else {}
    return {"target": "offscreen", "type": kind, **extra}


def microphone_ports(browser) -> dict:
    return browser.sw.evaluate("self.microphonePorts")


def settled(browser) -> None:
    """A round trip to the document after the page's messages: it has handled them by the time
    it answers this one, and a port it opened for them has reached the worker after a moment."""
    assert browser.sw.evaluate(FROM_WORKER_JS, message("stop-classifier")) == {"ok": True}
    time.sleep(0.3)


def test_content_script_cannot_drive_the_offscreen_document(playwright, servers, tmp_path):
    name = PHOTOS["fallback"]
    image = base64.b64encode((SAMPLES / name).read_bytes()).decode()
    profile = tmp_path / "profile"
    profile.mkdir()
    browser = launch(playwright, profile, FAKE_MICROPHONE)
    try:
        page = browser.open(servers.page("offscreen-messages.html", img_page(
            "Offscreen messages", f'<img src="{name}" width="300">')))
        browser.sw.evaluate(PREPARE_JS)

        # The page's content script asks for the microphone and the model: no answer, no microphone.
        attempts = [message("start-microphone"), message("classify-image", image), message("stop-classifier")]
        sent = browser.sw.evaluate(FROM_PAGE_JS, [page.url, attempts])
        assert sent["url"] == page.url and sent["canMessage"] == "function"  # really a content script
        assert sent["answers"] == ["none"] * len(attempts)
        settled(browser)
        assert microphone_ports(browser) == {"connected": 0, "disconnected": 0}

        # The service worker's own messages are served: the same requests get their answers.
        assert browser.sw.evaluate(FROM_WORKER_JS, message("start-microphone")) == {"ok": True}
        wait_for(lambda: microphone_ports(browser)["connected"] == 1, 10, "the microphone's port")
        reply = browser.sw.evaluate(FROM_WORKER_JS, message("classify-image", image))
        # The model answers when it is built (scripts/test.sh builds it); otherwise it says it is missing.
        assert reply["ok"] is True or reply["error"]["code"] == "browser_model_missing", reply
        if reply["ok"]:
            assert len(reply["result"]["labels"]) == 3

        # Nor can the page stop what the worker started.
        sent = browser.sw.evaluate(FROM_PAGE_JS, [page.url, [message("stop-microphone")]])
        assert sent["answers"] == ["none"]
        settled(browser)
        assert microphone_ports(browser) == {"connected": 1, "disconnected": 0}
        assert browser.sw.evaluate(FROM_WORKER_JS, message("stop-microphone")) == {"ok": True}
        wait_for(lambda: microphone_ports(browser)["disconnected"] == 1, 10, "the microphone to stop")
    finally:
        browser.context.close()
