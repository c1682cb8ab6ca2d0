"""Damaged .onnx files (flipped bytes, truncations, repeated pieces) give clear errors only:
every outcome is a network or a ModelFileError, never another exception or a hang."""

import time

import numpy as np
import pytest

pytest.importorskip("onnx")

from cnnviz.nn import (BatchNorm, Conv2D, Dense, Flatten, GlobalAvgPool2D,  # noqa: E402
                       MaxPool2D, ModelFileError, ReLU, Sequential, load_network)
from cnnviz.nn.onnx_export import to_onnx  # noqa: E402

CASES = 300


def small_file() -> bytes:
    net = Sequential([Conv2D(out_channels=2, kernel_size=3, padding="same"), BatchNorm(), ReLU(),
                      MaxPool2D(2), GlobalAvgPool2D(), Flatten(), Dense(out_features=3)],
                     (1, 6, 6), seed=0)
    return to_onnx(net).SerializeToString()


def chain_file() -> bytes:
    """PyTorch's way to flatten (Shape, Gather, Unsqueeze, Concat, Reshape), a Pad, a Dropout,
    MatMul and Add: the symbolic side of the importer."""
    from onnx import helper
    from onnx_graphs import model, tensor, weights

    rng = np.random.default_rng(0)
    inits = [tensor("w", weights(rng, 3, 2, 3, 3)), tensor("w2", weights(rng, 3 * 4 * 4, 5)),
             tensor("b2", weights(rng, 5)), tensor("minus1", np.array([-1], np.int64)),
             tensor("zero", np.array(0, np.int64)), tensor("axes", np.array([0], np.int64)),
             tensor("pads", np.array([0, 0, 1, 1, 0, 0, 1, 1], np.int64)),
             tensor("ratio", np.array(0.4, np.float32))]
    nodes = [helper.make_node("Pad", ["x", "pads"], ["pd"]),
             helper.make_node("Conv", ["pd", "w"], ["c"], strides=[2, 2]),
             helper.make_node("Relu", ["c"], ["r"]),
             helper.make_node("Dropout", ["r", "ratio"], ["d"]),
             helper.make_node("Shape", ["d"], ["s"]),
             helper.make_node("Gather", ["s", "zero"], ["n"], axis=0),
             helper.make_node("Unsqueeze", ["n", "axes"], ["n1"]),
             helper.make_node("Concat", ["n1", "minus1"], ["target"], axis=0),
             helper.make_node("Reshape", ["d", "target"], ["f"]),
             helper.make_node("MatMul", ["f", "w2"], ["m"]),
             helper.make_node("Add", ["m", "b2"], ["y"])]
    return model(nodes, (2, 8, 8), initializers=inits, opset=13).SerializeToString()


def mutations(data: bytes, rng):
    for _ in range(CASES):
        kind = rng.integers(4)
        buf = bytearray(data)
        if kind == 0:  # flip a few bits
            for _ in range(rng.integers(1, 4)):
                buf[rng.integers(len(buf))] ^= 1 << int(rng.integers(8))
        elif kind == 1:  # truncate
            del buf[rng.integers(len(buf)):]
        elif kind == 2:  # overwrite a byte with a boundary value
            buf[rng.integers(len(buf))] = int(rng.choice([0, 1, 0x7F, 0x80, 0xFF]))
        else:  # repeat a piece
            start = int(rng.integers(len(buf)))
            piece = buf[start:start + int(rng.integers(1, 40))]
            buf[start:start] = piece
        yield bytes(buf)


@pytest.mark.parametrize("base", [small_file, chain_file], ids=["layers", "chain"])
def test_damaged_files_give_clear_errors_only(tmp_path, base):
    data = base()
    load_network_bytes = tmp_path / "net.onnx"
    load_network_bytes.write_bytes(data)
    load_network(load_network_bytes)  # the undamaged file opens
    path = tmp_path / "net.onnx"
    rng = np.random.default_rng(20)
    outcomes = {"opened": 0, "refused": 0}
    started = time.monotonic()
    for damaged in mutations(data, rng):
        path.write_bytes(damaged)
        try:
            load_network(path)
        except ModelFileError as exc:
            message = str(exc)
            assert message.startswith("net.onnx: ") and "\n" not in message, message
            outcomes["refused"] += 1
        else:
            outcomes["opened"] += 1
    assert outcomes["refused"] > CASES // 3, outcomes  # most damage is seen
    assert time.monotonic() - started < 30
