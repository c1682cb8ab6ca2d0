"""The colour maps of the network views, as 256-entry lookup tables and pyqtgraph ``ColorMap``s.

- signed values (convolution outputs, weights): a diverging map, blue - white - red, centred on
  zero (colorcet's CET-D1A, perceptually uniform);
- non-negative values (ReLU and pooling outputs, probabilities): the map's white-to-red half, so
  that a ReLU shows exactly the red part of the convolution before it;
- the network input: grey, black to white, as MNIST;
- the effective receptive field: a transparent-to-orange heat overlay.

Every view of one kind of value uses the same table, so colours mean the same everywhere.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pyqtgraph as pg

LUT_SIZE = 256
#: Heat overlay colour (orange, readable over grey images in light and dark schemes).
HEAT_RGB = (255, 128, 0)
HEAT_MAX_ALPHA = 215


@lru_cache(maxsize=None)
def lookup_table(name: str) -> np.ndarray:
    """The (256, 4) uint8 RGBA table ``"diverging"``, ``"sequential"``, ``"grey"`` or ``"heat"``
    (read-only, shared)."""
    if name == "diverging":
        table = pg.colormap.get("CET-D1A").getLookupTable(nPts=LUT_SIZE, alpha=True)
    elif name == "sequential":
        half = lookup_table("diverging")[LUT_SIZE // 2:].astype(np.float64)
        positions = np.linspace(0, len(half) - 1, LUT_SIZE)
        table = np.stack([np.interp(positions, np.arange(len(half)), half[:, k])
                          for k in range(4)], axis=1).round()
    elif name == "grey":
        ramp = np.arange(LUT_SIZE)
        table = np.stack([ramp, ramp, ramp, np.full(LUT_SIZE, 255)], axis=1)
    elif name == "heat":
        alpha = np.linspace(0, HEAT_MAX_ALPHA, LUT_SIZE)
        table = np.column_stack([np.tile(HEAT_RGB, (LUT_SIZE, 1)), alpha]).round()
    else:
        raise ValueError(f"unknown colour map {name!r}")
    table = np.ascontiguousarray(table, dtype=np.uint8)
    table.setflags(write=False)
    return table


def value_table(signed: bool) -> np.ndarray:
    """The lookup table of signed (diverging) or non-negative (sequential) values."""
    return lookup_table("diverging" if signed else "sequential")


@lru_cache(maxsize=None)
def colour_map(name: str) -> pg.ColorMap:
    """``lookup_table(name)`` as a ``pg.ColorMap`` (for ``ColorBarItem``)."""
    table = lookup_table(name)
    return pg.ColorMap(np.linspace(0.0, 1.0, len(table)), table)


def to_rgba(values: np.ndarray, levels: tuple[float, float], table: np.ndarray) -> np.ndarray:
    """Colour ``values`` (any shape, float) through ``table`` between ``levels``, as ImageItem
    does: (..., 4) uint8."""
    low, high = levels
    span = high - low if high > low else 1.0
    index = np.clip((np.asarray(values, dtype=np.float64) - low) / span * (len(table) - 1) + 0.5,
                    0, len(table) - 1).astype(np.intp)
    return table[index]


def text_colour(rgba: np.ndarray) -> str:
    """``"#000"`` or ``"#fff"``, whichever reads better on a cell of colour ``rgba``."""
    r, g, b = (float(v) for v in rgba[:3])
    return "#000" if 0.299 * r + 0.587 * g + 0.114 * b > 140 else "#fff"
