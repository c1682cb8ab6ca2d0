"""Model files: one ``.npz`` holding a JSON architecture and the parameter arrays.

Layout of the archive (every entry a plain ``.npy`` array, never a pickle):

- ``architecture``: uint8 bytes of the UTF-8 JSON from :meth:`Sequential.config`, with the
  network's input contract under ``"input"`` (:class:`cnnviz.nn.contract.InputContract`; a file
  without one is read as :func:`cnnviz.nn.contract.default_contract` says: a digit network);
- ``metadata``: optional uint8 bytes of a JSON object (how the network was made, its accuracy);
- ``params/<layer>.<name>``: float32 parameter arrays, e.g. ``params/0.weight``.

Loading trusts nothing in the file: it opens only regular files (without blocking), checks that
it is a zip whose entries use methods, flags and versions zipfile reads, reads every ``.npy``
header before any data (shape, dtype, size caps), refuses object arrays, validates the JSON and
each layer's settings (type and range, see ``cnnviz.nn.layers.check_settings``), checks the work
and memory the architecture declares against this machine (:mod:`cnnviz.nn.budget`), builds the
network from the file's own arrays, and checks names, shapes and finiteness (after the cast to
float32).  Every problem is reported once, as one line of :class:`ModelFileError`; any failure
of a decoder on the file's bytes is such a problem.
"""

from __future__ import annotations

import errno
import json
import lzma
import math
import os
import stat
import tokenize
import zipfile
import zlib
from pathlib import Path
from typing import NamedTuple

import numpy as np

from .errors import ModelError, ModelFileError
from ..fileio import atomic_write
from .budget import MEMORY_SHARE, BudgetError, machine_memory
from .contract import ContractError, InputContract, default_contract
from .layers import LAYER_TYPES, show_value
from .model import Sequential, layer_from_config

# A parameter array may be as large as VGG-16's first dense layer (411 MB), a file as large as
# VGG-19 (575 MB) with room to spare; the architecture and metadata entries are small (JSON).
# Declared sizes are checked before anything is read, and the total against this machine's memory.
MAX_ENTRY_BYTES = 2**30
MAX_TOTAL_BYTES = 2**31
MAX_JSON_BYTES = 2**20
MAX_TEXT_ENTRY_BYTES = MAX_JSON_BYTES + 2**12  # the JSON and its .npy header
MAX_ENTRIES = 1024
MAX_LAYERS = 256
MAX_INPUT_SIDE = 4096
# Trained weights are of order 1; a larger value is damage (a flipped exponent bit) and would make
# a forward pass overflow float32 (outputs inf, probabilities NaN).
MAX_PARAM_MAGNITUDE = 1e5
# The work and memory a network declares are checked by cnnviz.nn.budget (Sequential does it
# before allocating anything), against this machine's memory.


class NetworkFile(NamedTuple):
    """What :func:`load_network` reads: the network, its metadata and its input contract."""

    model: Sequential
    metadata: dict
    contract: InputContract


def save_model(model: Sequential, path, metadata: dict | None = None,
               contract: InputContract | None = None) -> Path:
    """Write ``model`` to ``path`` atomically (see :func:`cnnviz.fileio.atomic_write`: temporary
    file in the same folder, fsync, rename, fsync of the folder; stale temporary files of killed
    saves are removed).

    ``contract`` (how images become the input, the class names) is recorded in the architecture;
    None records :func:`~cnnviz.nn.contract.default_contract` of the network. A contract that
    does not fit the network raises :class:`~cnnviz.nn.contract.ContractError` before anything
    is written. The name is used as given: no ``.npz`` is appended; a name ending in ``.onnx``
    is written as ONNX (:func:`cnnviz.nn.onnx_export.save_onnx`).
    """
    path = Path(path)
    if path.suffix.lower() == ".onnx":
        from .onnx_export import save_onnx

        return save_onnx(model, path, contract, metadata)
    if contract is None:
        contract = default_contract(model.input_shape, model.output_shape)
    contract.check_network(model.input_shape, model.output_shape)
    arrays = {"architecture": _json_bytes({**model.config(), "input": contract.to_dict()})}
    if metadata is not None:
        arrays["metadata"] = _json_bytes(metadata)
    for name, value in model.named_weights().items():  # parameters and running statistics
        arrays[f"params/{name}"] = np.asarray(value, dtype=np.float32)
    with atomic_write(path) as handle:
        np.savez(handle, **arrays)
    return path


