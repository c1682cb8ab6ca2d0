"""The File menu of the main window: open images and networks, the example networks shipped with
cnnviz, save, recent files, export, drops.

A mixin of :class:`~cnnviz.ui.window.main_window.MainWindow` (which provides ``document``,
``show_error``, ``report_error``, ``report_exception`` and ``ask_save_changes``). Every failure,
expected or not (a ``MemoryError``, a bug), is reported in a message box and leaves the network,
the input and the undo history exactly as they were.

Files are read and decoded in a worker thread (:func:`~cnnviz.ui.shared.workers.run_with_progress`):
the window keeps drawing, a progress window with Cancel appears when reading takes longer than
0.3 s, and another open asked for meanwhile (a drop, a recent file) is refused with a note in the
status bar. The worker also converts an image for the network; only the network's first pass
runs in the GUI thread (a big network's runs in the worker too: see ``_read_network``).
"""

from __future__ import annotations

from contextlib import contextmanager
from functools import partial
from pathlib import Path

from PySide6.QtCore import Qt, Slot
from PySide6.QtGui import QAction, QDragEnterEvent, QDropEvent, QIcon, QKeySequence
from PySide6.QtWidgets import QApplication, QFileDialog, QMessageBox

from cnnviz.data import DataError, load_image
from cnnviz.nn import ModelError
from cnnviz.nn.contract import InputContract
from cnnviz.example_networks import example_networks
from cnnviz.session import (ImageInput, InputSource, NetworkEntry, SessionError, Trace,
                            compute_trace, network_input_for, source_for)
from cnnviz.ui.shared.workers import Abandoned, TaskRunner, abandon_waits, run_with_progress
from cnnviz.ui.window import settings
from cnnviz.ui.window.document import runs_in_background

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".pgm",
                  ".ppm", ".pbm", ".pnm", ".ico")
NETWORK_SUFFIX = ".npz"
ONNX_SUFFIX = ".onnx"
NETWORK_SUFFIXES = (NETWORK_SUFFIX, ONNX_SUFFIX)
IMAGE_FILTER = ("Images (" + " ".join(f"*{s}" for s in IMAGE_SUFFIXES) + ");;All files (*)")
NPZ_FILTER = "cnnviz networks (*.npz)"
ONNX_FILTER = "ONNX networks (*.onnx)"
NETWORK_FILTER = f"Networks (*.npz *.onnx);;{NPZ_FILTER};;{ONNX_FILTER};;All files (*)"
SAVE_NETWORK_FILTER = f"{NPZ_FILTER};;{ONNX_FILTER}"
PNG_FILTER = "PNG images (*.png)"


def is_network_file(path: str | Path) -> bool:
    """A cnnviz network (``.npz``) or an ONNX one (``.onnx``), by the file's suffix."""
    return Path(path).suffix.lower() in NETWORK_SUFFIXES


