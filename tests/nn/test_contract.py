"""Input contracts: what a network takes, recorded in its file, checked strictly when read."""

import json
import math

import numpy as np
import pytest

from cnnviz.nn import (ContractError, InputContract, ModelFileError, build_preset,
                       default_contract, load_model, load_model_with_metadata, load_network,
                       save_model)
from npz_files import entries, write_npz

CIFAR = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


def colour_contract(**changes):
    settings = dict(shape=(3, 32, 32), classes=CIFAR, pipeline="image", fit="crop",
                    mean=(0.4914, 0.4822, 0.4465), std=(0.247, 0.2435, 0.2616))
    settings.update(changes)
    return InputContract(**settings)



def with_input(path, out, value):
    """A copy of the file at ``path`` whose architecture's "input" is ``value`` (raw JSON text
    when a str starting with '@', else a JSON value; popped when ``...``)."""
    arrays = entries(path)
    config = json.loads(arrays["architecture"].tobytes())
    if value is ...:
        config.pop("input")
        text = json.dumps(config)
    elif isinstance(value, str) and value.startswith("@"):
        config["input"] = "@@"
        text = json.dumps(config).replace('"@@"', value[1:])
    else:
        config["input"] = value
        text = json.dumps(config)
    arrays["architecture"] = np.frombuffer(text.encode("utf-8", "surrogatepass"), np.uint8)
    return write_npz(out, arrays)


# ----------------------------------------------------------------- round trips and old files
def test_a_colour_contract_round_trips_with_its_network(tmp_path):
    model = build_preset("vgg-small", seed=2)
    contract = colour_contract()
    path = save_model(model, tmp_path / "vgg.npz", metadata={"accuracy": 0.8}, contract=contract)
    network = load_network(path)
    assert network.contract == contract
    assert network.metadata == {"accuracy": 0.8}
    assert network.model.config() == model.config()
    # the existing entry points still work on the new files
    loaded, meta = load_model_with_metadata(path)
    assert meta == {"accuracy": 0.8} and loaded.input_shape == (3, 32, 32)
    assert load_model(path).output_shape == (10,)


def test_pad_fill_and_numbered_names_round_trip(tmp_path):
    model = build_preset("tiny", seed=0)
    contract = InputContract((1, 28, 28), tuple(f"class {i}" for i in range(10)), "image",
                             fit="pad", fill=0.25, mean=(0.13,), std=(0.31,))
    path = save_model(model, tmp_path / "t.npz", contract=contract)
    assert load_network(path).contract == contract


def test_save_without_a_contract_records_the_default_one(tmp_path):
    path = save_model(build_preset("cifar-tutorial", seed=0), tmp_path / "c.npz")
    config = json.loads(entries(path)["architecture"].tobytes())
    assert config["input"]["shape"] == [3, 32, 32] and config["input"]["pipeline"] == "image"
    assert load_network(path).contract.classes == tuple("0123456789")


def test_an_old_file_without_a_contract_loads_as_a_digit_network(tmp_path):
    """Written the way cnnviz wrote files before contracts: architecture without "input"."""
    model = build_preset("lenet5", seed=4)
    arrays = {"architecture": np.frombuffer(json.dumps(model.config()).encode(), np.uint8),
              "metadata": np.frombuffer(b'{"test_accuracy": 0.99}', np.uint8)}
    arrays.update({f"params/{k}": v for k, v in model.named_params().items()})
    path = write_npz(tmp_path / "old.npz", arrays)
    network = load_network(path)
    assert network.contract.shape == (1, 28, 28)
    assert network.contract.pipeline == "digits"
    assert network.contract.classes == ("0", "1", "2", "3", "4", "5", "6", "7", "8", "9")
    assert not network.contract.normalised
    assert network.metadata == {"test_accuracy": 0.99}
    x = np.random.default_rng(0).random((2, 1, 28, 28), dtype=np.float32)
    np.testing.assert_array_equal(network.model.forward(x), model.forward(x))


