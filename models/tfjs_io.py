"""Read and write TF.js layers-model files (model.json + binary weight shards) with numpy.

The format, in short: `model.json` holds `modelTopology` (a Keras model config, or null for a
weights-only model) and `weightsManifest`, a list of groups, each with `paths` (shard files,
concatenated in order) and `weights` (`name`, `shape`, `dtype`, optional `quantization`).
Values are read from the concatenated shard bytes in manifest order, little-endian.

No TensorFlow here: the reader is also the "direct read of the shards" that the import is
checked against, and the writer stores the lab's own TF.js-style quantized weights.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .weight_quantization import QuantizedTensor

MODEL_JSON = "model.json"
SHARD_NAME = "group1-shard1of1.bin"
FORMAT = "layers-model"
GENERATED_BY = "TabSense model lab"
# Our per-channel entries carry lists for min/scale and an `axis`; the TF.js loader knows
# only scalars, so these files are read back by this module (and the report), not by TF.js.
PER_CHANNEL_NOTE = "per-channel quantization: min/scale are lists along `axis` (TabSense extension)"

_DTYPES = {
    "float32": np.dtype("<f4"),
    "int32": np.dtype("<i4"),
    "bool": np.dtype("bool"),
    "uint8": np.dtype("u1"),
    "uint16": np.dtype("<u2"),
    "float16": np.dtype("<f2"),
}


class TfjsFormatError(ValueError):
    """A model.json or its shards do not match the TF.js layers format."""


def read_model_json(model_dir: Path) -> dict:
    path = Path(model_dir) / MODEL_JSON
    if not path.is_file():
        raise TfjsFormatError(f"{path} does not exist; pass the folder of a TF.js layers model.")
    try:
        document = json.loads(path.read_text("utf-8"))
    except ValueError as exc:
        raise TfjsFormatError(f"{path} is not valid JSON ({exc}).") from exc
    if "weightsManifest" not in document:
        raise TfjsFormatError(f"{path} has no weightsManifest, so it is not a TF.js model.")
    return document


def _dtype(name: str, where: str) -> np.dtype:
    try:
        return _DTYPES[name]
    except KeyError:
        raise TfjsFormatError(f"{where}: unsupported dtype {name!r}.") from None


def _dequantize_entry(raw: np.ndarray, quantization: dict, original: np.dtype) -> np.ndarray:
    if quantization["dtype"] == "float16":
        return raw.astype(original)
    values = raw.astype(np.float64)
    low = np.asarray(quantization["min"], dtype=np.float64)
    scale = np.asarray(quantization["scale"], dtype=np.float64)
    if low.ndim:  # per-channel extension
        shape = [1] * values.ndim
        shape[int(quantization["axis"])] = -1
        low, scale = low.reshape(shape), scale.reshape(shape)
    real = values * scale + low
    if original == np.dtype("int32"):
        real = np.round(real)
    return real.astype(original)


def read_weights(model_dir: Path, dequantize: bool = True) -> dict[str, np.ndarray]:
    """Every weight of a TF.js model by its manifest name, in manifest order.

    Quantized weights are dequantized unless `dequantize` is False (then the stored
    integers come back as they are).
    """
    model_dir = Path(model_dir)
    document = read_model_json(model_dir)
    weights: dict[str, np.ndarray] = {}
    for group_number, group in enumerate(document["weightsManifest"], 1):
        buffers = []
        for shard in group["paths"]:
            shard_path = model_dir / shard
            if not shard_path.is_file():
                raise TfjsFormatError(f"Weight shard {shard_path} is missing.")
            buffers.append(shard_path.read_bytes())
        data = b"".join(buffers)
        offset = 0
        for entry in group["weights"]:
            name = entry["name"]
            where = f"{model_dir / MODEL_JSON}, weight {name!r}"
            shape = tuple(int(d) for d in entry["shape"])
            original = _dtype(entry["dtype"], where)
            quantization = entry.get("quantization")
            stored = _dtype(quantization["dtype"], where) if quantization else original
            count = int(np.prod(shape, dtype=np.int64))
            end = offset + count * stored.itemsize
            if end > len(data):
                raise TfjsFormatError(
                    f"{where}: needs bytes {offset}..{end} but group {group_number} has only {len(data)}."
                )
            raw = np.frombuffer(data, dtype=stored, count=count, offset=offset).reshape(shape)
            offset = end
            if name in weights:
                raise TfjsFormatError(f"{where}: the name appears twice in the manifest.")
            weights[name] = _dequantize_entry(raw, quantization, original) if quantization and dequantize else raw.copy()
        if offset != len(data):
            raise TfjsFormatError(
                f"Group {group_number} of {model_dir / MODEL_JSON} has {len(data) - offset} bytes "
                "that no weight uses; the manifest does not describe these shards."
            )
    return weights


def _manifest_entry(name: str, value) -> tuple[dict, bytes]:
    if isinstance(value, QuantizedTensor):
        quantization = {
            "dtype": value.values.dtype.name,
            "original_dtype": np.dtype(value.original_dtype).name,
        }
        if value.per_channel:
            quantization.update(min=value.min.tolist(), scale=value.scale.tolist(), axis=value.axis)
        else:
            quantization.update(min=float(value.min), scale=float(value.scale))
        entry = {"name": name, "shape": list(value.values.shape), "dtype": quantization["original_dtype"],
                 "quantization": quantization}
        return entry, value.values.astype(value.values.dtype.newbyteorder("<")).tobytes()
    array = np.asarray(value)
    if array.dtype.name not in ("float32", "int32"):
        raise TfjsFormatError(f"Weight {name!r} has dtype {array.dtype}; TF.js stores float32 or int32.")
    entry = {"name": name, "shape": list(array.shape), "dtype": array.dtype.name}
    return entry, array.astype(array.dtype.newbyteorder("<")).tobytes()


def write_layers_model(out_dir: Path, topology: dict | None, weights: dict) -> list[Path]:
    """Write model.json and one shard; `weights` maps names to arrays or QuantizedTensors.

    Returns the written files. The manifest keeps the order of `weights`.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    entries, chunks = [], []
    for name, value in weights.items():
        entry, data = _manifest_entry(name, value)
        entries.append(entry)
        chunks.append(data)
    document = {
        "format": FORMAT,
        "generatedBy": GENERATED_BY,
        "convertedBy": GENERATED_BY,
        "modelTopology": topology,
        "weightsManifest": [{"paths": [SHARD_NAME], "weights": entries}],
    }
    if any(isinstance(v, QuantizedTensor) and v.per_channel for v in weights.values()):
        document["userDefinedMetadata"] = {"note": PER_CHANNEL_NOTE}
    shard = out_dir / SHARD_NAME
    shard.write_bytes(b"".join(chunks))
    model_json = out_dir / MODEL_JSON
    model_json.write_text(json.dumps(document, separators=(",", ":")), "utf-8")
    return [model_json, shard]
