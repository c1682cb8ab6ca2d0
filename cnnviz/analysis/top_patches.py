"""The test images that excite a unit most, each cut to the unit's receptive field.

Zeiler & Fergus (2014) and Yosinski et al. (2015) show, beside what a unit is optimised to see,
the image patches of a data set that drive it hardest.  :func:`top_patches` runs a network up to
one layer over a set of images in batches and keeps, for every channel of that layer, the ``k``
images where the channel peaks:

- for a feature map, each image counts once, with the largest value of the channel over all its
  positions; the patch is that position's receptive field (:meth:`Sequential.receptive_field`,
  padding included, so the window of a unit at the border reaches out of the image, where the
  crop is filled with ``fill``);
- for a flat output (a dense unit), the unit's value; the patch is the whole image.

Ties are broken by the image's index (the earlier image first) and, inside a map, by the
earlier position in row-major order, so the result does not depend on the batch size.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cnnviz.nn import Sequential
from cnnviz.nn.model import Rect

from .target import Cancelled, keep_going

#: Images per forward pass.
BATCH_SIZE = 128


@dataclass(frozen=True)
class TopPatch:
    """One of a unit's strongest images.

    Attributes
    ----------
    image : int
        Index of the image in the set.
    value : float
        The unit's activation there (for a feature map, its maximum over positions).
    position : (int, int) or None
        Row and column of that maximum in the feature map (None for a flat output).
    rect : Rect
        The input window of the unit at ``position`` (the whole image for a flat output); may
        stick out of the image.
    crop : ndarray, shape (C, rect.height, rect.width)
        The picture inside ``rect``, ``fill`` where ``rect`` leaves the image.
    """

    image: int
    value: float
    position: tuple[int, int] | None
    rect: Rect
    crop: np.ndarray


def spread(total: int, count: int) -> np.ndarray:
    """``count`` indices spread evenly over ``0 .. total - 1`` (all of them when ``count >=
    total``): a test set read from class folders comes class after class, and its first images
    would all be of one class."""
    if count >= total:
        return np.arange(total)
    return np.linspace(0, total - 1, max(count, 0)).round().astype(np.int64)


def window_crop(picture: np.ndarray, rect: Rect, fill=0.0) -> np.ndarray:
    """The part of ``picture`` (C, H, W) inside the inclusive ``rect``, padded with ``fill`` (a
    number, or one per channel) where the rectangle leaves the picture.

    Returns
    -------
    ndarray, shape (C, rect.height, rect.width), the picture's dtype
    """
    c, h, w = picture.shape
    out = np.empty((c, rect.height, rect.width), dtype=picture.dtype)
    out[...] = np.asarray(fill, dtype=picture.dtype).reshape(-1, 1, 1) \
        if np.ndim(fill) else fill
    inside = rect.clipped(h, w)
    if inside.top <= inside.bottom and inside.left <= inside.right:
        out[:, inside.top - rect.top:inside.bottom - rect.top + 1,
            inside.left - rect.left:inside.right - rect.left + 1] = \
            picture[:, inside.top:inside.bottom + 1, inside.left:inside.right + 1]
    return out


def layer_output(model: Sequential, x: np.ndarray, layer: int) -> np.ndarray:
    """Layer ``layer``'s output (inference mode) for the batch ``x`` (N, *input_shape): the
    network run up to that layer only."""
    out = model._check_input(np.asarray(x, dtype=model.dtype))
    for lay in model.layers[:layer + 1]:
        out = lay.forward(out, False)
    return out


def unit_peaks(output: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """Per image and channel, the largest value of a layer's ``output`` and where it is.

    Parameters
    ----------
    output : ndarray, (N, C, H, W) or (N, C)

    Returns
    -------
    values : ndarray (N, C)
    positions : ndarray (N, C, 2) of (row, col), or None for a flat output
        The first maximum in row-major order.
    """
    if output.ndim == 2:
        return output, None
    n, c, h, w = output.shape
    flat = output.reshape(n, c, h * w)
    where = flat.argmax(axis=2)
    values = np.take_along_axis(flat, where[..., None], axis=2)[..., 0]
    return values, np.stack(np.divmod(where, w), axis=-1)


def top_patches(model: Sequential, inputs: np.ndarray, pictures: np.ndarray, layer: int,
                channels=None, k: int = 9, fill=0.0, batch_size: int = BATCH_SIZE,
                progress=None) -> list[list[TopPatch]]:
    """The ``k`` images of a set that excite each channel of ``layer`` most, as patches.

    Parameters
    ----------
    model : Sequential
        A network no other thread uses (its layers' caches are overwritten).
    inputs : ndarray (N, *model.input_shape), or callable
        The network's inputs (normalised as its input contract says), or a function making a
        batch of them from a batch of ``pictures`` (so that a large set is converted a batch at
        a time).
    pictures : ndarray, (N, C, H, W)
        The same images as they are to be shown (e.g. floats in [0, 1], or uint8): the crops are
        cut from these.
    layer : int
    channels : sequence of int, optional
        The channels (units) wanted; all of the layer's by default.
    k : int
        Patches per channel (fewer when the set is smaller).
    fill : float or sequence of float
        Value of a crop outside the picture (per channel if a sequence).
    batch_size : int
    progress : callable, optional
        ``progress(done, total)`` in images after each batch; returning False raises
        :class:`~cnnviz.analysis.target.Cancelled` (with ``partial`` None).

    Returns
    -------
    list of list of TopPatch
        One list per requested channel, strongest first.
    """
    n_layers = len(model.layers)
    if not -n_layers <= layer < n_layers:
        raise IndexError(f"layer {layer} out of range for a network of {n_layers} layers")
    layer %= n_layers
    n = len(pictures)
    if not callable(inputs) and len(inputs) != n:
        raise ValueError(f"{len(inputs)} inputs but {n} pictures")
    if pictures.ndim != 4 or tuple(pictures.shape[2:]) != tuple(model.input_shape[1:]):
        raise ValueError(f"pictures must be (N, C, {model.input_shape[1]}, "
                         f"{model.input_shape[2]}), not {pictures.shape}")
    if k < 1 or batch_size < 1:
        raise ValueError("k and batch_size must be at least 1")
    shape = model.layers[layer].output_shape
    channels = np.arange(shape[0]) if channels is None else np.asarray(channels, dtype=np.int64)
    if channels.size and (channels.min() < 0 or channels.max() >= shape[0]):
        raise IndexError(f"channels must be from 0 to {shape[0] - 1}")
    spatial = len(shape) == 3

    # The best k so far per channel: values, image indices and positions, sorted.
    best_v = np.full((len(channels), 0), -np.inf)
    best_i = np.zeros((len(channels), 0), dtype=np.int64)
    best_p = np.zeros((len(channels), 0, 2), dtype=np.int64)
    for start in range(0, n, batch_size):
        stop = min(start + batch_size, n)
        batch = inputs(pictures[start:stop]) if callable(inputs) else inputs[start:stop]
        values, positions = unit_peaks(layer_output(model, batch, layer))
        values = values[:, channels].T.astype(np.float64)  # (K, B)
        index = np.broadcast_to(np.arange(start, stop), values.shape)
        pos = (positions[:, channels].transpose(1, 0, 2) if spatial
               else np.zeros(values.shape + (2,), dtype=np.int64))
        all_v = np.concatenate([best_v, values], axis=1)
        all_i = np.concatenate([best_i, index], axis=1)
        all_p = np.concatenate([best_p, pos], axis=1)
        # Largest value first; equal values: the smaller image index first.
        order = np.lexsort((all_i, -all_v), axis=1)[:, :k]
        best_v = np.take_along_axis(all_v, order, axis=1)
        best_i = np.take_along_axis(all_i, order, axis=1)
        best_p = np.take_along_axis(all_p, order[..., None], axis=1)
        if not keep_going(progress, stop, n):
            raise Cancelled(None)

    c, h, w = pictures.shape[1:]
    whole = Rect(0, 0, h - 1, w - 1)
    result = []
    for row in range(len(channels)):
        patches = []
        for value, image, (y, x) in zip(best_v[row], best_i[row], best_p[row]):
            if spatial and not model.receptive_field_of(layer).global_:
                rect, position = model.receptive_field(layer, int(y), int(x)).rect, (int(y), int(x))
            else:
                rect, position = whole, ((int(y), int(x)) if spatial else None)
            patches.append(TopPatch(int(image), float(value), position, rect,
                                    window_crop(pictures[image], rect, fill)))
        result.append(patches)
    return result
