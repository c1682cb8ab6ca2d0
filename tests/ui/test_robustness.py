"""The window's side paths: any failure of a file is a message, errors keep their details and a
log, files are read off the GUI thread, no worker thread outlives the window, shipped networks
are never overwritten, and a MemoryError of a computation is reported."""

from __future__ import annotations

import hashlib
import shutil
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import (QApplication, QFileDialog, QMessageBox, QProgressDialog,
                               QPushButton, QWidget)

import cnnviz.session
import cnnviz.ui.window.document
import cnnviz.ui.window.file_actions
from cnnviz.data import load_image
from cnnviz.nn import build_preset, save_model
from cnnviz.resources import resource_path
from cnnviz.session import ImageInput
from cnnviz.ui.shared import workers
from cnnviz.ui.window import errors
from cnnviz.ui.window.dialogs import error_box
from ui_helpers import draw_digit, state_of

pytestmark = pytest.mark.gui

#: Exceptions that damaged files made the reader raise instead of ModelFileError / ImageError.
UNEXPECTED = [
    MemoryError(),
    RecursionError("maximum recursion depth exceeded"),
    OverflowError("int too large to convert"),
    KeyError("kind"),
    TypeError("unhashable type: 'list'"),
    UnicodeEncodeError("utf-8", "\udcff", 0, 1, "surrogates not allowed"),
    ValueError("could not convert string to float: 'abc'"),
    IndexError("list index out of range"),
    AttributeError("'list' object has no attribute 'lower'"),
    ZeroDivisionError("division by zero"),
    NotImplementedError("compression type 14"),
    RuntimeError("Error -3 while decompressing data"),
]


def raising(exc, only=None, otherwise=None):
    """A reader that raises ``exc`` (for the file ``only`` if given, else it calls
    ``otherwise``)."""
    def read(*args, **kwargs):
        if only is None or Path(args[0]) == Path(only):
            raise exc
        return otherwise(*args, **kwargs)
    return read


def unchanged_state(window):
    document = window.document
    return (document.network, document.source, document.undo_stack.count(), state_of(window))


# --------------------------------------------------------------------------- 1 (a): opening
@pytest.mark.parametrize("exc", UNEXPECTED, ids=lambda e: type(e).__name__)
@pytest.mark.parametrize("how", ["open", "drop", "recent"])
def test_any_failure_of_reading_a_network_is_a_message_and_changes_nothing(
        window, network_file, monkeypatch, exc, how):
    draw_digit(window.canvas_panel.canvas, 1)
    before = unchanged_state(window)
    monkeypatch.setattr(cnnviz.session, "load_network", raising(exc))
    if how == "open":
        assert window.open_network(network_file) is False
    elif how == "drop":
        from test_files import drop
        assert drop(window, network_file)
    else:
        window.open_recent_file(str(network_file))
    assert unchanged_state(window) == before
    assert len(window.errors) == 1
    title, message = window.errors[0]
    assert title == "Cannot open the network" and network_file.name in message
    if isinstance(exc, MemoryError):
        assert "not enough memory" in message
    else:  # unexpected: one line of what, the traceback behind Show Details, and a log
        assert f"{type(exc).__name__}: " in message and "log file" in message
        assert "Traceback" in window.error_details[0]
        assert type(exc).__name__ in window.error_details[0]


@pytest.mark.parametrize("exc", UNEXPECTED[:6], ids=lambda e: type(e).__name__)
def test_any_failure_of_reading_an_image_is_a_message_and_changes_nothing(
        window, digit_image, monkeypatch, exc):
    draw_digit(window.canvas_panel.canvas, 1)
    before = unchanged_state(window)
    monkeypatch.setattr(cnnviz.ui.window.file_actions, "load_image", raising(exc), raising=False)
    monkeypatch.setattr(cnnviz.ui.window.document, "load_image", raising(exc))
    assert window.open_image(digit_image) is False
    assert unchanged_state(window) == before
    assert [title for title, _ in window.errors] == ["Cannot open the image"]
    assert digit_image.name in window.errors[0][1]


