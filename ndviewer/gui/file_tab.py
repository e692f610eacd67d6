"""One open file: the tree with its filter on the left, the chosen panel on the right.

Opening happens in a worker (the tree shows "Opening…" meanwhile); the full typed index is
built in the background after the tree is shown (it feeds the filter and the overview's
counts). Panels are chosen by the registry from the node's type; the user's "View as" pick
is kept while it can still show the selected node.
"""

from __future__ import annotations

import importlib
import logging
import time
from pathlib import Path

from PySide6.QtCore import QItemSelectionModel, QModelIndex, QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QScrollArea,
    QSplitter,
    QStackedWidget,
    QTableView,
    QToolButton,
    QTreeView,
    QVBoxLayout,
    QWidget,
)

from ndviewer.core.errors import NdviewerError
from ndviewer.core.model.families import family_of
from ndviewer.core.model.files import NwbFile, open_nwb, remote_of
from ndviewer.core.model.nodes import DAMAGE_ERRORS, Node
from ndviewer.core.model.registry import PanelChoice, default_registry
from ndviewer.core.model.storage import is_remote
from ndviewer.core.nwb.summary import typed_index
from ndviewer.core.time_cursor import TimeCursor
from ndviewer.gui.checks.report_panel import ReportPanel, count_text
from ndviewer.gui.filter_model import FilterResultsModel, match_entries
from ndviewer.gui.panels.base import Panel, PanelContext
from ndviewer.gui.tree_columns import ColumnFitter
from ndviewer.gui.tree_model import PATH_ROLE, FileTreeModel
from ndviewer.gui.workers import WorkerPool

log = logging.getLogger(__name__)
SAFE_PANEL = "ndviewer.gui.panels.details_panel:DetailsPanel"
EXPAND_LIMIT = 40  # groups with more members stay closed at open


def load_panel_class(reference: str) -> type[Panel]:
    module_name, _, class_name = reference.partition(":")
    return getattr(importlib.import_module(module_name), class_name)


#: The least height of the main view and of each pinned pane in their splitter. A panel whose
#: own minimum is taller (the image view's controls) scrolls inside its pane instead of
#: pushing the window past the screen: two pinned panes once grew the window to 1,292 px on
#: a 1,000 px screen and squeezed the main plot to ~50 px.
PANE_MIN_HEIGHT = 160


def scrolling(widget: QWidget, parent: QWidget) -> QScrollArea:
    """``widget`` in a frameless scroll area that lends it all its room but asks for none:
    the splitter, not the panel's minimum size, decides the height."""
    area = QScrollArea(parent)
    area.setFrameShape(QFrame.Shape.NoFrame)
    area.setWidgetResizable(True)
    area.setWidget(widget)
    area.setMinimumHeight(PANE_MIN_HEIGHT - 30)
    return area


