"""Writing ONNX: the file passes onnx.checker, opens again to the same network and contract,
and onnx's ReferenceEvaluator computes the same outputs."""

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")

from cnnviz.cli import main  # noqa: E402
from cnnviz.nn import (AvgPool2D, Conv2D, Dense, Dropout, Flatten, InputContract,  # noqa: E402
                       LeakyReLU, MaxPool2D, ModelError, Sequential, Sigmoid, Softmax, Softplus,
                       Tanh, build_preset, load_network, save_model)
from cnnviz.nn.layers import LRN  # noqa: E402
from cnnviz.nn.onnx_export import save_onnx  # noqa: E402
from cnnviz.nn.onnx_io import reference_evaluator  # noqa: E402


def every_layer_network():
    layers = [Conv2D(out_channels=4, kernel_size=3, padding="same"), LeakyReLU(0.2),
              MaxPool2D(3, 2, padding=[1, 0, 1, 0]),
              Conv2D(out_channels=5, kernel_size=(3, 2), stride=(1, 2), dilation=(2, 1),
                     padding=[2, 1, 0, 1], use_bias=False), Tanh(),
              AvgPool2D(3, 1, padding=1, count_include_pad=True), Softplus(),
              AvgPool2D(2, 2, padding=1), Sigmoid(), LRN(3, 0.01, 0.5, 2.0), Flatten(),
              Dropout(0.3),
              Dense(out_features=9), Tanh(), Dense(out_features=4, use_bias=False), Softmax()]
    return Sequential(layers, (3, 13, 15), seed=3, name="every layer")


def same_network(a, b):
    """The same layers and settings; a padding may come back as other words for the same pads
    (ONNX stores numbers: 1 around a 3x3 window of stride 1 is read as "same")."""
    def settings(net):
        return [{k: v for k, v in spec.items() if k != "padding"} for spec in net.config()["layers"]]

    pads = [getattr(layer, "pad", None) for layer in a.layers]
    return (settings(a) == settings(b) and pads == [getattr(layer, "pad", None) for layer in b.layers]
            and a.input_shape == b.input_shape and a.name == b.name)


@pytest.mark.parametrize("which", ["every", "lenet5", "vgg-small", "mlp"])
def test_round_trip(tmp_path, which):
    net = every_layer_network() if which == "every" else build_preset(which, seed=1)
    contract = None
    if which == "every":
        contract = InputContract((3, 13, 15), ("a", "b", "c", "d"), pipeline="image", fit="pad",
                                 mean=(0.1, 0.2, 0.3), std=(0.5, 0.5, 0.5))
    path = save_onnx(net, tmp_path / "net.onnx", contract, metadata={"accuracy": 0.5})
    onnx.checker.check_model(str(path), full_check=True)
    back = load_network(path)
    assert same_network(back.model, net)
    assert back.metadata["accuracy"] == 0.5
    if contract is not None:
        assert back.contract == contract
    for name, value in net.named_params().items():
        np.testing.assert_array_equal(back.model.named_params()[name], value)
    x = np.random.default_rng(0).random((3, *net.input_shape), dtype=np.float32)
    want = net.forward(x)
    np.testing.assert_array_equal(back.model.forward(x), want)
    got = reference_evaluator(str(path)).run(None, {"input": x})[0]
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    # saving again as .npz keeps the contract
    save_model(back.model, tmp_path / "again.npz", contract=back.contract)
    assert load_network(tmp_path / "again.npz").contract == back.contract


def test_save_model_writes_onnx_by_the_name_and_atomically(tmp_path):
    net = build_preset("tiny", seed=0)
    path = tmp_path / "tiny.ONNX"
    save_model(net, path)
    onnx.checker.check_model(str(path))
    assert same_network(load_network(path).model, net)
    # a failing save leaves the old file as it was, and no temporary file behind
    before = path.read_bytes()
    bad = InputContract((1, 28, 28), ("x",) * 1, pipeline="digits")
    with pytest.raises(ModelError):
        save_model(net, path, contract=bad)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tiny.ONNX"]


