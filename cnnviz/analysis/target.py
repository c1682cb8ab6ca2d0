"""What the analysis methods look at, and the forward/backward passes they share.

A :class:`Target` names one scalar per image: a unit of a layer's output (``index``), the sum of a
whole feature map (``channel``), or a class score (a unit of the last layer, as a logit by default
or as a probability).  :func:`forward_backward` runs the network up to the target's layer, seeds the
gradient of that scalar and back-propagates it down to the input or to any intermediate layer,
using only the public layer contract (``layer.forward`` / ``layer.backward``).

The passes use the model's forward caches and overwrite its layers' ``grads``: do not run them on
a network another thread is training or running at the same time (give them ``model.copy()``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cnnviz.nn import Sequential, softmax


class Cancelled(Exception):
    """A progress callback returned False; ``partial`` holds what was computed so far, if any."""

    def __init__(self, partial=None):
        super().__init__("cancelled by the progress callback")
        self.partial = partial


def keep_going(progress, done: int, total: int) -> bool:
    """Call ``progress(done, total)``; False only when the callback returned exactly False."""
    return progress is None or progress(done, total) is not False


@dataclass(frozen=True)
class Target:
    """One scalar per image to explain or maximise.

    Parameters
    ----------
    layer : int
        Layer whose output holds the target (negative counts from the end).
    index : tuple of int, optional
        A unit of that output without the batch axis: ``(c, y, x)`` in a feature map, ``(k,)``
        in a vector (a class when ``layer`` is the last one).
    channel : int, optional
        The sum of feature map ``channel`` (image outputs only).  Give exactly one of ``index``
        and ``channel``.
    probability : bool
        For a class of the last layer: use its softmax probability instead of its logit.  A
        network ending in ``Softmax`` has its logits at the Softmax's input, which a class target
        without ``probability`` uses.
    """

    layer: int = -1
    index: tuple[int, ...] | None = None
    channel: int | None = None
    probability: bool = False

    def __post_init__(self):
        if (self.index is None) == (self.channel is None):
            raise ValueError("a target needs exactly one of index or channel")
        if self.index is not None:
            object.__setattr__(self, "index", tuple(int(i) for i in np.atleast_1d(self.index)))
        if self.channel is not None:
            object.__setattr__(self, "channel", int(self.channel))
        if self.probability and self.channel is not None:
            raise ValueError("probability targets are classes (index), not feature maps")

    @classmethod
    def for_class(cls, k: int, probability: bool = False) -> "Target":
        """Class ``k`` of the last layer (its logit, or its probability)."""
        return cls(-1, index=(int(k),), probability=probability)

    @classmethod
    def unit(cls, layer: int, index) -> "Target":
        """One unit ``index`` of layer ``layer``'s output."""
        return cls(layer, index=tuple(index))

    @classmethod
    def feature_map(cls, layer: int, channel: int) -> "Target":
        """The sum of feature map ``channel`` of layer ``layer``'s output."""
        return cls(layer, channel=channel)


def as_target(target, probability: bool = False) -> Target:
    """A :class:`Target` from a Target or a class index (an int)."""
    if isinstance(target, Target):
        return target
    if isinstance(target, (int, np.integer)) and not isinstance(target, bool):
        return Target.for_class(int(target), probability)
    raise TypeError(f"expected a Target or a class index, not {target!r}")


def resolve(model: Sequential, target: Target) -> tuple[int, bool]:
    """Where the target lives: ``(layer index >= 0, apply a softmax on top of that output)``.

    Raises
    ------
    IndexError
        For a layer, index or channel out of range.
    ValueError
        For a probability target that is not a class, or a channel of a flat output.
    """
    n = len(model.layers)
    if not -n <= target.layer < n:
        raise IndexError(f"layer {target.layer} out of range for a network of {n} layers")
    layer = target.layer % n
    ends_in_softmax = model.layers[-1].kind == "Softmax"
    is_class = layer == n - 1 and target.index is not None and len(model.output_shape) == 1
    if target.probability and not is_class:
        raise ValueError("a probability target must be a class (index (k,)) of the last layer")
    if is_class and ends_in_softmax and not target.probability and n > 1:
        layer = n - 2          # the logits feed the Softmax
    _check_in_range(model.layers[layer].output_shape, target, layer)
    return layer, target.probability and not ends_in_softmax


def _check_in_range(shape: tuple[int, ...], target: Target, layer: int) -> None:
    if target.channel is not None:
        if len(shape) != 3:
            raise ValueError(f"layer {layer} outputs {shape}, not feature maps: use an index")
        if not 0 <= target.channel < shape[0]:
            raise IndexError(f"channel {target.channel} out of range for layer {layer} ({shape})")
        return
    if len(target.index) != len(shape) or not all(0 <= i < s for i, s in zip(target.index, shape)):
        raise IndexError(f"unit {target.index} out of range for layer {layer} output {shape}")


def _targets_for(model: Sequential, targets, n: int) -> tuple[list[Target], int, bool]:
    """One Target per image (all at the same place), their layer and softmax flag."""
    if isinstance(targets, Target) or isinstance(targets, (int, np.integer)):
        targets = [as_target(targets)] * n
    targets = [as_target(t) for t in targets]
    if len(targets) != n:
        raise ValueError(f"{len(targets)} targets for {n} images")
    places = {resolve(model, t) for t in targets}
    if len(places) != 1:
        raise ValueError("targets of one batch must sit on the same layer, all logits or all "
                         "probabilities")
    layer, use_softmax = places.pop()
    return targets, layer, use_softmax


