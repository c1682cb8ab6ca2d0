"""Speed measurements of the engine, against PyTorch on the CPU when it is installed.

Each figure is measured in rounds that alternate between the engine and PyTorch, so that both
see the same machine load; the medians of the rounds are reported with their ratio.
"""

from __future__ import annotations

import statistics
import time

import numpy as np

from cnnviz.nn import SGD, SoftmaxCrossEntropy, build_preset
from cnnviz.nn.parallel import ParallelGradients, default_workers


def _torch():
    try:
        import torch
    except ImportError:
        return None
    return torch


def torch_lenet5(torch, model):
    """PyTorch LeNet-5 carrying ``model``'s weights (same architecture as the preset)."""
    nn = torch.nn
    net = nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
                        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                        nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(),
                        nn.Linear(84, 10))
    mapping = {"0": "0", "3": "3", "7": "7", "9": "9", "11": "11"}
    state = {f"{mapping[k.split('.')[0]]}.{k.split('.')[1]}": torch.tensor(v)
             for k, v in model.named_params().items()}
    net.load_state_dict(state)
    return net


def torch_network(torch, model):
    """A PyTorch network computing what ``model`` computes, with its weights (Conv2D, Dense,
    MaxPool2D, AvgPool2D without padding, Flatten, ReLU, Tanh); None when a layer has no such
    equivalent here."""
    nn = torch.nn
    modules, params = [], model.named_params()
    for i, layer in enumerate(model.layers):
        pad = getattr(layer, "pad", (0, 0, 0, 0))
        if layer.kind in ("Conv2D", "MaxPool2D") and any(pad):
            top, bottom, left, right = pad
            fill = -float("inf") if layer.kind == "MaxPool2D" else 0.0
            modules.append(nn.ConstantPad2d((left, right, top, bottom), fill))
        if layer.kind == "Conv2D":
            weight = torch.tensor(params[f"{i}.weight"])
            module = nn.Conv2d(weight.shape[1], weight.shape[0], tuple(weight.shape[2:]),
                               stride=tuple(layer.stride), dilation=tuple(layer.dilation),
                               bias=f"{i}.bias" in params)
        elif layer.kind == "Dense":
            weight = torch.tensor(params[f"{i}.weight"])
            module = nn.Linear(weight.shape[1], weight.shape[0], bias=f"{i}.bias" in params)
        elif layer.kind == "MaxPool2D":
            module = nn.MaxPool2d(tuple(layer.size), tuple(layer.stride))
        elif layer.kind == "AvgPool2D" and not any(pad):
            module = nn.AvgPool2d(tuple(layer.size), tuple(layer.stride))
        elif layer.kind in ("Flatten", "ReLU", "Tanh"):
            module = {"Flatten": nn.Flatten, "ReLU": nn.ReLU, "Tanh": nn.Tanh}[layer.kind]()
        else:
            return None
        if layer.kind in ("Conv2D", "Dense"):
            with torch.no_grad():
                module.weight.copy_(weight)
                if module.bias is not None:
                    module.bias.copy_(torch.tensor(params[f"{i}.bias"]))
        modules.append(module)
    return nn.Sequential(*modules)


def _network(model, seed):
    """``model``, or the lenet5 preset when None."""
    return build_preset("lenet5", seed=seed) if model is None else model


class NumpyStepper:
    """One SGD-with-momentum training step of the engine on a batch, its gradients computed in
    ``workers`` shards (processes; see :mod:`cnnviz.nn.parallel`).  Close it when done."""

    def __init__(self, model, workers: int = 1, max_batch: int = 64):
        self.model, self.opt, self.loss = model, SGD(lr=0.01, momentum=0.9), SoftmaxCrossEntropy()
        model.layers[0].need_input_grad = False
        self.parallel = ParallelGradients(model, workers, max_batch=max_batch) if workers > 1 else None

    def __call__(self, x, y):
        if self.parallel is not None:
            grads = self.parallel(x, y)[2]
        else:
            _, grad = self.loss(self.model.forward(x, training=True), y)
            self.model.backward(grad)
            grads = self.model.named_grads()
        self.opt.step(self.model.named_params(), grads)

    def close(self):
        if self.parallel is not None:
            self.parallel.close()


class TorchStepper:
    def __init__(self, torch, net):
        self.torch, self.net = torch, net
        self.opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
        self.loss = torch.nn.CrossEntropyLoss()

    def __call__(self, x, y):
        self.opt.zero_grad(set_to_none=True)
        self.loss(self.net(x), y).backward()
        self.opt.step()


