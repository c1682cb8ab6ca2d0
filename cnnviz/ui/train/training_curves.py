"""The curves of a training run, live: loss (raw and smoothed), accuracy, learning rate.

:class:`PlotStack` is what the curves and the Network Health panel share: pyqtgraph plots side by
side on linked step axes (drag to pan, wheel to zoom, the "A" button to follow the
data again), the colours of the window's palette, redraws only when told (the Training panel
does, as it adopts a snapshot: one repaint of the window for both) and only when in view, and
export of the picture (PNG) and of the numbers (CSV, from the
:class:`~cnnviz.training.history.TrainingHistory`).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, Qt, Signal, Slot
from PySide6.QtGui import QColor, QFontMetrics
from PySide6.QtWidgets import QFileDialog, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from cnnviz.training.history import TrainingHistory
from cnnviz.ui.shared.plot_axes import LogAxis
from cnnviz.ui.shared.theme import accent, plot_colors

#: Colours of curves told apart by colour alone (Tableau 10), readable on light and dark.
SERIES_COLOURS = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1",
                  "#ff9da7", "#9c755f", "#bab0ac")


def _percent(values: np.ndarray) -> np.ndarray:
    return np.asarray(values) * 100.0


def _nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 5 times a power of ten that is >= ``value`` (> 0)."""
    power = 10.0 ** math.floor(math.log10(value))
    return next(m * power for m in (1, 2, 5, 10) if m * power >= value * (1 - 1e-9))


def round_range(values: np.ndarray, log: bool) -> tuple[float, float] | None:
    """A range holding ``values`` in round steps, in view coordinates (log10 for a log axis):
    whole half decades on a log axis; from 0 (or the negative of a 1-2-5 step) to a 1-2-5 step
    on a linear one. None when there is nothing finite to show."""
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values) & (values > 0)] if log else values[np.isfinite(values)]
    if not len(values):
        return None
    if log:
        low, high = np.log10(values.min()), np.log10(values.max())
        low, high = math.floor(low * 2) / 2, math.ceil(high * 2) / 2
        return low, max(high, low + 0.5)
    low, high = float(values.min()), float(values.max())
    top = _nice_ceiling(high) if high > 0 else 0.0
    bottom = -_nice_ceiling(-low) if low < 0 else 0.0
    return (bottom, top) if top > bottom else (bottom, bottom + 1.0)


