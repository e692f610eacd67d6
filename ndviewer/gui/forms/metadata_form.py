"""The metadata editor panel: a generated form, the pending changes as a diff, Save/Undo/Redo.

The panel shows the form of the selected typed object (for the file itself: the session
fields, the Subject, devices, electrode groups and imaging planes). Edits go into one
``EditSession`` per open file, kept in the panel context, so they survive selecting another
object; the diff lists them as ``old → new``. Saving closes the viewer's read handle, commits
the transaction on the path, and reopens the file (a host can take over that dance by putting
a ``write_file(fn)`` callable in ``context.settings``).

Signals
-------
file_saved(str)
    The pending changes were written to the file at this path (the tree may need a reload).
"""

from __future__ import annotations

import html
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QMessageBox,
    QPushButton,
    QScrollArea,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from ndviewer.core.errors import NdviewerError
from ndviewer.core.model.catalog import Catalog
from ndviewer.core.model.files import open_h5
from ndviewer.core.model.nodes import DATASET, GROUP, Node
from ndviewer.gui.panels.base import Panel, PanelContext

if TYPE_CHECKING:
    from ndviewer.core.edit.transaction import EditSession

# The writer (edit.forms, transaction, journal) and the form widgets are imported when a form
# is built, not with this module: the file tab imports every candidate panel of the selected
# object to ask its priority, and at start-up (the root's Metadata panel) that import cost
# ~20 ms of the 0.3 s from launch to the painted tree.

log = logging.getLogger(__name__)
SESSION_KEY = "edit_session"


def session_for(context: PanelContext) -> EditSession:
    """The file's one edit session, shared by every form panel of that file."""
    from ndviewer.core.edit.transaction import EditSession

    session = context.settings.get(SESSION_KEY)
    if session is None:
        session = EditSession(context.file.path, context.file.h5)
        context.settings[SESSION_KEY] = session
    return session


def write_with_file_closed(
    context: PanelContext, session: EditSession, write: Callable[[], Any]
) -> Any:
    """Run ``write`` while the viewer's read handle on the file is closed, then reopen it.

    HDF5 refuses to open a file for writing that this process still has open, so the read
    handle is closed first; nodes keep working after the reopen because they reach the file
    through ``NwbFile.h5``. A host that holds more handles provides ``settings["write_file"]``.
    """
    host_writer = context.settings.get("write_file")
    if callable(host_writer):
        return host_writer(write)
    file = context.file
    file.close()
    session.attach(None)
    try:
        return write()
    finally:
        file.h5 = open_h5(file.path)
        session.attach(file.h5)


