#!/usr/bin/env python3
"""Register the TabSense native messaging host with Chromium-based browsers.

    python3 install_host.py                    # every supported browser found for this user
    python3 install_host.py --browser chrome   # only some (repeatable)
    python3 install_host.py --models-from DIR  # also install the models from a folder
    python3 install_host.py --check            # is every registration sound, does the host answer?
    python3 install_host.py --uninstall

The host runs with the Python interpreter that runs this script (sys.executable): run it
with the Python where TabSense and its dependencies are installed, e.g. the one of your
virtual environment. Re-run it after moving that environment or the TabSense folder.

Per browser this writes the manifest `com.tabsense.host.json` that allows only the TabSense
extension, and a launcher (a shell script, or a .bat file on Windows) that starts
`<python> -m host`. On Linux and macOS both go into the browser's NativeMessagingHosts
folder; on Windows they go into the TabSense data folder and an HKCU registry key points
the browser at the manifest. `--user-data-dir DIR` registers for a browser started with
that --user-data-dir instead (Chromium reads DIR/NativeMessagingHosts then).

Standard library only; safe to run again (it rewrites the same files).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shlex
import stat
import struct
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent
if (REPO / "host" / "constants.py").is_file():
    sys.path.insert(0, str(REPO))
try:
    from host.constants import EXTENSION_ID, HOST_NAME
except ImportError:  # this script also works on its own, e.g. copied out of the checkout
    HOST_NAME = "com.tabsense.host"
    EXTENSION_ID = "dkkhfeafnpmeclbkjcjjdoohdalbafda"

ORIGIN = f"chrome-extension://{EXTENSION_ID}/"
MANIFEST_NAME = f"{HOST_NAME}.json"
LAUNCHER_POSIX = f"{HOST_NAME}.sh"
LAUNCHER_WINDOWS = f"{HOST_NAME}.bat"
PING_TIMEOUT_S = 20.0  # a cold start imports LiteRT and numpy; slow disks need a while
THIS_SCRIPT = "install_host.py"

log = logging.getLogger("install_host")


# --- where each browser looks -------------------------------------------------------


@dataclass(frozen=True)
class Browser:
    name: str
    label: str
    linux: str  # under $XDG_CONFIG_HOME (~/.config)
    macos: str  # under ~/Library/Application Support
    windows_data: str  # under %LOCALAPPDATA%, holds "User Data" when the browser was used
    windows_keys: tuple[str, ...]  # HKCU keys that get NativeMessagingHosts\<name>


CHROME_KEY = r"Software\Google\Chrome"
BROWSERS = {
    b.name: b
    for b in (
        Browser("chrome", "Google Chrome", "google-chrome", "Google/Chrome", r"Google\Chrome", (CHROME_KEY,)),
        Browser("chromium", "Chromium", "chromium", "Chromium", "Chromium", (r"Software\Chromium",)),
        Browser("edge", "Microsoft Edge", "microsoft-edge", "Microsoft Edge", r"Microsoft\Edge", (r"Software\Microsoft\Edge",)),
        # On Windows, Brave and Vivaldi read Chrome's key (as KeePassXC documents); their own
        # keys are written too in case a version reads those.
        Browser("brave", "Brave", "BraveSoftware/Brave-Browser", "BraveSoftware/Brave-Browser",
                r"BraveSoftware\Brave-Browser", (r"Software\BraveSoftware\Brave-Browser", CHROME_KEY)),
        Browser("vivaldi", "Vivaldi", "vivaldi", "Vivaldi", "Vivaldi", (r"Software\Vivaldi", CHROME_KEY)),
    )
}


@dataclass
class Target:
    """One place a browser looks for the manifest."""

    label: str
    manifest: Path
    launcher: Path
    registry_keys: tuple[str, ...] = ()  # Windows only
    browser: str | None = None  # None for --user-data-dir


def system() -> str:
    if sys.platform.startswith("win"):
        return "windows"
    if sys.platform == "darwin":
        return "macos"
    return "linux"


def windows_native_dir() -> Path:
    """Windows: manifest and launcher live in the TabSense data folder (the registry points here)."""
    home = os.environ.get("TABSENSE_HOME")
    base = Path(home) if home else Path(os.environ.get("LOCALAPPDATA", Path.home() / "AppData" / "Local")) / "tabsense"
    return base / "native-host"


def browser_config_dir(browser: Browser) -> Path:
    """The browser's per-user folder; it exists once the browser has been started."""
    kind = system()
    if kind == "linux":
        return Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config") / browser.linux
    if kind == "macos":
        return Path.home() / "Library" / "Application Support" / browser.macos
    return Path(os.environ.get("LOCALAPPDATA", Path.home() / "AppData" / "Local")) / browser.windows_data / "User Data"


