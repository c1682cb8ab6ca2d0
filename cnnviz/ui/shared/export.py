"""Pictures the window exports (views, maps, plots), written atomically like every other save.

``QImage.save(path)`` writes straight into the target, so an export interrupted half-way (a full
disk, a crash) would leave a broken picture where a good one may have stood. Here the picture is
encoded in memory first and then written with :func:`cnnviz.fileio.atomic_write`.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QBuffer, QByteArray, QIODevice
from PySide6.QtGui import QImage, QPixmap

from cnnviz.fileio import atomic_write


def save_png(picture: QImage | QPixmap, path: str | Path) -> Path:
    """Encode ``picture`` as PNG and write it to ``path`` atomically; raises :class:`OSError`."""
    path = Path(path)
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    encoded = not picture.isNull() and picture.save(buffer, "PNG")
    buffer.close()
    if not encoded:
        raise OSError(f"{path}: the picture could not be encoded as PNG")
    with atomic_write(path) as handle:
        handle.write(data.data())
    return path
