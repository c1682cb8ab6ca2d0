"""Activation maximisation: the input a unit, a feature map or a class responds to most.

Gradient ascent on the input from faint noise (Erhan et al., 2009), with the regularisers that
make the result readable (Yosinski et al., 2015; Olah et al., 2017): a decay of the pixels toward
0 (L2), a Gaussian blur every few steps, random jitter (shifts) before each gradient, a frequency
penalty (each gradient's spectrum weighed down as ``1 / f ** freq_decay``, which is gradient ascent
in a scaled Fourier basis: the high frequencies that make plain ascent's images look like noise
barely move), and clipping to the input range.  Steps follow the gradient divided by its root
mean square, so ``lr`` is about the change of a pixel per step whatever the scale of the target.

For a network whose input contract normalises its input, 0 is the data's mean colour and the
input range is ``(0 - mean) / std .. (1 - mean) / std`` per channel (:func:`input_range`): the
images are then pictures in [0, 1] seen through the contract (:func:`to_picture`).

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
    clip: tuple | None = (0.0, 1.0)
    normalize: bool = True
    init_scale: float = 0.1
    seed: int = 0
    through_activation: bool = True
    freq_decay: float = 0.0
    field_only: bool = True

    def validate(self) -> None:
        if self.steps < 0 or self.lr <= 0 or self.l2 < 0 or self.jitter < 0:
            raise ValueError("steps, l2 and jitter must be >= 0 and lr > 0")
        if self.blur_every < 0 or self.blur_sigma < 0 or self.init_scale < 0:
            raise ValueError("blur_every, blur_sigma and init_scale must be >= 0")
        if not 0 <= self.freq_decay <= 4:
            raise ValueError(f"freq_decay must be from 0 to 4, not {self.freq_decay!r}")
        if self.clip is not None and not np.all(np.asarray(self.clip[0], dtype=float)
                                                < np.asarray(self.clip[1], dtype=float)):
            raise ValueError(f"clip must be (low, high) with low < high, not {self.clip!r}")


#: The regularisation of colour networks (three channels): a frequency penalty instead of the
#: blur, bigger steps, a weaker decay toward the data's mean colour, fewer steps.  On the shipped
#: vgg-small, 50 steps reach ~100 times the activation of random pictures with ~10% of the
#: energy above 0.25 cycles per pixel (plain ascent: ~75%, as noisy as noise); see
#: docs/user-guide.md, "Activation Maximisation".
COLOUR_SETTINGS = dict(steps=50, lr=0.1, l2=0.01, blur_every=0, jitter=2, freq_decay=1.5)


#: Receptive fields smaller than this (pixels, the larger side) are not regularised: their
#: best input is little more than the unit's weights, which jitter and a frequency penalty blur.
SMALL_FIELD = 8


def settings_for(model: Sequential, contract=None, layer: int | None = None) -> dict:
    """The ascent settings (keyword arguments of :func:`gallery`) for a network: the defaults of
    :class:`AscentSettings` for one channel, :data:`COLOUR_SETTINGS` for three (for ``layer``'s
    units: without jitter and frequency penalty when their field is under :data:`SMALL_FIELD`
    pixels); the clip range is the network's input range (:func:`input_range`) either way.
    Only the settings that differ from :class:`AscentSettings`' defaults are given."""
    options = dict(COLOUR_SETTINGS) if model.input_shape[0] == 3 else {}
    if options and layer is not None:
        field = model.receptive_field_of(layer)
        if not field.global_ and max(field.size) < SMALL_FIELD:
            options.update(jitter=0, freq_decay=0.0)
    options["clip"] = input_range(contract)
    defaults = AscentSettings()
    return {k: v for k, v in options.items() if getattr(defaults, k) != v}


def input_range(contract, channels: int = 1) -> tuple:
    """The network's input range for pictures in [0, 1]: ``(low, high)``, each a tuple with one
    value per channel when the input ``contract`` normalises (``(0 - mean) / std`` and
    ``(1 - mean) / std``), else ``(0.0, 1.0)``.  ``contract`` may be None (no normalisation)."""
    if contract is None or not contract.normalised:
        return (0.0, 1.0)
    return (tuple((0.0 - m) / s for m, s in zip(contract.mean, contract.std)),
            tuple((1.0 - m) / s for m, s in zip(contract.mean, contract.std)))


