"""Opening .onnx files: graphs written by PyTorch and built with onnx.helper, each converted
network compared with PyTorch or with onnx's ReferenceEvaluator on the original graph."""

import json

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
from onnx import helper  # noqa: E402

from cnnviz.nn import ModelFileError, load_network  # noqa: E402
from cnnviz.nn.onnx_io import OnnxImportError, load_onnx, reference_evaluator  # noqa: E402

from onnx_graphs import model, save, tensor, weights  # noqa: E402


def reference(proto, x, name="x"):
    return reference_evaluator(proto).run(None, {name: x})[0]


def check_against_reference(tmp_path, proto, input_shape, nhwc=False, rtol=1e-5, atol=1e-6,
                            ordered=None):
    """Open ``proto`` without the self-check; its outputs must be the reference's (run on
    ``ordered``, the same graph in an order the reference can run, when given)."""
    network = load_onnx(save(proto, tmp_path), verify=False)
    x = np.random.default_rng(5).random((3, *network.model.input_shape), dtype=np.float32)
    feed = x.transpose(0, 2, 3, 1) if nhwc else x
    want = reference(ordered or proto, feed)
    assert tuple(network.model.input_shape) == tuple(input_shape)
    np.testing.assert_allclose(network.model.forward(x), want.reshape(3, -1)
                               if want.ndim == 2 else want, rtol=rtol, atol=atol)
    return network


# ----------------------------------------------------------------------- PyTorch exports
def torch_export(torch, net, shape, path, **kw):
    net.eval()
    torch.onnx.export(net, torch.rand(2, *shape), str(path), dynamo=False, input_names=["x"],
                      output_names=["y"], dynamic_axes={"x": {0: "N"}, "y": {0: "N"}}, **kw)
    return path


@pytest.mark.torch
def test_pytorch_lenet5_opens_and_matches_pytorch(tmp_path):
    torch = pytest.importorskip("torch")
    nn = torch.nn

    class LeNet(nn.Module):  # x.view(x.size(0), -1): the Shape/Gather/Unsqueeze/Concat chain
        def __init__(self):
            super().__init__()
            self.c1, self.c2 = nn.Conv2d(1, 6, 5, padding=2), nn.Conv2d(6, 16, 5)
            self.f1, self.f2, self.f3 = nn.Linear(400, 120), nn.Linear(120, 84), nn.Linear(84, 10)

        def forward(self, x):
            x = nn.functional.max_pool2d(torch.relu(self.c1(x)), 2)
            x = nn.functional.max_pool2d(torch.relu(self.c2(x)), 2)
            x = x.view(x.size(0), -1)
            return self.f3(torch.relu(self.f2(torch.relu(self.f1(x)))))

    torch.manual_seed(0)
    net = LeNet()
    path = torch_export(torch, net, (1, 28, 28), tmp_path / "lenet.onnx")
    ops = {n.op_type for n in onnx.load(str(path)).graph.node}
    assert {"Shape", "Gather", "Unsqueeze", "Concat", "Reshape"} <= ops  # the chain is there
    network = load_network(path)
    assert [l.kind for l in network.model.layers] == [
        "Conv2D", "ReLU", "MaxPool2D", "Conv2D", "ReLU", "MaxPool2D", "Flatten", "Dense", "ReLU",
        "Dense", "ReLU", "Dense"]
    assert network.model.layers[0].padding == "same"
    assert network.contract.pipeline == "digits" and network.contract.classes[3] == "3"
    x = torch.rand(4, 1, 28, 28)
    np.testing.assert_allclose(network.model.forward(x.numpy()), net(x).detach().numpy(),
                               rtol=1e-5, atol=1e-5)


@pytest.mark.torch
def test_shipped_lenet5_exported_from_pytorch_gives_the_same_probabilities(tmp_path):
    torch = pytest.importorskip("torch")
    from cnnviz.resources import resource_path

    shipped = load_network(resource_path("models", "lenet5.npz"))
    m = shipped.model
    nn = torch.nn
    net = nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
                        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                        nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(),
                        nn.Linear(84, 10))
    with torch.no_grad():
        for (i, layer), (j, mine) in zip(
                [(i, l) for i, l in enumerate(net) if hasattr(l, "weight")],
                [(j, l) for j, l in enumerate(m.layers) if l.params]):
            layer.weight.copy_(torch.tensor(mine.params["weight"]))
            layer.bias.copy_(torch.tensor(mine.params["bias"]))
    path = torch_export(torch, net, (1, 28, 28), tmp_path / "lenet5.onnx")
    opened = load_network(path)
    assert opened.contract == shipped.contract  # a digit network, exactly like cnnviz's own
    from cnnviz.data import synthetic_dataset

    x = synthetic_dataset(n_train=2, n_test=32, seed=0).test_x.astype(np.float32)
    x = x.reshape(-1, 1, 28, 28)
    np.testing.assert_allclose(opened.model.predict_proba(x), m.predict_proba(x), atol=2e-6)


