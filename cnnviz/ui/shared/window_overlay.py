"""Outlines of a unit's window drawn over the mosaic of a layer's maps, and the gaps between the
mosaic's tiles: used by every view that shows maps (Feature Maps, Filters, Layers, Network Input)."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QPainterPath, QPen
from PySide6.QtWidgets import QGraphicsItem, QGraphicsPathItem

from cnnviz.display import LayerWindow, Mosaic

PEN_WIDTH = 2.0


def _pen(colour: QColor, style=Qt.PenStyle.SolidLine, width: float = PEN_WIDTH) -> QPen:
    pen = QPen(colour, width, style)
    pen.setCosmetic(True)
    return pen


def gap_path(mosaic: Mosaic) -> QPainterPath:
    """The gaps between (and after) a mosaic's tiles, to paint over in the background colour."""
    path = QPainterPath()
    path.setFillRule(Qt.FillRule.WindingFill)
    for top, left, height, width in mosaic.gaps():
        path.addRect(QRectF(left, top, width, height))
    return path


def window_paths(mosaic: Mosaic, window: LayerWindow) -> tuple[QPainterPath, QPainterPath,
                                                                QPainterPath]:
    """The outlines of ``window`` in the tiles of ``mosaic`` (mosaic pixel coordinates).

    Returns
    -------
    read : QPainterPath
        Per channel, the box of the positions read.
    span : QPainterPath
        Per channel, the box of every tap, padding included, where it differs from ``read``.
    padding : QPainterPath
        The part of ``span`` outside the maps.
    """
    read, span, padding = QPainterPath(), QPainterPath(), QPainterPath()
    if window.rows is None:  # a vector: one rectangle per run of units on a strip row
        units = window.channels
        breaks = np.flatnonzero((np.diff(units) != 1)
                                | (units[1:] // mosaic.columns != units[:-1] // mosaic.columns))
        for run in np.split(units, breaks + 1):
            top, left = mosaic.origin(int(run[0]))
            read.addRect(QRectF(left, top, len(run), 1))
        return read, span, padding
    top, left, bottom, right = window.bounds
    s_top, s_left, s_bottom, s_right = window.span
    differs = window.span != window.bounds
    outside = differs and (s_top < 0 or s_left < 0 or s_bottom >= mosaic.height
                           or s_right >= mosaic.width)
    shapes: dict[tuple, QPainterPath] = {}
    for channel in window.channels:
        y0, x0 = mosaic.origin(int(channel))
        read.addRect(QRectF(x0 + left, y0 + top, right - left + 1, bottom - top + 1))
        if differs:
            span.addRect(QRectF(x0 + s_left, y0 + s_top, s_right - s_left + 1,
                                s_bottom - s_top + 1))
        if outside:
            padding.addPath(_padding_shape(mosaic, window.span, int(channel), shapes)
                            .translated(x0, y0))
    return read, span, padding


def _padding_shape(mosaic: Mosaic, span, channel: int, shapes: dict) -> QPainterPath:
    """The part of the box ``span`` (top, left, bottom, right) of tile ``channel``, in the
    tile's own coordinates, that lies on no tile of the mosaic (its own or a neighbour the box
    reaches into). Tiles with the same neighbours have the same shape: it is computed once for
    each arrangement (kept in ``shapes``), not once per channel, since subtracting a path of
    hundreds of tiles took ~10 ms per layer (VGG-16's 512 channels)."""
    top, left, bottom, right = span
    pitch_y, pitch_x = mosaic.height + mosaic.gap, mosaic.width + mosaic.gap
    rows = range(top // pitch_y, bottom // pitch_y + 1)  # the tile rows the box reaches
    cols = range(left // pitch_x, right // pitch_x + 1)
    row, col = divmod(channel, mosaic.columns)
    near = tuple((dr, dc) for dr in rows for dc in cols
                 if 0 <= col + dc < mosaic.columns and 0 <= row + dr
                 and (row + dr) * mosaic.columns + col + dc < mosaic.count)
    shape = shapes.get(near)
    if shape is None:
        box = QPainterPath()
        box.addRect(QRectF(left, top, right - left + 1, bottom - top + 1))
        tiles = QPainterPath()
        for dr, dc in near:
            tiles.addRect(QRectF(dc * pitch_x, dr * pitch_y, mosaic.width, mosaic.height))
        shape = shapes[near] = box.subtracted(tiles)
    return shape


class WindowOverlay:
    """Outlines of a window drawn over a mosaic image (children of its ``ImageItem``)."""

    def __init__(self, parent: QGraphicsItem, z: float = 10.0):
        self.read_item = QGraphicsPathItem(parent)
        self.span_item = QGraphicsPathItem(parent)
        self.padding_item = QGraphicsPathItem(parent)
        for offset, item in enumerate((self.padding_item, self.span_item, self.read_item)):
            item.setZValue(z + offset)
            item.hide()

    @property
    def items(self) -> tuple[QGraphicsPathItem, ...]:
        return (self.read_item, self.span_item, self.padding_item)

    def set_colour(self, colour: QColor) -> None:
        self.read_item.setPen(_pen(colour))
        self.span_item.setPen(_pen(colour, Qt.PenStyle.DashLine, 1.5))
        self.padding_item.setPen(QPen(Qt.PenStyle.NoPen))
        self.padding_item.setBrush(QBrush(colour, Qt.BrushStyle.BDiagPattern))

    def show(self, mosaic: Mosaic, window: LayerWindow) -> None:
        for item, path in zip((self.read_item, self.span_item, self.padding_item),
                              window_paths(mosaic, window)):
            item.setPath(path)
            item.setVisible(not path.isEmpty())

    def hide(self) -> None:
        for item in self.items:
            item.hide()