def load_model(path) -> Sequential:
    """Read a model file written by :func:`save_model`; raises :class:`ModelFileError`."""
    return load_model_with_metadata(path)[0]


def load_model_with_metadata(path) -> tuple[Sequential, dict]:
    """Like :func:`load_model`, also returning the file's metadata dict (empty when absent)."""
    network = load_network(path)
    return network.model, network.metadata


def load_network(path) -> NetworkFile:
    """Read a model file: the network, its metadata (empty when absent) and its input contract
    (checked against the network; :func:`~cnnviz.nn.contract.default_contract` for files that
    have none); raises :class:`ModelFileError`. A ``.onnx`` file is read by
    :func:`cnnviz.nn.onnx_io.load_onnx`."""
    path = Path(path)
    if path.suffix.lower() == ".onnx":
        from .onnx_io import load_onnx

        return load_onnx(path)
    arrays = _read_arrays(path)
    config = _parse_json(arrays.pop("architecture", None), "architecture", path, required=True)
    metadata = _parse_json(arrays.pop("metadata", None), "metadata", path, required=False) or {}
    metadata = _without_surrogates(metadata)  # shown by the window, printed by commands
    params = {}
    for key, value in arrays.items():
        if not key.startswith("params/"):
            _fail(path, f"unexpected entry {show_value(key)}")
        params[key[len("params/"):]] = value
    model = _build(config, params, path)
    return NetworkFile(model, metadata, _contract(config, model, path))


def _contract(config: dict, model: Sequential, path) -> InputContract:
    """The file's input contract, checked strictly and against ``model``."""
    if "input" not in config:  # written before contracts: a digit network
        return default_contract(model.input_shape, model.output_shape)
    try:
        contract = InputContract.from_dict(config["input"])
        contract.check_network(model.input_shape, model.output_shape)
    except ContractError as exc:
        _fail(path, f"the input description (what the network takes) is wrong: {exc}")
    return contract


def clean_text(text: str, limit: int = 100) -> str:
    """``text`` without control characters or lone surrogates (which no terminal can print), cut
    to ``limit`` characters; other whitespace becomes a space."""
    out = "".join(ch if ch.isprintable() else " " if ch.isspace() else "" for ch in text)
    return out[:limit]


def _without_surrogates(value):
    """``value`` (parsed JSON) with every lone surrogate in its strings and keys replaced by
    '?', which no encoder can write; iterative, so any depth JSON accepted is fine."""
    def fix(text):
        return text.encode("utf-8", "replace").decode("utf-8")

    if isinstance(value, str):
        return fix(value)
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            pairs = list(item.items())
            item.clear()
            item.update((fix(k), fix(v) if isinstance(v, str) else v) for k, v in pairs)
            stack.extend(v for v in item.values() if isinstance(v, (dict, list)))
        elif isinstance(item, list):
            for i, v in enumerate(item):
                if isinstance(v, str):
                    item[i] = fix(v)
                elif isinstance(v, (dict, list)):
                    stack.append(v)
    return value


def _fail(path, message):
    raise ModelFileError(f"{clean_text(Path(path).name, 200)}: {message}")


def _json_bytes(obj) -> np.ndarray:
    return np.frombuffer(json.dumps(obj).encode("utf-8"), dtype=np.uint8)


