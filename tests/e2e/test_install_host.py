"""install_host.py: registration files, idempotence, --check on good and broken
registrations (with a real ping of the real host), --uninstall, browser discovery, and the
macOS and Windows locations (Windows through a stand-in winreg module)."""

from __future__ import annotations

import importlib.util
import json
import stat
import subprocess
import sys
import types
from pathlib import Path

import pytest

from e2e_support import REPO, python_env, run_install_host

ORIGIN = "chrome-extension://dkkhfeafnpmeclbkjcjjdoohdalbafda/"
MANIFEST = "NativeMessagingHosts/com.tabsense.host.json"
LAUNCHER = "NativeMessagingHosts/com.tabsense.host.sh"


@pytest.fixture
def registered(e2e_home, tmp_path) -> Path:
    """A profile folder with a fresh, good registration."""
    profile = tmp_path / "profile"
    result = run_install_host(e2e_home, "--user-data-dir", str(profile))
    assert result.returncode == 0, result.stdout + result.stderr
    return profile


def check(home, profile):
    result = run_install_host(home, "--check", "--user-data-dir", str(profile))
    return result.returncode, result.stdout


def test_registers_a_manifest_and_a_launcher(registered, e2e_home):
    manifest = json.loads((registered / MANIFEST).read_text())
    launcher = registered / LAUNCHER
    assert manifest == {
        "name": "com.tabsense.host",
        "description": "TabSense on-device image classification",
        "path": str(launcher),
        "type": "stdio",
        "allowed_origins": [ORIGIN],
    }
    assert launcher.stat().st_mode & stat.S_IXUSR
    text = launcher.read_text()
    assert text.startswith("#!/bin/sh\n")
    assert text.rstrip().endswith(f'exec {sys.executable} -m host "$@"')  # the interpreter that ran it
    assert f"TABSENSE_HOME={e2e_home}; export TABSENSE_HOME" in text


def test_running_it_again_changes_nothing(registered, e2e_home):
    files = [registered / MANIFEST, registered / LAUNCHER]
    before = [(p.read_bytes(), p.stat().st_mtime_ns) for p in files]
    result = run_install_host(e2e_home, "--user-data-dir", str(registered))
    assert result.returncode == 0
    assert "already registered" in result.stderr
    assert [(p.read_bytes(), p.stat().st_mtime_ns) for p in files] == before


def test_check_on_a_good_registration_pings_the_host(registered, e2e_home):
    code, out = check(e2e_home, registered)
    assert code == 0, out
    assert "FAIL" not in out
    assert f"allowed_origins is {ORIGIN}" in out
    assert "host answered ping in" in out and "(version 0.1.0)" in out
    assert "default model mobilenet_v2_1.0_224_quant v1 is installed" in out
    assert out.rstrip().endswith("Everything looks fine.")


def _wrong_origin(profile):
    path = profile / MANIFEST
    manifest = json.loads(path.read_text())
    manifest["allowed_origins"] = ["chrome-extension://aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/"]
    path.write_text(json.dumps(manifest))


def _broken_launcher(profile):
    path = profile / LAUNCHER
    path.write_text('#!/bin/sh\necho "No module named host" >&2\nexit 1\n')


BREAKAGES = {
    "no-manifest": (lambda p: (p / MANIFEST).unlink(), "the manifest does not exist"),
    "not-json": (lambda p: (p / MANIFEST).write_text("{oops"), "the manifest is not a readable JSON object"),
    "wrong-origin": (_wrong_origin, "may not use it"),
    "no-launcher": (lambda p: (p / LAUNCHER).unlink(), "does not exist"),
    "not-executable": (lambda p: (p / LAUNCHER).chmod(0o644), "is not executable"),
    "host-fails": (_broken_launcher, "the host did not answer ping: the host closed its output without answering "
                                     "(exit status 1: No module named host)"),
}


@pytest.mark.parametrize("breakage", BREAKAGES)
def test_check_explains_a_broken_registration(registered, e2e_home, breakage):
    breaker, sentence = BREAKAGES[breakage]
    breaker(registered)
    code, out = check(e2e_home, registered)
    assert code == 1
    fail = next(line for line in out.splitlines() if "FAIL" in line)
    assert sentence in fail, out
    fix = out.splitlines()[out.splitlines().index(fail) + 1]
    assert fix.strip().startswith("fix: ") and "install_host.py" in fix, out
    assert "--user-data-dir" in fix
    assert out.rstrip().endswith("problem(s) found.")


def test_uninstall_removes_everything(registered, e2e_home):
    result = run_install_host(e2e_home, "--uninstall", "--user-data-dir", str(registered))
    assert result.returncode == 0 and "unregistered" in result.stderr
    assert not (registered / "NativeMessagingHosts").exists() or not any((registered / "NativeMessagingHosts").iterdir())
    again = run_install_host(e2e_home, "--uninstall", "--user-data-dir", str(registered))
    assert again.returncode == 0 and "nothing to remove" in again.stderr


def run_in_fake_home(home, fake_home, *args):
    """install_host.py with a made-up home folder, so the real ~/.config stays untouched."""
    env = python_env(home)
    env.update(HOME=str(fake_home), XDG_CONFIG_HOME=str(fake_home / ".config"))
    return subprocess.run([sys.executable, str(REPO / "install_host.py"), *args], env=env,
                          capture_output=True, text=True, timeout=120)


