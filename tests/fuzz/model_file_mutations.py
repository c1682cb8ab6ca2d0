"""Hostile network files generated from valid ones, and a runner that loads them.

Every case must end either in a network that loads and runs a forward pass with finite outputs, or
in ``ModelFileError``: never another exception, never more than :data:`CASE_SECONDS`.

Run it by hand for many cases and a count of outcomes::

    PYTHONPATH=. python tests/fuzz/model_file_mutations.py --cases 20000 --seed 1

The pytest entry point is ``tests/fuzz/test_fuzz_model_files.py`` (``CNNVIZ_FUZZ_CASES`` sets its
number of cases).
"""

from __future__ import annotations

import io
import json
import math
import re
import signal
import struct
import sys
import tempfile
import time
import zipfile
from collections import Counter
from pathlib import Path

import numpy as np

from cnnviz.data import image_to_input
from cnnviz.nn import (InputContract, ModelFileError, Sequential, build_preset, load_network,
                       save_model)
from cnnviz.nn.layers import LAYER_TYPES
from cnnviz.nn.model import layer_from_config

CASE_SECONDS = 2.0

# ------------------------------------------------------------------ valid starting points
EVERY_KIND = [
    {"kind": "Conv2D", "out_channels": 3, "kernel_size": 3, "padding": "same"},
    {"kind": "BatchNorm", "momentum": 0.2},
    {"kind": "LeakyReLU", "alpha": 0.1},
    {"kind": "MaxPool2D", "size": 2},
    {"kind": "Conv2D", "out_channels": 4, "kernel_size": [2, 3], "dilation": 2, "padding": 1},
    {"kind": "Tanh"},
    {"kind": "AvgPool2D", "size": 2, "stride": 1, "padding": "same"},
    {"kind": "Softplus"},
    {"kind": "GlobalAvgPool2D"},
    {"kind": "Flatten"},
    {"kind": "Dropout", "rate": 0.25},
    {"kind": "Dense", "out_features": 12},
    {"kind": "BatchNorm", "eps": 0.001},
    {"kind": "Sigmoid"},
    {"kind": "Dense", "out_features": 10, "use_bias": False},
    {"kind": "ReLU"},
    {"kind": "Softmax"},
]