def browser_target(browser: Browser) -> Target:
    if system() == "windows":
        folder = windows_native_dir()
        return Target(browser.label, folder / MANIFEST_NAME, folder / LAUNCHER_WINDOWS,
                      tuple(f"{key}\\NativeMessagingHosts\\{HOST_NAME}" for key in browser.windows_keys),
                      browser.name)
    folder = browser_config_dir(browser) / "NativeMessagingHosts"
    return Target(browser.label, folder / MANIFEST_NAME, folder / LAUNCHER_POSIX, (), browser.name)


def user_data_dir_target(user_data_dir: Path) -> Target:
    folder = user_data_dir.expanduser().resolve() / "NativeMessagingHosts"
    launcher = LAUNCHER_WINDOWS if system() == "windows" else LAUNCHER_POSIX
    return Target(f"profile {user_data_dir}", folder / MANIFEST_NAME, folder / launcher)


def select_targets(args) -> list[Target]:
    if args.user_data_dir:
        return [user_data_dir_target(Path(args.user_data_dir))]
    if args.browser:
        return [browser_target(BROWSERS[name]) for name in dict.fromkeys(args.browser)]
    # Default: browsers that were used on this computer, plus any we registered before.
    found = [b for b in BROWSERS.values() if browser_config_dir(b).is_dir()]
    targets = [browser_target(b) for b in found]
    for browser in BROWSERS.values():
        target = browser_target(browser)
        if browser not in found and is_registered(target):
            targets.append(target)
    return targets


# --- writing -------------------------------------------------------------------------


def launcher_text(kind: str) -> str:
    """A launcher that starts the host with this interpreter and this TABSENSE_HOME."""
    python = sys.executable
    home = os.environ.get("TABSENSE_HOME")
    source = str(REPO) if (REPO / "host" / "__main__.py").is_file() else None
    if kind == "windows":
        def bat(value: str) -> str:
            return value.replace("%", "%%")  # a literal % must be doubled in .bat files

        lines = ["@echo off", f"rem TabSense native messaging host, written by {THIS_SCRIPT}; run it again to update."]
        if home:
            lines.append(f'set "TABSENSE_HOME={bat(home)}"')
        if source:
            lines.append(f'set "PYTHONPATH={bat(source)};%PYTHONPATH%"')
        lines.append(f'"{bat(python)}" -m host %*')
        return "\r\n".join(lines) + "\r\n"
    lines = ["#!/bin/sh", f"# TabSense native messaging host, written by {THIS_SCRIPT}; run it again to update."]
    if home:
        lines.append(f"TABSENSE_HOME={shlex.quote(home)}; export TABSENSE_HOME")
    if source:
        lines.append(f'PYTHONPATH={shlex.quote(source)}"${{PYTHONPATH:+:$PYTHONPATH}}"; export PYTHONPATH')
    lines.append(f'exec {shlex.quote(python)} -m host "$@"')
    return "\n".join(lines) + "\n"


def manifest_for(launcher: Path) -> dict:
    return {
        "name": HOST_NAME,
        "description": "TabSense on-device image classification",
        "path": str(launcher),
        "type": "stdio",
        "allowed_origins": [ORIGIN],
    }


def write_if_changed(path: Path, text: str) -> bool:
    if path.is_file() and path.read_bytes() == text.encode("utf-8"):
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8", newline="") as handle:  # line endings exactly as given
        handle.write(text)
    os.replace(tmp, path)  # never leave a half-written manifest for the browser to read
    return True