def test_export_command(tmp_path, capsys):
    out = tmp_path / "lenet5.onnx"
    assert main(["export", "lenet5", str(out)]) == 0
    assert "61,706 parameters" in capsys.readouterr().err
    onnx.checker.check_model(str(out))
    assert main(["export", str(out), str(tmp_path / "back.npz")]) == 0
    assert load_network(tmp_path / "back.npz").model.config() == build_preset("lenet5").config()
    assert main(["summary", str(out)]) == 0
    assert "input: 1x28x28" in capsys.readouterr().out
    assert main(["export", "lenet5", str(tmp_path / "x.txt")]) == 2
    assert "must end in .onnx or .npz" in capsys.readouterr().err
    assert main(["export", str(tmp_path / "missing.onnx"), str(out)]) == 2
    assert "no such file" in capsys.readouterr().err


def test_a_vgg16_sized_dense_layer_saves_and_opens_in_both_formats(tmp_path):
    """Model-file limits fit VGG-16 (its first dense layer alone is 411 MB): a parameter over
    the old 64 MiB per entry opens from .npz and from .onnx."""
    net = Sequential([Dense(out_features=4500)], (4000,), seed=0, name="wide")
    assert net.layers[0].params["weight"].nbytes > 64 * 2**20
    for name in ("wide.npz", "wide.onnx"):
        save_model(net, tmp_path / name)
        back = load_network(tmp_path / name).model
        np.testing.assert_array_equal(back.layers[0].params["weight"],
                                      net.layers[0].params["weight"])


def test_export_command_changes_the_contract(tmp_path, capsys):
    source = tmp_path / "cifar.onnx"
    assert main(["export", "cifar-tutorial", str(source)]) == 0
    names = tmp_path / "names.txt"
    names.write_text("\n".join(f"class {i}" for i in range(10)) + "\n", encoding="utf-8")
    out = tmp_path / "named.npz"
    assert main(["export", str(source), str(out), "--classes", f"@{names}", "--fit", "pad",
                 "--mean", "0.5,0.4,0.3", "--std", "0.2,0.2,0.25"]) == 0
    contract = load_network(out).contract
    assert contract.classes[9] == "class 9" and contract.fit == "pad"
    assert contract.mean == (0.5, 0.4, 0.3) and contract.std == (0.2, 0.2, 0.25)
    capsys.readouterr()
    assert main(["export", str(source), str(out), "--classes", "a,b"]) == 2
    assert "2 class names for the network's 10 outputs" in capsys.readouterr().err
    assert main(["export", str(source), str(out), "--pipeline", "digits"]) == 2
    assert "digits pipeline makes one square channel" in capsys.readouterr().err
    assert main(["export", str(source), str(out), "--std", "x"]) == 2
    assert "--std: 'x' is not a number" in capsys.readouterr().err


@pytest.mark.parametrize("which", ["every", "vgg-small"])
def test_exported_files_run_in_onnxruntime(tmp_path, which):
    """A second, independent runtime (where installed: a test extra, not a dependency)."""
    ort = pytest.importorskip("onnxruntime")
    net = every_layer_network() if which == "every" else build_preset(which, seed=2)
    path = save_onnx(net, tmp_path / "net.onnx")
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    x = np.random.default_rng(1).random((4, *net.input_shape), dtype=np.float32)
    np.testing.assert_allclose(session.run(None, {"input": x})[0], net.forward(x),
                               rtol=1e-5, atol=1e-6)


def test_the_session_opens_an_onnx_file(tmp_path):
    """The window opens networks through cnnviz.session, which reads .onnx like .npz."""
    from cnnviz.session import NetworkEntry

    path = save_onnx(build_preset("cifar-tutorial", seed=0), tmp_path / "cifar.onnx")
    entry = NetworkEntry.open(path)
    assert entry.name == "cifar.onnx" and entry.contract.shape == (3, 32, 32)
    assert len(entry.classes) == 10 and not entry.read_only