def test_a_failing_first_pass_of_a_new_network_is_a_message(window, network_file, monkeypatch):
    """The network reads, then its first pass fails (MemoryError in the GUI thread)."""
    before = unchanged_state(window)
    monkeypatch.setattr(cnnviz.session.Sequential, "trace", raising(MemoryError()))
    assert window.open_network(network_file) is False
    assert unchanged_state(window) == before
    assert len(window.errors) == 1 and "memory" in window.errors[0][1]


def test_a_model_given_on_the_command_line_that_fails_unexpectedly_is_a_message(
        make_window, network_file, monkeypatch):
    monkeypatch.setattr(cnnviz.session, "load_network",
                        raising(RecursionError("maximum recursion depth exceeded"), network_file,
                                cnnviz.session.load_network))
    window = make_window(model=str(network_file))
    assert window.document.network.name == "lenet5.npz"  # the shipped one stays
    assert len(window.errors) == 1 and "RecursionError" in window.errors[0][1]


# --------------------------------------------------------------------------- 2: details and log
def test_an_unexpected_error_is_logged_in_the_data_folder(window, network_file, monkeypatch,
                                                          data_folder):
    monkeypatch.setattr(cnnviz.session, "load_network",
                        raising(KeyError("kind")))
    window.open_network(network_file)
    log = data_folder / errors.LOG_NAME
    assert log.is_file()
    text = log.read_text()
    assert f"Opening the network {network_file.name}" in text
    assert "Traceback" in text and "KeyError: 'kind'" in text
    assert str(log) in window.errors[0][1]  # the dialog says where the log is


def test_the_error_box_keeps_the_traceback_behind_show_details(qtbot):
    try:
        raise MemoryError("248 GiB")
    except MemoryError as exc:
        caught = exc
    box = error_box(None, "Unexpected error", errors.summary(caught), errors.details(caught))
    qtbot.addWidget(box)
    assert box.text() == "MemoryError: 248 GiB"
    assert box.detailedText().startswith("Traceback") and "raise MemoryError" in \
        box.detailedText()
    assert any("Show Details" in button.text() for button in box.buttons())


def test_the_window_shows_errors_with_details_in_a_box(make_window, qtbot, monkeypatch):
    window = make_window(show=False)
    del window.show_error  # the real method
    shown = []

    def exec_(box):
        shown.append((box.windowTitle(), box.text(), box.detailedText()))
        return QMessageBox.StandardButton.Ok

    monkeypatch.setattr(QMessageBox, "exec", exec_)
    window.show_error("Title", "KeyError: 'kind'", "Traceback (most recent call last): ...")
    assert shown == [("Title", "KeyError: 'kind'", "Traceback (most recent call last): ...")]


# --------------------------------------------------------------------------- 1 (b): last resort
def test_uncaught_exceptions_of_the_loop_and_of_threads_become_dialogs(qtbot, data_folder):
    shown = []
    reporter = errors.ErrorReporter(lambda *args: shown.append(args))
    uninstall = errors.install_hooks(reporter)
    try:
        def fail_in_a_slot():
            raise MemoryError("first pass")

        QTimer.singleShot(0, fail_in_a_slot)
        qtbot.waitUntil(lambda: len(shown) == 1, timeout=3000)
        thread = threading.Thread(target=raising(KeyError("kind")), name="reader")
        thread.start()
        thread.join()
        qtbot.waitUntil(lambda: len(shown) == 2, timeout=3000)
    finally:
        uninstall()
    (title, message, details), (_, thread_message, thread_details) = shown
    assert title == "Unexpected error"
    assert "MemoryError: first pass" in message and "fail_in_a_slot" in details
    assert "In reader: KeyError: 'kind'" in thread_message and "Traceback" in thread_details
    assert str(data_folder / errors.LOG_NAME) in message
    assert (data_folder / errors.LOG_NAME).read_text().count("Traceback") == 2


FAIL_IN_THE_LOOP = textwrap.dedent(
    """
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication
    from cnnviz.ui.window.app import run_app
    from cnnviz.ui.window.main_window import MainWindow

    app = QApplication(["cnnviz"])
    shown = []
    MainWindow.show_error = lambda self, *args: shown.append(args)

    def fail():
        raise OverflowError("10**400")

    QTimer.singleShot(200, fail)
    QTimer.singleShot(600, QApplication.closeAllWindows)
    status = run_app(["cnnviz"])
    print(status, [(title, message.splitlines()[0]) for title, message, _ in shown])
    """
)


