"""Damaged network files: every one ends in one clean ModelFileError, said once, in one line."""

import io
import json
import os
import socket
import struct
import zipfile

import numpy as np
import pytest

from cnnviz.nn import ModelFileError, build_preset, load_model, save_model
from cnnviz.nn.io import load_model_with_metadata
from npz_files import entries, write_npz


@pytest.fixture
def saved(tmp_path):
    path = tmp_path / "net.npz"
    save_model(build_preset("tiny", seed=1), path)
    return path



def with_architecture(saved, tmp_path, text: str):
    arrays = entries(saved)
    arrays["architecture"] = np.frombuffer(text.encode("utf-8", "surrogatepass"), np.uint8)
    return write_npz(tmp_path / "x.npz", arrays)


def edit_config(saved, tmp_path, change):
    config = json.loads(entries(saved)["architecture"].tobytes())
    change(config)
    return with_architecture(saved, tmp_path, json.dumps(config))


def failure(path) -> str:
    with pytest.raises(ModelFileError) as info:
        load_model(path)
    message = str(info.value)
    assert "\n" not in message and message.count(path.name if hasattr(path, "name") else "") <= 1
    message.encode("ascii", "strict") if message.isascii() else message.encode("utf-8")
    return message


def rezip(saved, tmp_path, compression, compresslevel=None):
    """The same entries written with one of zipfile's own compressors."""
    out = tmp_path / f"c{compression}.npz"
    with zipfile.ZipFile(saved) as src, zipfile.ZipFile(out, "w", compression,
                                                        compresslevel=compresslevel) as dst:
        for info in src.infolist():
            dst.writestr(info.filename, src.read(info))
    return out


def corrupt_member_data(path, name="architecture.npy"):
    """Flip bytes in the middle of one member's compressed data (headers left alone)."""
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo(name)
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    for k in range(start + 2, start + min(info.compress_size, 40)):
        data[k] ^= 0x5A
    path.write_bytes(bytes(data))
    return path


def patch_header_field(path, field_offset, fmt, value, name=None):
    """Overwrite one field of every local and central header (or only ``name``'s)."""
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        infos = archive.infolist()
    central = data.rfind(b"PK\x05\x06")
    cd_offset = struct.unpack_from("<I", data, central + 16)[0]
    pos = cd_offset
    for info in infos:
        if name is None or info.filename == name:
            local = {"version": 4, "flags": 6, "method": 8}[field_offset]
            cent = {"version": 6, "flags": 8, "method": 10}[field_offset]
            struct.pack_into(fmt, data, info.header_offset + local, value)
            struct.pack_into(fmt, data, pos + cent, value)
        n, m, k = struct.unpack_from("<HHH", data, pos + 28)
        pos += 46 + n + m + k
    path.write_bytes(bytes(data))
    return path


# ------------------------------------------------------------------ the archive's decoders
@pytest.mark.parametrize("compression", [zipfile.ZIP_DEFLATED, zipfile.ZIP_LZMA, zipfile.ZIP_BZIP2])
def test_compressed_archives_load_and_corrupt_members_are_refused(saved, tmp_path, compression):
    good = rezip(saved, tmp_path, compression)
    assert load_model(good).config() == load_model(saved).config()
    message = failure(corrupt_member_data(good))
    assert "architecture" in message and ("corrupt" in message or "damaged" in message), message


def test_unsupported_compression_method(saved, tmp_path):
    path = patch_header_field(rezip(saved, tmp_path, zipfile.ZIP_STORED), "method", "<H", 99)
    assert "compression method 99" in failure(path)


@pytest.mark.parametrize("flags, words", [(0x1, "encrypted"), (0x40, "encrypted"),
                                          (0x20, "zip feature")])
def test_encrypted_and_patched_flags(saved, tmp_path, flags, words):
    path = patch_header_field(rezip(saved, tmp_path, zipfile.ZIP_STORED), "flags", "<H", flags)
    assert words in failure(path)


def test_zip_version_above_what_zipfile_reads(saved, tmp_path):
    path = patch_header_field(rezip(saved, tmp_path, zipfile.ZIP_STORED), "version", "<H", 64)
    assert "version 6.4" in failure(path)


def test_bad_crc_is_one_clean_error(saved, tmp_path):
    path = rezip(saved, tmp_path, zipfile.ZIP_STORED)
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo("params/0.weight.npy")
    data[info.header_offset + 30 + len(info.filename) + 200] ^= 0xFF
    path.write_bytes(bytes(data))
    message = failure(path)
    assert "CRC" in message and message.count("damaged") == 1 and "cannot be read" in message, message


# ------------------------------------------------------------------ .npy headers
def npy_entry_file(saved, tmp_path, header: bytes, payload=b"\0" * 64):
    arrays = entries(saved)
    del arrays["params/0.weight"]
    path = write_npz(tmp_path / "h.npz", arrays)
    magic = b"\x93NUMPY\x01\x00"
    padded = header + b" " * ((64 - (len(magic) + 2 + len(header) + 1) % 64) % 64) + b"\n"
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr("params/0.weight.npy", magic + struct.pack("<H", len(padded)) + padded
                         + payload)
    return path


