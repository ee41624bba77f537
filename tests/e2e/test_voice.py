"""Voice commands end to end: headless Chromium with a fake microphone that plays a WAV once,
the real extension (offscreen document, AudioWorklet, service worker) and the real host with
the bundled keyword model, registered by install_host.py.

Each browser can play only one fake-audio file, so every scenario launches its own browser.
The clips are made at test time with espeak-ng in a voice the keyword model never saw in
training (`en-us+m3`: the espeak-ng variant m3 is in the held-out test split of
models/speech/generate.py), at 48 kHz; the fake device delivers them as 44.1 kHz stereo.

The host serves a keyword model the model lab has not blessed only to requests that opt in
(`allow_unblessed`), which the extension sends when the user turned on the experimental voice
model in the options. While the bundled model is not blessed, every browser here has that
setting on (as a user who chose it), so the tests that need recognition go through the real
opt-in path; one test checks what users get with the option off (the sentence naming the
option) and then turns it on from the options page. TABSENSE_E2E_UNBLESSED_VOICE=1 instead
runs them in a home whose local registry marks the bundle as blessed, the path users get once
the lab blesses it (no opt-in, no "experimental" note; nothing in the repo changes).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import time
import wave
from pathlib import Path

import numpy as np
import pytest

from e2e_support import EXTENSION_URL, MODELS, REPO, launch, run_install_host
from models.speech.common import BUNDLE_DIR  # the one bundled version

pytestmark = pytest.mark.browser

VOICE = "en-us+m3"  # held out of training (see the module docstring)
BUNDLE = BUNDLE_DIR
ALL_COMMANDS = ["next_tab", "previous_tab", "close_tab", "new_tab", "go_back", "reload"]
SERVE_UNBLESSED = os.environ.get("TABSENSE_E2E_UNBLESSED_VOICE") == "1"


def bundle_unblessed() -> bool:
    """The bundled keyword model exists and the model lab has not blessed it (a missing or
    unreadable bundle is not a reason to skip: the tests then fail and say why)."""
    try:
        return json.loads((BUNDLE / "entry.json").read_text("utf-8"))["blessed"] is False
    except (OSError, ValueError, KeyError):
        return False


# The host serves the keyword model only to a user who opted in to the experimental model.
NEEDS_OPT_IN = bundle_unblessed() and not SERVE_UNBLESSED
SOUND_LEVEL = 328  # the same -40 dBFS the offscreen document uses to note the first sound
NEAR_MISSES = ["next time", "previous day", "open the tab please"]
OTHER_COMMANDS = {"go back": "go_back", "reload": "reload", "new tab": "new_tab", "close tab": "close_tab"}
START_TIMEOUT_S = 20  # cold host start + model load on a busy 2-core machine; only bounds a failure


# --- clips ---------------------------------------------------------------------------


def speak(text: str, path: Path) -> Path:
    """espeak-ng -> 48 kHz mono 16-bit with 0.5 s of silence before and 1.0 s after."""
    raw = path.with_suffix(".raw.wav")
    subprocess.run(["espeak-ng", "-v", VOICE, "-w", str(raw), text], check=True, capture_output=True)
    subprocess.run(["sox", str(raw), "-r", "48000", "-c", "1", "-b", "16", str(path), "pad", "0.5", "1.0"],
                   check=True, capture_output=True)
    raw.unlink()
    return path


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    with wave.open(str(path)) as w:
        return np.frombuffer(w.readframes(w.getnframes()), "<i2"), w.getframerate()


def duration_s(path: Path) -> float:
    samples, rate = read_wav(path)
    return len(samples) / rate


def speech_span_s(path: Path) -> float:
    """Seconds from the first to the last sample above SOUND_LEVEL: the spoken phrase."""
    samples, rate = read_wav(path)
    loud = np.flatnonzero(np.abs(samples.astype(np.int32)) > SOUND_LEVEL)
    return (loud[-1] - loud[0]) / rate


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> dict[str, Path]:
    for tool in ("espeak-ng", "sox"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is not installed: apt-get install espeak-ng sox")
    folder = tmp_path_factory.mktemp("voice-clips")
    made = {"next": speak("next tab", folder / "next-tab.wav"),
            "previous": speak("previous tab", folder / "previous-tab.wav")}
    for name, texts in (("near_miss", NEAR_MISSES), ("others", list(OTHER_COMMANDS))):
        # One phrase after another, 1.5 s apart (each clip's own padding).
        parts = [speak(text, folder / f"{name}-{i}.wav") for i, text in enumerate(texts)]
        made[name] = folder / f"{name}.wav"
        subprocess.run(["sox", *map(str, parts), str(made[name])], check=True, capture_output=True)
    return made


# --- browser -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def voice_home(e2e_home, tmp_path_factory) -> Path:
    """TABSENSE_HOME of the browser's host: the end-to-end one, or (opt-in, see the module
    docstring) one where the bundled keyword model counts as blessed."""
    if not SERVE_UNBLESSED:
        return e2e_home
    home = tmp_path_factory.mktemp("voice-home")
    result = run_install_host(home, "--user-data-dir", str(tmp_path_factory.mktemp("voice-first-profile")),
                              "--models-from", str(MODELS))  # the image models, as in e2e_home
    assert result.returncode == 0, result.stdout + result.stderr
    entry = json.loads((BUNDLE / "entry.json").read_text("utf-8"))
    entry["blessed"] = True
    for file in entry["files"].values():
        file["bundled"] = True  # the host installs it from the bundle on first use
    (home / "registry.json").write_text(json.dumps({"models": [entry]}), "utf-8")
    return home


def microphone_flags(wav: Path, fake_ui: bool = True) -> tuple[str, ...]:
    flags = ("--use-fake-device-for-media-stream", f"--use-file-for-fake-audio-capture={wav.resolve()}%noloop")
    # The fake UI answers every permission prompt with "allow".
    return (("--use-fake-ui-for-media-stream",) if fake_ui else ()) + flags


@contextlib.contextmanager
def voice_browser(playwright, home: Path, profile: Path, wav: Path, *, register: bool = True,
                  fake_ui: bool = True, block_microphone: bool = False, experimental: bool = NEEDS_OPT_IN):
    """A fresh Chromium whose microphone plays `wav` once, with the host registered;
    `experimental`: the user turned on the voice model that has not passed validation."""
    if register:
        result = run_install_host(home, "--user-data-dir", str(profile))
        assert result.returncode == 0, result.stdout + result.stderr
    if block_microphone:  # as if the user had answered "Block" on the permission prompt
        exceptions = {"media_stream_mic": {f"{EXTENSION_URL}/,*": {"setting": 2}}}
        (profile / "Default").mkdir(parents=True, exist_ok=True)
        (profile / "Default" / "Preferences").write_text(
            json.dumps({"profile": {"content_settings": {"exceptions": exceptions}}}))
    browser = launch(playwright, profile, microphone_flags(wav, fake_ui))
    try:
        if experimental:  # saved as the options page saves it (test_unblessed_model_is_explained clicks it)
            browser.sw.evaluate("chrome.storage.local.set({experimentalVoiceModel: true})")
        yield browser
    finally:
        browser.context.close()


@pytest.fixture
def profile(tmp_path) -> Path:
    path = tmp_path / "profile"
    path.mkdir()
    return path


def voice_state(browser) -> dict:
    return browser.sw.evaluate("chrome.storage.session.get('voice').then((s) => s.voice || {})")


def toolbar(browser) -> dict:
    return browser.sw.evaluate(
        """(async () => ({
             badge: await chrome.action.getBadgeText({}),
             title: await chrome.action.getTitle({}),
             offscreen: (await chrome.runtime.getContexts({contextTypes: ['OFFSCREEN_DOCUMENT']})).length,
           }))()""")


def assert_error_shown(browser, text: str, timeout: float = 5) -> None:
    """The toolbar icon shows the error and no document holds the microphone. The error is saved
    before the icon is redrawn (background/voice.js stop()), so the icon may follow a moment later."""
    expected = {"badge": "!", "title": text, "offscreen": 0}
    last = {}

    def shown():
        last.update(toolbar(browser))
        return last == expected
    try:
        wait_for(browser, shown, timeout, "the toolbar to show the error")
    except AssertionError:
        assert last == expected  # the difference, not just "timed out"
        raise


def toggle(browser, grant: bool = True) -> None:
    """Fires the real `toggle-listening` shortcut; `grant` = the microphone was allowed before."""
    browser.sw.evaluate(
        """async (grant) => {
             if (grant) await chrome.storage.local.set({microphoneGranted: true});
             chrome.commands.onCommand.dispatch('toggle-listening');
           }""",
        grant,
    )


def pause(browser, seconds: float) -> None:
    """Sleeps inside the browser, so Playwright keeps processing events (new pages) meanwhile."""
    browser.sw.evaluate("(ms) => new Promise((resolve) => setTimeout(resolve, ms))", int(seconds * 1000))


def wait_for(browser, check, timeout: float, what: str, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        pause(browser, interval)


def wait_until_heard(browser, seconds: float, timeout: float) -> dict:
    """Waits until the host has processed `seconds` of this stream's audio -> voice state."""
    def done():
        voice = voice_state(browser)
        assert not voice.get("error"), f"listening failed: {voice['error']}"
        return voice if (voice.get("stats") or {}).get("hostTimeS", 0) >= seconds else None

    return wait_for(browser, done, timeout, f"the host to hear {seconds:.1f} s of audio", interval=0.2)


