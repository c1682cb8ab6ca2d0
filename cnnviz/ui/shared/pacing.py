"""Spread a burst of redraws over several turns of the event loop.

Qt delivers every event posted while it is delivering posted events in the same pass: a widget
that repaints, a pyqtgraph scene that then lays out its axes and repaints again, the next
widget... all run back to back, and no timer and no input event comes between them. Whatever a
change makes the window redraw at once therefore holds the GUI thread for the sum of all of it.

:class:`Stages` runs callables one per turn instead: each one runs from a timer, and timers only
fire once the posted events (the repaints of the step before) are done, so a click, a key or a
timer waiting meanwhile is served between two steps, not after all of them.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from PySide6.QtCore import QObject, Qt, QTimer, Slot


class Stages(QObject):
    """A queue of callables run one per event-loop turn, each after the repaints of the one
    before.

    Parameters
    ----------
    parent : QObject, optional
    """

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._queue: deque[Callable[[], object]] = deque()
        # A timer, unlike a posted call (QTimer.singleShot(0) in Qt 6), waits for the repaints.
        self._timer = QTimer(self, singleShot=True, interval=1,
                             timerType=Qt.TimerType.PreciseTimer)
        self._timer.timeout.connect(self._run_next)

    @property
    def pending(self) -> int:
        """How many steps are waiting."""
        return len(self._queue)

    def run(self, *steps: Callable[[], object]) -> None:
        """Run ``steps`` in order after those already waiting, one per turn."""
        self._queue.extend(steps)
        if self._queue and not self._timer.isActive():
            self._timer.start()

    def run_next(self, *steps: Callable[[], object]) -> None:
        """Run ``steps`` (in order) before those already waiting: a step that hands work on."""
        self._queue.extendleft(reversed(steps))
        if self._queue and not self._timer.isActive():
            self._timer.start()

    def flush(self) -> None:
        """Run every waiting step now (for tests, and before the window closes)."""
        while self._queue:
            self._queue.popleft()()
        self._timer.stop()

    def clear(self) -> None:
        """Drop the waiting steps."""
        self._queue.clear()
        self._timer.stop()

    @Slot()
    def _run_next(self) -> None:
        if not self._queue:
            return
        step = self._queue.popleft()
        try:
            step()
        finally:
            if self._queue:
                self._timer.start()
