"""How well the window keeps up while a network trains in it.

Trains ``lenet5`` on MNIST for one epoch (batch 64 and the window's other default
hyperparameters, 5,000 images held out for validation) from the Training panel of the real main window,
with every panel shown and the weights adopted live (a few snapshots a second), while a 10 ms
timer probes the GUI thread's event loop: how late each tick comes is how long a click or a key
would wait. In the same process, before and after, the same training runs headless (the
:class:`~cnnviz.training.Trainer` iterated directly with the same hyperparameters, as
``cnnviz train`` does) to give the throughput the window is compared with. Then the networks
trained in the window and headless are scored on MNIST's test set.

Usage::

    CNNVIZ_MNIST_DIR=/path/to/mnist python benchmarks/ui_training.py [--limit N]

Runs headless (``QT_QPA_PLATFORM=offscreen`` unless a platform is set). On a busy machine the
figures are noisy: run it more than once and quote the medians.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
from PySide6.QtCore import QEventLoop, QSettings, QStandardPaths, Qt, QTimer  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402
from PySide6.QtWidgets import QApplication, QMessageBox  # noqa: E402

#: Interval of the probe timer, seconds.
PROBE = 0.010


def headless_run(data, config):
    """One run of lenet5 trained by the bare Trainer (no window) with ``config``, as
    ``cnnviz train`` runs it: (images per second, the trained network)."""
    from cnnviz.nn import build_preset
    from cnnviz.training import Trainer

    trainer = Trainer(build_preset("lenet5", seed=config.seed), data.train_x, data.train_y,
                      data.val_x, data.val_y, config)
    last = None
    for last in trainer.run():
        pass
    return last.samples_per_s, trainer.model


def cli_config(panel):
    """What ``cnnviz train`` would run with the hyperparameters the panel shows: no snapshots, no
    health probes, and the first shard of each batch in the main process."""
    from dataclasses import replace

    return replace(panel.config(), snapshot_interval=None, health_probe=0, local_shard=True,
                   worker_nice=0)


class Probe:
    """A 10 ms timer in the GUI thread that records when each tick really came."""

    def __init__(self):
        self.times: list[float] = []
        self.timer = QTimer(interval=int(PROBE * 1000), timerType=Qt.TimerType.PreciseTimer)
        self.timer.timeout.connect(self._tick)

    def start(self) -> None:
        self.times = [time.perf_counter()]
        self.timer.start()

    def stop(self) -> np.ndarray:
        """Stop; the intervals between ticks, seconds."""
        self.timer.stop()
        return np.diff(self.times)

    def _tick(self) -> None:
        self.times.append(time.perf_counter())


def prepare_panel(window, data_source, limit: int, seed: int) -> None:
    """Set the Training panel up for the run: a new lenet5, one epoch of batch 64."""
    panel = window.training_panel
    panel.select_data(data_source)
    panel.count_spin.setValue(limit)
    panel.validation_spin.setValue(5000)
    panel.network_combo.setCurrentIndex(panel.network_combo.findData("new"))
    panel.editor.fill_preset("lenet5")
    panel.settings.epochs_spin.setValue(1)
    panel.settings.batch_spin.setValue(64)
    panel.settings.seed_spin.setValue(seed)
    window.show_workspace("train")   # as a user does to press Start


def preload(panel) -> None:
    """Load the panel's data now (as Start would, in its worker thread), so that the probe of
    the event loop measures training and not loading."""
    loader = panel.loader
    choice = (panel.data_source(), panel.count_spin.value(), panel.validation_spin.value(),
              panel.settings.seed)
    if loader.cached(*choice) is None:
        loader.blockSignals(True)  # keep the data, do not start a run yet
        loader.load(*choice)
        while loader.cached(*choice) is None or loader.running:
            QTest.qWait(20)
        loader.blockSignals(False)


def train_in_window(window, data_source, limit: int, seed: int):
    """Train from the window's Training panel, probing the event loop from the click on Start
    to the end of the run; returns (last report, tick intervals, snapshots adopted)."""
    panel = window.training_panel
    prepare_panel(window, data_source, limit, seed)
    preload(panel)
    probe, loop, result, adopted = Probe(), QEventLoop(), {}, []
    panel.run_ended.connect(lambda final: (result.update(final=final,
                                                        intervals=probe.stop()), loop.quit()))
    window.document.weights_changed.connect(lambda: adopted.append(1))
    probe.start()
    QTest.mouseClick(panel.start_button, Qt.MouseButton.LeftButton)
    if not panel.running:
        raise RuntimeError("Start did not start a run: " + panel.status_label.text())
    loop.exec()
    intervals = result["intervals"]
    if len(intervals):
        at = np.cumsum(intervals)
        worst = np.argsort(intervals)[-3:][::-1]
        print("  longest waits: " + ", ".join(
            f"{intervals[i] * 1e3:.0f} ms at {at[i] - intervals[i]:.2f} s of {at[-1]:.2f} s"
            for i in worst))
    return result["final"], intervals, len(adopted)


def describe(intervals: np.ndarray) -> str:
    ms = intervals * 1e3
    late = np.maximum(ms - PROBE * 1e3, 0)
    return (f"{len(ms)} ticks of a {PROBE * 1e3:.0f} ms timer: interval median "
            f"{np.median(ms):.1f} ms, p99 {np.percentile(ms, 99):.1f} ms, max {ms.max():.1f} ms "
            f"(lateness p50 {np.median(late):.1f}, p99 {np.percentile(late, 99):.1f}, max "
            f"{late.max():.1f} ms)")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit", type=int, default=0,
                        help="train on the first N MNIST images only (0: all 60,000)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rounds", type=int, default=2,
                        help="epochs in the window, each between two headless ones")
    parser.add_argument("--profile", action="store_true",
                        help="also print where the GUI thread's time goes (cProfile)")
    args = parser.parse_args(argv)

    from cnnviz.ui.window.app import prepare_gui_process

    prepare_gui_process()  # as cnnviz.ui.window.app.run_app does
    # The window as it first opens, whatever layout this computer's settings hold, and nothing
    # written to them.
    QStandardPaths.setTestModeEnabled(True)
    for settings_format in (QSettings.Format.NativeFormat, QSettings.Format.IniFormat):
        QSettings.setPath(settings_format, QSettings.Scope.UserScope, tempfile.mkdtemp())
    app = QApplication.instance() or QApplication(["cnnviz"])
    from cnnviz.data import find_mnist, load_mnist, to_float_batch
    from cnnviz.training import evaluate
    from cnnviz.training.sources import DataSource, load_training_data
    from cnnviz.ui.window.main_window import MainWindow

    folder = find_mnist()
    if folder is None:
        print("MNIST not found: set CNNVIZ_MNIST_DIR", file=sys.stderr)
        return 2
    source = DataSource("folder", folder)
    data = load_training_data(source, args.limit, 5000, args.seed)
    print(f"data: {data.name}; load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")

    window = MainWindow()
    window.resize(1280, 800)
    window.show()
    QTest.qWaitForWindowExposed(window)
    prepare_panel(window, source, args.limit, args.seed)
    config = cli_config(window.training_panel)
    print(f"hyperparameters: {config}")
    headless, _ = headless_run(data, config)
    headless_rates = [headless]
    print(f"headless Trainer (as cnnviz train): {headless:,.0f} images/s")
    if args.profile:
        import cProfile
        import pstats

        profiler = cProfile.Profile()
        profiler.enable()
    window_rates, all_intervals = [], []
    for _ in range(args.rounds):
        final, intervals, adopted = train_in_window(window, source, args.limit, args.seed)
        window_rates.append(final.samples_per_s)
        all_intervals.append(intervals)
        print(f"in the window: {final.kind} after {final.step} steps, "
              f"{final.samples_per_s:,.0f} images/s, {adopted} snapshots adopted; event loop: "
              + describe(intervals))
        headless, headless_model = headless_run(data, config)
        headless_rates.append(headless)
        print(f"headless Trainer (as cnnviz train): {headless:,.0f} images/s")
    if args.profile:
        profiler.disable()
        pstats.Stats(profiler).sort_stats("cumulative").print_stats("cnnviz|pyqtgraph", 40)
    shown = [name for name, dock in window.docks.items() if dock.isVisible()]
    print(f"window: {app.platformName()} platform, docks shown: {', '.join(shown)}")
    print("GUI event loop over all rounds: " + describe(np.concatenate(all_intervals)))
    ratio = np.median(window_rates) / np.median(headless_rates)
    print(f"throughput: window median {np.median(window_rates):,.0f} images/s, headless median "
          f"{np.median(headless_rates):,.0f} images/s: {ratio:.1%}")

    test = load_mnist(folder)
    test_x = to_float_batch(test.test_x)
    ours = evaluate(window.document.model, test_x, test.test_y).accuracy
    theirs = evaluate(headless_model, test_x, test.test_y).accuracy
    print(f"test accuracy after one epoch in the window: {ours:.2%} (validation "
          f"{final.val_accuracy:.2%}); after the same epoch headless: {theirs:.2%}")
    window.ask_save_changes = lambda: QMessageBox.StandardButton.Discard
    window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
