"""Offer to roll back a save that was interrupted (a journal was found next to the file).

``offer_journal_recovery`` is a dialog for the moment a file is opened; ``JournalBanner`` is
the same choice shown inside the metadata editor. Both either restore the old values from the
journal (``rollback_journal``) or keep the file as it is (``discard_journal``).

Signals (JournalBanner)
-----------------------
resolved()
    The journal was rolled back or discarded; the file may have changed.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QMessageBox, QPushButton, QWidget

from ndviewer.core.edit.journal import discard_journal, find_journal, rollback_journal
from ndviewer.core.errors import NdviewerError

ROLLED_BACK, KEPT = "rolled back", "kept"


def _run(write: Callable[[Callable[[], Any]], Any] | None, action: Callable[[], Any]) -> Any:
    return write(action) if write is not None else action()


def offer_journal_recovery(parent: QWidget | None, path: str | Path) -> str | None:
    """If ``path`` has an interrupted save, ask whether to roll it back; call before opening.

    Returns ``"rolled back"``, ``"kept"`` or None (no journal, or the user chose later).
    """
    journal = find_journal(path)
    if journal is None:
        return None
    box = QMessageBox(
        QMessageBox.Icon.Warning,
        "Interrupted save",
        f"A save of {Path(path).name} was interrupted. Each edited field holds "
        "either its old or its new value. Restore the old values?",
        parent=parent,
    )
    box.setDetailedText("\n".join(journal.describe()))
    restore = box.addButton("Restore old values", QMessageBox.ButtonRole.AcceptRole)
    keep = box.addButton("Keep current values", QMessageBox.ButtonRole.DestructiveRole)
    box.addButton("Decide later", QMessageBox.ButtonRole.RejectRole)
    box.exec()
    try:
        if box.clickedButton() is restore:
            rollback_journal(path)
            return ROLLED_BACK
        if box.clickedButton() is keep:
            discard_journal(path)
            return KEPT
    except NdviewerError as exc:
        QMessageBox.warning(parent, "Recovery failed", exc.message)
    return None


class JournalBanner(QWidget):
    """A yellow bar: "a save was interrupted" with Restore / Keep buttons."""

    resolved = Signal()

    def __init__(
        self,
        path: str | Path,
        parent: QWidget | None = None,
        write: Callable[[Callable[[], Any]], Any] | None = None,
    ) -> None:
        super().__init__(parent)
        self.path = Path(path)
        self.write = write
        self.setStyleSheet(
            "QWidget#journalBanner { background: #fdf2d0; border: 1px solid #f0d98c; }"
        )
        self.setObjectName("journalBanner")
        self.message = QLabel(self)
        self.message.setWordWrap(True)
        self.restore_button = QPushButton("Restore old values", self)
        self.keep_button = QPushButton("Keep current values", self)
        self.restore_button.clicked.connect(self.restore)
        self.keep_button.clicked.connect(self.keep)
        layout = QHBoxLayout(self)
        layout.addWidget(self.message, 1)
        layout.addWidget(self.restore_button)
        layout.addWidget(self.keep_button)
        self.update_text()

    def update_text(self) -> None:
        journal = find_journal(self.path)
        if journal is None:
            self.hide()
            return
        lines = "<br>".join(html.escape(line, quote=False) for line in journal.describe()[:4])
        self.message.setText(
            f"<b>A save of {html.escape(self.path.name)} was interrupted.</b> "
            f"Saving is blocked until you choose.<br><small>{lines}</small>"
        )

    def restore(self) -> None:
        self._resolve(lambda: rollback_journal(self.path))

    def keep(self) -> None:
        self._resolve(lambda: discard_journal(self.path))

    def _resolve(self, action: Callable[[], Any]) -> None:
        try:
            _run(self.write, action)
        except NdviewerError as exc:
            QMessageBox.warning(self, "Recovery failed", exc.message)
            return
        self.hide()
        self.resolved.emit()
