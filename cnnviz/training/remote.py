"""A :class:`~cnnviz.training.Trainer` run in a child process, driven as if it were local.

The window trains from a worker thread, but a trainer computing in that thread would share the
interpreter with the GUI thread: Python threads take turns, so every repaint would wait for the
training thread's numpy calls and every training step for the repaints. :class:`TrainerProcess`
keeps the same interface (``run()`` yields :class:`~cnnviz.training.Progress` reports; ``pause``,
``resume`` and ``stop`` are honoured between steps; ``model`` holds the weights reached) while the
trainer itself runs in a fresh interpreter at a lower priority, where it can split its batches
across processes as ``cnnviz train`` does (:mod:`cnnviz.nn.parallel`). The thread that iterates
``run()`` only waits for reports and copies the weights of a snapshot, so the GUI thread has the
interpreter, and a core, whenever it has something to draw.

Only numbers and JSON cross the boundary, nothing is pickled: the images, labels and initial
weights go through one memory-mapped file; reports come back over the child's standard output as
a fixed-size header, a JSON text and the raw bytes of the weights; pause, resume and stop go the
other way as single bytes on its standard input (closing it stops the run too).
"""

from __future__ import annotations

import json
import mmap
import os
import signal
import struct
import subprocess
import sys
import threading
from dataclasses import asdict, fields

import numpy as np

from cnnviz.nn import Sequential
from cnnviz.nn.parallel import (describe_exit, how_it_ended, map_shared, quiet_stdout,
                                read_exactly, shared_memory, start_child)

from .health import NetworkHealth
from .trainer import Progress, TrainConfig

#: A report's header: kind (0 progress, 1 error), length of the JSON text, of the weights' bytes.
_HEADER = struct.Struct("<bIQ")
_ALIGN = 64
_PROGRESS_FIELDS = [f.name for f in fields(Progress) if f.name not in ("weights", "health")]
_TERMINAL = ("finished", "stopped", "diverged")


class TrainingProcessError(RuntimeError):
    """The training process failed or died."""


def _layout(arrays: dict[str, np.ndarray]) -> tuple[dict, int]:
    """Where each array goes in the shared file: name -> (offset, shape, dtype); total bytes."""
    layout, offset = {}, 0
    for name, array in arrays.items():
        layout[name] = (offset, list(array.shape), array.dtype.str)
        offset += -(-array.nbytes // _ALIGN) * _ALIGN
    return layout, max(offset, _ALIGN)


def _views(buf, layout: dict) -> dict[str, np.ndarray]:
    return {name: np.frombuffer(buf, dtype=np.dtype(dtype), count=int(np.prod(shape)),
                                offset=offset).reshape(shape)
            for name, (offset, shape, dtype) in layout.items()}


def _plain(value):
    """numpy scalars as Python numbers, for JSON."""
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"cannot send {type(value).__name__} in a report")


def _weights_bytes(model: Sequential, weights: dict[str, np.ndarray]) -> bytes:
    return b"".join(np.ascontiguousarray(weights[name], dtype=model.dtype).tobytes()
                    for name in model.named_weights())


# ----------------------------------------------------------------------------- child side
class _Requests:
    """The parent's bytes on standard input, read from the file descriptor itself.

    A thread blocked in a read of ``sys.stdin.buffer`` holds the buffer's lock; if the
    interpreter exits meanwhile, it aborts (``_enter_buffered_busy``). ``os.read`` holds no
    lock, and ``sys.stdin`` is never read at all."""

    def __init__(self, fd: int):
        self.fd, self.pending = fd, b""

    def _fill(self) -> bool:
        chunk = os.read(self.fd, 65536)
        self.pending += chunk
        return bool(chunk)

    def readline(self) -> bytes:
        while b"\n" not in self.pending:
            if not self._fill():
                raise EOFError("the parent closed the pipe before the run's settings")
        line, _, self.pending = self.pending.partition(b"\n")
        return line

    def read_byte(self) -> bytes:
        """One byte; b"" once the parent has closed the pipe (or died)."""
        if not self.pending and not self._fill():
            return b""
        byte, self.pending = self.pending[:1], self.pending[1:]
        return byte


