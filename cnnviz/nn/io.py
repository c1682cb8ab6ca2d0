"""Model files: one ``.npz`` holding a JSON architecture and the parameter arrays.

Layout of the archive (every entry a plain ``.npy`` array, never a pickle):

- ``architecture``: uint8 bytes of the UTF-8 JSON from :meth:`Sequential.config`;
- ``metadata``: optional uint8 bytes of a JSON object (how the network was made, its accuracy);
- ``params/<layer>.<name>``: float32 parameter arrays, e.g. ``params/0.weight``.

Loading trusts nothing in the file: it checks that it is a zip, reads every ``.npy`` header before
any data (shape, dtype, size caps), refuses object arrays, validates the JSON schema, builds the
network from the file's own arrays (so no allocation is driven by the architecture alone), and checks
names, shapes and finiteness.  Every problem is reported as :class:`ModelFileError`.
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from .errors import ModelError, ModelFileError
from .layers import LAYER_TYPES
from .model import Sequential, layer_from_config

MAX_ENTRY_BYTES = 64 * 2**20
MAX_TOTAL_BYTES = 256 * 2**20
MAX_JSON_BYTES = 2**20
MAX_ENTRIES = 1024
MAX_LAYERS = 256
MAX_ACTIVATIONS = 32 * 2**20  # elements per sample, summed over layers
_INT_LIMITS = {"in_channels": 4096, "out_channels": 4096, "in_features": 2**20,
               "out_features": 2**20, "kernel_size": 64, "stride": 64, "dilation": 64, "size": 64,
               "padding": 64}


def save_model(model: Sequential, path, metadata: dict | None = None) -> Path:
    """Write ``model`` to ``path`` atomically (temporary file in the same folder, then rename).

    The name is used as given: no ``.npz`` is appended.
    """
    path = Path(path)
    arrays = {"architecture": _json_bytes(model.config())}
    if metadata is not None:
        arrays["metadata"] = _json_bytes(metadata)
    for name, value in model.named_params().items():
        arrays[f"params/{name}"] = np.asarray(value, dtype=np.float32)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent or ".")
    try:
        with os.fdopen(fd, "wb") as handle:
            np.savez(handle, **arrays)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, _file_mode(path))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _file_mode(path: Path) -> int:
    """The mode a new file would get (``mkstemp`` makes private ones), or the existing file's."""
    try:
        return path.stat().st_mode & 0o777
    except OSError:
        mask = os.umask(0)
        os.umask(mask)
        return 0o666 & ~mask


def load_model(path) -> Sequential:
    """Read a model file written by :func:`save_model`; raises :class:`ModelFileError`."""
    return load_model_with_metadata(path)[0]


def load_model_with_metadata(path) -> tuple[Sequential, dict]:
    """Like :func:`load_model`, also returning the file's metadata dict (empty when absent)."""
    path = Path(path)
    arrays = _read_arrays(path)
    config = _parse_json(arrays.pop("architecture", None), "architecture", path, required=True)
    metadata = _parse_json(arrays.pop("metadata", None), "metadata", path, required=False) or {}
    params = {}
    for key, value in arrays.items():
        if not key.startswith("params/"):
            raise ModelFileError(f"{path.name}: unexpected entry {key!r}")
        params[key[len("params/"):]] = value
    model = _build(config, params, path)
    return model, metadata


def _fail(path, message):
    raise ModelFileError(f"{Path(path).name}: {message}")


def _json_bytes(obj) -> np.ndarray:
    return np.frombuffer(json.dumps(obj).encode("utf-8"), dtype=np.uint8)


def _read_arrays(path: Path) -> dict[str, np.ndarray]:
    """Every entry of the archive as an array, after checking headers and sizes."""
    if not path.is_file():
        _fail(path, "no such file")
    if path.stat().st_size > MAX_TOTAL_BYTES:
        _fail(path, f"file is too large ({path.stat().st_size:,} bytes)")
    if not zipfile.is_zipfile(path):
        _fail(path, "not a network file (.npz is a zip archive, this is not one)")
    arrays = {}
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
            if len(infos) > MAX_ENTRIES:
                _fail(path, f"too many entries ({len(infos)})")
            total = sum(info.file_size for info in infos)
            if total > MAX_TOTAL_BYTES:
                _fail(path, f"too large once unpacked ({total:,} bytes)")
            for info in infos:
                if not info.filename.endswith(".npy"):
                    _fail(path, f"unexpected entry {info.filename!r} (not an array)")
                if info.file_size > MAX_ENTRY_BYTES:
                    _fail(path, f"entry {info.filename!r} is too large ({info.file_size:,} bytes)")
                with archive.open(info) as member:
                    arrays[info.filename[:-4]] = _read_npy(member, info, path)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        _fail(path, f"damaged archive ({exc})")
    return arrays