def open_three_tabs(browser, servers) -> list[int]:
    """Three tabs in the browser's one window (ids in tab order)."""
    urls = [servers.page(f"voice-{n}.html", f"<!doctype html><title>Tab {n}</title><h1>Tab {n}</h1>")
            for n in (1, 2, 3)]
    return browser.sw.evaluate(
        """async (urls) => {
             const [first] = await chrome.tabs.query({});
             await chrome.tabs.update(first.id, {url: urls[0]});
             const ids = [first.id];
             for (const url of urls.slice(1)) {
               ids.push((await chrome.tabs.create({windowId: first.windowId, url, active: false})).id);
             }
             const inWindow = await chrome.tabs.query({windowId: first.windowId});
             if (inWindow.length !== 3) throw new Error('expected 3 tabs, got ' + inWindow.length);
             return ids;
           }""",
        urls,
    )


def activate(browser, tab_id: int) -> None:
    browser.sw.evaluate("(id) => chrome.tabs.update(id, {active: true})", tab_id)


def active_tab(browser) -> int:
    return browser.sw.evaluate(
        "chrome.tabs.query({active: true, lastFocusedWindow: true}).then(([tab]) => tab.id)")


# --- spoken commands -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("clip", "start", "expected", "command"),
    [
        ("next", 1, 2, "next_tab"),
        ("previous", 1, 0, "previous_tab"),
        ("previous", 0, 2, "previous_tab"),  # wraps around to the last tab
    ],
    ids=["next-from-middle", "previous-from-middle", "previous-wraps-around"],
)
def test_spoken_command_switches_tab(playwright, voice_home, servers, clips, profile, clip, start, expected, command):
    wav = clips[clip]
    with voice_browser(playwright, voice_home, profile, wav) as browser:
        tabs = open_three_tabs(browser, servers)
        activate(browser, tabs[start])
        assert active_tab(browser) == tabs[start]

        toggle(browser)
        voice = wait_until_heard(browser, duration_s(wav), START_TIMEOUT_S + duration_s(wav))

        assert active_tab(browser) == tabs[expected], f"{clip!r} did not switch to tab {expected}: {voice}"
        assert voice["heard"] == 1, f"expected exactly one command: {voice}"
        heard = voice["lastCommand"]
        assert heard["command"] == command
        assert voice["listening"] is True and toolbar(browser)["badge"] == "MIC"
        assert voice["model"]["blessed"] is not NEEDS_OPT_IN  # the unblessed bundle only through the opt-in

        # In stream time: heard in the phrase (after its first sound, which is the file's first
        # sound), and acted on after it was heard (the microphone had gone at least that far).
        stats = voice["stats"]
        assert stats["firstSoundS"] < heard["timeS"] <= heard["streamS"], (stats["firstSoundS"], heard)
        # Phrase end -> tab switched, measured (a busy machine only delays it): the phrase ends
        # `speech_span_s` after its first sound.
        phrase_end_s = stats["firstSoundS"] + speech_span_s(wav)
        latency = heard["streamS"] - phrase_end_s
        print(f"\n{command}: phrase end -> tab switched {latency * 1000:.0f} ms "
              f"(host event at stream {heard['timeS']:.3f} s, phrase end {phrase_end_s:.3f} s, "
              f"score {heard['score']}); "
              f"chunks {stats['chunks']} at {stats['sampleRate']} Hz, offscreen->worker {stats['transitMs']} ms, "
              f"worker->host->worker {stats['hostMs']} ms")