def test_default_registers_every_browser_found(e2e_home, tmp_path):
    config = tmp_path / ".config"
    (config / "google-chrome").mkdir(parents=True)
    (config / "BraveSoftware" / "Brave-Browser").mkdir(parents=True)
    result = run_in_fake_home(e2e_home, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    registered = sorted(str(p.relative_to(config)) for p in config.rglob("com.tabsense.host.json"))
    assert registered == [
        "BraveSoftware/Brave-Browser/NativeMessagingHosts/com.tabsense.host.json",
        "google-chrome/NativeMessagingHosts/com.tabsense.host.json",
    ]
    assert "Google Chrome:" in result.stdout and "Brave:" in result.stdout


def test_browser_option_registers_exactly_those(e2e_home, tmp_path):
    result = run_in_fake_home(e2e_home, tmp_path, "--browser", "edge", "--browser", "vivaldi")
    assert result.returncode == 0, result.stdout + result.stderr
    config = tmp_path / ".config"
    assert sorted(str(p.relative_to(config)) for p in config.rglob("*.json")) == [
        "microsoft-edge/NativeMessagingHosts/com.tabsense.host.json",
        "vivaldi/NativeMessagingHosts/com.tabsense.host.json",
    ]


def test_no_browser_found_is_one_sentence_with_the_fix(e2e_home, tmp_path):
    result = run_in_fake_home(e2e_home, tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "No supported browser (Google Chrome, Chromium, Microsoft Edge, Brave, Vivaldi) was found for this user; "
        "fix: start the browser once, or pass --browser NAME or --user-data-dir DIR."
    ]


def test_models_from_a_missing_folder(e2e_home, tmp_path):
    result = run_install_host(e2e_home, "--user-data-dir", str(tmp_path / "p"), "--models-from", str(tmp_path / "nope"))
    assert result.returncode == 1
    assert f"--models-from {tmp_path / 'nope'} is not a folder; fix:" in result.stderr


# --- other operating systems, in-process -------------------------------------------


@pytest.fixture
def installer(monkeypatch, tmp_path):
    spec = importlib.util.spec_from_file_location("install_host_under_test", REPO / "install_host.py")
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)  # dataclasses look their module up
    spec.loader.exec_module(module)
    monkeypatch.setenv("HOME", str(tmp_path))
    return module


def test_macos_locations(installer, monkeypatch, tmp_path):
    monkeypatch.setattr(installer, "system", lambda: "macos")
    support = tmp_path / "Library" / "Application Support"
    want = {
        "chrome": "Google/Chrome", "chromium": "Chromium", "edge": "Microsoft Edge",
        "brave": "BraveSoftware/Brave-Browser", "vivaldi": "Vivaldi",
    }
    for name, folder in want.items():
        target = installer.browser_target(installer.BROWSERS[name])
        assert target.manifest == support / folder / MANIFEST
        assert target.launcher == support / folder / LAUNCHER
        assert target.registry_keys == ()


class FakeWinreg(types.ModuleType):
    """Just enough of winreg: HKEY_CURRENT_USER keys with a default string value."""

    HKEY_CURRENT_USER = "HKCU"
    REG_SZ = 1

    def __init__(self):
        super().__init__("winreg")
        self.keys: dict[str, str | None] = {}

    class _Handle:
        def __init__(self, path):
            self.path = path

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    def OpenKey(self, root, path):
        if path not in self.keys:
            raise FileNotFoundError(path)
        return self._Handle(path)

    def CreateKey(self, root, path):
        self.keys.setdefault(path, None)
        return self._Handle(path)

    def QueryValueEx(self, handle, name):
        if self.keys[handle.path] is None:
            raise FileNotFoundError(name)
        return self.keys[handle.path], self.REG_SZ

    def SetValueEx(self, handle, name, reserved, kind, value):
        self.keys[handle.path] = value

    def DeleteKey(self, root, path):
        if path not in self.keys:
            raise FileNotFoundError(path)
        del self.keys[path]


def test_windows_registry_and_bat_launcher(installer, monkeypatch, tmp_path):
    winreg = FakeWinreg()
    monkeypatch.setitem(sys.modules, "winreg", winreg)
    monkeypatch.setattr(installer, "system", lambda: "windows")
    monkeypatch.setenv("LOCALAPPDATA", str(tmp_path / "AppData" / "Local"))
    monkeypatch.setenv("TABSENSE_HOME", str(tmp_path / "100% home"))
    folder = tmp_path / "100% home" / "native-host"

    chrome = installer.browser_target(installer.BROWSERS["chrome"])
    brave = installer.browser_target(installer.BROWSERS["brave"])
    installer.install(chrome)
    installer.install(brave)
    manifest = folder / "com.tabsense.host.json"
    assert winreg.keys == {
        r"Software\Google\Chrome\NativeMessagingHosts\com.tabsense.host": str(manifest),
        r"Software\BraveSoftware\Brave-Browser\NativeMessagingHosts\com.tabsense.host": str(manifest),
    }
    assert json.loads(manifest.read_text())["path"] == str(folder / "com.tabsense.host.bat")
    assert json.loads(manifest.read_text())["allowed_origins"] == [ORIGIN]
    bat = (folder / "com.tabsense.host.bat").read_bytes().decode()
    assert bat.startswith("@echo off\r\n")
    assert 'set "TABSENSE_HOME=' + str(tmp_path / "100%% home") + '"\r\n' in bat  # % doubled for cmd
    assert bat.endswith(f'"{sys.executable}" -m host %*\r\n')

    # All browsers share one manifest: it stays while any registry key still points at it.
    installer.uninstall(installer.browser_target(installer.BROWSERS["edge"]))
    assert manifest.exists()
    installer.uninstall(brave)  # Brave reads Chrome's key too, so both go
    assert winreg.keys == {} and not manifest.exists()