def batch_norm_network():
    from cnnviz.nn import BatchNorm, GlobalAvgPool2D, ReLU

    net = Sequential([Conv2D(out_channels=4, kernel_size=3, use_bias=False), BatchNorm(eps=1e-3),
                      ReLU(), GlobalAvgPool2D(), Flatten(), Dense(out_features=6),
                      BatchNorm(momentum=0.3), Dense(out_features=3)], (2, 9, 11), seed=4,
                     name="bn")
    rng = np.random.default_rng(1)
    net.forward(rng.random((16, 2, 9, 11), dtype=np.float32), training=True)  # moved statistics
    for layer in (net.layers[1], net.layers[6]):
        layer.params["gamma"] = rng.uniform(0.5, 2, layer.num_features).astype(np.float32)
        layer.params["beta"] = rng.standard_normal(layer.num_features).astype(np.float32)
    return net


def test_batch_norm_and_global_pooling_round_trip(tmp_path):
    """BatchNormalization with the running statistics, epsilon and momentum (ONNX's is
    1 - PyTorch's); GlobalAveragePool; the same outputs under onnx's reference, onnxruntime and
    PyTorch (the file read back with onnx2torch-free means: our own layer-by-layer torch net)."""
    net = batch_norm_network()
    path = save_onnx(net, tmp_path / "bn.onnx")
    onnx.checker.check_model(str(path), full_check=True)
    proto = onnx.load(str(path))
    ops = [node.op_type for node in proto.graph.node]
    assert ops.count("BatchNormalization") == 2 and "GlobalAveragePool" in ops
    momentum = next(a.f for n in proto.graph.node if n.op_type == "BatchNormalization"
                    for a in n.attribute if a.name == "momentum")
    assert momentum == pytest.approx(0.9)
    back = load_network(path)
    assert same_network(back.model, net)
    for name, value in net.named_weights().items():
        np.testing.assert_array_equal(back.model.named_weights()[name], value, err_msg=name)
    x = np.random.default_rng(0).random((3, *net.input_shape), dtype=np.float32)
    want = net.forward(x)
    np.testing.assert_array_equal(back.model.forward(x), want)
    np.testing.assert_allclose(reference_evaluator(str(path)).run(None, {"input": x})[0], want,
                               rtol=1e-5, atol=1e-6)
    ort = pytest.importorskip("onnxruntime")
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    np.testing.assert_allclose(session.run(None, {"input": x})[0], want, rtol=1e-5, atol=1e-5)


def test_batch_norm_export_matches_pytorch_eval_mode():
    torch = pytest.importorskip("torch")
    net = batch_norm_network()
    conv, bn1, dense1, bn2, dense2 = (net.layers[i] for i in (0, 1, 5, 6, 7))
    ref = torch.nn.Sequential(
        torch.nn.Conv2d(2, 4, 3, bias=False), torch.nn.BatchNorm2d(4, eps=1e-3), torch.nn.ReLU(),
        torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(4, 6),
        torch.nn.BatchNorm1d(6, momentum=0.3), torch.nn.Linear(6, 3)).eval()
    with torch.no_grad():
        ref[0].weight.copy_(torch.tensor(conv.params["weight"]))
        for module, layer in ((ref[1], bn1), (ref[6], bn2)):
            module.weight.copy_(torch.tensor(layer.params["gamma"]))
            module.bias.copy_(torch.tensor(layer.params["beta"]))
            module.running_mean.copy_(torch.tensor(layer.state["running_mean"]))
            module.running_var.copy_(torch.tensor(layer.state["running_var"]))
        for module, layer in ((ref[5], dense1), (ref[7], dense2)):
            module.weight.copy_(torch.tensor(layer.params["weight"]))
            module.bias.copy_(torch.tensor(layer.params["bias"]))
    x = np.random.default_rng(2).random((4, 2, 9, 11), dtype=np.float32)
    np.testing.assert_allclose(net.forward(x), ref(torch.tensor(x)).detach().numpy(), rtol=1e-5,
                               atol=1e-6)