@pytest.mark.parametrize("clip", ["near_miss", "others"], ids=["near-miss-speech", "commands-off-by-default"])
def test_speech_that_must_change_nothing(playwright, voice_home, servers, clips, profile, clip):
    """Near misses; and "go back", "reload", "new tab", "close tab" with the default settings,
    where only next/previous tab act."""
    wav = clips[clip]
    with voice_browser(playwright, voice_home, profile, wav) as browser:
        tabs = open_three_tabs(browser, servers)
        activate(browser, tabs[1])

        toggle(browser)
        voice = wait_until_heard(browser, duration_s(wav), START_TIMEOUT_S + duration_s(wav))

        assert voice["listening"] is True
        assert voice["stats"]["firstSoundS"] is not None, "the speech never reached the extension"
        assert voice.get("heard", 0) == 0, f"{clip} speech was acted on: {voice.get('recent')}"
        remaining = browser.sw.evaluate("chrome.tabs.query({}).then((tabs) => tabs.map((t) => t.id))")
        assert sorted(remaining) == sorted(tabs)  # nothing closed or opened either
        assert active_tab(browser) == tabs[1]


def test_go_back_reload_new_and_close_tab(playwright, voice_home, servers, clips, profile):
    """One clip says "go back", "reload", "new tab", "close tab", 1.5 s apart."""
    wav = clips["others"]
    with voice_browser(playwright, voice_home, profile, wav) as browser:
        tabs = open_three_tabs(browser, servers)
        activate(browser, tabs[1])
        middle = wait_for(browser, lambda: next((p for p in browser.context.pages if p.url.endswith("/voice-2.html")),
                                                None), 10, "the middle tab's page")
        first_url = middle.url
        middle.goto(servers.page("voice-2b.html", "<!doctype html><title>Tab 2b</title><h1>Tab 2b</h1>"))
        assert active_tab(browser) == tabs[1]
        # Off by default (only next/previous tab act): turned on as a user would in the options.
        browser.sw.evaluate(f"chrome.storage.local.set({{voiceCommands: {json.dumps(ALL_COMMANDS)}}})")

        toggle(browser)
        voice = wait_until_heard(browser, duration_s(wav), START_TIMEOUT_S + duration_s(wav))

        heard = [c["command"] for c in voice["recent"]]
        assert heard == list(OTHER_COMMANDS.values()), f"heard {voice['recent']}"
        assert voice["heard"] == 4
        # "go back" went back to the first page of the middle tab, and "reload" reloaded it.
        assert middle.url == first_url
        assert middle.evaluate("performance.getEntriesByType('navigation')[0].type") == "reload"
        # "new tab" opened a tab and "close tab" closed that one (not one of the three).
        remaining = browser.sw.evaluate("chrome.tabs.query({}).then((tabs) => tabs.map((t) => t.id))")
        assert sorted(remaining) == sorted(tabs)
        assert active_tab(browser) == tabs[1]  # closing the new tab returns to the one it was opened from


