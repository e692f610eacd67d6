"""Files the desktop hands to the running app without a command line.

On macOS a double-click on a document (or a drop on the Dock icon) does not start the app with
the file as an argument: the running app receives a ``QFileOpenEvent``. ``FileOpenFilter``
turns each one into a tab, exactly as a second launch does on Linux and Windows.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QEvent, QObject
from PySide6.QtGui import QFileOpenEvent


class FileOpenFilter(QObject):
    """Application event filter: ``open_files([path])`` for every file-open event."""

    def __init__(self, open_files: Callable[[list[str]], object], parent: QObject) -> None:
        super().__init__(parent)
        self._open_files = open_files

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt name)
        if event.type() == QEvent.Type.FileOpen and isinstance(event, QFileOpenEvent):
            path = event.file() or event.url().toLocalFile()
            if path:
                self._open_files([path])
                return True
        return super().eventFilter(watched, event)