def _serve() -> None:
    """Body of the training process (started by :meth:`TrainerProcess.run`)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    from cnnviz.nn.threads import prepare_process

    from .trainer import Trainer

    prepare_process()
    requests, stdout = _Requests(sys.stdin.fileno()), sys.stdout.buffer

    def send(kind: int, text: str, weights: bytes = b"") -> None:
        data = text.encode()
        stdout.write(_HEADER.pack(kind, len(data), len(weights)) + data + weights)
        stdout.flush()

    try:
        try:
            spec = json.loads(requests.readline())
            buf = map_shared(spec)
            arrays = _views(buf, spec["layout"])
            model = Sequential.from_config(spec["model"]).astype(spec["dtype"])
            model.set_weights({name: arrays[f"param:{name}"] for name in model.named_weights()})
            trainer = Trainer(model, arrays["train_x"], arrays["train_y"], arrays.get("val_x"),
                              arrays.get("val_y"), TrainConfig(**spec["config"]))
        except Exception as exc:
            send(1, f"{type(exc).__name__}: {exc}")
            return

        def listen() -> None:  # the parent's requests, between steps
            actions = {b"p": trainer.pause, b"r": trainer.resume}
            request = requests.read_byte()
            while request in actions:
                actions[request]()
                request = requests.read_byte()
            trainer.stop()  # b"s", or the parent closed the pipe (or died)
            while request:  # nothing undoes a stop; wait for the pipe's end
                request = requests.read_byte()

        # Not a daemon: the process ends once the parent has closed the pipe (which it does on
        # the run's last report, or by dying), with no thread left in a read.
        listener = threading.Thread(target=listen, name="cnnviz-requests")
        listener.start()
        try:
            for report in trainer.run():
                weights = model.get_weights() if report.kind in _TERMINAL else report.weights
                header = {name: getattr(report, name) for name in _PROGRESS_FIELDS}
                header["health"] = None if report.health is None else asdict(report.health)
                send(0, json.dumps(header, default=_plain),
                     b"" if weights is None else _weights_bytes(model, weights))
        except Exception as exc:  # reported to the parent, which raises it
            if not isinstance(exc, BrokenPipeError):
                send(1, f"{type(exc).__name__}: {exc}")
        listener.join()
    except BrokenPipeError:  # the parent is gone: nothing to tell, and no traceback
        quiet_stdout()


# ----------------------------------------------------------------------------- parent side
class TrainerProcess:
    """Train a copy of ``model`` in a child process; the interface of a local ``Trainer``.

    Parameters
    ----------
    model : Sequential
        The network to train. It is not touched while the child trains; its weights become those
        of each snapshot as the reports arrive, and those the run reached when it ends.
    train_x, train_y, val_x, val_y, config
        As for :class:`~cnnviz.training.Trainer`.
    nice : int
        Lower the child's scheduling priority by this much (Unix ``nice``; its own workers
        inherit it), so that the window's GUI thread gets a core at once when it needs one.

    :meth:`run` starts the child and yields its reports; closing the generator (or the end of the
    run) stops the child and removes the shared file. Errors in the child are raised from
    :meth:`run` as :class:`TrainingProcessError` with the child's message.
    """

    def __init__(self, model: Sequential, train_x, train_y, val_x=None, val_y=None,
                 config: TrainConfig = TrainConfig(), nice: int = 0):
        config.validate()
        if len(train_x) != len(train_y) or len(train_x) == 0:
            raise ValueError("training images and labels must be non-empty and of equal length")
        self.model = model
        self.config = config
        self.nice = int(nice)
        dtype = np.dtype(model.dtype)
        self._arrays = {"train_x": np.asarray(train_x, dtype=dtype),
                        "train_y": np.asarray(train_y, dtype=np.int64)}
        if val_x is not None and val_y is not None and len(val_x):
            self._arrays["val_x"] = np.asarray(val_x, dtype=dtype)
            self._arrays["val_y"] = np.asarray(val_y, dtype=np.int64)
        self._lock = threading.Lock()
        self._process: subprocess.Popen | None = None
        self._paused = self._stopped = False

    # Requests, safe to call from any thread; honoured between steps.
    # Each sets its flag and sends its byte under one lock, the lock under which run() starts
    # the child and sends it the flags as they are: a request is either seen by run() before
    # the child starts or sent to the child after, never lost in between.
    def stop(self) -> None:
        self._request("_stopped", True, b"s")

    def pause(self) -> None:
        self._request("_paused", True, b"p")

    def resume(self) -> None:
        self._request("_paused", False, b"r")

    @property
    def paused(self) -> bool:
        return self._paused

    @property
    def process(self) -> subprocess.Popen | None:
        """The child process while it runs (for tests: killing it is a failure to report)."""
        return self._process

    def _request(self, flag: str, value: bool, request: bytes) -> None:
        with self._lock:
            setattr(self, flag, value)
            process = self._process
            if process is None:
                return  # run() sends the flags when it starts the child
            try:
                process.stdin.write(request)
                process.stdin.flush()
            except (OSError, ValueError):
                pass  # the child has ended: its end is reported by run()

    def run(self):
        """Train in the child, yielding a :class:`Progress` after every batch and every epoch."""
        model = self.model
        arrays = dict(self._arrays)
        for name, value in model.named_weights().items():  # running statistics too
            arrays[f"param:{name}"] = np.asarray(value, dtype=model.dtype)
        layout, size = _layout(arrays)
        fd, path = shared_memory("cnnviz-training-", size)
        try:
            with mmap.mmap(fd, size) as buf:
                for name, view in _views(buf, layout).items():
                    view[...] = arrays[name]
                    del view
            spec = {"path": path, "fd": fd if path is None else None, "layout": layout,
                    "model": model.config(), "dtype": np.dtype(model.dtype).str,
                    "config": asdict(self.config)}
            with self._lock:
                stopped = self._stopped
                if not stopped:
                    self._process = start_child(__name__, spec, self.nice,
                                                pass_fds=() if spec["fd"] is None else (fd,))
                    if self._paused:
                        self._process.stdin.write(b"p")
                        self._process.stdin.flush()
            if stopped:  # before the child started: the run ends where it began
                batches = -(-len(self._arrays["train_x"]) // self.config.batch_size)
                yield Progress("stopped", 0, 0, self.config.epochs, 0, batches, float("nan"),
                               0.0, self.config.lr, 0.0, 0.0, weights=model.get_weights(),
                               message="stopped by request")
                return
            yield from self._reports(path)
        finally:
            os.close(fd)
            status = self._close()
            if path is not None:
                try:
                    os.unlink(path)
                except FileNotFoundError:
                    pass
        if status:  # the run ended, but the process did not end cleanly: say so
            raise TrainingProcessError(f"the training process {describe_exit(status)} "
                                       "after the run")

    def _reports(self, path: str):
        model, process = self.model, self._process
        names = list(model.named_weights())
        shapes = [value.shape for value in model.named_weights().values()]
        while True:
            try:
                kind, text_length, weights_length = _HEADER.unpack(
                    read_exactly(process.stdout, _HEADER.size))
                text = read_exactly(process.stdout, text_length).decode()
                raw = read_exactly(process.stdout, weights_length)
            except (EOFError, OSError, ValueError) as exc:
                raise TrainingProcessError(f"the training process stopped unexpectedly (it "
                                           f"{how_it_ended(process)})") from exc
            if path is not None:  # the child has mapped the file: nothing need stay behind
                try:
                    os.unlink(path)
                except FileNotFoundError:
                    pass
                path = None
            if kind == 1:
                raise TrainingProcessError(text)
            header = json.loads(text)
            health = header.pop("health")
            if header["per_class_accuracy"] is not None:
                header["per_class_accuracy"] = tuple(header["per_class_accuracy"])
            weights = None
            if raw:
                vector = np.frombuffer(raw, dtype=model.dtype)
                weights, offset = {}, 0
                for name, shape in zip(names, shapes):
                    count = int(np.prod(shape))
                    weights[name] = vector[offset:offset + count].reshape(shape)  # read-only
                    offset += count
                model.set_weights(weights)
            report = Progress(**header, weights=weights,
                              health=None if health is None else NetworkHealth(**health))
            yield report
            if report.kind in _TERMINAL:
                return

    def _close(self) -> int:
        """End the child (after its current step) and wait for it; its exit status."""
        with self._lock:
            process, self._process = self._process, None
        if process is None:
            return 0
        try:
            process.stdin.close()  # the child stops after its current step
        except OSError:
            pass
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        process.stdout.close()
        return process.returncode