@pytest.mark.torch
@pytest.mark.parametrize("preserve", [False, True])
def test_vgg_style_net_with_batch_norm_dropout_and_pooling_variants(tmp_path, preserve):
    """PyTorch's exporter folds a BatchNorm2d into the convolution before it by default; with
    training=PRESERVE (or without constant folding) it writes the BatchNormalization nodes,
    which become BatchNorm layers."""
    torch = pytest.importorskip("torch")
    nn = torch.nn
    torch.manual_seed(1)
    net = nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU(),
        nn.Conv2d(8, 8, 3, padding=1), nn.BatchNorm2d(8), nn.LeakyReLU(0.1),
        nn.MaxPool2d(3, 2, ceil_mode=True),
        nn.Conv2d(8, 12, 3, stride=2, padding=(0, 1), dilation=1), nn.Tanh(),
        nn.AvgPool2d(3, 1, padding=1),  # count_include_pad=True: PyTorch's default
        nn.Conv2d(12, 6, 2, dilation=2), nn.Sigmoid(),
        nn.Flatten(), nn.Dropout(0.3), nn.Linear(6 * 1 * 3, 32), nn.BatchNorm1d(32), nn.ReLU(),
        nn.Linear(32, 7), nn.Softmax(dim=1))
    for module in net:  # non-trivial running statistics
        if isinstance(module, (nn.BatchNorm2d, nn.BatchNorm1d)):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
            module.weight.data.uniform_(0.5, 1.5)
            module.bias.data.uniform_(-0.5, 0.5)
    extra = {"training": torch.onnx.TrainingMode.PRESERVE} if preserve else {}
    path = torch_export(torch, net, (3, 17, 19), tmp_path / "vgg.onnx", **extra)
    network = load_network(path)
    kinds = [l.kind for l in network.model.layers]
    # each BatchNormalization is a layer of its own, with PyTorch's running statistics
    assert kinds.count("BatchNorm") == (3 if preserve else 1) and kinds.count("Conv2D") == 4
    first = network.model.layers[kinds.index("BatchNorm")]
    module = net[1] if preserve else net[15]
    np.testing.assert_allclose(first.state["running_var"], module.running_var.numpy(),
                               rtol=1e-6)
    assert first.momentum == pytest.approx(0.1) and first.eps == pytest.approx(1e-5)
    assert kinds[-1] == "Softmax"  # (PyTorch drops Dropout from an eval-mode export)
    assert network.model.layers[kinds.index("AvgPool2D")].count_include_pad
    assert network.contract.pipeline == "image" and len(network.contract.classes) == 7
    x = torch.rand(5, 3, 17, 19)
    np.testing.assert_allclose(network.model.forward(x.numpy()), net(x).detach().numpy(),
                               rtol=1e-4, atol=1e-6)


# ----------------------------------------------------------------------- op variants
def conv_graph(rng, attrs, shape=(2, 9, 8), filters=3, kernel=(3, 3), pool=None, opset=17):
    c = shape[0]
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"], **attrs)]
    last = "c"
    if pool is not None:
        op, pattrs = pool
        nodes.append(helper.make_node(op, [last], ["p"], **pattrs))
        last = "p"
    nodes += [helper.make_node("Relu", [last], ["r"]), helper.make_node("Flatten", ["r"], ["y"])]
    inits = [tensor("w", weights(rng, filters, c, *kernel)), tensor("b", weights(rng, filters))]
    return model(nodes, shape, initializers=inits, opset=opset)


CONV_VARIANTS = [
    {}, {"pads": [1, 1, 1, 1]}, {"pads": [2, 0, 1, 1]}, {"auto_pad": "SAME_UPPER"},
    {"auto_pad": "SAME_LOWER", "strides": [2, 2]}, {"auto_pad": "VALID", "strides": [2, 1]},
    {"auto_pad": "SAME_UPPER", "dilations": [2, 1], "strides": [1, 2]},
    {"strides": [3, 2], "pads": [0, 1, 2, 0], "dilations": [1, 2]},
    {"kernel_shape": [3, 3], "group": 1},
]


@pytest.mark.parametrize("attrs", CONV_VARIANTS, ids=str)
def test_conv_attributes_match_the_reference(tmp_path, attrs):
    check_against_reference(tmp_path, conv_graph(np.random.default_rng(0), attrs), (2, 9, 8))