def test_the_app_shows_what_reaches_its_event_loop(run_python, tmp_path):
    result = run_python(["-c", FAIL_IN_THE_LOOP], env={"XDG_DATA_HOME": str(tmp_path / "data")})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == \
        "0 [('Unexpected error', 'Something went wrong: OverflowError: 10**400')]"
    assert "Traceback" not in result.stderr
    logs = list((tmp_path / "data").rglob(errors.LOG_NAME))
    assert len(logs) == 1 and "OverflowError: 10**400" in logs[0].read_text()


# --------------------------------------------------------------------------- 3: off the GUI thread
def slowly(function, seconds, threads):
    def run(*args, **kwargs):
        threads.append(threading.get_ident())
        time.sleep(seconds)
        return function(*args, **kwargs)
    return run


def test_a_network_is_read_in_a_worker_while_the_window_keeps_ticking(window, network_file,
                                                                      monkeypatch, qtbot):
    threads, ticks = [], []
    monkeypatch.setattr(cnnviz.session, "load_network",
                        slowly(cnnviz.session.load_network, 0.6, threads))
    timer = QTimer(interval=20)
    timer.timeout.connect(lambda: ticks.append(time.monotonic()))
    timer.start()
    dialogs = []
    QTimer.singleShot(450, lambda: dialogs.extend(
        d for d in QApplication.topLevelWidgets()
        if isinstance(d, QProgressDialog) and d.isVisible()))
    start = time.monotonic()
    assert window.open_network(network_file)
    timer.stop()
    assert time.monotonic() - start >= 0.6
    assert threads and threads[0] != threading.main_thread().ident
    assert len(ticks) >= 15 and max(np.diff(ticks)) < 0.2  # the loop never stopped for long
    assert len(dialogs) == 1 and "fresh-lenet5.npz" in dialogs[0].labelText()
    assert window.document.network.name == "fresh-lenet5.npz" and window.errors == []


def test_an_image_is_decoded_in_a_worker(window, digit_image, monkeypatch):
    threads = []
    slow = slowly(load_image, 0.2, threads)
    monkeypatch.setattr(cnnviz.ui.window.file_actions, "load_image", slow, raising=False)
    monkeypatch.setattr(cnnviz.ui.window.document, "load_image", slow)
    assert window.open_image(digit_image)
    assert threads and threads[0] != threading.main_thread().ident
    assert isinstance(window.document.source, ImageInput)


def test_a_failure_in_the_worker_arrives_as_a_message(window, network_file, monkeypatch):
    threads = []
    monkeypatch.setattr(cnnviz.session, "load_network",
                        slowly(raising(MemoryError()), 0.1, threads))
    before = unchanged_state(window)
    assert window.open_network(network_file) is False
    assert threads and threads[0] != threading.main_thread().ident
    assert unchanged_state(window) == before and "not enough memory" in window.errors[0][1]


def test_a_second_open_while_one_runs_is_refused_and_the_first_completes(
        window, network_file, digit_image, monkeypatch):
    from test_files import drop
    monkeypatch.setattr(cnnviz.session, "load_network",
                        slowly(cnnviz.session.load_network, 0.4, []))
    results = []
    QTimer.singleShot(100, lambda: results.append(window.open_image(digit_image)))
    QTimer.singleShot(150, lambda: results.append(drop(window, network_file)))
    assert window.open_network(network_file)
    assert results[0] is False
    assert window.document.network.name == "fresh-lenet5.npz"
    assert not isinstance(window.document.source, ImageInput)
    assert window.errors == []


def test_cancel_abandons_the_open(window, network_file, monkeypatch):
    monkeypatch.setattr(cnnviz.session, "load_network",
                        slowly(cnnviz.session.load_network, 0.8, []))

    def press_cancel():
        for dialog in QApplication.topLevelWidgets():
            if isinstance(dialog, QProgressDialog) and dialog.isVisible():
                dialog.findChild(QPushButton).click()

    QTimer.singleShot(500, press_cancel)
    before = unchanged_state(window)
    assert window.open_network(network_file) is False
    assert unchanged_state(window)[:3] == before[:3] and window.errors == []
    assert window.file_runner.shutdown(5000)  # the abandoned read ends by itself


