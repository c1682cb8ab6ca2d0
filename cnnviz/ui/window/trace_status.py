"""The status bar's note that the network is still computing the latest input (big networks,
whose passes run in a worker thread: see :mod:`cnnviz.ui.window.document`): a progress bar over
the layers, shown once a pass has taken :data:`~cnnviz.ui.window.document.PROGRESS_DELAY_MS`,
hidden when its trace is shown."""

from __future__ import annotations

from PySide6.QtCore import Slot
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QWidget

from cnnviz.ui.window.document import Document


class TraceStatus(QWidget):
    """Follows ``document.trace_pending`` and ``document.trace_progress``; hidden while no
    pass is pending."""

    def __init__(self, document: Document, parent: QWidget | None = None):
        super().__init__(parent, objectName="trace_status")
        self.document = document
        self.label = QLabel(objectName="trace_status_label")
        self.progress = QProgressBar(objectName="trace_progress", textVisible=True)
        self.progress.setMaximumWidth(200)
        self.progress.setMinimumWidth(120)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.label)
        layout.addWidget(self.progress)
        self.setToolTip("The network is computing the new input in the background; the views "
                        "show the previous input until it is done (a newer input replaces it)")
        self.hide()
        document.trace_pending.connect(self._on_pending)
        document.trace_progress.connect(self._on_progress)

    @Slot(bool)
    def _on_pending(self, pending: bool) -> None:
        if pending:
            self.label.setText(f"Running {self.document.network.name} on the new input\u2026")
            self.progress.setRange(0, max(1, len(self.document.model.layers)))
            self.progress.setValue(0)
            self.progress.setFormat("layer %v of %m")
        self.setVisible(pending)

    @Slot(int, int)
    def _on_progress(self, done: int, total: int) -> None:
        if total:
            self.progress.setRange(0, total)
        self.progress.setValue(done)
