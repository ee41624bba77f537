"""Step 2: train the keyword CNN and export it as a full-integer int8 TFLite model.

Input: raw `host.features.log_mel` windows, [148 frames, 40 mel bins, 1] float32 (what the
host computes; per-mel-bin normalisation is a layer INSIDE the model, with statistics from
the training set). Model: a small depthwise-separable CNN (DS-CNN) whose receptive field
spans the whole 1.5 s window, global average pooling, softmax over CLASSES
(`_silence_`, `_unknown_`, the six commands). Fixed seed, class-balanced weights,
frequency masking, hard-negative mining rounds (--mine, MINE_AT; the pipeline's default); each
model's weights are the mean of its last epochs' weights (AVERAGE_EPOCHS). With --members N,
N models are trained alike with seeds seed, seed + 1, ... and exported as ONE model whose output
is the mean of their probabilities (one file, one interpreter call in the host); the published
recipe trains one (MEMBERS).

Export: `tf.lite.TFLiteConverter` full-integer int8 (int8 input and output, per-channel
weights), calibrated on generated training windows of every class and digital silence; the int8 model is loaded with
`ai_edge_litert` and its validation accuracy compared with the float model's.
Uses tf_keras (Keras 2), whose models the TFLite converter handles directly.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import time
from pathlib import Path

import numpy as np

from host.features import LOG_FLOOR

from .common import CLASSES, COMMANDS, WINDOW_FRAMES, log, run_dir, save_json, setup_logging

# ----------------------------------------------------------------------------- constants
SEED = 1
MEL = 40
EPOCHS = {"full": 40, "small": 3}  # per member (MEMBERS)
MIN_EPOCHS = 15  # snapshots are kept, and the best single epoch (reported) is looked for, from here on
BATCH = 128
LEARNING_RATE = 3e-3
WIDTHS = [(96, 2), (96, 1), (128, 2), (128, 1), (160, 2), (160, 1)]  # (channels, time/freq stride) per DS block
FIRST_FILTERS = 48
POOLING = "avg"  # "avg" or "avg+max" (global pooling over the last feature map)
KERNEL = (5, 3)  # time x frequency: the receptive field grows to the whole window
DROPOUT = 0.4
L2 = 1e-4
FREQ_MASK = 4  # up to this many mel bins masked per training example
WARP_RANGE = (0.85, 1.15)  # vocal-tract-length-like warping of the mel axis (p = P_WARP)
P_WARP = 0.7
TILT_MAX, RIPPLE_MAX = 1.0, 0.3  # random spectral tilt / ripple (natural-log units) over the mel bins
# Hard-negative mining (--mine; in the published recipe since v3, see
# docs/speech/experiments.md): at these epochs the model scores every window of the
# training-split stream (generate.py --mining-pool, mine.npz) and the ones where a command's
# probability reaches MINE_SCORE (at most MINE_MAX per round, highest first) join the training
# set as `_unknown_`. Random crops rarely contain the few sounds that resemble a command.
MINE_AT = {"full": (10, 20), "small": (1, 2)}
MINE_SCORE = 0.2
MINE_MAX = 3000
# Weight averaging (stochastic weight averaging at the end of the cosine schedule): the published
# weights, batch-norm moving statistics included, are the mean of the last AVERAGE_EPOCHS epochs'.
# One epoch's weights swing the detector's recall on held-out voices by several points from epoch
# to epoch; their mean does not depend on that luck. 12 of 40 was the best of 5, 8, 12 and 16 on the
# validation voices (docs/speech/experiments.md). Recomputing the batch-norm statistics on the
# (unaugmented) training windows instead made the validation loss worse (0.59 against 0.36).
AVERAGE_EPOCHS = {"full": 12, "small": 2}
# Ensembles (--members N): N models trained alike with seeds seed, seed + 1, ..., exported as one model
# averaging their probabilities. Members of 40 epochs even out the seed (three seeds: between the
# best and the worst seed alone) but cost N times the training, past the one-hour budget of the one
# command; two of 20 epochs (the cost of one of 40) lose to one of 40 (docs/speech/experiments.md).
# So the published recipe trains one.
MEMBERS = {"full": 1, "small": 1}
CALIBRATION_WINDOWS = 600
THREADS = int(os.environ.get("TABSENSE_TRAIN_THREADS", "2"))


def load_split(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    data = np.load(path)
    return data["X"].astype(np.float32), data["y"].astype(np.int64), data["speaker"]


def build_model(keras, mean: np.ndarray, variance: np.ndarray):
    layers = keras.layers
    inputs = keras.Input((WINDOW_FRAMES, MEL, 1), name="log_mel")
    x = layers.Normalization(axis=2, mean=mean.reshape(MEL), variance=variance.reshape(MEL), name="mel_norm")(inputs)
    reg = keras.regularizers.l2(L2)
    x = layers.Conv2D(FIRST_FILTERS, KERNEL, strides=2, padding="same", use_bias=False, kernel_regularizer=reg)(x)
    x = layers.BatchNormalization()(x)
    x = layers.ReLU()(x)
    for filters, stride in WIDTHS:
        x = layers.DepthwiseConv2D(KERNEL, strides=stride, padding="same", use_bias=False)(x)
        x = layers.BatchNormalization()(x)
        x = layers.ReLU()(x)
        x = layers.Conv2D(filters, 1, use_bias=False, kernel_regularizer=reg)(x)
        x = layers.BatchNormalization()(x)
        x = layers.ReLU()(x)
    if POOLING == "avg+max":
        x = layers.Concatenate()([layers.GlobalAveragePooling2D()(x), layers.GlobalMaxPooling2D()(x)])
    else:
        x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dropout(DROPOUT)(x)
    x = layers.Dense(len(CLASSES))(x)
    outputs = layers.Softmax(name="probabilities")(x)
    return keras.Model(inputs, outputs, name="kws_dscnn")


def snapshot_paths(out: Path, epochs: list[int]) -> list[Path]:
    return [out / "snapshots" / f"epoch-{e:02d}.npz" for e in epochs]


def average_snapshots(paths: list[Path]) -> list[np.ndarray]:
    """The element-wise mean of several epochs' weights (each an .npz of model.get_weights())."""
    total = None
    for path in paths:
        with np.load(path) as data:
            weights = [data[f"arr_{i}"].astype(np.float64) for i in range(len(data.files))]
        total = weights if total is None else [t + w for t, w in zip(total, weights)]
    return [(t / len(paths)).astype(np.float32) for t in total]


