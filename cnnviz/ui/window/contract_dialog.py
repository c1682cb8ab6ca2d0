"""Edit ▸ Network Input and Classes…: the editor of the current network's input contract.

A network opened from a file that does not say what it takes (most ONNX files) gets a default
contract (:func:`cnnviz.nn.contract.default_contract`): numbered classes, and the image pipeline
with values in [0, 1], or the digit pipeline at 1x28x28. Here the user names the classes (typed,
pasted, or read from a text file of one name per line, ImageNet's 1,000 included) and says how
an image becomes the input: digits or image, centre-crop or pad, and the per-channel mean and
standard deviation applied last. Every change is checked as it is typed; OK applies the whole
contract as one undo step (:meth:`~cnnviz.ui.window.document.Document.set_contract`), and Save
keeps it in the file (``.npz`` or ``.onnx``).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import Qt, Slot
from PySide6.QtGui import QAction, QFontDatabase
from PySide6.QtWidgets import (QComboBox, QDialog, QDialogButtonBox, QDoubleSpinBox, QFileDialog,
                               QFormLayout, QGroupBox, QHBoxLayout, QLabel, QLineEdit,
                               QPlainTextEdit, QPushButton, QVBoxLayout, QWidget)

from cnnviz.nn.contract import (IMAGENET_MEAN, IMAGENET_STD, MIN_DIGIT_SIDE, ContractError,
                                InputContract, changed_contract, channel_values,
                                class_names_from_lines, read_class_names)
from cnnviz.session import SessionError

#: The file types "Load from File…" offers.
NAMES_FILTER = "Text files (*.txt *.names *.csv);;All files (*)"

FIT_LABELS = {"crop": "Resize to cover it, centre-crop", "pad": "Resize to fit inside it, pad"}


def numbers_text(values) -> str:
    """``"0.485, 0.456, 0.406"``: a contract's mean or std as the dialog shows it."""
    return ", ".join(f"{v:g}" for v in values)


def pipelines_for(shape) -> list[str]:
    """The pipelines a network of input ``shape`` (C, H, W) can have in the window."""
    c, h, w = shape
    options = []
    if c == 1 and h == w and h >= MIN_DIGIT_SIDE:
        options.append("digits")
    if c in (1, 3):
        options.append("image")
    return options


