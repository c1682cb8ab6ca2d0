"""The drawing canvas: draw a digit with the mouse or a tablet pen, see the input image.

The canvas draws into a 280x280 uint8 raster (white ink on black, MNIST's convention) that numpy
owns and a ``Format_Grayscale8`` QImage wraps without copying. Each mouse move paints only the new
piece of the stroke (antialiased, round caps, smoothed with quadratic curves through the midpoints
of the pointer positions) and hands the raster to :meth:`Document.update_stroke`, which
recomputes the prediction at once; the release makes the whole stroke one undo step.

On screen the raster is shown through a ``Format_Indexed8`` view of the same bytes whose colour
table runs from the palette's paper colour to its ink colour, so the drawing follows light and
dark themes. When the input is an opened image, the canvas shows that image instead; drawing on
it starts a new, empty drawing.

A colour network (:func:`cnnviz.session.paints_in_colour`) is painted in colour instead
(:class:`ColourPicture`): the brush lays the chosen colour over the opened picture, at the
picture's own resolution and without antialiasing (each pixel it touches becomes exactly the
colour, the others stay as they were), or over a white 280x280 page (antialiased). The eraser
brings back the picture as it was opened (or the white page). Each stroke is one undo step, as a
digit stroke is.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QEvent, QPointF, QRectF, QSize, Qt, Signal, Slot
from PySide6.QtGui import (QAction, QColor, QImage, QKeySequence, QMouseEvent, QPainter,
                           QPainterPath, QPaintEvent, QPen, QPointingDevice, QTabletEvent)
from PySide6.QtWidgets import QWidget

from cnnviz.session import (CANVAS_SIZE, CanvasInput, ImageInput, Trace, canvas_input,
                            painted_image, paints_in_colour)
from cnnviz.ui.shared.theme import accent, paper_and_ink
from cnnviz.ui.window.document import Document

#: Brush diameters in raster pixels (the raster is 280 pixels wide).
BRUSH_MIN, BRUSH_MAX, BRUSH_DEFAULT = 4, 60, 20
#: The thinnest line a light pen pressure gives, as a fraction of the brush.
MIN_PRESSURE_WIDTH = 0.25
#: Gap between the widget's edge and the paper, in widget pixels.
MARGIN = 6
DRAW_TIP = "Draw a digit: left button draws, right button erases"
PAINT_TIP = ("Paint in the brush colour: left button paints, right button erases (brings the "
             "picture back)")
#: The colour the brush paints with on a colour network, until the user chooses another.
DEFAULT_BRUSH_COLOUR = (0, 0, 0)


def image_to_qimage(pixels: np.ndarray) -> QImage:
    """A QImage (own copy) of float pixels in [0, 1], (H, W) grey or (H, W, 3) RGB."""
    data = np.ascontiguousarray(np.clip(pixels, 0.0, 1.0) * 255.0 + 0.5, dtype=np.uint8)
    h, w = data.shape[:2]
    if data.ndim == 2:
        return QImage(data.data, w, h, w, QImage.Format.Format_Grayscale8).copy()
    return QImage(data.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()


def stroke_piece(image: QImage, colour: QColor, width: float, path: QPainterPath, start: QPointF,
                 end: QPointF, control: QPointF | None, mode: QPainter.CompositionMode,
                 antialiased: bool = True) -> QRectF:
    """Stroke one piece of a stroke (``path`` from ``start`` to ``end``, bent towards
    ``control``) into ``image`` with a round pen; returns the box it may have touched."""
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing, antialiased)
    painter.setCompositionMode(mode)
    painter.setPen(QPen(colour, width, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap,
                        Qt.PenJoinStyle.RoundJoin))
    if start == end:
        painter.drawPoint(start)
    else:
        painter.drawPath(path)
    painter.end()
    xs = [start.x(), end.x()] + ([control.x()] if control is not None else [])
    ys = [start.y(), end.y()] + ([control.y()] if control is not None else [])
    pad = width / 2 + 2
    return QRectF(min(xs) - pad, min(ys) - pad, max(xs) - min(xs) + 2 * pad,
                  max(ys) - min(ys) + 2 * pad)


class ColourPicture:
    """A picture, or a white page, that the brush paints over in colour.

    Parameters
    ----------
    source : CanvasInput or ImageInput
        The input shown.
    page : bool
        A canvas page (antialiased brush, the eraser paints white) rather than an opened picture
        (hard-edged brush at the picture's resolution, the eraser brings the picture back).

    Attributes
    ----------
    pixels : np.ndarray
        float32 (H, W, 3) in [0, 1]: the picture as painted so far (writable, owned).
    original : np.ndarray
        float32 (H, W, 3): what the eraser brings back.
    qimage : QImage
        ``Format_RGB888`` over the 8-bit copy of :attr:`pixels` shown on screen.
    """

    def __init__(self, source, page: bool):
        self.source = source
        self.page = page
        if isinstance(source, CanvasInput):
            pixels = source.raster.astype(np.float32) / np.float32(255)
            if not source.is_colour:  # a drawing (white ink on black); blank is a white page
                pixels = (np.ones_like(pixels) if source.is_blank else pixels)
            original = None
        else:
            pixels = source.pixels
            original = source.original.pixels
        self.pixels = _rgb(pixels)
        self.original = (np.ones_like(self.pixels) if original is None
                         else _rgb(original).copy())
        h, w = self.pixels.shape[:2]
        self.display = np.empty((h, w, 3), dtype=np.uint8)
        self._quantise(0, h, 0, w)
        self.qimage = QImage(self.display.data, w, h, 3 * w, QImage.Format.Format_RGB888)
        self.mask = np.zeros((h, w), dtype=np.uint8)
        self._mask_image = QImage(self.mask.data, w, h, w, QImage.Format.Format_Grayscale8)
        self._before: np.ndarray | None = None
        self._target: np.ndarray | None = None

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) in pixels."""
        return self.pixels.shape[1], self.pixels.shape[0]

    def begin(self, colour: QColor | None) -> None:
        """Start a stroke painting ``colour`` (None: the eraser)."""
        self._before = self.pixels.copy()
        self.mask[:] = 0
        if colour is None:
            self._target = self.original
        else:
            self._target = np.array([colour.red(), colour.green(), colour.blue()],
                                    dtype=np.float32) / np.float32(255)

    def paint(self, path: QPainterPath, start: QPointF, end: QPointF, width: float,
              control: QPointF | None = None) -> QRectF:
        """Stroke ``path`` (picture pixel coordinates) in the stroke's colour; returns the box
        of the pixels it may have changed (picture coordinates)."""
        # Lighten: the mask only grows, so overlapping pieces never build up at their joins.
        box = stroke_piece(self._mask_image, QColor(255, 255, 255), width, path, start, end,
                           control, QPainter.CompositionMode.CompositionMode_Lighten,
                           antialiased=self.page)
        w, h = self.size
        c0, r0 = max(0, int(box.left())), max(0, int(box.top()))
        c1, r1 = min(w, int(box.right()) + 1), min(h, int(box.bottom()) + 1)
        if c1 > c0 and r1 > r0:
            self._composite(r0, r1, c0, c1)
        return QRectF(c0, r0, max(0, c1 - c0), max(0, r1 - r0))

    def _composite(self, r0: int, r1: int, c0: int, c1: int) -> None:
        """Pixels = before x (1 - mask) + colour x mask: exactly the colour where the mask is
        full, exactly as before where it is empty."""
        m = self.mask[r0:r1, c0:c1, None].astype(np.float32) / np.float32(255)
        before = self._before[r0:r1, c0:c1]
        target = self._target if self._target.ndim == 1 else self._target[r0:r1, c0:c1]
        self.pixels[r0:r1, c0:c1] = before * (np.float32(1) - m) + target * m
        if self.page:  # a page is kept in 8 bits: what is shown is what the network gets
            self.pixels[r0:r1, c0:c1] = np.rint(self.pixels[r0:r1, c0:c1] * 255) / np.float32(255)
        self._quantise(r0, r1, c0, c1)

    def _quantise(self, r0: int, r1: int, c0: int, c1: int) -> None:
        part = np.clip(self.pixels[r0:r1, c0:c1], 0.0, 1.0) * np.float32(255) + np.float32(0.5)
        self.display[r0:r1, c0:c1] = part.astype(np.uint8)

    def make_source(self):
        """The input the painting is now: a colour page, or the picture painted over."""
        if self.page:
            self.source = canvas_input(self.display)
        else:
            self.source = painted_image(self.source, self.pixels)
        return self.source


def _rgb(pixels: np.ndarray) -> np.ndarray:
    """float32 (H, W, 3), a new array: grey pixels repeated in the three channels."""
    pixels = np.asarray(pixels, dtype=np.float32)
    if pixels.ndim == 2:
        return np.repeat(pixels[..., None], 3, axis=2)
    return np.array(pixels, dtype=np.float32, copy=True)


class DrawingCanvas(QWidget):
    """The surface to draw on; the input image when one is opened.

    Parameters
    ----------
    document : Document
    parent : QWidget, optional

    Signals
    -------
    cursor_info(str)
        What is under the pointer ("" when it leaves), for the status bar.
    brush_size_changed(int)
        The brush diameter in raster pixels.
    brush_colour_changed(QColor)
        The colour the brush paints with on a colour network.
    """

    cursor_info = Signal(str)
    brush_size_changed = Signal(int)
    brush_colour_changed = Signal(QColor)

    def __init__(self, document: Document, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("drawing_canvas")
        self.document = document
        self.brush_size = BRUSH_DEFAULT
        self.brush_colour = QColor(*DEFAULT_BRUSH_COLOUR)
        self.erasing = False
        self._colour: ColourPicture | None = None  # what is painted, on a colour network
        self._colour_cache: QImage | None = None
        self._raster = np.zeros((CANVAS_SIZE, CANVAS_SIZE), dtype=np.uint8)
        self._wrap_raster()
        self._image: QImage | None = None  # the opened image on display, if any
        self._image_cache: QImage | None = None  # the same, scaled for the screen
        self._points: list[QPointF] = []  # the stroke in progress, raster coordinates
        self._stroke_erases = False
        self._pushing = False
        self._hover: QPointF | None = None
        self._paper = self._ink = QColor()
        self.setMouseTracking(True)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self.setAttribute(Qt.WidgetAttribute.WA_TabletTracking)
        self.setCursor(Qt.CursorShape.CrossCursor)
        self.setMinimumSize(200, 200)
        self.setToolTip(DRAW_TIP)
        self._apply_palette()
        self._on_input_changed(document.source)
        document.input_changed.connect(self._on_input_changed)
        document.model_changed.connect(self._on_model_changed)
        document.trace_changed.connect(self._on_trace_changed)

    # ----------------------------------------------------------------- state
    @property
    def raster(self) -> np.ndarray:
        """The drawing: uint8 (280, 280), white ink on black (do not write to it)."""
        return self._raster

    @property
    def drawing(self) -> bool:
        """A stroke is in progress."""
        return bool(self._points)

    @property
    def colour_picture(self) -> ColourPicture | None:
        """What the brush paints over on a colour network (None: a digit drawing)."""
        return self._colour

    def set_brush_colour(self, colour: QColor) -> None:
        """The colour the brush paints with on a colour network (opaque)."""
        colour = QColor(colour.red(), colour.green(), colour.blue())
        if colour.isValid() and colour != self.brush_colour:
            self.brush_colour = colour
            self.brush_colour_changed.emit(QColor(colour))

    def set_brush_size(self, size: int) -> None:
        size = int(min(max(size, BRUSH_MIN), BRUSH_MAX))
        if size != self.brush_size:
            self.brush_size = size
            self.brush_size_changed.emit(size)
            self.update()

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt override)
        return QSize(440, 440)

    def hasHeightForWidth(self) -> bool:  # noqa: N802 (Qt override)
        return True

    def heightForWidth(self, width: int) -> int:  # noqa: N802 (Qt override)
        return width

    # ----------------------------------------------------------------- geometry
    def paper_rect(self) -> QRectF:
        """Where the raster is shown, in widget coordinates (a centred square)."""
        side = max(1.0, min(self.width(), self.height()) - 2.0 * MARGIN)
        return QRectF((self.width() - side) / 2.0, (self.height() - side) / 2.0, side, side)

    def to_raster(self, position: QPointF) -> QPointF:
        """Widget coordinates to raster coordinates (pixel centres at .5)."""
        rect = self.paper_rect()
        scale = CANVAS_SIZE / rect.width()
        return QPointF((position.x() - rect.x()) * scale, (position.y() - rect.y()) * scale)

    def to_widget(self, rect: QRectF) -> QRectF:
        """Raster coordinates to widget coordinates."""
        paper = self.paper_rect()
        scale = paper.width() / CANVAS_SIZE
        return QRectF(paper.x() + rect.x() * scale, paper.y() + rect.y() * scale,
                      rect.width() * scale, rect.height() * scale)

    def _image_rect(self) -> QRectF:
        """Where the opened image is shown: fitted into the paper, keeping its aspect ratio."""
        return self._fitted_rect(self._image.width(), self._image.height())

    def colour_rect(self) -> QRectF:
        """Where the picture painted in colour is shown (the paper, for a page)."""
        if self._colour.page:
            return self.paper_rect()
        return self._fitted_rect(*self._colour.size)

    def to_colour(self, position: QPointF) -> QPointF:
        """Widget coordinates to the coordinates of the picture painted in colour."""
        rect = self.colour_rect()
        w, h = self._colour.size
        return QPointF((position.x() - rect.x()) * w / rect.width(),
                       (position.y() - rect.y()) * h / rect.height())

    def colour_brush_width(self, pressure: float = 1.0) -> float:
        """The brush diameter in pixels of the picture painted in colour (at least one pixel of
        a picture): the same size on screen as on the digit canvas."""
        on_screen = self.brush_size * self.paper_rect().width() / CANVAS_SIZE
        width = (on_screen * self._colour.size[0] / self.colour_rect().width()
                 * max(MIN_PRESSURE_WIDTH, min(pressure, 1.0)))
        return width if self._colour.page else max(1.0, width)

    def _fitted_rect(self, w: int, h: int) -> QRectF:
        paper = self.paper_rect()
        scale = min(paper.width() / w, paper.height() / h)
        return QRectF(paper.center().x() - w * scale / 2, paper.center().y() - h * scale / 2,
                      w * scale, h * scale)

    # ----------------------------------------------------------------- drawing
    def begin_stroke(self, position: QPointF, erase: bool = False, pressure: float = 1.0) -> None:
        """Start a stroke at ``position`` (widget coordinates)."""
        if self._points:
            self.end_stroke()
        self.document.begin_stroke()
        if self._colour is not None:
            self._stroke_erases = erase
            self._colour.begin(None if erase else self.brush_colour)
            point = self.to_colour(position)
            self._points = [point]
            self._paint_piece(QPainterPath(point), point, point, pressure)
            self._push()
            return
        if self._image is not None:  # drawing over an opened image starts a new drawing
            self._image = self._image_cache = None
            self._raster[:] = 0
            self.update()
        self._stroke_erases = erase
        point = self.to_raster(position)
        self._points = [point]
        self._paint_piece(QPainterPath(point), point, point, pressure)
        self._push()

    def continue_stroke(self, position: QPointF, pressure: float = 1.0) -> None:
        """Extend the stroke to ``position`` and update the prediction."""
        if not self._points:
            return
        point = self.to_colour(position) if self._colour is not None else self.to_raster(position)
        last = self._points[-1]
        if abs(point.x() - last.x()) + abs(point.y() - last.y()) < 0.25:
            return
        self._points.append(point)
        pts = self._points
        if len(pts) == 2:
            start, end = pts[0], (pts[0] + pts[1]) / 2
            path = QPainterPath(start)
            path.lineTo(end)
        else:
            start, end = (pts[-3] + pts[-2]) / 2, (pts[-2] + pts[-1]) / 2
            path = QPainterPath(start)
            path.quadTo(pts[-2], end)
        self._paint_piece(path, start, end, pressure, pts[-2])
        self._push()

    def end_stroke(self, pressure: float = 1.0) -> None:
        """Draw the stroke's last piece and make the whole stroke one undo step."""
        if not self._points:
            return
        pts, erase = self._points, self._stroke_erases
        self._points = []
        if len(pts) >= 2:
            start = (pts[-2] + pts[-1]) / 2
            path = QPainterPath(start)
            path.lineTo(pts[-1])
            self._paint_piece(path, start, pts[-1], pressure)
        if self._colour is not None:
            final = self._colour.make_source() if len(pts) >= 2 else None
            self._colour_cache = None
            self.update()
        else:
            final = self._raster
        self._pushing = True
        try:
            self.document.end_stroke(final, "Erase" if erase else "Stroke")
        finally:
            self._pushing = False

    def _paint_piece(self, path: QPainterPath, start: QPointF, end: QPointF, pressure: float,
                     control: QPointF | None = None) -> None:
        """Stroke ``path`` into the raster and repaint the part of the widget it touched."""
        if self._colour is not None:
            box = self._colour.paint(path, start, end, self.colour_brush_width(pressure), control)
            rect, (w, h) = self.colour_rect(), self._colour.size
            sx, sy = rect.width() / w, rect.height() / h
            self.update(QRectF(rect.x() + box.x() * sx, rect.y() + box.y() * sy,
                               box.width() * sx, box.height() * sy).toAlignedRect()
                        .adjusted(-2, -2, 2, 2))
            return
        width = self.brush_size * max(MIN_PRESSURE_WIDTH, min(pressure, 1.0))
        ink = QColor(0, 0, 0) if self._stroke_erases else QColor(255, 255, 255)
        # Lighten (max) / Darken (min) so that overlapping pieces never build up at their joins.
        mode = (QPainter.CompositionMode.CompositionMode_Darken if self._stroke_erases else
                QPainter.CompositionMode.CompositionMode_Lighten)
        dirty = stroke_piece(self._qimage, ink, width, path, start, end, control, mode)
        self.update(self.to_widget(dirty).toAlignedRect().adjusted(-2, -2, 2, 2))

    def _push(self) -> None:
        """Hand the raster to the document (which recomputes the prediction)."""
        self._pushing = True
        try:
            self.document.update_stroke(self._colour.make_source() if self._colour is not None
                                        else self._raster)
        finally:
            self._pushing = False

    # ----------------------------------------------------------------- events
    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt override)
        button = event.button()
        if button in (Qt.MouseButton.LeftButton, Qt.MouseButton.RightButton):
            erase = self.erasing or button == Qt.MouseButton.RightButton
            self.begin_stroke(event.position(), erase=erase)
            event.accept()
        else:
            super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt override)
        self._set_hover(event.position())
        if self._points and event.buttons() & (Qt.MouseButton.LeftButton |
                                               Qt.MouseButton.RightButton):
            self.continue_stroke(event.position())
        event.accept()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt override)
        if event.button() in (Qt.MouseButton.LeftButton, Qt.MouseButton.RightButton):
            self.continue_stroke(event.position())
            self.end_stroke()
            event.accept()
        else:
            super().mouseReleaseEvent(event)

    def tabletEvent(self, event: QTabletEvent) -> None:  # noqa: N802 (Qt override)
        """A pen: the pressure sets the line width; its eraser end erases."""
        kind, pressure = event.type(), event.pressure()
        if kind == QEvent.Type.TabletPress:
            erase = (self.erasing or event.pointerType() == QPointingDevice.PointerType.Eraser
                     or event.button() == Qt.MouseButton.RightButton)
            self.begin_stroke(event.position(), erase=erase, pressure=pressure)
        elif kind == QEvent.Type.TabletMove:
            self._set_hover(event.position())
            self.continue_stroke(event.position(), pressure)
        elif kind == QEvent.Type.TabletRelease:
            self.continue_stroke(event.position(), pressure)
            self.end_stroke(pressure)
        event.accept()

    def leaveEvent(self, event: QEvent) -> None:  # noqa: N802 (Qt override)
        self._set_hover(None)
        super().leaveEvent(event)

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 (Qt override)
        if event.type() == QEvent.Type.PaletteChange:
            self._apply_palette()
        super().changeEvent(event)

    def _set_hover(self, position: QPointF | None) -> None:
        """Move the brush outline and say what is under the pointer."""
        old, self._hover = self._hover, position
        for point in (old, position):
            if point is not None:
                radius = self.brush_size * self.paper_rect().width() / CANVAS_SIZE / 2 + 3
                self.update(QRectF(point.x() - radius, point.y() - radius, 2 * radius,
                                   2 * radius).toAlignedRect())
        self.cursor_info.emit("" if position is None else self._describe(position))

    def _describe(self, position: QPointF) -> str:
        if self._colour is not None:
            rect = self.colour_rect()
            if not rect.contains(position):
                return ""
            w, h = self._colour.size
            col = min(int((position.x() - rect.x()) / rect.width() * w), w - 1)
            row = min(int((position.y() - rect.y()) / rect.height() * h), h - 1)
            what = ("Canvas" if self._colour.page
                    else f"Image {self._colour.source.name}")
            value = ", ".join(f"{v:.2f}" for v in self._colour.pixels[row, col])
            return f"{what}  x {col}, y {row}: RGB {value}"
        if self._image is not None:
            rect = self._image_rect()
            source = self.document.source
            pixels = source.pixels if isinstance(source, ImageInput) else None
            if pixels is None or not rect.contains(position):
                return ""
            h, w = pixels.shape[:2]
            col = min(int((position.x() - rect.x()) / rect.width() * w), w - 1)
            row = min(int((position.y() - rect.y()) / rect.height() * h), h - 1)
            value = pixels[row, col]
            shown = (f"{value:.2f}" if np.ndim(value) == 0
                     else "RGB " + ", ".join(f"{v:.2f}" for v in value))
            return f"Image {source.name}  x {col}, y {row}: {shown}"
        point = self.to_raster(position)
        col, row = int(point.x()), int(point.y())
        if not (0 <= col < CANVAS_SIZE and 0 <= row < CANVAS_SIZE):
            return ""
        return f"Canvas  x {col}, y {row}: ink {self._raster[row, col] / 255:.2f}"

    # ----------------------------------------------------------------- painting
    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 (Qt override)
        painter = QPainter(self)
        painter.setClipRect(event.rect())
        painter.fillRect(self.rect(), self.palette().window())
        paper = self.paper_rect()
        painter.fillRect(paper, self._paper)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        if self._colour is not None:
            self._paint_colour(painter)
        elif self._image is not None:
            painter.drawImage(self._image_rect(), self._scaled_image())
        else:
            painter.drawImage(paper, self._display)
        self._paint_ink_box(painter)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(QPen(self.palette().mid().color(), 1))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawRect(paper.adjusted(-0.5, -0.5, 0.5, 0.5))
        if self._hover is not None and paper.contains(self._hover) and self._image is None:
            radius = self.brush_size * paper.width() / CANVAS_SIZE / 2
            painter.setPen(QPen(accent(self.palette()), 1))
            painter.drawEllipse(self._hover, radius, radius)
        painter.end()

    def _paint_colour(self, painter: QPainter) -> None:
        """The picture painted in colour: its pixels as squares when it is enlarged (each one
        the brush may cover), smoothly reduced otherwise."""
        rect, image = self.colour_rect(), self._colour.qimage
        if rect.width() >= image.width():
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)
            painter.drawImage(rect, image)
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
            return
        if self._points:  # during a stroke the picture changes at every move
            painter.drawImage(rect, image)
            return
        ratio = self.devicePixelRatioF()
        size = QSize(max(1, round(rect.width() * ratio)), max(1, round(rect.height() * ratio)))
        if self._colour_cache is None or self._colour_cache.size() != size:
            self._colour_cache = image.scaled(size, Qt.AspectRatioMode.IgnoreAspectRatio,
                                              Qt.TransformationMode.SmoothTransformation)
            self._colour_cache.setDevicePixelRatio(ratio)
        painter.drawImage(rect, self._colour_cache)

    def _scaled_image(self) -> QImage:
        """The opened image, scaled to its place on screen once (area-averaged), not per paint."""
        rect = self._image_rect()
        ratio = self.devicePixelRatioF()
        size = QSize(max(1, round(rect.width() * ratio)), max(1, round(rect.height() * ratio)))
        if self._image_cache is None or self._image_cache.size() != size:
            self._image_cache = self._image.scaled(size, Qt.AspectRatioMode.IgnoreAspectRatio,
                                                   Qt.TransformationMode.SmoothTransformation)
            self._image_cache.setDevicePixelRatio(ratio)
        return self._image_cache

    def _paint_ink_box(self, painter: QPainter) -> None:
        """The ink's bounding box, which the preprocessing crops to, as a dashed frame."""
        trace = self.document.trace
        info = trace.preprocess
        if (info is None or info.blank or info.bbox is None or self._points
                or self._colour is not None):
            return
        top, left, bottom, right = info.bbox
        if self._image is not None:
            h, w = trace.source.pixels.shape[:2]
            rect = self._image_rect()
            sx, sy = rect.width() / w, rect.height() / h
            box = QRectF(rect.x() + left * sx, rect.y() + top * sy, (right - left) * sx,
                         (bottom - top) * sy)
        else:
            box = self.to_widget(QRectF(left, top, right - left, bottom - top))
        colour = QColor(accent(self.palette()))
        colour.setAlpha(170)
        painter.setPen(QPen(colour, 1, Qt.PenStyle.DashLine))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawRect(box)

    def _apply_palette(self) -> None:
        self._paper, self._ink = paper_and_ink(self.palette())
        table = []
        for i in range(256):
            t = i / 255.0
            table.append(QColor(
                round(self._paper.red() + t * (self._ink.red() - self._paper.red())),
                round(self._paper.green() + t * (self._ink.green() - self._paper.green())),
                round(self._paper.blue() + t * (self._ink.blue() - self._paper.blue())),
            ).rgb())
        self._display.setColorTable(table)
        self.update()

    def _wrap_raster(self) -> None:
        """QImages over the raster's bytes: one to paint into, one to show through a colour table."""
        h, w = self._raster.shape
        self._qimage = QImage(self._raster.data, w, h, w, QImage.Format.Format_Grayscale8)
        self._display = QImage(self._raster.data, w, h, w, QImage.Format.Format_Indexed8)

    # ----------------------------------------------------------------- document
    @Slot(object)
    def _on_input_changed(self, source) -> None:
        """Show the new input (unless it is the canvas's own stroke coming back)."""
        if self._pushing:
            return
        self._points = []
        if paints_in_colour(self.document.network.contract):
            self._colour = ColourPicture(source, page=isinstance(source, CanvasInput))
            self._colour_cache = None
            self._image = None
            self.setToolTip(PAINT_TIP)
            self.update()
            return
        self._colour = None
        self.setToolTip(DRAW_TIP)
        if isinstance(source, CanvasInput) and not source.is_colour:
            self._image = None
            if source.raster.shape != self._raster.shape:
                self._raster = np.zeros(source.raster.shape, dtype=np.uint8)
                self._wrap_raster()
                self._apply_palette()
            self._raster[:] = source.raster
        else:
            pixels = source.pixels
            self._image = image_to_qimage(pixels / 255.0 if pixels.dtype == np.uint8 else pixels)
            self._image_cache = None
            self._raster[:] = 0
        self.update()

    @Slot(object)
    def _on_model_changed(self, _network) -> None:
        """A colour network paints in colour, the others draw digits: show the input anew when
        the new network paints otherwise than the last."""
        if paints_in_colour(self.document.network.contract) != (self._colour is not None):
            self._on_input_changed(self.document.source)

    @Slot(object)
    def _on_trace_changed(self, trace: Trace) -> None:
        if not self._points:  # the ink box moves with the preprocessing
            self.update()