POOL_VARIANTS = [
    ("MaxPool", {"kernel_shape": [2, 2], "strides": [2, 2]}),
    ("MaxPool", {"kernel_shape": [3, 3], "strides": [2, 2], "ceil_mode": 1}),
    ("MaxPool", {"kernel_shape": [3, 2], "pads": [1, 0, 1, 1], "strides": [2, 1]}),
    ("MaxPool", {"kernel_shape": [2, 3], "auto_pad": "SAME_UPPER", "strides": [2, 2]}),
    # (onnx 1.23's reference MaxPool gives SAME_LOWER one row too few: AveragePool instead)
    ("AveragePool", {"kernel_shape": [3, 3], "auto_pad": "SAME_LOWER", "strides": [2, 2]}),
    ("AveragePool", {"kernel_shape": [2, 3], "auto_pad": "SAME_UPPER", "strides": [2, 2]}),
    ("MaxPool", {"kernel_shape": [3, 3], "pads": [1, 1, 1, 1], "strides": [2, 2],
                 "ceil_mode": 1}),
    ("AveragePool", {"kernel_shape": [2, 2], "strides": [2, 2]}),
    ("AveragePool", {"kernel_shape": [3, 3], "pads": [1, 1, 1, 1], "strides": [2, 2]}),
    ("AveragePool", {"kernel_shape": [3, 3], "pads": [1, 1, 1, 1], "count_include_pad": 1}),
    ("AveragePool", {"kernel_shape": [3, 3], "strides": [2, 2], "ceil_mode": 1}),
    ("AveragePool", {"kernel_shape": [3, 2], "pads": [0, 1, 1, 0], "strides": [2, 2],
                     "ceil_mode": 1}),
    ("GlobalAveragePool", {}), ("GlobalMaxPool", {}),
]


@pytest.mark.parametrize("pool", POOL_VARIANTS, ids=str)
def test_pooling_attributes_match_the_reference(tmp_path, pool):
    proto = conv_graph(np.random.default_rng(1), {"pads": [1, 1, 1, 1]}, pool=pool)
    check_against_reference(tmp_path, proto, (2, 9, 8))


def dense_graph(rng, head, opset=17):
    """Conv, Reshape to (N, -1) from constants, then ``head`` (nodes from "f" to "y")."""
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"]),
             helper.make_node("Reshape", ["c", "shape"], ["f"])] + head
    inits = [tensor("w", weights(rng, 2, 1, 3, 3)), tensor("shape", np.array([-1, 32], np.int64))]
    return nodes, inits


@pytest.mark.parametrize("variant", ["gemm", "gemm_t", "gemm_c2", "matmul_add", "add_first",
                                     "matmul", "identity_dropout", "softmax"])
def test_dense_variants_match_the_reference(tmp_path, variant):
    rng = np.random.default_rng(2)
    w, b = weights(rng, 32, 5), weights(rng, 5)
    extra = []
    if variant == "gemm":
        head = [helper.make_node("Gemm", ["f", "w2", "b2"], ["y"], alpha=0.7, beta=1.3)]
        extra = [tensor("w2", w), tensor("b2", b)]
    elif variant == "gemm_t":
        head = [helper.make_node("Gemm", ["f", "w2", "b2"], ["y"], transB=1, alpha=2.0)]
        extra = [tensor("w2", w.T.copy()), tensor("b2", b)]
    elif variant == "gemm_c2":
        head = [helper.make_node("Gemm", ["f", "w2", "b2"], ["y"], beta=0.5)]
        extra = [tensor("w2", w), tensor("b2", b.reshape(1, 5))]
    elif variant in ("matmul_add", "add_first"):
        order = ["f", "b2"] if variant == "matmul_add" else ["b2", "f"]
        head = [helper.make_node("MatMul", ["f", "w2"], ["m"]),
                helper.make_node("Add", [order[0].replace("f", "m"), order[1].replace("f", "m")],
                                 ["y"])]
        extra = [tensor("w2", w), tensor("b2", b)]
    elif variant == "matmul":
        head = [helper.make_node("MatMul", ["f", "w2"], ["y"])]
        extra = [tensor("w2", w)]
    elif variant == "identity_dropout":
        head = [helper.make_node("Identity", ["f"], ["i"]),
                helper.make_node("Dropout", ["i", "ratio"], ["d"]),
                helper.make_node("Gemm", ["d", "w2"], ["y"])]
        extra = [tensor("w2", w), tensor("ratio", np.array(0.25, np.float32))]
    else:
        head = [helper.make_node("Gemm", ["f", "w2", "b2"], ["g"]),
                helper.make_node("Softmax", ["g"], ["y"], axis=-1)]
        extra = [tensor("w2", w), tensor("b2", b)]
    nodes, inits = dense_graph(rng, head)
    network = check_against_reference(tmp_path, model(nodes, (1, 6, 6), initializers=inits + extra),
                                      (1, 6, 6))
    kinds = [l.kind for l in network.model.layers]
    assert kinds.count("Dense") == 1 and "Flatten" in kinds
    if variant == "identity_dropout":
        assert network.model.layers[kinds.index("Dropout")].rate == 0.25


