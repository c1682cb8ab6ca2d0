"""The input contract a network gets from the data it is trained on (no Qt here).

One function, used by ``cnnviz train`` and by the window's Training panel alike, so that a
network trained on the same data reads its images the same way wherever it was trained.
"""

from __future__ import annotations

from dataclasses import replace

__all__ = ["training_contract"]

#: A channel whose standard deviation is below this is left unscaled (a blank set).
MIN_CHANNEL_STD = 1e-3


def training_contract(contract, data, train_images, fresh: bool):
    """The input contract saved with a network trained on ``data``.

    The class names are the data's (when it names one class per output; digit datasets name
    none, and the contract keeps its names). A fresh network
    (``fresh``: built from a preset or a layer list) of photos (data that names its classes)
    reads images through the ``image`` pipeline normalised by the mean and standard deviation of
    each channel of ``train_images`` (:func:`cnnviz.data.channel_statistics`, float64); a digit
    network keeps the digit pipeline unnormalised. A network read from a file keeps its
    pipeline and normalisation: its weights were learned with them.

    Parameters
    ----------
    contract : cnnviz.nn.InputContract
        The network's contract before training.
    data : cnnviz.data.Dataset
        The data (only its ``class_names`` are read).
    train_images : np.ndarray
        The uint8 images the network is trained on (the validation images held out).
    fresh : bool

    Raises
    ------
    cnnviz.nn.ContractError
        The data's class names cannot name the outputs (too long, repeated...).
    """
    from cnnviz.data import channel_statistics

    named = data.class_names  # digit datasets name none: the contract's names stay
    classes = named if named and len(named) == len(contract.classes) else contract.classes
    if not fresh:
        return replace(contract, classes=tuple(classes))
    pipeline = contract.pipeline
    if data.class_names and pipeline in ("digits", "image"):
        pipeline = "image"  # photos, even grey ones: the digit steps would look for ink
    mean = std = ()
    if pipeline == "image":
        mean, std = channel_statistics(train_images)
        # A channel that never changes (a blank set) is left unscaled rather than blown up.
        mean = tuple(map(float, mean))
        std = tuple(float(v) if v >= MIN_CHANNEL_STD else 1.0 for v in std)
    return replace(contract, classes=tuple(classes), pipeline=pipeline, mean=mean, std=std)
