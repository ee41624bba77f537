"""Side-by-side browser benchmark: the TabSense host path against TF.js.

In one run, on Debian's headless Chromium with a copy of the real extension, for the same
pictures and the same MobileNet (v1 0.75 224, float32 by default):

1. native: the real context-menu listener, click -> label drawn, through native messaging
   (the extension's own `lastLatencyMs`, measured in the service worker from the click to
   the answer drawn over the picture);
2. websocket: the same, with the extension set to `tabsense serve --ws`;
3. tfjs-wasm: the lab's TF.js graph model in an extension page (extension/bench/), wasm
   backend, single-threaded (SIMD);
4. tfjs-cpu: the same page, TF.js pure-JS cpu backend;
5. native-int8: the native path with the host serving the lab's blessed full-integer variant
   of the same network (`MODEL_int8`), when it is registered: what the product serves. The
   issue's same-precision comparison stays `native` (float32, the weights TF.js runs);
6. fallback: the extension itself with no helper app installed, click -> label through its
   in-browser model (offscreen document, TF.js wasm in a worker, float16 weights; built by
   `tabsense-models export-fallback`), measured like the host paths.

Each path gets a fresh browser: "cold" is its first result after browser start, then
p50/p95 over warm runs of one picture, the RSS of the processes involved (from /proc),
and the top-1 of every path on the sample pictures (agreement with the native path).
`tabsense bench` (host cold start, throughput with 1 and 2 threads, keyword model per
window) is run too and its JSON included.

Nothing in the repository is modified: the extension is copied to a temporary folder, its
manifest gets the CSP the wasm backend needs, and the lab's model is copied in.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "e2e"))

import e2e_support  # noqa: E402
from e2e_support import (  # noqa: E402
    CHROMIUM, EXTENSION, EXTENSION_ID, EXTENSION_URL, FALLBACK_BUILD, FALLBACK_MODEL, MENU_ID, SAMPLES, QuietHandler,
    python_env,
)

RESULTS = REPO / "bench" / "results"
DEFAULT_MODEL = "mobilenet_v1_0.75_224"
WASM_CSP = "script-src 'self' 'wasm-unsafe-eval'; object-src 'self'"
BASE_FLAGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--no-default-browser-check", "--disable-dev-shm-usage",
]
PATHS = ("native", "native-int8", "websocket", "tfjs-wasm", "tfjs-cpu", "fallback")
TARGET_PATHS = ("native", "tfjs-wasm", "tfjs-cpu")  # what the targets compare
EXTRA_WARMUP = 2  # warm runs after the cold one that are not counted
# Idle time before every timed run, on every path: people do not click again within a
# millisecond of the last label. Back to back, a host-path click overlapped the end of the
# previous one (its label being drawn, the host's threads finishing) and paid ~6 ms for it,
# which a single-page TF.js loop never does. Set by --gap-ms.
gap_ms = 100


def int8_variant(model: str) -> str:
    return f"{model}_int8"


def registered_models(home: Path) -> dict[str, dict]:
    try:
        return {m["name"]: m for m in json.loads((home / "registry.json").read_text()).get("models", [])}
    except (OSError, ValueError):
        return {}


def default_paths(home: Path | None = None, model: str = DEFAULT_MODEL) -> tuple[str, ...]:
    """Every path, but the extension's fallback only when its model has been generated, and
    native-int8 only when `home` (default: the usual data home) registers MODEL_int8."""
    skip = set()
    if not (FALLBACK_MODEL / "fallback.json").is_file():
        print(f"bench.browser: skipping the fallback path: its model is not built ({FALLBACK_BUILD})", file=sys.stderr)
        skip.add("fallback")
    if int8_variant(model) not in registered_models(home or source_home()):
        print(f"bench.browser: skipping the native-int8 path: {int8_variant(model)} is not registered", file=sys.stderr)
        skip.add("native-int8")
    return tuple(p for p in PATHS if p not in skip)


class BenchError(SystemExit):
    def __init__(self, message: str):
        super().__init__(f"bench.browser: {message}")


# --- setup: model files, a private TABSENSE_HOME, the extension copy, the test site -----


def source_home() -> Path:
    from host import paths

    return paths.data_home()


def lab_tfjs_dir(home: Path, model: str) -> Path:
    return home / "lab" / model / "exports" / "tfjs_graph"


def build_command(model: str) -> str:
    return f".venv/bin/tabsense-models build --from ../shared/models --model {model} --quick"


def make_home(src: Path, model: str, dest: Path) -> Path:
    """A TABSENSE_HOME whose default image model is `model`, sharing the installed models."""
    src = absolute_path(src)  # the models link in `dest` must not depend on the current folder
    registry_path = src / "registry.json"
    if not registry_path.exists():
        raise BenchError(f"{registry_path} is missing: install the models first (./scripts/setup.sh).")
    registry = json.loads(registry_path.read_text())
    names = [m["name"] for m in registry.get("models", [])]
    if model not in names:
        raise BenchError(f"model {model} is not registered in {registry_path} (has: {', '.join(names)}); "
                         f"build it with: {build_command(model)}")
    registry.setdefault("defaults", {})["image_classification"] = model
    dest.mkdir(parents=True)
    (dest / "registry.json").write_text(json.dumps(registry, indent=2))
    (dest / "models").symlink_to(src / "models")
    return dest


def labels_of(home: Path, model: str) -> list[str]:
    """The host's own label names (host/classifier.py load_labels), index -> name."""
    from host.classifier import load_labels
    from host.store import ModelStore

    store = ModelStore(home)
    spec = store.registry.get(model)
    return load_labels(store.file_path(spec, "labels"), spec.output.get("label_offset", 0),
                       spec.output.get("num_classes", 1000))


