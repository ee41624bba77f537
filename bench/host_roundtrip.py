"""The host's per-request cost over native messaging, without a browser.

Spawns `python -m host` exactly as Chrome does (stdin/stdout pipes, 4-byte length + JSON
frames) with a private TABSENSE_HOME serving MODEL, sends the benchmark's warm picture as
`classify_image` N times (one in flight, an idle gap before each, like the browser
benchmark), and prints p50/p95 of:

- round trip: frame written -> whole answer frame read, in this process;
- host: the host's own `timing_ms.total` (decode, preprocess, inference, top-k);
- hand-off: round trip minus host, i.e. everything the host does not time (pipes, the
  reader thread, the event loop, the worker-thread hop, JSON and base64, the writer).

`--stages` also times, in this process, each step of the request path on the same picture
(JSON parse, base64, JPEG decode, resize, image checks, LiteRT, top-k, JSON encode), with
the same idle gap before each request.

    .venv/bin/python -m bench.host_roundtrip [--model NAME] [--runs 200] [--gap-ms 100]
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_MODEL = "mobilenet_v1_0.75_224"


def percentiles(values: list[float]) -> dict:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {"p50": round(statistics.median(ordered), 2), "p95": round(p95, 2), "n": len(ordered)}


def make_home(model: str, dest: Path) -> Path:
    from bench.browser import make_home as browser_make_home, source_home

    return browser_make_home(source_home(), model, dest)


def warm_image() -> Path:
    from bench.browser import pick_warm_image

    return pick_warm_image()


def read_exact(stream, count: int) -> bytes:
    chunks = []
    while count:
        chunk = stream.read(count)
        if not chunk:
            raise RuntimeError("the host closed stdout before answering")
        chunks.append(chunk)
        count -= len(chunk)
    return b"".join(chunks)


def roundtrips(home: Path, image: Path, runs: int, warmup: int, gap_ms: float, threads: int | None,
               host_root: Path = REPO) -> dict:
    env = dict(os.environ, TABSENSE_HOME=str(home))
    if threads:
        env["TABSENSE_THREADS"] = str(threads)
    proc = subprocess.Popen([sys.executable, "-m", "host", "chrome-extension://bench/"], cwd=host_root, env=env,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, bufsize=0)
    # What Chrome sends: the JSON of the extension's message (base64 of the file bytes).
    payload = base64.b64encode(image.read_bytes()).decode()
    trips, host, decode, infer = [], [], [], []
    try:
        for i in range(warmup + runs):
            frame = json.dumps({"id": i, "type": "classify_image", "image": payload, "top_k": 5}).encode()
            frame = len(frame).to_bytes(4, sys.byteorder) + frame
            time.sleep(gap_ms / 1000)
            start = time.perf_counter()
            proc.stdin.write(frame)
            length = int.from_bytes(read_exact(proc.stdout, 4), sys.byteorder)
            answer = read_exact(proc.stdout, length)
            elapsed = (time.perf_counter() - start) * 1000
            message = json.loads(answer)
            if not message.get("ok") or message.get("id") != i:
                raise RuntimeError(f"bad answer: {message}")
            if i >= warmup:
                timing = message["result"]["timing_ms"]
                trips.append(elapsed)
                host.append(timing["total"])
                decode.append(timing["decode"])
                infer.append(timing["infer"])
    finally:
        proc.stdin.close()
        proc.wait(30)
    handoff = [t - h for t, h in zip(trips, host)]
    return {"round_trip_ms": percentiles(trips), "host_total_ms": percentiles(host),
            "hand_off_ms": percentiles(handoff), "host_decode_ms": percentiles(decode),
            "host_infer_ms": percentiles(infer), "frame_bytes": len(frame), "exit_code": proc.returncode}


def stages(home: Path, image: Path, runs: int, warmup: int, threads: int, gap_ms: float = 0) -> dict:
    """Each step of the request path, timed in this process on the same picture."""
    import numpy as np

    from host.capabilities import decode_base64
    from host.classifier import ImageClassifier
    from host.image_checks import check_pixels, check_size
    from host.protocol import encode_message, ok_response, parse_request
    from host.store import ModelStore
    from host.vision import decode_image, draft_size, resize_for_model, to_input_array

    store = ModelStore(home)
    spec = store.registry.get(None)
    files = store.require(spec)
    classifier = ImageClassifier(spec, files["model"], files["labels"], threads)
    body = json.dumps({"id": 1, "type": "classify_image", "image": base64.b64encode(image.read_bytes()).decode(),
                       "top_k": 5}).encode()
    times: dict[str, list[float]] = {}

    def timed(name, fn, *args):
        start = time.perf_counter()
        value = fn(*args)
        times.setdefault(name, []).append((time.perf_counter() - start) * 1000)
        return value

    size = draft_size(classifier.width, classifier.height, classifier.resize, classifier.crop_fraction)
    quantization = classifier.input_details.get("quantization") or None
    for i in range(warmup + runs):
        time.sleep(gap_ms / 1000)
        request = timed("json parse", parse_request, body)
        data = timed("base64 decode", decode_base64, request.params["image"])
        picture = timed("decode (draft)", decode_image, data, size)
        resized = timed("crop + resize", resize_for_model, picture, classifier.width, classifier.height,
                        classifier.resize, classifier.crop_fraction)
        timed("image checks", lambda: check_size(*picture.size) + check_pixels(np.asarray(resized)))
        batch = timed("to input array", to_input_array, resized, spec.input, quantization)
        probabilities = timed("LiteRT invoke + postprocess", classifier.infer, batch)
        labels = timed("top-k", classifier.top_k, probabilities, 5)
        result = {"labels": labels, "model": {"name": spec.name, "version": spec.version},
                  "timing_ms": {"decode": 1.0, "infer": 1.0, "total": 1.0}}
        timed("json encode", encode_message, ok_response(1, result))
        if i < warmup:
            for values in times.values():
                values.clear()
    return {name: percentiles(values) for name, values in times.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.host_roundtrip", description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=DEFAULT_MODEL, help=f"registered image model (default {DEFAULT_MODEL})")
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--gap-ms", type=float, default=100, help="idle time before every request (default 100)")
    parser.add_argument("--threads", type=int, default=None, help="TABSENSE_THREADS for the host (default: its own)")
    parser.add_argument("--host-root", type=Path, default=REPO,
                        help="folder holding the `host` package to run (A/B: e.g. `git archive HEAD host | tar -x -C DIR`)")
    parser.add_argument("--stages", action="store_true", help="also time each step of the path in this process")
    parser.add_argument("--json", type=Path, default=None, help="write the report here too")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(REPO))

    image = warm_image()
    with tempfile.TemporaryDirectory(prefix="tabsense-roundtrip-") as tmp:
        home = make_home(args.model, Path(tmp) / "home")
        report = {"model": args.model, "host_root": str(args.host_root), "image": image.name, "image_bytes": image.stat().st_size,
                  "runs": args.runs, "gap_ms": args.gap_ms, "load_average": os.getloadavg()}
        report.update(roundtrips(home, image, args.runs, args.warmup, args.gap_ms, args.threads, args.host_root))
        if args.stages:
            from host.native import thread_count

            report["stages_ms"] = stages(home, image, args.runs, args.warmup, thread_count(args.threads), args.gap_ms)
    print(f"host from {args.host_root}: {args.model}, {image.name} ({report['image_bytes']:,} bytes, frame {report['frame_bytes']:,} bytes), "
          f"{args.runs} requests after {args.warmup} warm-up, {args.gap_ms:g} ms idle before each, "
          f"load average {report['load_average'][0]:.1f}")
    for key, name in (("round_trip_ms", "round trip"), ("host_total_ms", "host timing_ms.total"),
                      ("hand_off_ms", "hand-off (round trip - host)"), ("host_decode_ms", "host decode+preprocess"),
                      ("host_infer_ms", "host inference")):
        print(f"  {name:32s} p50 {report[key]['p50']:7.2f}  p95 {report[key]['p95']:7.2f} ms")
    if "stages_ms" in report:
        print(f"in-process steps, {args.gap_ms:g} ms idle before each request (p50 / p95 ms):")
        for name, value in report["stages_ms"].items():
            print(f"  {name:32s} {value['p50']:7.3f} / {value['p95']:7.3f}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
