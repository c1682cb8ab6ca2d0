"""The maps the Analysis panel offers and how each is computed and described (no Qt here).

:func:`explain` turns a :class:`~cnnviz.session.Trace` and :class:`AnalysisSettings` into an
:class:`Explanation` by calling :mod:`cnnviz.analysis`; :func:`describe` says in words what the
map means.  Both run in the GUI thread or in a worker, on a network copy of their own.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cnnviz.analysis import (Target, grad_cam, gradient_x_input, normalize, occlusion_map,
                             saliency_map, smooth_grad, vanilla_gradient)
from cnnviz.analysis.target import INCREASING_ACTIVATIONS
from cnnviz.nn import Sequential
from cnnviz.session import Trace

#: Method key -> (menu title, computed in the worker thread).
METHODS = {
    "gradient": ("Gradient (saliency)", False),
    "gradient_x_input": ("Gradient \u00d7 input", False),
    "smooth_grad": ("SmoothGrad", True),
    "occlusion": ("Occlusion", True),
    "grad_cam": ("Grad-CAM", False),
}

#: Occlusion fill key -> (title, value for :func:`occlusion_map`).
FILLS = {"black": ("black (0)", 0.0), "mean": ("image mean", "mean"),
         "grey": ("grey (0.5)", 0.5), "white": ("white (1)", 1.0)}

MEANINGS = {
    "gradient": (
        "Bright pixels: where a small change of the input would change the class {k} score "
        "most. This is sensitivity, not evidence: a bright pixel can be background where ink "
        "would matter."),
    "gradient_x_input": (
        "Each pixel's gradient times its value: roughly what that pixel's ink adds to the "
        "class {k} score. Red: this ink raises the score; blue: it lowers it; black "
        "background adds nothing."),
    "smooth_grad": (
        "The gradient averaged over {n} noisy copies of the input (noise {noise:g}): the "
        "same sensitivity as the plain gradient, with its pixel-to-pixel speckle averaged "
        "away."),
    "occlusion": (
        "Each pixel: how much the class {k} {measure} drops when a {patch}\u00d7{patch} "
        "{fill} patch hides it (averaged over the patches covering it). Red: the network "
        "needs this part; blue: hiding it raises the score."),
    "grad_cam": (
        "Where the feature maps of layer {layer} that raise the class {k} score are active "
        "(each map weighted by its average gradient, positive part only), brought back to "
        "the input's pixels: one value per unit of that layer, so it is coarse."),
}


@dataclass(frozen=True)
class AnalysisSettings:
    """What to compute: the method, its class and its parameters (see :func:`explain`)."""

    method: str = "gradient"
    target_class: int | None = None
    samples: int = 25
    noise: float = 0.15
    patch: int = 4
    stride: int = 2
    fill: str = "black"
    measure: str = "logit"
    layer: int = -1


@dataclass(frozen=True)
class Explanation:
    """One computed map.

    Attributes
    ----------
    settings : AnalysisSettings
    target_class : int
        The class explained (the predicted one when ``settings.target_class`` is None).
    values : ndarray, shape (H, W)
        The map as the method defines it (e.g. ``saliency_map(vanilla_gradient(...))``,
        ``OcclusionResult.pixel_map``, ``GradCamResult.heatmap``).
    display : ndarray, shape (H, W)
        ``values`` scaled into [0, 1], or [-1, 1] when ``signed``.
    signed : bool
    facts : str
        Numbers worth knowing (base score, largest drop...).
    empty : bool
        The map is zero everywhere (Grad-CAM on some layers).
    version : int
        Version of the trace explained.
    """

    settings: AnalysisSettings
    target_class: int
    values: np.ndarray
    display: np.ndarray
    signed: bool
    facts: str
    empty: bool
    version: int


def feature_layers(model: Sequential) -> list[int]:
    """Layers whose output is a stack of feature maps with a spatial layout (for Grad-CAM)."""
    return [i for i, layer in enumerate(model.layers)
            if len(layer.output_shape) == 3 and not model.receptive_field_of(i).global_]


def default_cam_layer(model: Sequential) -> int:
    """The last convolution's output (after its activation when one follows), the usual
    Grad-CAM layer; else the last layer with feature maps."""
    layers = feature_layers(model)
    convs = [i for i in layers if model.layers[i].kind == "Conv2D"]
    if not convs:
        return layers[-1]
    after = convs[-1] + 1
    if after in layers and model.layers[after].kind in INCREASING_ACTIVATIONS:
        return after
    return convs[-1]


def network_fill(fill, contract):
    """An occlusion fill given as a picture's value (0 black, 1 white) as the network gets it:
    normalised per channel as the input ``contract`` says (``"mean"`` stays: the image's mean
    is the same either way)."""
    if isinstance(fill, str) or contract is None or not contract.normalised:
        return fill
    return tuple((fill - m) / s for m, s in zip(contract.mean, contract.std))


def explain(model: Sequential, trace: Trace, settings: AnalysisSettings,
            progress=None) -> Explanation:
    """Compute the map ``settings`` asks for on ``trace.network_input``.

    ``model`` must be a copy no other thread uses; ``progress(done, total)`` returning False
    cancels SmoothGrad and occlusion (:class:`~cnnviz.analysis.Cancelled`).
    """
    x = trace.network_input
    k = trace.top_class if settings.target_class is None else settings.target_class
    method, facts, empty, signed = settings.method, "", False, False
    if method == "gradient":
        values = saliency_map(vanilla_gradient(model, x, k))
        display = normalize(values, percentile=99)
    elif method == "gradient_x_input":
        values = saliency_map(gradient_x_input(model, x, k), "sum")
        display, signed = normalize(values, signed=True, percentile=99), True
        facts = f"Sum over the pixels: {values.sum():+.3g} (the class {k} logit: " \
                f"{float(trace.outputs[-1][k]):+.3g})."
    elif method == "smooth_grad":
        values = saliency_map(smooth_grad(model, x, k, n=settings.samples, noise=settings.noise,
                                          progress=progress))
        display = normalize(values, percentile=99)
    elif method == "occlusion":
        target = Target.for_class(k, probability=settings.measure == "probability")
        result = occlusion_map(model, x, target, settings.patch, settings.stride,
                               network_fill(FILLS[settings.fill][1], trace.contract),
                               progress=progress)
        values, display, signed = result.pixel_map, normalize(result.pixel_map, signed=True), True
        facts = (f"Whole image: {settings.measure} {result.base_value:.3g}; the most harmful "
                 f"patch lowers it by {result.drop.max():.3g}, the most helpful raises it by "
                 f"{max(-result.drop.min(), 0):.3g}.")
    elif method == "grad_cam":
        result = grad_cam(model, x, settings.layer, Target.for_class(k))
        values = display = result.heatmap
        empty = not result.raw.max() > 0
        h, w = result.raw.shape
        facts = f"Layer {result.layer} gives a {h}\u00d7{w} map."
    else:
        raise ValueError(f"unknown analysis method {method!r}")
    return Explanation(settings, k, values, display, signed, facts, empty, trace.version)


def describe(explanation: Explanation, probability: float) -> str:
    """What the map means, in words (HTML), for a class of the given ``probability``."""
    settings, k = explanation.settings, explanation.target_class
    who = "predicted " if settings.target_class is None else ""
    head = f"<b>{METHODS[settings.method][0]}</b>, {who}class {k} (probability {probability:.1%}). "
    if explanation.empty:
        return head + (
            f"Grad-CAM is zero everywhere on layer {settings.layer} for class {k}: no feature "
            f"map there is both active and pushing this class's score up, so this layer shows "
            f"no evidence for it. Try the predicted class or a later layer.")
    meaning = MEANINGS[settings.method].format(
        k=k, n=settings.samples, noise=settings.noise, measure=settings.measure,
        patch=settings.patch, fill=FILLS[settings.fill][0].split(" (")[0], layer=settings.layer)
    return f"{head}{meaning} {explanation.facts}".strip()
