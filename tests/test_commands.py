"""The headless commands, run in-process through ``cnnviz.cli.main``."""

import json

import numpy as np
import pytest
from PIL import Image

from cnnviz.cli import main
from cnnviz.nn import build_preset, load_model_with_metadata, save_model


def test_summary_of_a_preset_and_of_a_file(tmp_path, capsys):
    assert main(["summary", "lenet5"]) == 0
    out = capsys.readouterr().out
    assert "61,706" in out and "Conv2D" in out and "RF size" in out
    path = save_model(build_preset("tiny", seed=0), tmp_path / "tiny.npz")
    assert main(["summary", str(path)]) == 0
    assert "9,098" in capsys.readouterr().out


def test_summary_of_a_bad_file_is_a_clear_error(tmp_path, capsys):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"nope")
    assert main(["summary", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("cnnviz: error: bad.npz: not a network file") and "Traceback" not in err


def test_train_offline_saves_a_network_and_prints_a_json_summary(tmp_path, capsys):
    out = tmp_path / "net.npz"
    code = main(["train", "--arch", "tiny", "--data", "offline", "--limit", "600", "--epochs", "2",
                 "--val-split", "100", "--batch-size", "32", "--quiet", "--out", str(out)])
    assert code == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["status"] == "finished" and summary["epochs_completed"] == 2
    assert summary["steps"] == 2 * -(-500 // 32)
    model, meta = load_model_with_metadata(out)
    assert meta["test_accuracy"] == summary["test_accuracy"] > 0.3   # well above chance (0.1)
    assert model.name == "tiny"


def test_train_refuses_bad_settings(tmp_path, capsys):
    assert main(["train", "--epochs", "0", "--data", "offline", "--out", str(tmp_path / "x")]) == 2
    assert "epochs" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_evaluate_json_counts_the_confusion_matrix_of_the_real_images(tmp_path, capsys):
    """The matrix against a loop count over the same 300 offline test digits."""
    from cnnviz.data import synthetic_dataset, to_float_batch

    model = build_preset("tiny", seed=0)
    for name, value in model.named_params().items():    # random but decisive: varied answers
        value *= 4
    path = save_model(model, tmp_path / "tiny.npz")
    assert main(["evaluate", "--model", str(path), "--data", "offline", "--limit", "300",
                 "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    data = synthetic_dataset(n_train=300, n_test=300, seed=0)
    images, labels = to_float_batch(data.test_x), data.test_y
    expected = np.zeros((10, 10), int)
    for image, label in zip(images, labels):
        expected[int(label), int(np.argmax(model.forward(image[None])[0]))] += 1
    assert (expected > 0).sum() > 10                    # more than a diagonal or one column
    np.testing.assert_array_equal(np.array(result["confusion_matrix"]), expected)
    assert result["count"] == 300
    assert result["accuracy"] == pytest.approx(np.trace(expected) / 300)


def test_predict_reports_bad_files_and_carries_on(tmp_path, capsys):
    good = tmp_path / "digit.png"
    canvas = np.zeros((100, 100), np.uint8)
    canvas[20:80, 45:55] = 255
    Image.fromarray(canvas).save(good)
    broken = tmp_path / "broken.png"
    broken.write_bytes(good.read_bytes()[:40])
    missing = tmp_path / "missing.png"
    model = save_model(build_preset("lenet5", seed=0), tmp_path / "m.npz")
    code = main(["predict", "--model", str(model), "--json", str(broken), str(good), str(missing)])
    assert code == 1
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [("error" in line) for line in lines] == [True, False, True]
    assert lines[1]["file"] == str(good)
    probs = np.array(lines[1]["probabilities"])
    assert probs.shape == (10,) and probs.sum() == pytest.approx(1, abs=1e-4)
    assert lines[1]["label"] == int(probs.argmax())


def sensitive_network():
    """A one-layer network whose answer moves with every change of the 28x28 input: smooth
    random templates, scaled so that the logits differ by several units."""
    from cnnviz.analysis.display import gaussian_blur
    from cnnviz.nn import Dense, Flatten, Sequential

    rng = np.random.default_rng(0)
    weights = gaussian_blur(rng.standard_normal((10, 1, 28, 28)), 3.0).reshape(10, 784)
    weights *= 400 / np.abs(weights).sum(axis=1, keepdims=True).mean()
    model = Sequential([Flatten(), Dense(out_features=10)], input_shape=(1, 28, 28), seed=0)
    model.set_weights({"1.weight": weights.astype(np.float32), "1.bias": np.zeros(10, np.float32)})
    return model


def drawn_seven(size, box, top, left, invert):
    """A '7'-like stroke ``box`` pixels tall at (top, left) of a ``size`` x ``size`` picture."""
    img = np.zeros((size, size))
    s = box / 6
    img[int(top):int(top + box), int(left + 2 * s):int(left + 3 * s)] = 1
    img[int(top):int(top + s), int(left + s):int(left + 4 * s)] = 1
    return 1 - img if invert else img


def test_predict_uses_the_digit_preprocessing(tmp_path, capsys):
    """One drawing, small and filling its picture, tiny in a corner of a large picture, and dark
    on light: after cropping, scaling and centring the network sees one digit and gives one
    answer, although the three pictures resized as they are give it three different answers."""
    from cnnviz.data import to_network_input

    model = sensitive_network()
    path = save_model(model, tmp_path / "m.npz")
    pictures = [drawn_seven(60, 48, 6, 6, False), drawn_seven(400, 60, 300, 20, False),
                drawn_seven(300, 120, 30, 150, True)]
    as_they_are = np.array([model.predict_proba(to_network_input(p, 1, 28, 28)[None])[0]
                            for p in pictures])
    assert min(np.abs(as_they_are[i] - as_they_are[j]).max()
               for i in range(3) for j in range(i)) > 0.3     # the network tells them apart
    files = []
    for i, picture in enumerate(pictures):
        files.append(tmp_path / f"d{i}.png")
        Image.fromarray(np.round(picture * 255).astype(np.uint8)).save(files[-1])
    assert main(["predict", "--model", str(path), "--json", *map(str, files)]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    probs = np.array([r["probabilities"] for r in rows])
    assert probs.max(axis=1).min() > 0.5                       # a clear answer, not a flat one
    np.testing.assert_allclose(probs[1], probs[0], atol=0.02)  # size and place normalised
    np.testing.assert_allclose(probs[2], probs[0], atol=0.02)  # dark ink on light inverted


def colour_network(path):
    """A small network that takes 3x32x32 images (what colour data will bring)."""
    from cnnviz.nn import Dense, Flatten, Sequential

    return save_model(Sequential([Flatten(), Dense(out_features=10)], input_shape=(3, 32, 32),
                                 seed=0), path)


def test_evaluate_refuses_a_network_that_does_not_take_the_data(tmp_path, capsys):
    path = colour_network(tmp_path / "rgb.npz")
    assert main(["evaluate", "--model", str(path), "--data", "offline", "--limit", "30"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    err = captured.err
    assert err.startswith("cnnviz: error: this network takes 3x32x32 images") and err.count("\n") == 1
    assert "the offline digits are 1x28x28" in err and "--model" in err and "--data" in err


def test_an_unknown_data_name_is_reported_as_such(capsys):
    assert main(["evaluate", "--data", "imagenet", "--limit", "30"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("cnnviz: error: --data imagenet: no dataset or folder of that name")
    assert "mnist, cifar10, offline" in err and "MNIST folder" not in err


def test_predict_says_a_blank_image_holds_no_digit(tmp_path, capsys):
    model = save_model(build_preset("lenet5", seed=0), tmp_path / "m.npz")
    paper = tmp_path / "paper.png"
    Image.fromarray(np.full((50, 60), 255, np.uint8)).save(paper)     # white, no ink
    digit = tmp_path / "digit.png"
    canvas = np.full((100, 100), 255, np.uint8)
    canvas[20:80, 45:55] = 0
    Image.fromarray(canvas).save(digit)
    assert main(["predict", "--model", str(model), str(paper), str(digit)]) == 1
    blank_line, digit_line = capsys.readouterr().out.splitlines()
    assert blank_line.startswith(f"{paper}: no digit: the image holds no ink (blank); "
                                 "the network's output anyway: ")
    assert "no ink" not in digit_line and digit_line.startswith(f"{digit}: ")
    assert main(["predict", "--model", str(model), "--json", str(paper), str(digit)]) == 1
    blank, drawn = map(json.loads, capsys.readouterr().out.splitlines())
    assert blank["blank"] is True and blank["label"] is None and len(blank["probabilities"]) == 10
    assert blank["class"] is None
    assert drawn["blank"] is False and drawn["label"] == int(np.argmax(drawn["probabilities"]))
    assert drawn["class"] == str(drawn["label"])
    assert main(["predict", "--model", str(model), str(digit)]) == 0    # ink only: success


def test_a_plain_white_photo_is_a_photo_for_an_image_network(tmp_path, capsys):
    """"No ink" is a digit network's notion: an image network classifies a white picture."""
    model = colour_network(tmp_path / "m.npz")
    paper = tmp_path / "paper.png"
    Image.fromarray(np.full((50, 60), 255, np.uint8)).save(paper)
    assert main(["predict", "--model", str(model), "--json", str(paper)]) == 0
    row = json.loads(capsys.readouterr().out)
    assert row["blank"] is False and row["label"] == int(np.argmax(row["probabilities"]))


def hand_receptive_fields(config):
    """(size, stride, start) of each layer's units along one axis, by the usual recurrence
    (size += (kernel - 1) * jump; start -= pad * jump; jump *= stride); None once global."""
    size, jump, start, fields = 1, 1, 0, []
    for spec in config["layers"]:
        if spec["kind"] in ("Conv2D", "MaxPool2D"):
            kernel = spec.get("kernel_size", spec.get("size"))[0]
            pad = (kernel - 1) // 2 if spec["padding"] == "same" else 0
            size, start, jump = size + (kernel - 1) * jump, start - pad * jump, jump * spec["stride"][0]
        elif spec["kind"] == "Dense":
            size = None
        fields.append(None if size is None else (size, jump, start))
    return fields


@pytest.mark.parametrize("preset", ["lenet5", "tiny", "mlp"])
def test_summary_json_gives_the_networks_real_numbers(preset, tmp_path, capsys):
    model = build_preset(preset, seed=0)
    path = save_model(model, tmp_path / "net.npz")
    assert main(["summary", "--json", str(path)]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["name"] == preset and result["input_shape"] == list(model.input_shape)
    params = model.named_params()
    assert result["params"] == sum(p.size for p in params.values())
    outputs = model.trace(np.zeros((1, *model.input_shape), np.float32))[1:]
    fields = hand_receptive_fields(model.config())
    assert [layer["index"] for layer in result["layers"]] == list(range(len(model.layers)))
    for i, (layer, out, field) in enumerate(zip(result["layers"], outputs, fields, strict=True)):
        assert layer["kind"] == type(model.layers[i]).__name__
        assert layer["output_shape"] == list(out.shape[1:])
        assert layer["params"] == sum(p.size for name, p in params.items()
                                      if name.split(".")[0] == str(i))
        rf = layer["receptive_field"]
        if field is None:
            assert rf == {"whole_input": True}
        else:
            size, jump, start = field
            assert rf == {"whole_input": False, "size": [size] * 2, "stride": [jump] * 2,
                          "start": [start] * 2}
    assert result["layers"][0]["settings"] == {k: v for k, v in model.config()["layers"][0].items()
                                               if k != "kind"}


def test_bench_json_carries_the_measured_figures(monkeypatch, capsys):
    """The figures the benchmark functions measure reach the JSON unrounded, and nothing else is
    printed on standard output (the measuring itself is tested in tests/test_benchmark.py)."""
    from cnnviz import benchmark

    calls = []

    def throughput(batch, rounds, seconds):
        calls.append((batch, rounds, seconds))
        return {"numpy": 1000.5 + batch, "numpy_1": 700.25 + batch, "workers": 2}

    latencies = np.array([0.5, 0.25, 2.0, 0.75, 1.0])
    monkeypatch.setattr(benchmark, "_torch", lambda: None)
    monkeypatch.setattr(benchmark, "training_throughput", throughput)
    monkeypatch.setattr(benchmark, "trace_latency", lambda: {"numpy_trace": latencies})
    monkeypatch.setattr(benchmark, "predict_throughput", lambda model: 1234.5)
    assert main(["bench", "--json", "--predict", "--rounds", "3", "--seconds", "0.5"]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1
    result = json.loads(out)
    assert calls == [(64, 3, 0.5), (128, 3, 0.5)]
    assert result["torch"] is None
    assert result["training"] == [
        {"batch": b, "workers": 2, "numpy_samples_per_s": 1000.5 + b,
         "numpy_one_process_samples_per_s": 700.25 + b, "torch_samples_per_s": None}
        for b in (64, 128)]
    ordered = sorted(latencies)
    p99 = ordered[3] + 0.96 * (ordered[4] - ordered[3])    # linear interpolation at 99 %
    assert result["trace_ms"] == {"median": 0.75, "p99": pytest.approx(p99),
                                  "torch_forward_median": None}
    assert result["predict_images_per_s"] == 1234.5
    assert result["epoch"] is None and result["convergence"] is None


@pytest.mark.parametrize("damage", ["not a zip", "truncated", "folder"])
@pytest.mark.parametrize("command", [["summary"], ["summary", "--json"], ["predict", "--model"],
                                     ["evaluate", "--data", "offline", "--model"]])
def test_a_damaged_network_file_is_one_clean_line(tmp_path, capsys, damage, command):
    good = save_model(build_preset("tiny", seed=0), tmp_path / "good.npz")
    bad = tmp_path / "bad.npz"
    if damage == "not a zip":
        bad.write_bytes(b"nope")
    elif damage == "truncated":
        bad.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    else:
        bad.mkdir()
    image = tmp_path / "digit.png"
    Image.fromarray(np.full((20, 20), 255, np.uint8)).save(image)
    args = [*command, str(bad)] + ([str(image)] if command[0] == "predict" else [])
    assert main(args) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("cnnviz: error: ") and captured.err.count("\n") == 1
    assert "bad.npz" in captured.err and "Traceback" not in captured.err


def test_evaluate_refuses_a_network_with_too_few_classes(tmp_path, capsys):
    from cnnviz.nn import Dense, Flatten, Sequential

    path = save_model(Sequential([Flatten(), Dense(out_features=5)], input_shape=(1, 28, 28),
                                 seed=0), tmp_path / "five.npz")
    assert main(["evaluate", "--model", str(path), "--data", "offline", "--limit", "30"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("cnnviz: error: this network gives 5 class scores but the offline "
                          "digits have labels 0 to 9") and err.count("\n") == 1


@pytest.mark.parametrize("option", [["--rounds", "0"], ["--seconds", "0"], ["--seconds", "nan"]])
def test_bench_refuses_settings_that_measure_nothing(option, capsys):
    assert main(["bench", *option]) == 2
    assert capsys.readouterr().err.startswith("cnnviz: error: --rounds must be at least 1")
