"""What the headless commands share: opening networks and datasets, and a text progress bar."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from cnnviz.commands import UserError

DEFAULT_MODEL = ("models", "lenet5.npz")
#: The datasets ``--data`` names (anything else must be a folder of MNIST files).
DATA_NAMES = ("mnist", "offline")


def default_model_path() -> Path:
    """The pretrained network shipped with cnnviz."""
    from cnnviz.resources import resource_path

    try:
        return resource_path(*DEFAULT_MODEL)
    except FileNotFoundError as exc:
        raise UserError(str(exc)) from None


def open_model(spec: str | None, seed: int = 0):
    """A network from a file path, a preset name (fresh weights) or, for None, the shipped one."""
    return open_network(spec, seed)[0]


def open_network(spec: str | None, seed: int = 0):
    """``(model, contract)``: a network as :func:`open_model` opens it, with its input contract
    (the file's; a preset's default one: :func:`cnnviz.nn.default_contract`)."""
    from cnnviz.nn import PRESETS, ModelFileError, build_preset, default_contract, load_network

    if spec is None:
        spec = str(default_model_path())
    if spec in PRESETS and not Path(spec).exists():
        model = build_preset(spec, seed=seed)
        return model, default_contract(model.input_shape, model.output_shape)
    try:
        network = load_network(spec)
    except ModelFileError as exc:
        known = ", ".join(PRESETS)
        hint = f" (or name a preset: {known})" if not Path(spec).exists() else ""
        raise UserError(f"{exc}{hint}") from None
    return network.model, network.contract


def open_dataset(spec: str, seed: int = 0, download: bool = True, limit: int | None = None,
                 model=None):
    """``"mnist"`` (found locally or downloaded), ``"offline"`` (generated) or a folder of MNIST
    files; ``limit`` keeps at most that many training and test images. With ``model``, the
    images must be what the network takes (:func:`cnnviz.data.check_network_input`)."""
    from cnnviz.data import DataError, Dataset, load_default_mnist, load_mnist, synthetic_dataset

    if limit is not None and limit < 2:
        raise UserError("--limit must be at least 2")
    if spec not in DATA_NAMES and not os.path.lexists(spec):  # a link loop is load_mnist's to say
        raise UserError(f"--data {spec}: no dataset or folder of that name; choose "
                        f"{', '.join(DATA_NAMES)}, or a folder holding the four MNIST files")
    try:
        if spec == "offline":
            if limit is None:
                data = synthetic_dataset(seed=seed)
            else:
                data = synthetic_dataset(n_train=limit, n_test=min(limit, 5000), seed=seed)
        elif spec == "mnist":
            data = load_default_mnist(download=download, progress=ByteProgress())
        else:
            data = load_mnist(spec)
    except DataError as exc:
        raise UserError(str(exc)) from None
    if limit is not None and spec != "offline":
        data = Dataset(data.train_x[:limit], data.train_y[:limit], data.test_x[:limit],
                       data.test_y[:limit], name=f"{data.name} (first {limit})")
    if model is not None:
        what = {"offline": "the offline digits", "mnist": "the MNIST digits"}
        check_fits(model, data, what.get(spec, f"the digits in {spec}"))
    return data


def check_fits(model, data, what: str) -> None:
    """Refuse, as a :class:`UserError`, data whose images ``model`` cannot take; ``what`` names
    the images for the message."""
    import numpy as np

    from cnnviz.data import InputShapeError, check_network_classes, check_network_input

    try:
        check_network_input(model.input_shape, data.test_x, what)
        labels = np.concatenate((data.train_y, data.test_y))
        check_network_classes(model.output_shape, labels, what)
    except InputShapeError as exc:
        raise UserError(f"{exc} (--model and --data choose them)") from None


class ByteProgress:
    """Download progress on standard error."""

    def __call__(self, name, done, total):
        if total and done < total:
            print(f"\rdownloading {name}: {done / 2**20:.1f} / {total / 2**20:.1f} MiB",
                  end="", file=sys.stderr, flush=True)
        elif total:
            print(f"\r{name}: ready{' ' * 30}", file=sys.stderr, flush=True)
        return True


class ProgressBar:
    """A one-line progress bar with rate and ETA, redrawn at most ten times a second."""

    def __init__(self, stream=None, width: int = 28):
        stream = stream if stream is not None else sys.stderr
        self.stream, self.width, self._last = stream, width, 0.0
        self.interactive = getattr(stream, "isatty", lambda: False)()

    def update(self, fraction: float, text: str, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last < (0.1 if self.interactive else 10.0):
            return
        self._last = now
        filled = int(self.width * min(max(fraction, 0.0), 1.0))
        line = f"[{'#' * filled}{'.' * (self.width - filled)}] {100 * fraction:5.1f}% {text}"
        if self.interactive:
            print(f"\r{line}", end="", file=self.stream, flush=True)
        else:
            print(line, file=self.stream, flush=True)

    def close(self) -> None:
        if self.interactive:
            print(file=self.stream, flush=True)


def format_seconds(seconds: float) -> str:
    if seconds != seconds:  # NaN
        return "--:--"
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}" if seconds >= 3600 \
        else f"{seconds // 60:02d}:{seconds % 60:02d}"
