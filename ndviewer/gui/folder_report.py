"""File ▸ Check Folder…: the batch report of a folder as a sortable table.

The same rows as ``ndviewer check|info FOLDER --report``: the run goes through the core's
batch runner (local worker processes) on a background thread, rows appear as files finish,
Cancel stops after the files in flight, and a double-click opens the file (at its first
finding when the row has one).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ndviewer.core.batch.inputs import expand_inputs
from ndviewer.core.batch.report import summarize, summary_line, write_report
from ndviewer.core.batch.runner import run_batch
from ndviewer.core.batch.tasks import TASKS

COLUMNS = ("Status", "File", "Summary", "Problems")
_STATUS_TEXT = {"ok": "ok", "problems": "problems", "error": "unreadable"}
_STATUS_ORDER = {"error": 0, "problems": 1, "ok": 2}
_STATUS_COLORS = {"error": "#c0392b", "problems": "#b7791f"}


def row_summary(row: dict[str, Any]) -> str:
    """A short description of a row for the Summary column."""
    if row.get("status") == "error":
        return ""
    parts = []
    if row.get("findings") is not None:
        parts.append(f"{len(row['findings'])} finding{'s' if len(row['findings']) != 1 else ''}")
    if row.get("nwb_version"):
        parts.append(f"NWB {row['nwb_version']}")
    if row.get("series") is not None:
        parts.append(f"{row['series']} series")
    if row.get("duration_s"):
        parts.append(f"{row['duration_s']:g} s")
    return ", ".join(parts)


def row_problems(row: dict[str, Any]) -> list[str]:
    if row.get("status") == "error":
        return [row.get("error") or "unreadable"]
    if row.get("findings"):
        return [f"{f.get('path', '')}: {f.get('message', '')}" for f in row["findings"]]
    return list(row.get("problems") or [])


def without_file_name(text: str, file: str) -> str:
    """A problem sentence without the file's path, which its row already shows."""
    if text.startswith(f"{file}: "):
        return text[len(file) + 2 :]
    return text.replace(f" {file}:", ":").replace(f" {file}", "")


def first_finding_path(row: dict[str, Any]) -> str | None:
    for finding in row.get("findings") or []:
        if finding.get("path"):
            return finding["path"]
    return None


class _SortItem(QTableWidgetItem):
    """Sorts by a key (status by severity) instead of the text."""

    def __init__(self, text: str, key: Any) -> None:
        super().__init__(text)
        self.key = key

    def __lt__(self, other: QTableWidgetItem) -> bool:
        if isinstance(other, _SortItem):
            return self.key < other.key
        return super().__lt__(other)


class _Relay(QObject):
    row = Signal(object)
    finished = Signal(object)


