"""Logging setup: stderr always, plus a rotating log file for the browser-started host."""

from __future__ import annotations

import logging
import logging.handlers
import os
import sys
from pathlib import Path

from .constants import ENV_LOG_LEVEL

FORMAT = "%(asctime)s %(levelname)s %(name)s [%(process)d]: %(message)s"


def configure(level: str | None = None, log_file: Path | None = None) -> None:
    name = (level or os.environ.get(ENV_LOG_LEVEL) or "WARNING").upper()
    root = logging.getLogger()
    root.setLevel(getattr(logging, name, logging.WARNING))
    for handler in list(root.handlers):
        root.removeHandler(handler)
    stderr = logging.StreamHandler(sys.stderr)
    stderr.setFormatter(logging.Formatter(FORMAT))
    root.addHandler(stderr)
    if log_file is not None:
        try:
            log_file.parent.mkdir(parents=True, exist_ok=True)
            handler = logging.handlers.RotatingFileHandler(log_file, maxBytes=1 << 20, backupCount=3)
            handler.setFormatter(logging.Formatter(FORMAT))
            root.addHandler(handler)
        except OSError as exc:  # a read-only home must not stop the host
            root.warning("cannot write the log file %s: %s", log_file, exc)
