"""What a network takes: its input contract (plain data, no image code here).

A network file records, next to its layers, how an image becomes the network's input and what
its outputs mean:

- ``shape``: the input (channels, height, width), the same as the network's ``input_shape``;
- ``classes``: one name per output unit (an empty list, allowed only for networks with more than
  :data:`MAX_CLASSES` outputs: the outputs are numbered);
- ``pipeline``: ``"digits"`` (MNIST-style: find the ink, crop, fit the digit's larger side to
  20/28 of the side, centre by mass; one channel, square), ``"image"`` (RGB for 3 channels,
  grey for 1: resize so the image covers the HxW frame and centre-crop it (``fit="crop"``), or
  fits inside it and pad with ``fill`` (``fit="pad"``), values in [0, 1]) or ``"none"`` (the
  input is not made from an image: a network of 2 channels, say);
- ``mean`` and ``std``: per channel, applied last: ``(x - mean) / std``.

The steps themselves are in :mod:`cnnviz.data.pipeline`; the engine only stores and checks them.
A file written before contracts existed is a digit network (:func:`default_contract`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from .errors import ModelError
from .layers import show_value

__all__ = ["ContractError", "InputContract", "PIPELINES", "FITS", "default_contract",
           "MAX_CLASS_NAME", "MAX_CLASSES", "class_names_from_lines", "read_class_names",
           "channel_values", "changed_contract", "IMAGENET_MEAN", "IMAGENET_STD"]

PIPELINES = ("digits", "image", "none")
FITS = ("crop", "pad")
#: Longest class name (characters): room for ImageNet's synset descriptions ("ice bear, polar
#: bear, Ursus Maritimus, Thalarctos maritimus" has 68).
MAX_CLASS_NAME = 128
#: Most classes a contract may name.
MAX_CLASSES = 10_000
#: Bounds of the normalisation: inputs are in [0, 1], so these are generous, and they keep
#: ``(x - mean) / std`` far from overflowing float32.
MAX_ABS_MEAN = 1000.0
MIN_STD, MAX_STD = 1e-4, 1000.0
#: Largest value of the input shape (the model reader allows 4096).
MAX_SIDE = 65_536
#: Smallest side of a digit input (the digit's box is 20/28 of it).
MIN_DIGIT_SIDE = 8

#: Largest file of class names read (one name per line): room for MAX_CLASSES names of
#: MAX_CLASS_NAME characters of 4 UTF-8 bytes each, with their line ends.
MAX_NAMES_FILE_BYTES = MAX_CLASSES * (4 * MAX_CLASS_NAME + 2)
#: The per-channel mean and standard deviation of ImageNet's RGB images in [0, 1] (what
#: torchvision's and Keras's ImageNet networks are normalised by).
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

FORMAT = "cnnviz-input"
VERSION = 1
_KEYS = {"format", "version", "shape", "classes", "pipeline", "fit", "fill", "mean", "std"}


class ContractError(ModelError):
    """An input contract that is inconsistent, or does not fit its network."""


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value) -> bool:
    """A finite int or float (not a bool; an int too large for a float is not a number here)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    if isinstance(value, int):
        return abs(value) < 10**300
    return math.isfinite(value)


