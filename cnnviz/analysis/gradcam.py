"""Grad-CAM (Selvaraju et al., 2017): where in a feature-map layer the evidence for a class lies.

For the feature maps ``A_k`` (h, w) of a layer and a target score ``y``::

    alpha_k = mean over (i, j) of d y / d A_k[i, j]
    cam     = ReLU(sum_k alpha_k A_k)

The map is then brought onto the input's pixels by bilinear interpolation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cnnviz.nn import Sequential

from .display import place_bilinear, resize_bilinear
from .target import Target, as_target, forward_backward, resolve


@dataclass(frozen=True)
class GradCamResult:
    """Result of :func:`grad_cam`.

    Attributes
    ----------
    heatmap : ndarray, shape (H, W), float32
        The map on the input's pixels, scaled to [0, 1] (all zeros when the map is).
    raw : ndarray, shape (h, w)
        ``ReLU(sum_k alpha_k A_k)`` at the layer's resolution, unscaled.
    weights : ndarray, shape (K,)
        The channel weights ``alpha_k``.
    activations : ndarray, shape (K, h, w)
        The layer's feature maps ``A_k``.
    layer : int
        The (non-negative) layer index.
    target : Target
    value : float
        The target score.
    """

    heatmap: np.ndarray
    raw: np.ndarray
    weights: np.ndarray
    activations: np.ndarray
    layer: int
    target: Target
    value: float


def grad_cam(model: Sequential, x, layer: int, target=None, align: str = "field") -> GradCamResult:
    """Grad-CAM of one image at a layer with feature-map output.

    Parameters
    ----------
    model : Sequential
    x : ndarray, shape (C, H, W)
    layer : int
        A layer whose output is (K, h, w): a convolution, or an activation or pooling after one.
    target : int, Target or None
        An int is a class (its logit, as in the paper); None is the predicted class.  The
        target must sit at ``layer`` or after it.
    align : {"field", "stretch"}
        ``"field"`` puts each unit at the centre of its receptive field in the input (exact for
        any padding or valid convolution); ``"stretch"`` stretches the map over the image, as
        ``torch.nn.functional.interpolate(mode="bilinear", align_corners=False)``.

    Returns
    -------
    GradCamResult

    Raises
    ------
    ValueError
        If ``layer``'s output is not a stack of feature maps (e.g. Flatten or Dense), or the
        target sits before ``layer``.
    """
    batch, single = model.as_batch(x)
    if not single:
        raise ValueError("grad_cam takes one image (C, H, W)")
    index = _feature_layer(model, layer)
    if target is None:
        target = int(model.forward(batch)[0].argmax())
    target = as_target(target)
    if resolve(model, target)[0] < index:
        raise ValueError(f"the target sits on layer {resolve(model, target)[0]}, before the "
                         f"Grad-CAM layer {index}")
    values, acts, grads = forward_backward(model, batch, target, grad_at=index + 1)
    weights = grads[0].mean(axis=(1, 2))
    raw = np.maximum(np.tensordot(weights, acts[0], axes=1), 0)
    up = _to_input(model, index, raw, align)
    peak = up.max()
    heatmap = up / peak if peak > 0 else np.zeros_like(up)
    return GradCamResult(heatmap.astype(np.float32), raw, weights, np.array(acts[0]), index,
                         target, float(values[0]))


def _feature_layer(model: Sequential, layer: int) -> int:
    """The non-negative index of ``layer``, checked to output feature maps (K, h, w)."""
    n = len(model.layers)
    if not -n <= layer < n:
        raise IndexError(f"layer {layer} out of range for a network of {n} layers")
    index = layer % n
    shape = model.layers[index].output_shape
    if len(shape) != 3 or model.receptive_field_of(index).global_:
        kind = model.layers[index].kind
        raise ValueError(f"Grad-CAM needs a layer with feature maps (channels, height, width); "
                         f"layer {index} ({kind}) outputs {shape}")
    return index


def _to_input(model: Sequential, index: int, raw: np.ndarray, align: str) -> np.ndarray:
    """``raw`` (h, w) interpolated onto the input's (H, W) pixels."""
    shape = model.input_shape[1:]
    if align == "stretch":
        return resize_bilinear(raw, shape)
    if align != "field":
        raise ValueError(f"align must be 'field' or 'stretch', not {align!r}")
    field = model.receptive_field_of(index)
    centre = field.centre_offset
    rows = centre[0] + field.jump[0] * np.arange(raw.shape[0])
    cols = centre[1] + field.jump[1] * np.arange(raw.shape[1])
    return place_bilinear(raw, rows, cols, shape)
