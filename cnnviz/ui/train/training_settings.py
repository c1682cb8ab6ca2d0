"""The hyperparameters of a training run, as a form: optimiser, learning rate and its schedule,
momentum, batch size, epochs, weight decay, seed and augmentation."""

from __future__ import annotations

from PySide6.QtCore import Slot
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDoubleSpinBox, QFormLayout, QGroupBox,
                               QHBoxLayout, QSpinBox, QWidget)

from cnnviz.training import TrainConfig

#: Each optimiser's starting learning rate in the window.  With the rate annealed to zero over the
#: run (on by default) these are higher than ``cnnviz train``'s constant-rate defaults: lenet5 then
#: reaches about 98.5% on MNIST's test set in one epoch.
DEFAULT_LR = {"adam": 5e-3, "sgd": 5e-2}


class HyperparameterBox(QGroupBox):
    """The hyperparameters form; :meth:`config` reads it.

    Switching the optimiser switches the learning rate to the new one's usual value unless the
    user changed it; momentum and Nesterov apply to SGD only.
    """

    def __init__(self, parent: QWidget | None = None):
        super().__init__("Hyperparameters", parent)
        self.optimizer_combo = QComboBox(objectName="optimizer_combo")
        self.optimizer_combo.addItem("Adam", "adam")
        self.optimizer_combo.addItem("SGD", "sgd")
        self.lr_spin = QDoubleSpinBox(objectName="lr_spin", decimals=5, minimum=1e-5,
                                      maximum=10.0, value=DEFAULT_LR["adam"],
                                      stepType=QDoubleSpinBox.StepType.AdaptiveDecimalStepType)
        self.momentum_spin = QDoubleSpinBox(objectName="momentum_spin", decimals=3, minimum=0.0,
                                            maximum=0.999, value=0.9, singleStep=0.05)
        self.nesterov_check = QCheckBox("Nesterov", objectName="nesterov_check")
        momentum = QHBoxLayout()
        momentum.addWidget(self.momentum_spin, 1)
        momentum.addWidget(self.nesterov_check)
        self.batch_spin = QSpinBox(objectName="batch_spin", minimum=1, maximum=4096, value=64)
        self.epochs_spin = QSpinBox(objectName="epochs_spin", minimum=1, maximum=1000, value=1)
        self.decay_spin = QDoubleSpinBox(objectName="decay_spin", decimals=5, minimum=0.0,
                                         maximum=1.0, singleStep=1e-4)
        self.seed_spin = QSpinBox(objectName="seed_spin", minimum=0, maximum=2**31 - 1,
                                  toolTip="Seeds the new weights, the order of the images and "
                                          "the validation split")
        self.augment_check = QCheckBox("Distort the training images (augmentation)",
                                       objectName="augment_check")
        self.cosine_check = QCheckBox(
            "Anneal the learning rate to zero (cosine)", objectName="cosine_check", checked=True,
            toolTip="Lower the learning rate along half a cosine, step by step, to zero at the "
                    "end of the run: large steps early, fine ones late")
        form = QFormLayout(self)
        for label, widget in (("Optimiser", self.optimizer_combo), ("Learning rate", self.lr_spin),
                              ("Momentum", momentum), ("Batch size", self.batch_spin),
                              ("Epochs", self.epochs_spin), ("Weight decay", self.decay_spin),
                              ("Seed", self.seed_spin)):
            form.addRow(label, widget)
        form.addRow(self.cosine_check)
        form.addRow(self.augment_check)
        self.optimizer_combo.currentIndexChanged.connect(self._on_optimizer_changed)
        self._on_optimizer_changed()

    @property
    def seed(self) -> int:
        return self.seed_spin.value()

    def config(self, **extra) -> TrainConfig:
        """The settings the form shows; ``extra``: further :class:`TrainConfig` fields."""
        return TrainConfig(
            epochs=self.epochs_spin.value(), batch_size=self.batch_spin.value(),
            optimizer=self.optimizer_combo.currentData(), lr=self.lr_spin.value(),
            momentum=self.momentum_spin.value(), nesterov=self.nesterov_check.isChecked(),
            weight_decay=self.decay_spin.value(), seed=self.seed_spin.value(),
            augment=self.augment_check.isChecked(), cosine=self.cosine_check.isChecked(),
            **extra)

    def set_editable(self, editable: bool) -> None:
        """Allow changes (or not, while a run uses the settings)."""
        for widget in (self.optimizer_combo, self.lr_spin, self.batch_spin, self.epochs_spin,
                       self.decay_spin, self.seed_spin, self.augment_check, self.cosine_check):
            widget.setEnabled(editable)
        sgd = self.optimizer_combo.currentData() == "sgd"
        self.momentum_spin.setEnabled(editable and sgd)
        self.nesterov_check.setEnabled(editable and sgd)

    @Slot()
    def _on_optimizer_changed(self) -> None:
        if self.lr_spin.value() in DEFAULT_LR.values():
            self.lr_spin.setValue(DEFAULT_LR[self.optimizer_combo.currentData()])
        self.set_editable(self.optimizer_combo.isEnabled())
