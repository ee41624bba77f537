"""Helpers for the end-to-end tests: paths, the photos each scenario uses, the host
processes, the two test web servers and a Chromium wrapper that right-clicks for us.

Nothing here downloads a browser (never `playwright install`): Chromium is /usr/bin/chromium,
or $TABSENSE_CHROMIUM.
"""

from __future__ import annotations


import base64
import http.server
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared"
SAMPLES = SHARED / "data" / "imagenet-sample"
MODELS = SHARED / "models"
EXTENSION = REPO / "extension"
# The in-browser fallback model, generated (not committed) by `tabsense-models export-fallback`.
FALLBACK_MODEL = EXTENSION / "models" / "fallback"
FALLBACK_BUILD = ".venv/bin/tabsense-models export-fallback --from ../shared/models"
ARTIFACTS = REPO / "artifacts"
CHROMIUM = os.environ.get("TABSENSE_CHROMIUM", "/usr/bin/chromium")
EXTENSION_ID = "dkkhfeafnpmeclbkjcjjdoohdalbafda"
EXTENSION_URL = f"chrome-extension://{EXTENSION_ID}"
MENU_ID = "tabsense-classify-image"
BASE_FLAGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--no-default-browser-check", "--disable-dev-shm-usage",
]


def extension_flags(extension: Path = EXTENSION) -> list[str]:
    return [f"--disable-extensions-except={extension}", f"--load-extension={extension}"]


FLAGS = [*BASE_FLAGS, *extension_flags()]
LABEL_TIMEOUT_MS = 15000  # a cold host start is ~1 s here; this only bounds a failure

# Real photos, one per scenario, so each test proves that *its* picture was classified.
# All are confidently recognised by the default model (top-1 >= 0.98); the expected label
# still comes from the host at run time, never from this file.
PHOTOS = {
    "same_origin": "n02123597_Siamese_cat.JPEG",
    "cross_origin": "n02077923_sea_lion.JPEG",
    "data_url": "n03544143_hourglass.JPEG",
    "blob": "n01614925_bald_eagle.JPEG",
    "blob_revoked": "n03196217_digital_clock.JPEG",
    "iframe": "n02727426_apiary.JPEG",
    "large_source": "n03633091_ladle.JPEG",
    "link": "n01860187_black_swan.JPEG",
    "before_kill": "n02640242_sturgeon.JPEG",
    "after_kill": "n03661043_library.JPEG",
    "websocket": "n04418357_theater_curtain.JPEG",
    "failure_pages": "n03776460_mobile_home.JPEG",
    # Confidently recognised by the host's default model and by the in-browser model alike.
    "fallback": "n01530575_brambling.JPEG",
    "fallback_then_host": "n02504458_African_elephant.JPEG",
}
LARGE = "large-6000x4000.jpg"


# --- processes -----------------------------------------------------------------------


def python_env(home: Path) -> dict:
    env = dict(os.environ)
    env["TABSENSE_HOME"] = str(home)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return env


def run_install_host(home: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(REPO / "install_host.py"), *args],
        env=python_env(home), capture_output=True, text=True, timeout=120,
    )


def host_pids(home: Path) -> list[int]:
    """Native hosts started for this test home (never anyone else's): a /proc scan."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
            environ = (entry / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"-m" in argv and b"host" in argv and f"TABSENSE_HOME={home}".encode() in environ:
            pids.append(int(entry.name))
    return pids


def kill_and_wait(pid: int) -> None:
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        # A killed child stays a zombie until Chromium reaps it; that counts as dead.
        try:
            if (Path(f"/proc/{pid}/stat").read_text().split()[2]) == "Z":
                return
        except OSError:
            return
        time.sleep(0.02)


# Stand-in hosts (Python scripts registered in place of the real host) speak real native
# messaging framing.
FRAMING = """
import json, struct, sys
def read():
    header = sys.stdin.buffer.read(4)
    if len(header) < 4:
        sys.exit(0)
    return json.loads(sys.stdin.buffer.read(struct.unpack("=I", header)[0]))
