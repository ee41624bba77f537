"""Start-up of the native messaging host: logging, model store, dispatcher, stdio."""

from __future__ import annotations

import logging
import os

from . import __version__, paths
from .capabilities import Capabilities
from .constants import ENV_THREADS, EXTENSION_ORIGIN
from .dispatcher import Dispatcher
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


def run_native(origin: str | None) -> int:
    home = paths.data_home()
    configure(os.environ.get("TABSENSE_LOG_LEVEL", "INFO"), paths.logs_dir(home) / "host.log")
    log.info("TabSense host %s starting for %s (home %s)", __version__, origin or "an unknown caller", home)
    if origin and origin.rstrip("/") != EXTENSION_ORIGIN:
        log.warning("started by %s, which is not the TabSense extension", origin)
    dispatcher = Dispatcher(Capabilities(ModelStore(home), num_threads=thread_count()))
    code = stdio.run(dispatcher)
    log.info("TabSense host exiting (%d)", code)
    return code