class ContractDialog(QDialog):
    """The editor of a network's input contract; :attr:`contract` is the checked result.

    Parameters
    ----------
    contract : InputContract
        The contract to start from (the network's).
    outputs : int
        How many outputs (classes) the network has.
    name : str
        The network's name, for the title.
    parent : QWidget, optional
    """

    def __init__(self, contract: InputContract, outputs: int, name: str = "",
                 parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("contract_dialog")
        self.setWindowTitle(f"Network Input and Classes \u2013 {name}" if name else
                            "Network Input and Classes")
        self.original, self.outputs = contract, outputs
        self._load_notes: list[str] = []  # what reading the last file of names changed
        self.contract: InputContract | None = contract
        c, h, w = contract.shape
        colour = {1: "grey", 3: "RGB"}.get(c, f"{c} channels")
        heading = QLabel(
            f"The network takes {'an' if colour == 'RGB' else 'a'} {colour} input of "
            f"{h}\u00d7{w} and gives {outputs:,} class "
            f"scores. Say what its classes are called and how a drawing or a picture becomes "
            f"its input (a file that does not say gets numbered classes and values in [0, 1]).",
            wordWrap=True, objectName="contract_heading")

        # Classes
        self.names_edit = QPlainTextEdit(objectName="class_names_edit")
        self.names_edit.setPlaceholderText("One class name per line")
        self.names_edit.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.names_edit.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.names_edit.setPlainText("\n".join(contract.classes))
        self.names_count = QLabel(objectName="class_names_count", wordWrap=True)
        load = QPushButton("&Load from File\u2026", objectName="load_names_button",
                           toolTip="Read the names from a text file of one name per line")
        load.clicked.connect(self.load_names)
        number = QPushButton("&Number Them", objectName="number_names_button",
                             toolTip=f"Name the classes 0 to {outputs - 1}")
        number.clicked.connect(self.number_names)
        buttons = QHBoxLayout()
        buttons.addWidget(self.names_count, 1)
        buttons.addWidget(load)
        buttons.addWidget(number)
        classes = QGroupBox("&Classes, in the order of the network's outputs")
        box = QVBoxLayout(classes)
        box.addWidget(self.names_edit, 1)
        box.addLayout(buttons)

        # How an image becomes the input
        self.pipeline_combo = QComboBox(objectName="pipeline_combo")
        for pipeline in pipelines_for(contract.shape) or [contract.pipeline]:
            text = ("Digits: crop to the ink, centre by mass (MNIST)" if pipeline == "digits"
                    else f"Image: {colour}, scaled to [0, 1]" if pipeline == "image"
                    else "None")
            self.pipeline_combo.addItem(text, pipeline)
        self.pipeline_combo.setCurrentIndex(max(0, self.pipeline_combo.findData(
            contract.pipeline)))
        self.pipeline_combo.setEnabled(self.pipeline_combo.count() > 1)
        self.fit_combo = QComboBox(objectName="fit_combo")
        for fit, text in FIT_LABELS.items():
            self.fit_combo.addItem(text, fit)
        self.fit_combo.setCurrentIndex(self.fit_combo.findData(contract.fit))
        self.fill_spin = QDoubleSpinBox(objectName="fill_spin", minimum=0.0, maximum=1.0,
                                        singleStep=0.1, decimals=3, value=contract.fill,
                                        toolTip="The value of the padding, from 0 (black) to 1 "
                                                "(white)")
        self.mean_edit = QLineEdit(numbers_text(contract.mean), objectName="mean_edit",
                                   toolTip="Subtracted from each channel last: one number per "
                                           "channel, or one for all")
        self.std_edit = QLineEdit(numbers_text(contract.std), objectName="std_edit",
                                  toolTip="Each channel divided by it last (after the mean): "
                                          "one number per channel, or one for all; above 0")
        presets = QHBoxLayout()
        if c == 3:
            imagenet = QPushButton("&ImageNet", objectName="imagenet_button",
                                   toolTip="The mean and standard deviation of ImageNet's images "
                                           "(torchvision's and Keras's ImageNet networks)")
            imagenet.clicked.connect(lambda: self.set_normalisation(IMAGENET_MEAN,
                                                                    IMAGENET_STD))
            presets.addWidget(imagenet)
        plain = QPushButton("N&one", objectName="no_normalisation_button",
                            toolTip="No normalisation: mean 0, standard deviation 1")
        plain.clicked.connect(lambda: self.set_normalisation((0.0,) * c, (1.0,) * c))
        presets.addWidget(plain)
        presets.addStretch(1)
        pipeline = QGroupBox("&How an image becomes the input")
        form = QFormLayout(pipeline)
        form.addRow("Pipeline:", self.pipeline_combo)
        form.addRow("Fit:", self.fit_combo)
        form.addRow("Pad with:", self.fill_spin)
        form.addRow("Mean:", self.mean_edit)
        form.addRow("Standard deviation:", self.std_edit)
        form.addRow("", presets)
        self.description = QLabel(objectName="contract_description", wordWrap=True)
        self.description.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        form.addRow(self.description)

        self.problem_label = QLabel(objectName="contract_problem", wordWrap=True)
        self.problem_label.setStyleSheet("color: #c62828;")
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)

        columns = QHBoxLayout()
        columns.addWidget(classes, 1)
        columns.addWidget(pipeline, 1)
        layout = QVBoxLayout(self)
        layout.addWidget(heading)
        layout.addLayout(columns, 1)
        layout.addWidget(self.problem_label)
        layout.addWidget(self.buttons)

        self.names_edit.textChanged.connect(self.check)
        for combo in (self.pipeline_combo, self.fit_combo):
            combo.currentIndexChanged.connect(self.check)
        self.fill_spin.valueChanged.connect(self.check)
        self.mean_edit.textChanged.connect(self.check)
        self.std_edit.textChanged.connect(self.check)
        self.resize(820, 480)
        self.check()

    # ----------------------------------------------------------------- reading
    @property
    def ok_button(self) -> QPushButton:
        return self.buttons.button(QDialogButtonBox.StandardButton.Ok)

    def _build(self) -> tuple[InputContract, list[str]]:
        """The contract the fields say, and notes about the names; raises ContractError."""
        names, notes = class_names_from_lines(self.names_edit.toPlainText().splitlines())
        channels = self.original.channels
        mean = channel_values(self.mean_edit.text(), channels, "the mean")
        std = channel_values(self.std_edit.text(), channels, "the standard deviation")
        try:
            changed = changed_contract(
                self.original, classes=names, pipeline=self.pipeline_combo.currentData(),
                fit=self.fit_combo.currentData(), mean=mean, std=std)
        except ContractError as exc:  # in the words of the dialog's fields
            message = str(exc)
            if message.startswith("std "):
                message = "the standard deviation " + message[len("std "):]
            elif message.startswith("mean "):
                message = "the mean " + message[len("mean "):]
            raise ContractError(message) from None
        changed = replace(changed, fill=round(self.fill_spin.value(), 6))
        changed.check_network(changed.shape, (self.outputs,))
        return changed, notes

    @Slot()
    def check(self) -> None:
        """Check the fields as they are now: the problem in words, OK only when there is
        none."""
        image = self.pipeline_combo.currentData() == "image"
        self.fit_combo.setEnabled(image)
        self.fill_spin.setEnabled(image and self.fit_combo.currentData() == "pad")
        lines = sum(1 for line in self.names_edit.toPlainText().splitlines() if line.strip())
        try:
            self.contract, notes = self._build()
        except ContractError as exc:
            self.contract, notes = None, []
            message = str(exc)
            self.problem_label.setText(message[:1].upper() + message[1:] + ".")
        else:
            self.problem_label.setText("")
        count = f"{lines:,} name{'s' * (lines != 1)} for {self.outputs:,} outputs"
        self.names_count.setText("; ".join([count, *notes, *self._load_notes]))
        described = self.contract.describe_pipeline() if self.contract is not None else ""
        self.description.setText(described[:1].upper() + described[1:] + "." * bool(described))
        self.ok_button.setEnabled(self.contract is not None)

    # ----------------------------------------------------------------- actions
    def set_names(self, names) -> None:
        self._load_notes = []
        self.names_edit.setPlainText("\n".join(names))

    @Slot()
    def number_names(self) -> None:
        self.set_names(str(k) for k in range(self.outputs))

    def set_normalisation(self, mean, std) -> None:
        self.mean_edit.setText(numbers_text(mean))
        self.std_edit.setText(numbers_text(std))

    @Slot()
    def load_names(self, path: str | Path | None = None) -> bool:
        """Read the class names from a text file of one name per line (asks for it when
        ``path`` is None); a file that cannot be read leaves the names as they were and says
        why."""
        if not path:
            path, _ = QFileDialog.getOpenFileName(self, "Load Class Names", "", NAMES_FILTER)
            if not path:
                return False
        try:
            names, notes = read_class_names(path)
        except OSError as exc:
            self.problem_label.setText(f"{Path(path).name} cannot be read: "
                                       f"{exc.strerror or exc}.")
            return False
        except ContractError as exc:
            self.problem_label.setText(f"{Path(path).name}: {exc}.")
            return False
        self.set_names(names)  # the repeated names numbered, so that the list shows them so
        self._load_notes = [f"in the file, {note}" for note in notes]
        self.check()
        return True


