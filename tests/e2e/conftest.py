"""End-to-end fixtures: Debian's Chromium with the unpacked extension, the real host
registered by install_host.py into the test profile, and test pages served from two
127.0.0.1 ports (helpers and constants live in e2e_support.py).
"""

from __future__ import annotations

import functools
import http.server
import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest

# The project runs pytest in importlib mode, which puts no test folder on sys.path: make
# the helpers importable as `e2e_support` from this folder's tests.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from e2e_support import (  # noqa: E402
    LARGE, MODELS, PHOTOS, SAMPLES, SHARED, Servers, QuietHandler, launch, python_env, run_install_host,
)


# --- session: models, expected labels, test site -------------------------------------


@pytest.fixture(scope="session")
def e2e_home(tmp_path_factory) -> Path:
    """TABSENSE_HOME for the browser's host, models installed by install_host.py --models-from."""
    for needed in (MODELS, SAMPLES):
        if not needed.is_dir():
            pytest.fail(f"{needed} is missing: the end-to-end tests use the real models and photos in {SHARED}")
    home = tmp_path_factory.mktemp("e2e-home")
    first_profile = tmp_path_factory.mktemp("first-profile")
    result = run_install_host(home, "--user-data-dir", str(first_profile), "--models-from", str(MODELS))
    assert result.returncode == 0, result.stdout + result.stderr
    return home


@pytest.fixture(scope="session")
def site(tmp_path_factory) -> Path:
    """Files the test pages serve: links to the shared photos (not copies) and a huge photo."""
    from PIL import Image

    root = tmp_path_factory.mktemp("site")
    for name in PHOTOS.values():
        (root / name).symlink_to(SAMPLES / name)
    with Image.open(SAMPLES / PHOTOS["large_source"]) as photo:
        photo.convert("RGB").resize((6000, 4000), Image.BICUBIC).save(root / LARGE, quality=90)
    (root / "not-an-image.jpg").write_text("This is a text file pretending to be a JPEG.\n")
    return root


@pytest.fixture(scope="session")
def host_answers(e2e_home, site) -> dict:
    """file name -> the host's own answer for it (`tabsense classify --json`), one process."""
    files = sorted({*PHOTOS.values(), LARGE})
    result = subprocess.run(
        [sys.executable, "-m", "host.cli", "classify", "--json", *files],
        cwd=site, env=python_env(e2e_home), capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    return {row["file"]: row for row in rows}


@pytest.fixture(scope="session")
def expected(host_answers) -> dict:
    """file name -> the host's top 5 labels for it."""
    return {name: row["labels"] for name, row in host_answers.items()}


@pytest.fixture(scope="session")
def default_model(host_answers) -> dict:
    """{"name", "version"} of the model the host uses by default."""
    return next(iter(host_answers.values()))["model"]


@pytest.fixture(scope="session")
def servers(site):
    handler = functools.partial(QuietHandler, directory=str(site))
    running = []
    for _ in range(2):
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        running.append(server)
    yield Servers(site, *(f"http://127.0.0.1:{s.server_address[1]}" for s in running))
    for server in running:
        server.shutdown()
        server.server_close()


# --- browser -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def playwright():
    """Per module, not per session: while the sync API runs, the main thread has a running
    event loop, and later tests that call asyncio.run() would fail."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="module")
def browser(playwright, e2e_home, tmp_path_factory):
    """A browser whose profile has the real host registered by install_host.py."""
    profile = tmp_path_factory.mktemp("profile")
    result = run_install_host(e2e_home, "--user-data-dir", str(profile))
    assert result.returncode == 0, result.stdout + result.stderr
    b = launch(playwright, profile)
    yield b
    b.context.close()


@pytest.fixture
def page_factory(browser):
    pages = []

    def open_page(url):
        page = browser.open(url)
        pages.append(page)
        return page

    yield open_page
    for page in pages:
        page.close()