# What a failing decoder (zipfile, zlib, lzma, bz2, numpy's header parser) raises, in words.
_DECODER_PROBLEMS = (
    ((zlib.error, lzma.LZMAError, EOFError), "its compressed data is corrupt"),
    ((NotImplementedError,), "it uses a zip feature cnnviz cannot read"),
    ((RuntimeError,), "it is encrypted"),
    ((zipfile.BadZipFile, zipfile.LargeZipFile), "the zip data is damaged"),
    ((SyntaxError, tokenize.TokenError, ValueError, TypeError, OverflowError, KeyError),
     "its array header is invalid"),
    ((MemoryError,), "it declares more data than fits in memory"),
    ((OSError,), "reading the file failed"),
)


def _decoder_problem(exc: BaseException) -> str:
    """One line saying what a decoder's exception means, with its own first line in brackets."""
    if isinstance(exc, OSError) and exc.errno is None:  # bz2's "Invalid data stream"
        what = "its compressed data is corrupt"
    elif isinstance(exc, OSError) and exc.errno != errno.EIO:  # a seek outside the file
        what = "the zip data is damaged"
    else:
        what = next((words for kinds, words in _DECODER_PROBLEMS if isinstance(exc, kinds)),
                    "it cannot be decoded")
    text = str(exc.args[0]) if isinstance(exc, tokenize.TokenError) and exc.args else str(exc)
    detail = clean_text(text.splitlines()[0] if text else type(exc).__name__, 80)
    return f"{what} ({detail})"


def _open_regular_file(path: Path):
    """Open ``path`` for reading, or fail saying what it is: missing, a folder, a FIFO, a loop...

    The open never blocks (O_NONBLOCK: a FIFO with no writer would wait for ever) and the type is
    checked on the open descriptor, so nothing can be swapped in between.
    """
    flags = (os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
             | getattr(os, "O_BINARY", 0))
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        _fail(path, "no such file")
    except IsADirectoryError:
        _fail(path, _NOT_A_FILE["folder"])
    except PermissionError:
        _fail(path, "permission denied: cnnviz may not read this file")
    except OSError as exc:
        kind = _special_kind(path)
        if kind is not None:
            _fail(path, _NOT_A_FILE[kind])
        reasons = {errno.ELOOP: "the path is a loop of symbolic links",
                   errno.ENOTDIR: "no such file (a part of the path is not a folder)",
                   errno.ENAMETOOLONG: "the file name is too long"}
        _fail(path, reasons.get(exc.errno, f"cannot be opened ({clean_text(exc.strerror or str(exc))})"))
    try:
        kind = _kind_of(os.fstat(fd).st_mode)
        if kind is not None:
            _fail(path, _NOT_A_FILE[kind])
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


_NOT_A_FILE = {"folder": "this is a folder, not a network file",
               "fifo": "this is a FIFO (named pipe), not a network file",
               "socket": "this is a socket, not a network file",
               "device": "this is a device, not a network file"}


def _kind_of(mode: int) -> str | None:
    """None for a regular file, else what it is."""
    if stat.S_ISREG(mode):
        return None
    return ("folder" if stat.S_ISDIR(mode) else "fifo" if stat.S_ISFIFO(mode)
            else "socket" if stat.S_ISSOCK(mode) else "device")


def _special_kind(path: Path) -> str | None:
    try:
        return _kind_of(os.stat(path).st_mode)
    except OSError:
        return None


def _read_arrays(path: Path) -> dict[str, np.ndarray]:
    """Every entry of the archive as an array, after checking headers and sizes.

    Any failure of a decoder on the file's bytes is a damaged file: it ends as ModelFileError,
    and a ModelFileError raised on the way is passed on as it is (said once, not wrapped again).
    """
    with _open_regular_file(path) as handle:
        size = os.fstat(handle.fileno()).st_size
        if size > MAX_TOTAL_BYTES:
            _fail(path, f"file is too large ({size:,} bytes)")
        if not zipfile.is_zipfile(handle):
            _fail(path, "not a network file (.npz is a zip archive, this is not one)")
        handle.seek(0)
        try:
            archive = zipfile.ZipFile(handle)
        except Exception as exc:  # noqa: BLE001 - every decoder failure is a damaged file
            _fail(path, f"cannot read the zip archive: {_decoder_problem(exc)}")
        with archive:
            return _read_entries(archive, path)


