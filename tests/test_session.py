"""The Qt-free session: one trace per change, the same maths as the CLI, errors change nothing."""

import numpy as np
import pytest
from PIL import Image

from cnnviz.data import CIFAR10_CLASSES, DataError, load_image, preprocess_digit, to_grey
from cnnviz.data.pipeline import image_to_input
from cnnviz.nn import (Conv2D, Dense, Flatten, ModelFileError, ReLU, Sequential, build_preset,
                       load_model, load_network, save_model)
from cnnviz.nn.contract import InputContract
from cnnviz.example_networks import shipped_network
from cnnviz.session import (CanvasInput, ImageInput, NetworkEntry, Session, SessionError,
                            blank_canvas)


def ink_raster(seed=0) -> np.ndarray:
    """A 280x280 uint8 canvas with a vertical bar of ink and a bit of noise."""
    raster = np.zeros((280, 280), dtype=np.uint8)
    raster[40:240, 130:150] = 255
    raster[40:60, 100:150] = 200 + seed
    return raster


@pytest.fixture
def model():
    return build_preset("lenet5", seed=1)


@pytest.fixture
def session(model):
    return Session(model)


@pytest.fixture
def count_forwards(monkeypatch):
    """Return a function that counts ``Sequential.trace`` calls of a model from now on."""

    def install(model) -> list:
        calls = []
        original = model.trace

        def counting(x, progress=None):
            calls.append(x.shape)
            return original(x, progress)

        monkeypatch.setattr(model, "trace", counting)
        return calls

    return install


def digit_png(path, dark_on_light=True):
    """A 120x90 greyscale PNG of a thick vertical stroke."""
    pixels = np.full((120, 90), 255 if dark_on_light else 0, dtype=np.uint8)
    pixels[15:105, 40:52] = 0 if dark_on_light else 255
    Image.fromarray(pixels).save(path)
    return path


def test_the_session_module_does_not_import_qt(run_python):
    code = ("import sys, cnnviz.session; "
            "print(sorted(m for m in ('PySide6', 'shiboken6', 'pyqtgraph') if m in sys.modules))")
    result = run_python(["-c", code])
    assert result.returncode == 0, result.stderr
    assert result.stdout == "[]\n"


def test_a_new_session_shows_a_blank_canvas_and_one_trace(session, model):
    trace = session.trace
    assert isinstance(session.source, CanvasInput) and session.source.is_blank
    assert session.source.raster.shape == (280, 280)
    assert trace.blank and trace.version == 1
    assert trace.network_input.shape == (1, 28, 28) and not trace.network_input.any()
    assert len(trace.outputs) == len(model.layers)
    assert len(trace.activations) == len(model.layers) + 1
    for layer, output in zip(model.layers, trace.outputs):
        assert output.shape == tuple(layer.output_shape)  # batch axis removed
    assert trace.probabilities.shape == (10,)
    assert trace.probabilities.sum() == pytest.approx(1.0, abs=1e-5)
    assert not session.modified


def test_trace_arrays_are_read_only(session):
    session.set_canvas(ink_raster())
    trace = session.trace
    for array in (trace.network_input, trace.probabilities, *trace.outputs, trace.source.raster):
        with pytest.raises(ValueError):
            array[...] = 0


def test_canvas_input_is_the_cli_preprocessing_and_one_forward_pass(session, model,
                                                                    count_forwards):
    calls = count_forwards(model)
    raster = ink_raster()
    trace = session.set_canvas(raster)
    assert len(calls) == 1
    assert trace.version == 2 and not trace.blank
    expected = preprocess_digit(raster)[None]
    np.testing.assert_array_equal(trace.network_input, expected)
    np.testing.assert_allclose(trace.probabilities, model.predict_proba(expected[None])[0],
                               rtol=1e-5, atol=1e-7)
    assert trace.preprocess.bbox == (40, 100, 240, 150)
    raster[:] = 0  # the session holds its own copy
    assert session.source.raster.any()


def test_every_kind_of_change_recomputes_exactly_once(session, model, count_forwards, tmp_path):
    calls = count_forwards(model)
    session.set_canvas(ink_raster())
    session.set_source(session.source)  # the same input again: nothing to do
    session.set_param("0.bias", np.ones(6, dtype=np.float32))
    session.set_weights(session.weights())
    session.reset_weights()
    session.open_image(digit_png(tmp_path / "one.png"))
    assert len(calls) == 5
    other = build_preset("lenet5", seed=2)
    other_calls = count_forwards(other)
    session.set_network(NetworkEntry(other))
    assert len(other_calls) == 1 and len(calls) == 5
    assert session.trace.version == 7


