"""Open ONNX files as cnnviz networks (no Qt here; the ``onnx`` package is imported on use).

An ONNX file is a graph of operators; cnnviz's networks are one chain of layers.  The importer
reads the graph with ``onnx``'s protobuf classes only (nothing in the file is executed), orders
the nodes itself (some converters write them out of order), and walks them, keeping track of
what each value is:

- a *constant*: an initializer, a ``Constant`` node or anything computed from them alone;
- a *shape*: a vector of sizes read from the data by ``Shape`` (the batch size unknown), which
  ``Gather``/``Unsqueeze``/``Squeeze``/``Concat``/``Cast`` may carry on to a ``Reshape``;
- an *activation*: the data flowing through the chain, after the layers made so far.

Each operator either becomes a layer (Conv, Gemm, MatMul, pooling, activations, Dropout,
Softmax, Flatten), or changes a layer just made (an Add of a constant after a Conv, Gemm or
MatMul is its bias; a BatchNormalization right after one is folded into its weights and bias),
or is folded away (Identity; a Reshape to (N, -1) is a Flatten; a Pad goes into the next
convolution or pooling; a Transpose from NHWC to NCHW at the input, and from NCHW to NHWC before
a flatten whose dense layer then reads its inputs in cnnviz's order).  Anything else is refused
with :class:`OnnxImportError`, which names the node, its operator and why.

The file is trusted no more than a ``.npz``: its size is checked before it is read (and against
this machine's memory), every tensor's declared size before it becomes an array, external data
must lie in the file's own folder, and the network's work and memory go through
:mod:`cnnviz.nn.budget` before any layer is built.  Then the import checks itself: the network's
output on a random input must match ``onnx.reference.ReferenceEvaluator`` running the original
graph (:func:`verify`).
"""

from __future__ import annotations

import heapq
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .budget import MEMORY_SHARE, BudgetError, estimate, machine_memory
from .contract import ContractError, InputContract, default_contract
from .errors import ModelError, ModelFileError
from .geometry import resolve_padding
from .layers import show_value
from .model import Sequential, layer_from_config

#: The largest .onnx file (protobuf itself stops at 2 GiB).  VGG-16 is 553 MB.
MAX_ONNX_BYTES = 2**31 - 1
#: Reading a file needs about three times its size at the peak (its bytes, the parsed message,
#: the arrays); that must fit in this share of the machine's memory.
READ_FACTOR = 3
MAX_NODES = 20_000
#: Most inputs or outputs of one node, values of one list attribute, and sizes in a shape vector
#: (no operator cnnviz reads needs more; a file declaring millions would cost time and memory).
MAX_NODE_INPUTS = 1024
MAX_LIST = 64
MAX_TENSOR_BYTES = 2**31
MAX_INPUT_SIDE = 4096
#: Largest input of an operator computed at import (shape arithmetic)...
MAX_FOLDED = 2**20
#: ... and largest output (ConstantOfShape/Expand may make weights: structure-only files such
#: as onnx's own test networks); all of them together must fit as the file's size does.
MAX_FOLDED_OUTPUT = 2**28
MAX_PARAM_MAGNITUDE = 1e5
#: Oldest opset read (the issue's range: PyTorch and Keras converters write 7 and newer).
MIN_OPSET = 7
#: Opset of the files cnnviz writes.
EXPORT_OPSET = 17
#: metadata_props keys of cnnviz's own files.
CONTRACT_KEY = "cnnviz.input"
METADATA_KEY = "cnnviz.metadata"
NAME_KEY = "cnnviz.name"
MAX_METADATA_BYTES = 2**20
#: The self-check runs one image instead of two beyond this many multiply-adds (VGG-16: 1.5e10;
#: the reference evaluator takes a few seconds per image of it).
VERIFY_ONE_IMAGE_MACS = 1e9
#: Tolerance of the self-check, relative to the largest output of the reference.
VERIFY_RTOL = 1e-3
#: A graph whose batch size is fixed beyond this is not checked (the reference would need
#: that many images).
MAX_VERIFY_BATCH = 16
VERIFY_ATOL = 1e-5

_FLOAT, _UINT8, _INT8, _INT32, _INT64, _BOOL, _FLOAT16, _DOUBLE = 1, 2, 3, 6, 7, 9, 10, 11
_DTYPES = {_FLOAT: np.float32, _UINT8: np.uint8, _INT8: np.int8, _INT32: np.int32,
           _INT64: np.int64, _BOOL: np.bool_, _FLOAT16: np.float16, _DOUBLE: np.float64}
_TYPE_NAMES = {0: "undefined", 1: "float", 2: "uint8", 3: "int8", 4: "uint16", 5: "int16",
               6: "int32", 7: "int64", 8: "string", 9: "bool", 10: "float16", 11: "double",
               12: "uint32", 13: "uint64", 14: "complex64", 15: "complex128", 16: "bfloat16"}


class OnnxImportError(ModelFileError):
    """An ONNX file that cannot become a cnnviz network (what and where in the message)."""


def _fail(path, message):
    from .io import clean_text

    raise OnnxImportError(f"{clean_text(Path(path).name, 200)}: {message}")


def _node_text(node) -> str:
    from .io import clean_text

    name = node.name or (node.output[0] if len(node.output) else "")
    return f"node {show_value(name, 60)} ({clean_text(node.op_type, 40) or '?'})"


class _Refused(Exception):
    """Raised inside the walk; becomes OnnxImportError with the file's name."""


# ----------------------------------------------------------------------- values of the walk
class _N:
    """The batch size in a shape vector (unknown at import)."""

    def __repr__(self):
        return "N"


N = _N()


@dataclass
class Sym:
    """A vector (or scalar) of sizes, some of which may be the batch size ``N``."""

    items: tuple
    scalar: bool = False


@dataclass
class Act:
    """The data after ``pos`` layers.

    ``shape`` is the ONNX shape without the batch axis; ``layout`` says how it relates to the
    engine's data: ``"nchw"`` (the same), ``"nhwc"`` (ONNX holds (H, W, C) where the engine has
    (C, H, W)) or ``"perm"`` (a flat vector whose element ``j`` is the engine's ``perm[j]``...
    see :attr:`perm`).
    """

    shape: tuple
    pos: int
    layout: str = "nchw"
    perm: np.ndarray | None = None
    pad: tuple | None = None         # (top, bottom, left, right, value) of a Pad to fold
    fresh: bool = False              # the direct output of the last Conv/Dense (bias, BN fold)
    taken: bool = False


@dataclass
class _Spec:
    """A layer being made: its settings, weights, and the node it came from."""

    config: dict
    node: str
    weight: np.ndarray | None = None
    bias: np.ndarray | None = None


@dataclass
class Converted:
    """What :func:`convert` makes of a graph."""

    model: Sequential
    input_name: str
    input_layout: str            # "nchw" or "nhwc" (the graph's input before its Transpose)
    batch: object                # N, or the fixed batch size of the graph's input
    notes: list = field(default_factory=list)
    output_exp: bool = False     # the graph's output is the log of the network's


# ----------------------------------------------------------------------- reading the file
def load_onnx(path, verify: bool = True):
    """Read an ``.onnx`` file as a :class:`cnnviz.nn.io.NetworkFile`.

    Parameters
    ----------
    verify : bool
        Compare the network with ``onnx.reference.ReferenceEvaluator`` on a random input
        (:func:`verify`); a difference beyond float32 tolerance is an error.

    Raises
    ------
    ModelFileError
        (:class:`OnnxImportError`) naming the file and what is wrong; for an operator that
        cannot be represented, the node, its operator and why.
    """
    from .io import NetworkFile, clean_text

    from .onnx_input_affine import take_input_affine

    path = Path(path)
    proto = read_proto(path)
    affine = take_input_affine(proto, path)  # leading Sub/Div/Mul/Add: the contract's mean, std
    converted = convert(proto, path)
    model = converted.model
    meta = _metadata_props(proto, path)
    name = meta.get(NAME_KEY)
    if isinstance(name, str) and clean_text(name):
        model.name = clean_text(name)
    else:
        model.name = clean_text(path.stem) or "network"
    contract = _contract(meta, model, path)
    if affine is not None:
        contract = affine.contract(contract, path)
    metadata = _metadata(meta, path)
    metadata.setdefault("source", {"format": "onnx", "producer": clean_text(proto.producer_name, 60),
                                   "opset": _opset(proto, path)})
    if verify:
        verify_import(proto, converted, path)
        if affine is not None:
            affine.verify(path)
    return NetworkFile(model, metadata, contract)


