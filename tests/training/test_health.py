"""Network health figures: norms per layer, dead ReLUs, and their place in the trainer's reports."""

import numpy as np
import pytest

from cnnviz.nn import Conv2D, Dense, Flatten, ReLU, Sequential
from cnnviz.training import TrainConfig, Trainer
from cnnviz.training.health import dead_relu_fractions, layer_norms, measure_health

NEW_MODULES = ("cnnviz.training.health", "cnnviz.training.history",
               "cnnviz.training.architecture", "cnnviz.training.sources")


def small_net(seed=0):
    return Sequential([Conv2D(out_channels=3, kernel_size=3, padding="same"), ReLU(), Flatten(),
                       Dense(out_features=4), ReLU(), Dense(out_features=2)], (1, 6, 6),
                      seed=seed)


@pytest.mark.parametrize("module", NEW_MODULES)
def test_the_new_training_modules_do_not_import_qt(run_python, module):
    result = run_python(["-c", f"import sys, {module}; "
                               "print([m for m in ('PySide6', 'pyqtgraph') if m in sys.modules])"])
    assert result.returncode == 0, result.stderr
    assert result.stdout == "[]\n"


def test_layer_norms_add_up_every_parameter_of_a_layer():
    model = small_net()
    norms = layer_norms(model, model.named_params())
    assert list(norms) == ["0 Conv2D", "3 Dense", "5 Dense"]
    conv = model.layers[0].params
    expected = np.sqrt((conv["weight"] ** 2).sum() + (conv["bias"] ** 2).sum())
    assert norms["0 Conv2D"] == pytest.approx(expected, rel=1e-6)


def test_a_unit_that_never_fires_counts_as_dead():
    model = small_net()
    conv, dense = model.layers[0].params, model.layers[3].params
    conv["weight"][1] = 0.0
    conv["bias"][1] = -1.0          # filter 1 is negative everywhere: its ReLU channel is dead
    dense["weight"][:2] = 0.0
    dense["bias"][:2] = -1.0        # two of the four dense units never fire
    dense["bias"][2:] = 10.0        # the two others always do
    x = np.random.default_rng(0).random((16, 1, 6, 6), dtype=np.float32)
    fractions = dead_relu_fractions(model, x)
    assert fractions["4 ReLU"] == pytest.approx(0.5)
    assert fractions["1 ReLU"] == pytest.approx(1 / 3)


def test_measure_health_reports_the_gradients_it_is_given():
    model = small_net()
    grads = {name: np.full_like(value, 2.0) for name, value in model.named_params().items()}
    health = measure_health(model, grads, np.zeros((4, 1, 6, 6), np.float32))
    size = sum(v.size for k, v in model.named_params().items() if k.startswith("5."))
    assert health.grad_norms["5 Dense"] == pytest.approx(2.0 * np.sqrt(size))
    assert set(health.dead_relu) == {"1 ReLU", "4 ReLU"}


def test_the_trainer_measures_health_with_snapshots_when_asked():
    rng = np.random.default_rng(1)
    x = rng.random((64, 1, 6, 6), dtype=np.float32)
    y = rng.integers(0, 2, 64)
    config = TrainConfig(epochs=2, batch_size=8, snapshot_interval=0.0, health_probe=16,
                         health_interval=0.0)
    reports = list(Trainer(small_net(), x, y, config=config).run())
    steps = [r for r in reports if r.kind == "step"]
    assert all(r.health is not None for r in steps)
    assert all(np.isfinite(list(r.health.grad_norms.values())).all() for r in steps)
    assert steps[0].health.weight_norms != steps[-1].health.weight_norms  # it trained
    without = list(Trainer(small_net(), x, y, config=TrainConfig(snapshot_interval=0.0)).run())
    assert all(r.health is None for r in without)
