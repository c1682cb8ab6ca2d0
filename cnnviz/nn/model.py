"""``Sequential``: a stack of layers with the views cnnviz needs (trace, gradients, geometry)."""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np

from .budget import check_cost, estimate
from .errors import ModelError
from .geometry import IDENTITY_FIELD, ReceptiveField
from .layers import LAYER_TYPES, Layer, check_settings, show_value, softmax, zero_grads


#: Run a ReLU followed by max pooling, or by a Winograd convolution, as one step in training
#: (MaxPool2D / Conv2D.forward_after_relu): the same numbers, without two passes over the
#: ReLU's full-size output.  One core, CPU time of
#: the pair's forward and backward: 2.75 -> 1.6 ms for 32 channels of 32x32 on 32 images,
#: 0.29 -> 0.21 ms for lenet5's first.  False runs the layers one by one (for comparisons).
FOLD_RELU_POOLING = True


@dataclass(frozen=True)
class Rect:
    """An inclusive rectangle of input pixels: rows ``top..bottom``, columns ``left..right``."""

    top: int
    left: int
    bottom: int
    right: int

    @property
    def height(self) -> int:
        return self.bottom - self.top + 1

    @property
    def width(self) -> int:
        return self.right - self.left + 1

    def clipped(self, height: int, width: int) -> "Rect":
        return Rect(max(self.top, 0), max(self.left, 0), min(self.bottom, height - 1),
                    min(self.right, width - 1))


@dataclass(frozen=True)
class UnitField:
    """Where one unit looks.

    ``rect`` bounds every position it reads, padding included (so it may stick out of the image);
    ``clipped`` bounds the image pixels it reads; ``rows`` and ``cols`` list those pixels' rows and
    columns (with dilation the field has holes: the pixels read are every ``(row, col)`` pair).
    """

    rect: Rect
    clipped: Rect
    rows: np.ndarray
    cols: np.ndarray
    whole_input: bool = False

    def mask(self, height: int, width: int) -> np.ndarray:
        """Boolean (height, width) image of the pixels the unit reads."""
        out = np.zeros((height, width), dtype=bool)
        out[np.ix_(self.rows, self.cols)] = True
        return out


