"""The log axis of the training curves and health plots: 1-2-5 ticks, plain labels, no overlap."""

from __future__ import annotations

import itertools
import math

import pyqtgraph as pg
import pytest
from PySide6.QtGui import QImage, QPainter

from cnnviz.ui.shared.plot_axes import LogAxis, log_ticks, plain_number


def values_of(levels):
    return [sorted(round(10 ** v, 9) for v in values) for _, values in levels]


def test_decades_then_twice_and_five_times_each_decade():
    assert values_of(log_ticks(math.log10(0.03), math.log10(300))) == [
        [0.1, 1, 10, 100], [0.05, 0.2, 0.5, 2, 5, 20, 50, 200]]


def test_a_view_inside_one_decade_ticks_every_multiple():
    assert values_of(log_ticks(math.log10(3.5), math.log10(4.9))) == [[4]]
    assert values_of(log_ticks(math.log10(2.5), math.log10(9.5))) == [[5]]


def test_many_decades_are_thinned():
    levels = log_ticks(-12, 12)
    assert len(levels) == 1 and len(levels[0][1]) <= 7 and 0.0 in levels[0][1]


@pytest.mark.parametrize("value, text", [(20, "20"), (0.5, "0.5"), (0.005, "0.005"),
                                         (0.0002, "0.0002"), (10000, "10,000"), (1, "1"),
                                         (2.5e-5, "0.000025")])
def test_plain_numbers(value, text):
    assert plain_number(value) == text


@pytest.mark.gui
@pytest.mark.parametrize("height", [90, 120, 200, 400])
def test_labels_of_a_short_log_plot_never_overlap(qtbot, height):
    widget = pg.GraphicsLayoutWidget()
    qtbot.addWidget(widget)
    plot = widget.addPlot(axisItems={"left": LogAxis("left")})
    plot.setLogMode(y=True)
    plot.plot([0, 1, 2], [3, 30, 100])
    plot.setYRange(0.5, 2, padding=0)   # 10**0.5 to 100, as the weight norms often span
    widget.resize(300, height)
    widget.show()
    qtbot.waitExposed(widget)
    image = QImage(10, 10, QImage.Format.Format_ARGB32)
    painter = QPainter(image)
    try:
        _, _, texts = plot.getAxis("left").generateDrawSpecs(painter)
    finally:
        painter.end()
    labels = [text for _, _, text in texts]
    assert "10" in labels and "100" in labels
    assert set(labels) <= {"5", "10", "20", "50", "100"}
    for (a, _, _), (b, _, _) in itertools.combinations(texts, 2):
        assert not a.intersects(b)
    if height >= 200:
        assert {"20", "50"} <= set(labels)
