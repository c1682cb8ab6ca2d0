"""Tests of the IDX reader, load_mnist and Dataset."""

from __future__ import annotations

import gzip
import struct
import time
import tracemalloc

import numpy as np
import pytest

from cnnviz.data import Dataset, MnistError, load_mnist, read_idx
from cnnviz.data.errors import DataError
from cnnviz.data.mnist import find_mnist_files, has_mnist_files

TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def idx_bytes(array: np.ndarray, type_code: int = 0x08) -> bytes:
    """Encode an array as IDX (big-endian)."""
    dtype = {0x08: ">u1", 0x0B: ">i2", 0x0D: ">f4"}[type_code]
    header = struct.pack(">HBB", 0, type_code, array.ndim)
    header += struct.pack(f">{array.ndim}I", *array.shape)
    return header + np.ascontiguousarray(array, dtype=dtype).tobytes()


def write(path, data: bytes, compress: bool = False):
    path.write_bytes(gzip.compress(data) if compress else data)
    return path


def fake_mnist(folder, n_train=7, n_test=3, names=None, compress=True, rng_seed=0):
    """A tiny folder in MNIST layout; returns the arrays written."""
    rng = np.random.default_rng(rng_seed)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte": rng.integers(0, 10, n_train, dtype=np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, n_test, dtype=np.uint8),
    }
    names = names or {}
    for base, array in arrays.items():
        name = names.get(base, base) + (".gz" if compress else "")
        write(folder / name, idx_bytes(array), compress)
    return arrays


# ------------------------------------------------------------------ read_idx
@pytest.mark.parametrize("compress", [False, True])
def test_read_idx_roundtrip_raw_and_gzip(tmp_path, compress):
    array = np.random.default_rng(1).integers(0, 256, (4, 5, 6), dtype=np.uint8)
    path = write(tmp_path / "x.idx", idx_bytes(array), compress)
    out = read_idx(path)
    assert out.dtype == np.uint8 and out.shape == (4, 5, 6)
    np.testing.assert_array_equal(out, array)
    out[0, 0, 0] = 1  # writable


def test_gzip_is_detected_by_content_not_name(tmp_path):
    array = np.arange(10, dtype=np.uint8)
    path = write(tmp_path / "labels-without-gz-suffix", idx_bytes(array), compress=True)
    np.testing.assert_array_equal(read_idx(path), array)


def test_read_idx_other_types_are_converted_to_native_order(tmp_path):
    array = np.array([[-300, 2], [7, 32000]], dtype=np.int16)
    out = read_idx(write(tmp_path / "a", idx_bytes(array, 0x0B)))
    assert out.dtype == np.int16 and out.dtype.isnative
    np.testing.assert_array_equal(out, array)
    floats = np.array([0.5, -1.25], dtype=np.float32)
    np.testing.assert_array_equal(read_idx(write(tmp_path / "f", idx_bytes(floats, 0x0D))), floats)


@pytest.mark.parametrize(
    "data, fragment",
    [
        (b"\x00\x00\x09", "too short"),
        (b"\x12\x34\x08\x01" + struct.pack(">I", 1) + b"\x00", "magic"),
        (b"\x00\x00\x07\x01" + struct.pack(">I", 1) + b"\x00", "magic"),
        (b"\x00\x00\x08\x00", "dimensions"),
        (b"\x00\x00\x08\x03" + struct.pack(">I", 2), "truncated IDX header"),
    ],
)
def test_read_idx_rejects_bad_headers(tmp_path, data, fragment):
    path = write(tmp_path / "bad.idx", data)
    with pytest.raises(MnistError) as info:
        read_idx(path)
    assert fragment in str(info.value) and "bad.idx" in str(info.value)


@pytest.mark.parametrize("compress", [False, True])
def test_read_idx_rejects_truncated_payload(tmp_path, compress):
    data = idx_bytes(np.zeros((3, 28, 28), dtype=np.uint8))[:-5]
    path = write(tmp_path / "short.idx", data, compress)
    with pytest.raises(MnistError, match="truncated"):
        read_idx(path)


