"""Paint a figure :class:`~ndviewer.core.export.scene.Scene` with QPainter: PNG (any size
and DPI), SVG and PDF (vector paths, text kept as text), or a QImage for the clipboard.

One painter routine serves every format, so the PNG, the SVG and the PDF of a figure are
the same drawing. Scene units are points; the painter is scaled to the device (1 for SVG
and PDF, which are set to 72 units per inch; DPI/72 for images). Polylines become
QPainterPaths built from numpy arrays in one call (pyqtgraph's ``arrayToQPath``), round
joins keep min/max zigzags from growing miter spikes. Works off the GUI thread (QImage,
QSvgGenerator and QPdfWriter are plain paint devices), so exports run on the worker pool.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QMarginsF, QPointF, QRectF, QSize, QSizeF, Qt
from PySide6.QtGui import (
    QBrush,
    QColor,
    QFont,
    QFontMetricsF,
    QGuiApplication,
    QImage,
    QPageLayout,
    QPageSize,
    QPaintDevice,
    QPainter,
    QPdfWriter,
    QPen,
)
from PySide6.QtSvg import QSvgGenerator

from ndviewer.core.export.scene import Lines, Picture, Rect, Scene, Segments, Text
from ndviewer.core.export.style import FONT_FAMILY
from ndviewer.core.export.window_data import ExportError

__all__ = ["ensure_gui_app", "paint_scene", "render_file", "render_image"]

_INCH_PER_METRE = 39.37007874015748


def ensure_gui_app() -> QGuiApplication:
    """A QGuiApplication for headless rendering (fonts need one); the running one if any."""
    app = QGuiApplication.instance()
    if app is None:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
        app = QGuiApplication([])
    return app  # type: ignore[return-value]


def render_image(scene: Scene, dpi: float = 300.0) -> QImage:
    """The scene as an ARGB image of ``scene.width × dpi / 72`` pixels, with ``dpi`` in the
    image's metadata."""
    width = max(1, round(scene.width * dpi / 72.0))
    height = max(1, round(scene.height * dpi / 72.0))
    image = QImage(width, height, QImage.Format.Format_ARGB32_Premultiplied)
    dpm = round(dpi * _INCH_PER_METRE)
    image.setDotsPerMeterX(dpm)
    image.setDotsPerMeterY(dpm)
    image.fill(QColor(scene.background) if scene.background else Qt.GlobalColor.transparent)
    painter = QPainter(image)
    try:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        painter.setRenderHint(QPainter.RenderHint.TextAntialiasing, True)
        painter.scale(width / scene.width, height / scene.height)
        paint_scene(painter, scene, image)
    finally:
        painter.end()
    return image


def render_file(scene: Scene, out: str | os.PathLike, dpi: float = 300.0) -> Path:
    """Write the scene as PNG, SVG or PDF, chosen by the suffix of ``out``."""
    out = Path(out)
    suffix = out.suffix.lower()
    if suffix == ".png":
        image = render_image(scene, dpi)
        if not image.save(str(out), "PNG"):
            raise ExportError(f"could not write {out}.")
        return out
    if suffix == ".svg":
        generator = QSvgGenerator()
        generator.setFileName(str(out))
        generator.setSize(QSize(round(scene.width), round(scene.height)))
        generator.setViewBox(QRectF(0, 0, scene.width, scene.height))
        generator.setResolution(72)
        generator.setTitle(scene.notes.get("title", "ndviewer figure"))
        generator.setDescription("exported by ndviewer")
        _paint_vector(generator, scene)
        return out
    if suffix == ".pdf":
        writer = QPdfWriter(str(out))
        writer.setResolution(72)
        writer.setCreator("ndviewer")
        writer.setTitle(scene.notes.get("title", "ndviewer figure"))
        size = QPageSize(QSizeF(scene.width, scene.height), QPageSize.Unit.Point, "figure")
        writer.setPageLayout(
            QPageLayout(size, QPageLayout.Orientation.Portrait, QMarginsF(0, 0, 0, 0))
        )
        _paint_vector(writer, scene)
        return out
    raise ExportError(f"cannot draw a figure as {suffix or 'a file without extension'}.")


