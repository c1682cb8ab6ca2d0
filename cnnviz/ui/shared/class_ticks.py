"""Class names under the bars of a plot: as many as fit, cut short ("airpl…") when they do not.

A network's class names come from its input contract ("0".."9" for digits, "airplane",
"automobile"... for CIFAR-10). An axis with one tick per class has a few dozen pixels per class;
pyqtgraph drops a label wider than the axis rather than cut it, and lets labels overlap. The
names are therefore fitted to the room each class has, at most one label every :func:`label_step`
classes; names that do not fit side by side alternate between two rows (``stagger``), which
doubles their room; the full name is always in the tool tips and the status bar.
"""

from __future__ import annotations

import math

from PySide6.QtCore import Qt
from PySide6.QtGui import QFontMetrics

#: At most this many labels along an axis.
MAX_LABELS = 20
#: Pixels kept free between two neighbouring labels.
GAP = 4


def label_step(count: int) -> int:
    """Label every ``label_step(count)``-th class: 1 up to :data:`MAX_LABELS` classes."""
    return 1 if count <= MAX_LABELS else math.ceil(count / MAX_LABELS)


def class_ticks(names, pixels_per_class: float, metrics: QFontMetrics, offset: float = 0.0,
                stagger: bool = False, edge: float | None = None) -> list[list[tuple[float, str]]]:
    """pyqtgraph ticks labelling class ``k`` at ``k + offset`` with its name, each name cut to
    the room it has (``pixels_per_class`` times the step between labels); a name with no room
    for a single letter is left out. With ``stagger``, names too wide to stand side by side
    alternate between two rows (every other one starts with a line break). ``edge``: how far
    (in classes) the axis goes beyond the first and last class's tick; their names are cut to
    stay within it (pyqtgraph drops a label that does not)."""
    names = list(names)
    step = label_step(len(names))
    room = max(0, int(pixels_per_class * step) - GAP)
    shown = range(0, len(names), step)
    two_rows = stagger and any(metrics.horizontalAdvance(names[k]) > room for k in shown)
    if two_rows:
        room = max(0, int(2 * pixels_per_class * step) - GAP)
    ticks = []
    for row, k in enumerate(shown):
        fits = room
        if edge is not None and k in (0, len(names) - 1):
            fits = min(room, int(2 * edge * pixels_per_class) - 1)
        text = metrics.elidedText(names[k], Qt.TextElideMode.ElideRight, max(0, fits))
        if text and text != "\u2026":
            ticks.append((k + offset, "\n" + text if two_rows and row % 2 else text))
    return [ticks]