@dataclass(frozen=True)
class InputContract:
    """How an image becomes a network's input, and what its outputs are called.

    Construction checks everything (:class:`ContractError`); :meth:`from_dict` checks a file's
    JSON value first, field by field, and :meth:`check_network` that it fits a network.
    """

    shape: tuple[int, int, int]
    classes: tuple[str, ...]
    pipeline: str = "digits"
    fit: str = "crop"
    fill: float = 0.0
    mean: tuple[float, ...] = field(default=())
    std: tuple[float, ...] = field(default=())

    def __post_init__(self):
        shape = tuple(self.shape)
        if len(shape) not in (1, 3) or not all(_is_int(v) and 0 < v <= MAX_SIDE for v in shape):
            raise ContractError(f"the input shape must be three positive whole numbers "
                                f"(channels, height, width), not {show_value(self.shape)}")
        object.__setattr__(self, "shape", shape)
        if len(shape) == 1 and self.pipeline != "none":
            raise ContractError(f"a network taking a vector of {shape[0]} numbers has no image "
                                f"pipeline (pipeline must be 'none')")
        c, h, w = shape if len(shape) == 3 else (shape[0], 1, 1)
        classes = tuple(self.classes)
        object.__setattr__(self, "classes", classes)
        _check_classes(classes)
        if self.pipeline not in PIPELINES:
            raise ContractError(f"unknown pipeline {show_value(self.pipeline)} "
                                f"(known: {', '.join(PIPELINES)})")
        if self.pipeline == "digits" and (c != 1 or h != w or h < MIN_DIGIT_SIDE):
            raise ContractError(f"the digits pipeline makes one square channel of at least "
                                f"{MIN_DIGIT_SIDE}x{MIN_DIGIT_SIDE}, not {c}x{h}x{w}")
        if self.pipeline == "image" and c not in (1, 3):
            raise ContractError(f"the image pipeline makes 1 (grey) or 3 (RGB) channels, "
                                f"not {c}")
        if self.fit not in FITS:
            raise ContractError(f"unknown fit {show_value(self.fit)} (known: {', '.join(FITS)})")
        if not _is_number(self.fill) or not 0.0 <= self.fill <= 1.0:
            raise ContractError(f"the fill value must be a number from 0 to 1, not "
                                f"{show_value(self.fill)}")
        object.__setattr__(self, "fill", float(self.fill))
        for name, default, low, high in (("mean", 0.0, -MAX_ABS_MEAN, MAX_ABS_MEAN),
                                         ("std", 1.0, MIN_STD, MAX_STD)):
            values = tuple(getattr(self, name)) or (default,) * c
            if len(values) != c:
                raise ContractError(f"{name} needs one value per channel ({c}), not "
                                    f"{len(values)}")
            for i, v in enumerate(values):
                if not _is_number(v) or not low <= v <= high:
                    raise ContractError(f"{name} of channel {i} must be a number from {low:g} "
                                        f"to {high:g}, not {show_value(v)}")
            object.__setattr__(self, name, tuple(float(v) for v in values))

    # ----------------------------------------------------------------- reading
    @property
    def channels(self) -> int:
        return self.shape[0]

    @property
    def height(self) -> int:
        return self.shape[1] if len(self.shape) == 3 else 1

    @property
    def width(self) -> int:
        return self.shape[2] if len(self.shape) == 3 else 1

    @property
    def shape_text(self) -> str:
        """``"3x32x32"``."""
        return _shape_text(self.shape)

    def class_name(self, index: int) -> str:
        """The name of output ``index`` (its number when the outputs are not named)."""
        return self.classes[index] if self.classes else str(index)

    @property
    def colour(self) -> str:
        """``"rgb"`` for three channels, ``"grey"`` for one (``""`` otherwise)."""
        return {1: "grey", 3: "rgb"}.get(self.channels, "")

    @property
    def normalised(self) -> bool:
        """Whether the pipeline ends with a per-channel normalisation other than identity."""
        return any(m != 0.0 for m in self.mean) or any(s != 1.0 for s in self.std)

    def describe_pipeline(self) -> str:
        """The pipeline in words, e.g. ``"RGB image: resize and centre-crop to 32x32, ..."``."""
        c, h, w = self.shape if len(self.shape) == 3 else (self.shape[0], 1, 1)
        if len(self.shape) == 1:
            return f"none: the input is a vector of {c} numbers, not made from an image"
        if self.pipeline == "digits":
            text = (f"digits: find the ink, crop, fit in {round(h * 20 / 28)}x"
                    f"{round(w * 20 / 28)}, centre by mass in {h}x{w}")
        elif self.pipeline == "image":
            how = "resize and centre-crop" if self.fit == "crop" else \
                f"resize and pad (with {self.fill:g})"
            text = f"{'RGB' if c == 3 else 'grey'} image: {how} to {h}x{w}, scale to [0, 1]"
        else:
            text = f"none: the input ({c} channels) is not made from an image"
        if self.normalised and self.pipeline != "none":
            numbers = lambda vs: ", ".join(f"{v:.4g}" for v in vs)  # noqa: E731
            text += f", normalise with mean ({numbers(self.mean)}) and std ({numbers(self.std)})"
        return text

    def to_dict(self) -> dict:
        """The JSON value stored in a network file."""
        return {"format": FORMAT, "version": VERSION, "shape": list(self.shape),
                "classes": list(self.classes), "pipeline": self.pipeline, "fit": self.fit,
                "fill": self.fill, "mean": list(self.mean), "std": list(self.std)}

    @classmethod
    def from_dict(cls, value) -> "InputContract":
        """Check a file's JSON value strictly (every field's type, range and length) and build
        the contract; raises :class:`ContractError` saying which field is wrong."""
        if not isinstance(value, dict):
            raise ContractError("it must be a JSON object")
        unknown = sorted(set(value) - _KEYS, key=str)
        if unknown:
            raise ContractError(f"it has an unknown field "
                                f"{show_value(unknown[0])}")
        if value.get("format") != FORMAT:
            raise ContractError(f"its format must be {FORMAT!r}, not "
                                f"{show_value(value.get('format'))}")
        version = value.get("version")
        if not _is_int(version) or version < 1:
            raise ContractError(f"its version must be a positive whole "
                                f"number, not {show_value(version)}")
        if version > VERSION:
            raise ContractError(f"it is version {show_value(version)}, written by a "
                                f"newer cnnviz (this one reads version {VERSION})")
        for key in ("shape", "classes", "pipeline"):
            if key not in value:
                raise ContractError(f"it has no {key!r}")
        shape, classes = value["shape"], value["classes"]
        if not isinstance(shape, list):
            raise ContractError(f"the input shape must be a list [channels, height, width], "
                                f"not {show_value(shape)}")
        if not isinstance(classes, list):
            raise ContractError(f"the class names must be a list of text, not "
                                f"{show_value(classes)}")
        for key in ("mean", "std"):
            if key in value and not isinstance(value[key], list):
                raise ContractError(f"{key} must be a list of numbers (one per channel), not "
                                    f"{show_value(value[key])}")
        if not isinstance(value["pipeline"], str):
            raise ContractError(f"the pipeline must be text, not {show_value(value['pipeline'])}")
        if "fit" in value and not isinstance(value["fit"], str):
            raise ContractError(f"the fit must be text, not {show_value(value['fit'])}")
        return cls(shape=tuple(shape), classes=tuple(classes), pipeline=value["pipeline"],
                   fit=value.get("fit", "crop"), fill=value.get("fill", 0.0),
                   mean=tuple(value.get("mean", ())), std=tuple(value.get("std", ())))

    def check_network(self, input_shape, output_shape) -> None:
        """Raise :class:`ContractError` unless this contract fits a network of that input and
        output shape (the same input shape; one class name per output unit)."""
        input_shape = tuple(int(v) for v in input_shape)
        if input_shape != self.shape:
            raise ContractError(f"it says {_shape_text(self.shape)}, the "
                                f"network takes {_shape_text(input_shape)}")
        outputs = math.prod(int(v) for v in output_shape)
        if self.classes and outputs != len(self.classes):
            raise ContractError(f"{len(self.classes)} class names for the network's {outputs} "
                                f"outputs")
        if not self.classes and outputs <= MAX_CLASSES:  # numbered only beyond MAX_CLASSES
            raise ContractError(f"no class names for the network's {outputs} outputs")