class Sequential:
    """Layers applied in order to inputs of shape ``(N, *input_shape)``.

    Parameters
    ----------
    layers : list of Layer
    input_shape : tuple of int
        Shape of one input without the batch axis, e.g. ``(1, 28, 28)``.
    seed : int or None
        Seed of the weight initialisation.
    name : str
    """

    def __init__(self, layers: list[Layer], input_shape=(1, 28, 28), seed=None, name="network"):
        if not layers:
            raise ModelError("a network needs at least one layer")
        self.layers = list(layers)
        self.input_shape = tuple(int(v) for v in input_shape)
        self.name = name
        # From the shapes alone, before any parameter is allocated: refuse what this machine
        # cannot run (one image, forward and backward).
        check_cost(estimate(self.layers, self.input_shape))
        rng = np.random.default_rng(seed)
        shape = self.input_shape
        for index, layer in enumerate(self.layers):
            try:
                shape = layer.build(shape, rng)
            except ModelError as exc:
                raise ModelError(f"layer {index} ({layer.kind}): {exc}") from None
        self.output_shape = shape
        self._fields = self._receptive_fields()

    # ----------------------------------------------------------------- running
    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        """Run the network on ``x`` of shape (N, *input_shape); returns the last layer's output."""
        x = self._check_input(x)
        layers, i = self.layers, 0
        while i < len(layers):
            layer = layers[i]
            after = layers[i + 1] if training and FOLD_RELU_POOLING and i + 1 < len(layers) \
                else None
            if after is not None and getattr(after, "folds_relu", None) \
                    and after.folds_relu(layer, x):
                # A ReLU and the max pooling or convolution after it, as one
                # (MaxPool2D.forward_after_relu, Conv2D.forward_after_relu).
                x = after.forward_after_relu(x, layer)
                i += 2
            else:
                x = layer.forward(x, training)
                i += 1
        return x

    def trace(self, x: np.ndarray, progress=None) -> list[np.ndarray]:
        """The input followed by every layer's output (inference mode), for display.

        Parameters
        ----------
        x : ndarray, shape (N, *input_shape)
        progress : callable, optional
            ``progress(done, total)`` after each layer (``total`` is the number of layers); it
            may raise to stop the pass (a window dropping a pass whose input is already stale).

        Returns
        -------
        list of ndarray
            ``len(layers) + 1`` arrays; entry ``i + 1`` is the output of layer ``i``.
        """
        x = self._check_input(x)
        outputs = [x]
        total = len(self.layers)
        for done, layer in enumerate(self.layers, 1):
            x = layer.forward(x, False)
            outputs.append(x)
            if progress is not None:
                progress(done, total)
        return outputs

    def sharing_weights(self) -> "Sequential":
        """The same network over the same parameter arrays (no copy), with forward caches of its
        own: another thread can run it while this one is used (a layer keeps what its last
        forward pass saw for the backward pass, so two threads must not share layers).

        Parameters replaced later in this network (``layer.params[name] = new``, as the window
        and the trainer's snapshots do) are not seen by the clone, which keeps computing with
        the weights it was made with; arrays changed in place would be.
        """
        clone = copy.copy(self)
        clone.layers = []
        for layer in self.layers:
            fresh = copy.copy(layer)
            fresh.__dict__ = {k: v for k, v in layer.__dict__.items() if not k.startswith("_")}
            fresh.params = dict(layer.params)
            fresh.grads = {}
            if hasattr(layer, "rng"):
                fresh.rng = copy.deepcopy(layer.rng)
            clone.layers.append(fresh)
        return clone

    def backward(self, dy: np.ndarray, upto: int = 0):
        """Back-propagate ``dy`` (gradient of the last output) down to layer ``upto``'s input,
        filling every visited layer's ``grads``; returns the gradient at that input (or None when
        the first layer was told not to compute it)."""
        return self._backward_from(len(self.layers) - 1, dy, upto)

    def _backward_from(self, last: int, dy, upto: int = 0):
        layers, i = self.layers, last
        while i >= upto:
            layer = layers[i]
            if i > upto and getattr(layer, "_after_relu", None) is layers[i - 1]:
                dy = layer.backward_through_relu(dy)  # the folded ReLU and pooling at once
                i -= 2
            else:
                dy = layer.backward(dy)
                i -= 1
        return dy

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """Class probabilities (N, K): softmax of the outputs unless the net ends in a Softmax."""
        out = self.forward(x)
        return out if self.layers[-1].kind == "Softmax" else softmax(out)

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.forward(x).argmax(axis=1)

    def input_gradient(self, x, layer: int = -1, index=None, channel=None) -> np.ndarray:
        """Gradient with respect to the input of one unit, one channel or one class score.

        Parameters
        ----------
        x : ndarray, shape (N, *input_shape)
        layer : int
            Layer whose output is differentiated (negative counts from the end).
        index : tuple of int, optional
            A unit of that output without the batch axis, e.g. ``(c, y, x)`` or ``(k,)`` for a
            class score (logit) of the last layer.
        channel : int, optional
            Differentiate the sum of a whole feature map (channel) instead.

        The layers' ``grads`` are left as they were.

        Returns
        -------
        ndarray, same shape as ``x``
        """
        layer = self._layer_index(layer)
        if (index is None) == (channel is None):
            raise ValueError("give exactly one of index or channel")
        x = self._check_input(x)
        out = x
        for lay in self.layers[:layer + 1]:
            out = lay.forward(out, False)
        dy = np.zeros_like(out)
        if channel is not None:
            dy[:, channel] = 1
        else:
            dy[(slice(None),) + tuple(index)] = 1
        first = self.layers[0].need_input_grad
        self.layers[0].need_input_grad = True
        for lay in self.layers:
            lay.need_param_grads = False
        try:
            return np.asarray(self._backward_from(layer, dy))
        finally:
            self.layers[0].need_input_grad = first
            for lay in self.layers:
                lay.need_param_grads = True

    # ----------------------------------------------------------------- parameters
    def named_params(self) -> dict[str, np.ndarray]:
        """Every parameter array by name ``"<layer index>.<param>"`` (the arrays themselves)."""
        return {f"{i}.{k}": v for i, layer in enumerate(self.layers) for k, v in layer.params.items()}

    def named_grads(self) -> dict[str, np.ndarray]:
        return {f"{i}.{k}": v for i, layer in enumerate(self.layers) for k, v in layer.grads.items()}

    def named_state(self) -> dict[str, np.ndarray]:
        """Every state array (running statistics) by name ``"<layer index>.<name>"``."""
        return {f"{i}.{k}": v for i, layer in enumerate(self.layers) for k, v in layer.state.items()}

    def named_weights(self) -> dict[str, np.ndarray]:
        """The parameters then the state arrays, by name: everything a file or a snapshot of the
        network holds (the arrays themselves)."""
        return {**self.named_params(), **self.named_state()}

    def get_weights(self) -> dict[str, np.ndarray]:
        """A copy of every parameter and state array (running statistics), by name."""
        return {k: v.copy() for k, v in self.named_weights().items()}

    def set_weights(self, weights: dict[str, np.ndarray]) -> None:
        """Replace every parameter with a copy of ``weights[name]`` (names and shapes must match),
        and the state arrays ``weights`` holds (running statistics; those it lacks stay)."""
        own, state = self.named_params(), self.named_state()
        unexpected = set(weights) - set(own) - set(state)
        if not set(own) <= set(weights) or unexpected:
            missing = sorted(set(own) - set(weights))
            raise ModelError(f"weights do not match the network (missing {missing}, unexpected "
                             f"{sorted(unexpected)})")
        every = {**own, **state}
        for name, value in weights.items():
            if value.shape != every[name].shape:
                raise ModelError(f"{name} has shape {value.shape}, expected {every[name].shape}")
        for name, value in weights.items():
            index, key = name.split(".", 1)
            layer = self.layers[int(index)]
            where = layer.params if name in own else layer.state
            where[key] = np.array(value, dtype=every[name].dtype, copy=True)

    def param_count(self) -> int:
        return sum(layer.param_count() for layer in self.layers)

    def astype(self, dtype) -> "Sequential":
        """Convert every parameter to ``dtype`` in place (float64 for gradient checks)."""
        for layer in self.layers:
            layer.params = {k: v.astype(dtype) for k, v in layer.params.items()}
            layer.grads = {k: v.astype(dtype) for k, v in layer.grads.items()}
            layer.state = {k: v.astype(dtype) for k, v in layer.state.items()}
        return self

    def copy(self) -> "Sequential":
        """A deep copy (weights and settings, no forward caches)."""
        clone = copy.copy(self)
        clone.layers = []
        for layer in self.layers:
            fresh = copy.copy(layer)
            fresh.__dict__ = {k: v for k, v in layer.__dict__.items() if not k.startswith("_")}
            fresh.params = {k: v.copy() for k, v in layer.params.items()}
            fresh.grads = zero_grads(layer.params)
            fresh.state = {k: v.copy() for k, v in layer.state.items()}
            if hasattr(layer, "rng"):
                fresh.rng = copy.deepcopy(layer.rng)
            clone.layers.append(fresh)
        return clone

    def config(self) -> dict:
        """The JSON-able architecture (no weights)."""
        return {"format": "cnnviz-sequential", "version": 1, "name": self.name,
                "input_shape": list(self.input_shape),
                "layers": [{"kind": layer.kind, **layer.config()} for layer in self.layers]}

    @classmethod
    def from_config(cls, config: dict, seed=None) -> "Sequential":
        """Build a network from :meth:`config` output (weights freshly initialised)."""
        layers = [layer_from_config(spec) for spec in config["layers"]]
        return cls(layers, tuple(config["input_shape"]), seed=seed, name=config.get("name", "network"))

    # ----------------------------------------------------------------- geometry
    def receptive_field_of(self, layer: int) -> ReceptiveField:
        """Size, jump (effective stride) and start of the receptive field of layer ``layer``'s units
        (``-1`` for the input itself is not allowed; use layer indices 0..len-1)."""
        return self._fields[self._layer_index(layer)]

    def receptive_field(self, layer: int, y: int = 0, x: int = 0) -> UnitField:
        """The exact input rectangle seen by unit ``(y, x)`` of layer ``layer``'s output.

        For a unit after a layer that mixes all positions (dense), the whole input.
        """
        layer = self._layer_index(layer)
        h, w = self.input_shape[1:] if len(self.input_shape) == 3 else (1, self.input_shape[0])
        if self._fields[layer].global_:
            whole = Rect(0, 0, h - 1, w - 1)
            return UnitField(whole, whole, np.arange(h), np.arange(w), True)
        rows, cols = np.array([y]), np.array([x])
        span_rows, span_cols = rows, cols
        for lay in reversed(self.layers[:layer + 1]):
            if lay.window is not None:
                # The span follows every tap (the textbook field); the pixel sets drop positions
                # that fall in a layer's padding, since those read nothing further down.
                span_rows = lay.window.input_positions(span_rows[[0, -1]], 0)
                span_cols = lay.window.input_positions(span_cols[[0, -1]], 1)
                n_h, n_w = lay.input_shape[1:]
                rows = lay.window.input_positions(rows, 0)
                cols = lay.window.input_positions(cols, 1)
                rows = rows[(rows >= 0) & (rows < n_h)]
                cols = cols[(cols >= 0) & (cols < n_w)]
        rect = Rect(int(span_rows[0]), int(span_cols[0]), int(span_rows[-1]), int(span_cols[-1]))
        clipped = Rect(int(rows.min()), int(cols.min()), int(rows.max()), int(cols.max()))
        return UnitField(rect, clipped, rows, cols)

    def _receptive_fields(self) -> list[ReceptiveField]:
        field, fields = IDENTITY_FIELD, []
        for layer in self.layers:
            if layer.mixes_positions:
                field = ReceptiveField(field.size, field.jump, field.start, global_=True)
            elif layer.window is not None:
                field = field.then(layer.window)
            fields.append(field)
        return fields

    # ----------------------------------------------------------------- helpers
    def _layer_index(self, layer: int) -> int:
        n = len(self.layers)
        if not -n <= layer < n:
            raise IndexError(f"layer {layer} out of range for a network of {n} layers")
        return layer % n

    @property
    def dtype(self) -> np.dtype:
        """The parameters' dtype (float32 unless converted with :meth:`astype`); inputs follow it."""
        return next(iter(self.named_params().values()), np.empty(0, np.float32)).dtype

    def as_batch(self, x) -> tuple[np.ndarray, bool]:
        """``x`` of shape ``input_shape`` or ``(N, *input_shape)`` as a batch in :attr:`dtype`,
        and whether it was a single image."""
        x = np.asarray(x)
        single = tuple(x.shape) == self.input_shape
        return self._check_input(x[None] if single else x), single

    def _check_input(self, x: np.ndarray) -> np.ndarray:
        if x.ndim != len(self.input_shape) + 1 or tuple(x.shape[1:]) != self.input_shape:
            raise ModelError(f"the network expects inputs of shape (N, {', '.join(map(str, self.input_shape))})"
                             f", got {x.shape}")
        return x.astype(self.dtype, copy=False)

    def summary(self) -> list[dict]:
        """One row per layer: kind, output shape, parameters and receptive-field geometry."""
        rows = []
        for index, (layer, field) in enumerate(zip(self.layers, self._fields)):
            rows.append({"index": index, "kind": layer.kind, "output_shape": layer.output_shape,
                         "params": layer.param_count(), "receptive_field": field})
        return rows

    def __repr__(self):
        return f"Sequential({self.layers!r}, input_shape={self.input_shape})"


def layer_from_config(spec: dict) -> Layer:
    """Build one layer from ``{"kind": ..., **settings}``; raises ModelError for anything unknown.

    The settings are checked against the kind's schema (type and range of each) first, so that
    nothing a file or the designer holds reaches a constructor unchecked.
    """
    if not isinstance(spec, dict) or not isinstance(spec.get("kind"), str):
        kind = spec.get("kind") if isinstance(spec, dict) else spec
        raise ModelError(f"a layer must be an object with a 'kind' naming its type, got {show_value(kind)}")
    cls = LAYER_TYPES.get(spec["kind"])
    if cls is None:
        raise ModelError(f"unknown layer kind {show_value(spec['kind'])}; known kinds: {', '.join(LAYER_TYPES)}")
    settings = {k: v for k, v in spec.items() if k != "kind"}
    check_settings(cls, settings)
    try:
        return cls(**settings)
    except TypeError as exc:
        raise ModelError(f"bad settings for {spec['kind']}: {exc}") from None
