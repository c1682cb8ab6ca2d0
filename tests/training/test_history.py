"""Training curves: every step kept once, smoothing, epochs and health, CSV export."""

import csv

import numpy as np
import pytest

from cnnviz.training import Progress
from cnnviz.training.health import NetworkHealth
from cnnviz.training.history import GrowingArray, TrainingHistory


def records(first, last, epoch=0, loss=1.0):
    steps = np.arange(first, last + 1)
    return np.column_stack([steps, np.full(len(steps), epoch), np.full(len(steps), loss),
                            steps / 100.0, np.full(len(steps), 1e-3)])


def report(kind="step", step=1, health=None, **extra):
    return Progress(kind, step, 0, 1, step, 10, 0.5, 0.5, 1e-3, 100.0, 1.0, health=health,
                    **extra)


def test_views_handed_out_do_not_change_when_the_array_grows():
    array = GrowingArray(2)
    array.append([1.0, 2.0])
    first = array.column(1)
    array.append(np.ones((500, 2)))
    assert first.tolist() == [2.0]
    assert len(array.column(0)) == 501
    with pytest.raises(ValueError):
        first[0] = 5.0  # read-only


def test_steps_are_kept_once_in_order_and_the_loss_is_smoothed():
    history = TrainingHistory(smoothing=0.5)
    history.add_steps(records(1, 3, loss=2.0))
    history.add_steps(records(3, 5, loss=4.0))    # step 3 arrives twice: kept once
    assert history.steps.tolist() == [1, 2, 3, 4, 5]
    assert history.loss.tolist() == [2, 2, 2, 4, 4]
    assert history.smoothed_loss[0] == pytest.approx(2.0)  # bias-corrected from the first step
    assert history.smoothed_loss[3] == pytest.approx((0.5 * 0.875 * 2 + 0.5 * 4) / 0.9375)
    assert 2.0 < history.smoothed_loss[-1] < 4.0


def test_a_non_finite_loss_does_not_poison_the_smoothed_curve():
    history = TrainingHistory(smoothing=0.5)
    history.add_steps(records(1, 2, loss=1.0))
    history.add_steps(records(3, 3, loss=np.nan))
    history.add_steps(records(4, 4, loss=1.0))
    assert np.isfinite(history.smoothed_loss).all()


def test_epochs_and_health_figures_are_recorded_once_per_step():
    history = TrainingHistory()
    history.add_steps(records(1, 10))
    first = NetworkHealth({"0 Conv2D": 1.0}, {"0 Conv2D": 0.1}, {"1 ReLU": 0.0})
    later = NetworkHealth({"0 Conv2D": 2.0, "3 Dense": 5.0}, {"0 Conv2D": 0.2, "3 Dense": 0.5},
                          {"1 ReLU": 0.25})
    history.add_report(report(step=4, health=first))
    history.add_report(report(step=10, health=later))
    history.add_report(report("epoch", step=10, health=later, val_accuracy=0.9, val_loss=0.3))
    assert history.val_steps.tolist() == [10] and history.val_accuracy.tolist() == [0.9]
    assert history.health_steps.tolist() == [4, 10]
    assert history.health("dead_relu")["1 ReLU"].tolist() == [0.0, 0.25]
    dense = history.health("weight_norms")["3 Dense"]
    assert np.isnan(dense[0]) and dense[1] == 5.0       # a layer first seen later


def test_the_csv_holds_one_row_per_step_with_the_sparse_columns_filled_where_measured(tmp_path):
    history = TrainingHistory()
    history.add_steps(records(1, 6))
    history.add_report(report(step=2, health=NetworkHealth({"0 Conv2D": 1.5}, {"0 Conv2D": 0.5},
                                                           {"1 ReLU": 0.125})))
    history.add_report(report("epoch", step=6, val_accuracy=0.75, val_loss=0.5))
    path = history.write_csv(tmp_path / "curves.csv")
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 6
    assert list(rows[0])[:8] == ["step", "epoch", "loss", "smoothed_loss", "train_accuracy", "lr",
                                 "val_accuracy", "val_loss"]
    assert rows[0]["epoch"] == "1" and float(rows[2]["train_accuracy"]) == 0.03
    assert rows[1]["dead_relu:1 ReLU"] == "0.125" and rows[1]["weight_norm:0 Conv2D"] == "1.5"
    assert rows[0]["dead_relu:1 ReLU"] == "" and rows[5]["val_accuracy"] == "0.75"