class FileActions:
    """Opening, saving and exporting for the main window."""

    def create_file_actions(self) -> None:
        """Create the File menu's actions (and the worker that reads files)."""
        self.file_runner = TaskRunner("cnnviz-open-file", self)
        self._opening = False
        self.open_image_action = QAction(
            QIcon.fromTheme(QIcon.ThemeIcon.DocumentOpen), "&Open Image\u2026", self,
            objectName="open_image_action", shortcut=QKeySequence.StandardKey.Open,
            toolTip="Open an image as the network's input (Ctrl+O)",
            statusTip="Open an image file (PNG, JPEG, BMP, GIF, TIFF, WebP\u2026) as the input",
            triggered=lambda: self.open_image())
        self.open_network_action = QAction(
            "Open &Network\u2026", self, objectName="open_network_action",
            shortcut=QKeySequence("Ctrl+Shift+O"), toolTip="Open a network file (.npz, .onnx)",
            statusTip="Open a network saved by cnnviz (.npz) or an ONNX file (from PyTorch, "
                      "Keras...) instead of the current one",
            triggered=lambda: self.open_network())
        self.save_action = QAction(
            QIcon.fromTheme(QIcon.ThemeIcon.DocumentSave), "&Save Network", self,
            objectName="save_action", shortcut=QKeySequence.StandardKey.Save,
            toolTip="Save the network (Ctrl+S)",
            statusTip="Save the network to its file (asks for a new file for the shipped one)",
            triggered=self.save_network)
        self.save_as_action = QAction(
            QIcon.fromTheme(QIcon.ThemeIcon.DocumentSaveAs), "Save Network &As\u2026", self,
            objectName="save_as_action", shortcut=QKeySequence.StandardKey.SaveAs,
            toolTip="Save the network to a new file",
            statusTip="Save the network to a new file (.npz, or .onnx for other tools) and keep "
                      "working on that file",
            triggered=self.save_network_as)
        self.export_action = QAction(
            "&Export View as PNG\u2026", self, objectName="export_action",
            shortcut=QKeySequence("Ctrl+E"), toolTip="Save a picture of the window",
            statusTip="Save a PNG picture of the window's panels",
            triggered=lambda: self.export_view())
        self.clear_recent_action = QAction(
            "&Clear Recent Files", self, objectName="clear_recent_action",
            toolTip="Forget the recent files", statusTip="Empty the Recent Files menu",
            triggered=self.clear_recent_files)
        self.quit_action = QAction(
            QIcon.fromTheme(QIcon.ThemeIcon.ApplicationExit), "&Quit", self,
            objectName="quit_action", shortcut=QKeySequence.StandardKey.Quit,
            menuRole=QAction.MenuRole.QuitRole, toolTip="Quit cnnviz",
            statusTip="Quit cnnviz, keeping the window layout for the next start",
            triggered=self.close)

    def create_file_menu(self) -> None:
        self.file_menu = self.menuBar().addMenu("&File")
        self.file_menu.addActions([self.open_image_action, self.open_network_action])
        self.examples_menu = self.file_menu.addMenu("E&xample Networks")
        self.examples_menu.setObjectName("examples_menu")
        self.examples_menu.setToolTipsVisible(True)
        self.examples_menu.menuAction().setStatusTip("Open one of the networks shipped with cnnviz")
        self.examples_menu.menuAction().setToolTip("The networks shipped with cnnviz")
        self.examples_menu.aboutToShow.connect(self.update_examples_menu)
        self.update_examples_menu()
        self.recent_menu = self.file_menu.addMenu("Recent &Files")
        self.recent_menu.setToolTipsVisible(True)
        self.file_menu.addSeparator()
        self.file_menu.addActions([self.save_action, self.save_as_action])
        self.file_menu.addSeparator()
        self.file_menu.addAction(self.export_action)
        self.file_menu.addSeparator()
        self.file_menu.addAction(self.quit_action)

    # ----------------------------------------------------------------- opening
    def open_image(self, path: str | Path | None = None) -> bool:
        """Open an image as the input (asks for the file when ``path`` is None)."""
        if path is None:
            path, _ = QFileDialog.getOpenFileName(
                self, "Open Image", settings.last_folder(settings.IMAGE_FOLDER_KEY), IMAGE_FILTER)
            if not path:
                return False
        name = Path(path).name
        read = partial(_read_image, path, self.document.network.contract)
        opened = self._read_in_worker(read, f"Reading {name}\u2026",
                                      "Cannot open the image", f"Opening the image {name}")
        if opened is None:
            return False
        try:
            self.document.set_image(opened)
        except Exception as exc:  # the image cannot be shown: the input stays as it was
            self._report_open_failure("Cannot open the image", f"Opening the image {name}", exc)
            return False
        settings.remember_folder(settings.IMAGE_FOLDER_KEY, path)
        self._add_recent(path)
        self.statusBar().showMessage(f"Opened image {name}", 5000)
        return True

    def open_network(self, path: str | Path | None = None, ask: bool = True,
                     remember: bool = True) -> bool:
        """Open a network file (asks for it when ``path`` is None); unsaved changes are asked about
        first unless ``ask`` is False. ``remember``: add it to the recent files and remember its
        folder for the next Open Network."""
        if path is None:
            path, _ = QFileDialog.getOpenFileName(
                self, "Open Network", settings.last_folder(settings.NETWORK_FOLDER_KEY),
                NETWORK_FILTER)
            if not path:
                return False
        if ask and not self.maybe_save():
            return False
        name = Path(path).name
        opened = self._read_in_worker(partial(_read_network, path, self.document.source),
                                      f"Reading {name}\u2026", "Cannot open the network",
                                      f"Opening the network {name}")
        if opened is None:
            return False
        entry, trace = opened
        try:
            with _busy():
                self.document.set_network(entry, trace=trace)
        except Exception as exc:  # its first pass failed: the current network stays
            self._report_open_failure("Cannot open the network", f"Opening the network {name}",
                                      exc)
            return False
        if remember:
            settings.remember_folder(settings.NETWORK_FOLDER_KEY, path)
            self._add_recent(path)
        self.statusBar().showMessage(f"Opened network {name}", 5000)
        return True

    # ----------------------------------------------------------------- example networks
    def update_examples_menu(self) -> None:
        """List the networks shipped with cnnviz (the files of its models folder)."""
        self.examples_menu.clear()
        examples = example_networks()
        for number, example in enumerate(examples, 1):
            action = self.examples_menu.addAction(f"&{number} {example.title}")
            action.setObjectName(f"example_{example.path.stem}")
            action.setData(str(example.path))
            action.setToolTip(str(example.path))
            action.setStatusTip(f"Open the example network {example.name} (read-only: "
                                "Save asks for a file of your own)")
            action.triggered.connect(partial(self.open_example, example.path))
        if not examples:
            empty = self.examples_menu.addAction("No example networks found")
            empty.setEnabled(False)

    def open_example(self, path: str | Path, _checked: bool = False) -> bool:
        """Open an example network (an undoable step, like Open Network) and start with it
        next time."""
        if not self.open_network(path, remember=False):
            return False
        settings.write(settings.EXAMPLE_NETWORK_KEY, Path(path).name)
        return True

    @property
    def opening(self) -> bool:
        """A file is being read (in the worker)."""
        return self._opening

    def _read_in_worker(self, read, label: str, title: str, what: str):
        """``read()`` in the file worker, the window responsive meanwhile; its result, or None
        after a message (failure) or a Cancel."""
        if self.opening:  # a drop or a recent file while another file is being read
            self.statusBar().showMessage("Still reading another file: wait for it, or press "
                                         "Cancel in its progress window", 5000)
            return None
        self._opening = True
        try:
            return run_with_progress(self.file_runner, read, label, self, title)
        except Abandoned:
            self.statusBar().showMessage("Opening cancelled", 5000)
        except Exception as exc:  # MemoryError, RecursionError... never escapes to the loop
            self._report_open_failure(title, what, exc)
        finally:
            self._opening = False
        return None

    def _report_open_failure(self, title: str, what: str, exc: BaseException) -> None:
        """The file's own errors say what is wrong in one line; anything else is unexpected and
        comes with its details and a log."""
        if isinstance(exc, (ModelError, DataError, SessionError, OSError)):
            self.report_error(title, str(exc))
        elif isinstance(exc, MemoryError):
            self.report_error(title, f"{what}: there is not enough memory for it on this "
                                     "computer.")
        else:
            self.report_exception(title, what, exc)

    def shutdown_file_worker(self) -> None:
        """End a wait for a file and join (or detach) its worker thread: the window closes."""
        abandon_waits()
        self.file_runner.shutdown()

    def open_path(self, path: str | Path) -> bool:
        """Open a network (``.npz``) or an image, by the file's suffix."""
        return self.open_network(path) if is_network_file(path) else self.open_image(path)

    # ----------------------------------------------------------------- saving
    @Slot()
    def save_network(self) -> bool:
        """Save the network to its own file, or ask for one; True when it was saved."""
        network = self.document.network
        if network.path is None or network.read_only:
            return self.save_network_as()
        return self._save_to(None)

    @Slot()
    def save_network_as(self) -> bool:
        """Ask for a file and save the network there; True when it was saved."""
        network = self.document.network
        folder = settings.last_folder(settings.NETWORK_FOLDER_KEY)
        name = network.name
        if is_network_file(name):
            name = str(Path(name).with_suffix(""))
        suggestion = str(Path(folder) / name) if folder else name
        onnx = network.path is not None and Path(network.path).suffix.lower() == ONNX_SUFFIX
        suggestion += ONNX_SUFFIX if onnx else NETWORK_SUFFIX
        path, chosen = QFileDialog.getSaveFileName(
            self, "Save Network As", suggestion, SAVE_NETWORK_FILTER,
            ONNX_FILTER if onnx else NPZ_FILTER)
        if not path:
            return False
        if not is_network_file(path):  # the format of the filter chosen
            path += ONNX_SUFFIX if chosen == ONNX_FILTER else NETWORK_SUFFIX
        return self._save_to(path)

    def _save_to(self, path: str | None) -> bool:
        try:
            with _busy():
                saved = self.document.save_network(path)
        except (SessionError, ModelError, OSError) as exc:
            self.show_error("Cannot save the network", str(exc))
            return False
        settings.remember_folder(settings.NETWORK_FOLDER_KEY, saved)
        self._add_recent(saved)
        self.statusBar().showMessage(f"Saved {saved}", 5000)
        return True

    def maybe_save(self) -> bool:
        """True when the network may be replaced: unchanged, saved, or the changes discarded."""
        if not self.document.modified:
            return True
        answer = self.ask_save_changes()
        if answer == QMessageBox.StandardButton.Save:
            return self.save_network()
        return answer == QMessageBox.StandardButton.Discard

    def export_view(self, path: str | Path | None = None) -> bool:
        """Save a PNG picture of the window (asks for the file when ``path`` is None)."""
        if path is None:
            folder = settings.last_folder(settings.EXPORT_FOLDER_KEY)
            suggestion = str(Path(folder) / "cnnviz.png") if folder else "cnnviz.png"
            path, _ = QFileDialog.getSaveFileName(self, "Export View as PNG", suggestion,
                                                  PNG_FILTER)
            if not path:
                return False
        path = str(path)
        if not path.lower().endswith(".png"):
            path += ".png"
        if not self.grab().save(path, "PNG"):
            self.show_error("Cannot export the view", f"{path}: could not write the PNG file")
            return False
        settings.remember_folder(settings.EXPORT_FOLDER_KEY, path)
        self.statusBar().showMessage(f"Exported {path}", 5000)
        return True

    # ----------------------------------------------------------------- recent files
    def _add_recent(self, path: str | Path) -> None:
        settings.add_recent_file(path)
        self.update_recent_files_menu()

    def update_recent_files_menu(self) -> None:
        self.recent_menu.clear()
        files = settings.recent_files()
        for number, path in enumerate(files, 1):
            action = self.recent_menu.addAction(f"&{number} {Path(path).name}")
            action.setToolTip(path)
            action.setStatusTip(f"Open {path}")
            action.setData(path)
            # Bound to the path: QObject.sender() is not reliable in PySide slots.
            action.triggered.connect(partial(self.open_recent_file, path))
        self.recent_menu.addSeparator()
        self.recent_menu.addAction(self.clear_recent_action)
        self.clear_recent_action.setEnabled(bool(files))

    def open_recent_file(self, path: str, _checked: bool = False) -> bool:
        """Open a file of the Recent Files menu; forget it when it is gone."""
        if not Path(path).is_file():
            self.show_error("Cannot open the file", f"{path}: the file no longer exists")
            settings.remove_recent_file(path)
            self.update_recent_files_menu()
            return False
        return self.open_path(path)

    @Slot()
    def clear_recent_files(self) -> None:
        settings.write(settings.RECENT_FILES_KEY, [])
        self.update_recent_files_menu()

    # ----------------------------------------------------------------- drag and drop
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 (Qt override)
        if _dropped_files(event):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event) -> None:  # noqa: N802 (Qt override)
        self.dragEnterEvent(event)

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802 (Qt override)
        """Open the dropped network (``.npz``) first, then the dropped image."""
        files = _dropped_files(event)
        if not files:
            event.ignore()
            return
        event.acceptProposedAction()
        networks = [f for f in files if is_network_file(f)]
        images = [f for f in files if not is_network_file(f)]
        if networks:
            self.open_network(networks[0])
        if images:
            self.open_image(images[0])