def _throughput(step, batches, seconds):
    """Samples per second of ``step`` cycling over ``batches`` for about ``seconds``."""
    done, start = 0, time.perf_counter()
    while True:
        for x, y in batches:
            step(x, y)
            done += len(y)
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return done / elapsed


def training_throughput(batch_size: int, rounds: int = 5, seconds: float = 1.0, seed: int = 0,
                        workers: int | None = None, model=None):
    """Median samples/s of training steps of ``model`` (default: lenet5): the engine with
    ``workers`` processes (default: :func:`~cnnviz.nn.parallel.default_workers`), the engine in
    one process, and PyTorch with its default threads if it is installed (and has an equivalent
    of the network: :func:`torch_network`).  Keys ``"numpy"``, ``"numpy_1"``, ``"torch"`` and
    ``"workers"``.
    """
    workers = default_workers(batch_size) if workers is None else workers
    rng = np.random.default_rng(seed)
    model = _network(model, seed)
    classes = int(np.prod(model.output_shape))
    data = [(rng.random((batch_size, *model.input_shape), dtype=np.float32).astype(model.dtype),
             rng.integers(0, classes, batch_size)) for _ in range(8)]
    steppers = {"numpy": NumpyStepper(model.copy(), workers, batch_size)}
    if workers > 1:
        steppers["numpy_1"] = NumpyStepper(model.copy())
    torch = _torch()
    inputs = {name: data for name in steppers}
    net = torch_network(torch, model) if torch is not None else None
    if net is not None:
        steppers["torch"] = TorchStepper(torch, net.to(_torch_dtype(torch, model)))
        inputs["torch"] = [(torch.from_numpy(x), torch.from_numpy(y)) for x, y in data]
    results = {name: [] for name in steppers}
    try:
        for name, step in steppers.items():
            _throughput(step, inputs[name], 0.3)
        for _ in range(rounds):
            for name, step in steppers.items():
                time.sleep(0.1)  # let the previous contestant's threads and processes go idle
                results[name].append(_throughput(step, inputs[name], seconds))
    finally:
        for step in steppers.values():
            getattr(step, "close", lambda: None)()
    out = {name: statistics.median(v) for name, v in results.items()}
    out.setdefault("numpy_1", out["numpy"])
    out["workers"] = workers
    return out


def _torch_dtype(torch, model):
    return torch.float64 if np.dtype(model.dtype) == np.float64 else torch.float32


def _latencies(fn, repeats):
    for _ in range(50):
        fn()
    out = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return np.array(out) * 1e3


def trace_latency(repeats: int = 3000, seed: int = 0, model=None):
    """Milliseconds for one image: the engine's full trace of ``model`` (default: lenet5), and
    PyTorch's forward alone."""
    model = _network(model, seed)
    x = np.random.default_rng(seed).random((1, *model.input_shape)).astype(model.dtype)
    ours = _latencies(lambda: model.trace(x), repeats)
    result = {"numpy_trace": ours}
    torch = _torch()
    net = torch_network(torch, model) if torch is not None else None
    if net is not None:
        net = net.to(_torch_dtype(torch, model)).eval()
        tx = torch.from_numpy(x)

        def forward():
            with torch.no_grad():
                net(tx)

        result["torch_forward"] = _latencies(forward, repeats)
    return result


def mnist_epoch(train_x, train_y, batch_size=64, seed=0, workers=None, rounds=3, model=None):
    """Median wall time of one shuffled epoch of ``model`` (default: lenet5) on the uint8 images
    ``train_x`` ((N, H, W) or (N, C, H, W); MNIST's for lenet5) with Adam, as ``cnnviz train``
    (with its default number of worker processes unless ``workers`` says otherwise), for the
    engine and PyTorch, in ``rounds`` alternating rounds; each round starts from the same
    weights."""
    from cnnviz.data import to_float_batch
    from cnnviz.training import TrainConfig, Trainer

    workers = default_workers(batch_size) if workers is None else workers
    model = _network(model, seed)
    x = to_float_batch(train_x).astype(model.dtype)
    config = TrainConfig(batch_size=batch_size, seed=seed, workers=workers)
    torch = _torch()
    times = {"numpy": [], "torch": []}
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in Trainer(model.copy(), x, train_y, config=config).run():
            pass
        times["numpy"].append(time.perf_counter() - start)
        net = torch_network(torch, model) if torch is not None else None
        if net is None:
            continue
        time.sleep(0.1)
        net = net.to(_torch_dtype(torch, model))
        opt = torch.optim.Adam(net.parameters(), lr=1e-3)
        loss = torch.nn.CrossEntropyLoss()
        tx, ty = torch.from_numpy(x), torch.from_numpy(train_y.astype(np.int64))
        gen = torch.Generator().manual_seed(seed)
        start = time.perf_counter()
        order = torch.randperm(len(tx), generator=gen)
        for i in range(0, len(tx), batch_size):
            idx = order[i:i + batch_size]
            opt.zero_grad(set_to_none=True)
            loss(net(tx[idx]), ty[idx]).backward()
            opt.step()
        times["torch"].append(time.perf_counter() - start)
        time.sleep(0.1)
    result = {name: statistics.median(v) for name, v in times.items() if v}
    result["workers"] = workers
    return result


