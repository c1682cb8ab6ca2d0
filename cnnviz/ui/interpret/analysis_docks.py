"""The main window's "Reading the network" part: its three panels, the Analysis menu, shutdown.

A mixin of :class:`~cnnviz.ui.window.main_window.MainWindow` (which provides ``document``,
``docks``, ``add_dock``, ``show_workspace`` and ``_on_cursor_info``); where the panels go is
:mod:`.layout`'s business:

- Analysis: heat maps of the parts of the input the current prediction depends on;
- Activation Maximisation: what each filter looks for;
- Evaluation: an example clicked there becomes the input, and every panel showing the input, the
  prediction or the maps shows what the network made of it.

Each panel runs its long computations in a worker thread of its own;
:meth:`AnalysisDocks.shutdown_analysis` stops and joins them when the window closes.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Slot
from PySide6.QtGui import QAction

from cnnviz.ui.interpret.activation_gallery import ActivationGallery
from cnnviz.ui.interpret.analysis_panel import AnalysisPanel
from cnnviz.ui.interpret.evaluation_view import EvaluationView
from cnnviz.ui.shared.panel_scroll_area import PanelScrollArea


class AnalysisDocks:
    """Analysis, Activation Maximisation and Evaluation docks and their menu."""

    def create_analysis_panels(self) -> None:
        """Create the three panels in docks (call from ``create_panels``, after the Canvas,
        Layers docks exist)."""
        self.analysis_panel = AnalysisPanel(self.document)
        self.activation_gallery = ActivationGallery(self.document)
        self.evaluation_view = EvaluationView(self.document)
        left = right = Qt.DockWidgetArea.LeftDockWidgetArea
        self.add_dock("analysis", "Analysis", PanelScrollArea(self.analysis_panel), right,
                      "heat maps of the parts of the input the prediction depends on")
        self.add_dock("activation_gallery", "Activation Maximisation",
                      PanelScrollArea(self.activation_gallery), right,
                      "the input each filter of a layer responds to most")
        self.add_dock("evaluation", "Evaluation", PanelScrollArea(self.evaluation_view), left,
                      "accuracy, confusion matrix and mistakes on a test set")
        for panel in (self.analysis_panel, self.evaluation_view):
            panel.cursor_info.connect(self._on_cursor_info)

    def create_analysis_menu(self) -> None:
        """Create the Analysis menu (call from ``create_menus``, where it should appear)."""
        self.explain_action = QAction(
            "&Explain the Prediction", self, objectName="explain_action",
            toolTip="Show the Analysis panel",
            statusTip="Show which parts of the input the prediction depends on (saliency, "
                      "occlusion, Grad-CAM)", triggered=self.show_analysis)
        self.activation_max_action = QAction(
            "What Each &Filter Looks For", self, objectName="activation_max_action",
            toolTip="Show the Activation Maximisation panel",
            statusTip="Show, for each filter of a layer, the input it responds to most",
            triggered=self.show_activation_gallery)
        self.evaluate_action = QAction(
            "Evaluate on the &Test Set", self, objectName="evaluate_action",
            toolTip="Evaluate the network on the test set",
            statusTip="Run the network on every test image: accuracy, confusion matrix, "
                      "mistakes", triggered=self.evaluate_on_test_set)
        self.analysis_menu = self.menuBar().addMenu("&Analysis")
        self.analysis_menu.addActions([self.explain_action, self.activation_max_action,
                                       self.evaluate_action])

    def shutdown_analysis(self) -> None:
        """Stop the panels' computations and join their threads (the window is closing): all
        are told to stop first, so that they wind down together."""
        panels = (self.analysis_panel, self.activation_gallery, self.evaluation_view)
        for panel in panels:
            panel.runner.cancel()
        for panel in panels:
            panel.shutdown()

    @Slot()
    def show_analysis(self) -> None:
        self._show_dock("analysis")

    @Slot()
    def show_activation_gallery(self) -> None:
        self._show_dock("activation_gallery")

    @Slot()
    def evaluate_on_test_set(self) -> None:
        """Show the Evaluation panel and evaluate the network on its chosen test set."""
        self._show_dock("evaluation")
        dock = self.docks["evaluation"]
        if dock.width() < self.width() * 2 // 5:  # room for the matrix and the mistakes
            self.resizeDocks([dock], [self.width() * 2 // 5], Qt.Orientation.Horizontal)
        self.evaluation_view.evaluate()

    def _show_dock(self, name: str) -> None:
        """Show and raise a dock in the Interpret workspace, made large enough for its panel's
        controls if it is not."""
        self.show_workspace("interpret")
        self.show_dock(name)
