"""Render a core ``Form``: sections of labelled rows, embedded objects and collections.

Each row shows the field's label, its level badge (required / recommended / optional), a
"missing" flag, the editor, the first sentence of the spec's doc and, when the value is
wrong, what is wrong with an example of right. Rows apply values through
``forms.set_field`` on the shared ``EditSession``; the view itself never writes a file.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ndviewer.core.edit.forms import (
    OPTIONAL,
    RECOMMENDED,
    REQUIRED,
    Collection,
    Form,
    FormField,
    Section,
    build_form,
    is_missing,
    link_candidates,
    new_object_form,
    set_field,
)
from ndviewer.core.edit.states import ABSENT
from ndviewer.core.edit.transaction import EditSession
from ndviewer.core.errors import NdviewerError
from ndviewer.gui.forms.field_widgets import make_editor

BADGE_STYLE = {
    REQUIRED: ("#fbe3e1", "#a5281b"),
    RECOMMENDED: ("#fdf0d5", "#8a5a00"),
    OPTIONAL: ("#edf0f3", "#55606b"),
}
MISSING_STYLE = ("#c0392b", "#ffffff")
ERROR_COLOR = "#b03a2e"
LABEL_WIDTH = 190


def badge(text: str, background: str, color: str, parent: QWidget) -> QLabel:
    label = QLabel(text, parent)
    label.setStyleSheet(
        f"QLabel {{ background: {background}; color: {color}; border-radius: 6px; "
        "padding: 0px 6px; font-size: 8pt; }"
    )
    return label


def first_sentence(doc: str, limit: int = 160) -> str:
    """The spec doc's first sentence (the full doc is in the tooltip)."""
    text = " ".join(doc.split())
    match = re.match(r"(.+?[.!?])(\s|$)", text)
    sentence = match.group(1) if match else text
    return sentence if len(sentence) <= limit else sentence[: limit - 1].rstrip() + "…"


class FieldRow:
    """The widgets of one field in a section grid; ``refresh`` re-reads the session."""

    def __init__(
        self,
        form: Form,
        field: FormField,
        session: EditSession,
        open_path: Callable[[str], None] | None,
        parent: QWidget,
    ) -> None:
        self.form = form
        self.field = field
        self.session = session
        self.label_box = QWidget(parent)
        self.label_box.setFixedWidth(LABEL_WIDTH)  # the same in every section and sub-form
        label_layout = QVBoxLayout(self.label_box)
        label_layout.setContentsMargins(0, 2, 8, 2)
        label_layout.setSpacing(2)
        self.label = QLabel(field.label, self.label_box)
        self.label.setWordWrap(True)
        self.label.setToolTip(field.doc)
        label_layout.addWidget(self.label)
        badges = QHBoxLayout()
        badges.setSpacing(4)
        background, color = BADGE_STYLE[field.level]
        self.level_badge = badge(field.level, background, color, self.label_box)
        self.missing_badge = badge("missing", *MISSING_STYLE, self.label_box)
        badges.addWidget(self.level_badge)
        badges.addWidget(self.missing_badge)
        badges.addStretch(1)
        label_layout.addLayout(badges)
        label_layout.addStretch(1)

        self.body = QWidget(parent)
        body_layout = QVBoxLayout(self.body)
        body_layout.setContentsMargins(0, 2, 0, 6)
        body_layout.setSpacing(2)
        candidates = link_candidates(session, form, field.key) if field.kind == "link" else None
        self.editor = make_editor(field, candidates, open_path, self.body)
        self.editor.setToolTip(field.doc)
        self.editor.edited.connect(self._check_live)
        self.editor.committed.connect(self.apply)
        body_layout.addWidget(self.editor)
        self.doc = QLabel(html.escape(first_sentence(field.doc)), self.body)
        self.doc.setWordWrap(True)
        self.doc.setToolTip(field.doc)
        self.doc.setStyleSheet("color: palette(placeholder-text); font-size: 8.5pt;")
        body_layout.addWidget(self.doc)
        self.problem = QLabel(self.body)
        self.problem.setWordWrap(True)
        self.problem.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.problem.setStyleSheet(f"color: {ERROR_COLOR}; font-size: 9pt;")
        self.problem.hide()
        body_layout.addWidget(self.problem)
        self._rejected: tuple[object, list[str]] | None = None  # (session value, messages)
        self.refresh()

    # -- state
    def refresh(self) -> None:
        value = self.session.value(self.field.location)
        if self._rejected is not None and self._rejected[0] == value:
            return  # keep the user's refused text and its message until they fix it
        self._rejected = None
        self.editor.blockSignals(True)
        self.editor.set_value(value)
        self.editor.blockSignals(False)
        owner_absent = (
            self.field.owner is not None and self.session.value(self.field.owner) is ABSENT
        )
        read_only = (
            self.field.readonly or owner_absent or (self.field.existing_only and value is ABSENT)
        )
        self.editor.set_read_only(read_only)
        if owner_absent:
            self.editor.setToolTip(
                f"Set {self.field.owner_label} first; this is an attribute of it."
            )
        missing = is_missing(value) and self.field.level != OPTIONAL
        self.missing_badge.setVisible(missing)
        weight = "bold" if self.field.level != OPTIONAL else "normal"
        color = MISSING_STYLE[0] if missing else "palette(window-text)"
        self.label.setStyleSheet(f"font-weight: {weight}; color: {color};")
        problems = (
            []
            if value is ABSENT and not self.form.exists(self.session)
            else self.field.check(value)
        )
        self.show_problems(problems)

    def drop_refused(self) -> bool:
        """Forget a refused entry and show the session's value again (after a save: the file
        holds that value, and a refused text left in the field read as saved). True if there
        was one."""
        if self._rejected is None:
            return False
        self._rejected = None
        self.refresh()
        return True

    def show_problems(self, problems: list[str]) -> None:
        if problems:
            self.problem.setText("\n".join(problems))
            self.problem.show()
        else:
            self.problem.clear()
            self.problem.hide()

    @property
    def is_missing(self) -> bool:
        return not self.missing_badge.isHidden()

    # -- editing
    def _check_live(self) -> None:
        value = self.editor.value()
        self.show_problems(
            [] if value is ABSENT and self.field.level != REQUIRED else self.field.check(value)
        )

    def apply(self) -> bool:
        """Validate the editor's value and apply it to the session; False if refused."""
        value = self.editor.value()
        current = self.session.value(self.field.location)
        if value == current:
            self._rejected = None
            self.show_problems([])
            return True
        try:
            set_field(self.session, self.form, self.field.key, value)
        except NdviewerError as exc:
            self._rejected = (current, [exc.message])
            self.show_problems([exc.message])
            return False
        self._rejected = None
        return True


