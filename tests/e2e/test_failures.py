"""What people see when something is wrong: a sentence in place of the label, with
data-tabsense-error="<code>" on the overlay and, where there is one, the fix to run.

Each test gets its own browser profile: no host registered, the real host without models,
or small stand-in hosts that hang, cannot start, or are killed mid-request (and then come
back as the real host).
"""

from __future__ import annotations

import time

import pytest

from e2e_support import (
    ARTIFACTS, EXTENSION_URL, FRAMING, PHOTOS, REPO, extension_without_fallback, img_page, launch, register_script,
    run_install_host,
)

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]

NAME = PHOTOS["failure_pages"]

SILENT_HOST = "import sys\nsys.stdin.buffer.read()  # reads until the browser hangs up, never answers\n"

# The first {killed} processes answer ping, then are killed (SIGKILL, no goodbye) by the first
# classification they get; every later start is the real host. {killed}, {home} and {repo}
# are filled in by the test.
KILLED_THEN_REAL_HOST = FRAMING + """
import os, signal
from pathlib import Path
log = Path(__file__).with_suffix(".starts")
log.write_text(log.read_text() + "x" if log.exists() else "x")
if len(log.read_text()) > {killed}:
    os.environ["TABSENSE_HOME"] = {home!r}
    os.environ["PYTHONPATH"] = {repo!r}
    os.execv(sys.executable, [sys.executable, "-m", "host", *sys.argv[1:]])
while True:
    request = read()
    if request["type"] != "ping":
        os.kill(os.getpid(), signal.SIGKILL)  # killed in the middle of a classification
    write({{"id": request["id"], "ok": True, "result": {{"version": "0.0-test", "models": []}}}})
"""


@pytest.fixture
def start_browser(playwright, tmp_path):
    started = []

    def start(prepare=None, extension=None):
        profile = tmp_path / f"profile-{len(started)}"
        profile.mkdir()
        if prepare:
            prepare(profile)
        browser = launch(playwright, profile, extension=extension) if extension else launch(playwright, profile)
        started.append(browser)
        return browser

    yield start
    for browser in started:
        browser.context.close()


def classify_failure(browser, servers, code):
    page = browser.open(servers.page("failure.html", img_page(
        "Failure", f'<img id="photo" src="{NAME}" width="480">')))
    overlay, seconds = browser.classify(page, f"{servers.a}/{NAME}")
    assert overlay.get_attribute("data-tabsense-error") == code, overlay.locator(".card").inner_text()
    assert overlay.get_attribute("data-tabsense-label") is None
    assert overlay.get_attribute("data-tabsense-state") == "error"
    return page, overlay, seconds


def test_host_not_installed_says_how_to_install_it(start_browser, servers, tmp_path):
    # Without the generated in-browser model (test_fallback.py covers the extension with it).
    browser = start_browser(extension=extension_without_fallback(tmp_path / "extension"))
    page, overlay, _ = classify_failure(browser, servers, "host_not_installed")
    card = overlay.locator(".card")
    assert "helper app is not installed" in card.inner_text()
    assert overlay.locator("code").inner_text() == "python3 install_host.py"
    assert "in the TabSense folder" in card.inner_text()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "error-host-not-installed.png"))

    popup = browser.open(f"{EXTENSION_URL}/popup/popup.html")
    popup.wait_for_selector("#state[data-state=error]")
    assert "Not connected" in popup.locator("#state").inner_text()
    assert popup.locator("#problem").get_attribute("data-code") == "host_not_installed"
    assert popup.locator("#command").inner_text() == "python3 install_host.py"
    assert popup.locator("#details").is_hidden()


def test_models_not_fetched(start_browser, servers, tmp_path):
    empty_home = tmp_path / "empty-home"

    def register(profile):
        result = run_install_host(empty_home, "--user-data-dir", str(profile))
        # The registration works, and the closing check already says what is missing.
        assert result.returncode == 1
        assert "default model mobilenet_v2_1.0_224_quant is not installed" in result.stdout
        assert "fix: run tabsense models fetch" in result.stdout

    browser = start_browser(register)
    _, overlay, _ = classify_failure(browser, servers, "model_missing")
    assert "model has not been downloaded" in overlay.locator(".card").inner_text()
    assert overlay.locator("code").inner_text() == "tabsense models fetch"


