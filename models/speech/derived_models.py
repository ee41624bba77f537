"""Models derived from a bundled one by rewriting its flatbuffer, with LiteRT's own schema and no
TensorFlow: kws_embedding (kws_embedding.py) and speech_embedding_stream
(speech_embedding_stream.py). The same source always gives the same bytes, so a test can derive
one again and compare its sha256 with the bundled file's."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import flatbuffers
from ai_edge_litert import schema_py_generated as schema


def read_source(folder: Path) -> tuple[dict, bytes]:
    """A bundle folder's entry and model bytes, checked against the entry's sha256."""
    entry = json.loads((folder / "entry.json").read_text("utf-8"))
    path = folder / entry["files"]["model"]["path"]
    data = path.read_bytes()
    if hashlib.sha256(data).hexdigest() != entry["files"]["model"]["sha256"]:
        raise SystemExit(f"{path} does not match its entry's sha256")
    return entry, data


def unpack(model_bytes: bytes) -> schema.ModelT:
    """The model as editable objects; it must have one subgraph."""
    model = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(model_bytes, 0))
    if len(model.subgraphs) != 1:
        raise ValueError(f"expected one subgraph, found {len(model.subgraphs)}")
    return model


def pack(model: schema.ModelT, size_hint: int) -> bytes:
    builder = flatbuffers.Builder(size_hint)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def write_bundle(out: Path, source_entry: dict, *, name: str, version: str, task: str, model_file: str, data: bytes,
                 description: str, inputs: dict, output: dict, params: dict, how: str) -> dict:
    """The derived model, its entry and model card in `out`; the entry. It keeps its source's
    license and quantization, records the source and its sha256, and is blessed: its tests
    compare it with the source. `how` (the card's second paragraph) follows "Derived by ... from ...:"."""
    out.mkdir(parents=True, exist_ok=True)
    (out / model_file).write_bytes(data)
    source = f"{source_entry['name']}/{source_entry['version']}"
    source_sha256 = source_entry["files"]["model"]["sha256"]
    entry = {
        "name": name, "version": version, "task": task, "description": description,
        "license": source_entry.get("license", "Apache-2.0"),
        "quantization": source_entry.get("quantization", ""), "blessed": True,
        "files": {"model": {"path": model_file, "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}},
        "input": inputs, "output": output,
        "params": {**params, "derived_from": source, "derived_from_sha256": source_sha256},
    }
    (out / "entry.json").write_text(json.dumps(entry, indent=2) + "\n", "utf-8")
    (out / "MODEL_CARD.md").write_text(
        f"# {name} v{version}\n\n{description}\n\nDerived by `python -m models.speech.{name}` from {source} "
        f"(sha256 {source_sha256[:12]}): {how}\n", "utf-8")
    return entry
