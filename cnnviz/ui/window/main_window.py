"""The main window: assembles the panels as docks around the document, with menus and settings.

Built like Qt for Python's dockwidgets example: ``create_panels``, ``create_actions``,
``create_menus``, ``create_tool_bars`` and ``create_status_bar`` run in that order, then
``read_settings`` restores what ``write_settings`` saved when the window closed. Opening and saving
files lives in :class:`~cnnviz.ui.window.file_actions.FileActions`; the Explore, Train and
Interpret workspaces (one arrangement of the docks per task) in
:class:`~cnnviz.ui.window.workspaces.WorkspaceSwitcher`, each workspace's arrangement in its
package's ``layout`` module.
"""

from __future__ import annotations

from functools import partial

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QAction, QActionGroup, QCloseEvent, QIcon, QKeySequence
from PySide6.QtWidgets import QDockWidget, QLabel, QMainWindow, QMessageBox, QUndoView, QWidget

from cnnviz.resources import resource_path
from cnnviz.example_networks import shipped_network
from cnnviz.session import Session
from cnnviz.ui.explore.canvas_panel import CanvasPanel
from cnnviz.ui.explore.filter_editor import add_filter_editor_dock
from cnnviz.ui.explore.input_view import InputView
from cnnviz.ui.explore.layout import WORKSPACE as EXPLORE
from cnnviz.ui.explore.my_drawings import add_my_drawings, label_menu
from cnnviz.ui.explore.network_docks import NetworkDocks
from cnnviz.ui.interpret.analysis_docks import AnalysisDocks
from cnnviz.ui.interpret.layout import WORKSPACE as INTERPRET
from cnnviz.ui.shared.panel_scroll_area import PanelScrollArea
from cnnviz.ui.shared.prediction_panel import PredictionPanel
from cnnviz.ui.shared.wheel_guard import guard_wheel
from cnnviz.ui.shared.theme import SCHEMES, apply_scheme
from cnnviz.ui.train.layout import WORKSPACE as TRAIN
from cnnviz.ui.train.training_docks import TrainingDocks
from cnnviz.ui.window import errors, settings
from cnnviz.ui.window.contract_dialog import add_contract_action, apply_contract_changes
from cnnviz.ui.window.dialogs import ShortcutsDialog, error_box, show_about
from cnnviz.ui.window.document import Document
from cnnviz.ui.window.file_actions import FileActions
from cnnviz.ui.window.trace_status import TraceStatus
from cnnviz.ui.window.training_status import TrainingStatus
from cnnviz.ui.window.workspaces import WorkspaceSwitcher

# Kept importable from here for older callers and tests.
app_settings = settings.app_settings
GEOMETRY_KEY = settings.GEOMETRY_KEY
STATE_KEY = settings.STATE_KEY
STATE_VERSION = settings.STATE_VERSION

SCHEME_LABELS = {"system": "Follow &System", "light": "&Light", "dark": "&Dark"}


