"""Atomic writes: a killed save leaves nothing for ever, and the rename reaches the disk."""

import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cnnviz import fileio
from cnnviz.fileio import atomic_write, remove_stale_temporaries, temporary_name
from cnnviz.nn import build_preset, load_model, save_model


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_stale_temporary_of_a_dead_process_is_removed_by_the_next_save(tmp_path):
    target = tmp_path / "net.npz"
    stale = tmp_path / temporary_name(target, pid=dead_pid())
    stale.write_bytes(b"half a network")
    save_model(build_preset("tiny", seed=0), target)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["net.npz"]


def test_temporaries_of_living_processes_and_other_targets_are_kept(tmp_path):
    target = tmp_path / "net.npz"
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        alive = tmp_path / temporary_name(target, pid=sleeper.pid)
        mine = tmp_path / temporary_name(target)
        other = tmp_path / temporary_name(tmp_path / "other.npz", pid=dead_pid())
        for path in (alive, mine, other):
            path.write_bytes(b"in progress")
        save_model(build_preset("tiny", seed=0), target)
        assert alive.exists() and mine.exists() and other.exists()
        # ... unless they are older than a day (a reused pid, another machine's folder)
        old = time.time() - fileio.STALE_AGE - 60
        os.utime(alive, (old, old))
        assert remove_stale_temporaries(target) == [alive]
    finally:
        sleeper.kill()
        sleeper.wait()


def test_legacy_temporaries_are_removed_once_old(tmp_path):
    target = tmp_path / "net.npz"
    legacy = tmp_path / ".net.npz.k3j_9xq2.tmp"  # mkstemp's name, no pid (before this change)
    legacy.write_bytes(b"x")
    assert remove_stale_temporaries(target) == []
    old = time.time() - fileio.LEGACY_STALE_AGE - 60
    os.utime(legacy, (old, old))
    assert remove_stale_temporaries(target) == [legacy]


KILLED_SAVE = """
import sys, time
import numpy as np
from cnnviz.nn import build_preset, save_model

def slow_savez(handle, **arrays):
    handle.write(b"PK" + b"x" * 100000)
    handle.flush()
    print("writing", flush=True)
    time.sleep(60)

np.savez = slow_savez
save_model(build_preset("tiny", seed=0), sys.argv[1])
"""


def test_a_save_killed_mid_write_is_cleared_by_the_next(tmp_path):
    target = tmp_path / "net.npz"
    save_model(build_preset("tiny", seed=1), target)
    before = target.read_bytes()
    child = subprocess.Popen([sys.executable, "-c", KILLED_SAVE, str(target)],
                             stdout=subprocess.PIPE, text=True,
                             env={**os.environ, "PYTHONPATH": str(Path(fileio.__file__).parents[1])})
    try:
        assert child.stdout.readline().strip() == "writing"
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        child.stdout.close()
    leftovers = [p for p in tmp_path.iterdir() if p.name != "net.npz"]
    assert len(leftovers) == 1 and leftovers[0].stat().st_size >= 100000
    assert target.read_bytes() == before  # the killed save never touched the target
    save_model(build_preset("tiny", seed=2), target)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["net.npz"]
    assert load_model(target).config() == build_preset("tiny", seed=2).config()


def test_the_file_and_then_the_folder_are_fsynced(tmp_path, monkeypatch):
    synced = []
    real_fsync = os.fsync

    def recording_fsync(fd):
        mode = os.fstat(fd).st_mode
        synced.append("folder" if stat.S_ISDIR(mode) else "file")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", recording_fsync)
    save_model(build_preset("tiny", seed=0), tmp_path / "net.npz")
    assert synced == ["file", "folder"]
    synced.clear()
    with atomic_write(tmp_path / "a.csv", "w", newline="", encoding="utf-8") as handle:
        handle.write("x,y\n")
    assert synced == ["file", "folder"]
    assert (tmp_path / "a.csv").read_text() == "x,y\n"


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "t.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_write(target, "w") as handle:
            handle.write("new")
            raise RuntimeError("disk full")
    assert target.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["t.txt"]


def test_history_csv_export_is_atomic(tmp_path, monkeypatch):
    from cnnviz.training.history import TrainingHistory

    calls = []
    real = fileio.atomic_write

    def spy(path, *args, **kwargs):
        calls.append(Path(path))
        return real(path, *args, **kwargs)

    import cnnviz.training.history as history
    monkeypatch.setattr(history, "atomic_write", spy)
    TrainingHistory().write_csv(tmp_path / "h.csv")
    assert calls == [tmp_path / "h.csv"] and (tmp_path / "h.csv").read_text().startswith("step")