@pytest.mark.parametrize("header, words", [
    (b"{'descr': '<f4', 'fortran_order': False, 'shape': (3, 3}", "array header is invalid"),
    pytest.param(b"{'descr': '<f4', 'fortran_order': False, 'shape': (%d,)}" % 2**70, "too large",
                 id="shape-2**70"),
    (b"{'descr': '<f4', 'fortran_order': False, 'shape': (2**70,)}", "array header is invalid"),
    (b"{'descr': '<f4', 'fortran_order': False, 'shape': (-5,)}", "negative"),
    (b"{'descr': '<U4', 'fortran_order': False, 'shape': (5,)}", "unsupported type"),
    (b"{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (5,)}", "unsupported type"),
    (b"{'descr': 'zz', 'fortran_order': False, 'shape': (5,)}", "array header is invalid"),
])
def test_npy_header_mutations(saved, tmp_path, header, words):
    message = failure(npy_entry_file(saved, tmp_path, header))
    assert words in message and "'params/0.weight.npy'" in message, message
    assert message.count("damaged") <= 1


# ------------------------------------------------------------------ the JSON architecture
def test_json_nested_100000_deep(saved, tmp_path):
    assert "nested too deeply" in failure(with_architecture(saved, tmp_path, "[" * 100_000))


def test_json_integer_of_5000_digits(saved, tmp_path):
    text = '{"layers": [], "input_shape": [%s]}' % ("7" * 5000)
    assert "not valid JSON" in failure(with_architecture(saved, tmp_path, text))


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_json_nan_and_infinity_literals(saved, tmp_path, literal):
    text = json.loads(entries(saved)["architecture"].tobytes())
    text["layers"].insert(1, {"kind": "LeakyReLU", "alpha": "@@"})
    raw = json.dumps(text).replace('"@@"', literal)
    assert "not valid JSON" in failure(with_architecture(saved, tmp_path, raw))


@pytest.mark.parametrize("kind", [["Conv2D"], {"a": 1}, 3, None, True])
def test_layer_kind_that_is_not_a_name(saved, tmp_path, kind):
    def change(c):
        c["layers"][0]["kind"] = kind
    assert "unknown kind" in failure(edit_config(saved, tmp_path, change))


@pytest.mark.parametrize("alpha", ["0.1", pytest.param(10**400, id="10**400"), -5000.0, [0.1],
                                   None, True])
def test_leaky_relu_alpha_of_the_wrong_type_or_range(saved, tmp_path, alpha):
    def change(c):
        c["layers"].insert(1, {"kind": "LeakyReLU", "alpha": alpha})
    message = failure(edit_config(saved, tmp_path, change))
    assert "LeakyReLU setting alpha=" in message and "must be a number" in message, message
    assert len(message) < 250


@pytest.mark.parametrize("seed", [-1, 2**64, 1.5, "7"])
def test_dropout_seed_out_of_range(saved, tmp_path, seed):
    def change(c):
        c["layers"].insert(1, {"kind": "Dropout", "rate": 0.5, "seed": seed})
    assert "Dropout setting seed=" in failure(edit_config(saved, tmp_path, change))


@pytest.mark.parametrize("rate", [1.0, -0.1, "0.5", None, pytest.param(10**400, id="10**400")])
def test_dropout_rate_out_of_range(saved, tmp_path, rate):
    def change(c):
        c["layers"].insert(1, {"kind": "Dropout", "rate": rate})
    assert "Dropout setting rate=" in failure(edit_config(saved, tmp_path, change))


def test_unknown_setting_is_named(saved, tmp_path):
    def change(c):
        c["layers"][0]["kernal_size"] = 3
    assert "no setting 'kernal_size'" in failure(edit_config(saved, tmp_path, change))


@pytest.mark.parametrize("shape", [[True, 28, 28], [1, 28.0, 28], [1, 5000, 5000], "1x28x28"])
def test_invalid_input_shape(saved, tmp_path, shape):
    def change(c):
        c["input_shape"] = shape
    assert "invalid input shape" in failure(edit_config(saved, tmp_path, change))


@pytest.mark.parametrize("name", ["a\ud800b", "x\x1b[2Jy\nz", {"n": 1}])
def test_network_name_is_cleaned_so_it_prints(saved, tmp_path, name):
    def change(c):
        c["name"] = name
    path = edit_config(saved, tmp_path, change)
    model = load_model(path)
    model.name.encode("utf-8")  # a lone surrogate would raise UnicodeEncodeError here
    assert model.name.isprintable() and model.name


