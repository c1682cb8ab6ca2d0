"""Weight initialisers.

Every initialiser takes the weight shape, the fan-in and fan-out, and a numpy ``Generator``, and
returns a float32 array.  Conv weights have shape ``(out_channels, in_channels, kh, kw)``, dense
weights ``(out_features, in_features)``; fans follow Keras (``fan_in = in_channels * kh * kw``,
``fan_out = out_channels * kh * kw``).
"""

from __future__ import annotations

import numpy as np

from .errors import ModelError

INITIALIZERS = ("glorot_uniform", "he_normal", "uniform", "zeros")


def fans(shape: tuple[int, ...]) -> tuple[int, int]:
    """Return ``(fan_in, fan_out)`` for a dense ``(out, in)`` or conv ``(out, in, kh, kw)`` shape."""
    if len(shape) == 1:
        return shape[0], shape[0]
    receptive = int(np.prod(shape[2:])) if len(shape) > 2 else 1
    return shape[1] * receptive, shape[0] * receptive


def initialize(spec, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    """Create a weight array of ``shape`` from ``spec``.

    Parameters
    ----------
    spec : str or array_like
        ``"glorot_uniform"`` (Keras' default: U(-l, l), l = sqrt(6 / (fan_in + fan_out))),
        ``"he_normal"`` (truncated normal at two standard deviations, std sqrt(2 / fan_in), as Keras),
        ``"uniform"`` (U(-0.5, 0.5), as in the classic numpy tutorials), ``"zeros"``, or an explicit
        array of exactly ``shape``.
    shape : tuple of int
    rng : numpy.random.Generator
    """
    if not isinstance(spec, str):
        array = np.asarray(spec, dtype=np.float32)
        if array.shape != tuple(shape):
            raise ModelError(f"initial weights have shape {array.shape}, expected {tuple(shape)}")
        return array.copy()
    fan_in, fan_out = fans(shape)
    if spec == "glorot_uniform":
        limit = np.sqrt(6.0 / (fan_in + fan_out))
        return rng.uniform(-limit, limit, size=shape).astype(np.float32)
    if spec == "he_normal":
        # Keras draws from a normal truncated at 2 std and rescales so the variance is 2 / fan_in.
        std = np.sqrt(2.0 / fan_in) / 0.87962566103423978
        values = rng.standard_normal(size=shape)
        bad = np.abs(values) > 2.0
        while bad.any():
            values[bad] = rng.standard_normal(size=int(bad.sum()))
            bad = np.abs(values) > 2.0
        return (values * std).astype(np.float32)
    if spec == "uniform":
        return rng.uniform(-0.5, 0.5, size=shape).astype(np.float32)
    if spec == "zeros":
        return np.zeros(shape, dtype=np.float32)
    raise ModelError(f"unknown initialiser {spec!r}; choose one of {', '.join(INITIALIZERS)}")