def _shape_text(shape) -> str:
    return "x".join(str(v) for v in shape)


def _check_classes(classes) -> None:
    if len(classes) > MAX_CLASSES:
        raise ContractError(f"at most {MAX_CLASSES:,} class names, not {len(classes):,}")
    seen = set()
    for i, name in enumerate(classes):
        if not isinstance(name, str):
            raise ContractError(f"class name {i} must be text, not {show_value(name)}")
        if not name.strip() or len(name) > MAX_CLASS_NAME:
            raise ContractError(f"class name {i} must have 1 to {MAX_CLASS_NAME} characters, "
                                f"not {len(name)}"
                                + (" (only spaces)" if name and not name.strip() else ""))
        if not name.isprintable() or name != name.encode("utf-8", "replace").decode("utf-8"):
            raise ContractError(f"class name {i} {show_value(name)} holds control or invalid "
                                f"characters")
        if name in seen:
            raise ContractError(f"class name {show_value(name)} appears twice")
        seen.add(name)


def default_contract(input_shape, output_shape) -> InputContract:
    """The contract of a network that does not state one (files written before contracts).

    Class names are the output indices ("0".."9" for ten outputs). A 1x28x28 network is a digit
    network (the MNIST pipeline); another 1- or 3-channel input is made from images by resizing
    (grey or RGB, no normalisation), as cnnviz did for them before; other inputs have no image
    pipeline.
    """
    shape = tuple(int(v) for v in input_shape)
    outputs = math.prod(int(v) for v in output_shape)
    classes = tuple(str(i) for i in range(outputs)) if outputs <= MAX_CLASSES else ()
    pipeline = ("digits" if shape == (1, 28, 28) else
                "image" if len(shape) == 3 and shape[0] in (1, 3) else "none")
    return InputContract(shape=shape, classes=classes, pipeline=pipeline)


