"""Teaching TabSense the user's voice, end to end: headless Chromium whose fake microphone
plays recorded takes, the real enrollment page (getUserMedia, AudioWorklet, the endpoint that
stops a take after the pause), the real service worker and the real host started by native
messaging, which judges each take and keeps the profile in its TABSENSE_HOME.

The voice is flite's `awb` (Scottish English), a voice the keyword model never trained on:
the profile, not the generic model, is what must hear it. The takes are said at one speed;
the phrase heard later is said at another speed and pitch. A browser plays one fake-audio
file and restarts it each time the microphone is opened, so every Record click hears the
file's first phrase, and each command is taught in a browser of its own (the profile lives
in the host's home, so the next browser finds it).
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from e2e_support import EXTENSION_URL, FRAMING, MODELS, register_script, run_install_host
from test_voice import (
    START_TIMEOUT_S, activate, active_tab, duration_s, open_three_tabs, toggle, voice_browser, voice_state,
    wait_for, wait_until_heard,
)

pytestmark = pytest.mark.browser

ENROLL_URL = f"{EXTENSION_URL}/enroll/enroll.html"
TAKE_TIMEOUT_MS = 30000  # a take (up to 5 s), then the host's verdict (a cold start loads its models)
NEAR_MISS = "next stop"  # shares a word with "next tab"
# A helper app from before voice profiles: it answers ping, and unknown_type to anything newer.
OLDER_HOST = FRAMING + """
while True:
    request = read()
    if request["type"] == "ping":
        write({"id": request["id"], "ok": True, "result": {"version": "0.0.9", "models": [], "capabilities": []}})
    else:
        write({"id": request["id"], "ok": False,
               "error": {"code": "unknown_type", "message": f"Unknown message type {request['type']!r}."}})
"""


# --- clips ---------------------------------------------------------------------------


def say(text: str, path: Path, *, stretch: float = 1.0, pitch: float | None = None, before: float = 1.0,
        after: float = 1.5) -> Path:
    """flite awb -> 48 kHz mono 16-bit with silence around it (the fake device plays 44.1 kHz stereo)."""
    raw = path.with_suffix(".raw.wav")
    settings = ["--setf", f"duration_stretch={stretch}"]
    if pitch:
        settings += ["--setf", f"int_f0_target_mean={pitch}"]
    subprocess.run(["flite", "-voice", "awb", *settings, "-t", text, "-o", str(raw)], check=True, capture_output=True)
    subprocess.run(["sox", str(raw), "-r", "48000", "-c", "1", "-b", "16", str(path), "pad", str(before), str(after)],
                   check=True, capture_output=True)
    raw.unlink()
    return path


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> dict[str, Path]:
    for tool in ("flite", "sox"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is not installed: apt-get install flite sox")
    folder = tmp_path_factory.mktemp("enroll-clips")
    made = {
        "next_tab": say("next tab", folder / "next-take.wav"),
        "previous_tab": say("previous tab", folder / "previous-take.wav"),
        "silence": folder / "silence.wav",
    }
    subprocess.run(["sox", "-n", "-r", "48000", "-c", "1", "-b", "16", str(made["silence"]), "trim", "0", "8"],
                   check=True, capture_output=True)
    # Heard after enrolling: the near miss first, then the command at another speed and pitch.
    near = say(NEAR_MISS, folder / "near.wav", stretch=1.1, pitch=95)
    command = say("next tab", folder / "next-later.wav", stretch=1.1, pitch=95)
    made["near_then_next"] = folder / "near-then-next.wav"
    subprocess.run(["sox", str(near), str(command), str(made["near_then_next"])], check=True, capture_output=True)
    return made


# --- browser -------------------------------------------------------------------------


@pytest.fixture
def enroll_home(tmp_path_factory) -> Path:
    """A TABSENSE_HOME of its own: the profile taught here must not reach other tests' hosts."""
    home = tmp_path_factory.mktemp("enroll-home")
    result = run_install_host(home, "--user-data-dir", str(tmp_path_factory.mktemp("enroll-first-profile")),
                              "--models-from", str(MODELS))
    assert result.returncode == 0, result.stdout + result.stderr
    return home


