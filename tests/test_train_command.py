"""``cnnviz train`` under interruptions (real signals, real processes), its defaults, the command
it records and its progress bar."""

import io
import json
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import cnnviz.nn
import cnnviz.training
from cnnviz.cli import build_parser, main
from cnnviz.commands._common import ProgressBar
from cnnviz.nn import load_model_with_metadata

REPO_ROOT = Path(__file__).resolve().parent.parent
QUICK = ["train", "--arch", "tiny", "--data", "offline", "--batch-size", "32", "--quiet"]


def start_training(out: Path, *extra: str) -> subprocess.Popen:
    """``cnnviz train`` in a session of its own (so that a signal can reach its whole process
    group, as Ctrl-C in a terminal does), with text pipes."""
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    return subprocess.Popen([sys.executable, "-m", "cnnviz", *QUICK, "--out", str(out), *extra],
                            cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)


def wait_for_training(process: subprocess.Popen) -> str:
    """Read standard error up to the line that announces the run, then give the workers time
    to start; returns what was read."""
    seen = ""
    while "\ntraining " not in "\n" + seen:
        line = process.stderr.readline()
        assert line, f"the command ended before training: {seen}"
        seen += line
    time.sleep(2.0)
    return seen


@pytest.mark.parametrize("name", ["SIGINT", "SIGTERM"])
def test_a_signal_to_the_process_group_stops_the_run_saves_it_and_leaves_nothing(tmp_path,
                                                                                 name):
    out = tmp_path / "net.npz"
    # --limit 3000 without --val-split: the default holds out a tenth (300), not 5000.
    process = start_training(out, "--limit", "3000", "--epochs", "1000", "--workers", "2")
    try:
        seen = wait_for_training(process)
        assert "300 for validation" in seen
        os.killpg(process.pid, getattr(signal, name))
        stdout, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    stderr = seen + stderr
    assert process.returncode == 0, stderr
    assert "Traceback" not in stderr and "Error" not in stderr
    summary = json.loads(stdout.strip().splitlines()[-1])
    assert summary["status"] == "stopped" and summary["interrupted_by"] == name
    assert summary["steps"] > 0
    model, meta = load_model_with_metadata(out)
    assert meta["steps"] == summary["steps"]
    assert (meta["test_accuracy"] is None) == (name == "SIGTERM")  # SIGTERM: no test, at once
    # (The shared memory between the command and its workers never has a name that could stay
    # behind: tests/nn/test_parallel.py checks it.)


def test_workers_end_quietly_when_their_parent_is_killed(tmp_path):
    process = start_training(tmp_path / "net.npz", "--arch", "lenet5", "--batch-size", "96",
                             "--limit", "3000", "--epochs", "1000", "--workers", "3")
    try:
        wait_for_training(process)
        process.kill()  # the parent only: its workers lose their pipes mid-batch
        # Standard error ends once every process writing to it (the workers) has ended.
        stderr = process.stderr.read()
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    assert "Traceback" not in stderr and "BrokenPipe" not in stderr, stderr


