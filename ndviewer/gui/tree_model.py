"""The file tree as a Qt item model over the core's lazy nodes.

Children are fetched in batches when a branch is expanded or scrolled (``fetchMore``), and a
node is read only when its row is painted, so a group of 10 000 objects opens as fast as one
of ten. The model itself never reads HDF5: a row painted for the first time shows its name and
asks the :class:`~ndviewer.gui.tree_reader.TreeReader` for the rest (details and member names,
read off the GUI thread with a timeout), and is repainted when they come back. Roles, icons
and tooltips live here, not in the core node.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Callable, Iterator
from typing import Any

from PySide6.QtCore import QAbstractItemModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QBrush, QColor, QFont

from ndviewer.core.model.catalog import Catalog
from ndviewer.core.model.families import BROKEN, DATASET, GROUP, LINK, Family, family_of
from ndviewer.core.model.files import NwbFile
from ndviewer.core.model.nodes import (
    BROKEN_LINK,
    DAMAGE_ERRORS,
    EXTERNAL_LINK,
    SOFT_LINK,
    UNREADABLE,
    Node,
)
from ndviewer.gui import theme
from ndviewer.gui.checks.badges import badged_icon, worst_by_path
from ndviewer.gui.icons import family_icon
from ndviewer.gui.tree_reader import TreeReader

log = logging.getLogger(__name__)

BATCH = 1000
PATH_ROLE = Qt.ItemDataRole.UserRole + 1
# Roles as plain ints: ``data`` is called for every cell and role several times per paint
# (~2,700 calls to show a tree of 90 rows), and an attribute look-up on a Qt enum costs more
# than the rest of an unanswered call.
_DISPLAY = int(Qt.ItemDataRole.DisplayRole)
_DECORATION = int(Qt.ItemDataRole.DecorationRole)
_TOOLTIP = int(Qt.ItemDataRole.ToolTipRole)
_FOREGROUND = int(Qt.ItemDataRole.ForegroundRole)
_FONT = int(Qt.ItemDataRole.FontRole)
_PATH = int(PATH_ROLE)
#: The roles this model answers; the item delegate also asks every cell for its alignment,
#: background, check state and size hint, half of all calls, which end at the first line.
_ANSWERED_ROLES = frozenset({_DISPLAY, _DECORATION, _TOOLTIP, _FOREGROUND, _FONT, _PATH})
NAME, TYPE, SHAPE, DTYPE = range(4)
HEADERS = ("Name", "Type", "Shape", "Data type")
# (light theme, dark theme): the light blue and red are too dark to read on the dark
# palette's grey-blue base, so each brush has a lighter twin there.
_GREY_BRUSHES = (QBrush(QColor("#7b8793")), QBrush(QColor("#9aa7b4")))
_RED_BRUSHES = (QBrush(QColor("#c0392b")), QBrush(QColor("#ff7b6b")))
_LINK_BRUSHES = (QBrush(QColor("#2874a6")), QBrush(QColor("#7cc4ff")))


def _brush(pair: tuple[QBrush, QBrush]) -> QBrush:
    return pair[1] if theme.is_dark() else pair[0]


class TreeItem:
    """A node's place in the view: its parent, row and the children fetched so far."""

    __slots__ = ("node", "parent", "row", "children", "_child_names", "fetch_wanted")

    def __init__(self, node: Node, parent: TreeItem | None, row: int) -> None:
        self.node = node
        self.parent = parent
        self.row = row
        self.children: list[TreeItem] = []
        self._child_names: list[str] | None = None
        self.fetch_wanted = False  # expanded before its members were read

    def child_names(self) -> list[str]:
        if self._child_names is None:
            try:
                self._child_names = self.node.child_names()
            except DAMAGE_ERRORS as exc:
                log.warning("cannot list %s: %s", self.node.path, exc)
                self._child_names = []
        return self._child_names

    @property
    def can_fetch_more(self) -> bool:
        return len(self.children) < len(self.child_names())