def copy_extension(dest: Path, tfjs_dir: Path) -> Path:
    """The extension as it is in the repository, plus the CSP for wasm and the model."""
    shutil.copytree(EXTENSION, dest)
    manifest_path = dest / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["content_security_policy"] = {"extension_pages": WASM_CSP}
    manifest_path.write_text(json.dumps(manifest, indent=2))
    shutil.copytree(tfjs_dir, dest / "bench" / "model")
    return dest


def pick_samples(count: int) -> list[Path]:
    files = sorted(p for p in SAMPLES.iterdir() if p.suffix.lower() in (".jpg", ".jpeg"))
    if not files:
        raise BenchError(f"no JPEG files in {SAMPLES}")
    step = max(1, len(files) // count)
    return files[::step][:count]


def pick_warm_image() -> Path:
    from host.bench import pick_images

    return pick_images(SAMPLES)["100KB"]


class Site:
    """The pictures (symlinks) and one page per picture, served on 127.0.0.1."""

    def __init__(self, root: Path, images: list[Path]):
        root.mkdir(parents=True)
        for image in images:
            link = root / image.name
            if not link.exists():
                link.symlink_to(image)
            (root / f"{image.stem}.html").write_text(
                f'<!doctype html><html><head><meta charset="utf-8"><title>{image.stem}</title></head>'
                f'<body><img src="{image.name}" width="300"></body></html>')
        handler = functools.partial(QuietHandler, directory=str(root))
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"

    def image_url(self, image: Path) -> str:
        return f"{self.base}/{image.name}"

    def page_url(self, image: Path) -> str:
        return f"{self.base}/{image.stem}.html"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


# --- processes and memory ---------------------------------------------------------------


def _proc(pid: int) -> tuple[int, list[str]] | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
        return ppid, argv
    except (OSError, ValueError, IndexError):
        return None


def _status_kb(pid: int) -> dict:
    values = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                values[key] = int(rest.split()[0])
    except OSError:
        pass
    return values


def browser_processes(user_data_dir: Path) -> dict[int, str]:
    """pid -> kind for the browser started with this profile and all its descendants."""
    table = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (info := _proc(int(entry.name))):
            table[int(entry.name)] = info
    marker = f"--user-data-dir={user_data_dir}"
    roots = {pid for pid, (_, argv) in table.items() if marker in argv}
    family = set(roots)
    changed = True
    while changed:
        changed = False
        for pid, (ppid, _) in table.items():
            if ppid in family and pid not in family:
                family.add(pid)
                changed = True
    kinds = {}
    for pid in family:
        argv = table[pid][1]
        joined = " ".join(argv)
        if "-m" in argv and "host" in argv:
            kinds[pid] = "native_host"
        elif "--type=renderer" in joined:
            kinds[pid] = "extension_renderer" if "--extension-process" in joined else "page_renderer"
        elif (found := re.search(r"--type=([\w-]+)", joined)):
            kinds[pid] = found.group(1)
        elif argv and argv[0].endswith(("chromium", "chrome")) or "chromium" in joined:
            kinds[pid] = "browser"
        else:
            kinds[pid] = "other"
    return kinds


def memory_snapshot(user_data_dir: Path, extra: dict[str, int] | None = None) -> dict:
    """RSS now and peak RSS (VmHWM) in MB, summed per kind of process."""
    groups: dict[str, dict] = {}
    pids = dict(browser_processes(user_data_dir))
    for name, pid in (extra or {}).items():
        pids[pid] = name
    for pid, kind in pids.items():
        status = _status_kb(pid)
        if not status:
            continue
        group = groups.setdefault(kind, {"processes": 0, "rss_mb": 0.0, "peak_rss_mb": 0.0})
        group["processes"] += 1
        group["rss_mb"] += status.get("VmRSS", 0) / 1024
        group["peak_rss_mb"] += status.get("VmHWM", 0) / 1024
    for group in groups.values():
        group["rss_mb"] = round(group["rss_mb"], 1)
        group["peak_rss_mb"] = round(group["peak_rss_mb"], 1)
    browser_total = sum(g["rss_mb"] for k, g in groups.items() if k not in ("native_host", "ws_server"))
    groups["browser_total_rss_mb"] = round(browser_total, 1)
    return groups


# --- the browser ------------------------------------------------------------------------


def launch(playwright, extension: Path, profile: Path):
    context = playwright.chromium.launch_persistent_context(
        str(profile), executable_path=CHROMIUM, headless=True,
        args=[*BASE_FLAGS, f"--disable-extensions-except={extension}", f"--load-extension={extension}"],
        viewport={"width": 1000, "height": 720},
    )
    workers = context.service_workers
    sw = workers[0] if workers else context.wait_for_event("serviceworker", timeout=15000)
    if not sw.url.startswith(EXTENSION_URL):
        raise BenchError(f"unexpected service worker {sw.url}")
    return context, sw


# Fires the real context-menu listener and waits, inside the service worker, for the
# status the extension writes when the label is drawn: -> {latencyMs, swMs, error}
CLICK_JS = """async ([info, labelOnly, gapMs]) => {
  const tab = (await chrome.tabs.query({})).find((t) => t.url === info.pageUrl);
  if (!tab) throw new Error('no tab for ' + info.pageUrl);
  const { status = {} } = await chrome.storage.session.get('status');
  await chrome.storage.session.set({ status: { ...status, lastLatencyMs: null, lastError: null } });
  const done = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no answer in 30 s')), 30000);
    const listener = (changes, area) => {
      const now = changes.status?.newValue;
      if (area !== 'session' || !now) return;
      // With no helper app, the failed connection is recorded before the in-browser answer.
      if (now.lastLatencyMs != null || (now.lastError && !labelOnly)) {
        chrome.storage.onChanged.removeListener(listener);
        clearTimeout(timer);
        resolve(now);
      }
    };
    chrome.storage.onChanged.addListener(listener);
  });
  await new Promise((resolve) => setTimeout(resolve, gapMs));
  const started = performance.now();
  chrome.contextMenus.onClicked.dispatch(info, tab);
  const after = await done;
  return { latencyMs: after.lastLatencyMs, swMs: performance.now() - started,
           error: after.lastLatencyMs == null ? after.lastError : null, transport: after.transport,
           hostMs: after.lastHostMs, browserMs: after.lastBrowserMs, engine: after.lastEngine,
           stages: after.lastStages };
}"""


def click(sw, page, src_url: str, label_only: bool = False) -> dict:
    # frameId 0 and frameUrl: what Chrome passes for a right-click on a picture in the page itself.
    info = {"menuItemId": MENU_ID, "mediaType": "image", "srcUrl": src_url, "pageUrl": page.url,
            "frameId": 0, "frameUrl": page.url}
    answer = sw.evaluate(CLICK_JS, [info, label_only, gap_ms])
    if answer.get("error"):
        raise BenchError(f"the extension reported an error for {src_url}: {answer['error']}")
    return answer


def overlay_label(page) -> str:
    overlay = page.locator("tabsense-overlay[data-tabsense-state='result']").first
    overlay.wait_for(state="attached", timeout=15000)
    return overlay.get_attribute("data-tabsense-label")


def percentiles(values: list[float]) -> dict:
    ordered = sorted(values)

    def at(q):
        return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]

    return {"p50": round(statistics.median(ordered), 1), "p95": round(at(0.95), 1),
            "min": round(ordered[0], 1), "max": round(ordered[-1], 1), "n": len(ordered)}


