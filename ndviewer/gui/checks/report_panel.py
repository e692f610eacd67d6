"""The Report panel: what ``ndviewer check`` found, grouped by severity, then by object.

Shown under the tree. Clicking a finding selects its object in the tree and, for a metadata
field, opens the metadata form with that field focused (``FileTab`` does both on
``finding_activated``). The checks run in a worker; this panel only shows their progress and
result. "Run NWB Inspector" asks for nwbinspector's opinion too (run in a subprocess).
"""

from __future__ import annotations

import html

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ndviewer.core.checks.findings import SEVERITIES, Finding
from ndviewer.gui.checks.badges import SEVERITY_COLORS, severity_dot

FINDING_ROLE = Qt.ItemDataRole.UserRole + 7
_TITLES = {"error": "Errors", "warning": "Warnings", "info": "Suggestions"}
_ONE = {"error": "error", "warning": "warning", "info": "suggestion"}


def count_text(counts: dict[str, int]) -> str:
    """``1 error, 3 warnings, 0 suggestions``."""
    return ", ".join(
        f"{counts.get(s, 0)} {_ONE[s] if counts.get(s, 0) == 1 else _TITLES[s].lower()}"
        for s in SEVERITIES
    )


#: What the detail box says until a finding is selected.
DETAIL_HINT = (
    "<span style='color:#7b8793'>Select a finding to read it in full here; "
    "click it to go to the object.</span>"
)