@pytest.mark.parametrize("phase", ["test", "save"])
def test_ctrl_c_after_the_last_epoch_still_saves_the_run(tmp_path, capsys, monkeypatch, phase):
    """A real SIGINT to this process, while the finished run is tested or saved."""
    def interrupted(function):
        def wrapper(*args, **kwargs):
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.2)  # the signal's handler runs here
            return function(*args, **kwargs)
        return wrapper

    if phase == "test":
        monkeypatch.setattr(cnnviz.training, "evaluate", interrupted(cnnviz.training.evaluate))
    else:
        monkeypatch.setattr(cnnviz.nn, "save_model", interrupted(cnnviz.nn.save_model))
    out = tmp_path / "net.npz"
    code = main([*QUICK, "--limit", "300", "--epochs", "1", "--workers", "1", "--out", str(out)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    summary = json.loads(captured.out.strip().splitlines()[-1])
    assert summary["status"] == "finished"
    if phase == "test":  # skipped, and said so; during the save the signal waits for its end
        assert summary["test_accuracy"] is None and summary["interrupted_by"] == "SIGINT"
    else:
        assert summary["test_accuracy"] > 0.1
    _, meta = load_model_with_metadata(out)
    assert meta["epochs_completed"] == 1 and meta["steps"] == summary["steps"] > 0
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # given back


def test_the_default_validation_split_fits_a_limited_set_and_help_states_it(tmp_path, capsys):
    out = tmp_path / "net.npz"
    assert main([*QUICK, "--limit", "200", "--epochs", "1", "--workers", "1",
                 "--out", str(out)]) == 0
    assert "180 images, 20 for validation" in capsys.readouterr().err
    assert main([*QUICK, "--limit", "200", "--val-split", "200", "--out", str(out)]) == 2
    assert "--val-split must be below the 200 training images" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "default 5000, or a tenth of the training images when that is fewer" in help_text


def test_the_recorded_command_is_the_one_that_ran(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["pytest", "-k", "something else"])
    out = tmp_path / "my net.npz"
    argv = [*QUICK, "--limit", "200", "--epochs", "1", "--workers", "1", "--lr", "0.002",
            "--augment", "--out", str(out)]
    assert main(argv) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    words = shlex.split(summary["command"])
    assert words[0] == "cnnviz"
    parser = build_parser()
    recorded, given = vars(parser.parse_args(words[1:])), vars(parser.parse_args(argv))
    assert {k: v for k, v in recorded.items() if k != "run"} == \
        {k: v for k, v in given.items() if k != "run"}
    assert load_model_with_metadata(out)[1]["command"] == summary["command"]


class FakeTerminal(io.StringIO):
    def isatty(self):
        return True


@pytest.mark.parametrize("columns", [80, 40, 120])
def test_the_progress_bar_fits_the_terminal(monkeypatch, columns):
    monkeypatch.setenv("COLUMNS", str(columns))
    stream = FakeTerminal()
    bar = ProgressBar(stream)
    text = "epoch 12/20 loss 0.0123 acc 0.9876 12,345 img/s ETA 01:23:45"
    for fraction in (0.0, 0.333, 1.0):
        bar.update(fraction, text, force=True)
        bar.update(fraction, "short", force=True)
    lines = stream.getvalue().split("\r")[1:]
    assert len(lines) == 6
    assert all(len(line) <= columns - 1 for line in lines), [len(line) for line in lines]
    assert "33.3%" in lines[2]
    if columns >= 100:  # room for all of it
        assert lines[4].rstrip().endswith(text) and lines[4].startswith("[" + "#" * 28 + "]")


def test_drawn_habit_digits_join_the_training_images_of_a_digit_network_only(tmp_path, capsys):
    out = tmp_path / "net.npz"
    assert main([*QUICK, "--limit", "200", "--epochs", "1", "--workers", "1",
                 "--drawn-habits", "30", "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert "210 images, 20 for validation" in captured.err  # 180 offline + 30 drawn
    assert "--drawn-habits 30" in json.loads(captured.out.strip().splitlines()[-1])["command"]
    photos = tmp_path / "photos"
    rng = np.random.default_rng(0)
    for name in ("cat", "dog"):
        (photos / name).mkdir(parents=True)
        for i in range(5):
            Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(
                photos / name / f"{i}.png")
    assert main(["train", "--arch", "cifar-tutorial", "--data", str(photos), "--quiet",
                 "--drawn-habits", "30", "--out", str(out)]) == 2
    assert "it needs a digit network" in capsys.readouterr().err
    assert main([*QUICK, "--limit", "200", "--drawn-habits", "-1", "--out", str(out)]) == 2
    assert "--drawn-habits must be 0 or more" in capsys.readouterr().err