def test_the_shipped_digit_network_reads_as_a_digit_network():
    from cnnviz.resources import resource_path

    contract = load_network(resource_path("models", "lenet5.npz")).contract
    assert contract.pipeline == "digits" and contract.shape == (1, 28, 28)
    assert contract.classes == tuple(str(d) for d in range(10))


def test_default_contracts_follow_the_network():
    assert default_contract((1, 28, 28), (10,)).pipeline == "digits"
    assert default_contract((3, 32, 32), (10,)).pipeline == "image"
    assert default_contract((1, 16, 16), (4,)).classes == ("0", "1", "2", "3")
    assert default_contract((2, 12, 12), (10,)).pipeline == "none"
    assert default_contract((784,), (10,)).pipeline == "none"
    many = default_contract((3, 8, 8), (16, 30, 30))  # more outputs than names: numbered
    assert many.classes == () and many.class_name(14399) == "14399"
    many.check_network((3, 8, 8), (16, 30, 30))  # fits, although it names no class


def test_saving_a_contract_that_does_not_fit_writes_nothing(tmp_path):
    model = build_preset("lenet5", seed=0)
    with pytest.raises(ContractError, match="network takes 1x28x28"):
        save_model(model, tmp_path / "x.npz", contract=colour_contract())
    with pytest.raises(ContractError, match="3 class names for the network's 10 outputs"):
        save_model(model, tmp_path / "x.npz",
                   contract=InputContract((1, 28, 28), ("a", "b", "c")))
    assert not list(tmp_path.iterdir())


# ----------------------------------------------------------------- strict checks of the file
@pytest.fixture(scope="module")
def colour_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("contract") / "colour.npz"
    return save_model(build_preset("cifar-tutorial", seed=1), path, contract=colour_contract())


def good():
    return colour_contract().to_dict()


def changed(**fields):
    value = good()
    for key, v in fields.items():
        if v is ...:
            value.pop(key)
        else:
            value[key] = v
    return value


BAD = {
    "not an object": ([1, 2], "must be a JSON object"),
    "unknown field": (changed(colours="rgb"), "unknown field 'colours'"),
    "wrong format": (changed(format="other"), "format must be 'cnnviz-input'"),
    "newer version": (changed(version=2), "written by a newer cnnviz"),
    "bool version": (changed(version=True), "version must be a positive whole number"),
    "no classes": (changed(classes=...), "has no 'classes'"),
    "no shape": (changed(shape=...), "has no 'shape'"),
    "shape text": (changed(shape="3x32x32"), "input shape must be a list"),
    "shape of two": (changed(shape=[32, 32]), "three positive whole numbers"),
    "shape float": (changed(shape=[3.0, 32, 32]), "three positive whole numbers"),
    "shape zero": (changed(shape=[0, 32, 32]), "three positive whole numbers"),
    "shape huge": (changed(shape=[3, 10**4000, 32]), "width), not (3, 10000000"),
    "shape large": (changed(shape=[3, 65537, 32]), "width), not (3, 65537, 32)"),
    "huge version": (changed(version=10**3000), "version an integer of 3001 digits, written by"),
    "shape other": (changed(shape=[3, 28, 28]), "says 3x28x28, the network takes 3x32x32"),
    "too few classes": (changed(classes=list(CIFAR[:9])),
                        "9 class names for the network's 10 outputs"),
    "too many classes": (changed(classes=list(CIFAR) + ["x"]), "11 class names"),
    "classes empty": (changed(classes=[]), "no class names for the network's 10 outputs"),
    "class not text": (changed(classes=list(CIFAR[:9]) + [7]), "class name 9 must be text"),
    "class empty": (changed(classes=[""] + list(CIFAR[1:])), "class name 0 must have 1 to 128"),
    "class spaces": (changed(classes=["   "] + list(CIFAR[1:])), "only spaces"),
    "class too long": (changed(classes=["x" * 129] + list(CIFAR[1:])), "not 129"),
    "class control": (changed(classes=["a\x1b[2J"] + list(CIFAR[1:])), "control or invalid"),
    "class surrogate": (changed(classes=["a\ud800"] + list(CIFAR[1:])), "control or invalid"),
    "class twice": (changed(classes=["cat"] + list(CIFAR[1:])), "'cat' appears twice"),
    "classes text": (changed(classes="airplane"), "class names must be a list"),
    "pipeline unknown": (changed(pipeline="photo"), "unknown pipeline 'photo'"),
    "pipeline not text": (changed(pipeline=["image"]), "pipeline must be text"),
    "digits in colour": (changed(pipeline="digits"), "digits pipeline makes one square"),
    "fit unknown": (changed(fit="stretch"), "unknown fit 'stretch'"),
    "fit not text": (changed(fit=1), "fit must be text"),
    "fill out of range": (changed(fill=1.5), "fill value must be a number from 0 to 1"),
    "fill text": (changed(fill="0"), "fill value must be a number"),
    "mean short": (changed(mean=[0.5, 0.5]), "mean needs one value per channel (3), not 2"),
    "mean not list": (changed(mean=0.5), "mean must be a list"),
    "mean huge": (changed(mean=[0.5, 1e6, 0.5]), "mean of channel 1 must be a number"),
    "mean huge int": (changed(mean=[0.5, 10**400, 0.5]), "mean of channel 1"),
    "mean bool": (changed(mean=[0.5, 0.5, True]), "mean of channel 2"),
    "std zero": (changed(std=[0.2, 0.0, 0.2]), "std of channel 1 must be a number from 0.0001"),
    "std negative": (changed(std=[-0.2, 0.2, 0.2]), "std of channel 0"),
    "std tiny": (changed(std=[1e-30, 0.2, 0.2]), "std of channel 0"),
    "std long": (changed(std=[0.2] * 4), "std needs one value per channel (3), not 4"),
    "std null": (changed(std=[0.2, None, 0.2]), "std of channel 1"),
}