def write(message):
    body = json.dumps(message).encode()
    sys.stdout.buffer.write(struct.pack("=I", len(body)) + body)
    sys.stdout.buffer.flush()
"""


def register_script(profile: Path, source: str, name: str = "fake_host.py") -> Path:
    """A host manifest in the profile pointing at a Python script (what install_host.py writes)."""
    folder = profile / "NativeMessagingHosts"
    folder.mkdir(parents=True, exist_ok=True)
    script = folder / name
    script.write_text(f"#!{sys.executable}\n{source}")
    script.chmod(0o755)
    manifest = {"name": "com.tabsense.host", "description": "test stand-in", "path": str(script),
                "type": "stdio", "allowed_origins": [f"{EXTENSION_URL}/"]}
    (folder / "com.tabsense.host.json").write_text(json.dumps(manifest))
    return script


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep pytest output readable
        pass

    def end_headers(self):
        self.send_header("Cache-Control", "no-store")
        super().end_headers()


@dataclass
class Servers:
    root: Path
    a: str  # http://127.0.0.1:PORT_A (pages)
    b: str  # http://127.0.0.1:PORT_B (the "other site": no CORS headers at all)

    def page(self, name: str, html: str) -> str:
        """Writes a page and returns its URL on server A."""
        (self.root / name).write_text(html, encoding="utf-8")
        return f"{self.a}/{name}"


class Browser:
    """One Chromium with the extension; helpers to fire the context menu like a right-click."""

    def __init__(self, context):
        self.context = context
        self._seen = 0  # updatedAt of the last status latency_ms() returned
        sw = context.service_workers
        self.sw = sw[0] if sw else context.wait_for_event("serviceworker", timeout=15000)
        assert self.sw.url == f"{EXTENSION_URL}/background/service-worker.js"

    def open(self, url: str):
        page = self.context.new_page()
        page.goto(url)
        return page

    def frames(self, page) -> list[dict]:
        """[{frameId, url}] of the page's tab, as the extension sees them."""
        return self.sw.evaluate(
            """async (url) => {
                 const tab = (await chrome.tabs.query({})).find((t) => t.url === url);
                 const found = await chrome.scripting.executeScript({
                   target: {tabId: tab.id, allFrames: true}, func: () => location.href});
                 return found.map((r) => ({frameId: r.frameId, url: r.result}));
               }""",
            page.url,
        )

    def right_click(self, page, src_url: str, frame_id: int | None = None, frame_url: str | None = None) -> None:
        """Fires the extension's real contextMenus.onClicked listener, as a right-click does."""
        info = {"menuItemId": MENU_ID, "mediaType": "image", "srcUrl": src_url, "pageUrl": page.url}
        if frame_id is not None:
            info.update(frameId=frame_id, frameUrl=frame_url)
        self.sw.evaluate(
            """async ([info]) => {
                 const tab = (await chrome.tabs.query({})).find((t) => t.url === info.pageUrl);
                 if (!tab) throw new Error('no tab for ' + info.pageUrl);
                 chrome.contextMenus.onClicked.dispatch(info, tab);
               }""",
            [info],
        )

    def classify(self, page, src_url: str, scope=None, **frame) -> tuple:
        """Right-click -> wait for the answer -> (overlay locator, seconds)."""
        scope = scope or page
        started = time.perf_counter()
        self.right_click(page, src_url, **frame)
        overlay = scope.locator("tabsense-overlay[data-tabsense-state='result'], tabsense-overlay[data-tabsense-state='error']")
        overlay.first.wait_for(state="attached", timeout=LABEL_TIMEOUT_MS)
        return overlay.first, time.perf_counter() - started

    def status(self) -> dict:
        return self.sw.evaluate("chrome.storage.session.get('status').then((s) => s.status || {})")

    def latency_ms(self, timeout: float = 5.0) -> int:
        """Click-to-label time measured inside the extension for the newest classification
        (the wall time seen from here adds Playwright's round trips and polling)."""
        deadline = time.monotonic() + timeout
        while True:
            status = self.status()
            if status.get("lastLatencyMs") is not None and status.get("updatedAt", 0) > self._seen:
                self._seen = status["updatedAt"]
                return status["lastLatencyMs"]
            assert time.monotonic() < deadline, f"no new latency in the status: {status}"
            time.sleep(0.05)


