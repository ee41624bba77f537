"""Turn the build's results.json into the report: report.json, report.md and a PNG plot.

    tabsense-models report [--report-dir docs/model-lab]

The Markdown holds one table per source model (accuracy, size, latency, verdict), the
per-slice accuracy, the 8-bit ablation, the graph-optimisation table and the conversion
checks; the plot shows top-1 against artifact size and against LiteRT latency.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

from . import config

PLOT_FILE = "accuracy_size_latency.png"
TFJS_STUDY = ("TF.js weight-quantization study (MobileNetV2, 1000-image ImageNet subset, per-tensor min/max): "
              "top-1 0.618 float32, 0.624 16-bit, 0.280 8-bit.")
PRIVATE_KEYS = {"model_path", "folder"}


def _public(results: dict) -> dict:
    """results.json without machine-specific paths."""
    def strip(value):
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if k not in PRIVATE_KEYS}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value

    public = strip(copy.deepcopy(results))
    public.get("data", {}).pop("folder", None)
    return public


def _mb(n: int) -> str:
    return f"{n / 1e6:.2f} MB"


def _latency(variant: dict, threads: int) -> dict | None:
    for row in variant.get("latency", []):
        if row["threads"] == threads:
            return row
    return None


def _state(variant: dict) -> str:
    if not variant["shipped"]:
        return "measured only"
    return "**blessed**" if variant["blessed"] else "rejected"


def summary_rows(model: dict) -> list[dict]:
    """One flat row per variant with everything the tables and the plot need."""
    variants = model["variants"]
    float_variant = next(v for v in variants if v["key"] == "")
    float_bytes = float_variant["artifact"]["bytes"]
    float_l1 = _latency(float_variant, 1)
    rows = []
    for v in variants:
        metrics, art = v["metrics"], v["artifact"]
        l1, l2 = _latency(v, 1), _latency(v, 2)
        rows.append({
            "name": v["name"], "key": v["key"] or "float32", "quantization": v["quantization"], "state": _state(v),
            "format": art["format"], "bytes": art["bytes"], "percent_of_float": 100 * art["bytes"] / float_bytes,
            "gzip_bytes": art["gzip_bytes"], "gzip_ratio": art["gzip_ratio"],
            "served_bytes": v["served_tflite"]["bytes"],
            "top1": metrics["top1"], "top5": metrics["top5"], "agreement": metrics["agreement"],
            "mean_kl": metrics["mean_kl"], "top1_all_500": metrics["all_images"]["top1"],
            "top1_drop_points": v["validation"]["top1_drop_points"],
            "p50_1": l1["p50_ms"] if l1 else None, "p95_1": l1["p95_ms"] if l1 else None,
            "p50_2": l2["p50_ms"] if l2 else None, "p95_2": l2["p95_ms"] if l2 else None,
            "speedup_1": (float_l1["p50_ms"] / l1["p50_ms"]) if (l1 and float_l1) else None,
        })
    return rows


def _fmt_ms(p50, p95) -> str:
    return "–" if p50 is None else f"{p50:.2f} / {p95:.2f}"


def _accuracy_table(rows: list[dict]) -> list[str]:
    lines = ["| variant | quantization | verdict | top-1 | Δ top-1 (pts) | top-5 | agreement | mean KL | top-1, all 500 |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| `{r['name']}` | {r['quantization']} | {r['state']} | {r['top1']:.4f} | "
                     f"{0.0 - r['top1_drop_points'] + 0.0:+.2f} | {r['top5']:.4f} | {r['agreement']:.2%} | "
                     f"{r['mean_kl']:.4f} | {r['top1_all_500']:.3f} |")
    return lines


def _size_latency_table(rows: list[dict]) -> list[str]:
    lines = ["| variant | artifact | bytes | % of float | gzip -9 | gzip ratio | served .tflite | "
             "LiteRT p50 / p95 ms, 1 thread | 2 threads | speed-up vs float32 (1 thread) |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        speedup = f"{r['speedup_1']:.2f}x" if r["speedup_1"] else "–"
        lines.append(f"| `{r['name']}` | {r['format']} | {r['bytes']:,} | {r['percent_of_float']:.1f}% | "
                     f"{r['gzip_bytes']:,} | {r['gzip_ratio']:.3f} | {r['served_bytes']:,} | "
                     f"{_fmt_ms(r['p50_1'], r['p95_1'])} | {_fmt_ms(r['p50_2'], r['p95_2'])} | {speedup} |")
    return lines


def _slices_table(model: dict) -> list[str]:
    variants = model["variants"]
    first = variants[0]["metrics"]["slices"]
    columns = [(kind, name, info["images"]) for kind in ("category", "size", "image_checks")
               for name, info in first[kind].items()]
    header = "| variant | " + " | ".join(f"{name} ({n})" for _, name, n in columns) + " |"
    lines = [header, "|---|" + "---|" * len(columns)]
    for v in variants:
        slices = v["metrics"]["slices"]
        cells = [f"{slices[kind][name]['top1']:.3f}" if name in slices[kind] else "–" for kind, name, _ in columns]
        lines.append(f"| `{v['name']}` | " + " | ".join(cells) + " |")
    return lines


def _ablation_table(ablation: dict) -> list[str]:
    lines = [f"Float top-1 {ablation['float_top1']:.4f} on {ablation['images']} images "
             f"({ablation['evaluated_with']}); one row per experiment, every other weight stays float32.", "",
             "| 8-bit quantized weights | top-1 | agreement with float |", "|---|---|---|"]
    for row in ablation["rows"]:
        lines.append(f"| {row['weights']} | {row['top1']:.4f} | {row['agreement']:.2%} |")
    return lines


def _graph_table(tables: list[dict]) -> list[str]:
    lines = []
    for table in tables:
        lines += [f"**{table['threads']} thread(s)**", "",
                  "| form | compute ops | all ops | main op types | p50 / p95 ms | max abs diff vs Keras |",
                  "|---|---|---|---|---|---|"]
        for row in table["rows"]:
            ops = row["ops"]
            top = ", ".join(f"{op} {n}" for op, n in list(ops["by_type"].items())[:5])
            diff = row.get("max_abs_diff_vs_keras")
            lines.append(f"| {row['form']} | {ops['compute_ops']} {row['op_unit']} | {ops['all_ops']} | {top} | "
                         f"{row['latency']['p50_ms']:.2f} / {row['latency']['p95_ms']:.2f} | "
                         f"{'–' if diff is None else f'{diff:.1e}'} |")
        lines.append("")
    return lines


def _checks(model: dict) -> list[str]:
    imp, exports = model["import"], model["exports"]
    float_variant = next(v for v in model["variants"] if v["key"] == "")
    lines = [f"- Import ({imp['topology']} topology): {imp['weights_checked']} weights compared with the shards, "
             f"{imp['weights_mismatched']} mismatched; {imp['parameters']:,} parameters."]
    for label, record in exports.items():
        lines.append(f"- {label.replace('_', ' ')} export: {record['bytes']:,} bytes (gzip -9 {record['gzip_bytes']:,}); "
                     f"loaded back, max |Δ| vs Keras {record['max_abs_diff_vs_keras']:.1e} on "
                     f"{record['check_images']} images, same top-1: {record['top1_equal']}.")
    check = float_variant.get("keras_vs_tflite")
    if check:
        lines.append(f"- TFLite float32 through the host vs Keras on the same pixels: max |Δ| "
                     f"{check['max_abs_diff']:.1e} on {check['check_images']} images, same top-1: {check['top1_equal']}.")
    return lines


def _findings(model: dict, rows: list[dict]) -> list[str]:
    by_key = {r["key"]: r for r in rows}
    f32 = by_key["float32"]
    lines = []
    if "w8" in by_key:
        w8 = by_key["w8"]
        lines.append(f"- **8-bit per tensor (TF.js `--quantize_uint8`)** on the layers model: top-1 {w8['top1']:.4f} "
                     f"vs {f32['top1']:.4f} float ({w8['top1'] - f32['top1']:+.4f}), agreement {w8['agreement']:.1%}. "
                     "Batch norm keeps its own tensors in a layers model, which limits the damage.")
    if "w8_folded" in by_key:
        wf = by_key["w8_folded"]
        lines.append(f"- **8-bit per tensor after batch-norm folding** (what a TF.js graph model quantizes): top-1 "
                     f"{wf['top1']:.4f}, agreement {wf['agreement']:.1%}: the collapse. Folding multiplies each "
                     "channel by gamma/sqrt(var), so one tensor spans channels of very different scales and one "
                     "min/scale pair leaves the small channels a handful of levels.")
    if "w8_channel" in by_key:
        wc = by_key["w8_channel"]
        lines.append(f"- **8-bit per output channel** (kernels; BN vectors still per tensor, as TF.js stores them): "
                     f"top-1 {wc['top1']:.4f}, agreement {wc['agreement']:.1%}"
                     + (": top-1 recovers, agreement does not (the ablation shows why: the per-tensor batch-norm "
                        "statistics, and rounding error that adds up over 28 layers)." if model.get("ablation") else "."))
    if "int8" in by_key:
        i8 = by_key["int8"]
        line = (f"- **Full-integer int8, GPTQ rounding**: top-1 {i8['top1']:.4f} ({i8['top1'] - f32['top1']:+.4f}), "
                f"agreement {i8['agreement']:.2%}, {i8['bytes']:,} bytes = {i8['percent_of_float']:.1f}% of float32, "
                f"verdict {i8['state']}.")
        if i8["p50_1"] and f32["p50_1"]:
            line += (f" LiteRT p50 {i8['p50_1']:.2f} ms vs {f32['p50_1']:.2f} ms float32 at 1 thread "
                     f"({i8['speedup_1']:.2f}x), {i8['p50_2']:.2f} vs {f32['p50_2']:.2f} ms at 2 threads.")
        lines.append(line)
    if "int8_nearest" in by_key:
        n8 = by_key["int8_nearest"]
        gain = by_key.get("int8", n8)["agreement"] - n8["agreement"]
        lines.append(f"- **Full-integer int8, the converter's nearest rounding** (same calibration): top-1 "
                     f"{n8['top1']:.4f}, agreement {n8['agreement']:.2%}; GPTQ rounding adds {gain * 100:+.2f} points "
                     "of agreement at the same size and speed.")
    if "dynamic_int8" in by_key:
        d8 = by_key["dynamic_int8"]
        lines.append(f"- **Dynamic-range int8** (not shipped): top-1 {d8['top1']:.4f}, agreement {d8['agreement']:.2%}, "
                     f"p50 {d8['p50_1']:.2f} ms at 1 thread (float32 {f32['p50_1']:.2f} ms).")
    return lines


def render_markdown(results: dict) -> str:
    data = results["data"]
    out = [
        "# Model lab report",
        "",
        f"Generated {results['generated']} by `tabsense-models build --from ../shared/models` "
        f"({results.get('build_seconds', 0):.0f} s on {results['environment']['cpu_count']} CPU cores; "
        f"TensorFlow {results['environment']['tensorflow']}, tf_keras {results['environment']['tf_keras']}, "
        f"tensorflowjs {results['environment']['tensorflowjs']}, ai-edge-litert {results['environment']['ai_edge_litert']}).",
        "",
        f"- Images: {data['images']} ImageNet sample photos (one per even class); {data['split']}. Every "
        f"accuracy below is on the {data['evaluation_images']} evaluation images unless it says \"all 500\" "
        "(that column is what `tabsense evaluate --model NAME` reports: center crop, all images).",
        "- Preprocessing: the host's own (decode, draft, central 87.5% crop, bilinear resize to 224, (pixel - mean) / 127.5; "
        "int8 inputs quantized with the model's scale and zero point). TFLite files are evaluated through "
        "`host.classifier.ImageClassifier`, so these are the numbers the host serves.",
        f"- Validator: blessed if top-1 is at most {results['rule']['max_top1_drop_points']:g} point below the float "
        f"model and top-1 agreement with it is at least {results['rule']['min_agreement']:.0%}.",
        "- Agreement: share of images whose top-1 class equals the float model's; mean KL: KL(float || variant) "
        "in nats, probabilities clipped at 1e-7 (full-integer int8 outputs are multiples of 1/256, so its small "
        "probabilities are 0 and its KL is dominated by that tail, not by the top classes).",
        "- Latency: LiteRT `invoke()` on one 224x224 image after 20 warm-up runs, 100 runs per thread count, all "
        "variants of a model timed in interleaved rounds; the machine is shared with other jobs, so compare "
        "rows rather than absolute values.",
        "- Sizes: \"artifact\" is what would be shipped (the .tflite, or model.json + weights of the TF.js-style "
        "variants); \"served .tflite\" is what the host runs (for the TF.js-style variants, the dequantized float32 "
        "weights).",
        f"- Image checks on the sample set: {json.dumps(data['findings'])} (host/image_checks.py).",
        "",
        f"![top-1 against size and latency]({PLOT_FILE})",
        "",
    ]
    for name, model in results["models"].items():
        rows = summary_rows(model)
        out += [f"## {name}", "", model["description"] + ".", ""]
        out += _findings(model, rows) + [""]
        out += ["### Accuracy and verdict", ""] + _accuracy_table(rows) + [""]
        out += ["### Size and latency", ""] + _size_latency_table(rows) + [""]
        out += ["### Top-1 per slice (evaluation images; count in brackets)", "",
                "Categories from the ImageNet class index: animals 0-397, objects 398-923, food 924-969, "
                "scenes 970-980, other 981-999; size buckets by the photo's shorter side.", ""]
        out += _slices_table(model) + [""]
        if model.get("ablation"):
            out += ["### Which weights break 8-bit? (ablation)", ""] + _ablation_table(model["ablation"]) + [""]
        if model.get("graph_optimization"):
            out += ["### Graph optimisation: batch-norm folding and bias + activation fusion", "",
                    "The same float model in four forms (the Python analogue of TF.js LayersModel vs GraphModel). "
                    "Ops are layers for Keras, graph nodes for TensorFlow (\"compute\" leaves out constants, "
                    "variable reads, identities), operators for TFLite.", ""]
            out += _graph_table(model["graph_optimization"])
        out += ["### Conversion checks", ""] + _checks(model) + [""]
    out += ["## For comparison", "", "- " + TFJS_STUDY, "",
            "## Reproduce", "", "```sh", "tabsense-models build --from ../shared/models   # ~8 min on 2 cores; "
            "writes this report", "tabsense-models report                          # rewrite it from the last build",
            "```", ""]
    return "\n".join(out)


def render_plot(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (by_size, by_latency) = plt.subplots(1, 2, figsize=(13, 5.2))
    markers = {config.SOURCE_MODELS[0].name: "o", config.SOURCE_MODELS[1].name: "s"}
    for name, model in results["models"].items():
        rows = summary_rows(model)
        marker = markers.get(name, "^")
        for r in rows:
            colour = "tab:green" if r["state"] == "**blessed**" else ("tab:red" if r["state"] == "rejected" else "tab:gray")
            by_size.scatter(r["bytes"] / 1e6, r["top1"], marker=marker, color=colour, s=50)
            by_size.annotate(r["key"], (r["bytes"] / 1e6, r["top1"]), fontsize=7, xytext=(4, 3),
                             textcoords="offset points")
            if r["p50_1"] and r["format"] == "TFLite":  # TF.js-style variants run as float32 here
                by_latency.scatter(r["p50_1"], r["top1"], marker=marker, color=colour, s=50)
                by_latency.annotate(r["key"], (r["p50_1"], r["top1"]), fontsize=7, xytext=(4, 3),
                                    textcoords="offset points")
    by_size.set_xscale("log")
    by_size.set_xlabel("artifact size (MB, log scale)")
    by_latency.set_xlabel("LiteRT p50 latency, 1 thread (ms); TFLite artifacts only")
    for axis in (by_size, by_latency):
        axis.set_ylabel("top-1 on the 400 evaluation images")
        axis.grid(True, alpha=0.3)
    handles = [plt.Line2D([], [], marker=m, linestyle="", color="black", label=n) for n, m in markers.items()]
    handles += [plt.Line2D([], [], marker="o", linestyle="", color=c, label=l)
                for c, l in (("tab:green", "blessed"), ("tab:red", "rejected"), ("tab:gray", "measured only"))]
    by_latency.legend(handles=handles, fontsize=8, loc="center right")
    figure.suptitle("Quantization variants: top-1 vs size and latency")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def write_report(results: dict, report_dir: Path) -> list[Path]:
    report_dir = Path(report_dir)
    report_dir.mkdir(parents=True, exist_ok=True)
    public = _public(results)
    public["summary"] = {name: summary_rows(model) for name, model in results["models"].items()}
    json_path = report_dir / "report.json"
    json_path.write_text(json.dumps(public, indent=2) + "\n", "utf-8")
    md_path = report_dir / "report.md"
    md_path.write_text(render_markdown(results), "utf-8")
    plot_path = report_dir / PLOT_FILE
    render_plot(results, plot_path)
    return [json_path, md_path, plot_path]
