"""The Training panel: train the network from the window and watch it learn.

Choose the data (MNIST found on this computer, from a folder, downloaded, or digits cnnviz draws
itself; CIFAR-10 found or downloaded; any folder of images in class folders), the network (the
current one, or a new one from the layer-list editor, which presets fill, for the data's image
shape and classes) and the hyperparameters, then Start. A new network trained on named data
(CIFAR-10, a folder of images) gets their class names and the per-channel mean and standard
deviation of the training images in its input contract, as with ``cnnviz train``; the images are
normalised by the network's contract. The data load in a worker thread behind a progress
dialog with Cancel; another (:class:`~cnnviz.ui.train.training_worker.TrainingRunner`) drives the
:class:`~cnnviz.training.Trainer`, which trains its own copy of the network in a process of its
own (:class:`~cnnviz.training.remote.TrainerProcess`), so that its computing never waits for the
GUI thread's, nor the GUI thread for it. A few times
a second the panel receives a copy of the weights and makes the document adopt it, so that the
feature maps, filters and prediction change as the network learns; all the snapshots of one run
merge into one undo step ("Train Network"), and a new network becomes current (undoably) when
its run starts. Stop leaves a whole network; a run that diverges keeps its last good weights.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import (QComboBox, QFileDialog, QFormLayout, QGridLayout, QGroupBox,
                               QHBoxLayout,
                               QLabel, QProgressBar, QPushButton, QSpinBox, QVBoxLayout, QWidget)

from cnnviz.data import DataError
from cnnviz.nn import ContractError, ModelError, Sequential, default_contract
from cnnviz.nn.parallel import default_workers
from cnnviz.session import NetworkEntry, SessionError
from cnnviz.training import Progress, TrainConfig
from cnnviz.training.architecture import build_network, format_shape
from cnnviz.training.history import TrainingHistory
from cnnviz.training.remote import TrainerProcess
from cnnviz.training.sources import OFFLINE_DEFAULT_SIZE, DataSource, TrainingData
from cnnviz.ui.shared.pacing import Stages
from cnnviz.ui.train.layer_editor import LayerListEditor
from cnnviz.ui.train.training_data import TrainingDataLoader
from cnnviz.ui.train.training_settings import HyperparameterBox
from cnnviz.ui.train.training_worker import TrainingRunner
from cnnviz.ui.window.document import Document

#: Seconds between two copies of the weights sent by the training process.
SNAPSHOT_INTERVAL = 0.25
#: Adopting a snapshot redraws every view of the network, then the curves, then the health
#: plots, each in a turn of its own (cnnviz.ui.shared.pacing). Adoptions are spaced so that they take
#: at most this share of the time (measured each time), one every SNAPSHOT_INTERVAL at the most
#: and MAX_ADOPTION_INTERVAL at the least: the GUI thread's work takes a core from the training
#: processes.
ADOPTION_SHARE = 0.06
MAX_ADOPTION_INTERVAL = 1.5
#: At most this many step reports a second reach the GUI thread.
REPORT_RATE = 4.0
#: How much lower than the GUI thread's the scheduling priority is of the thread that feeds the
#: training process, and of that process (its workers inherit it): the GUI thread gets a core at
#: once whenever it has something to draw.
WORKER_NICE = 10
#: Training images run (in the training process) to count dead ReLUs, and how often (seconds).
HEALTH_PROBE = 64
HEALTH_INTERVAL = 0.25
#: Said of the last run's curves once the weights they describe are gone.
OUTDATED_NOTE = "Weights changed since this run (figures of weights that are gone)."
#: What the "from a folder" entries of the data menu hold instead of a source.
PICK_MNIST, PICK_IMAGES = "pick-mnist", "pick-images"
#: Digit presets, and the colour preset a new network starts from when the data are colour.
DIGIT_PRESETS = ("lenet5", "tiny", "mlp")
COLOUR_PRESET = "cifar-tutorial"


@dataclass(eq=False)
class TrainingRun:
    """One run: its number (the undo merge key), the network it trains (the document's entry),
    the undo index before its first snapshot, its settings and curves."""

    number: int
    network: NetworkEntry
    undo_index: int
    config: TrainConfig
    data: TrainingData
    history: TrainingHistory


def _conversion(contract) -> tuple:
    """What of a contract decides how images become inputs (not the class names)."""
    return contract.shape, contract.pipeline, contract.fit, contract.fill, contract.mean, \
        contract.std


def _format_seconds(seconds: float) -> str:
    if seconds != seconds:  # NaN: not known yet
        return "--:--"
    seconds = int(round(seconds))
    return f"{seconds // 60}:{seconds % 60:02d}"


class TrainingPanel(QWidget):
    """Data, network and hyperparameters; Start, Pause/Resume, Stop, Reset Weights, Save.

    Parameters
    ----------
    document : Document
    parent : QWidget, optional

    Signals
    -------
    error(str, str)
        Something the user must know (a failed load, a diverged or failed run): title, message.
    history_changed(TrainingHistory)
        A run started: the curves to show from now on.
    history_updated()
        Time to redraw the curves: after each adopted snapshot has been drawn, at the end of
        each epoch and of the run. It comes in a step of :attr:`stages`: slots that draw
        several views can queue them there with ``stages.run_next``.
    run_started(), run_ended(object)
        A run started (once its network is current and drawn); it ended (with its last
        :class:`~cnnviz.training.Progress`, or None when it failed), once its last weights and
        curves are drawn.
    history_outdated(str)
        The weights the last run's figures describe are gone (Reset Weights, an edit, Undo,
        another network): a note saying so, or "" when they are back (Redo).
    controls_changed()
        A run started loading, started, paused, resumed or ended: the Start, Pause and Stop
        buttons changed (the window's status bar follows them).

    Attributes
    ----------
    stages : Stages
        Redraws spread over turns of the event loop: the views of the network, then the curves
        (see :mod:`cnnviz.ui.shared.pacing`).
    save_requested()
        The user asked to save the network.
    """

    error = Signal(str, str)
    history_changed = Signal(object)
    history_updated = Signal()
    run_started = Signal()
    run_ended = Signal(object)
    history_outdated = Signal(str)
    save_requested = Signal()
    controls_changed = Signal()

    def __init__(self, document: Document, parent: QWidget | None = None):
        super().__init__(parent)
        self.document = document
        self.run: TrainingRun | None = None
        # (data, config) of a run whose Start was clicked, until its network is current.
        self._starting: tuple[TrainingData, TrainConfig] | None = None
        self._runs = 0
        self._adopted_at = self._next_adoption = 0.0
        self.stages = Stages(self)
        self.runner = TrainingRunner(self)
        self.runner.steps.connect(self._on_steps)
        self.runner.progress.connect(self._on_progress)
        self.runner.finished.connect(self._on_finished)
        self.runner.failed.connect(self._on_failed)
        self.loader = TrainingDataLoader(self)
        self.loader.loaded.connect(self._begin)
        self.loader.cancelled.connect(self._on_load_cancelled)
        self.loader.failed.connect(self._on_load_failed)

        # Two columns that fit a laptop's screen without scrolling: on the left what a run in
        # progress needs first (the buttons, its progress), then the data and the
        # hyperparameters; on the right the network, its layer list at full height.
        layout = QHBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        setup = QVBoxLayout()
        setup.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(setup, 2)
        setup.addLayout(self._build_buttons())
        self.progress_bar = QProgressBar(objectName="training_progress", maximum=100,
                                         textVisible=True, format="")
        self.rate_label = QLabel(objectName="training_rate")
        self.metrics_label = QLabel(objectName="training_metrics", wordWrap=True)
        self.status_label = QLabel("Choose the data and the network, then press Start.",
                                   objectName="training_status", wordWrap=True)
        for widget in (self.progress_bar, self.rate_label, self.metrics_label, self.status_label):
            setup.addWidget(widget)
        setup.addWidget(self._build_data_box())
        self.settings = HyperparameterBox()
        setup.addWidget(self.settings)
        setup.addStretch(1)
        layout.addWidget(self._build_network_box(), 3)
        # The network and weights token the last run's figures describe, whether they are still
        # the document's, and the texts that showed them.
        self._figures_of: tuple | None = None
        self._figures_current = True
        self._figures_texts: tuple | None = None
        document.model_changed.connect(self._on_model_changed)
        document.weights_changed.connect(self._check_figures)
        self._on_model_changed(document.network)

    # ----------------------------------------------------------------- building
    def _build_data_box(self) -> QGroupBox:
        box = QGroupBox("Data")
        self.data_combo = QComboBox(objectName="data_combo", minimumContentsLength=16,
                                    toolTip="The images to train on")
        self.data_combo.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        for source in (DataSource("mnist"), DataSource("offline"), DataSource("cifar10")):
            self.data_combo.addItem(source.title, source)
        self.data_combo.addItem("MNIST from a folder\u2026", PICK_MNIST)
        self.data_combo.addItem("Images from a folder\u2026", PICK_IMAGES)
        self.data_combo.setToolTip("The images to train on: digits (MNIST, drawn by cnnviz), "
                                   "CIFAR-10, or any folder of images laid out CLASS/*.png "
                                   "(optionally inside train/ and test/)")
        self._data_index = 0
        self.data_combo.activated.connect(self._on_data_chosen)
        self.count_spin = QSpinBox(objectName="count_spin", minimum=0, maximum=60000,
                                   singleStep=1000, specialValueText="all",
                                   toolTip="How many training images to use (all: MNIST's "
                                           f"60,000; {OFFLINE_DEFAULT_SIZE:,} offline digits; "
                                           "CIFAR-10's 50,000; every image of a folder)")
        self.validation_spin = QSpinBox(objectName="validation_spin", minimum=0, maximum=10000,
                                        value=5000, singleStep=500,
                                        toolTip="Images held out of training and scored after "
                                                "each epoch (at most a fifth of them)")
        form = QFormLayout(box)
        form.addRow("Images", self.data_combo)
        form.addRow("Training images", self.count_spin)
        form.addRow("Validation images", self.validation_spin)
        return box

    def _build_network_box(self) -> QGroupBox:
        box = QGroupBox("Network")
        self.network_combo = QComboBox(objectName="network_combo")
        self.network_combo.addItem("A new network: the layers below", "new")
        self.network_combo.addItem("The current network (continue training it)", "current")
        self.network_combo.currentIndexChanged.connect(self._update_controls)
        self.network_label = QLabel(objectName="network_check", wordWrap=True)
        source = self.data_source()
        self.editor = LayerListEditor(source.input_shape, len(source.class_names))
        self.editor.changed.connect(self._update_controls)
        layout = QVBoxLayout(box)
        layout.addWidget(self.network_combo)
        layout.addWidget(self.network_label)
        layout.addWidget(self.editor, 1)
        return box

    def _build_buttons(self) -> QHBoxLayout:
        self.start_button = QPushButton("Start", objectName="start_button", clicked=self.start,
                                        toolTip="Load the data if needed and start training")
        self.pause_button = QPushButton("Pause", objectName="pause_button",
                                        clicked=self._on_pause_clicked,
                                        toolTip="Pause or resume the run")
        self.stop_button = QPushButton("Stop", objectName="stop_button", clicked=self.stop,
                                       toolTip="Stop after the current step, keeping the weights")
        self.reset_button = QPushButton("Reset Weights", objectName="reset_weights_button",
                                        clicked=self.reset_weights,
                                        toolTip="Give the current network new random weights "
                                                "(from the seed) to train it from scratch; "
                                                "undoable")
        self.save_button = QPushButton("Save\u2026", objectName="save_network_button",
                                       toolTip="Save the current network")
        self.save_button.clicked.connect(self.save_requested)
        buttons = QGridLayout()
        for column, button in enumerate((self.start_button, self.pause_button, self.stop_button)):
            buttons.addWidget(button, 0, column)
        buttons.addWidget(self.reset_button, 1, 0, 1, 2)
        buttons.addWidget(self.save_button, 1, 2)
        return buttons

    # ----------------------------------------------------------------- state
    @property
    def running(self) -> bool:
        """A run is in progress (or its data are loading)."""
        return self.run is not None or self._starting is not None or self.loader.running

    def data_source(self) -> DataSource | None:
        data = self.data_combo.currentData()
        return data if isinstance(data, DataSource) else None

    def network_contract(self) -> tuple:
        """``(contract, fresh)``: the contract of the network the run trains before training
        (a new network's is the one its shape implies), and whether it is new."""
        if self.network_combo.currentData() == "new":
            shape = tuple(self.editor.input_shape)
            return default_contract(shape, (self.editor.classes,)), True
        return self.document.network.contract, False

    def config(self) -> TrainConfig:
        """The settings of a run as the controls show them."""
        config = self.settings.config(snapshot_interval=SNAPSHOT_INTERVAL,
                                      health_probe=HEALTH_PROBE, health_interval=HEALTH_INTERVAL)
        # As cnnviz train splits its batches, in the training process (TrainerProcess).
        return replace(config, workers=default_workers(config.batch_size), local_shard=True,
                       worker_nice=0)

    def problem(self) -> str | None:
        """Why Start cannot train now, or None."""
        if self.data_source() is None:
            return "Choose the images to train on."
        if self.network_combo.currentData() == "new":
            return self.editor.check.problem
        return self._current_network_problem()

    def _current_network_problem(self) -> str | None:
        """Why the current network cannot be trained on the chosen data, or None."""
        source, model = self.data_source(), self.document.model
        classes = len(source.class_names)
        what = ("digits" if source.digits else "CIFAR-10" if source.kind == "cifar10"
                else f"the images of {source.folder.name}")
        shape, outputs = tuple(model.input_shape), tuple(model.output_shape)
        if source.resizes:
            fits = len(shape) == 3 and shape[0] in (1, 3)
            needs = "1\u00d7H\u00d7W (grey) or 3\u00d7H\u00d7W (colour) images"
        else:
            fits, needs = shape == source.input_shape, f"{format_shape(source.input_shape)} images"
        if not fits or outputs != (classes,):
            return (f"The current network takes {format_shape(shape)} inputs and gives "
                    f"{format_shape(outputs)} outputs; training on {what} needs {needs} and "
                    f"{classes} class scores. Train a new network instead.")
        return None

    @Slot()
    def _update_controls(self) -> None:
        running = self.running
        paused = self.run is not None and self.runner.trainer is not None \
            and self.runner.trainer.paused
        new = self.network_combo.currentData() == "new"
        problem = self.problem()
        self.editor.setVisible(new)
        if new:
            self.network_label.setText("It becomes the current network when training starts "
                                       "(Undo brings back the one before).")
        else:
            self.network_label.setText(problem or f"{self.document.network.name}: training "
                                       "continues from its current weights.")
        self.start_button.setEnabled(not running and problem is None)
        self.start_button.setToolTip(problem or "Load the data if needed and start training")
        self.pause_button.setEnabled(self.run is not None)
        self.pause_button.setText("Resume" if paused else "Pause")
        self.stop_button.setEnabled(self.run is not None)
        self.reset_button.setEnabled(not running)
        for widget in (self.data_combo, self.count_spin, self.validation_spin,
                       self.network_combo, self.editor):
            widget.setEnabled(not running)
        self.settings.set_editable(not running)
        self.controls_changed.emit()

    @Slot(int)
    def _on_data_chosen(self, index: int) -> None:
        choice = self.data_combo.itemData(index)
        if isinstance(choice, DataSource):
            self._data_index = index
            self._data_changed()
            return
        if choice == PICK_MNIST:
            folder = QFileDialog.getExistingDirectory(self, "Folder with the four MNIST files")
            if folder:
                self.select_data(DataSource("folder", Path(folder)))
                return
        else:
            folder = QFileDialog.getExistingDirectory(
                self, "Folder of images, one folder per class (CLASS/*.png or train/ and test/)")
            if folder:
                self.select_image_folder(folder)
                return
        self.data_combo.setCurrentIndex(self._data_index)  # the choice before

    def select_image_folder(self, folder) -> bool:
        """Make the folder of images ``folder`` the data choice; a folder that is not one is
        refused with a message (the choice stays). True if it was chosen."""
        try:
            source = DataSource.probe(folder)
        except (DataError, OSError) as exc:
            self.data_combo.setCurrentIndex(self._data_index)
            self.error.emit("Cannot train on this folder", str(exc))
            return False
        self.select_data(source)
        return True

    def select_data(self, source: DataSource) -> None:
        """Make ``source`` the data choice (added to the menu if it is not there)."""
        combo = self.data_combo
        index = next((i for i in range(combo.count()) if combo.itemData(i) == source), -1)
        if index < 0:
            index = next(i for i in range(combo.count())
                         if not isinstance(combo.itemData(i), DataSource))
            combo.insertItem(index, source.title, source)  # before the "from a folder" entries
        else:
            combo.setItemData(index, source)  # a folder probed again: its classes may differ
            combo.setItemText(index, source.title)
        combo.setCurrentIndex(index)
        self._data_index = index
        self._data_changed()

    def _data_changed(self) -> None:
        """The data's shape and classes are the new network's: the layer editor checks its
        list against them (a digit preset left as it is becomes the colour preset for colour
        data, and back)."""
        source = self.data_source()
        if source is not None:
            shape, classes = source.input_shape, len(source.class_names)
            preset = self.editor.network_name
            if shape[0] == 3 and preset in DIGIT_PRESETS:
                preset = COLOUR_PRESET
            elif source.digits and preset not in DIGIT_PRESETS and preset != "custom":
                preset = "lenet5"
            self.editor.set_data_shape(shape, classes,
                                       refill=preset if preset != "custom" else None)
        self._update_controls()

    @Slot(object)
    def _on_model_changed(self, network) -> None:
        self.editor.set_current_model(network.model)
        if self.run is not None and network is not self.run.network:
            self.runner.stop()
            self.status_label.setText("Another network became current: the run stops.")
        self._check_figures()
        self._update_controls()

    # ----------------------------------------------------------------- actions
    @Slot()
    def start(self) -> None:
        """Load the data unless they are loaded already, then train."""
        if self.running or self.problem() is not None:
            return
        self.stages.flush()  # the last run's last weights, before a run that continues them
        choice = (self.data_source(), self.count_spin.value(), self.validation_spin.value(),
                  self.settings.seed, *self.network_contract())
        data = self.loader.cached(*choice)
        if data is not None:
            self._begin(data)
            return
        self.status_label.setText(f"Loading {choice[0].title}\u2026")
        self.loader.load(*choice)
        self._update_controls()

    @Slot(object)
    def _begin(self, data: TrainingData) -> None:
        """Start a run on ``data``, spread over turns of the event loop: this one disables the
        controls; the next makes the network current and starts the training process (and
        draws the network); the one after shows the curves."""
        self._starting = (data, self.config())
        self._update_controls()
        self.stages.run(self._launch)

    def _launch(self) -> None:
        if self._starting is None:
            return  # stopped (or the window closed) before it began
        (data, config), self._starting = self._starting, None
        self._figures_of = None  # the new run's figures replace them
        problem = self._data_problem(data)
        if problem is not None:
            self._update_controls()
            self.error.emit("Cannot train this network", problem)
            return
        if self.network_combo.currentData() == "new":
            name = self.editor.network_name
            try:
                model = build_network(self.editor.layers(), self.editor.input_shape,
                                      seed=config.seed, name=name, classes=self.editor.classes)
                # The contract the data gave it: class names, per-channel mean and std.
                self.document.set_network(NetworkEntry(model, contract=data.contract),
                                          f"New Network {name}")
            except (ModelError, SessionError) as exc:
                self._update_controls()
                self.error.emit("Cannot train this network", str(exc))
                return
        network = self.document.network
        trainer = TrainerProcess(network.model.copy(), data.train_x, data.train_y, data.val_x,
                                 data.val_y, config, nice=WORKER_NICE)
        self._runs += 1
        planned = config.epochs * -(-len(data.train_x) // config.batch_size)
        self.run = TrainingRun(self._runs, network, self.document.undo_stack.index(), config,
                               data, TrainingHistory(planned_steps=planned))
        self._next_adoption = 0.0
        self.runner.start(trainer, rate=REPORT_RATE, nice=WORKER_NICE)
        self.status_label.setText(f"Training {network.name} on {data.name}.")
        self._update_controls()
        # The new network's views are drawn in this turn; the curves (and the docks that show
        # them, the first time) in the next.
        run = self.run
        self.stages.run(lambda: self._announce(run))

    def _data_problem(self, data: TrainingData) -> str | None:
        """Why the loaded ``data`` cannot train the network chosen, in words, or None."""
        if self.network_combo.currentData() == "new":
            shape, outputs = tuple(self.editor.input_shape), self.editor.classes
        else:
            model = self.document.model
            shape, outputs = tuple(model.input_shape), math.prod(model.output_shape)
            current = self.document.network.contract
            if data.contract is not None and _conversion(data.contract) != _conversion(current):
                return ("The current network changed while its data were loading: press "
                        "Start again.")
        images = tuple(data.train_x.shape[1:])
        if images != shape:
            return (f"The network takes {format_shape(shape)} inputs; the images are "
                    f"{format_shape(images)}. Build a network for {format_shape(images)} images "
                    "(Start From a preset in the layer list) or choose other data.")
        labels = max(int(data.train_y.max(initial=0)), int(data.val_y.max(initial=0))) + 1
        if labels > outputs:
            return (f"The network gives {outputs} class scores; the images are of {labels} "
                    "classes. Choose the data again (its classes are counted when chosen), "
                    "then build a network for them.")
        return None

    def _announce(self, run: TrainingRun) -> None:
        if run is self.run:
            # Here, not in the click's turn: QProgressBar.setValue repaints at once, and with it
            # every view the new network left to repaint.
            self.progress_bar.setValue(0)
            self.history_changed.emit(run.history)
            self.run_started.emit()

    @Slot()
    def _on_pause_clicked(self) -> None:
        if self.runner.trainer.paused:
            self.resume()
        else:
            self.pause()

    def pause(self) -> None:
        """Hold the run after the current step."""
        if self.run is not None:
            self.runner.pause()
            self.status_label.setText("Paused: Resume goes on from here.")
            self._update_controls()

    def resume(self) -> None:
        if self.run is not None:
            self.runner.resume()
            self.status_label.setText(f"Training {self.run.network.name} on {self.run.data.name}.")
            self._update_controls()

    @Slot()
    def stop(self) -> None:
        """Stop the run after the current step (the network stays whole)."""
        if self._starting is not None:
            self._starting = None
            self.status_label.setText("Stopped before training began.")
            self._update_controls()
        if self.run is not None:
            self.runner.stop()
            self.status_label.setText("Stopping after this step\u2026")

    @Slot()
    def reset_weights(self) -> None:
        """New random weights for the current network, from the seed (one undo step)."""
        if self.running:
            return
        fresh = Sequential.from_config(self.document.model.config(), seed=self.settings.seed)
        self.document.set_weights(fresh.get_weights(), "Reset Weights at Random")
        self.status_label.setText("New random weights: press Start to watch the network learn.")

    def close_run(self, keep: bool) -> None:
        """Stop everything now, for closing the window: join the worker threads, then keep the
        weights the run reached (``keep``) or bring back those from before it.

        The run is over for good, even if the window then stays open (Cancel at "Save the
        changes?"): the panel shows it stopped, and Start can begin another."""
        self.loader.shutdown()
        self._starting = None
        self.stages.flush()
        run, self.run = self.run, None
        self.runner.shutdown()
        if run is not None and run.network is self.document.network:
            if keep:
                self._adopt(run, self.runner.trainer.model.get_weights())
            elif self.document.undo_stack.index() > run.undo_index:
                self.document.undo_stack.setIndex(run.undo_index)
        if run is None:
            self._update_controls()
            return
        final = self.runner.final
        if final is None:  # it failed, or did not end in time
            self.status_label.setText("The run was stopped as the window was closing.")
            self.rate_label.clear()
            self._update_controls()
            self.run_ended.emit(None)
        else:
            self._end_run(run, final, closing=True, kept=keep)

    # ----------------------------------------------------------------- loading
    @Slot()
    def _on_load_cancelled(self) -> None:
        self.status_label.setText("Loading cancelled.")
        self._update_controls()

    @Slot(str)
    def _on_load_failed(self, message: str) -> None:
        self.status_label.setText("The data could not be loaded.")
        self._update_controls()
        error = self.loader.runner.error
        if isinstance(error, (DataError, ContractError, ValueError)):
            message = str(error)  # the words of an expected failure, not its Python name
        self.error.emit("Cannot load the training data", message)

    # ----------------------------------------------------------------- training
    @Slot(object)
    def _on_steps(self, records) -> None:
        if self.run is not None:
            self.run.history.add_steps(records)

    @Slot(object)
    def _on_progress(self, report: Progress) -> None:
        run = self.run
        if run is None:
            return
        run.history.add_report(report)
        self._show_progress(report)
        adopt = report.weights is not None and time.perf_counter() >= self._next_adoption
        if adopt:
            self._adopted_at = time.perf_counter()
            self._next_adoption = math.inf  # until this one is drawn
            self.stages.run(partial(self._adopt, run, report.weights), self.history_updated.emit,
                            self._on_adoption_drawn)
        elif report.kind == "epoch":
            self.stages.run(self.history_updated.emit)

    def _on_adoption_drawn(self) -> None:
        cost = time.perf_counter() - self._adopted_at
        interval = min(max(SNAPSHOT_INTERVAL, cost / ADOPTION_SHARE), MAX_ADOPTION_INTERVAL)
        self._next_adoption = self._adopted_at + interval

    def _adopt(self, run: TrainingRun, weights: dict) -> None:
        """Make the document show ``weights`` (one undo step per run)."""
        if run.network is self.document.network:
            self.document.set_weights(weights, "Train Network", merge_key=("training", run.number))

    def _show_progress(self, report: Progress) -> None:
        self.progress_bar.setValue(int(report.fraction * 100))
        self.progress_bar.setFormat(f"epoch {report.epoch + 1}/{report.epochs} \u00b7 "
                                    f"{report.fraction:.0%}")
        self.rate_label.setText(f"{report.samples_per_s:,.0f} images/s \u00b7 "
                                f"{_format_seconds(report.eta)} left")
        history = self.run.history
        parts = [f"loss {history.smoothed_loss[-1]:.4f}" if len(history) else "",
                 f"training accuracy {report.accuracy:.1%}"]
        if len(history.val_accuracy):
            parts.append(f"validation accuracy {history.val_accuracy[-1]:.2%}")
        self.metrics_label.setText(" \u00b7 ".join(p for p in parts if p))

    @Slot(object)
    def _on_finished(self, final: Progress) -> None:
        run, self.run = self.run, None
        if run is None:
            return
        self.stages.flush()  # whatever is still waiting, then the last weights in turns again
        self.stages.run(partial(self._adopt, run, self.runner.trainer.model.get_weights()),
                        self.history_updated.emit, partial(self._end_run, run, final))
        self._update_controls()

    def _end_run(self, run: TrainingRun, final: Progress, closing: bool = False,
                 kept: bool = True) -> None:
        if kept:
            run.network.metadata = {**run.network.metadata,
                                    "last_training": self._summary(run, final)}
        done = {"finished": "Finished", "stopped": "Stopped", "diverged": "Diverged"}[final.kind]
        if closing:
            where = ("as the window was closing; the network keeps the weights it reached."
                     if kept else "as the window was closing; the weights from before the "
                     "run are back.")
            self.status_label.setText(f"{done} after {final.step:,} steps "
                                      f"({_format_seconds(final.elapsed)}) {where}")
        else:
            where = ("The trained network is the current one: Undo brings back the weights "
                     "from before." if run.network is self.document.network else
                     "Another network is current; the trained one is in the undo history.")
            self.status_label.setText(f"{done} after {final.step:,} steps "
                                      f"({_format_seconds(final.elapsed)}). {where}")
        if final.kind == "finished":
            self.progress_bar.setValue(100)
        else:
            self.progress_bar.setFormat(f"{done.lower()} at epoch {final.epoch + 1}/"
                                        f"{final.epochs} \u00b7 {final.fraction:.0%}")
        # Nothing is left to do: the rate of the run, no time left.
        self.rate_label.setText(f"{final.samples_per_s:,.0f} images/s \u00b7 "
                                f"{_format_seconds(final.elapsed)} in all")
        self._figures_of = (run.network, run.network.token) if kept else (run.network, None)
        self._figures_current = True
        self._figures_texts = (self.progress_bar.value(), self.progress_bar.format(),
                               self.rate_label.text(), self.metrics_label.text())
        self._check_figures()
        self._update_controls()
        if final.kind == "diverged":
            self.error.emit("Training diverged", final.message)
        self.run_ended.emit(final)

    @Slot()
    def _check_figures(self) -> None:
        """Mark the last run's figures (here and in the curves) as outdated once the weights
        they describe are no longer the document's, and bring them back if those return."""
        if self.run is not None or self._figures_of is None:
            return
        network, token = self._figures_of
        current = self.document.network is network and network.token == token
        if current == self._figures_current:
            return
        self._figures_current = current
        if current:
            value, text, rate, metrics = self._figures_texts
            self.progress_bar.setValue(value)
            self.progress_bar.setFormat(text)
            self.rate_label.setText(rate)
            self.metrics_label.setText(metrics)
            self.history_outdated.emit("")
        else:
            self.progress_bar.setValue(0)
            self.progress_bar.setFormat("")
            self.rate_label.clear()
            self.metrics_label.setText("The weights have changed since the last run: its "
                                       "loss and accuracy no longer describe them.")
            self.history_outdated.emit(OUTDATED_NOTE)

    @Slot(str)
    def _on_failed(self, message: str) -> None:
        self.stages.flush()
        self.run = None
        self.runner.shutdown()  # the worker has returned: this only joins its thread
        self.status_label.setText("Training failed; the weights of the last snapshot stay.")
        self._update_controls()
        self.error.emit("Training failed", message)
        self.run_ended.emit(None)

    @staticmethod
    def _summary(run: TrainingRun, final: Progress) -> dict:
        """What the network file records about the run."""
        cfg = run.config
        return {"status": final.kind, "data": run.data.name, "steps": final.step,
                "epochs": cfg.epochs, "batch_size": cfg.batch_size, "optimizer": cfg.optimizer,
                "lr": cfg.lr, "momentum": cfg.momentum, "weight_decay": cfg.weight_decay,
                "seed": cfg.seed, "augment": cfg.augment,
                "train_loss": float(final.loss) if math.isfinite(final.loss) else None,
                "val_accuracy": (None if not len(run.history.val_accuracy)
                                 else float(run.history.val_accuracy[-1])),
                "seconds": round(final.elapsed, 2), "trained_in": "cnnviz window"}