def run_host_path(playwright, kind: str, ext: Path, work: Path, site: Site, warm_image: Path,
                  samples: list[Path], runs: int, ws: dict | None, home: Path | None = None,
                  name: str | None = None) -> dict:
    """`home`: the TABSENSE_HOME the native host runs with (default work/home); `name`: the row."""
    profile = work / f"profile-{name or kind}"
    profile.mkdir()
    if kind == "native":
        result = subprocess.run([sys.executable, str(REPO / "install_host.py"), "--user-data-dir", str(profile)],
                                env=python_env(home or work / "home"), capture_output=True, text=True, timeout=120)
        if result.returncode != 0:
            raise BenchError(f"install_host.py failed:\n{result.stdout}{result.stderr}")
    launched = time.perf_counter()
    context, sw = launch(playwright, ext, profile)
    in_browser = kind == "fallback"  # no helper app registered: the extension's own TF.js model answers
    try:
        if ws:
            sw.evaluate("(s) => chrome.storage.local.set(s)",
                        {"transport": "websocket", "wsPort": ws["port"], "wsToken": ws["token"]})
        page = context.new_page()
        page.goto(site.page_url(warm_image))
        cold = click(sw, page, site.image_url(warm_image), in_browser)
        cold_from_launch = (time.perf_counter() - launched) * 1000
        label = overlay_label(page)
        if in_browser and cold.get("engine") != "browser":
            raise BenchError(f"{kind}: the extension's in-browser model did not answer ({cold.get('engine')})")
        if not in_browser and cold.get("transport") != ("websocket" if ws else "native"):
            raise BenchError(f"{kind}: the extension used transport {cold.get('transport')}")
        warm, sw_ms, host_ms, stages = [], [], [], []
        for i in range(EXTRA_WARMUP + runs):
            answer = click(sw, page, site.image_url(warm_image), in_browser)
            if i >= EXTRA_WARMUP:
                warm.append(answer["latencyMs"])
                sw_ms.append(answer["swMs"])
                model_ms = answer.get("browserMs") if in_browser else answer.get("hostMs")
                if model_ms is not None:
                    host_ms.append(model_ms)
                if answer.get("stages"):
                    stages.append(answer["stages"])
        extra = {"ws_server": ws["pid"]} if ws else None
        memory = memory_snapshot(profile, extra)
        top1 = {}
        for image in samples:
            page.goto(site.page_url(image))
            click(sw, page, site.image_url(image), in_browser)
            top1[image.name] = overlay_label(page)
        stage_names = sorted({name for row in stages for name in row}, key=lambda n: statistics.median(
            [row[n] for row in stages if n in row]))
        return {
            "cold_ms": cold["latencyMs"], "cold_from_browser_launch_ms": round(cold_from_launch, 1),
            "cold_label": label, "warm_ms": percentiles(warm),
            "warm_ms_seen_by_service_worker": percentiles(sw_ms),
            ("browser_model_total_ms" if in_browser else "host_timing_total_ms"): percentiles(host_ms) if host_ms else None,
            # ms since the click at which each step of a warm click ended (extension's lastStages)
            "warm_stages_ms_since_click": {n: percentiles([row[n] for row in stages if n in row]) for n in stage_names},
            "memory": memory, "top1": top1,
            "timing": "extension's own lastLatencyMs: service worker, menu click -> answer ready to draw over the picture",
        }
    finally:
        context.close()