@pytest.mark.parametrize("case", BAD)
def test_a_wrong_contract_is_one_precise_message(colour_file, tmp_path, case):
    value, words = BAD[case]
    path = with_input(colour_file, tmp_path / "bad.npz", value)
    with pytest.raises(ModelFileError) as info:
        load_network(path)
    message = str(info.value)
    assert message.startswith("bad.npz: the input description (what the network takes) is "
                              "wrong: "), message
    assert words in message and "\n" not in message


@pytest.mark.parametrize("raw", ["NaN", "Infinity", "-Infinity", "1e400"])
def test_non_finite_numbers_in_the_contract_are_refused(colour_file, tmp_path, raw):
    value = json.dumps(changed(fill="@@")).replace('"@@"', raw)
    path = with_input(colour_file, tmp_path / "bad.npz", "@" + value)
    with pytest.raises(ModelFileError, match="bad.npz: the .*(not valid JSON|beyond the range)"):
        load_network(path)


def test_every_field_but_shape_classes_and_pipeline_has_a_default(colour_file, tmp_path):
    value = {"format": "cnnviz-input", "version": 1, "shape": [3, 32, 32],
             "classes": list(CIFAR), "pipeline": "image"}
    contract = load_network(with_input(colour_file, tmp_path / "ok.npz", value)).contract
    assert (contract.fit, contract.fill, contract.mean, contract.std) == \
        ("crop", 0.0, (0.0, 0.0, 0.0), (1.0, 1.0, 1.0))


def test_contracts_check_themselves_when_made_in_code():
    with pytest.raises(ContractError, match="image pipeline makes 1 .grey. or 3 .RGB. channels"):
        InputContract((2, 8, 8), ("a",), "image")
    with pytest.raises(ContractError, match="vector of 784 numbers has no image pipeline"):
        InputContract((784,), ("a",), "image")
    assert InputContract((2, 8, 8), ("a", "b"), "none").describe_pipeline().startswith("none")
    assert math.isclose(colour_contract().std[2], 0.2616)


def test_descriptions_say_what_the_pipeline_does():
    assert colour_contract().describe_pipeline() == (
        "RGB image: resize and centre-crop to 32x32, scale to [0, 1], normalise with mean "
        "(0.4914, 0.4822, 0.4465) and std (0.247, 0.2435, 0.2616)")
    assert default_contract((1, 28, 28), (10,)).describe_pipeline() == (
        "digits: find the ink, crop, fit in 20x20, centre by mass in 28x28")


