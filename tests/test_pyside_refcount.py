"""Guard against the PySide6 6.12.0 / CPython 3.11 crash.

The 6.12.0 abi3 wheel drops a reference to ``None`` on every call of a None-returning method or
signal emission on CPython 3.11; after a few thousand calls the interpreter aborts with
``Fatal Python error: none_dealloc``. ``pyproject.toml`` pins ``<6.12`` for Python < 3.12.
"""

import sys
import textwrap

import PySide6

CALLS = 50_000

HAMMER = textwrap.dedent(
    f"""
    import sys
    from PySide6.QtCore import QObject, QTimer, Signal, Slot
    from PySide6.QtWidgets import QApplication, QWidget

    class Emitter(QObject):
        fired = Signal(int)

    class Counter(QObject):
        def __init__(self):
            super().__init__()
            self.count = 0

        @Slot(int)
        def on_fired(self, value):
            self.count += 1

    app = QApplication([])
    obj, timer, widget = QObject(), QTimer(), QWidget()
    emitter, counter = Emitter(), Counter()
    emitter.fired.connect(counter.on_fired)
    before = sys.getrefcount(None)
    for i in range({CALLS}):
        obj.setObjectName("unit")
        widget.setToolTip("unit")
        timer.stop()
        emitter.fired.emit(i)
    after = sys.getrefcount(None)
    print(counter.count, after - before)
    """
)


def test_many_none_returning_calls_do_not_crash(run_python):
    result = run_python(["-c", HAMMER])
    assert result.returncode == 0, f"exit {result.returncode}: {result.stderr[-2000:]}"
    count, none_refcount_change = (int(word) for word in result.stdout.split())
    assert count == CALLS
    # A few references may come and go; the 6.12.0 bug loses one per call.
    assert none_refcount_change > -100


def test_pyside_version_is_safe_on_python_311():
    if sys.version_info < (3, 12):
        assert PySide6.__version_info__[:2] != (6, 12), f"PySide6 {PySide6.__version__} on 3.11"
