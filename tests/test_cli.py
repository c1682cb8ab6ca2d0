"""The ``cnnviz`` command line: version, help, errors, the gui subcommand, the registry."""

import importlib

import pytest

from cnnviz import __version__, cli
from cnnviz.commands import COMMANDS


def test_version(run_python):
    result = run_python(["-m", "cnnviz", "--version"])
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"cnnviz {__version__}\n"


def test_help_lists_subcommands(run_python):
    result = run_python(["-m", "cnnviz", "--help"])
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: cnnviz ")
    for name in COMMANDS:
        assert f"    {name} " in result.stdout


def test_unknown_subcommand_is_a_user_error(run_python):
    result = run_python(["-m", "cnnviz", "frobnicate"])
    assert result.returncode == 2
    assert "cnnviz: error: argument COMMAND: invalid choice: 'frobnicate'" in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_model_file_is_a_user_error(run_python, tmp_path):
    missing = tmp_path / "nothing.npz"
    result = run_python(["-m", "cnnviz", "gui", "--model", str(missing)])
    assert result.returncode == 2
    assert result.stderr == f"cnnviz: error: no such file: {missing}\n"


def test_no_display_is_a_user_error(run_python):
    result = run_python(
        ["-m", "cnnviz"], env={"QT_QPA_PLATFORM": None, "DISPLAY": None, "WAYLAND_DISPLAY": None}
    )
    assert result.returncode == 2
    assert result.stderr.startswith("cnnviz: error: no display found")


def test_command_modules_do_not_import_qt(run_python):
    # build_parser imports every registered command module; only running `gui` may load Qt.
    code = (
        "import sys, cnnviz.cli; cnnviz.cli.build_parser(); "
        "print(sorted(m for m in ('PySide6', 'shiboken6', 'pyqtgraph') if m in sys.modules))"
    )
    result = run_python(["-c", code])
    assert result.returncode == 0, result.stderr
    assert result.stdout == "[]\n"


@pytest.mark.parametrize("name", COMMANDS)
def test_registered_commands_follow_the_convention(name):
    module = importlib.import_module(f"cnnviz.commands.{name}")
    assert callable(getattr(module, f"add_{name}_parser"))
    assert callable(getattr(module, f"run_{name}"))


@pytest.fixture
def run_app_calls(monkeypatch):
    """Replace the Qt application by a recorder of its ``(model, image)`` arguments."""
    import cnnviz.ui.window.app

    calls = []

    def fake_run_app(argv, model=None, image=None):
        calls.append((model, image))
        return 0

    monkeypatch.setattr(cnnviz.ui.window.app, "run_app", fake_run_app)
    return calls


@pytest.mark.parametrize("argv", [[], ["gui"]])
def test_gui_is_the_default(run_app_calls, argv):
    assert cli.main(argv) == 0
    assert run_app_calls == [(None, None)]


def test_gui_passes_model_and_image_to_the_app(run_app_calls, tmp_path):
    model = tmp_path / "model.npz"
    image = tmp_path / "digit.png"
    model.touch()
    image.touch()
    assert cli.main(["gui", "--model", str(model), str(image)]) == 0
    assert run_app_calls == [(str(model), str(image))]


@pytest.mark.parametrize("args", [["summary"], ["summary", "tiny"], ["evaluate", "--data", "offline",
                                                                   "--limit", "20"]])
def test_a_closed_standard_output_ends_quietly(args, tmp_path):
    """``cnnviz summary | head -n 1``: the reader goes away before cnnviz writes."""
    import os
    import subprocess
    import sys

    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", XDG_CONFIG_HOME=str(tmp_path))
    child = subprocess.Popen([sys.executable, "-m", "cnnviz", *args], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, cwd=cli.__file__.rsplit("/cnnviz/", 1)[0],
                             env=env)
    child.stdout.close()  # nobody reads: every write fails with EPIPE
    err = child.stderr.read().decode()
    assert child.wait(timeout=60) != 0
    assert err == ""


def test_a_name_the_terminal_cannot_encode_is_printed_escaped(run_python, tmp_path):
    """Text that cannot be encoded for the terminal is printed escaped, never a traceback.

    A network name with a lone surrogate is cleaned when the file is read; a file name that is
    not UTF-8 (Linux allows any bytes) reaches the output as given and must be escaped there.
    """
    import os

    import numpy as np
    from PIL import Image

    from cnnviz.nn import build_preset, save_model

    model = build_preset("tiny", seed=0)
    model.name = "net\ud800x"
    path = save_model(model, tmp_path / "odd.npz")
    result = run_python(["-m", "cnnviz", "summary", str(path)], env={"PYTHONIOENCODING": "utf-8"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("netx: input 1 x 28 x 28\n")

    image = tmp_path / os.fsdecode(b"\xffdigit.png")
    digit = np.zeros((28, 28), np.uint8)
    digit[6:22, 12:16] = 255
    Image.fromarray(digit).save(image)
    result = run_python(["-m", "cnnviz", "predict", str(image)],
                        env={"PYTHONIOENCODING": "utf-8"})
    assert result.returncode == 0, result.stderr
    assert "\\udcffdigit.png" in result.stdout and "Traceback" not in result.stderr


def test_the_gui_script_starts_the_window(run_app_calls, monkeypatch, tmp_path):
    image = tmp_path / "digit.png"
    image.touch()
    monkeypatch.setattr("sys.argv", ["cnnviz-gui", str(image)])
    assert cli.gui_main() == 0
    assert run_app_calls == [(None, str(image))]


def test_the_app_names_its_desktop_entry(qapp, monkeypatch):
    """Desktops (and Wayland) match the window to resources/cnnviz.desktop by this name."""
    import sys
    from pathlib import Path

    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    import cnnviz.ui.window.app

    class NoWindow:
        def __init__(self, model=None, image=None):
            pass

        def show(self):
            QTimer.singleShot(0, QApplication.quit)

        def close(self):
            pass

    monkeypatch.setattr(cnnviz.ui.window.app, "MainWindow", NoWindow)
    interval = sys.getswitchinterval()
    try:
        assert cnnviz.ui.window.app.run_app(["cnnviz"]) == 0
    finally:
        sys.setswitchinterval(interval)
    desktop = Path(cli.__file__).resolve().parent.parent / "resources" / "cnnviz.desktop"
    assert QApplication.desktopFileName() == desktop.stem == "cnnviz"


def test_the_gui_script_runs_without_standard_streams(run_app_calls, monkeypatch, tmp_path):
    """A gui-script on Windows runs under pythonw, where sys.stdout and sys.stderr are None."""
    monkeypatch.setattr("sys.argv", ["cnnviz-gui"])
    monkeypatch.setattr("sys.stdout", None)
    monkeypatch.setattr("sys.stderr", None)
    assert cli.gui_main() == 0
    monkeypatch.setattr("sys.argv", ["cnnviz-gui", str(tmp_path / "missing.png")])
    assert cli.gui_main() == 2                      # the error has nowhere to go, but no crash
    assert run_app_calls == [(None, None)]
