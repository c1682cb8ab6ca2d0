"""Kernel presets and operations for the filter editor (no Qt).

Every function takes and returns float32 arrays of one kernel, ``(kh, kw)``, and never changes its
argument. Kernels are applied as the engine applies them: cross-correlation (no flip), so
``preset("sobel_x")`` answers ``right - left`` and is positive where the image gets brighter to the
right.

Sizes: the 3x3 kernels are the textbook ones. Larger kernels of the derivative family (identity,
Sobel, Prewitt, Laplacian, sharpen, emboss) are the 3x3 kernel embedded at the centre of zeros
(for an even side, one more zero row or column after it than before): the same response as the
3x3 kernel, so a 5x5 lenet5 filter set to "Sobel x" detects the same edges. Gaussian blur
(binomial weights) and box blur fill the whole kernel, and any size, since their meaning scales.
"""

from __future__ import annotations

from math import comb

import numpy as np

from cnnviz.nn.initializers import initialize

_SOBEL_X = [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]]
_PREWITT_X = [[-1, 0, 1], [-1, 0, 1], [-1, 0, 1]]

#: The 3x3 kernels that larger sizes embed at their centre.
CENTRED = {
    "identity": [[0, 0, 0], [0, 1, 0], [0, 0, 0]],
    "sobel_x": _SOBEL_X,
    "sobel_y": np.transpose(_SOBEL_X).tolist(),
    "prewitt_x": _PREWITT_X,
    "prewitt_y": np.transpose(_PREWITT_X).tolist(),
    "laplacian": [[0, 1, 0], [1, -4, 1], [0, 1, 0]],
    "sharpen": [[0, -1, 0], [-1, 5, -1], [0, -1, 0]],
    "emboss": [[-2, -1, 0], [-1, 1, 1], [0, 1, 2]],
}

#: Preset names and their labels, in menu order ("random" needs the layer: :func:`random_filter`).
PRESETS = {
    "identity": "Identity", "sobel_x": "Sobel x", "sobel_y": "Sobel y",
    "prewitt_x": "Prewitt x", "prewitt_y": "Prewitt y", "laplacian": "Laplacian",
    "gaussian": "Gaussian blur", "sharpen": "Sharpen", "emboss": "Emboss",
    "box": "Box blur", "zero": "Zero",
}


def binomial(n: int) -> np.ndarray:
    """Row ``n - 1`` of Pascal's triangle, summing to 1: the discrete Gaussian of ``n`` taps."""
    row = np.array([comb(n - 1, k) for k in range(n)], dtype=np.float64)
    return row / row.sum()


def preset(name: str, size: int | tuple[int, int] = 3) -> np.ndarray:
    """The preset kernel ``name`` (a key of :data:`PRESETS`) of ``size`` (side or (kh, kw)).

    Returns float32 (kh, kw). Raises ``ValueError`` for an unknown name, or a derivative kernel
    smaller than 3x3 (identity excepted, which is 1 at the centre for any size).
    """
    kh, kw = (size, size) if np.isscalar(size) else tuple(size)
    if kh < 1 or kw < 1:
        raise ValueError(f"a kernel needs at least one row and column, not {kh}x{kw}")
    if name == "gaussian":
        return np.outer(binomial(kh), binomial(kw)).astype(np.float32)
    if name == "box":
        return np.full((kh, kw), 1.0 / (kh * kw), dtype=np.float32)
    if name == "zero":
        return np.zeros((kh, kw), dtype=np.float32)
    if name == "identity":
        kernel = np.zeros((kh, kw), dtype=np.float32)
        kernel[(kh - 1) // 2, (kw - 1) // 2] = 1.0
        return kernel
    if name not in CENTRED:
        raise ValueError(f"unknown kernel preset {name!r}; choose one of {', '.join(PRESETS)}")
    if kh < 3 or kw < 3:
        raise ValueError(f"the {PRESETS[name]} kernel needs at least 3x3, not {kh}x{kw}")
    kernel = np.zeros((kh, kw), dtype=np.float32)
    top, left = (kh - 3) // 2, (kw - 3) // 2
    kernel[top:top + 3, left:left + 3] = CENTRED[name]
    return kernel


def random_filter(init, weight_shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    """One filter drawn as the layer's initialiser draws its weights.

    Parameters
    ----------
    init : str
        The layer's ``weight_init`` (an explicit array: ``"glorot_uniform"`` is used instead).
    weight_shape : tuple of int
        The whole layer's weight shape, (F, C, kh, kw) or (out, in): the initialiser's scale
        depends on its fans.
    rng : numpy.random.Generator

    Returns
    -------
    np.ndarray
        float32 ``weight_shape[1:]``: (C, kh, kw) or (in,).
    """
    spec = init if isinstance(init, str) else "glorot_uniform"
    # A draw of the whole layer's shape: the initialiser's scale depends on the layer's fans.
    return initialize(spec, tuple(weight_shape), rng)[0]


# ------------------------------------------------------------------ operations
def negate(kernel: np.ndarray) -> np.ndarray:
    """``-kernel``: swaps what the filter answers to (a dark-to-bright edge for a bright-to-dark)."""
    return (-np.asarray(kernel, dtype=np.float32)).astype(np.float32)


def scale(kernel: np.ndarray, factor: float) -> np.ndarray:
    """``kernel * factor``."""
    return (np.asarray(kernel, dtype=np.float32) * np.float32(factor)).astype(np.float32)


def normalise(kernel: np.ndarray) -> np.ndarray:
    """Divide by the sum of absolute values (L1 norm 1); a zero kernel stays zero.

    For a kernel of positive weights (a blur) this makes the weights sum to 1, so that it keeps
    the brightness; for an edge kernel it bounds the response to inputs in [-1, 1] by 1.
    """
    kernel = np.asarray(kernel, dtype=np.float32)
    total = float(np.abs(kernel).sum())
    return (kernel / total).astype(np.float32) if total > 0 else kernel.copy()


def transpose(kernel: np.ndarray) -> np.ndarray:
    """The kernel mirrored about its main diagonal (Sobel x becomes Sobel y); square kernels only."""
    kernel = _square(kernel, "transpose")
    return np.ascontiguousarray(kernel.T)


def rotate90(kernel: np.ndarray) -> np.ndarray:
    """The kernel turned a quarter counter-clockwise as displayed (rows down); square only."""
    kernel = _square(kernel, "rotate")
    return np.ascontiguousarray(np.rot90(kernel))


def _square(kernel: np.ndarray, what: str) -> np.ndarray:
    kernel = np.asarray(kernel, dtype=np.float32)
    if kernel.ndim != 2 or kernel.shape[0] != kernel.shape[1]:
        raise ValueError(f"only a square kernel can {what} in place, not {kernel.shape}")
    return kernel


#: Operations that take only the kernel, with their labels, in menu order.
OPERATIONS = {"negate": ("Negate", negate), "normalise": ("Normalise", normalise),
              "transpose": ("Transpose", transpose), "rotate90": ("Rotate 90\u00b0", rotate90)}