def class_weights(y: np.ndarray) -> dict[int, float]:
    """Square-root balancing: rare classes count more, without making commands cheap to fire."""
    counts = np.bincount(y, minlength=len(CLASSES)).astype(np.float64)
    weights = np.sqrt(len(y) / (len(CLASSES) * np.maximum(counts, 1)))
    weights /= np.sum(weights * counts) / len(y)  # mean weight 1 per example
    return {i: float(w) for i, w in enumerate(weights)}


def export_int8(tf, model, calibration: np.ndarray, path: Path) -> None:
    def representative():
        for window in calibration:
            yield [window[None, ..., None].astype(np.float32)]

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = representative
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    path.write_bytes(converter.convert())


def export_float(tf, model, path: Path) -> None:
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    path.write_bytes(converter.convert())


def litert_predict(model_path: Path, X: np.ndarray) -> np.ndarray:
    """Probabilities from a TFLite file with ai_edge_litert (int8 or float input), batch 1."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(model_path), num_threads=1)
    interpreter.allocate_tensors()
    inp, out = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    scale, zero = inp["quantization"]
    out_scale, out_zero = out["quantization"]
    probs = np.zeros((len(X), out["shape"][-1]), np.float32)
    for i, window in enumerate(X):
        x = window.reshape(inp["shape"])
        if inp["dtype"] == np.int8:
            x = np.clip(np.rint(x / scale + zero), -128, 127).astype(np.int8)
        interpreter.set_tensor(inp["index"], x.astype(inp["dtype"]))
        interpreter.invoke()
        raw = interpreter.get_tensor(out["index"]).reshape(-1).astype(np.float32)
        probs[i] = (raw - out_zero) * out_scale if out_scale else raw
    return probs


def import_tensorflow():
    """(tf, tf_keras), quiet and on THREADS cores: imported only by the steps that train or export."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf
    import tf_keras as keras

    tf.config.threading.set_intra_op_parallelism_threads(THREADS)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    return tf, keras


