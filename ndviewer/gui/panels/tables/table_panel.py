"""The table panel: any DynamicTable (electrodes, units, trials, icephys, ROIs, extensions).

Rows are read lazily by ``TableModel``; sorting and filtering run on the worker pool and hand
back a new row order. Ragged cells show their length and first values, the cell preview below
the table shows the whole cell, and region/reference cells jump to their target row or object
(double-click, or the links in the preview).

Signals
-------
view_changed()
    The shown rows changed (after a sort or filter was applied).
copied(str)
    The selection was put on the clipboard as TSV (the text is passed along).
"""

from __future__ import annotations

import atexit
import html
import threading
from typing import Any

import numpy as np
from PySide6.QtCore import QItemSelectionModel, QModelIndex, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QAction, QGuiApplication, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMenu,
    QProgressBar,
    QSplitter,
    QTableView,
    QTextBrowser,
    QToolButton,
    QWidget,
)

from ndviewer.core.errors import NdviewerError
from ndviewer.core.export.table_csv import write_table_csv
from ndviewer.core.model.catalog import Catalog
from ndviewer.core.model.nodes import Node
from ndviewer.core.nwb.table_view import filter_rows, preview_text, sort_order, table_tsv
from ndviewer.core.nwb.tables import JumpTarget, Table, is_table_group
from ndviewer.gui.menu_button import menu_button
from ndviewer.gui.panels.base import Panel, PanelContext
from ndviewer.gui.panels.tables.table_model import (
    TABLE_ROW_ROLE,
    TableModel,
    all_rows,
    row_numbers,
)

#: Copying more rows than this at once is refused (the text would not fit a clipboard).
MAX_COPY_ROWS = 200_000

_FILTER_HINT = "e.g. > 2.5, 1..10, word, =exact, !word"
_FILTER_HELP = (
    "Numbers (also ragged cell lengths and ids): 3, > 3, >= 3, < 3, <= 3, != 3, 2..5.\n"
    "Text: word (contains, any case), =exact, !word (does not contain).\n"
    "Filters on several columns combine; press Enter or pause typing to apply."
)


def jump_to(context: PanelContext, target: JumpTarget) -> None:
    """Show ``target``: its object, at its row when it has one (the host passes the row on
    to the table panel it shows, through ``apply_options``)."""
    options = {"row": target.row} if target.row is not None else None
    context.open_path(target.path, options)


#: Tables of at least this many rows have their text columns' keys built in the background
#: as soon as they open (smaller ones build them in a blink when asked) ...
PREPARE_MIN_ROWS = 200_000
#: ... at most this many columns (the filter's column first), each only while its keys
#: dictionary-encode in this many bytes (10^7 rows of a few thousand labels: ~20 MB).
PREPARE_COLUMNS = 2
PREPARE_MAX_BYTES = 48 * 1024 * 1024

#: Background key builds under way: stopped and waited for when the interpreter exits.
_PREPARING: set[tuple[threading.Event, threading.Thread]] = set()


@atexit.register
def _stop_preparing_at_exit() -> None:
    """Stop background key builds of panels never shut down (a script, a test) before the
    interpreter exits: a daemon thread ended during finalization while it holds h5py's lock
    would leave the main thread waiting for that lock forever."""
    running = list(_PREPARING)
    for stop, _thread in running:
        stop.set()
    for _stop, thread in running:
        thread.join(timeout=5.0)


#: Height the cell preview unfolds to when a cell is first selected (pixels).
PREVIEW_HEIGHT = 140


