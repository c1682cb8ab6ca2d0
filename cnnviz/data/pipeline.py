"""From a loaded image to a network's input, as the network's input contract says.

:func:`image_to_input` follows :class:`cnnviz.nn.contract.InputContract`:

- ``"digits"``: the MNIST-style steps of :mod:`cnnviz.data.preprocess` (find the ink, crop, fit
  the digit in 20/28 of the side, centre by mass), on the image as loaded (a photo's paper and
  light are removed first; a loaded image's alpha channel is the ink when the digit is drawn on
  a transparent background);
- ``"image"``: grey (BT.601 luma) for one channel, RGB for three (a grey image is repeated);
  resized, keeping the aspect ratio, so that it covers the frame (``fit="crop"``: the middle of
  the image with the frame's aspect ratio is resized to the frame, :func:`crop_box`) or fits
  inside it (``fit="pad"``, the rest is ``fill``, :func:`pad_geometry`); area averaging when
  shrinking, bilinear otherwise (Pillow, per channel in float); values in [0, 1];

and then ``(x - mean) / std`` per channel (:func:`normalise`, which training uses too on whole
batches: :func:`batch_to_input`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from cnnviz.nn.contract import InputContract

from .datasets import to_float_batch
from .images import LoadedImage, resize_float, to_grey
from .preprocess import DIGIT_BOX, DIGIT_SIZE, PreprocessInfo, preprocess_digit_info

__all__ = ["NetworkInput", "PipelineError", "batch_to_input", "crop_box", "pad_geometry",
           "image_to_input", "normalise"]


class PipelineError(ValueError):
    """The contract has no way of making its input from an image (pipeline ``"none"``)."""


@dataclass(frozen=True)
class NetworkInput:
    """What :func:`image_to_input` made.

    Attributes
    ----------
    x : np.ndarray
        float32 (C, H, W), the network's input.
    blank : bool
        The digits pipeline found no ink (``x`` is then the normalised empty image); always
        False for other pipelines.
    digit : PreprocessInfo or None
        What the digits pipeline did (None for other pipelines).
    """

    x: np.ndarray
    blank: bool = False
    digit: PreprocessInfo | None = None


def crop_box(height: int, width: int, out_h: int, out_w: int) -> tuple[float, float, float, float]:
    """The part of an ``height`` x ``width`` image that fills an ``out_h`` x ``out_w`` frame when
    the image is scaled to cover the frame and centre-cropped: ``(left, top, right, bottom)`` in
    image pixels (fractions allowed), the middle of the image with the frame's aspect ratio.

    Resizing this box straight to the frame does the same as resizing the whole image and
    cropping it, without ever making the large intermediate image (a 1 x 60,000 picture covering
    a 32 x 32 frame would be 32 x 1,920,000 pixels).
    """
    scale = max(out_h / height, out_w / width)
    box_h, box_w = out_h / scale, out_w / scale
    left, top = (width - box_w) / 2, (height - box_h) / 2
    return left, top, left + box_w, top + box_h


def pad_geometry(height: int, width: int, out_h: int, out_w: int) -> tuple[int, int, int, int]:
    """Where an ``height`` x ``width`` image goes when scaled to fit inside an ``out_h`` x
    ``out_w`` frame: ``(new_h, new_w, top, left)``, the resized size (aspect ratio kept, each side
    at least 1 and one side the frame's) and its offset in the frame (the middle; the odd pixel of
    padding goes to the bottom/right)."""
    scale = min(out_h / height, out_w / width)
    new_h = min(out_h, max(1, round(height * scale)))
    new_w = min(out_w, max(1, round(width * scale)))
    return new_h, new_w, (out_h - new_h) // 2, (out_w - new_w) // 2


def _planes(pixels: np.ndarray, channels: int) -> list[np.ndarray]:
    """The image as ``channels`` float planes: luma for 1, R, G, B for 3 (grey repeated)."""
    if channels == 1:
        return [to_grey(pixels)]
    if pixels.ndim == 3 and pixels.shape[2] == 3:
        return [pixels[..., c] for c in range(3)]
    grey = to_grey(pixels)
    return [grey, grey, grey]


def _resample(shrinking: bool) -> int:
    return Image.Resampling.BOX if shrinking else Image.Resampling.BILINEAR


def _image_planes(pixels: np.ndarray, contract: InputContract) -> np.ndarray:
    c, out_h, out_w = contract.shape
    height, width = pixels.shape[:2]
    out = np.empty((c, out_h, out_w), dtype=np.float32)
    if contract.fit == "crop":
        box = crop_box(height, width, out_h, out_w)
        resample = _resample(out_h <= box[3] - box[1] and out_w <= box[2] - box[0])
        for i, plane in enumerate(_planes(pixels, c)):
            pil = Image.fromarray(np.ascontiguousarray(plane, dtype=np.float32))  # mode "F"
            out[i] = np.asarray(pil.resize((out_w, out_h), resample, box=box), dtype=np.float32)
    else:
        new_h, new_w, top, left = pad_geometry(height, width, out_h, out_w)
        resample = _resample(new_h <= height and new_w <= width)
        for i, plane in enumerate(_planes(pixels, c)):
            out[i] = contract.fill
            out[i, top:top + new_h, left:left + new_w] = resize_float(plane, new_h, new_w, resample)
    return np.clip(out, 0.0, 1.0, out=out)


def image_to_input(image: LoadedImage | np.ndarray, contract: InputContract) -> NetworkInput:
    """The network input ``contract`` makes from ``image``.

    Parameters
    ----------
    image : LoadedImage or np.ndarray
        A loaded image (:func:`cnnviz.data.load_image`), or its pixels: (H, W) grey or (H, W, 3)
        RGB float in [0, 1].
    contract : InputContract

    Returns
    -------
    NetworkInput
        ``x`` float32 (C, H, W) as the contract says; ``blank`` when the digits pipeline found
        no ink.

    Raises
    ------
    PipelineError
        For a contract whose input is not made from images (pipeline ``"none"``).
    """
    pixels = image.pixels if isinstance(image, LoadedImage) else image
    pixels = np.asarray(pixels, dtype=np.float32)
    if not (pixels.ndim == 2 or pixels.ndim == 3 and pixels.shape[2] in (1, 3)) or not pixels.size:
        raise ValueError(f"expected (H, W) grey or (H, W, 3) RGB pixels, got shape {pixels.shape}")
    pixels = np.clip(np.nan_to_num(pixels, nan=0.0, posinf=1.0, neginf=0.0), 0.0, 1.0)
    if contract.pipeline == "none" or len(contract.shape) != 3:
        raise PipelineError(f"this network takes {contract.shape_text} inputs, which are not made "
                            f"from images")
    blank, digit = False, None
    if contract.pipeline == "digits":
        side = contract.height
        box = max(1, round(side * DIGIT_BOX / DIGIT_SIZE))
        alpha = image.alpha if isinstance(image, LoadedImage) else None
        plane, digit = preprocess_digit_info(pixels, size=side, box=box, alpha=alpha)
        x, blank = plane[None].astype(np.float32), digit.blank
    else:
        x = _image_planes(pixels, contract)
    x = normalise(x, contract)
    return NetworkInput(np.ascontiguousarray(x, dtype=np.float32), blank, digit)


def normalise(x: np.ndarray, contract: InputContract, out: np.ndarray | None = None) -> np.ndarray:
    """The contract's last step, ``(x - mean) / std`` per channel, on one input (C, H, W) or a
    batch (N, C, H, W) of float32 values in [0, 1]; the one place this is computed, for single
    images (:func:`image_to_input`) and for training and test sets (:func:`batch_to_input`).

    ``out`` may be ``x`` itself (in place). Without normalisation ``x`` (or ``out``) is returned
    as it is.
    """
    x = np.asarray(x, dtype=np.float32)
    if out is None:
        out = x if not contract.normalised else np.empty_like(x)
    elif out is not x:
        np.copyto(out, x)
    if not contract.normalised:
        return out
    c = len(contract.mean)
    if x.ndim not in (3, 4) or x.shape[-3] != c:
        raise ValueError(f"expected {c}-channel inputs (C, H, W) or (N, C, H, W), got shape "
                         f"{x.shape}")
    mean = np.asarray(contract.mean, dtype=np.float32)[:, None, None]
    std = np.asarray(contract.std, dtype=np.float32)[:, None, None]
    np.subtract(x, mean, out=out)
    np.divide(out, std, out=out)
    return out


def batch_to_input(images: np.ndarray, contract: InputContract) -> np.ndarray:
    """A dataset's uint8 images (N, H, W) or (N, C, H, W), already of the network's size, as the
    network's input: float32 (N, C, H, W), scaled to [0, 1] (:func:`cnnviz.data.to_float_batch`)
    and normalised as ``contract`` says (:func:`normalise`), as :func:`image_to_input` makes a
    single image."""
    x = to_float_batch(images)
    return normalise(x, contract, out=x)