@contextlib.contextmanager
def browser_playing(playwright, home: Path, tmp_path_factory, wav: Path, **options):
    """A fresh browser (profile and all) whose microphone plays `wav`; the host's home is shared."""
    profile = tmp_path_factory.mktemp("enroll-profile")
    with voice_browser(playwright, home, profile, wav, **{"experimental": False, **options}) as browser:
        yield browser


def open_enroll_page(browser):
    page = browser.open(ENROLL_URL)
    page.locator("body[data-loaded]").wait_for(timeout=TAKE_TIMEOUT_MS)
    return page


def take_row(page, command: str, slot: int):
    return page.locator(f".command[data-command='{command}'] .take[data-slot='{slot}']")


def record(page, command: str, slot: int) -> dict:
    """Clicks Record and waits for the host's verdict -> {verdict, message, state, seconds}
    (seconds: click to verdict, the clip's lead-in silence and the pause that ends the take included)."""
    row = take_row(page, command, slot)
    started = time.perf_counter()
    row.locator(".record").click()
    page.wait_for_function(
        "(row) => row.dataset.state === 'recorded' || row.dataset.state === 'error'",
        arg=row.element_handle(), timeout=TAKE_TIMEOUT_MS)
    return {"state": row.get_attribute("data-state"), "verdict": row.get_attribute("data-verdict"),
            "message": row.locator(".verdict").text_content(), "fix": row.locator(".verdict-fix").text_content(),
            "seconds": round(time.perf_counter() - started, 2)}


def teach(page, command: str) -> list[dict]:
    """Three takes of `command`; each must be kept with the verdict "ok"."""
    verdicts = [record(page, command, slot) for slot in range(3)]
    for slot, answer in enumerate(verdicts):
        assert answer["state"] == "recorded" and answer["verdict"] == "ok", f"take {slot + 1} of {command}: {answer}"
        assert answer["message"], "the host's verdict sentence is shown under the take"
    print(f"\n{command}: Record click -> verdict per take {[a['seconds'] for a in verdicts]} s")
    return verdicts


def popup_voice_line(browser) -> tuple[str, str]:
    popup = browser.open(f"{EXTENSION_URL}/popup/popup.html")
    line = popup.locator("#voice-profile")
    line.wait_for(state="visible", timeout=TAKE_TIMEOUT_MS)
    answer = line.get_attribute("data-profile"), line.text_content()
    assert popup.locator("#teach").text_content() == popup.evaluate("STRINGS.teachVoice")
    popup.close()
    return answer


def profile_of(page) -> dict:
    answer = page.evaluate("chrome.runtime.sendMessage({target: 'background', type: 'voice-profile', action: 'get'})")
    assert answer["ok"], answer
    return answer["result"]


# --- tests ---------------------------------------------------------------------------


