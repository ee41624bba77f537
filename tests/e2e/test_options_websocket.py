"""The WebSocket transport chosen in the options page, against `tabsense serve --ws`."""

from __future__ import annotations

import os
import signal

import pytest
from playwright.sync_api import expect

from e2e_support import EXTENSION_URL, PHOTOS, host_pids, img_page, start_ws_server
from test_voice import clips  # noqa: F401 (the spoken clips, a fixture)

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]


@pytest.fixture(scope="module")
def ws_server(e2e_home):
    """(port, token) of a running `tabsense serve --ws` on the test's TABSENSE_HOME."""
    server, port, token = start_ws_server(e2e_home)
    try:
        yield port, token
    finally:
        server.terminate()
        server.wait(10)


def choose(options, transport, port=None, token=None):
    options.check(f"input[name=transport][value={transport}]")
    if port is not None:
        options.fill("#port", str(port))
        options.fill("#token", token)
    options.click("#test")
    options.wait_for_selector("#message[data-kind=ok], #message[data-kind=error]")
    return options.locator("#message")


def test_websocket_transport_from_the_options_page(browser, servers, expected, e2e_home, ws_server, page_factory):
    from host import __version__

    port, token = ws_server
    options = page_factory(f"{EXTENSION_URL}/options/options.html")
    assert options.locator("input[value=native]").is_checked()  # native messaging is the default
    assert options.locator("#ws-fields").is_hidden()

    # A wrong token is refused by the host, and the page says what to check.
    message = choose(options, "websocket", port, "not-the-token")
    assert message.get_attribute("data-kind") == "error"
    assert f"could not reach its helper app on port {port}" in message.inner_text()
    assert "tabsense serve --ws" in options.locator("#fix").inner_text()

    message = choose(options, "websocket", port, token)
    assert message.inner_text() == f"Connected to helper version {__version__}."

    name = PHOTOS["websocket"]
    page = page_factory(servers.page("websocket.html", img_page("WebSocket", f'<img src="{name}" width="400">')))
    overlay, seconds = browser.classify(page, f"{servers.a}/{name}")
    assert overlay.get_attribute("data-tabsense-label") == expected[name][0]["label"]
    assert browser.status()["transport"] == "websocket"
    assert host_pids(e2e_home) == []  # no native host was started for any of this
    print(f"\nWebSocket, click to label: {browser.latency_ms()} ms in the extension ({seconds * 1000:.0f} ms seen by the test)")

    # Back to native messaging: the next click starts the native host.
    assert choose(options, "native").get_attribute("data-kind") == "ok"
    overlay.locator(".close").click()
    overlay, _ = browser.classify(page, f"{servers.a}/{name}")
    assert overlay.get_attribute("data-tabsense-label") == expected[name][0]["label"]
    assert browser.status()["transport"] == "native"
    assert host_pids(e2e_home)


def test_invalid_port_is_explained(browser, page_factory):
    options = page_factory(f"{EXTENSION_URL}/options/options.html")
    saved = options.evaluate("chrome.storage.local.get()")
    options.check("input[name=transport][value=websocket]")
    options.fill("#port", "80")
    options.fill("#token", "x")
    options.click("#save")
    expect(options.locator("#message")).to_have_text("The port must be a whole number between 1024 and 65535.")
    options.fill("#port", "8765")
    options.fill("#token", "")
    options.click("#save")
    expect(options.locator("#message")).to_have_text("Paste the token printed by “tabsense token”.")
    assert options.evaluate("chrome.storage.local.get()") == saved  # nothing invalid was saved


def test_listening_goes_on_over_the_websocket_when_the_options_switch_to_it(playwright, e2e_home, ws_server, clips,
                                                                          tmp_path):
    """Listening over native messaging, the user switches the transport: the chunks in flight are
    lost, the next ones go to the WebSocket helper app, which starts the stream again; no error."""
    from test_voice import START_TIMEOUT_S, pause, toggle, voice_browser, voice_state, wait_for, wait_until_heard

    port, token = ws_server
    wav = clips["near_miss"]  # 8 s of speech, then the fake microphone's silence
    (tmp_path / "profile").mkdir()
    with voice_browser(playwright, e2e_home, tmp_path / "profile", wav) as browser:
        others = set(host_pids(e2e_home))  # native hosts of the module's other browser
        toggle(browser)
        wait_until_heard(browser, 2.0, START_TIMEOUT_S)
        assert browser.status()["transport"] == "native"
        ours = set(host_pids(e2e_home)) - others
        assert ours, "no native host listened"
        # The native host holds its next chunks unanswered (stopped) when the settings change: they
        # fail with the connection, and listening must go on without them.
        for pid in ours:
            os.kill(pid, signal.SIGSTOP)
        try:
            pause(browser, 0.5)
            browser.sw.evaluate("(s) => chrome.storage.local.set(s)", {"transport": "websocket", "wsPort": port,
                                                                         "wsToken": token})
        finally:
            for pid in ours:
                os.kill(pid, signal.SIGCONT)

        def still_listening() -> dict:
            voice = voice_state(browser)
            assert voice["listening"] is True and not voice.get("error"), voice
            return voice

        wait_for(browser, lambda: still_listening() and browser.status().get("transport") == "websocket", 10,
                 "the WebSocket connection")

        def heard_there():  # the WebSocket host has heard a second of the stream, which began earlier
            stats = still_listening()["stats"]
            return stats["hostTimeS"] >= 1.0 and stats["sentS"] - stats["hostTimeS"] > 1.0
        wait_for(browser, heard_there, 10, "the WebSocket host to hear the stream")
        wait_for(browser, lambda: not ours & set(host_pids(e2e_home)), 5, "the native host to exit")  # let go
