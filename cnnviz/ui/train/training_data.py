"""Load the training images in a worker thread, behind a progress dialog with Cancel.

Reading MNIST takes a second, downloading it (or CIFAR-10) longer, drawing 20,000 offline digits
or decoding a folder of images a quarter of a minute, normalising 50,000 colour images a second:
none of it may hold up the window. :class:`TrainingDataLoader` runs
:func:`cnnviz.training.sources.load_dataset` and the split into training and validation images
in a :class:`~cnnviz.ui.shared.workers.TaskRunner`, and keeps the last dataset and split, so that the
next run with the same choices starts at once.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtWidgets import QProgressDialog, QWidget

from cnnviz.nn import InputContract
from cnnviz.training.sources import DataSource, TrainingData, load_dataset, split_training_data
from cnnviz.ui.shared.workers import TaskRunner

#: The progress dialog appears only when loading takes longer than this (milliseconds).
DIALOG_DELAY_MS = 300


class TrainingDataLoader(QObject):
    """Loads training data off the GUI thread and remembers the last load.

    Parameters
    ----------
    parent : QWidget
        Parent of the progress dialog (and of this object).

    Signals
    -------
    loaded(TrainingData)
        The data asked for are ready.
    cancelled()
        The user cancelled the load.
    failed(str)
        Loading failed; the message says why.
    """

    loaded = Signal(object)
    cancelled = Signal()
    failed = Signal(str)

    def __init__(self, parent: QWidget):
        super().__init__(parent)
        self._widget = parent
        self._dataset: tuple | None = None        # (key, Dataset) of the last load
        self._data: tuple | None = None           # (key, TrainingData) of the last split
        self.dialog: QProgressDialog | None = None
        self.runner = TaskRunner("cnnviz-training-data", self)
        self.runner.progress.connect(self._on_progress)
        self.runner.finished.connect(self._on_finished)
        self.runner.cancelled.connect(self._on_cancelled)
        self.runner.failed.connect(self._on_failed)

    @property
    def running(self) -> bool:
        return self.runner.running

    @staticmethod
    def _keys(source: DataSource, count: int, validation: int, seed: int,
              contract: InputContract | None, fresh: bool) -> tuple:
        offline = source.kind == "offline"
        # A folder of images is decoded at the network's size.
        shape = contract.shape if source.resizes and contract is not None else None
        dataset_key = (source, count if offline else 0, seed if offline else 0, shape)
        return dataset_key, (dataset_key, count, validation, seed, contract, fresh)

    def cached(self, source: DataSource, count: int, validation: int, seed: int,
               contract: InputContract | None = None,
               fresh: bool = False) -> TrainingData | None:
        """The data of the last load if it was made with these choices (any network's when
        ``contract`` is None), else None."""
        if self._data is None:
            return None
        key = self._data[0]
        if contract is None:  # whatever the network: the key but its contract and freshness
            return self._data[1] if key[0][:3] == self._keys(source, count, validation, seed,
                                                             None, fresh)[0][:3] \
                and key[1:4] == (count, validation, seed) else None
        _, data_key = self._keys(source, count, validation, seed, contract, fresh)
        return self._data[1] if key == data_key else None

    def load(self, source: DataSource, count: int, validation: int, seed: int,
             contract: InputContract | None = None, fresh: bool = False) -> None:
        """Load ``count`` images of ``source`` (0: all), hold ``validation`` out and convert
        them for a network whose contract is ``contract`` (``fresh``: a new network, which gets
        the data's class names and statistics; see
        :func:`~cnnviz.training.sources.split_training_data`); ``loaded`` follows."""
        dataset_key, data_key = self._keys(source, count, validation, seed, contract, fresh)
        known = self._dataset[1] if self._dataset and self._dataset[0] == dataset_key else None
        shape = dataset_key[3]

        def task(progress):
            # Only a folder of images is given the network's shape (the others keep theirs).
            dataset = known or (load_dataset(source, count, seed, progress) if shape is None
                                else load_dataset(source, count, seed, progress, shape))
            return (dataset_key, dataset, data_key,
                    split_training_data(dataset, count, validation, seed, contract, fresh))

        self.dialog = QProgressDialog(f"Loading {source.title}\u2026", "Cancel", 0, 0,
                                      self._widget, objectName="training_data_dialog",
                                      minimumDuration=DIALOG_DELAY_MS)
        self.dialog.setWindowTitle("Training Data")
        self.dialog.setValue(0)  # starts the delay now (else Qt 6 waits its default 4 s)
        self.dialog.canceled.connect(self.runner.cancel)
        self.runner.start(task)

    def shutdown(self) -> None:
        """Cancel a load and join its thread (the window is closing)."""
        self.runner.shutdown()
        self._close_dialog()

    @Slot(int, int)
    def _on_progress(self, done: int, total: int) -> None:
        if self.dialog is not None:
            self.dialog.setMaximum(total)
            self.dialog.setValue(min(done, total - 1))  # the maximum would close the dialog

    @Slot(object)
    def _on_finished(self, result) -> None:
        dataset_key, dataset, data_key, data = result
        self._dataset, self._data = (dataset_key, dataset), (data_key, data)
        self._close_dialog()
        self.loaded.emit(data)

    @Slot()
    def _on_cancelled(self) -> None:
        self._close_dialog()
        self.cancelled.emit()

    @Slot(str)
    def _on_failed(self, message: str) -> None:
        self._close_dialog()
        self.failed.emit(message)

    def _close_dialog(self) -> None:
        if self.dialog is not None:
            self.dialog.canceled.disconnect(self.runner.cancel)
            self.dialog.reset()
            self.dialog.deleteLater()
            self.dialog = None
