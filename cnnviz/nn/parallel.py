"""Data-parallel gradients: one batch split across worker processes.

numpy runs one Python thread at a time through the interpreter, and the engine's matrix products
are too small for a multi-threaded BLAS to pay, so the way to use a second core is a second
process.  :class:`ParallelGradients` splits every batch into ``workers`` shards.  The first shard
is computed in the calling thread (unless ``local=False``); each other shard goes to a worker process
that holds its own copy of the network's architecture.  The parent writes the current weights and
the shards into one shared, memory-mapped file; each worker runs forward and backward on its shard
and writes its gradient, already weighted by its share of the batch, back there.  The parent adds
the shards' gradients and applies the optimiser itself, so the optimiser state lives in one place and
a step equals a single-process step up to the order of floating-point additions.

Batch normalisation in training normalises each shard by the shard's own statistics (as
PyTorch's DataParallel does without synchronised batch norm), so with such layers the gradients of a
split batch differ slightly from one process's.  The running statistics do not: every shard reports
its batch mean and variance per channel, and the parent combines them into the whole batch's (the
counts weighted, the variance with the spread of the shard means added) and updates its layers'
running statistics once per batch, as one process would.  The workers read the parent's running
statistics from the shared file at every batch, like the weights.

Only numbers cross the process boundary: the architecture as JSON, and fixed-size binary messages
over the workers' standard input and output.  Workers are fresh interpreters that import this module
(not forked, and without re-running the caller's main module), so this is safe in a program that runs
threads, such as the window, and from any script.
"""

from __future__ import annotations

import json
import mmap
import os
import select
import signal
import struct
import subprocess
import sys
import tempfile

import numpy as np

from .errors import ModelError
from .losses import SoftmaxCrossEntropy

#: Request to a worker: shard size (0 means quit), training flag, share of the whole batch.
_REQUEST = struct.Struct("<qbd")
#: Reply of a worker: status (0 ok, 1 error), loss, correct predictions, length of an error text.
_REPLY = struct.Struct("<bdqI")
_ALIGN = 64


class WorkerError(RuntimeError):
    """A worker process failed or died."""


def default_workers(batch_size: int = 64) -> int:
    """How many shards to split a batch into here: one per core, up to 4, and no shard below 16."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(cores, 4, batch_size // 16))


def _param_layout(model):
    """Names, shapes and offsets (in items) of the parameters in one flat vector, and its length."""
    entries, offset = [], 0
    for name, value in model.named_params().items():
        entries.append((name, tuple(value.shape), offset))
        offset += value.size
    return entries, offset


def _state_layout(model):
    """Like :func:`_param_layout`, for the layers' state (running statistics)."""
    entries, offset = [], 0
    for name, value in model.named_state().items():
        entries.append((name, tuple(value.shape), offset))
        offset += value.size
    return entries, offset


def _statistics_layers(model):
    """(index, layer, values per channel in one image) of the layers that compute batch
    statistics in training (batch normalisation)."""
    return [(i, layer, int(np.prod(layer.input_shape[1:])) if len(layer.input_shape) > 1 else 1)
            for i, layer in enumerate(model.layers) if hasattr(layer, "update_statistics")]


def _report_statistics(model, out) -> None:
    """Each statistics layer's last batch mean and (biased) variance into the views ``out``
    (named as its running statistics)."""
    for index, layer, _ in _statistics_layers(model):
        out[f"{index}.running_mean"][...] = layer.batch_mean
        out[f"{index}.running_var"][...] = layer.batch_var


def _views(vector, entries):
    return {name: vector[offset:offset + int(np.prod(shape))].reshape(shape)
            for name, shape, offset in entries}


