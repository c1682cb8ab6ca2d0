"""The layer-list editor: a new network written as a table of layers.

Add, remove and reorder layers and set each one's settings; every row shows the shape its layer
outputs, computed as the list is edited (:func:`cnnviz.training.architecture.check_layers`), and
a line under the table explains the first thing that does not fit — a kernel larger than its
input, maps where class scores are due, the wrong number of classes — before training starts.
The list can start from a preset or from the current network's architecture.
"""

from __future__ import annotations

import copy

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QAction, QColor
from PySide6.QtWidgets import (QAbstractItemView, QComboBox, QDoubleSpinBox, QFormLayout,
                               QGroupBox, QHBoxLayout, QHeaderView, QLabel, QMenu, QPushButton,
                               QSpinBox, QTableWidget, QTableWidgetItem, QToolButton, QVBoxLayout,
                               QWidget)

from cnnviz.nn import PRESETS, Sequential, build_preset
from cnnviz.training.architecture import (LAYER_SETTINGS, ArchitectureCheck, Setting,
                                          check_layers, default_layer, describe_layer,
                                          editable_layers, format_shape)
from cnnviz.ui.shared.wheel_guard import guard_wheel

COLUMNS = ("Layer", "Settings", "Output", "Weights")
#: Colour of a row whose layer cannot be built.
ERROR_COLOUR = QColor(220, 60, 50)


