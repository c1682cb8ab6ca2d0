"""Teach it your handwriting: label the current drawing, and the My Drawings gallery.

When the network reads a drawing wrongly, one gesture says what it really is: a digit key (0-9:
class 0-9 of the network, whatever their names) or a click on the class's bar in Prediction.
The drawing is kept, as the network reads it, in the user's own dataset
(:mod:`cnnviz.data.user_drawings`: ``<data folder>/my-drawings/...``, ``CLASS/NNNN.png``), as one
undoable command: Undo removes the file, Redo puts it back. The My Drawings panel shows the
kept drawings by class; they can be relabelled and deleted there (undoable too).

The panel's dock is in no workspace's shipped layout (they are full): Edit ▸ Label Drawing ▸
Show My Drawings shows it as a tab beside Layers (Explore), or View ▸ Panels ▸ My Drawings.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

from PySide6.QtCore import QObject, QSize, Qt, Signal, Slot
from PySide6.QtGui import QAction, QIcon, QKeySequence, QPixmap
from PySide6.QtWidgets import (QComboBox, QHBoxLayout, QLabel, QListView, QListWidget,
                               QListWidgetItem, QMenu, QPushButton, QVBoxLayout, QWidget)

from cnnviz.data.errors import DataError
from cnnviz.data.user_drawings import (UserDrawings, dataset_folder, picture_from_input,
                                       read_drawings)
from cnnviz.training.finetune import FineTuneError, fine_tune, replay_data
from cnnviz.ui.shared.workers import TaskRunner
from cnnviz.ui.window import errors
from cnnviz.ui.window.commands import DrawingFileCommand
from cnnviz.ui.window.document import Document

#: Digit keys label the drawing as class 0..9 of the network.
LABEL_KEYS = 10
ICON_SIDE = 56


class MyDrawings(QObject):
    """The user's dataset for the current network, and the changes to it (each undoable).

    Signals
    -------
    changed()
        A drawing was kept, relabelled, deleted, or an undo or redo did one of those; or the
        network changed (perhaps another folder).
    message(str)
        What was done, for the status bar.
    problem(str)
        What could not be done (a folder that cannot be written, a file removed meanwhile).
    """

    changed = Signal()
    message = Signal(str)
    problem = Signal(str)
    #: Fine-tuning: (done, total) while it runs; the report's text when it has finished.
    tuning_progress = Signal(int, int)
    tuned = Signal(str)

    def __init__(self, document: Document, parent: QObject | None = None):
        super().__init__(parent)
        self.document = document
        document.model_changed.connect(lambda _network: self.changed.emit())
        self.runner = TaskRunner("fine-tune", self)
        self.runner.progress.connect(self.tuning_progress)
        self.runner.finished.connect(self._on_tuned)
        self.runner.failed.connect(self._on_tuning_failed)
        self.runner.cancelled.connect(lambda: self.tuned.emit("Fine-tuning stopped."))
        self._tuning_of = None
        self.last_report = None

    # ----------------------------------------------------------------- fine-tuning
    def start_fine_tuning(self) -> bool:
        """Fine-tune a copy of the current network on the drawings (in a worker thread); the
        result becomes the current network's weights as one undo step."""
        if self.runner.running:
            return False
        network = self.document.network
        contract, root = network.contract, self.store.root
        if not self.store.list():
            text = ("Cannot fine-tune: there are no drawings yet. Press a digit key or click a "
                    "bar in Prediction to keep the current drawing with its right label.")
            self.tuned.emit(text)
            self.message.emit(text)
            return False
        model = network.model.copy()
        self._tuning_of = (network, network.token)

        def task(progress):
            replay = replay_data(contract)
            drawings = read_drawings(root, contract.shape)
            return fine_tune(model, contract, drawings, replay, progress=progress), replay.name

        self.runner.start(task)
        return True

    def _on_tuned(self, result) -> None:
        (weights, report), replay_name = result
        network, token = self._tuning_of
        self.last_report = report
        if self.document.network is not network or network.token != token:
            self.tuned.emit("The network changed while it was being fine-tuned: the result was "
                            "dropped.")
            return
        self.document.set_weights(weights, text="Fine-tune on My Drawings")
        text = f"Fine-tuned ({report.text(replay_name)}). Undo brings back the network as it was."
        self.tuned.emit(text)
        self.message.emit(text)

    def _on_tuning_failed(self, message: str) -> None:
        error = self.runner.error
        if isinstance(error, (FineTuneError, DataError)):
            text = f"Cannot fine-tune: {error}"
        else:
            text = f"Fine-tuning failed: {self.runner.failure_text(message)}"
        self.tuned.emit(text)
        self.report(text)

    # ----------------------------------------------------------------- the folder
    @property
    def store(self) -> UserDrawings:
        """The dataset of the current network's kind (digits, or its classes)."""
        contract = self.document.network.contract
        return UserDrawings(dataset_folder(errors.data_folder(), contract),
                            classes=self.document.network.classes)

    @property
    def classes(self) -> tuple[str, ...]:
        return tuple(self.document.network.classes)

    def dataset_changed(self) -> None:
        self.changed.emit()

    def report(self, message: str) -> None:
        self.problem.emit(message)

    # ----------------------------------------------------------------- changes
    def label_current(self, index: int) -> Path | None:
        """Keep the current drawing (or picture) as class ``index`` of the network; returns the
        new file's path (None when there is nothing to keep or it could not be written)."""
        classes = self.classes
        if not 0 <= index < len(classes):
            return None
        document = self.document
        if document.stroke_active:
            return None
        trace = document.trace
        thing = "picture" if trace.source.kind == "image" else "drawing"
        if trace.blank:
            self.message.emit("Nothing to label: draw a digit or open a picture first.")
            return None
        name = classes[index]
        store = self.store
        try:
            picture = picture_from_input(trace.network_input, document.network.contract)
            path = store.add(name, picture)
        except (DataError, OSError, ValueError) as exc:
            self.report(f"The {thing} could not be kept in My Drawings: {exc}")
            return None
        document.undo_stack.push(DrawingFileCommand(
            self, store, "add", path, f"Label {thing.title()} as \u201c{name}\u201d"))
        count = sum(1 for label, _ in store.list() if label == name)
        self.message.emit(f"Kept the {thing} as \u201c{name}\u201d in My Drawings ({count} of "
                          f"\u201c{name}\u201d, {path.name}); Undo removes it.")
        self.changed.emit()
        return path

    def relabel(self, path: str | Path, label: str) -> Path | None:
        """Move a kept drawing to class ``label`` (undoable)."""
        store, path = self.store, Path(path)
        try:
            if store.label_of(path) == label:
                return path
            target = store.relabel(path, label)
        except (DataError, OSError) as exc:
            self.report(f"The drawing could not be relabelled: {exc}")
            return None
        self.document.undo_stack.push(DrawingFileCommand(
            self, store, "relabel", path, f"Relabel Drawing as \u201c{label}\u201d",
            target=target))
        self.message.emit(f"Relabelled {path.parent.name}/{path.name} as \u201c{label}\u201d.")
        self.changed.emit()
        return target

    def delete(self, path: str | Path) -> bool:
        """Delete a kept drawing (undoable: the command keeps its bytes)."""
        store, path = self.store, Path(path)
        try:
            data = store.delete(path)
        except (DataError, OSError) as exc:
            self.report(f"The drawing could not be deleted: {exc}")
            return False
        self.document.undo_stack.push(DrawingFileCommand(
            self, store, "delete", path, "Delete Drawing", data=data))
        self.message.emit(f"Deleted {path.parent.name}/{path.name} from My Drawings; Undo "
                          "brings it back.")
        self.changed.emit()
        return True