def install(target: Target) -> None:
    kind = "windows" if target.launcher.suffix == ".bat" else "posix"
    changed = write_if_changed(target.launcher, launcher_text(kind))
    if kind == "posix":
        mode = target.launcher.stat().st_mode
        target.launcher.chmod(mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH | stat.S_IRUSR)
    manifest = json.dumps(manifest_for(target.launcher), indent=2) + "\n"
    changed |= write_if_changed(target.manifest, manifest)
    for key in target.registry_keys:
        changed |= registry_set(key, str(target.manifest))
    log.info("%s %s: %s", "registered" if changed else "already registered", target.label, target.manifest)


def uninstall(target: Target) -> None:
    removed = False
    for key in target.registry_keys:
        removed |= registry_delete(key)
    # On Windows every browser's key points at one shared manifest: keep it while one is left.
    still_used = bool(target.registry_keys) and any(is_registered(browser_target(b)) for b in BROWSERS.values())
    if not still_used:
        for path in (target.manifest, target.launcher):
            if path.exists():
                path.unlink()
                removed = True
    log.info("%s %s", "unregistered" if removed else "nothing to remove for", target.label)


# --- Windows registry (HKEY_CURRENT_USER only: no administrator rights needed) -------


def _winreg():
    import winreg  # only exists on Windows

    return winreg


def registry_get(key: str) -> str | None:
    winreg = _winreg()
    try:
        with winreg.OpenKey(winreg.HKEY_CURRENT_USER, key) as handle:
            return winreg.QueryValueEx(handle, "")[0]
    except OSError:
        return None


def registry_set(key: str, value: str) -> bool:
    if registry_get(key) == value:
        return False
    winreg = _winreg()
    with winreg.CreateKey(winreg.HKEY_CURRENT_USER, key) as handle:
        winreg.SetValueEx(handle, "", 0, winreg.REG_SZ, value)
    return True


def registry_delete(key: str) -> bool:
    winreg = _winreg()
    try:
        winreg.DeleteKey(winreg.HKEY_CURRENT_USER, key)
        return True
    except OSError:
        return False


def is_registered(target: Target) -> bool:
    if target.registry_keys:
        return any(registry_get(key) for key in target.registry_keys)
    return target.manifest.is_file()


# --- checking ------------------------------------------------------------------------


class Report:
    """Prints one line per check; a failure is one sentence plus the fix."""

    def __init__(self):
        self.problems = 0

    def ok(self, message: str) -> None:
        print(f"  ok    {message}")

    def bad(self, message: str, fix: str) -> None:
        self.problems += 1
        print(f"  FAIL  {message}\n        fix: {fix}")


def rerun_command(target: Target) -> str:
    python = shlex.quote(sys.executable) if system() != "windows" else f'"{sys.executable}"'
    script = shlex.quote(str(Path(__file__).resolve())) if system() != "windows" else f'"{Path(__file__).resolve()}"'
    if target.browser:
        return f"{python} {script} --browser {target.browser}"
    return f"{python} {script} --user-data-dir {shlex.quote(str(target.manifest.parent.parent))}"


def read_frame(stream, timeout: float) -> dict:
    """One native-messaging frame from `stream`, or an exception after `timeout` seconds."""
    box: dict = {}

    def reader() -> None:
        try:
            header = stream.read(4)
            if len(header) < 4:
                raise EOFError("the host closed its output without answering")
            (length,) = struct.unpack("=I", header)
            if length > 1024 * 1024:
                raise ValueError(f"the host sent an impossible message length ({length} bytes): "
                                 "something printed to stdout")
            box["message"] = json.loads(stream.read(length).decode("utf-8"))
        except Exception as exc:  # reported to the caller below
            box["error"] = exc

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise TimeoutError(f"the host did not answer within {timeout:.0f} s")
    if "error" in box:
        raise box["error"]
    return box["message"]


