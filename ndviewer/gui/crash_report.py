"""What the user sees when something unexpected goes wrong: a dialog, not a vanished window.

Expected problems (a bad file, an invalid value) arrive as ``NdviewerError`` messages where
they happen. Anything else reaching ``sys.excepthook`` is a bug of ours: it is logged with its
traceback, and a dialog says so in one sentence, names the log file and offers "Copy details"
(version, platform and traceback on the clipboard, ready for an issue). The app keeps running.
One dialog at a time: errors arriving while it is open are only logged.
"""

from __future__ import annotations

import logging
import platform
import sys
import traceback
from pathlib import Path
from types import TracebackType

from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QWidget

log = logging.getLogger("ndviewer")


def details_text(
    exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None
) -> str:
    """Versions and the traceback, as pasted into a bug report."""
    from ndviewer import __version__

    lines = [
        f"ndviewer {__version__}, Python {platform.python_version()}, {platform.platform()}",
        "",
        *traceback.format_exception(exc_type, exc, tb),
    ]
    return "\n".join(line.rstrip("\n") for line in lines)


class CrashReporter:
    """``sys.excepthook`` replacement bound to the main window (see module doc)."""

    def __init__(self, parent: QWidget, log_path: Path | None) -> None:
        self.parent = parent
        self.log_path = log_path
        self.showing = False
        self.last_details: str | None = None

    def install(self) -> None:
        sys.excepthook = self

    def __call__(
        self, exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None
    ) -> None:
        log.error("uncaught error", exc_info=(exc_type, exc, tb))
        self.last_details = details_text(exc_type, exc, tb)
        if self.showing:
            return
        self.showing = True
        try:
            self._show(exc)
        finally:
            self.showing = False

    def _show(self, exc: BaseException) -> None:
        from PySide6.QtWidgets import QMessageBox  # built on first use, not at every start

        box = QMessageBox(self.parent)
        box.setIcon(QMessageBox.Icon.Warning)
        box.setWindowTitle("Unexpected error")
        box.setText(
            "ndviewer ran into an unexpected error and stopped that action; your files were "
            "not changed and you can keep working."
        )
        where = f"The details are in the log file:\n{self.log_path}" if self.log_path else ""
        box.setInformativeText(f"{type(exc).__name__}: {exc}\n\n{where}".strip())
        box.setDetailedText(self.last_details or "")
        copy = box.addButton("Copy details", QMessageBox.ButtonRole.ActionRole)
        box.addButton(QMessageBox.StandardButton.Close)
        copy.clicked.disconnect()  # keep the box open after copying
        copy.clicked.connect(lambda: QGuiApplication.clipboard().setText(self.last_details or ""))
        box.exec()
