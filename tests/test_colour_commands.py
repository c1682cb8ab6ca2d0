"""Colour training end to end on the command line: `cnnviz train` on a folder of colour images,
the contract it saves (class names, the training images' channel statistics), `predict`,
`evaluate` with class names, and `bench` for any network."""

from __future__ import annotations

import contextlib
import io
import json
import math

import numpy as np
import pytest
from PIL import Image

from cnnviz.cli import main
from cnnviz.commands._common import open_dataset
from cnnviz.data import batch_to_input, image_to_input, load_image
from cnnviz.nn import InputContract, build_preset, load_network
from cnnviz.training import evaluate

CLASSES = ("circle", "square")


@pytest.fixture(autouse=True)
def _own_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("CNNVIZ_CACHE_DIR", str(tmp_path / "cache"))


def shapes_folder(root, per_class=40, test=10, seed=0):
    """ROOT/{train,test}/{circle,square}/*.png, 3x16x16: reddish circles and bluish squares of
    random size and place on grey paper, with noise."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:16, 0:16] + 0.5
    for split, count in (("train", per_class), ("test", test)):
        for c, name in enumerate(CLASSES):
            (root / split / name).mkdir(parents=True, exist_ok=True)
            for i in range(count):
                r, (cy, cx) = rng.uniform(3.5, 5.5), rng.uniform(6, 10, 2)
                inside = ((yy - cy) ** 2 + (xx - cx) ** 2 <= r * r) if name == "circle" else \
                    (np.abs(yy - cy) <= r * 0.85) & (np.abs(xx - cx) <= r * 0.85)
                ink = rng.integers(0, 90, 3)
                ink[2 * c] = rng.integers(170, 256)
                paper = np.full(3, rng.integers(60, 200))
                image = np.where(inside[..., None], ink, paper) + rng.integers(-20, 21, (16, 16, 3))
                Image.fromarray(np.clip(image, 0, 255).astype(np.uint8)).save(
                    root / split / name / f"{i}.png")
    return root


def run(args):
    """``cnnviz ARGS``: exit status, standard output, standard error."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main([str(a) for a in args])
    return status, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A cifar-tutorial network trained by `cnnviz train` on the shapes folder."""
    tmp = tmp_path_factory.mktemp("colour")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CNNVIZ_CACHE_DIR", str(tmp / "cache"))
        root = shapes_folder(tmp / "shapes")
        out = tmp / "shapes.npz"
        status, stdout, stderr = run(["train", "--arch", "cifar-tutorial", "--data", root,
                                      "--epochs", 6, "--batch-size", 16, "--val-split", 0,
                                      "--augment", "--quiet", "--out", out])
        data = open_dataset(str(root), model=build_preset("cifar-tutorial"))
    assert status == 0, stderr
    return root, out, json.loads(stdout.splitlines()[-1]), stderr, data


def test_train_learns_a_colour_folder_and_saves_its_classes_and_statistics(trained):
    root, out, summary, stderr, data = trained
    assert summary["status"] == "finished" and summary["test_accuracy"] >= 0.95
    assert "photos augmentation" in stderr
    network = load_network(out)
    contract = network.contract
    assert network.model.output_shape == (2,)           # one output per class of the data
    assert contract.classes == CLASSES and contract.pipeline == "image"
    assert contract.shape == (3, 32, 32) and contract.fit == "crop"
    assert all(math.isfinite(v) for v in contract.mean + contract.std)
    # the statistics are those of the training images (all of them: no validation split)
    x = data.train_x.astype(np.float64) / 255.0
    np.testing.assert_allclose(contract.mean, x.mean(axis=(0, 2, 3)), rtol=1e-9)
    np.testing.assert_allclose(contract.std, x.std(axis=(0, 2, 3)), rtol=1e-9)
    assert min(contract.std) > 0.1 and max(contract.mean) < 0.9


def test_predict_names_the_class_of_an_image_of_the_folder(trained):
    root, out, *_ = trained
    for name in CLASSES:
        image = root / "test" / name / "3.png"
        status, stdout, _ = run(["predict", "--model", out, image])
        assert status == 0 and stdout.startswith(f"{image}: {name}  (")


def test_evaluate_normalises_as_the_contract_says_and_names_the_classes(trained):
    root, out, summary, _, data = trained
    network = load_network(out)
    status, stdout, _ = run(["evaluate", "--model", out, "--data", root, "--json"])
    result = json.loads(stdout)
    assert status == 0 and result["classes"] == list(CLASSES)
    # the input, written out here: (pixel / 255 - mean) / std per channel
    mean = np.array(network.contract.mean)[:, None, None]
    std = np.array(network.contract.std)[:, None, None]
    x = ((data.test_x / 255.0 - mean) / std).astype(np.float32)
    expected = evaluate(network.model, x, data.test_y)
    assert result["loss"] == pytest.approx(expected.loss, rel=1e-5)
    assert result["accuracy"] == expected.accuracy == summary["test_accuracy"]
    # unnormalised inputs would give another loss: the normalisation is really applied
    plain = evaluate(network.model, data.test_x.astype(np.float32) / 255, data.test_y)
    assert abs(plain.loss - expected.loss) > 1e-3

    status, stdout, _ = run(["evaluate", "--model", out, "--data", root])
    lines = stdout.splitlines()
    header = lines.index(next(line for line in lines if line.startswith("true\\pred")))
    assert lines[header].split() == ["true\\pred", "circle", "square", "accuracy"]
    rows = [line.split() for line in lines[header + 1:]]
    assert [row[0] for row in rows] == list(CLASSES)
    assert [[int(v) for v in row[1:3]] for row in rows] == result["confusion_matrix"]


def test_the_trainer_sees_inputs_normalised_as_the_saved_contract_says(tmp_path, monkeypatch):
    import cnnviz.training

    root = shapes_folder(tmp_path / "shapes", per_class=6, test=2)
    seen = {}

    class Spy(cnnviz.training.Trainer):
        def __init__(self, model, train_x, train_y, val_x=None, val_y=None, **kwargs):
            seen.update(train_x=train_x, val_x=val_x)
            super().__init__(model, train_x, train_y, val_x, val_y, **kwargs)

    monkeypatch.setattr(cnnviz.training, "Trainer", Spy)
    out = tmp_path / "net.npz"
    status, _, err = run(["train", "--arch", "cifar-tutorial", "--data", root, "--epochs", 1,
                          "--val-split", 2, "--workers", 1, "--quiet", "--out", out])
    assert status == 0, err
    contract = load_network(out).contract
    data = open_dataset(str(root), model=build_preset("cifar-tutorial"))
    split = data.split_validation(2, seed=0)
    mean = np.array(contract.mean)[:, None, None]
    std = np.array(contract.std)[:, None, None]
    for images, got in ((split.train_x, seen["train_x"]), (split.val_x, seen["val_x"])):
        np.testing.assert_allclose(got, (images / 255.0 - mean) / std, rtol=1e-5, atol=1e-5)
    # the mean and std are the training part's, not the held-out images'
    x = split.train_x.astype(np.float64) / 255
    np.testing.assert_allclose(contract.mean, x.mean(axis=(0, 2, 3)), rtol=1e-9)


def test_one_image_through_the_pipeline_equals_its_row_of_the_batch(tmp_path):
    """Training (batch_to_input) and the pipeline (image_to_input) normalise the same way."""
    rng = np.random.default_rng(4)
    pixels = rng.integers(0, 256, (5, 3, 8, 8), dtype=np.uint8)
    contract = InputContract((3, 8, 8), ("a", "b"), "image", mean=(0.2, 0.5, 0.7),
                             std=(0.3, 0.1, 0.25))
    batch = batch_to_input(pixels, contract)
    for i in range(5):
        Image.fromarray(pixels[i].transpose(1, 2, 0)).save(tmp_path / f"{i}.png")
        single = image_to_input(load_image(tmp_path / f"{i}.png"), contract).x
        np.testing.assert_allclose(single, batch[i], atol=1e-6)
    np.testing.assert_allclose(batch, (pixels / 255 - np.array([0.2, 0.5, 0.7])[:, None, None])
                               / np.array([0.3, 0.1, 0.25])[:, None, None], atol=1e-5)


def test_digit_training_keeps_the_digit_pipeline_and_distortions(tmp_path):
    out = tmp_path / "digits.npz"
    status, _, err = run(["train", "--arch", "tiny", "--data", "offline", "--limit", 64,
                          "--epochs", 1, "--val-split", 0, "--workers", 1, "--augment",
                          "--quiet", "--out", out])
    assert status == 0 and "digits augmentation" in err
    contract = load_network(out).contract
    assert contract.pipeline == "digits" and not contract.normalised
    assert contract.classes == tuple("0123456789")


def test_limit_spreads_over_the_classes_of_a_folder(tmp_path):
    root = shapes_folder(tmp_path / "shapes", per_class=8, test=4)
    data = open_dataset(str(root), limit=6, model=build_preset("cifar-tutorial"))
    assert len(data.train_y) == 6 and set(data.train_y) == {0, 1}
    assert set(data.test_y) == {0, 1} and "spread over the classes" in data.name
    again = open_dataset(str(root), limit=6, model=build_preset("cifar-tutorial"))
    np.testing.assert_array_equal(again.train_x, data.train_x)


def test_save_every_epoch_saves_each_whole_epoch(tmp_path, monkeypatch):
    import cnnviz.nn

    saved, real = [], cnnviz.nn.save_model

    def spy(model, path, metadata=None, contract=None):
        saved.append(metadata["status"])
        return real(model, path, metadata=metadata, contract=contract)

    monkeypatch.setattr(cnnviz.nn, "save_model", spy)
    root = shapes_folder(tmp_path / "shapes", per_class=6, test=2)
    status, _, err = run(["train", "--arch", "cifar-tutorial", "--data", root, "--epochs", 3,
                          "--val-split", 0, "--workers", 1, "--quiet", "--save-every-epoch",
                          "--out", tmp_path / "net.npz"])
    assert status == 0, err
    assert saved == ["epoch", "epoch", "finished"]


def test_presets_take_the_number_of_classes_of_the_data():
    model = build_preset("vgg-small", seed=0, outputs=3)
    reference = build_preset("vgg-small", seed=0)
    assert model.output_shape == (3,) and model.input_shape == reference.input_shape
    assert [layer.kind for layer in model.layers] == [layer.kind for layer in reference.layers]
    assert model.param_count() == reference.param_count() - 7 * 129
    with pytest.raises(ValueError):
        build_preset("tiny", outputs=0)


@pytest.mark.parametrize("preset", ["lenet5", "cifar-tutorial", "vgg-small"])
def test_the_benchmarks_pytorch_twin_computes_what_the_network_computes(torch, preset):
    from cnnviz.benchmark import torch_network

    model = build_preset(preset, seed=2)
    x = np.random.default_rng(0).random((3, *model.input_shape), dtype=np.float32)
    with torch.no_grad():
        theirs = torch_network(torch, model)(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(theirs, model.forward(x), rtol=1e-4, atol=1e-5)


def test_bench_times_any_network_on_its_data(tmp_path):
    root = shapes_folder(tmp_path / "shapes", per_class=40, test=2)
    status, stdout, err = run(["bench", "--model", "cifar-tutorial", "--data", root, "--epoch",
                               "--rounds", 1, "--seconds", 0.05, "--json"])
    assert status == 0, err
    result = json.loads(stdout)
    assert [r["batch"] for r in result["training"]] == [64, 128]
    assert all(r["numpy_samples_per_s"] > 0 for r in result["training"])
    assert result["epoch"]["data"] == "shapes" and result["epoch"]["numpy_s"] > 0
    assert result["trace_ms"]["median"] > 0
    status, _, err = run(["bench", "--model", "vgg-small", "--convergence"])
    assert status == 2 and "--convergence times the shipped recipe" in err


def test_a_blank_folder_trains_unscaled_and_bad_class_names_are_one_line(tmp_path):
    root = tmp_path / "blank"
    for name in ("a", "b"):
        (root / name).mkdir(parents=True)
        for i in range(6):
            Image.fromarray(np.full((8, 8, 3), 90, np.uint8)).save(root / name / f"{i}.png")
    out = tmp_path / "blank.npz"
    status, _, err = run(["train", "--arch", "cifar-tutorial", "--data", root, "--epochs", 1,
                          "--val-split", 0, "--workers", 1, "--quiet", "--out", out])
    assert status == 0, err
    contract = load_network(out).contract
    assert contract.std == (1.0, 1.0, 1.0)
    np.testing.assert_allclose(contract.mean, [90 / 255] * 3)

    (root / "b").rename(root / ("b" * 130))  # longer than a class name may be
    status, stdout, err = run(["train", "--arch", "cifar-tutorial", "--data", root,
                               "--epochs", 1, "--quiet", "--out", tmp_path / "no.npz"])
    last = err.splitlines()[-1]  # after the progress of reading the images
    assert status == 2 and stdout == "" and "Traceback" not in err
    assert last.startswith("cnnviz: error: the class folders of the images in ")
    assert last.endswith("class name 1 must have 1 to 128 characters, not 130")
    assert not (tmp_path / "no.npz").exists()
