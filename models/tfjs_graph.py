"""Load a TF.js graph model back into TensorFlow and run it (the "does the export work" check,
and the folded/fused graph row of the graph-optimisation table).

A TF.js graph model is a frozen TensorFlow GraphDef written as JSON (`modelTopology`) whose
constants live in the weight shards. The converter has already folded batch norm into the
convolution weights and fused bias + activation: `_FusedConv2D` is a TensorFlow CPU op, but
`FusedDepthwiseConv2dNative` exists only in TF.js, so it is expanded here back into
DepthwiseConv2dNative + BiasAdd + activation (same numbers, three ops).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from . import tfjs_io

_ACTIVATIONS = {b"Relu": "Relu", b"Relu6": "Relu6", b"Elu": "Elu", b"Sigmoid": "Sigmoid", b"Tanh": "Tanh"}


def _expand_fused_depthwise(graph_def) -> None:
    from tensorflow.core.framework import node_def_pb2

    new_nodes = []
    for node in graph_def.node:
        if node.op != "FusedDepthwiseConv2dNative":
            new_nodes.append(node)
            continue
        fused = list(node.attr["fused_ops"].list.s)
        if not fused or fused[0] != b"BiasAdd" or len(node.input) < 3:
            raise ValueError(f"Unsupported fused depthwise op {node.name} with {fused}.")
        conv = node_def_pb2.NodeDef(name=node.name + "/_depthwise", op="DepthwiseConv2dNative")
        conv.input.extend(node.input[:2])
        for key in ("T", "strides", "padding", "data_format", "dilations", "explicit_paddings"):
            if key in node.attr:
                conv.attr[key].CopyFrom(node.attr[key])
        bias = node_def_pb2.NodeDef(name=node.name + "/_bias", op="BiasAdd")
        bias.input.extend([conv.name, node.input[2]])
        bias.attr["T"].CopyFrom(node.attr["T"])
        if "data_format" in node.attr:
            bias.attr["data_format"].CopyFrom(node.attr["data_format"])
        chain = [conv, bias]
        if len(fused) > 1:
            activation = _ACTIVATIONS.get(fused[1])
            if activation is None:
                raise ValueError(f"Unsupported activation {fused[1]!r} fused into {node.name}.")
            act = node_def_pb2.NodeDef(name=node.name, op=activation)
            act.input.append(bias.name)
            act.attr["T"].CopyFrom(node.attr["T"])
            chain.append(act)
        else:
            bias.name = node.name
        new_nodes.extend(chain)
    del graph_def.node[:]
    graph_def.node.extend(new_nodes)


def load_graph_def(model_dir: Path):
    """The GraphDef of a TF.js graph model with its weights put back into the constants."""
    import tensorflow as tf
    from google.protobuf import json_format

    document = tfjs_io.read_model_json(model_dir)
    if document.get("format") != "graph-model":
        raise ValueError(f"{model_dir} is a {document.get('format')!r}, not a TF.js graph model.")
    graph_def = json_format.ParseDict(document["modelTopology"], tf.compat.v1.GraphDef(), ignore_unknown_fields=True)
    weights = tfjs_io.read_weights(model_dir)
    seen = set()
    for node in graph_def.node:
        if node.op == "Const" and node.name in weights:
            node.attr["value"].tensor.CopyFrom(tf.make_tensor_proto(weights[node.name]))
            seen.add(node.name)
    unused = set(weights) - seen
    if unused:
        raise ValueError(f"{len(unused)} weights of {model_dir} match no constant, e.g. {sorted(unused)[0]}.")
    _expand_fused_depthwise(graph_def)
    return graph_def, document["signature"]


def load_graph_model(model_dir: Path):
    """A callable: float32 batch -> numpy output, running the TF.js graph model in TensorFlow."""
    import tensorflow as tf

    graph_def, signature = load_graph_def(model_dir)
    (input_name,) = signature["inputs"].keys()
    (output_name,) = signature["outputs"].keys()

    def imported():
        tf.compat.v1.import_graph_def(graph_def, name="")

    wrapped = tf.compat.v1.wrap_function(imported, [])
    function = wrapped.prune(wrapped.graph.get_tensor_by_name(input_name),
                             wrapped.graph.get_tensor_by_name(output_name))

    def run(batch: np.ndarray) -> np.ndarray:
        return function(tf.constant(batch, tf.float32)).numpy()

    run.graph_def = graph_def
    run.function = function
    return run
