"""Normalisation inside an ONNX graph (leading Sub/Div/Mul/Add by per-channel constants) becomes
the input contract's mean and standard deviation: the file opens, passes the self-check, and the
network fed the contract's normalised image gives what onnx's reference evaluator gives for the
original graph fed the image."""

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
from onnx import helper  # noqa: E402

from cnnviz.nn import InputContract, ModelFileError, load_network  # noqa: E402
from cnnviz.nn.onnx_export import save_onnx  # noqa: E402
from cnnviz.nn.onnx_io import reference_evaluator  # noqa: E402

from onnx_graphs import model, save, tensor, weights  # noqa: E402

RNG = np.random.default_rng(0)
MEAN = np.array([0.485, 0.456, 0.406], np.float32)
STD = np.array([0.229, 0.224, 0.225], np.float32)


def normalised(x, contract):
    """What the contract's last step makes of images ``x`` (N, C, H, W) in [0, 1]: written
    out here, not taken from cnnviz."""
    mean = np.array(contract.mean)[None, :, None, None]
    std = np.array(contract.std)[None, :, None, None]
    return (x - mean) / std


def check_against_reference(path, x, nhwc=False):
    """Open ``path``; the network fed the contract's normalisation of ``x`` must give what the
    reference evaluator gives for the original file fed ``x``."""
    network = load_network(path)
    feed = x.transpose(0, 2, 3, 1) if nhwc else x
    want = reference_evaluator(onnx.load(str(path))).run(None, {"x": feed})[0]
    got = network.model.forward(normalised(x, network.contract).astype(np.float32))
    np.testing.assert_allclose(got, want.reshape(got.shape), rtol=1e-5, atol=1e-5)
    return network


def conv_head(source, channels=3, classes=4):
    """Conv (padded: zeros in normalised space) -> Relu -> Flatten -> Gemm, reading ``source``."""
    nodes = [helper.make_node("Conv", [source, "w"], ["c"], pads=[1, 1, 1, 1], name="conv"),
             helper.make_node("Relu", ["c"], ["r"]),
             helper.make_node("Flatten", ["r"], ["f"]),
             helper.make_node("Gemm", ["f", "fw", "fb"], ["y"], transB=1)]
    inits = [tensor("w", weights(RNG, 5, channels, 3, 3)),
             tensor("fw", weights(RNG, classes, 5 * 6 * 6)),
             tensor("fb", weights(RNG, classes))]
    return nodes, inits


def test_sub_then_div_by_per_channel_constants(tmp_path):
    head, inits = conv_head("n")
    nodes = [helper.make_node("Sub", ["x", "mean"], ["s"], name="minus_mean"),
             helper.make_node("Div", ["s", "std"], ["n"], name="over_std"), *head]
    inits += [tensor("mean", MEAN.reshape(1, 3, 1, 1)), tensor("std", STD.reshape(3, 1, 1))]
    path = save(model(nodes, (3, 6, 6), initializers=inits), tmp_path)
    network = check_against_reference(path, RNG.random((3, 3, 6, 6), dtype=np.float32))
    contract = network.contract
    assert contract.pipeline == "image" and contract.shape == (3, 6, 6)
    np.testing.assert_allclose(contract.mean, MEAN, rtol=1e-6)
    np.testing.assert_allclose(contract.std, STD, rtol=1e-6)
    assert [layer.kind for layer in network.model.layers] == ["Conv2D", "ReLU", "Flatten",
                                                              "Dense"]


def test_scalar_scale_from_a_constant_node_then_per_channel_shift(tmp_path):
    """Keras's Rescaling(1/127.5, offset=-1) style: x * a + b, the scale a Constant node."""
    head, inits = conv_head("n")
    nodes = [helper.make_node("Constant", [], ["a"], value_float=2.0, name="two"),
             helper.make_node("Mul", ["a", "x"], ["m"], name="times_two"),
             helper.make_node("Add", ["m", "b"], ["n"], name="plus_b"), *head]
    inits += [tensor("b", np.array([-1.0, -0.5, -1.5], np.float32).reshape(3, 1, 1))]
    path = save(model(nodes, (3, 6, 6), initializers=inits), tmp_path)
    contract = check_against_reference(path, RNG.random((2, 3, 6, 6), dtype=np.float32)).contract
    # 2x + b = (x - mean) / std: std 1/2, mean -b/2
    np.testing.assert_allclose(contract.std, [0.5] * 3)
    np.testing.assert_allclose(contract.mean, [0.5, 0.25, 0.75])