class PlotStack(QWidget):
    """Plots side by side with linked step axes, with PNG and CSV export.

    Subclasses create their curves in ``__init__`` (after this one) and put the history into
    them in :meth:`draw`.

    Parameters
    ----------
    plots : list of (key, y-axis label, log y, y range or None)
        One plot per entry, left to right; ``self.plots[key]`` is its ``PlotItem``. A y range
        ``(low, high)`` stays fixed (percentages), else the plot follows the data.
    name : str
        Used for object names and the suggested export file names (``training-<name>.png``).
    parent : QWidget, optional

    Signals
    -------
    failed(str, str)
        An export failed: title and message for the user.
    """

    failed = Signal(str, str)

    def __init__(self, plots: list[tuple], name: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.name = name
        self.history = TrainingHistory()
        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.setObjectName(f"{name}_graphics")
        self.graphics.setMinimumSize(180 * len(plots), 150)
        self.plots: dict[str, pg.PlotItem] = {}
        self._y_ranges = {key: y_range for key, _, _, y_range in plots}
        self._log = {key: log_y for key, _, log_y, _ in plots}
        self.following = True
        self._ranges: dict[str, tuple] = {}
        first = None
        for column, (key, label, log_y, _) in enumerate(plots):
            axes = {"left": LogAxis("left")} if log_y else None
            plot = self.graphics.addPlot(row=0, col=column, axisItems=axes)
            plot.setLabel("left", label)
            plot.setLabel("bottom", "step")
            plot.setLogMode(y=log_y)
            # A fixed room for the tick labels (as wide as "0.00005"): no re-layout, and no
            # second repaint, each time the labels change.
            text_width = QFontMetrics(self.font()).horizontalAdvance("0.00005")
            plot.getAxis("left").setStyle(tickTextWidth=text_width, autoExpandTextSpace=False)
            plot.getAxis("left").enableAutoSIPrefix(False)
            plot.setDownsampling(auto=True, mode="peak")
            plot.setClipToView(True)
            plot.getViewBox().sigRangeChangedManually.connect(self._on_range_changed_manually)
            if first is None:
                first = plot
            else:
                plot.setXLink(first)
            self.plots[key] = plot
        self.fit_ranges()
        self.summary_label = QLabel(objectName=f"{name}_summary", wordWrap=True)
        self.key_label = QLabel(objectName=f"{name}_key", textFormat=Qt.TextFormat.RichText,
                                wordWrap=True)
        self.png_button = QPushButton("Export PNG\u2026", objectName=f"{name}_png_button",
                                      toolTip="Save the plots as a picture",
                                      clicked=lambda: self.export_png())
        self.csv_button = QPushButton("Export CSV\u2026", objectName=f"{name}_csv_button",
                                      toolTip="Save every step's figures as a table",
                                      clicked=lambda: self.export_csv())
        # Two lines held for each text from the start: a text that changes (every snapshot) or
        # wraps to another line would otherwise resize the plots, and make them repaint twice.
        for label in (self.summary_label, self.key_label):
            label.setMinimumHeight(2 * label.fontMetrics().lineSpacing())
            label.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        buttons = QHBoxLayout()
        buttons.addWidget(self.summary_label, 1)
        buttons.addWidget(self.png_button)
        buttons.addWidget(self.csv_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(buttons)
        layout.addWidget(self.key_label)
        layout.addWidget(self.graphics, 1)
        self._stale = False
        self._drawn: tuple | None = None
        #: Why the curves no longer describe the current network, or None.
        self.outdated: str | None = None

    # ----------------------------------------------------------------- data
    @Slot(object)
    def set_history(self, history: TrainingHistory) -> None:
        """Show ``history`` (a new run) and follow the data again."""
        self.history = history
        self.following = True
        self.outdated = None
        self.refresh()

    @Slot(str)
    def mark_outdated(self, note: str) -> None:
        """Say above the plots that they describe weights that are gone (``note``), or no more
        (``""``)."""
        self.outdated = note or None
        self.refresh()

    @Slot()
    def _on_range_changed_manually(self) -> None:
        self.following = False  # the user pans or zooms: leave the ranges alone

    def fit_ranges(self) -> None:
        """While following the data (or once the user asked pyqtgraph to show all of it, with
        the "A" button or the menu), set every plot's range: the whole run along the step axis
        when its length is known (else round steps past the last step), fixed or round ranges
        up the other."""
        if not self.following:
            if not any(any(plot.getViewBox().autoRangeEnabled()) for plot in self.plots.values()):
                return
            self.following = True
        steps = self.history.planned_steps
        for key, plot in self.plots.items():
            items = plot.listDataItems()
            if steps:
                x_range = (0.0, float(steps))
            else:
                last = max((np.nanmax(item.xData) for item in items
                            if item.xData is not None and len(item.xData)), default=0.0)
                # Before any step: 0-100 (ticks 0, 50, 100; 0-1 crowded "0.20.40.60.8").
                x_range = (0.0, _nice_ceiling(last) if last > 0 else 100.0)
            y_range = self._y_ranges[key]
            if y_range is None:
                values = [item.yData for item in items if item.yData is not None]
                y_range = round_range(np.concatenate(values) if values else [], self._log[key])
                y_range = y_range or self._ranges.get(key, (None, (0.0, 1.0)))[1]
            if self._ranges.get(key) != (x_range, y_range) or any(
                    plot.getViewBox().autoRangeEnabled()):
                self._ranges[key] = (x_range, y_range)
                plot.getViewBox().setRange(xRange=x_range, yRange=y_range, padding=0.02)

    def showEvent(self, event) -> None:  # noqa: N802 (Qt override)
        super().showEvent(event)
        if self._stale:
            self.refresh()

    @Slot()
    def refresh(self) -> None:
        """Draw the history now if the plots are in view and it changed since the last time
        (hidden plots catch up when shown)."""
        self._stale = not self.isVisible()
        if self._stale:
            return
        version = (id(self.history), self.data_version(), self.outdated)
        if version != self._drawn:
            self._drawn = version
            self.draw()
            self.fit_ranges()
            if self.outdated:
                self.summary_label.setText(f"{self.outdated} {self.summary_label.text()}")

    def data_version(self) -> tuple:
        """What changes when the plots need redrawing (subclasses)."""
        raise NotImplementedError

    def draw(self) -> None:
        """Put the history into the curves (subclasses)."""
        raise NotImplementedError

    # ----------------------------------------------------------------- export
    def export_png(self, path: str | Path | None = None) -> Path | None:
        """Save the plots as they look to ``path`` (asked for when None); the path, or None."""
        path = path or self._ask_path("Export Plots as PNG", "png", "PNG images (*.png)")
        if not path:
            return None
        if not self.graphics.grab().save(str(path), "PNG"):
            self.failed.emit("Export failed", f"Could not write the picture to {path}.")
            return None
        return Path(path)

    def export_csv(self, path: str | Path | None = None) -> Path | None:
        """Save every step's figures to ``path`` (asked for when None); the path, or None."""
        path = path or self._ask_path("Export Figures as CSV", "csv", "CSV tables (*.csv)")
        if not path:
            return None
        try:
            return self.history.write_csv(path)
        except OSError as exc:
            self.failed.emit("Export failed", f"Could not write {path}: {exc.strerror or exc}")
            return None

    def _ask_path(self, title: str, suffix: str, filters: str) -> str:
        path, _ = QFileDialog.getSaveFileName(self, title, f"training-{self.name}.{suffix}",
                                              filters)
        return path

    # ----------------------------------------------------------------- palette
    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 (Qt override)
        if event.type() == QEvent.Type.PaletteChange:
            self.apply_palette()
        super().changeEvent(event)

    def apply_palette(self) -> None:
        """Take the background, axes and curve colours from the palette."""
        background, foreground = plot_colors(self.palette())
        self.graphics.setBackground(background)
        for plot in self.plots.values():
            for side in ("left", "bottom"):
                axis = plot.getAxis(side)
                axis.setPen(foreground)
                axis.setTextPen(foreground)

    def set_key(self, entries: list[tuple[QColor | str, str]]) -> None:
        """Say which colour is which curve, above the plots: ``(colour, text)`` pairs (a
        legend inside the plots would hide the curves of a small dock)."""
        self.key_label.setText(" &nbsp; ".join(
            f'<span style="color:{QColor(colour).name()}">\u25a0</span>&nbsp;{text}'
            for colour, text in entries))

    def muted(self, weight: float = 0.4) -> QColor:
        """The palette's text colour faded into the background (``weight`` of the text)."""
        background, text = plot_colors(self.palette())
        return QColor.fromRgbF(*(weight * t + (1 - weight) * b for t, b in
                                 zip(text.getRgbF()[:3], background.getRgbF()[:3])))


class TrainingCurves(PlotStack):
    """Loss per step (raw and smoothed) with the validation loss, training and validation
    accuracy, and the learning rate of the current (or last) run."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__([("loss", "loss", True, None),
                          ("accuracy", "accuracy %", False, (0, 100)),
                          ("lr", "learning rate", False, None)], "curves", parent)
        plot = self.plots
        self.loss_curve = plot["loss"].plot()
        self.smoothed_curve = plot["loss"].plot()
        self.val_loss_curve = plot["loss"].plot(symbol="o", symbolSize=7)
        self.accuracy_curve = plot["accuracy"].plot()
        self.val_accuracy_curve = plot["accuracy"].plot(symbol="o", symbolSize=7)
        self.lr_curve = plot["lr"].plot(fillLevel=0)  # unfilled: only makes the range start at 0
        self.apply_palette()
        self.refresh()

    def apply_palette(self) -> None:
        super().apply_palette()
        if not hasattr(self, "lr_curve"):
            return  # the base class's call, before the curves exist
        highlight, text = accent(self.palette()), plot_colors(self.palette())[1]
        validation = QColor(230, 120, 30)
        self.loss_curve.setPen(pg.mkPen(self.muted(), width=1))
        self.smoothed_curve.setPen(pg.mkPen(highlight, width=2))
        for curve in (self.val_loss_curve, self.val_accuracy_curve):
            curve.setPen(pg.mkPen(validation, width=1.5))
            curve.setSymbolBrush(validation)
            curve.setSymbolPen(pg.mkPen(validation))
        self.accuracy_curve.setPen(pg.mkPen(highlight, width=2))
        self.lr_curve.setPen(pg.mkPen(text, width=1.5))
        self.set_key([(self.muted(), "loss of each batch"),
                      (highlight, "smoothed loss; training accuracy (this epoch so far)"),
                      (validation, "validation, after each epoch")])

    def data_version(self) -> tuple:
        return len(self.history), len(self.history.val_steps)

    def draw(self) -> None:
        h = self.history
        steps = h.steps
        self.loss_curve.setData(steps, h.loss, connect="finite")
        self.smoothed_curve.setData(steps, h.smoothed_loss, connect="finite")
        self.val_loss_curve.setData(h.val_steps, h.val_loss)
        self.accuracy_curve.setData(steps, _percent(h.accuracy))
        self.val_accuracy_curve.setData(h.val_steps, _percent(h.val_accuracy))
        self.lr_curve.setData(steps, h.lr)
        self.summary_label.setText(self._summary())

    def _summary(self) -> str:
        h = self.history
        if not len(h):
            return "Start training (Training panel) to see the curves grow."
        parts = [f"step {int(h.steps[-1]):,}", f"loss {h.smoothed_loss[-1]:.4f} (smoothed)",
                 f"training accuracy {h.accuracy[-1]:.1%}"]
        if len(h.val_accuracy):
            parts.append(f"validation accuracy {h.val_accuracy[-1]:.2%}")
        parts.append(f"learning rate {h.lr[-1]:g}")
        return " \u00b7 ".join(parts)