# ------------------------------------------------------------------ what users type
def test_class_names_from_lines_number_the_repeated_ones():
    from cnnviz.nn.contract import class_names_from_lines

    names, notes = class_names_from_lines(["  tench ", "", "crane", "kite", "crane", "crane",
                                           "crane (2)", "\t"])
    # "crane (2)" given by the user later is kept apart from the generated ones.
    assert names == ("tench", "crane", "kite", "crane (2)", "crane (3)", "crane (2) (2)")
    assert notes == ["'crane' appears 3 times: the later ones are called 'crane (2)' to "
                     "'crane (3)'", "'crane (2)' appears twice: the second is called "
                     "'crane (2) (2)'"]
    assert len(set(names)) == len(names)


def test_read_class_names_reads_utf8_lines_and_refuses_other_files(tmp_path):
    from cnnviz.nn.contract import MAX_NAMES_FILE_BYTES, read_class_names

    path = tmp_path / "names.txt"
    path.write_bytes("\ufeffchat\r\nb\u00e6r\n\nchat\n".encode())
    assert read_class_names(path) == (("chat", "b\u00e6r", "chat (2)"),
                                      ["'chat' appears twice: the second is called 'chat (2)'"])
    path.write_bytes(b"cat\n\xff\xfedog\n")
    with pytest.raises(ContractError, match=r"not UTF-8 text \(byte 4\)"):
        read_class_names(path)
    path.write_bytes(b"cat\x00dog")
    with pytest.raises(ContractError, match="NUL"):
        read_class_names(path)
    with open(path, "wb") as handle:  # sparse: nothing that large is read
        handle.truncate(MAX_NAMES_FILE_BYTES + 10)
    with pytest.raises(ContractError, match="larger than a list of 10,000 class names"):
        read_class_names(path)


@pytest.mark.parametrize("text, values", [
    ("0.485,0.456,0.406", (0.485, 0.456, 0.406)), (" 1  2, 3 ", (1.0, 2.0, 3.0)),
    ("0.5", (0.5, 0.5, 0.5)), ("-1e-2,0,2", (-0.01, 0.0, 2.0))])
def test_channel_values_are_one_per_channel_or_one_for_all(text, values):
    from cnnviz.nn.contract import channel_values

    assert channel_values(text, 3, "mean") == values


@pytest.mark.parametrize("text, message", [
    ("", r"mean: give one number per channel \(3\)"),
    ("1,2", r"mean: 2 numbers for 3 channels \(give one per channel, or one for all\)"),
    ("1,x,2", "mean: 'x' is not a number"), ("1,nan,2", "mean: 'nan' is not a finite number"),
    ("inf", "mean: 'inf' is not a finite number")])
def test_channel_values_say_what_is_wrong(text, message):
    from cnnviz.nn.contract import channel_values

    with pytest.raises(ContractError, match=f"^{message}$"):
        channel_values(text, 3, "mean")


def test_changed_contract_changes_only_what_is_given():
    from cnnviz.nn.contract import changed_contract

    contract = colour_contract()
    assert changed_contract(contract) is contract
    changed = changed_contract(contract, fit="pad", std="0.5")
    assert changed == InputContract(**{**contract.__dict__, "fit": "pad",
                                       "std": (0.5, 0.5, 0.5)})
    with pytest.raises(ContractError, match="std of channel 0 must be a number from 0.0001"):
        changed_contract(contract, std="0")


def test_imagenets_long_synset_descriptions_are_class_names():
    from cnnviz.nn.contract import class_names_from_lines

    lines = [f"kind {k}" for k in range(1000)]
    lines[296] = "ice bear, polar bear, Ursus Maritimus, Thalarctos maritimus"
    names, _ = class_names_from_lines(lines)
    contract = InputContract((3, 224, 224), names, "image")
    contract.check_network((3, 224, 224), (1000,))
    assert contract.class_name(296).startswith("ice bear, polar bear")