@pytest.mark.parametrize("opset", [7, 9, 11, 13, 19, None])
def test_opsets_and_activations(tmp_path, opset):
    from onnx.defs import onnx_opset_version

    opset = opset or onnx_opset_version()
    rng = np.random.default_rng(3)
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"], pads=[1, 1, 1, 1]),
             helper.make_node("LeakyRelu", ["c"], ["l"], alpha=0.2),
             helper.make_node("MaxPool", ["l"], ["p"], kernel_shape=[2, 2], strides=[2, 2]),
             helper.make_node("Tanh", ["p"], ["t"]),
             helper.make_node("Flatten", ["t"], ["f"]),
             helper.make_node("Gemm", ["f", "w2", "b2"], ["g"], transB=1),
             helper.make_node("Sigmoid", ["g"], ["s"]),
             helper.make_node("Softmax", ["s"], ["y"], axis=1)]
    inits = [tensor("w", weights(rng, 4, 3, 3, 3)), tensor("b", weights(rng, 4)),
             tensor("w2", weights(rng, 6, 4 * 4 * 4)), tensor("b2", weights(rng, 6))]
    proto = model(nodes, (3, 8, 8), initializers=inits, opset=opset)
    check_against_reference(tmp_path, proto, (3, 8, 8))


def test_pad_is_folded_into_the_next_convolution_and_nodes_out_of_order(tmp_path):
    rng = np.random.default_rng(4)
    nodes = [
        helper.make_node("Flatten", ["r"], ["y"]),  # written first: the importer orders them
        helper.make_node("Relu", ["c"], ["r"]),
        helper.make_node("Conv", ["pd", "w"], ["c"], strides=[2, 2]),
        helper.make_node("Pad", ["x", "pads"], ["pd"], mode="constant"),
    ]
    inits = [tensor("w", weights(rng, 2, 1, 3, 3)),
             tensor("pads", np.array([0, 0, 2, 0, 0, 0, 1, 1], np.int64))]
    ordered = model(nodes[::-1], (1, 7, 7), initializers=inits)
    network = check_against_reference(tmp_path, model(nodes, (1, 7, 7), initializers=inits),
                                      (1, 7, 7), ordered=ordered)
    assert network.model.layers[0].padding == [2, 1, 0, 1]
    load_network(tmp_path / "net.onnx")  # the self-check runs the nodes in order too


def test_pad_before_average_pool_is_counted_in_the_mean(tmp_path):
    nodes = [helper.make_node("Pad", ["x", "pads"], ["pd"]),
             helper.make_node("AveragePool", ["pd"], ["a"], kernel_shape=[3, 3], strides=[2, 2]),
             helper.make_node("Flatten", ["a"], ["y"])]
    inits = [tensor("pads", np.array([0, 0, 1, 1, 0, 0, 1, 1], np.int64))]
    check_against_reference(tmp_path, model(nodes, (2, 6, 6), initializers=inits), (2, 6, 6))


def test_keras_style_nhwc_graph(tmp_path):
    """tf2onnx's layout: an NHWC input transposed to NCHW, and back to NHWC before the flatten,
    so that the dense weights are in Keras's (H, W, C) order."""
    rng = np.random.default_rng(6)
    nodes = [helper.make_node("Transpose", ["x"], ["t"], perm=[0, 3, 1, 2]),
             helper.make_node("Conv", ["t", "w", "b"], ["c"], auto_pad="SAME_UPPER"),
             helper.make_node("Relu", ["c"], ["r"]),
             helper.make_node("MaxPool", ["r"], ["p"], kernel_shape=[2, 2], strides=[2, 2]),
             helper.make_node("Transpose", ["p"], ["tb"], perm=[0, 2, 3, 1]),
             helper.make_node("Reshape", ["tb", "shape"], ["f"]),
             helper.make_node("MatMul", ["f", "w2"], ["m"]),
             helper.make_node("Add", ["m", "b2"], ["z"]),
             helper.make_node("Softmax", ["z"], ["y"])]
    inits = [tensor("w", weights(rng, 4, 3, 3, 3)), tensor("b", weights(rng, 4)),
             tensor("shape", np.array([-1, 4 * 5 * 6], np.int64)),
             tensor("w2", weights(rng, 4 * 5 * 6, 10)), tensor("b2", weights(rng, 10))]
    proto = model(nodes, (10, 12, 3), initializers=inits)
    network = check_against_reference(tmp_path, proto, (3, 10, 12), nhwc=True)
    assert network.contract.shape == (3, 10, 12) and network.contract.pipeline == "image"
    # and the self-check feeds the reference NHWC data
    load_network(save(proto, tmp_path, "checked.onnx"))