def test_taught_voice_switches_tabs_and_a_near_miss_does_not(playwright, enroll_home, servers, clips,
                                                             tmp_path_factory):
    # 1. "next tab", three takes, in a browser whose microphone says it.
    with browser_playing(playwright, enroll_home, tmp_path_factory, clips["next_tab"]) as browser:
        page = open_enroll_page(browser)
        assert page.locator("#problem").is_hidden()
        assert page.evaluate("STRINGS.enrollAnyLanguage") in page.locator("main").text_content()
        teach(page, "next_tab")
        section = page.locator(".command[data-command='next_tab']")
        assert section.get_attribute("data-ready") == "true"
        assert section.locator(".mark").text_content() == page.evaluate("STRINGS.enrollReady")
        assert page.locator(".command[data-command='previous_tab']").get_attribute("data-ready") == "false"
        assert take_row(page, "next_tab", 0).locator(".play").is_visible()  # this visit's takes play back
        assert profile_of(page)["ready_commands"] == ["next_tab"]

    # 2. "previous tab" in another browser: the page shows the profile the host kept.
    with browser_playing(playwright, enroll_home, tmp_path_factory, clips["previous_tab"]) as browser:
        page = open_enroll_page(browser)
        assert page.locator(".command[data-command='next_tab']").get_attribute("data-ready") == "true"
        assert take_row(page, "next_tab", 0).get_attribute("data-verdict") == "ok"
        teach(page, "previous_tab")
        page.locator("#all-ready").wait_for(state="visible", timeout=5000)
        assert page.locator("#start").is_visible() and page.locator("#skip").is_hidden()
        assert sorted(profile_of(page)["ready_commands"]) == ["next_tab", "previous_tab"]
        # "Start listening" on the page: the microphone plays its "previous tab" once more.
        page.locator("#start").click()
        voice = wait_until_heard(browser, duration_s(clips["previous_tab"]),
                                 START_TIMEOUT_S + duration_s(clips["previous_tab"]))
        assert [c["command"] for c in voice.get("recent", [])] == ["previous_tab"], voice
        assert page.locator("#listening").text_content() == page.evaluate("STRINGS.enrollListening")

    # 3. Listening, without the experimental generic model: the near miss does nothing, "next tab" switches.
    wav = clips["near_then_next"]
    with browser_playing(playwright, enroll_home, tmp_path_factory, wav) as browser:
        tabs = open_three_tabs(browser, servers)
        activate(browser, tabs[1])
        toggle(browser)
        voice = wait_until_heard(browser, duration_s(wav), START_TIMEOUT_S + duration_s(wav))
        assert voice["profile"]["used"] is True, f"the host did not use the profile: {voice}"
        assert sorted(voice["profile"]["commands"]) == ["next_tab", "previous_tab"]
        heard = [c["command"] for c in voice.get("recent", [])]
        assert heard == ["next_tab"], f"expected only the taught “next tab”, heard {voice.get('recent')}"
        assert active_tab(browser) == tabs[2]
        assert popup_voice_line(browser) == ("profile", "Voice: your voice (profile)")

        # 4. Reset, with confirmation: the popup then says the generic model is used.
        page = open_enroll_page(browser)  # listening pauses while the page is open
        wait_for(browser, lambda: not voice_state(browser)["listening"], 10, "listening to pause")
        assert page.locator("#listening").text_content() == page.evaluate("STRINGS.enrollPaused")
        page.locator("#reset").click()
        page.locator("#reset-no").click()  # kept
        assert profile_of(page)["exists"] is True
        page.locator("#reset").click()
        page.locator("#reset-yes").click()
        page.locator("#reset-done[data-state='ok']").wait_for(timeout=TAKE_TIMEOUT_MS)
        assert page.locator(".command[data-ready='true']").count() == 0
        assert take_row(page, "next_tab", 0).get_attribute("data-state") == "empty"
        after = profile_of(page)
        assert after["exists"] is False and after["ready_commands"] == []
        assert popup_voice_line(browser) == ("generic", "Voice: generic model — less accurate")


def test_a_silent_take_is_kept_with_its_verdict(playwright, enroll_home, clips, tmp_path_factory):
    """Nothing said: the page still sends the take after waiting, and shows the host's sentence."""
    with browser_playing(playwright, enroll_home, tmp_path_factory, clips["silence"]) as browser:
        page = open_enroll_page(browser)
        answer = record(page, "next_tab", 0)
        assert answer["state"] == "recorded" and answer["verdict"] == "silence", answer
        assert answer["message"]
        row = take_row(page, "next_tab", 0)
        assert row.locator(".record").text_content() == page.evaluate("STRINGS.enrollRerecord")
        assert page.locator(".command[data-command='next_tab']").get_attribute("data-ready") == "false"
        profile = profile_of(page)
        assert [t["verdict"] for t in profile["commands"]["next_tab"]["takes"]] == ["silence"]


def test_the_page_shows_what_a_take_changed_for_other_commands(playwright, enroll_home, clips, tmp_path_factory):
    """"next tab" taught, then said again as "previous tab": the host judges it too like the
    other command (and may re-judge that command's takes); every take on the page shows the
    host's current verdict, not the one it had when it was recorded."""
    with browser_playing(playwright, enroll_home, tmp_path_factory, clips["next_tab"]) as browser:
        page = open_enroll_page(browser)
        teach(page, "next_tab")
        answer = record(page, "previous_tab", 0)
        assert answer["verdict"] == "like_other_command", answer
        profile = profile_of(page)
        for command in ("next_tab", "previous_tab"):
            section = page.locator(f".command[data-command='{command}']")
            assert section.get_attribute("data-ready") == str(profile["commands"][command]["ready"]).lower()
            for slot, take in enumerate(profile["commands"][command]["takes"]):
                row = take_row(page, command, slot)
                assert row.get_attribute("data-take") == take["take"]
                assert row.get_attribute("data-verdict") == take["verdict"]
                assert row.locator(".verdict").text_content() == take["message"]


