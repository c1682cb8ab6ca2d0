"""Reading an ``.onnx`` file: its size, text, external data and tensors checked before
anything is allocated; its operator set and cnnviz's metadata."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np

from ..budget import MEMORY_SHARE, machine_memory
from ..contract import ContractError, InputContract, default_contract
from ..layers import show_value
from .limits import (CONTRACT_KEY, MAX_METADATA_BYTES, MAX_ONNX_BYTES, MAX_TENSOR_BYTES,
                     METADATA_KEY, MIN_OPSET, NAME_KEY, READ_FACTOR, _DOUBLE, _DTYPES, _FLOAT,
                     _FLOAT16, _INT64, _TYPE_NAMES)
from .values import _fail


def read_proto(path: Path):
    """The file's ModelProto, with external data read in (from the file's own folder only)."""
    from google.protobuf.message import DecodeError
    import onnx

    from ..io import _open_regular_file

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
        from ..io import clean_text

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
    from ..io import _open_regular_file, clean_text

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
        from ..io import clean_text

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
    from ..io import _without_surrogates

    if METADATA_KEY not in meta:
        return {}
    value = _parse_json(meta[METADATA_KEY], "metadata", path)
    if not isinstance(value, dict):
        _fail(path, "its metadata must be a JSON object")
    return _without_surrogates(value)