def scaled(value: int, epochs: int, mode: str) -> int:
    """A schedule point of the recipe's EPOCHS[mode] moved to a run of `epochs` epochs."""
    return max(1, round(value * epochs / EPOCHS[mode]))


def train(small: bool = False, seed: int = SEED, mine: bool = False, members: int | None = None,
          epochs: int | None = None) -> dict:
    """Train `members` models (seeds seed, seed + 1, ...; `epochs` each) and export one: the single
    model, or a model averaging the members' probabilities."""
    tf, keras = import_tensorflow()
    tf.config.experimental.enable_op_determinism()
    mode = "small" if small else "full"
    epochs, members = epochs or EPOCHS[mode], members or MEMBERS[mode]
    out = run_dir(small)
    for old in [out / "snapshots", *out.glob("member-*")]:  # a previous run's epochs must not be averaged in
        shutil.rmtree(old, ignore_errors=True)
    start = time.time()
    X, y, _ = load_split(out / "train.npz")
    Xv, yv, _ = load_split(out / "val.npz")
    log.info("train %s, val %s; %d member(s) x %d epochs", X.shape, Xv.shape, members, epochs)
    if mine and not (out / "mine.npz").exists():
        raise SystemExit("train --mine needs the mining pool: run `generate --mining-pool` first")
    pool = np.load(out / "mine.npz")["X"] if mine else None
    trained = [train_member(tf, keras, X, y, Xv, yv, pool, seed + i, epochs, mode,
                            out if members == 1 else out / f"member-{i + 1}", start) for i in range(members)]
    if members == 1:
        model, info = trained[0]
        result = {**info, **finish(tf, model, out, info["averaged_epochs"], X, y, Xv, yv, seed, out)}
    else:
        for i, (model, info) in enumerate(trained):
            set_averaged(model, out / f"member-{i + 1}", info["averaged_epochs"])
        model = average_probabilities(keras, [model for model, _ in trained])
        result = {"members": [info for _, info in trained], **export_and_measure(tf, model, X, y, Xv, yv, seed, out)}
    result = {"mode": mode, "seed": seed, "parameters": int(sum(m.count_params() for m, _ in trained)), **result,
              "seconds": round(time.time() - start, 1)}
    save_json(out / "train.json", result)
    return result


