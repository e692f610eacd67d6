"""The trace panel's own graphics items, painted into a QImage and checked pixel by pixel."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRectF
from PySide6.QtGui import QColor, QImage, QPainter, QTransform

from ndviewer.gui.panels.traces.items import Band, BandsItem


def _paint(item: BandsItem, width: int = 200, height: int = 50) -> np.ndarray:
    """Paint ``item`` with data x in [0, 100] s over ``width`` pixels, y in [0, 1]."""
    image = QImage(width, height, QImage.Format.Format_ARGB32)
    image.fill(QColor("#ffffff"))
    painter = QPainter(image)
    painter.setTransform(QTransform.fromScale(width / 100.0, -height).translate(0.0, -1.0))
    item.paint(painter)
    painter.end()
    ptr = image.constBits()
    argb = np.frombuffer(ptr, dtype=np.uint32, count=width * height).reshape(height, width)
    return argb & 0xFFFFFF


def test_bands_are_filled_with_the_colour_blended_over_the_background() -> None:
    fill = QColor(255, 0, 0, 64)
    item = BandsItem(background=QColor("#ffffff"))
    item.set_bands([Band(10.0, 20.0, fill), Band(50.0, 50.1, fill)], 0.0, 1.0)
    pixels = _paint(item)
    blended = (255 << 16) | (round(255 * (1 - 64 / 255)) << 8) | round(255 * (1 - 64 / 255))
    covered = np.flatnonzero(pixels[25] == blended)
    assert covered.tolist() == [*range(20, 40), 100]  # 10-20 s at 2 px per s, and 50 s
    assert (pixels[:, 20:40] == blended).all()  # the whole height
    assert (pixels[:, 100] == blended).all()  # a band narrower than a pixel shows
    assert (pixels[25, 41:99] == 0xFFFFFF).all() and (pixels[25, :19] == 0xFFFFFF).all()


def test_touching_bands_of_one_colour_merge_and_boundary_follows_view() -> None:
    fill = QColor(0, 0, 255, 255)
    item = BandsItem()
    item.set_bands([Band(30.0, 40.0, fill), Band(40.0, 45.0, fill)], 0.0, 1.0)
    assert item.boundingRect() == QRectF(30.0, 0.0, 15.0, 1.0)
    pixels = _paint(item)
    covered = np.flatnonzero(pixels[10] == 0x0000FF)
    assert covered.tolist() == list(range(60, 90))
