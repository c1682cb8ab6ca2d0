"""What cannot become a cnnviz network is refused with a message naming the node, its operator
and why; files that are not ONNX, or that point outside their folder, are refused too."""

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
from onnx import helper  # noqa: E402

from cnnviz.nn import ModelFileError, load_network  # noqa: E402

from onnx_graphs import model, save, tensor, weights  # noqa: E402

RNG = np.random.default_rng(0)


def refused(tmp_path, proto, *patterns):
    with pytest.raises(ModelFileError) as info:
        load_network(save(proto, tmp_path))
    message = str(info.value)
    assert message.startswith("net.onnx: ")
    for pattern in patterns:
        assert pattern in message, message
    return message


def test_residual_block(tmp_path):
    nodes = [helper.make_node("Conv", ["x", "w1"], ["a"], pads=[1, 1, 1, 1], name="conv1"),
             helper.make_node("Relu", ["a"], ["r"], name="relu1"),
             helper.make_node("Conv", ["r", "w2"], ["b"], pads=[1, 1, 1, 1], name="conv2"),
             helper.make_node("Add", ["b", "r"], ["s"], name="skip_add"),
             helper.make_node("Flatten", ["s"], ["y"])]
    inits = [tensor("w1", weights(RNG, 2, 2, 3, 3)), tensor("w2", weights(RNG, 2, 2, 3, 3))]
    refused(tmp_path, model(nodes, (2, 5, 5), initializers=inits),
            "node 'skip_add' (Add)", "two activations", "residual")


def test_concatenation_of_feature_maps(tmp_path):
    nodes = [helper.make_node("Conv", ["x", "w1"], ["a"], name="left"),
             helper.make_node("Conv", ["x", "w2"], ["b"], name="right"),
             helper.make_node("Concat", ["a", "b"], ["c"], axis=1, name="join"),
             helper.make_node("Flatten", ["c"], ["y"])]
    inits = [tensor("w1", weights(RNG, 2, 1, 3, 3)), tensor("w2", weights(RNG, 2, 1, 3, 3))]
    refused(tmp_path, model(nodes, (1, 5, 5), initializers=inits),
            "node 'right' (Conv)", "branches")


def test_depthwise_and_grouped_convolution(tmp_path):
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], group=4, name="dw"),
             helper.make_node("Flatten", ["c"], ["y"])]
    proto = model(nodes, (4, 6, 6), initializers=[tensor("w", weights(RNG, 4, 1, 3, 3))])
    refused(tmp_path, proto, "node 'dw' (Conv)", "depthwise convolution (group=4)")
    nodes[0] = helper.make_node("Conv", ["x", "w"], ["c"], group=8, name="grouped")
    proto = model(nodes, (16, 6, 6), initializers=[tensor("w", weights(RNG, 8, 2, 3, 3))])
    refused(tmp_path, proto, "node 'grouped' (Conv)", "grouped convolution (group=8)",
            "at most 4 groups")
    nodes[0] = helper.make_node("Conv", ["x", "w"], ["c"], group=2, name="uneven")
    proto = model(nodes, (4, 6, 6), initializers=[tensor("w", weights(RNG, 3, 2, 3, 3))])
    refused(tmp_path, proto, "node 'uneven' (Conv)", "into 2 groups")


def test_unknown_operator_and_domain(tmp_path):
    nodes = [helper.make_node("Flatten", ["x"], ["f"]),
             helper.make_node("Gemm", ["f", "w"], ["g"]),
             helper.make_node("Hardmax", ["g"], ["y"], name="hm")]
    proto = model(nodes, (1, 4, 4), initializers=[tensor("w", weights(RNG, 16, 3))])
    refused(tmp_path, proto, "node 'hm' (Hardmax)", "no layer for the operator")
    nodes[2] = helper.make_node("Evil", ["g"], ["y"], name="custom", domain="com.example")
    proto = model(nodes, (1, 4, 4), initializers=[tensor("w", weights(RNG, 16, 3))])
    proto.opset_import.append(helper.make_opsetid("com.example", 1))
    refused(tmp_path, proto, "node 'custom' (Evil)", "domain 'com.example'")


def test_dynamic_sizes_other_than_the_batch(tmp_path):
    nodes = [helper.make_node("Flatten", ["x"], ["y"])]
    proto = model(nodes, (3, "height", 8))
    refused(tmp_path, proto, "dynamic size ('height') in dimension 2")


def test_other_refusals(tmp_path):
    # Reshape that is not a flatten
    nodes = [helper.make_node("Reshape", ["x", "s"], ["y"], name="rs")]
    proto = model(nodes, (2, 4, 4), initializers=[tensor("s", np.array([-1, 4, 8], np.int64))])
    refused(tmp_path, proto, "node 'rs' (Reshape)", "only a flatten")
    # BatchNormalization with statistics per position (opset 7-8's spatial=0)
    nodes = [helper.make_node("Relu", ["x"], ["r"]),
             helper.make_node("BatchNormalization", ["r", "s", "b", "m", "v"], ["n"], name="bn",
                              spatial=0),
             helper.make_node("Flatten", ["n"], ["y"])]
    ones = np.ones(2, np.float32)
    proto = model(nodes, (2, 3, 3), initializers=[tensor(k, ones) for k in "sbmv"], opset=7)
    refused(tmp_path, proto, "node 'bn' (BatchNormalization)", "spatial=0")
    # ... or statistics for another number of channels
    nodes[1] = helper.make_node("BatchNormalization", ["r", "s", "b", "m", "v"], ["n"], name="bn")
    proto = model(nodes, (3, 3, 3), initializers=[tensor(k, ones) for k in "sbmv"])
    refused(tmp_path, proto, "node 'bn' (BatchNormalization)", "other than its 3 channels")
    # two inputs
    graph = helper.make_graph(
        [helper.make_node("Add", ["a", "b"], ["y"])], "g",
        [helper.make_tensor_value_info(n, onnx.TensorProto.FLOAT, ["N", 4]) for n in "ab"],
        [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, None)])
    refused(tmp_path, helper.make_model(graph), "2 inputs")