# --------------------------------------------------------------------------- what users type
def class_names_from_lines(lines) -> tuple[tuple[str, ...], list[str]]:
    """Class names from text lines (one name per line, as pasted or read from a file):
    ``(names, notes)``.

    Spaces around a name and empty lines are dropped. A name that appears again (ImageNet's
    list has two "crane"s and two "maillot"s) becomes ``"name (2)"``, ``"name (3)"``..., and
    ``notes`` says so; everything else (count, length, characters) is for the contract to
    check."""
    names: list[str] = []
    taken: set[str] = set()
    repeated: dict[str, int] = {}
    for line in lines:
        name = line.strip()
        if not name:
            continue
        if name in taken:
            count = repeated.get(name, 1)
            while True:
                count += 1
                candidate = f"{name} ({count})"
                if candidate not in taken:
                    break
            repeated[name] = count
            name = candidate
        taken.add(name)
        names.append(name)
        if len(names) > MAX_CLASSES:
            raise ContractError(f"more than {MAX_CLASSES:,} class names")
    notes = [f"{show_value(name)} appears twice: the second is called {show_value(f'{name} (2)')}"
             if count == 2 else
             f"{show_value(name)} appears {count} times: the later ones are called "
             f"{show_value(f'{name} (2)')} to {show_value(f'{name} ({count})')}"
             for name, count in repeated.items()]
    return tuple(names), notes


def read_class_names(path) -> tuple[tuple[str, ...], list[str]]:
    """Class names from a UTF-8 text file of one name per line (:func:`class_names_from_lines`).

    Raises :class:`ContractError` for a file too large to be a list of names, or not UTF-8
    text, and ``OSError`` when it cannot be read."""
    with open(path, "rb") as handle:
        data = handle.read(MAX_NAMES_FILE_BYTES + 1)
    if len(data) > MAX_NAMES_FILE_BYTES:
        raise ContractError(f"the file is larger than a list of {MAX_CLASSES:,} class names "
                            f"can be ({MAX_NAMES_FILE_BYTES / 2**20:.1f} MiB)")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ContractError(f"the file is not UTF-8 text (byte {exc.start:,})") from None
    if "\0" in text:
        raise ContractError("the file is not text (it holds NUL characters)")
    return class_names_from_lines(text.splitlines())


def channel_values(text: str, channels: int, what: str) -> tuple[float, ...]:
    """Numbers separated by commas or spaces, one per channel (one number is taken for every
    channel); raises :class:`ContractError` saying what is wrong. ``what`` names them ("mean").
    Ranges are the contract's to check."""
    parts = [part for part in text.replace(",", " ").split()]
    if not parts:
        raise ContractError(f"{what}: give one number per channel ({channels})")
    values = []
    for part in parts:
        try:
            value = float(part)
        except ValueError:
            raise ContractError(f"{what}: {show_value(part)} is not a number") from None
        if not math.isfinite(value):
            raise ContractError(f"{what}: {show_value(part)} is not a finite number")
        values.append(value)
    if len(values) == 1:
        values *= channels
    if len(values) != channels:
        raise ContractError(f"{what}: {len(values)} numbers for {channels} channels (give one "
                            f"per channel, or one for all)")
    return tuple(values)


def changed_contract(contract: InputContract, *, classes=None, pipeline: str | None = None,
                     fit: str | None = None, mean=None, std=None) -> InputContract:
    """``contract`` with the given fields changed (None: kept), checked as a whole.

    ``mean`` and ``std`` may be text as users type it (:func:`channel_values`) or numbers;
    raises :class:`ContractError` saying which field is wrong. Whether the result fits the
    network is :meth:`InputContract.check_network`'s to say."""
    from dataclasses import replace

    changes = {}
    if classes is not None:
        changes["classes"] = tuple(classes)
    if pipeline is not None:
        changes["pipeline"] = pipeline
    if fit is not None:
        changes["fit"] = fit
    for key, value in (("mean", mean), ("std", std)):
        if isinstance(value, str):
            value = channel_values(value, contract.channels, key)
        if value is not None:
            changes[key] = tuple(value)
    return replace(contract, **changes) if changes else contract