def format_shape(shape: tuple[int, ...] | None) -> str:
    if shape is None:
        return ""
    if len(shape) == 0:
        return "scalar"
    return "(" + ", ".join(f"{n:,}" for n in shape) + (",)" if len(shape) == 1 else ")")


class FileTreeModel(QAbstractItemModel):
    """Name, type, shape and dtype of every object, fetched lazily."""

    def __init__(self, file: NwbFile, parent=None, reader: TreeReader | None = None) -> None:
        super().__init__(parent)
        self.file = file
        self.reader = reader or TreeReader(parent=self)
        self.reader.loaded.connect(self._rows_read)
        self.catalog: Catalog = file.catalog
        self._root = TreeItem(file.root, None, 0)
        # the invisible root holds one visible item: the file itself
        self._invisible = TreeItem(file.root, None, 0)
        self._invisible.children = [self._root]
        self._invisible._child_names = [""]
        #: The most serious check finding per object path (badges on the icons).
        self.worst_finding: dict[str, str] = {}
        self.finding_lines: dict[str, list[str]] = {}

    def set_findings(self, findings) -> None:
        """Badge the objects that have check findings (``core.checks`` findings); the view
        repaints to show them (``data`` is asked again on paint)."""
        self.worst_finding = worst_by_path(findings)
        self.finding_lines = {}
        for finding in findings:
            label = f"{finding.severity}: {finding.message}"
            self.finding_lines.setdefault(finding.path, []).append(label)

    # -- structure --------------------------------------------------------------------------
    def _item(self, index: QModelIndex | QPersistentModelIndex) -> TreeItem:
        if index.isValid():
            return index.internalPointer()
        return self._invisible

    def index(self, row: int, column: int, parent=QModelIndex()) -> QModelIndex:
        parent_item = self._item(parent)
        if 0 <= row < len(parent_item.children) and 0 <= column < len(HEADERS):
            return self.createIndex(row, column, parent_item.children[row])
        return QModelIndex()

    def parent(self, index=QModelIndex()) -> QModelIndex:  # type: ignore[override]
        if not index.isValid():
            return QModelIndex()
        item: TreeItem = index.internalPointer()
        parent_item = item.parent
        if parent_item is None:
            return QModelIndex()
        return self.createIndex(parent_item.row, 0, parent_item)

    def rowCount(self, parent=QModelIndex()) -> int:
        if parent.isValid() and parent.column() != 0:
            return 0
        return len(self._item(parent).children)

    def columnCount(self, parent=QModelIndex()) -> int:
        return len(HEADERS)

    def hasChildren(self, parent=QModelIndex()) -> bool:
        item = self._item(parent)
        if item is self._invisible:
            return True
        if not self._ready(item):
            return False  # asked for; the row is updated when it is read
        try:
            node = item.node
            if node.kind in (SOFT_LINK, BROKEN_LINK, UNREADABLE):
                return False
            if not node.is_group:
                return False
        except DAMAGE_ERRORS:  # e.g. "too many links" from a soft-link cycle
            return False
        return bool(item.children) or bool(item.child_names())

    def canFetchMore(self, parent) -> bool:
        item = self._item(parent)
        if item is self._invisible:
            return False
        if not self._ready(item):
            item.fetch_wanted = True
            return False
        try:
            return (
                item.node.is_group
                and item.node.kind not in (SOFT_LINK, BROKEN_LINK, UNREADABLE)
                and item.can_fetch_more
            )
        except DAMAGE_ERRORS:
            return False

    def fetchMore(self, parent) -> None:
        item = self._item(parent)
        if not self._ready(item):
            item.fetch_wanted = True
            return
        names = item.child_names()
        start = len(item.children)
        stop = min(len(names), start + BATCH)
        if stop <= start:
            return
        self.beginInsertRows(parent, start, stop - 1)
        for row in range(start, stop):
            item.children.append(TreeItem(item.node.child(names[row]), item, row))
        self.endInsertRows()

    # -- reading off the GUI thread --------------------------------------------------------
    def _ready(self, item: TreeItem) -> bool:
        """Whether ``item``'s node is read (else it is asked for, and False)."""
        node = item.node
        if node.loaded and (node.listed or not node.readable or not node.is_group):
            return True
        self.reader.request(item, node)
        return False

    def _rows_read(self, items: list) -> None:
        last = len(HEADERS) - 1
        for item in items:
            if item.parent is None and item is not self._root:
                continue
            top = self.createIndex(item.row, 0, item)
            self.dataChanged.emit(top, self.createIndex(item.row, last, item))
            if item.fetch_wanted:
                item.fetch_wanted = False
                if self.canFetchMore(top):
                    self.fetchMore(top)

    # -- look-ups ---------------------------------------------------------------------------
    def shown_rows(
        self, is_expanded: Callable[[QModelIndex], bool], limit: int
    ) -> Iterator[tuple[int, tuple[str, ...], bool]]:
        """(depth, the four texts, whether the type is drawn bold) of the rows a view shows,
        at most ``limit`` of them, walked without a model index per cell (for the column
        widths: ``tree_columns``)."""
        pending: list[tuple[TreeItem, int]] = [(self._root, 0)]
        while pending and limit > 0:
            item, depth = pending.pop()
            limit -= 1
            texts = tuple(
                str(self.data(self.createIndex(item.row, column, item), _DISPLAY) or "")
                for column in range(len(HEADERS))
            )
            # an unread node's type is not asked for (that would read it here)
            yield depth, texts, self._ready(item) and self._type_unknown(item.node)
            if item.children and is_expanded(self.createIndex(item.row, 0, item)):
                pending.extend((child, depth + 1) for child in reversed(item.children))

    def _type_unknown(self, node: Node) -> bool:
        """Whether the node's type is drawn bold: typed, but not in the file's catalogue."""
        return (
            node.readable
            and bool(node.neurodata_type)
            and not self.catalog.knows(node.neurodata_type)
        )

    def root_index(self) -> QModelIndex:
        return self.createIndex(0, 0, self._root)

    def index_for_path(self, path: str) -> QModelIndex:
        """Fetch down to ``path`` and return its index (invalid if it does not exist).

        A jump the user asked for: the groups on the way and the target are read here, on
        the calling thread, if the reader has not read them yet (a few small reads).
        """
        index = self.root_index()
        item = self._root
        for part in [p for p in path.split("/") if p]:
            if not (item.node.loaded and item.node.listed):
                item.node.load_for_tree()
            names = item.child_names()
            if part not in names:
                return QModelIndex()
            row = names.index(part)
            while len(item.children) <= row:
                self.fetchMore(index)
            item = item.children[row]
            index = self.createIndex(row, 0, item)
        if not (item.node.loaded and item.node.listed):
            item.node.load_for_tree()  # the target itself, so that it can be expanded
        return index

    def node(self, index: QModelIndex) -> Node | None:
        if not index.isValid():
            return None
        return index.internalPointer().node

    # -- presentation -----------------------------------------------------------------------
    def headerData(self, section: int, orientation, role=Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return HEADERS[section]
        return None

    def family(self, node: Node) -> Family:
        if node.kind in (BROKEN_LINK, UNREADABLE):
            return BROKEN
        family = family_of(node.neurodata_type, self.catalog)
        if family is not None:
            return family
        if node.kind in (SOFT_LINK, EXTERNAL_LINK):
            return LINK
        return GROUP if node.is_group else DATASET

    def data(self, index: QModelIndex, role: int = _DISPLAY) -> Any:
        if role not in _ANSWERED_ROLES or not index.isValid():
            return None
        item: TreeItem = index.internalPointer()
        node = item.node
        column = index.column()
        if not self._ready(item):
            return self._placeholder(item, column, role)
        try:
            return self._data(item, node, column, role)
        except DAMAGE_ERRORS as exc:
            log.warning("cannot describe %s: %s", node.path, exc)
            if role == _DISPLAY and column == NAME:
                return node.name or str(self.file.path.name)
            if role == _TOOLTIP:
                return f"{node.path}: unreadable ({exc})"
            return None

    def _placeholder(self, item: TreeItem, column: int, role) -> Any:
        """What a row shows until its node is read: its name, greyed, and its path."""
        node = item.node
        if role == _DISPLAY and column == NAME:
            return node.name or self.file.path.name
        if role == _FOREGROUND:
            return _brush(_GREY_BRUSHES)
        if role in (_PATH, _TOOLTIP):
            return node.path
        return None

    def _data(self, item: TreeItem, node: Node, column: int, role) -> Any:
        if role == _DISPLAY:
            if column == NAME:
                name = node.name or self.file.path.name
                if node.kind in (SOFT_LINK, EXTERNAL_LINK, BROKEN_LINK):
                    return f"{name} → {node.link_target}"
                return name
            if column == TYPE:
                if node.neurodata_type:
                    return node.neurodata_type
                if node.kind == BROKEN_LINK:
                    return "broken link"
                if node.kind == UNREADABLE:
                    return "unreadable"
                return ""
            if column == SHAPE:
                if not node.readable:
                    return ""
                if node.is_dataset:
                    return format_shape(node.shape)
                count = len(item.child_names()) if node.kind != SOFT_LINK else None
                return "" if count is None else f"{count} item{'s' if count != 1 else ''}"
            if column == DTYPE:
                return node.dtype_name if node.readable and node.is_dataset else ""
            return None
        if role == _DECORATION and column == NAME:
            severity = self.worst_finding.get(node.path)
            if severity is not None:
                return badged_icon(self.family(node), severity)
            return family_icon(self.family(node))
        if role == _TOOLTIP:
            return self.tooltip(item)
        if role == _FOREGROUND:
            if not node.readable:
                return _brush(_RED_BRUSHES)
            if column == NAME and node.kind in (SOFT_LINK, EXTERNAL_LINK):
                return _brush(_LINK_BRUSHES)
            if column in (SHAPE, DTYPE) or (column == NAME and not node.neurodata_type):
                return _brush(_GREY_BRUSHES) if column != NAME else None
            return None
        if role == _FONT and column == TYPE and node.neurodata_type:
            font = QFont()
            font.setBold(self._type_unknown(node))
            return font
        if role == _PATH:
            return node.path
        return None

    def tooltip(self, item: TreeItem) -> str:
        """The spec's doc: the type's own, else what the parent type says of this member."""
        node = item.node
        lines = [f"<b>{html.escape(node.path)}</b>"]
        if not node.readable:
            lines.append(html.escape(node.error or "broken link"))
            return "<br>".join(lines)
        if node.link_target:
            lines.append(f"link to {html.escape(node.link_target)}")
        doc = ""
        if node.neurodata_type:
            chain = " → ".join(self.catalog.hierarchy(node.neurodata_type))
            lines.append(f"<i>{html.escape(chain)}</i>")
            doc = self.catalog.doc(node.neurodata_type)
            if not self.catalog.knows(node.neurodata_type):
                doc = (
                    f"Type {node.neurodata_type} (namespace {node.namespace}) is not "
                    "described by the file's cached specification."
                )
        if not doc and item.parent is not None:
            member = self.catalog.member(item.parent.node.neurodata_type, node.name)
            doc = member.doc if member else ""
        if doc:
            lines.append(html.escape(doc[:600] + ("…" if len(doc) > 600 else "")))
        found = self.finding_lines.get(node.path)
        if found:
            shown = [html.escape(line) for line in found[:5]]
            more = f"<br>… and {len(found) - 5} more" if len(found) > 5 else ""
            lines.append("<b>Check findings:</b><br>" + "<br>".join(shown) + more)
        return "<p style='white-space:pre-wrap'>" + "<br>".join(lines) + "</p>"