COLOUR_CONTRACT = InputContract(
    (3, 32, 32), ("plane", "car", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"),
    "image", fit="pad", fill=0.5, mean=(0.49, 0.48, 0.45), std=(0.25, 0.24, 0.26))


def base_files() -> list[bytes]:
    """Valid network files: two presets (digits, and colour with a full input contract) and one
    holding every layer kind, in several zip flavours."""
    models = [(build_preset("tiny", seed=3), None),
              (Sequential([layer_from_config(s) for s in EVERY_KIND], (2, 12, 12), seed=4,
                          name="every kind"), None),
              (build_preset("cifar-tutorial", seed=5), COLOUR_CONTRACT)]
    files = []
    with tempfile.TemporaryDirectory() as folder:
        for i, (model, contract) in enumerate(models):
            path = Path(folder) / f"m{i}.npz"
            save_model(model, path, metadata={"accuracy": 0.5, "note": "fuzz"}, contract=contract)
            raw = path.read_bytes()
            files.append(raw)
            for method in (zipfile.ZIP_DEFLATED, zipfile.ZIP_LZMA, zipfile.ZIP_BZIP2):
                files.append(rezip(raw, method))
    return files


def members(raw: bytes) -> list[tuple[str, bytes]]:
    with zipfile.ZipFile(io.BytesIO(raw)) as archive:
        return [(info.filename, archive.read(info)) for info in archive.infolist()]


def build_zip(entries, method=zipfile.ZIP_STORED) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", method) as archive:
        for name, data in entries:
            archive.writestr(name, data)
    return out.getvalue()


def rezip(raw: bytes, method) -> bytes:
    return build_zip(members(raw), method)


# ------------------------------------------------------------------ zip header surgery
def header_positions(raw: bytes):
    """(local header offset, central header offset, name) of every entry."""
    end = raw.rfind(b"PK\x05\x06")
    count = struct.unpack_from("<H", raw, end + 10)[0]
    pos = struct.unpack_from("<I", raw, end + 16)[0]
    out = []
    for _ in range(count):
        n, m, k = struct.unpack_from("<HHH", raw, pos + 28)
        local = struct.unpack_from("<I", raw, pos + 42)[0]
        out.append((local, pos, raw[pos + 46:pos + 46 + n]))
        pos += 46 + n + m + k
    return out


# field: (offset in the local header, offset in the central header, struct format)
FIELDS = {"version": (4, 6, "<H"), "flags": (6, 8, "<H"), "method": (8, 10, "<H"),
          "crc": (14, 16, "<I"), "compressed_size": (18, 20, "<I"), "file_size": (22, 24, "<I")}


def patch(raw: bytes, rng, field: str, value) -> bytes:
    data = bytearray(raw)
    local_off, central_off, fmt = FIELDS[field]
    positions = header_positions(raw)
    chosen = positions if rng.random() < 0.3 else [positions[rng.integers(len(positions))]]
    where = rng.integers(3)  # local only, central only, both
    for local, central, _ in chosen:
        if where in (0, 2):
            struct.pack_into(fmt, data, local + local_off, value)
        if where in (1, 2):
            struct.pack_into(fmt, data, central + central_off, value)
    return bytes(data)


# ------------------------------------------------------------------ mutators: bytes and zip
def m_byte_flip(rng, raw):
    data = bytearray(raw)
    for _ in range(rng.integers(1, 9)):
        data[rng.integers(len(data))] ^= int(rng.integers(1, 256))
    return bytes(data)


def m_truncate(rng, raw):
    return raw[:rng.integers(len(raw))]


def m_zip_method(rng, raw):
    value = int(rng.choice([1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 13, 15, 16, 17, 18, 19, 20, 93, 94,
                            95, 96, 97, 98, 99, 0xFFFF, 8, 12, 14, 0]))
    return patch(raw, rng, "method", value)


def m_zip_flags(rng, raw):
    value = int(rng.choice([0x1, 0x40, 0x20, 0x8, 0x800, 0x2000, 0x41, 0x21,
                            int(rng.integers(0, 2**16))]))
    return patch(raw, rng, "flags", value)


def m_zip_version(rng, raw):
    value = int(rng.choice([64, 65, 99, 255, 0xFFFF, int(rng.integers(0, 2**16)), 63, 20, 0]))
    return patch(raw, rng, "version", value)


def m_zip_crc(rng, raw):
    return patch(raw, rng, "crc", int(rng.integers(0, 2**32)))


def m_zip_sizes(rng, raw):
    field = str(rng.choice(["compressed_size", "file_size"]))
    positions = header_positions(raw)
    local, central, _ = positions[rng.integers(len(positions))]
    current = struct.unpack_from("<I", raw, central + FIELDS[field][1])[0]
    value = int(rng.choice([0, 1, max(current - int(rng.integers(1, 100)), 0), current + 1,
                            current + int(rng.integers(1, 10**6)), 2**32 - 1,
                            int(rng.integers(0, 2**32))]))
    return patch(raw, rng, field, value % 2**32)


def m_member_corrupt(rng, raw):
    """A member made by zipfile's own compressor, its compressed bytes then corrupted."""
    method = int(rng.choice([zipfile.ZIP_DEFLATED, zipfile.ZIP_LZMA, zipfile.ZIP_BZIP2]))
    packed = bytearray(rezip(raw, method))
    with zipfile.ZipFile(io.BytesIO(bytes(packed))) as archive:
        infos = archive.infolist()
    info = infos[rng.integers(len(infos))]
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    size = max(info.compress_size, 1)
    for _ in range(rng.integers(1, 6)):
        packed[start + int(rng.integers(size))] ^= int(rng.integers(1, 256))
    if rng.random() < 0.3:  # and cut it short
        cut = start + int(rng.integers(size))
        packed = packed[:cut] + packed[start + size:]
    return bytes(packed)


# ------------------------------------------------------------------ mutators: .npy headers
DTYPES = ["'<f4'", "'>f4'", "'<f8'", "'<f2'", "'|u1'", "'<i4'", "'|O'", "'<U8'", "'|V8'",
          "'bogus'", "'<c8'", "[('a', '<f4')]", "('<f4', (2,))", "'<f16'", "'<M8'", "'|b1'"]


def npy_header(rng, shape, descr, fortran):
    choice = rng.integers(12)
    shape_text = repr(tuple(shape))
    if choice == 0:
        shape_text = "(3, 3"  # unbalanced bracket
    elif choice == 1:
        shape_text = f"({2**70},)"
    elif choice == 2:
        shape_text = repr(tuple(int(v) for v in rng.choice([2**31, 2**32, 2**63 - 1, 2**64, -1, 0, 7],
                                                            rng.integers(1, 5))))
    elif choice == 3:
        shape_text = "(" + "1, " * int(rng.integers(30, 70)) + ")"
    elif choice == 4:
        descr = str(rng.choice(DTYPES))
    elif choice == 5:
        fortran = not fortran
    elif choice == 6:
        return b"{'descr': " + descr.encode() + b", 'shape': " + shape_text.encode() + b"}"
    elif choice == 7:
        return b"[" * int(rng.integers(1, 5000))
    elif choice == 8:
        shape_text = "(2**70,)"
    elif choice == 9:
        shape_text = "(" + "(" * int(rng.integers(100, 3000)) + ")"
    elif choice == 10:
        return b"{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'x': lambda: 0}"
    text = f"{{'descr': {descr}, 'fortran_order': {fortran}, 'shape': {shape_text}, }}"
    return text.encode()


def m_npy_header(rng, raw):
    entries = members(raw)
    index = int(rng.integers(len(entries)))
    name, data = entries[index]
    buffer = io.BytesIO(data)
    version = np.lib.format.read_magic(buffer)
    read = (np.lib.format.read_array_header_1_0 if version == (1, 0)
            else np.lib.format.read_array_header_2_0)
    shape, fortran, dtype = read(buffer)
    payload = data[buffer.tell():]
    header = npy_header(rng, shape, repr(dtype.str), fortran)
    major = int(rng.choice([1, 1, 1, 2, 3, 0]))
    length_format = "<H" if major == 1 else "<I"
    pad = (-(6 + 2 + struct.calcsize(length_format) + len(header) + 1)) % 64
    header = header + b" " * pad + b"\n"
    length = len(header)
    if rng.random() < 0.15:
        length += int(rng.integers(-20, 20))
    length = min(max(length, 0), 2**16 - 1 if major == 1 else 2**32 - 1)
    entries[index] = (name, b"\x93NUMPY" + bytes([major, 0]) + struct.pack(length_format, length)
                      + header + payload)
    return build_zip(entries)


# ------------------------------------------------------------------ mutators: JSON
def hostile_values(rng):
    return ["x", "", [], [1], [1, 2, 3], {}, None, True, False, -1, 0, 1, 2**31, 2**63, 2**64,
            1.5, -0.0, 1e308, [1, "a"], [2**70, 1], {"a": 1}, "same", "valid", 0.999999,
            int(rng.integers(-100, 100)), float(rng.standard_normal() * 10), "\ud800", 65, 4097,
            [64, 65], [0, 0]]


# Raw JSON text for values json.dumps cannot make, inserted by placeholder.
RAW_VALUES = ["NaN", "Infinity", "-Infinity", "1e400", "-1e400", "1" + "0" * 400,
              "7" * 5000, '"\\ud800"', '"\\udfff\\u0000"', "[" * 3000 + "]" * 3000]


def dump(config, raw_slots) -> bytes:
    text = json.dumps(config)
    for i, raw in enumerate(raw_slots):
        text = text.replace(json.dumps(f"@@RAW{i}@@"), raw)
    return text.encode("utf-8", "surrogatepass")


def mutate_config(rng, config):
    """Change one thing in the architecture; returns (config, raw JSON slots)."""
    layers = config["layers"]
    raw_slots = []

    def raw(text):
        raw_slots.append(text)
        return f"@@RAW{len(raw_slots) - 1}@@"

    pick = rng.integers(16)
    layer = layers[rng.integers(len(layers))] if layers else {}
    if pick >= 12:  # the input contract
        mutate_contract(rng, config, raw)
    elif pick <= 3:  # a wrong value for every setting of every kind, in turn
        cls = LAYER_TYPES.get(layer.get("kind"))
        keys = list(getattr(cls, "SETTINGS", {})) or ["alpha", "rate", "size"]
        key = str(rng.choice(keys + ["bogus"]))
        pool = hostile_values(rng)
        layer[key] = raw(str(rng.choice(RAW_VALUES))) if rng.random() < 0.3 else \
            pool[rng.integers(len(pool))]
    elif pick == 4:
        layer["kind"] = [["Conv2D"], {"k": 1}, 3, None, "Eval", "\udcff", "conv2d",
                         str(rng.choice(list(LAYER_TYPES)))][rng.integers(8)]
    elif pick == 5:
        config["name"] = ["a\ud800b", "x\x1b[2J\n\r\t", "n" * 100_000, 12, ["a"], None,
                          raw('"\\udc80"')][rng.integers(7)]
    elif pick == 6:
        config["input_shape"] = [[1, 28], [0, 28, 28], [1, 4097, 28], [True, 28, 28], [1.0, 28, 28],
                                 [3, 4096, 4096], [1] * 5, "1x28x28", None,
                                 [raw("NaN"), 28, 28]][rng.integers(10)]
    elif pick == 7:  # structure of the layer list
        what = rng.integers(4)
        if what == 0 and layers:
            del layers[rng.integers(len(layers))]
        elif what == 1 and layers:
            layers.insert(int(rng.integers(len(layers) + 1)), dict(layers[rng.integers(len(layers))]))
        elif what == 2 and len(layers) > 1:
            i, j = rng.choice(len(layers), 2, replace=False)
            layers[i], layers[j] = layers[j], layers[i]
        else:
            config["layers"] = [[], {}, None, "layers", layers * 300][rng.integers(5)]
    elif pick == 8:
        config.pop(str(rng.choice(["layers", "input_shape", "name", "format"])), None)
    elif pick == 9:
        layer[str(rng.choice(["kind", "x", "\ud800", ""]))] = raw(str(rng.choice(RAW_VALUES)))
    elif pick == 10:
        config = [config]
    else:
        config["layers"] = raw("[" * int(rng.integers(1000, 100_001)))
    return config, raw_slots


CONTRACT_KEYS = ["format", "version", "shape", "classes", "pipeline", "fit", "fill", "mean", "std"]


def mutate_contract(rng, config, raw):
    """Change one thing in the architecture's "input" (the input contract)."""
    contract = config.get("input")
    if not isinstance(contract, dict):
        return
    pool = hostile_values(rng) + ["digits", "image", "none", "crop", "pad", "cnnviz-input",
                                  [3, 32, 32], [1, 28, 28], [0.5, 0.5, 0.5], [0.0, 0.0, 0.0]]
    what = rng.integers(6)
    if what <= 1:  # a wrong value for one field
        key = str(rng.choice(CONTRACT_KEYS + ["bogus", "\ud800"]))
        contract[key] = raw(str(rng.choice(RAW_VALUES))) if rng.random() < 0.25 else \
            pool[rng.integers(len(pool))]
    elif what == 2:  # one field gone
        contract.pop(str(rng.choice(CONTRACT_KEYS)), None)
    elif what == 3:  # the class names: one too few or too many, twice, odd text, huge
        names = contract.get("classes")
        if not isinstance(names, list) or not names:
            return
        how = rng.integers(6)
        if how == 0:
            del names[rng.integers(len(names))]
        elif how == 1:
            names.append(str(rng.choice(["extra", names[0]])))
        elif how == 2:
            names[rng.integers(len(names))] = names[(rng.integers(len(names)) + 1) % len(names)]
        elif how == 3:
            names[rng.integers(len(names))] = ["", " ", "x" * 129, "a\x1b[2J", "\ud800", 7, None,
                                               ["cat"], "é" * 64][rng.integers(9)]
        elif how == 4:
            contract["classes"] = [f"c{i}" for i in range(int(rng.choice([0, 11, 10_001, 100_000])))]
        else:
            names[rng.integers(len(names))] = raw(str(rng.choice(RAW_VALUES)))
    elif what == 4:  # per-channel numbers
        key = str(rng.choice(["mean", "std"]))
        values = contract.get(key)
        if isinstance(values, list) and values:
            values[rng.integers(len(values))] = [0.0, -1.0, 1e-30, 1e300, 2**70, True, "0.5", None,
                                                 1e-4, 1000.0, raw("NaN")][rng.integers(11)]
    else:
        config["input"] = [None, [], "digits", 3, {}, raw(str(rng.choice(RAW_VALUES))),
                           contract][rng.integers(7)]
        if rng.random() < 0.3:
            config.pop("input")  # as files written before contracts: loads as its default


def m_json(rng, raw):
    entries = dict(members(raw))
    target = "architecture.npy" if rng.random() < 0.85 or "metadata.npy" not in entries \
        else "metadata.npy"
    text = np.load(io.BytesIO(entries[target]), allow_pickle=False).tobytes()
    how = rng.integers(10)
    if how == 0:  # text level: insert, delete or replace characters
        chars = bytearray(text)
        for _ in range(rng.integers(1, 6)):
            pos = int(rng.integers(len(chars) + 1))
            op = rng.integers(3)
            if op == 0:
                chars[pos:pos] = bytes([int(rng.choice(list(b'[]{}",:0123456789e-.\\\xff\xc0')))])
            elif op == 1:
                del chars[pos:pos + 1]
            else:
                chars[pos:pos + 1] = b"\xed\xa0\x80"  # a UTF-8 encoded surrogate
        new = bytes(chars)
    elif how == 1:  # a number made huge or NaN
        numbers = [m.span() for m in re.finditer(rb"-?\d+(\.\d+)?", text)]
        if not numbers:
            return raw
        a, b = numbers[rng.integers(len(numbers))]
        new = text[:a] + str(rng.choice(RAW_VALUES[:7])).encode() + text[b:]
    elif target == "metadata.npy":
        value = [{"accuracy": "@@RAW0@@"}, "@@RAW0@@", {"a\ud800": [1] * 1000}, [], 7][rng.integers(5)]
        new = dump(value, [str(rng.choice(RAW_VALUES))])
    else:
        new, slots = mutate_config(rng, json.loads(text))
        new = dump(new, slots)
    entries[target] = npy_bytes(np.frombuffer(new, np.uint8))
    return build_zip(entries.items())


def npy_bytes(array) -> bytes:
    out = io.BytesIO()
    np.lib.format.write_array(out, array, allow_pickle=False)
    return out.getvalue()


# ------------------------------------------------------------------ mutators: enormous work
def m_architecture(rng, raw):
    """A consistent network (weights of the right shapes) whose size is drawn log-uniformly:
    most are small, some declare minutes of work or hundreds of GiB."""
    enormous = rng.random() < 0.3  # the largest input and windows, or sizes drawn log-uniformly
    side = lambda hi: hi if enormous and rng.random() < 0.7 else \
        int(round(math.exp(rng.uniform(0, math.log(hi)))))  # noqa: E731
    shape = (int(rng.integers(1, 4)), side(4096), side(4096))
    specs = []
    for _ in range(rng.integers(1, 5)):
        kind = str(rng.choice(["Conv2D", "MaxPool2D", "AvgPool2D", "ReLU", "Tanh"]))
        if kind == "Conv2D":
            specs.append({"kind": kind, "out_channels": int(rng.integers(1, 9)),
                          "kernel_size": side(64), "stride": int(rng.integers(1, 4)),
                          "dilation": int(rng.integers(1, 3)),
                          "padding": str(rng.choice(["valid", "same"]))})
        elif kind.endswith("Pool2D"):
            size = side(64)
            stride = 1 if enormous else int(rng.integers(1, size + 1))
            specs.append({"kind": kind, "size": size, "stride": stride})
        else:
            specs.append({"kind": kind})
    specs.append({"kind": "Flatten"})
    params, current = {}, shape
    try:
        for index, spec in enumerate(specs):
            layer = layer_from_config(spec)
            out = layer._output_shape(current)
            if spec["kind"] == "Conv2D":
                w = (spec["out_channels"], current[0]) + layer.kernel_size
                params[f"{index}.weight"] = rng.standard_normal(w).astype(np.float32) * 0.1
                params[f"{index}.bias"] = np.zeros(w[0], np.float32)
            current = out
        flat = int(np.prod(current))
        if flat * 10 <= 2**22:
            specs.append({"kind": "Dense", "out_features": 10})
            params[f"{len(specs) - 1}.weight"] = rng.standard_normal((10, flat)).astype(np.float32) * 0.01
            params[f"{len(specs) - 1}.bias"] = np.zeros(10, np.float32)
    except Exception:  # noqa: BLE001 - a network that does not fit is a case too
        pass
    config = {"format": "cnnviz-sequential", "version": 1, "name": "work", "input_shape": list(shape),
              "layers": specs}
    entries = [("architecture.npy", npy_bytes(np.frombuffer(json.dumps(config).encode(), np.uint8)))]
    entries += [(f"params/{k}.npy", npy_bytes(v)) for k, v in params.items()
                if v.nbytes <= 2**20]  # keep files small: a missing weight is a case as well
    return build_zip(entries)


MUTATORS = {
    "byte_flip": m_byte_flip, "truncate": m_truncate, "zip_method": m_zip_method,
    "zip_flags": m_zip_flags, "zip_version": m_zip_version, "zip_crc": m_zip_crc,
    "zip_sizes": m_zip_sizes, "member_corrupt": m_member_corrupt, "npy_header": m_npy_header,
    "json": m_json, "architecture": m_architecture,
}
# JSON and architecture mutations have the most shapes: draw them more often.
WEIGHTS = {name: 3.0 if name in ("json", "npy_header") else 1.5 if name == "architecture" else 1.0
           for name in MUTATORS}


def generate(seed: int, count: int, bases: list[bytes] | None = None):
    """Yield ``(index, mutator name, file bytes)`` for ``count`` cases from ``seed``."""
    bases = base_files() if bases is None else bases
    names = list(MUTATORS)
    p = np.array([WEIGHTS[n] for n in names])
    p /= p.sum()
    for index in range(count):
        rng = np.random.default_rng([seed, index])
        name = names[rng.choice(len(names), p=p)]
        yield index, name, MUTATORS[name](rng, bases[rng.integers(len(bases))])


# ------------------------------------------------------------------ running one case
class CaseTimeout(Exception):
    pass


def _alarm(signum, frame):
    raise CaseTimeout()


def message_class(message: str) -> str:
    """A ModelFileError message without the file name, quoted names and numbers."""
    text = message.split(": ", 1)[-1]
    text = re.sub(r"'[^']*'|\"[^\"]*\"", "'…'", text)
    text = re.sub(r"\([^()]*\)", "(…)", text)
    text = re.sub(r"-?\d[\d,.e+x-]*", "N", text)
    return text[:70]


# Pessimistic rates for the time a forward pass the budget admits may take on a loaded machine
# (BLAS does ~5e10 multiply-adds/s and numpy 2e8-2e9 element moves/s when the machine is idle).
SLOW_MACS_PER_SECOND = 1e9
SLOW_MOVES_PER_SECOND = 2e7


def forward_allowance(model) -> float:
    """Seconds a forward pass of ``model`` may take: CASE_SECONDS, plus what the budget's own
    counts give at pessimistic rates (a network the budget admits may be slow, never unbounded)."""
    from cnnviz.nn.budget import estimate

    cost = estimate(model.layers, model.input_shape)
    return CASE_SECONDS + cost.macs / SLOW_MACS_PER_SECOND + cost.moves / SLOW_MOVES_PER_SECOND


def run_case(path: Path, data: bytes, limit: float = CASE_SECONDS) -> tuple[str, str, float]:
    """Write and load one case; returns (outcome, detail, seconds).

    outcome: "loaded"; "loaded (large)" when the forward pass took more than ``limit`` but within
    the budget's allowance; "ModelFileError"; "slow" (loading over ``limit``, or the forward pass
    over its allowance); or "other" (any other exception, a multi-line message, non-finite
    outputs).
    """
    path.write_bytes(data)
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, 60.0)
    start = time.perf_counter()
    try:
        try:
            model, _, contract = load_network(path)
        except ModelFileError as exc:
            seconds = time.perf_counter() - start
            message = str(exc)
            if "\n" in message or "Traceback" in message:
                return "other", f"multi-line message {message[:200]!r}", seconds
            if seconds > limit:
                return "slow", f"refusing took {seconds:.2f} s: {message[:100]}", seconds
            return "ModelFileError", message, seconds
        loading = time.perf_counter() - start
        if loading > limit:
            return "slow", f"loading took {loading:.2f} s", loading
        allowance = forward_allowance(model)
        x = np.random.default_rng(0).random((1,) + model.input_shape, dtype=np.float32)
        if contract.pipeline != "none":  # what a loaded contract makes of a photo fits the network
            photo = np.random.default_rng(1).random((19, 33, 3), dtype=np.float32)
            x = image_to_input(photo, contract).x[None]
            if x.shape[1:] != model.input_shape or not np.isfinite(x).all():
                return "other", f"the pipeline made {x.shape}, finite {np.isfinite(x).all()}", \
                    time.perf_counter() - start
        out = model.forward(x)
        seconds = time.perf_counter() - start
        if not np.isfinite(out).all():
            return "other", "non-finite outputs", seconds
        if seconds > allowance:
            return "slow", f"forward pass took {seconds:.2f} s, over {allowance:.1f} s", seconds
        return ("loaded (large)" if seconds > limit else "loaded"), "", seconds
    except CaseTimeout:
        return "slow", "over a minute", time.perf_counter() - start
    except Exception as exc:  # noqa: BLE001 - this is what the fuzzer looks for
        return "other", f"{type(exc).__name__}: {str(exc)[:200]}", time.perf_counter() - start
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def main(argv=None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keep", type=Path, help="folder to copy failing cases to")
    args = parser.parse_args(argv)
    from cnnviz.nn.threads import prepare_process

    prepare_process()
    outcomes, classes, by_mutator, failures = Counter(), Counter(), Counter(), []
    slowest = (0.0, "")
    seconds_by_mutator = Counter()
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "case.npz"
        for index, name, data in generate(args.seed, args.cases):
            outcome, detail, seconds = run_case(path, data)
            outcomes[outcome] += 1
            by_mutator[(name, outcome)] += 1
            slowest = max(slowest, (seconds, f"case {index} ({name})"))
            seconds_by_mutator[name] += seconds
            if outcome == "ModelFileError":
                classes[message_class(detail)] += 1
            elif not outcome.startswith("loaded"):
                failures.append((index, name, outcome, detail))
                if args.keep:
                    args.keep.mkdir(parents=True, exist_ok=True)
                    (args.keep / f"case{index}-{name}.npz").write_bytes(data)
    print(f"{args.cases} cases, seed {args.seed}, {time.perf_counter() - start:.1f} s; "
          f"slowest {slowest[0]:.2f} s ({slowest[1]})")
    for outcome, n in outcomes.most_common():
        print(f"  {outcome:15} {n}")
    print("seconds by mutator:", {k: round(v, 1) for k, v in seconds_by_mutator.items()})
    print("by mutator:")
    for (name, outcome), n in sorted(by_mutator.items()):
        print(f"  {name:15} {outcome:15} {n}")
    print("ModelFileError by message class:")
    for text, n in classes.most_common():
        print(f"  {n:6}  {text}")
    for failure in failures[:50]:
        print("FAILURE", *failure)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