# --------------------------------------------------------------------------- 5: shipped networks
def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def shipped(tmp_path):
    """The real shipped lenet5 (resources/models/lenet5.npz of this checkout or installation),
    backed up, and put back if a test changed it; also removes anything a test wrote beside it."""
    path = resource_path("models", "lenet5.npz")
    folder_before = set(path.parent.iterdir())
    backup = tmp_path / "backup-lenet5.npz"
    shutil.copy2(path, backup)
    before = digest(path)
    yield path
    for extra in set(path.parent.iterdir()) - folder_before:
        extra.unlink()
    if digest(path) != before:
        shutil.copy2(backup, path)
        pytest.fail(f"the test changed the shipped network {path} (restored)")
    assert digest(path) == before


def modify_weights(window) -> None:
    window.document.set_param("0.bias", np.full(6, 0.25, dtype=np.float32))


@pytest.fixture
def save_dialog(monkeypatch):
    answers = {"path": "", "calls": 0}

    def get_save(parent, caption, suggestion, filters, selected=""):
        answers["calls"] += 1
        return answers["path"], ""

    monkeypatch.setattr(QFileDialog, "getSaveFileName", get_save)
    return answers


@pytest.mark.parametrize("how", ["open", "drop", "recent", "command line"])
def test_save_on_a_shipped_network_opened_from_its_folder_acts_as_save_as(
        make_window, shipped, save_dialog, tmp_path, how):
    if how == "command line":
        window = make_window(model=str(shipped))
    else:
        window = make_window()
        if how == "open":
            assert window.open_network(shipped)
        elif how == "drop":
            from test_files import drop
            assert drop(window, shipped)
        else:
            assert window.open_recent_file(str(shipped))
    assert window.document.network.path == Path(shipped) and window.document.network.read_only
    modify_weights(window)
    save_dialog["path"] = str(tmp_path / "mine.npz")
    assert window.save_action.trigger() is None and save_dialog["calls"] == 1
    assert window.document.network.path == tmp_path / "mine.npz"
    assert not window.document.modified and window.errors == []


@pytest.mark.parametrize("target", ["itself", "a symlink to it", "a new file beside it",
                                    "a hard link to it"])
def test_save_as_onto_a_shipped_file_is_refused(window, shipped, save_dialog, tmp_path, target):
    modify_weights(window)
    before = state_of(window)
    if target == "itself":
        path = shipped
    elif target == "a symlink to it":
        path = tmp_path / "link.npz"
        path.symlink_to(shipped)
    elif target == "a hard link to it":
        path = tmp_path / "hard.npz"
        try:
            path.hardlink_to(shipped)
        except OSError:
            pytest.skip("no hard links across these folders")
    else:
        path = shipped.parent / "mine.npz"
    save_dialog["path"] = str(path)
    assert window.save_network_as() is False
    assert state_of(window) == before and window.document.modified
    assert len(window.errors) == 1 and "shipped with cnnviz" in window.errors[0][1]
    assert target != "a new file beside it" or not path.exists()


# --------------------------------------------------------------------------- 4: worker lifetime
def test_closing_during_an_activation_maximisation_leaves_no_thread(make_window, qtbot):
    window = make_window()
    gallery = window.activation_gallery
    window.show_activation_gallery()
    gallery.steps_spin.setValue(gallery.steps_spin.maximum())
    gallery.compute()
    assert gallery.runner.running
    qtbot.waitUntil(lambda: gallery.progress_bar.maximum() > 0, timeout=5000)  # under way
    start = time.monotonic()
    assert window.close()
    assert time.monotonic() - start < workers.SHUTDOWN_WAIT_MS / 1000
    assert not gallery.runner.running and workers.detached_threads() == 0
    gallery.compute()  # anything asked for after the close starts nothing
    window.evaluation_view.evaluate()
    window.analysis_panel.runner.start(lambda progress: time.sleep(5))
    assert not any(panel.runner.running for panel in
                   (gallery, window.evaluation_view, window.analysis_panel))


