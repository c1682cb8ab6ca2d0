"""Small ONNX graphs for the importer's tests, built with onnx.helper."""

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def tensor(name, array):
    return numpy_helper.from_array(np.asarray(array), name)


def model(nodes, input_shape, output_shape=None, initializers=(), opset=17, input_name="x",
          output_name="y", batch="N"):
    """A graph of ``nodes`` from ``input_name`` (float, (batch, *input_shape)) to ``output_name``."""
    dims = [batch, *input_shape]
    graph = helper.make_graph(
        nodes, "test", [helper.make_tensor_value_info(input_name, TensorProto.FLOAT, dims)],
        [helper.make_tensor_value_info(output_name, TensorProto.FLOAT, output_shape)],
        list(initializers))
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    proto.ir_version = 8 if opset <= 17 else onnx.IR_VERSION
    return proto


def save(proto, folder, name="net.onnx"):
    path = folder / name
    path.write_bytes(proto.SerializeToString())
    return path


def weights(rng, *shape, scale=0.3):
    return (rng.standard_normal(shape) * scale).astype(np.float32)