def test_first_time_goes_from_the_permission_page_to_enrollment(playwright, enroll_home, clips, tmp_path_factory):
    """Turning voice on the first time: the microphone is allowed, then the enrollment page
    opens instead of listening with the generic model; skipping it starts listening (here with
    the experimental generic model the user turned on) and is remembered."""
    with browser_playing(playwright, enroll_home, tmp_path_factory, clips["next_tab"], experimental=True) as browser:
        with browser.context.expect_page(timeout=10000) as opened:
            toggle(browser, grant=False)
        page = opened.value
        page.wait_for_url(ENROLL_URL, timeout=10000)
        page.locator("body[data-loaded='ok']").wait_for(timeout=TAKE_TIMEOUT_MS)
        assert browser.sw.evaluate("chrome.storage.local.get('microphoneGranted')") == {"microphoneGranted": True}
        assert not voice_state(browser).get("listening")  # not before the user chose

        page.locator("#skip").click()
        wait_until_heard(browser, 0.5, START_TIMEOUT_S)
        assert browser.sw.evaluate("chrome.storage.local.get('voiceEnrollmentSkipped')") == {
            "voiceEnrollmentSkipped": True}
        page.locator("#listening").wait_for(state="visible", timeout=10000)
        assert page.locator("#listening").text_content() == page.evaluate("STRINGS.enrollListeningGeneric")
        assert popup_voice_line(browser) == ("generic", "Voice: generic model — less accurate")


def test_without_the_helper_app_the_page_says_why(playwright, enroll_home, clips, tmp_path_factory):
    with browser_playing(playwright, enroll_home, tmp_path_factory, clips["next_tab"], register=False) as browser:
        page = open_enroll_page(browser)
        assert page.evaluate("document.body.dataset.loaded") == "error"
        problem = page.locator("#problem")
        assert problem.is_visible() and problem.get_attribute("data-code") == "host_not_installed"
        assert page.locator("#problem-text").text_content() == page.evaluate("STRINGS.errors.host_not_installed.text")
        assert page.locator("#problem-command").text_content() == "python3 install_host.py"
        assert page.locator(".take .record:enabled").count() == 0  # nothing could be kept


def test_an_older_helper_app_is_explained_and_voice_goes_on_as_before(playwright, clips, tmp_path_factory):
    """A helper app that answers `enroll_take` and `voice_profile` with unknown_type: the page
    says it cannot learn voices yet and how to update, and the first time goes from the
    permission page straight to listening, as before enrollment existed."""
    profile = tmp_path_factory.mktemp("older-host-profile")
    register_script(profile, OLDER_HOST)
    with voice_browser(playwright, None, profile, clips["next_tab"], register=False, experimental=False) as browser:
        page = open_enroll_page(browser)
        assert page.evaluate("document.body.dataset.loaded") == "error"
        assert page.locator("#problem").get_attribute("data-code") == "unknown_type"
        assert page.locator("#problem-text").text_content() == page.evaluate("STRINGS.enrollErrors.protocol_mismatch.text")
        assert page.locator("#problem-fix").text_content() == (
            "Update TabSense, then run python3 install_host.py in its folder.")
        assert page.locator(".take .record:enabled").count() == 0
        page.close()

        with browser.context.expect_page(timeout=10000) as opened:
            toggle(browser, grant=False)
        permission = opened.value
        permission.locator("#message[data-state='granted']").wait_for(timeout=TAKE_TIMEOUT_MS)
        assert permission.url == f"{EXTENSION_URL}/permission/permission.html"
        # Listening started and failed on the old host's answer, with the sentence for it.
        error = wait_for(browser, lambda: voice_state(browser).get("error"), START_TIMEOUT_S, "the voice error")
        assert error["code"] == "unknown_type"
