"""The image ensemble in the model lab: evaluate it against its members, validate, register.

Members: the default MobileNetV2 1.0 224 uint8 (from ../shared/models) and the lab's blessed
full-integer int8 MobileNet v1 0.75 224. Every photo goes through the host's own
`EnsembleClassifier` (decode once, each member's preprocessing, LiteRT), which also returns
each member's probabilities, so members and ensemble are scored on exactly what they serve.

- How probabilities combine (arithmetic or geometric mean, equal weights) is chosen on the 100
  calibration photos, never on the 400 evaluation photos the verdict is given on.
- The validator blesses the ensemble only if its top-1 on the evaluation photos beats the best
  member's and no slice (category, size, image-check finding) is more than 1 point below that
  member's. The targets (top-1 at least 1.5 points above the best member, top-5 not
  worse) are reported beside the verdict; the registry makes the ensemble the default only
  when they are met.
- Latency: `classify` through the host (decode, preprocess, inference, top-5) for each member
  and for the ensemble, 1 and 2 threads, and the ensemble's members side by side on one
  thread each, timed in interleaved rounds.

Writes lab/ensemble.json, the entry in $TABSENSE_HOME/registry.json (members pinned by
version and model sha256) and docs/model-lab/ensemble.md.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path

import numpy as np

from host.classifier import ImageClassifier
from host.ensemble import EnsembleClassifier, combine_probabilities
from host.errors import ModelMissing
from host.store import COMBINE_METHODS, ModelSpec, ModelStore

from . import config, registration
from .evaluation import accuracy, slice_accuracy, top_k_hits
from .samples import Sample, load_samples

ENSEMBLE_NAME = "mobilenet_ensemble"
ENSEMBLE_VERSION = "1"
MEMBERS = ("mobilenet_v2_1.0_224_quant", f"{config.MAIN_MODEL}_int8")
RESULTS_FILE = "ensemble.json"
REPORT_FILE = "ensemble.md"
MAX_SLICE_DROP_POINTS = 1.0
TARGET_GAIN_POINTS = 1.5


def ensemble_entry(members: list[ModelSpec], combine: str, blessed: bool, validation: dict | None) -> dict:
    entry = {
        "name": ENSEMBLE_NAME,
        "version": ENSEMBLE_VERSION,
        "kind": "ensemble",
        "task": "image_classification",
        "description": "MobileNetV2 1.0 224 uint8 and MobileNet v1 0.75 224 int8 (the model lab's), one decode, "
                       f"{combine} mean of their probabilities.",
        "license": "Apache-2.0",
        "quantization": " + ".join(m.quantization for m in members),
        "blessed": bool(blessed),
        "members": [{"name": m.name, "version": m.version, "sha256": m.files["model"].sha256} for m in members],
        "combine": combine,
        "weights": [1.0] * len(members),
        "validation": validation,
    }
    ModelSpec.from_dict(entry, "the model lab")  # the host's own schema check
    return entry


def _install_members(store: ModelStore, source_dir: Path, progress) -> list[ModelSpec]:
    """The members' specs, installed (bundled files copy themselves; the rest from source_dir)."""
    specs = []
    for name in MEMBERS:
        spec = store.registry.get(name)
        if not spec.blessed:
            raise ValueError(f"{name} is not blessed in {store.home}; the ensemble is built from blessed models only.")
        try:
            store.require(spec)
        except ModelMissing:
            store.fetch(spec, Path(source_dir) if Path(source_dir).is_dir() else None)
            store.require(spec)
        progress(f"ensemble member {name} v{spec.version}: installed, sha256 {spec.files['model'].sha256[:12]}…")
        specs.append(spec)
    return specs


def member_classifiers(store: ModelStore, specs: list[ModelSpec], threads: int) -> list[ImageClassifier]:
    classifiers = []
    for spec in specs:
        files = store.require(spec)
        classifiers.append(ImageClassifier(spec, files["model"], files["labels"], num_threads=threads))
    return classifiers