def launch(playwright, user_data_dir: Path, extra_args: tuple[str, ...] = (), extension: Path = EXTENSION) -> Browser:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium is not at {CHROMIUM}: apt-get install chromium, or set TABSENSE_CHROMIUM "
                    "(deselect these tests with -m 'not browser')")
    context = playwright.chromium.launch_persistent_context(
        str(user_data_dir), executable_path=CHROMIUM, headless=True,
        args=[*BASE_FLAGS, *extension_flags(extension), *extra_args],
        viewport={"width": 1000, "height": 720},
    )
    return Browser(context)


def extension_without_fallback(dest: Path) -> Path:
    """A copy of the extension as someone gets it without the generated in-browser model
    (same ID: the manifest's key fixes it)."""
    shutil.copytree(EXTENSION, dest, ignore=shutil.ignore_patterns("fallback", ".fallback*"))
    return dest


def offscreen_documents(browser: Browser) -> int:
    return browser.sw.evaluate(
        "chrome.runtime.getContexts({contextTypes: ['OFFSCREEN_DOCUMENT']}).then((c) => c.length)")


def host_classify(home: Path, image: Path, model: str | None = None, top_k: int = 5) -> dict:
    """The host's own answer for a picture, in this process (the host package, LiteRT):
    {"labels": [{label, index, score}], "model": {name, version}}."""
    from host.classifier import ImageClassifier
    from host.store import ModelStore

    store = ModelStore(home)
    spec = store.registry.get(model)
    files = store.require(spec)
    classifier = ImageClassifier(spec, files["model"], files["labels"], num_threads=1)
    return classifier.classify(image.read_bytes(), top_k)


def data_url(path: Path, mime: str = "image/jpeg") -> str:
    return f"data:{mime};base64," + base64.b64encode(path.read_bytes()).decode()


def img_page(title: str, body: str) -> str:
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>{title}</title>
<style>body {{ font: 16px sans-serif; margin: 24px; }} img {{ display: block; }}</style></head>
<body><h1>{title}</h1>{body}</body></html>"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ws_token(home: Path) -> str:
    """The WebSocket token of `home` (`tabsense token`)."""
    return subprocess.run([sys.executable, "-m", "host.cli", "token"], env=python_env(home), capture_output=True,
                          text=True, check=True).stdout.strip()


def start_ws_server(home: Path, timeout_s: float = 30.0, port: int | None = None) -> tuple[subprocess.Popen, int, str]:
    """`tabsense serve --ws` on `port` (default: a free one) for `home`, once it listens:
    (process, port, token).

    Its stderr goes to a file in `home` (a pipe nobody reads could fill and stall the server)
    and is quoted if it fails to start.
    """
    env = python_env(home)
    token = ws_token(home)
    port = port or free_port()
    log = Path(home) / "ws-server.log"
    with open(log, "w") as stderr:
        server = subprocess.Popen([sys.executable, "-m", "host.cli", "serve", "--ws", "--port", str(port)],
                                  env=env, stderr=stderr)
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return server, port, token
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                server.terminate()
                raise RuntimeError(f"tabsense serve --ws did not start listening: {log.read_text()[-500:]}")
            time.sleep(0.1)


def wait_for(check, timeout: float, what: str):
    """Poll `check()` until it returns something true (returned), failing the test after `timeout` s."""
    deadline = time.monotonic() + timeout
    while not (value := check()):
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)
    return value
