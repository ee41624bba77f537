"""`tabsense doctor`: check everything the host needs and say exactly what to fix."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from . import __version__, paths
from .capabilities import ModelPool
from .errors import TabSenseError
from .store import ModelStore


class Report:
    def __init__(self):
        self.problems = 0

    def ok(self, message: str) -> None:
        print(f"  ok    {message}")

    def bad(self, message: str, fix: str) -> None:
        self.problems += 1
        print(f"  FAIL  {message}\n        fix: {fix}")

    def note(self, message: str) -> None:
        print(f"  note  {message}")


def check_home(report: Report, home) -> None:
    print(f"data home: {home}")
    try:
        home.mkdir(parents=True, exist_ok=True)
        probe = home / ".doctor-probe"
        probe.write_text("ok")
        probe.unlink()
        report.ok("data home is writable")
    except OSError as exc:
        report.bad(f"data home is not writable ({exc.strerror})", f"make {home} writable or set TABSENSE_HOME")


def check_models(report: Report, store: ModelStore) -> None:
    print("models:")
    for problem in store.registry.problems:
        report.bad(problem, f"repair or delete {paths.local_registry_path(store.home)}")
    default = store.registry.default_name()
    pool = ModelPool(store, num_threads=1, serve_unblessed=True)
    for spec in store.registry.specs():
        label = f"{spec.name} v{spec.version}" + (" (default)" if spec.name == default else "")
        statuses = store.check(spec)
        missing = [s for s in statuses if s.state == "missing"]
        corrupt = [s for s in statuses if s.state == "corrupt"]
        if missing:
            if spec.name == default:
                report.bad(f"{label}: not installed", f"tabsense models fetch {spec.name}  (or --from DIR)")
            else:
                report.note(f"{label}: not installed (optional)")
            continue
        if corrupt:
            detail = "; ".join(f"{s.path.name}: {s.detail}" for s in corrupt)
            report.bad(f"{label}: damaged ({detail})", f"tabsense models fetch --force {spec.name}")
            continue
        try:
            pool.get(spec.name, spec.task)  # each model through its own task's loader
        except TabSenseError as exc:
            report.bad(f"{label}: does not load ({exc.message})", f"tabsense models fetch --force {spec.name}")
            continue
        loads = "loads" if spec.task == "voice_negatives" else "loads in LiteRT"  # data, not a network
        report.ok(f"{label}: installed, sha256 verified, {loads}" + (", blessed" if spec.blessed else ""))
        if not spec.blessed:
            report.note(f"{label}: not blessed (it has not passed validation): {_unblessed_use(spec.task)}")


def _unblessed_use(task: str) -> str:
    if task in ModelPool.OPT_IN_TASKS:
        return "the host serves it only to requests that opt in to experimental models"
    return "the host will not serve it"


def check_voice_profile(report: Report, store: ModelStore) -> None:
    """The personal voice profile, if any: damaged or hand-edited parts, and what is ready."""
    from .capabilities import Capabilities

    print("voice profile:")
    profile = Capabilities(store, num_threads=1).voice_profile
    summary = profile.summary()
    if not summary["exists"]:
        report.note("none yet: the generic keyword model is used (teach it: the extension's "
                    "\"Teach TabSense your voice\", or tabsense enroll)")
        return
    for problem in summary["problems"]:
        report.bad(problem, "tabsense enroll --list shows the takes; record the affected ones again, "
                            "or tabsense enroll --reset")
    ready = summary["ready_commands"]
    waiting = [c for c in summary["commands"] if c not in ready]
    if ready:
        report.ok(f"ready for {', '.join(ready)} (profile {summary['id']})")
    held = [c for c in waiting if summary["commands"][c].get("message")]  # held back by the check on everyday speech
    for command in held:
        report.note(f"{command}: {summary['commands'][command]['message']}")
    if len(waiting) > len(held):
        report.note(f"not ready yet: {', '.join(c for c in waiting if c not in held)} "
                    "(3 good takes each; tabsense enroll --list)")


def check_registrations(report: Report) -> None:
    """Browser registrations are checked by install_host.py (stdlib only, beside the package)."""
    print("browser registrations:")
    script = Path(__file__).resolve().parents[1] / "install_host.py"
    if not script.is_file():
        report.note("install_host.py is not beside this install; run it from the TabSense folder with --check")
        return
    run = subprocess.run([sys.executable, str(script), "--check"], capture_output=True, text=True, timeout=120)
    for line in (run.stdout + run.stderr).splitlines():
        print(f"        {line}")
    if run.returncode == 0:
        report.ok("install_host.py --check found no problem")
    else:
        report.bad("install_host.py --check found a problem (above)", f"{sys.executable} {script}")


def run_doctor() -> int:
    print(f"TabSense {__version__} doctor (Python {sys.version.split()[0]}, {os.cpu_count()} CPUs)")
    report = Report()
    home = paths.data_home()
    check_home(report, home)
    store = ModelStore(home)
    check_models(report, store)
    check_voice_profile(report, store)
    check_registrations(report)
    if report.problems:
        print(f"{report.problems} problem(s) found.")
        return 1
    print("Everything looks fine.")
    return 0