def read_proto(path: Path):
    """The file's ModelProto, with external data read in (from the file's own folder only)."""
    from google.protobuf.message import DecodeError
    import onnx

    from .io import _open_regular_file

    with _open_regular_file(path) as handle:
        size = os.fstat(handle.fileno()).st_size
        _check_size(path, size, "the file")
        data = handle.read(size + 1)
    if len(data) != size:
        _fail(path, "the file changed while it was read")
    if not data:
        _fail(path, "the file is empty")
    proto = onnx.ModelProto()
    try:
        proto.ParseFromString(data)
    except (DecodeError, RuntimeError, ValueError, RecursionError, MemoryError) as exc:
        from .io import clean_text

        detail = clean_text(str(exc).splitlines()[0] if str(exc) else type(exc).__name__, 80)
        _fail(path, f"not an ONNX file, or a damaged one (its protobuf data cannot be read: "
                    f"{detail})")
    del data
    if not proto.HasField("graph"):
        _fail(path, "not an ONNX model (it has no graph)")
    _check_text(proto, path)
    _read_external_data(proto, path)
    return proto


def _check_text(proto, path) -> None:
    """Refuse names that are not valid UTF-8 (protobuf hands them over as bytes)."""
    graph = proto.graph

    def texts():
        yield graph.name
        for value in (*graph.input, *graph.output, *graph.value_info):
            yield value.name
            if value.type.HasField("tensor_type"):
                for dim in value.type.tensor_type.shape.dim:
                    yield dim.dim_param
        for tensor in (*graph.initializer, *_all_tensors(graph)):
            yield tensor.name
            for entry in tensor.external_data:
                yield entry.key
                yield entry.value
        for node in graph.node:
            yield from (node.name, node.op_type, node.domain, *node.input, *node.output)
            for attr in node.attribute:
                yield attr.name
                yield attr.ref_attr_name
        for entry in (*proto.metadata_props, *proto.opset_import):
            yield from ((entry.key, entry.value) if hasattr(entry, "key") else (entry.domain,))
        yield proto.producer_name

    if not all(isinstance(text, str) for text in texts()):
        _fail(path, "a name or text in the file is not valid UTF-8: the file is damaged")


def _check_size(path, size: int, what: str) -> None:
    if size > MAX_ONNX_BYTES:
        _fail(path, f"{what} is too large ({size:,} bytes; ONNX files end at 2 GiB)")
    memory = machine_memory()
    if memory is not None and READ_FACTOR * size > MEMORY_SHARE * memory:
        _fail(path, f"{what} is too large for this machine ({size / 2**30:.1f} GiB; reading it "
                    f"needs about {READ_FACTOR} times that, and cnnviz uses at most "
                    f"{MEMORY_SHARE:.0%} of the {memory / 2**30:.0f} GiB of memory)")


def _read_external_data(proto, path: Path) -> None:
    """Read every tensor stored outside the file into the message, refusing locations outside
    the file's folder, files that are not regular, and ranges beyond the end of the file."""
    from .io import _open_regular_file, clean_text

    folder = path.resolve().parent
    total = 0
    for tensor in _all_tensors(proto.graph):
        if tensor.data_location != 1:  # EXTERNAL
            continue
        where = f"tensor {show_value(tensor.name, 60)}"
        info = {}
        for entry in tensor.external_data:
            info[entry.key] = entry.value
        location = info.get("location", "")
        parts = Path(location).parts
        if (not location or Path(location).is_absolute() or ".." in parts or "\\" in location
                or ":" in location or "\x00" in location):
            _fail(path, f"{where} keeps its data in {show_value(location, 60)}, outside the "
                        f"file's folder (cnnviz reads external data only from the same folder)")
        target = folder / location
        try:
            real = target.resolve(strict=True)
        except (OSError, RuntimeError):
            _fail(path, f"{where}: its data file {show_value(location, 60)} is missing")
        if folder not in real.parents:
            _fail(path, f"{where} keeps its data in {show_value(location, 60)}, which leads "
                        f"outside the file's folder")
        try:
            offset = int(info.get("offset", "0"))
            length = int(info["length"]) if "length" in info else None
        except ValueError:
            _fail(path, f"{where}: its external data has an invalid offset or length")
        dtype = _DTYPES.get(tensor.data_type)
        if dtype is None:
            _fail(path, f"{where} has type {_TYPE_NAMES.get(tensor.data_type, 'unknown')}, "
                        f"which cnnviz does not read")
        want = _declared_count(tensor, path) * np.dtype(dtype).itemsize
        if length is not None and length != want:
            _fail(path, f"{where}: its external data is {length:,} bytes, its shape needs "
                        f"{want:,}")
        total += want
        _check_size(path, total, "its external data")
        with _open_regular_file(real) as handle:
            size = os.fstat(handle.fileno()).st_size
            if offset < 0 or offset + want > size:
                _fail(path, f"{where}: its data runs past the end of "
                            f"{clean_text(location, 60)}")
            handle.seek(offset)
            raw = handle.read(want)
        if len(raw) != want:
            _fail(path, f"{where}: {clean_text(location, 60)} changed while it was read")
        tensor.raw_data = raw
        del tensor.external_data[:]
        tensor.data_location = 0


def _all_tensors(graph):
    yield from graph.initializer
    for node in graph.node:
        for attr in node.attribute:
            if attr.type == 4:  # TENSOR
                yield attr.t


def _declared_count(tensor, path) -> int:
    dims = list(tensor.dims)
    if len(dims) > 8:
        _fail(path, f"tensor {show_value(tensor.name, 60)} has {len(dims)} dimensions; no "
                    f"weight cnnviz reads has more than 4")
    if any(d < 0 for d in dims):
        _fail(path, f"tensor {show_value(tensor.name, 60)} declares a negative size")
    count = math.prod(dims)
    itemsize = np.dtype(_DTYPES.get(tensor.data_type, np.float32)).itemsize
    if count * itemsize > MAX_TENSOR_BYTES:
        _fail(path, f"tensor {show_value(tensor.name, 60)} declares a too large shape "
                    f"{show_value(dims, 60)}")
    return count


def tensor_array(tensor, path) -> np.ndarray:
    """A TensorProto as a numpy array, its declared size checked against its data first."""
    where = f"tensor {show_value(tensor.name, 60)}"
    dtype = _DTYPES.get(tensor.data_type)
    if dtype is None:
        _fail(path, f"{where} has type {_TYPE_NAMES.get(tensor.data_type, 'unknown')}, which "
                    f"cnnviz does not read")
    if tensor.data_location == 1:
        _fail(path, f"{where} keeps its data in another file that was not read")
    if tensor.HasField("segment"):
        _fail(path, f"{where} is split into segments, which cnnviz does not read")
    count = _declared_count(tensor, path)
    dims = tuple(tensor.dims)
    dtype = np.dtype(dtype).newbyteorder("<")
    if tensor.HasField("raw_data"):
        raw = tensor.raw_data
        if len(raw) != count * dtype.itemsize:
            _fail(path, f"{where} holds {len(raw):,} bytes, its shape {show_value(list(dims))} "
                        f"needs {count * dtype.itemsize:,}")
        # A read-only view of the message's bytes (no copy: VGG-16 holds 553 MB of them).
        return np.frombuffer(raw, dtype=dtype).reshape(dims).astype(dtype.newbyteorder("="),
                                                                    copy=False)
    if tensor.data_type == _FLOAT:
        values, fieldname = tensor.float_data, np.float32
    elif tensor.data_type == _DOUBLE:
        values, fieldname = tensor.double_data, np.float64
    elif tensor.data_type == _INT64:
        values, fieldname = tensor.int64_data, np.int64
    else:
        values, fieldname = tensor.int32_data, np.int32
    if len(values) != count:
        _fail(path, f"{where} holds {len(values):,} values, its shape {show_value(list(dims))} "
                    f"needs {count:,}")
    array = np.array(values, dtype=fieldname)
    if tensor.data_type == _FLOAT16:
        array = array.astype(np.uint16).view(np.float16)
    return array.astype(dtype.newbyteorder("=")).reshape(dims)


def _opset(proto, path) -> int:
    versions = [op.version for op in proto.opset_import if op.domain in ("", "ai.onnx")]
    if not versions:
        if proto.opset_import:
            _fail(path, "the file uses no standard ONNX operator set")
        return MIN_OPSET  # IR version 1-2 files list none
    return int(max(versions))


def _metadata_props(proto, path) -> dict:
    meta = {}
    for entry in proto.metadata_props:
        if entry.key in (CONTRACT_KEY, METADATA_KEY, NAME_KEY):
            if len(entry.value) > MAX_METADATA_BYTES:
                _fail(path, f"its metadata {entry.key!r} is too long")
            meta[entry.key] = entry.value
    return meta


def _parse_json(text: str, what: str, path):
    def reject(name):
        raise ValueError(f"{name} is not a number JSON allows")

    try:
        return json.loads(text, parse_constant=reject)
    except RecursionError:
        _fail(path, f"its {what} is not valid JSON (nested too deeply)")
    except ValueError as exc:
        from .io import clean_text

        _fail(path, f"its {what} is not valid JSON ({clean_text(str(exc).splitlines()[0], 80)})")


