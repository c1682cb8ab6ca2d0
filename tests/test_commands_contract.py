"""The commands read a network's input contract: predict's pipeline and class names, summary."""

import json

import numpy as np
import pytest
from PIL import Image

from cnnviz.cli import main
from cnnviz.data import image_to_input, load_image
from cnnviz.nn import InputContract, build_preset, load_network, save_model

CIFAR = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


def colour_file(tmp_path, **changes):
    settings = dict(shape=(3, 32, 32), classes=CIFAR, pipeline="image", fit="crop",
                    mean=(0.49, 0.48, 0.45), std=(0.25, 0.24, 0.26))
    settings.update(changes)
    contract = InputContract(**settings)
    model = build_preset("cifar-tutorial", seed=3)
    return save_model(model, tmp_path / "colour.npz", contract=contract), model, contract


def photo(path, seed, size=(45, 70)):
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, (1, 1, 3))
    noise = rng.integers(-60, 60, size + (3,))
    yy = np.linspace(0, 120, size[0])[:, None, None]
    Image.fromarray(np.clip(base + noise + yy, 0, 255).astype(np.uint8)).save(path)
    return path


def test_predict_uses_the_contracts_pipeline_and_names_the_classes(tmp_path, capsys):
    path, model, contract = colour_file(tmp_path)
    photos = [photo(tmp_path / f"p{i}.png", seed=i) for i in range(3)]
    assert main(["predict", "--model", str(path), "--json", *map(str, photos)]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    for row, file in zip(rows, photos, strict=True):
        x = image_to_input(load_image(file), contract).x
        expected = model.predict_proba(x[None])[0]
        np.testing.assert_allclose(row["probabilities"], expected, atol=2e-6)
        label = int(expected.argmax())
        assert row["label"] == label and row["class"] == CIFAR[label] and row["blank"] is False
    # the same predictions with another pipeline (no normalisation) differ: the contract counts
    plain = InputContract((3, 32, 32), CIFAR, "image")
    other = model.predict_proba(image_to_input(load_image(photos[0]), plain).x[None])[0]
    assert np.abs(other - np.array(rows[0]["probabilities"])).max() > 1e-3

    assert main(["predict", "--model", str(path), str(photos[0])]) == 0
    line = capsys.readouterr().out.strip()
    best = CIFAR[rows[0]["label"]]
    assert line.startswith(f"{photos[0]}: {best}  (")
    ranked = line.split("; ", 1)[1].rstrip(")").split(", ")
    assert ranked[0].startswith(f"{best}: ") and len(ranked) == 3
    assert all(entry.split(": ")[0] in CIFAR for entry in ranked)


def test_predict_refuses_a_network_whose_input_is_not_an_image(tmp_path, capsys):
    from cnnviz.nn import Dense, Flatten, Sequential

    model = Sequential([Flatten(), Dense(out_features=3)], input_shape=(2, 8, 8), seed=0,
                       name="two-plane")
    path = save_model(model, tmp_path / "two.npz")
    image = photo(tmp_path / "p.png", seed=0)
    assert main(["predict", "--model", str(path), str(image)]) == 2
    err = capsys.readouterr().err
    assert err == ("cnnviz: error: two-plane takes 2x8x8 inputs, which are not made from images: "
                   "`cnnviz predict` reads images\n")


def test_summary_shows_the_contract(tmp_path, capsys):
    path, _, contract = colour_file(tmp_path, fit="pad", fill=0.5)
    assert main(["summary", str(path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[-3:] == [
        "input: 3x32x32",
        "pipeline: RGB image: resize and pad (with 0.5) to 32x32, scale to [0, 1], normalise "
        "with mean (0.49, 0.48, 0.45) and std (0.25, 0.24, 0.26)",
        "classes (10): airplane, automobile, bird, cat, deer, dog, frog, horse, ship, truck"]
    assert main(["summary", "--json", str(path)]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["input"] == {"shape": [3, 32, 32], "classes": list(CIFAR), "pipeline": "image",
                               "fit": "pad", "fill": 0.5, "mean": [0.49, 0.48, 0.45],
                               "std": [0.25, 0.24, 0.26],
                               "description": contract.describe_pipeline()}


@pytest.mark.parametrize("preset", ["lenet5", "vgg-small"])
def test_summary_of_a_preset_shows_its_default_contract(preset, capsys):
    assert main(["summary", "--json", preset]) == 0
    result = json.loads(capsys.readouterr().out)["input"]
    assert result["shape"] == ([1, 28, 28] if preset == "lenet5" else [3, 32, 32])
    assert result["pipeline"] == ("digits" if preset == "lenet5" else "image")
    assert result["classes"] == [str(d) for d in range(10)]


def test_summary_shortens_a_long_class_list(tmp_path, capsys):
    from cnnviz.nn import Dense, Flatten, Sequential

    model = Sequential([Flatten(), Dense(out_features=40)], input_shape=(1, 16, 16), seed=0)
    names = tuple(f"kind {i}" for i in range(40))
    path = save_model(model, tmp_path / "many.npz",
                      contract=InputContract((1, 16, 16), names, "image"))
    assert main(["summary", str(path)]) == 0
    last = capsys.readouterr().out.splitlines()[-1]
    assert last == ("classes (40): kind 0, kind 1, kind 2, kind 3, kind 4, kind 5, kind 6, kind 7, "
                    "kind 8, kind 9, ... (29 more), kind 39")


def test_training_further_keeps_the_files_contract(tmp_path, capsys):
    """`cnnviz train --arch FILE` saves the network with the contract it was read with."""
    from cnnviz.nn import Dense, Flatten, Sequential

    names = tuple("zero one two three four five six seven eight nine".split())
    contract = InputContract((1, 28, 28), names, "digits", mean=(0.13,), std=(0.31,))
    model = Sequential([Flatten(), Dense(out_features=10)], input_shape=(1, 28, 28), seed=0)
    start = save_model(model, tmp_path / "start.npz", contract=contract)
    out = tmp_path / "out.npz"
    assert main(["train", "--arch", str(start), "--data", "offline", "--limit", "64",
                 "--epochs", "1", "--val-split", "0", "--workers", "1", "--quiet",
                 "--out", str(out)]) == 0
    capsys.readouterr()
    assert load_network(out).contract == contract


# ------------------------------------------------------------------ changing it on the command line
def foreign_onnx(tmp_path):
    """cifar-tutorial as an ONNX file without cnnviz's description (as PyTorch writes them)."""
    import onnx

    from cnnviz.nn.onnx_export import save_onnx

    model = build_preset("cifar-tutorial", seed=3)
    path = save_onnx(model, tmp_path / "foreign.onnx")
    proto = onnx.load(str(path))
    del proto.metadata_props[:]
    onnx.save(proto, str(path))
    return path, model


def test_predict_takes_the_contract_from_the_options(tmp_path, capsys):
    path, model = foreign_onnx(tmp_path)
    names = tmp_path / "names.txt"
    names.write_text("\n".join(CIFAR[:9]) + "\ncat\n")  # a repeated name is numbered
    photos = [photo(tmp_path / f"p{i}.png", seed=i) for i in range(2)]
    options = ["--classes", str(names), "--fit", "pad", "--mean", "0.49,0.48,0.45",
               "--std", "0.25"]
    assert main(["predict", "--model", str(path), "--json", *options, *map(str, photos)]) == 0
    out, err = capsys.readouterr()
    assert err == ("cnnviz: --classes: 'cat' appears twice: the second is called 'cat (2)'\n")
    named = CIFAR[:9] + ("cat (2)",)
    contract = InputContract((3, 32, 32), named, "image", fit="pad", mean=(0.49, 0.48, 0.45),
                             std=(0.25, 0.25, 0.25))
    for line, file in zip(out.splitlines(), photos, strict=True):
        row = json.loads(line)
        expected = model.predict_proba(image_to_input(load_image(file), contract).x[None])[0]
        np.testing.assert_allclose(row["probabilities"], expected, atol=2e-6)
        assert row["class"] == named[int(expected.argmax())]
    # without the options: numbered classes, no normalisation
    assert main(["predict", "--model", str(path), "--json", str(photos[0])]) == 0
    row = json.loads(capsys.readouterr().out)
    plain = InputContract((3, 32, 32), tuple(map(str, range(10))), "image")
    expected = model.predict_proba(image_to_input(load_image(photos[0]), plain).x[None])[0]
    np.testing.assert_allclose(row["probabilities"], expected, atol=2e-6)


def test_summary_and_evaluate_take_the_options(tmp_path, capsys):
    path, _ = foreign_onnx(tmp_path)
    assert main(["summary", "--json", str(path), "--classes", ",".join(CIFAR),
                 "--mean", "0.5", "--std", "0.25,0.25,0.5"]) == 0
    result = json.loads(capsys.readouterr().out)["input"]
    assert (result["classes"], result["mean"], result["std"]) == \
        (list(CIFAR), [0.5] * 3, [0.25, 0.25, 0.5])
    digits = ",".join(["zero", "one", "two", "three", "four", "five", "six", "seven", "eight",
                       "nine"])
    assert main(["evaluate", "--data", "offline", "--limit", "20", "--json",
                 "--classes", digits]) == 0
    assert json.loads(capsys.readouterr().out)["classes"] == digits.split(",")


@pytest.mark.parametrize("options, message", [
    (["--classes", "a,b,c"], "--classes: 3 class names for the network's 10 outputs"),
    (["--classes", "@missing.txt"], "--classes @missing.txt: cannot be read (No such file or "
                                    "directory)"),
    (["--mean", "0.5,0.5"], "--mean: 2 numbers for 3 channels (give one per channel, or one "
                            "for all)"),
    (["--std", "0.2,zero,0.2"], "--std: 'zero' is not a number"),
    (["--std", "0"], "--std 0: std of channel 0 must be a number from 0.0001 to 1000, not 0.0"),
    (["--pipeline", "digits"], "--pipeline digits: the digits pipeline makes one square channel "
                               "of at least 8x8, not 3x32x32"),
])
@pytest.mark.parametrize("command", ["predict", "summary", "evaluate", "export"])
def test_wrong_options_are_one_line_and_exit_2(tmp_path, capsys, monkeypatch, command, options,
                                               message):
    monkeypatch.chdir(tmp_path)
    path, _ = foreign_onnx(tmp_path)
    args = {"predict": ["predict", "--model", str(path), "p.png"],
            "summary": ["summary", str(path)],
            "evaluate": ["evaluate", "--model", str(path), "--data", "offline"],
            "export": ["export", str(path), "out.npz"]}[command]
    assert main([*args, *options]) == 2
    out, err = capsys.readouterr()
    assert (out, err) == ("", f"cnnviz: error: {message}\n")
    assert not (tmp_path / "out.npz").exists()


def test_gui_passes_the_options_to_the_window(tmp_path, capsys, monkeypatch):
    import cnnviz.ui.window.app

    calls = []
    monkeypatch.setattr(cnnviz.ui.window.app, "run_app",
                        lambda argv, **kwargs: calls.append(kwargs) or 0)
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    path, _ = foreign_onnx(tmp_path)
    names = tmp_path / "names.txt"
    names.write_text("\n".join(CIFAR))
    assert main(["gui", "--model", str(path), "--classes", f"@{names}", "--mean", "0.5",
                 "--pipeline", "image"]) == 0
    assert calls == [{"model": str(path), "image": None, "contract_changes": {
        "classes": CIFAR, "mean": "0.5", "pipeline": "image"}}]
    assert main(["gui", "--classes", str(names)]) == 2
    assert capsys.readouterr().err == ("cnnviz: error: --classes: only with --model (the "
                                       "network whose input they describe)\n")
    assert main(["gui", "--model", str(path), "--classes", str(tmp_path / "none.txt,x")]) == 0
    assert calls[-1]["contract_changes"]["classes"] == (str(tmp_path / "none.txt"), "x")