def time_to_accuracy(data, targets=(0.98, 0.99), eval_every=100, max_epochs=20, seed=1):
    """Training seconds of the shipped recipe (with ``cnnviz train``'s default number of worker
    processes) until the test accuracy first reaches each target.

    The test set is evaluated every ``eval_every`` steps; that time is not counted.
    Returns ``{target: (seconds, epochs) or None}``.
    """
    from cnnviz.training import TrainConfig, Trainer, evaluate

    model = build_preset("lenet5", seed=seed)
    x = data.train_x.astype(np.float32)[:, None] / 255.0
    tx = data.test_x.astype(np.float32)[:, None] / 255.0
    config = TrainConfig(epochs=max_epochs, batch_size=64, lr=1e-3, lr_step=8, lr_gamma=0.3,
                         augment=True, seed=seed, workers=default_workers(64))
    trainer = Trainer(model, x, data.train_y, config=config)
    reached, pending, evaluating = {}, sorted(targets), 0.0
    for p in trainer.run():
        if p.kind != "step" or p.step % eval_every:
            continue
        begin = time.perf_counter()
        accuracy = evaluate(model, tx, data.test_y).accuracy
        while pending and accuracy >= pending[0]:
            reached[pending.pop(0)] = (p.elapsed - evaluating, p.epoch + p.batch / p.batches)
        evaluating += time.perf_counter() - begin
        if not pending:
            trainer.stop()
    return {t: reached.get(t) for t in targets}


def predict_throughput(model, count=1000, seed=0, contract=None):
    """Images per second of ``cnnviz predict`` (load, preprocess as ``contract`` says, predict)
    on ``count`` PNG files of drawn digits."""
    import tempfile
    from pathlib import Path

    from PIL import Image

    from cnnviz.commands.predict import predict_files
    from cnnviz.data import make_drawn_digits

    with tempfile.TemporaryDirectory() as folder:
        paths = []
        for start in range(0, count, 100):
            images, _ = make_drawn_digits(min(100, count - start), seed=seed + start)
            for i, img in enumerate(images):
                paths.append(Path(folder) / f"{start + i:04d}.png")
                Image.fromarray((255 - img * 255).astype(np.uint8)).save(paths[-1])
        begin = time.perf_counter()
        done = sum(1 for found in predict_files(model, paths, contract)
                   if found.probabilities is not None)
        return done / (time.perf_counter() - begin)


def torch_mirror(torch, model):
    """A PyTorch ``nn.Sequential`` equal to ``model`` (Conv2D with symmetric padding, pooling
    without padding, Flatten, Dense, ReLU), carrying its weights."""
    from cnnviz.nn.layers import Conv2D, Dense, Flatten, MaxPool2D, ReLU

    nn, mods = torch.nn, []
    for layer in model.layers:
        if isinstance(layer, Conv2D):
            top, bottom, left, right = layer.pad
            if top != bottom or left != right:
                raise ValueError("the PyTorch mirror needs symmetric padding")
            conv = nn.Conv2d(layer.in_channels, layer.out_channels, layer.kernel_size,
                             stride=layer.stride, padding=(top, left), dilation=layer.dilation,
                             bias=layer.use_bias)
            mods.append(conv)
        elif isinstance(layer, MaxPool2D) and not any(layer.pad):
            mods.append(nn.MaxPool2d(layer.size, layer.stride))
        elif isinstance(layer, Dense):
            mods.append(nn.Linear(layer.in_features, layer.out_features, bias=layer.use_bias))
        elif isinstance(layer, ReLU):
            mods.append(nn.ReLU())
        elif isinstance(layer, Flatten):
            mods.append(nn.Flatten())
        else:
            raise ValueError(f"no PyTorch mirror for {layer.kind}")
    net = nn.Sequential(*mods)
    net.load_state_dict({k: torch.tensor(v) for k, v in model.named_params().items()})
    return net