def canvas_actions(canvas: DrawingCanvas, parent: QWidget) -> dict[str, QAction]:
    """The canvas's actions for menus and tool bars: clear, eraser, brush size."""
    document = canvas.document
    clear = QAction("&Clear Canvas", parent, objectName="clear_action",
                    shortcut=QKeySequence(Qt.Key.Key_Delete),
                    toolTip="Clear the canvas (Del)",
                    statusTip="Erase the whole drawing, or close the opened image (undoable)",
                    triggered=document.clear_canvas)
    clear.setIconText("Clear")  # tool buttons are narrow; menus show the full text
    eraser = QAction("&Eraser", parent, objectName="eraser_action", checkable=True,
                     shortcut=QKeySequence(Qt.Key.Key_E),
                     toolTip="Eraser (E); the right mouse button always erases",
                     statusTip="Draw with the left button to erase instead of drawing ink")
    eraser.toggled.connect(lambda on: setattr(canvas, "erasing", on))
    larger = QAction("&Larger Brush", parent, objectName="larger_brush_action",
                     shortcut=QKeySequence(Qt.Key.Key_BracketRight),
                     toolTip="Larger brush (])", statusTip="Make the brush thicker",
                     triggered=lambda: canvas.set_brush_size(canvas.brush_size + 2))
    smaller = QAction("&Smaller Brush", parent, objectName="smaller_brush_action",
                      shortcut=QKeySequence(Qt.Key.Key_BracketLeft),
                      toolTip="Smaller brush ([)", statusTip="Make the brush thinner",
                      triggered=lambda: canvas.set_brush_size(canvas.brush_size - 2))
    return {"clear": clear, "eraser": eraser, "larger_brush": larger, "smaller_brush": smaller}