# --- listening on and off ----------------------------------------------------------------


def test_toggle_starts_and_stops_listening(playwright, voice_home, servers, clips, profile):
    with voice_browser(playwright, voice_home, profile, clips["near_miss"]) as browser:
        assert toolbar(browser) == {"badge": "", "title": "TabSense", "offscreen": 0}

        # The keyboard shortcut: the microphone opens and audio reaches the host.
        toggle(browser)
        wait_until_heard(browser, 0.5, START_TIMEOUT_S)
        on = toolbar(browser)
        assert on == {"badge": "MIC", "title": "TabSense is listening for voice commands", "offscreen": 1}
        first = voice_state(browser)
        assert first["listening"] is True

        # Again: the offscreen document (and with it the microphone track) is gone, and the
        # host was told to forget the stream.
        toggle(browser)
        stopped = wait_for(browser, lambda: voice_state(browser).get("hostStopped"), 10, "stop_stream's answer")
        assert stopped == {"stream": first["stats"]["stream"], "stopped": True}
        assert toolbar(browser) == {"badge": "", "title": "TabSense", "offscreen": 0}
        after = voice_state(browser)
        assert after["listening"] is False and not after["error"]
        pause(browser, 0.5)
        assert voice_state(browser)["stats"] == after["stats"], "audio still flows after stopping"

        # The popup's button does the same.
        popup = browser.open(f"{EXTENSION_URL}/popup/popup.html")
        button = popup.locator("#mic")
        assert button.get_attribute("aria-pressed") == "false"
        assert "Alt+Shift+V" in popup.locator("#shortcut").text_content()
        button.click()
        popup.locator("#mic[aria-pressed='true']").wait_for(timeout=5000)
        assert popup.locator("#mic-text").text_content() == "Stop listening"
        # The host names its model when the stream starts; the popup says when it is unvalidated.
        model = wait_for(browser, lambda: voice_state(browser).get("model"), START_TIMEOUT_S, "the host's model")
        assert model["blessed"] is not NEEDS_OPT_IN
        note = popup.locator("#voice-experimental")
        note.wait_for(state="visible" if NEEDS_OPT_IN else "hidden", timeout=5000)
        if NEEDS_OPT_IN:
            assert note.text_content() == popup.evaluate("STRINGS.popupVoiceExperimental")
        wait_for(browser, lambda: toolbar(browser)["offscreen"] == 1, 5, "the offscreen document")
        assert toolbar(browser)["badge"] == "MIC"
        button.click()
        popup.locator("#mic[aria-pressed='false']").wait_for(timeout=5000)
        assert popup.locator("#voice-experimental").is_hidden()  # said only while listening
        wait_for(browser, lambda: toolbar(browser) == {"badge": "", "title": "TabSense", "offscreen": 0}, 5,
                 "the microphone to be released")


