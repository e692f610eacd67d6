"""The traces' plot area: its view box (time-only pan and zoom, Ctrl+wheel gain) and its size
in device pixels, which is what frames, labels and the automatic spacing are computed for."""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QWidget

__all__ = ["PlotGeometry", "TraceViewBox"]


class TraceViewBox(pg.ViewBox):
    """Time-only pan/zoom; Ctrl+wheel changes the gain instead of zooming.

    Signals
    -------
    gain_wheel(int)
        Ctrl+wheel steps (positive: more gain).
    """

    gain_wheel = Signal(int)

    def wheelEvent(self, ev, axis=None) -> None:  # noqa: N802 (Qt API)
        if ev.modifiers() & Qt.KeyboardModifier.ControlModifier:
            delta = ev.delta() if hasattr(ev, "delta") else ev.angleDelta().y()
            self.gain_wheel.emit(1 if delta > 0 else -1)
            ev.accept()
            return
        super().wheelEvent(ev, axis=0)


class PlotGeometry:
    """The size of ``view`` in the device pixels of ``widget``'s screen."""

    def __init__(self, view: pg.ViewBox, widget: QWidget) -> None:
        self._view = view
        self._widget = widget

    def ratio(self) -> float:
        """Device pixels per logical pixel."""
        return self._widget.devicePixelRatioF() or 1.0

    def pixels(self) -> tuple[int, int]:
        """Width and height in device pixels (at least 16 each)."""
        rect = self._view.sceneBoundingRect()
        ratio = self.ratio()
        width = max(16, int(rect.width() * ratio))
        height = max(16, int(rect.height() * ratio))
        return width, height