class PinnedPane(QWidget):
    """A panel kept open below the main view, with its own title and close button.

    Signals
    -------
    closed(PinnedPane)
        The user closed the pane.
    """

    closed = Signal(object)

    def __init__(self, panel: Panel, title: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.panel = panel
        label = QLabel(title, self)
        label.setStyleSheet("color: palette(link); font-weight: bold;")
        close = QToolButton(self)
        close.setText("✕")
        close.setToolTip("Close this pane")
        close.clicked.connect(lambda: self.closed.emit(self))
        header = QHBoxLayout()
        header.setContentsMargins(0, 4, 0, 0)
        header.addWidget(label, 1)
        header.addWidget(close)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(header)
        layout.addWidget(scrolling(panel, self), 1)
        self.setMinimumHeight(PANE_MIN_HEIGHT)


#: Groups shown expanded at open (when they are not huge), in the order they are tried.
MAIN_GROUPS = ("/acquisition", "/processing", "/intervals", "/units", "/stimulus/presentation")
#: How many nodes the opening worker describes ahead of the first paint.
WARM_NODES = 2000


def _warm_tree(file: NwbFile) -> None:
    """Describe the nodes the first paint shows (root, its members, the main groups'
    members) here in the worker: the tree model then paints from what is already read, and a
    damaged object that makes HDF5 spin stalls this worker, not the window."""
    budget = WARM_NODES
    queue = [file.root]
    for path in MAIN_GROUPS:
        try:
            queue.append(file.node(path))
        except (KeyError, *DAMAGE_ERRORS):
            continue
    for node in queue:
        names = node.child_names() if node.readable else []
        if node.path != "/" and len(names) > EXPAND_LIMIT:
            continue
        for name in names:
            if budget <= 0:
                return
            budget -= 1
            child = node.child(name)
            if child.readable and child.is_group:
                child.child_names()


def _open_with_catalog(path: str) -> NwbFile:
    file = open_nwb(path)
    try:
        _ = file.catalog  # parse the cached spec here, off the GUI thread
        _warm_tree(file)
        if file.is_remote:
            # the typed walk reads every object header: done here, every metadata block the
            # tree and panels ask for later is already cached, so no network read ever
            # happens on the GUI thread (the index is persisted: the later build loads it)
            typed_index(file)
    except Exception:
        file.close()
        raise
    return file


class _CheckProgress(QObject):
    """Carries the check worker's progress to the GUI thread (a queued signal)."""

    progress = Signal(str, float)


FORM_PANEL = "ndviewer.gui.forms.metadata_form:MetadataFormPanel"


class FileTab(QWidget):
    """Tree, filter and panel area of one file.

    Signals
    -------
    tree_shown(str)
        The tree of the file (its path) is on screen.
    open_failed(str, str)
        The file (path) could not be opened; the message says why.
    index_ready(str)
        The background typed index of the file (path) is complete.
    checks_ready(str)
        The file checks (schema and best practices) of the file (path) are shown.
    status(str)
        A short message for the status bar.
    """

    tree_shown = Signal(str)
    open_failed = Signal(str, str)
    index_ready = Signal(str)
    checks_ready = Signal(str)
    status = Signal(str)

    def __init__(self, path: str | Path, pool: WorkerPool, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.path = str(path)
        self.pool = pool
        self.preferences: dict = {}  # the window's (Preferences dialog), shared and live
        self.file: NwbFile | None = None
        self.model: FileTreeModel | None = None
        self.context: PanelContext | None = None
        self.panel: Panel | None = None
        self.panel_choices: list[PanelChoice] = []
        # "View as" picks per type family ("imaging", "ephys", plain "dataset"…): one pick
        # used to stick to every later object, so an image series opened in Details
        self.user_panel_picks: dict[str, str] = {}
        self.time_cursor = TimeCursor()
        self.opened_at = time.perf_counter()
        self.index_seconds: float | None = None
        self._build_ui()
        self.pool.submit(
            self._key("open"),
            lambda token: _open_with_catalog(self.path),
            self._on_opened,
            self._on_open_error,
        )

    def _key(self, name: str) -> str:
        return f"tab{id(self)}:{name}"

    # -- layout -----------------------------------------------------------------------------
    def _build_ui(self) -> None:
        self.banner = QLabel(self)
        self.banner.setWordWrap(True)
        self.banner.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.banner.setStyleSheet(
            "QLabel { background: #fdf2d0; color: #7d5a00; "
            "border: 1px solid #f0d98c; padding: 5px; }"
        )
        self.banner.hide()

        self.filter_edit = QLineEdit(self)
        self.filter_edit.setPlaceholderText("Filter by name or type (e.g. TimeSeries)…")
        self.filter_edit.setClearButtonEnabled(True)
        self._filter_timer = QTimer(self, singleShot=True, interval=150)
        self._filter_timer.timeout.connect(self._apply_filter)
        self.filter_edit.textChanged.connect(lambda _text: self._filter_timer.start())

        self.tree = QTreeView(self)
        self.tree.setUniformRowHeights(True)
        self.tree.setAlternatingRowColors(True)
        self.tree.setAnimated(False)
        self.tree.setExpandsOnDoubleClick(True)
        self.tree.doubleClicked.connect(self._on_tree_double_click)
        where = " over the network" if is_remote(self.path) else ""
        self.placeholder = QLabel(f"Opening {Path(self.path).name}{where} …", self)
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.placeholder.setStyleSheet("color: palette(placeholder-text); font-size: 12pt;")

        self.results = QTableView(self)
        self.results_model = FilterResultsModel(self)
        self.results.setModel(self.results_model)
        self.results.setSelectionBehavior(QTableView.SelectionBehavior.SelectRows)
        self.results.setSelectionMode(QTableView.SelectionMode.SingleSelection)
        self.results.verticalHeader().hide()
        self.results.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.results.setShowGrid(False)
        self.results.selectionModel().currentRowChanged.connect(self._on_result_selected)
        self.results.doubleClicked.connect(self._on_result_double_click)
        self.results_label = QLabel(self)
        self.results_label.setStyleSheet("color: palette(placeholder-text);")

        self.left_stack = QStackedWidget(self)
        self.left_stack.addWidget(self.placeholder)  # 0
        self.left_stack.addWidget(self.tree)  # 1
        results_box = QWidget(self)
        results_layout = QVBoxLayout(results_box)
        results_layout.setContentsMargins(0, 0, 0, 0)
        results_layout.addWidget(self.results_label)
        results_layout.addWidget(self.results)
        self.left_stack.addWidget(results_box)  # 2

        left = QWidget(self)
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(self.filter_edit)
        self.report = ReportPanel(self)
        self.report.finding_activated.connect(self.show_finding)
        self.report.inspector_requested.connect(self.run_inspector)
        self._check_progress = _CheckProgress(self)
        self._check_progress.progress.connect(self.report.set_running)
        self.left_split = QSplitter(Qt.Orientation.Vertical, self)
        self.left_split.setChildrenCollapsible(False)
        self.left_split.addWidget(self.left_stack)
        self.left_split.addWidget(self.report)
        self.left_split.setStretchFactor(0, 3)
        self.left_split.setStretchFactor(1, 1)
        self.left_split.setSizes([600, 340])
        left_layout.addWidget(self.left_split)

        self.title_label = QLabel(self)
        self.title_label.setStyleSheet("font-weight: bold; font-size: 11pt;")
        self.title_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.view_as = QComboBox(self)
        self.view_as.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.view_as.activated.connect(self._on_view_as)
        self.pin_button = QToolButton(self)
        self.pin_button.setText("Pin")
        self.pin_button.setToolTip(
            "Keep this view open in a pane below while you browse "
            "(time-based panes share the time cursor)"
        )
        self.pin_button.clicked.connect(self.pin_current)
        header = QHBoxLayout()
        header.addWidget(self.title_label, 1)
        header.addWidget(QLabel("View as:", self))
        header.addWidget(self.view_as)
        header.addWidget(self.pin_button)
        self.panel_stack = QStackedWidget(self)
        main_area = QWidget(self)
        main_layout = QVBoxLayout(main_area)
        main_layout.setContentsMargins(0, 0, 0, 0)
        main_layout.addLayout(header)
        main_layout.addWidget(scrolling(self.panel_stack, main_area), 1)
        main_area.setMinimumHeight(PANE_MIN_HEIGHT)
        self.panes = QSplitter(Qt.Orientation.Vertical, self)
        self.panes.setChildrenCollapsible(False)
        self.panes.addWidget(main_area)
        self.pinned: list[PinnedPane] = []
        right = QWidget(self)
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(6, 0, 0, 0)
        right_layout.addWidget(self.panes, 1)

        self.splitter = QSplitter(Qt.Orientation.Horizontal, self)
        self.splitter.addWidget(left)
        self.splitter.addWidget(right)
        self.splitter.setStretchFactor(0, 0)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([560, 1000])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.banner)
        layout.addWidget(self.splitter, 1)

    # -- opening ----------------------------------------------------------------------------
    def _on_opened(self, file: NwbFile) -> None:
        self.file = file
        self.context = PanelContext(
            file=file,
            time_cursor=self.time_cursor,
            pool=self.pool,
            open_path=self.show_path,
            open_linked=self.open_linked,
            layout_panels=self.layout_panels,
            settings={
                "filter_by_type": self.filter_by_type,
                "write_file": self.write_file,
                "preferences": self.preferences,
            },
        )
        self.model = FileTreeModel(file, self)
        self.tree.setModel(self.model)
        # names as wide as they need (deep icephys names were elided behind wide type names);
        # the tree scrolls sideways when the pane is narrower, the last column takes the rest
        self.columns = ColumnFitter(self.tree)
        self.model.reader.loaded.connect(lambda _keys: self.columns.schedule())
        self.tree.selectionModel().currentChanged.connect(self._on_current_changed)
        root = self.model.root_index()
        self.tree.expand(root)
        self._expand_main_groups()
        self.columns.fit()
        self.left_stack.setCurrentIndex(1)
        self.tree.setCurrentIndex(root)
        self._update_banner()
        self.tree_shown.emit(self.path)
        self._start_index()
        self._watch_network(file)

    def _watch_network(self, file: NwbFile) -> None:
        """For a URL, say in the status bar what reading it has cost so far (polled here on the
        GUI thread: the fetches themselves happen on worker threads)."""
        remote = remote_of(file.h5)
        if remote is None:
            return
        shown = [-1]

        def report() -> None:
            fetched = remote.stats.bytes
            if fetched != shown[0] and not remote.closed:
                shown[0] = fetched
                self.status.emit(
                    f"{file.path.name}: {fetched / 1e6:,.1f} MB fetched over the network in "
                    f"{remote.stats.requests:,} requests (kept in the cache for next time)"
                )

        report()
        self._network_timer = QTimer(self)
        self._network_timer.setInterval(1000)
        self._network_timer.timeout.connect(report)
        self._network_timer.start()
        self.status.emit(f"Opened {file.path.name}; indexing in the background…")

    def _start_index(self) -> None:
        file = self.file
        started = time.perf_counter()

        def build(token) -> object:
            return typed_index(file, interactive=True)

        def done(index) -> None:
            self.index_seconds = time.perf_counter() - started
            self.context.index = index
            source = "cache" if index.from_cache else f"{self.index_seconds:.2f} s"
            self.status.emit(f"{file.path.name}: {len(index.entries):,} objects indexed ({source})")
            if self.panel is not None:
                self.panel.index_ready(index)
            self._update_banner()
            if self.filter_edit.text().strip():
                self._apply_filter()
            self.index_ready.emit(self.path)
            self._start_checks()

        self.pool.submit(self._key("index"), build, done, self._on_index_error)

    # -- checks -----------------------------------------------------------------------------
    def _start_checks(self) -> None:
        """Schema and best-practice checks in a worker, after the tree and index are shown;
        the report fills in and the tree's icons get their badges when they are done."""
        from ndviewer.core.checks.run import check_file

        path = self.path
        relay = self._check_progress.progress

        def run(token) -> object:
            def tell(stage: str, fraction: float) -> None:
                token.check()
                relay.emit(stage, fraction)

            # one process: the GUI's own reads wait for h5py's lock between our calls only
            return check_file(path, progress=tell, parallel=False)

        def done(report) -> None:
            if report.error is not None:
                self.report.set_failed(report.error)
                return
            self.report.set_findings(report.sorted())
            self._badge_tree()
            self.status.emit(f"{Path(path).name}: checks found {count_text(report.counts())}")
            self.checks_ready.emit(path)

        def failed(exc: Exception) -> None:
            self.report.set_failed(f"The checks could not run: {exc}")

        self.report.set_running("starting", 0.0)
        self.pool.submit(self._key("checks"), run, done, failed)
        if not self.report.inspector_button.isEnabled():
            self._probe_inspector()

    def _probe_inspector(self) -> None:
        from ndviewer.core.checks.inspector import inspector_available

        self.pool.submit(
            self._key("inspector-probe"),
            lambda token: inspector_available(),
            self.report.set_inspector_available,
            lambda _exc: self.report.set_inspector_available(False),
        )

    def _badge_tree(self) -> None:
        if self.model is not None:
            self.model.set_findings(self.report.findings)
            self.tree.viewport().update()

    def run_inspector(self) -> None:
        """nwbinspector's findings, from a subprocess, added to the report and badges."""
        from ndviewer.core.checks.inspector import run_inspector

        path = self.path
        index = self.context.index if self.context is not None else None
        self.report.inspector_button.setEnabled(False)
        self.report.set_running("nwbinspector", 0.5)

        def done(findings) -> None:
            self.report.inspector_button.setEnabled(True)
            self.report.add_findings(findings)
            self._badge_tree()
            self.status.emit(f"nwbinspector: {len(findings)} findings on {Path(path).name}")

        def failed(exc: Exception) -> None:
            self.report.inspector_button.setEnabled(True)
            self.report.set_failed(str(exc))

        self.pool.submit(
            self._key("inspector"), lambda token: run_inspector(path, index=index), done, failed
        )

    def show_finding(self, path: str, field: str) -> None:
        """Select the finding's object; for a metadata field, open the metadata form with
        the field focused (switching "View as" to it when it is not the object's default)."""
        self.show_path(path)
        if not field or self.panel is None or self.panel.node.path != path:
            return
        focus = getattr(self.panel, "focus_field", None)
        if focus is not None:
            focus(field)
            return
        if not any(choice.panel == FORM_PANEL for choice in self.panel_choices):
            return
        previous = self.view_as.currentData()
        self._install_panel(self.panel.node, FORM_PANEL)
        if self.panel.focus_field(field):
            self.view_as.setCurrentIndex(max(0, self.view_as.findData(FORM_PANEL)))
        elif previous:
            self._install_panel(self.panel.node, previous)

    def _expand_main_groups(self) -> None:
        """Open the groups a scientist looks into first, when they are not huge."""
        for path in MAIN_GROUPS:
            index = self.model.index_for_path(path)
            if index.isValid() and len(index.internalPointer().child_names()) <= EXPAND_LIMIT:
                self.tree.expand(index)

    def _on_open_error(self, exc: Exception) -> None:
        message = (
            exc.message if isinstance(exc, NdviewerError) else (f"Cannot open {self.path}: {exc}")
        )
        self.placeholder.setText(message)
        self.open_failed.emit(self.path, message)

    def _on_index_error(self, exc: Exception) -> None:
        self.status.emit(f"Indexing {Path(self.path).name} failed: {exc}")

    def _update_banner(self) -> None:
        problems = self.file.problems if self.file is not None else []
        if problems:
            shown = problems[:4]
            more = f"<br>… and {len(problems) - 4} more" if len(problems) > 4 else ""
            self.banner.setText("<br>".join(p.replace("<", "&lt;") for p in shown) + more)
            self.banner.show()
        else:
            self.banner.hide()

    # -- selection and panels ---------------------------------------------------------------
    def _on_current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        node = self.model.node(current) if self.model is not None else None
        if node is not None:
            self.show_node(node)

    def panel_choices_for(self, node: Node) -> list[PanelChoice]:
        """The registry's panels for this node that agree they can show it, best first."""
        catalog = self.file.catalog
        try:
            kind = "dataset" if node.is_dataset else "group"
        except DAMAGE_ERRORS:
            kind = None
        choices = []
        for choice in default_registry().choices(node.neurodata_type, catalog, kind):
            try:
                cls = load_panel_class(choice.panel)
                if cls.priority(node, catalog) < 0:
                    continue
            except Exception as exc:  # a broken panel must not break browsing
                log.error("panel %s unavailable: %s", choice.panel, exc)
                continue
            choices.append(choice)
        return choices

    def pick_family(self, node: Node) -> str:
        """The family a "View as" pick is remembered for: the type's family from
        ``spec/families.json`` (through inheritance), else the type, else group/dataset."""
        try:
            family = family_of(node.neurodata_type, self.file.catalog)
            if family is not None:
                return family.name
            return node.neurodata_type or ("dataset" if node.is_dataset else "group")
        except (OSError, KeyError):
            return "other"

    def show_node(self, node: Node) -> None:
        choices = self.panel_choices_for(node)
        self.panel_choices = choices
        self.view_as.blockSignals(True)
        self.view_as.clear()
        for choice in choices:
            self.view_as.addItem(load_panel_class(choice.panel).title, choice.panel)
        wanted = self.user_panel_picks.get(self.pick_family(node))
        picked = next((c.panel for c in choices if c.panel == wanted), None)
        picked = picked or (choices[0].panel if choices else SAFE_PANEL)
        self.view_as.setCurrentIndex(max(0, self.view_as.findData(picked)))
        self.view_as.blockSignals(False)
        title = node.path if node.path != "/" else self.file.path.name
        if node.neurodata_type:
            title += f"   [{node.neurodata_type}]"
        self.title_label.setText(title)
        self._install_panel(node, picked)

    def _install_panel(self, node: Node, reference: str) -> None:
        self._drop_panel()
        try:
            panel = load_panel_class(reference)(self.context, node, self.panel_stack)
        except Exception as exc:
            log.exception("panel %s failed on %s", reference, node.path)
            self.status.emit(f"{reference.rsplit(':', 1)[-1]} cannot show {node.path}: {exc}")
            if reference == SAFE_PANEL:
                return
            panel = load_panel_class(SAFE_PANEL)(self.context, node, self.panel_stack)
        self.panel = panel
        self.panel_stack.addWidget(panel)
        self.panel_stack.setCurrentWidget(panel)
        if self.context.index is not None:
            panel.index_ready(self.context.index)

    def _drop_panel(self) -> None:
        if self.panel is not None:
            self.panel.shutdown()
            self.panel_stack.removeWidget(self.panel)
            self.panel.deleteLater()
            self.panel = None

    def restyle(self) -> None:
        """Make the shown view again, in the theme now applied."""
        self.report.restyle()
        if self.panel is not None:
            reference = self.view_as.currentData()
            if reference:
                self._install_panel(self.panel.node, reference)

    def _on_view_as(self, row: int) -> None:
        reference = self.view_as.itemData(row)
        if reference and self.panel is not None:
            self.user_panel_picks[self.pick_family(self.panel.node)] = reference
            self._install_panel(self.panel.node, reference)

    def show_path(self, path: str, options: dict | None = None) -> None:
        """Select ``path`` in the tree (expanding its parents) and show its panel, passing
        ``options`` (e.g. {"row": 3}) to that panel."""
        if self.model is None:
            return
        if self.filter_edit.text():
            self.filter_edit.clear()
            self._apply_filter()
        index = self.model.index_for_path(path)
        if not index.isValid():
            self.status.emit(f"{path} does not exist in {Path(self.path).name}")
            return
        parent = index.parent()
        while parent.isValid():
            self.tree.expand(parent)
            parent = parent.parent()
        self.tree.setCurrentIndex(index)
        self.tree.selectionModel().select(
            index,
            QItemSelectionModel.SelectionFlag.ClearAndSelect
            | QItemSelectionModel.SelectionFlag.Rows,
        )
        self.tree.scrollTo(index)
        if options and self.panel is not None and self.panel.node.path == path:
            self.panel.apply_options(options)

    def _on_tree_double_click(self, index: QModelIndex) -> None:
        node = self.model.node(index) if self.model is not None else None
        if node is not None and node.link_target and node.link_target.startswith("/"):
            self.show_path(node.link_target)

    # -- filter -----------------------------------------------------------------------------
    def filter_by_type(self, type_name: str) -> None:
        self.filter_edit.setText(type_name)
        self._apply_filter()

    def _apply_filter(self) -> None:
        text = self.filter_edit.text().strip()
        if not text or self.file is None:
            self.left_stack.setCurrentIndex(1 if self.file is not None else 0)
            return
        self.left_stack.setCurrentIndex(2)
        index = self.context.index
        if index is None:
            self.results_model.set_entries([])
            self.results_label.setText("Indexing the file… results will appear here.")
            return
        entries = match_entries(index, self.file.catalog, text)
        self.results_model.set_entries(entries)
        self.results.resizeColumnToContents(1)
        self.results_label.setText(
            f"{len(entries):,} match{'es' if len(entries) != 1 else ''}"
            f" for “{text}” (names, and types through inheritance)"
        )

    def _on_result_selected(self, current: QModelIndex, _previous: QModelIndex) -> None:
        path = self.results_model.data(current, PATH_ROLE) if current.isValid() else None
        if path and self.file is not None:
            try:
                self.show_node(self.file.node(path))
            except KeyError:
                self.status.emit(f"{path} no longer exists")

    def _on_result_double_click(self, index: QModelIndex) -> None:
        path = self.results_model.data(index, PATH_ROLE)
        if path:
            self.show_path(path)

    # -- pinned panes -----------------------------------------------------------------------
    def layout_panels(self) -> list[Panel]:
        """The panels on screen, top to bottom: the current view, then the pinned ones."""
        return [p for p in [self.panel, *(pane.panel for pane in self.pinned)] if p is not None]

    def pin_current(self) -> None:
        """Open the current node's current view again in a pane of its own."""
        if self.panel is None:
            return
        reference = self.view_as.currentData() or SAFE_PANEL
        self._add_pane(self.panel.node, reference, {})

    def open_linked(self, path: str, options: dict | None = None) -> None:
        """Show ``path`` in a pinned pane (re-using one already showing it)."""
        options = options or {}
        for pane in self.pinned:
            if pane.panel.node.path == path:
                pane.panel.apply_options(options)
                return
        try:
            node = self.file.node(path)
        except KeyError:
            self.status.emit(f"{path} does not exist in {Path(self.path).name}")
            return
        choices = self.panel_choices_for(node)
        self._add_pane(node, choices[0].panel if choices else SAFE_PANEL, options)

    def _add_pane(self, node: Node, reference: str, options: dict) -> None:
        try:
            panel = load_panel_class(reference)(self.context, node, None)
        except Exception as exc:
            log.exception("panel %s failed on %s", reference, node.path)
            self.status.emit(f"Cannot show {node.path}: {exc}")
            return
        panel.apply_options(options)
        if self.context.index is not None:
            panel.index_ready(self.context.index)
        pane = PinnedPane(panel, f"{node.path}  [{load_panel_class(reference).title}]", self)
        pane.closed.connect(self._close_pane)
        self.pinned.append(pane)
        self.panes.addWidget(pane)
        # the main view keeps the larger share (it is what the user browses); the pins split
        # the rest evenly, each at least PANE_MIN_HEIGHT
        total = max(self.panes.height(), sum(self.panes.sizes()), 3 * PANE_MIN_HEIGHT)
        n = len(self.pinned)
        main = max(PANE_MIN_HEIGHT, int(total * (0.6 if n == 1 else 0.55)))
        share = max(PANE_MIN_HEIGHT, (total - main) // n)
        self.panes.setSizes([total - share * n] + [share] * n)

    def _close_pane(self, pane: PinnedPane) -> None:
        pane.panel.shutdown()
        self.pinned.remove(pane)
        pane.setParent(None)
        pane.deleteLater()

    # -- writing ----------------------------------------------------------------------------
    def write_file(self, write):
        """Run ``write`` (an edit transaction) with every read handle on the file closed.

        Background reads of this file are cancelled first, the tree and panels are rebuilt
        from the saved file afterwards (a created Subject appears), and the index is rebuilt
        because the file's identity (size, mtime) changed.
        """
        self.pool.cancel_prefix(f"tab{id(self)}:")
        if self.panel is not None:
            self.pool.cancel_prefix(self.panel.job_key(""))
        self.pool.wait(10000)
        file = self.file
        current = self.panel.node.path if self.panel is not None else "/"
        session = self.context.settings.get("edit_session")
        file.close()
        if session is not None:
            session.attach(None)
        try:
            return write()
        finally:
            file.reopen()
            if session is not None:
                session.attach(file.h5)
            self.context.index = None
            QTimer.singleShot(0, lambda: self._reload_tree(current))

    def _reload_tree(self, current_path: str) -> None:
        if self.file is None or not self.file.is_open:
            return
        expanded = [path for path in self._expanded_paths()]
        keep_panel = self.panel is not None and self.panel.node.path == current_path
        self.model.reader.close()
        self.model = FileTreeModel(self.file, self)
        self.tree.setModel(self.model)
        self.model.reader.loaded.connect(lambda _keys: self.columns.schedule())
        self.tree.selectionModel().currentChanged.connect(self._on_current_changed)
        self._badge_tree()  # the last report's badges until the checks run again
        for path in expanded:
            index = self.model.index_for_path(path)
            if index.isValid():
                self.tree.expand(index)
        index = self.model.index_for_path(current_path)
        if index.isValid():
            # the panel that saved stays as it is (it already shows the saved values)
            self.tree.selectionModel().blockSignals(keep_panel)
            self.tree.setCurrentIndex(index)
            self.tree.selectionModel().blockSignals(False)
            if keep_panel:
                self.panel.node = self.file.node(current_path)
        self._update_banner()
        self._start_index()

    def _expanded_paths(self) -> list[str]:
        if self.model is None:
            return []
        out = []
        stack = [self.model.root_index()]
        while stack:
            index = stack.pop()
            if self.tree.isExpanded(index):
                out.append(self.model.data(index, PATH_ROLE))
                stack.extend(
                    self.model.index(r, 0, index) for r in range(self.model.rowCount(index))
                )
        return out

    def unsaved_changes(self) -> int:
        session = self.context.settings.get("edit_session") if self.context else None
        return len(session.pending()) if session is not None else 0

    # -- closing ----------------------------------------------------------------------------
    def close_file(self) -> None:
        timer = getattr(self, "_network_timer", None)
        if timer is not None:
            timer.stop()
        self.pool.cancel_prefix(f"tab{id(self)}:")
        self._drop_panel()
        for pane in list(self.pinned):
            self._close_pane(pane)
        if self.file is not None:
            self.file.close()