@pytest.mark.timeout(90)  # if nothing wakes the stopped worker, evaluating in it waits forever
def test_listening_survives_a_worker_restart(playwright, voice_home, clips, profile):
    """Chrome may stop the service worker; the offscreen document wakes a new one and goes on."""
    with voice_browser(playwright, voice_home, profile, clips["near_miss"]) as browser:
        page = browser.context.pages[0]
        toggle(browser)
        stream = wait_until_heard(browser, 0.5, START_TIMEOUT_S)["stats"]["stream"]

        browser.sw.evaluate("self.beforeRestart = true")
        cdp = browser.context.new_cdp_session(page)
        cdp.send("ServiceWorker.enable")
        cdp.send("ServiceWorker.stopAllWorkers")
        # Playwright keeps the same Worker object for the restarted worker; its globals are new.
        wait_for(browser, lambda: browser.sw.evaluate("self.beforeRestart === undefined"), 10, "a new worker")
        # The new worker knows the stream only from the document, which reconnects: audio
        # flows through the new worker (its own forwarding start) to the host again.
        first = voice_state(browser)["stats"]["forwardingSince"]

        def forwarded_again():
            voice = voice_state(browser)
            stats = voice["stats"]
            return voice if stats["forwardingSince"] > first and stats["hostTimeS"] >= 0.5 else None

        voice = wait_for(browser, forwarded_again, START_TIMEOUT_S, "audio through the new worker", interval=0.2)
        assert voice["listening"] is True and voice["stats"]["stream"] == stream
        assert toolbar(browser) == {"badge": "MIC", "title": "TabSense is listening for voice commands", "offscreen": 1}

        toggle(browser)
        stopped = wait_for(browser, lambda: voice_state(browser).get("hostStopped"), 10, "stop_stream's answer")
        assert stopped == {"stream": stream, "stopped": True}
        assert toolbar(browser)["offscreen"] == 0


