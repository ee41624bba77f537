"""The per-install WebSocket token: a secret the extension must present to connect."""

from __future__ import annotations

import hmac
import os
import secrets
from pathlib import Path

from . import paths


def load_or_create(home: Path | None = None) -> str:
    path = paths.token_path(home)
    try:
        token = path.read_text("utf-8").strip()
        if token:
            return token
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    token = secrets.token_urlsafe(32)
    # Readable by this user only: anyone with the token can use the host.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(token + "\n")
    return token


def matches(expected: str, given: str | None) -> bool:
    return given is not None and hmac.compare_digest(expected.encode(), given.encode())
