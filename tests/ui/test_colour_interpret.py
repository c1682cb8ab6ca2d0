"""The Interpret workspace on a colour network: heat maps over the colour picture, activation
maximisation in colour, and each unit's strongest test images cut to its receptive field."""

from __future__ import annotations

import numpy as np
import pytest

from cnnviz.data import CIFAR10_CLASSES, load_image
from cnnviz.nn import build_preset
from cnnviz.nn.contract import InputContract
from cnnviz.example_networks import shipped_network
from cnnviz.session import ImageInput, NetworkEntry, Session, canvas_input
from cnnviz.ui.interpret.analysis_panel import BACKDROP_DIM, AnalysisPanel
from cnnviz.ui.window.document import Document

from network_views import digit_raster
from ui_helpers import colour_photo

CIFAR = InputContract(shape=(3, 32, 32), classes=CIFAR10_CLASSES, pipeline="image",
                      mean=(0.49, 0.48, 0.45), std=(0.25, 0.24, 0.26))


@pytest.fixture
def colour_document(tmp_path):
    document = Document(Session(NetworkEntry(build_preset("vgg-small", seed=0),
                                             contract=CIFAR)))
    document.set_source(ImageInput(load_image(colour_photo(tmp_path / "photo.png", (64, 48)))),
                        "Open Image")
    return document


def show(qtbot, widget, size=(420, 560)):
    qtbot.addWidget(widget)
    widget.resize(*size)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def choose(combo, data) -> None:
    index = combo.findData(data)
    assert index >= 0, f"{data!r} not offered"
    combo.setCurrentIndex(index)


# ------------------------------------------------------------------ heat maps over the picture
@pytest.mark.parametrize("method", ["gradient", "smooth_grad", "occlusion", "grad_cam"])
def test_heat_maps_are_drawn_over_the_colour_picture(qtbot, colour_document, method):
    panel = show(qtbot, AnalysisPanel(colour_document))
    try:
        picture = colour_document.trace.input_image
        assert picture.shape == (3, 32, 32)
        # The picture has colour (a red disc on blue and green), not three equal planes.
        assert np.ptp(picture, axis=0).max() > 0.5
        shown = panel.input_item.image
        assert shown.shape == (32, 32, 3)
        np.testing.assert_allclose(shown, picture.transpose(1, 2, 0) * BACKDROP_DIM, atol=1e-6)
        assert tuple(panel.input_item.levels) == (0.0, 1.0)
        panel.samples_spin.setValue(3)
        panel.patch_spin.setValue(8)
        panel.stride_spin.setValue(4)
        choose(panel.method_combo, method)
        qtbot.waitUntil(lambda: panel.explanation is not None
                        and panel.explanation.settings.method == method, timeout=20000)
        assert panel.heat_item.isVisible() and panel.heat_item.zValue() > panel.input_item.zValue()
        assert panel.heat_item.image.shape == (32, 32)
        # The picture under it stays the colour one.
        np.testing.assert_allclose(panel.input_item.image, shown)
    finally:
        assert panel.shutdown()


def test_a_digit_network_still_shows_its_grey_input(qtbot):
    document = Document(Session(shipped_network()[0]))
    document.set_source(canvas_input(digit_raster(7)), "Draw")
    panel = show(qtbot, AnalysisPanel(document))
    try:
        x = document.trace.input_image
        assert panel.input_item.image.shape == (28, 28)
        np.testing.assert_allclose(panel.input_item.image, x[0] * BACKDROP_DIM, atol=1e-6)
        assert BACKDROP_DIM == pytest.approx(1 / 1.7)  # white ink as mid grey, as before
    finally:
        assert panel.shutdown()


# ------------------------------------------------------------------ activation maximisation
def small_colour_network() -> NetworkEntry:
    """A colour network small enough for many ascent steps in a test."""
    from cnnviz.nn import Conv2D, Dense, Flatten, MaxPool2D, ReLU, Sequential
    model = Sequential([Conv2D(out_channels=6, kernel_size=3, padding=1), ReLU(),
                        Conv2D(out_channels=8, kernel_size=3, padding=1), ReLU(),
                        MaxPool2D(size=4), Flatten(), Dense(out_features=10)],
                       input_shape=(3, 32, 32), seed=0)
    return NetworkEntry(model, contract=CIFAR)


