"""``--data cifar10`` and ``--data PATH`` (recognised by content) in the headless commands."""

from __future__ import annotations

import io
import json
import tarfile

import numpy as np
import pytest
from PIL import Image

from cnnviz.cli import main
from cnnviz.commands import UserError
from cnnviz.commands._common import open_dataset
from cnnviz.nn import Dense, Flatten, Sequential, save_model


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch, tmp_path):
    """An empty cache and no CIFAR-10 folder, unless a test sets one."""
    monkeypatch.setenv("CNNVIZ_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("CNNVIZ_CIFAR_DIR", raising=False)


def fake_cifar(folder):
    """A tiny binary release (2 records per training batch, 4 test records) in ``folder``."""
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    with tarfile.open(folder / "cifar-10-binary.tar.gz", "w:gz") as tar:
        names = [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]
        for name in names:
            n = 4 if name == "test_batch.bin" else 2
            records = rng.integers(0, 256, (n, 3073), dtype=np.uint8)
            records[:, 0] = np.arange(n) % 10
            member = tarfile.TarInfo(f"cifar-10-batches-bin/{name}")
            member.size = records.size
            tar.addfile(member, io.BytesIO(records.tobytes()))
    return folder


def colour_network(path):
    return save_model(Sequential([Flatten(), Dense(out_features=10)], input_shape=(3, 32, 32),
                                 seed=0), path)


def image_folder(root, sizes=((40, 30), (7, 9), (32, 32))):
    """ROOT/CLASS/*.png of odd sizes, grey and colour, one broken file."""
    rng = np.random.default_rng(1)
    for c, name in enumerate(("ant", "bee", "cow")):
        (root / name).mkdir(parents=True)
        for i, (h, w) in enumerate(sizes):
            shape = (h, w) if (c + i) % 2 else (h, w, 3)
            Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8)).save(
                root / name / f"{i}.png")
    (root / "bee" / "broken.jpg").write_bytes(b"not a jpeg")
    return root


def test_a_digit_network_meeting_cifar10_is_a_clear_message(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("CNNVIZ_CIFAR_DIR", str(fake_cifar(tmp_path / "cifar")))
    assert main(["evaluate", "--data", "cifar10"]) == 2  # the shipped lenet5
    captured = capsys.readouterr()
    assert captured.out == "" and "Traceback" not in captured.err
    assert captured.err.startswith(
        "cnnviz: error: this network takes 1x28x28 images (grey, 28x28 pixels) but the CIFAR-10 "
        "images are 3x32x32 (colour, 32x32 pixels): choose a network made for 3x32x32 images")


def test_a_colour_network_evaluates_cifar10(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("CNNVIZ_CIFAR_DIR", str(fake_cifar(tmp_path / "cifar")))
    model = colour_network(tmp_path / "rgb.npz")
    assert main(["evaluate", "--model", str(model), "--data", "cifar10", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["data"] == "CIFAR-10" and sum(map(sum, result["confusion_matrix"])) == 4


def test_cifar10_missing_offline_says_what_to_do():
    with pytest.raises(UserError) as info:
        open_dataset("cifar10", download=False)
    message = str(info.value)
    assert message.startswith("CIFAR-10 not found") and "--data cifar10" in message
    assert "CNNVIZ_CIFAR_DIR" in message and "To work offline" in message


def test_an_image_folder_becomes_what_the_network_takes(tmp_path, capsys):
    root = image_folder(tmp_path / "animals")
    model = colour_network(tmp_path / "rgb.npz")
    assert main(["evaluate", "--model", str(model), "--data", str(root), "--json"]) == 0
    captured = capsys.readouterr()
    result = json.loads(captured.out)
    assert result["data"] == "animals" and sum(map(sum, result["confusion_matrix"])) == 3
    assert "1 of 10 image files" in captured.err and "bee/broken.jpg" in captured.err
    data = open_dataset(str(root), model=Sequential([Flatten(), Dense(out_features=3)],
                                                    input_shape=(1, 28, 28), seed=0))
    assert data.input_shape == (1, 28, 28) and data.class_names == ("ant", "bee", "cow")


def test_train_on_an_image_folder(tmp_path, capsys):
    root = image_folder(tmp_path / "animals", sizes=[(20, 20)] * 5)
    out = tmp_path / "net.npz"
    assert main(["train", "--arch", "tiny", "--data", str(root), "--epochs", "1", "--quiet",
                 "--batch-size", "4", "--val-split", "3", "--out", str(out)]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["data"] == "animals" and out.exists()


def test_an_unrecognised_folder_is_a_clear_error(tmp_path, capsys):
    (tmp_path / "stuff" / "sub").mkdir(parents=True)
    (tmp_path / "stuff" / "sub" / "a.txt").write_text("x")
    assert main(["evaluate", "--data", str(tmp_path / "stuff")]) == 2
    err = capsys.readouterr().err
    assert "not a dataset cnnviz recognises" in err and "Traceback" not in err


@pytest.mark.mnist
def test_an_mnist_folder_is_still_recognised(mnist_dir, capsys):
    assert main(["evaluate", "--data", str(mnist_dir), "--limit", "200", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["data"] == "MNIST (first 200)"
