"""Exceptions raised by :mod:`cnnviz.data`.

Every error the data package raises on purpose derives from :class:`DataError`,
so callers (the UI, the command line) can catch one type and show its message.
The messages name the file or URL involved and say what went wrong.
"""

from __future__ import annotations

__all__ = [
    "DataError",
    "MnistError",
    "CifarError",
    "ImageFolderError",
    "DownloadError",
    "DownloadCancelled",
    "ImageLoadError",
    "ImageLoadCancelled",
    "InputShapeError",
]


class DataError(Exception):
    """Base class of every error raised on purpose by :mod:`cnnviz.data`."""


class MnistError(DataError):
    """An MNIST/IDX file or folder is missing, malformed or inconsistent."""


class CifarError(DataError):
    """A CIFAR-10 binary archive or folder is missing, malformed or unsafe."""


class ImageFolderError(DataError):
    """A folder of images cannot be used as a dataset (no class folders, no readable image...)."""


class DownloadError(DataError):
    """Downloading a dataset failed on every mirror."""


class DownloadCancelled(DataError):
    """The user cancelled a download (raised by or on behalf of a progress callback)."""


class ImageLoadError(DataError):
    """An image file could not be read (missing, not an image, corrupt, too large...)."""


class ImageLoadCancelled(ImageLoadError):
    """The progress callback of :func:`cnnviz.data.load_image` asked to stop."""


class InputShapeError(DataError):
    """Images of one shape were given to a network that takes another (or labels to a network
    that has no score for some of them).

    Attributes
    ----------
    network_shape, data_shape : tuple of int
        ``(channels, height, width)`` the network takes and the data gives (for classes: the
        network's output shape and ``(classes the labels need,)``).
    """

    def __init__(self, message: str, network_shape: tuple, data_shape: tuple):
        super().__init__(message)
        self.network_shape, self.data_shape = tuple(network_shape), tuple(data_shape)