def run_tfjs_path(playwright, backend: str, ext: Path, work: Path, site: Site, warm_image: Path,
                  samples: list[Path], runs: int, labels: list[str]) -> dict:
    profile = work / f"profile-tfjs-{backend}"
    profile.mkdir()
    launched = time.perf_counter()
    context, sw = launch(playwright, ext, profile)
    try:
        page = context.new_page()
        errors = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        url = (f"{EXTENSION_URL}/bench/tfjs-bench.html?backend={backend}&model=model/model.json"
               f"&image={site.image_url(warm_image)}")
        page.goto(url)
        cold = page.evaluate("window.benchCold")
        cold_from_launch = (time.perf_counter() - launched) * 1000
        if not cold or not cold.get("ok"):
            raise BenchError(f"tfjs-{backend}: {cold and cold.get('error')} {errors}")
        answers = page.evaluate(
            "async ([url, n, gap]) => { const out = []; for (let i = 0; i < n; i++) {"
            " await new Promise((resolve) => setTimeout(resolve, gap)); out.push(await tabsenseBench.classify(url)); }"
            " return out; }",
            [site.image_url(warm_image), EXTRA_WARMUP + runs, gap_ms])[EXTRA_WARMUP:]
        memory = memory_snapshot(profile)
        many = page.evaluate("(urls) => tabsenseBench.classifyMany(urls)", [site.image_url(s) for s in samples])
        stages = {k: percentiles([a["stages"][k] for a in answers]) for k in answers[0]["stages"]}
        return {
            "cold_ms": round(cold["firstResultMs"], 1), "cold_from_browser_launch_ms": round(cold_from_launch, 1),
            "cold_label": labels[cold["first"]["index"]], "cold_first_classify_ms": round(cold["first"]["ms"], 1),
            "setup": cold["info"], "warm_ms": percentiles([a["ms"] for a in answers]), "warm_stages_ms": stages,
            "memory": memory, "top1": {s.name: labels[a["index"]] for s, a in zip(samples, many)},
            "timing": "extension page, performance.now(): fetch -> decode -> crop/resize (canvas) -> predict -> top-1; "
                      "cold = page navigation start -> first result (loads TF.js, backend, model)",
        }
    finally:
        context.close()