def _contract(meta, model, path) -> InputContract:
    if CONTRACT_KEY not in meta:
        return default_contract(model.input_shape, model.output_shape)
    value = _parse_json(meta[CONTRACT_KEY], "input description", path)
    try:
        contract = InputContract.from_dict(value)
        contract.check_network(model.input_shape, model.output_shape)
    except ContractError as exc:
        _fail(path, f"the input description (what the network takes) is wrong: {exc}")
    return contract


def _metadata(meta, path) -> dict:
    from .io import _without_surrogates

    if METADATA_KEY not in meta:
        return {}
    value = _parse_json(meta[METADATA_KEY], "metadata", path)
    if not isinstance(value, dict):
        _fail(path, "its metadata must be a JSON object")
    return _without_surrogates(value)


# ----------------------------------------------------------------------- the walk
def convert(proto, path) -> Converted:
    """The cnnviz network of an ONNX graph (weights included), or OnnxImportError."""
    opset = _opset(proto, path)
    import onnx.defs

    newest = onnx.defs.onnx_opset_version()
    if not MIN_OPSET <= opset <= newest:
        _fail(path, f"it uses ONNX operator set {opset}; cnnviz reads {MIN_OPSET} to {newest}")
    walker = _Walker(proto.graph, opset, path)
    try:
        with np.errstate(all="ignore"):  # NaN and overflow are checked where they matter
            return walker.run()
    except _Refused as exc:
        _fail(path, str(exc))


# The attribute types (AttributeProto.type) the operators cnnviz reads expect: 1 float,
# 2 int, 3 string, 4 tensor, 6 floats, 7 ints.
_ATTRIBUTE_TYPES = {
    **{name: (7,) for name in ("kernel_shape", "pads", "strides", "dilations", "perm", "axes")},
    **{name: (2,) for name in ("group", "ceil_mode", "count_include_pad", "transA", "transB",
                               "axis", "storage_order", "training_mode", "allowzero", "to",
                               "start", "end")},
    **{name: (1,) for name in ("alpha", "beta", "epsilon", "ratio", "momentum", "bias")},
    "size": (2,),
    **{name: (3,) for name in ("auto_pad", "mode")},
}


#: Inputs each operator must have (the rest are optional); 1 for the others, 0 for Constant.
_REQUIRED_INPUTS = {"Conv": 2, "Gemm": 2, "MatMul": 2, "Add": 2, "Sub": 2, "Mul": 2, "Div": 2,
                    "Gather": 2, "Reshape": 2, "BatchNormalization": 5, "Expand": 2,
                    "ConstantOfShape": 1, "Range": 3, "Where": 3, "Equal": 2, "Less": 2,
                    "Greater": 2, "Min": 1, "Max": 1, "Slice": 1}


def _short(value: float) -> float:
    """A float32 setting as the shortest decimal that is that float32 (0.2, not 0.2000000029)."""
    return float(str(np.float32(value)))


_ELEMENTWISE = {"Relu": "ReLU", "Sigmoid": "Sigmoid", "Tanh": "Tanh", "Softplus": "Softplus"}


