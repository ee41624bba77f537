"""The browser benchmark harness (bench/browser.py), reduced: every path (native
messaging, WebSocket, TF.js wasm, TF.js cpu, and the extension's own in-browser fallback when
its model is built) in headless Chromium, 3 warm runs, 3 pictures.

It needs the model lab's TF.js graph model of MobileNet v1 0.75 224 and that model's
registered float32 TFLite, in the machine's data home (or $TABSENSE_BENCH_HOME). Building
them takes minutes (TensorFlow), so the test does not build them: it is skipped, with the
command to run, when they are missing. ./scripts/test.sh runs that command once into
.cache/bench-home (docs/benchmarks.md).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]

REPO = Path(__file__).resolve().parents[2]
MODEL = "mobilenet_v1_0.75_224"


def bench_home() -> Path:
    if os.environ.get("TABSENSE_BENCH_HOME"):
        return Path(os.environ["TABSENSE_BENCH_HOME"])
    import platformdirs

    # Not host.paths.data_home(): other tests point TABSENSE_HOME at private temp homes.
    return Path(platformdirs.user_data_dir("tabsense", appauthor=False))


def test_browser_benchmark_reduced_run(tmp_path):
    sys.path.insert(0, str(REPO))
    from bench import browser

    home = bench_home()
    model_json = browser.lab_tfjs_dir(home, MODEL) / "model.json"
    registry = home / "registry.json"
    registered = registry.exists() and MODEL in {m["name"] for m in json.loads(registry.read_text()).get("models", [])}
    if not model_json.exists() or not registered:
        pytest.skip(f"the model lab's {MODEL} (TF.js graph model {model_json}, registry entry in {registry}) is "
                    f"missing; build it with: TABSENSE_HOME={home} {browser.build_command(MODEL)}")

    assert browser.main(["--home", str(home), "--runs", "3", "--images", "3", "--host-bench-model", "none",
                         "--out", str(tmp_path)]) == 0

    report = json.loads((tmp_path / "browser.json").read_text())
    assert list(report["paths"]) == list(browser.default_paths(home))
    for name, path in report["paths"].items():
        assert path["cold_ms"] > 0, name
        assert path["warm_ms"]["n"] == 3 and 0 < path["warm_ms"]["p50"] <= path["warm_ms"]["p95"], name
        assert len(path["top1"]) == 3 and all(path["top1"].values()), name
        assert path["memory"]["extension_renderer"]["rss_mb"] > 0, name
    assert report["paths"]["native"]["memory"]["native_host"]["rss_mb"] > 0
    assert report["paths"]["websocket"]["memory"]["ws_server"]["rss_mb"] > 0
    assert report["paths"]["tfjs-wasm"]["setup"]["backend"] == "wasm"
    assert report["paths"]["tfjs-cpu"]["setup"]["backend"] == "cpu"
    # Same network, same preprocessing (up to the resize filter): the top-1 should agree.
    for name in ("native-int8", "websocket", "tfjs-wasm", "tfjs-cpu", "fallback"):
        if name in report["paths"]:
            assert report["paths"][name]["top1_agreement_with_native"]["same"] >= 2, name
    for name in ("native", "native-int8", "fallback"):  # where a warm click's time goes, from the extension's own marks
        if name in report["paths"]:
            assert report["paths"][name]["warm_stages_ms_since_click"]["answered"]["p50"] > 0, name
    assert set(report["targets"]) >= {"warm_p50_speedup_vs_tfjs_cpu", "warm_p50_speedup_vs_tfjs_wasm"}
    markdown = (tmp_path / "browser.md").read_text()
    assert "| tfjs-wasm |" in markdown and "python -m bench.browser" in markdown