def ping_launcher(launcher: Path, timeout: float = PING_TIMEOUT_S) -> tuple[dict, float]:
    """Starts the launcher the way Chrome does, sends a framed ping -> (result, milliseconds)."""
    command = ["cmd", "/c", str(launcher)] if launcher.suffix == ".bat" else [str(launcher)]
    started = time.perf_counter()
    process = subprocess.Popen([*command, ORIGIN], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, cwd=str(launcher.parent))
    stderr_lines: list[str] = []
    drain = threading.Thread(target=lambda: stderr_lines.extend(
        process.stderr.read().decode("utf-8", "replace").splitlines()), daemon=True)
    drain.start()
    try:
        body = json.dumps({"id": "install-check", "type": "ping"}).encode()
        try:
            process.stdin.write(struct.pack("=I", len(body)) + body)
            process.stdin.flush()
        except OSError:
            pass  # it already exited: reading its output below reports why
        try:
            answer = read_frame(process.stdout, timeout)
        except EOFError as exc:
            process.wait(5)
            drain.join(2)
            last = next((line for line in reversed(stderr_lines) if line.strip()), "")
            raise RuntimeError(f"{exc} (exit status {process.returncode}{': ' + last.strip() if last else ''})") from None
        elapsed = (time.perf_counter() - started) * 1000
    finally:
        try:
            process.stdin.close()  # end of input: the host finishes and exits
            process.wait(5)
        except (OSError, subprocess.TimeoutExpired):
            process.kill()
            process.wait()
    if not answer.get("ok"):
        error = answer.get("error") or {}
        raise RuntimeError(f"the host answered ping with an error: {error.get('message', error)}")
    return answer["result"], elapsed


def check(target: Target, report: Report, ping_cache: dict) -> None:
    print(f"{target.label}: {target.manifest}")
    fix = f"run {rerun_command(target)}"
    if target.registry_keys:
        for key in target.registry_keys:
            value = registry_get(key)
            if value is None:
                report.bad(f"registry key HKCU\\{key} is missing", fix)
            elif Path(value) != target.manifest:
                report.bad(f"registry key HKCU\\{key} points at {value}, not {target.manifest}", fix)
            else:
                report.ok(f"registry key HKCU\\{key} points at the manifest")
    if not target.manifest.is_file():
        report.bad("the manifest does not exist, so the browser cannot find the host", fix)
        return
    try:
        manifest = json.loads(target.manifest.read_text(encoding="utf-8"))
        assert isinstance(manifest, dict)
    except (OSError, ValueError, AssertionError) as exc:
        report.bad(f"the manifest is not a readable JSON object ({exc})", fix)
        return
    report.ok("manifest exists")
    if manifest.get("name") != HOST_NAME or manifest.get("type") != "stdio":
        report.bad(f"the manifest must have name {HOST_NAME!r} and type 'stdio'", fix)
    origins = manifest.get("allowed_origins")
    if origins == [ORIGIN]:
        report.ok(f"allowed_origins is {ORIGIN}")
    else:
        report.bad(f"allowed_origins is {origins!r}, so the TabSense extension ({ORIGIN}) may not use it", fix)
    launcher = Path(str(manifest.get("path", "")))
    if not launcher.is_absolute():
        report.bad(f"the launcher path {str(launcher)!r} is not absolute, which Chrome requires on Linux and macOS", fix)
        return
    if not launcher.is_file():
        report.bad(f"the launcher {launcher} does not exist", fix)
        return
    if launcher.suffix != ".bat" and not os.access(launcher, os.X_OK):
        report.bad(f"the launcher {launcher} is not executable", f"{fix} (or chmod +x it)")
        return
    report.ok(f"launcher {launcher} is runnable")
    if launcher not in ping_cache:
        try:
            ping_cache[launcher] = ping_launcher(launcher)
        except (OSError, RuntimeError, TimeoutError, ValueError) as exc:
            ping_cache[launcher] = exc
    outcome = ping_cache[launcher]
    if isinstance(outcome, Exception):
        report.bad(f"the host did not answer ping: {outcome}",
                   f"make sure TabSense is installed for {sys.executable} "
                   f"({sys.executable} -m pip install -e {REPO}), then {fix}")
        return
    result, elapsed = outcome
    models = result.get("models") or []
    default = next((m for m in models if m.get("default")), None)
    report.ok(f"host answered ping in {elapsed:.0f} ms (version {result.get('version', '?')})")
    if default is None:
        report.bad("the host reports no default model", f"update TabSense, then {fix}")
    elif not default.get("available"):
        report.bad(f"the default model {default['name']} is not installed",
                   "run tabsense models fetch (or this script with --models-from DIR)")
    else:
        report.ok(f"default model {default['name']} v{default.get('version', '?')} is installed")