class ReportPanel(QWidget):
    """Findings by severity and object, with progress while the checks run.

    Signals
    -------
    finding_activated(str, str)
        The user picked a finding (or an object row): its object path and field ("" if none).
    inspector_requested()
        The user asked to run nwbinspector.
    """

    finding_activated = Signal(str, str)
    inspector_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.findings: list[Finding] = []
        self.title = QLabel("<b>Checks</b>", self)
        self.summary = QLabel("waiting for the index…", self)
        self.summary.setStyleSheet("color: palette(placeholder-text);")  # readable in both themes
        self.progress = QProgressBar(self)
        self.progress.setRange(0, 100)
        self.progress.setMaximumHeight(14)
        self.progress.setTextVisible(False)
        self.progress.hide()
        self.inspector_button = QPushButton("Run NWB Inspector", self)
        self.inspector_button.setToolTip(
            "Run nwbinspector (in a separate process) and add its findings, pinned to the "
            "same objects; available when nwbinspector is installed"
        )
        self.inspector_button.setEnabled(False)
        self.inspector_button.clicked.connect(self.inspector_requested.emit)

        self.tree = QTreeWidget(self)
        self.tree.setHeaderLabels(["Finding", "Field", "Check"])
        self.tree.setUniformRowHeights(True)
        self.tree.setAlternatingRowColors(True)
        self.tree.setRootIsDecorated(True)
        self.tree.header().setStretchLastSection(False)
        self.tree.setColumnWidth(0, 330)
        self.tree.setColumnWidth(1, 110)
        self.tree.setColumnWidth(2, 180)
        self.tree.currentItemChanged.connect(self._on_current)
        self.tree.itemActivated.connect(self._on_activated)
        self.tree.itemClicked.connect(self._on_activated)
        self.detail = QLabel(self)
        self.detail.setWordWrap(True)
        self.detail.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.detail.setStyleSheet(
            "QLabel { background: palette(alternate-base); border: 1px solid palette(mid);"
            " padding: 4px; }"
        )
        self.detail.setMinimumHeight(48)
        self.detail.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.detail.setText(DETAIL_HINT)  # an empty framed box read as something missing

        header = QHBoxLayout()
        header.addWidget(self.title)
        header.addWidget(self.summary, 1)
        header.addWidget(self.inspector_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 4, 0, 0)
        layout.addLayout(header)
        layout.addWidget(self.progress)
        layout.addWidget(self.tree, 1)
        layout.addWidget(self.detail)

    # -- state ------------------------------------------------------------------------------
    def set_running(self, stage: str, fraction: float) -> None:
        self.progress.show()
        self.progress.setValue(int(round(fraction * 100)))
        self.summary.setText(f"checking the file ({stage})…")

    def set_failed(self, message: str) -> None:
        self.progress.hide()
        self.summary.setText(html.escape(message))

    def set_inspector_available(self, available: bool) -> None:
        self.inspector_button.setEnabled(available)
        if not available:
            self.inspector_button.setToolTip(
                "nwbinspector is not installed for this Python; install it to get its opinion"
            )

    def set_findings(self, findings: list[Finding]) -> None:
        self.progress.hide()
        self.findings = list(findings)
        self._fill()

    def add_findings(self, findings: list[Finding]) -> None:
        self.findings.extend(findings)
        self._fill()

    def restyle(self) -> None:
        """The theme changed: fill the report again (its muted columns take the palette's
        colour when filled)."""
        if self.findings:
            self._fill()

    def _fill(self) -> None:
        self.tree.clear()
        counts = dict.fromkeys(SEVERITIES, 0)
        for finding in self.findings:
            counts[finding.severity] = counts.get(finding.severity, 0) + 1
        self.summary.setText(count_text(counts) if self.findings else "no findings")
        muted = self.palette().brush(QPalette.ColorRole.PlaceholderText)
        for severity in SEVERITIES:
            group = [f for f in self.findings if f.severity == severity]
            if not group:
                continue
            top = QTreeWidgetItem(self.tree, [f"{_TITLES[severity]} ({len(group)})"])
            top.setIcon(0, severity_dot(severity))
            font = top.font(0)
            font.setBold(True)
            top.setFont(0, font)
            by_path: dict[str, list[Finding]] = {}
            for finding in group:
                by_path.setdefault(finding.path, []).append(finding)
            for path in sorted(by_path):
                items = by_path[path]
                object_item = QTreeWidgetItem(top, [f"{path}  ({len(items)})"])
                object_item.setData(0, FINDING_ROLE, Finding(severity, path, "", "", ""))
                object_item.setToolTip(0, path)
                for finding in sorted(items, key=lambda f: (f.field, f.check)):
                    row = QTreeWidgetItem(
                        object_item, [finding.message, finding.field, finding.check]
                    )
                    row.setData(0, FINDING_ROLE, finding)
                    row.setToolTip(0, finding.message)
                    row.setForeground(1, muted)
                    row.setForeground(2, muted)
                object_item.setExpanded(severity != "info")
            top.setExpanded(True)

    # -- interaction ------------------------------------------------------------------------
    def _on_current(self, current: QTreeWidgetItem | None, _previous) -> None:
        finding = current.data(0, FINDING_ROLE) if current is not None else None
        if isinstance(finding, Finding) and finding.message:
            color = SEVERITY_COLORS[finding.severity]
            where = finding.path + (f" · {finding.field}" if finding.field else "")
            self.detail.setText(
                f"<span style='color:{color}; font-weight:bold'>{finding.severity}</span> "
                f"<b>{html.escape(where)}</b> <span style='color:#7b8793'>"
                f"[{html.escape(finding.check)}]</span><br>{html.escape(finding.message)}"
            )
        else:
            self.detail.setText(DETAIL_HINT)

    def _on_activated(self, item: QTreeWidgetItem, _column: int = 0) -> None:
        finding = item.data(0, FINDING_ROLE)
        if isinstance(finding, Finding):
            self.finding_activated.emit(finding.path, finding.field)

    def select_first(self, severity: str) -> None:
        """Make the first finding of ``severity`` current (screenshots, keyboard users)."""
        for row in range(self.tree.topLevelItemCount()):
            top = self.tree.topLevelItem(row)
            object_item = top.child(0)
            if object_item is None or object_item.childCount() == 0:
                continue
            finding = object_item.child(0).data(0, FINDING_ROLE)
            if finding.severity == severity:
                self.tree.setCurrentItem(object_item.child(0))
                return
