"""Derive the streaming speech_embedding: the same network, computing only what 80 ms adds.

speech_embedding turns 76 log-mel frames (0.76 s) into one vector, and a live stream asks for a
vector every 8 frames, so the whole-window network recomputes 68 frames it has already seen:
about 1 ms of CPU per vector, two thirds of what listening with a voice profile costs. Its
convolutions pad along frequency only and its three time poolings halve time, so a layer's rows
line up from one window to the next (the window moves 8 frames, the product of those poolings).
This model keeps, between steps, the rows each stage still needs and computes only new ones:

    frames   [1, 12, 32, 1]  the step's 8 new mel frames and the 4 before them
    state_i  [1, rows, ...]  the rows the stage before pooling i left (zeros at the start)
    -> embedding [1, 96], next_state_i

The operators are the source's own, with its weights and options; CONCATENATION joins a
stage's state to its new rows and SLICE keeps the rows the next step needs. Fed 12 frames at a
time every 8 from a stream's first frame, with zero states, step j gives the vector of the window
starting at frame 8 (j - WARMUP_STEPS): the first steps only fill the states. A test compares the
vectors with the source model's on real speech.

Usage: python -m models.speech.speech_embedding_stream [--source models/bundled/speech_embedding/1] [--out DIR]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from ai_edge_litert import schema_py_generated as schema

from .derived_models import pack, read_source, unpack, write_bundle

BUNDLED = Path(__file__).resolve().parents[1] / "bundled"
SOURCE = BUNDLED / "speech_embedding" / "1"
NAME, VERSION = "speech_embedding_stream", "1"
MODEL_FILE = "embedding_stream.tflite"
STEP_FRAMES = 8  # mel frames per vector
OP = schema.BuiltinOperator
PADDING_SAME = schema.Padding.SAME


def _shape_after(model, graph, op, shape: list[int]) -> list[int]:
    """The output shape of one of the source's operators, for an input of `shape` (NHWC)."""
    code = _builtin(model, op)
    n, h, w, c = shape
    if code == OP.PAD:
        pads = np.frombuffer(bytes(model.buffers[graph.tensors[op.inputs[1]].buffer].data), np.int32).reshape(4, 2)
        return [d + int(pads[i].sum()) for i, d in enumerate(shape)]
    if code == OP.CONV_2D:
        out_c, kh, kw, _ = (int(d) for d in graph.tensors[op.inputs[1]].shape)
        options = op.builtinOptions
        assert (options.strideH, options.strideW, options.dilationHFactor, options.dilationWFactor) == (1, 1, 1, 1)
        if options.padding == PADDING_SAME:
            return [n, h, w, out_c]
        return [n, h - kh + 1, w - kw + 1, out_c]
    if code == OP.MAX_POOL_2D:
        options = op.builtinOptions
        if options.padding == PADDING_SAME:  # padding along time would differ from the whole window's
            if h % options.strideH or options.filterHeight > options.strideH:
                raise ValueError("a pooling pads along time")
            return [n, h // options.strideH, -(-w // options.strideW), c]
        return [n, (h - options.filterHeight) // options.strideH + 1, (w - options.filterWidth) // options.strideW + 1, c]
    if code in (OP.LEAKY_RELU, OP.MAXIMUM):
        return shape
    raise ValueError(f"operator {code} is not one this derivation knows how to stream")


def _builtin(model, op) -> int:
    code = model.operatorCodes[op.opcodeIndex]
    return max(code.builtinCode, code.deprecatedBuiltinCode)


def _time_shrink(model, graph, op) -> int:
    """Rows of time a valid convolution removes (its kernel height - 1)."""
    if _builtin(model, op) != OP.CONV_2D or op.builtinOptions.padding == PADDING_SAME:
        return 0
    return int(graph.tensors[op.inputs[1]].shape[1]) - 1


def _stages(model, graph) -> list[list]:
    """The operators cut after each pooling that strides along time."""
    stages, current = [], []
    for op in graph.operators:
        current.append(op)
        if _builtin(model, op) == OP.MAX_POOL_2D and op.builtinOptions.strideH > 1:
            stages.append(current)
            current = []
    return stages + [current] if current else stages


def streaming(model_bytes: bytes) -> tuple[bytes, dict]:
    """The streaming model and its geometry (input frames, states, warm-up steps)."""
    model = unpack(model_bytes)
    graph = model.subgraphs[0]
    (source_input,), (source_output,) = graph.inputs, graph.outputs
    _, window, bins, channels = (int(d) for d in graph.tensors[source_input].shape)
    stages = _stages(model, graph)

    # Rows per step, forwards: each stage gets `new` rows and gives new / (its time stride).
    strides = [op_list[-1].builtinOptions.strideH if _builtin(model, op_list[-1]) == OP.MAX_POOL_2D else 1
               for op_list in stages]
    new_rows, rows = [STEP_FRAMES], []
    for stage, stride in zip(stages, strides):
        if new_rows[-1] % stride:
            raise ValueError("the step does not line up with the network's poolings")
        out = new_rows[-1] // stride
        rows.append(out * stride + sum(_time_shrink(model, graph, op) for op in stage))
        new_rows.append(out)
    if new_rows[-1] != 1:
        raise ValueError(f"one step gives {new_rows[-1]} output rows, not 1")
    frames_in = rows[0]
    warmup = (window - frames_in) // STEP_FRAMES
    if warmup * STEP_FRAMES + frames_in != window:
        raise ValueError("the window is not a whole number of steps after the first input")

    def add_tensor(name: str, shape: list[int], dtype=schema.TensorType.FLOAT32, data: bytes | None = None) -> int:
        tensor = schema.TensorT()
        tensor.name, tensor.shape, tensor.type = name.encode(), np.array(shape, np.int32), dtype
        buffer = schema.BufferT()
        buffer.data = None if data is None else np.frombuffer(data, np.uint8)
        model.buffers.append(buffer)
        tensor.buffer = len(model.buffers) - 1
        graph.tensors.append(tensor)
        return len(graph.tensors) - 1

    def add_code(builtin: int) -> int:
        for index, code in enumerate(model.operatorCodes):
            if max(code.builtinCode, code.deprecatedBuiltinCode) == builtin:
                return index
        code = schema.OperatorCodeT()
        code.builtinCode, code.deprecatedBuiltinCode, code.version = builtin, min(builtin, 127), 1
        model.operatorCodes.append(code)
        return len(model.operatorCodes) - 1

    def add_op(builtin: int, inputs: list[int], outputs: list[int], options_type: int, options) -> None:
        op = schema.OperatorT()
        op.opcodeIndex, op.inputs, op.outputs = add_code(builtin), np.array(inputs, np.int32), np.array(outputs, np.int32)
        op.builtinOptionsType, op.builtinOptions = options_type, options
        operators.append(op)

    operators, state_inputs, state_outputs = [], [], []
    current = add_tensor("frames", [1, frames_in, bins, channels])
    shape = [1, frames_in, bins, channels]
    inputs = [current]
    for number, (stage, stage_rows, arriving) in enumerate(zip(stages, rows, new_rows)):
        if number:  # the rows the previous steps left, then this step's
            kept = stage_rows - arriving
            state = add_tensor(f"state_{number}", [1, kept, *shape[2:]])
            joined = add_tensor(f"stage_{number}_rows", [1, stage_rows, *shape[2:]])
            options = schema.ConcatenationOptionsT()
            options.axis = 1
            add_op(OP.CONCATENATION, [state, current], [joined], schema.BuiltinOptions.ConcatenationOptions, options)
            begin = add_tensor(f"state_{number}_begin", [4], schema.TensorType.INT32,
                               np.array([0, arriving, 0, 0], np.int32).tobytes())
            size = add_tensor(f"state_{number}_size", [4], schema.TensorType.INT32,
                              np.array([1, kept, *shape[2:]], np.int32).tobytes())
            next_state = add_tensor(f"next_state_{number}", [1, kept, *shape[2:]])
            add_op(OP.SLICE, [joined, begin, size], [next_state], schema.BuiltinOptions.SliceOptions,
                   schema.SliceOptionsT())
            state_inputs.append(state)
            state_outputs.append(next_state)
            current, shape = joined, [1, stage_rows, *shape[2:]]
        for op in stage:  # the source's operator, on this model's activations
            shape = _shape_after(model, graph, op, shape)
            out = add_tensor(graph.tensors[op.outputs[0]].name.decode(), shape)
            op.inputs = np.array([current] + [int(t) for t in op.inputs[1:]], np.int32)
            op.outputs = np.array([out], np.int32)
            operators.append(op)
            current = out
    if shape[1:3] != [1, 1]:
        raise ValueError(f"a step ends in {shape}, not one vector")
    graph.tensors[current].name = b"embedding"
    graph.operators = operators
    graph.inputs = np.array(inputs + state_inputs, np.int32)
    graph.outputs = np.array([current] + state_outputs, np.int32)
    model.signatureDefs = []  # the source's names the whole-window input
    states = [[int(d) for d in graph.tensors[t].shape] for t in state_inputs]
    geometry = {"input_frames": frames_in, "step_frames": STEP_FRAMES, "window_frames": window,
                "warmup_steps": warmup, "states": states}
    return pack(model, len(model_bytes)), geometry


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--source", type=Path, default=SOURCE, help="a speech_embedding bundle folder")
    parser.add_argument("--out", type=Path, default=BUNDLED / NAME / VERSION)
    args = parser.parse_args()
    source_entry, data = read_source(args.source)
    derived, geometry = streaming(data)
    source = f"{source_entry['name']}/{source_entry['version']}"
    entry = write_bundle(
        args.out, source_entry, name=NAME, version=VERSION, task="speech_embedding_stream", model_file=MODEL_FILE,
        data=derived,
        description=(f"{source}'s embedding network for live streams: each 80 ms step computes only the rows the "
                     "new mel frames add, and keeps the rest as state. The same vectors for a quarter of the CPU."),
        inputs={"mel_frames": geometry["input_frames"], "mel_bins": 32}, output={"kind": "embedding", "dim": 96},
        params=geometry,
        how=("the same operators and weights, with each stage's earlier rows passed from one step to the next as "
             "state. Fed 12 mel frames every 8 from a stream's start with zero states, step j gives the vector of "
             f"window j - {geometry['warmup_steps']}. See {source}'s model card for its data and limits."))
    print(f"{args.out / MODEL_FILE}: {geometry}, {len(derived)} bytes, sha256 {entry['files']['model']['sha256'][:12]}")


if __name__ == "__main__":
    main()
