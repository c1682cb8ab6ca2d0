"""Normalisation inside an ONNX graph, moved into the input contract (no Qt; ``onnx`` on use).

Many exported classifiers start with the normalisation of their input: PyTorch modules that
do ``(x - mean) / std`` in ``forward``, Keras's ``Rescaling`` and ``Normalization`` layers.
In the graph that is a chain of ``Sub``, ``Div``, ``Mul`` and ``Add`` nodes, each with a
constant of one value per channel (or one for all), on the graph's input, or right after the
``Transpose`` from NHWC to NCHW that Keras converters put there. cnnviz's networks have no
such layer: the normalisation is the last step of the input contract (``(x - mean) / std`` per
channel, :mod:`cnnviz.nn.contract`). So :func:`take_input_affine` takes the chain out of the
graph before it is converted (its consumers then read the input directly) and
:meth:`InputAffine.contract` puts it into the contract: the chain computes ``a * x + b`` per
channel, which is ``(x - mean) / std`` with ``std = 1 / a`` and ``mean = -b / a``, composed
with the normalisation the contract had (``(x - m0) / s0`` then ``a * . + b`` is
``(x - (m0 - b s0 / a)) / (s0 / a)``). The network then takes exactly what the rest of the
graph took, so zero padding and everything after stay as they were; the views show the
normalised input, as for cnnviz's own normalised networks.

The chain is checked like the rest of the import (:meth:`InputAffine.verify`): onnx's
reference evaluator runs the nodes taken out, as they were in the file, on random inputs, and
their output must be ``a * x + b``; the rest of the graph is checked by the importer's own
self-check. A chain that no contract can hold (a negative or zero scale, values beyond the
contract's bounds) is refused with the node named.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .contract import ContractError, InputContract, changed_contract
from .layers import show_value

_OPS = ("Sub", "Div", "Mul", "Add")
_FLOAT_TYPES = {1: np.float32, 10: np.float16, 11: np.float64}
#: Largest constant read for one step (a per-channel vector is a handful of values).
MAX_CONSTANT_VALUES = 4096
#: Tolerance of :meth:`InputAffine.verify`, relative to the largest output.
VERIFY_RTOL = 1e-5


def _fail(path, message):
    from .io import clean_text
    from .onnx_io import OnnxImportError

    raise OnnxImportError(f"{clean_text(Path(path).name, 200)}: {message}")


def _node_text(node) -> str:
    from .io import clean_text

    name = node.name or (node.output[0] if len(node.output) else "")
    return f"node {show_value(name, 60)} ({clean_text(node.op_type, 40) or '?'})"


@dataclass
class InputAffine:
    """The per-channel ``a * x + b`` a graph's leading Sub/Div/Mul/Add nodes computed, and
    those nodes (as they were in the file, for :meth:`verify`)."""

    scale: np.ndarray            # a, float64 (C,)
    shift: np.ndarray            # b, float64 (C,)
    layout: str                  # "nchw", or "nhwc" when the chain is before the Transpose
    input_name: str
    input_dims: tuple            # the graph input's declared sizes (without the batch)
    nodes: list = field(default_factory=list)        # the nodes taken out, in order
    constants: list = field(default_factory=list)    # their constant operands (TensorProto)

    def contract(self, contract: InputContract, path) -> InputContract:
        """``contract`` with the chain composed into its normalisation; refuses (naming the
        first node) what a contract cannot hold."""
        m0, s0 = np.asarray(contract.mean, np.float64), np.asarray(contract.std, np.float64)
        std = s0 / self.scale
        mean = m0 - self.shift * s0 / self.scale
        # As the shortest decimals of float32 (0.485, not 0.48500001430511475): the graph's
        # constants are float32.
        short = lambda values: tuple(float(str(np.float32(v))) for v in values)  # noqa: E731
        try:
            return changed_contract(contract, mean=short(mean), std=short(std))
        except ContractError as exc:
            _fail(path, f"{_node_text(self.nodes[0])} and the {len(self.nodes) - 1} after it "
                        f"normalise the input in a way cnnviz cannot show as its input's "
                        f"normalisation: {exc}")

    def apply(self, x: np.ndarray) -> np.ndarray:
        """``a * x + b`` per channel of a batch (N, C, H, W) in NCHW order."""
        shape = (1, -1, 1, 1)
        return x * self.scale.reshape(shape) + self.shift.reshape(shape)

    def verify(self, path, seed: int = 0) -> float:
        """Run the nodes taken out with onnx's reference evaluator on random inputs in [0, 1)
        and compare with :meth:`apply`; fails beyond float32 tolerance. Returns the largest
        difference relative to the largest value."""
        from onnx import TensorProto, helper

        from .onnx_io import reference_evaluator

        rng = np.random.default_rng(seed)
        dims = self.input_dims
        x = rng.random((1, *dims), dtype=np.float32)
        last = self.nodes[-1].output[0]
        graph = helper.make_graph(
            list(self.nodes), "input-normalisation",
            [helper.make_tensor_value_info(self.input_name, TensorProto.FLOAT, [1, *dims])],
            [helper.make_tensor_value_info(last, TensorProto.FLOAT, None)],
            list(self.constants))
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
        model.ir_version = 8
        try:
            reference = np.asarray(reference_evaluator(model).run(None, {self.input_name: x})[0],
                                   dtype=np.float64)
        except Exception as exc:  # noqa: BLE001 - the file's nodes
            _fail(path, f"the check of the input's normalisation failed ({type(exc).__name__})")
        nchw = x.transpose(0, 3, 1, 2) if self.layout == "nhwc" else x
        ours = self.apply(nchw.astype(np.float64))
        if self.layout == "nhwc":
            ours = ours.transpose(0, 2, 3, 1)
        scale = max(float(np.abs(reference).max()), 1.0)
        difference = float(np.abs(reference - ours).max()) / scale \
            if reference.shape == ours.shape else math.inf
        if not difference <= VERIFY_RTOL:
            _fail(path, f"the check of the input's normalisation failed: "
                        f"{_node_text(self.nodes[0])} "
                        f"and the nodes after it differ from a per-channel scale and shift")
        return difference


def take_input_affine(proto, path) -> InputAffine | None:
    """Take the graph's leading per-channel affine chain (Sub/Div/Mul/Add with constants) out
    of ``proto``'s graph, in place; its consumers then read what the chain read (the input, or
    the NHWC-to-NCHW Transpose). None, and the graph unchanged, when it has none (or one this
    does not recognise: the importer then refuses its first node as before)."""
    graph = proto.graph
    initializers = {t.name: t for t in graph.initializer}
    inputs = [v for v in graph.input if v.name not in initializers]
    if len(inputs) != 1:
        return None
    value = inputs[0]
    dims = _dims(value)
    if dims is None or len(dims) != 3:
        return None
    constants = {}
    consumers: dict[str, list] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
        if node.op_type == "Constant" and len(node.output) == 1:
            constants[node.output[0]] = node
    outputs = {v.name for v in graph.output}

    first = consumers.get(value.name, [])
    if len(first) != 1:
        return None
    if first[0].op_type == "Transpose" and _perm(first[0]) == [0, 3, 1, 2]:
        # NHWC data made NCHW, then normalised: the chain reads the Transpose's output.
        start, start_dims = first[0].output[0], (dims[2], dims[0], dims[1])
        layout, channel_axis, channels = "nchw", 1, dims[2]
    elif first[0].op_type in _OPS:
        start, start_dims = value.name, dims
        end, seen = first[0], {id(first[0])}
        while len(end.output) == 1 and len(consumers.get(end.output[0], [])) == 1 and \
                consumers[end.output[0]][0].op_type in _OPS and \
                id(consumers[end.output[0]][0]) not in seen:  # (a cycle: the walk refuses it)
            end = consumers[end.output[0]][0]
            seen.add(id(end))
        after = consumers.get(end.output[0], [])
        if after and all(n.op_type == "Transpose" and _perm(n) == [0, 3, 1, 2] for n in after):
            layout, channel_axis, channels = "nhwc", 3, dims[2]  # normalised before the Transpose
        else:
            layout, channel_axis, channels = "nchw", 1, dims[0]
    else:
        return None

    scale = np.ones(channels)
    shift = np.zeros(channels)
    taken, used = [], []  # the nodes, and (name, TensorProto) of their constant operands
    current = start
    while True:
        following = consumers.get(current, [])
        if len(following) != 1 or following[0].op_type not in _OPS or current in outputs:
            break
        node = following[0]
        if any(node is n for n in taken) or len(node.input) != 2 or len(node.output) != 1 \
                or node.domain not in ("", "ai.onnx"):
            break
        data_first = node.input[0] == current
        other = node.input[1] if data_first else node.input[0]
        if other == current:
            break
        tensor = initializers.get(other)
        if tensor is None and other in constants:
            tensor = _constant_tensor(constants[other])
        if tensor is None:
            break
        values = _per_channel(tensor, channel_axis, channels)
        if values is None:
            break
        op = node.op_type
        if op == "Sub" and not data_first:   # c - x
            a, b = -np.ones(channels), values
        elif op == "Sub":
            a, b = np.ones(channels), -values
        elif op == "Add":
            a, b = np.ones(channels), values
        elif op == "Mul":
            a, b = values, np.zeros(channels)
        elif data_first:                      # x / c
            if np.any(values == 0):
                _fail(path, f"{_node_text(node)} divides the input by 0")
            a, b = 1.0 / values, np.zeros(channels)
        else:                                 # c / x: not an affine map
            break
        scale, shift = a * scale, a * shift + b
        taken.append(node)
        used.append((other, tensor))
        current = node.output[0]
    if not taken:
        return None
    if np.any(scale <= 0) or not np.all(np.isfinite(scale)) or not np.all(np.isfinite(shift)):
        _fail(path, f"{_node_text(taken[0])} and the {len(taken) - 1} after it scale the input "
                    f"by {show_value([float(v) for v in scale])}; cnnviz normalises an input "
                    f"with a positive standard deviation only")
    # Out of the graph: whatever read the chain's end reads its start.
    end, ids = current, {id(n) for n in taken}
    kept = [n for n in graph.node if id(n) not in ids]
    for node in kept:
        for i, name in enumerate(node.input):
            if name == end:
                node.input[i] = start
    removed = [type(n)() for n in taken]
    for copy, node in zip(removed, taken):
        copy.CopyFrom(node)
    # Constant nodes that only the chain read go with it.
    only_chain = {name for name, node in constants.items()
                  if consumers.get(name) and all(id(c) in ids for c in consumers[name])
                  and name not in outputs}
    kept = [n for n in kept if not (n.op_type == "Constant" and n.output[0] in only_chain)]
    copies = [type(n)() for n in kept]
    for copy, node in zip(copies, kept):
        copy.CopyFrom(node)
    del graph.node[:]
    graph.node.extend(copies)
    from onnx import numpy_helper

    operands = [numpy_helper.from_array(np.asarray(numpy_helper.to_array(tensor)), name)
                for name, tensor in dict(used).items()]
    return InputAffine(scale, shift, layout, start, tuple(start_dims), removed, operands)


def _dims(value):
    """The graph input's sizes without the batch, or None when they are not all known."""
    if value.type.WhichOneof("value") != "tensor_type":
        return None
    shape = value.type.tensor_type.shape
    sizes = [d.dim_value if d.WhichOneof("value") == "dim_value" else None for d in shape.dim]
    if len(sizes) < 2 or any(s is None or s <= 0 for s in sizes[1:]):
        return None
    return tuple(sizes[1:])


