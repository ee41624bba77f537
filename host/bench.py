"""`tabsense bench`: latency, cold start and memory of the host, printed as p50/p95.

Latency is measured in-process after warm-up runs, through the same handler the
transports call (base64 -> decode -> preprocess -> LiteRT -> top-k). Cold start and peak
RSS are measured on a real `python -m host` subprocess speaking native messaging.
"""

from __future__ import annotations

import base64
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

from .capabilities import Capabilities
from .evaluate import DEFAULT_DATA
from .native import thread_count
from .protocol import FrameDecoder, encode_frame
from .store import ModelStore

TARGET_SIZES = {"100KB": 100_000, "600KB": 600_000}
COLD_RUNS = 5


def pick_images(folder: Path) -> dict[str, Path]:
    """The JPEG closest in size to each target."""
    jpegs = [p for p in folder.iterdir() if p.suffix.lower() in (".jpg", ".jpeg")]
    if not jpegs:
        raise SystemExit(f"tabsense bench: no JPEG files in {folder}; pass --images DIR.")
    return {name: min(jpegs, key=lambda p: abs(p.stat().st_size - size)) for name, size in TARGET_SIZES.items()}


def percentiles(values: list[float]) -> dict:
    ordered = sorted(values)
    def at(q):
        return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]
    return {"p50": round(statistics.median(ordered), 3), "p95": round(at(0.95), 3), "n": len(ordered)}


def measure_latency(capabilities: Capabilities, path: Path, model, runs: int, warmup: int) -> dict:
    params = {"image": base64.b64encode(path.read_bytes()).decode(), "top_k": 5}
    if model:
        params["model"] = model
    decode, infer, total = [], [], []
    for i in range(warmup + runs):
        start = time.perf_counter()
        result = capabilities.classify_image(params)
        elapsed = (time.perf_counter() - start) * 1000
        if i >= warmup:
            decode.append(result["timing_ms"]["decode"])
            infer.append(result["timing_ms"]["infer"])
            total.append(elapsed)
    return {"file": path.name, "bytes": path.stat().st_size, "decode_preprocess_ms": percentiles(decode),
            "infer_ms": percentiles(infer), "total_ms": percentiles(total), "top1": result["labels"][0]["label"]}


def _exchange(proc: subprocess.Popen, message: dict) -> dict:
    proc.stdin.write(encode_frame(json.dumps(message).encode()))
    proc.stdin.flush()
    decoder = FrameDecoder()
    while True:
        chunk = proc.stdout.read1(1 << 16)
        if not chunk:
            raise RuntimeError("the host closed stdout before answering")
        frames = decoder.feed(chunk)
        if frames:
            return json.loads(frames[0])


