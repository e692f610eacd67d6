"""Keyboard navigation of the trace panel, wherever the focus is in it.

←/→ page (Shift: half page), ↑/↓ channel page, +/- time zoom, Home/End. The panel passes its
own key presses to :meth:`KeyNavigator.handle`; the navigator also filters the key presses of
the plot, which keeps the focus after a click. Mouse navigation is the view box's (drag pans,
wheel zooms time, Ctrl+wheel gain: :class:`~ndviewer.gui.panels.traces.plot_view.TraceViewBox`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QKeyEvent

if TYPE_CHECKING:
    from ndviewer.gui.panels.traces.trace_panel import TracePanel

__all__ = ["KeyNavigator"]


class KeyNavigator(QObject):
    """Turns key presses into the panel's navigation calls (once it shows a series)."""

    def __init__(self, panel: TracePanel) -> None:
        super().__init__(panel)
        self._panel = panel

    def eventFilter(self, watched: QObject, event: Any) -> bool:  # noqa: N802 (Qt API)
        if event.type() == event.Type.KeyPress and self.handle(event):
            return True
        return super().eventFilter(watched, event)

    def handle(self, event: QKeyEvent) -> bool:
        """Act on a navigation key and accept it; False for any other key."""
        panel = self._panel
        if panel.source is None:
            return False
        key = event.key()
        shift = bool(event.modifiers() & Qt.KeyboardModifier.ShiftModifier)
        if key == Qt.Key.Key_Right:
            panel.page(0.5 if shift else 1.0)
        elif key == Qt.Key.Key_Left:
            panel.page(-0.5 if shift else -1.0)
        elif key == Qt.Key.Key_Down:
            panel.channel_page(1)
        elif key == Qt.Key.Key_Up:
            panel.channel_page(-1)
        elif key in (Qt.Key.Key_Plus, Qt.Key.Key_Equal):
            panel.zoom(0.5)
        elif key in (Qt.Key.Key_Minus, Qt.Key.Key_Underscore):
            panel.zoom(2.0)
        elif key == Qt.Key.Key_Home:
            panel.go_home()
        elif key == Qt.Key.Key_End:
            panel.go_end()
        else:
            return False
        event.accept()
        return True
