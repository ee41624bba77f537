"""What batch-norm folding and bias + activation fusion do: op counts and latency of the same
float model as a Keras layers model, as a traced `tf.function` graph, as the folded/fused
graph of the TF.js graph model (run in TensorFlow), and as TFLite (float32 and int8).

This is the Python analogue of the TF.js LayersModel vs GraphModel table. Run as a script in
its own process so that TensorFlow's thread pools can be set before TensorFlow starts:

    python -m models.graph_optimization --exports DIR --tflite F32 --tflite-int8 I8 --threads 1 --json OUT

Latency: batch of one real image, median and p95 of RUNS calls after WARMUP calls.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

WARMUP = 10
RUNS = 50
SEED = 1234
# Ops that only move or name data: counted in "all ops" but not in "compute ops".
BOOKKEEPING_OPS = {"Const", "Identity", "NoOp", "Placeholder", "ReadVariableOp", "VarHandleOp",
                   "_Arg", "_Retval", "StatefulPartitionedCall", "PartitionedCall", "Shape",
                   "StridedSlice", "Pack"}


def _timed(call, warmup: int = WARMUP, runs: int = RUNS) -> dict:
    for _ in range(warmup):
        call()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        call()
        times.append((time.perf_counter() - start) * 1000)
    return {"p50_ms": float(np.percentile(times, 50)), "p95_ms": float(np.percentile(times, 95)), "runs": runs}


def _counts(op_types: list[str]) -> dict:
    counter = collections.Counter(op_types)
    compute = {op: n for op, n in counter.items() if op not in BOOKKEEPING_OPS}
    return {"all_ops": sum(counter.values()), "compute_ops": sum(compute.values()),
            "by_type": dict(sorted(compute.items(), key=lambda item: (-item[1], item[0])))}


def keras_layer_types(model) -> list[str]:
    return [layer.__class__.__name__ for layer in model.layers if layer.__class__.__name__ != "InputLayer"]


def function_graph_ops(concrete) -> list[str]:
    """Op types of a traced tf.function, including the ops inside its called functions."""
    graph_def = concrete.graph.as_graph_def()
    ops = [node.op for node in graph_def.node]
    for function in graph_def.library.function:
        ops += [node.op for node in function.node_def]
    return ops


def tflite_ops(path: Path) -> list[str]:
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path))
    interpreter.allocate_tensors()
    return [op["op_name"] for op in interpreter._get_ops_details()]


def measure(exports: Path, tflite_float: Path, tflite_int8: Path | None, threads: int, image: Path | None) -> dict:
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    from ai_edge_litert.interpreter import Interpreter

    from .importers import load_float_model
    from .samples import float_input
    from .tfjs_graph import load_graph_model

    model = load_float_model(exports / "tfjs_layers")
    size = model.input_shape[1]
    if image is not None:
        batch = float_input(image, size)
    else:
        batch = np.random.default_rng(SEED).uniform(-1, 1, (1, size, size, 3)).astype(np.float32)
    tensor = tf.constant(batch)

    rows = []
    reference = model(tensor, training=False).numpy()
    rows.append({
        "form": "Keras layers model, model(x) (eager)",
        "ops": _counts(keras_layer_types(model)),
        "op_unit": "layers",
        "latency": _timed(lambda: model(tensor, training=False)),
    })
    rows.append({
        "form": "Keras layers model, model.predict(x)",
        "ops": _counts(keras_layer_types(model)),
        "op_unit": "layers",
        "latency": _timed(lambda: model.predict(batch, verbose=0), warmup=3, runs=20),
    })
    concrete = tf.function(lambda x: model(x, training=False)).get_concrete_function(
        tf.TensorSpec(batch.shape, tf.float32))
    rows.append({
        "form": "tf.function graph (as traced; TF's runtime optimiser still runs)",
        "ops": _counts(function_graph_ops(concrete)),
        "op_unit": "graph ops",
        "latency": _timed(lambda: concrete(tensor)),
        "max_abs_diff_vs_keras": float(np.abs(concrete(tensor).numpy() - reference).max()),
    })
    graph_model = load_graph_model(exports / "tfjs_graph")
    graph_json = json.loads((exports / "tfjs_graph" / "model.json").read_text("utf-8"))
    rows.append({
        "form": "Folded + fused graph (TF.js graph model: BN folded, bias+ReLU6 fused), run in TF",
        "ops": _counts([node["op"] for node in graph_json["modelTopology"]["node"]]),
        "op_unit": "graph ops",
        "latency": _timed(lambda: graph_model.function(tensor)),
        "max_abs_diff_vs_keras": float(np.abs(graph_model(batch) - reference).max()),
    })
    for label, path in (("TFLite float32 (LiteRT, XNNPACK)", tflite_float), ("TFLite int8 (LiteRT)", tflite_int8)):
        if path is None:
            continue
        interpreter = Interpreter(model_path=str(path), num_threads=threads)
        interpreter.allocate_tensors()
        details = interpreter.get_input_details()[0]
        scale, zero_point = details["quantization"]
        feed = batch if not scale else np.clip(np.rint(batch / scale + zero_point), -128, 127).astype(details["dtype"])
        interpreter.set_tensor(details["index"], feed)
        rows.append({
            "form": label,
            "ops": _counts(tflite_ops(path)),
            "op_unit": "TFLite ops",
            "latency": _timed(interpreter.invoke, warmup=20, runs=100),
        })
    return {"threads": threads, "rows": rows}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--exports", required=True, type=Path, help="folder with tfjs_layers/ and tfjs_graph/")
    parser.add_argument("--tflite", required=True, type=Path, help="float32 .tflite")
    parser.add_argument("--tflite-int8", type=Path, help="full-integer int8 .tflite")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--image", type=Path, help="a real image to time on (default: random pixels)")
    parser.add_argument("--json", type=Path, required=True, help="write the table here")
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    result = measure(args.exports, args.tflite, args.tflite_int8, args.threads, args.image)
    args.json.write_text(json.dumps(result, indent=2) + "\n", "utf-8")
    for row in result["rows"]:
        print(f"{row['form']}: {row['ops']['compute_ops']} compute {row['op_unit']}, "
              f"p50 {row['latency']['p50_ms']:.2f} ms", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
