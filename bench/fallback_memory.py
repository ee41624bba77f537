"""Memory of the in-browser fallback model, loaded and after its idle release.

    .venv/bin/python -m bench.fallback_memory [--clicks N] [--idle-ms MS] [--json]

Runs the real extension in headless Chromium with no helper app registered, so pictures go to
the in-browser model (offscreen document, TF.js wasm in a dedicated worker). Memory is the RSS
from /proc of the browser's processes (bench.browser.memory_snapshot: the browser started with
this profile and its descendants, summed per kind; the extension's service worker and
offscreen document share the one `extension_renderer` process), and that process's private
memory and PSS (smaps_rollup), which leave out the shared Chromium code pages. Snapshots:

1. started: the browser, nothing classified yet;
2. loaded: after N in-browser classifications (model loaded);
3. released: the model's idle time passed (shortened with the test-only setting
   browserModelIdleMs): worker terminated, offscreen document closed;
4. reloaded: one more click (cold start again) -> its click-to-label time;
5. worker only: the same with a microphone job recorded, so the document stays and only the
   worker goes (what happens while voice commands listen).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "e2e"))

from e2e_support import FALLBACK_BUILD, FALLBACK_MODEL, MENU_ID, SAMPLES, launch  # noqa: E402

from bench.browser import Site, browser_processes, memory_snapshot, pick_warm_image  # noqa: E402

SETTLE_S = 2.0  # after start and after a release, before a snapshot


def offscreen_documents(sw) -> int:
    return sw.evaluate("chrome.runtime.getContexts({contextTypes: ['OFFSCREEN_DOCUMENT']}).then((c) => c.length)")


def offscreen_jobs(sw) -> list[str]:
    return sw.evaluate("chrome.storage.session.get('offscreenJobs').then((s) => s.offscreenJobs || [])")


def click(sw, page, src_url: str) -> dict:
    """The real context-menu listener -> the status it writes once the label is ready."""
    info = {"menuItemId": MENU_ID, "mediaType": "image", "srcUrl": src_url, "pageUrl": page.url,
            "frameId": 0, "frameUrl": page.url}
    return sw.evaluate("""async ([info]) => {
      const tab = (await chrome.tabs.query({})).find((t) => t.url === info.pageUrl);
      await chrome.storage.session.remove('status');
      const done = new Promise((resolve) => {
        const listener = (changes, area) => {
          const now = changes.status?.newValue;
          if (area === 'session' && now && (now.lastLatencyMs != null || now.lastEngine)) {
            chrome.storage.onChanged.removeListener(listener);
            resolve(now);
          }
        };
        chrome.storage.onChanged.addListener(listener);
      });
      chrome.contextMenus.onClicked.dispatch(info, tab);
      return done;
    }""", [info])


def wait_until(predicate, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise SystemExit(f"bench.fallback_memory: timed out waiting for {what}")
        time.sleep(0.1)


def private_mb(profile: Path, kind: str = "extension_renderer") -> dict:
    """Private and proportional memory (smaps_rollup) of the processes of one kind: unlike
    RSS, they leave out the Chromium binary's code pages, which the first classification
    touches and which stay mapped but are shared with every other Chromium process."""
    totals = {"Private_Dirty": 0, "Private_Clean": 0, "Pss": 0}
    for pid, found in browser_processes(profile).items():
        if found != kind:
            continue
        try:
            lines = Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()
        except OSError:
            continue
        for line in lines:
            key, _, rest = line.partition(":")
            if key in totals:
                totals[key] += int(rest.split()[0])
    return {"private_mb": round((totals["Private_Dirty"] + totals["Private_Clean"]) / 1024, 1),
            "pss_mb": round(totals["Pss"] / 1024, 1)}


def summary(profile: Path) -> dict:
    snapshot = memory_snapshot(profile)
    extension = snapshot.get("extension_renderer", {"rss_mb": 0.0, "processes": 0})
    private = private_mb(profile)
    return {"extension_renderer_rss_mb": extension["rss_mb"], "extension_processes": extension["processes"],
            "extension_renderer_private_mb": private["private_mb"], "extension_renderer_pss_mb": private["pss_mb"],
            "browser_total_rss_mb": snapshot["browser_total_rss_mb"],
            "per_kind_rss_mb": {k: v["rss_mb"] for k, v in snapshot.items() if isinstance(v, dict)}}


def measure(playwright, work: Path, clicks: int, idle_ms: int, keep_document: bool, settle_s: float) -> dict:
    profile = work / f"profile-{'mic' if keep_document else 'alone'}"
    profile.mkdir()
    browser = launch(playwright, profile)
    sw = browser.sw
    try:
        image = pick_warm_image()
        site = Site(work / f"site-{profile.name}", [image])
        page = browser.open(site.page_url(image))
        time.sleep(SETTLE_S)
        rows = {"started": summary(profile)}
        sw.evaluate("(ms) => chrome.storage.local.set({browserModelIdleMs: ms})", idle_ms)
        answers = [click(sw, page, site.image_url(image)) for _ in range(clicks)]
        if any(a.get("lastEngine") != "browser" for a in answers):
            raise SystemExit(f"bench.fallback_memory: the in-browser model did not answer: {answers[-1]}")
        if keep_document:  # as background/voice.js records the microphone's job
            sw.evaluate("chrome.storage.session.set({offscreenJobs: ['classifier', 'microphone']})")
        rows["loaded"] = summary(profile)
        if keep_document:
            wait_until(lambda: offscreen_jobs(sw) == ["microphone"], idle_ms / 1000 + 15, "the worker to stop")
        else:
            wait_until(lambda: offscreen_documents(sw) == 0, idle_ms / 1000 + 15, "the document to close")
        time.sleep(settle_s)
        rows["released"] = {**summary(profile), "offscreen_documents": offscreen_documents(sw)}
        again = click(sw, page, site.image_url(image))
        rows["reloaded"] = {**summary(profile), "click_to_label_ms": again.get("lastLatencyMs"),
                            "model_ms": again.get("lastBrowserMs"), "engine": again.get("lastEngine")}
        rows["first_click_to_label_ms"] = answers[0].get("lastLatencyMs")
        rows["warm_click_to_label_ms"] = answers[-1].get("lastLatencyMs")
        site.close()
        return rows
    finally:
        browser.context.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clicks", type=int, default=5, help="in-browser classifications before measuring")
    parser.add_argument("--idle-ms", type=int, default=3000, help="the model's idle time for this run")
    parser.add_argument("--settle-s", type=float, default=SETTLE_S, help="wait after the release before measuring")
    parser.add_argument("--json", action="store_true", help="print the whole report as JSON")
    args = parser.parse_args(argv)
    if not (FALLBACK_MODEL / "fallback.json").is_file():
        print(f"the in-browser model is not built: {FALLBACK_BUILD}", file=sys.stderr)
        return 2
    if not SAMPLES.is_dir():
        print(f"{SAMPLES} is missing", file=sys.stderr)
        return 2
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="tabsense-fallback-memory-") as tmp, sync_playwright() as playwright:
        report = {"document_closed": measure(playwright, Path(tmp), args.clicks, args.idle_ms, False, args.settle_s),
                  "microphone_keeps_document": measure(playwright, Path(tmp), args.clicks, args.idle_ms, True, args.settle_s)}
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    for name, rows in report.items():
        print(f"{name}:")
        for step in ("started", "loaded", "released", "reloaded"):
            row = rows[step]
            extra = f", reload click->label {row['click_to_label_ms']} ms" if step == "reloaded" else ""
            print(f"  {step:9} extension renderer: RSS {row['extension_renderer_rss_mb']:6.1f} MB, "
                  f"private {row['extension_renderer_private_mb']:6.1f} MB, PSS {row['extension_renderer_pss_mb']:6.1f} MB "
                  f"({row['extension_processes']} process); all browser processes RSS {row['browser_total_rss_mb']:6.1f} MB{extra}")
        print(f"  first click {rows['first_click_to_label_ms']} ms, warm click {rows['warm_click_to_label_ms']} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
