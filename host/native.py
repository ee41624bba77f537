"""Start-up of the native messaging host: logging, model store, dispatcher, stdio."""

from __future__ import annotations

import logging
import os
import threading

from . import __version__, paths
from .capabilities import Capabilities
from .constants import ENV_THREADS, EXTENSION_ORIGIN
from .dispatcher import Dispatcher
from .errors import TabSenseError
from .logs import configure
from .store import ModelStore
from .transports import stdio

log = logging.getLogger("host")


def thread_count(value: str | int | None = None) -> int:
    """Inference threads: explicit value, else $TABSENSE_THREADS, else 2 (capped by the CPU)."""
    raw = value if value is not None else os.environ.get(ENV_THREADS)
    try:
        count = int(raw) if raw is not None else 2
    except ValueError:
        count = 2
    return max(1, min(count, os.cpu_count() or 1))


def _preload(capabilities: Capabilities) -> None:
    for task in ("image_classification", "keyword_spotting"):
        try:
            capabilities.pool.get(None, task)
        except TabSenseError as exc:  # reported to the user on the first request instead
            log.warning("default %s model not preloaded: %s", task, exc.message)
    # A user who taught TabSense their voice: the front end and the profile's templates too, so
    # the first chunk of listening does not wait for them.
    if capabilities.voice_matcher() is not None:
        log.info("voice profile preloaded")


def run_native(origin: str | None) -> int:
    # First of all, before any thread exists: from here on only frames reach the browser.
    frames_out = stdio.claim_stdout()
    home = paths.data_home()
    configure(os.environ.get("TABSENSE_LOG_LEVEL", "INFO"), paths.logs_dir(home) / "host.log")
    log.info("TabSense host %s starting for %s (home %s)", __version__, origin or "an unknown caller", home)
    if origin and origin.rstrip("/") != EXTENSION_ORIGIN:
        log.warning("started by %s, which is not the TabSense extension", origin)
    capabilities = Capabilities(ModelStore(home), num_threads=thread_count())
    dispatcher = Dispatcher(capabilities)
    # Load the default model while the browser is still idle, so the first click does not
    # pay for it; `ping` answers meanwhile, and a request for the model waits for the load.
    threading.Thread(target=_preload, args=(capabilities,), name="tabsense-preload", daemon=True).start()
    code = stdio.run(dispatcher, frames_out)
    log.info("TabSense host exiting (%d)", code)
    return code