def train_member(tf, keras, X, y, Xv, yv, pool, seed: int, epochs: int, mode: str, out: Path, start: float):
    """One model, trained from seed for `epochs` epochs with mining rounds from pool (None: no mining),
    its snapshots kept in out/snapshots. Returns (model as after the last epoch, facts about the run)."""
    keras.utils.set_random_seed(seed)
    min_epochs = scaled(MIN_EPOCHS, epochs, mode)
    model = build_model(keras, X.mean(axis=(0, 1)), X.var(axis=(0, 1)) + 1e-3)
    model.compile(optimizer=keras.optimizers.Adam(LEARNING_RATE),
                  loss=keras.losses.SparseCategoricalCrossentropy(), metrics=["accuracy"])
    log.info("model (seed %d): %d parameters", seed, model.count_params())

    def mask(x, label):
        """Feature-domain augmentation: mel-axis warp, spectral tilt/ripple, frequency mask."""
        bins_f = tf.range(MEL, dtype=tf.float32)
        if_warp = tf.random.uniform([]) < P_WARP
        alpha = tf.random.uniform([], *WARP_RANGE)
        width_w = tf.cast(tf.round(MEL * alpha), tf.int32)
        warped = tf.image.resize(x[..., None], tf.stack([WINDOW_FRAMES, width_w]))[..., 0]
        warped = tf.concat([warped, tf.repeat(warped[:, -1:], tf.maximum(MEL - width_w, 0), axis=1)], axis=1)[:, :MEL]
        x = tf.where(if_warp, warped, x)
        x = tf.ensure_shape(x, [WINDOW_FRAMES, MEL])
        tilt = tf.random.uniform([], -TILT_MAX, TILT_MAX) * (bins_f / (MEL - 1) - 0.5)
        ripple = tf.random.uniform([], -RIPPLE_MAX, RIPPLE_MAX) * tf.sin(
            2 * np.pi * tf.random.uniform([], 0.5, 2.0) * bins_f / MEL + tf.random.uniform([], 0, 2 * np.pi))
        x = x + (tilt + ripple)[None, :]
        width = tf.random.uniform([], 0, FREQ_MASK + 1, dtype=tf.int32)
        start_bin = tf.random.uniform([], 0, MEL - width + 1, dtype=tf.int32)
        bins = tf.range(MEL)
        keep = tf.logical_or(bins < start_bin, bins >= start_bin + width)
        fill = tf.reduce_mean(x)
        x = tf.where(keep[None, :], x, fill)
        return x[..., None], label

    def training_set(X, y):
        weights = class_weights(y)
        sample_w = np.array([weights[int(c)] for c in y], np.float32)
        return (tf.data.Dataset.from_tensor_slices((X, y, sample_w))
                .shuffle(len(X), seed=seed, reshuffle_each_iteration=True)
                .map(lambda a, b, w: (*mask(a, b), w), num_parallel_calls=1)
                .batch(BATCH).prefetch(2))

    val_dataset = tf.data.Dataset.from_tensor_slices((Xv[..., None], yv)).batch(256)
    mine_at = sorted({scaled(e, epochs, mode) for e in MINE_AT[mode]} if pool is not None else set())
    mine_at = [e for e in mine_at if e < epochs]
    # the learning-rate schedule spans every epoch, mined windows included (estimated: MINE_MAX per round)
    steps = int(np.ceil((len(X) + MINE_MAX * len(mine_at)) / BATCH)) * epochs
    model.optimizer.learning_rate = keras.optimizers.schedules.CosineDecay(LEARNING_RATE, steps, alpha=0.05)

    class Progress(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            logs = logs or {}
            log.info("epoch %d: loss %.4f acc %.4f val_loss %.4f val_acc %.4f (%.0f s)", epoch + 1, logs.get("loss", 0),
                     logs.get("accuracy", 0), logs.get("val_loss", 0), logs.get("val_accuracy", 0), time.time() - start)

    class BestEpoch(keras.callbacks.Callback):
        """The single epoch with the lowest validation loss (reported; the model is the average)."""
        best, epoch = np.inf, 0

        def on_epoch_end(self, epoch, logs=None):
            if (epoch >= min_epochs or mode == "small") and logs["val_loss"] < self.best:
                self.best, self.epoch = logs["val_loss"], epoch + 1

    class Snapshots(keras.callbacks.Callback):
        """Every epoch's weights from min_epochs on (snapshots/epoch-NN.npz), for weight averaging."""

        def on_epoch_end(self, epoch, logs=None):
            if epoch + 1 >= min_epochs or mode == "small":
                (out / "snapshots").mkdir(parents=True, exist_ok=True)
                np.savez(out / "snapshots" / f"epoch-{epoch + 1:02d}.npz", *self.model.get_weights())

    best = BestEpoch()
    history: dict[str, list] = {}
    mined_rounds = []
    command_cols = [CLASSES.index(c) for c in COMMANDS]
    taken = np.zeros(len(pool) if pool is not None else 0, bool)
    bounds = [0, *mine_at, epochs]
    for first_epoch, last_epoch in zip(bounds, bounds[1:]):
        if first_epoch:  # mine with the model as it is now
            scores = model.predict(pool[..., None].astype(np.float32), batch_size=512, verbose=0)[:, command_cols].max(1)
            scores[taken] = -1.0  # a window joins once
            hard = np.argsort(-scores)[: MINE_MAX]
            hard = hard[scores[hard] >= MINE_SCORE]
            taken[hard] = True
            X = np.concatenate([X, pool[hard].astype(np.float32)])
            y = np.concatenate([y, np.full(len(hard), CLASSES.index("_unknown_"), y.dtype)])
            mined_rounds.append({"epoch": first_epoch, "windows": int(len(hard)),
                                 "pool_over_0.5": int(np.sum(scores >= 0.5)), "pool": int(len(pool))})
            log.info("mining after epoch %d: %d of %d pool windows score >= %.1f for a command (%d >= 0.5)",
                     first_epoch, len(hard), len(pool), MINE_SCORE, mined_rounds[-1]["pool_over_0.5"])
        fit = model.fit(training_set(X, y), validation_data=val_dataset, initial_epoch=first_epoch, epochs=last_epoch,
                        verbose=0, callbacks=[best, Snapshots(), Progress()])
        for key, values in fit.history.items():
            history.setdefault(key, []).extend(values)
    average = min(scaled(AVERAGE_EPOCHS[mode], epochs, mode), epochs)
    return model, {
        "seed": seed, "epochs_run": len(history["loss"]), "averaged_epochs": list(range(epochs - average + 1, epochs + 1)),
        "best_single_epoch": {"epoch": best.epoch, "val_loss": round(float(best.best), 5)}, "mined": mined_rounds,
        "history": {k: [round(float(v), 5) for v in vals] for k, vals in history.items()},
    }


def set_averaged(model, folder: Path, epochs: list[int]):
    """Set the model's weights to the mean of these epochs' snapshots in folder/snapshots."""
    paths = snapshot_paths(folder, epochs)
    if missing := [p.name for p in paths if not p.exists()]:
        raise SystemExit(f"no snapshot {', '.join(missing)} in {folder / 'snapshots'}: training keeps the epochs from "
                         f"{MIN_EPOCHS} of {EPOCHS['full']} on (all of a --small run); train first")
    model.set_weights(average_snapshots(paths))
    return model


def finish(tf, model, out: Path, epochs: list[int], X, y, Xv, yv, seed: int, dest: Path) -> dict:
    """Set the model to the mean of these epochs' snapshots, then export and measure it (export_and_measure)."""
    set_averaged(model, out, epochs)
    return {"averaged_epochs": epochs, **export_and_measure(tf, model, X, y, Xv, yv, seed, dest)}


def export_and_measure(tf, model, X, y, Xv, yv, seed: int, dest: Path) -> dict:
    """Save the model (Keras, int8 and float TFLite) to dest, int8 calibrated on windows of X (the
    generated training windows) and digital silence, and measure both on the validation windows."""
    val_loss = float(model.evaluate(Xv[..., None], yv, batch_size=256, verbose=0)[0])
    log.info("%s: val_loss %.4f", dest.name, val_loss)
    dest.mkdir(parents=True, exist_ok=True)
    model.save(dest / "model.h5")
    float_probs = model.predict(Xv[..., None], batch_size=256, verbose=0)
    float_acc = float(np.mean(float_probs.argmax(1) == yv))
    rng = np.random.default_rng(seed)
    per_class = max(1, CALIBRATION_WINDOWS // len(CLASSES))
    calib_idx = np.concatenate([rng.permutation(np.flatnonzero(y == c))[:per_class] for c in range(len(CLASSES))])
    # the detector's ring starts as digital silence (host.speech.SILENT_FRAME): the int8 input range must reach it
    silence = np.full((1, WINDOW_FRAMES, MEL), np.log(LOG_FLOOR), np.float32)
    export_int8(tf, model, np.concatenate([X[calib_idx], silence]), dest / "kws_int8.tflite")
    export_float(tf, model, dest / "kws_float.tflite")
    int8_probs = litert_predict(dest / "kws_int8.tflite", Xv)
    return {
        "val_loss": round(val_loss, 5),
        "val_windows": int(len(yv)), "float_val_accuracy": round(float_acc, 5),
        "int8_val_accuracy": round(float(np.mean(int8_probs.argmax(1) == yv)), 5),
        "int8_float_agreement": round(float(np.mean(int8_probs.argmax(1) == float_probs.argmax(1))), 5),
        "int8_max_prob_diff": round(float(np.max(np.abs(int8_probs - float_probs))), 4),
        "tflite_bytes": (dest / "kws_int8.tflite").stat().st_size,
    }


def reaverage(small: bool, first: int, last: int, seed: int = SEED) -> dict:
    """Experiment: export the mean of epochs first..last of the last training run's snapshots (of every
    member, for an ensemble) without training, to <run>/epochs-<first>-<last>/; evaluate it with
    `evaluate --model`."""
    tf, keras = import_tensorflow()
    out = run_dir(small)
    X, y, _ = load_split(out / "train.npz")
    Xv, yv, _ = load_split(out / "val.npz")
    epochs, dest = list(range(first, last + 1)), out / f"epochs-{first}-{last}"
    folders = sorted(out.glob("member-*")) or [out]
    models = []
    for folder in folders:
        model = build_model(keras, X.mean(axis=(0, 1)), X.var(axis=(0, 1)) + 1e-3)  # as train(): before mining
        model.compile(loss=keras.losses.SparseCategoricalCrossentropy(), metrics=["accuracy"])
        models.append(set_averaged(model, folder, epochs))
    model = models[0] if len(models) == 1 else average_probabilities(keras, models)
    result = ({"averaged_epochs": epochs} if len(models) == 1
              else {"members": [{"snapshots": folder.name, "averaged_epochs": epochs} for folder in folders]})
    result.update(export_and_measure(tf, model, X, y, Xv, yv, seed, dest))
    save_json(out / f"epochs-{first}-{last}" / "train.json", result)
    return result


def average_probabilities(keras, members: list):
    """One model (same input and output as each member) whose output is the mean of the members'
    probabilities: an ensemble of independently trained models, for one interpreter call in the host."""
    inputs = keras.Input((WINDOW_FRAMES, MEL, 1), name="log_mel")
    outputs = []
    for i, member in enumerate(members):
        member._name = f"member_{i + 1}"  # sub-model names must be unique within the combined model
        outputs.append(member(inputs))
    model = keras.Model(inputs, keras.layers.Average(name="probabilities")(outputs), name="kws_ensemble")
    model.compile(loss=keras.losses.SparseCategoricalCrossentropy(), metrics=["accuracy"])
    return model


def ensemble(small: bool, runs: list[Path], seed: int = SEED) -> dict:
    """Experiment: one model whose output is the mean of the probabilities of several trained runs
    (each run's model.h5, e.g. the same recipe with different seeds), exported to <run>/ensemble-N/."""
    tf, keras = import_tensorflow()
    out = run_dir(small)
    X, y, _ = load_split(out / "train.npz")
    Xv, yv, _ = load_split(out / "val.npz")
    model = average_probabilities(keras, [keras.models.load_model(run / "model.h5", compile=False) for run in runs])
    dest = out / f"ensemble-{len(runs)}"
    result = {"members": [str(r) for r in runs], **export_and_measure(tf, model, X, y, Xv, yv, seed, dest)}
    save_json(dest / "train.json", result)
    return result


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--small", action="store_true")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--mine", action="store_true", help="hard-negative mining rounds (the pipeline's default; needs generate --mining-pool)")
    parser.add_argument("--members", type=int, help=f"(default {MEMBERS['full']}) models trained with seeds seed, seed+1, ...; "
                        "more than one are exported as one model averaging their probabilities")
    parser.add_argument("--epochs", type=int, help=f"epochs per member (default {EPOCHS['full']}, small {EPOCHS['small']}); "
                        "mining, snapshots and weight averaging keep their share of the run")
    parser.add_argument("--reaverage", metavar="FIRST-LAST",
                        help="experiment: no training; export the mean of these epochs of the last run's snapshots")
    parser.add_argument("--ensemble", metavar="RUN_DIR", type=Path, nargs="+",
                        help="experiment: no training; export one model averaging the probabilities of these runs")
    args = parser.parse_args(argv)
    setup_logging()
    if args.ensemble:
        r = ensemble(args.small, args.ensemble, args.seed)
        print(f"ensemble of {len(args.ensemble)}: val loss {r['val_loss']:.4f}, accuracy float {r['float_val_accuracy']:.4f}, "
              f"int8 {r['int8_val_accuracy']:.4f}; {r['tflite_bytes']} bytes")
        return
    if args.reaverage:
        first, _, last = args.reaverage.partition("-")
        r = reaverage(args.small, int(first), int(last or first), args.seed)
        print(f"reaverage {args.reaverage}: val loss {r['val_loss']:.4f}, accuracy float {r['float_val_accuracy']:.4f}, "
              f"int8 {r['int8_val_accuracy']:.4f}")
        return
    r = train(args.small, args.seed, args.mine, args.members, args.epochs)
    print(f"train: {len(r.get('members', [r]))} model(s), {r['parameters']} params; val accuracy float {r['float_val_accuracy']:.4f}, "
          f"int8 {r['int8_val_accuracy']:.4f} (agreement {r['int8_float_agreement']:.4f}); "
          f"{r['tflite_bytes']} bytes; {r['seconds']} s")


if __name__ == "__main__":
    main()
