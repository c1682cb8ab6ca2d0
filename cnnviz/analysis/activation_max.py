"""Activation maximisation: the input a unit, a feature map or a class responds to most.

Gradient ascent on the input from faint noise (Erhan et al., 2009), with the regularisers that
make the result readable (Yosinski et al., 2015; Olah et al., 2017): a decay of the pixels toward
0 (L2), a Gaussian blur every few steps, random jitter (shifts) before each gradient, and clipping
to the input range.  Steps follow the gradient divided by its root mean square, so ``lr`` is about
the change of a pixel per step whatever the scale of the target.

Several targets on one layer are optimised together as one batch (:func:`gallery`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from cnnviz.nn import Sequential

from .display import gaussian_blur
from .target import (Cancelled, Target, as_target, forward_backward, keep_going,
                     target_values)


@dataclass(frozen=True)
class AscentSettings:
    """Settings of the gradient ascent (see :func:`maximize`)."""

    steps: int = 200
    lr: float = 0.05
    l2: float = 0.02
    blur_every: int = 4
    blur_sigma: float = 0.8
    jitter: int = 2
    clip: tuple[float, float] | None = (0.0, 1.0)
    normalize: bool = True
    init_scale: float = 0.1
    seed: int = 0
    through_activation: bool = True

    def validate(self) -> None:
        if self.steps < 0 or self.lr <= 0 or self.l2 < 0 or self.jitter < 0:
            raise ValueError("steps, l2 and jitter must be >= 0 and lr > 0")
        if self.blur_every < 0 or self.blur_sigma < 0 or self.init_scale < 0:
            raise ValueError("blur_every, blur_sigma and init_scale must be >= 0")
        if self.clip is not None and not self.clip[0] < self.clip[1]:
            raise ValueError(f"clip must be (low, high) with low < high, not {self.clip!r}")


@dataclass(frozen=True)
class MaximizationResult:
    """Result of :func:`maximize` (one per target in :func:`gallery`).

    Attributes
    ----------
    image : ndarray, shape (C, H, W)
        The optimised input.
    history : ndarray, shape (steps + 1,)
        The target at each step's input (the jittered one when jitter is on), then at ``image``.
    target : Target
    """

    image: np.ndarray
    history: np.ndarray
    target: Target

    @property
    def value(self) -> float:
        """The target on the final image."""
        return float(self.history[-1])


def maximize(model: Sequential, target, steps: int = 200, lr: float = 0.05, l2: float = 0.02,
             blur_every: int = 4, blur_sigma: float = 0.8, jitter: int = 2, seed: int = 0,
             clip=(0.0, 1.0), normalize: bool = True, init=None, init_scale: float = 0.1,
             through_activation: bool = True, progress=None) -> MaximizationResult:
    """Gradient ascent on the input to maximise one target.

    Parameters
    ----------
    model : Sequential
    target : Target or int
        A unit, a feature map (its sum) or a class (an int: its logit).
    steps : int
    lr : float
        Step size (per pixel, roughly, with ``normalize``).
    l2 : float
        Each step multiplies the image by ``1 - l2`` (pulls pixels toward 0, the background of
        white-on-black digits).  0 turns it off.
    blur_every, blur_sigma : int, float
        Blur the image with a Gaussian of ``blur_sigma`` pixels every ``blur_every`` steps
        (0 for either turns it off).
    jitter : int
        Shift the image by up to ``jitter`` pixels (random, both axes, wrapping around) before
        each gradient and shift the gradient back.  0 turns it off.
    seed : int
        Seed of the starting noise and the jitter.
    clip : (float, float) or None
        Keep pixels in this range after every step.
    normalize : bool
        Divide each gradient by its root mean square (plain gradient steps when False).
    init : ndarray, shape (C, H, W), optional
        Starting image; by default uniform noise in ``[0, init_scale)``.
    through_activation : bool
        For a target on a ReLU (or another increasing activation), follow the gradient of the
        activation's input: a ReLU that is off at the start would give no gradient at all.
    progress : callable, optional
        ``progress(step, steps)`` after each step; returning False raises
        :class:`~cnnviz.analysis.target.Cancelled` whose ``partial`` is the result so far.

    Returns
    -------
    MaximizationResult
    """
    settings = AscentSettings(steps, lr, l2, blur_every, blur_sigma, jitter,
                              None if clip is None else tuple(clip), normalize, init_scale, seed,
                              through_activation)
    return ascend(model, [as_target(target)], settings, init, progress)[0]


def gallery(model: Sequential, layer: int, channels=None, objective: str = "centre",
            progress=None, **kwargs) -> list[MaximizationResult]:
    """Maximise several filters of one layer: its feature maps, or its units for a flat output.

    Parameters
    ----------
    layer : int
    channels : sequence of int, optional
        Feature maps (or units) to show; all of them by default.
    objective : {"centre", "channel"}
        For feature maps: maximise the unit at the centre of each map (a pattern inside its
        receptive field; see :func:`field_crop`) or the sum of the whole map (a texture over the
        whole image; uniform for a first convolution).  Ignored for flat outputs.
    progress : callable, optional
        ``progress(step, steps)``; see :func:`maximize`.
    **kwargs
        The settings of :func:`maximize` (``steps``, ``lr``, ``l2``, ...), shared by all
        images; every image starts from the same noise, so it equals ``maximize`` of its target.

    Returns
    -------
    list of MaximizationResult
        One per requested channel, in order.
    """
    targets = filter_targets(model, layer, channels, objective)
    init = kwargs.pop("init", None)
    if kwargs.get("clip") is not None:
        kwargs["clip"] = tuple(kwargs["clip"])
    settings = replace(AscentSettings(), **kwargs)
    return ascend(model, targets, settings, init, progress)


def filter_targets(model: Sequential, layer: int, channels=None, objective: str = "centre"
                   ) -> list[Target]:
    """The targets :func:`gallery` maximises for ``channels`` of ``layer``."""
    n = len(model.layers)
    if not -n <= layer < n:
        raise IndexError(f"layer {layer} out of range for a network of {n} layers")
    if objective not in ("centre", "channel"):
        raise ValueError(f"objective must be 'centre' or 'channel', not {objective!r}")
    shape = model.layers[layer].output_shape
    channels = range(shape[0]) if channels is None else [int(c) for c in channels]
    if len(shape) != 3:
        return [Target(layer, index=(c,) + (0,) * (len(shape) - 1)) for c in channels]
    if objective == "channel":
        return [Target(layer, channel=c) for c in channels]
    return [Target(layer, index=(c, shape[1] // 2, shape[2] // 2)) for c in channels]


def field_crop(model: Sequential, result: MaximizationResult) -> np.ndarray:
    """The part of ``result.image`` (C, H, W) inside the receptive field of its target unit
    (the whole image for feature-map sums and units after a dense layer)."""
    target = result.target
    if target.index is None or len(target.index) != 3:
        return result.image
    field = model.receptive_field(target.layer, target.index[1], target.index[2])
    box = field.clipped
    return result.image[:, box.top:box.bottom + 1, box.left:box.right + 1]


def ascend(model: Sequential, targets: list[Target], settings: AscentSettings, init=None,
           progress=None) -> list[MaximizationResult]:
    """Gradient ascent of a batch: image ``i`` maximises ``targets[i]`` (all on one layer)."""
    settings.validate()
    rng = np.random.default_rng(settings.seed)
    x = np.repeat(_start(model, rng, settings, init)[None], len(targets), axis=0)
    history = np.zeros((settings.steps + 1, len(targets)), dtype=np.float64)
    for step in range(settings.steps):
        history[step], gradient = _gradient(model, x, targets, settings, rng)
        x = _step(x, gradient, settings, step)
        if not keep_going(progress, step + 1, settings.steps):
            partial = _results(model, x, targets, history[:step + 2], step + 1)
            raise Cancelled(partial[0] if len(partial) == 1 else partial)
    return _results(model, x, targets, history, settings.steps)


def _start(model: Sequential, rng, settings: AscentSettings, init) -> np.ndarray:
    """The starting image (C, H, W) in the network's dtype."""
    dtype = model.dtype
    if init is not None:
        init = np.asarray(init, dtype=dtype)
        if init.shape != model.input_shape:
            raise ValueError(f"init has shape {init.shape}, expected {model.input_shape}")
        return init.copy()
    return (settings.init_scale * rng.random(model.input_shape)).astype(dtype)