def test_an_image_gets_the_same_network_input_as_cnnviz_predict(session, tmp_path):
    path = digit_png(tmp_path / "dark-on-light.png")
    trace = session.open_image(path)
    assert isinstance(session.source, ImageInput) and session.source.name == "dark-on-light.png"
    expected = preprocess_digit(to_grey(load_image(path).pixels))[None]
    np.testing.assert_array_equal(trace.network_input, expected)
    assert trace.preprocess.inverted


def test_a_network_with_another_input_shape_gets_the_matching_conversion(session, tmp_path):
    rgb = Sequential([Conv2D(out_channels=4, kernel_size=3), ReLU(), Flatten(),
                      Dense(out_features=5)], input_shape=(3, 16, 12), seed=0)
    session.open_image(digit_png(tmp_path / "one.png"))
    entry = NetworkEntry(rgb)  # made in the window: the contract of its input shape
    assert entry.contract.pipeline == "image" and entry.contract.shape == (3, 16, 12)
    assert entry.classes == ("0", "1", "2", "3", "4")
    trace = session.set_network(entry)
    expected = image_to_input(load_image(tmp_path / "one.png"), entry.contract).x
    np.testing.assert_allclose(trace.network_input, expected)
    assert trace.preprocess is None and trace.probabilities.shape == (5,)
    trace = session.set_canvas(ink_raster())
    np.testing.assert_allclose(trace.network_input,
                               image_to_input(ink_raster() / np.float32(255), entry.contract).x)