def _paint_vector(device: QPaintDevice, scene: Scene) -> None:
    painter = QPainter()
    if not painter.begin(device):
        raise ExportError("could not start writing the figure (is the folder writable?).")
    try:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        if scene.background:
            painter.fillRect(QRectF(0, 0, scene.width, scene.height), QColor(scene.background))
        paint_scene(painter, scene, device)
    finally:
        painter.end()


def paint_scene(painter: QPainter, scene: Scene, device: QPaintDevice) -> None:
    """Draw every item of ``scene`` (in points) with ``painter`` (already scaled to points)."""
    point_factor = 72.0 / max(1.0, float(device.logicalDpiY()))
    fonts: dict[tuple[float, bool], QFont] = {}
    current_clip: tuple | None = None
    for item in scene.items:
        clip = getattr(item, "clip", None)
        if clip != current_clip:
            if clip is None:
                painter.setClipping(False)
            else:
                painter.setClipRect(QRectF(*clip))
            current_clip = clip
        if isinstance(item, Lines):
            if item.xy.shape[0] < 2:
                continue
            path = pg.arrayToQPath(item.xy[:, 0], item.xy[:, 1], connect="finite")
            painter.setPen(_pen(item.color, item.width))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawPath(path)
        elif isinstance(item, Segments):
            if item.xyxy.shape[0] == 0:
                continue
            xs = item.xyxy[:, [0, 2]].ravel()
            ys = item.xyxy[:, [1, 3]].ravel()
            path = pg.arrayToQPath(xs, ys, connect="pairs")
            painter.setPen(_pen(item.color, item.width, Qt.PenCapStyle.FlatCap))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawPath(path)
        elif isinstance(item, Rect):
            painter.setPen(_pen(item.stroke, item.width) if item.stroke else Qt.PenStyle.NoPen)
            if item.fill:
                color = QColor(item.fill)
                color.setAlphaF(float(np.clip(item.alpha, 0.0, 1.0)))
                painter.setBrush(QBrush(color))
            else:
                painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRect(QRectF(item.x, item.y, item.w, item.h))
        elif isinstance(item, Picture):
            argb = np.ascontiguousarray(item.argb, dtype=np.uint32)
            rows, cols = argb.shape
            image = QImage(argb.tobytes(), cols, rows, 4 * cols, QImage.Format.Format_ARGB32)
            painter.drawImage(QRectF(item.x, item.y, item.w, item.h), image.copy())
        elif isinstance(item, Text):
            key = (item.size, item.bold)
            font = fonts.get(key)
            if font is None:
                font = QFont(FONT_FAMILY)
                font.setPointSizeF(item.size * point_factor)
                font.setBold(item.bold)
                fonts[key] = font
            _draw_text(painter, font, item)
    painter.setClipping(False)


def _pen(color: str, width: float, cap: Qt.PenCapStyle = Qt.PenCapStyle.RoundCap) -> QPen:
    pen = QPen(QColor(color))
    pen.setWidthF(width)
    pen.setCapStyle(cap)
    pen.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
    pen.setCosmetic(False)
    return pen


def _draw_text(painter: QPainter, font: QFont, item: Text) -> None:
    painter.setFont(font)
    painter.setPen(QColor(item.color))
    metrics = QFontMetricsF(font, painter.device())
    width = metrics.horizontalAdvance(item.text)
    dx = {"left": 0.0, "center": -width / 2, "right": -width}.get(item.anchor, 0.0)
    ascent, descent = metrics.ascent(), metrics.descent()
    dy = {
        "top": ascent,
        "middle": (ascent - descent) / 2,
        "baseline": 0.0,
        "bottom": -descent,
    }.get(item.valign, 0.0)
    if item.rotation:
        painter.save()
        painter.translate(item.x, item.y)
        painter.rotate(-item.rotation)
        painter.drawText(QPointF(dx, dy), item.text)
        painter.restore()
    else:
        painter.drawText(QPointF(item.x + dx, item.y + dy), item.text)