def _gradient(model, x, targets, settings: AscentSettings, rng):
    """Target values and input gradients of ``x`` (K, C, H, W), jittered if asked."""
    through = settings.through_activation
    if not settings.jitter or x.ndim != 4:
        values, _, gradient = forward_backward(model, x, targets, through_activation=through)
        return values, gradient
    dy, dx = rng.integers(-settings.jitter, settings.jitter + 1, size=2)
    values, _, gradient = forward_backward(model, np.roll(x, (dy, dx), axis=(2, 3)), targets,
                                           through_activation=through)
    return values, np.roll(gradient, (-dy, -dx), axis=(2, 3))


def _step(x: np.ndarray, gradient: np.ndarray, settings: AscentSettings, step: int) -> np.ndarray:
    """One regularised ascent step on the batch ``x``; returns the new images."""
    if settings.normalize:
        axes = tuple(range(1, x.ndim))
        rms = np.sqrt(np.mean(np.square(gradient, dtype=np.float64), axis=axes, keepdims=True))
        gradient = gradient / np.maximum(rms, 1e-12).astype(x.dtype)
    x = x + np.asarray(settings.lr, dtype=x.dtype) * gradient
    if settings.l2:
        x *= np.asarray(1.0 - settings.l2, dtype=x.dtype)
    if settings.blur_every and settings.blur_sigma and (step + 1) % settings.blur_every == 0 \
            and x.ndim == 4:
        x = gaussian_blur(x, settings.blur_sigma)
    if settings.clip is not None:
        np.clip(x, settings.clip[0], settings.clip[1], out=x)
    return x


def _results(model, x, targets, history, steps_done) -> list[MaximizationResult]:
    history = history.copy()
    history[steps_done] = target_values(model, x, targets)
    return [MaximizationResult(np.array(x[i]), history[:, i].copy(), targets[i])
            for i in range(len(targets))]
