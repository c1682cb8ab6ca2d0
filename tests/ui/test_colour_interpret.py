"""The Interpret workspace on a colour network: heat maps over the colour picture, activation
maximisation in colour, and each unit's strongest test images cut to its receptive field."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from cnnviz.data import CIFAR10_CLASSES, load_image
from cnnviz.nn import build_preset
from cnnviz.nn.contract import InputContract
from cnnviz.session import ImageInput, NetworkEntry, Session, canvas_input, shipped_network
from cnnviz.ui.interpret.analysis_panel import BACKDROP_DIM, AnalysisPanel
from cnnviz.ui.window.document import Document

from network_views import digit_raster

CIFAR = InputContract(shape=(3, 32, 32), classes=CIFAR10_CLASSES, pipeline="image",
                      mean=(0.49, 0.48, 0.45), std=(0.25, 0.24, 0.26))


def colour_photo(path, size=(64, 48)):
    """A sky-blue top, a green bottom, a red disc in the middle."""
    w, h = size
    yy, xx = np.mgrid[0:h, 0:w]
    pixels = np.zeros((h, w, 3), dtype=np.uint8)
    pixels[yy < h // 2] = (90, 160, 230)
    pixels[yy >= h // 2] = (40, 170, 60)
    pixels[(yy - h / 2) ** 2 + (xx - w / 2) ** 2 < (h / 4) ** 2] = (210, 30, 30)
    Image.fromarray(pixels).save(path)
    return path


@pytest.fixture
def colour_document(tmp_path):
    document = Document(Session(NetworkEntry(build_preset("vgg-small", seed=0),
                                             contract=CIFAR)))
    document.set_source(ImageInput(load_image(colour_photo(tmp_path / "photo.png"))),
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
