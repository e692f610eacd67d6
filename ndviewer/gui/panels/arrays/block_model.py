"""A spreadsheet model over one 2-D slice of a dataset that holds only the blocks on screen.

The table view asks ``data()`` for every visible cell on every paint; the model answers from
blocks of :data:`BLOCK_ROWS` × :data:`BLOCK_COLS` formatted cells that a worker read, and
otherwise shows an empty cell and asks its owner to fetch the visible rectangle. At most
:data:`MAX_BLOCKS` blocks are kept (oldest dropped), so memory is bounded by the screen, not
by the dataset.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt

BLOCK_ROWS = 128
BLOCK_COLS = 32
MAX_BLOCKS = 96

ModelIndex = QModelIndex | QPersistentModelIndex


class BlockTableModel(QAbstractTableModel):
    """``n_rows`` × ``n_cols`` cells filled from blocks handed in by :meth:`put_block`.

    Parameters
    ----------
    n_rows, n_cols
        The slice's size.
    on_missing
        Called (once per paint at most, by the owner's timer) when a shown cell has no block.
    """

    def __init__(self, n_rows: int, n_cols: int, on_missing: Callable[[], None]) -> None:
        super().__init__()
        self.n_rows = n_rows
        self.n_cols = n_cols
        self._on_missing = on_missing
        self._blocks: OrderedDict[tuple[int, int], list[list[str]]] = OrderedDict()

    def rowCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else self.n_rows

    def columnCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else self.n_cols

    def data(self, index: ModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role != Qt.ItemDataRole.DisplayRole or not index.isValid():
            return None
        row, col = index.row(), index.column()
        block = self._blocks.get((row // BLOCK_ROWS, col // BLOCK_COLS))
        if block is None:
            self._on_missing()
            return ""
        self._blocks.move_to_end((row // BLOCK_ROWS, col // BLOCK_COLS))
        return block[row % BLOCK_ROWS][col % BLOCK_COLS]

    def headerData(  # noqa: N802
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if role == Qt.ItemDataRole.DisplayRole:
            return str(section)
        return None

    def has_block(self, key: tuple[int, int]) -> bool:
        return key in self._blocks

    @property
    def n_blocks(self) -> int:
        return len(self._blocks)

    def put_block(self, key: tuple[int, int], cells: list[list[str]]) -> None:
        """Store one block read by a worker and repaint its cells."""
        self._blocks[key] = cells
        self._blocks.move_to_end(key)
        while len(self._blocks) > MAX_BLOCKS:
            self._blocks.popitem(last=False)
        r0, c0 = key[0] * BLOCK_ROWS, key[1] * BLOCK_COLS
        r1 = min(self.n_rows, r0 + BLOCK_ROWS) - 1
        c1 = min(self.n_cols, c0 + BLOCK_COLS) - 1
        if r1 >= r0 and c1 >= c0:
            self.dataChanged.emit(self.index(r0, c0), self.index(r1, c1))
