"""File → Open URL…: one line for an http(s) URL or a DANDI reference.

Opening fetches nothing here: the text is handed to ``MainWindow.open_path``, whose tab
resolves and reads it in a worker (a slow or dead server never freezes the window). For a
dandiset, "List NWB files" asks the DANDI API in a worker and lists the files to pick one.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ndviewer.core.errors import NdviewerError
from ndviewer.core.model.storage import is_remote
from ndviewer.core.model.storage.dandi import dandiset_parts, nwb_assets
from ndviewer.gui.workers import WorkerPool

HINT = (
    "An <b>http(s)://</b> address of an NWB file, or a DANDI reference: "
    "<code>DANDI:000123/0.230101.1234/sub-x/sub-x_ses-y.nwb</code>, an asset id, or a "
    "dandiarchive.org dandiset link.<br>Only the parts you look at are downloaded (and kept in "
    "the cache for next time). Remote files open read-only."
)


class OpenUrlDialog(QDialog):
    def __init__(self, parent: QWidget | None = None, pool: WorkerPool | None = None) -> None:
        super().__init__(parent)
        self.pool = pool
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
        self.list_button = QPushButton("List NWB files", self)
        self.list_button.setToolTip("Ask the DANDI archive which NWB files the dandiset holds")
        self.list_button.clicked.connect(self.list_files)
        self.files = QListWidget(self)
        self.files.hide()
        self.files.currentItemChanged.connect(self._on_file_picked)
        self.files.itemDoubleClicked.connect(lambda _item: self.accept())
        self.status = QLabel(self)
        self.status.setWordWrap(True)
        self.status.hide()
        line = QHBoxLayout()
        line.addWidget(self.edit, 1)
        line.addWidget(self.list_button)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Address:", self))
        layout.addLayout(line)
        layout.addWidget(hint)
        layout.addWidget(self.status)
        layout.addWidget(self.files, 1)
        layout.addWidget(self.buttons)
        self.edit.textChanged.connect(self._validate)
        self._validate()
        self._fit_height()

    def _fit_height(self) -> None:
        """Exactly as tall as the wrapped text needs at the dialog's width (no empty band)."""
        width = max(self.width(), self.minimumWidth())
        # + one line: rich-text labels under-report their wrapped height by about a line
        self.setFixedHeight(self.layout().totalHeightForWidth(width) + self.fontMetrics().height())

    def location(self) -> str:
        return self.edit.text().strip()

    def _validate(self) -> None:
        self.buttons.button(QDialogButtonBox.StandardButton.Open).setEnabled(
            is_remote(self.location())
        )
        self.list_button.setEnabled(
            self.pool is not None and dandiset_parts(self.location()) is not None
        )

    def list_files(self) -> None:
        """The dandiset's NWB files (asked in a worker), to pick one."""
        if self.pool is None:
            return
        location = self.location()
        self.status.setText(f"Asking the DANDI archive about {location} …")
        self.status.show()
        self._fit_height()
        self.list_button.setEnabled(False)
        self.pool.submit(
            f"dandi-list-{id(self)}",
            lambda _token: nwb_assets(location),
            self._show_files,
            self._list_failed,
        )

    def _show_files(self, result) -> None:
        dandiset, version, assets = result
        self.files.clear()
        for asset in assets:
            size = f"  ({asset.size / 1e9:.2f} GB)" if asset.size else ""
            item = QListWidgetItem(asset.path + size)
            item.setData(Qt.ItemDataRole.UserRole, f"DANDI:{dandiset}/{version}/{asset.path}")
            self.files.addItem(item)
        self.status.setText(
            f"DANDI:{dandiset}/{version} holds {len(assets)} NWB file"
            f"{'s' if len(assets) != 1 else ''}: pick one."
        )
        self.status.show()
        self.files.setVisible(bool(assets))
        self._validate()
        self.setMinimumHeight(0)
        self.setMaximumHeight(16777215)  # the list may grow with the window now
        self.resize(self.width(), self.sizeHint().height() + 120)

    def _list_failed(self, exc: Exception) -> None:
        self.status.setText(exc.message if isinstance(exc, NdviewerError) else str(exc))
        self._validate()

    def _on_file_picked(self, item: QListWidgetItem | None, _previous=None) -> None:
        if item is not None:
            self.edit.setText(item.data(Qt.ItemDataRole.UserRole))
