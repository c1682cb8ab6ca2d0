"""Networks written as a list of layer settings: what each setting may be, and whether the list
makes a network that can learn to classify digits, explained row by row. No Qt here.

A layer is a dict as :func:`cnnviz.nn.model.layer_from_config` takes it,
``{"kind": "Conv2D", "out_channels": 6, "kernel_size": 5, "padding": "same"}``; settings left
out take the layer's defaults. The window's layer-list editor edits such lists and builds the
network with :func:`build_network` once :func:`check_layers` finds nothing wrong.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cnnviz.nn import ModelError, Sequential
from cnnviz.nn.model import layer_from_config

__all__ = ["LAYER_SETTINGS", "ArchitectureCheck", "LayerCheck", "Setting", "build_network",
           "check_layers", "default_layer", "describe_layer", "editable_layers",
           "format_shape"]


@dataclass(frozen=True)
class Setting:
    """One editable setting of a layer kind.

    ``kind`` is ``"int"`` (``low..high``; square pairs such as kernel sizes are edited as one
    number), ``"float"`` (``low..high``) or ``"choice"`` (one of ``choices``).
    """

    name: str
    label: str
    kind: str
    default: object
    low: float = 0
    high: float = 0
    choices: tuple[str, ...] = ()


_PADDING = Setting("padding", "Padding", "choice", "valid", choices=("valid", "same"))
_POOL = (Setting("size", "Window", "int", 2, 1, 8), Setting("stride", "Stride", "int", 2, 1, 8))

#: The editable settings of each layer kind the editor offers, in the order shown.
LAYER_SETTINGS: dict[str, tuple[Setting, ...]] = {
    "Conv2D": (Setting("out_channels", "Filters", "int", 8, 1, 256),
               Setting("kernel_size", "Kernel size", "int", 3, 1, 15),
               Setting("stride", "Stride", "int", 1, 1, 8), _PADDING,
               Setting("dilation", "Dilation", "int", 1, 1, 8)),
    "MaxPool2D": _POOL,
    "AvgPool2D": _POOL,
    "GlobalAvgPool2D": (),
    "BatchNorm": (Setting("momentum", "Momentum", "float", 0.1, 0.0, 1.0),),
    "ReLU": (),
    "LeakyReLU": (Setting("alpha", "Slope below 0", "float", 0.01, 0.0, 1.0),),
    "Tanh": (),
    "Sigmoid": (),
    "Flatten": (),
    "Dense": (Setting("out_features", "Units", "int", 10, 1, 4096),),
    "Dropout": (Setting("rate", "Rate", "float", 0.5, 0.0, 0.95),),
}

# Inferred from the layer before: never kept, so that editing earlier rows cannot contradict them.
_INFERRED = ("in_channels", "in_features", "num_features")


def format_shape(shape) -> str:
    """``(6, 28, 28)`` as ``"6×28×28"``."""
    return "\u00d7".join(str(int(v)) for v in shape)


def default_layer(kind: str) -> dict:
    """A new layer of ``kind`` with the editor's default settings."""
    return {"kind": kind, **{s.name: s.default for s in LAYER_SETTINGS[kind]}}


def editable_layers(model: Sequential) -> list[dict]:
    """The layer list of an existing network (its :meth:`~Sequential.config`, without the
    settings inferred from the layer before)."""
    return [{k: v for k, v in spec.items() if k not in _INFERRED}
            for spec in model.config()["layers"]]


def _value_text(value) -> str:
    if isinstance(value, (list, tuple)):
        return str(value[0]) if len(set(value)) == 1 else "\u00d7".join(map(str, value))
    return str(value)


def _square(text: str) -> str:
    return f"{text}\u00d7{text}" if text.isdigit() else text


