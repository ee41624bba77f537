"""Derive the keyword embedding: keyword model v4 cut at its pooled layer (160 values per window).

Personal voice profiles match the user's takes on two vectors every 80 ms: Google's
speech_embedding (learned from real speech, many speakers) and this one, the keyword model's
global average pool over a 1.5 s log-mel window (learned on rooms, noise and near misses of
the six commands). Together they hear a take said in a noisy room far better than either
alone (docs/speech/experiments.md, "What a profile matches on").

The derived model is the same flatbuffer with the classifier head removed: the same weights
and the same int8 arithmetic, so its output equals v4's pooled tensor bit for bit (a test
reads that tensor from v4 itself and compares). It is bundled with its sha256 like any model.

Usage: python -m models.speech.kws_embedding [--source models/bundled/kws_commands/4] [--out DIR]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ai_edge_litert import schema_py_generated as schema

from .derived_models import pack, read_source, unpack, write_bundle

BUNDLED = Path(__file__).resolve().parents[1] / "bundled"
SOURCE = BUNDLED / "kws_commands" / "4"
NAME, VERSION = "kws_embedding", "1"
POOLED_TENSOR = "kws_dscnn/global_average_pooling2d/Mean"
MODEL_FILE = "kws_embedding.tflite"


def cut_at(model_bytes: bytes, tensor_name: str) -> tuple[bytes, list[int]]:
    """The model with `tensor_name` as its only output and every operator after it removed."""
    model = unpack(model_bytes)
    graph = model.subgraphs[0]
    names = [t.name.decode() for t in graph.tensors]
    if tensor_name not in names:
        raise ValueError(f"no tensor {tensor_name!r} in the model")
    output = names.index(tensor_name)
    # Keep the operators the output depends on, walking back from it.
    needed, kept = {output}, []
    for op in reversed(graph.operators):
        if needed & {int(t) for t in op.outputs}:
            kept.append(op)
            needed |= {int(t) for t in op.inputs if t >= 0}
    graph.operators = kept[::-1]
    graph.outputs = [output]
    for signature in model.signatureDefs or []:
        mapping = schema.TensorMapT()
        mapping.name, mapping.tensorIndex = b"embedding", output
        signature.outputs = [mapping]
    shape = [int(d) for d in graph.tensors[output].shape]
    return pack(model, len(model_bytes)), shape


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--source", type=Path, default=SOURCE, help="a kws_commands bundle folder")
    parser.add_argument("--out", type=Path, default=BUNDLED / NAME / VERSION)
    args = parser.parse_args()
    source_entry, data = read_source(args.source)
    derived, shape = cut_at(data, POOLED_TENSOR)
    source = f"{source_entry['name']}/{source_entry['version']}"
    entry = write_bundle(
        args.out, source_entry, name=NAME, version=VERSION, task="keyword_embedding", model_file=MODEL_FILE,
        data=derived,
        description=(f"The keyword model {source} cut at its pooled layer: {shape[-1]} values per 1.5 s log-mel "
                     "window. Personal voice profiles match the user's takes on it together with speech_embedding."),
        inputs={"sample_rate": 16000, "window_s": 1.5, "front_end": "host.features.log_mel"},
        output={"kind": "embedding", "dim": shape[-1], "tensor": POOLED_TENSOR}, params={},
        how=("the same weights and int8 arithmetic with the classifier head removed, so its output is that model's "
             f"pooled tensor exactly. Trained on synthetic speech only; see {source}'s model card for its data and "
             "limits."))
    print(f"{args.out / MODEL_FILE}: output {POOLED_TENSOR} {shape}, {len(derived)} bytes, "
          f"sha256 {entry['files']['model']['sha256'][:12]}")


if __name__ == "__main__":
    main()
