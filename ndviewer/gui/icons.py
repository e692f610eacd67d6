"""Icons drawn in code: one rounded badge per type family (no binary files in the repo)."""

from __future__ import annotations

from functools import cache

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QFont, QIcon, QPainter, QPen, QPixmap

from ndviewer.core.model.families import Family


@cache
def family_icon(family: Family, size: int = 32) -> QIcon:
    pixmap = QPixmap(size, size)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    color = QColor(family.color)
    rect = QRectF(2, 2, size - 4, size - 4)
    if family.glyph:
        painter.setBrush(color)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.drawRoundedRect(rect, 7, 7)
        painter.setPen(QPen(QColor("white")))
        font = QFont()
        font.setBold(True)
        font.setPixelSize(int(size * 0.55))
        painter.setFont(font)
        painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, family.glyph)
    elif family.name == "group":
        painter.setPen(QPen(color, 2))
        painter.setBrush(QColor("#e8edf2"))
        painter.drawRoundedRect(QRectF(3, 8, size - 6, size - 13), 4, 4)
        painter.drawLine(5, 8, 12, 8)
    else:  # plain dataset: a small grid
        painter.setPen(QPen(color, 2))
        painter.setBrush(QColor("#f4f6f8"))
        inner = QRectF(5, 5, size - 10, size - 10)
        painter.drawRect(inner)
        third = inner.width() / 3
        for i in (1, 2):
            painter.drawLine(
                int(inner.left() + i * third),
                int(inner.top()),
                int(inner.left() + i * third),
                int(inner.bottom()),
            )
            painter.drawLine(
                int(inner.left()),
                int(inner.top() + i * third),
                int(inner.right()),
                int(inner.top() + i * third),
            )
    painter.end()
    return QIcon(pixmap)


@cache
def app_icon() -> QIcon:
    """The application's icon: the same SVG the desktop entry installs (drawn if missing)."""
    from ndviewer.paths import resources_dir

    svg = resources_dir() / "icons" / "ndviewer.svg"
    icon = QIcon(str(svg)) if svg.is_file() else QIcon()
    return icon if not icon.isNull() else family_icon(Family("app", "N", "#3b5b92"), 64)