def predict_members(ensemble: EnsembleClassifier, samples: list[Sample], progress) -> np.ndarray:
    """[members, images, classes] probabilities, each member on the ensemble's one decode."""
    rows = []
    for n, sample in enumerate(samples, 1):
        members, _ = ensemble.member_probabilities(sample.path.read_bytes())
        rows.append(np.stack(members))
        if n % 100 == 0:
            progress(f"ensemble: {n}/{len(samples)} photos")
    return np.stack(rows, axis=1).astype(np.float32)


def _metrics(probabilities: np.ndarray, samples: list[Sample]) -> dict:
    labels = np.array([s.label for s in samples])
    evaluation = np.array([s.split == "evaluation" for s in samples])
    calibration = ~evaluation
    result = accuracy(probabilities[evaluation], labels[evaluation], None)
    result["slices"] = slice_accuracy(probabilities[evaluation], [s for s in samples if s.split == "evaluation"])
    result["calibration_top1"] = float(top_k_hits(probabilities[calibration], labels[calibration], 1).mean())
    result["all_images"] = accuracy(probabilities, labels, None)
    return result


def validate_ensemble(ensemble: dict, members: dict[str, dict]) -> dict:
    """Bless iff top-1 beats the best member's and no slice drops more than 1 point below it."""
    best_name = max(members, key=lambda name: (members[name]["top1"], members[name]["top5"]))
    best = members[best_name]
    gain = round((ensemble["top1"] - best["top1"]) * 100, 4)
    reasons, slice_drops = [], []
    if gain <= 0:
        reasons.append(f"top-1 {ensemble['top1']:.2%} does not beat the best member {best_name} ({best['top1']:.2%})")
    for kind, slices in ensemble["slices"].items():
        for slice_name, value in slices.items():
            reference = best["slices"][kind][slice_name]["top1"]
            drop = round((reference - value["top1"]) * 100, 4)
            slice_drops.append({"slice": f"{kind}: {slice_name}", "images": value["images"], "top1": value["top1"],
                                "best_member_top1": reference, "drop_points": drop})
            if drop > MAX_SLICE_DROP_POINTS + 1e-9:
                reasons.append(f"slice {kind} '{slice_name}' drops {drop:.2f} points below {best_name}")
    targets = {
        f"top-1 >= best member + {TARGET_GAIN_POINTS:g} points": gain >= TARGET_GAIN_POINTS - 1e-9,
        "top-5 not below the best member": ensemble["top5"] >= best["top5"] - 1e-12,
    }
    return {
        "blessed": not reasons,
        "verdict": "blessed" if not reasons else "rejected",
        "rule": f"top-1 above the best member's, and no slice more than {MAX_SLICE_DROP_POINTS:g} point below it",
        "reasons": reasons,
        "best_member": best_name,
        "top1": round(ensemble["top1"], 6),
        "top5": round(ensemble["top5"], 6),
        "best_member_top1": round(best["top1"], 6),
        "best_member_top5": round(best["top5"], 6),
        "top1_gain_points": gain,
        "images": ensemble["images"],
        "worst_slice": max(slice_drops, key=lambda row: row["drop_points"]),
        "targets": targets,
        "targets_met": all(targets.values()),
        "evaluation_set": "the 400 evaluation images of the ImageNet sample (all but every 5th file by name)",
    }