class _Walker:
    def __init__(self, graph, opset, path):
        self.graph, self.opset, self.path = graph, opset, path
        self.values: dict[str, object] = {}
        self.specs: list[_Spec] = []
        self.notes: list[str] = []
        self.folded_bytes = 0
        self.output_exp = False  # the graph gives log-probabilities, the network probabilities

    # ------------------------------------------------------------------ set-up
    def run(self) -> Converted:
        graph = self.graph
        if len(graph.node) > MAX_NODES:
            raise _Refused(f"the graph has {len(graph.node):,} nodes, more than the "
                           f"{MAX_NODES:,} cnnviz reads")
        if graph.sparse_initializer:
            raise _Refused("the graph has sparse initializers, which cnnviz does not read")
        for tensor in graph.initializer:
            if tensor.name in self.values:
                raise _Refused(f"the initializer {show_value(tensor.name, 60)} appears twice")
            self.values[tensor.name] = tensor_array(tensor, self.path)
        inputs = [v for v in graph.input if v.name not in self.values]
        if len(inputs) != 1:
            names = ", ".join(show_value(v.name, 40) for v in inputs[:4])
            raise _Refused(f"the graph has {len(inputs)} inputs ({names or 'none'}); cnnviz "
                           f"networks take one image or vector")
        self.input_name = inputs[0].name
        dims = self._input_dims(inputs[0])
        nodes = self._ordered(graph)
        self.read = {name for node in nodes for name in node.input}
        self.read.update(value.name for value in graph.output)
        if [id(n) for n in nodes] != [id(n) for n in graph.node]:
            # The reference evaluator (the self-check) runs nodes in the file's order.
            ordered = [type(n)() for n in nodes]
            for copy, node in zip(ordered, nodes):
                copy.CopyFrom(node)
            del graph.node[:]
            graph.node.extend(ordered)
        consumers = [n for n in nodes if self.input_name in n.input]
        self.input_layout = "nchw"
        if len(dims) == 3 and consumers and all(
                n.op_type == "Transpose" and self._perm(n) == [0, 3, 1, 2] for n in consumers):
            self.input_layout = "nhwc"
            h, w, c = dims
            self.input_shape = (c, h, w)
        else:
            self.input_shape = tuple(dims)
        self.values[self.input_name] = Act(tuple(dims), 0, layout=self.input_layout)
        for node in nodes:
            self._node(node)
        if len(graph.output) != 1:
            raise _Refused(f"the graph has {len(graph.output)} outputs; a cnnviz network has "
                           f"one (its class scores)")
        out = self.values.get(graph.output[0].name)
        if not isinstance(out, Act):
            raise _Refused(f"the graph's output {show_value(graph.output[0].name, 60)} does not "
                           f"depend on its input")
        if out.taken or out.pos != len(self.specs):
            raise _Refused(f"the graph's output {show_value(graph.output[0].name, 60)} is not "
                           f"the end of its chain of layers: the graph branches")
        if out.pad is not None:
            raise _Refused("the graph ends with a Pad")
        if out.layout != "nchw":
            raise _Refused("the graph's output is in channels-last order (NHWC), which cnnviz "
                           "does not produce")
        if not self.specs:
            raise _Refused("the graph has no layers")
        return Converted(self._build(), self.input_name, self.input_layout, self.batch,
                         self.notes, self.output_exp)

    def _input_dims(self, value) -> list[int]:
        what = f"the input {show_value(value.name, 40)}"
        kind = value.type.WhichOneof("value")
        if kind != "tensor_type":
            raise _Refused(f"{what} is not a tensor")
        ttype = value.type.tensor_type
        if ttype.elem_type != _FLOAT:
            raise _Refused(f"{what} holds {_TYPE_NAMES.get(ttype.elem_type, 'unknown')} values; "
                           f"cnnviz networks take float (32-bit) images")
        if not ttype.HasField("shape"):
            raise _Refused(f"{what} has no declared shape")
        dims = list(ttype.shape.dim)
        if len(dims) not in (2, 4):
            raise _Refused(f"{what} has {len(dims)} dimensions; cnnviz takes images "
                           f"(batch, channels, height, width) or vectors (batch, features)")
        first = dims[0]
        self.batch = first.dim_value if first.HasField("dim_value") and first.dim_value > 0 else N
        out = []
        for i, dim in enumerate(dims[1:], 1):
            if not dim.HasField("dim_value") or dim.dim_value <= 0:
                label = show_value(dim.dim_param, 30) if dim.HasField("dim_param") else "unknown"
                raise _Refused(f"{what} has a dynamic size ({label}) in dimension {i}; cnnviz "
                               f"needs every size but the batch fixed")
            if dim.dim_value > MAX_INPUT_SIDE * (1 if len(dims) == 4 else 4096):
                raise _Refused(f"{what} is too large ({dim.dim_value:,} in dimension {i})")
            out.append(int(dim.dim_value))
        return out

    def _ordered(self, graph):
        """The nodes in an order where each comes after what it reads (Kahn's algorithm, the
        file's order among the ready ones); a node that can never run is refused."""
        nodes = list(graph.node)
        producer = {}
        for node in nodes:
            if len(node.input) > MAX_NODE_INPUTS or len(node.output) > MAX_NODE_INPUTS:
                raise _Refused(f"{_node_text(node)} has {max(len(node.input), len(node.output)):,} "
                               f"inputs or outputs, more than cnnviz follows")
        for index, node in enumerate(nodes):
            for name in node.output:
                if name and (name in producer or name in self.values or name == self.input_name):
                    raise _Refused(f"{_node_text(node)} writes {show_value(name, 60)}, which "
                                   f"is already defined")
                if name:
                    producer[name] = index
        waiting = [0] * len(nodes)
        readers: dict[int, list[int]] = {}
        for index, node in enumerate(nodes):
            for name in set(node.input):
                if not name or name in self.values or name == self.input_name:
                    continue
                if name not in producer:
                    raise _Refused(f"{_node_text(node)} reads {show_value(name, 60)}, which no "
                                   f"node writes")
                waiting[index] += 1
                readers.setdefault(producer[name], []).append(index)
        ready = [i for i, w in enumerate(waiting) if w == 0]
        heapq.heapify(ready)
        order = []
        while ready:
            index = heapq.heappop(ready)
            order.append(nodes[index])
            for reader in readers.get(index, ()):
                waiting[reader] -= 1
                if waiting[reader] == 0:
                    heapq.heappush(ready, reader)
        if len(order) != len(nodes):
            stuck = next(nodes[i] for i, w in enumerate(waiting) if w)
            raise _Refused(f"{_node_text(stuck)} is part of a cycle (or reads one)")
        return order

    # ------------------------------------------------------------------ helpers
    def _attrs(self, node) -> dict:
        out = {}
        for attr in node.attribute:
            if attr.ref_attr_name:
                raise _Refused(f"{_node_text(node)} refers to a function attribute")
            kind = attr.type
            if max(len(attr.ints), len(attr.floats), len(attr.strings)) > MAX_LIST:
                raise _Refused(f"{_node_text(node)}: its attribute {show_value(attr.name, 40)} "
                               f"has more values than any operator cnnviz reads needs")
            wanted = _ATTRIBUTE_TYPES.get(attr.name)
            if wanted is not None and kind not in wanted and not (
                    node.op_type == "Constant" or (attr.name == "value" and kind == 1)):
                raise _Refused(f"{_node_text(node)}: its attribute {show_value(attr.name, 40)} "
                               f"has the wrong type (the file is damaged?)")
            if attr.name in out:
                raise _Refused(f"{_node_text(node)}: its attribute {show_value(attr.name, 40)} "
                               f"appears twice")
            if kind == 1:
                out[attr.name] = float(attr.f)
            elif kind == 2:
                out[attr.name] = int(attr.i)
            elif kind == 3:
                out[attr.name] = attr.s.decode("utf-8", "replace")
            elif kind == 4:
                out[attr.name] = tensor_array(attr.t, self.path)
            elif kind == 6:
                out[attr.name] = [float(v) for v in attr.floats]
            elif kind == 7:
                out[attr.name] = [int(v) for v in attr.ints]
            else:
                out[attr.name] = None  # graphs, strings lists...: no supported op uses them
        return out

    def _perm(self, node):
        for attr in node.attribute:
            if attr.name == "perm":
                return list(attr.ints)
        return None

    def _inputs(self, node):
        out = []
        for name in node.input:
            out.append(None if not name else self.values[name])
        return out

    def _take(self, node, act: Act) -> Act:
        if act.taken or act.pos != len(self.specs):
            raise _Refused(f"{_node_text(node)} reads a value that another node reads too (or "
                           f"an earlier layer's output): the graph branches (a residual or skip "
                           f"connection, or parallel paths), which cnnviz cannot represent: its "
                           f"networks are one chain of layers")
        act.taken = True
        return act

    def _const(self, node, value, what: str) -> np.ndarray:
        if isinstance(value, Sym):
            if any(v is N for v in value.items):
                raise _Refused(f"{_node_text(node)}: its {what} depends on the batch size")
            return np.array(value.items[0] if value.scalar else value.items, dtype=np.int64)
        if not isinstance(value, np.ndarray):
            raise _Refused(f"{_node_text(node)}: its {what} must be a constant, not computed "
                           f"from the input")
        return value

    def _ints(self, node, value, what) -> list[int]:
        array = self._const(node, value, what)
        if array.dtype.kind not in "iu" or array.ndim > 1 or array.size > MAX_LIST:
            raise _Refused(f"{_node_text(node)}: its {what} must be at most {MAX_LIST} whole "
                           f"numbers")
        return [int(v) for v in array.reshape(-1)]

    def _set(self, node, *values):
        for name, value in zip(node.output, values):
            if name:
                self.values[name] = value

    def _add_layer(self, node, config, weight=None, bias=None, shape_from=None) -> Act:
        """Append a layer; returns the activation after it (its shape from the engine's rule)."""
        spec = _Spec(config, node.name or node.output[0], weight, bias)
        try:
            layer = layer_from_config(dict(config))
            shape = tuple(layer._output_shape(tuple(self._engine_shape(shape_from))))
        except ModelError as exc:
            raise _Refused(f"{_node_text(node)}: {exc}") from None
        self.specs.append(spec)
        self._shape = shape
        return Act(shape, len(self.specs), fresh=weight is not None)

    def _engine_shape(self, act: Act):
        if act.layout == "nhwc" and len(act.shape) == 3:
            h, w, c = act.shape
            return (c, h, w)
        return act.shape

    # ------------------------------------------------------------------ the operators
    def _node(self, node):
        if node.domain not in ("", "ai.onnx"):
            raise _Refused(f"{_node_text(node)} is an operator of domain "
                           f"{show_value(node.domain, 40)}, which cnnviz does not know")
        inputs = self._inputs(node)
        wanted = _REQUIRED_INPUTS.get(node.op_type, 1 if node.op_type != "Constant" else 0)
        if len(inputs) < wanted or any(v is None for v in inputs[:wanted]) or \
                len(node.output) < 1 or not node.output[0]:
            raise _Refused(f"{_node_text(node)} lacks an input or output it needs "
                           f"({wanted} inputs, one output)")
        handler = getattr(self, f"_op_{node.op_type}", None)
        acts = [v for v in inputs if isinstance(v, Act)]
        if handler is None:
            if not acts and node.op_type in _FOLDABLE:
                self._fold(node, inputs)
                return
            raise _Refused(f"{_node_text(node)}: cnnviz has no layer for the operator "
                           f"{show_value(node.op_type, 40)}")
        if len(acts) > 1:
            raise _Refused(f"{_node_text(node)} combines two activations (a branch such as a "
                           f"residual connection or a concatenation of feature maps), which "
                           f"cnnviz cannot represent: its networks are one chain of layers")
        handler(node, inputs, self._attrs(node))

    def _act_input(self, node, inputs, index=0) -> Act:
        value = inputs[index] if index < len(inputs) else None
        if not isinstance(value, Act):
            raise _Refused(f"{_node_text(node)} does not work on the network's data (its input "
                           f"{index} is a constant)")
        act = self._take(node, value)
        if act.pad is not None and node.op_type not in ("Conv", "MaxPool", "AveragePool", "Pad"):
            raise _Refused(f"{_node_text(node)} follows a Pad; cnnviz folds a Pad only into the "
                           f"convolution or pooling right after it")
        return act

    def _image_act(self, node, act):
        if len(act.shape) != 3 or act.layout != "nchw":
            what = "channels-last (NHWC) data" if act.layout == "nhwc" else \
                f"data of shape {show_value(list(act.shape))}"
            raise _Refused(f"{_node_text(node)} works on {what}; cnnviz's convolution and "
                           f"pooling take (channels, height, width) images")

    # -- constants and shapes
    def _op_Constant(self, node, inputs, attrs):
        if "value" in attrs and isinstance(attrs["value"], np.ndarray):
            value = attrs["value"]
        elif "value_float" in attrs:
            value = np.array(attrs["value_float"], np.float32)
        elif "value_floats" in attrs:
            value = np.array(attrs["value_floats"], np.float32)
        elif "value_int" in attrs:
            value = np.array(attrs["value_int"], np.int64)
        elif "value_ints" in attrs:
            value = np.array(attrs["value_ints"], np.int64)
        else:
            raise _Refused(f"{_node_text(node)} holds a kind of constant cnnviz does not read")
        self._set(node, value)

    def _op_Shape(self, node, inputs, attrs):
        value = inputs[0]
        if isinstance(value, Act):
            if value.pad is not None:
                raise _Refused(f"{_node_text(node)} reads the shape of padded data")
            items = (self.batch,) + tuple(value.shape)
        elif isinstance(value, np.ndarray):
            items = tuple(value.shape)
        else:
            items = (len(value.items),) if not value.scalar else ()
        start, end = attrs.get("start", 0), attrs.get("end", len(items))
        self._set(node, Sym(tuple(items[slice(start, end)])))

    def _op_Identity(self, node, inputs, attrs):
        value = inputs[0]
        if isinstance(value, Act):
            act = self._take(node, value)
            value = Act(act.shape, act.pos, act.layout, act.perm, act.pad, act.fresh)
        self._set(node, value)

    def _sym_or_const(self, value):
        return value if isinstance(value, Sym) else None

    def _op_Gather(self, node, inputs, attrs):
        data, indices = inputs[0], self._const(node, inputs[1], "indices")
        if isinstance(data, Act):
            raise _Refused(f"{_node_text(node)} picks parts of the network's data, which cnnviz "
                           f"cannot represent")
        if isinstance(data, np.ndarray):
            return self._fold(node, [data, indices])
        if attrs.get("axis", 0) != 0 or data.scalar or indices.dtype.kind not in "iu" \
                or indices.ndim > 1 or indices.size > MAX_LIST:
            raise _Refused(f"{_node_text(node)}: cnnviz follows Gather on a shape only along "
                           f"its one axis")
        n = len(data.items)
        picks = []
        for i in indices.reshape(-1):
            if not -n <= i < n:
                raise _Refused(f"{_node_text(node)}: index {int(i)} is out of range")
            picks.append(data.items[int(i)])
        self._set(node, Sym(tuple(picks), scalar=indices.ndim == 0))

    def _axes(self, node, inputs, attrs):
        if "axes" in attrs:
            return attrs["axes"]
        if len(inputs) > 1 and inputs[1] is not None:
            return self._ints(node, inputs[1], "axes")
        return None

    def _op_Unsqueeze(self, node, inputs, attrs):
        data = inputs[0]
        if isinstance(data, Act):
            raise _Refused(f"{_node_text(node)} adds an axis to the network's data, which "
                           f"cnnviz cannot represent")
        axes = self._axes(node, inputs, attrs)
        if isinstance(data, np.ndarray):
            if axes is None:
                raise _Refused(f"{_node_text(node)} has no axes")
            return self._set(node, np.expand_dims(data, tuple(axes)))
        if data.scalar and axes in ([0], [-1]):
            return self._set(node, Sym(data.items))
        raise _Refused(f"{_node_text(node)}: cnnviz follows Unsqueeze on a shape only from a "
                       f"single size to a vector")

    def _op_Squeeze(self, node, inputs, attrs):
        data = inputs[0]
        axes = self._axes(node, inputs, attrs)
        if isinstance(data, Act):
            act = self._act_input(node, inputs)
            rank = len(act.shape) + 1
            if axes is None:
                axes = [i for i, d in enumerate(act.shape, 1) if d == 1]
            axes = sorted(a % rank for a in axes)
            if len(act.shape) == 3 and axes == [2, 3] and act.shape[1:] == (1, 1) \
                    and act.layout == "nchw":
                out = self._add_layer(node, {"kind": "Flatten"}, shape_from=act)
                return self._set(node, out)
            raise _Refused(f"{_node_text(node)} removes axes {axes} of data of shape "
                           f"{list(act.shape)}; cnnviz follows only (N, C, 1, 1) -> (N, C)")
        if isinstance(data, np.ndarray):
            return self._set(node, np.squeeze(data, tuple(axes) if axes is not None else None))
        if not data.scalar and len(data.items) == 1:
            return self._set(node, Sym(data.items, scalar=True))
        raise _Refused(f"{_node_text(node)}: cnnviz follows Squeeze on a shape only to one size")

    def _op_Concat(self, node, inputs, attrs):
        if all(isinstance(v, np.ndarray) for v in inputs):
            return self._fold(node, inputs)
        items = []
        for value in inputs:
            if isinstance(value, Sym):
                if value.scalar:
                    raise _Refused(f"{_node_text(node)} joins a single size")
                items.extend(value.items)
            else:
                array = self._const(node, value, "input")
                if array.ndim != 1 or array.dtype.kind not in "iu" or array.size > MAX_LIST:
                    raise _Refused(f"{_node_text(node)} joins values cnnviz cannot follow")
                items.extend(int(v) for v in array)
            if len(items) > MAX_LIST:
                raise _Refused(f"{_node_text(node)} makes a shape of over {MAX_LIST} sizes")
        self._set(node, Sym(tuple(items)))

    def _op_Cast(self, node, inputs, attrs):
        data = inputs[0]
        if isinstance(data, Sym) and attrs.get("to") in (_INT64, _INT32):
            return self._set(node, data)
        if isinstance(data, Act):
            raise _Refused(f"{_node_text(node)} converts the network's data to another type")
        self._fold(node, inputs)

    def _fold(self, node, inputs):
        """A standard operator on constants only, computed by onnx's reference implementation
        of that one operator (shape arithmetic: sizes are capped)."""
        arrays = [self._const(node, v, f"input {i}") if v is not None else None
                  for i, v in enumerate(inputs)]
        if node.op_type not in _FOLDABLE:
            raise _Refused(f"{_node_text(node)}: cnnviz has no layer for the operator "
                           f"{show_value(node.op_type, 40)}")
        if sum(a.size for a in arrays if a is not None) > MAX_FOLDED:
            raise _Refused(f"{_node_text(node)} computes on constants too large to follow")
        results = _run_one(node, arrays, self.opset)
        for r in results:
            self.folded_bytes += r.nbytes
            if r.size > MAX_FOLDED_OUTPUT:
                raise _Refused(f"{_node_text(node)} makes a constant too large to follow")
        memory = machine_memory()
        if memory is not None and READ_FACTOR * self.folded_bytes > MEMORY_SHARE * memory:
            raise _Refused(f"{_node_text(node)}: the constants computed at import need more "
                           f"memory than this machine gives cnnviz")
        self._set(node, *results)

    def _op_Reshape(self, node, inputs, attrs):
        data = inputs[0]
        if not isinstance(data, Act):
            return self._fold(node, inputs)
        act = self._act_input(node, inputs)
        target = inputs[1] if len(inputs) > 1 else None
        if target is None:
            raise _Refused(f"{_node_text(node)} has no target shape")
        if isinstance(target, Sym):
            items = list(target.items)
        else:
            items = self._ints(node, target, "target shape")
        full = [self.batch, *act.shape]
        if len(items) != 2 and list(items) != full:
            return self._refuse_reshape(node, act, items)
        if attrs.get("allowzero", 0) and 0 in items:
            return self._refuse_reshape(node, act, items)
        resolved = [full[i] if v == 0 and i < len(full) else v for i, v in enumerate(items)]
        features = math.prod(act.shape)
        if len(resolved) == 2:
            first, second = resolved
            ok = ((first is self.batch or first == self.batch or first == -1)
                  and second in (-1, features)) or (first is N and second == -1)
            if first == -1 and second == -1:
                ok = False
            if not ok:
                return self._refuse_reshape(node, act, items)
            return self._set(node, self._flatten(node, act))
        value = Act(act.shape, act.pos, act.layout, act.perm, None, act.fresh)
        self._set(node, value)  # a reshape to its own shape

    def _refuse_reshape(self, node, act, items):
        shown = ["N" if v is N else v for v in items]
        raise _Refused(f"{_node_text(node)} reshapes data of shape (N, "
                       f"{', '.join(map(str, act.shape))}) to {show_value(shown, 60)}; cnnviz "
                       f"follows only a flatten to (N, -1)")

    def _flatten(self, node, act) -> Act:
        if len(act.shape) == 1:
            return Act(act.shape, act.pos, act.layout, act.perm, None, act.fresh)
        if len(act.shape) != 3:
            raise _Refused(f"{_node_text(node)} flattens data of shape {list(act.shape)}")
        out = self._add_layer(node, {"kind": "Flatten"}, shape_from=act)
        if act.layout == "nhwc":
            # ONNX flattens (H, W, C); the engine flattens (C, H, W): the dense layer after it
            # takes its inputs in the engine's order (perm[i] = ONNX position of engine's i).
            h, w, c = act.shape
            out.layout = "perm"
            out.perm = np.arange(h * w * c).reshape(h, w, c).transpose(2, 0, 1).reshape(-1)
        return out

    def _op_Flatten(self, node, inputs, attrs):
        data = inputs[0]
        if not isinstance(data, Act):
            return self._fold(node, inputs)
        act = self._act_input(node, inputs)
        axis = attrs.get("axis", 1)
        if axis not in (1, -len(act.shape)):
            raise _Refused(f"{_node_text(node)} flattens from axis {axis}; cnnviz flattens "
                           f"each image (axis 1)")
        self._set(node, self._flatten(node, act))

    def _op_Transpose(self, node, inputs, attrs):
        data = inputs[0]
        if not isinstance(data, Act):
            return self._fold(node, inputs)
        act = self._act_input(node, inputs)
        perm = attrs.get("perm")
        rank = len(act.shape) + 1
        if perm is None:
            perm = list(range(rank))[::-1]
        if perm == list(range(rank)):
            layout = act.layout
        elif rank == 4 and perm == [0, 3, 1, 2] and act.layout == "nhwc":
            layout = "nchw"
        elif rank == 4 and perm == [0, 2, 3, 1] and act.layout == "nchw":
            layout = "nhwc"
        else:
            raise _Refused(f"{_node_text(node)} permutes the axes {perm}; cnnviz follows only "
                           f"NHWC -> NCHW at the input and NCHW -> NHWC before a flatten")
        shape = tuple(act.shape[p - 1] for p in perm[1:])
        self._set(node, Act(shape, act.pos, layout, act.perm, None, act.fresh))

    # -- layers
    def _elementwise(self, node, inputs, config):
        act = self._act_input(node, inputs)
        out = self._add_layer(node, config, shape_from=self._engine_view(act))
        out.shape, out.layout, out.perm = act.shape, act.layout, act.perm
        self._set(node, out)

    def _engine_view(self, act):
        return Act(self._engine_shape(act), act.pos)

    def _op_Relu(self, node, inputs, attrs):
        self._elementwise(node, inputs, {"kind": "ReLU"})

    def _op_Sigmoid(self, node, inputs, attrs):
        self._elementwise(node, inputs, {"kind": "Sigmoid"})

    def _op_Tanh(self, node, inputs, attrs):
        self._elementwise(node, inputs, {"kind": "Tanh"})

    def _op_Softplus(self, node, inputs, attrs):
        self._elementwise(node, inputs, {"kind": "Softplus"})

    def _op_LeakyRelu(self, node, inputs, attrs):
        self._elementwise(node, inputs, {"kind": "LeakyReLU",
                                         "alpha": _short(attrs.get("alpha", 0.01))})

    def _op_Dropout(self, node, inputs, attrs):
        if any(name in self.read for name in node.output[1:]):
            raise _Refused(f"{_node_text(node)}: its mask output is used")
        ratio = attrs.get("ratio", 0.5)
        if len(inputs) > 1 and inputs[1] is not None:
            ratio = float(self._const(node, inputs[1], "ratio").reshape(-1)[0])
        if len(inputs) > 2 and inputs[2] is not None:
            if bool(self._const(node, inputs[2], "training mode").reshape(-1)[0]):
                raise _Refused(f"{_node_text(node)} is in training mode (random at inference)")
        self._elementwise(node, inputs[:1], {"kind": "Dropout", "rate": _short(ratio)})

    def _op_Softmax(self, node, inputs, attrs):
        act = inputs[0]
        if isinstance(act, Act) and (len(act.shape) != 1 or act.layout != "nchw"):
            raise _Refused(f"{_node_text(node)} takes the softmax of data of shape "
                           f"{list(act.shape)}; cnnviz takes it over a vector of class scores")
        if attrs.get("axis", 1 if self.opset < 13 else -1) not in (1, -1):
            raise _Refused(f"{_node_text(node)} takes the softmax over the batch axis")
        self._elementwise(node, inputs, {"kind": "Softmax"})

    def _op_LRN(self, node, inputs, attrs):
        act = self._act_input(node, inputs)
        self._image_act(node, act)
        if "size" not in attrs:
            raise _Refused(f"{_node_text(node)} has no size")
        config = {"kind": "LRN", "size": attrs["size"], "alpha": _short(attrs.get("alpha", 1e-4)),
                  "beta": _short(attrs.get("beta", 0.75)), "bias": _short(attrs.get("bias", 1.0))}
        self._set(node, self._add_layer(node, config, shape_from=act))

    def _op_LogSoftmax(self, node, inputs, attrs):
        """A LogSoftmax at the end (PyTorch's MNIST example ends so) becomes a Softmax: the
        same probabilities; the self-check compares them with exp of the graph's output."""
        if [v.name for v in self.graph.output] != [node.output[0]]:
            raise _Refused(f"{_node_text(node)} is not the graph's last step; cnnviz takes a "
                           f"log-softmax only as the output (it shows the probabilities)")
        self._op_Softmax(node, inputs, attrs)
        self.output_exp = True

    def _op_Pad(self, node, inputs, attrs):
        act = self._act_input(node, inputs)
        self._image_act(node, act)
        mode = attrs.get("mode", "constant")
        if mode != "constant":
            raise _Refused(f"{_node_text(node)} pads by {show_value(mode)}; cnnviz pads with a "
                           f"constant only")
        if "pads" in attrs:
            pads, value = attrs["pads"], attrs.get("value", 0.0)
        else:
            pads = self._ints(node, inputs[1] if len(inputs) > 1 else None, "pads")
            value = 0.0
            if len(inputs) > 2 and inputs[2] is not None:
                value = float(self._const(node, inputs[2], "value").reshape(-1)[0])
            if len(inputs) > 3 and inputs[3] is not None:
                axes = [a % 4 for a in self._ints(node, inputs[3], "axes")]
                full = [0] * 8
                for i, a in enumerate(axes):
                    full[a], full[a + 4] = pads[i], pads[i + len(axes)]
                pads = full
        if len(pads) != 8 or any(pads[i] for i in (0, 1, 4, 5)):
            raise _Refused(f"{_node_text(node)} pads {show_value(pads)}; cnnviz pads only the "
                           f"height and width")
        if min(pads) < 0:
            raise _Refused(f"{_node_text(node)} crops (negative padding)")
        top, left, bottom, right = pads[2], pads[3], pads[6], pads[7]
        if act.pad is not None:
            if act.pad[4] != value:
                raise _Refused(f"{_node_text(node)} pads with two different values")
            top, bottom, left, right = (a + b for a, b in zip(act.pad[:4],
                                                              (top, bottom, left, right)))
        self._set(node, Act(act.shape, act.pos, pad=(top, bottom, left, right, value)))

    def _window_pads(self, node, act, attrs, kernel, stride, dilation):
        """(top, bottom, left, right) from auto_pad or pads; ONNX pads are (top, left, bottom,
        right)."""
        auto = attrs.get("auto_pad", "NOTSET")
        _, h, w = act.shape
        if auto in ("SAME_UPPER", "SAME_LOWER"):
            out = []
            for n, k, s, d in zip((h, w), kernel, stride, dilation):
                total = max((-(-n // s) - 1) * s + (k - 1) * d + 1 - n, 0)
                small, large = total // 2, total - total // 2
                out += [small, large] if auto == "SAME_UPPER" else [large, small]
            return tuple(out)
        if auto == "VALID":
            return (0, 0, 0, 0)
        if auto != "NOTSET":
            raise _Refused(f"{_node_text(node)} has an unknown auto_pad {show_value(auto)}")
        pads = attrs.get("pads", [0, 0, 0, 0])
        if len(pads) != 4 or min(pads) < 0:
            raise _Refused(f"{_node_text(node)} has pads {show_value(pads)}; cnnviz needs four "
                           f"of at least 0 (a 2-D window)")
        return (pads[0], pads[2], pads[1], pads[3])

    def _pair_attr(self, node, attrs, name, default):
        value = attrs.get(name, default)
        if not isinstance(value, list) or len(value) != 2:
            raise _Refused(f"{_node_text(node)} has {name} {show_value(value)}; cnnviz's windows "
                           f"are 2-D")
        if min(value) < 1:
            raise _Refused(f"{_node_text(node)} has {name} {show_value(value)}; they must be at "
                           f"least 1")
        return value

    def _pending_pad(self, node, act, attrs, pads):
        """Add a Pad before to the window's own padding; returns (pads, pad value or None)."""
        if act.pad is None:
            return pads, None
        if attrs.get("auto_pad", "NOTSET") not in ("NOTSET", "VALID"):
            raise _Refused(f"{_node_text(node)} follows a Pad and pads itself automatically")
        return tuple(a + b for a, b in zip(pads, act.pad[:4])), act.pad[4]

    @staticmethod
    def _padding_setting(pads, size, kernel, stride, dilation):
        """The engine's padding setting for ``pads`` (top, bottom, left, right): "valid",
        "same" (when it resolves to these pads, as cnnviz's own files say it), or numbers."""
        top, bottom, left, right = (int(v) for v in pads)
        if top == bottom == left == right == 0:
            return "valid"
        if resolve_padding("same", tuple(kernel), tuple(stride), tuple(dilation),
                           tuple(size)) == (top, bottom, left, right):
            return "same"
        if top == bottom == left == right:
            return top
        if top == bottom and left == right:
            return [top, left]
        return [top, bottom, left, right]

    def _op_Conv(self, node, inputs, attrs):
        act = self._act_input(node, inputs)
        self._image_act(node, act)
        weight = self._const(node, inputs[1] if len(inputs) > 1 else None, "weights")
        bias = inputs[2] if len(inputs) > 2 else None
        bias = None if bias is None else self._const(node, bias, "bias")
        group = attrs.get("group", 1)
        channels = act.shape[0]
        if group != 1:
            what = "a depthwise convolution" if group == channels else "a grouped convolution"
            raise _Refused(f"{_node_text(node)} is {what} (group={group}); cnnviz's "
                           f"convolutions connect every input channel to every filter")
        if weight.ndim != 4:
            raise _Refused(f"{_node_text(node)} is a {weight.ndim - 2}-D convolution; cnnviz's "
                           f"are 2-D")
        filters, inner, kh, kw = weight.shape
        if inner != channels:
            raise _Refused(f"{_node_text(node)} has filters for {inner} channels, its input has "
                           f"{channels}")
        kernel = attrs.get("kernel_shape", [kh, kw])
        if min(weight.shape) < 1:
            raise _Refused(f"{_node_text(node)} has empty weights {list(weight.shape)}")
        if list(kernel) != [kh, kw]:
            raise _Refused(f"{_node_text(node)}: kernel_shape {kernel} differs from its weights")
        stride = self._pair_attr(node, attrs, "strides", [1, 1])
        dilation = self._pair_attr(node, attrs, "dilations", [1, 1])
        pads = self._window_pads(node, act, attrs, kernel, stride, dilation)
        pads, value = self._pending_pad(node, act, attrs, pads)
        if value not in (None, 0.0):
            raise _Refused(f"{_node_text(node)} follows a Pad with {value:g}; cnnviz's "
                           f"convolutions pad with 0")
        if bias is not None and bias.shape != (filters,):
            raise _Refused(f"{_node_text(node)} has a bias of shape {list(bias.shape)} for "
                           f"{filters} filters")
        config = {"kind": "Conv2D", "out_channels": int(filters), "kernel_size": [kh, kw],
                  "stride": stride, "dilation": dilation, "padding": self._padding_setting(pads, act.shape[1:], kernel, stride, dilation),
                  "use_bias": bias is not None}
        out = self._add_layer(node, config, weight, bias, shape_from=act)
        self._set(node, out)

    def _pool(self, node, inputs, attrs, kind):
        act = self._act_input(node, inputs)
        self._image_act(node, act)
        if any(name in self.read for name in node.output[1:]):
            raise _Refused(f"{_node_text(node)}: its indices output is used")
        kernel = self._pair_attr(node, attrs, "kernel_shape", None)
        stride = self._pair_attr(node, attrs, "strides", [1, 1])
        if attrs.get("dilations", [1, 1]) != [1, 1]:
            raise _Refused(f"{_node_text(node)} is a dilated pooling, which cnnviz does not have")
        pads = self._window_pads(node, act, attrs, kernel, stride, [1, 1])
        include = bool(attrs.get("count_include_pad", 0)) and kind == "AvgPool2D"
        pads, value = self._pending_pad(node, act, attrs, pads)
        if value is not None:
            if kind == "MaxPool2D" and not value <= -3.4e38:
                raise _Refused(f"{_node_text(node)} follows a Pad with {value:g}; cnnviz's max "
                               f"pooling pads with -infinity")
            if kind == "AvgPool2D":
                if value != 0.0 or (any(self._window_pads(node, act, attrs, kernel, stride,
                                                          [1, 1])) and not include):
                    raise _Refused(f"{_node_text(node)} follows a Pad that its average would "
                                   f"count, while its own padding is not counted")
                include = True
        if attrs.get("ceil_mode", 0):
            extra = []
            for n, k, s, p0, p1 in zip(act.shape[1:], kernel, stride, pads[0::2], pads[1::2]):
                out = -(-(n + p0 + p1 - k) // s) + 1
                if (out - 1) * s >= n + p0:  # the last window would start in the padding
                    out -= 1
                extra.append(max((out - 1) * s + k - (n + p0 + p1), 0))
            if any(extra) and include and any(pads):
                raise _Refused(f"{_node_text(node)} rounds its output size up and counts its "
                               f"padding in the mean; cnnviz cannot do both")
            pads = (pads[0], pads[1] + extra[0], pads[2], pads[3] + extra[1])
        if list(kernel) == [1, 1] and list(stride) == [1, 1] and not any(pads):
            # Nothing to pool (PyTorch's AdaptiveAvgPool2d((7, 7)) of a 7x7 map in torchvision's
            # VGG): no layer.
            self._set(node, Act(act.shape, act.pos))
            return
        config = {"kind": kind, "size": kernel, "stride": stride,
                  "padding": self._padding_setting(pads, act.shape[1:], kernel, stride,
                                                   (1, 1))}
        if include:
            config["count_include_pad"] = True
        self._set(node, self._add_layer(node, config, shape_from=act))

    def _op_MaxPool(self, node, inputs, attrs):
        if attrs.get("storage_order", 0) not in (0, 1):
            raise _Refused(f"{_node_text(node)} has an unknown storage_order")
        self._pool(node, inputs, attrs, "MaxPool2D")

    def _op_AveragePool(self, node, inputs, attrs):
        self._pool(node, inputs, attrs, "AvgPool2D")

    def _global_pool(self, node, inputs, kind):
        act = self._act_input(node, inputs)
        self._image_act(node, act)
        _, h, w = act.shape
        config = {"kind": kind, "size": [h, w], "stride": [h, w], "padding": "valid"}
        self._set(node, self._add_layer(node, config, shape_from=act))

    def _op_GlobalAveragePool(self, node, inputs, attrs):
        self._global_pool(node, inputs, "AvgPool2D")

    def _op_GlobalMaxPool(self, node, inputs, attrs):
        self._global_pool(node, inputs, "MaxPool2D")

    def _dense_input(self, node, act):
        if len(act.shape) != 1:
            raise _Refused(f"{_node_text(node)} multiplies data of shape {list(act.shape)}; "
                           f"cnnviz's dense layers take a flat vector (flatten first)")

    def _dense(self, node, act, weight, bias):
        """A Dense layer of ``weight`` (out, in) in ONNX's input order."""
        out_features, in_features = weight.shape
        if in_features != act.shape[0]:
            raise _Refused(f"{_node_text(node)} has weights for {in_features} inputs, its input "
                           f"has {act.shape[0]}")
        if act.layout == "perm":
            weight = weight[:, act.perm]
        config = {"kind": "Dense", "out_features": int(out_features),
                  "use_bias": bias is not None}
        self._set(node, self._add_layer(node, config, weight, bias,
                                        shape_from=Act(act.shape, act.pos)))

    def _op_Gemm(self, node, inputs, attrs):
        act = self._act_input(node, inputs)
        self._dense_input(node, act)
        if attrs.get("transA", 0):
            raise _Refused(f"{_node_text(node)} transposes the network's data (transA=1)")
        b = self._const(node, inputs[1], "weights").astype(np.float32, copy=False)
        if b.ndim != 2:
            raise _Refused(f"{_node_text(node)} has weights of shape {list(b.shape)}")
        b = b.T if attrs.get("transB", 0) else b  # now (in, out)
        alpha = attrs.get("alpha", 1.0)
        weight = b.T if alpha == 1.0 else np.float32(alpha) * b.T  # (out, in), a view if alpha 1
        bias = None
        if len(inputs) > 2 and inputs[2] is not None:
            c = self._const(node, inputs[2], "bias").astype(np.float64)
            try:
                bias = attrs.get("beta", 1.0) * np.broadcast_to(c, (1, weight.shape[0]))[0]
            except ValueError:
                raise _Refused(f"{_node_text(node)} adds a term of shape {list(c.shape)}, not a "
                               f"bias per unit") from None
            if c.ndim == 2 and c.shape[0] != 1:
                raise _Refused(f"{_node_text(node)} adds a different term per image")
        self._dense(node, act, weight, bias)

    def _op_MatMul(self, node, inputs, attrs):
        if not isinstance(inputs[0], Act):
            if isinstance(inputs[1], Act):
                raise _Refused(f"{_node_text(node)} multiplies a constant by the network's data "
                               f"(from the left)")
            return self._fold(node, inputs)
        act = self._act_input(node, inputs)
        self._dense_input(node, act)
        b = self._const(node, inputs[1], "weights")
        if b.ndim != 2:
            raise _Refused(f"{_node_text(node)} has weights of shape {list(b.shape)}")
        self._dense(node, act, b.T.astype(np.float32, copy=False), None)

    def _last_fresh(self, node, act, what) -> _Spec:
        if not act.fresh or act.pos != len(self.specs) or not self.specs \
                or self.specs[-1].weight is None:
            raise _Refused(f"{_node_text(node)} {what} data that is not the direct output of a "
                           f"convolution or dense layer; cnnviz cannot represent that")
        return self.specs[-1]

    def _op_Add(self, node, inputs, attrs):
        if not any(isinstance(v, Act) for v in inputs):
            return self._fold(node, inputs)
        index = 0 if isinstance(inputs[0], Act) else 1
        act = self._act_input(node, inputs, index)
        constant = self._const(node, inputs[1 - index], "added term").astype(np.float64)
        spec = self._last_fresh(node, act, "adds a constant to")
        units = spec.weight.shape[0]
        shape = (1, units) if len(act.shape) == 1 else (1, units, 1, 1)
        try:
            term = np.broadcast_to(constant, shape).reshape(units) \
                if np.broadcast_shapes(constant.shape, shape) == shape else None
        except ValueError:
            term = None
        if term is None or constant.ndim > len(shape):
            raise _Refused(f"{_node_text(node)} adds a constant of shape "
                           f"{list(constant.shape)}, which is not a bias per "
                           f"{'unit' if len(act.shape) == 1 else 'filter'}")
        spec.bias = term if spec.bias is None else spec.bias + term
        spec.config["use_bias"] = True
        self._set(node, Act(act.shape, act.pos, act.layout, act.perm, None, True))

    def _op_BatchNormalization(self, node, inputs, attrs):
        act = self._act_input(node, inputs)
        if any(name in self.read for name in node.output[1:]):
            raise _Refused(f"{_node_text(node)} computes training statistics")
        if attrs.get("training_mode", 0):
            raise _Refused(f"{_node_text(node)} is in training mode")
        spec = self._last_fresh(node, act, "normalises")
        scale, beta, mean, var = (self._const(node, v, name).astype(np.float64)
                                  for v, name in zip(inputs[1:5],
                                                     ("scale", "bias", "mean", "variance")))
        units = spec.weight.shape[0]
        if any(a.shape != (units,) for a in (scale, beta, mean, var)):
            raise _Refused(f"{_node_text(node)} has statistics for other than its {units} "
                           f"channels")
        if (var < 0).any():
            raise _Refused(f"{_node_text(node)} has a negative variance")
        factor = scale / np.sqrt(var + attrs.get("epsilon", 1e-5))
        weight = spec.weight.astype(np.float64)
        spec.weight = weight * factor.reshape((-1,) + (1,) * (weight.ndim - 1))
        bias = np.zeros(units) if spec.bias is None else spec.bias.astype(np.float64)
        spec.bias = (bias - mean) * factor + beta
        spec.config["use_bias"] = True
        self.notes.append(f"{_node_text(node)} is folded into the layer before it")
        self._set(node, Act(act.shape, act.pos, act.layout, act.perm, None, True))

    # ------------------------------------------------------------------ the network
    def _build(self) -> Sequential:
        layers = []
        for index, spec in enumerate(self.specs):
            layer = layer_from_config(dict(spec.config))
            for name in ("weight", "bias"):
                value = getattr(spec, name)
                if value is None:
                    continue
                with np.errstate(over="ignore", invalid="ignore"):
                    array = np.asarray(value, dtype=np.float32)  # the layer copies it
                if not np.isfinite(array).all():
                    raise _Refused(f"the {name} of node {show_value(spec.node, 60)} holds NaN "
                                   f"or infinite values (or values beyond float32)")
                largest = float(np.abs(array).max()) if array.size else 0.0
                if largest > MAX_PARAM_MAGNITUDE:
                    raise _Refused(f"the {name} of node {show_value(spec.node, 60)} holds "
                                   f"{largest:.2g}, beyond the ±{MAX_PARAM_MAGNITUDE:.0e} cnnviz "
                                   f"accepts")
                setattr(layer, f"{name}_init", array)
            layers.append(layer)
        try:
            return Sequential(layers, self.input_shape, seed=0, name="network")
        except BudgetError as exc:
            raise _Refused(f"the network is too large for this machine: {exc}") from None
        except ModelError as exc:
            raise _Refused(f"wrong shape or settings: {exc}") from None


#: Operators computed at import when all their inputs are constants (shape arithmetic).
_FOLDABLE = {"Add", "Sub", "Mul", "Div", "Concat", "Gather", "Cast", "Unsqueeze", "Squeeze",
             "Reshape", "Flatten", "Transpose", "Slice", "Range", "Floor", "Ceil", "Sqrt",
             "Neg", "Abs", "Min", "Max", "ReduceProd", "Equal", "Where", "Not", "Less", "Greater",
             "ConstantOfShape", "Expand", "Identity", "MatMul"}
_SIZE_LIMITED = {"ConstantOfShape", "Expand", "Range"}


def _run_one(node, arrays, opset):
    """One standard operator on constants, by onnx's reference implementation."""
    import onnx
    from onnx import helper
    from onnx.reference import ReferenceEvaluator

    if node.op_type in _SIZE_LIMITED:
        # Their output size is a value, not a size: check it first.
        target = arrays[0] if node.op_type != "Range" else None
        if node.op_type == "Range":
            start, limit, delta = (float(a.reshape(-1)[0]) for a in arrays[:3])
            count = math.ceil((limit - start) / delta) if delta else math.inf
        elif node.op_type == "Expand":
            count = math.prod(int(v) for v in np.maximum(arrays[1].reshape(-1), 1)) \
                * max(arrays[0].size, 1)
        else:
            count = math.prod(int(v) for v in target.reshape(-1))
        if not 0 <= count <= MAX_FOLDED_OUTPUT:
            raise _Refused(f"{_node_text(node)} makes a constant too large to follow")
    names = [f"in{i}" if a is not None else "" for i, a in enumerate(arrays)]
    feeds = {n: a for n, a in zip(names, arrays) if n}
    outs = [f"out{i}" for i in range(len(node.output))]
    clone = helper.make_node(node.op_type, names, outs)
    clone.attribute.extend(node.attribute)
    graph = helper.make_graph(
        [clone], "fold",
        [helper.make_tensor_value_info(n, helper.np_dtype_to_tensor_dtype(a.dtype), a.shape)
         for n, a in feeds.items()],
        [helper.make_tensor_value_info(o, onnx.TensorProto.UNDEFINED, None) for o in outs])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    try:
        return [np.asarray(r) for r in ReferenceEvaluator(model).run(None, feeds)]
    except Exception as exc:  # noqa: BLE001 - any failure on the file's constants is its problem
        from .io import clean_text

        raise _Refused(f"{_node_text(node)} cannot be computed "
                       f"({clean_text(str(exc).splitlines()[0] if str(exc) else type(exc).__name__, 80)})") from None


# ----------------------------------------------------------------------- the self-check
def reference_evaluator(proto):
    """``onnx.reference.ReferenceEvaluator`` for ``proto``, with LRN as ONNX defines it: the
    reference of onnx 1.23 loops over the batch instead of the channels (every channel from the
    batch size on is left unnormalised)."""
    from onnx.reference import ReferenceEvaluator
    from onnx.reference.op_run import OpRun

    class LRN(OpRun):
        op_domain = ""

        def _run(self, x, alpha=None, beta=None, bias=None, size=None):
            alpha = 1e-4 if alpha is None else alpha
            beta = 0.75 if beta is None else beta
            bias = 1.0 if bias is None else bias
            channels = x.shape[1]
            square_sum = np.zeros_like(x)
            for c in range(channels):  # the operator's definition, channel by channel
                first = max(0, c - math.floor((size - 1) / 2))
                last = min(channels - 1, c + math.ceil((size - 1) / 2))
                square_sum[:, c] = (x[:, first:last + 1] ** 2).sum(axis=1)
            return ((x / (bias + alpha / size * square_sum) ** beta).astype(x.dtype),)

    return ReferenceEvaluator(proto, new_ops=[LRN])


def verify_import(proto, converted: Converted, path, seed: int = 0) -> float:
    """Compare the converted network with ``onnx.reference.ReferenceEvaluator`` on the original
    graph, on random inputs in [0, 1) (two images, one for networks over
    :data:`VERIFY_ONE_IMAGE_MACS` multiply-adds); returns the largest difference relative to the
    reference's largest output, and fails (OnnxImportError) beyond :data:`VERIFY_RTOL`."""
    model = converted.model
    macs = estimate(model.layers, model.input_shape).macs
    if converted.batch is not N and converted.batch > MAX_VERIFY_BATCH:
        converted.notes.append(f"not checked against the reference: the graph's batch size is "
                               f"fixed at {converted.batch:,}")
        return math.nan
    count = converted.batch if converted.batch is not N else \
        (1 if macs > VERIFY_ONE_IMAGE_MACS else 2)
    rng = np.random.default_rng(seed)
    x = rng.random((count, *model.input_shape), dtype=np.float32)
    with np.errstate(all="ignore"):  # a non-finite output is reported below
        ours = model.forward(x)
    feed = x.transpose(0, 2, 3, 1) if converted.input_layout == "nhwc" else x
    try:
        reference = reference_evaluator(proto).run(None, {converted.input_name: feed})[0]
    except Exception as exc:  # noqa: BLE001 - the reference failing on this graph is the file's
        from .io import clean_text

        detail = clean_text(str(exc).splitlines()[0] if str(exc) else type(exc).__name__, 100)
        _fail(path, f"the check of the import failed: onnx's reference evaluator cannot run "
                    f"the graph ({detail})")
    reference = np.asarray(reference, dtype=np.float64)
    if converted.output_exp:
        reference = np.exp(reference)
    if reference.size != ours.size:
        _fail(path, f"the check of the import failed: the graph's output has shape "
                    f"{list(reference.shape)}, the network's {list(ours.shape)}")
    reference = reference.reshape(ours.shape)
    scale = max(float(np.abs(reference).max()), 1.0) if reference.size else 1.0
    difference = float(np.abs(ours.astype(np.float64) - reference).max()) if ours.size else 0.0
    if not np.isfinite(ours).all() or not np.isfinite(reference).all():
        _fail(path, "the check of the import failed: the network's outputs are not finite")
    if difference > VERIFY_RTOL * scale + VERIFY_ATOL:
        _fail(path, f"the check of the import failed: the converted network differs from the "
                    f"ONNX graph by {difference:.3g} (outputs up to {scale:.3g}), beyond "
                    f"float32 tolerance; cnnviz misreads some operator of this file")
    return difference / scale