class TablePanel(Panel):
    """A sortable, filterable, lazily loaded view of one DynamicTable."""

    title = "Table"

    view_changed = Signal()
    copied = Signal(str)
    exported = Signal(str)
    #: (request number, fraction of the keys read): sent by the sort/filter job.
    _rows_progress = Signal(int, float)

    def __init__(self, context: PanelContext, node: Node, parent: QWidget | None = None) -> None:
        super().__init__(context, node, parent)
        self.table = Table.from_node(node)
        self.model = TableModel(self.table, context.pool, self.job_key("blocks"), self)
        self.model.read_failed.connect(
            lambda exc: self._show_message(f"Cannot read rows: {exc}", error=True)
        )
        self._filters: dict[str, str] = {}
        self._sort: tuple[str, bool] | None = None
        #: The filters and order of the rows on screen (restored when a job is cancelled).
        self._shown: tuple[dict[str, str], tuple[str, bool] | None] = ({}, None)
        self._rows_request = 0
        self._preview_target: tuple[int, int] | None = None
        self._preview_targets: list[JumpTarget] = []
        self._stop_preparing = threading.Event()
        self._preparing: threading.Thread | None = None
        self._prepare_asked = False
        self._build()

    def apply_options(self, options: dict) -> None:
        """``{"row": n}`` selects and shows row ``n`` (e.g. the target of a region cell)."""
        row = options.get("row")
        if row is not None:
            QTimer.singleShot(0, lambda: self.select_table_row(int(row)))

    @classmethod
    def priority(cls, node: Node, catalog: Catalog) -> int:
        return 100 if is_table_group(node.h5obj()) else -1

    # -- layout ------------------------------------------------------------------------------
    def _build(self) -> None:
        table = self.table
        self.title_label = QLabel()
        self.title_label.setTextFormat(Qt.TextFormat.RichText)
        self.title_label.setText(
            f"<b>{html.escape(table.name)}</b> <span style='color:#5d6d7e'>"
            f"{html.escape(table.neurodata_type)} · {table.n_rows:,} rows · "
            f"{len(table.columns)} columns</span>"
        )
        self.title_label.setToolTip(table.description or table.path)

        self.filter_column = QComboBox()
        self.filter_column.addItems(["id", *[c.name for c in table.columns if c.sortable]])
        self.filter_column.setToolTip("Column to filter on")
        if self.filter_column.count() > 1:
            self.filter_column.setCurrentIndex(1)  # the first real column, not id
        self.filter_column.currentTextChanged.connect(self._show_filter_of)
        self.filter_edit = QLineEdit()
        self.filter_edit.setPlaceholderText(_FILTER_HINT)
        self.filter_edit.setToolTip(_FILTER_HELP)
        self.filter_edit.setClearButtonEnabled(True)
        self.filter_edit.setMinimumWidth(220)
        self.filter_edit.returnPressed.connect(self._apply_filter_text)
        self._filter_timer = QTimer(self)
        self._filter_timer.setSingleShot(True)
        self._filter_timer.setInterval(400)
        self._filter_timer.timeout.connect(self._apply_filter_text)
        self.filter_edit.textEdited.connect(lambda _text: self._filter_timer.start())

        self.columns_button = menu_button("Columns")
        self.columns_menu = QMenu(self.columns_button)
        self._column_actions: dict[str, QAction] = {}
        for column in table.columns:
            action = self.columns_menu.addAction(column.name)
            action.setCheckable(True)
            action.setChecked(True)
            action.toggled.connect(self._columns_changed)
            self._column_actions[column.name] = action
        self.columns_button.setMenu(self.columns_menu)

        self.copy_action = QAction("Copy", self)
        self.copy_action.setShortcut(QKeySequence.StandardKey.Copy)
        self.copy_action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.copy_action.setToolTip("Copy the selected cells as tab-separated text")
        self.copy_action.triggered.connect(self.copy_selection)
        self.addAction(self.copy_action)
        copy_button = QToolButton()
        copy_button.setDefaultAction(self.copy_action)
        self.export_button = QToolButton()
        self.export_button.setText("Export CSV…")
        self.export_button.setToolTip("Save the rows as shown (filtered and sorted) as CSV")
        self.export_button.clicked.connect(self._ask_export)

        self.status_label = QLabel()
        self.status_label.setStyleSheet("color: #5d6d7e;")

        bar = QHBoxLayout()
        bar.setContentsMargins(0, 0, 0, 0)
        bar.addWidget(self.title_label)
        bar.addStretch(1)
        bar.addWidget(QLabel("Filter"))
        bar.addWidget(self.filter_column)
        bar.addWidget(self.filter_edit, 1)
        bar.addWidget(self.columns_button)
        bar.addWidget(copy_button)
        bar.addWidget(self.export_button)
        # Progress of a sort or filter, shown when it takes more than a moment.
        self.rows_progress = QProgressBar()
        self.rows_progress.setMaximumWidth(150)
        self.rows_progress.setRange(0, 100)
        self.rows_progress.setFormat("reading %p%")
        self.rows_progress.hide()
        self.cancel_rows_button = QToolButton()
        self.cancel_rows_button.setText("Cancel")
        self.cancel_rows_button.setToolTip("Stop sorting or filtering; keep the rows shown")
        self.cancel_rows_button.clicked.connect(self.cancel_rows)
        self.cancel_rows_button.hide()
        bar.addWidget(self.rows_progress)
        bar.addWidget(self.cancel_rows_button)
        self._progress_timer = QTimer(self)
        self._progress_timer.setSingleShot(True)
        self._progress_timer.setInterval(300)
        self._progress_timer.timeout.connect(self._show_rows_progress)
        self._rows_progress.connect(self._on_rows_progress)

        self.view = QTableView()
        self.view.setModel(self.model)
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectItems)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.view.setAlternatingRowColors(True)
        self.view.setWordWrap(False)
        self.view.setHorizontalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        vertical = self.view.verticalHeader()
        vertical.setVisible(False)
        vertical.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        vertical.setDefaultSectionSize(self.fontMetrics().height() + 6)
        header = self.view.horizontalHeader()
        header.setSectionsClickable(True)
        header.setSortIndicatorShown(False)
        header.setHighlightSections(False)
        header.setStretchLastSection(True)
        header.setDefaultSectionSize(110)
        header.setMinimumSectionSize(40)
        header.setResizeContentsPrecision(0)  # size columns from the rows on screen only
        header.sectionClicked.connect(self._header_clicked)
        self.view.doubleClicked.connect(self._cell_double_clicked)
        self.view.selectionModel().currentChanged.connect(self._current_changed)
        self.model.dataChanged.connect(self._data_arrived)

        self.preview = QTextBrowser()
        self.preview.setOpenLinks(False)
        self.preview.anchorClicked.connect(self._preview_link_clicked)
        self.preview.setPlaceholderText("Select a cell to see its whole value here.")
        self.preview.setLineWrapMode(QTextBrowser.LineWrapMode.NoWrap)

        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.view)
        splitter.addWidget(self.preview)
        splitter.setStretchFactor(0, 4)
        splitter.setStretchFactor(1, 1)
        # the preview stays folded away until a cell is selected: empty, it took a quarter
        # of every table's height (a third of a pinned table's)
        splitter.setCollapsible(1, True)
        splitter.setSizes([740, 0])
        self.splitter = splitter

        self.lay_out_page(bar, splitter, self.status_label)
        self._sized_columns = False
        self._update_status()
        for problem in table.problems:
            self._show_message(problem, error=True)

    # -- status ------------------------------------------------------------------------------
    def _update_status(self, extra: str = "") -> None:
        shown = self.model.rowCount()
        parts = [
            f"{shown:,} of {self.table.n_rows:,} rows"
            if shown != self.table.n_rows
            else f"{shown:,} rows"
        ]
        if self._sort:
            parts.append(f"sorted by {self._sort[0]} {'↓' if self._sort[1] else '↑'}")
        active = [f"{name} {text}" for name, text in self._filters.items() if text.strip()]
        if active:
            parts.append("filter: " + "; ".join(active))
        if extra:
            parts.append(extra)
        self.status_label.setStyleSheet("color: #5d6d7e;")
        self.status_label.setText(" · ".join(parts))

    def _show_message(self, text: str, error: bool = False) -> None:
        self.status_label.setStyleSheet("color: #922b21;" if error else "color: #5d6d7e;")
        self.status_label.setText(text)

    def _data_arrived(self, top_left: QModelIndex, _bottom_right: QModelIndex) -> None:
        if not self._prepare_asked and top_left.row() == 0:
            self._prepare_asked = True
            # once the first rows are in: the build would otherwise compete with them
            # (first rows painted at 10^6 rows 74 -> 139 ms when started at once)
            self._prepare_text_keys()
        # Size columns once, to the first rows' contents, never over the whole table.
        if self._sized_columns or top_left.row() != 0:
            return
        self._sized_columns = True
        header = self.view.horizontalHeader()
        for section in range(self.model.columnCount()):
            self.view.resizeColumnToContents(section)
            header.resizeSection(section, min(max(header.sectionSize(section), 60), 320))

    # -- sort and filter ---------------------------------------------------------------------
    def _prepare_text_keys(self) -> None:
        """Build the keys of the text columns on a background thread while the user looks
        at the table (from when its first rows are shown), so that a filter typed later only tests the distinct strings.

        One thread (one core at most), small blocks, memory-bounded
        (:meth:`~ndviewer.core.nwb.tables.Table.prepare_keys`); a sort or filter that needs
        the keys first takes over what is built; closing the panel stops it.
        """
        table = self.table
        if table.n_rows < PREPARE_MIN_ROWS or self._stop_preparing.is_set():
            return
        names = [c.name for c in table.columns if c.has_text_keys]
        first = self.filter_column.currentText()
        names.sort(key=lambda name: name != first)  # stable: the filter's column first
        names = names[:PREPARE_COLUMNS]
        if not names:
            return
        stop = self._stop_preparing.is_set

        def prepare() -> None:
            try:
                for name in names:
                    if stop():
                        return
                    table.prepare_keys(name, stop, PREPARE_MAX_BYTES)
            finally:
                _PREPARING.discard(entry)

        self._preparing = threading.Thread(target=prepare, name="table-keys", daemon=True)
        entry = (self._stop_preparing, self._preparing)
        _PREPARING.add(entry)
        self._preparing.start()

    def _header_clicked(self, section: int) -> None:
        name = self.model.columns[section]
        column = self.model.column_of(section)
        if column is not None and not column.sortable:
            self._show_message(f"Column {name} holds arrays or records and cannot be sorted.")
            return
        descending = bool(self._sort and self._sort[0] == name and not self._sort[1])
        self.sort_by(name, descending)

    def sort_by(self, name: str | None, descending: bool = False) -> None:
        """Order rows by column ``name`` (None: table order); runs on the worker pool."""
        self._sort = None if name is None else (name, descending)
        self._recompute_rows()

    def set_filter(self, column: str, text: str) -> None:
        """Keep only rows whose ``column`` matches ``text`` (empty text removes the filter)."""
        if text.strip():
            self._filters[column] = text
        else:
            self._filters.pop(column, None)
        if self.filter_column.currentText() == column and self.filter_edit.text() != text:
            self.filter_edit.setText(text)
        self._recompute_rows()

    def clear_filters(self) -> None:
        self._filters.clear()
        self.filter_edit.clear()
        self._recompute_rows()

    def _show_filter_of(self, column: str) -> None:
        self.filter_edit.setText(self._filters.get(column, ""))

    def _apply_filter_text(self) -> None:
        self._filter_timer.stop()
        column = self.filter_column.currentText()
        if self._filters.get(column, "") != self.filter_edit.text():
            self.set_filter(column, self.filter_edit.text())

    def _recompute_rows(self) -> None:
        table = self.table
        filters = dict(self._filters)
        sort = self._sort
        self._rows_request += 1
        request = self._rows_request
        report = self._rows_progress.emit

        def compute(token) -> np.ndarray:
            def step(fraction: float) -> None:
                token.check()  # Cancel, or a newer sort/filter: stop between blocks
                try:
                    report(request, fraction)
                except RuntimeError:  # the panel is gone
                    token.cancel()
                    token.check()

            rows = filter_rows(table, filters, step=step) if filters else None
            token.check()
            if sort is not None:
                rows = sort_order(table, sort[0], sort[1], rows, step)
            elif rows is None:
                rows = all_rows(table.n_rows)
            return row_numbers(rows, table.n_rows)  # here, not on the GUI thread

        self._show_message("sorting and filtering…")
        self.rows_progress.setRange(0, 100)
        self.rows_progress.setValue(0)
        self._progress_timer.start()
        self.context.pool.submit(self.job_key("rows"), compute, self._rows_ready, self._sort_failed)

    def _show_rows_progress(self) -> None:
        if self.context.pool.is_pending(self.job_key("rows")):
            self.rows_progress.show()
            self.cancel_rows_button.show()

    def _on_rows_progress(self, request: int, fraction: float) -> None:
        if request != self._rows_request:
            return
        if fraction >= 1.0:  # keys read: the sort itself reports nothing, show it as busy
            self.rows_progress.setRange(0, 0)
        else:
            self.rows_progress.setRange(0, 100)
            self.rows_progress.setValue(int(fraction * 100))

    def _hide_rows_progress(self) -> None:
        self._progress_timer.stop()
        self.rows_progress.hide()
        self.cancel_rows_button.hide()

    def cancel_rows(self) -> None:
        """Stop the sort or filter under way; the rows shown, their order and filters stay."""
        self.context.pool.cancel(self.job_key("rows"))
        self._rows_request += 1
        self._hide_rows_progress()
        filters, self._sort = self._shown
        self._filters = dict(filters)
        column = self.filter_column.currentText()
        self.filter_edit.setText(self._filters.get(column, ""))
        self._update_status("cancelled")

    def _rows_ready(self, rows: np.ndarray) -> None:
        self._hide_rows_progress()
        self._shown = (dict(self._filters), self._sort)
        selected = self._current_table_row()
        self.model.set_view_rows(rows)
        header = self.view.horizontalHeader()
        if self._sort is not None and self._sort[0] in self.model.columns:
            header.setSortIndicatorShown(True)
            header.setSortIndicator(
                self.model.columns.index(self._sort[0]),
                Qt.SortOrder.DescendingOrder if self._sort[1] else Qt.SortOrder.AscendingOrder,
            )
        else:
            header.setSortIndicatorShown(False)
        self._update_status()
        if selected is not None:
            self.select_table_row(selected, quiet=True)
        self.view_changed.emit()

    def _sort_failed(self, exc: Exception) -> None:
        self._hide_rows_progress()
        self._rows_failed(exc)

    def _rows_failed(self, exc: Exception) -> None:
        message = exc.message if isinstance(exc, NdviewerError) else f"Cannot apply: {exc}"
        self._show_message(message, error=True)

    # -- columns -----------------------------------------------------------------------------
    def _columns_changed(self) -> None:
        names = [name for name, action in self._column_actions.items() if action.isChecked()]
        self.set_visible_columns(names)

    def set_visible_columns(self, names: list[str]) -> None:
        """Show only these columns (``id`` always stays)."""
        for name, action in self._column_actions.items():
            action.blockSignals(True)
            action.setChecked(name in names)
            action.blockSignals(False)
        self.model.set_columns([c for c in self.table.column_names if c in names])
        self._sized_columns = False

    # -- selection, preview and jumps --------------------------------------------------------
    def _current_table_row(self) -> int | None:
        index = self.view.currentIndex()
        return int(self.model.data(index, TABLE_ROW_ROLE)) if index.isValid() else None

    def select_table_row(self, row: int, quiet: bool = False) -> bool:
        """Scroll to and select table row ``row``; False if a filter hides it."""
        positions = np.flatnonzero(self.model.view_rows == row)
        if not positions.size:
            if not quiet:
                self._show_message(f"Row {row} of {self.table.name} is hidden by the filter.")
            return False
        index = self.model.index(int(positions[0]), max(0, self.view.currentIndex().column()))
        self.view.setCurrentIndex(index)
        self.view.selectionModel().select(
            index,
            QItemSelectionModel.SelectionFlag.ClearAndSelect
            | QItemSelectionModel.SelectionFlag.Rows,
        )
        self.view.scrollTo(index, QAbstractItemView.ScrollHint.PositionAtCenter)
        return True

    def _current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if not current.isValid():
            self.preview.clear()
            return
        self._load_preview(current.row(), current.column())

    def _load_preview(self, view_row: int, section: int) -> None:
        sizes = self.splitter.sizes()
        if sizes[1] == 0:  # unfold the preview the first time a cell is selected
            total = sum(sizes)
            preview = min(PREVIEW_HEIGHT, total // 3)
            self.splitter.setSizes([total - preview, preview])
        table_row = int(self.model.view_rows[view_row])
        column = self.model.column_of(section)
        self._preview_target = (view_row, section)
        if column is None:
            self.preview.setPlainText(f"id {int(self.table.ids([table_row])[0])}")
            return

        def read(_token) -> Any:
            return column.read([table_row])[0]

        def show(value: Any) -> None:
            if self._preview_target != (view_row, section):
                return
            self._show_preview(table_row, column.name, value)

        self.context.pool.submit(self.job_key("preview"), read, show, self._rows_failed)

    def _show_preview(self, table_row: int, name: str, value: Any) -> None:
        column = self.table.column(name)
        text = preview_text(column, value)
        targets = column.jump_targets(value)
        parts = [
            f"<div style='color:#5d6d7e'>row {table_row} · {html.escape(name)}</div>",
        ]
        if targets:
            links = []
            for k, target in enumerate(targets[:200]):
                label = target.path if target.row is None else f"{target.path} row {target.row}"
                links.append(f"<a href='jump:{k}'>{html.escape(label)}</a>")
            more = f" … and {len(targets) - 200} more" if len(targets) > 200 else ""
            parts.append("Go to: " + ", ".join(links) + more)
        parts.append(f"<pre style='margin:2px 0'>{html.escape(text)}</pre>")
        self._preview_targets = targets
        self.preview.setHtml("".join(parts))

    def _preview_link_clicked(self, url: QUrl) -> None:
        text = url.toString()
        if text.startswith("jump:"):
            k = int(text.split(":", 1)[1])
            if 0 <= k < len(self._preview_targets):
                jump_to(self.context, self._preview_targets[k])

    def _cell_double_clicked(self, index: QModelIndex) -> None:
        column = self.model.column_of(index.column())
        if column is None or not column.is_link:
            return
        table_row = int(self.model.view_rows[index.row()])
        targets = column.jump_targets(column.read([table_row])[0])
        if targets:
            jump_to(self.context, targets[0])

    # -- copy --------------------------------------------------------------------------------
    def _ask_export(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, "Export rows", f"{self.table.name}.csv", "CSV (*.csv)"
        )
        if path:
            self.export_csv(path)

    def export_csv(self, path: str) -> None:
        """Write the rows in view order (filter and sort applied) with the shown columns as
        CSV, on a worker; ``exported`` is emitted with the path."""
        rows = np.array(self.model.view_rows, copy=True)
        names = list(self.model.columns)
        table = self.table

        def write(_token) -> str:
            return str(write_table_csv(table, rows, names, path))

        def done(written: str) -> None:
            self._update_status(f"saved {rows.size:,} rows to {written}")
            self.exported.emit(written)

        self.context.pool.submit(self.job_key("export"), write, done, self._rows_failed)

    def copy_selection(self) -> None:
        """Put the selected cells on the clipboard as TSV (whole rows x selected columns)."""
        indexes = self.view.selectionModel().selectedIndexes()
        if not indexes:
            return
        view_rows = sorted({i.row() for i in indexes})
        sections = sorted({i.column() for i in indexes})
        if len(view_rows) > MAX_COPY_ROWS:
            self._show_message(
                f"{len(view_rows):,} rows are selected; copy at most {MAX_COPY_ROWS:,} at a time.",
                error=True,
            )
            return
        rows = self.model.view_rows[np.array(view_rows)]
        names = [self.model.columns[s] for s in sections]
        table = self.table

        def build(_token) -> str:
            return table_tsv(table, rows, names)

        def done(text: str) -> None:
            QGuiApplication.clipboard().setText(text)
            self._update_status(f"copied {len(view_rows):,} rows")
            self.copied.emit(text)

        self.context.pool.submit(self.job_key("copy"), build, done, self._rows_failed)

    # -- lifecycle ---------------------------------------------------------------------------
    def shutdown(self) -> None:
        self._stop_preparing.set()  # stops at its next block (~5 ms)
        if self._preparing is not None:
            self._preparing.join(timeout=1.0)
        super().shutdown()
