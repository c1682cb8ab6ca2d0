"""The Prediction panel: the top class, large, with its confidence, and every class's probability.

Classes are called by the names the network's input contract gives them ("0".."9" for a digit
network, "airplane", "automobile"... for a CIFAR-10 one), for any number of classes. A network
with more than :data:`MAX_BARS` classes (ImageNet's 1,000) shows the :data:`TOP_K` most probable
ones instead, most probable first, each bar under its class's name.
"""

from __future__ import annotations

import time

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, Qt, Signal, Slot
from PySide6.QtGui import QColor, QFont, QFontMetrics
from PySide6.QtWidgets import QGridLayout, QLabel, QSizePolicy, QVBoxLayout, QWidget

from cnnviz.session import Trace
from cnnviz.ui.shared.class_ticks import class_ticks
from cnnviz.ui.shared.theme import accent, plot_colors
from cnnviz.ui.window.document import Document

BAR_WIDTH = 0.72
#: Room left and right of the outer bars, in bars.
EDGE = 0.6
TOP_CLASS_POINT_SIZE = 44
#: Smallest size of the top class's name, when the longest name needs to shrink to fit.
MIN_TOP_CLASS_POINT_SIZE = 14
#: Share of the panel's width the top class's name may take.
TOP_CLASS_WIDTH = 0.45
#: Networks with up to this many classes show one bar per class...
MAX_BARS = 20
#: ... the others their most probable classes only.
TOP_K = 5


def shown_classes(probabilities: np.ndarray) -> np.ndarray:
    """The classes the panel shows, in bar order: all of them (up to :data:`MAX_BARS`), else the
    :data:`TOP_K` most probable, most probable first (ties: the lower class first)."""
    count = len(probabilities)
    if count <= MAX_BARS:
        return np.arange(count)
    top = np.argpartition(-probabilities, TOP_K - 1)[:TOP_K]
    return top[np.lexsort((top, -probabilities[top]))]


