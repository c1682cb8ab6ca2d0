"""The Network Health panel: dead ReLUs, weight norms and gradient norms of every layer, live.

The figures come from the training thread with each snapshot of the weights (see
:mod:`cnnviz.training.health`); this panel only draws the
:class:`~cnnviz.training.history.TrainingHistory` that collects them. With too high a learning
rate, the gradient norms leap and the dead-ReLU curves climb towards 100 %: the units have been
pushed to where they never fire again, and the loss stops falling.
"""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtWidgets import QWidget

from cnnviz.ui.train.training_curves import SERIES_COLOURS, PlotStack

#: (history kind, plot key, y-axis label, log y, y range)
SERIES = (("dead_relu", "dead", "dead ReLUs %", False, (0, 100)),
          ("weight_norms", "weights", "weight norm", True, None),
          ("grad_norms", "gradients", "gradient norm", True, None))

#: Above this fraction of dead units in any ReLU layer, the summary warns.
DEAD_WARNING = 0.5


class NetworkHealthView(PlotStack):
    """One curve per layer: the fraction of dead units of each ReLU layer, and the L2 norms of
    each layer's weights and of its last gradient."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__([(key, label, log, y_range) for _, key, label, log, y_range in SERIES],
                         "health", parent)
        self.curves: dict[tuple[str, str], pg.PlotDataItem] = {}
        self.apply_palette()
        self.refresh()

    def data_version(self) -> tuple:
        return (len(self.history.health_steps),)

    def draw(self) -> None:
        h = self.history
        wanted = {(kind, label) for kind, *_ in SERIES for label in h.health(kind)}
        if wanted != set(self.curves):
            self._make_curves(h)
        steps = h.health_steps
        for (kind, label), curve in self.curves.items():
            values = h.health(kind)[label]
            curve.setData(steps, values * 100.0 if kind == "dead_relu" else values,
                          connect="finite")
        self.summary_label.setText(self._summary())

    def _make_curves(self, history) -> None:
        """One curve per layer, the same colour for the same layer in every plot."""
        for key in self.plots:
            self.plots[key].clear()
        self.curves.clear()
        labels = list(dict.fromkeys(label for kind, *_ in SERIES
                                    for label in history.health(kind)))
        labels.sort(key=lambda label: int(label.split()[0]))
        colours = {label: SERIES_COLOURS[i % len(SERIES_COLOURS)]
                   for i, label in enumerate(labels)}
        self.set_key([(colour, f"layer {label}") for label, colour in colours.items()])
        for kind, key, *_ in SERIES:
            for label in history.health(kind):
                colour = colours[label]
                self.curves[(kind, label)] = self.plots[key].plot(
                    name=label, pen=pg.mkPen(colour, width=2))
        self.apply_palette()

    def _summary(self) -> str:
        h = self.history
        if not len(h.health_steps):
            return ("Start training to see each layer's dead ReLUs (units that never fire on "
                    "any of the probe images) and its weight and gradient norms.")
        dead = {label: values[-1] for label, values in h.health("dead_relu").items()}
        text = "Dead ReLUs now: " + (", ".join(f"layer {label} {value:.0%}"
                                               for label, value in dead.items()) or "none")
        if any(value > DEAD_WARNING for value in dead.values()):
            text += (" \u2014 many units no longer fire: the learning rate is probably too "
                     "high.")
        return text