def test_contract_and_name_from_metadata(tmp_path):
    rng = np.random.default_rng(7)
    nodes = [helper.make_node("Flatten", ["x"], ["f"]),
             helper.make_node("Gemm", ["f", "w"], ["y"])]
    proto = model(nodes, (3, 4, 4), initializers=[tensor("w", weights(rng, 48, 3))])
    contract = {"format": "cnnviz-input", "version": 1, "shape": [3, 4, 4],
                "classes": ["cat", "dog", "bird"], "pipeline": "image", "fit": "pad",
                "fill": 0.5, "mean": [0.5, 0.4, 0.3], "std": [0.2, 0.2, 0.2]}
    helper.set_model_props(proto, {"cnnviz.input": json.dumps(contract), "cnnviz.name": "pets"})
    network = load_network(save(proto, tmp_path))
    assert network.contract.classes == ("cat", "dog", "bird") and network.contract.fit == "pad"
    assert network.model.name == "pets"
    contract["classes"] = ["cat", "dog"]
    helper.set_model_props(proto, {"cnnviz.input": json.dumps(contract)})
    with pytest.raises(ModelFileError, match="input description.*2 class names"):
        load_network(save(proto, tmp_path, "bad.onnx"))
    helper.set_model_props(proto, {"cnnviz.input": "{not json"})
    with pytest.raises(ModelFileError, match="not valid JSON"):
        load_network(save(proto, tmp_path, "bad2.onnx"))


def test_self_check_reports_a_misread_operator(tmp_path, monkeypatch):
    from cnnviz.nn import onnx_io

    rng = np.random.default_rng(8)
    nodes = [helper.make_node("Flatten", ["x"], ["f"]),
             helper.make_node("Gemm", ["f", "w"], ["g"]),
             helper.make_node("LeakyRelu", ["g"], ["y"], alpha=0.5)]
    path = save(model(nodes, (1, 4, 4), initializers=[tensor("w", weights(rng, 16, 6))]),
                tmp_path)
    load_network(path)  # correct: passes
    # A conversion bug (the slope ignored) must not become a network
    monkeypatch.setattr(onnx_io._Walker, "_op_LeakyRelu", lambda self, node, inputs, attrs:
                        self._elementwise(node, inputs, {"kind": "LeakyReLU", "alpha": 0.01}))
    with pytest.raises(OnnxImportError, match="check of the import failed.*differs"):
        load_network(path)


def test_log_softmax_output_becomes_the_probabilities(tmp_path):
    rng = np.random.default_rng(9)
    nodes = [helper.make_node("Flatten", ["x"], ["f"]),
             helper.make_node("Gemm", ["f", "w", "b"], ["g"]),
             helper.make_node("LogSoftmax", ["g"], ["y"], axis=1)]
    proto = model(nodes, (1, 5, 5), initializers=[tensor("w", weights(rng, 25, 4)),
                                                  tensor("b", weights(rng, 4))])
    network = load_network(save(proto, tmp_path))
    assert network.model.layers[-1].kind == "Softmax"
    x = rng.random((3, 1, 5, 5), dtype=np.float32)
    np.testing.assert_allclose(network.model.predict_proba(x), np.exp(reference(proto, x)),
                               rtol=1e-5, atol=1e-7)
    # anywhere but at the end it is refused
    nodes = [helper.make_node("Flatten", ["x"], ["f"]),
             helper.make_node("LogSoftmax", ["f"], ["l"], name="mid"),
             helper.make_node("Gemm", ["l", "w"], ["y"])]
    proto = model(nodes, (1, 5, 5), initializers=[tensor("w", weights(rng, 25, 4))])
    with pytest.raises(ModelFileError, match=r"node 'mid' \(LogSoftmax\) is not the graph's last"):
        load_network(save(proto, tmp_path, "mid.onnx"))