def _timed(classify, data: bytes, runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        classify(data, 5)
        times.append((time.perf_counter() - start) * 1000)
    return times


def measure_latency(store: ModelStore, spec: ModelSpec, specs: list[ModelSpec], photo: Path) -> list[dict]:
    """classify() p50/p95 of each member, the ensemble (members one after the other, on the pool's
    threads) and the ensemble with its members side by side (one thread each)."""
    data = photo.read_bytes()
    rows = []
    for threads in config.LATENCY_THREADS:
        members = member_classifiers(store, specs, threads)
        runners = {m.spec.name: m.classify for m in members}
        runners[f"{spec.name} (one after the other)"] = EnsembleClassifier(spec, members).classify
        if threads == 1:
            side_by_side = EnsembleClassifier(spec, member_classifiers(store, specs, 1), parallel=True)
            runners[f"{spec.name} (side by side, one thread each)"] = side_by_side.classify
        times = {name: [] for name in runners}
        for name, run in runners.items():
            _timed(run, data, config.LATENCY_WARMUP)
        per_round = max(1, config.LATENCY_RUNS // config.LATENCY_ROUNDS)
        for _ in range(config.LATENCY_ROUNDS):
            for name, run in runners.items():
                times[name] += _timed(run, data, per_round)
        for name, bucket in times.items():
            rows.append({"model": name, "threads": threads if "side by side" not in name else 2,
                         "threads_per_member": 1 if "side by side" in name else threads,
                         "p50_ms": float(np.percentile(bucket, 50)), "p95_ms": float(np.percentile(bucket, 95)),
                         "runs": len(bucket)})
    return rows


def build_ensemble(home: Path, source_dir: Path, samples_dir: Path, progress=print,
                   samples: list[Sample] | None = None) -> dict:
    """Evaluate, validate and register the ensemble; returns (and saves) its results."""
    started = time.perf_counter()
    home = Path(home)
    store = ModelStore(home)
    specs = _install_members(store, source_dir, progress)
    samples = samples if samples is not None else load_samples(Path(samples_dir))
    draft = ModelSpec.from_dict(ensemble_entry(specs, "arithmetic", False, None), "the model lab")
    ensemble = EnsembleClassifier(draft, member_classifiers(store, specs, config.EVAL_THREADS))
    stacked = predict_members(ensemble, samples, progress)
    weights = np.asarray(draft.weights, dtype=np.float32)
    members = {spec.name: _metrics(stacked[i], samples) for i, spec in enumerate(specs)}
    combined = {method: _metrics(combine_probabilities(stacked, weights, method), samples)
                for method in COMBINE_METHODS}
    # Chosen on the calibration photos only (ties: the arithmetic mean, the simpler one).
    combine = max(COMBINE_METHODS, key=lambda m: (combined[m]["calibration_top1"], m == "arithmetic"))
    validation = validate_ensemble(combined[combine], members)
    validation["combine_chosen_on"] = "top-1 on the 100 calibration photos"
    entry = ensemble_entry(specs, combine, validation["blessed"], validation)
    spec = ModelSpec.from_dict(entry, "the model lab")
    progress(f"{ENSEMBLE_NAME} ({combine} mean): top-1 {validation['top1']:.4f} vs best member "
             f"{validation['best_member']} {validation['best_member_top1']:.4f} -> {validation['verdict']}")
    first = next(s for s in samples if s.split == "evaluation")
    latency = measure_latency(store, spec, specs, first.path)
    registry = registration.register(home, [entry])
    progress(f"{ENSEMBLE_NAME}: registered in {registry} ({'blessed' if entry['blessed'] else 'not blessed'})")
    result = {
        "generated": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "name": ENSEMBLE_NAME,
        "version": ENSEMBLE_VERSION,
        "blessed": entry["blessed"],
        "entry": entry,
        "validation": validation,
        "combine": combine,
        "members": members,
        "ensembles": combined,
        "latency": latency,
        "latency_photo": first.path.name,
        "images": {"all": len(samples), "evaluation": sum(s.split == "evaluation" for s in samples)},
        "seconds": round(time.perf_counter() - started, 1),
    }
    path = Path(home) / "lab" / RESULTS_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n", "utf-8")
    return result


# --- report --------------------------------------------------------------------------------


def _pct(value: float) -> str:
    return f"{value:.2%}"


def render_report(result: dict) -> str:
    validation = result["validation"]
    rows = [(name, m, "member") for name, m in result["members"].items()]
    rows += [(f"{result['name']} ({method} mean)", m, "chosen" if method == result["combine"] else "measured")
             for method, m in result["ensembles"].items()]
    lines = [
        "# Image ensemble: MobileNetV2 uint8 + MobileNet v1 0.75 int8",
        "",
        f"Generated by `tabsense-models ensemble` ({result['generated']}). The two blessed int8 networks on one "
        "decoded picture, each with its own preprocessing, probabilities averaged; scored through the host's "
        f"`EnsembleClassifier` on the {result['images']['evaluation']} evaluation photos of the ImageNet sample "
        "(the 100 calibration photos only chose how to combine).",
        "",
        f"**Verdict: {validation['verdict']}** ({validation['rule']})."
        + ("" if not validation["reasons"] else " Reasons: " + "; ".join(validation["reasons"]) + "."),
        "",
        "| model | top-1 | top-5 | top-1, all 500 | top-1, calibration 100 | |",
        "|---|---|---|---|---|---|",
    ]
    for name, metrics, role in rows:
        lines.append(f"| `{name}` | {_pct(metrics['top1'])} | {_pct(metrics['top5'])} | "
                     f"{_pct(metrics['all_images']['top1'])} | {_pct(metrics['calibration_top1'])} | {role} |")
    lines += ["", "Targets: " + "; ".join(f"{k}: {'met' if v else 'NOT met'}" for k, v in validation["targets"].items())
              + f" (gain {validation['top1_gain_points']:+.2f} points over {validation['best_member']}).", ""]
    lines += ["## Per slice (top-1, evaluation photos)", "",
              "| slice | images | " + " | ".join(f"`{n}`" for n in result["members"]) + f" | `{result['name']}` |",
              "|---|---|" + "---|" * (len(result["members"]) + 1)]
    chosen = result["ensembles"][result["combine"]]
    for kind, slices in chosen["slices"].items():
        for slice_name, value in slices.items():
            cells = [_pct(m["slices"][kind][slice_name]["top1"]) for m in result["members"].values()]
            lines.append(f"| {kind}: {slice_name} | {value['images']} | " + " | ".join(cells)
                         + f" | {_pct(value['top1'])} |")
    worst = validation["worst_slice"]
    lines += ["", f"Largest slice drop against {validation['best_member']}: {worst['slice']} "
              f"({worst['images']} photos) {worst['drop_points']:+.2f} points (a drop is positive).", "",
              f"## Latency (`classify` through the host, {result['latency_photo']}, p50 / p95 ms)", "",
              "| model | threads | threads per member | p50 | p95 |", "|---|---|---|---|---|"]
    for row in result["latency"]:
        lines.append(f"| {row['model']} | {row['threads']} | {row['threads_per_member']} | {row['p50_ms']:.2f} | "
                     f"{row['p95_ms']:.2f} |")
    lines += ["", "The in-browser fallback stays a single network (MobileNet v1 0.75, float16): in TF.js a second "
              "network would double its 45-70 ms per picture.", ""]
    return "\n".join(lines)


def write_ensemble_report(result: dict, report_dir: Path) -> Path:
    report_dir = Path(report_dir)
    report_dir.mkdir(parents=True, exist_ok=True)
    public = {k: v for k, v in result.items() if k != "entry"}
    (report_dir / RESULTS_FILE).write_text(json.dumps(public, indent=2) + "\n", "utf-8")
    path = report_dir / REPORT_FILE
    path.write_text(render_report(result), "utf-8")
    return path


def ensemble_card(entry: dict) -> str:
    validation = entry.get("validation") or {}
    members = "\n".join(f"- `{m['name']}` v{m['version']}, model file sha256 `{m['sha256']}`" for m in entry["members"])
    targets = "; ".join(f"{k}: {'met' if v else 'not met'}" for k, v in validation.get("targets", {}).items())
    return f"""# Model card: {entry['name']} v{entry['version']} (ensemble)

{entry['description']}

## Members (each installed and sha256-checked as its own model)

{members}

The host decodes the picture once, prepares it for each member with that member's own
preprocessing (central 87.5% crop, 224 px), runs the members one after the other and answers
the {entry['combine']} mean of their probabilities (weights {entry['weights']}).

## Measured accuracy

On the 400 evaluation photos of the lab's ImageNet sample split: top-1
{validation.get('top1', float('nan')):.4f}, top-5 {validation.get('top5', float('nan')):.4f}; best member
`{validation.get('best_member')}` {validation.get('best_member_top1', float('nan')):.4f} /
{validation.get('best_member_top5', float('nan')):.4f} (gain {validation.get('top1_gain_points', float('nan')):+.2f}
points). Verdict: **{validation.get('verdict', 'not validated')}** ({validation.get('rule', '')}). Targets: {targets}.
Full tables: docs/model-lab/ensemble.md.

## Licence

Apache-2.0 (both members' weights are Apache-2.0; see their model cards and models/registry.json).
"""