def test_a_task_deaf_to_cancel_is_detached_never_destroyed_while_it_runs(qtbot):
    release = threading.Event()
    owner = QWidget()
    runner = workers.TaskRunner("cnnviz-stuck", owner)
    runner.start(lambda progress: release.wait(10))
    assert runner.running
    assert runner.shutdown(100) is False  # one step outlasts the wait
    assert not runner.running and workers.detached_threads() == 1
    owner.deleteLater()  # its window goes: the thread must not go with it
    QApplication.processEvents()
    del owner, runner
    import gc
    gc.collect()
    release.set()
    qtbot.waitUntil(lambda: workers.detached_threads() == 0, timeout=5000)
    assert workers.wait_for_detached(0)


STUCK_AT_CLOSE = textwrap.dedent(
    """
    import sys, threading
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication
    import cnnviz.ui.interpret.activation_gallery as activation_gallery
    import cnnviz.ui.window.app
    from cnnviz.ui.shared import workers
    from cnnviz.ui.window.main_window import MainWindow

    step, exit_wait = float(sys.argv[1]), int(sys.argv[2])
    app = QApplication(["cnnviz"])
    workers.SHUTDOWN_WAIT_MS = 300
    workers.TaskRunner.shutdown.__defaults__ = (300,)  # the same wait, whatever the version
    cnnviz.ui.window.app.EXIT_WAIT_MS = exit_wait

    def one_long_step(model, layer, objective, steps, progress):
        threading.Event().wait(step)  # a 71 s forward pass does not hear Cancel
        progress(1, 1)
        return []

    activation_gallery.gallery = one_long_step

    def start():
        window = next(w for w in app.topLevelWidgets() if isinstance(w, MainWindow))
        window.activation_gallery.compute()
        QTimer.singleShot(300, window.close)

    QTimer.singleShot(200, start)
    print(cnnviz.ui.window.app.run_app(["cnnviz"]), flush=True)
    """
)


@pytest.mark.parametrize("step, exit_wait, ends", [(2.0, 5000, "after the step"),
                                                   (30.0, 300, "at once")])
def test_closing_while_a_step_runs_never_aborts(run_python, tmp_path, step, exit_wait, ends):
    start = time.monotonic()
    result = run_python(["-c", STUCK_AT_CLOSE, str(step), str(exit_wait)],
                        env={"XDG_DATA_HOME": str(tmp_path / "data")})
    took = time.monotonic() - start
    assert "QThread: Destroyed" not in result.stderr
    assert result.returncode == 0, result.stderr
    if ends == "at once":  # the process ends in run_app, with the loop's exit status
        assert "did not stop" in result.stderr and took < 15 and result.stdout == ""
    else:
        assert "did not stop" not in result.stderr and result.stdout == "0\n"


# --------------------------------------------------------------------------- 6: MemoryError
def test_a_memory_error_of_the_trace_is_a_refusal_that_changes_nothing(window, monkeypatch):
    from cnnviz.session import SessionError, blank_canvas
    before = state_of(window)
    monkeypatch.setattr(cnnviz.session.Sequential, "trace", raising(MemoryError()))
    with pytest.raises(SessionError, match="not enough memory"):
        window.document.set_source(blank_canvas(100), "Clear")
    assert state_of(window) == before


def test_a_memory_error_of_an_analysis_in_the_gui_thread_is_reported(window, monkeypatch):
    import cnnviz.ui.interpret.analysis_panel as analysis_panel
    draw_digit(window.canvas_panel.canvas, 1)
    window.show_analysis()
    panel = window.analysis_panel
    monkeypatch.setattr(analysis_panel, "explain", raising(MemoryError()))
    panel.method_combo.setCurrentIndex(panel.method_combo.findData("gradient"))
    panel.refresh()
    assert panel.explanation is None and "not enough memory" in panel.caption.text()


