"""What the headless commands share: opening networks and datasets, and a text progress bar."""

from __future__ import annotations

import os
import shutil
import sys
import time
from pathlib import Path

from cnnviz.commands import UserError

DEFAULT_MODEL = ("models", "lenet5.npz")
#: The datasets ``--data`` names (anything else must be a folder: MNIST files, CIFAR-10's binary
#: release, or images in class folders).
DATA_NAMES = ("mnist", "cifar10", "offline")


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


def open_network(spec: str | None, seed: int = 0, options=None):
    """``(model, contract)``: a network as :func:`open_model` opens it, with its input contract
    (the file's; a preset's default one: :func:`cnnviz.nn.default_contract`), changed by the
    command line's ``options`` (parsed arguments of :func:`add_contract_options`) if given."""
    from cnnviz.nn import PRESETS, ModelFileError, build_preset, default_contract, load_network

    if spec is None:
        spec = str(default_model_path())
    if spec in PRESETS and not Path(spec).exists():
        model = build_preset(spec, seed=seed)
        contract = default_contract(model.input_shape, model.output_shape)
    else:
        try:
            network = load_network(spec)
        except ModelFileError as exc:
            known = ", ".join(PRESETS)
            hint = f" (or name a preset: {known})" if not Path(spec).exists() else ""
            raise UserError(f"{exc}{hint}") from None
        model, contract = network.model, network.contract
    if options is not None:
        contract = contract_with_options(contract, model, options)
    return model, contract


# ------------------------------------------------------------------ the input contract's options
def add_contract_options(parser, default: str = "the network file's own") -> None:
    """The options that change what a network takes (its input contract), shared by every
    command that opens a network: ``--classes``, ``--pipeline``, ``--fit``, ``--mean``,
    ``--std`` (:func:`contract_changes` reads them)."""
    what = parser.add_argument_group(
        "what the network takes",
        f"change how images become the network's input and what its classes are called "
        f"(default: {default}; an ONNX file without a cnnviz description is a digit network "
        f"at 1x28x28, an image network with values in [0, 1] otherwise)")
    what.add_argument("--classes", metavar="FILE|NAMES",
                      help="the class names: a text file of one name per line (also @FILE), "
                           "or the names separated by commas; a name that appears again is "
                           "numbered ('crane (2)')")
    what.add_argument("--pipeline", choices=("digits", "image", "none"),
                      help="how an image becomes the input: digits (MNIST-style), image "
                           "(resize, RGB or grey, values in [0, 1]) or none")
    what.add_argument("--fit", choices=("crop", "pad"),
                      help="image pipeline: centre-crop, or pad to keep the whole picture")
    what.add_argument("--mean", metavar="M[,M,M]",
                      help="per-channel mean subtracted last (e.g. 0.485,0.456,0.406; one "
                           "number for every channel)")
    what.add_argument("--std", metavar="S[,S,S]",
                      help="per-channel standard deviation divided by last (e.g. "
                           "0.229,0.224,0.225)")


def contract_changes(options) -> dict:
    """The changes the command line asks for, as keyword arguments of
    :func:`cnnviz.nn.contract.changed_contract` (class names read from their file; the mean and
    standard deviation kept as text, for the network's channels to decide); notes about the
    names go to standard error. Raises :class:`UserError`."""
    from cnnviz.nn.contract import ContractError, class_names_from_lines, read_class_names

    changes = {key: getattr(options, key, None) for key in ("pipeline", "fit", "mean", "std")}
    text = getattr(options, "classes", None)
    if text is not None:
        path = text[1:] if text.startswith("@") else text
        try:
            if text.startswith("@") or ("," not in text and os.path.isfile(path)):
                names, notes = read_class_names(path)
            else:
                names, notes = class_names_from_lines(text.split(","))
        except OSError as exc:
            raise UserError(f"--classes {text}: cannot be read ({exc.strerror or exc})") \
                from None
        except ContractError as exc:
            raise UserError(f"--classes {text}: {exc}") from None
        if not names:
            raise UserError(f"--classes {text}: no class names in it")
        for note in notes:
            print(f"cnnviz: --classes: {note}", file=sys.stderr)
        changes["classes"] = names
    return {key: value for key, value in changes.items() if value is not None}


def contract_with_options(contract, model, options):
    """``contract`` changed as the command line's ``options`` say, checked as a whole and
    against ``model``; raises :class:`UserError` naming the option at fault."""
    from cnnviz.nn.contract import ContractError, changed_contract

    from cnnviz.nn.contract import channel_values

    changes = contract_changes(options)
    if not changes:
        return contract
    try:
        for key in ("mean", "std"):
            if key in changes:
                changes[key] = channel_values(changes[key], contract.channels, f"--{key}")
    except ContractError as exc:
        raise UserError(str(exc)) from None
    try:
        changed = changed_contract(contract, **changes)
        changed.check_network(model.input_shape, model.output_shape)
    except ContractError as exc:
        given = " ".join(f"--{key}" if key == "classes" else
                         f"--{key} {getattr(options, key)}" for key in changes)
        raise UserError(f"{given}: {exc}") from None
    return changed