@pytest.mark.torch
def test_alexnet_style_net_with_stride_4_lrn_and_dropout(tmp_path):
    torch = pytest.importorskip("torch")
    nn = torch.nn

    class LRNFunction(torch.autograd.Function):
        """PyTorch exports LocalResponseNorm as a dozen elementary operators; converters of
        Caffe and Keras models (and this symbolic) write ONNX's LRN."""

        @staticmethod
        def forward(ctx, x, size, alpha, beta, k):
            return nn.functional.local_response_norm(x, size, alpha, beta, k)

        @staticmethod
        def symbolic(g, x, size, alpha, beta, k):
            return g.op("LRN", x, size_i=size, alpha_f=alpha, beta_f=beta, bias_f=k)

    class LRN(nn.Module):
        def __init__(self, *args):
            super().__init__()
            self.args = args

        def forward(self, x):
            return LRNFunction.apply(x, *self.args)

    torch.manual_seed(2)
    net = nn.Sequential(
        nn.Conv2d(3, 8, 11, stride=4, padding=2), nn.ReLU(), LRN(5, 1e-3, 0.75, 2.0),
        nn.MaxPool2d(3, 2), nn.Conv2d(8, 12, 5, padding=2), nn.ReLU(),
        LRN(3, 1e-2, 0.75, 1.0), nn.MaxPool2d(3, 2), nn.Flatten(),
        nn.Dropout(0.5), nn.Linear(12 * 3 * 3, 16), nn.ReLU(), nn.Dropout(0.5), nn.Linear(16, 5))
    path = torch_export(torch, net, (3, 67, 67), tmp_path / "alex.onnx")
    network = load_network(path)
    kinds = [l.kind for l in network.model.layers]
    assert kinds.count("LRN") == 2 and network.model.layers[0].stride == (4, 4)
    x = torch.rand(3, 3, 67, 67)
    np.testing.assert_allclose(network.model.forward(x.numpy()), net(x).detach().numpy(),
                               rtol=1e-4, atol=1e-6)


def backend_file(name):
    from pathlib import Path

    path = Path(onnx.__file__).parent / f"backend/test/data/light/light_{name}.onnx"
    if not path.exists():
        pytest.skip("this onnx package ships no backend test data")
    return path