@pytest.fixture
def small_colour_document(tmp_path):
    document = Document(Session(small_colour_network()))
    document.set_source(ImageInput(load_image(colour_photo(tmp_path / "photo.png", (64, 48)))),
                        "Open Image")
    return document


def small_set(shape, n=24, seed=0):
    """uint8 test images of a network's size, random but with structure (blobs of colour)."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 256, size=(n, shape[0], 4, 4)).astype(np.float64)
    images = np.kron(coarse, np.ones((1, 1, shape[1] // 4, shape[2] // 4)))
    images += rng.normal(0, 20, images.shape)
    images = np.clip(images, 0, 255).astype(np.uint8)
    return images if shape[0] == 3 else images[:, 0]


def gallery_panel(qtbot, document, images, monkeypatch, steps=15):
    from cnnviz.ui.interpret import activation_gallery as module
    monkeypatch.setattr(module, "patch_sources", lambda model: [
        module.PatchSource("small set", lambda progress=None: images)])
    panel = module.ActivationGallery(document)
    qtbot.addWidget(panel)
    panel.resize(900, 700)
    panel.steps_spin.setValue(steps)
    with qtbot.waitSignal(panel.runner.finished, timeout=60000):
        panel.show()
    return panel


def naive_strongest(model, contract, images, layer, channel, k=9):
    """The k images with the largest value of ``channel`` anywhere in layer ``layer``'s output,
    each run through the whole network alone (full trace), ties to the earlier image."""
    from cnnviz.data import batch_to_input
    rows = []
    for i in range(len(images)):
        x = batch_to_input(images[i:i + 1], contract)
        out = model.trace(x)[layer + 1][0][channel]
        where = np.unravel_index(np.argmax(out), out.shape) if out.ndim == 2 else None
        rows.append((float(out.max()), i, where))
    rows.sort(key=lambda row: (-row[0], row[1]))
    return rows[:k]


def test_colour_gallery_is_regularised_in_colour_and_shows_the_strongest_patches(
        qtbot, small_colour_document, monkeypatch):
    colour_document = small_colour_document
    from cnnviz.analysis import gallery, input_range, settings_for, to_picture
    from cnnviz.display import unit_windows
    from cnnviz.ui.interpret.activation_gallery import unit_picture
    images = small_set((3, 32, 32))
    panel = gallery_panel(qtbot, colour_document, images, monkeypatch)
    try:
        model = colour_document.model
        with qtbot.waitSignal(panel.runner.finished, timeout=60000):
            choose(panel.layer_combo, 4)  # the pooling: 8 maps, fields of 8x8
        assert panel.settings().layer == 4 and len(panel.results) == 8
        # The ascent is the analysis gallery with the colour settings: the frequency penalty,
        # and pictures kept inside [0, 1] through the contract's normalisation.
        options = settings_for(model, CIFAR, 4)
        assert options["freq_decay"] > 0 and options["clip"] == input_range(CIFAR)
        assert len(options["clip"][0]) == 3
        options["steps"] = 15
        expected = gallery(model.copy(), 4, **options)
        for got, want in zip(panel.results, expected):
            np.testing.assert_allclose(got.image, want.image, atol=1e-5)
            picture = to_picture(got.image, CIFAR)
            assert picture.min() >= -1e-5 and picture.max() <= 1 + 1e-5
        # Shown in colour: the optimised picture's planes differ.
        picture = unit_picture(model, panel.results[0], CIFAR, crop=True)
        assert picture.shape == (8, 8, 3) and np.ptp(picture, axis=-1).max() > 0.05
        # Beside each: the nine strongest images, each cut to its unit's receptive field.
        contract = colour_document.network.contract
        mean = np.round(np.asarray(contract.mean) * 255)
        for channel in (0, 5, 7):
            patches = panel.patches[channel]
            want = naive_strongest(model, contract, images, 4, channel)
            assert [p.image for p in patches] == [row[1] for row in want]
            np.testing.assert_allclose([p.value for p in patches], [row[0] for row in want],
                                       rtol=1e-4, atol=1e-5)
            for patch, (_, image, where) in zip(patches, want):
                assert patch.position == tuple(int(v) for v in where)
                top, left, bottom, right = unit_windows(model, 5, (channel,) + where)[0].span
                padded = np.stack([np.pad(plane, 8, constant_values=m)
                                   for plane, m in zip(images[image], mean)])
                np.testing.assert_array_equal(
                    patch.crop, padded[:, top + 8:bottom + 9, left + 8:right + 9])
        # The tile on display: the optimised picture, then the nine crops in a 3x3 mosaic.
        tile = panel.tiles[5]
        assert tile.ndim == 3 and tile.shape[0] == 3 * 8 + 2
        first = panel.patches[5][0].crop.transpose(1, 2, 0) / 255
        np.testing.assert_allclose(tile[:8, -(3 * 8 + 2):][:, :8], first, atol=1e-6)
        assert panel.grid.count() == 8
        assert "strongest" in panel.status_label.text()
    finally:
        assert panel.shutdown()


def test_digit_gallery_shows_the_strongest_digits_too(qtbot, monkeypatch):
    document = Document(Session(shipped_network()[0]))
    images = small_set((1, 28, 28), n=15, seed=3)
    panel = gallery_panel(qtbot, document, images, monkeypatch)
    try:
        model = document.model
        layer = panel.settings().layer
        assert len(panel.results) == 10 and all(len(p) == 9 for p in panel.patches)
        for k in (0, 7):  # classes: whole images
            want = naive_strongest(model, document.network.contract, images, layer, k)
            assert [p.image for p in panel.patches[k]] == [row[1] for row in want]
            for patch, (_, image, _) in zip(panel.patches[k], want):
                np.testing.assert_array_equal(patch.crop[0], images[image])
        tile = panel.tiles[0]
        assert tile.ndim == 2  # grey, as before
        with qtbot.waitSignal(panel.runner.finished, timeout=60000):
            choose(panel.source_combo, None)
        assert not any(panel.patches) and panel.tiles[0].shape == (28, 28)
    finally:
        assert panel.shutdown()


def test_cancel_during_the_search_of_test_images(qtbot, small_colour_document, monkeypatch):
    images = np.repeat(small_set((3, 32, 32), n=40), 500, axis=0)  # 20,000 images
    panel = gallery_panel(qtbot, small_colour_document, images, monkeypatch, steps=5)
    try:
        panel.count_spin.setValue(20000)
        phases = []
        panel.runner.progress.connect(lambda d, t: phases.append(panel._phase))
        panel.compute()
        qtbot.waitUntil(lambda: "patches" in phases, timeout=60000)
        assert "test image" in panel.status_label.text()
        with qtbot.waitSignal(panel.runner.cancelled, timeout=10000):
            panel.cancel_button.click()
        assert not panel.runner.running and "Cancelled" in panel.status_label.text()
    finally:
        assert panel.shutdown()


def test_a_test_set_that_cannot_be_read_keeps_the_images_and_says_why(qtbot, monkeypatch,
                                                                     small_colour_document):
    from cnnviz.data import DataError
    from cnnviz.ui.interpret import activation_gallery as module

    def broken(progress=None):
        raise DataError("test_batch.bin is cut short")

    monkeypatch.setattr(module, "patch_sources",
                        lambda model: [module.PatchSource("broken set", broken)])
    panel = module.ActivationGallery(small_colour_document)
    qtbot.addWidget(panel)
    panel.steps_spin.setValue(5)
    with qtbot.waitSignal(panel.runner.finished, timeout=60000):
        panel.show()
    try:
        assert len(panel.results) == 10 and panel.grid.count() == 10
        assert not any(panel.patches)
        assert "broken set could not be read: test_batch.bin is cut short" in \
            panel.status_label.text()
    finally:
        assert panel.shutdown()
