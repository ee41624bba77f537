"""The one error for a missing Debian package (or Python extra) the speech data needs.

A data source that is not installed must stop the run with the package to install, never
give a smaller data set in silence. It is a SystemExit, so the command line prints the
sentence alone; tests and callers catch it like any exception class.
"""

from __future__ import annotations

import shutil
from pathlib import Path


class MissingPackage(SystemExit):
    """A data source or voice is not installed; the message names the package to install."""


def require_command(command: str, package: str) -> None:
    if shutil.which(command) is None:
        raise MissingPackage(f"{command} is not on PATH: install the Debian package {package}")


def require_path(path: Path, package: str, what: str) -> None:
    if not path.exists():
        raise MissingPackage(f"No {what} at {path}: install the Debian package {package}")


def installs(prepare) -> bool:
    """Whether `prepare(set())` finds everything it needs (an engine's `available()`)."""
    try:
        prepare(set())
    except MissingPackage:
        return False
    return True