def test_summary_prints_a_name_with_a_lone_surrogate(saved, tmp_path):
    import subprocess
    import sys

    def change(c):
        c["name"] = "net\udc80work"
    path = edit_config(saved, tmp_path, change)
    out = subprocess.run([sys.executable, "-m", "cnnviz", "summary", str(path)],
                         capture_output=True, text=True, timeout=120,
                         env={**os.environ, "PYTHONIOENCODING": "utf-8"})
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("network: input"), out.stdout


# ------------------------------------------------------------------ parameters
def test_float64_beyond_float32_range_is_refused(saved, tmp_path):
    arrays = entries(saved)
    weight = arrays["params/0.weight"].astype(np.float64)
    weight.flat[0] = 3.5e38
    arrays["params/0.weight"] = weight
    assert "NaN or infinite" in failure(write_npz(tmp_path / "x.npz", arrays))


def test_a_flipped_exponent_bit_is_refused(saved, tmp_path):
    """A float32 weight of 0.1 with its top exponent bit flipped is ~3.4e37: finite, but every
    output would overflow."""
    arrays = entries(saved)
    weight = arrays["params/0.weight"]
    weight.view(np.uint32).flat[0] ^= 1 << 30
    assert np.isfinite(weight).all() and abs(weight.flat[0]) > 1e30
    assert "beyond the ±1e+05 of any trained network" in failure(write_npz(tmp_path / "x.npz", arrays))


def test_float64_within_float32_range_loads(saved, tmp_path):
    arrays = entries(saved)
    arrays["params/0.weight"] = arrays["params/0.weight"].astype(np.float64)
    model = load_model(write_npz(tmp_path / "x.npz", arrays))
    assert model.named_params()["0.weight"].dtype == np.float32


# ------------------------------------------------------------------ said once; what the path is
def test_truncated_entry_is_said_once(saved, tmp_path):
    arrays = entries(saved)
    del arrays["params/0.weight"]
    path = write_npz(tmp_path / "x.npz", arrays)
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f4", "fortran_order": False,
                                                  "shape": (4, 4)})
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr("params/0.weight.npy", header.getvalue() + b"\0" * 8)
    message = failure(path)
    assert message == "x.npz: entry 'params/0.weight.npy' is truncated or has trailing bytes"


def test_a_folder_is_a_folder(tmp_path):
    folder = tmp_path / "net.npz"
    folder.mkdir()
    assert failure(folder) == "net.npz: this is a folder, not a network file"


def test_a_fifo_is_reported_without_blocking(tmp_path):
    fifo = tmp_path / "pipe.npz"
    os.mkfifo(fifo)
    assert "FIFO" in failure(fifo)  # a blocking open would hang here (the test has no writer)


def test_a_socket_is_reported(tmp_path):
    path = tmp_path / "s.npz"
    sock = socket.socket(socket.AF_UNIX)
    try:
        sock.bind(str(path))
        assert "socket" in failure(path)
    finally:
        sock.close()


def test_a_symlink_loop_is_a_loop(tmp_path):
    (tmp_path / "a.npz").symlink_to(tmp_path / "b.npz")
    (tmp_path / "b.npz").symlink_to(tmp_path / "a.npz")
    assert "loop of symbolic links" in failure(tmp_path / "a.npz")


def test_a_dangling_symlink_is_no_such_file(tmp_path):
    (tmp_path / "a.npz").symlink_to(tmp_path / "gone.npz")
    assert "no such file" in failure(tmp_path / "a.npz")


def test_permission_denied(saved, monkeypatch):
    """(Simulated: the tests may run as root, who reads every file.)"""
    real_open = os.open

    def refuse(path, *args, **kwargs):
        if str(path) == str(saved):
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", refuse)
    assert failure(saved) == "net.npz: permission denied: cnnviz may not read this file"


def test_undecodable_file_name_prints(saved, tmp_path):
    odd = tmp_path / os.fsdecode(b"net\xff.npz")
    odd.write_bytes(b"not a zip")
    message = failure(odd)
    message.encode("utf-8")
    assert "not a network file" in message


def test_metadata_is_returned(saved, tmp_path):
    model, meta = load_model_with_metadata(saved)
    assert meta == {} and model.layers


def test_json_float_beyond_the_float_range(saved, tmp_path):
    text = json.dumps(json.loads(entries(saved)["architecture"].tobytes())).replace(
        '"input_shape": [1,', '"input_shape": [1e400,')
    assert "beyond the range of a float" in failure(with_architecture(saved, tmp_path, text))


def test_metadata_strings_lose_their_lone_surrogates(saved, tmp_path):
    arrays = entries(saved)
    text = '{"command": "cnnviz train \\ud800", "deep": %s{"k\\udfff": ["\\udc80"]}%s}' % (
        "[" * 500, "]" * 500)
    arrays["metadata"] = np.frombuffer(text.encode(), np.uint8)
    _, meta = load_model_with_metadata(write_npz(tmp_path / "x.npz", arrays))
    assert meta["command"] == "cnnviz train ?"
    inner = meta["deep"]
    for _ in range(500):
        inner = inner[0]
    assert inner == {"k?": ["?"]}