def _shared_layout(params, workers, shard, in_shape, dtype, state=0):
    """Byte offsets in the shared file: the weights, then per worker its gradient, x and y; then
    the running statistics and per worker its batch statistics."""
    item = np.dtype(dtype).itemsize
    in_size = int(np.prod(in_shape))
    sizes = [params * item]
    for _ in range(workers):
        sizes += [params * item, shard * in_size * item, shard * 8]
    sizes += [state * item] * (workers + 1)
    offsets, end = [], 0
    for size in sizes:
        offsets.append(end)
        end += -(-size // _ALIGN) * _ALIGN
    return offsets, max(end, _ALIGN)


class _Region:
    """Typed numpy views into the shared file."""

    def __init__(self, buf, params, workers, shard, in_shape, dtype, state=0):
        offsets, _ = _shared_layout(params, workers, shard, in_shape, dtype, state)
        dtype = np.dtype(dtype)
        self.params = np.ndarray((params,), dtype, buffer=buf, offset=offsets[0])
        self.grads, self.x, self.y = [], [], []
        for k in range(workers):
            g, x, y = offsets[1 + 3 * k:4 + 3 * k]
            self.grads.append(np.ndarray((params,), dtype, buffer=buf, offset=g))
            self.x.append(np.ndarray((shard, *in_shape), dtype, buffer=buf, offset=x))
            self.y.append(np.ndarray((shard,), np.int64, buffer=buf, offset=y))
        rest = offsets[1 + 3 * workers:]
        self.state = np.ndarray((state,), dtype, buffer=buf, offset=rest[0])
        self.statistics = [np.ndarray((state,), dtype, buffer=buf, offset=o) for o in rest[1:]]


def read_exactly(stream, size: int) -> bytes:
    """``size`` bytes from a child's pipe; EOFError if it ends first."""
    data = stream.read(size)
    if data is None or len(data) < size:
        raise EOFError
    return data


def shared_memory(prefix: str, size: int) -> tuple[int, str | None]:
    """A file of ``size`` bytes, in memory where the system allows, for child processes to map:
    ``(fd, path)``.

    Where a child can inherit the descriptor (POSIX: :func:`start_child`'s ``pass_fds``), the
    file has no name from the start (``memfd_create``), or loses it before this returns (a
    temporary file unlinked at once), and ``path`` is None: nothing can stay behind, whatever
    kills the processes and whenever. Elsewhere the children open ``path``, which the caller
    removes as soon as they have (and on every way out)."""
    if os.name == "posix" and hasattr(os, "memfd_create"):
        fd = os.memfd_create(prefix.rstrip("-"), os.MFD_CLOEXEC)
        path = None
    else:
        folder = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) \
            else None
        fd, path = tempfile.mkstemp(prefix=prefix, dir=folder)
        if os.name == "posix":
            os.unlink(path)
            path = None
    try:
        os.ftruncate(fd, size)
    except BaseException:
        os.close(fd)
        if path is not None:
            os.unlink(path)
        raise
    return fd, path


def map_shared(spec: dict, write: bool = False) -> mmap.mmap:
    """In a child: map the file of :func:`shared_memory` that ``spec`` names (its inherited
    descriptor ``fd``, or its ``path``)."""
    access = mmap.ACCESS_WRITE if write else mmap.ACCESS_READ
    if spec.get("fd") is not None:
        try:
            return mmap.mmap(spec["fd"], 0, access=access)
        finally:
            os.close(spec["fd"])
    with open(spec["path"], "r+b" if write else "rb") as f:
        return mmap.mmap(f.fileno(), 0, access=access)


def describe_exit(status: int | None) -> str:
    """How a child process ended, from its ``returncode``, in words: "exited with status 3",
    "was killed by signal 9 (SIGKILL)"."""
    if status is None:
        return "gave no exit status"
    if status < 0:
        try:
            name = f" ({signal.Signals(-status).name})"
        except ValueError:
            name = ""
        return f"was killed by signal {-status}{name}"
    return f"exited with status {status}"