class FolderReportDialog(QDialog):
    """Runs a batch over a folder and shows its rows; ``open_file(path, object_path)`` is
    called on a double-click."""

    def __init__(
        self,
        open_file: Callable[[str, str | None], None],
        folder: str | os.PathLike | None = None,
        parent: QWidget | None = None,
        jobs: int | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Check folder")
        self.resize(1000, 560)
        self.open_file = open_file
        self.jobs = jobs or (os.cpu_count() or 1)
        self.rows: list[dict[str, Any]] = []
        self._stop: threading.Event | None = None
        self._thread: threading.Thread | None = None
        self._relay = _Relay(self)
        self._relay.row.connect(self._add_row)
        self._relay.finished.connect(self._finished)

        self.folder_label = QLabel(self)
        self.command = QComboBox(self)
        for name in ("check", "info"):
            if name in TASKS:
                self.command.addItem(f"{name}", name)
        choose = QPushButton("Folder…", self)
        choose.clicked.connect(self._choose_folder)
        self.run_button = QPushButton("Run", self)
        self.run_button.clicked.connect(self.run)
        top = QHBoxLayout()
        top.addWidget(QLabel("Run", self))
        top.addWidget(self.command)
        top.addWidget(QLabel("over", self))
        top.addWidget(self.folder_label, 1)
        top.addWidget(choose)
        top.addWidget(self.run_button)

        self.table = QTableWidget(0, len(COLUMNS), self)
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.verticalHeader().setVisible(False)
        self.table.setWordWrap(False)
        self.table.setAlternatingRowColors(True)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        self.table.setColumnWidth(1, 360)
        self.table.cellDoubleClicked.connect(self._open_row)

        self.progress = QProgressBar(self)
        self.progress.setVisible(False)
        self.cancel_button = QPushButton("Cancel", self)
        self.cancel_button.setVisible(False)
        self.cancel_button.clicked.connect(self.cancel)
        self.status = QLabel("Choose a folder, then Run. Double-click a row to open the file.")
        self.save_button = QPushButton("Save Report…", self)
        self.save_button.setEnabled(False)
        self.save_button.clicked.connect(self._save_report)
        bottom = QHBoxLayout()
        bottom.addWidget(self.status, 1)
        bottom.addWidget(self.progress)
        bottom.addWidget(self.cancel_button)
        bottom.addWidget(self.save_button)

        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.table, 1)
        layout.addLayout(bottom)
        self.folder = str(folder) if folder else ""
        self.folder_label.setText(self.folder or "(no folder chosen)")

    # -- running ----------------------------------------------------------------------------
    def _choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Folder of NWB files", self.folder)
        if folder:
            self.folder = folder
            self.folder_label.setText(folder)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def run(self) -> None:
        """Start the run over the chosen folder (the rows arrive as files finish)."""
        if self.running or not self.folder:
            return
        items, problems = expand_inputs([self.folder])
        if not items:
            self.status.setText(problems[0] if problems else "No NWB files there.")
            return
        command = self.command.currentData()
        task = TASKS[command]
        self.rows = []
        self.table.setSortingEnabled(False)
        self.table.setRowCount(0)
        self.progress.setRange(0, len(items))
        self.progress.setValue(0)
        self.progress.setVisible(True)
        self.cancel_button.setVisible(True)
        self.run_button.setEnabled(False)
        self.save_button.setEnabled(False)
        self.status.setText(f"Running {command} over {len(items)} files…")
        self._stop = threading.Event()
        stop, relay, jobs = self._stop, self._relay, self.jobs

        def work() -> None:
            outcome = run_batch(
                items, task, jobs=jobs, on_row=relay.row.emit, stop=stop, start_method="spawn"
            )
            relay.finished.emit(outcome)

        self._command = command
        self._thread = threading.Thread(target=work, name="folder-report", daemon=True)
        self._thread.start()

    def cancel(self) -> None:
        if self._stop is not None:
            self._stop.set()
            self.status.setText("Stopping after the files being read…")

    def _add_row(self, row: dict[str, Any]) -> None:
        self.rows.append(row)
        k = self.table.rowCount()
        self.table.insertRow(k)
        status = row.get("status", "error")
        problems = [without_file_name(p, str(row["file"])) for p in row_problems(row)]
        try:
            shown = str(Path(row["file"]).relative_to(self.folder))
        except ValueError:  # a URL or a file outside the folder
            shown = str(row["file"])
        cells = (
            _SortItem(_STATUS_TEXT.get(status, status), _STATUS_ORDER.get(status, 0)),
            QTableWidgetItem(shown),
            QTableWidgetItem(row_summary(row)),
            _SortItem(problems[0] if problems else "", len(problems)),
        )
        cells[1].setData(Qt.ItemDataRole.UserRole, row)
        cells[1].setToolTip(str(row["file"]))
        if status in _STATUS_COLORS:
            cells[0].setForeground(QColor(_STATUS_COLORS[status]))
        if problems:
            cells[3].setToolTip("\n".join(problems[:40]))
        for column, item in enumerate(cells):
            self.table.setItem(k, column, item)
        self.progress.setValue(len(self.rows))

    def _finished(self, outcome: Any) -> None:
        self.progress.setVisible(False)
        self.cancel_button.setVisible(False)
        self.run_button.setEnabled(True)
        self.save_button.setEnabled(bool(self.rows))
        self.table.setSortingEnabled(True)
        self.table.sortItems(0, Qt.SortOrder.AscendingOrder)
        text = summary_line(summarize(self.rows))
        self.status.setText(("Stopped: " if outcome.interrupted else "") + text)

    def wait(self, timeout: float = 60.0) -> None:
        """Tests: block until the run's thread has ended."""
        if self._thread is not None:
            self._thread.join(timeout)

    # -- rows -------------------------------------------------------------------------------
    def _open_row(self, k: int, _column: int) -> None:
        row = self.table.item(k, 1).data(Qt.ItemDataRole.UserRole)
        if row and row.get("status") != "error":
            self.open_file(row["file"], first_finding_path(row))

    def _save_report(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self,
            "Save report",
            str(Path(self.folder) / f"{self._command}-report.html"),
            "HTML (*.html);;CSV (*.csv);;JSON (*.json)",
        )
        if path:
            write_report(path, self._command, self.rows, summarize(self.rows))
            self.status.setText(f"Saved {path}")

    def closeEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        self.cancel()
        super().closeEvent(event)