class MetadataFormPanel(Panel):
    """Edit the metadata of one typed object (see module doc)."""

    title = "Metadata"
    file_saved = Signal(str)

    def __init__(self, context: PanelContext, node: Node, parent: QWidget | None = None) -> None:
        from ndviewer.core.edit.forms import build_form
        from ndviewer.gui.forms.form_view import structure_key

        super().__init__(context, node, parent)
        self.session = session_for(context)
        self.catalog: Catalog = context.file.catalog
        self.confirm_save = True
        self.form = build_form(self.session, self.catalog, node.path)
        self._structure = structure_key(self.form, self.session)
        self._build_ui()
        self._unsubscribe = self.session.subscribe(self._on_session_changed)
        self._update_actions()

    @classmethod
    def priority(cls, node: Node, catalog: Catalog) -> int:
        if not node.neurodata_type or node.kind not in (GROUP, DATASET):
            return -1
        return 1

    # -- layout -----------------------------------------------------------------------------
    def _build_ui(self) -> None:
        from ndviewer.core.edit.journal import find_journal
        from ndviewer.gui.forms.recovery import JournalBanner

        self.heading = QLabel(self)
        self.heading.setStyleSheet(
            "font-size: 12pt; font-weight: bold; color: palette(window-text);"
        )
        self.type_doc = QLabel(self)
        self.type_doc.setWordWrap(True)
        self.type_doc.setStyleSheet("color: palette(placeholder-text);")
        self.summary = QLabel(self)
        self.summary.setWordWrap(True)

        self.undo_button = QPushButton("Undo", self)
        self.redo_button = QPushButton("Redo", self)
        self.save_button = QPushButton("Save", self)
        self.save_button.setDefault(True)
        self.undo_button.clicked.connect(self.session.undo)
        self.redo_button.clicked.connect(self.session.redo)
        self.save_button.clicked.connect(lambda: self.save())
        for sequence, slot in (
            (QKeySequence.StandardKey.Save, self.save),
            (QKeySequence.StandardKey.Undo, self.session.undo),
            (QKeySequence.StandardKey.Redo, self.session.redo),
        ):
            shortcut = QShortcut(sequence, self)
            shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            shortcut.activated.connect(slot)

        self.banner = JournalBanner(
            self.context.file.path,
            self,
            write=lambda action: write_with_file_closed(self.context, self.session, action),
        )
        self.banner.resolved.connect(self._after_recovery)
        if find_journal(self.context.file.path) is None:
            self.banner.hide()

        top = QHBoxLayout()
        titles = QVBoxLayout()
        titles.addWidget(self.heading)
        titles.addWidget(self.type_doc)
        top.addLayout(titles, 1)
        for button in (self.undo_button, self.redo_button, self.save_button):
            top.addWidget(button, 0, Qt.AlignmentFlag.AlignTop)

        self.scroll = QScrollArea(self)
        self.scroll.setWidgetResizable(True)
        self.scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        self._install_view()

        diff_box = QWidget(self)
        self.diff_box = diff_box
        diff_layout = QVBoxLayout(diff_box)
        diff_layout.setContentsMargins(0, 4, 0, 0)
        self.diff_title = QLabel(diff_box)
        self.diff_title.setStyleSheet("font-weight: bold;")
        self.diff = QListWidget(diff_box)
        mono = QFont("monospace")
        mono.setStyleHint(QFont.StyleHint.Monospace)
        self.diff.setFont(mono)
        self.diff.setAlternatingRowColors(True)
        diff_layout.addWidget(self.diff_title)
        diff_layout.addWidget(self.diff, 1)

        splitter = QSplitter(Qt.Orientation.Vertical, self)
        splitter.addWidget(self.scroll)
        splitter.addWidget(diff_box)
        splitter.setStretchFactor(0, 4)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([10000, 1500])  # ~7:1, whatever the height

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.banner)
        reason = getattr(self.context.file, "read_only_reason", None)
        self.read_only_notice = QLabel(reason or "", self)
        self.read_only_notice.setWordWrap(True)
        self.read_only_notice.setStyleSheet(
            "background: #fdf3d8; color: #5c4500; border: 1px solid #e8d49a; padding: 4px 6px;"
        )
        self.read_only_notice.setVisible(bool(reason))
        layout.addWidget(self.read_only_notice)
        layout.addLayout(top)
        layout.addWidget(self.summary)
        layout.addWidget(splitter, 1)

    def _install_view(self) -> None:
        from ndviewer.gui.forms.form_view import FormView, first_sentence

        self.heading.setText(
            f"{self.form.title}  <span style='color:#7b8793; font-weight:"
            f"normal'>[{self.form.neurodata_type}]</span>"
        )
        self.type_doc.setText(html.escape(first_sentence(self.form.doc, 220)))
        self.view = FormView(self.form, self.session, self.context.open_path)
        container = QWidget()
        container_layout = QVBoxLayout(container)
        container_layout.setContentsMargins(0, 0, 12, 0)
        container_layout.addWidget(self.view)
        if getattr(self.context.file, "read_only_reason", None):
            self.view.setEnabled(False)  # values stay readable, nothing can be typed
        container_layout.addStretch(1)
        self.scroll.setWidget(container)

    def focus_field(self, key: str) -> bool:
        """Scroll to the field ``key`` (of this object, else of a sub-form) and focus its
        editor; False when the form has no such field. Used by the check report."""
        rows = [row for row in self.view.all_rows() if row.field.key == key]
        rows.sort(key=lambda row: row.form.path != self.node.path)
        if not rows:
            return False
        row = rows[0]
        self.scroll.ensureWidgetVisible(row.body, 40, 80)
        row.editor.setFocus(Qt.FocusReason.OtherFocusReason)
        row.label.setStyleSheet("background: #fdf2d0; font-weight: bold;")
        return True

    def apply_options(self, options: dict) -> None:
        if options.get("focus_field"):
            self.focus_field(str(options["focus_field"]))

    # -- state ------------------------------------------------------------------------------
    def _on_session_changed(self, _session: EditSession) -> None:
        self.rebuild_if_needed()
        self._update_actions()

    def rebuild_if_needed(self) -> None:
        """Refresh values; rebuild the view when objects were added, created or removed."""
        from ndviewer.core.edit.forms import build_form
        from ndviewer.gui.forms.form_view import structure_key

        form = build_form(self.session, self.catalog, self.node.path)
        key = structure_key(form, self.session)
        if key != self._structure:
            self.form, self._structure = form, key
            position = self.scroll.verticalScrollBar().value()
            self._install_view()
            self.scroll.verticalScrollBar().setValue(position)
        else:
            self.view.refresh()

    def _update_actions(self) -> None:
        if getattr(self.context.file, "read_only_reason", None):
            for button in (self.undo_button, self.redo_button, self.save_button):
                button.setEnabled(False)
                button.setToolTip(self.context.file.read_only_reason)
            return
        pending = self.session.pending()
        self.undo_button.setEnabled(self.session.can_undo)
        self.redo_button.setEnabled(self.session.can_redo)
        self.undo_button.setToolTip(
            f"Undo: {self.session.undo_label}" if self.session.can_undo else "Nothing to undo"
        )
        self.redo_button.setToolTip(
            f"Redo: {self.session.redo_label}" if self.session.can_redo else "Nothing to redo"
        )
        self.save_button.setEnabled(bool(pending))
        self.save_button.setText(
            f"Save {len(pending)} change{'s' * (len(pending) != 1)}" if pending else "Save"
        )
        self.diff.clear()
        for change in pending:
            self.diff.addItem(change.describe())
        self.diff_title.setText(
            f"Pending changes ({len(pending)})" if pending else "No pending changes"
        )
        self.diff.setVisible(bool(pending))  # an empty list would only take room from the form
        self.diff_box.setMaximumHeight(
            16777215 if pending else self.diff_title.sizeHint().height() + 8
        )
        missing = [row for row in self.view.all_rows() if row.is_missing]
        if missing:
            names = ", ".join(dict.fromkeys(row.field.label for row in missing[:6]))
            more = "…" if len(missing) > 6 else ""
            self.summary.setText(
                f"<span style='color:#a5281b'><b>{len(missing)} required or recommended "
                f"field{'s' * (len(missing) != 1)} missing</b></span>: {html.escape(names)}"
                f"{more}. DANDI and nwbinspector check these."
            )
        else:
            self.summary.setText(
                "<span style='color:#1e7e34'>No required or recommended field is missing.</span>"
            )

    # -- saving -----------------------------------------------------------------------------
    def save(self, confirm: bool | None = None) -> bool:
        from ndviewer.gui.forms.save_progress import run_save_with_progress

        """Write the pending changes as one transaction; False if nothing was written."""
        pending = self.session.pending()
        if not pending or getattr(self.context.file, "read_only_reason", None):
            return False
        problems = self.session.transaction().problems()
        if problems:
            QMessageBox.warning(self, "Cannot save", "\n".join(problems))
            return False
        if self.confirm_save if confirm is None else confirm:
            box = QMessageBox(
                QMessageBox.Icon.Question,
                "Save changes",
                f"Write {len(pending)} change(s) to {self.context.file.path.name}?",
                QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Cancel,
                self,
            )
            box.setDetailedText("\n".join(change.describe() for change in pending))
            if box.exec() != QMessageBox.StandardButton.Save:
                return False
        try:
            # the copy runs in a thread; the session (which updates widgets) is told here
            transaction, path = self.session.transaction(), self.session.path
            write_with_file_closed(
                self.context,
                self.session,
                lambda: run_save_with_progress(
                    self,
                    f"Saving {path.name}…",
                    lambda progress, cancelled: transaction.commit(
                        path, progress=progress, cancelled=cancelled
                    ),
                ),
            )
            self.session.mark_saved(transaction.changes)
        except NdviewerError as exc:
            log.info("save of %s refused: %s", self.context.file.path, exc.message)
            QMessageBox.warning(self, "Not saved", exc.message)
            return False
        # a refused entry was not written: show what the file now holds, and say so
        dropped = [row.field.label for row in self.view.all_rows() if row.drop_refused()]
        if dropped:
            self.summary.setText(
                self.summary.text()
                + "<br><span style='color:#a5281b'>Not saved (refused):</span> "
                + html.escape(", ".join(dict.fromkeys(dropped)))
                + "; the fields show the file's values."
            )
        self.file_saved.emit(str(self.context.file.path))
        return True

    def _after_recovery(self) -> None:
        self.session.discard()
        self.session.attach(self.context.file.h5)
        self.rebuild_if_needed()
        self._update_actions()

    def shutdown(self) -> None:
        self._unsubscribe()
        super().shutdown()
