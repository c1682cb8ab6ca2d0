"""A training run's progress in the status bar, with Pause and Stop: in view in every workspace
while a run loads its data or trains, so that switching workspaces never hides it."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import QHBoxLayout, QProgressBar, QToolButton, QWidget


class _ClickableProgress(QProgressBar):
    clicked = Signal()

    def mousePressEvent(self, event) -> None:  # noqa: N802 (Qt override)
        if event.button() == Qt.MouseButton.LeftButton:
            self.clicked.emit()
        super().mousePressEvent(event)


class TrainingStatus(QWidget):
    """Mirrors a :class:`~cnnviz.ui.train.training_panel.TrainingPanel`: its progress (click it to
    see the Train workspace), Pause/Resume and Stop; hidden while nothing runs.

    Signals
    -------
    show_requested()
        The progress bar was clicked: show the training panel.
    """

    show_requested = Signal()

    def __init__(self, panel, parent: QWidget | None = None):
        super().__init__(parent, objectName="training_status")
        self.panel = panel
        self.progress = _ClickableProgress(objectName="status_training_progress", maximum=100,
                                           textVisible=True)
        self.progress.setMaximumWidth(260)
        self.progress.setMinimumWidth(160)
        self.progress.setToolTip("Training in progress: click to see the Train workspace")
        self.progress.setCursor(Qt.CursorShape.PointingHandCursor)
        self.progress.clicked.connect(self.show_requested)
        self.pause_button = QToolButton(objectName="status_pause_button", text="Pause",
                                        toolTip="Hold the run after the current step",
                                        clicked=panel.pause_button.click)
        self.stop_button = QToolButton(objectName="status_stop_button", text="Stop",
                                       toolTip="Stop the run after the current step",
                                       clicked=panel.stop_button.click)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.progress)
        layout.addWidget(self.pause_button)
        layout.addWidget(self.stop_button)
        panel.controls_changed.connect(self.refresh)
        panel.progress_bar.valueChanged.connect(self.refresh)
        self.refresh()

    @Slot()
    def refresh(self) -> None:
        """Follow the panel: shown while a run loads or trains, its buttons as the panel's."""
        panel = self.panel
        self.setVisible(panel.running)
        if not panel.running:
            return
        if panel.run is None:  # loading the data
            self.progress.setRange(0, 0)
            self.progress.setFormat("loading data")
        else:
            self.progress.setRange(0, 100)
            self.progress.setValue(panel.progress_bar.value())
            self.progress.setFormat(panel.progress_bar.format() or "starting")
        self.pause_button.setEnabled(panel.pause_button.isEnabled())
        self.pause_button.setText(panel.pause_button.text())
        self.pause_button.setToolTip("Go on training" if panel.pause_button.text() == "Resume"
                                     else "Hold the run after the current step")
        self.stop_button.setEnabled(panel.stop_button.isEnabled())
