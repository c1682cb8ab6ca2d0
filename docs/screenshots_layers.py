"""Regenerate the screenshots of "Inside the network" in the user guide (``docs/images/*.png``).

Starts the real main window (offscreen unless a platform is chosen) with the shipped lenet5, in
the Explore workspace (where these panels are) of a 1600x1000 window, draws a "4" on the canvas
with real mouse events, and saves:

- ``feature-maps.png``: the window with the second convolution's maps large, its filters, and
  every layer in the Layers panel (given more of its column than it ships with);
- ``receptive-field.png``: the pointer on a unit of the second pooling layer (a real mouse move):
  its receptive field and effective receptive field on the input, its windows in every earlier
  layer, the status bar;
- ``unit-math.png``: the step-by-step calculation of a clicked unit of the ReLU after the second
  convolution (the convolution, then the ReLU).

Usage::

    python docs/screenshots_layers.py [--out docs/images]

The window's settings are kept in a temporary folder, so the screenshots never depend on (or
change) your own layout. Under Xvfb: ``DISPLAY=:99 QT_QPA_PLATFORM=xcb python
docs/screenshots_layers.py``.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
from PySide6.QtCore import QPoint, QPointF, Qt  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402
from screenshots import open_main_window  # noqa: E402  (docs/ is the script's folder)

WINDOW_SIZE = (1600, 1000)
#: A "4" in canvas fractions: the open angle, then the stem.
FOUR = [[(0.55, 0.16), (0.27, 0.6), (0.76, 0.6)], [(0.6, 0.3), (0.58, 0.86)]]


def draw(canvas, points, step=0.01, rect=None) -> None:
    """Press, move along ``points`` (fractions of ``rect``, by default the canvas's paper; for a
    colour picture its ``colour_rect()``) and release, with real mouse events."""
    rect = canvas.paper_rect() if rect is None else rect

    def at(fx, fy):
        return QPoint(round(rect.x() + fx * rect.width()), round(rect.y() + fy * rect.height()))

    path = [points[0]]
    for (x0, y0), (x1, y1) in zip(points, points[1:]):
        n = max(1, int(np.hypot(x1 - x0, y1 - y0) / step))
        path += [(x0 + (x1 - x0) * i / n, y0 + (y1 - y0) * i / n) for i in range(1, n + 1)]
    left, none = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    QTest.mousePress(canvas, left, none, at(*path[0]))
    for point in path[1:]:
        QTest.mouseMove(canvas, at(*point))
    QTest.mouseRelease(canvas, left, none, at(*path[-1]))


def unit_position(feature_maps, unit) -> QPoint:
    """Viewport position of the centre of ``unit`` (c, y, x) in the Feature Maps panel."""
    for _ in range(5):  # the view box lays a new layer out lazily
        QApplication.processEvents()
    top, left = feature_maps.mosaic.origin(unit[0])
    scene = feature_maps.image_item.mapToScene(QPointF(left + unit[2] + 0.5, top + unit[1] + 0.5))
    return feature_maps.graphics.mapFromScene(scene)


def save_unit_math(window, unit, path: Path, size: tuple[int, int]) -> None:
    """Click ``unit`` (c, y, x) of the layer shown in Feature Maps and save its calculation."""
    feature_maps = window.feature_maps
    QTest.mouseClick(feature_maps.graphics.viewport(), Qt.MouseButton.LeftButton,
                     Qt.KeyboardModifier.NoModifier, unit_position(feature_maps, unit))
    dialog = window.receptive_field.dialog
    dialog.resize(*size)
    save(dialog, path)
    dialog.close()


def save(widget, path: Path) -> None:
    QTest.qWait(150)  # let every panel repaint
    if not widget.grab().save(str(path)):
        raise OSError(f"could not write {path}")
    print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Regenerate the Inside-the-network screenshots.")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "images")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)

    with tempfile.TemporaryDirectory() as scratch:
        window = open_main_window(scratch, WINDOW_SIZE)
        window.show_workspace("explore")
        docks = window.docks
        QApplication.processEvents()
        window.resizeDocks([docks["input"], docks["prediction"], docks["layers"]], [220, 250, 500],
                           Qt.Orientation.Vertical)
        for stroke in FOUR:
            draw(window.canvas_panel.canvas, stroke)
        trace = window.document.trace
        print(f"drawn 4 read as {trace.top_class} ({trace.confidence:.1%})")
        feature_maps = window.feature_maps
        feature_maps.set_layer(4)  # the second convolution (activation 4: layer 3's output)
        save(window, args.out / "feature-maps.png")

        feature_maps.set_layer(6)  # the second pooling layer (layer 5): 16 maps of 5x5
        feature_maps.effective_check.setChecked(True)
        QTest.mouseMove(feature_maps.graphics.viewport(), unit_position(feature_maps, (5, 1, 3)))
        print(window.cursor_label.text())
        save(window, args.out / "receptive-field.png")

        feature_maps.set_layer(5)  # the ReLU after the second convolution
        save_unit_math(window, (5, 3, 4), args.out / "unit-math.png", (980, 760))

        window.document.undo_stack.clear()
        window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
