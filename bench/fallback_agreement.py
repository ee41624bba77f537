"""Top-1 agreement of the extension's in-browser fallback model with the TabSense host.

    .venv/bin/python -m bench.fallback_agreement [--images N] [--home DIR]

Runs the real extension (no host registered, so it falls back) in headless Chromium: one
right-click opens the offscreen document, then every sample photo goes to its classifier
worker (TF.js wasm, MobileNet v1 0.75 224, float16 weights) with exactly the bytes a click
would send (the photos are under the 1024 px limit, so they are sent unchanged). The host's
answers are computed in this process with the host package (LiteRT): its default model, and
the same network (`mobilenet_v1_0.75_224`, float32 TFLite from the model lab) when registered
in the data home. Writes bench/results/fallback.json and fallback.md.
"""

from __future__ import annotations

import argparse
import base64
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "e2e"))

from e2e_support import FALLBACK_BUILD, FALLBACK_MODEL, SAMPLES, host_classify, img_page, launch  # noqa: E402

from bench.browser import RESULTS, Site, chromium_version, pick_samples, source_home  # noqa: E402

CLASSIFY_JS = """async ([image]) => {
  const reply = await chrome.runtime.sendMessage({ target: 'offscreen', type: 'classify-image', image, topK: 5 });
  if (!reply?.ok) throw new Error(JSON.stringify(reply));
  return reply.result;
}"""
SAME_NETWORK = "mobilenet_v1_0.75_224"


def browser_answers(photos: list[Path], work: Path) -> tuple[dict, dict]:
    """name -> fallback result for every photo, plus the cold/warm click-to-label times."""
    from playwright.sync_api import sync_playwright

    site = Site(work / "site", photos[:1])
    try:
        with sync_playwright() as playwright:
            browser = launch(playwright, work / "profile")
            try:
                page = browser.open(site.page_url(photos[0]))
                clicks = []
                for _ in range(12):  # 1 cold + 1 more warm-up + 10 warm, as the user feels them
                    overlay, _ = browser.classify(page, site.image_url(photos[0]))
                    if overlay.get_attribute("data-tabsense-engine") != "browser":
                        raise SystemExit(f"the fallback did not answer: {overlay.locator('.card').inner_text()}")
                    clicks.append(browser.latency_ms())
                    overlay.locator(".close").click()
                answers = {}
                for photo in photos:
                    image = base64.b64encode(photo.read_bytes()).decode()
                    answers[photo.name] = browser.sw.evaluate(CLASSIFY_JS, [image])
            finally:
                browser.context.close()
    finally:
        site.close()
    warm = clicks[2:]
    return answers, {"cold_click_to_label_ms": clicks[0], "warm_click_to_label_ms": {
        "p50": statistics.median(warm), "min": min(warm), "max": max(warm), "n": len(warm)}}


def compare(fallback: dict, host: dict) -> dict:
    same = [name for name in fallback if fallback[name]["labels"][0]["index"] == host[name]["labels"][0]["index"]]
    return {"same": len(same), "images": len(fallback), "fraction": round(len(same) / len(fallback), 4),
            "different": sorted(set(fallback) - set(same))}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.fallback_agreement", description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=500, help="sample photos (default: all 500)")
    parser.add_argument("--home", type=Path, default=None, help="TABSENSE_HOME with the host's models")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    if not (FALLBACK_MODEL / "fallback.json").is_file():
        raise SystemExit(f"the fallback model is not built; run: {FALLBACK_BUILD}")
    home = args.home or source_home()
    photos = pick_samples(args.images)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="tabsense-fallback-") as work:
        fallback, clicks = browser_answers(photos, Path(work))
    from host.store import ModelStore

    registry = ModelStore(home).registry
    references = {"host default": registry.default_name()}
    if SAME_NETWORK in registry.names():
        references["host, same network"] = SAME_NETWORK
    manifest = json.loads((FALLBACK_MODEL / "fallback.json").read_text())
    report = {"created": time.strftime("%Y-%m-%d %H:%M %Z"), "chromium": chromium_version(),
              "command": ".venv/bin/python -m bench.fallback_agreement" + "".join(f" {a}" for a in (argv or sys.argv[1:])),
              "fallback_model": {k: manifest[k] for k in ("name", "version", "weights", "bytes")},
              "images": len(photos), **clicks, "agreement": {}}
    for title, model in references.items():
        host = {p.name: host_classify(home, p, model) for p in photos}
        report["agreement"][title] = {"model": model, **compare(fallback, host)}
    report["seconds"] = round(time.monotonic() - started)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "fallback.json").write_text(json.dumps(report, indent=2) + "\n")
    lines = [f"# In-browser fallback vs the host ({report['created']}, Chromium {report['chromium']})", "",
             f"Regenerate: `{report['command']}`", "",
             f"Fallback: {manifest['name']} ({manifest['weights']} weights, {manifest['bytes']:,} bytes), TF.js wasm "
             f"in the offscreen document's worker. Click to label (no host installed): cold "
             f"{clicks['cold_click_to_label_ms']} ms, warm p50 {clicks['warm_click_to_label_ms']['p50']} ms "
             f"(min {clicks['warm_click_to_label_ms']['min']}, max {clicks['warm_click_to_label_ms']['max']}, "
             f"{clicks['warm_click_to_label_ms']['n']} clicks).", "",
             "| compared with | model | same top-1 | photos | agreement |", "|---|---|---|---|---|"]
    for title, row in report["agreement"].items():
        lines.append(f"| {title} | `{row['model']}` | {row['same']} | {row['images']} | {row['fraction']:.1%} |")
    (args.out / "fallback.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
