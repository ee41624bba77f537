"""bench/browser.py's --home: a relative path names the same home as its absolute form, although
the benchmark's private home links to the models from a temporary folder."""

from __future__ import annotations

import json
from pathlib import Path

from support import DEFAULT_MODEL, REPO


def registered_home(folder: Path, installed: Path) -> Path:
    """A home as the model lab leaves one: a local registry naming the model, and its files."""
    builtin = json.loads((REPO / "models" / "registry.json").read_text("utf-8"))
    entry = next(m for m in builtin["models"] if m["name"] == DEFAULT_MODEL)
    folder.mkdir(parents=True)
    (folder / "registry.json").write_text(json.dumps({"models": [entry]}), "utf-8")
    (folder / "models").symlink_to(installed / "models")
    return folder


def test_relative_home_is_resolved_when_parsed(tabsense_home, tmp_path, monkeypatch):
    from bench import browser

    home = registered_home(tmp_path / "cache" / "bench-home", tabsense_home)
    monkeypatch.chdir(tmp_path)
    args = browser.parse_args(["--home", "cache/bench-home", "--paths", "native"])
    assert args.home == home and args.home.is_absolute()

    private = browser.make_home(args.home, DEFAULT_MODEL, tmp_path / "work" / "home")
    labels = browser.labels_of(private, DEFAULT_MODEL)
    assert labels == browser.labels_of(tabsense_home, DEFAULT_MODEL)
    assert len(labels) == 1000 and labels[0] != labels[1]


def test_make_home_links_the_models_of_a_relative_home(tabsense_home, tmp_path, monkeypatch):
    """The link in the private home is absolute: it reads the labels from any folder."""
    from bench import browser

    registered_home(tmp_path / "cache" / "bench-home", tabsense_home)
    monkeypatch.chdir(tmp_path)
    private = browser.make_home(Path("cache/bench-home"), DEFAULT_MODEL, tmp_path / "work" / "home")
    monkeypatch.chdir(REPO)
    assert (private / "models").resolve() == (tabsense_home / "models").resolve()
    assert len(browser.labels_of(private, DEFAULT_MODEL)) == 1000