class FormView(QWidget):
    """A form's sections, then its embedded objects and collections, as group boxes."""

    def __init__(
        self,
        form: Form,
        session: EditSession,
        open_path: Callable[[str], None] | None = None,
        parent: QWidget | None = None,
        nested: bool = False,
    ) -> None:
        super().__init__(parent)
        self.form = form
        self.session = session
        self.open_path = open_path
        self.rows: list[FieldRow] = []
        self.children_views: list[FormView] = []
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(8)
        self.note: QLabel | None = None
        if nested and form.new_group is not None:
            note = QLabel(
                f"<i>Not in the file yet.</i> Filling in any field creates <b>{form.path}</b> "
                f"as a new {form.neurodata_type} when you save.",
                self,
            )
            note.setWordWrap(True)
            note.setStyleSheet(
                "color: #8a5a00; background: #fdf6e3; border: 1px solid #f0d98c; padding: 4px 6px;"
            )
            layout.addWidget(note)
            self.note = note
            note.setVisible(not form.exists(session))
        embedded_after: dict[str, list[Form]] = {}
        for embedded in form.embedded:
            embedded_after.setdefault(form.placement.get(embedded.path, ""), []).append(embedded)
        for section in form.sections:
            if section.title == "Deprecated" and all(
                session.value(f.location) is ABSENT for f in section.fields
            ):
                continue
            layout.addWidget(self._section_box(section, nested))
            for embedded in embedded_after.pop(section.title, []):
                layout.addWidget(self._embedded_box(embedded))
        for remaining in embedded_after.values():
            for embedded in remaining:
                layout.addWidget(self._embedded_box(embedded))
        for collection in form.collections:
            layout.addWidget(self._collection_box(collection))

    def _section_box(self, section: Section, nested: bool) -> QWidget:
        if nested and len(self.form.sections) == 1:
            box = QWidget(self)  # the enclosing box already names the object: no second frame
        else:
            box = QGroupBox(section.title, self)
        grid = QGridLayout(box)
        if not isinstance(box, QGroupBox):
            grid.setContentsMargins(0, 0, 0, 0)
        grid.setColumnStretch(1, 1)
        grid.setHorizontalSpacing(10)
        grid.setVerticalSpacing(2)
        for index, field in enumerate(section.fields):
            row = FieldRow(self.form, field, self.session, self.open_path, box)
            grid.addWidget(row.label_box, index, 0, Qt.AlignmentFlag.AlignTop)
            grid.addWidget(row.body, index, 1)
            self.rows.append(row)
        return box

    def _embedded_box(self, embedded: Form) -> QGroupBox:
        box = QGroupBox(embedded.title, self)
        box_layout = QVBoxLayout(box)
        view = FormView(embedded, self.session, self.open_path, box, nested=True)
        box_layout.addWidget(view)
        self.children_views.append(view)
        return box

    def _collection_box(self, collection: Collection) -> QGroupBox:
        box = QGroupBox(f"{collection.title} ({len(collection.members)})", self)
        box_layout = QVBoxLayout(box)
        box_layout.setSpacing(4)
        for path in collection.members:
            member_form = build_form(self.session, self.form.catalog, path, parent=self.form)
            box_layout.addWidget(self._collapsible(member_form, box))
        add = QPushButton(f"Add {collection.neurodata_type}…", box)
        add.setToolTip(f"Create a new {collection.neurodata_type} in {collection.path}")
        add.clicked.connect(lambda: self.add_object(collection))
        row = QHBoxLayout()
        row.addWidget(add)
        row.addStretch(1)
        box_layout.addLayout(row)
        return box

    def _collapsible(self, form: Form, parent: QWidget) -> QWidget:
        frame = QWidget(parent)
        frame_layout = QVBoxLayout(frame)
        frame_layout.setContentsMargins(0, 0, 0, 0)
        frame_layout.setSpacing(2)
        toggle = QToolButton(frame)
        toggle.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        toggle.setArrowType(Qt.ArrowType.RightArrow)
        toggle.setCheckable(True)
        toggle.setStyleSheet("QToolButton { border: none; font-weight: bold; }")
        view = FormView(form, self.session, self.open_path, frame, nested=True)
        self.children_views.append(view)
        flagged = sum(row.is_missing for row in view.all_rows())
        suffix = f"  — {flagged} missing" if flagged else ""
        toggle.setText(f"{form.title}{suffix}")
        view.setVisible(False)

        def show(checked: bool) -> None:
            view.setVisible(checked)
            toggle.setArrowType(Qt.ArrowType.DownArrow if checked else Qt.ArrowType.RightArrow)

        toggle.toggled.connect(show)
        toggle.setChecked(bool(flagged) or not form.exists(self.session))
        frame_layout.addWidget(toggle)
        frame_layout.addWidget(view)
        return frame

    def add_object(self, collection: Collection, name: str | None = None) -> Form | None:
        """Ask for a name and add a new object's form (created when a field is filled)."""
        if name is None:
            name, accepted = QInputDialog.getText(
                self,
                f"New {collection.neurodata_type}",
                f"Name of the new {collection.neurodata_type} in {collection.path}:",
            )
            if not accepted:
                return None
        try:
            form = new_object_form(
                self.session,
                self.form.catalog,
                collection.path,
                name,
                collection.neurodata_type,
                parent=self.form,
            )
        except NdviewerError as exc:
            parent = self.window()
            from PySide6.QtWidgets import QMessageBox

            QMessageBox.warning(parent, "Cannot add", exc.message)
            return None
        self.session.apply(
            form.creation(self.session), label=f"Add {collection.neurodata_type} {name}"
        )
        return form

    def all_rows(self) -> list[FieldRow]:
        rows = list(self.rows)
        for view in self.children_views:
            rows.extend(view.all_rows())
        return rows

    def row(self, path: str, key: str) -> FieldRow:
        """The row of field ``key`` of the object at ``path`` (for tests and shortcuts)."""
        for row in self.all_rows():
            if row.form.path == path and row.field.key == key:
                return row
        raise KeyError(f"no field {key} for {path}")

    def refresh(self) -> None:
        for row in self.rows:
            row.refresh()
        if self.note is not None:
            self.note.setVisible(not self.form.exists(self.session))
        for view in self.children_views:
            view.refresh()


def structure_key(form: Form, session: EditSession) -> tuple:
    """What, when it changes, needs the view rebuilt: objects added to or removed from a
    collection, at any depth. (A missing object being created only refreshes the view, so the
    user keeps the focus while filling in a new Subject.)"""
    parts: list[object] = [form.path]
    for embedded in form.embedded:
        parts.append(structure_key(embedded, session))
    for collection in form.collections:
        parts.append(tuple(collection.members))
        for member in collection.members:
            member_form = build_form(session, form.catalog, member, parent=form)
            parts.append(structure_key(member_form, session))
    return tuple(parts)
