"""The picture: one image item and the ROI overlay inside a pan/zoom view.

Frames are drawn as 8-bit indices through a 256-colour palette (Qt's fastest path that still
allows colour maps). When zoomed out so that several data pixels share a screen pixel, the
frame is decimated with a stride before mapping, so a 2048 x 2048 frame costs what a
1024 x 1024 one does. Rotation and flips are a transform on the item holding the picture
and the overlay, so pixel coordinates reported by hover and click are always data ``(x, y)``
whatever the orientation.
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QImage, QPainter, QTransform

_TRANSPOSE = QTransform(0, 1, 1, 0, 0, 0)


class FrameItem(pg.GraphicsObject):
    """Draws one ``0xffRRGGBB`` uint32 array ``[x, y]`` as a ``Format_RGB32`` QImage.

    pyqtgraph's ImageItem would hand Qt an indexed or RGBX image, which Qt converts on every
    paint; RGB32 is drawn (and scaled, nearest neighbour) directly. The array's rows are x, so
    the QImage is painted through a transposing transform (cheaper than transposing data).

    Attributes
    ----------
    array : numpy.ndarray or None
        The uint32 ``(nx', ny')`` array on screen (kept alive: the QImage borrows it).
    paint_count : int
        Times the item was painted: what "frames shown" means on screen.
    """

    def __init__(self) -> None:
        super().__init__()
        self.array: np.ndarray | None = None
        self._qimage: QImage | None = None
        self._rect = QRectF()
        self.paint_count = 0

    def set_array(self, array: np.ndarray, rect: QRectF) -> None:
        """Show ``array`` (``[x, y]``) stretched over ``rect`` (data coordinates)."""
        array = np.ascontiguousarray(array, dtype=np.uint32)
        rows, columns = array.shape  # rows are x, columns are y
        self.array = array
        self._qimage = QImage(array.data, columns, rows, 4 * columns, QImage.Format.Format_RGB32)
        if rect != self._rect:
            self.prepareGeometryChange()
            self._rect = QRectF(rect)
            self.informViewBoundsChanged()
        self.update()

    def clear(self) -> None:
        self.array = None
        self._qimage = None
        self.update()

    def boundingRect(self) -> QRectF:
        return QRectF(self._rect)

    def paint(self, painter: QPainter, *_args) -> None:
        if self._qimage is None:
            return
        self.paint_count += 1
        painter.save()
        painter.setTransform(_TRANSPOSE, True)  # image column (y) -> y, image row (x) -> x
        r = self._rect
        painter.drawImage(QRectF(r.y(), r.x(), r.height(), r.width()), self._qimage)
        painter.restore()


class ImageCanvas(pg.GraphicsLayoutWidget):
    """Pan/zoom view of one picture ``(nx, ny)``, x across and y down.

    Signals
    -------
    hovered(float, float)
        Mouse moved to data coordinates (x, y); NaN when it left the picture.
    clicked(float, float)
        Left click (not a drag) at data coordinates.
    double_clicked(float, float)
        Left double click at data coordinates.
    stride_changed(int)
        The decimation the current zoom allows changed; re-render the frame.
    """

    hovered = Signal(float, float)
    clicked = Signal(float, float)
    double_clicked = Signal(float, float)
    stride_changed = Signal(int)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setBackground("#1b1d21")
        self.ci.setContentsMargins(2, 2, 2, 2)
        self.view = self.addViewBox(lockAspect=True, invertY=True, enableMenu=False)
        self.view.setDefaultPadding(0.01)
        self.root = pg.ItemGroup()
        self.view.addItem(self.root)
        self.frame_item = FrameItem()
        self.frame_item.setParentItem(self.root)
        self.picture_size = (0, 0)
        self.stride = 1
        self.rotation = 0
        self.flip_x = False
        self.flip_y = False
        self.scene().sigMouseMoved.connect(self._on_mouse_moved)
        self.scene().sigMouseClicked.connect(self._on_mouse_clicked)
        self.view.sigRangeChanged.connect(self._update_stride)

    @property
    def paint_count(self) -> int:
        """Times the picture was painted (benchmarks and tests read it)."""
        return self.frame_item.paint_count

    # ------------------------------------------------------------------ picture
    def set_size(self, size: tuple[int, int]) -> None:
        """Declare the picture size; re-fits the view when it changes."""
        size = (int(size[0]), int(size[1]))
        if size != self.picture_size:
            self.picture_size = size
            self._apply_orientation()
            self.fit()
            self._update_stride()

    def show_picture(self, colors: np.ndarray) -> None:
        """Draw ``colors``: uint32 ``0xffRRGGBB`` indexed ``[x', y']``.

        ``colors`` is already decimated by :attr:`stride`; it is stretched over
        ``stride`` data pixels per screen-image pixel so data coordinates do not change with
        the zoom.
        """
        s = self.stride
        nx, ny = colors.shape
        self.frame_item.set_array(colors, QRectF(0, 0, nx * s, ny * s))

    def clear_picture(self) -> None:
        self.frame_item.clear()

    # ------------------------------------------------------------------ orientation
    def set_orientation(self, rotation: int, flip_x: bool, flip_y: bool) -> None:
        """Rotate by a multiple of 90 degrees (clockwise on screen) and mirror."""
        self.rotation = int(rotation) % 360
        self.flip_x = bool(flip_x)
        self.flip_y = bool(flip_y)
        self._apply_orientation()
        self.fit()

    def fit(self) -> None:
        """Zoom so the whole (rotated) picture fills the view."""
        nx, ny = self.picture_size
        if nx and ny:
            bounds = self.root.mapRectToParent(QRectF(0, 0, nx, ny))
            self.view.setRange(rect=bounds, padding=0.01)

    def _apply_orientation(self) -> None:
        nx, ny = self.picture_size
        cx, cy = nx / 2.0, ny / 2.0
        transform = QTransform()
        transform.translate(cx, cy)
        transform.rotate(self.rotation)
        transform.scale(-1.0 if self.flip_x else 1.0, -1.0 if self.flip_y else 1.0)
        transform.translate(-cx, -cy)
        self.root.setTransform(transform)

    # ------------------------------------------------------------------ coordinates
    def data_point(self, scene_pos: QPointF) -> tuple[float, float] | None:
        """Data ``(x, y)`` under a scene position, or None outside the picture."""
        if not self.view.sceneBoundingRect().contains(scene_pos):
            return None
        point = self.root.mapFromScene(scene_pos)
        x, y = point.x(), point.y()
        if 0 <= x < self.picture_size[0] and 0 <= y < self.picture_size[1]:
            return x, y
        return None

    def scene_point(self, x: float, y: float) -> QPointF:
        """Scene position of data ``(x, y)`` (tests click through this)."""
        return self.root.mapToScene(QPointF(x, y))

    def _on_mouse_moved(self, scene_pos: QPointF) -> None:
        point = self.data_point(scene_pos)
        if point is None:
            self.hovered.emit(math.nan, math.nan)
        else:
            self.hovered.emit(*point)

    def _on_mouse_clicked(self, event) -> None:
        if event.button() != Qt.MouseButton.LeftButton:
            return
        point = self.data_point(event.scenePos())
        if point is None:
            return
        if event.double():
            self.double_clicked.emit(*point)
        else:
            self.clicked.emit(*point)

    def _update_stride(self, *_args) -> None:
        if not self.picture_size[0]:
            return
        px, py = self.view.viewPixelSize()
        per_pixel = min(abs(px), abs(py)) if px and py else 1.0
        stride = max(1, int(math.floor(per_pixel)))
        if stride != self.stride:
            self.stride = stride
            self.stride_changed.emit(stride)