def _perm(node):
    for attr in node.attribute:
        if attr.name == "perm":
            return list(attr.ints)
    return None


def _constant_tensor(node):
    """The TensorProto a Constant node makes (float ``value``, ``value_float`` or
    ``value_floats``), or None."""
    from onnx import helper

    for attr in node.attribute:
        if attr.name == "value" and attr.type == 4:
            return attr.t
        if attr.name == "value_float" and attr.type == 1:
            return helper.make_tensor(node.output[0], 1, [], [attr.f])
        if attr.name == "value_floats" and attr.type == 6 \
                and len(attr.floats) <= MAX_CONSTANT_VALUES:
            return helper.make_tensor(node.output[0], 1, [len(attr.floats)], list(attr.floats))
    return None


def _per_channel(tensor, channel_axis: int, channels: int):
    """The constant as one float64 value per channel, when it broadcasts against (N, C, H, W)
    (``channel_axis`` 1) or (N, H, W, C) (3) as one value per channel or one for all; else
    None."""
    from onnx import numpy_helper

    if tensor.data_type not in _FLOAT_TYPES or tensor.data_location == 1:  # external data
        return None
    dims = list(tensor.dims)
    if len(dims) > 4 or math.prod(dims) > MAX_CONSTANT_VALUES:
        return None
    try:
        array = np.asarray(numpy_helper.to_array(tensor), dtype=np.float64)
    except Exception:  # noqa: BLE001 - a malformed constant: the importer says what is wrong
        return None
    if array.size != math.prod(dims):
        return None
    padded = [1] * (4 - len(dims)) + dims
    if any(size != 1 for axis, size in enumerate(padded) if axis != channel_axis):
        return None
    if padded[channel_axis] not in (1, channels):
        return None
    values = np.broadcast_to(array.reshape(-1), (channels,)).astype(np.float64)
    return values if np.all(np.isfinite(values)) else None
