"""Build every variant of every source model, evaluate, validate and register them.

For each pretrained float model in the source folder (../shared/models):

1. import it into tf_keras (TF.js layers model, or weights-only + rebuilt architecture) and
   check that every stored weight landed in its layer;
2. export it: TF.js layers model and TF.js graph model (lab folder), each loaded back and
   compared with the Keras model;
3. make the variants of models/config.py VARIANTS: TFLite float32 / float16 / dynamic-range
   int8; full-integer int8 (batch norm folded, calibrated on the 100 calibration images,
   weights rounded by GPTQ or, for comparison, to nearest); the TF.js-style weight
   quantizations (models/weight_quantization.py), written as TF.js layers artifacts, then
   dequantized into a float32 TFLite that the host can run;
4. evaluate every TFLite file through the host's own classifier on the 500 sample images,
   validate it against the float model on the 400 evaluation images, register the shipped
   ones in $TABSENSE_HOME/registry.json with their verdict, then time all of them in LiteRT
   (1 and 2 threads, interleaved rounds);
5. for the main model: the ablation of 8-bit weight quantization by weight group, and the
   graph-optimisation table (subprocess per thread count);
6. when the main model was built: the image ensemble of MobileNetV2 uint8 and the new int8
   variant, scored against its members, validated and registered (models/ensemble.py);
7. write $TABSENSE_HOME/lab/results.json, which `tabsense-models report` turns into the report.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from host.vision import to_input_array

from . import config, evaluation, registration, tfjs_io
from .samples import Sample, calibration, float_input, load_samples, model_pixels
from .validator import validate

log = logging.getLogger("tabsense.models.build")

RESULTS_FILE = "results.json"
CHECK_IMAGES = 8  # images used to compare exports with the Keras model


def lab_dir(home: Path) -> Path:
    return Path(home) / "lab"


def results_path(home: Path) -> Path:
    return lab_dir(home) / RESULTS_FILE


def _seed_everything() -> None:
    import random

    import tensorflow as tf

    random.seed(config.SEED)
    np.random.seed(config.SEED)
    tf.random.set_seed(config.SEED)


def _environment() -> dict:
    import ai_edge_litert
    import tensorflow as tf
    import tensorflowjs
    import tf_keras

    return {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "tensorflow": tf.__version__,
        "tf_keras": tf_keras.__version__,
        "tensorflowjs": tensorflowjs.__version__,
        "ai_edge_litert": getattr(ai_edge_litert, "__version__", "?"),
        "numpy": np.__version__,
    }


def _weight_error_summary(float_weights: dict, quantized: dict) -> dict:
    """How far each tensor moved, worst first: max error relative to the tensor's mean |w|,
    and how many of its values ended up on one level (a collapsed tensor uses few levels)."""
    rows = []
    for name, original in float_weights.items():
        q = quantized[name]
        error = np.abs(q.dequantize().astype(np.float64) - original.astype(np.float64))
        typical = float(np.mean(np.abs(original))) or 1.0
        rows.append({
            "name": name,
            "max_error_over_mean_abs": float(error.max() / typical),
            "levels_used": int(len(np.unique(q.values))),
            "values": int(original.size),
            "range": [float(original.min()), float(original.max())],
        })
    rows.sort(key=lambda row: -row["max_error_over_mean_abs"])
    return {"tensors": len(rows), "worst": rows[:6]}


class SourceBuild:
    """Everything built from one pretrained float model."""

    def __init__(self, source: config.SourceModel, source_dir: Path, home: Path, samples: list[Sample],
                 progress):
        self.source = source
        self.source_dir = Path(source_dir)
        self.home = Path(home)
        self.samples = samples
        self.progress = progress
        self.work = lab_dir(home) / source.name
        self.work.mkdir(parents=True, exist_ok=True)
        self.labels = registration.labels_text(self.source_dir).encode("utf-8")
        self.float_probabilities: np.ndarray | None = None
        self.float_eval: dict | None = None
        self._folded = None
        self.gptq_model = None
        self._calibration_pixels = None

    # --- import and exports ------------------------------------------------------------

    def import_model(self) -> dict:
        from .importers import load_float_model, model_weights

        folder = self.source_dir / self.source.folder
        started = time.perf_counter()
        self.model = load_float_model(folder, self.source.size)
        # The import check: every stored weight is in the layer of the same name, bit for bit.
        stored = tfjs_io.read_weights(folder)
        in_model = model_weights(self.model)
        mismatched = [n for n, v in stored.items() if n not in in_model or not np.array_equal(v, in_model[n])]
        if mismatched or len(stored) != len(in_model):
            raise RuntimeError(f"{len(mismatched)} weights did not land in their layers, e.g. {mismatched[:1]}.")
        self.progress(f"{self.source.name}: imported {folder.name} ({self.model.count_params():,} parameters, "
                      f"{len(stored)} weights checked against the shards, {time.perf_counter() - started:.1f} s)")
        return {"folder": str(folder), "topology": "rebuilt" if not tfjs_io.read_model_json(folder).get("modelTopology")
                else "from model.json", "parameters": int(self.model.count_params()),
                "weights_checked": len(stored), "weights_mismatched": 0}

    def check_images(self) -> np.ndarray:
        chosen = [s for s in self.samples if s.split == "evaluation"][:CHECK_IMAGES]
        return np.concatenate([float_input(s.path, self.source.size) for s in chosen])

    def export_tfjs(self) -> dict:
        from tensorflowjs.converters import keras_tfjs_loader

        from . import export
        from .tfjs_graph import load_graph_model

        exports = self.work / "exports"
        layers = export.to_tfjs_layers(self.model, exports / "tfjs_layers")
        graph = export.to_tfjs_graph(self.model, exports / "tfjs_graph")
        batch = self.check_images()
        reference = self.model.predict(batch, verbose=0)
        reloaded = keras_tfjs_loader.load_keras_model(str(layers)).predict(batch, verbose=0)
        graph_output = load_graph_model(graph.parent)(batch)
        records = {}
        for label, model_json, output in (("tfjs_layers", layers, reloaded), ("tfjs_graph", graph, graph_output)):
            files = sorted(p for p in model_json.parent.iterdir() if p.is_file())
            records[label] = {
                "folder": str(model_json.parent), **evaluation.size_record(files),
                "check_images": len(batch),
                "max_abs_diff_vs_keras": float(np.abs(output - reference).max()),
                "top1_equal": bool((output.argmax(1) == reference.argmax(1)).all()),
            }
        self.progress(f"{self.source.name}: TF.js layers {records['tfjs_layers']['bytes']:,} bytes "
                      f"(reload diff {records['tfjs_layers']['max_abs_diff_vs_keras']:.1e}), graph "
                      f"{records['tfjs_graph']['bytes']:,} bytes (diff {records['tfjs_graph']['max_abs_diff_vs_keras']:.1e})")
        self._keras_check = (batch, reference)
        return records

    # --- variants ----------------------------------------------------------------------

    def calibration_pixels(self) -> list[np.ndarray]:
        """Model-size RGB crops of the calibration images (never evaluated on)."""
        if self._calibration_pixels is None:
            self._calibration_pixels = [np.asarray(model_pixels(s.path, self.source.size), np.float32)
                                        for s in calibration(self.samples)]
        return self._calibration_pixels

    def calibration_batches(self, mean: float) -> list[np.ndarray]:
        return [((p - mean) / config.INPUT_STD)[np.newaxis] for p in self.calibration_pixels()]

    @property
    def folded(self):
        if self._folded is None:
            from .folding import fold_batch_norm

            self._folded = fold_batch_norm(self.model)
        return self._folded

    def build_variant(self, variant: config.Variant) -> dict:
        """Make the variant's files; returns a record with the TFLite bytes and the artifact."""
        from . import export

        started = time.perf_counter()
        record: dict = {"name": variant.model_name(self.source.name), "key": variant.key,
                        "quantization": variant.quantization, "summary": variant.summary,
                        "shipped": variant.ship, "input_mean": config.INPUT_MEAN}
        extra_files: dict[str, bytes] = {}
        if variant.kind == "tflite":
            kind = {"": "float32", "float16": "float16", "dynamic_int8": "dynamic_int8"}[variant.key]
            tflite = export.to_tflite(self.model, kind)
            record["artifact"] = {"format": "TFLite"}
        elif variant.kind == "int8":
            tflite, record["rounding"] = self._int8_variant(variant)
            record["input_mean"] = config.INT8_INPUT_MEAN
            record["artifact"] = {"format": "TFLite"}
        else:
            tflite, extra_files, record["weight_error"] = self._tfjs_weight_variant(variant)
            record["artifact"] = {"format": "TF.js layers model (quantized weights)"}
        record["build_seconds"] = round(time.perf_counter() - started, 1)
        record["_tflite"] = tflite
        record["_extra_files"] = extra_files
        return record

    def _int8_variant(self, variant: config.Variant) -> tuple[bytes, dict]:
        import tf_keras

        from . import export
        from .gptq import quantize_model_weights

        batches = self.calibration_batches(config.INT8_INPUT_MEAN)
        if variant.key == "int8":
            model = tf_keras.models.clone_model(self.folded)
            model.set_weights(self.folded.get_weights())
            stats = quantize_model_weights(model, np.concatenate(batches),
                                           min_rows_per_input=config.GPTQ_MIN_ROWS_PER_INPUT)
            self.gptq_model = model
            rounding = {"method": "GPTQ onto the TFLite int8 grid (per output channel, symmetric)",
                        "layers_gptq": sum(s["method"] == "gptq" for s in stats),
                        "layers_nearest": sum(s["method"] == "nearest" for s in stats),
                        "layers": stats}
        else:
            model = self.folded
            rounding = {"method": "nearest (the converter's own rounding)"}
        tflite = export.to_tflite(model, "int8", lambda: iter(batches))
        return tflite, rounding

    def _tfjs_weight_variant(self, variant: config.Variant):
        import tf_keras

        from . import export
        from .importers import model_weights, set_weights_by_name
        from .weight_quantization import dequantize_named_weights, quantize_named_weights

        bits = 16 if variant.key == "w16" else 8
        per_channel = variant.key == "w8_channel"
        base = self.folded if variant.key == "w8_folded" else self.model
        float_weights = model_weights(base)
        quantized = quantize_named_weights(float_weights, bits, per_channel)
        dequantized = dequantize_named_weights(quantized)
        artifact_dir = self.work / "tfjs_quantized" / variant.key
        files = tfjs_io.write_layers_model(artifact_dir, json.loads(base.to_json()), quantized)
        clone = tf_keras.models.clone_model(base)
        set_weights_by_name(clone, dequantized)
        tflite = export.to_tflite(clone, "float32")
        extra = {"tfjs_model": files[0].read_bytes(), "tfjs_weights": files[1].read_bytes()}
        return tflite, extra, _weight_error_summary(float_weights, quantized)

    def install_and_evaluate(self, variant: config.Variant, record: dict) -> dict | None:
        """Install the variant's files, evaluate through the host, validate; returns the entry."""
        name = record["name"]
        tflite: bytes = record.pop("_tflite")
        extra: dict = record.pop("_extra_files")
        stored_names = {"tfjs_model": tfjs_io.MODEL_JSON, "tfjs_weights": tfjs_io.SHARD_NAME}
        if variant.ship:
            files = {
                "model": registration.install_file(self.home, name, f"{name}.tflite", tflite),
                "labels": registration.install_file(self.home, name, config.LABELS_FILE, self.labels),
            }
            for role, data in extra.items():
                files[role] = registration.install_file(self.home, name, stored_names[role], data)
            folder = registration.model_dir(self.home, name)
        else:  # measured only: kept in the lab folder, never registered
            folder = self.work / "unshipped" / name
            folder.mkdir(parents=True, exist_ok=True)
            contents = {"model": (f"{name}.tflite", tflite), "labels": (config.LABELS_FILE, self.labels)}
            contents.update({role: (stored_names[role], data) for role, data in extra.items()})
            files = {}
            for role, (file_name, data) in contents.items():
                (folder / file_name).write_bytes(data)
                files[role] = {"path": file_name, "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
        model_path = folder / files["model"]["path"]
        labels_path = folder / files["labels"]["path"]
        record["model_path"] = str(model_path)

        from ai_edge_litert.interpreter import Interpreter

        input_dtype = np.dtype(Interpreter(model_path=str(model_path)).get_input_details()[0]["dtype"]).name
        entry = registration.make_entry(
            name=name,
            description=f"{self.source.description}: {variant.summary}.",
            quantization=variant.quantization,
            files=files,
            input_dtype=input_dtype,
            size=self.source.size,
            derived_from=None if variant.key == "" else self.source.name,
            blessed=False,
            validation=None,
            input_mean=record["input_mean"],
        )
        record["entry"] = entry
        record["files"] = files
        record["served_tflite"] = evaluation.size_record([model_path])
        artifact_roles = ["tfjs_model", "tfjs_weights"] if extra else ["model"]
        record["artifact"].update(evaluation.size_record([folder / files[r]["path"] for r in artifact_roles]))
        record["artifact"]["files"] = [files[r]["path"] for r in artifact_roles]

        probabilities = self._probabilities(entry, model_path, labels_path, files["model"]["sha256"])
        if variant.key == "":
            self.float_probabilities = probabilities
        metrics = evaluation.evaluate(probabilities, self.samples, self.float_probabilities)
        if variant.key == "":
            self.float_eval = metrics
            batch, reference = self._keras_check
            classifier = evaluation.classifier_for(entry, model_path, labels_path, 1)
            lite = np.concatenate([classifier.infer(batch[i:i + 1])[np.newaxis] for i in range(len(batch))])
            record["keras_vs_tflite"] = {"check_images": len(batch),
                                         "max_abs_diff": float(np.abs(lite - reference).max()),
                                         "top1_equal": bool((lite.argmax(1) == reference.argmax(1)).all())}
        record["metrics"] = metrics
        verdict = validate(metrics["top1"], self.float_eval["top1"], metrics["agreement"], metrics["images"])
        validation = verdict.as_dict()
        validation.update(top5=round(metrics["top5"], 6), mean_kl=round(metrics["mean_kl"], 6),
                          evaluation_set="the 400 evaluation images of the ImageNet sample "
                                         "(all but every 5th file by name)")
        record["validation"] = validation
        entry["blessed"] = verdict.blessed if variant.ship else False
        entry["validation"] = validation
        record["blessed"] = entry["blessed"]
        state = verdict.sentence() if variant.ship else "measured only, not registered (" + verdict.sentence() + ")"
        self.progress(f"{name}: {record['served_tflite']['bytes']:,} bytes, top-1 {metrics['top1']:.4f}, "
                      f"top-5 {metrics['top5']:.4f}, agreement {metrics['agreement']:.4f} -> {state}")
        return entry if variant.ship else None

    def _probabilities(self, entry: dict, model_path: Path, labels_path: Path, sha256: str) -> np.ndarray:
        """Probabilities on all samples; cached by the model file's sha256 (one run per file)."""
        cache = self.work / "probabilities" / f"{entry['name']}-{sha256[:16]}.npy"
        if cache.is_file():
            return np.load(cache)
        classifier = evaluation.classifier_for(entry, model_path, labels_path, config.EVAL_THREADS)
        probabilities = evaluation.predict_samples(classifier, self.samples, entry["name"])
        cache.parent.mkdir(parents=True, exist_ok=True)
        for old in cache.parent.glob(f"{entry['name']}-*.npy"):
            old.unlink()
        np.save(cache, probabilities)
        return probabilities

    # --- latency -----------------------------------------------------------------------

    def measure_latency(self, records: list[dict]) -> None:
        """p50/p95 of every variant, 1 and 2 threads, timed in interleaved rounds."""
        from ai_edge_litert.interpreter import Interpreter

        first = next(s for s in self.samples if s.split == "evaluation")
        pixels = model_pixels(first.path, self.source.size)
        per_round = max(1, config.LATENCY_RUNS // config.LATENCY_ROUNDS)
        for threads in config.LATENCY_THREADS:
            self.progress(f"{self.source.name}: timing {len(records)} variants in LiteRT, {threads} thread(s)")
            runners, times = [], []
            for record in records:
                interpreter = Interpreter(model_path=record["model_path"], num_threads=threads)
                interpreter.allocate_tensors()
                details = interpreter.get_input_details()[0]
                batch = to_input_array(pixels, record["entry"]["input"], details.get("quantization") or None)
                interpreter.set_tensor(details["index"], batch)
                for _ in range(config.LATENCY_WARMUP):
                    interpreter.invoke()
                runners.append(interpreter)
                times.append([])
            for _ in range(config.LATENCY_ROUNDS):
                for interpreter, bucket in zip(runners, times):
                    for _ in range(per_round):
                        start = time.perf_counter()
                        interpreter.invoke()
                        bucket.append((time.perf_counter() - start) * 1000)
            for record, bucket in zip(records, times):
                record.setdefault("latency", []).append({
                    "threads": threads, "p50_ms": float(np.percentile(bucket, 50)),
                    "p95_ms": float(np.percentile(bucket, 95)), "runs": len(bucket),
                    "warmup": config.LATENCY_WARMUP})
            del runners

    # --- analyses of the main model ----------------------------------------------------

    def ablation(self) -> dict:
        """Which weights break 8-bit: quantize one group at a time (Keras, same pixels)."""
        import tf_keras

        from .importers import model_weights, set_weights_by_name
        from .weight_quantization import channel_axis, quantize

        evaluation_samples = [s for s in self.samples if s.split == "evaluation"]
        batch = np.concatenate([float_input(s.path, self.source.size) for s in evaluation_samples])
        labels = np.array([s.label for s in evaluation_samples])
        reference = self.model.predict(batch, batch_size=50, verbose=0)
        weights = model_weights(self.model)
        vector_kinds = ("gamma", "beta", "moving_mean", "moving_variance", "bias")

        def kind(name):
            return name.rsplit("/", 1)[-1]

        def per_tensor(_, value):
            return quantize(value, 8).dequantize()

        def per_channel(name, value):
            return quantize(value, 8, channel_axis(name, value.shape)).dequantize()

        configurations = [
            ("all weights, 8-bit per tensor (TF.js --quantize_uint8)", lambda n: True, per_tensor),
            ("only conv kernels (1x1 and 3x3), per tensor", lambda n: kind(n) == "kernel", per_tensor),
            ("only depthwise kernels, per tensor", lambda n: kind(n) == "depthwise_kernel", per_tensor),
            ("only batch-norm moving_variance, per tensor", lambda n: kind(n) == "moving_variance", per_tensor),
            ("only batch-norm moving_mean, per tensor", lambda n: kind(n) == "moving_mean", per_tensor),
            ("only batch-norm gamma and beta, per tensor", lambda n: kind(n) in ("gamma", "beta"), per_tensor),
            ("all vectors (BN, biases), per tensor", lambda n: kind(n) in vector_kinds, per_tensor),
            ("kernels per output channel, vectors per tensor", lambda n: True, per_channel),
            ("kernels per output channel, vectors kept float32", lambda n: kind(n) not in vector_kinds, per_channel),
        ]
        rows = []
        for label, selected, method in configurations:
            clone = tf_keras.models.clone_model(self.model)
            set_weights_by_name(clone, {n: (method(n, v) if selected(n) else v) for n, v in weights.items()})
            rows.append(self._keras_row(label, clone, batch, labels, reference))
        folded = self.folded
        from .gptq import _layer_matrix, _set_layer_matrix, round_to_grid
        from .folding import conv_layers

        nearest = tf_keras.models.clone_model(folded)
        nearest.set_weights(folded.get_weights())
        for layer in conv_layers(nearest):
            _set_layer_matrix(layer, round_to_grid(_layer_matrix(layer).astype(np.float64)))
        rows.append(self._keras_row("BN folded, int8 grid per channel, nearest rounding (weights only)",
                                    nearest, batch, labels, reference))
        if self.gptq_model is not None:
            rows.append(self._keras_row("BN folded, int8 grid per channel, GPTQ rounding (weights only)",
                                        self.gptq_model, batch, labels, reference))
        return {"images": int(len(labels)), "float_top1": float((reference.argmax(1) == labels).mean()),
                "evaluated_with": "Keras (tf_keras), host preprocessing, float32 activations", "rows": rows}

    @staticmethod
    def _keras_row(label, model, batch, labels, reference) -> dict:
        output = model.predict(batch, batch_size=50, verbose=0)
        return {"weights": label, "top1": float((output.argmax(1) == labels).mean()),
                "agreement": float((output.argmax(1) == reference.argmax(1)).mean())}

    def graph_optimisation(self, float_model: Path, int8_model: Path) -> list[dict]:
        tables = []
        first = next(s for s in self.samples if s.split == "evaluation")
        for threads in config.LATENCY_THREADS:
            out = self.work / f"graph_optimization_{threads}.json"
            command = [sys.executable, "-m", "models.graph_optimization", "--exports", str(self.work / "exports"),
                       "--tflite", str(float_model), "--tflite-int8", str(int8_model),
                       "--threads", str(threads), "--image", str(first.path), "--json", str(out)]
            self.progress(f"{self.source.name}: graph-optimisation table, {threads} thread(s)")
            subprocess.run(command, check=True, cwd=config.REPO_ROOT,
                           env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", TFDF_DISABLE_WELCOME_MESSAGE="1"))
            tables.append(json.loads(out.read_text("utf-8")))
        return tables

    def run(self, analyses: bool) -> dict:
        result = {"source": self.source.name, "description": self.source.description}
        result["import"] = self.import_model()
        result["exports"] = self.export_tfjs()
        entries, records = [], []
        for variant in config.VARIANTS:
            self.progress(f"{variant.model_name(self.source.name)}: building ({variant.summary})")
            record = self.build_variant(variant)
            entry = self.install_and_evaluate(variant, record)
            if entry is not None:
                entries.append(entry)
            records.append(record)
        registry = registration.register(self.home, entries)
        self.progress(f"{self.source.name}: registered {len(entries)} models in {registry} "
                      f"({sum(e['blessed'] for e in entries)} blessed)")
        self.measure_latency(records)
        for record in records:
            record.pop("entry", None)
        result["variants"] = records
        if analyses:
            self.progress(f"{self.source.name}: 8-bit ablation by weight group (Keras)")
            result["ablation"] = self.ablation()
            by_key = {r["key"]: r for r in records}
            result["graph_optimization"] = self.graph_optimisation(Path(by_key[""]["model_path"]),
                                                                   Path(by_key["int8"]["model_path"]))
        return result


def build_all(source_dir: Path, home: Path, samples_dir: Path, model_names: list[str] | None,
              analyses: bool = True, progress=None) -> dict:
    """Build, evaluate, validate and register every variant; write and return the results."""
    progress = progress or (lambda message: print(message, file=sys.stderr, flush=True))
    source_dir, home = Path(source_dir), Path(home)
    if not source_dir.is_dir():
        raise FileNotFoundError(f"{source_dir} does not exist; pass the folder of the pretrained models.")
    _seed_everything()
    started = time.perf_counter()
    samples = load_samples(samples_dir)
    progress(f"{len(samples)} sample images: {sum(s.split == 'calibration' for s in samples)} for calibration, "
             f"{sum(s.split == 'evaluation' for s in samples)} for evaluation")
    sources = [config.source_by_name(n) for n in model_names] if model_names else list(config.SOURCE_MODELS)
    results = {
        "generated": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "environment": _environment(),
        "data": {
            "folder": str(samples_dir),
            "images": len(samples),
            "calibration_images": sum(s.split == "calibration" for s in samples),
            "evaluation_images": sum(s.split == "evaluation" for s in samples),
            "split": f"in file-name order, every {config.CALIBRATION_EVERY}th image (positions 0, "
                     f"{config.CALIBRATION_EVERY}, 10, ...) calibrates full-integer int8 and GPTQ; "
                     "the other 400 evaluate every variant",
            "preprocess": config.PREPROCESS,
            "findings": _finding_counts(samples),
            "slices": {
                "category": _count(s.category for s in samples if s.split == "evaluation"),
                "size": _count(s.size_bucket for s in samples if s.split == "evaluation"),
            },
        },
        "rule": {"max_top1_drop_points": config.MAX_TOP1_DROP_POINTS, "min_agreement": config.MIN_TOP1_AGREEMENT},
        "models": {},
    }
    previous = _read_previous(home)
    for source in sources:
        build = SourceBuild(source, source_dir, home, samples, progress)
        results["models"][source.name] = build.run(analyses and source.name == config.MAIN_MODEL)
    if config.MAIN_MODEL in results["models"] and any(s.name == config.MAIN_MODEL for s in sources):
        from .ensemble import build_ensemble

        results["ensemble"] = build_ensemble(home, source_dir, samples_dir, progress, samples=samples)
    for name, value in previous.get("models", {}).items():  # keep models not rebuilt this time
        results["models"].setdefault(name, value)
    results["build_seconds"] = round(time.perf_counter() - started, 1)
    path = results_path(home)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2) + "\n", "utf-8")
    progress(f"results written to {path} ({results['build_seconds']:.0f} s)")
    return results


def _count(values) -> dict:
    counts: dict[str, int] = {}
    for value in values:
        counts[value] = counts.get(value, 0) + 1
    return dict(sorted(counts.items()))


def _finding_counts(samples: list[Sample]) -> dict:
    return _count(code for sample in samples for code in sample.findings)


def _read_previous(home: Path) -> dict:
    path = results_path(home)
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text("utf-8"))
    except ValueError:
        return {}
