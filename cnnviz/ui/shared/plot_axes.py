"""A logarithmic axis whose labels read as plain numbers and never overlap.

pyqtgraph's log axis labels every minor tick (2 to 9 times each decade) as ``3·10¹`` and decides
whether a level of labels fits from the labels' total height, not from where they stand. On a log
scale the minor ticks crowd towards each decade's top, so in a short plot (the Network Health dock
is about 100 px high) their labels pile up into an unreadable smear. :class:`LogAxis` ticks the
decades, then 2 and 5 times each decade (roughly evenly spaced on a log scale: 0.30 and 0.70 of a
decade), labels them ``20``, ``0.5``, and drops any label that would overlap one already placed,
most important (decades) first.
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg

#: Multiples of each decade ticked, in the order their labels are given room.
MINOR_MULTIPLES = (2, 5)
#: Outside this range labels are written as powers of ten (as pyqtgraph does).
PLAIN_RANGE = (1e-4, 1e5)


def log_ticks(low: float, high: float) -> list[tuple[float | None, list[float]]]:
    """Tick levels for a log axis showing ``10**low`` to ``10**high``.

    Parameters
    ----------
    low, high : float
        The view's range in log10 units.

    Returns
    -------
    list of (spacing, values)
        pyqtgraph's tick levels, in log10 units: the decades in range, then 2 and 5 times each
        decade; when neither falls in range (a view zoomed into part of a decade), every integer
        multiple of the decade.
    """
    first, last = math.floor(low), math.ceil(high)
    decades = [float(d) for d in range(first, last + 1) if low <= d <= high]
    if high - low > 6:  # many decades: label every few
        step = math.ceil((high - low) / 6)
        return [(float(step), [d for d in decades if d % step == 0])]
    minor = [d + math.log10(m) for d in range(first - 1, last + 1) for m in MINOR_MULTIPLES
             if low <= d + math.log10(m) <= high]
    if not decades and not minor:
        minor = [d + math.log10(m) for d in range(first - 1, last + 1) for m in range(2, 10)
                 if low <= d + math.log10(m) <= high]
    levels = [(1.0, decades), (None, minor)]
    return [level for level in levels if level[1]]


def plain_number(value: float) -> str:
    """``value`` with at most three significant digits and no exponent (``20``, ``0.005``,
    ``10,000``)."""
    text = f"{value:.3g}"
    if "e" not in text:
        return text
    if value >= 1:
        return f"{value:,.0f}"
    return np.format_float_positional(float(text), trim="-")


class LogAxis(pg.AxisItem):
    """A pyqtgraph axis for a plot in log mode: decades, then 2 and 5 times each decade, labelled
    as plain numbers, and no two labels overlapping."""

    def logTickValues(self, minVal, maxVal, size, stdTicks):  # noqa: N802 (pyqtgraph override)
        return log_ticks(minVal, maxVal)

    def logTickStrings(self, values, scale, spacing):  # noqa: N802 (pyqtgraph override)
        numbers = [10.0 ** v * scale for v in values]
        if all(PLAIN_RANGE[0] <= abs(x) < PLAIN_RANGE[1] for x in numbers):
            return [plain_number(x) for x in numbers]
        return super().logTickStrings(values, scale, spacing)

    def generateDrawSpecs(self, p):  # noqa: N802 (pyqtgraph override)
        specs = super().generateDrawSpecs(p)
        if specs is None:
            return None
        axis, ticks, texts = specs
        return axis, ticks, without_overlaps(texts)


def without_overlaps(texts: list) -> list:
    """The text specs ``(rect, flags, text)`` in order, leaving out each whose rectangle meets
    one kept before it."""
    kept = []
    for spec in texts:
        rect = spec[0]
        if not any(rect.intersects(other[0]) for other in kept):
            kept.append(spec)
    return kept
