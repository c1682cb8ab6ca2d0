"""The main window's "Watch it learn" part: the Training, Training Curves and Network Health docks,
and what closing the window does to a run in progress.

A mixin of :class:`~cnnviz.ui.window.main_window.MainWindow` (which provides ``document``,
``docks``, ``add_dock``, ``show_error`` and ``save_network``); where the panels go is
:mod:`.layout`'s business:

- Training: data, network, hyperparameters, Start/Pause/Stop;
- Training Curves and Network Health: loss, accuracy, learning rate; dead ReLUs, weight and
  gradient norms;
- on closing, a run in progress is stopped and its thread joined, after asking whether to keep
  the weights it reached (:meth:`TrainingDocks.ask_keep_training`, which tests replace).
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import QMessageBox

from cnnviz.ui.shared.panel_scroll_area import PanelScrollArea
from cnnviz.ui.train.network_health import NetworkHealthView
from cnnviz.ui.train.training_curves import TrainingCurves
from cnnviz.ui.train.training_panel import TrainingPanel


class TrainingDocks:
    """Training, Training Curves and Network Health docks."""

    def create_training_panels(self) -> None:
        """Create the three panels in docks (call from ``create_panels`` once the Layers,
        Analysis and Activation Maximisation docks exist)."""
        self.training_panel = TrainingPanel(self.document)
        self.training_curves = TrainingCurves()
        self.network_health = NetworkHealthView()
        left = Qt.DockWidgetArea.LeftDockWidgetArea
        self.add_dock("training", "Training", PanelScrollArea(self.training_panel), left,
                      "train the network and watch it learn")
        # In scroll areas: on a small screen the curves scroll, never the Training panel.
        self.add_dock("training_curves", "Training Curves", PanelScrollArea(self.training_curves),
                      left, "loss, accuracy and learning rate of the training run")
        self.add_dock("network_health", "Network Health", PanelScrollArea(self.network_health),
                      left,
                      "dead ReLUs, weight and gradient norms of every layer while training")
        panel = self.training_panel
        for view in (self.training_curves, self.network_health):
            panel.history_changed.connect(view.set_history)
            panel.history_outdated.connect(view.mark_outdated)
            view.failed.connect(self._on_training_error)
        panel.history_updated.connect(self._on_history_updated)
        panel.error.connect(self._on_training_error)
        panel.run_started.connect(self._on_training_started)
        panel.save_requested.connect(self.save_network)

    def close_training(self) -> bool:
        """Before the window closes: stop a run in progress, keeping its weights or not as the
        user answers, and join every training thread. False: the user chose to go on training."""
        panel = self.training_panel
        if panel.run is not None:
            answer = self.ask_keep_training()
            if answer == QMessageBox.StandardButton.Cancel:
                return False
            panel.close_run(keep=answer == QMessageBox.StandardButton.Yes)
        else:
            panel.close_run(keep=True)
        return True

    def ask_keep_training(self) -> QMessageBox.StandardButton:
        """Ask whether to keep the weights of the run in progress: Yes, No or Cancel (tests
        replace this method)."""
        return QMessageBox.question(
            self, "Training in progress",
            "The network is still training. Stop and keep the weights it has reached?\n\n"
            "Yes keeps them, No brings back the weights from before the run, Cancel goes on "
            "training.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No
            | QMessageBox.StandardButton.Cancel, QMessageBox.StandardButton.Yes)

    # Signals reach the window through @Slot methods only: in PySide6 6.11, connecting one to
    # a plain method adds a dynamic slot that leaves sender() None in the window's other slots.
    @Slot(str, str)
    def _on_training_error(self, title: str, message: str) -> None:
        self.show_error(title, message)

    @Slot()
    def _on_history_updated(self) -> None:
        """Redraw the curves, then the health plots, each in a turn of its own."""
        self.training_panel.stages.run_next(self.training_curves.refresh,
                                            self.network_health.refresh)

    @Slot()
    def _on_training_started(self) -> None:
        """Show the curves and the health figures (in the Train workspace they already are),
        unless either is in view already: a run started from a Training panel moved into another
        workspace."""
        curves, health = self.docks["training_curves"], self.docks["network_health"]
        if not curves.isVisible() and not health.isVisible():
            curves.show()
            health.show()