def fail_in_worker(window, monkeypatch, qtbot, panel_name, exc):
    """Make the worker of the Analysis or Activation Maximisation panel raise ``exc``; return
    the panel and the label that reports it, once the failure has arrived."""
    import cnnviz.ui.interpret.activation_gallery as activation_gallery
    import cnnviz.ui.interpret.analysis_panel as analysis_panel
    draw_digit(window.canvas_panel.canvas, 1)
    monkeypatch.setattr(analysis_panel, "explain", raising(exc))
    monkeypatch.setattr(activation_gallery, "gallery", raising(exc))
    panel = getattr(window, panel_name)
    with qtbot.waitSignal(panel.runner.failed, timeout=5000):
        if panel_name == "analysis_panel":
            window.show_analysis()
            panel.method_combo.setCurrentIndex(panel.method_combo.findData("occlusion"))
        else:
            window.show_activation_gallery()
            panel.compute()
    return panel, panel.caption if panel_name == "analysis_panel" else panel.status_label


@pytest.mark.parametrize("panel_name", ["analysis_panel", "activation_gallery"])
def test_a_memory_error_in_a_worker_is_reported(window, monkeypatch, qtbot, panel_name):
    panel, label = fail_in_worker(window, monkeypatch, qtbot, panel_name, MemoryError())
    qtbot.waitUntil(lambda: "not enough memory" in label.text(), timeout=3000)
    assert isinstance(panel.runner.error, MemoryError)


def test_an_image_is_converted_for_the_network_in_the_worker_too(window, digit_image,
                                                                  monkeypatch):
    converted = []
    original = cnnviz.session.image_to_input

    def preprocess(pixels, contract):
        converted.append(threading.get_ident())
        return original(pixels, contract)

    monkeypatch.setattr(cnnviz.session, "image_to_input", preprocess)
    assert window.open_image(digit_image)
    assert converted and threading.main_thread().ident not in converted
    assert window.document.trace.top_class == 7


# --------------------------------------------------------------------------- fuzz: the window
def _architecture_cases(model):
    """``(name, architecture dict or JSON text)`` of the fuzzer's classes of damaged networks."""
    import json
    config = model.config()

    def changed(edit):
        copy = json.loads(json.dumps(config))
        edit(copy)
        return copy

    deep = "[" * 100_000 + "]" * 100_000
    yield "JSON nested 100,000 deep", json.dumps(config)[:-1] + ', "extra": ' + deep + "}"
    yield "an integer of 5,000 digits", json.dumps(changed(
        lambda c: c["layers"][1].update(out_features=987654321))).replace("987654321", "9" * 5000)
    yield "a layer kind that is a list", changed(lambda c: c["layers"][0].update(kind=["Dense"]))
    yield "a LeakyReLU alpha that is a string", changed(lambda c: c["layers"].insert(
        2, {"kind": "LeakyReLU", "alpha": "abc"}))
    yield "a LeakyReLU alpha of 10**400", json.dumps(changed(lambda c: c["layers"].insert(
        2, {"kind": "LeakyReLU", "alpha": 1.5}))).replace("1.5", "1" + "0" * 400)
    yield "a Dropout seed of -1", changed(lambda c: c["layers"].insert(
        2, {"kind": "Dropout", "p": 0.5, "seed": -1}))
    yield "a name with a lone surrogate", json.dumps(config).replace(
        f'"name": "{config["name"]}"', '"name": "\\udcff"')
    yield "no layers", changed(lambda c: c.update(layers=[]))
    yield "layers that is a number", changed(lambda c: c.update(layers=7))
    yield "an input shape of 2**70", changed(lambda c: c.update(input_shape=[1, 2 ** 70, 28]))
    yield "a negative input shape", changed(lambda c: c.update(input_shape=[1, -28, 28]))
    yield "an unknown layer", changed(lambda c: c["layers"].insert(0, {"kind": "Lambda"}))
    yield "not JSON", "{'format': 'cnnviz-sequential'"
    yield "JSON that is a list", "[1, 2, 3]"