def describe_layer(spec: dict) -> str:
    """A short description of a layer's settings, e.g. ``"6 filters 5×5, same"``."""
    kind = spec.get("kind")
    get = {s.name: _value_text(spec.get(s.name, s.default)) for s in LAYER_SETTINGS.get(kind, ())}
    if kind == "Conv2D":
        k = get["kernel_size"]
        extra = [get["padding"]] + [f"{name} {get[name]}" for name in ("stride", "dilation")
                                    if get[name] != "1"]
        return f"{get['out_channels']} filters {_square(k)}, {', '.join(extra)}"
    if kind in ("MaxPool2D", "AvgPool2D"):
        return f"{_square(get['size'])}, stride {get['stride']}"
    if kind == "Dense":
        return f"{get['out_features']} units"
    if kind == "Dropout":
        return f"rate {get['rate']}"
    if kind == "LeakyReLU":
        return f"slope {get['alpha']}"
    if kind == "BatchNorm":
        return f"momentum {get['momentum']}"
    return ""


@dataclass(frozen=True)
class LayerCheck:
    """One row of :func:`check_layers`: the layer's output shape and weight count, or why it
    cannot be built (``error``); rows after a broken one have neither (``output_shape`` None)."""

    output_shape: tuple[int, ...] | None
    params: int = 0
    error: str | None = None


@dataclass(frozen=True)
class ArchitectureCheck:
    """Result of :func:`check_layers`: one :class:`LayerCheck` per row, and ``problem``, the
    explanation of what prevents training (None when the list makes a usable network)."""

    rows: tuple[LayerCheck, ...]
    problem: str | None

    @property
    def ok(self) -> bool:
        return self.problem is None

    @property
    def params(self) -> int:
        """Weights of the whole network (of the rows that could be built)."""
        return sum(row.params for row in self.rows)


def check_layers(layers: list[dict], input_shape=(1, 28, 28),
                 classes: int = 10) -> ArchitectureCheck:
    """Build the layers one after the other and explain the first thing that does not fit.

    Parameters
    ----------
    layers : list of dict
        Layer settings, ``{"kind": ..., **settings}``.
    input_shape : tuple of int
        Shape of one input image (C, H, W).
    classes : int
        Number of classes the last layer must score.

    Returns
    -------
    ArchitectureCheck
    """
    rows, shape, problem = [], tuple(input_shape), None
    rng = np.random.default_rng(0)
    for index, spec in enumerate(layers):
        if problem is not None:
            rows.append(LayerCheck(None))
            continue
        try:
            layer = layer_from_config(spec)
            shape = tuple(layer.build(shape, rng))
        except ModelError as exc:
            problem = f"Layer {index} ({spec.get('kind', '?')}): {exc}"
            rows.append(LayerCheck(None, error=str(exc)))
            continue
        rows.append(LayerCheck(shape, layer.param_count()))
    if problem is None:
        problem = _output_problem(layers, shape, classes)
    return ArchitectureCheck(tuple(rows), problem)


def _output_problem(layers: list[dict], shape: tuple[int, ...], classes: int) -> str | None:
    """Why a network with output ``shape`` cannot learn ``classes`` classes, or None."""
    if not layers:
        return "Add layers: the network has none."
    if len(shape) != 1:
        return (f"The network ends in maps of shape {format_shape(shape)}: add a Flatten layer "
                f"and a Dense layer of {classes} units, one score per class.")
    if layers[-1]["kind"] == "Softmax":
        return ("Remove the final Softmax: training turns the class scores into probabilities "
                "itself.")
    if shape[0] != classes:
        return (f"The last layer gives {shape[0]} outputs, but the data have {classes} classes: "
                f"end with a Dense layer of {classes} units.")
    return None


def build_network(layers: list[dict], input_shape=(1, 28, 28), seed: int | None = None,
                  name: str = "custom", classes: int = 10) -> Sequential:
    """The network of a layer list for ``classes`` classes, with weights initialised from
    ``seed``.

    Raises
    ------
    ModelError
        When :func:`check_layers` finds a problem (the message explains it).
    """
    check = check_layers(layers, input_shape, classes)
    if not check.ok:
        raise ModelError(check.problem)
    return Sequential([layer_from_config(spec) for spec in layers], input_shape, seed=seed,
                      name=name)
