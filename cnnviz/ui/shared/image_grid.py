"""A wrapping, scrolling grid of small images with captions, for galleries of digits and filters."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PySide6.QtCore import QSize, Qt, Signal, Slot
from PySide6.QtGui import QIcon, QImage, QPixmap
from PySide6.QtWidgets import QListView, QListWidget, QListWidgetItem, QWidget

from cnnviz.analysis import to_uint8

_KEY = Qt.ItemDataRole.UserRole


def image_pixmap(image: np.ndarray, side: int, height: int | None = None) -> QPixmap:
    """A pixmap of ``image`` (H, W) grey or (H, W, 3) red, green, blue, with values in [0, 1],
    fitted into ``side`` x ``side`` (or ``side`` x ``height``), pixels kept sharp
    (nearest-neighbour scaling, aspect ratio kept)."""
    pixels = np.ascontiguousarray(to_uint8(image))
    h, w = pixels.shape[:2]
    if pixels.ndim == 3:
        qimage = QImage(pixels.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()
    else:
        qimage = QImage(pixels.data, w, h, w, QImage.Format.Format_Grayscale8).copy()
    return QPixmap.fromImage(qimage).scaled(side, side if height is None else height,
                                            Qt.AspectRatioMode.KeepAspectRatio,
                                            Qt.TransformationMode.FastTransformation)


class ImageGrid(QListWidget):
    """Images (H, W) or (H, W, 3) in [0, 1] shown as ``side``-pixel tiles with a caption under each.

    Parameters
    ----------
    side : int
        Size of each tile in device-independent pixels.
    parent : QWidget, optional

    Signals
    -------
    image_clicked(int)
        The key of the image the user clicked (or activated with the keyboard).
    """

    image_clicked = Signal(int)

    def __init__(self, side: int = 56, parent: QWidget | None = None):
        super().__init__(parent)
        self.side = side
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setMovement(QListView.Movement.Static)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setUniformItemSizes(True)
        self.setWrapping(True)
        self.setSpacing(4)
        self.setIconSize(QSize(side, side))
        self.setWordWrap(True)
        self.setSelectionMode(QListWidget.SelectionMode.SingleSelection)
        self.itemClicked.connect(self._on_item_clicked)
        self.itemActivated.connect(self._on_item_clicked)

    def set_images(self, images: Sequence[np.ndarray], captions: Sequence[str],
                   keys: Sequence[int] | None = None,
                   tooltips: Sequence[str] | None = None) -> None:
        """Replace the grid's content.

        Parameters
        ----------
        images : sequence of ndarray (H, W) or (H, W, 3), values in [0, 1]
        captions : sequence of str
            One (possibly two-line) caption per image.
        keys : sequence of int, optional
            What :attr:`image_clicked` reports for each image (default: its position).
        tooltips : sequence of str, optional
        """
        keys = range(len(images)) if keys is None else keys
        tooltips = captions if tooltips is None else tooltips
        lines = max((caption.count("\n") + 1 for caption in captions), default=1)
        text_height = self.fontMetrics().lineSpacing() * lines
        width = max(self.side, max((self.fontMetrics().horizontalAdvance(line)
                                    for caption in captions for line in caption.split("\n")),
                                   default=0)) + 8
        self.setGridSize(QSize(width, self.side + text_height + 10))
        self.setUpdatesEnabled(False)
        self.clear()
        for image, caption, key, tip in zip(images, captions, keys, tooltips):
            item = QListWidgetItem(QIcon(image_pixmap(image, self.side)), caption)
            item.setData(_KEY, int(key))
            item.setToolTip(tip)
            item.setTextAlignment(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop)
            self.addItem(item)
        self.setUpdatesEnabled(True)

    def keys(self) -> list[int]:
        """The keys of the images on display, in order."""
        return [self.item(row).data(_KEY) for row in range(self.count())]

    @Slot(QListWidgetItem)
    def _on_item_clicked(self, item: QListWidgetItem) -> None:
        self.image_clicked.emit(item.data(_KEY))
