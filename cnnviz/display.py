"""What the "inside the network" views show, computed without Qt.

- colour scales: whether a layer's values are signed, and the levels of a map, a layer or the
  whole network (:func:`scale_values`);
- mosaics: a layer's maps tiled into one image, and the way back from an image pixel to a unit
  (:class:`Mosaic`);
- windows: for one unit, the units of every earlier layer that feed it (:func:`unit_windows`);
- one unit's arithmetic, term by term (:func:`explain_unit`);
- a first layer's filters as colour pictures (:func:`filter_colours`) and the names of a layer's
  input channels (:func:`input_channel_names`: R, G, B for a colour input).

Activations are indexed as :meth:`cnnviz.nn.Sequential.trace` and ``Trace.activations`` index them:
``0`` is the network input and ``i + 1`` the output of layer ``i``. A unit is ``(c, y, x)`` in an
image-shaped activation (C, H, W) and ``(k,)`` in a vector (F,).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

#: Layers whose output is never negative (whatever their input).
NONNEGATIVE_KINDS = frozenset({"ReLU", "Sigmoid", "Softplus", "Softmax"})
#: Layers whose output keeps the sign of their input.
SIGN_KEEPING_KINDS = frozenset({"MaxPool2D", "AvgPool2D", "GlobalAvgPool2D", "Flatten",
                                "Dropout"})
#: Layers applied value by value (the unit's own value is all they read).
ELEMENTWISE_KINDS = frozenset({"ReLU", "LeakyReLU", "Sigmoid", "Tanh", "Softplus", "Dropout"})
#: Layers applied unit by unit with numbers of the unit's channel (batch normalisation in
#: inference: the running mean and variance, gamma and beta of the channel).
PER_CHANNEL_KINDS = frozenset({"BatchNorm"})
#: Layers whose unit is one window computation (:func:`explain_unit`).
WINDOW_KINDS = frozenset({"Conv2D", "MaxPool2D", "AvgPool2D", "GlobalAvgPool2D"})
#: Sliding-window layers that read every input channel (pooling reads one).
CHANNEL_MIXING_KINDS = frozenset({"Conv2D"})

#: Normalisations of the feature-map colours: per map, per layer, or over the whole network.
NORMALISATIONS = ("layer", "map", "network")


# --------------------------------------------------------------------------------- colour scales
def nonnegative_activations(model) -> list[bool]:
    """For every activation index, whether the network guarantees values >= 0.

    The input counts as non-negative (images are in [0, 1]); a layer's output is non-negative
    after ReLU, Sigmoid, Softplus and Softmax, and after pooling, flattening or dropout of a
    non-negative input.
    """
    out = [True]
    for layer in model.layers:
        out.append(layer.kind in NONNEGATIVE_KINDS
                   or (layer.kind in SIGN_KEEPING_KINDS and out[-1]))
    return out


def peak(values: np.ndarray) -> float:
    """The largest magnitude in ``values``, or 1 when they are all zero (a usable scale)."""
    top = float(np.max(np.abs(values))) if values.size else 0.0
    return top if top > 0 and math.isfinite(top) else 1.0


def nice_ceil(value: float) -> float:
    """``value`` (> 0) rounded up to two significant digits (7.139 -> 7.2, 0.0531 -> 0.054):
    colour-bar ends that read well and stay put while the values move a little."""
    step = 10.0 ** (math.floor(math.log10(value)) - 1)
    return round(math.ceil(value / step - 1e-9) * step, 12)


@dataclass(frozen=True)
class Scale:
    """How an activation is coloured.

    Attributes
    ----------
    signed : bool
        True: a diverging colour map centred on zero; False: a sequential one from zero.
    levels : (float, float)
        The values of the colour map's ends, for the array :func:`scale_values` returns:
        ``(-top, top)`` or ``(0, top)``, ``top`` the peak rounded up (:func:`nice_ceil`).
    mode : str
        One of :data:`NORMALISATIONS`.
    peak : float
        The largest magnitude the levels were made from (1 for ``"map"``).
    """

    signed: bool
    levels: tuple[float, float]
    mode: str
    peak: float = 1.0

    @property
    def description(self) -> str:
        """What the colour bar's numbers mean, for a caption."""
        if self.mode == "map":
            return "each map scaled to its own largest magnitude (\u00b11)"
        where = "this layer's" if self.mode == "layer" else "the hidden layers'"
        ends = "\u00b1" if self.signed else "0 \u2026 "
        return f"colours {ends}{self.levels[1]:.2g}: {where} largest magnitude, rounded up"