def how_it_ended(process: subprocess.Popen, timeout: float = 5.0) -> str:
    """Wait up to ``timeout`` seconds for a child whose pipe broke, and say how it ended."""
    try:
        return describe_exit(process.wait(timeout=timeout))
    except subprocess.TimeoutExpired:
        return describe_exit(None)


def quiet_stdout() -> None:
    """For a child whose parent is gone: point standard output at the null device, so that
    nothing tries to write to the broken pipe again (no ``BrokenPipeError`` at exit)."""
    try:
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, sys.stdout.fileno())
        os.close(null)
    except (OSError, ValueError):
        pass


def start_child(module: str, spec: dict, nice: int = 0, pass_fds=()) -> subprocess.Popen:
    """Start a fresh interpreter that runs ``module._serve()`` (not forked, so safe beside
    threads, and without re-running the caller's main module), at ``nice`` lower priority, with
    pipes on its standard input and output, inheriting the descriptors ``pass_fds`` (same
    numbers); ``spec`` goes to it as the first line, in JSON."""
    import cnnviz

    env = dict(os.environ)
    root = os.path.dirname(os.path.dirname(os.path.abspath(cnnviz.__file__)))
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    # Lower the priority first thing, before the imports, which take a core for a while.
    boot = (f"import os\nif {int(nice)}:\n try: os.nice({int(nice)})\n except "
            f"(AttributeError, OSError): pass\nfrom {module} import _serve\n_serve()")
    process = subprocess.Popen([sys.executable, "-c", boot], env=env, pass_fds=tuple(pass_fds),
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    process.stdin.write(json.dumps(spec).encode() + b"\n")
    process.stdin.flush()
    return process


def _shard_gradients(model, loss_fn, x, y, training, share, out):
    """Forward and backward of one shard; its gradients times ``share`` go to the views ``out``.
    Returns the shard's mean loss and its number of correct predictions."""
    with np.errstate(over="ignore", invalid="ignore"):  # the caller checks for NaN
        logits = model.forward(x, training=bool(training))
        loss, grad = loss_fn(logits, y)
        model.backward(grad)
    for name, g in model.named_grads().items():
        np.multiply(g, share, out=out[name])
    return float(loss), int((logits.argmax(axis=1) == y).sum())


# ----------------------------------------------------------------------------- worker side
def _serve() -> None:
    """Body of a worker process (started by :func:`start_child`)."""
    # Ctrl-C and SIGTERM are the parent's to handle: it stops its run, then these workers.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    try:
        _work()
    except BrokenPipeError:  # the parent is gone: nothing to tell, and no traceback
        quiet_stdout()


def _work() -> None:
    from .model import Sequential
    from .threads import prepare_process

    prepare_process()
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    spec = json.loads(stdin.readline())
    model = Sequential.from_config(spec["config"]).astype(spec["dtype"])
    for index, layer in enumerate(model.layers):
        if hasattr(layer, "rng"):  # dropout masks: reproducible per seed, worker and layer
            layer.rng = np.random.default_rng([*spec["seed"], index])
    entries, total = _param_layout(model)
    state_entries, state_total = _state_layout(model)
    k = spec["index"]
    buf = map_shared(spec, write=True)
    region = _Region(buf, total, spec["workers"], spec["shard"], model.input_shape, spec["dtype"],
                     state_total)
    for name, view in _views(region.params, entries).items():
        index, key = name.split(".", 1)
        model.layers[int(index)].params[key] = view  # read only here: the parent writes them
    for name, view in _views(region.state, state_entries).items():
        index, key = name.split(".", 1)
        model.layers[int(index)].state[key] = view  # likewise: the parent updates them
    for _, layer, _ in _statistics_layers(model):
        layer.update_running = False  # the parent combines the shards' statistics
    statistics_out = _views(region.statistics[k], state_entries)
    grads_out = _views(region.grads[k], entries)
    x_buf, y_buf = region.x[k], region.y[k]
    model.layers[0].need_input_grad = False
    loss_fn = SoftmaxCrossEntropy()
    stdout.write(_REPLY.pack(0, 0.0, 0, 0))  # ready
    stdout.flush()
    while True:
        try:
            count, training, share = _REQUEST.unpack(read_exactly(stdin, _REQUEST.size))
        except EOFError:
            return
        if count == 0:
            return
        try:
            loss, correct = _shard_gradients(model, loss_fn, x_buf[:count], y_buf[:count],
                                             training, share, grads_out)
            if training:
                _report_statistics(model, statistics_out)
            stdout.write(_REPLY.pack(0, loss, correct, 0))
        except Exception as exc:  # reported to the parent, which raises it
            message = f"{type(exc).__name__}: {exc}".encode()[:4000]
            stdout.write(_REPLY.pack(1, float("nan"), 0, len(message)) + message)
        stdout.flush()


# ----------------------------------------------------------------------------- parent side
class ParallelGradients:
    """Loss and gradients of a batch, computed in ``workers`` shards.

    Parameters
    ----------
    model : Sequential
        The network to train.  Its weights are read at every :meth:`submit`; with ``local`` its
        first shard runs on it (which fills its layers' ``grads``).
    workers : int
        Number of shards the batch is split into (at least 1).
    max_batch : int
        Largest batch that will be passed to :meth:`submit`.
    seed : int
        Seeds the workers' own random numbers (dropout): same seed, same run.
    local : bool
        Compute the first shard in the calling thread, so that ``workers - 1`` processes are
        started and the caller does its share instead of waiting.  Turn it off when the caller must
        stay light (a training thread beside a GUI thread): then every shard has a process.
    nice : int
        Lower the workers' scheduling priority by this much (Unix ``nice``).  The window does, so
        that its GUI thread gets a core at once whenever it has something to draw.

    A worker process takes a while to start (a fresh interpreter importing numpy and the engine: about
    0.15 s, a twentieth of a lenet5 epoch on MNIST).  With ``local`` and a network without random
    layers (dropout) nor batch statistics (batch normalisation), the caller does not wait for it: until a worker has said it is ready, the
    caller computes that worker's shard itself, in the same way and into the same place, so that the
    numbers are the same to the last bit whenever the worker becomes ready (the run stays
    reproducible) and the first batches are not lost to waiting.

    Use as a context manager, or call :meth:`close`.  :meth:`submit` sends a batch off and returns
    at once; :meth:`collect` finishes it and returns ``(loss, correct, grads)``: the mean loss over
    the batch, the number of correct predictions and a dict of gradients by parameter name (views
    into one buffer, valid until the next :meth:`collect`).
    """

    def __init__(self, model, workers: int = 2, max_batch: int = 64, seed: int = 0,
                 local: bool = True, nice: int = 0):
        if workers < 1:
            raise ValueError("workers must be at least 1")
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        self.model = model
        self.workers = workers
        self.local = bool(local)
        self.max_batch = max_batch
        self.dtype = np.dtype(model.dtype)
        self._entries, total = _param_layout(model)
        self._state_entries, self._state_total = _state_layout(model)
        self._statistics_layers = _statistics_layers(model)
        shard = -(-max_batch // workers)
        self._procs: list = [None] * workers
        self._pending = self._local_batch = None
        self._training = False
        self._stand_in: dict = {}
        self._ready = [True] * workers
        self._bound: list = []
        self._bounds: dict = {}
        self._loss_fn = SoftmaxCrossEntropy()
        self._path = self._buf = self._region = self._fd = None
        try:
            self._open_shared(total, shard)
            self._sum = np.zeros(total, self.dtype)
            self._sum_views = _views(self._sum, self._entries)
            self._params_views = _views(self._region.params, self._entries)
            self._state_views = _views(self._region.state, self._state_entries)
            self._local_statistics = np.zeros(self._state_total, self.dtype)
            spec = {"config": model.config(), "dtype": self.dtype.str, "path": self._path,
                    "fd": self._fd, "workers": workers, "shard": shard, "nice": int(nice)}
            for k in range(self.local, workers):
                self._procs[k] = self._start(dict(spec, index=k, seed=[seed, k]))
                self._ready[k] = False
            # The caller may stand in for a worker still starting when its shard is computed the
            # same way here: on the caller's own model, so only when no layer draws random
            # numbers (each worker draws its own dropout masks) and none gathers batch statistics
            # (each shard reports its own to the caller), and only once the workers no
            # longer need the file's name (they inherit its descriptor: POSIX).
            if not (self.local and self._path is None
                    and not any(hasattr(layer, "rng") for layer in model.layers)
                    and not self._statistics_layers):
                self.wait_for_workers()
            # Every worker has mapped the file: remove its name now (where it has one), so that
            # nothing stays behind even if this process is killed.
            self._unlink()
            self._close_fd()
        except BaseException:
            self.close()
            raise

    def _open_shared(self, total, shard):
        _, size = _shared_layout(total, self.workers, shard, self.model.input_shape, self.dtype,
                                 self._state_total)
        self._fd, self._path = shared_memory("cnnviz-gradients-", size)
        self._buf = mmap.mmap(self._fd, size)
        self._region = _Region(self._buf, total, self.workers, shard, self.model.input_shape,
                               self.dtype, self._state_total)

    @staticmethod
    def _start(spec):
        fds = () if spec["fd"] is None or spec["path"] is not None else (spec["fd"],)
        if not fds:
            spec = dict(spec, fd=None)
        return start_child(__name__, spec, spec["nice"], pass_fds=fds)

    def _close_fd(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def _receive(self, k):
        proc = self._procs[k]
        try:
            status, loss, correct, length = _REPLY.unpack(read_exactly(proc.stdout, _REPLY.size))
            message = read_exactly(proc.stdout, length).decode(errors="replace") if length else ""
        except (EOFError, OSError, ValueError) as exc:
            raise WorkerError(f"training worker {k} stopped unexpectedly "
                              f"(it {how_it_ended(proc)})") from exc
        if status:
            raise WorkerError(f"training worker {k} failed: {message}")
        return loss, correct

    def submit(self, x, y, training: bool = True) -> None:
        """Start computing the gradients of batch ``(x, y)`` with the model's current weights."""
        if self._pending is not None:
            raise RuntimeError("collect() the previous batch first")
        if self._buf is None:
            raise RuntimeError("closed")
        n = len(y)
        if not 0 < n <= self.max_batch or len(x) != n:
            raise ValueError(f"a batch of {len(x)} images and {n} labels does not fit "
                             f"max_batch {self.max_batch}")
        if tuple(x.shape[1:]) != tuple(self.model.input_shape):
            raise ModelError(f"input shape {x.shape[1:]} does not match {self.model.input_shape}")
        self._stand_in = {}
        for k in range(self.workers):  # before anything is sent: a failed start raises here
            if not self._ready[k]:
                self._worker_ready(k)
        if not self._still_bound():
            for name, value in self.model.named_params().items():
                self._params_views[name][...] = value
            if self._bound:  # a parameter was replaced (set_weights): bind the new ones
                self.bind_parameters()
        for name, value in self.model.named_state().items():
            self._state_views[name][...] = value
        self._training = bool(training)
        bounds = self._bounds.get(n)
        if bounds is None:  # np.linspace costs a few percent of a small network's step
            bounds = self._bounds[n] = [int(b) for b in
                                        np.linspace(0, n, self.workers + 1).round()]
        used = []
        for k in range(self.workers):
            a, b = bounds[k], bounds[k + 1]
            if b == a:
                continue
            used.append((k, b - a))
            if k == 0 and self.local:
                self._local_batch = (x[a:b], y[a:b], training)
                continue
            if not self._ready[k]:
                self._stand_in[k] = (x[a:b], y[a:b], training)
                continue
            self._region.x[k][:b - a] = x[a:b]
            self._region.y[k][:b - a] = y[a:b]
            try:
                self._procs[k].stdin.write(_REQUEST.pack(b - a, int(training), (b - a) / n))
                self._procs[k].stdin.flush()
            except (OSError, ValueError) as exc:
                self._pending = (used[:-1], n)
                self._drain()
                raise WorkerError(f"training worker {k} stopped unexpectedly (it "
                                  f"{describe_exit(self._procs[k].poll())})") from exc
        self._pending = (used, n)

    def wait_for_workers(self) -> None:
        """Wait until every worker has started (mapped the shared file and said it is ready)."""
        for k in range(self.workers):
            if not self._ready[k]:
                self._receive(k)
                self._ready[k] = True

    def _worker_ready(self, k) -> bool:
        """Whether worker ``k``, still starting at the last look, has said it is ready (without
        waiting); a worker that died while starting is reported (WorkerError)."""
        stdout = self._procs[k].stdout
        if not select.select([stdout], [], [], 0)[0]:
            return False
        self._receive(k)
        self._ready[k] = True
        return True

    def _drain(self):
        """Wait for the shards already sent, ignoring their errors (after a failed send)."""
        try:
            self.collect()
        except Exception:
            pass

    def collect(self):
        """Finish the batch given to :meth:`submit`; returns ``(loss, correct, grads)``."""
        if self._pending is None:
            raise RuntimeError("nothing was submitted")
        used, n = self._pending
        self._pending = None
        loss, correct, error = 0.0, 0, None
        local = bool(used) and used[0][0] == 0 and self.local
        if local:
            try:
                loss, correct = self._local_shard(float(used[0][1] / n))
            except Exception as exc:  # still drain the workers, so the next batch starts clean
                error = exc
        for k, count in used[local:]:
            try:
                if k in self._stand_in:
                    # The share as the worker gets it (a Python float, so float32 arithmetic).
                    part_loss, part_correct = self._stand_in_shard(k, float(count / n))
                else:
                    part_loss, part_correct = self._receive(k)
            except Exception as exc:  # a stand-in shard's error, like the local one's
                error = error or exc
                continue
            loss += part_loss * count / n
            correct += part_correct
        if error is not None:
            raise error
        if not local:
            np.copyto(self._sum, self._region.grads[used[0][0]])
        for k, _ in used[1:]:
            self._sum += self._region.grads[k]
        if self._training and self._statistics_layers:
            self._update_statistics(used, local)
        return loss, correct, self._sum_views

    def _update_statistics(self, used, local) -> None:
        """The whole batch's mean and variance per channel from the shards', into the running
        statistics of the parent's layers (one update per batch, as one process makes)."""
        shards = [(_views(self._local_statistics if local and k == 0
                          else self._region.statistics[k], self._state_entries), count)
                  for k, count in used]
        for index, layer, positions in self._statistics_layers:
            means, variances, counts = [], [], []
            for views, images in shards:
                means.append(views[f"{index}.running_mean"].astype(np.float64))
                variances.append(views[f"{index}.running_var"].astype(np.float64))
                counts.append(images * positions)
            weights = np.array(counts, np.float64)[:, None] / sum(counts)
            means, variances = np.array(means), np.array(variances)
            mean = (weights * means).sum(axis=0)
            var = (weights * (variances + (means - mean) ** 2)).sum(axis=0)
            layer.update_statistics(mean, var, sum(counts))

    def bind_parameters(self) -> None:
        """Make the model's parameters views into the shared file, where the workers read them:
        then :meth:`submit` has nothing to copy, and :attr:`parameter_vector` holds every
        parameter in one flat array that an optimiser can update in one pass
        (``Optimizer.step_vector``).  A parameter replaced later (``set_weights``) is noticed at
        the next :meth:`submit` and bound again; :meth:`close` gives the model ordinary arrays
        back."""
        self._bound = []
        for i, layer in enumerate(self.model.layers):
            for key in list(layer.params):
                view = self._params_views[f"{i}.{key}"]
                view[...] = layer.params[key]
                layer.params[key] = view
                self._bound.append((layer.params, key, view))

    def _still_bound(self) -> bool:
        return bool(self._bound) and all(params.get(key) is view
                                         for params, key, view in self._bound)

    def _unbind(self) -> None:
        for params, key, view in self._bound:
            if params.get(key) is view:
                params[key] = view.copy()
        self._bound = []

    @property
    def parameter_vector(self) -> np.ndarray | None:
        """Every parameter of the model in one flat array (the storage of its parameters, in the
        order of :attr:`layout`) while they are bound (:meth:`bind_parameters`), else None."""
        return self._region.params if self._still_bound() else None

    @property
    def layout(self) -> tuple:
        """``(name, shape)`` of every parameter, in their order in the flat vectors."""
        return tuple((name, shape) for name, shape, _ in self._entries)

    @property
    def gradient_vector(self) -> np.ndarray:
        """Every gradient of the last :meth:`collect` in one flat array (the dict's storage)."""
        return self._sum

    def _local_shard(self, share):
        """Shard 0 on the caller's model, its weighted gradient into the sum buffer.  Returns the
        shard's weighted loss and its correct predictions."""
        x, y, training = self._local_batch
        self._local_batch = None
        first = self.model.layers[0].need_input_grad
        self.model.layers[0].need_input_grad = False
        for _, layer, _ in self._statistics_layers:
            layer.update_running = False  # updated once from every shard's, in collect()
        try:
            loss, correct = _shard_gradients(self.model, self._loss_fn, x, y, training, share,
                                             self._sum_views)
            if training:
                _report_statistics(self.model, _views(self._local_statistics,
                                                      self._state_entries))
        finally:
            self.model.layers[0].need_input_grad = first
            for _, layer, _ in self._statistics_layers:
                layer.update_running = True
        return loss * share, correct

    def _stand_in_shard(self, k, share):
        """Worker ``k``'s shard, computed here while the worker starts: on the caller's model,
        into the worker's gradient in the shared file.  Returns the shard's mean loss and its
        correct predictions, as the worker would."""
        x, y, training = self._stand_in.pop(k)
        first = self.model.layers[0].need_input_grad
        self.model.layers[0].need_input_grad = False
        try:
            return _shard_gradients(self.model, self._loss_fn, x, y, training, share,
                                    _views(self._region.grads[k], self._entries))
        finally:
            self.model.layers[0].need_input_grad = first

    def __call__(self, x, y, training: bool = True):
        self.submit(x, y, training)
        return self.collect()

    def close(self) -> None:
        """Stop the workers and remove the shared file (safe to call twice)."""
        self._unbind()
        starting = [p for p, ready in zip(self._procs, self._ready) if p is not None and not ready]
        procs = [p for p in self._procs if p is not None]
        self._procs = [None] * self.workers
        for proc in procs:
            if proc in starting:  # it holds nothing yet: no need to wait for its imports
                proc.kill()
            try:
                proc.stdin.write(_REQUEST.pack(0, 0, 0.0))
                proc.stdin.close()
            except (OSError, ValueError):
                pass
        for proc in procs:
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            proc.stdout.close()
        self._region = self._params_views = self._state_views = None
        if self._buf is not None:
            try:
                self._buf.close()
            except BufferError:  # a caller still holds a view; the mapping goes with it
                pass
            self._buf = None
        self._unlink()
        self._close_fd()

    def _unlink(self) -> None:
        if self._path is not None:
            try:
                os.unlink(self._path)
            except FileNotFoundError:
                pass
            self._path = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

