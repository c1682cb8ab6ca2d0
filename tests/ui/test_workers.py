"""TaskRunner: results reach the GUI thread, cancel and supersede work, nothing is left running."""

import threading
import time

import pytest
from PySide6.QtWidgets import QWidget

from cnnviz.analysis import Cancelled
from cnnviz.ui.shared.workers import TaskRunner


def slow(steps=400, result="done"):
    """A task of ``steps`` 5 ms steps that honours cancellation like cnnviz.analysis."""
    def task(progress):
        for step in range(steps):
            time.sleep(0.005)
            if not progress(step + 1, steps):
                raise Cancelled()
        return result
    return task


@pytest.fixture
def runner(qtbot):
    r = TaskRunner("test-worker", rate=1000)
    yield r
    assert r.shutdown(5000)
    assert not r.running


def test_result_and_progress_arrive_in_the_gui_thread(qtbot, runner):
    seen, results = [], []
    runner.progress.connect(lambda done, total: seen.append((done, total,
                                                             threading.get_ident())))
    runner.finished.connect(results.append)
    with qtbot.waitSignals([runner.started, runner.finished], order="strict", timeout=5000):
        runner.start(slow(20, result=42))
    assert results == [42]
    assert seen[-1][:2] == (20, 20)
    assert {ident for *_, ident in seen} == {threading.get_ident()}
    assert not runner.running


def test_cancel_stops_the_task_and_ends_its_thread(qtbot, runner):
    finished = []
    runner.finished.connect(finished.append)
    with qtbot.waitSignal(runner.progress, timeout=5000):
        runner.start(slow())
    thread = runner.thread
    with qtbot.waitSignal(runner.cancelled, timeout=5000):
        runner.cancel()
    assert thread.isFinished() and not runner.running
    qtbot.wait(50)
    assert finished == []


def test_the_latest_request_wins(qtbot, runner):
    outcomes = []
    runner.finished.connect(outcomes.append)
    runner.cancelled.connect(lambda: outcomes.append("cancelled"))
    runner.start(slow(result="first"))
    runner.start(slow(5, result="second"))
    runner.start(slow(5, result="third"))
    qtbot.waitUntil(lambda: "third" in outcomes, timeout=5000)
    assert outcomes == ["cancelled", "third"]


def test_an_exception_becomes_a_message(qtbot, runner):
    def broken(progress):
        raise ValueError("no such layer")

    with qtbot.waitSignal(runner.failed, timeout=5000) as blocker:
        runner.start(broken)
    assert blocker.args == ["ValueError: no such layer"]
    assert not runner.running


def test_destroying_the_parent_joins_the_thread(qtbot):
    parent = QWidget()
    runner = TaskRunner("test-worker", parent)
    with qtbot.waitSignal(runner.started, timeout=5000):
        runner.start(slow())
    thread = runner.thread
    with qtbot.waitSignal(parent.destroyed, timeout=5000):
        parent.deleteLater()
    assert thread.isFinished()