class MainWindow(NetworkDocks, AnalysisDocks, TrainingDocks, FileActions, WorkspaceSwitcher,
                 QMainWindow):
    """The cnnviz main window.

    Parameters
    ----------
    model : str, optional
        Network file to open instead of the example network used last (at first the shipped
        lenet5).
    image : str, optional
        Image file to open as the first input (else the canvas starts empty).
    document : Document, optional
        The document to show (tests); built from ``model`` or the shipped network otherwise.
    parent : QWidget, optional
    contract_changes : dict, optional
        Changes to ``model``'s input contract (``cnnviz gui --model M --classes ...``): the
        network opens changed (and modified), or the error is shown.

    Attributes
    ----------
    document : Document
    canvas_panel, input_view, prediction_panel : QWidget
        The panels, each inside a dock (``docks[name]``, objectName ``<name>_dock``).

    Signals
    -------
    workspace_changed(str)
        Another workspace is shown (its name).
    """

    workspace_changed = Signal(str)

    def __init__(self, model: str | None = None, image: str | None = None,
                 document: Document | None = None, parent: QWidget | None = None,
                 contract_changes: dict | None = None):
        super().__init__(parent)
        self.model_path = model
        self.image_path = image
        self.setObjectName("main_window")
        self.setWindowIcon(QIcon(str(resource_path("icons", "cnnviz.svg"))))
        self.setAcceptDrops(True)
        self.setDockNestingEnabled(True)
        self._startup_errors: list[tuple[str, str, str | None]] | None = []  # None once shown
        self._default_layout_pending = True  # unless a saved layout is restored
        self.document = document or self._create_document()
        self.document.setParent(self)
        self.create_panels()
        self.create_workspaces([EXPLORE, TRAIN, INTERPRET])
        self.create_actions()
        self.create_menus()
        self.create_tool_bars()
        self.create_status_bar()
        guard_wheel(self)  # (the layer editor guards the settings it makes later itself)
        self.read_settings()
        self.document.network_file_changed.connect(self._on_network_file_changed)
        self.document.modified_changed.connect(self.setWindowModified)
        self._on_network_file_changed(self.document.network)
        self.setWindowModified(self.document.modified)
        if model is not None and document is None:
            if self.open_network(model, ask=False) and contract_changes:
                apply_contract_changes(self, contract_changes)
        if image is not None:
            self.open_image(image)
        self.document.undo_stack.clear()

    def _create_document(self) -> Document:
        network, message = shipped_network(settings.read_str(settings.EXAMPLE_NETWORK_KEY))
        if message:
            self._startup_errors.append(("cnnviz", message, None))
        return Document(Session(network))

    # ----------------------------------------------------------------- building
    def create_panels(self) -> None:
        """Create each panel in a dock (the workspaces arrange them)."""
        self.canvas_panel = CanvasPanel(self.document)
        self.input_view = InputView(self.document)
        self.prediction_panel = PredictionPanel(self.document)
        self.history_view = QUndoView(self.document.undo_stack, objectName="history_view")
        self.history_view.setEmptyLabel("Start")
        self.docks: dict[str, QDockWidget] = {}
        self.add_dock("canvas", "Canvas", self.canvas_panel, Qt.DockWidgetArea.LeftDockWidgetArea,
                      "the drawing canvas, or the opened image")
        self.add_dock("input", "Network Input", self.input_view,
                      Qt.DockWidgetArea.LeftDockWidgetArea,
                      "what the network sees: the input after centring and scaling")
        self.add_dock("prediction", "Prediction", PanelScrollArea(self.prediction_panel),
                      Qt.DockWidgetArea.LeftDockWidgetArea, "the class probabilities")
        self.add_dock("history", "History", self.history_view,
                      Qt.DockWidgetArea.LeftDockWidgetArea, "the undo history")
        self.create_network_panels()
        self.create_analysis_panels()
        self.create_training_panels()
        self.filter_editor = add_filter_editor_dock(self)
        add_my_drawings(self)
        for panel in (self.canvas_panel.canvas, self.input_view, self.prediction_panel):
            panel.cursor_info.connect(self._on_cursor_info)

    def add_dock(self, name: str, title: str, widget: QWidget, area: Qt.DockWidgetArea,
                 what: str) -> QDockWidget:
        """Put ``widget`` in a dock named ``<name>_dock``; its toggle goes to View > Panels."""
        dock = QDockWidget(title, self, objectName=f"{name}_dock")
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        toggle = dock.toggleViewAction()
        toggle.setToolTip(f"Show or hide the {title} panel")
        toggle.setStatusTip(f"Show or hide {what}")
        self.docks[name] = dock
        return dock

    def create_actions(self) -> None:
        """Create the window's actions (each with a tool tip and a status tip)."""
        self.create_file_actions()
        stack = self.document.undo_stack
        self.undo_action = QAction(
            QIcon.fromTheme(QIcon.ThemeIcon.EditUndo), "&Undo", self, objectName="undo_action",
            shortcut=QKeySequence.StandardKey.Undo, enabled=False, toolTip="Undo",
            statusTip="Undo the last change: a stroke, a cleared canvas, an opened image or "
                      "network", triggered=self.document.undo)
        self.redo_action = QAction(
            QIcon.fromTheme(QIcon.ThemeIcon.EditRedo), "&Redo", self, objectName="redo_action",
            shortcut=QKeySequence.StandardKey.Redo, enabled=False, toolTip="Redo",
            statusTip="Redo the change just undone", triggered=self.document.redo)
        stack.canUndoChanged.connect(self.undo_action.setEnabled)
        stack.canRedoChanged.connect(self.redo_action.setEnabled)
        stack.undoTextChanged.connect(self._on_undo_text_changed)
        stack.redoTextChanged.connect(self._on_redo_text_changed)
        self.canvas_actions = self.canvas_panel.actions
        self.reset_weights_action = QAction(
            "Reset &Weights", self, objectName="reset_weights_action",
            toolTip="Bring back the weights as the network was opened",
            statusTip="Undo every change to the network's weights at once (undoable)",
            triggered=self.document.reset_weights)
        self.scheme_actions = QActionGroup(self)
        for scheme in SCHEMES:
            action = QAction(SCHEME_LABELS[scheme], self.scheme_actions, checkable=True,
                             objectName=f"scheme_{scheme}_action", data=scheme,
                             toolTip=f"Colours: {scheme}",
                             statusTip=f"Use {'the system' if scheme == 'system' else 'a ' + scheme}"
                                       " colour scheme")
            action.triggered.connect(partial(self.set_color_scheme, scheme))
        self.shortcuts_action = QAction(
            "&Keyboard Shortcuts", self, objectName="shortcuts_action",
            shortcut=QKeySequence.StandardKey.HelpContents, toolTip="Keyboard shortcuts",
            statusTip="List every keyboard shortcut", triggered=self.show_shortcuts)
        self.about_action = QAction(
            "&About cnnviz", self, objectName="about_action",
            menuRole=QAction.MenuRole.AboutRole, toolTip="About cnnviz",
            statusTip="Show what cnnviz is and which versions it runs on", triggered=self.about)
        self.about_qt_action = QAction(
            "About &Qt", self, objectName="about_qt_action",
            menuRole=QAction.MenuRole.AboutQtRole, toolTip="About Qt",
            statusTip="Show the Qt library's About box", triggered=self.about_qt)

    def create_menus(self) -> None:
        """Create the File, Edit, View and Help menus."""
        self.create_file_menu()
        self.edit_menu = self.menuBar().addMenu("&Edit")
        self.edit_menu.addActions([self.undo_action, self.redo_action])
        self.edit_menu.addSeparator()
        actions = self.canvas_actions
        self.edit_menu.addActions([actions["clear"], actions["eraser"],
                                   actions["larger_brush"], actions["smaller_brush"]])
        self.edit_menu.addSeparator()
        label_menu(self, self.edit_menu)
        self.edit_menu.addSeparator()
        self.edit_menu.addAction(self.reset_weights_action)
        add_contract_action(self, self.edit_menu)

        self.view_menu = self.menuBar().addMenu("&View")
        self.panels_menu = self.view_menu.addMenu("&Panels")
        for dock in self.docks.values():
            self.panels_menu.addAction(dock.toggleViewAction())
        self.create_workspace_menu()
        self.view_menu.addSeparator()
        self.appearance_menu = self.view_menu.addMenu("&Appearance")
        self.appearance_menu.addActions(self.scheme_actions.actions())
        self.create_analysis_menu()

        self.menuBar().addSeparator()
        self.help_menu = self.menuBar().addMenu("&Help")
        self.help_menu.addActions([self.shortcuts_action, self.about_action,
                                   self.about_qt_action])

    def create_tool_bars(self) -> None:
        """Create the main tool bar and its show/hide action in the View menu."""
        self.main_tool_bar = self.addToolBar("Tool Bar")
        self.main_tool_bar.setObjectName("main_tool_bar")
        self.main_tool_bar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.main_tool_bar.addActions([self.open_image_action, self.open_network_action,
                                       self.save_action])
        self.main_tool_bar.addSeparator()
        self.main_tool_bar.addActions([self.undo_action, self.redo_action])
        toggle = self.main_tool_bar.toggleViewAction()
        toggle.setToolTip("Show or hide the tool bar")
        toggle.setStatusTip("Show or hide the tool bar")
        self.view_menu.insertAction(self.appearance_menu.menuAction(), toggle)
        self.view_menu.insertSeparator(self.appearance_menu.menuAction())

    def create_status_bar(self) -> None:
        """The status bar: what is under the cursor on the left; a training run's progress with
        Pause and Stop (in every workspace, while one runs) and the network on the right."""
        self.cursor_label = QLabel(objectName="cursor_label")
        self.network_label = QLabel(objectName="network_label")
        self.training_status = TrainingStatus(self.training_panel)
        self.training_status.show_requested.connect(self._show_training)
        self.statusBar().addWidget(self.cursor_label, 1)
        self.trace_status = TraceStatus(self.document)
        self.document.trace_failed.connect(self._on_trace_failed)
        self.statusBar().addPermanentWidget(self.trace_status)
        self.statusBar().addPermanentWidget(self.training_status)
        self.statusBar().addPermanentWidget(self.network_label)

    @Slot(str)
    def _on_trace_failed(self, message: str) -> None:
        self.report_error("Cannot run the network", f"Running the network on the new input: "
                                                    f"{message}")

    # ----------------------------------------------------------------- settings
    def read_settings(self) -> None:
        """Restore the geometry, dock layout, brush size and colour scheme of the last run."""
        geometry = settings.read_bytes(settings.GEOMETRY_KEY)
        if not self.restoreGeometry(geometry):
            available = self.screen().availableGeometry()
            self.resize(min(1280, available.width() * 9 // 10),
                        min(800, available.height() * 9 // 10))
            self.move(available.center().x() - self.width() // 2,
                      available.center().y() - self.height() // 2)
        if self.read_workspace_settings():
            # Again, now that the restored docks (not every default one) set the minimum size.
            self.layout().activate()
            self.restoreGeometry(geometry)
            self._default_layout_pending = False
        self.canvas_panel.canvas.set_brush_size(
            settings.read_int(settings.BRUSH_SIZE_KEY, self.canvas_panel.canvas.brush_size))
        scheme = settings.read_str(settings.SCHEME_KEY, "system")
        scheme = scheme if scheme in SCHEMES else "system"
        for action in self.scheme_actions.actions():
            action.setChecked(action.data() == scheme)
        if scheme != "system":
            apply_scheme(scheme)
        self.update_recent_files_menu()

    def apply_default_layout(self) -> None:
        """Share the window among the current workspace's docks as on a first start."""
        self.workspace.share(self)

    def write_settings(self) -> None:
        """Save the geometry, dock layout and brush size for the next start."""
        settings.write(settings.GEOMETRY_KEY, self.saveGeometry())
        self.write_workspace_settings()
        settings.write(settings.BRUSH_SIZE_KEY, self.canvas_panel.canvas.brush_size)

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 (Qt override)
        """Stop a training run (asking whether to keep its weights), ask about unsaved changes,
        save the settings, then close."""
        if not self.close_training() or not self.maybe_save():
            event.ignore()
            return
        self.write_settings()
        self.shutdown_file_worker()
        self.shutdown_analysis()
        self.my_drawings.runner.shutdown()
        self.document.trace_runner.shutdown()
        self.receptive_field.heat_runner.shutdown()
        event.accept()

    def showEvent(self, event) -> None:  # noqa: N802 (Qt override)
        """Show the window, then what went wrong while it was being built (if anything)."""
        super().showEvent(event)
        if self._default_layout_pending:
            self._default_layout_pending = False
            self.apply_default_layout()
        if self._startup_errors is not None:
            pending, self._startup_errors = self._startup_errors, None
            for title, message, details in pending:
                self.show_error(title, message, details)

    # ----------------------------------------------------------------- handlers
    @Slot(int, int)
    def show_filter_editor(self, _layer: int = 0, _unit: int = 0) -> None:
        """A weight was clicked: the Filter Editor in view, with room for its controls."""
        self.show_dock("filter_editor")

    @Slot()
    def _show_training(self) -> None:
        """The status bar's training progress was clicked: show the Train workspace."""
        self.show_workspace("train")
        self.docks["training"].show()
        self.docks["training"].raise_()

    @Slot(object)
    def _on_network_file_changed(self, network) -> None:
        self.setWindowTitle(f"{network.name}[*] \u2014 cnnviz")
        model = network.model
        shape = "\u00d7".join(map(str, model.input_shape))
        self.network_label.setText(f"{model.name}: {len(model.layers)} layers, "
                                   f"{model.param_count():,} weights, input {shape}")

    @Slot(str)
    def _on_cursor_info(self, text: str) -> None:
        if text and self.statusBar().currentMessage():
            self.statusBar().clearMessage()  # the pointer's position matters more now
        self.cursor_label.setText(text)

    @Slot(str)
    def _on_undo_text_changed(self, text: str) -> None:
        self.undo_action.setText(f"&Undo {text}".strip())
        self.undo_action.setToolTip(f"Undo {text}".strip())

    @Slot(str)
    def _on_redo_text_changed(self, text: str) -> None:
        self.redo_action.setText(f"&Redo {text}".strip())
        self.redo_action.setToolTip(f"Redo {text}".strip())

    def set_color_scheme(self, scheme: str, _checked: bool = False) -> None:
        """Use the ``"system"``, ``"light"`` or ``"dark"`` colours, now and at the next start."""
        apply_scheme(scheme)
        settings.write(settings.SCHEME_KEY, scheme)

    # ----------------------------------------------------------------- dialogs
    def report_error(self, title: str, message: str, details: str | None = None) -> None:
        """Show an error now, or once the window is shown when it is still being built."""
        if self._startup_errors is not None:
            self._startup_errors.append((title, message, details))
        else:
            self.show_error(title, message, details)

    def show_error(self, title: str, message: str, details: str | None = None) -> None:
        """Tell the user that something failed, with ``details`` (a traceback) behind "Show
        Details…" (tests replace this method)."""
        error_box(self, title, message, details).exec()

    def report_exception(self, title: str, what: str, exc: BaseException) -> None:
        """Show an unexpected exception: ``what`` failed, "Type: message", where the log is; the
        traceback in the details and in the log file."""
        path = errors.write_log(what, exc)
        self.report_error(title, f"{what}: {errors.summary(exc)}\n\n{errors.log_note(path)}",
                          errors.details(exc))

    def ask_save_changes(self) -> QMessageBox.StandardButton:
        """Ask whether to save the network's changes: Save, Discard or Cancel (tests replace it)."""
        return QMessageBox.question(
            self, "Unsaved changes",
            f"The network {self.document.network.name} has changed. Save the changes?",
            QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard
            | QMessageBox.StandardButton.Cancel, QMessageBox.StandardButton.Save)

    @Slot()
    def show_shortcuts(self) -> None:
        dialog = ShortcutsDialog(self.findChildren(QAction), self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.show()
        self.shortcuts_dialog = dialog

    @Slot()
    def about(self) -> None:
        show_about(self)

    @Slot()
    def about_qt(self) -> None:
        QMessageBox.aboutQt(self, "About Qt")