def start_ws_server(home: Path) -> tuple[subprocess.Popen, dict]:
    try:
        server, port, token = e2e_support.start_ws_server(home)
    except RuntimeError as exc:
        raise BenchError(str(exc)) from exc
    return server, {"port": port, "token": token, "pid": server.pid}


def host_bench(home: Path, model: str, runs: int, work: Path) -> dict:
    out = work / f"host-bench-{model}.json"
    result = subprocess.run([sys.executable, "-m", "host.cli", "bench", "--model", model, "--runs", str(runs),
                             "--json", str(out)], env=python_env(home), capture_output=True, text=True, timeout=600)
    if result.returncode != 0 or not out.exists():
        return {"error": (result.stderr or result.stdout)[-2000:]}
    return json.loads(out.read_text())


# --- report -----------------------------------------------------------------------------


def agreement(report: dict, reference: str = "native") -> None:
    ref = report["paths"].get(reference, {}).get("top1")
    for name, path in report["paths"].items():
        if ref and "top1" in path:
            same = sum(path["top1"].get(k) == v for k, v in ref.items())
            path["top1_agreement_with_native"] = {"same": same, "images": len(ref), "fraction": round(same / len(ref), 4)}


def targets(report: dict) -> dict:
    p = report["paths"]
    if not all(k in p for k in TARGET_PATHS):
        return {}
    native = p["native"]
    return {
        "warm_p50_speedup_vs_tfjs_cpu": round(p["tfjs-cpu"]["warm_ms"]["p50"] / native["warm_ms"]["p50"], 2),
        "warm_p50_speedup_vs_tfjs_wasm": round(p["tfjs-wasm"]["warm_ms"]["p50"] / native["warm_ms"]["p50"], 2),
        "target_10x_vs_cpu_met": p["tfjs-cpu"]["warm_ms"]["p50"] >= 10 * native["warm_ms"]["p50"],
        "target_2x_vs_wasm_met": p["tfjs-wasm"]["warm_ms"]["p50"] >= 2 * native["warm_ms"]["p50"],
        "cold_faster_than_both_met": native["cold_ms"] < min(p["tfjs-cpu"]["cold_ms"], p["tfjs-wasm"]["cold_ms"]),
        **({
            "int8_host_warm_p50_speedup_vs_tfjs_wasm": round(p["tfjs-wasm"]["warm_ms"]["p50"] / p["native-int8"]["warm_ms"]["p50"], 2),
            "int8_host_target_2x_vs_wasm_met": p["tfjs-wasm"]["warm_ms"]["p50"] >= 2 * p["native-int8"]["warm_ms"]["p50"],
        } if "native-int8" in p else {}),
    }


def _mem(path: dict, kinds: tuple[str, ...]) -> str:
    memory = path.get("memory", {})
    return " + ".join(f"{memory[k]['rss_mb']:.0f}" for k in kinds if k in memory) or "-"


