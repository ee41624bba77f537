"""The service worker's reconnect after a host crash (background/host-client.js): a host that
answered and then died is started again after 0.5, 1, 2, 4 and 8 s, then left alone until a
new request; any request the host answers (a picture, a voice chunk, the popup's status)
starts the count over, the reconnect's own ping does not.

A stand-in host answers every request and logs its start and each answer; the test kills it
(SIGKILL) once the extension has seen it answer, as a crash would.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from e2e_support import FRAMING, kill_and_wait, launch, register_script, wait_for

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]

DELAYS_S = [0.5, 1, 2, 4, 8]  # the documented schedule
FAKE_MICROPHONE = ("--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream")

LOGGING_HOST = FRAMING + """
import os, time
from pathlib import Path
log = Path(__file__).with_suffix(".log")
def note(event, **fields):
    with open(log, "a") as out:
        out.write(json.dumps({"event": event, "pid": os.getpid(), "t": time.time(), **fields}) + "\\n")
note("start")
while True:
    request = read()
    result = {"version": "0.0-test", "models": []} if request["type"] == "ping" else {"time_s": 0.0}
    write({"id": request["id"], "ok": True, "result": result})
    note("answered", type=request["type"])
"""


class Hosts:
    """The stand-in hosts one browser started, read from their shared log."""

    def __init__(self, log: Path):
        self.log = log

    def events(self) -> list[dict]:
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines() if line.endswith("}")]

    def starts(self) -> list[dict]:
        return [e for e in self.events() if e["event"] == "start"]

    def answered(self, pid: int) -> list[str]:
        return [e["type"] for e in self.events() if e["event"] == "answered" and e["pid"] == pid]


@pytest.fixture
def stand_in(playwright, tmp_path):
    """-> start(extra_args) -> (browser, Hosts): a fresh browser whose host is the logging stand-in."""
    started = []

    def start(extra_args=()):
        profile = tmp_path / f"profile-{len(started)}"
        profile.mkdir()
        script = register_script(profile, LOGGING_HOST)
        browser = launch(playwright, profile, extra_args)
        started.append(browser)
        return browser, Hosts(script.with_suffix(".log"))

    yield start
    for browser in started:
        browser.context.close()


def session(browser, key: str):
    return browser.sw.evaluate("(key) => chrome.storage.session.get(key).then((s) => s[key])", key)


def connected(browser) -> bool:
    return (session(browser, "status") or {}).get("connected") is True


# The popup's status request, as the worker's listener receives it from the popup (the popup
# itself asks for more, e.g. the voice profile, which would make the host counts vary).
STATUS_JS = """() => new Promise((resolve) => chrome.runtime.onMessage.dispatch(
  { target: 'background', type: 'get-status' },
  { id: chrome.runtime.id, url: chrome.runtime.getURL('popup/popup.html') },
  resolve))"""


def ask_status(browser) -> None:
    """The host's status as the popup asks for it: a ping of its own, answered."""
    status = browser.sw.evaluate(STATUS_JS)
    assert status["connected"] is True, status


def crash(browser, host: dict) -> float:
    """Kills a host the extension saw answer; -> when (time.time()). Returns once the extension
    has noticed (the status says disconnected)."""
    wait_for(lambda: connected(browser), 15, f"the extension to see host {host['pid']} answer")
    killed_at = time.time()
    kill_and_wait(host["pid"])
    wait_for(lambda: not connected(browser), 15, "the extension to notice the crash")
    return killed_at


def next_host(hosts: Hosts, count: int, timeout: float = 30) -> dict:
    """The `count`-th host start, once it has answered the reconnect's ping."""
    def ready():
        starts = hosts.starts()
        return len(starts) >= count and hosts.answered(starts[count - 1]["pid"]) and starts[count - 1]
    return wait_for(ready, timeout, f"host start {count}")


def test_a_host_that_keeps_dying_is_restarted_five_times_with_growing_delays(stand_in):
    browser, hosts = stand_in()
    ask_status(browser)
    first = next_host(hosts, 1)
    assert hosts.answered(first["pid"]) == ["ping", "ping"]  # the connection's ping, then the popup's

    killed_at = [crash(browser, first)]
    for attempt in range(1, len(DELAYS_S) + 1):
        host = next_host(hosts, attempt + 1)
        assert hosts.answered(host["pid"]) == ["ping"]  # started by the reconnect, nobody asked
        killed_at.append(crash(browser, host))

    # Five tries, then nothing until someone asks: the count stays at its limit, no host starts.
    assert session(browser, "reconnectAttempts") == len(DELAYS_S)
    time.sleep(1.0)
    assert len(hosts.starts()) == 1 + len(DELAYS_S)
    assert session(browser, "reconnectAttempts") == len(DELAYS_S)

    # Each restart came no sooner than its delay after the crash (a lower bound holds on a busy machine).
    starts = [s["t"] for s in hosts.starts()]
    waited = [round(start - crashed, 2) for start, crashed in zip(starts[1:], killed_at)]
    print(f"\nreconnect: crash -> next host start {waited} s (schedule {DELAYS_S} s)")
    for delay, seconds in zip(DELAYS_S, waited):
        assert seconds >= delay, (waited, DELAYS_S)

    # A new request starts the host again, and its answer starts the count over.
    ask_status(browser)
    assert len(hosts.starts()) == 2 + len(DELAYS_S)
    wait_for(lambda: session(browser, "reconnectAttempts") == 0, 10, "the count to start over")


def start_listening(browser) -> None:
    browser.sw.evaluate("""async () => {
      await chrome.storage.local.set({ microphoneGranted: true });
      chrome.commands.onCommand.dispatch('toggle-listening');
    }""")


@pytest.mark.parametrize("traffic", [start_listening, ask_status], ids=["voice-chunks", "popup-status"])
def test_any_answered_request_starts_the_count_over(stand_in, traffic):
    browser, hosts = stand_in(FAKE_MICROPHONE)
    ask_status(browser)
    crash(browser, next_host(hosts, 1))

    # The reconnect's own ping proves little (a host may die right after starting): the count stays.
    second = next_host(hosts, 2)
    wait_for(lambda: connected(browser), 15, "the reconnected host")
    assert session(browser, "reconnectAttempts") == 1

    traffic(browser)
    wait_for(lambda: session(browser, "reconnectAttempts") == 0, 15, "the count to start over")
    answered = hosts.answered(second["pid"])
    assert answered[0] == "ping" and len(answered) >= 2, answered
    if traffic is start_listening:
        assert "audio_chunk" in answered, answered
    assert len(hosts.starts()) == 2  # the same host served the traffic
