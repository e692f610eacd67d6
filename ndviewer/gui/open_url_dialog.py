"""File → Open URL…: one line for an http(s) URL or a DANDI reference.

Nothing is fetched here: the text is handed to ``MainWindow.open_path``, whose tab resolves
and reads it in a worker (a slow or dead server never freezes the window).
"""

from __future__ import annotations

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from ndviewer.core.model.storage import is_remote

HINT = (
    "An <b>http(s)://</b> address of an NWB file, or a DANDI reference: "
    "<code>DANDI:000123/0.230101.1234/sub-x/sub-x_ses-y.nwb</code>, an asset id, or a "
    "dandiarchive.org dandiset link.<br>Only the parts you look at are downloaded (and kept in "
    "the cache for next time). Remote files open read-only."
)


class OpenUrlDialog(QDialog):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Open URL")
        self.setMinimumWidth(560)
        self.edit = QLineEdit(self)
        self.edit.setPlaceholderText("https://…  or  DANDI:000123/draft/sub-x/sub-x_ses-y.nwb")
        self.edit.setClearButtonEnabled(True)
        hint = QLabel(HINT, self)
        hint.setWordWrap(True)
        hint.setStyleSheet("color: #5d6d7e;")
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Open | QDialogButtonBox.StandardButton.Cancel, self
        )
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Address:", self))
        layout.addWidget(self.edit)
        layout.addWidget(hint)
        layout.addWidget(self.buttons)
        self.edit.textChanged.connect(self._validate)
        self._validate()
        self.setFixedHeight(self.sizeHint().height())  # one line of input: no empty band

    def location(self) -> str:
        return self.edit.text().strip()

    def _validate(self) -> None:
        self.buttons.button(QDialogButtonBox.StandardButton.Open).setEnabled(
            is_remote(self.location())
        )
