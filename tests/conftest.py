"""Shared fixtures: the real models and photos from ../shared, in a private TABSENSE_HOME."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from support import DEFAULT_MODEL, SAMPLES, SHARED, SHARED_MODELS, TINY_MODEL  # noqa: F401

def pytest_configure(config):
    missing = [p for p in (SHARED_MODELS, SAMPLES) if not p.is_dir()]
    if missing:
        raise pytest.UsageError(
            f"The tests run against the real models and photos in {SHARED}; missing: "
            + ", ".join(map(str, missing))
        )


@pytest.fixture(scope="session")
def tabsense_home(tmp_path_factory) -> Path:
    """A data home with every built-in model installed from ../shared/models (sha256-checked)."""
    from host.store import ModelStore

    home = tmp_path_factory.mktemp("tabsense-home")
    os.environ["TABSENSE_HOME"] = str(home)
    store = ModelStore(home)
    for spec in store.registry.specs():
        store.fetch(spec, SHARED_MODELS)
    return home


@pytest.fixture(scope="session")
def store(tabsense_home):
    from host.store import ModelStore

    return ModelStore(tabsense_home)


@pytest.fixture(scope="session")
def capabilities(store):
    from host.capabilities import Capabilities

    return Capabilities(store, num_threads=1)


@pytest.fixture(scope="session")
def classifier(capabilities):
    return capabilities.pool.get(DEFAULT_MODEL)


@pytest.fixture(scope="session")
def tiny_classifier(capabilities):
    return capabilities.pool.get(TINY_MODEL)


@pytest.fixture
def host_env(tabsense_home) -> dict:
    """Environment for a host subprocess using the test data home."""
    env = dict(os.environ, TABSENSE_HOME=str(tabsense_home), TABSENSE_THREADS="1")
    env.pop("TABSENSE_LOG_LEVEL", None)
    return env