def test_keras_style_normalisation_before_the_nhwc_transpose(tmp_path):
    head, inits = conv_head("t")
    nodes = [helper.make_node("Sub", ["x", "mean"], ["s"], name="minus_mean"),
             helper.make_node("Mul", ["s", "inv_std"], ["n"], name="times_inverse"),
             helper.make_node("Transpose", ["n"], ["t"], perm=[0, 3, 1, 2]), *head]
    inits += [tensor("mean", MEAN), tensor("inv_std", (1 / STD).reshape(1, 1, 1, 3))]
    path = save(model(nodes, (6, 6, 3), initializers=inits), tmp_path)
    network = check_against_reference(path, RNG.random((2, 3, 6, 6), dtype=np.float32),
                                      nhwc=True)
    assert network.contract.shape == (3, 6, 6)
    np.testing.assert_allclose(network.contract.mean, MEAN, rtol=1e-6)
    np.testing.assert_allclose(network.contract.std, STD, rtol=1e-6)


def test_normalisation_after_the_nhwc_transpose(tmp_path):
    head, inits = conv_head("n")
    nodes = [helper.make_node("Transpose", ["x"], ["t"], perm=[0, 3, 1, 2]),
             helper.make_node("Div", ["t", "std"], ["d"], name="over_std"),
             helper.make_node("Sub", ["d", "mean_over_std"], ["n"], name="minus"), *head]
    inits += [tensor("std", STD.reshape(1, 3, 1, 1)),
              tensor("mean_over_std", (MEAN / STD).reshape(3, 1, 1))]
    path = save(model(nodes, (6, 6, 3), initializers=inits), tmp_path)
    network = check_against_reference(path, RNG.random((2, 3, 6, 6), dtype=np.float32),
                                      nhwc=True)
    np.testing.assert_allclose(network.contract.mean, MEAN, rtol=1e-6)
    np.testing.assert_allclose(network.contract.std, STD, rtol=1e-6)


def test_a_digit_network_keeps_its_pipeline_with_the_mnist_normalisation(tmp_path):
    """PyTorch's MNIST examples normalise with 0.1307 and 0.3081 inside the model."""
    nodes = [helper.make_node("Sub", ["x", "m"], ["s"]), helper.make_node("Div", ["s", "d"], ["n"]),
             helper.make_node("Flatten", ["n"], ["f"]),
             helper.make_node("Gemm", ["f", "fw"], ["y"], transB=1)]
    inits = [tensor("m", np.float32(0.1307)), tensor("d", np.float32(0.3081)),
             tensor("fw", weights(RNG, 10, 784))]
    path = save(model(nodes, (1, 28, 28), initializers=inits), tmp_path)
    contract = check_against_reference(path, RNG.random((2, 1, 28, 28),
                                                        dtype=np.float32)).contract
    assert contract.pipeline == "digits"
    np.testing.assert_allclose((contract.mean, contract.std), [(0.1307,), (0.3081,)],
                               rtol=1e-6)


def test_a_files_own_normalisation_is_composed_with_the_graphs(tmp_path):
    """A cnnviz contract (mean m0, std s0) in the metadata, and a graph that starts by scaling
    its input: the image goes through both."""
    from cnnviz.nn import Dense, Flatten, Sequential

    net = Sequential([Flatten(), Dense(out_features=3)], input_shape=(3, 4, 4), seed=0)
    own = InputContract((3, 4, 4), ("a", "b", "c"), "image", mean=(0.5, 0.4, 0.3),
                        std=(0.2, 0.25, 0.5))
    proto = onnx.load(str(save_onnx(net, tmp_path / "own.onnx", contract=own)))
    graph = proto.graph
    graph.node[0].input[0] = "scaled"
    graph.node.insert(0, helper.make_node("Mul", ["input", "k"], ["scaled"], name="scale"))
    graph.initializer.append(tensor("k", np.array([2.0, 4.0, 0.5], np.float32).reshape(3, 1, 1)))
    path = save(proto, tmp_path)
    network = load_network(path)
    x = RNG.random((2, 3, 4, 4), dtype=np.float32)
    want = reference_evaluator(onnx.load(str(path))).run(
        None, {"input": normalised(x, own).astype(np.float32)})[0]
    got = network.model.forward(normalised(x, network.contract).astype(np.float32))
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    assert network.contract.classes == ("a", "b", "c")
    np.testing.assert_allclose(network.contract.std, [0.1, 0.0625, 1.0])