def _status_mb(pid: int, field: str) -> float | None:
    """A memory figure of a live process from /proc (Linux), in MB; None elsewhere."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def measure_cold_start(image: Path, model: str | None = None) -> dict:
    """Spawn -> first ping answer, and spawn -> first classification (by `model`, else the
    default), on fresh processes."""
    env = dict(os.environ)
    payload = base64.b64encode(image.read_bytes()).decode()
    request = {"type": "classify_image", "image": payload, **({"model": model} if model else {})}
    to_ping, to_label, peaks = [], [], []
    for _ in range(COLD_RUNS):
        start = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "host", "chrome-extension://bench/"], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
        assert _exchange(proc, {"id": 1, "type": "ping"})["ok"]
        to_ping.append((time.perf_counter() - start) * 1000)
        answer = _exchange(proc, {"id": 2, **request})
        assert answer["ok"], answer
        to_label.append((time.perf_counter() - start) * 1000)
        for _ in range(20):  # steady state for the RSS figure
            _exchange(proc, {"id": 3, **request})
        peaks.append(_status_mb(proc.pid, "VmHWM:"))
        proc.stdin.close()
        proc.wait(10)
    if all(p is not None for p in peaks):
        peak_mb = max(peaks)  # Linux: the host's own high-water mark
    else:  # elsewhere: ru_maxrss of waited-for children (KiB on Linux, bytes on macOS)
        maxrss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        peak_mb = maxrss / 1024 / (1024 if platform.system() == "Darwin" else 1)
    return {"spawn_to_ping_ms": percentiles(to_ping), "spawn_to_first_label_ms": percentiles(to_label),
            "peak_rss_mb": round(peak_mb, 1)}


def measure_throughput(path: Path, model, threads: int, requests: int = 200, concurrency: int = 4) -> float:
    """Images per second through the dispatcher with `concurrency` requests in flight."""
    import asyncio

    from .dispatcher import Dispatcher

    dispatcher = Dispatcher(Capabilities(ModelStore(), num_threads=threads), workers=2)
    message = {"type": "classify_image", "image": base64.b64encode(path.read_bytes()).decode()}
    if model:
        message["model"] = model

    async def worker(ids):
        for i in ids:
            answer = json.loads(await dispatcher.handle(json.dumps({**message, "id": i})))
            assert answer["ok"], answer

    async def run():
        await worker(range(10))  # warm-up
        start = time.perf_counter()
        await asyncio.gather(*(worker(range(k, requests, concurrency)) for k in range(concurrency)))
        return requests / (time.perf_counter() - start)

    try:
        return round(asyncio.run(run()), 1)
    finally:
        dispatcher.close()


def measure_ensemble_schedules(store: ModelStore, spec, path: Path, runs: int, warmup: int, rounds: int = 5) -> dict:
    """classify() of an ensemble with its members one after the other on 2 threads each, and
    side by side on 1 thread each (2 cores busy either way), timed in interleaved rounds."""
    from .classifier import ImageClassifier
    from .ensemble import EnsembleClassifier

    def members(threads):
        loaded = []
        for member in store.registry.members(spec):
            files = store.require(member)
            loaded.append(ImageClassifier(member, files["model"], files["labels"], num_threads=threads))
        return loaded

    schedules = {"one_after_the_other_2_threads_each": EnsembleClassifier(spec, members(2)),
                 "side_by_side_1_thread_each": EnsembleClassifier(spec, members(1), parallel=True)}
    data = path.read_bytes()
    times: dict[str, dict[str, list]] = {name: {"total": [], "infer": []} for name in schedules}
    for name, ensemble in schedules.items():
        for _ in range(warmup):
            ensemble.classify(data, 5)
    for _ in range(rounds):
        for name, ensemble in schedules.items():
            for _ in range(max(1, runs // rounds)):
                start = time.perf_counter()
                result = ensemble.classify(data, 5)
                times[name]["total"].append((time.perf_counter() - start) * 1000)
                times[name]["infer"].append(result["timing_ms"]["infer"])
    schedules["side_by_side_1_thread_each"].close()
    return {name: {"total_ms": percentiles(t["total"]), "infer_ms": percentiles(t["infer"])} for name, t in times.items()}


def measure_keyword_model(runs: int, warmup: int) -> dict | None:
    """Per-window inference time of the default keyword model, if it is available."""
    import numpy as np

    from .errors import TabSenseError
    from .features import log_mel
    from .speech_params import WINDOW_SAMPLES

    try:
        spotter = Capabilities(ModelStore(), num_threads=1).pool.get(None, "keyword_spotting")
    except TabSenseError as exc:
        return {"error": exc.message}
    features = log_mel(np.random.default_rng(0).normal(0, 0.05, WINDOW_SAMPLES).astype(np.float32))
    infer, front_end = [], []
    for i in range(warmup + runs):
        start = time.perf_counter()
        spotter.probabilities_from_features(features)
        if i >= warmup:
            infer.append(spotter.last_infer_ms)
            front_end.append((time.perf_counter() - start) * 1000)
    return {"model": f"{spotter.name} v{spotter.version}", "invoke_ms": percentiles(infer),
            "quantize_invoke_dequantize_ms": percentiles(front_end)}


def run_bench(args) -> int:
    folder = Path(args.images) if args.images else DEFAULT_DATA
    images = pick_images(folder)
    threads = thread_count(args.threads)
    capabilities = Capabilities(ModelStore(), num_threads=threads)
    model = capabilities.pool.get(args.model).spec
    report = {"model": f"{model.name} v{model.version}", "threads": threads, "runs": args.runs, "warmup": args.warmup,
              "cpu_count": os.cpu_count(), "latency": {}, "cold": None}
    for name, path in images.items():
        report["latency"][name] = measure_latency(capabilities, path, args.model, args.runs, args.warmup)
    if model.is_ensemble:
        report["ensemble_schedules"] = measure_ensemble_schedules(capabilities.store, model, images["100KB"],
                                                                  args.runs, args.warmup)
    report["throughput_images_per_s"] = {
        f"{n}_threads": measure_throughput(images["100KB"], args.model, n) for n in (1, 2)
    }
    report["keyword_window"] = measure_keyword_model(max(args.runs, 200), args.warmup)
    os.environ.setdefault("TABSENSE_THREADS", str(threads))
    report["cold"] = measure_cold_start(images["100KB"], args.model)

    print(f"model {report['model']}, {threads} inference thread(s), {args.runs} runs after {args.warmup} warm-up")
    print("| image | bytes | decode+preprocess p50/p95 ms | inference p50/p95 ms | total p50/p95 ms |")
    print("|---|---|---|---|---|")
    for name, r in report["latency"].items():
        cells = [f"{r[k]['p50']:.2f} / {r[k]['p95']:.2f}" for k in ("decode_preprocess_ms", "infer_ms", "total_ms")]
        print(f"| {name} ({r['file']}) | {r['bytes']:,} | " + " | ".join(cells) + " |")
    for name, r in report.get("ensemble_schedules", {}).items():
        print(f"ensemble members {name.replace('_', ' ')}, 100 KB JPEG: total p50/p95 {r['total_ms']['p50']:.2f} / "
              f"{r['total_ms']['p95']:.2f} ms, inference p50 {r['infer_ms']['p50']:.2f} ms")
    cold = report["cold"]
    print(f"cold start, spawn -> first ping answer: p50 {cold['spawn_to_ping_ms']['p50']:.0f} ms, "
          f"max of {COLD_RUNS}: {max(0, cold['spawn_to_ping_ms']['p95']):.0f} ms")
    print(f"cold start, spawn -> first label: p50 {cold['spawn_to_first_label_ms']['p50']:.0f} ms")
    print(f"peak RSS of the host process: {cold['peak_rss_mb']:.1f} MB")
    tput = report["throughput_images_per_s"]
    print(f"throughput, 100 KB JPEG, 4 requests in flight: {tput['1_threads']} images/s with 1 inference "
          f"thread, {tput['2_threads']} with 2")
    keyword = report["keyword_window"]
    if keyword and "error" not in keyword:
        print(f"keyword model {keyword['model']}: invoke p50/p95 {keyword['invoke_ms']['p50']:.3f} / "
              f"{keyword['invoke_ms']['p95']:.3f} ms per 1.5 s window")
    elif keyword:
        print(f"keyword model: not measured ({keyword['error']})")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
    return 0


# --- Soak ----------------------------------------------------------------------------




def run_soak(args) -> int:
    """Many classifications through one real host process: errors, RSS growth, latency drift."""
    folder = Path(args.images) if args.images else DEFAULT_DATA
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in (".jpg", ".jpeg"))[:50]
    payloads = [base64.b64encode(p.read_bytes()).decode() for p in files]
    proc = subprocess.Popen([sys.executable, "-m", "host", "chrome-extension://soak/"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    latencies, errors = [], 0
    warmup = 100
    rss_start = None
    try:
        for i in range(args.requests + warmup):
            start = time.perf_counter()
            answer = _exchange(proc, {"id": i, "type": "classify_image", "image": payloads[i % len(payloads)]})
            elapsed = (time.perf_counter() - start) * 1000
            if not answer.get("ok") or answer.get("id") != i:
                errors += 1
            if i == warmup - 1:
                rss_start = _status_mb(proc.pid, "VmRSS:")
            if i >= warmup:
                latencies.append(elapsed)
            if (i + 1) % 1000 == 0:
                print(f"  {i + 1 - warmup if i >= warmup else 0}/{args.requests} requests, {errors} errors",
                      file=sys.stderr, flush=True)
        rss_end = _status_mb(proc.pid, "VmRSS:")
    finally:
        proc.stdin.close()
        proc.wait(30)
    first, last = percentiles(latencies[:1000]), percentiles(latencies[-1000:])
    growth = (rss_end - rss_start) if rss_start is not None and rss_end is not None else None
    report = {"requests": args.requests, "errors": errors, "rss_start_mb": rss_start, "rss_end_mb": rss_end,
              "rss_growth_mb": growth, "first_1000_ms": first, "last_1000_ms": last,
              "exit_code": proc.returncode}
    print(f"soak: {args.requests} classify requests ({len(files)} different photos) through one host process")
    print(f"errors: {errors}; host exit code {proc.returncode}")
    if growth is not None:
        print(f"RSS after warm-up {rss_start:.1f} MB, at the end {rss_end:.1f} MB, growth {growth:+.1f} MB")
    print(f"round trip p50/p95, first 1000: {first['p50']:.2f} / {first['p95']:.2f} ms; "
          f"last 1000: {last['p50']:.2f} / {last['p95']:.2f} ms")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
    ok = errors == 0 and proc.returncode == 0 and (growth is None or growth <= 5.0)
    return 0 if ok else 1