class LayerListEditor(QWidget):
    """A table of layers with live output shapes, and the settings of the selected layer.

    Parameters
    ----------
    input_shape : tuple of int
        Shape of one training image (C, H, W).
    classes : int
        Number of classes the network must score.
    parent : QWidget, optional

    Signals
    -------
    changed()
        The list changed (read :attr:`check` for whether it makes a usable network).
    """

    changed = Signal()

    def __init__(self, input_shape=(1, 28, 28), classes: int = 10, parent: QWidget | None = None):
        super().__init__(parent)
        self.input_shape = tuple(input_shape)
        self.classes = classes
        self._layers: list[dict] = []
        self._origin = ""
        self.check: ArchitectureCheck = check_layers([], self.input_shape, classes)
        self._current_model: Sequential | None = None

        self.fill_button = QToolButton(text="Start From", objectName="fill_button",
                                       popupMode=QToolButton.ToolButtonPopupMode.InstantPopup,
                                       toolTip="Replace the list with a preset's layers or the "
                                               "current network's")
        fill_menu = QMenu(self.fill_button)
        for name in PRESETS:
            _add_action(fill_menu, f"Preset {name}", lambda name=name: self.fill_preset(name))
        self.fill_current_action = _add_action(fill_menu, "The Current Network",
                                               self.fill_current)
        self.fill_current_action.setEnabled(False)
        self.fill_button.setMenu(fill_menu)
        self.add_button = QToolButton(text="Add", objectName="add_layer_button",
                                      popupMode=QToolButton.ToolButtonPopupMode.InstantPopup,
                                      toolTip="Insert a layer after the selected one")
        add_menu = QMenu(self.add_button)
        for kind in LAYER_SETTINGS:
            _add_action(add_menu, kind, lambda kind=kind: self.add_layer(kind))
        self.add_button.setMenu(add_menu)
        self.remove_button = QPushButton("Remove", objectName="remove_layer_button",
                                         toolTip="Remove the selected layer",
                                         clicked=self.remove_layer)
        self.up_button = QPushButton("Up", objectName="layer_up_button",
                                     toolTip="Move the selected layer up",
                                     clicked=lambda: self.move_layer(-1))
        self.down_button = QPushButton("Down", objectName="layer_down_button",
                                       toolTip="Move the selected layer down",
                                       clicked=lambda: self.move_layer(1))
        # As narrow as their words: the style's 80 px minimum would make the Training panel too
        # wide for a 1024-pixel screen.
        for button in (self.remove_button, self.up_button, self.down_button):
            button.setMinimumWidth(button.fontMetrics().horizontalAdvance(button.text()) + 24)

        self.table = QTableWidget(0, len(COLUMNS), objectName="layer_table")
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 6)
        self.table.verticalHeader().hide()
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.table.setMinimumHeight(8 * self.table.verticalHeader().defaultSectionSize())
        self.table.itemSelectionChanged.connect(self._show_settings)

        self.settings_box = QGroupBox("Settings", objectName="layer_settings")
        self.settings_form = QFormLayout(self.settings_box)
        self.problem_label = QLabel(objectName="architecture_label", wordWrap=True)
        self.problem_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        tools = QHBoxLayout()
        for widget in (self.fill_button, self.add_button, self.remove_button, self.up_button,
                       self.down_button):
            tools.addWidget(widget)
        tools.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(tools)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.settings_box)
        layout.addWidget(self.problem_label)
        self.fill_preset("lenet5")

    # ----------------------------------------------------------------- reading
    def layers(self) -> list[dict]:
        """A copy of the layer list (settings dicts as ``layer_from_config`` takes them)."""
        return copy.deepcopy(self._layers)

    @property
    def network_name(self) -> str:
        """The preset's name while the list is the preset's, else ``"custom"``."""
        return self._origin or "custom"

    # ----------------------------------------------------------------- editing
    def set_layers(self, layers: list[dict], origin: str = "") -> None:
        """Replace the list (``origin``: the name of the preset it is, if any)."""
        self._layers = copy.deepcopy(list(layers))
        self._origin = origin
        self._update(select=0)

    @Slot(str)
    def fill_preset(self, name: str) -> None:
        """Fill the list with preset ``name``'s layers, its last layer scoring :attr:`classes`."""
        self.set_layers(editable_layers(build_preset(name, seed=0, outputs=self.classes)),
                        origin=name)

    def set_data_shape(self, input_shape, classes: int, refill: str | None = None) -> None:
        """The training images are now ``input_shape`` (C, H, W) images of ``classes`` classes:
        check the list against them, after refilling it with preset ``refill`` if given."""
        self.input_shape, self.classes = tuple(input_shape), int(classes)
        if refill is not None:
            self.fill_preset(refill)
        else:
            self._update(self.selected_row(), rebuild_form=False)

    def set_current_model(self, model: Sequential | None) -> None:
        """The network "Start From > The Current Network" copies (None: none to copy)."""
        self._current_model = model
        self.fill_current_action.setEnabled(model is not None)

    @Slot()
    def fill_current(self) -> None:
        """Fill the list with the layers of the current network (see :meth:`set_current_model`)."""
        if self._current_model is not None:
            self.set_layers(editable_layers(self._current_model))

    def add_layer(self, kind: str) -> None:
        """Insert a ``kind`` layer with default settings after the selected row."""
        row = self.selected_row()
        row = len(self._layers) if row is None else row + 1
        self._layers.insert(row, default_layer(kind))
        self._edited(select=row)

    @Slot()
    def remove_layer(self) -> None:
        """Remove the selected layer."""
        row = self.selected_row()
        if row is not None:
            del self._layers[row]
            self._edited(select=min(row, len(self._layers) - 1))

    def move_layer(self, offset: int) -> None:
        """Move the selected layer ``offset`` rows (-1 up, 1 down)."""
        row = self.selected_row()
        if row is None or not 0 <= row + offset < len(self._layers):
            return
        layers = self._layers
        layers[row], layers[row + offset] = layers[row + offset], layers[row]
        self._edited(select=row + offset)

    def set_setting(self, row: int, name: str, value) -> None:
        """Change one setting of layer ``row`` (pairs such as kernel sizes become square)."""
        spec = self._layers[row]
        spec[name] = [value, value] if isinstance(spec.get(name), list) else value
        self._edited(select=row, rebuild_form=False)

    def selected_row(self) -> int | None:
        rows = self.table.selectionModel().selectedRows()
        return rows[0].row() if rows else None

    # ----------------------------------------------------------------- showing
    def _edited(self, select: int | None, rebuild_form: bool = True) -> None:
        self._origin = ""
        self._update(select, rebuild_form)

    def _update(self, select: int | None, rebuild_form: bool = True) -> None:
        self.check = check_layers(self._layers, self.input_shape, self.classes)
        self.table.blockSignals(True)
        self.table.setRowCount(len(self._layers))
        for row, (spec, result) in enumerate(zip(self._layers, self.check.rows)):
            output = (format_shape(result.output_shape) if result.output_shape is not None
                      else ("cannot be built" if result.error else "\u2014"))
            texts = (f"{row}  {spec['kind']}", describe_layer(spec), output,
                     f"{result.params:,}" if result.params else "")
            for column, text in enumerate(texts):
                item = QTableWidgetItem(text)
                if result.error:
                    item.setForeground(ERROR_COLOUR)
                    item.setToolTip(result.error)
                self.table.setItem(row, column, item)
        if select is not None and 0 <= select < len(self._layers):
            self.table.selectRow(select)
        self.table.blockSignals(False)
        if rebuild_form:
            self._show_settings()
        self._show_problem()
        self.changed.emit()

    def _show_problem(self) -> None:
        check = self.check
        if check.ok:
            self.problem_label.setStyleSheet("")
            self.problem_label.setText(
                f"\u2713 {len(self._layers)} layers, {check.params:,} weights: "
                f"{format_shape(self.input_shape)} image \u2192 {self.classes} class scores.")
        else:
            self.problem_label.setStyleSheet(f"color: {ERROR_COLOUR.name()}")
            self.problem_label.setText(f"Cannot train this network. {check.problem}")

    @Slot()
    def _show_settings(self) -> None:
        """Rebuild the settings form for the selected layer."""
        while self.settings_form.rowCount():
            self.settings_form.removeRow(0)
        row = self.selected_row()
        for button in (self.remove_button, self.up_button, self.down_button):
            button.setEnabled(row is not None)
        if row is None:
            self.settings_box.setTitle("Settings")
            return
        spec = self._layers[row]
        self.settings_box.setTitle(f"Layer {row}: {spec['kind']}")
        settings = LAYER_SETTINGS.get(spec["kind"], ())
        if not settings:
            self.settings_form.addRow(QLabel("This layer has no settings."))
        for setting in settings:
            self.settings_form.addRow(setting.label, self._setting_widget(row, spec, setting))

    def _setting_widget(self, row: int, spec: dict, setting: Setting) -> QWidget:
        value = spec.get(setting.name, setting.default)
        if isinstance(value, list):
            value = value[0]
        name = f"setting_{setting.name}"
        if setting.kind == "choice":
            widget = QComboBox(objectName=name)
            widget.addItems(list(setting.choices))
            if str(value) not in setting.choices:
                widget.addItem(str(value))
            widget.setCurrentText(str(value))
            widget.currentTextChanged.connect(lambda text: self.set_setting(
                row, setting.name, int(text) if text.isdigit() else text))
            return guard_wheel(widget)
        if setting.kind == "int":
            widget = QSpinBox(objectName=name, minimum=int(setting.low),
                              maximum=int(setting.high), value=int(value))
        else:
            widget = QDoubleSpinBox(objectName=name, minimum=setting.low, maximum=setting.high,
                                    decimals=3, singleStep=0.05, value=float(value))
        widget.setKeyboardTracking(False)
        widget.valueChanged.connect(lambda v: self.set_setting(row, setting.name, v))
        return guard_wheel(widget)


def _add_action(menu: QMenu, text: str, function) -> QAction:
    """Add an action calling ``function()`` (with no arguments) to ``menu``."""
    action = QAction(text, menu)
    action.triggered.connect(lambda _checked=False: function())
    menu.addAction(action)
    return action