# --- models --------------------------------------------------------------------------


def fetch_models(source: Path) -> bool:
    if not source.is_dir():
        log.error("--models-from %s is not a folder; fix: pass the folder that holds the model folders.", source)
        return False
    env = dict(os.environ)
    if (REPO / "host" / "cli.py").is_file():
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    command = [sys.executable, "-m", "host.cli", "models", "fetch", "--from", str(source)]
    log.info("installing models: %s", " ".join(command))
    completed = subprocess.run(command, env=env, stdout=sys.stderr)
    if completed.returncode != 0:
        log.error("installing the models from %s failed (exit status %d); fix: see the messages above.",
                  source, completed.returncode)
        return False
    return True


# --- main ----------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog=THIS_SCRIPT,
        description="Register the TabSense native messaging host for this user. "
        "The host will run with the Python that runs this script.",
    )
    parser.add_argument("--browser", action="append", choices=sorted(BROWSERS), metavar="NAME",
                        help=f"register for this browser only (repeatable; one of {', '.join(BROWSERS)}); "
                        "default: every supported browser found")
    parser.add_argument("--user-data-dir", metavar="DIR",
                        help="register for a browser started with --user-data-dir=DIR (into DIR/NativeMessagingHosts)")
    parser.add_argument("--models-from", metavar="DIR", help="also install the models from this folder (tabsense models fetch --from DIR)")
    action = parser.add_mutually_exclusive_group()
    action.add_argument("--uninstall", action="store_true", help="remove the registration")
    action.add_argument("--check", action="store_true", help="check the registration and that the host answers, change nothing")
    parser.add_argument("-v", "--verbose", action="store_true", help="more detail on stderr")
    args = parser.parse_args(argv)
    if args.user_data_dir and args.browser:
        parser.error("use either --browser or --user-data-dir, not both")
    if args.models_from and (args.uninstall or args.check):
        parser.error("--models-from goes with installing, not with --uninstall or --check")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sys.stdout.reconfigure(line_buffering=True)  # keep report lines in order with log lines
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, format="%(message)s", stream=sys.stderr)
    targets = select_targets(args)
    if not targets:
        log.error("No supported browser (%s) was found for this user; fix: start the browser once, "
                  "or pass --browser NAME or --user-data-dir DIR.", ", ".join(b.label for b in BROWSERS.values()))
        return 1
    if system() == "windows" and args.user_data_dir:
        log.warning("Note: on Windows, browsers find hosts through the registry, not DIR/NativeMessagingHosts; "
                    "use --browser NAME for a normal installation.")

    if args.check:
        report = Report()
        cache: dict = {}
        for target in targets:
            check(target, report, cache)
        print(f"{report.problems} problem(s) found." if report.problems else "Everything looks fine.")
        return 1 if report.problems else 0

    if args.uninstall:
        for target in targets:
            uninstall(target)
        return 0

    for target in targets:
        try:
            install(target)
        except OSError as exc:
            log.error("Cannot write %s (%s); fix: make that folder writable for you, or pass --user-data-dir DIR.",
                      exc.filename or target.manifest, exc.strerror or exc)
            return 1
    if args.models_from and not fetch_models(Path(args.models_from).expanduser()):
        return 1
    # Finish with the same check --check runs, so problems show up now, not in the browser.
    report = Report()
    cache = {}
    for target in targets:
        check(target, report, cache)
    if report.problems:
        print(f"{report.problems} problem(s) found: the browser will not be able to use TabSense until they are fixed.")
        return 1
    print("TabSense is ready: right-click a picture and choose \"Classify image with TabSense\".")
    return 0


if __name__ == "__main__":
    sys.exit(main())