def colour_photo(path, size=(90, 60)):
    """A colour PNG: red left half, blue right half, a green square in the middle."""
    w, h = size
    pixels = np.zeros((h, w, 3), dtype=np.uint8)
    pixels[:, : w // 2] = (220, 30, 20)
    pixels[:, w // 2:] = (20, 40, 200)
    pixels[h // 3: 2 * h // 3, w // 3: 2 * w // 3] = (30, 210, 40)
    Image.fromarray(pixels).save(path)
    return path


def cifar_contract(**changes) -> InputContract:
    values = dict(shape=(3, 32, 32), classes=CIFAR10_CLASSES, pipeline="image",
                  mean=(0.49, 0.48, 0.45), std=(0.25, 0.24, 0.26))
    return InputContract(**{**values, **changes})


def test_an_opened_network_keeps_the_contract_of_its_file_and_images_follow_it(session,
                                                                               tmp_path):
    contract = cifar_contract(fit="pad", fill=0.5)
    path = save_model(build_preset("cifar-tutorial", seed=0), tmp_path / "colour.npz",
                      contract=contract)
    session.open_network(path)
    assert session.network.contract == contract
    assert session.network.classes == CIFAR10_CLASSES
    photo = load_image(colour_photo(tmp_path / "photo.png"))
    trace = session.set_source(ImageInput(photo))
    expected = image_to_input(photo, contract).x  # padded with 0.5, then normalised
    assert trace.network_input.shape == (3, 32, 32)
    np.testing.assert_array_equal(trace.network_input, expected)
    # Red on the left, blue on the right: the colour planes are kept, not made grey.
    red, blue = trace.network_input[0], trace.network_input[2]
    assert red[16, 4] > blue[16, 4] and blue[16, 27] > red[16, 27]
    assert trace.preprocess is None and trace.probabilities.shape == (10,)
    # As a picture: the same pipeline without its normalisation.
    plain = InputContract(shape=(3, 32, 32), classes=CIFAR10_CLASSES, pipeline="image",
                          fit="pad", fill=0.5)
    np.testing.assert_allclose(trace.input_image, image_to_input(photo, plain).x, atol=1e-6)
    assert trace.contract == contract


def test_a_drawing_is_made_into_a_colour_networks_input_by_its_pipeline(tmp_path):
    contract = cifar_contract()
    session = Session(NetworkEntry(build_preset("vgg-small", seed=0), contract=contract))
    trace = session.set_canvas(ink_raster())
    expected = image_to_input(ink_raster().astype(np.float32) / 255, contract).x
    np.testing.assert_array_equal(trace.network_input, expected)
    assert not trace.blank and trace.network_input.shape == (3, 32, 32)


def test_saving_writes_the_networks_contract(session, tmp_path):
    contract = cifar_contract(classes=tuple(f"kind {k}" for k in range(10)))
    path = save_model(build_preset("cifar-tutorial", seed=0), tmp_path / "a.npz",
                      contract=contract)
    session.open_network(path)
    session.set_param("0.bias", np.ones(12, dtype=np.float32))
    saved = session.save_network(tmp_path / "b.npz")
    assert load_network(saved).contract == contract
    session.save_network()  # its own file again
    assert load_network(saved).contract == contract


def test_a_contract_that_does_not_fit_or_cannot_make_images_is_refused(session, tmp_path):
    with pytest.raises(SessionError, match="does not fit"):
        NetworkEntry(build_preset("lenet5", seed=0), contract=cifar_contract())
    vector = InputContract(shape=(3, 32, 32), classes=CIFAR10_CLASSES, pipeline="none")
    path = save_model(build_preset("cifar-tutorial", seed=0), tmp_path / "none.npz",
                      contract=vector)
    before = (session.network, session.source, session.trace)
    with pytest.raises(SessionError, match="not made from images"):
        session.open_network(path)
    assert (session.network, session.source, session.trace) == before


@pytest.mark.parametrize("network", [
    Sequential([Dense(out_features=10)], input_shape=(5,), seed=0),
    Sequential([Flatten(), Dense(out_features=10)], input_shape=(2, 28, 28), seed=0),
    Sequential([Conv2D(out_channels=2, kernel_size=3)], input_shape=(1, 28, 28), seed=0),
], ids=["vector input", "two channels", "image output"])
def test_networks_the_window_cannot_use_leave_the_session_unchanged(session, network):
    before = (session.network, session.source, session.trace)
    with pytest.raises(SessionError):
        session.set_network(NetworkEntry(network))
    assert (session.network, session.source, session.trace) == before


def test_a_bad_image_leaves_the_session_unchanged(session, tmp_path):
    session.set_canvas(ink_raster())
    before = (session.network, session.source, session.trace)
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 40)
    with pytest.raises(DataError):
        session.open_image(bad)
    assert (session.network, session.source, session.trace) == before


def test_a_bad_network_file_leaves_the_session_unchanged(session, tmp_path, model):
    good = save_model(model, tmp_path / "good.npz")
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(good.read_bytes()[:2000])
    before = (session.network, session.source, session.trace)
    with pytest.raises(ModelFileError):
        session.open_network(truncated)
    assert (session.network, session.source, session.trace) == before


def test_weights_changes_mark_the_network_modified_until_undone_or_saved(session, tmp_path):
    assert not session.modified
    original = session.weights()
    session.set_param("0.weight", original["0.weight"] * 2)
    assert session.modified
    edited_token = session.network.token
    session.reset_weights()
    assert not session.modified
    np.testing.assert_array_equal(session.model.layers[0].params["weight"], original["0.weight"])
    # An earlier state of the weights coming back with its token is "unmodified" again.
    session.set_param("0.weight", original["0.weight"] * 2, token=edited_token)
    assert session.modified
    path = session.save_network(tmp_path / "edited.npz")
    assert not session.modified and session.network.path == path
    np.testing.assert_array_equal(load_model(path).layers[0].params["weight"],
                                  original["0.weight"] * 2)


@pytest.mark.parametrize("weights", [
    {"0.weight": np.zeros((2, 2), dtype=np.float32)},
    {"0.bias": np.full(6, np.nan, dtype=np.float32)},
    {"99.weight": np.zeros(3, dtype=np.float32)},
], ids=["wrong shape", "NaN", "unknown name"])
def test_bad_weights_leave_the_session_unchanged(session, weights):
    session.set_canvas(ink_raster())
    before_weights, before_trace = session.weights(), session.trace
    token = session.network.token
    with pytest.raises(SessionError):
        session.update_params(weights)
    with pytest.raises(SessionError):
        session.set_weights(weights)
    assert session.trace is before_trace and session.network.token == token
    for name, value in session.weights().items():
        np.testing.assert_array_equal(value, before_weights[name])


def test_the_shipped_network_is_read_only_and_saving_it_needs_a_new_file(tmp_path):
    network, message = shipped_network()
    assert message is None, message
    assert network.read_only and network.name == "lenet5.npz"
    session = Session(network)
    with pytest.raises(SessionError):
        session.save_network()
    saved = session.save_network(tmp_path / "mine.npz")
    assert session.network.path == saved and not session.network.read_only


def test_blank_canvases_and_bad_rasters():
    canvas = blank_canvas(140)
    assert canvas.raster.shape == (140, 140) and canvas.is_blank
    with pytest.raises(SessionError):
        Session(build_preset("tiny", seed=0)).set_canvas(np.zeros((4, 4), dtype=np.float32))


def test_a_new_contract_recomputes_the_trace_and_marks_the_network_modified(tmp_path):
    """Session.set_contract: the network input made as the new contract says, the network
    modified until saved, and a contract that does not fit refused with nothing changed."""
    model = Sequential([Flatten(), Dense(out_features=3)], input_shape=(3, 6, 6), seed=0)
    old = InputContract((3, 6, 6), ("a", "b", "c"), "image")
    session = Session(NetworkEntry(model, contract=old))
    assert session.source.is_colour and not session.modified
    new = InputContract((3, 6, 6), ("x", "y", "z"), "image", mean=(0.5, 0.25, 0.0),
                        std=(0.5, 0.25, 2.0))
    trace = session.set_contract(new)
    assert session.network.contract is new and trace.contract is new
    # the blank page (1.0 in every channel), normalised: (1 - mean) / std
    np.testing.assert_allclose(trace.network_input[:, 0, 0], [1.0, 3.0, 0.5])
    assert session.modified and session.network.classes == ("x", "y", "z")
    saved = session.save_network(tmp_path / "n.npz")
    assert not session.modified and load_network(saved).contract == new
    assert session.set_contract(new) is trace  # the same: nothing recomputed
    for wrong, message in ((InputContract((3, 6, 6), ("x", "y"), "image"),
                            "2 class names for the network's 3 outputs"),
                           (InputContract((3, 6, 6), ("x", "y", "z"), "none"),
                            "are not made from images")):
        with pytest.raises(SessionError, match=message):
            session.set_contract(wrong)
        assert session.network.contract is new and session.trace is trace


def test_running_statistics_are_weights_of_the_session():
    """Training hands back batch-normalisation statistics with the weights; the session takes
    them, recomputes the trace with them, and Reset Weights brings back the opened ones."""
    from cnnviz.nn import BatchNorm, Conv2D, Dense, Flatten, ReLU, Sequential

    net = Sequential([Conv2D(out_channels=2, kernel_size=5, stride=4), BatchNorm(), ReLU(),
                      Flatten(), Dense(out_features=10)], (1, 28, 28), seed=0)
    session = Session(net)
    opened = net.get_weights()
    before = session.trace.activations[2].copy()
    trained = net.get_weights()
    trained["1.running_mean"] = np.array([0.5, -0.5], np.float32)
    trained["1.running_var"] = np.array([4.0, 0.25], np.float32)
    session.set_weights(trained)
    np.testing.assert_array_equal(net.named_state()["1.running_var"], [4.0, 0.25])
    conv = session.trace.activations[1]
    want = (conv - np.array([0.5, -0.5])[:, None, None]) / np.sqrt(
        np.array([4.0, 0.25])[:, None, None] + 1e-5)
    np.testing.assert_allclose(session.trace.activations[2], want, rtol=1e-5, atol=1e-6)
    with pytest.raises(SessionError, match="must have shape"):
        session.set_param("1.running_var", np.ones(3))
    session.reset_weights()
    np.testing.assert_array_equal(net.named_state()["1.running_var"], opened["1.running_var"])
    np.testing.assert_array_equal(session.trace.activations[2], before)


def test_a_trace_computed_elsewhere_is_adopted_only_if_it_fits(tmp_path):
    from cnnviz.session import canvas_input, compute_trace

    session = Session(NetworkEntry(build_preset("lenet5", seed=0)))
    raster = np.zeros((280, 280), np.uint8)
    raster[60:220, 130:150] = 255
    source = canvas_input(raster)
    job = session.trace_job(source)
    trace = job()
    other = canvas_input(raster[::-1].copy())
    assert not session.adopt(other, trace)  # computed for another input
    assert session.adopt(source, trace) and session.source is source
    assert session.trace.version > 0
    np.testing.assert_array_equal(session.trace.probabilities, trace.probabilities)
    stale = session.trace_job(other)()
    old = session.trace
    session.update_params({"11.bias": np.ones(10, np.float32)}, compute=False)
    assert session.trace is old  # left for the caller to compute
    assert not session.adopt(other, stale)  # computed with the old weights
    fresh = session.trace_job(other)()
    assert session.adopt(other, fresh)
    np.testing.assert_array_equal(session.trace.probabilities,
                                  compute_trace(session.model, other, 0, 0,
                                                session.network.contract).probabilities)
