"""Saving and loading networks, and every way a file can be wrong."""

import io
import json
import zipfile

import numpy as np
import pytest

from cnnviz.nn import ModelFileError, build_preset, load_model, save_model
from cnnviz.nn.io import load_model_with_metadata
from npz_files import entries, write_npz


@pytest.fixture
def saved(tmp_path):
    model = build_preset("lenet5", seed=1)
    path = tmp_path / "net.npz"
    save_model(model, path, metadata={"accuracy": 0.5})
    return model, path



def test_round_trip_is_bit_exact_and_keeps_metadata(saved):
    model, path = saved
    loaded, meta = load_model_with_metadata(path)
    assert meta == {"accuracy": 0.5}
    assert loaded.config() == model.config()
    for name, value in model.named_params().items():
        assert loaded.named_params()[name].tobytes() == value.tobytes()
    x = np.random.default_rng(0).random((2, 1, 28, 28), dtype=np.float32)
    np.testing.assert_array_equal(loaded.forward(x), model.forward(x))


def test_save_keeps_the_name_and_leaves_no_temporary_files(tmp_path):
    path = save_model(build_preset("tiny", seed=0), tmp_path / "model")
    assert path.name == "model" and sorted(p.name for p in tmp_path.iterdir()) == ["model"]


def test_saved_files_get_ordinary_permissions(tmp_path):
    import os
    import stat

    mask = os.umask(0o022)
    try:
        path = save_model(build_preset("tiny", seed=0), tmp_path / "m.npz")
    finally:
        os.umask(mask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


def test_failed_save_leaves_the_previous_file_intact(saved, monkeypatch):
    model, path = saved
    before = path.read_bytes()

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", broken)
    with pytest.raises(OSError):
        save_model(model, path)
    assert path.read_bytes() == before
    assert [p.name for p in path.parent.iterdir()] == [path.name]


def expect_error(path, fragment):
    with pytest.raises(ModelFileError) as info:
        load_model(path)
    assert fragment in str(info.value), str(info.value)


def test_not_a_zip(tmp_path):
    path = tmp_path / "bad.npz"
    path.write_bytes(b"hello, I am not a network")
    expect_error(path, "not a network file")


def test_missing_file(tmp_path):
    expect_error(tmp_path / "absent.npz", "no such file")


def test_no_architecture(saved, tmp_path):
    arrays = entries(saved[1])
    del arrays["architecture"]
    expect_error(write_npz(tmp_path / "x.npz", arrays), "no architecture")


def test_unknown_layer_kind(saved, tmp_path):
    arrays = entries(saved[1])
    config = json.loads(arrays["architecture"].tobytes())
    config["layers"][1]["kind"] = "Eval"
    arrays["architecture"] = np.frombuffer(json.dumps(config).encode(), np.uint8)
    expect_error(write_npz(tmp_path / "x.npz", arrays), "unknown kind 'Eval'")


def test_wrong_shape(saved, tmp_path):
    arrays = entries(saved[1])
    arrays["params/3.weight"] = np.zeros((16, 6, 3, 3), np.float32)
    expect_error(write_npz(tmp_path / "x.npz", arrays), "shape")


def test_missing_and_extra_parameters(saved, tmp_path):
    arrays = entries(saved[1])
    del arrays["params/7.bias"]
    expect_error(write_npz(tmp_path / "x.npz", arrays), "missing parameter '7.bias'")
    arrays = entries(saved[1])
    arrays["params/99.weight"] = np.zeros(3, np.float32)
    expect_error(write_npz(tmp_path / "y.npz", arrays), "unexpected parameters")


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_values(saved, tmp_path, bad):
    arrays = entries(saved[1])
    arrays["params/0.weight"][0, 0, 0, 0] = bad
    expect_error(write_npz(tmp_path / "x.npz", arrays), "NaN or infinite")


def test_wrong_dtype(saved, tmp_path):
    arrays = entries(saved[1])
    arrays["params/0.bias"] = np.array(["a"] * 6)
    expect_error(write_npz(tmp_path / "x.npz", arrays), "unsupported type")


def test_pickled_objects_are_never_loaded(saved, tmp_path):
    class Boom:
        def __reduce__(self):
            return (print, ("code ran",))

    arrays = entries(saved[1])
    arrays["params/0.bias"] = np.array([Boom()], dtype=object)
    path = tmp_path / "x.npz"
    with open(path, "wb") as handle:
        np.savez(handle, **arrays)  # numpy pickles object arrays
    expect_error(path, "pickled Python objects")


def test_huge_declared_array_is_refused_before_allocation(saved, tmp_path):
    """A header claiming a terabyte, with a few bytes of data, must not allocate anything."""
    arrays = entries(saved[1])
    del arrays["params/0.weight"]
    path = write_npz(tmp_path / "x.npz", arrays)
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f4", "fortran_order": False,
                                                  "shape": (2**20, 2**20)})
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr("params/0.weight.npy", header.getvalue() + b"\0" * 64)
    expect_error(path, "too large")


def test_zip_bomb_entry_is_refused(saved, tmp_path):
    path = tmp_path / "bomb.npz"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("architecture.npy", b"\0" * (300 * 2**20))
    expect_error(path, "too large")


def test_architecture_that_would_allocate_gigabytes_is_refused(saved, tmp_path):
    arrays = entries(saved[1])
    config = json.loads(arrays["architecture"].tobytes())
    config["input_shape"] = [1, 4096, 4096]
    config["layers"][0]["out_channels"] = 4096
    arrays["architecture"] = np.frombuffer(json.dumps(config).encode(), np.uint8)
    expect_error(write_npz(tmp_path / "x.npz", arrays), "shape")


def test_truncated_file(saved, tmp_path):
    data = saved[1].read_bytes()
    path = tmp_path / "cut.npz"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelFileError):
        load_model(path)


def test_corrupt_json(saved, tmp_path):
    arrays = entries(saved[1])
    arrays["architecture"] = np.frombuffer(b"{not json", np.uint8)
    expect_error(write_npz(tmp_path / "x.npz", arrays), "not valid JSON")


def test_out_of_range_setting(saved, tmp_path):
    arrays = entries(saved[1])
    config = json.loads(arrays["architecture"].tobytes())
    config["layers"][0]["kernel_size"] = [5, -1]
    arrays["architecture"] = np.frombuffer(json.dumps(config).encode(), np.uint8)
    expect_error(write_npz(tmp_path / "x.npz", arrays), "out of range")
