"""The curves of one training run, appended as its reports arrive, and their CSV export.

:class:`TrainingHistory` keeps every step's loss, running accuracy and learning rate (from
:class:`StepRecords`, which the window's worker collects for every step, so that throttling the
reports to a few a second loses no point of the curves), the validation figures of every epoch,
and the health figures of every snapshot (:class:`~cnnviz.training.health.NetworkHealth`).
The arrays it hands out are views that later appends never change. No Qt here.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np

from cnnviz.fileio import atomic_write

from .health import NetworkHealth
from .trainer import Progress

__all__ = ["STEP_FIELDS", "GrowingArray", "TrainingHistory", "step_record"]

#: Columns of the step records: step number (1-based), epoch (0-based), loss, running accuracy
#: of the epoch so far, learning rate.
STEP_FIELDS = ("step", "epoch", "loss", "accuracy", "lr")


def step_record(report: Progress) -> tuple[float, ...]:
    """The :data:`STEP_FIELDS` of a step report."""
    return (report.step, report.epoch, report.loss, report.accuracy, report.lr)


class GrowingArray:
    """A float64 array of rows of ``width`` values that grows by appending (amortised O(1))."""

    def __init__(self, width: int = 1):
        self._data = np.zeros((64, width))
        self._size = 0

    def __len__(self) -> int:
        return self._size

    def append(self, rows) -> None:
        """Append rows: an (n, width) array or a sequence of ``width`` values for one row."""
        rows = np.asarray(rows, dtype=np.float64).reshape(-1, self._data.shape[1])
        end = self._size + len(rows)
        if end > len(self._data):
            grown = np.zeros((max(end, 2 * len(self._data)), self._data.shape[1]))
            grown[:self._size] = self._data[:self._size]
            self._data = grown  # views handed out before keep the old buffer, unchanged
        self._data[self._size:end] = rows
        self._size = end

    def column(self, index: int = 0) -> np.ndarray:
        """Column ``index`` of the rows so far: a read-only (n,) view."""
        view = self._data[:self._size, index]
        view.flags.writeable = False
        return view


class TrainingHistory:
    """Everything the curves of one run show.

    Parameters
    ----------
    smoothing : float
        Weight of the past in the smoothed loss, 0..1 (an exponential moving average with bias
        correction, as TensorBoard's; 0 leaves the loss as it is).
    planned_steps : int, optional
        How many steps the run will take, when known (plots can be laid out for the whole run).
    """

    def __init__(self, smoothing: float = 0.95, planned_steps: int | None = None):
        if not 0.0 <= smoothing < 1.0:
            raise ValueError(f"smoothing must be in [0, 1), got {smoothing}")
        self.smoothing = smoothing
        self.planned_steps = planned_steps
        self._steps = GrowingArray(len(STEP_FIELDS) + 1)    # + the smoothed loss
        self._epochs = GrowingArray(3)                      # step, validation accuracy, loss
        self._health_steps = GrowingArray(1)
        self._health: dict[str, dict[str, GrowingArray]] = {
            "weight_norms": {}, "grad_norms": {}, "dead_relu": {}}
        self._average = 0.0
        self._weight_sum = 0.0

    # ----------------------------------------------------------------- appending
    def add_steps(self, records) -> None:
        """Append step records: an (n, 5) array of :data:`STEP_FIELDS` rows, in step order."""
        records = np.asarray(records, dtype=np.float64).reshape(-1, len(STEP_FIELDS))
        last = self.steps[-1] if len(self._steps) else 0
        records = records[records[:, 0] > last]  # a record delivered twice is kept once
        smoothed = np.empty(len(records))
        for i, loss in enumerate(records[:, 2]):
            if math.isfinite(loss):
                self._average = self.smoothing * self._average + (1 - self.smoothing) * loss
                self._weight_sum = self.smoothing * self._weight_sum + (1 - self.smoothing)
            smoothed[i] = self._average / self._weight_sum if self._weight_sum else math.nan
        self._steps.append(np.column_stack([records, smoothed]))

    def add_report(self, report: Progress) -> None:
        """Take the validation figures of an epoch report and the health figures of any report."""
        if report.kind == "epoch" and report.val_accuracy is not None:
            self._epochs.append((report.step, report.val_accuracy, report.val_loss))
        if report.health is not None:
            self._add_health(report.step, report.health)

    def _add_health(self, step: int, health: NetworkHealth) -> None:
        if len(self._health_steps) and self._health_steps.column()[-1] >= step:
            return  # an epoch report repeats its last step's figures
        count = len(self._health_steps)
        for kind, values in self._health.items():
            for label, value in getattr(health, kind).items():
                if label not in values:  # NaN before a layer's first figure
                    values[label] = GrowingArray()
                    values[label].append(np.full(count, np.nan))
                values[label].append(value)
            for series in values.values():
                if len(series) == count:
                    series.append(np.nan)
        self._health_steps.append(step)

    # ----------------------------------------------------------------- reading
    def __len__(self) -> int:
        """Number of steps recorded."""
        return len(self._steps)

    @property
    def steps(self) -> np.ndarray:
        """(n,) step numbers, 1-based."""
        return self._steps.column(0)

    @property
    def epochs(self) -> np.ndarray:
        """(n,) epoch of each step, 0-based."""
        return self._steps.column(1)

    @property
    def loss(self) -> np.ndarray:
        """(n,) training loss of each step's batch."""
        return self._steps.column(2)

    @property
    def accuracy(self) -> np.ndarray:
        """(n,) running training accuracy of the epoch up to each step, 0..1."""
        return self._steps.column(3)

    @property
    def lr(self) -> np.ndarray:
        """(n,) learning rate of each step."""
        return self._steps.column(4)

    @property
    def smoothed_loss(self) -> np.ndarray:
        """(n,) the loss smoothed as :attr:`smoothing` says."""
        return self._steps.column(5)

    @property
    def val_steps(self) -> np.ndarray:
        """(m,) the step at which each epoch's validation was measured."""
        return self._epochs.column(0)

    @property
    def val_accuracy(self) -> np.ndarray:
        """(m,) validation accuracy after each epoch, 0..1."""
        return self._epochs.column(1)

    @property
    def val_loss(self) -> np.ndarray:
        """(m,) validation loss after each epoch."""
        return self._epochs.column(2)

    @property
    def health_steps(self) -> np.ndarray:
        """(k,) the steps at which health figures were measured."""
        return self._health_steps.column()

    def health(self, kind: str) -> dict[str, np.ndarray]:
        """Health series by layer label: ``kind`` is ``"weight_norms"``, ``"grad_norms"`` or
        ``"dead_relu"``; each array is (k,), aligned with :attr:`health_steps`."""
        return {label: series.column() for label, series in self._health[kind].items()}

    # ----------------------------------------------------------------- export
    def csv_header(self) -> list[str]:
        """Column names of :meth:`write_csv`."""
        header = ["step", "epoch", "loss", "smoothed_loss", "train_accuracy", "lr",
                  "val_accuracy", "val_loss"]
        for kind, values in self._health.items():
            header += [f"{kind[:-1] if kind.endswith('s') else kind}:{label}" for label in values]
        return header

    def write_csv(self, path: str | Path) -> Path:
        """Write one row per step to ``path`` (UTF-8 CSV with a header line).

        ``epoch`` is 1-based; the validation columns are filled on the last step of each epoch,
        the health columns (``weight_norm:<layer>``, ``grad_norm:<layer>``, ``dead_relu:<layer>``)
        on the steps that had a snapshot; other cells are empty.
        """
        path = Path(path)
        n = len(self._steps)
        columns = [self.steps, self.epochs + 1, self.loss, self.smoothed_loss, self.accuracy,
                   self.lr]
        row_of = {int(step): i for i, step in enumerate(self.steps)}
        sparse = [(self.val_steps, self.val_accuracy), (self.val_steps, self.val_loss)]
        sparse += [(self.health_steps, series) for kind in self._health
                   for series in self.health(kind).values()]
        extra = np.full((n, len(sparse)), np.nan)
        for j, (steps, values) in enumerate(sparse):
            for step, value in zip(steps, values):
                if int(step) in row_of:
                    extra[row_of[int(step)], j] = value
        with atomic_write(path, "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(self.csv_header())
            for i in range(n):
                row = [int(columns[0][i]), int(columns[1][i])] + [_cell(c[i]) for c in columns[2:]]
                writer.writerow(row + [_cell(v) for v in extra[i]])
        return path


def _cell(value: float) -> str:
    """A CSV cell: the number with full precision, or empty for NaN."""
    return "" if math.isnan(value) else repr(float(value))