def _read_npy(member, info, path) -> np.ndarray:
    name = info.filename
    try:
        version = np.lib.format.read_magic(member)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(member)
        elif version == (2, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(member)
        else:
            _fail(path, f"entry {name!r} has an unsupported array format {version}")
    except ValueError as exc:
        _fail(path, f"entry {name!r} is not a valid array ({exc})")
    if dtype.hasobject:
        _fail(path, f"entry {name!r} holds pickled Python objects, which are never loaded")
    if dtype.kind not in "fu" or dtype.itemsize > 8:
        _fail(path, f"entry {name!r} has unsupported type {dtype}")
    count = int(np.prod(shape, dtype=np.int64)) if shape else 1
    if count * dtype.itemsize > MAX_ENTRY_BYTES:
        _fail(path, f"entry {name!r} declares a too large array {shape}")
    data = member.read(count * dtype.itemsize + 1)
    if len(data) != count * dtype.itemsize:
        _fail(path, f"entry {name!r} is truncated or has trailing bytes")
    array = np.frombuffer(data, dtype=dtype).reshape(shape, order="F" if fortran else "C")
    return np.array(array, order="C")


def _parse_json(array, what, path, required):
    if array is None:
        if required:
            _fail(path, f"no {what} entry: this is not a cnnviz network file")
        return None
    if array.dtype != np.uint8 or array.ndim != 1 or array.size > MAX_JSON_BYTES:
        _fail(path, f"the {what} entry is not JSON text")
    try:
        value = json.loads(array.tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        _fail(path, f"the {what} is not valid JSON ({exc})")
    if not isinstance(value, dict):
        _fail(path, f"the {what} must be a JSON object")
    return value


def _check_setting(path, index, key, value):
    limit = _INT_LIMITS.get(key)
    if limit is None:
        return
    values = value if isinstance(value, list) else [value]
    for v in values:
        if isinstance(v, str) and key == "padding":
            continue
        if not isinstance(v, int) or isinstance(v, bool) or not 0 <= v <= limit:
            _fail(path, f"layer {index}: setting {key}={value!r} is out of range")


def _build(config: dict, params: dict[str, np.ndarray], path) -> Sequential:
    layers_spec = config.get("layers")
    shape = config.get("input_shape")
    if not isinstance(layers_spec, list) or not 0 < len(layers_spec) <= MAX_LAYERS:
        _fail(path, "the architecture has no valid layer list")
    if (not isinstance(shape, list) or len(shape) not in (1, 3)
            or not all(isinstance(v, int) and 0 < v <= 4096 for v in shape)):
        _fail(path, f"the architecture has an invalid input shape {shape!r}")
    layers, used = [], set()
    for index, spec in enumerate(layers_spec):
        if not isinstance(spec, dict):
            _fail(path, f"layer {index} is not an object")
        if spec.get("kind") not in LAYER_TYPES:
            _fail(path, f"layer {index} has unknown kind {spec.get('kind')!r}")
        for key, value in spec.items():
            _check_setting(path, index, key, value)
        try:
            layer = layer_from_config(spec)
        except ModelError as exc:
            _fail(path, f"layer {index}: {exc}")
        for pname in ("weight", "bias"):
            wanted = hasattr(layer, "weight_init") and (pname == "weight" or layer.use_bias)
            name = f"{index}.{pname}"
            if wanted and name not in params:
                _fail(path, f"missing parameter {name!r}")
            if wanted:
                array = params[name]
                if not np.isfinite(array).all():
                    _fail(path, f"parameter {name!r} contains NaN or infinite values")
                setattr(layer, f"{pname}_init", array.astype(np.float32))
                used.add(name)
        layers.append(layer)
    extra = sorted(set(params) - used)
    if extra:
        _fail(path, f"unexpected parameters {extra}")
    try:
        model = Sequential(layers, tuple(shape), seed=0, name=str(config.get("name", path.stem))[:100])
    except ModelError as exc:
        _fail(path, f"wrong shape or settings: {exc}")
    activations = sum(int(np.prod(layer.output_shape)) for layer in model.layers)
    if activations > MAX_ACTIVATIONS:
        _fail(path, f"the network's activations are too large ({activations:,} values per image)")
    return model
