"""The errors of the import and the values the walk over a graph keeps track of."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import ModelFileError
from ..layers import show_value
from ..model import Sequential


class OnnxImportError(ModelFileError):
    """An ONNX file that cannot become a cnnviz network (what and where in the message)."""


def _fail(path, message):
    from ..io import clean_text

    raise OnnxImportError(f"{clean_text(Path(path).name, 200)}: {message}")


def _node_text(node) -> str:
    from ..io import clean_text

    name = node.name or (node.output[0] if len(node.output) else "")
    return f"node {show_value(name, 60)} ({clean_text(node.op_type, 40) or '?'})"


class _Refused(Exception):
    """Raised inside the walk; becomes OnnxImportError with the file's name."""


# ----------------------------------------------------------------------- values of the walk
class _N:
    """The batch size in a shape vector (unknown at import)."""

    def __repr__(self):
        return "N"


N = _N()


@dataclass
class Sym:
    """A vector (or scalar) of sizes, some of which may be the batch size ``N``."""

    items: tuple
    scalar: bool = False


@dataclass
class Act:
    """The data after ``pos`` layers.

    ``shape`` is the ONNX shape without the batch axis; ``layout`` says how it relates to the
    engine's data: ``"nchw"`` (the same), ``"nhwc"`` (ONNX holds (H, W, C) where the engine has
    (C, H, W)) or ``"perm"`` (a flat vector whose element ``j`` is the engine's ``perm[j]``...
    see :attr:`perm`).
    """

    shape: tuple
    pos: int
    layout: str = "nchw"
    perm: np.ndarray | None = None
    pad: tuple | None = None         # (top, bottom, left, right, value) of a Pad to fold
    fresh: bool = False              # the direct output of the last Conv/Dense (bias, BN fold)
    taken: bool = False


@dataclass
class _Spec:
    """A layer being made: its settings, weights, and the node it came from."""

    config: dict
    node: str
    weight: np.ndarray | None = None
    bias: np.ndarray | None = None
    arrays: dict = field(default_factory=dict)  # other arrays by name (BatchNorm's)


@dataclass
class Converted:
    """What :func:`convert` makes of a graph."""

    model: Sequential
    input_name: str
    input_layout: str            # "nchw" or "nhwc" (the graph's input before its Transpose)
    batch: object                # N, or the fixed batch size of the graph's input
    notes: list = field(default_factory=list)
    output_exp: bool = False     # the graph's output is the log of the network's


def _short(value: float) -> float:
    """A float32 setting as the shortest decimal that is that float32 (0.2, not 0.2000000029)."""
    return float(str(np.float32(value)))
