"""Where TabSense keeps its per-user files. `TABSENSE_HOME` overrides the platform default."""

from __future__ import annotations

import os
from pathlib import Path

from .constants import ENV_HOME


def data_home() -> Path:
    """The per-user data directory (models, registry of built models, logs, WebSocket token)."""
    override = os.environ.get(ENV_HOME)
    if override:
        return Path(override).expanduser().resolve()
    import platformdirs  # imported lazily: only needed when no override is set

    return Path(platformdirs.user_data_dir("tabsense", appauthor=False))


def models_dir(home: Path | None = None) -> Path:
    return (home or data_home()) / "models"


def logs_dir(home: Path | None = None) -> Path:
    return (home or data_home()) / "logs"


def local_registry_path(home: Path | None = None) -> Path:
    """Registry entries added on this machine (e.g. by the model lab)."""
    return (home or data_home()) / "registry.json"


def token_path(home: Path | None = None) -> Path:
    return (home or data_home()) / "ws-token"
