"""Workspaces: one arrangement of the panels per task (Explore, Train, Interpret), switched by a
tab bar at the top of the window or Ctrl+1, Ctrl+2, Ctrl+3.

Every panel lives in one dock of the one main window, whatever the workspace: a workspace is an
arrangement of those docks (which are shown, where, how large), as in Krita or Qt Creator. So a
panel shown in two workspaces (Prediction, Feature Maps, Filters) is one widget with one state,
and a training run, an analysis or an edit goes on while you switch.

- Each workspace package (``cnnviz.ui.explore``, ``.train``, ``.interpret``) describes the layout
  it ships with in its ``layout`` module: a :class:`Workspace` with an ``arrange`` function that
  places its docks and a ``share`` function that sizes them once the window has its size.
- Switching saves the current arrangement (``QMainWindow.saveState``) and restores the other's, or
  arranges the shipped one the first time; View ▸ Reset Layout arranges the shipped one again.
- The arrangements and the current workspace are saved between runs (see
  :meth:`WorkspaceSwitcher.write_workspace_settings`).

A mixin of :class:`~cnnviz.ui.window.main_window.MainWindow` (which provides ``docks``,
``view_menu`` and ``layout``).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Callable

from PySide6.QtCore import QByteArray, Qt, Slot
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import QMainWindow, QScrollArea, QTabBar, QToolBar

from cnnviz.ui.window import settings

LEFT = Qt.DockWidgetArea.LeftDockWidgetArea
RIGHT = Qt.DockWidgetArea.RightDockWidgetArea
BOTTOM = Qt.DockWidgetArea.BottomDockWidgetArea
ACROSS = Qt.Orientation.Horizontal
DOWN = Qt.Orientation.Vertical


@dataclass(frozen=True)
class Workspace:
    """One task's arrangement of the docks.

    Attributes
    ----------
    name : str
        Key in the settings ("explore").
    title : str
        Text of its tab ("Explore").
    what : str
        Its tab's tool tip: what the workspace is for.
    arrange : callable
        ``arrange(window)``: place this workspace's docks (every dock has just been hidden and put
        back in the left area) and show them; other docks stay hidden.
    share : callable
        ``share(window)``: share the window's size among the shown docks (called once the window
        has its size, and again at View ▸ Reset Layout).
    """

    name: str
    title: str
    what: str
    arrange: Callable[[QMainWindow], None]
    share: Callable[[QMainWindow], None]


def place(window: QMainWindow, columns: list[list[str]], area=LEFT) -> None:
    """Show docks ``columns`` (lists of dock names, top to bottom) as columns side by side in
    ``area``, in order from left to right."""
    docks = window.docks
    first = docks[columns[0][0]]
    window.addDockWidget(area, first)
    previous = first
    for column in columns[1:]:
        window.splitDockWidget(previous, docks[column[0]], ACROSS)
        previous = docks[column[0]]
    for column in columns:
        for above, below in zip(column, column[1:]):
            window.splitDockWidget(docks[above], docks[below], DOWN)
    for column in columns:
        for name in column:
            docks[name].show()


def resize_columns(window: QMainWindow, columns: list[list[str]], widths: list[int],
                   heights: list[list[int]]) -> None:
    """Give the columns ``widths`` (percent of the window's width) and the docks of each column
    ``heights`` (percent of its height)."""
    window.layout().activate()
    docks = window.docks
    width, height = window.width(), window.height()
    window.resizeDocks([docks[column[0]] for column in columns],
                       [width * share // 100 for share in widths], ACROSS)
    for column, shares in zip(columns, heights):
        if len(column) > 1:
            window.resizeDocks([docks[name] for name in column],
                               [height * share // 100 for share in shares], DOWN)


class WorkspaceBar(QTabBar):
    """The workspace tabs: never elided, the keyboard shortcut in each tool tip."""

    def __init__(self, workspaces: list[Workspace]):
        super().__init__(objectName="workspace_bar", expanding=False, drawBase=False,
                         documentMode=True, elideMode=Qt.TextElideMode.ElideNone,
                         usesScrollButtons=False)
        for number, workspace in enumerate(workspaces, 1):
            index = self.addTab(workspace.title)
            shortcut = QKeySequence(f"Ctrl+{number}").toString(QKeySequence.NativeText)
            self.setTabToolTip(index, f"{workspace.what} ({shortcut})")
        self.setFocusPolicy(Qt.FocusPolicy.TabFocus)


class WorkspaceSwitcher:
    """The workspace tabs, View ▸ Workspaces, Reset Layout, and the saved arrangements."""

    def create_workspaces(self, workspaces: list[Workspace]) -> None:
        """Create the tab bar (its own tool bar at the top, which cannot be closed), the
        Ctrl+1… actions and Reset Layout. Call after every dock exists, before
        ``create_menus``."""
        self.workspaces = list(workspaces)
        self.workspace_index = 0
        self._layouts: dict[str, QByteArray] = {}
        self.workspace_bar = WorkspaceBar(self.workspaces)
        self.workspace_tool_bar = QToolBar("Workspaces", self, objectName="workspace_tool_bar",
                                           movable=False, floatable=False)
        self.workspace_tool_bar.toggleViewAction().setVisible(False)
        self.workspace_tool_bar.setContextMenuPolicy(Qt.ContextMenuPolicy.PreventContextMenu)
        self.workspace_tool_bar.addWidget(self.workspace_bar)
        self.addToolBar(Qt.ToolBarArea.TopToolBarArea, self.workspace_tool_bar)
        self.workspace_actions = QActionGroup(self)
        for number, workspace in enumerate(self.workspaces, 1):
            action = QAction(f"&{number} {workspace.title}", self.workspace_actions,
                             checkable=True, objectName=f"{workspace.name}_workspace_action",
                             shortcut=QKeySequence(f"Ctrl+{number}"),
                             toolTip=f"{workspace.title} workspace",
                             statusTip=workspace.what)
            action.triggered.connect(partial(self.show_workspace, workspace.name))
        self.workspace_actions.actions()[0].setChecked(True)
        self.workspace_bar.currentChanged.connect(self._on_tab_changed)
        self.reset_layout_action = QAction(
            "&Reset Layout", self, objectName="reset_layout_action",
            toolTip="Arrange this workspace's panels as cnnviz ships them",
            statusTip="Bring back the panels of this workspace in their first arrangement",
            triggered=self.reset_layout)

    def create_workspace_menu(self) -> None:
        """View ▸ Workspaces and Reset Layout (call from ``create_menus``)."""
        self.workspaces_menu = self.view_menu.addMenu("&Workspaces")
        self.workspaces_menu.addActions(self.workspace_actions.actions())
        self.view_menu.addAction(self.reset_layout_action)

    @property
    def workspace(self) -> Workspace:
        return self.workspaces[self.workspace_index]

    def workspace_named(self, name: str) -> int:
        for index, workspace in enumerate(self.workspaces):
            if workspace.name == name:
                return index
        raise KeyError(name)

    def show_workspace(self, name: str, _checked: bool = False) -> None:
        """Switch to workspace ``name``: its own arrangement of the panels comes back."""
        self.workspace_bar.setCurrentIndex(self.workspace_named(name))

    @Slot(int)
    def _on_tab_changed(self, index: int) -> None:
        if index < 0 or index == self.workspace_index:
            return
        self._layouts[self.workspace.name] = self.saveState(settings.STATE_VERSION)
        self.workspace_index = index
        self.workspace_actions.actions()[index].setChecked(True)
        self._restore_workspace()
        self.workspace_changed.emit(self.workspace.name)

    def _restore_workspace(self) -> None:
        """Bring back the current workspace's saved arrangement, or arrange the shipped one."""
        state = self._layouts.get(self.workspace.name)
        size = self.size()
        if state is None or state.isEmpty() or not self.restoreState(state,
                                                                      settings.STATE_VERSION):
            self.arrange_workspace()
        self._keep_size(size)

    def arrange_workspace(self, share: bool = True) -> None:
        """Arrange the current workspace as it ships: every dock hidden and put back in the left
        area, then the workspace places and shows its own."""
        for dock in self.docks.values():
            dock.hide()
            dock.setFloating(False)
            self.addDockWidget(LEFT, dock)
        self.workspace.arrange(self)
        if share and self.isVisible():
            self.workspace.share(self)

    def show_dock(self, name: str, most: float = 0.6) -> None:
        """Show and raise dock ``name`` where the current workspace has it, grown (up to ``most``
        of the window's width and height) to its panel's minimum size if it is smaller, so that
        its controls show without scrolling."""
        dock = self.docks[name]
        dock.show()
        dock.raise_()
        panel = dock.widget()
        if isinstance(panel, QScrollArea) and panel.widget() is not None:
            panel = panel.widget()
        self.layout().activate()
        wanted = panel.minimumSizeHint()
        extra = dock.height() - dock.widget().height()  # the title bar
        height = min(wanted.height() + extra, int(self.height() * most))
        width = min(wanted.width() + 4, int(self.width() * most))
        if dock.height() < height:
            self.resizeDocks([dock], [height], DOWN)
        if dock.width() < width:
            self.resizeDocks([dock], [width], ACROSS)

    @Slot()
    def reset_layout(self) -> None:
        """View ▸ Reset Layout: the current workspace as it ships."""
        self._layouts.pop(self.workspace.name, None)
        size = self.size()
        self.arrange_workspace()
        self._keep_size(size)

    def _keep_size(self, size) -> None:
        """Another arrangement never resizes the window (taking docks out and putting them back
        lets it shrink, and docks whose minimum sizes add up to more would grow it past the
        screen): its docks share the size it has."""
        self.layout().activate()
        if self.size() != size and not (self.isMaximized() or self.isFullScreen()):
            self.resize(size)

    # ---------------------------------------------------------------- settings
    def read_workspace_settings(self) -> bool:
        """Read every workspace's saved arrangement and the workspace used last, and show it.
        False when it had none saved (the caller arranges the shipped layout)."""
        for workspace in self.workspaces:
            state = settings.read_bytes(settings.workspace_state_key(workspace.name))
            if not state.isEmpty():
                self._layouts[workspace.name] = state
        try:
            index = self.workspace_named(settings.read_str(settings.WORKSPACE_KEY, "explore"))
        except KeyError:
            index = 0
        self.workspace_bar.blockSignals(True)
        self.workspace_bar.setCurrentIndex(index)
        self.workspace_bar.blockSignals(False)
        self.workspace_index = index
        self.workspace_actions.actions()[index].setChecked(True)
        state = self._layouts.get(self.workspace.name)
        if state is not None and self.restoreState(state, settings.STATE_VERSION):
            return True
        self.arrange_workspace(share=False)
        return False

    def write_workspace_settings(self) -> None:
        self._layouts[self.workspace.name] = self.saveState(settings.STATE_VERSION)
        for name, state in self._layouts.items():
            settings.write(settings.workspace_state_key(name), state)
        settings.write(settings.WORKSPACE_KEY, self.workspace.name)