def add_contract_action(window, menu) -> QAction:
    """Add Network Input and Classes… to ``menu`` of the main ``window``: it opens the dialog
    (window-modal, not blocking) and applies its contract to the document as one undo step."""
    action = QAction("Network &Input and Classes\u2026", window, objectName="contract_action",
                     toolTip="Name the classes and say how an image becomes the input",
                     statusTip="Edit the current network's class names, pipeline and "
                               "normalisation (undoable; Save keeps them in the file)")

    def edit() -> None:
        document = window.document
        panel = getattr(window, "training_panel", None)
        if panel is not None and panel.running:
            window.show_error("Network Input and Classes",
                              "The network is training on images made as its input description "
                              "says: stop the training first.")
            return
        network = document.network
        dialog = ContractDialog(network.contract, len(network.classes), network.name, window)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)

        def finished(result: int) -> None:
            if result != QDialog.DialogCode.Accepted or dialog.contract is None:
                return
            if document.network is not network:  # another network opened meanwhile
                return
            try:
                document.set_contract(dialog.contract)
            except SessionError as exc:
                window.show_error("Network Input and Classes", str(exc))
                return
            window.statusBar().showMessage(f"{network.name}: input and classes changed", 5000)

        dialog.finished.connect(finished)
        dialog.open()

    action.triggered.connect(edit)
    window.contract_action = action
    menu.addAction(action)
    return action


def apply_contract_changes(window, changes: dict) -> bool:
    """Change the current network's contract as the command line says (``cnnviz gui --model M
    --classes FILE ...``: keyword arguments of :func:`~cnnviz.nn.contract.changed_contract`);
    what does not fit is reported with the options named, and nothing changes."""
    document = window.document
    try:
        contract = changed_contract(document.network.contract, **changes)
        document.set_contract(contract, "Input and Classes from the Command Line")
    except (ContractError, SessionError) as exc:
        given = " ".join(f"--{key}" for key in changes)
        window.report_error("Network Input and Classes", f"{given}: {exc}")
        return False
    return True