def _read_entries(archive: zipfile.ZipFile, path: Path) -> dict[str, np.ndarray]:
    infos = archive.infolist()
    if len(infos) > MAX_ENTRIES:
        _fail(path, f"too many entries ({len(infos)})")
    total = sum(info.file_size for info in infos)
    if total > MAX_TOTAL_BYTES:
        _fail(path, f"too large once unpacked ({total:,} bytes)")
    memory = machine_memory()
    if memory is not None and 2 * total > MEMORY_SHARE * memory:  # the bytes, then the arrays
        _fail(path, f"too large for this machine once unpacked ({total / 2**30:.1f} GiB; "
                    f"cnnviz uses at most {MEMORY_SHARE:.0%} of the {memory / 2**30:.0f} GiB)")
    arrays = {}
    for info in infos:
        name = show_value(info.filename)
        if not info.filename.endswith(".npy"):
            _fail(path, f"unexpected entry {name} (not an array)")
        if info.filename[:-4] in arrays:
            _fail(path, f"entry {name} appears twice")
        limit = MAX_ENTRY_BYTES if info.filename.startswith("params/") else MAX_TEXT_ENTRY_BYTES
        if info.file_size > limit:
            _fail(path, f"entry {name} is too large ({info.file_size:,} bytes)")
        if info.flag_bits & 0x41:
            _fail(path, f"entry {name} is encrypted")
        if info.compress_type not in _COMPRESSIONS:
            _fail(path, f"entry {name} uses compression method {info.compress_type}, which "
                        f"cnnviz cannot read (it reads {', '.join(_COMPRESSIONS.values())})")
        if info.extract_version > zipfile.MAX_EXTRACT_VERSION:
            _fail(path, f"entry {name} needs zip version {info.extract_version // 10}."
                        f"{info.extract_version % 10}, newer than the "
                        f"{zipfile.MAX_EXTRACT_VERSION // 10}.{zipfile.MAX_EXTRACT_VERSION % 10} "
                        f"cnnviz reads")
        try:
            with archive.open(info) as member:
                arrays[info.filename[:-4]] = _read_npy(member, name, path)
        except ModelFileError:
            raise
        except Exception as exc:  # noqa: BLE001 - every decoder failure is a damaged file
            _fail(path, f"entry {name} cannot be read: {_decoder_problem(exc)}")
    return arrays


_COMPRESSIONS = {zipfile.ZIP_STORED: "stored", zipfile.ZIP_DEFLATED: "deflate",
                 zipfile.ZIP_BZIP2: "bzip2", zipfile.ZIP_LZMA: "LZMA"}