def open_dataset(spec: str, seed: int = 0, download: bool = True, limit: int | None = None,
                 model=None, check: bool = True):
    """``"mnist"`` or ``"cifar10"`` (found locally or downloaded), ``"offline"`` (generated) or a
    folder, recognised by its content: MNIST files, CIFAR-10's binary release, or images in class
    folders (which become what ``model`` takes, or keep their own size and colour without one).
    ``limit`` keeps at most that many training and test images. With ``model``, the images must
    be what the network takes (:func:`cnnviz.data.check_network_input`; ``check=False`` leaves
    that to the caller, :func:`check_fits`). What the user should know
    about the data (files skipped...) goes to standard error."""
    from cnnviz.data import (DataError, Dataset, load_data_folder, load_default_cifar10,
                             load_default_mnist, synthetic_dataset)

    if limit is not None and limit < 2:
        raise UserError("--limit must be at least 2")
    if spec not in DATA_NAMES and not os.path.lexists(spec):  # a link loop is load_mnist's to say
        raise UserError(f"--data {spec}: no dataset or folder of that name; choose "
                        f"{', '.join(DATA_NAMES)}, or a folder holding the four MNIST files, "
                        "CIFAR-10's binary release or images in class folders (CLASS/*.png)")
    shape = tuple(model.input_shape) if model is not None else None
    if shape is not None and (len(shape) != 3 or shape[0] not in (1, 3)):
        shape = None  # images cannot become that input: check_fits says so below
    try:
        if spec == "offline":
            if limit is None:
                data = synthetic_dataset(seed=seed)
            else:
                data = synthetic_dataset(n_train=limit, n_test=min(limit, 5000), seed=seed)
        elif spec == "mnist":
            data = load_default_mnist(download=download, progress=ByteProgress())
        elif spec == "cifar10":
            data = load_default_cifar10(download=download, progress=ByteProgress(),
                                        folder_progress=ImageProgress())
        else:
            data = load_data_folder(spec, shape, progress=ImageProgress())
    except DataError as exc:
        raise UserError(str(exc)) from None
    for note in data.notes:
        print(f"cnnviz: {note}", file=sys.stderr)
    if limit is not None and spec != "offline":
        train, test = limited(data.train_y, limit, seed), limited(data.test_y, limit, seed)
        grouped = not isinstance(train, slice) or not isinstance(test, slice)
        data = Dataset(data.train_x[train], data.train_y[train], data.test_x[test],
                       data.test_y[test], name=f"{data.name} ({'first ' * (not grouped)}{limit}"
                                                f"{' spread over the classes' * grouped})",
                       class_names=data.class_names, notes=data.notes)
    if model is not None and check:
        check_fits(model, data, describe_data(spec))
    return data


def limited(labels, limit: int, seed: int = 0):
    """Which of a split's images ``--limit`` keeps (:func:`cnnviz.training.sources.limited`,
    shared with the window's Training panel)."""
    from cnnviz.training.sources import limited as choose

    return choose(labels, limit, seed)


def describe_data(spec: str) -> str:
    """What ``--data spec`` holds, for messages: "the MNIST digits", "the images in PATH"..."""
    what = {"offline": "the offline digits", "mnist": "the MNIST digits",
            "cifar10": "the CIFAR-10 images"}
    return what.get(spec, f"the images in {spec}")


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


class ImageProgress:
    """Progress of decoding a folder of images, on standard error (a bar, or a line every 10 s
    when standard error is not a terminal)."""

    def __init__(self):
        self.bar = None

    def __call__(self, done, total):
        if self.bar is None:
            self.bar = ProgressBar()
        self.bar.update(done / max(total, 1), f"reading images: {done:,} of {total:,}",
                        force=done == total)
        if done == total:
            self.bar.close()
        return True


class ProgressBar:
    """A one-line progress bar with rate and ETA, redrawn at most ten times a second.

    On a terminal the line fits its width (:meth:`columns`, read at every redraw), one column
    short of it so that the terminal never wraps it: the bar narrows down to ``min_width``, then
    the text is cut. Elsewhere (a log) whole lines are written, every ten seconds."""

    def __init__(self, stream=None, width: int = 28, min_width: int = 10):
        stream = stream if stream is not None else sys.stderr
        self.stream, self.width, self.min_width, self._last = stream, width, min_width, 0.0
        self.interactive = getattr(stream, "isatty", lambda: False)()

    def line(self, fraction: float, text: str, columns: int) -> str:
        """The line drawn for ``fraction`` and ``text`` on a terminal ``columns`` wide."""
        room = max(columns - 1, 1)
        percent = f"{100 * fraction:5.1f}%"
        # "[" bar "] " percent " " text
        width = min(self.width, max(self.min_width, room - len(percent) - len(text) - 4))
        filled = int(width * min(max(fraction, 0.0), 1.0))
        line = f"[{'#' * filled}{'.' * (width - filled)}] {percent} {text}"
        return line[:room]

    def update(self, fraction: float, text: str, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last < (0.1 if self.interactive else 10.0):
            return
        self._last = now
        if self.interactive:
            columns = self.columns()
            # Spaces over whatever a longer line before left, still within the width.
            line = self.line(fraction, text, columns).ljust(max(columns - 1, 1))
            print(f"\r{line}", end="", file=self.stream, flush=True)
        else:  # a log: whole lines, no width to keep to
            print(self.line(fraction, text, 1 << 20), file=self.stream, flush=True)

    def columns(self) -> int:
        """The terminal's width: ``COLUMNS``, else standard output's terminal, else the
        stream's, else 80."""
        columns = shutil.get_terminal_size((0, 0)).columns
        if columns <= 0:
            try:
                columns = os.get_terminal_size(self.stream.fileno()).columns
            except (AttributeError, OSError, ValueError):
                columns = 0
        return columns if columns > 0 else 80

    def close(self) -> None:
        if self.interactive:
            print(file=self.stream, flush=True)


def format_seconds(seconds: float) -> str:
    if seconds != seconds:  # NaN
        return "--:--"
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}" if seconds >= 3600 \
        else f"{seconds // 60:02d}:{seconds % 60:02d}"