def _seed(out: np.ndarray, targets: list[Target], use_softmax: bool):
    """The target values (N,) and the gradient of their sum with respect to ``out``."""
    rows = np.arange(len(out))
    if use_softmax:
        k = np.array([t.index[0] for t in targets])
        p = softmax(out)
        values = p[rows, k]
        dy = -p * values[:, None]
        dy[rows, k] += values
        return values, dy
    dy = np.zeros_like(out)
    values = np.empty(len(out), dtype=out.dtype)
    for i, t in enumerate(targets):
        if t.channel is not None:
            dy[i, t.channel] = 1
            values[i] = out[i, t.channel].sum()
        else:
            dy[(i,) + t.index] = 1
            values[i] = out[(i,) + t.index]
    return values, dy


def run_to(model: Sequential, x: np.ndarray, last: int, keep: int | None = None):
    """Forward ``x`` (a batch) through layers ``0..last``; returns the output and trace entry
    ``keep`` (0 the input, ``i + 1`` the output of layer ``i``), or None."""
    out, kept = x, (x if keep == 0 else None)
    for i in range(last + 1):
        out = model.layers[i].forward(out, False)
        if keep == i + 1:
            kept = out
    return out, kept


def backprop(model: Sequential, last: int, dy: np.ndarray, down_to: int = 0,
             skip=frozenset()) -> np.ndarray:
    """Back-propagate ``dy`` (gradient of layer ``last``'s output) through layers
    ``last..down_to`` and return the gradient at layer ``down_to``'s input (trace entry
    ``down_to``).  The layers must hold the caches of a forward pass.  Layers whose index is in
    ``skip`` (shape-preserving ones) are treated as the identity."""
    if down_to == last + 1:
        return dy
    first = model.layers[down_to]
    saved = first.need_input_grad
    first.need_input_grad = True
    try:
        for index in range(last, down_to - 1, -1):
            if index not in skip:
                dy = model.layers[index].backward(dy)
    finally:
        first.need_input_grad = saved
    return np.ascontiguousarray(dy)


#: Element-wise, increasing activations: the input that maximises their input maximises them.
INCREASING_ACTIVATIONS = frozenset({"ReLU", "LeakyReLU", "Sigmoid", "Tanh", "Softplus"})
_PASSING = frozenset({"MaxPool2D", "AvgPool2D", "GlobalAvgPool2D", "Dropout"})


def straight_through(model: Sequential, layer: int) -> frozenset[int]:
    """The increasing activations among the activations and pools that end at ``layer``
    (e.g. ``{1}`` for conv, ReLU, max-pool with ``layer`` the pool, index 2)."""
    skipped, index = set(), layer
    while index >= 0 and model.layers[index].kind in INCREASING_ACTIVATIONS | _PASSING:
        if model.layers[index].kind in INCREASING_ACTIVATIONS:
            skipped.add(index)
        index -= 1
    return frozenset(skipped)


def forward_backward(model: Sequential, x: np.ndarray, targets, grad_at: int = 0,
                     through_activation: bool = False):
    """Target values and their gradient at one point of the network.

    Parameters
    ----------
    x : ndarray, shape (N, *input_shape)
    targets : Target, int, or a sequence of N of them (same layer and kind)
    grad_at : int
        Trace entry where the gradient is taken: 0 the input, ``i + 1`` the output of layer ``i``
        (at most the target's layer + 1).

    Returns
    -------
    values : ndarray, shape (N,)
    activation : ndarray, shape (N, ...)
        Trace entry ``grad_at``.
    gradient : ndarray, same shape as ``activation``
        d value_n / d activation_n for every image n.
    through_activation : bool
        Back-propagate through the increasing activations (ReLU, Tanh...) at the top of the
        target's layer (among activations and pools, see :func:`straight_through`) as if they
        were the identity: the gradient then does not vanish where a ReLU is off, as it does at
        the start of activation maximisation.  Not the true gradient.
    """
    targets, layer, use_softmax = _targets_for(model, targets, len(x))
    if not 0 <= grad_at <= layer + 1:
        raise ValueError(f"the gradient can be taken at trace entries 0..{layer + 1}, "
                         f"not {grad_at}")
    out, activation = run_to(model, x, layer, keep=grad_at)
    values, dy = _seed(out, targets, use_softmax)
    skip = straight_through(model, layer) if through_activation else frozenset()
    return values, activation, backprop(model, layer, dy, down_to=grad_at, skip=skip)


def target_values(model: Sequential, x: np.ndarray, targets, batch_size: int = 256) -> np.ndarray:
    """Target values (N,) of a batch ``x`` (N, *input_shape), forward only, in chunks."""
    out = []
    for start in range(0, len(x), batch_size):
        chunk = x[start:start + batch_size]
        group = targets if isinstance(targets, (Target, int, np.integer)) \
            else targets[start:start + batch_size]
        group, layer, use_softmax = _targets_for(model, group, len(chunk))
        out.append(_seed(run_to(model, chunk, layer)[0], group, use_softmax)[0])
    return np.concatenate(out) if out else np.zeros(0, model.dtype)