class PredictionPanel(QWidget):
    """A bar chart of the class probabilities and the predicted class.

    Attributes
    ----------
    probabilities : np.ndarray
        The probabilities of every class (float32 (K,)).
    class_names : tuple of str
        The network's class names, one per class.
    shown : np.ndarray
        The class of each bar (:func:`shown_classes`).
    applied_version : int
        ``Trace.version`` of the trace on display.
    applied_at : float
        ``time.perf_counter()`` when it was applied (for latency measurements).

    Signals
    -------
    cursor_info(str)
        The class and probability under the pointer ("" when none), for the status bar.
    class_clicked(int)
        A class's bar (its whole column, from 0 to 1) was clicked with the left button: the
        user says the input is of that class (the window keeps it in My Drawings).
    """

    cursor_info = Signal(str)
    class_clicked = Signal(int)

    def __init__(self, document: Document, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("prediction_panel")
        self.document = document
        self.probabilities = np.zeros(0, dtype=np.float32)
        self.class_names: tuple[str, ...] = ()
        self.shown = np.zeros(0, dtype=np.intp)
        self._digits = True
        self.applied_version = 0
        self.applied_at = 0.0

        self.top_class_label = QLabel("\u2013", objectName="top_class_label")
        font = QFont(self.font())
        font.setPointSize(TOP_CLASS_POINT_SIZE)
        font.setBold(True)
        self.top_class_label.setFont(font)
        self.top_class_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.top_class_label.setMinimumWidth(self.top_class_label.fontMetrics().horizontalAdvance("00"))
        # Wrapped in a narrow panel ("100.0%" over "confident"), never cut.
        self.confidence_label = QLabel(objectName="confidence_label", wordWrap=True)
        bigger = QFont(self.font())
        bigger.setPointSizeF(self.font().pointSizeF() * 1.5)
        self.confidence_label.setFont(bigger)
        self.runner_up_label = QLabel(objectName="runner_up_label")
        self.runner_up_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)

        self.plot = pg.PlotWidget()
        self.plot.setObjectName("probability_plot")
        self.plot.setMenuEnabled(False)
        self.plot.setMouseEnabled(x=False, y=False)
        self.plot.hideButtons()
        self.plot.setYRange(0.0, 1.0, padding=0.02)
        self.plot.setLabel("left", "probability")
        self.plot.setLabel("bottom", "class")
        self.plot.getAxis("left").setTicks([[(v, f"{v:g}") for v in (0, 0.25, 0.5, 0.75, 1)]])
        self.plot.setMinimumHeight(84)  # (Explore at 1024x700 leaves the panel ~180 px)
        self.bars = pg.BarGraphItem(x=np.zeros(0), height=np.zeros(0), width=BAR_WIDTH)
        self.plot.addItem(self.bars)
        self.plot.scene().sigMouseMoved.connect(self._on_mouse_moved)
        self.plot.scene().sigMouseClicked.connect(self._on_mouse_clicked)
        self.plot.getViewBox().sigResized.connect(self._update_ticks)

        header = QGridLayout()
        header.addWidget(self.top_class_label, 0, 0, 2, 1)
        header.addWidget(self.confidence_label, 0, 1)
        header.addWidget(self.runner_up_label, 1, 1)
        header.setColumnStretch(1, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(header)
        layout.addWidget(self.plot, 1)

        self._apply_palette()
        self._on_model_changed(document.network)
        self._on_trace_changed(document.trace)
        document.model_changed.connect(self._on_model_changed)
        document.trace_changed.connect(self._on_trace_changed)

    # ----------------------------------------------------------------- document
    @Slot(object)
    def _on_model_changed(self, network) -> None:
        self.class_names = network.classes
        self._digits = network.contract.pipeline == "digits"
        classes = len(self.class_names)
        bars = min(classes, TOP_K) if classes > MAX_BARS else classes
        self.plot.setXRange(-EDGE, bars - 1 + EDGE, padding=0)
        self.plot.setLabel("bottom", f"top {TOP_K} of {classes:,} classes"
                           if classes > MAX_BARS else "class")
        self.shown = np.arange(bars) if classes <= MAX_BARS else np.zeros(0, dtype=np.intp)
        self._update_ticks()
        self._fit_top_class_font()
        self.probabilities = np.zeros(0, dtype=np.float32)

    def _update_ticks(self) -> None:
        """The names of the classes shown under their bars, cut to the room each bar has."""
        axis = self.plot.getAxis("bottom")
        width = self.plot.getViewBox().width()
        names = [self.class_name(int(k)) for k in self.shown]
        pixels = width / max(1, len(names)) if width > 0 else 0.0
        axis.setTicks(class_ticks(names, pixels, QFontMetrics(axis.font()), stagger=True,
                                  edge=EDGE))

    def _fit_top_class_font(self) -> None:
        """The top class's size: large, or smaller when the longest name would not fit in its
        share of the panel (set per network and size, never per prediction: a label changing
        size as the user draws would re-lay the panel out)."""
        font = QFont(self.top_class_label.font())
        font.setPointSize(TOP_CLASS_POINT_SIZE)
        longest = max((QFontMetrics(font).horizontalAdvance(name) for name in self.class_names),
                      default=0)
        room = max(self.top_class_label.minimumWidth(), self.width() * TOP_CLASS_WIDTH)
        size = TOP_CLASS_POINT_SIZE
        if longest > room:
            size = max(MIN_TOP_CLASS_POINT_SIZE, int(TOP_CLASS_POINT_SIZE * room / longest))
        if size != self.top_class_label.font().pointSize():
            font.setPointSize(size)
            self.top_class_label.setFont(font)

    def class_name(self, index: int) -> str:
        return self.class_names[index] if 0 <= index < len(self.class_names) else str(index)

    @Slot(object)
    def _on_trace_changed(self, trace: Trace) -> None:
        probs = trace.probabilities
        top = trace.top_class
        self._show_bars(probs, top)
        thing = "digit" if self._digits else "picture"
        if trace.blank:
            self.top_class_label.setToolTip("")
        if trace.blank and trace.source.kind == "image":
            self.top_class_label.setText("\u2013")
            self.confidence_label.setText("No ink found")
            self.runner_up_label.setText("in the opened image.")
            self.runner_up_label.setToolTip(
                f"Nothing in {trace.source.name} stands out from its background, so there is no "
                "digit to read. Open another image or draw one; the bars show what the network "
                "makes of an empty input.")
        elif trace.blank:
            self.top_class_label.setText("\u2013")
            self.confidence_label.setText("Nothing drawn yet")
            # Short enough for the panel's width (the label does not wrap: a text that changes
            # height with every prediction would re-lay the panel out as the user draws).
            self.runner_up_label.setText("Draw a digit." if self._digits else "Open an image.")
            self.runner_up_label.setToolTip(f"Draw a {thing} on the canvas or open an image; "
                                            "until then the bars show what the network makes of "
                                            "an empty input.")
        else:
            name = self.class_name(top)
            self.top_class_label.setText(name)
            self.top_class_label.setToolTip(f"The network reads this as \u201c{name}\u201d")
            self.confidence_label.setText(f"{probs[top]:.1%} confident")
            second = int(np.argsort(probs)[-2])
            self.runner_up_label.setText(f"next: {self.class_name(second)} "
                                         f"({probs[second]:.1%})")
            self.runner_up_label.setToolTip("The second most probable class")
        self.probabilities = probs
        self.applied_version = trace.version
        self.applied_at = time.perf_counter()

    def _show_bars(self, probs: np.ndarray, top: int) -> None:
        shown = shown_classes(probs)
        heights = probs[shown]
        brushes = [self._top_brush if k == top else self._bar_brush for k in shown]
        if len(shown) != len(self.bars.opts.get("height", ())):
            self.bars.setOpts(x=np.arange(len(shown)), height=heights, brushes=brushes,
                              pens=[pg.mkPen(None)] * len(shown))
        else:
            self.bars.setOpts(height=heights, brushes=brushes)
        if not np.array_equal(shown, self.shown):
            self.shown = shown
            self._update_ticks()

    # ----------------------------------------------------------------- events
    def bar_at(self, position) -> int | None:
        """The class whose bar's column (its width, any height in the plot) is at ``position``
        (scene coordinates), or None."""
        view = self.plot.getPlotItem().vb
        if not view.sceneBoundingRect().contains(position):
            return None
        point = view.mapSceneToView(position)
        k = int(round(point.x()))
        if 0 <= k < len(self.shown) and abs(point.x() - k) <= BAR_WIDTH / 2:
            return int(self.shown[k])
        return None

    def _on_mouse_moved(self, position) -> None:
        k = self.bar_at(position)
        if k is not None:
            self.cursor_info.emit(f"Class {self.class_name(k)}: probability "
                                  f"{self.probabilities[k]:.4f}; click to label the "
                                  f"{'digit' if self._digits else 'picture'} as "
                                  f"\u201c{self.class_name(k)}\u201d")
        else:
            self.cursor_info.emit("")

    def _on_mouse_clicked(self, event) -> None:
        if event.button() != Qt.MouseButton.LeftButton or event.double():
            return
        k = self.bar_at(event.scenePos())
        if k is not None:
            event.accept()
            self.class_clicked.emit(k)

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt override)
        super().resizeEvent(event)
        self._fit_top_class_font()

    def leaveEvent(self, event: QEvent) -> None:  # noqa: N802 (Qt override)
        self.cursor_info.emit("")
        super().leaveEvent(event)

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 (Qt override)
        if event.type() == QEvent.Type.PaletteChange:
            self._apply_palette()
            if len(self.probabilities):
                self._show_bars(self.probabilities, int(np.argmax(self.probabilities)))
        super().changeEvent(event)

    def _apply_palette(self) -> None:
        background, foreground = plot_colors(self.palette())
        self.plot.setBackground(background)
        for name in ("left", "bottom"):
            axis = self.plot.getAxis(name)
            axis.setPen(foreground)
            axis.setTextPen(foreground)
        muted = QColor(foreground)
        muted.setAlpha(110)
        self._bar_brush = pg.mkBrush(muted)
        self._top_brush = pg.mkBrush(accent(self.palette()))