def test_sensitivity_reaches_the_host_and_changes_while_listening(playwright, voice_home, clips, profile):
    """The saved sensitivity goes with the first chunk; one chosen in the options page while
    listening applies to the running stream (the host says so in its answer)."""
    with voice_browser(playwright, voice_home, profile, clips["near_miss"]) as browser:
        browser.sw.evaluate("chrome.storage.local.set({voiceSensitivity: 'high'})")
        toggle(browser)
        voice = wait_until_heard(browser, 0.5, START_TIMEOUT_S)
        assert voice["model"]["sensitivity"] == voice["sensitivity"] == "high", f"not the saved sensitivity: {voice}"

        options = browser.open(f"{EXTENSION_URL}/options/options.html")
        assert options.locator("input[name=sensitivity][value=high]").is_checked()  # loaded from storage
        options.check("input[name=sensitivity][value=low]")
        options.locator("#save").click()
        options.locator("#message[data-kind='ok']").wait_for(timeout=5000)
        assert options.evaluate("chrome.storage.local.get('voiceSensitivity')") == {"voiceSensitivity": "low"}
        wait_for(browser, lambda: voice_state(browser).get("sensitivity") == "low", 5, "the host to use 'low'")
        after = voice_state(browser)
        assert after["listening"] is True and after["stats"]["stream"] == voice["stats"]["stream"]  # same stream
        # Changed in the running stream, not by a new host starting the stream again: saving the
        # options page writes every field, and only other connection settings start a new host.
        assert after["model"]["sensitivity"] == "high", f"the stream was started again: {after}"

        popup = browser.open(f"{EXTENSION_URL}/popup/popup.html")
        popup.locator("#voice-sensitivity").wait_for(state="visible", timeout=5000)
        assert popup.locator("#voice-sensitivity").text_content() == popup.evaluate("STRINGS.popupSensitivity.low")


def test_permission_page_asks_once_then_listens(playwright, voice_home, clips, profile):
    with voice_browser(playwright, voice_home, profile, clips["near_miss"]) as browser:
        # As a user who chose the generic model over teaching TabSense their voice (the first
        # time otherwise goes on to enrollment: test_enroll.py).
        browser.sw.evaluate("chrome.storage.local.set({voiceEnrollmentSkipped: true})")
        with browser.context.expect_page(timeout=10000) as opened:
            toggle(browser, grant=False)  # never asked before: the permission page opens instead
        page = opened.value
        assert page.url == f"{EXTENSION_URL}/permission/permission.html"
        page.locator("#message[data-state='granted']").wait_for(timeout=10000)
        assert browser.sw.evaluate("chrome.storage.local.get('microphoneGranted')") == {"microphoneGranted": True}
        # It goes on to listen, as the user asked.
        wait_until_heard(browser, 0.5, START_TIMEOUT_S)
        assert toolbar(browser)["badge"] == "MIC"

        # The grant is remembered: stopping and starting again opens no page.
        toggle(browser, grant=False)
        wait_for(browser, lambda: toolbar(browser)["offscreen"] == 0, 10, "listening to stop")
        pages = len(browser.context.pages)
        toggle(browser, grant=False)
        wait_for(browser, lambda: toolbar(browser)["offscreen"] == 1, 10, "listening to start again")
        assert len(browser.context.pages) == pages


# --- failures ------------------------------------------------------------------------------


