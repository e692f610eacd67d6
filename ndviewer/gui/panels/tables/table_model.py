"""A QAbstractTableModel over a core ``Table`` that reads only the rows on screen.

The view asks for cells row by row; the model answers from a small cache of row blocks and,
for blocks it does not have, shows a placeholder and asks the worker pool for them (newest
request wins, so fast scrolling through 10^6 rows never queues stale reads). Sorting and
filtering produce a new row order (a numpy array) computed off the GUI thread; the model only
maps view rows to table rows through it.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import numpy as np
from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QColor, QFont

from ndviewer.core.nwb.table_view import format_cell
from ndviewer.core.nwb.tables import (
    BOOL,
    NUMBER,
    Column,
    RaggedCell,
    RowBlock,
    Table,
)
from ndviewer.gui.workers import WorkerPool

#: Rows per cached block, and how many blocks stay cached (a few screens' worth).
BLOCK_ROWS = 128
CACHED_BLOCKS = 48
#: Blocks asked for while scrolling; older wishes are dropped when the user has moved on.
WANTED_BLOCKS = 8

LOADING_TEXT = "…"
_LINK_COLOR = QColor("#1f5fa8")
_LOADING_COLOR = QColor("#9aa5b1")

#: Role for the raw cell value (a ``RaggedCell`` preview for ragged columns).
VALUE_ROLE = Qt.ItemDataRole.UserRole + 1
#: Role for the table row number behind a view row.
TABLE_ROW_ROLE = Qt.ItemDataRole.UserRole + 2

_Index = QModelIndex | QPersistentModelIndex


def row_numbers(rows: np.ndarray | list[int], n_rows: int) -> np.ndarray:
    """Row numbers as the model keeps them: int32 below 2^31 rows (a sorted view of 10^7
    rows is then 40 MB rather than 80), else int64."""
    return np.asarray(rows, dtype=np.int32 if n_rows < 1 << 31 else np.int64)


def all_rows(n_rows: int) -> np.ndarray:
    """Every row in table order, as :func:`row_numbers` keeps them."""
    return np.arange(n_rows, dtype=row_numbers([], n_rows).dtype)


class TableModel(QAbstractTableModel):
    """Cells of a ``Table`` in a chosen row order, loaded lazily in blocks.

    Parameters
    ----------
    table : Table
        The core table.
    pool : WorkerPool
        Where block reads run.
    job_key : str
        Key prefix for this model's jobs (newest block request per key wins).

    Signals
    -------
    read_failed(Exception)
        A block of rows could not be read (the panel shows why; the cells stay empty).
    """

    read_failed = Signal(Exception)

    def __init__(self, table: Table, pool: WorkerPool, job_key: str, parent=None) -> None:
        super().__init__(parent)
        self.table = table
        self._pool = pool
        self._job_key = job_key
        self._rows = all_rows(table.n_rows)
        self._columns: list[str] = ["id", *table.column_names]
        self._blocks: OrderedDict[int, RowBlock] = OrderedDict()
        self._wanted: OrderedDict[int, None] = OrderedDict()
        self._generation = 0
        self._request_timer = QTimer(self)
        self._request_timer.setSingleShot(True)
        self._request_timer.setInterval(0)
        self._request_timer.timeout.connect(self._submit_wanted)
        self._font_link = QFont()
        self._font_link.setUnderline(True)

    # -- what is shown -----------------------------------------------------------------------
    @property
    def view_rows(self) -> np.ndarray:
        """Table row number of every view row (after filtering and sorting)."""
        return self._rows

    @property
    def columns(self) -> list[str]:
        """Shown columns, ``id`` first."""
        return list(self._columns)

    def column_of(self, section: int) -> Column | None:
        name = self._columns[section]
        return None if name == "id" else self.table.column(name)

    def set_view_rows(self, rows: np.ndarray) -> None:
        """Show these table rows, in this order (from a sort or filter)."""
        self.beginResetModel()
        self._rows = row_numbers(rows, self.table.n_rows)
        self._invalidate()
        self.endResetModel()

    def set_columns(self, names: list[str]) -> None:
        """Show these columns (``id`` is always first)."""
        self.beginResetModel()
        self._columns = ["id", *[n for n in names if n != "id"]]
        self._invalidate()
        self.endResetModel()

    def _invalidate(self) -> None:
        self._generation += 1
        self._blocks.clear()
        self._wanted.clear()
        self._pool.cancel(self._job_key)

    # -- Qt model API ------------------------------------------------------------------------
    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else int(self._rows.size)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(self._columns)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = 0) -> Any:  # noqa: N802
        if orientation == Qt.Orientation.Vertical:
            if role == Qt.ItemDataRole.DisplayRole and 0 <= section < self._rows.size:
                return str(int(self._rows[section]))
            return None
        if not 0 <= section < len(self._columns):
            return None
        name = self._columns[section]
        if role == Qt.ItemDataRole.DisplayRole:
            column = self.column_of(section)
            if column is not None and column.unit:
                return f"{name} ({column.unit})"
            return name
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._header_tooltip(section)
        return None

    def _header_tooltip(self, section: int) -> str:
        column = self.column_of(section)
        if column is None:
            return "id: the row identifiers (ElementIdentifiers)"
        kind = column.element_kind
        if column.ragged_depth:
            kind = f"{'doubly ' if column.ragged_depth == 2 else ''}ragged list of {kind}"
        if column.element_shape:
            kind += f", each of shape {column.element_shape}"
        lines = [f"{column.name}: {kind}"]
        if column.neurodata_type:
            lines.append(f"type: {column.neurodata_type}")
        if column.target_table:
            lines.append(f"rows of {column.target_table}")
        if column.description:
            lines.append(column.description)
        if column.sortable:
            lines.append("Click to sort.")
        return "\n".join(lines)

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        row, section = index.row(), index.column()
        if role == TABLE_ROW_ROLE:
            return int(self._rows[row])
        block = self._block_for(row)
        column = self.column_of(section)
        if block is None:
            if role == Qt.ItemDataRole.DisplayRole:
                return LOADING_TEXT
            if role == Qt.ItemDataRole.ForegroundRole:
                return _LOADING_COLOR
            return None
        offset = row - (row // BLOCK_ROWS) * BLOCK_ROWS
        if column is None:
            value: Any = block.ids[offset]
        else:
            value = block.cells[column.name][offset]
        if role == Qt.ItemDataRole.DisplayRole:
            return format_cell(column, value) if column is not None else str(int(value))
        if role == VALUE_ROLE:
            return value
        if role == Qt.ItemDataRole.TextAlignmentRole:
            numeric = column is None or (
                column.element_kind in (NUMBER, BOOL)
                and not column.is_ragged
                and not column.element_shape
            )
            if numeric:
                return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            return int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        if column is not None and column.is_link and value is not None:
            if role == Qt.ItemDataRole.ForegroundRole:
                return _LINK_COLOR
            if role == Qt.ItemDataRole.FontRole:
                return self._font_link
            if role == Qt.ItemDataRole.ToolTipRole:
                return "Double-click to go to the target (all targets are in the cell preview)."
        if role == Qt.ItemDataRole.ToolTipRole and isinstance(value, RaggedCell):
            return f"{value.count} values; select the cell to see them all in the preview."
        return None

    # -- lazy blocks -------------------------------------------------------------------------
    def _block_for(self, row: int) -> RowBlock | None:
        key = row // BLOCK_ROWS
        block = self._blocks.get(key)
        if block is not None:
            self._blocks.move_to_end(key)
            return block
        if key not in self._wanted:
            self._wanted[key] = None
            while len(self._wanted) > WANTED_BLOCKS:
                self._wanted.popitem(last=False)
            self._request_timer.start()
        return None

    def is_loaded(self, row: int) -> bool:
        return row // BLOCK_ROWS in self._blocks

    def _submit_wanted(self) -> None:
        if not self._wanted:
            return
        wanted = list(self._wanted)
        generation = self._generation
        table = self.table
        columns = [c for c in self._columns if c != "id"]
        blocks = {k: self._rows[k * BLOCK_ROWS : (k + 1) * BLOCK_ROWS] for k in wanted}

        def read(token) -> dict[int, RowBlock]:
            out = {}
            for key, rows in blocks.items():
                token.check()
                out[key] = table.read_block(rows, columns)
            return out

        self._pool.submit(
            self._job_key,
            read,
            lambda result: self._blocks_loaded(generation, result),
            self.read_failed.emit,
        )

    def _blocks_loaded(self, generation: int, result: dict[int, RowBlock]) -> None:
        if generation != self._generation:
            return
        for key, block in result.items():
            self._blocks[key] = block
            self._wanted.pop(key, None)
            first = key * BLOCK_ROWS
            last = min(first + BLOCK_ROWS, int(self._rows.size)) - 1
            if last >= first:
                self.dataChanged.emit(
                    self.index(first, 0), self.index(last, self.columnCount() - 1)
                )
        while len(self._blocks) > CACHED_BLOCKS:
            self._blocks.popitem(last=False)
        if self._wanted:  # wishes made while this read ran
            self._request_timer.start()