def test_a_chain_no_contract_can_hold_is_refused_naming_its_node(tmp_path):
    head, inits = conv_head("n")
    nodes = [helper.make_node("Sub", ["mean", "x"], ["n"], name="flip"), *head]
    proto = model(nodes, (3, 6, 6), initializers=[*inits, tensor("mean", MEAN.reshape(3, 1, 1))])
    with pytest.raises(ModelFileError, match=r"net.onnx: node 'flip' \(Sub\) and the 0 after it "
                                             r"scale the input by \[-1.0, -1.0, -1.0\]; cnnviz "
                                             r"normalises an input with a positive standard"):
        load_network(save(proto, tmp_path))
    nodes = [helper.make_node("Div", ["x", "zero"], ["n"], name="over_zero"), *head]
    proto = model(nodes, (3, 6, 6), initializers=[*inits, tensor("zero", np.zeros(
        (1, 3, 1, 1), np.float32))])
    with pytest.raises(ModelFileError, match=r"node 'over_zero' \(Div\) divides the input by 0"):
        load_network(save(proto, tmp_path))
    nodes = [helper.make_node("Mul", ["x", "tiny"], ["n"], name="shrink"), *head]
    proto = model(nodes, (3, 6, 6), initializers=[*inits, tensor("tiny", np.float32(1e-6))])
    with pytest.raises(ModelFileError, match=r"node 'shrink' \(Mul\) and the 0 after it normalise "
                                             r"the input in a way cnnviz cannot show.*std of "
                                             r"channel 0 must be a number from 0.0001 to 1000"):
        load_network(save(proto, tmp_path))


def test_what_is_not_per_channel_is_refused_as_before(tmp_path):
    """A constant of shape (3,) on NCHW data broadcasts over the width, not the channels."""
    head, inits = conv_head("n", channels=3)
    nodes = [helper.make_node("Sub", ["x", "row"], ["n"], name="per_column"), *head]
    proto = model(nodes, (3, 6, 6), initializers=[*inits, tensor("row", np.ones(6, np.float32))])
    with pytest.raises(ModelFileError, match=r"node 'per_column' \(Sub\)"):
        load_network(save(proto, tmp_path))


@pytest.mark.torch
def test_a_pytorch_module_normalising_in_forward_matches_pytorch(tmp_path):
    torch = pytest.importorskip("torch")
    nn = torch.nn

    class Normalised(nn.Module):
        def __init__(self):
            super().__init__()
            self.register_buffer("mean", torch.tensor(MEAN).view(1, 3, 1, 1))
            self.register_buffer("std", torch.tensor(STD).view(1, 3, 1, 1))
            self.conv, self.fc = nn.Conv2d(3, 4, 3, padding=1), nn.Linear(4 * 8 * 8, 5)

        def forward(self, x):
            x = (x - self.mean) / self.std
            return self.fc(torch.flatten(torch.relu(self.conv(x)), 1))

    torch.manual_seed(0)
    net = Normalised().eval()
    path = tmp_path / "normalised.onnx"
    torch.onnx.export(net, torch.rand(2, 3, 8, 8), str(path), dynamo=False, input_names=["x"],
                      output_names=["y"], dynamic_axes={"x": {0: "N"}, "y": {0: "N"}})
    assert [n.op_type for n in onnx.load(str(path)).graph.node][:2] == ["Sub", "Div"]
    network = check_against_reference(path, RNG.random((2, 3, 8, 8), dtype=np.float32))
    x = torch.rand(3, 3, 8, 8)
    got = network.model.forward(normalised(x.numpy(), network.contract).astype(np.float32))
    np.testing.assert_allclose(got, net(x).detach().numpy(), rtol=1e-5, atol=1e-5)


def test_the_self_check_catches_a_misread_normalisation(tmp_path, monkeypatch):
    """Were the constants misread (here: the channels reversed), the contract would be wrong:
    the reference evaluator running the nodes taken out says so."""
    import cnnviz.nn.onnx_input_affine as affine

    read = affine._per_channel
    monkeypatch.setattr(affine, "_per_channel", lambda *args: read(*args)[::-1].copy())
    head, inits = conv_head("n")
    nodes = [helper.make_node("Sub", ["x", "mean"], ["n"], name="minus_mean"), *head]
    proto = model(nodes, (3, 6, 6), initializers=[*inits, tensor("mean", MEAN.reshape(3, 1, 1))])
    with pytest.raises(ModelFileError, match=r"the check of the input's normalisation failed: "
                                             r"node 'minus_mean' \(Sub\)"):
        load_network(save(proto, tmp_path))


def test_the_contract_reads_as_the_file_wrote_it(tmp_path, capsys):
    """The float32 constants shown as their shortest decimals, as typed in PyTorch."""
    from cnnviz.cli import main

    head, inits = conv_head("n")
    nodes = [helper.make_node("Sub", ["x", "mean"], ["s"]),
             helper.make_node("Div", ["s", "std"], ["n"]), *head]
    inits += [tensor("mean", MEAN.reshape(3, 1, 1)), tensor("std", STD.reshape(3, 1, 1))]
    path = save(model(nodes, (3, 6, 6), initializers=inits), tmp_path)
    assert load_network(path).contract.mean == (0.485, 0.456, 0.406)
    assert main(["summary", str(path)]) == 0
    assert ("normalise with mean (0.485, 0.456, 0.406) and std (0.229, 0.224, 0.225)"
            in capsys.readouterr().out)
