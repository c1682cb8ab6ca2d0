"""Sizes, paddings and receptive fields of sliding-window layers.

A sliding window is described per axis by its kernel size ``k``, stride ``s``, dilation ``d`` and
the padding added before (``p0``) and after (``p1``).  Its effective extent is ``(k - 1) * d + 1``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import ModelError


def pair(value, name: str) -> tuple[int, int]:
    """Turn an int or a pair of ints into a pair of positive ints."""
    if isinstance(value, (int,)) and not isinstance(value, bool):
        result = (value, value)
    elif isinstance(value, (tuple, list)) and len(value) == 2 and all(
        isinstance(v, int) and not isinstance(v, bool) for v in value
    ):
        result = (int(value[0]), int(value[1]))
    else:
        raise ModelError(f"{name} must be an int or a pair of ints, not {value!r}")
    return result


def resolve_padding(padding, kernel: tuple[int, int], stride: tuple[int, int],
                    dilation: tuple[int, int], size: tuple[int, int]) -> tuple[int, int, int, int]:
    """Return ``(top, bottom, left, right)`` padding for an input of ``size = (H, W)``.

    ``"valid"`` is no padding; ``"same"`` pads so that the output is ``ceil(size / stride)``, the
    odd pixel going after (bottom/right) as in TensorFlow and Keras; an int or a pair pads both
    sides of an axis equally, as in PyTorch; four ints ``(top, bottom, left, right)`` pad each
    side on its own (ONNX files, whose padding need not be symmetric).
    """
    if padding == "valid":
        return (0, 0, 0, 0)
    if padding == "same":
        out = []
        for n, k, s, d in zip(size, kernel, stride, dilation):
            extent = (k - 1) * d + 1
            total = max((-(-n // s) - 1) * s + extent - n, 0)
            out += [total // 2, total - total // 2]
        return tuple(out)
    if isinstance(padding, (tuple, list)) and len(padding) == 4:
        if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in padding):
            raise ModelError(f"padding must be four whole numbers of at least 0, not {padding!r}")
        return tuple(int(v) for v in padding)
    ph, pw = pair(padding, "padding")
    if ph < 0 or pw < 0:
        raise ModelError(f"padding must not be negative, got {padding!r}")
    return (ph, ph, pw, pw)


def output_length(n: int, k: int, s: int, d: int, p0: int, p1: int) -> int:
    """Number of window positions along one axis."""
    extent = (k - 1) * d + 1
    return (n + p0 + p1 - extent) // s + 1


@dataclass(frozen=True)
class Window:
    """Geometry of one sliding-window layer along both axes (``(h, w)`` pairs)."""

    kernel: tuple[int, int]
    stride: tuple[int, int]
    dilation: tuple[int, int]
    pad_before: tuple[int, int]

    def input_positions(self, positions, axis: int):
        """The input positions (padding included, so possibly negative or past the end) that the
        output positions ``positions`` (1-D int array) read along ``axis``."""
        taps = np.arange(self.kernel[axis]) * self.dilation[axis]
        start = np.asarray(positions) * self.stride[axis] - self.pad_before[axis]
        return np.unique((start[:, None] + taps[None, :]).ravel())


@dataclass(frozen=True)
class ReceptiveField:
    """Receptive field of the units of one layer with respect to the network input.

    ``size`` is the extent in input pixels, ``jump`` the distance in input pixels between
    neighbouring units (the effective stride) and ``start`` the input coordinate of the top-left
    pixel of unit (0, 0)'s field (negative when it reaches into the padding).  All are ``(h, w)``.
    ``global_`` is True after a layer that mixes every position (dense), where the field is the
    whole input.
    """

    size: tuple[int, int]
    jump: tuple[int, int]
    start: tuple[int, int]
    global_: bool = False

    @property
    def centre_offset(self) -> tuple[float, float]:
        """Input coordinate of the centre of unit (0, 0)'s field."""
        return tuple(self.start[a] + (self.size[a] - 1) / 2 for a in range(2))

    def then(self, window: Window) -> "ReceptiveField":
        """The field after one more sliding-window layer (Araujo et al., Distill 2019)."""
        if self.global_:
            return self
        size = tuple(self.size[a] + (window.kernel[a] - 1) * window.dilation[a] * self.jump[a]
                     for a in range(2))
        start = tuple(self.start[a] - window.pad_before[a] * self.jump[a] for a in range(2))
        jump = tuple(self.jump[a] * window.stride[a] for a in range(2))
        return ReceptiveField(size, jump, start)


IDENTITY_FIELD = ReceptiveField((1, 1), (1, 1), (0, 0))
