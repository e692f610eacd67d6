"""Light pyqtgraph items for the trace panel: one indexed image, bands and event markers.

Each item paints everything it holds in one ``paint`` call, so hundreds of trials or events
cost one item, not hundreds of ``LinearRegionItem``s.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF
from PySide6.QtGui import QColor, QImage, QPainter, QPen

__all__ = ["Band", "BandsItem", "IndexedImageItem", "Marker", "MarkersItem"]


class IndexedImageItem(pg.GraphicsObject):
    """Shows a ``uint8`` colour-index image stretched over a rectangle in data coordinates.

    The image is wrapped (not copied) in an ``Indexed8`` QImage; index 0 is transparent so
    bands drawn behind the traces show through.
    """

    def __init__(self, colors: list[QColor]) -> None:
        super().__init__()
        self._array: np.ndarray | None = None
        self._qimage: QImage | None = None
        self._rect = QRectF()
        self._table = [QColor(0, 0, 0, 0).rgba()] + [c.rgba() for c in colors]

    def set_colors(self, colors: list[QColor]) -> None:
        self._table = [QColor(0, 0, 0, 0).rgba()] + [c.rgba() for c in colors]
        if self._qimage is not None:
            self._qimage.setColorTable(self._table)
            self.update()

    def set_image(self, image: np.ndarray, x0: float, x1: float, y0: float, y1: float) -> None:
        """Show ``image`` (rows top to bottom) over ``[x0, x1] × [y0, y1]`` (y1 at the top)."""
        array = np.ascontiguousarray(image, dtype=np.uint8)
        height, width = array.shape
        qimage = QImage(array.data, width, height, width, QImage.Format.Format_Indexed8)
        qimage.setColorTable(self._table)
        self._array = array  # keeps the buffer alive for the QImage
        self._qimage = qimage
        self.prepareGeometryChange()
        self._rect = QRectF(x0, y0, x1 - x0, y1 - y0)
        self.update()

    def clear(self) -> None:
        self._array = None
        self._qimage = None
        self.prepareGeometryChange()
        self._rect = QRectF()
        self.update()

    @property
    def image(self) -> np.ndarray | None:
        return self._array

    def boundingRect(self) -> QRectF:  # noqa: N802 (Qt API)
        return QRectF(self._rect)

    def paint(self, painter: QPainter, *args) -> None:
        if self._qimage is None:
            return
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)
        # image row 0 belongs at the top (largest y) of the y-up data rectangle
        rect = self._rect
        painter.save()
        painter.translate(rect.left(), rect.bottom())
        painter.scale(rect.width() / self._qimage.width(), -rect.height() / self._qimage.height())
        painter.drawImage(QPointF(0.0, 0.0), self._qimage)
        painter.restore()


@dataclass(frozen=True)
class Band:
    """A shaded time interval: ``[start, stop]`` with a fill colour."""

    start: float
    stop: float
    color: QColor


class BandsItem(pg.GraphicsObject):
    """Shaded vertical bands spanning a fixed y range (interval tables).

    With an opaque ``background`` (the view's, behind the bands) each band's translucent
    colour is blended over it once and filled opaque: opaque fills are copies, translucent
    ones per-pixel blends, some ten times slower for a session of trials on screen.
    """

    def __init__(self, background: QColor | None = None) -> None:
        super().__init__()
        self._background = background
        self._bands: list[Band] = []
        self._y0, self._y1 = 0.0, 1.0
        self.setZValue(-10)

    def set_bands(self, bands: list[Band], y0: float, y1: float) -> None:
        self.prepareGeometryChange()
        self._bands = bands
        self._y0, self._y1 = y0, y1
        self.update()

    @property
    def bands(self) -> list[Band]:
        return list(self._bands)

    def boundingRect(self) -> QRectF:  # noqa: N802
        if not self._bands:
            return QRectF()
        x0 = min(b.start for b in self._bands)
        x1 = max(b.stop for b in self._bands)
        return QRectF(x0, self._y0, max(x1 - x0, 1e-12), self._y1 - self._y0)

    def paint(self, painter: QPainter, *args) -> None:
        if not self._bands:
            return
        # In device pixels, without antialiasing, bands of one colour that touch merged:
        # a whole session of trials is a few hundred screen-high fills, and antialiased
        # fills through the view's scale cost ~100 µs each.
        to_device = painter.transform()
        y_top, y_bottom = (
            to_device.map(QPointF(0.0, self._y1)).y(),
            to_device.map(QPointF(0.0, self._y0)).y(),
        )
        top, bottom = min(y_top, y_bottom), max(y_top, y_bottom)
        painter.save()
        painter.resetTransform()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        runs: list[list] = []  # [left px, right px, colour]
        for band in sorted(self._bands, key=lambda b: b.start):
            left = int(np.floor(to_device.map(QPointF(band.start, 0.0)).x()))
            right = int(np.ceil(to_device.map(QPointF(band.stop, 0.0)).x()))
            right = max(right, left + 1)  # a band narrower than a pixel still shows
            last = runs[-1] if runs else None
            if last is not None and last[2] == band.color.rgba() and left <= last[1]:
                last[1] = max(last[1], right)
            else:
                runs.append([left, right, band.color.rgba()])
        colors: dict[int, QColor] = {}
        for left, right, rgba in runs:
            color = colors.get(rgba)
            if color is None:
                color = colors[rgba] = self._over_background(QColor.fromRgba(rgba))
            painter.fillRect(QRectF(left, top, right - left, bottom - top), color)
        painter.restore()

    def _over_background(self, color: QColor) -> QColor:
        back = self._background
        if back is None or back.alpha() < 255 or color.alpha() == 255:
            return color
        a = color.alphaF()
        return QColor(
            round(color.red() * a + back.red() * (1 - a)),
            round(color.green() * a + back.green() * (1 - a)),
            round(color.blue() * a + back.blue() * (1 - a)),
        )


@dataclass(frozen=True)
class Marker:
    """An event at ``time`` lasting ``duration`` seconds (0 for an instant)."""

    time: float
    duration: float
    color: QColor


class MarkersItem(pg.GraphicsObject):
    """Event markers: a vertical line per event, a bar along the top for its duration."""

    def __init__(self) -> None:
        super().__init__()
        self._markers: list[Marker] = []
        self._y0, self._y1 = 0.0, 1.0
        self.setZValue(5)

    def set_markers(self, markers: list[Marker], y0: float, y1: float) -> None:
        self.prepareGeometryChange()
        self._markers = markers
        self._y0, self._y1 = y0, y1
        self.update()

    @property
    def markers(self) -> list[Marker]:
        return list(self._markers)

    def boundingRect(self) -> QRectF:  # noqa: N802
        if not self._markers:
            return QRectF()
        x0 = min(m.time for m in self._markers)
        x1 = max(m.time + m.duration for m in self._markers)
        return QRectF(x0, self._y0, max(x1 - x0, 1e-12), self._y1 - self._y0)

    def paint(self, painter: QPainter, *args) -> None:
        bar = (self._y1 - self._y0) * 0.012
        for marker in self._markers:
            pen = QPen(marker.color)
            pen.setCosmetic(True)
            pen.setWidthF(1.5)
            painter.setPen(pen)
            painter.drawLine(QPointF(marker.time, self._y0), QPointF(marker.time, self._y1))
            if marker.duration > 0:
                painter.fillRect(
                    QRectF(marker.time, self._y1 - bar, marker.duration, bar), marker.color
                )