def scale_values(values: np.ndarray, signed: bool, mode: str,
                 network_peak: float = 1.0) -> tuple[np.ndarray, Scale]:
    """The array to display and its :class:`Scale`.

    Parameters
    ----------
    values : np.ndarray
        (C, H, W) maps or an (F,) vector.
    signed : bool
        Colour with a diverging map centred on zero (see :func:`nonnegative_activations`).
    mode : {"layer", "map", "network"}
        ``"map"`` divides every map by its own largest magnitude (levels +-1, or 0..1);
        ``"layer"`` keeps the values and takes the layer's largest magnitude as the level;
        ``"network"`` takes ``network_peak`` (the largest magnitude of every hidden layer).
        Levels are rounded up to two significant digits.

    Returns
    -------
    display : np.ndarray
        float32, same shape, C-contiguous.
    scale : Scale
    """
    if mode not in NORMALISATIONS:
        raise ValueError(f"unknown normalisation {mode!r}; choose one of {NORMALISATIONS}")
    values = np.asarray(values, dtype=np.float32)
    if mode == "map" and values.ndim == 3:
        tops = np.abs(values).reshape(len(values), -1).max(axis=1)
        tops[~(tops > 0)] = 1.0
        display, top = values / tops[:, None, None], 1.0
    elif mode == "map":
        display, top = values / peak(values), 1.0
    else:
        display, top = values, peak(values) if mode == "layer" else network_peak
    end = nice_ceil(top)
    levels = (-end, end) if signed else (0.0, end)
    return np.ascontiguousarray(display, dtype=np.float32), Scale(signed, levels, mode, top)