def test_blocked_microphone_is_explained(playwright, voice_home, clips, profile):
    """The user blocked the microphone after allowing it once: one sentence, and the page to fix it."""
    with voice_browser(playwright, voice_home, profile, clips["next"], fake_ui=False, block_microphone=True) as browser:
        with browser.context.expect_page(timeout=10000) as opened:
            toggle(browser)  # remembered as granted, but the browser now blocks it
        voice = wait_for(browser, lambda: voice_state(browser).get("error"), 10, "the microphone error")
        assert voice["code"] == "microphone_denied"
        assert_error_shown(browser, voice["text"])
        assert browser.sw.evaluate("chrome.storage.local.get('microphoneGranted')") == {"microphoneGranted": False}
        page = opened.value
        assert page.url == f"{EXTENSION_URL}/permission/permission.html"
        page.locator("#message[data-state='denied']").wait_for(timeout=10000)
        assert page.locator("#retry").is_visible()


@pytest.mark.skipif(not NEEDS_OPT_IN, reason="the host serves the keyword model without the opt-in (blessed)")
def test_unblessed_model_is_explained(playwright, voice_home, clips, profile):
    """With the option off, users get a sentence that names the option, and no microphone;
    turned on in the options page, listening works and the popup says it is experimental."""
    with voice_browser(playwright, voice_home, profile, clips["next"], experimental=False) as browser:
        toggle(browser)
        error = wait_for(browser, lambda: voice_state(browser).get("error"), START_TIMEOUT_S, "the model error")
        assert error["code"] == "model_not_blessed"
        assert_error_shown(browser, error["text"])
        options = browser.open(f"{EXTENSION_URL}/options/options.html")
        box = options.locator("#experimental-voice")
        label = options.evaluate("STRINGS.optionsExperimentalVoice")
        assert label.split(" (")[0] in error["text"]  # the sentence names the option as it is labelled
        assert options.locator("label", has=box).text_content().strip() == label
        assert not box.is_checked()

        box.check()
        options.locator("#save").click()
        options.locator("#message[data-kind='ok']").wait_for(timeout=5000)
        assert options.evaluate("chrome.storage.local.get('experimentalVoiceModel')") == {"experimentalVoiceModel": True}
        options.reload()
        assert options.locator("#experimental-voice").is_checked()

        toggle(browser)  # the shortcut returns at once: the first failure's error stays until listening starts
        wait_for(browser, lambda: voice_state(browser).get("listening"), 10, "listening to start again")
        voice = wait_until_heard(browser, 0.5, START_TIMEOUT_S)
        assert voice["listening"] is True and voice["model"]["blessed"] is False
        popup = browser.open(f"{EXTENSION_URL}/popup/popup.html")
        popup.locator("#voice-experimental").wait_for(state="visible", timeout=5000)
        assert popup.locator("#voice-problem").is_hidden()


def test_missing_host_is_explained_in_the_popup(playwright, voice_home, clips, profile):
    with voice_browser(playwright, voice_home, profile, clips["next"], register=False) as browser:
        toggle(browser)
        error = wait_for(browser, lambda: voice_state(browser).get("error"), 15, "the host error")
        assert error["code"] == "host_not_installed"
        assert_error_shown(browser, error["text"])  # microphone released

        popup = browser.open(f"{EXTENSION_URL}/popup/popup.html")
        problem = popup.locator("#voice-problem")
        problem.wait_for(state="visible", timeout=5000)
        assert problem.get_attribute("data-code") == "host_not_installed"
        assert popup.locator("#voice-problem-text").text_content() == error["text"]
        assert popup.locator("#voice-command").text_content() == "python3 install_host.py"
        assert popup.locator("#mic").get_attribute("aria-pressed") == "false"
        # Every audio error code of the host has its own sentence, not the generic one.
        generic = popup.evaluate("STRINGS.errors.unknown.text")
        for code in ("bad_audio", "unsupported_audio", "audio_too_long", "rate_limited"):
            assert popup.evaluate(f"STRINGS.errors.{code}?.text") not in (None, generic), code
        for code in ("model_not_found", "model_missing", "host_disconnected", "timeout"):
            assert "picture" not in popup.evaluate(f"STRINGS.voiceErrors.{code}.text"), code
