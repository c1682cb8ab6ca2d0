"""Drawing with real mouse events in the UI tests, and the state a failed operation must keep."""

from __future__ import annotations

import numpy as np
from PIL import Image
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest

#: Strokes of digits in canvas fractions (0..1), one point list per stroke.
DIGITS = {
    0: [[(0.5, 0.15), (0.32, 0.25), (0.26, 0.5), (0.32, 0.78), (0.5, 0.87), (0.67, 0.77),
         (0.72, 0.5), (0.66, 0.24), (0.5, 0.15)]],
    1: [[(0.52, 0.12), (0.5, 0.88)]],
    7: [[(0.25, 0.18), (0.72, 0.18), (0.42, 0.86)]],
}

LEFT, RIGHT = Qt.MouseButton.LeftButton, Qt.MouseButton.RightButton
NO_MODIFIER = Qt.KeyboardModifier.NoModifier


def along(points, step=0.015):
    """Points every ``step`` (canvas fraction) along the polyline ``points``."""
    out = [points[0]]
    for (x0, y0), (x1, y1) in zip(points, points[1:]):
        n = max(1, int(np.hypot(x1 - x0, y1 - y0) / step))
        out += [(x0 + (x1 - x0) * i / n, y0 + (y1 - y0) * i / n) for i in range(1, n + 1)]
    return out


def canvas_point(canvas, fx: float, fy: float) -> QPoint:
    """Widget coordinates of a point given in fractions of the paper."""
    rect = canvas.paper_rect()
    return QPoint(round(rect.x() + fx * rect.width()), round(rect.y() + fy * rect.height()))


def draw_stroke(canvas, points, button=LEFT, on_move=None) -> None:
    """Press, move along ``points`` (canvas fractions) and release, with real mouse events.

    ``on_move()`` runs after every move (to check what the window shows mid-stroke).
    """
    widget_points = [canvas_point(canvas, *p) for p in along(points)]
    QTest.mousePress(canvas, button, NO_MODIFIER, widget_points[0])
    for point in widget_points[1:]:
        QTest.mouseMove(canvas, point)
        if on_move is not None:
            on_move()
    QTest.mouseRelease(canvas, button, NO_MODIFIER, widget_points[-1])


def draw_digit(canvas, digit: int) -> None:
    for stroke in DIGITS[digit]:
        draw_stroke(canvas, stroke)


def state_of(window) -> tuple:
    """Everything a failed operation must leave as it was."""
    document = window.document
    stack = document.undo_stack
    return (document.network, document.network.path, document.source, document.trace,
            document.modified, stack.count(), stack.index(), window.windowTitle(),
            window.prediction_panel.applied_version)


def colour_photo(path, size=(160, 120)):
    """Write a colour photo to ``path`` (returned): a sky-blue top, a green bottom, a red disc in
    the middle."""
    w, h = size
    yy, xx = np.mgrid[0:h, 0:w]
    pixels = np.zeros((h, w, 3), dtype=np.uint8)
    pixels[yy < h // 2] = (90, 160, 230)
    pixels[yy >= h // 2] = (40, 170, 60)
    pixels[(yy - h / 2) ** 2 + (xx - w / 2) ** 2 < (h / 4) ** 2] = (210, 30, 30)
    Image.fromarray(pixels).save(path)
    return path
