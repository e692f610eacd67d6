"""The file tree's columns: as wide as what the shown rows need, and the user may drag them.

Qt's ``ResizeToContents`` asked the item delegate for every shown cell's size hint, a Python
``data()`` call per role per cell (~5 ms of the path from launch to the painted tree), and
it forbids dragging a column border. Here the widths are measured from the rows on show (their
texts in the font each is drawn with, and their depth), when the tree is shown, when rows
arrive and when a branch opens; a column the user dragged keeps the width the user gave it.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Qt, QTimer
from PySide6.QtGui import QFont, QFontMetrics, QGuiApplication
from PySide6.QtWidgets import QHeaderView, QTreeView

from ndviewer.gui.tree_model import NAME, TYPE, FileTreeModel

#: What the delegate draws around a cell's text (Fusion: 3 px each side) and around its icon,
#: with a few pixels to spare so that no text is ever elided by a rounding.
TEXT_PADDING = 10
ICON_PADDING = 8
#: Rows measured at most per fit, from the top (Qt's own default for ResizeToContents).
MAX_MEASURED_ROWS = 1000


class ColumnFitter(QObject):
    """Fits ``columns`` of ``tree`` to its shown rows; the last one also takes the room left."""

    def __init__(self, tree: QTreeView, columns: tuple[int, ...] = (0, 1, 2, 3)) -> None:
        super().__init__(tree)
        self._tree = tree
        self._columns = columns
        self._user_sized: set[int] = set()
        self._fitting = False
        header = tree.header()
        for column in columns:
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        header.sectionResized.connect(self._on_section_resized)
        header.sectionHandleDoubleClicked.connect(self._user_sized.add)  # Qt fits it exactly
        # rows are read off the GUI thread and arrive in bursts: fit once a burst is in
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(50)
        self._timer.timeout.connect(self.fit)
        tree.expanded.connect(lambda _index: self._timer.start())

    def schedule(self) -> None:
        self._timer.start()

    def fit(self) -> None:
        widths = self.measure()
        header = self._tree.header()
        self._fitting = True
        try:
            for column, width in widths.items():
                if column not in self._user_sized and width != header.sectionSize(column):
                    header.resizeSection(column, width)
        finally:
            self._fitting = False

    def measure(self) -> dict[int, int]:
        """The width each fitted column needs for the rows on show."""
        tree, model = self._tree, self._tree.model()
        widths = {column: 0 for column in self._columns}
        if not isinstance(model, FileTreeModel):
            return widths
        plain = QFontMetrics(tree.font())
        bold_font = QFont(tree.font())
        bold_font.setBold(True)
        bold = QFontMetrics(bold_font)
        icon = max(tree.iconSize().width(), 16) + ICON_PADDING
        indentation = tree.indentation()
        first_level = 1 if tree.rootIsDecorated() else 0
        for depth, texts, type_bold in model.shown_rows(tree.isExpanded, MAX_MEASURED_ROWS):
            for column in self._columns:
                text = texts[column]
                if not text:
                    continue
                metrics = bold if column == TYPE and type_bold else plain
                width = metrics.horizontalAdvance(text) + TEXT_PADDING
                if column == NAME:
                    width += icon + (depth + first_level) * indentation
                widths[column] = max(widths[column], width)
        return widths

    def _on_section_resized(self, column: int, _old: int, _new: int) -> None:
        dragged = QGuiApplication.mouseButtons() != Qt.MouseButton.NoButton
        if dragged and not self._fitting and column in self._columns:
            self._user_sized.add(column)  # the user dragged it: it stays as they left it
