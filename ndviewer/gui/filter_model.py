"""Results of the tree's filter box: objects whose name matches, or whose type *is a* the
typed word (so "TimeSeries" finds every ElectricalSeries), from the full typed index."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, Qt

from ndviewer.core.model.catalog import Catalog
from ndviewer.core.model.index import FileIndex, IndexEntry
from ndviewer.gui.tree_model import PATH_ROLE, format_shape


def match_entries(index: FileIndex, catalog: Catalog, text: str) -> list[IndexEntry]:
    """Entries whose name contains ``text``, whose type contains it, or whose type inherits
    from a type named ``text`` (case-insensitive)."""
    needle = text.strip().lower()
    if not needle:
        return []
    types_in_file = {e.neurodata_type for e in index.entries if e.neurodata_type}
    matching_types = {
        t
        for t in types_in_file
        if needle in t.lower() or any(a.lower() == needle for a in catalog.hierarchy(t))
    }
    out = []
    for entry in index.entries:
        if entry.path == "/":
            continue
        name = entry.path.rsplit("/", 1)[1].lower()
        if needle in name or entry.neurodata_type in matching_types:
            out.append(entry)
    return out


class FilterResultsModel(QAbstractTableModel):
    HEADERS = ("Path", "Type", "Shape")

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.entries: list[IndexEntry] = []

    def set_entries(self, entries: list[IndexEntry]) -> None:
        self.beginResetModel()
        self.entries = entries
        self.endResetModel()

    def rowCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.entries)

    def columnCount(self, parent=QModelIndex()) -> int:
        return len(self.HEADERS)

    def headerData(self, section: int, orientation, role=Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self.HEADERS[section]
        return None

    def data(self, index: QModelIndex, role=Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        entry = self.entries[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return (entry.path, entry.neurodata_type or "", format_shape(entry.shape))[
                index.column()
            ]
        if role in (PATH_ROLE, Qt.ItemDataRole.ToolTipRole):
            return entry.path
        return None