def _hostile_networks(folder, network, rng):
    """Damaged copies of ``network`` (an .npz): architectures of the fuzzer's classes, byte
    flips, truncations, patched zip headers."""
    import json
    import zipfile

    from cnnviz.nn import load_model
    model = load_model(network)
    with zipfile.ZipFile(network) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    for k, (name, architecture) in enumerate(_architecture_cases(model)):
        text = architecture if isinstance(architecture, str) else json.dumps(architecture)
        path = folder / f"architecture-{k}.npz"
        with zipfile.ZipFile(path, "w") as archive:
            for member, data in members.items():
                if member == "architecture.npy":
                    buffer = __import__("io").BytesIO()
                    np.save(buffer, np.frombuffer(text.encode("utf-8", "surrogatepass"),
                                                  dtype=np.uint8))
                    data = buffer.getvalue()
                archive.writestr(member, data)
        yield name, path
    good = network.read_bytes()
    for k in range(150):
        data = bytearray(good)
        for position in rng.integers(0, len(data), size=int(rng.integers(1, 6))):
            data[position] ^= int(rng.integers(1, 256))
        path = folder / f"flipped-{k}.npz"
        path.write_bytes(bytes(data))
        yield "bytes flipped", path
    for k, size in enumerate(rng.integers(1, len(good), size=30)):
        path = folder / f"truncated-{k}.npz"
        path.write_bytes(good[:size])
        yield "truncated", path
    for k, (offset, value) in enumerate([(8, 14), (8, 99), (6, 1), (4, 64), (8, 12)]):
        data = bytearray(good)  # the first local header: method, flags, version needed
        data[offset] = value
        path = folder / f"zip-header-{k}.npz"
        path.write_bytes(bytes(data))
        yield "zip header patched", path


def test_hostile_network_files_are_opened_or_refused_with_a_message(window, tmp_path):
    """Every damaged file: opened, or refused with one message and the state unchanged; no
    exception reaches the test or the event loop (pytest-qt fails the test on one)."""
    rng = np.random.default_rng(16)
    network = save_model(build_preset("mlp", seed=1), tmp_path / "mlp.npz")
    outcomes = {"opened": 0, "refused": 0}
    kinds = {}
    for name, path in _hostile_networks(tmp_path, network, rng):
        before = unchanged_state(window)
        errors_before = len(window.errors)
        opened = window.open_network(path, ask=False)
        if opened:
            outcomes["opened"] += 1
            assert window.document.network.path == path and len(window.errors) == errors_before
        else:
            outcomes["refused"] += 1
            assert unchanged_state(window) == before, name
            assert len(window.errors) == errors_before + 1, name
            assert path.name in window.errors[-1][1], (name, window.errors[-1])
            unexpected = window.error_details[-1] is not None
            key = (name, "unexpected error" if unexpected else "clean message")
            kinds[key] = kinds.get(key, 0) + 1
    assert outcomes["refused"] >= 150
    print(outcomes, kinds)


def test_closing_while_a_file_is_read_abandons_it_and_leaves_no_thread(window, network_file,
                                                                       monkeypatch):
    monkeypatch.setattr(cnnviz.session, "load_network",
                        slowly(cnnviz.session.load_network, 0.5, []))
    closed = []
    QTimer.singleShot(150, lambda: closed.append(window.close()))
    assert window.open_network(network_file) is False
    assert closed == [True] and not window.isVisible()
    assert window.document.network.name == "lenet5.npz" and window.errors == []
    assert not window.file_runner.running and workers.detached_threads() == 0


def test_an_open_after_a_cancelled_one_still_running_completes(window, network_file, digit_image,
                                                                 monkeypatch):
    """The abandoned read ends while the next one waits behind it: its end is not the next
    one's."""
    monkeypatch.setattr(cnnviz.session, "load_network",
                        slowly(cnnviz.session.load_network, 0.6, []))
    QTimer.singleShot(100, workers.abandon_waits)
    assert window.open_network(network_file) is False  # cancelled; the read goes on
    assert window.file_runner.running
    assert window.open_image(digit_image)  # waits for it, then reads the image
    assert isinstance(window.document.source, ImageInput) and window.errors == []
    assert window.document.network.name == "lenet5.npz"


@pytest.mark.parametrize("panel_name", ["analysis_panel", "activation_gallery"])
def test_a_failed_computation_says_where_its_traceback_is(window, monkeypatch, qtbot,
                                                          data_folder, panel_name):
    panel, label = fail_in_worker(window, monkeypatch, qtbot, panel_name, KeyError("kind"))
    log = data_folder / errors.LOG_NAME
    qtbot.waitUntil(lambda: "KeyError: " in label.text(), timeout=3000)  # (quotes: HTML)
    assert str(log) in label.text()
    assert "Traceback" in log.read_text() and "KeyError: 'kind'" in log.read_text()
