"""How healthy a network is while it trains: per-layer weight and gradient norms, dead ReLUs.

A too-high learning rate shows here before it shows in the loss: gradient norms jump by orders of
magnitude, and ReLU units whose input became negative for every image stop passing any signal
or gradient (they are "dead" and seldom recover). The trainer calls :func:`measure_health` in its
own thread when it takes a snapshot of the weights, right after a step, while the gradients of
that step are still in the layers. No Qt here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cnnviz.nn import Sequential

__all__ = ["NetworkHealth", "dead_relu_fractions", "layer_label", "layer_norms",
           "measure_health"]


@dataclass(frozen=True)
class NetworkHealth:
    """Health figures of a network at one moment.

    Attributes
    ----------
    weight_norms : dict of str to float
        L2 norm of all parameters (weights and bias) of each layer that has any, by
        :func:`layer_label`, in layer order.
    grad_norms : dict of str to float
        L2 norm of the same layers' gradients from the last training step.
    dead_relu : dict of str to float
        For each ReLU layer, the fraction (0..1) of its units that output zero for every probe
        image: for maps, a unit is a whole channel (a filter that never fires anywhere); for
        vectors, one neuron.
    """

    weight_norms: dict[str, float]
    grad_norms: dict[str, float]
    dead_relu: dict[str, float]


def layer_label(model: Sequential, index: int) -> str:
    """Name of layer ``index`` in health figures, e.g. ``"0 Conv2D"``."""
    return f"{index} {model.layers[index].kind}"


def layer_norms(model: Sequential, arrays: dict[str, np.ndarray]) -> dict[str, float]:
    """L2 norm per layer of named arrays (``"<layer>.<param>"``, as ``named_params`` gives them).

    Parameters
    ----------
    model : Sequential
        The network the names refer to (for the layer labels).
    arrays : dict of str to np.ndarray
        Parameters or gradients by name.

    Returns
    -------
    dict of str to float
        ``sqrt(sum of squares)`` over each layer's arrays, by :func:`layer_label`, in layer order.
    """
    squares: dict[int, float] = {}
    for name, value in arrays.items():
        index = int(name.split(".", 1)[0])
        flat = np.asarray(value, dtype=np.float64).ravel()
        squares[index] = squares.get(index, 0.0) + float(flat @ flat)
    return {layer_label(model, i): float(np.sqrt(squares[i])) for i in sorted(squares)}


def dead_relu_fractions(model: Sequential, probe_x: np.ndarray) -> dict[str, float]:
    """Fraction of dead units of every ReLU layer on a batch of probe images.

    Parameters
    ----------
    model : Sequential
    probe_x : np.ndarray
        float32 (N, *model.input_shape): the images to run (inference mode).

    Returns
    -------
    dict of str to float
        By :func:`layer_label` of each ReLU layer: the fraction of its units (channels of maps,
        neurons of vectors) whose output is zero for every probe image.
    """
    outputs = model.trace(probe_x)[1:]
    fractions = {}
    for index, (layer, y) in enumerate(zip(model.layers, outputs)):
        if layer.kind != "ReLU":
            continue
        per_unit = y.reshape(y.shape[0], y.shape[1], -1) if y.ndim == 4 else y[:, :, None]
        alive = (per_unit > 0).any(axis=(0, 2))
        fractions[layer_label(model, index)] = float(1.0 - alive.mean())
    return fractions


def measure_health(model: Sequential, grads: dict[str, np.ndarray],
                   probe_x: np.ndarray) -> NetworkHealth:
    """Weight norms, gradient norms and dead-ReLU fractions of ``model`` now.

    Parameters
    ----------
    model : Sequential
        The network (its current weights).
    grads : dict of str to np.ndarray
        The gradients of the last step by parameter name (``model.named_grads()``).
    probe_x : np.ndarray
        float32 (N, *model.input_shape): images for the dead-ReLU count. Running them replaces
        what the layers kept from their last forward pass, so call this between steps only.

    Returns
    -------
    NetworkHealth
    """
    return NetworkHealth(weight_norms=layer_norms(model, model.named_params()),
                         grad_norms=layer_norms(model, grads),
                         dead_relu=dead_relu_fractions(model, probe_x))