def to_picture(image: np.ndarray, contract) -> np.ndarray:
    """A network input (C, H, W) as the picture in [0, 1] it stands for (``x * std + mean``
    per channel when the ``contract`` normalises; not clipped)."""
    if contract is None or not contract.normalised:
        return np.asarray(image)
    std = np.asarray(contract.std, dtype=image.dtype)[:, None, None]
    mean = np.asarray(contract.mean, dtype=image.dtype)[:, None, None]
    return image * std + mean


def frequency_weights(height: int, width: int, decay: float) -> np.ndarray:
    """Weights ``(height, width // 2 + 1)`` of an rfft2 spectrum: ``(f / f_min) ** -decay`` with
    ``f`` the spatial frequency in cycles per pixel, ``f_min`` the lowest non-zero one (also
    used for the constant term): 1 at the coarsest scale, smaller and smaller up to the finest."""
    fy = np.fft.fftfreq(height)[:, None]
    fx = np.fft.rfftfreq(width)[None, :]
    f_min = 1.0 / max(height, width)
    f = np.maximum(np.sqrt(fy ** 2 + fx ** 2), f_min)
    return (f / f_min) ** -decay


def frequency_filter(images: np.ndarray, decay: float) -> np.ndarray:
    """``images`` (..., H, W) with each spectrum weighed by :func:`frequency_weights`."""
    if not decay:
        return images
    h, w = images.shape[-2:]
    spectrum = np.fft.rfft2(images, axes=(-2, -1)) * frequency_weights(h, w, decay)
    return np.fft.irfft2(spectrum, s=(h, w), axes=(-2, -1)).astype(images.dtype, copy=False)