@pytest.mark.parametrize("group,channels,filters", [(2, 4, 6), (3, 6, 3), (4, 8, 8)])
def test_grouped_convolution_opens_as_one_with_zeros_between_groups(tmp_path, group, channels,
                                                                    filters):
    rng = np.random.default_rng(group)
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"], group=group, pads=[1, 1, 1, 1],
                              strides=[2, 1], name="grouped"),
             helper.make_node("Relu", ["c"], ["r"]), helper.make_node("Flatten", ["r"], ["y"])]
    inits = [tensor("w", weights(rng, filters, channels // group, 3, 3)),
             tensor("b", weights(rng, filters))]
    proto = model(nodes, (channels, 7, 6), initializers=inits)
    network = check_against_reference(tmp_path, proto, (channels, 7, 6))
    w = next(v for v in network.model.get_weights().values() if v.ndim == 4)
    assert w.shape == (filters, channels, 3, 3)
    # Each filter sees only its group's channels: every other kernel is zero.
    per_group, inner = filters // group, channels // group
    for f in range(filters):
        g = f // per_group
        others = np.delete(w[f], np.s_[g * inner:(g + 1) * inner], axis=0)
        assert not others.any() and w[f, g * inner:(g + 1) * inner].any()


@pytest.mark.slow
def test_onnx_backend_alexnet_structure_opens_with_its_grouped_convolutions():
    """The original AlexNet splits three convolutions in two groups (two GPUs): they open as
    ordinary convolutions with zeros between the groups, self-checked against the reference."""
    network = load_network(backend_file("bvlc_alexnet"))
    assert network.model.input_shape == (3, 224, 224) and network.model.output_shape == (1000,)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["zfnet512", "vgg19"])
def test_onnx_backend_structure_files(name):
    """The ZFNet (LRN, stride-2 7x7 convolution) and VGG-19 structure files in onnx's backend
    test data (weights made by ConstantOfShape; Caffe2 converter output with Dropout masks
    declared) open, self-checked against the reference evaluator."""
    network = load_network(backend_file(name))
    assert network.model.input_shape == (3, 224, 224) and network.model.output_shape == (1000,)
    assert network.model.layers[-1].kind == "Softmax"


@pytest.mark.parametrize("opset", [9, 11, 13, 17])
def test_flatten_chain_pad_and_dropout_in_each_opsets_form(tmp_path, opset):
    """Unsqueeze's axes, Pad's pads and value, Dropout's ratio: attributes in old opsets,
    inputs in new ones."""
    rng = np.random.default_rng(10)
    inits = [tensor("w", weights(rng, 3, 2, 3, 3)), tensor("w2", weights(rng, 3 * 4 * 4, 5)),
             tensor("minus1", np.array([-1], np.int64)), tensor("zero", np.array(0, np.int64))]
    if opset < 11:
        pad = helper.make_node("Pad", ["x"], ["pd"], pads=[0, 0, 1, 1, 0, 0, 1, 1], value=0.0)
    else:
        pad = helper.make_node("Pad", ["x", "pads"], ["pd"])
        inits.append(tensor("pads", np.array([0, 0, 1, 1, 0, 0, 1, 1], np.int64)))
    if opset < 13:
        unsqueeze = helper.make_node("Unsqueeze", ["n"], ["n1"], axes=[0])
    else:
        unsqueeze = helper.make_node("Unsqueeze", ["n", "axes"], ["n1"])
        inits.append(tensor("axes", np.array([0], np.int64)))
    if opset < 12:
        dropout = helper.make_node("Dropout", ["r"], ["d"], ratio=0.4)
    else:
        dropout = helper.make_node("Dropout", ["r", "ratio"], ["d"])
        inits.append(tensor("ratio", np.array(0.4, np.float32)))
    nodes = [pad, helper.make_node("Conv", ["pd", "w"], ["c"], strides=[2, 2]),
             helper.make_node("Relu", ["c"], ["r"]), dropout,
             helper.make_node("Shape", ["d"], ["s"]),
             helper.make_node("Gather", ["s", "zero"], ["n"], axis=0), unsqueeze,
             helper.make_node("Concat", ["n1", "minus1"], ["target"], axis=0),
             helper.make_node("Reshape", ["d", "target"], ["f"]),
             helper.make_node("MatMul", ["f", "w2"], ["y"])]
    network = check_against_reference(tmp_path, model(nodes, (2, 8, 8), initializers=inits,
                                                      opset=opset), (2, 8, 8))
    kinds = [l.kind for l in network.model.layers]
    assert kinds == ["Conv2D", "ReLU", "Dropout", "Flatten", "Dense"]
    assert network.model.layers[2].rate == 0.4 and network.model.layers[0].padding == 1


@pytest.mark.torch
def test_torchvision_style_adaptive_pooling(tmp_path):
    """torchvision's VGG ends its features with AdaptiveAvgPool2d((7, 7)): at 224x224 an
    AveragePool of 1x1 (no layer), at twice the map a 2x2 one."""
    torch = pytest.importorskip("torch")
    nn = torch.nn
    torch.manual_seed(3)
    for side, kinds in ((7, ["Conv2D", "ReLU", "Flatten", "Dense"]),
                        (14, ["Conv2D", "ReLU", "AvgPool2D", "Flatten", "Dense"])):
        net = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(7),
                            nn.Flatten(), nn.Linear(4 * 7 * 7, 3))
        path = torch_export(torch, net, (3, side, side), tmp_path / f"adaptive{side}.onnx")
        network = load_network(path)
        assert [l.kind for l in network.model.layers] == kinds
        x = torch.rand(2, 3, side, side)
        np.testing.assert_allclose(network.model.forward(x.numpy()), net(x).detach().numpy(),
                                   rtol=1e-5, atol=1e-6)


def test_max_pool_same_lower_against_onnxruntime(tmp_path):
    """onnx 1.23's reference MaxPool gives SAME_LOWER one row too few; onnxruntime (a test extra,
    where installed) is the oracle for it."""
    ort = pytest.importorskip("onnxruntime")
    pool = ("MaxPool", {"kernel_shape": [3, 3], "auto_pad": "SAME_LOWER", "strides": [2, 2]})
    proto = conv_graph(np.random.default_rng(11), {"pads": [1, 1, 1, 1]}, pool=pool)
    path = save(proto, tmp_path)
    network = load_onnx(path, verify=False)
    x = np.random.default_rng(12).random((2, 2, 9, 8), dtype=np.float32)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    np.testing.assert_allclose(network.model.forward(x), session.run(None, {"x": x})[0],
                               rtol=1e-5, atol=1e-6)


# ----------------------------------------------------------------------- batch normalisation
def bn_inits(rng, channels, prefix="n"):
    return [tensor(f"{prefix}s", rng.uniform(0.5, 2, channels).astype(np.float32)),
            tensor(f"{prefix}b", weights(rng, channels)),
            tensor(f"{prefix}m", weights(rng, channels)),
            tensor(f"{prefix}v", rng.uniform(0.2, 3, channels).astype(np.float32))]


