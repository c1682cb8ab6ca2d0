"""Helpers of the tests of the network views: documents, networks, real mouse events on units, and
brute-force receptive fields."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PIL import Image, ImageDraw
from PySide6.QtCore import QPointF
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QGridLayout, QWidget

from cnnviz.nn import AvgPool2D, Conv2D, Dense, Flatten, MaxPool2D, ReLU, Sequential, Tanh
from cnnviz.example_networks import shipped_network
from cnnviz.session import NetworkEntry, Session, canvas_input
from cnnviz.ui.explore.input_view import InputView
from cnnviz.ui.explore.layers_overview import LayersOverview
from cnnviz.ui.explore.receptive_field import ReceptiveFieldController
from cnnviz.ui.shared.feature_maps import FeatureMapsView
from cnnviz.ui.shared.filters_view import FiltersView
from cnnviz.ui.window.document import Document

#: pyqtgraph's scenes ignore mouse moves closer than 1 / mouseRateLimit (100 Hz) apart.
MOVE_INTERVAL_MS = 1000 // pg.getConfigOption("mouseRateLimit") + 3

#: Digit strokes in canvas fractions.
STROKES = {7: [(0.25, 0.2), (0.72, 0.2), (0.42, 0.85)],
           1: [(0.5, 0.12), (0.5, 0.88)],
           4: [(0.6, 0.85), (0.6, 0.15), (0.25, 0.62), (0.75, 0.62)]}


def digit_raster(digit: int = 7, size: int = 280, width: int = 22) -> np.ndarray:
    """A canvas raster (uint8, white ink on black) of a hand-drawn-looking digit."""
    image = Image.new("L", (size, size), 0)
    ImageDraw.Draw(image).line([(x * size, y * size) for x, y in STROKES[digit]], fill=255,
                               width=width, joint="curve")
    return np.asarray(image)


def rgb_dilated_net(seed: int = 0) -> Sequential:
    """A colour network with dilation, asymmetric padding and stride, max and average pooling."""
    return Sequential([
        Conv2D(out_channels=3, kernel_size=3, dilation=2, padding="same"), ReLU(),
        Conv2D(out_channels=4, kernel_size=2, stride=2, padding=(1, 0)), Tanh(),
        MaxPool2D(3, 2, padding=1), AvgPool2D(2, 1, padding=1),
        Conv2D(out_channels=2, kernel_size=(3, 2), stride=(2, 1), dilation=(1, 2)), ReLU(),
        Flatten(), Dense(out_features=3),
    ], input_shape=(3, 23, 19), seed=seed, name="rgb-dilated")


def make_document(network="lenet5", digit: int = 7) -> Document:
    """A document on the shipped lenet5 (or a given model) with a drawn digit as the input."""
    entry = shipped_network()[0] if network == "lenet5" else NetworkEntry(network)
    return Document(Session(entry, canvas_input(digit_raster(digit))))


class NetworkViews(QWidget):
    """The network views and their controller in one shown widget, as the main window wires them."""

    def __init__(self, document: Document):
        super().__init__()
        self.document = document
        self.input_view = InputView(document)
        self.overview = LayersOverview(document)
        self.feature_maps = FeatureMapsView(document)
        self.filters = FiltersView(document)
        self.controller = ReceptiveFieldController(document, self.input_view, self.overview,
                                                   self.feature_maps, self.filters, self)
        self.status: list[str] = []
        self.controller.cursor_info.connect(self.status.append)
        self.filters.cursor_info.connect(self.status.append)
        layout = QGridLayout(self)
        layout.addWidget(self.input_view, 0, 0)
        layout.addWidget(self.feature_maps, 0, 1)
        layout.addWidget(self.overview, 1, 0)
        layout.addWidget(self.filters, 1, 1)
        self.resize(1200, 900)


def show_views(qtbot, document: Document) -> NetworkViews:
    views = NetworkViews(document)
    qtbot.addWidget(views)
    views.show()
    qtbot.waitExposed(views)
    return views


def unit_point(view, image_item, mosaic, tile: int, y: int = 0, x: int = 0):
    """Viewport coordinates of the centre of pixel (y, x) of ``tile`` of a mosaic image."""
    top, left = mosaic.origin(tile)
    scene = image_item.mapToScene(QPointF(left + x + 0.5, top + y + 0.5))
    return view.graphics.mapFromScene(scene)


def hover_unit(views: NetworkViews, index: int, unit) -> None:
    """Show activation ``index`` large and move the mouse (a real event) over ``unit``."""
    fm = views.feature_maps
    fm.set_layer(index)
    tile, y, x = (unit[0], 0, 0) if len(unit) == 1 else unit
    move_mouse(fm.graphics.viewport(),
               settled(lambda: unit_point(fm, fm.image_item, fm.mosaic, tile, y, x)))


def settled(point_of):
    """``point_of()`` once it no longer changes: a view box applies a new range (and a resize)
    lazily, before it paints."""
    point = None
    for _ in range(10):
        QApplication.processEvents()
        before, point = point, point_of()
        if point == before:
            break
    return point


def move_mouse(widget, point) -> None:
    """A real mouse move, after pyqtgraph's rate limit (it drops moves less than 10 ms apart)."""
    QTest.qWait(MOVE_INTERVAL_MS)
    QTest.mouseMove(widget, point)


def positive_copy(model: Sequential) -> Sequential:
    """A float64 copy of ``model`` with every weight positive (every unit then grows with every
    input it can see: ReLU stays on, max pooling is monotone)."""
    clone = model.copy().astype(np.float64)
    for layer in clone.layers:
        for key, value in layer.params.items():
            layer.params[key] = np.abs(value) + 0.1
    return clone


def brute_force_reads(model: Sequential, source: int, target: int) -> np.ndarray:
    """Which units of activation ``source`` move each unit of activation ``target``.

    Runs layers ``source .. target - 1`` of a positive copy of ``model`` on a batch where each
    image raises one unit of activation ``source`` (zeros elsewhere, so that no Tanh saturates).

    Returns
    -------
    np.ndarray
        bool, shape (units of ``source``, *shape of ``target``).
    """
    clone = positive_copy(model)
    shapes = [clone.input_shape] + [layer.output_shape for layer in clone.layers]
    size = int(np.prod(shapes[source]))
    base = np.zeros((1, *shapes[source]))
    batch = np.repeat(base, size, axis=0)
    batch.reshape(size, -1)[np.arange(size), np.arange(size)] += 100.0

    def run(x):
        for layer in clone.layers[source:target]:
            x = layer.forward(x)
        return x

    return np.abs(run(batch) - run(base)) > 1e-9
