"""Write a cnnviz network as an ONNX file (no Qt here; ``onnx`` is imported on use).

One node per layer (a Dense layer is a Gemm with ``transB=1``, since its weights are (out, in)),
operator set :data:`~cnnviz.nn.onnx_io.EXPORT_OPSET`, a dynamic batch axis ``N``, weights as
float32 initializers, and the input contract, name and metadata as ``metadata_props``
(``cnnviz.input``, ``cnnviz.name``, ``cnnviz.metadata``) so that cnnviz opens the file again to
the same network with the same contract.  Any other ONNX reader runs it as it is.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .contract import InputContract, default_contract
from .errors import ModelError
from .onnx_io import CONTRACT_KEY, EXPORT_OPSET, MAX_ONNX_BYTES, METADATA_KEY, NAME_KEY

#: IR version for EXPORT_OPSET 17 (onnx 1.12), so that older runtimes read the files too.
EXPORT_IR_VERSION = 8

_ELEMENTWISE = {"ReLU": "Relu", "Sigmoid": "Sigmoid", "Tanh": "Tanh", "Softplus": "Softplus"}


def to_onnx(model, contract: InputContract | None = None, metadata: dict | None = None):
    """The ModelProto of ``model`` (a :class:`~cnnviz.nn.model.Sequential`)."""
    from onnx import TensorProto, helper, numpy_helper

    from .. import __version__

    if contract is None:
        contract = default_contract(model.input_shape, model.output_shape)
    contract.check_network(model.input_shape, model.output_shape)
    nodes, initializers = [], []
    current = "input"
    for index, layer in enumerate(model.layers):
        out = "output" if index == len(model.layers) - 1 else f"layer{index}"
        name = f"{index}.{layer.kind}"
        kind = layer.kind

        def param(key):
            tensor = numpy_helper.from_array(
                np.ascontiguousarray(layer.params[key], dtype=np.float32), f"{index}.{key}")
            initializers.append(tensor)
            return tensor.name

        if kind == "Conv2D":
            inputs = [current, param("weight")] + ([param("bias")] if layer.use_bias else [])
            top, bottom, left, right = layer.pad
            nodes.append(helper.make_node(
                "Conv", inputs, [out], name=name, kernel_shape=list(layer.kernel_size),
                strides=list(layer.stride), dilations=list(layer.dilation),
                pads=[top, left, bottom, right], group=1))
        elif kind in ("MaxPool2D", "AvgPool2D"):
            top, bottom, left, right = layer.pad
            extra = {}
            if kind == "AvgPool2D":
                extra["count_include_pad"] = int(getattr(layer, "count_include_pad", False))
            nodes.append(helper.make_node(
                "MaxPool" if kind == "MaxPool2D" else "AveragePool", [current], [out], name=name,
                kernel_shape=list(layer.size), strides=list(layer.stride),
                pads=[top, left, bottom, right], **extra))
        elif kind == "GlobalAvgPool2D":
            nodes.append(helper.make_node("GlobalAveragePool", [current], [out], name=name))
        elif kind == "BatchNorm":
            def array(key, values):
                tensor = numpy_helper.from_array(np.ascontiguousarray(values, dtype=np.float32),
                                                 f"{index}.{key}")
                initializers.append(tensor)
                return tensor.name

            inputs = [current, param("gamma"), param("beta"),
                      array("running_mean", layer.state["running_mean"]),
                      array("running_var", layer.state["running_var"])]
            # ONNX's momentum weighs the running value: 1 - cnnviz's (PyTorch's) momentum.
            nodes.append(helper.make_node("BatchNormalization", inputs, [out], name=name,
                                          epsilon=float(layer.eps),
                                          momentum=float(1.0 - layer.momentum)))
        elif kind == "Flatten":
            nodes.append(helper.make_node("Flatten", [current], [out], name=name, axis=1))
        elif kind == "Dense":
            inputs = [current, param("weight")] + ([param("bias")] if layer.use_bias else [])
            nodes.append(helper.make_node("Gemm", inputs, [out], name=name, transB=1))
        elif kind in _ELEMENTWISE:
            nodes.append(helper.make_node(_ELEMENTWISE[kind], [current], [out], name=name))
        elif kind == "LeakyReLU":
            nodes.append(helper.make_node("LeakyRelu", [current], [out], name=name,
                                          alpha=float(layer.alpha)))
        elif kind == "LRN":
            nodes.append(helper.make_node("LRN", [current], [out], name=name, size=layer.size,
                                          alpha=layer.alpha, beta=layer.beta, bias=layer.bias))
        elif kind == "Softmax":
            nodes.append(helper.make_node("Softmax", [current], [out], name=name, axis=-1))
        elif kind == "Dropout":
            ratio = numpy_helper.from_array(np.array(layer.rate, dtype=np.float32),
                                            f"{index}.ratio")
            initializers.append(ratio)
            nodes.append(helper.make_node("Dropout", [current, ratio.name], [out], name=name))
        else:
            raise ModelError(f"layer {index} ({kind}) has no ONNX counterpart in cnnviz yet")
        current = out
    graph = helper.make_graph(
        nodes, model.name or "network",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT,
                                       ["N", *[int(v) for v in model.input_shape]])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT,
                                       ["N", *[int(v) for v in model.output_shape]])],
        initializers)
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", EXPORT_OPSET)],
                              producer_name="cnnviz", producer_version=__version__)
    proto.ir_version = EXPORT_IR_VERSION
    props = {CONTRACT_KEY: json.dumps(contract.to_dict()), NAME_KEY: model.name}
    if metadata is not None:
        props[METADATA_KEY] = json.dumps(metadata)
    helper.set_model_props(proto, props)
    return proto


def save_onnx(model, path, contract: InputContract | None = None,
              metadata: dict | None = None) -> Path:
    """Write ``model`` to ``path`` as ONNX, atomically (:func:`cnnviz.fileio.atomic_write`).

    ``contract`` None records the network's default one.  Raises ModelError (before anything
    is written) for a contract that does not fit, a layer ONNX cannot express, or a network
    beyond ONNX's 2 GiB.
    """
    from ..fileio import atomic_write

    path = Path(path)
    proto = to_onnx(model, contract, metadata)
    size = proto.ByteSize()
    if size > MAX_ONNX_BYTES:
        raise ModelError(f"the network needs {size / 2**30:.1f} GiB as ONNX, beyond the 2 GiB "
                         f"an ONNX file can hold; save it as .npz")
    data = proto.SerializeToString()
    with atomic_write(path) as handle:
        handle.write(data)
    return path