def high_frequency_share(images: np.ndarray, cutoff: float = 0.25) -> float:
    """Smoothness figure: the share of the energy (variance) of ``images`` (..., H, W) in spatial
    frequencies above ``cutoff`` cycles per pixel (0.5 is the finest), each image's mean taken
    out first.  White noise puts about 80% of its energy above 0.25; natural pictures a few %."""
    images = np.asarray(images, dtype=np.float64)
    images = images - images.mean(axis=(-2, -1), keepdims=True)
    h, w = images.shape[-2:]
    power = np.abs(np.fft.fft2(images, axes=(-2, -1))) ** 2
    fy = np.fft.fftfreq(h)[:, None]
    fx = np.fft.fftfreq(w)[None, :]
    high = np.sqrt(fy ** 2 + fx ** 2) > cutoff
    total = power.sum()
    return float(power[..., high].sum() / total) if total > 0 else 0.0


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
             through_activation: bool = True, freq_decay: float = 0.0,
             progress=None) -> MaximizationResult:
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
    clip : (low, high) or None
        Keep pixels in this range after every step; ``low`` and ``high`` are numbers or one
        number per channel (:func:`input_range` gives a network's).
    normalize : bool
        Divide each gradient by its root mean square (plain gradient steps when False).
    init : ndarray, shape (C, H, W), optional
        Starting image; by default uniform noise in ``[0, init_scale)``.
    through_activation : bool
        For a target on a ReLU (or another increasing activation), follow the gradient of the
        activation's input: a ReLU that is off at the start would give no gradient at all.
    freq_decay : float
        Frequency penalty: weigh each gradient's spectrum by ``(f / f_min) ** -freq_decay``
        (:func:`frequency_weights`) before the step.  0 turns it off; 1 to 2 gives smooth
        pictures.
    progress : callable, optional
        ``progress(step, steps)`` after each step; returning False raises
        :class:`~cnnviz.analysis.target.Cancelled` whose ``partial`` is the result so far.

    Returns
    -------
    MaximizationResult
    """
    settings = AscentSettings(steps, lr, l2, blur_every, blur_sigma, jitter,
                              _bounds(clip), normalize, init_scale, seed,
                              through_activation, freq_decay)
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
        kwargs["clip"] = _bounds(kwargs["clip"])
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
    """Gradient ascent of a batch: image ``i`` maximises ``targets[i]`` (all on one layer).

    With ``settings.field_only``, targets that are all the same unit position of a feature map
    are optimised on the window of the input that unit can see (:func:`field_network`), which
    is exact and several times faster; the rest of each image keeps its starting pixels."""
    settings.validate()
    rng = np.random.default_rng(settings.seed)
    full = np.repeat(_start(model, rng, settings, init)[None], len(targets), axis=0)
    field = field_network(model, targets) if settings.field_only else None
    net, goals, window = (model, targets, None) if field is None else field
    x = full if window is None else np.ascontiguousarray(full[(slice(None),) + window])

    def whole(images):
        if window is None:
            return images
        out = full.copy()
        out[(slice(None),) + window] = images
        return out

    history = np.zeros((settings.steps + 1, len(targets)), dtype=np.float64)
    for step in range(settings.steps):
        history[step], gradient = _gradient(net, x, goals, settings, rng)
        x = _step(x, gradient, settings, step)
        if not keep_going(progress, step + 1, settings.steps):
            partial = _results(model, whole(x), targets, history[:step + 2], step + 1)
            raise Cancelled(partial[0] if len(partial) == 1 else partial)
    return _results(model, whole(x), targets, history, settings.steps)


def field_network(model: Sequential, targets: list[Target]):
    """A smaller network that computes the targets' unit from the input window it sees.

    For targets that are all one position ``(y, x)`` of one layer's feature maps: the layers up
    to that one, built for a window of the input that holds the unit's receptive field and
    starts at a multiple of the layer's jump (so that every stride and pool lines up), with the
    same weights.  It is checked on random inputs (the unit's value on the window equals its
    value on the whole input) and None is returned when it does not hold, or when the window
    would not be smaller than the input.

    Returns
    -------
    (network, targets, window) or None
        ``targets`` re-indexed for the smaller network; ``window`` the ``(channels, rows,
        cols)`` slices of an input (C, H, W) that the smaller network takes.
    """
    from .target import resolve  # noqa: PLC0415 (a helper of this module only)

    if not targets or any(t.index is None or len(t.index) != 3 for t in targets):
        return None
    positions = {t.index[1:] for t in targets}
    if len(positions) != 1 or len({t.layer for t in targets}) != 1:
        return None
    layer, _ = resolve(model, targets[0])
    (y, x), = positions
    c, h, w = model.input_shape
    if model.receptive_field_of(layer).global_:
        return None
    jump = model.receptive_field_of(layer).jump
    rect = model.receptive_field(layer, y, x).rect
    top = max(rect.top, 0) // jump[0] * jump[0]
    left = max(rect.left, 0) // jump[1] * jump[1]
    bottom = min(rect.bottom + 1 + jump[0], h)
    right = min(rect.right + 1 + jump[1], w)
    if (bottom - top) * (right - left) >= 0.8 * h * w:
        return None
    config = model.config()
    config["layers"] = config["layers"][:layer + 1]
    config["input_shape"] = [c, bottom - top, right - left]
    try:
        small = Sequential.from_config(config)
    except Exception:  # noqa: BLE001 (a shape this layer stack refuses: use the whole input)
        return None
    small.set_weights({k: v for k, v in model.get_weights().items()
                       if int(k.split(".", 1)[0]) <= layer})
    small = small.astype(model.dtype)
    shape = small.layers[layer].output_shape
    unit_y, unit_x = y - top // jump[0], x - left // jump[1]
    if not (0 <= unit_y < shape[1] and 0 <= unit_x < shape[2]):
        return None
    window = (slice(None), slice(top, bottom), slice(left, right))
    probe = np.random.default_rng(0).standard_normal((2,) + model.input_shape).astype(model.dtype)
    want = _run(model, probe, layer)[:, :, y, x]
    got = _run(small, np.ascontiguousarray(probe[(slice(None),) + window]), layer)
    if not np.allclose(got[:, :, unit_y, unit_x], want, rtol=1e-4, atol=1e-5):
        return None
    goals = [Target(t.layer % len(model.layers) if t.layer < 0 else t.layer,
                    index=(t.index[0], unit_y, unit_x)) for t in targets]
    return small, goals, window


def _run(model: Sequential, x: np.ndarray, layer: int) -> np.ndarray:
    out = x
    for lay in model.layers[:layer + 1]:
        out = lay.forward(out, False)
    return out


def _bounds(clip):
    """``clip`` as a hashable ``(low, high)``: numbers, or tuples of one per channel."""
    if clip is None:
        return None
    low, high = clip
    def one(v):
        return tuple(float(u) for u in v) if np.ndim(v) else float(v)
    return (one(low), one(high))


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
    if settings.freq_decay and x.ndim == 4:
        gradient = frequency_filter(gradient, settings.freq_decay)
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
        low, high = (np.asarray(v, dtype=x.dtype) for v in settings.clip)
        if low.ndim:  # one bound per channel
            shape = (-1,) + (1,) * (x.ndim - 2)
            low, high = low.reshape(shape), high.reshape(shape)
        np.clip(x, low, high, out=x)
    return x


def _results(model, x, targets, history, steps_done) -> list[MaximizationResult]:
    history = history.copy()
    history[steps_done] = target_values(model, x, targets)
    return [MaximizationResult(np.array(x[i]), history[:, i].copy(), targets[i])
            for i in range(len(targets))]
