"""The networks shipped with cnnviz: the one the window starts with, the File ▸ Example Networks
list, and a network's title in words. Never imports Qt."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cnnviz.nn import Sequential, load_network
from cnnviz.nn.contract import InputContract
from cnnviz.session import NetworkEntry

__all__ = ["DEFAULT_EXAMPLE", "ExampleNetwork", "example_networks", "network_title",
           "shipped_network"]

SHIPPED_NETWORK = ("models", "lenet5.npz")
#: The example network the window starts with when none was used before.
DEFAULT_EXAMPLE = SHIPPED_NETWORK[1]


def _models_folder() -> Path | None:
    from cnnviz.resources import resource_path

    try:
        return resource_path(SHIPPED_NETWORK[0])
    except FileNotFoundError:  # a broken installation
        return None


def shipped_network(name: str | None = None) -> tuple[NetworkEntry, str | None]:
    """A network shipped with cnnviz (read-only), and None: the example network file ``name``
    (e.g. the one used last) when there is one of that name, else the pretrained lenet5.

    When lenet5 is missing or unreadable too (a broken installation): an untrained lenet5 and a
    message saying so.
    """
    from cnnviz.nn import build_preset

    folder = _models_folder()
    names = [name] if name and name != DEFAULT_EXAMPLE else []
    names.append(DEFAULT_EXAMPLE)
    problem = None
    for candidate in names:
        path = folder / candidate if folder is not None else None
        # Only a plain file name of the models folder: a remembered setting names no other file.
        if path is None or Path(candidate).name != candidate or not path.is_file():
            problem = problem or f"{candidate} is missing"
            continue
        try:
            return NetworkEntry.open(path, read_only=True), None
        except Exception as exc:  # a broken installation: the window starts all the same
            problem = str(exc)
    message = f"The shipped network could not be opened ({problem}); using an untrained lenet5."
    return NetworkEntry(build_preset("lenet5", seed=0)), message


@dataclass(frozen=True)
class ExampleNetwork:
    """A network file shipped with cnnviz, as File > Example Networks lists it.

    Attributes
    ----------
    path : Path
    title : str
        What it is, in words (:func:`network_title`), or why it cannot be read.
    readable : bool
    """

    path: Path
    title: str
    readable: bool = True

    @property
    def name(self) -> str:
        return self.path.name


_titles: dict[tuple, tuple[str, bool]] = {}


def example_networks() -> list[ExampleNetwork]:
    """The networks shipped with cnnviz (every ``.npz`` file of the models folder), by file
    name, each with a title read from its file (cached while the file stays the same)."""
    from cnnviz.nn import ModelFileError

    folder = _models_folder()
    if folder is None:
        return []
    found = []
    for path in sorted(folder.glob("*.npz"), key=lambda p: p.name.lower()):
        try:
            stat = path.stat()
        except OSError:
            continue
        key = (str(path), stat.st_size, stat.st_mtime_ns)
        if key not in _titles:
            try:
                network = load_network(path)
                _titles[key] = (network_title(path.name, network.model, network.metadata,
                                              network.contract), True)
            except (ModelFileError, OSError, MemoryError) as exc:
                _titles[key] = (f"{path.stem} (cannot be read: {exc})", False)
        title, readable = _titles[key]
        found.append(ExampleNetwork(path, title, readable))
    return found


def network_title(file_name: str, model: Sequential, metadata: dict,
                  contract: InputContract) -> str:
    """A network in words, from its file: ``"lenet5: digits 28×28, 10 classes (MNIST, 99.3%
    test accuracy)"``.

    The name is the metadata's ``title`` or ``arch`` (text), else the model's name or the file's;
    the input is what the contract says; the training data and test accuracy come from the
    metadata when it has them (``data``: text, ``test_accuracy``: a number from 0 to 1).
    """
    from cnnviz.nn.io import clean_text

    def text(key):
        value = metadata.get(key) if isinstance(metadata, dict) else None
        return clean_text(value, 60).strip() if isinstance(value, str) else ""

    if text("title"):
        return text("title")
    name = text("arch") or clean_text(model.name or "", 60).strip() or Path(file_name).stem
    c, h, w = contract.channels, contract.height, contract.width
    what = {"digits": "digits", "image": "colour images" if c == 3 else "grey images"}.get(
        contract.pipeline, f"{contract.shape_text} inputs")
    size = f" {h}\u00d7{w}" if contract.pipeline != "none" else ""
    count = int(np.prod(model.output_shape))
    details = [part for part in (text("data"),) if part]
    accuracy = metadata.get("test_accuracy") if isinstance(metadata, dict) else None
    if isinstance(accuracy, (int, float)) and not isinstance(accuracy, bool) \
            and 0 <= accuracy <= 1:
        details.append(f"{accuracy:.1%} test accuracy")
    extra = f" ({', '.join(details)})" if details else ""
    return f"{name}: {what}{size}, {count} classes{extra}"