def test_host_that_never_answers_times_out(start_browser, servers):
    browser = start_browser(lambda profile: register_script(profile, SILENT_HOST))
    browser.sw.evaluate("chrome.storage.local.set({requestTimeoutMs: 1500})")
    _, overlay, seconds = classify_failure(browser, servers, "timeout")
    assert "took too long to answer" in overlay.locator(".card").inner_text()
    assert overlay.locator("code").inner_text() == "python3 install_host.py --check"
    assert seconds >= 1.5  # the sentence came after the deadline, not before (no upper bound: a busy machine)
    print(f"\nhost that never answers: the sentence {seconds * 1000:.0f} ms after the click (timeout 1500 ms)")


def test_host_that_cannot_start(start_browser, servers):
    source = 'import sys\nprint("ModuleNotFoundError: No module named numpy", file=sys.stderr)\nsys.exit(1)\n'
    browser = start_browser(lambda profile: register_script(profile, source))
    _, overlay, _ = classify_failure(browser, servers, "host_failed_to_start")
    assert "could not start" in overlay.locator(".card").inner_text()
    assert overlay.locator("code").inner_text() == "python3 install_host.py --check"


def start_killed_then_real(start_browser, e2e_home, killed: int) -> tuple:
    scripts = []
    source = KILLED_THEN_REAL_HOST.format(killed=killed, home=str(e2e_home), repo=str(REPO))
    browser = start_browser(lambda profile: scripts.append(register_script(profile, source)))
    return browser, scripts[0].with_suffix(".starts")


def test_host_killed_once_mid_request_the_retry_answers(start_browser, servers, e2e_home, expected):
    browser, starts = start_killed_then_real(start_browser, e2e_home, killed=1)
    page = browser.open(servers.page("killed-once.html", img_page("Killed once", f'<img src="{NAME}" width="480">')))
    overlay, seconds = browser.classify(page, f"{servers.a}/{NAME}")
    assert overlay.get_attribute("data-tabsense-error") is None, overlay.locator(".card").inner_text()
    assert overlay.get_attribute("data-tabsense-label") == expected[NAME][0]["label"]
    assert len(starts.read_text()) == 2  # killed, then the one retry on a fresh host
    print(f"\nhost killed once mid-request: click to label {browser.latency_ms()} ms in the extension (host killed, "
          f"real host started, retried; {seconds * 1000:.0f} ms seen by the test)")


def test_host_killed_mid_request_is_retried_once_explained_and_the_next_request_works(
        start_browser, servers, e2e_home, expected):
    browser, starts = start_killed_then_real(start_browser, e2e_home, killed=2)  # the request and its retry
    page, overlay, _ = classify_failure(browser, servers, "host_disconnected")
    assert "stopped while working on this picture" in overlay.locator(".card").inner_text()
    assert "TabSense restarts it by itself" in overlay.locator(".card").inner_text()
    assert len(starts.read_text()) >= 2, "the request was not retried on a fresh host"

    # The next request, right away: a fresh (real) host answers it in time.
    overlay.locator(".close").click()
    started = time.perf_counter()
    overlay, _ = browser.classify(page, f"{servers.a}/{NAME}")
    assert overlay.get_attribute("data-tabsense-error") is None, overlay.locator(".card").inner_text()
    assert overlay.get_attribute("data-tabsense-label") == expected[NAME][0]["label"]
    assert len(starts.read_text()) == 3  # the two killed hosts, then one real host
    print(f"\nhost killed mid-request: the next request's click to label {browser.latency_ms()} ms in the extension "
          f"({(time.perf_counter() - started) * 1000:.0f} ms seen by the test)")