def _read_npy(member, name, path) -> np.ndarray:
    """One ``.npy`` entry; numpy's own header errors propagate to :func:`_read_entries`."""
    version = np.lib.format.read_magic(member)
    if version == (1, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_1_0(member)
    elif version == (2, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_2_0(member)
    else:
        _fail(path, f"entry {name} has an unsupported array format {version}")
    if dtype.hasobject:
        _fail(path, f"entry {name} holds pickled Python objects, which are never loaded")
    if dtype.kind not in "fu" or dtype.itemsize > 8 or dtype.shape:
        _fail(path, f"entry {name} has unsupported type {clean_text(str(dtype), 40)}")
    if any(v < 0 for v in shape):
        _fail(path, f"entry {name} declares a negative size {show_value(shape)}")
    count = math.prod(shape)  # exact: a shape of 2**70 is just a large number here
    if count * dtype.itemsize > MAX_ENTRY_BYTES:
        _fail(path, f"entry {name} declares a too large array {show_value(shape, 60)}")
    data = member.read(count * dtype.itemsize + 1)
    if len(data) != count * dtype.itemsize:
        _fail(path, f"entry {name} is truncated or has trailing bytes")
    array = np.frombuffer(data, dtype=dtype).reshape(shape, order="F" if fortran else "C")
    return np.array(array, order="C")


def _reject_constant(name):
    raise ValueError(f"{name} is not a number JSON allows")


def _finite_float(text):
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"the number {text[:20]} is beyond the range of a float")
    return value


def _parse_json(array, what, path, required):
    if array is None:
        if required:
            _fail(path, f"no {what} entry: this is not a cnnviz network file")
        return None
    if array.dtype != np.uint8 or array.ndim != 1 or array.size > MAX_JSON_BYTES:
        _fail(path, f"the {what} entry is not JSON text")
    try:
        value = json.loads(array.tobytes().decode("utf-8"), parse_constant=_reject_constant,
                           parse_float=_finite_float)
    except RecursionError:
        _fail(path, f"the {what} is not valid JSON (nested too deeply)")
    except (UnicodeDecodeError, ValueError) as exc:  # JSONDecodeError, int digit limit, NaN
        _fail(path, f"the {what} is not valid JSON ({clean_text(str(exc).splitlines()[0], 100)})")
    if not isinstance(value, dict):
        _fail(path, f"the {what} must be a JSON object")
    return value


def _build(config: dict, params: dict[str, np.ndarray], path) -> Sequential:
    layers_spec = config.get("layers")
    shape = config.get("input_shape")
    if not isinstance(layers_spec, list) or not 0 < len(layers_spec) <= MAX_LAYERS:
        _fail(path, "the architecture has no valid layer list")
    if (not isinstance(shape, list) or len(shape) not in (1, 3)
            or not all(isinstance(v, int) and not isinstance(v, bool) and 0 < v <= MAX_INPUT_SIDE
                       for v in shape)):
        _fail(path, f"the architecture has an invalid input shape {show_value(shape)}")
    layers, used = [], set()
    for index, spec in enumerate(layers_spec):
        if not isinstance(spec, dict):
            _fail(path, f"layer {index} is not an object")
        kind = spec.get("kind")
        if not isinstance(kind, str) or kind not in LAYER_TYPES:
            _fail(path, f"layer {index} has unknown kind {show_value(kind)}")
        try:
            layer = layer_from_config(spec)  # checks each setting's type and range first
        except ModelError as exc:
            _fail(path, f"layer {index}: {exc}")
        for pname in layer.file_arrays():
            name = f"{index}.{pname}"
            if name not in params:
                _fail(path, f"missing parameter {name!r}")
            # Finiteness is checked after the cast: 3.5e38 in float64 is inf in float32.
            with np.errstate(over="ignore", invalid="ignore"):
                array = params[name].astype(np.float32)
            if not np.isfinite(array).all():
                _fail(path, f"parameter {name!r} contains NaN or infinite values "
                            f"(or values beyond the float32 range)")
            largest = float(np.abs(array).max()) if array.size else 0.0
            if largest > MAX_PARAM_MAGNITUDE:
                _fail(path, f"parameter {name!r} holds {largest:.2g}, beyond the "
                            f"±{MAX_PARAM_MAGNITUDE:.0e} of any trained network (a damaged "
                            f"value would make the outputs overflow)")
            if pname == "running_var" and (array < 0).any():
                _fail(path, f"parameter {name!r} holds a negative variance")
            layer.set_file_array(pname, array)
            used.add(name)
        layers.append(layer)
    extra = sorted(set(params) - used)
    if extra:
        _fail(path, f"unexpected parameters {show_value(extra, 80)}")
    name = config.get("name")
    name = clean_text(name if isinstance(name, str) else path.stem) or "network"
    try:
        model = Sequential(layers, tuple(shape), seed=0, name=name)
    except BudgetError as exc:
        _fail(path, f"the network is too large for this machine: {exc}")
    except ModelError as exc:
        _fail(path, f"wrong shape or settings: {exc}")
    return model