def test_not_onnx_files(tmp_path):
    for name, data in (("text.onnx", b"hello, this is not a network\n" * 10),
                       ("empty.onnx", b""), ("zip.onnx", b"PK\x03\x04" + bytes(100))):
        path = tmp_path / name
        path.write_bytes(data)
        with pytest.raises(ModelFileError, match=name):
            load_network(path)
    with pytest.raises(ModelFileError, match="no such file"):
        load_network(tmp_path / "missing.onnx")
    (tmp_path / "folder.onnx").mkdir()
    with pytest.raises(ModelFileError, match="folder"):
        load_network(tmp_path / "folder.onnx")


def with_external_weight(tmp_path, location, data=None):
    nodes = [helper.make_node("Flatten", ["x"], ["f"]), helper.make_node("Gemm", ["f", "w"], ["y"])]
    w = weights(RNG, 16, 3)
    proto = model(nodes, (1, 4, 4), initializers=[tensor("w", w)])
    t = proto.graph.initializer[0]
    t.ClearField("raw_data")
    t.data_location = onnx.TensorProto.EXTERNAL
    for key, value in (("location", location), ("offset", "0"), ("length", str(w.nbytes))):
        entry = t.external_data.add()
        entry.key, entry.value = key, value
    return proto, w


def test_external_data_in_the_same_folder_is_read(tmp_path):
    proto, w = with_external_weight(tmp_path, "weights.bin")
    (tmp_path / "weights.bin").write_bytes(w.tobytes())
    network = load_network(save(proto, tmp_path))
    np.testing.assert_array_equal(network.model.layers[1].params["weight"], w.T)


@pytest.mark.parametrize("location", ["../secret.bin", "/etc/passwd", "sub/../../x.bin",
                                      "link.bin"])
def test_external_data_outside_the_folder_is_refused(tmp_path, location):
    inner = tmp_path / "inner"
    inner.mkdir()
    (tmp_path / "secret.bin").write_bytes(bytes(192))
    (inner / "link.bin").symlink_to(tmp_path / "secret.bin")
    proto, _ = with_external_weight(inner, location)
    with pytest.raises(ModelFileError, match="outside the file's folder"):
        load_network(save(proto, inner))


def test_external_data_too_short_is_refused(tmp_path):
    proto, w = with_external_weight(tmp_path, "weights.bin")
    (tmp_path / "weights.bin").write_bytes(w.tobytes()[:-4])
    with pytest.raises(ModelFileError, match="past the end"):
        load_network(save(proto, tmp_path))


def test_declared_sizes_are_checked_before_allocating(tmp_path):
    nodes = [helper.make_node("Flatten", ["x"], ["f"]), helper.make_node("Gemm", ["f", "w"], ["y"])]
    proto = model(nodes, (1, 4, 4), initializers=[tensor("w", weights(RNG, 16, 3))])
    t = proto.graph.initializer[0]
    del t.dims[:]
    t.dims.extend([2**40, 2**30])
    refused(tmp_path, proto, "too large shape")
    del t.dims[:]
    t.dims.extend([16, 4])
    refused(tmp_path, proto, "needs 256")


def test_lists_a_file_declares_are_bounded(tmp_path):
    """Millions of values in an attribute, a shape vector or a node's inputs are refused before
    they are turned into Python lists."""
    nodes = [helper.make_node("MaxPool", ["x"], ["p"], kernel_shape=[2] * 100_000, name="mp"),
             helper.make_node("Flatten", ["p"], ["y"])]
    refused(tmp_path, model(nodes, (1, 4, 4)), "node 'mp' (MaxPool)", "more values")
    nodes = [helper.make_node("Reshape", ["x", "s"], ["y"], name="rs")]
    proto = model(nodes, (1, 4, 4), initializers=[tensor("s", np.ones(100_000, np.int64))])
    refused(tmp_path, proto, "node 'rs' (Reshape)", "at most 64 whole numbers")
    nodes = [helper.make_node("Concat", ["x"] * 5000, ["c"], axis=1, name="cat"),
             helper.make_node("Flatten", ["c"], ["y"])]
    refused(tmp_path, model(nodes, (1, 4, 4)), "node 'cat' (Concat)", "5,000 inputs")


def test_nodes_missing_inputs_and_tensors_of_many_dimensions(tmp_path):
    """Found by fuzzing: a Conv or Gather without its second input, a tensor of 100 axes."""
    nodes = [helper.make_node("Conv", ["x"], ["c"], name="lonely"),
             helper.make_node("Flatten", ["c"], ["y"])]
    refused(tmp_path, model(nodes, (1, 4, 4)), "node 'lonely' (Conv) lacks an input")
    nodes = [helper.make_node("Shape", ["x"], ["s"]),
             helper.make_node("Gather", ["s", ""], ["g"], name="pick"),
             helper.make_node("Flatten", ["x"], ["y"])]
    refused(tmp_path, model(nodes, (1, 4, 4)), "node 'pick' (Gather) lacks an input")
    nodes = [helper.make_node("Flatten", ["x"], ["f"]), helper.make_node("Gemm", ["f", "w"], ["y"])]
    many = helper.make_tensor("w", onnx.TensorProto.FLOAT, [1] * 100, [1.0])
    proto = model(nodes, (1, 4, 4), initializers=[many])
    refused(tmp_path, proto, "tensor 'w' has 100 dimensions")