# --------------------------------------------------------------------------------- mosaics
@dataclass(frozen=True)
class Mosaic:
    """``count`` tiles of ``height`` x ``width`` pixels in rows of ``columns``, ``gap`` apart.

    Maps (C, H, W) tile one map per tile; a vector (F,) tiles one unit per 1x1 tile without
    gaps (a strip, wrapped after ``columns`` units).
    """

    count: int
    height: int
    width: int
    columns: int
    gap: int = 0

    @classmethod
    def for_shape(cls, shape: tuple[int, ...], columns: int | None = None,
                  gap: int | None = None) -> Mosaic:
        """The mosaic of an activation of ``shape``; ``columns`` defaults to a near square
        for maps and a single row for vectors; ``gap`` to 1/8 of a map's side (at least 1)."""
        if len(shape) == 1:
            return cls(shape[0], 1, 1, min(columns or shape[0], shape[0]), 0)
        c, h, w = shape
        columns = min(columns or math.ceil(math.sqrt(c)), c)
        return cls(c, h, w, columns, max(1, min(h, w) // 8) if gap is None else gap)

    @property
    def rows(self) -> int:
        return -(-self.count // self.columns)

    @property
    def shape(self) -> tuple[int, int]:
        """(height, width) of the whole mosaic in pixels."""
        return (self.rows * (self.height + self.gap) - self.gap,
                self.columns * (self.width + self.gap) - self.gap)

    def origin(self, tile: int) -> tuple[int, int]:
        """(top, left) pixel of tile ``tile``."""
        row, col = divmod(tile, self.columns)
        return row * (self.height + self.gap), col * (self.width + self.gap)

    def tile(self, values: np.ndarray, fill: float = 0.0) -> np.ndarray:
        """The mosaic image of ``values`` ((C, H, W) or (F,)): float32 (rows, cols), C-contiguous;
        gaps and unused tiles hold ``fill``."""
        values = np.asarray(values, dtype=np.float32)
        n, h, w, g = self.count, self.height, self.width, self.gap
        full = self.rows * self.columns
        grid = np.full((full, h + g, w + g), fill, dtype=np.float32)
        grid[:n, :h, :w] = values.reshape(n, h, w)
        grid = grid.reshape(self.rows, self.columns, h + g, w + g).transpose(0, 2, 1, 3)
        grid = grid.reshape(self.rows * (h + g), self.columns * (w + g))
        rows, cols = self.shape
        return np.ascontiguousarray(grid[:rows, :cols])

    def locate(self, row: float, col: float) -> tuple[int, ...] | None:
        """The unit under mosaic position (row, col) (pixel units, floats): ``(c, y, x)`` for maps,
        ``(k,)`` for a vector, None over a gap or outside."""
        if row < 0 or col < 0:
            return None
        r, c = int(row), int(col)
        tile_row, y = divmod(r, self.height + self.gap)
        tile_col, x = divmod(c, self.width + self.gap)
        tile = tile_row * self.columns + tile_col
        if y >= self.height or x >= self.width or tile_col >= self.columns or tile >= self.count:
            return None
        return (tile,) if self.height == self.width == 1 else (tile, y, x)

    def gaps(self) -> list[tuple[int, int, int, int]]:
        """Rectangles (top, left, height, width) of the gaps between and after the tiles."""
        rows, cols = self.shape
        h, w, g = self.height, self.width, self.gap
        out = []
        if g:
            out += [(r * (h + g) - g, 0, g, cols) for r in range(1, self.rows)]
            out += [(0, c * (w + g) - g, rows, g) for c in range(1, self.columns)]
        unused = self.rows * self.columns - self.count
        if unused:
            top, left = self.origin(self.count)
            out.append((top, left, h, cols - left))
        return out


def best_columns(count: int, height: int, width: int, gap: int, aspect: float) -> int:
    """How many tiles per row make ``count`` tiles of ``height`` x ``width`` (``gap`` apart) the
    largest in an area ``aspect`` times as wide as high (the fewest columns among equals)."""
    best, best_size = 1, 0.0
    for columns in range(1, count + 1):
        rows = -(-count // columns)
        size = min(aspect / (columns * (width + gap) - gap), 1.0 / (rows * (height + gap) - gap))
        if size > best_size * (1 + 1e-9):
            best, best_size = columns, size
    return best


# --------------------------------------------------------------------------------- filters
#: The names of a colour image's three planes, as the network input holds them.
RGB_NAMES = ("R", "G", "B")


#: Layers whose output channel ``k`` is made from their input channel ``k`` alone.
CHANNEL_KEEPING_KINDS = ELEMENTWISE_KINDS | PER_CHANNEL_KINDS | {"MaxPool2D", "AvgPool2D",
                                                                 "GlobalAvgPool2D"}


def reads_network_input(model, layer: int) -> bool:
    """Whether layer ``layer``'s input channels are the network input's (nothing before it but
    element-wise layers and pooling, which keep each channel to itself): the image's planes."""
    return all(model.layers[i].kind in CHANNEL_KEEPING_KINDS for i in range(layer))


def input_channel_names(model, layer: int) -> list[str]:
    """Names of layer ``layer``'s input channels: ``R, G, B`` when it reads a colour network's
    input, else ``in 0, in 1, ...``."""
    shape = tuple(model.layers[layer].input_shape)
    channels = int(shape[0]) if len(shape) == 3 else 1
    if channels == 3 and len(shape) == 3 and reads_network_input(model, layer):
        return list(RGB_NAMES)
    return [f"in {k}" for k in range(channels)]


def filter_colours(weight: np.ndarray, top: float | None = None) -> np.ndarray:
    """Filters of three input channels (F, 3, kh, kw) as colour pictures: float32 (F, kh, kw, 3)
    in [0, 1], ``w / (2 top) + 0.5`` channel by channel, so that a zero weight is mid-grey and the
    layer's largest magnitude (``top``, by default :func:`peak` of all of ``weight``: one scale
    for every filter, as the classic filter pictures are drawn) reaches black or full colour."""
    weight = np.asarray(weight, dtype=np.float32)
    if weight.ndim != 4 or weight.shape[1] != 3:
        raise ValueError(f"colour pictures need filters of 3 input channels, not {weight.shape}")
    top = peak(weight) if top is None else float(top)
    pictures = weight.transpose(0, 2, 3, 1) / np.float32(2 * top) + np.float32(0.5)
    return np.ascontiguousarray(np.clip(pictures, 0.0, 1.0), dtype=np.float32)


# --------------------------------------------------------------------------------- windows
@dataclass(frozen=True)
class LayerWindow:
    """The units of one activation that a unit of a later (or the same) activation reads.

    Attributes
    ----------
    index : int
        Activation index (0: the input).
    channels : np.ndarray
        Sorted channels read (for a vector activation: the units read).
    rows, cols : np.ndarray or None
        Sorted rows and columns read inside the map (every pair is read); None for vectors.
    span : (top, left, bottom, right) or None
        Inclusive bounds of every position the window covers, padding included (so it may stick
        out of the map); None for vectors.
    """

    index: int
    channels: np.ndarray
    rows: np.ndarray | None = None
    cols: np.ndarray | None = None
    span: tuple[int, int, int, int] | None = None

    @property
    def bounds(self) -> tuple[int, int, int, int] | None:
        """Inclusive (top, left, bottom, right) of the positions read inside the map."""
        if self.rows is None:
            return None
        return (int(self.rows[0]), int(self.cols[0]), int(self.rows[-1]), int(self.cols[-1]))


def _whole(index: int, shape) -> LayerWindow:
    if len(shape) == 1:
        return LayerWindow(index, np.arange(shape[0]))
    c, h, w = shape
    return LayerWindow(index, np.arange(c), np.arange(h), np.arange(w), (0, 0, h - 1, w - 1))


def unit_windows(model, index: int, unit: tuple[int, ...]) -> list[LayerWindow]:
    """Where unit ``unit`` of activation ``index`` looks, in every activation up to its own.

    Walks the layers back: a sliding window maps rows and columns to the positions its taps
    read (positions in the padding are kept in ``span`` only); a convolution reads every input
    channel, pooling and element-wise layers the same channel; flattening maps a unit back to its
    map position; a dense layer reads all of its input, and the walk goes on from there (so a
    border that no window ever reads stays out, even for a dense unit). Entry 0 equals the
    engine's :meth:`~cnnviz.nn.Sequential.receptive_field` for units before the first dense
    layer.

    Returns
    -------
    list of LayerWindow
        ``index + 1`` windows, entry ``i`` for activation ``i``; the last is the unit itself.
    """
    shapes = [tuple(model.input_shape)] + [tuple(layer.output_shape) for layer in model.layers]
    if len(unit) == 1:
        here = LayerWindow(index, np.array(unit))
    else:
        c, y, x = unit
        here = LayerWindow(index, np.array([c]), np.array([y]), np.array([x]), (y, x, y, x))
    windows = [here]
    for i in range(index - 1, -1, -1):
        layer, shape = model.layers[i], shapes[i]
        if layer.mixes_positions:
            here = _whole(i, shape)
        elif layer.window is not None:
            here = _through_window(i, layer, shape, here)
        elif layer.kind == "Flatten":
            c, y, x = np.unravel_index(here.channels, shape)
            rows, cols = np.unique(y), np.unique(x)
            here = LayerWindow(i, np.unique(c), rows, cols,
                               (int(rows[0]), int(cols[0]), int(rows[-1]), int(cols[-1])))
        elif layer.kind == "Softmax":  # normalises along the last axis
            here = (_whole(i, shape) if len(shape) == 1 else
                    LayerWindow(i, here.channels, here.rows, np.arange(shape[2]),
                                (here.span[0], 0, here.span[2], shape[2] - 1)))
        else:
            here = LayerWindow(i, here.channels, here.rows, here.cols, here.span)
        windows.append(here)
    return windows[::-1]


def _through_window(index: int, layer, shape, after: LayerWindow) -> LayerWindow:
    """The window in a sliding-window layer's input of the window ``after`` in its output."""
    c, h, w = shape
    window = layer.window
    top, left, bottom, right = after.span
    span_rows = window.input_positions(np.array([top, bottom]), 0)
    span_cols = window.input_positions(np.array([left, right]), 1)
    rows = window.input_positions(after.rows, 0)
    cols = window.input_positions(after.cols, 1)
    rows = rows[(rows >= 0) & (rows < h)]
    cols = cols[(cols >= 0) & (cols < w)]
    channels = np.arange(c) if layer.kind in CHANNEL_MIXING_KINDS else after.channels
    return LayerWindow(index, channels, rows, cols,
                       (int(span_rows[0]), int(span_cols[0]), int(span_rows[-1]),
                        int(span_cols[-1])))


# --------------------------------------------------------------------------------- one unit
@dataclass(frozen=True)
class WindowTerms:
    """The sliding window a convolution or pooling unit applies, term by term.

    Attributes
    ----------
    layer : int
        Index of the convolution or pooling layer.
    kind : str
        ``"Conv2D"``, ``"MaxPool2D"``, ``"AvgPool2D"`` or ``"GlobalAvgPool2D"``.
    rows, cols : np.ndarray
        The input rows (kh,) and columns (kw,) under the kernel taps (negative or past the end in
        the padding).
    inputs : np.ndarray
        (C, kh, kw): the input values under the taps, 0 in the padding (for pooling C is 1: the
        unit's own channel).
    padded : np.ndarray
        bool (kh, kw): taps that fall in the padding.
    weights : np.ndarray or None
        (C, kh, kw) kernel of a convolution unit.
    products : np.ndarray or None
        ``inputs * weights`` (float32, as the engine multiplies).
    bias : float
        0 without a bias, and for pooling.
    result : float
        The sum of the channel sums plus the bias (float64), the maximum, or the mean: the sum
        of the taps inside the map divided by :attr:`divisor`.
    chosen : (int, int) or None
        The tap of the maximum (max pooling; the first one, as the engine's backward pass).
    channel_sums : np.ndarray or None
        float64 (C,): a convolution unit's partial sums, one per input channel (the sum of that
        channel's window times its kernel); ``result`` is their total plus the bias.
    channel_names : tuple of str
        The input channels' names (:func:`input_channel_names`: R, G, B on a colour input).
    divisor : int
        An average's divisor: the taps inside the map, or every tap of the window when the
        layer counts the padding (``count_include_pad``: the padded taps add 0); 0 otherwise.
    """

    layer: int
    kind: str
    rows: np.ndarray
    cols: np.ndarray
    inputs: np.ndarray
    padded: np.ndarray
    weights: np.ndarray | None
    products: np.ndarray | None
    bias: float
    result: float
    chosen: tuple[int, int] | None = None
    channel_sums: np.ndarray | None = None
    channel_names: tuple[str, ...] = ()
    divisor: int = 0

    @property
    def total(self) -> float:
        """A convolution unit's sum over every input channel, before the bias."""
        return float(self.channel_sums.sum()) if self.channel_sums is not None else 0.0


@dataclass(frozen=True)
class NormTerms:
    """A batch normalisation of one unit in inference:
    ``result = gamma * (value - mean) / sqrt(var + eps) + beta`` with the numbers of the unit's
    channel (``mean`` and ``var`` the running statistics gathered in training)."""

    layer: int
    channel: int
    value: float
    mean: float
    var: float
    eps: float
    gamma: float
    beta: float

    @property
    def result(self) -> float:
        return self.gamma * (self.value - self.mean) / math.sqrt(self.var + self.eps) + self.beta


@dataclass(frozen=True)
class UnitExplanation:
    """How one unit's value came about: a window computation, then element-wise layers.

    Attributes
    ----------
    index : int
        Activation index of the unit explained.
    unit : (c, y, x)
    terms : WindowTerms
        The convolution or pooling computation (its result is ``values[0]``).
    steps : list of (int, str, float)
        ``(layer, kind, value)``: the window layer's own output as the trace holds it, then every
        element-wise or per-channel layer after it (batch normalisation, ReLU, ...) up to the
        unit, each with its trace value.
    norms : dict of int to NormTerms
        The numbers of each batch normalisation among the steps, by layer.
    """

    index: int
    unit: tuple[int, int, int]
    terms: WindowTerms
    steps: list[tuple[int, str, float]]
    norms: dict = field(default_factory=dict)

    @property
    def value(self) -> float:
        """The unit's value in the trace."""
        return self.steps[-1][2]


def explain_unit(model, activations, index: int, unit) -> UnitExplanation | None:
    """The arithmetic behind unit ``unit`` of activation ``index``, or None when it is not the
    output of a convolution or pooling layer (possibly followed by element-wise layers and batch
    normalisation).

    Parameters
    ----------
    model : Sequential
        The network that computed ``activations`` (its current weights).
    activations : sequence of np.ndarray
        ``Trace.activations``: the input and every layer's output, without the batch axis.
    """
    if len(unit) != 3 or index < 1:
        return None
    layer = index - 1
    while layer >= 0 and model.layers[layer].kind in ELEMENTWISE_KINDS | PER_CHANNEL_KINDS:
        layer -= 1
    if layer < 0 or model.layers[layer].kind not in WINDOW_KINDS:
        return None
    c, y, x = (int(v) for v in unit)
    steps = [(i, model.layers[i].kind, float(activations[i + 1][c, y, x]))
             for i in range(layer, index)]
    terms = _window_terms(model.layers[layer], layer, activations[layer], (c, y, x),
                          tuple(input_channel_names(model, layer)))
    norms = {}
    for i in range(layer + 1, index):
        norm = model.layers[i]
        if norm.kind == "BatchNorm":
            norms[i] = NormTerms(i, c, float(activations[i][c, y, x]),
                                 float(norm.state["running_mean"][c]),
                                 float(norm.state["running_var"][c]), norm.eps,
                                 float(norm.params["gamma"][c]), float(norm.params["beta"][c]))
    return UnitExplanation(index, (c, y, x), terms, steps, norms)


def _window_terms(layer, index: int, x: np.ndarray, unit, names=()) -> WindowTerms:
    c, y, x0 = unit
    _, h, w = x.shape
    window = layer.window
    rows, cols = (position * window.stride[a] - window.pad_before[a]
                  + np.arange(window.kernel[a]) * window.dilation[a]
                  for a, position in enumerate((y, x0)))
    inside_r, inside_c = (rows >= 0) & (rows < h), (cols >= 0) & (cols < w)
    padded = ~(inside_r[:, None] & inside_c[None, :])
    channels = slice(None) if layer.kind == "Conv2D" else slice(c, c + 1)
    source = x[channels]
    inputs = np.zeros((source.shape[0], len(rows), len(cols)), dtype=x.dtype)
    window_values = source[:, np.clip(rows, 0, h - 1)][:, :, np.clip(cols, 0, w - 1)]
    inputs[:, ~padded] = window_values[:, ~padded]
    if layer.kind == "Conv2D":
        weights = layer.params["weight"][c]
        products = inputs * weights
        bias = float(layer.params["bias"][c]) if layer.use_bias else 0.0
        sums = products.sum(axis=(1, 2), dtype=np.float64)
        result = float(sums.sum()) + bias
        return WindowTerms(index, layer.kind, rows, cols, inputs, padded, weights, products, bias,
                           result, None, sums, tuple(names))
    values = inputs[0]
    if layer.kind == "MaxPool2D":
        masked = np.where(padded, -np.inf, values)
        chosen = np.unravel_index(int(np.argmax(masked)), masked.shape)
        return WindowTerms(index, layer.kind, rows, cols, inputs, padded, None, None, 0.0,
                           float(masked[chosen]), (int(chosen[0]), int(chosen[1])),
                           channel_names=tuple(names[c:c + 1]))
    # Padded taps read 0: with count_include_pad they count in the divisor (the engine divides
    # by the whole window), otherwise the mean is over the taps inside the map.
    divisor = padded.size if getattr(layer, "count_include_pad", False) else \
        int(np.count_nonzero(~padded))
    result = float(values[~padded].sum(dtype=np.float64) / divisor)
    return WindowTerms(index, layer.kind, rows, cols, inputs, padded, None, None, 0.0, result,
                       channel_names=tuple(names[c:c + 1]), divisor=divisor)