def test_the_self_checks_batch_normalization_is_onnxs_inference_form():
    """onnx 1.23's reference runs BatchNormalization of opsets 7-8 in training mode and mixes in
    the batch's statistics in 9-13 when a momentum is given; the self-check's own is the
    operator's inference definition, checked here value by value."""
    rng = np.random.default_rng(14)
    inits = bn_inits(rng, 3)
    s, b, m, v = (onnx.numpy_helper.to_array(i).astype(np.float64) for i in inits)
    x = rng.standard_normal((2, 3, 2, 4)).astype(np.float32)
    want = np.empty(x.shape)
    for n, c, i, j in np.ndindex(*x.shape):
        want[n, c, i, j] = s[c] * (x[n, c, i, j] - m[c]) / np.sqrt(v[c] + 1e-3) + b[c]
    for opset in (7, 9, 14, 17):
        proto = model([bn_node("x", "y", epsilon=1e-3, momentum=0.7)], (3, 2, 4),
                      initializers=inits, opset=opset)
        got = reference_evaluator(proto).run(None, {"x": x})[0]
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6, err_msg=str(opset))


def bn_node(source, out, prefix="n", **attrs):
    return helper.make_node("BatchNormalization", [source] + [f"{prefix}{k}" for k in "sbmv"],
                            [out], **attrs)


@pytest.mark.parametrize("opset", [7, 9, 15, 17])
def test_batch_normalization_becomes_a_layer_anywhere_in_the_chain(tmp_path, opset):
    """At the input, after a ReLU, after a convolution and on a dense layer's vector: each a
    BatchNorm layer with the file's statistics, epsilon and momentum."""
    rng = np.random.default_rng(11)
    nodes = [bn_node("x", "n0", "a", epsilon=1e-3, momentum=0.8),
             helper.make_node("Conv", ["n0", "w"], ["c"], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c"], ["r"]), bn_node("r", "n1", "b"),
             helper.make_node("Flatten", ["n1"], ["f"]),
             helper.make_node("Gemm", ["f", "g"], ["d"], transB=1), bn_node("d", "y", "c")]
    inits = [*bn_inits(rng, 2, "a"), tensor("w", weights(rng, 3, 2, 3, 3)), *bn_inits(rng, 3, "b"),
             tensor("g", weights(rng, 5, 3 * 4 * 5)), *bn_inits(rng, 5, "c")]
    # (the reference's BatchNormalization is the self-check's, checked value by value above)
    network = check_against_reference(tmp_path, model(nodes, (2, 4, 5), initializers=inits,
                                                      opset=opset), (2, 4, 5))
    kinds = [layer.kind for layer in network.model.layers]
    assert kinds == ["BatchNorm", "Conv2D", "ReLU", "BatchNorm", "Flatten", "Dense", "BatchNorm"]
    first = network.model.layers[0]
    assert (first.eps, first.momentum) == (pytest.approx(1e-3), pytest.approx(0.2))
    np.testing.assert_array_equal(first.state["running_mean"], onnx.numpy_helper.to_array(
        inits[2]))
    load_network(save(model(nodes, (2, 4, 5), initializers=inits, opset=opset), tmp_path,
                      "checked.onnx"))  # passes the self-check too


def test_batch_normalization_of_a_channels_last_flatten_follows_its_features(tmp_path):
    """Keras: NHWC data flattened, then normalised per feature; the engine flattens (C, H, W),
    so the statistics are put in its order."""
    rng = np.random.default_rng(12)
    nodes = [helper.make_node("Transpose", ["x"], ["t"], perm=[0, 3, 1, 2]),
             helper.make_node("Conv", ["t", "w"], ["c"]),
             helper.make_node("Transpose", ["c"], ["h"], perm=[0, 2, 3, 1]),
             helper.make_node("Flatten", ["h"], ["f"]), bn_node("f", "n"),
             helper.make_node("Gemm", ["n", "g"], ["y"], transB=1)]
    inits = [tensor("w", weights(rng, 3, 2, 2, 2)), *bn_inits(rng, 3 * 3 * 4),
             tensor("g", weights(rng, 4, 36))]
    check_against_reference(tmp_path, model(nodes, (4, 5, 2), initializers=inits), (2, 4, 5),
                            nhwc=True)


def test_global_average_pool_of_any_size_is_one_layer(tmp_path):
    """Beyond the 64x64 window of the pooling layers (a 224x224 network's last maps are 7x7,
    but a fully convolutional one's may be large)."""
    rng = np.random.default_rng(13)
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"]),
             helper.make_node("GlobalAveragePool", ["c"], ["p"]),
             helper.make_node("Flatten", ["p"], ["y"])]
    network = check_against_reference(
        tmp_path, model(nodes, (1, 90, 70), initializers=[tensor("w", weights(rng, 4, 1, 3, 3))]),
        (1, 90, 70))
    assert [layer.kind for layer in network.model.layers] == ["Conv2D", "GlobalAvgPool2D",
                                                             "Flatten"]