def _read_network(path: str | Path, source: InputSource) -> tuple[NetworkEntry, Trace | None]:
    """Read a network file (in the file worker) and, for a big network (see
    :func:`~cnnviz.ui.window.document.runs_in_background`), also its first trace on the input
    it will be paired with, so that the GUI thread does not run it."""
    entry = NetworkEntry.open(path)
    if not runs_in_background(entry.model):
        return entry, None
    try:
        trace = compute_trace(entry.model, source_for(source, entry), 0, entry.token,
                              entry.contract)
    except SessionError:
        trace = None  # the document computes it again and reports the problem
    return entry, trace


def _read_image(path: str | Path, contract: InputContract) -> ImageInput:
    """Decode an image and convert it as the network's input ``contract`` says (in the worker;
    the conversion is kept with the image, see :func:`cnnviz.session.network_input_for`)."""
    source = ImageInput(load_image(path))
    try:
        network_input_for(source, contract)
    except Exception:  # noqa: BLE001 - the GUI thread's own pass says what is wrong
        pass
    return source


def _dropped_files(event) -> list[str]:
    mime = event.mimeData()
    if not mime.hasUrls():
        return []
    return [url.toLocalFile() for url in mime.urls() if url.isLocalFile()]


@contextmanager
def _busy():
    """A wait cursor while a file is read or written."""
    QApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
    try:
        yield
    finally:
        QApplication.restoreOverrideCursor()
