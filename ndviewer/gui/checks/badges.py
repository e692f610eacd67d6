"""Tree icons with a coloured dot for objects that have findings (red, orange, blue)."""

from __future__ import annotations

from functools import cache

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QIcon, QPainter, QPen, QPixmap

from ndviewer.core.checks.findings import SEVERITY_RANK
from ndviewer.core.model.families import Family
from ndviewer.gui.icons import family_icon

SEVERITY_COLORS = {"error": "#c0392b", "warning": "#e67e22", "info": "#2e86c1"}


def worst_by_path(findings) -> dict[str, str]:
    """The most serious severity of the findings of each object path."""
    worst: dict[str, str] = {}
    for finding in findings:
        current = worst.get(finding.path)
        if current is None or SEVERITY_RANK[finding.severity] < SEVERITY_RANK[current]:
            worst[finding.path] = finding.severity
    return worst


@cache
def severity_dot(severity: str, size: int = 12) -> QIcon:
    pixmap = QPixmap(size, size)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(QPen(QColor("white"), 1))
    painter.setBrush(QColor(SEVERITY_COLORS[severity]))
    painter.drawEllipse(QRectF(1, 1, size - 2, size - 2))
    painter.end()
    return QIcon(pixmap)


@cache
def badged_icon(family: Family, severity: str, size: int = 32) -> QIcon:
    """The family's icon with a dot of the severity's colour at its bottom right."""
    pixmap = family_icon(family, size).pixmap(size, size)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    dot = size * 0.5
    painter.setPen(QPen(QColor("white"), size / 16))
    painter.setBrush(QColor(SEVERITY_COLORS[severity]))
    painter.drawEllipse(QRectF(size - dot - 1, size - dot - 1, dot, dot))
    painter.end()
    return QIcon(pixmap)