def label_actions(drawings: MyDrawings, parent: QObject) -> list[QAction]:
    """Actions 0..9: label the current drawing as class 0..9 (shortcut: the digit key)."""
    actions = []
    for index in range(LABEL_KEYS):
        action = QAction(str(index), parent, objectName=f"label_{index}_action",
                         shortcut=QKeySequence(str(index)),
                         triggered=partial(_label, drawings, index))
        actions.append(action)

    def update(*_args) -> None:
        classes = drawings.classes
        for index, action in enumerate(actions):
            name = classes[index] if index < len(classes) else ""
            action.setEnabled(bool(name))
            action.setText(f"As \u201c{name}\u201d" if name else str(index))
            action.setToolTip(f"Label the drawing as \u201c{name}\u201d ({index})")
            action.setStatusTip(f"The network is wrong: keep this drawing in My Drawings as "
                                f"\u201c{name}\u201d (undoable)")

    update()
    drawings.document.model_changed.connect(update)
    return actions


def _label(drawings: MyDrawings, index: int, _checked: bool = False) -> None:
    drawings.label_current(index)


class MyDrawingsPanel(QWidget):
    """The kept drawings, by class, with relabel and delete.

    Attributes
    ----------
    gallery : QListWidget
        One item per file (icon: the picture; text: its class; ``Qt.UserRole``: its path).
    class_combo : QComboBox
        Which class to show ("All classes" first).
    relabel_combo : QComboBox
        The class "Relabel" moves the selected drawings to.
    """

    def __init__(self, drawings: MyDrawings, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("my_drawings_panel")
        self.drawings = drawings
        self.summary = QLabel(objectName="my_drawings_summary", wordWrap=True)
        self.class_combo = QComboBox(objectName="my_drawings_class_combo")
        self.class_combo.setToolTip("Show the drawings of one class, or all")
        self.class_combo.currentIndexChanged.connect(self.refresh)
        self.gallery = QListWidget(objectName="my_drawings_gallery")
        self.gallery.setViewMode(QListView.ViewMode.IconMode)
        self.gallery.setIconSize(QSize(ICON_SIDE, ICON_SIDE))
        self.gallery.setResizeMode(QListView.ResizeMode.Adjust)
        self.gallery.setMovement(QListView.Movement.Static)
        self.gallery.setSelectionMode(QListWidget.SelectionMode.ExtendedSelection)
        self.gallery.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.gallery.customContextMenuRequested.connect(self._context_menu)
        self.relabel_combo = QComboBox(objectName="my_drawings_relabel_combo")
        self.relabel_combo.setToolTip("The class the selected drawings are moved to")
        self.relabel_button = QPushButton("Relabel", objectName="my_drawings_relabel_button",
                                          toolTip="Move the selected drawings to the class "
                                                  "beside (undoable)")
        self.relabel_button.clicked.connect(self.relabel_selected)
        self.delete_button = QPushButton("Delete", objectName="my_drawings_delete_button",
                                         toolTip="Delete the selected drawings (undoable)")
        self.delete_button.clicked.connect(self.delete_selected)
        self.gallery.itemSelectionChanged.connect(self._update_buttons)
        self.tune_button = QPushButton("Fine-tune on My Drawings",
                                       objectName="my_drawings_tune_button")
        self.tune_button.setToolTip(
            "Train the current network a little on these drawings (distorted copies), mixed "
            "with its old training images so that it forgets nothing; accuracy before and "
            "after is shown. Undoable.")
        self.tune_button.clicked.connect(self._tune)
        self.tune_label = QLabel(objectName="my_drawings_tune_label", wordWrap=True)
        drawings.tuning_progress.connect(
            lambda done, total: self.tune_label.setText(f"Fine-tuning… {done}/{total}"))
        drawings.tuned.connect(self._on_tuned)

        top = QHBoxLayout()
        top.addWidget(QLabel("Class"))
        top.addWidget(self.class_combo, 1)
        bottom = QHBoxLayout()
        bottom.addWidget(self.relabel_button)
        bottom.addWidget(QLabel("as"))
        bottom.addWidget(self.relabel_combo, 1)
        bottom.addWidget(self.delete_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.summary)
        layout.addLayout(top)
        layout.addWidget(self.gallery, 1)
        layout.addLayout(bottom)
        layout.addWidget(self.tune_button)
        layout.addWidget(self.tune_label)
        self._classes: tuple[str, ...] = ()
        drawings.changed.connect(self.refresh)
        self.refresh()

    @Slot()
    def refresh(self) -> None:
        """Show the files of the current network's dataset as they are on disk now."""
        classes = self.drawings.classes
        if classes != self._classes:
            self._classes = classes
            for combo, first in ((self.class_combo, "All classes"), (self.relabel_combo, None)):
                combo.blockSignals(True)
                combo.clear()
                if first:
                    combo.addItem(first, None)
                for name in classes:
                    combo.addItem(name, name)
                combo.blockSignals(False)
        store = self.drawings.store
        shown = self.class_combo.currentData()
        kept = store.list()
        selected = {item.data(Qt.ItemDataRole.UserRole) for item in self.gallery.selectedItems()}
        self.gallery.clear()
        for label, path in kept:
            if shown is not None and label != shown:
                continue
            item = QListWidgetItem(QIcon(QPixmap(str(path))), label)
            item.setData(Qt.ItemDataRole.UserRole, str(path))
            item.setToolTip(f"{label}/{path.name}")
            self.gallery.addItem(item)
            item.setSelected(str(path) in selected)
        counts = {}
        for label, _ in kept:
            counts[label] = counts.get(label, 0) + 1
        per_class = ", ".join(f"{name}: {counts[name]}" for name in classes if counts.get(name))
        self.summary.setText(f"{len(kept)} drawing{'s' if len(kept) != 1 else ''}"
                             + (f" ({per_class})" if per_class else ""))
        self.summary.setToolTip(f"Kept in {store.root}, one folder per class (cnnviz train "
                                f"--data reads it). Press a digit key or click a bar in "
                                f"Prediction to keep the current drawing.")
        self._update_buttons()

    @Slot()
    def _tune(self) -> None:
        if self.drawings.start_fine_tuning():
            self.tune_button.setEnabled(False)
            self.tune_label.setText("Fine-tuning…")

    @Slot(str)
    def _on_tuned(self, text: str) -> None:
        self.tune_button.setEnabled(True)
        self.tune_label.setText(text)

    def selected_paths(self) -> list[Path]:
        return [Path(item.data(Qt.ItemDataRole.UserRole)) for item in self.gallery.selectedItems()]

    @Slot()
    def _update_buttons(self) -> None:
        some = bool(self.gallery.selectedItems())
        self.relabel_button.setEnabled(some)
        self.delete_button.setEnabled(some)

    @Slot()
    def relabel_selected(self, label: str | None = None) -> None:
        label = label or self.relabel_combo.currentData()
        paths = self.selected_paths()
        if not label or not paths:
            return
        self._each(paths, f"Relabel {len(paths)} Drawings",
                   lambda path: self.drawings.relabel(path, label))

    @Slot()
    def delete_selected(self) -> None:
        paths = self.selected_paths()
        if not paths:
            return
        self._each(paths, f"Delete {len(paths)} Drawings", self.drawings.delete)

    def _each(self, paths: list[Path], text: str, change) -> None:
        """``change(path)`` for every path: one undo step for all of them."""
        stack = self.drawings.document.undo_stack
        if len(paths) > 1:
            stack.beginMacro(text)
        try:
            for path in paths:
                change(path)
        finally:
            if len(paths) > 1:
                stack.endMacro()

    def _context_menu(self, position) -> None:
        if not self.gallery.selectedItems():
            return
        menu = QMenu(self)
        relabel = menu.addMenu("Relabel as")
        for name in self._classes:
            relabel.addAction(name, partial(self.relabel_selected, name))
        menu.addAction("Delete", self.delete_selected)
        menu.exec(self.gallery.viewport().mapToGlobal(position))


def add_my_drawings(window) -> MyDrawings:
    """Give ``window`` the labelling gestures and the My Drawings dock (hidden).

    Sets ``window.my_drawings`` (the :class:`MyDrawings`), ``window.my_drawings_panel``,
    ``window.label_actions`` (0..9) and ``window.show_my_drawings_action``; the window puts the
    actions in its Edit menu (:func:`label_menu`)."""
    drawings = MyDrawings(window.document, window)
    window.my_drawings = drawings
    window.my_drawings_panel = MyDrawingsPanel(drawings)
    window.add_dock("my_drawings", "My Drawings", window.my_drawings_panel,
                    Qt.DockWidgetArea.RightDockWidgetArea,
                    "the drawings you labelled, by class, to relabel or delete")
    window.docks["my_drawings"].hide()
    window.label_actions = label_actions(drawings, window)
    window.addActions(window.label_actions)
    window.show_my_drawings_action = QAction(
        "Show &My Drawings", window, objectName="show_my_drawings_action",
        toolTip="Show the drawings you labelled",
        statusTip="Show the My Drawings panel: your labelled drawings, to relabel or delete",
        triggered=lambda: show_my_drawings(window))
    window.prediction_panel.class_clicked.connect(drawings.label_current)
    drawings.message.connect(lambda text: window.statusBar().showMessage(text, 8000))
    drawings.problem.connect(lambda text: window.report_error("My Drawings", text))
    return drawings


#: Docks My Drawings is shown as a tab beside, the first one in view (the workspaces have no
#: room for another column or row).
BESIDE = ("layers", "evaluation", "network_health", "prediction")


def show_my_drawings(window) -> None:
    """Show My Drawings as a tab beside a panel of the current workspace's right-hand column,
    so that no other panel is squeezed; where the workspace already has it (a tab behind the
    Filters in Explore), it is only brought forward."""
    dock = window.docks["my_drawings"]
    if dock.isVisible():  # also true behind another dock's tab
        dock.raise_()
        return
    for name in BESIDE:
        other = window.docks.get(name)
        if other is not None and other.isVisible() and not other.isFloating():
            window.tabifyDockWidget(other, dock)
            break
    dock.show()
    dock.raise_()


def label_menu(window, parent_menu: QMenu) -> QMenu:
    """Edit ▸ Label Drawing: the digit keys' actions and Show My Drawings."""
    menu = parent_menu.addMenu("&Label Drawing")
    menu.setToolTipsVisible(True)
    menu.addActions(window.label_actions)
    menu.addSeparator()
    menu.addAction(window.show_my_drawings_action)
    return menu