def epoch_time(preset: str = "vgg-small", batch_size: int = 64, batches: int = 40,
               rounds: int = 5, epoch_size: int = 50_000, seed: int = 0, workers=None,
               torch_threads: int = 2, data=None):
    """Per-batch training time of ``preset`` with Adam (1e-3), the engine as ``cnnviz train``
    runs it (its :class:`~cnnviz.training.Trainer`, with its default worker processes) and
    PyTorch (``torch.set_num_threads(torch_threads)``), in alternating rounds of ``batches``
    shuffled batches each; both start every round from the same weights.

    ``data`` is ``(x, y)`` (float32 images, int labels); random images of the preset's input
    shape by default.  Each round is timed in two parts: its first quarter of batches
    (``head_batches``, at least one), which includes what an epoch pays once (starting the
    engine's worker processes, during which the caller computes their shards itself; warming
    caches up), and the other batches.  Returns medians over the rounds: ``numpy_batch_s`` and
    ``torch_batch_s`` (a batch after the head), ``numpy_first_s`` and ``torch_first_s`` (the
    head's batches together), the estimated ``numpy_epoch_s`` and ``torch_epoch_s`` for
    ``epoch_size`` images (the head once, then the others), their ``ratio`` (numpy/torch epoch
    time), ``workers`` and ``torch_threads``.  ``*_rounds_s`` list each round's time per batch
    after the head.
    """
    from cnnviz.training import TrainConfig, Trainer

    model = build_preset(preset, seed=seed)
    workers = default_workers(batch_size) if workers is None else workers
    rng = np.random.default_rng(seed)
    count = batches * batch_size
    if batches < 2:
        raise ValueError("batches must be at least 2 (the first one is timed apart)")
    if data is None:
        x = rng.random((count, *model.input_shape), dtype=np.float32)
        y = rng.integers(0, model.output_shape[0], count)
    else:
        pick = rng.choice(len(data[1]), count, replace=len(data[1]) < count)
        x, y = np.ascontiguousarray(data[0][pick], dtype=np.float32), data[1][pick]
    config = TrainConfig(batch_size=batch_size, seed=seed, workers=workers)
    torch = _torch()
    times = {"numpy": [], "torch": []}
    firsts = {"numpy": [], "torch": []}
    if torch is not None:
        threads_before = torch.get_num_threads()
        torch.set_num_threads(torch_threads)
        tx, ty = torch.from_numpy(x), torch.from_numpy(y.astype(np.int64))
        lossf = torch.nn.CrossEntropyLoss()

    head = max(1, batches // 4)

    def run_torch():
        net = torch_mirror(torch, model)
        opt = torch.optim.Adam(net.parameters(), lr=1e-3)
        gen = torch.Generator().manual_seed(seed)
        stamps = [time.perf_counter()]
        order = torch.randperm(count, generator=gen)
        for i in range(0, count, batch_size):
            idx = order[i:i + batch_size]
            opt.zero_grad(set_to_none=True)
            lossf(net(tx[idx]), ty[idx]).backward()
            opt.step()
            stamps.append(time.perf_counter())
        return stamps[head] - stamps[0], stamps[-1] - stamps[head]

    def run_numpy():
        stamps = [time.perf_counter()]
        for p in Trainer(model.copy(), x, y, config=config).run():
            if p.kind == "step":  # a report after every batch, then the epoch's and the end's
                stamps.append(time.perf_counter())
        return stamps[head] - stamps[0], stamps[-1] - stamps[head]

    try:
        for r in range(rounds + 1):  # the first round warms both up and is not counted
            for name, run in (("numpy", run_numpy), ("torch", run_torch)):
                if name == "torch" and torch is None:
                    continue
                time.sleep(0.1)
                opening, rest = run()
                if r:
                    firsts[name].append(opening)
                    times[name].append(rest / (batches - head))
    finally:
        if torch is not None:
            torch.set_num_threads(threads_before)
    steps = -(-epoch_size // batch_size)
    out = {"preset": preset, "batch": batch_size, "workers": workers,
           "torch_threads": torch_threads if torch is not None else None, "rounds": rounds,
           "batches": batches, "head_batches": head, "epoch_size": epoch_size,
           "numpy_rounds_s": times["numpy"], "torch_rounds_s": times["torch"]}
    for name, v in times.items():
        if v:
            out[f"{name}_batch_s"] = statistics.median(v)
            out[f"{name}_first_s"] = statistics.median(firsts[name])
            out[f"{name}_epoch_s"] = out[f"{name}_first_s"] + statistics.median(v) * (steps - head)
    if times["torch"]:
        out["ratio"] = out["numpy_epoch_s"] / out["torch_epoch_s"]
    return out