@pytest.mark.parametrize("compress", [False, True])
def test_read_idx_rejects_trailing_bytes(tmp_path, compress):
    data = idx_bytes(np.zeros((3, 4), dtype=np.uint8)) + b"\x00"
    path = write(tmp_path / "long.idx", data, compress)
    with pytest.raises(MnistError, match="unexpected bytes after"):
        read_idx(path)


def test_read_idx_rejects_corrupt_gzip_stream(tmp_path):
    data = gzip.compress(idx_bytes(np.arange(200, dtype=np.uint8).reshape(10, 20)))
    path = write(tmp_path / "cut.gz", data[: len(data) // 2])
    with pytest.raises(MnistError, match="cut.gz"):
        read_idx(path)


def test_read_idx_huge_dimensions_do_not_allocate(tmp_path):
    header = struct.pack(">HBB", 0, 0x08, 3) + struct.pack(">3I", 4_000_000_000, 60000, 60000)
    path = write(tmp_path / "huge.idx", header + b"\x00" * 16)
    tracemalloc.start()
    start = time.perf_counter()
    try:
        with pytest.raises(MnistError, match="limit"):
            read_idx(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1_000_000
    assert time.perf_counter() - start < 1.0


def test_read_idx_max_bytes_parameter(tmp_path):
    path = write(tmp_path / "x.idx", idx_bytes(np.zeros((10, 10), dtype=np.uint8)))
    assert read_idx(path, max_bytes=100).shape == (10, 10)
    with pytest.raises(MnistError, match="limit of 99 bytes"):
        read_idx(path, max_bytes=99)


def test_read_idx_missing_file_and_folder(tmp_path):
    with pytest.raises(MnistError, match="not found"):
        read_idx(tmp_path / "nope.idx")
    with pytest.raises(DataError):  # MnistError is a DataError
        read_idx(tmp_path)


# ------------------------------------------------------------------ load_mnist (small fakes)
@pytest.mark.parametrize(
    "compress, names",
    [
        (True, None),
        (False, None),
        (False, {"train-images-idx3-ubyte": "train-images.idx3-ubyte",
                 "t10k-labels-idx1-ubyte": "t10k-labels.idx1-ubyte"}),
        (True, {"train-labels-idx1-ubyte": "train-labels.idx1-ubyte"}),
    ],
)
def test_load_mnist_accepts_name_variants(tmp_path, compress, names):
    arrays = fake_mnist(tmp_path, compress=compress, names=names)
    assert has_mnist_files(tmp_path)
    data = load_mnist(tmp_path)
    np.testing.assert_array_equal(data.train_x, arrays["train-images-idx3-ubyte"])
    np.testing.assert_array_equal(data.train_y, arrays["train-labels-idx1-ubyte"])
    np.testing.assert_array_equal(data.test_x, arrays["t10k-images-idx3-ubyte"])
    np.testing.assert_array_equal(data.test_y, arrays["t10k-labels-idx1-ubyte"])
    assert data.name == "MNIST"


def test_load_mnist_missing_files_says_what_to_do(tmp_path):
    fake_mnist(tmp_path)
    (tmp_path / "t10k-images-idx3-ubyte.gz").unlink()
    assert find_mnist_files(tmp_path)["test_x"] is None
    with pytest.raises(MnistError) as info:
        load_mnist(tmp_path)
    message = str(info.value)
    missing_part = message.split("lacks")[1].split(".")[0]
    assert "t10k-images-idx3-ubyte" in missing_part and "train-images" not in missing_part
    assert "download" in message and "offline digits" in message and "folder" in message


def test_load_mnist_missing_folder(tmp_path):
    with pytest.raises(MnistError, match="does not exist"):
        load_mnist(tmp_path / "absent")


def test_load_mnist_count_mismatch(tmp_path):
    fake_mnist(tmp_path)
    write(tmp_path / "train-labels-idx1-ubyte.gz", idx_bytes(np.zeros(6, np.uint8)), True)
    with pytest.raises(MnistError, match="7 images but 6 labels"):
        load_mnist(tmp_path)


def test_load_mnist_label_out_of_range(tmp_path):
    fake_mnist(tmp_path)
    write(tmp_path / "t10k-labels-idx1-ubyte.gz", idx_bytes(np.array([1, 10, 2], np.uint8)), True)
    with pytest.raises(MnistError, match="labels must be 0..9"):
        load_mnist(tmp_path)


def test_load_mnist_wrong_image_size(tmp_path):
    fake_mnist(tmp_path)
    write(tmp_path / "train-images-idx3-ubyte.gz", idx_bytes(np.zeros((7, 27, 28), np.uint8)), True)
    with pytest.raises(MnistError, match=r"\(N, 28, 28\)"):
        load_mnist(tmp_path)


# ------------------------------------------------------------------ real MNIST
@pytest.mark.mnist
def test_load_real_mnist(mnist):
    assert mnist.train_x.shape == (60000, 28, 28) and mnist.train_x.dtype == np.uint8
    assert mnist.train_y.shape == (60000,) and mnist.train_y.dtype == np.uint8
    assert mnist.test_x.shape == (10000, 28, 28) and mnist.test_y.shape == (10000,)
    assert mnist.class_counts("train").tolist() == TRAIN_COUNTS
    assert mnist.class_counts("test").tolist() == TEST_COUNTS
    assert mnist.train_y[:5].tolist() == [5, 0, 4, 1, 9]
    assert mnist.test_y[:5].tolist() == [7, 2, 1, 0, 4]
    assert mnist.train_x.max() == 255 and mnist.train_x[:, 0, :].mean() < 0.1


# ------------------------------------------------------------------ Dataset
def small_dataset(n_train=50, n_test=10):
    rng = np.random.default_rng(0)
    return Dataset(
        rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        rng.integers(0, 10, n_train, dtype=np.uint8),
        rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        rng.integers(0, 10, n_test, dtype=np.uint8),
        name="small",
    )


def test_dataset_as_float():
    data = small_dataset()
    x, y = data.as_float("test")
    assert x.shape == (10, 1, 28, 28) and x.dtype == np.float32
    assert y.dtype == np.int64 and y.tolist() == data.test_y.tolist()
    np.testing.assert_allclose(x[:, 0] * 255.0, data.test_x, atol=1e-4)
    assert 0.0 <= x.min() and x.max() <= 1.0
    with pytest.raises(ValueError):
        data.as_float("validation")


def test_dataset_split_validation_is_disjoint_and_deterministic():
    data = small_dataset()
    a = data.split_validation(12, seed=3)
    b = data.split_validation(12, seed=3)
    c = data.split_validation(12, seed=4)
    assert len(a.val_x) == 12 and len(a.train_x) == 38
    np.testing.assert_array_equal(a.val_x, b.val_x)
    assert not np.array_equal(a.val_x, c.val_x)
    rows = {x.tobytes() for x in a.train_x}
    assert not rows & {x.tobytes() for x in a.val_x}
    combined = sorted(x.tobytes() for x in np.concatenate([a.train_x, a.val_x]))
    assert combined == sorted(x.tobytes() for x in data.train_x)
    with pytest.raises(ValueError):
        data.split_validation(50)


def test_dataset_validates_shapes():
    data = small_dataset()
    with pytest.raises(ValueError, match="labels"):
        Dataset(data.train_x, data.train_y[:-1], data.test_x, data.test_y)
    with pytest.raises(ValueError, match="differ in size"):
        Dataset(data.train_x, data.train_y, data.test_x[:, :20, :20], data.test_y)