def markdown(report: dict) -> str:
    lines = [
        f"# Browser benchmark: TabSense host vs TF.js ({report['model']})",
        "",
        f"Which model each row runs: `native` and `websocket`: the host serving `{report.get('host_model', report['model'])}`"
        + (" (float32: the same weights and precision as TF.js, the comparison the targets are about)"
           if report.get("host_model", report["model"]) == report["model"] else f" (TF.js runs `{report['model']}`)")
        + "; " + (f"`native-int8`: the host serving `{report['int8_model']}`, the model lab's blessed full-integer "
                  "variant of the same network (what the product serves; informative); " if report.get("int8_model") else "")
        + f"`tfjs-*`: `{report['model']}` float32 in TF.js; `fallback`: the extension's own `{report['model']}` "
          "with float16 weights.",
        "",
        f"Regenerate: `{report['command']}`",
        "",
        f"{report['created']}, {report['machine']}, Chromium {report['chromium']}, TF.js {report['tfjs_version']}. "
        f"Warm: {report['warm_runs']} runs of `{report['warm_image']}` after the cold run and {EXTRA_WARMUP} more, "
        f"each after {report.get('gap_ms', 0)} ms idle (every path); "
        f"agreement: top-1 on {report['sample_images']} sample pictures. One fresh headless browser per path.",
        "",
        "| path | cold: first result (ms) | cold from browser launch (ms) | warm p50 (ms) | warm p95 (ms) | "
        "extension renderer RSS (MB) | host RSS (MB) | all browser processes RSS (MB) | top-1 agreement with native |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, path in report["paths"].items():
        agree = path.get("top1_agreement_with_native", {})
        lines.append(
            f"| {name} | {path['cold_ms']:.0f} | {path['cold_from_browser_launch_ms']:.0f} | {path['warm_ms']['p50']:.1f} | "
            f"{path['warm_ms']['p95']:.1f} | {_mem(path, ('extension_renderer',))} | {_mem(path, ('native_host', 'ws_server'))} | "
            f"{path['memory'].get('browser_total_rss_mb', 0):.0f} | "
            f"{agree.get('same', '-')}/{agree.get('images', '-')} |")
    t = report.get("targets") or {}
    if t:
        lines += [
            "",
            "Targets, warm p50 of the native path against TF.js in the extension:",
            f"- >= 10x faster than TF.js cpu: **{t['warm_p50_speedup_vs_tfjs_cpu']}x** "
            f"({'met' if t['target_10x_vs_cpu_met'] else 'NOT met'})",
            f"- >= 2x faster than TF.js wasm: **{t['warm_p50_speedup_vs_tfjs_wasm']}x** "
            f"({'met' if t['target_2x_vs_wasm_met'] else 'NOT met'})",
            f"- cold first result faster than both: **{'met' if t['cold_faster_than_both_met'] else 'NOT met'}**",
        ]
        if "int8_host_warm_p50_speedup_vs_tfjs_wasm" in t:
            lines.append(
                f"- informative, the host serving the int8 variant (`native-int8` row) against the same TF.js wasm "
                f"(float32): **{t['int8_host_warm_p50_speedup_vs_tfjs_wasm']}x** "
                f"({'>= 2x' if t['int8_host_target_2x_vs_wasm_met'] else 'under 2x'})")
    for name in ("native", "native-int8", "websocket"):
        path = report["paths"].get(name)
        if path and path.get("host_timing_total_ms"):
            lines.append(f"\n{name}: of the warm p50 {path['warm_ms']['p50']:.1f} ms, the host's own handling "
                         f"(`timing_ms.total`: decode, preprocess, inference) is p50 {path['host_timing_total_ms']['p50']:.1f} ms; "
                         "the rest is the extension (fetching the picture, base64, the transport, drawing the label).")
    for name in ("native", "native-int8", "websocket", "fallback"):
        stages = (report["paths"].get(name) or {}).get("warm_stages_ms_since_click")
        if stages:
            steps = ", ".join(f"{step} {value['p50']:.1f}" for step, value in stages.items())
            lines.append(f"\n{name}, a warm click step by step (p50 ms since the click at which each step ended; "
                         f"the picture is fetched while the overlay script is injected): {steps}.")
    fallback = report["paths"].get("fallback")
    if fallback and fallback.get("browser_model_total_ms"):
        lines.append(f"\nfallback: the extension with no helper app installed, its in-browser model (TF.js wasm in the "
                     f"offscreen document's worker, float16 weights, Pillow's resize); the worker's own time "
                     f"p50 {fallback['browser_model_total_ms']['p50']:.1f} ms.")
    lines += [
        "",
        "What is timed:",
        "- native / websocket / fallback: the extension's own click-to-label time (`lastLatencyMs`, service "
        "worker: context-menu click -> picture fetched -> sent to the host (fallback: to the in-browser model) -> "
        "answer back, ready to draw; drawing it is the 'drawn' step above, 2-4 ms more). The click names frame 0, "
        "as Chrome's own clicks on a picture in the page do. "
        "Cold = the first click after browser start; for native it includes starting the host process "
        "(Python, LiteRT, model load); the WebSocket server was started just before the browser (its model "
        "loads on the first request); for fallback it includes loading TF.js, its wasm and the model.",
        "- tfjs-*: in the extension page `extension/bench/tfjs-bench.html`: fetch -> createImageBitmap -> "
        "central 87.5% crop + resize to 224 with a 2D canvas (`imageSmoothingQuality: 'high'`, not Pillow's "
        "filter) -> (x-127.5)/127.5 -> graph model -> top-1. Nothing is drawn on a web page. Cold = page "
        "navigation start -> first result (parse TF.js, init backend, load the model, first inference).",
        "- 'cold from browser launch' is wall time in the driver from launching Chromium to the first result "
        "(includes browser start and Playwright round trips) — the same yardstick for every path.",
        "- Memory: RSS from /proc after the warm runs, summed per process kind; the TF.js page and the "
        "service worker share the extension renderer.",
        f"- 2 shared vCPUs: other work on the machine adds noise, especially to p95 (load average "
        f"{report['load_average_at_start'][0]:.1f} at the start, "
        f"{report.get('load_average_after_browser_paths', [0])[0]:.1f} after the browser paths).",
    ]
    hb = report.get("host_bench") or {}
    if hb:
        lines += ["", "Host alone, `tabsense bench --model MODEL` (full JSON in browser.json; latency in-process through "
                  "the request handler, cold start on a real `python -m host` subprocess):", "",
                  "| model | 100 KB JPEG p50 / p95 (ms) | infer p50 (ms) | cold: spawn -> first label p50 (ms) | "
                  "peak RSS (MB) | images/s, 1 thread | images/s, 2 threads | keyword model per window |",
                  "|---|---|---|---|---|---|---|---|"]
        for model, data in hb.items():
            if "error" in data:
                lines.append(f"| {model} | failed: {data['error'][:200]} | | | | | | |")
                continue
            small = data.get("latency", {}).get("100KB", {})
            cold = data.get("cold", {})
            tput = data.get("throughput_images_per_s", {})
            kw = data.get("keyword_window") or {}
            kw_text = (f"{kw['invoke_ms']['p50']:.3f} ms p50" if "invoke_ms" in kw else f"not measured: {kw.get('error', '-')}")
            lines.append(
                f"| {model} | {small.get('total_ms', {}).get('p50', '-')} / {small.get('total_ms', {}).get('p95', '-')} | "
                f"{small.get('infer_ms', {}).get('p50', '-')} | {cold.get('spawn_to_first_label_ms', {}).get('p50', '-')} | "
                f"{cold.get('peak_rss_mb', '-')} | {tput.get('1_threads', '-')} | {tput.get('2_threads', '-')} | {kw_text} |")
    return "\n".join(lines) + "\n"


def chromium_version() -> str:
    try:
        out = subprocess.run([CHROMIUM, "--version"], capture_output=True, text=True, timeout=30).stdout
        found = re.search(r"Chromium ([\d.]+)", out)
        return found.group(1) if found else out.strip() or "?"
    except (OSError, subprocess.TimeoutExpired):
        return "?"


def absolute_path(value: str | Path) -> Path:
    return Path(value).expanduser().resolve()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.browser", description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=DEFAULT_MODEL, help="registered image model (float32) and its lab TF.js export")
    parser.add_argument("--host-model", default=None, metavar="NAME",
                        help="what the host serves on the native/websocket paths (default: --model; e.g. "
                             "MODEL_int8, the lab's blessed full-integer variant of the same network)")
    parser.add_argument("--runs", type=int, default=50, help="warm runs per path (default 50)")
    parser.add_argument("--images", type=int, default=50, help="sample pictures for top-1 agreement (default 50)")
    parser.add_argument("--paths", default=None, help=f"comma-separated subset of {','.join(PATHS)} (default: all; "
                        "fallback only when its model is built)")
    parser.add_argument("--host-bench-model", action="append", default=None,
                        help="models for `tabsense bench` (default: --model and MODEL_int8); 'none' to skip")
    parser.add_argument("--host-bench-runs", type=int, default=100)
    parser.add_argument("--gap-ms", type=int, default=gap_ms,
                        help=f"idle time before every timed run, every path (default {gap_ms}; 0 = back to back)")
    parser.add_argument("--home", type=absolute_path, default=None,
                        help="TABSENSE_HOME with the registered models and the lab's exports (default: the usual one)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="folder for browser.json and browser.md")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args(argv)
    args.paths = [p for p in args.paths.split(",") if p] if args.paths else list(default_paths(args.home, args.model))
    unknown = set(args.paths) - set(PATHS)
    if unknown:
        parser.error(f"unknown paths: {', '.join(sorted(unknown))}")
    return args


def main(argv: list[str] | None = None) -> int:
    global gap_ms
    args = parse_args(argv)
    gap_ms = args.gap_ms
    paths = args.paths

    home_src = args.home or source_home()
    tfjs_dir = lab_tfjs_dir(home_src, args.model)
    if any(p.startswith("tfjs") for p in paths) and not (tfjs_dir / "model.json").exists():
        raise BenchError(f"the model lab's TF.js graph model is missing ({tfjs_dir / 'model.json'}); "
                         f"build it with: {build_command(args.model)}")
    if "fallback" in paths and not (FALLBACK_MODEL / "fallback.json").is_file():
        raise BenchError(f"the extension's fallback model is missing ({FALLBACK_MODEL}); build it with: {FALLBACK_BUILD}")
    if not Path(CHROMIUM).exists():
        raise BenchError(f"Chromium is not at {CHROMIUM} (apt-get install chromium, or set TABSENSE_CHROMIUM)")
    if not SAMPLES.is_dir():
        raise BenchError(f"the sample pictures are missing: {SAMPLES}")

    from playwright.sync_api import sync_playwright

    work = Path(tempfile.mkdtemp(prefix="tabsense-bench-"))
    ws_server = None
    site = None
    try:
        home = make_home(home_src, args.host_model or args.model, work / "home")
        int8_home = make_home(home_src, int8_variant(args.model), work / "home-int8") if "native-int8" in paths else None
        labels = labels_of(home, args.model)
        ext = copy_extension(work / "extension", tfjs_dir) if (tfjs_dir / "model.json").exists() \
            else copy_extension_without_model(work / "extension")
        warm_image = pick_warm_image()
        samples = pick_samples(args.images)
        site = Site(work / "site", [warm_image, *samples])
        tfjs_version = None  # read from the page (tf.version.tfjs)
        report = {
            "model": args.model, "host_model": args.host_model or args.model,
            "int8_model": int8_variant(args.model) if int8_home else None, "created": time.strftime("%Y-%m-%d %H:%M %Z"),
            "command": ".venv/bin/python -m bench.browser" + (f" {' '.join(argv or sys.argv[1:])}" if (argv or sys.argv[1:]) else ""),
            "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.platform()}",
            "chromium": chromium_version(), "tfjs_version": tfjs_version, "warm_runs": args.runs, "gap_ms": gap_ms,
            "warm_image": warm_image.name, "warm_image_bytes": warm_image.stat().st_size,
            "sample_images": len(samples), "load_average_at_start": os.getloadavg(), "paths": {},
        }
        with sync_playwright() as playwright:
            for name in paths:
                print(f"bench.browser: {name} ...", file=sys.stderr, flush=True)
                started = time.monotonic()
                if name in ("native", "fallback"):
                    result = run_host_path(playwright, name, ext, work, site, warm_image, samples, args.runs, None)
                elif name == "native-int8":
                    result = run_host_path(playwright, "native", ext, work, site, warm_image, samples, args.runs, None,
                                           home=int8_home, name=name)
                elif name == "websocket":
                    ws_server, ws = start_ws_server(home)
                    result = run_host_path(playwright, "websocket", ext, work, site, warm_image, samples, args.runs, ws)
                    ws_server.terminate()
                    ws_server.wait(10)
                    ws_server = None
                else:
                    result = run_tfjs_path(playwright, name.split("-", 1)[1], ext, work, site, warm_image, samples,
                                           args.runs, labels)
                    report["tfjs_version"] = result["setup"]["tfjsVersion"]
                report["paths"][name] = result
                print(f"bench.browser: {name}: cold {result['cold_ms']:.0f} ms, warm p50 {result['warm_ms']['p50']} ms "
                      f"p95 {result['warm_ms']['p95']} ms ({time.monotonic() - started:.0f} s)", file=sys.stderr, flush=True)
        report["load_average_after_browser_paths"] = os.getloadavg()
        agreement(report)
        report["targets"] = targets(report)
        bench_models = args.host_bench_model or [args.model, f"{args.model}_int8"]
        report["host_bench"] = {}
        if bench_models != ["none"]:
            for model in bench_models:
                print(f"bench.browser: tabsense bench --model {model} ...", file=sys.stderr, flush=True)
                report["host_bench"][model] = host_bench(home, model, args.host_bench_runs, work)
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "browser.json").write_text(json.dumps(report, indent=2) + "\n")
        (args.out / "browser.md").write_text(markdown(report))
        print(markdown(report))
        return 0
    finally:
        if ws_server is not None:
            ws_server.terminate()
            ws_server.wait(10)
        if site is not None:
            site.close()
        if args.keep:
            print(f"bench.browser: kept {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)


def copy_extension_without_model(dest: Path) -> Path:
    shutil.copytree(EXTENSION, dest)
    return dest


if __name__ == "__main__":
    sys.exit(main())
