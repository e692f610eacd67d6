"""One editor widget per kind of form field, chosen from the field's spec dtype and shape.

Each editor shows a value and reports what the user typed; it knows nothing about files or
sessions. ``make_editor(field)`` picks the editor from ``FormField.widget`` (decided by the
core form model from the spec and ``spec/forms.json``): text, multi-line text, list of
strings, date-time with timezone, ISO 8601 duration (with an age helper), enum, number with
unit, list of numbers, true/false, and a picker for links to other objects.

Signals (every editor)
----------------------
edited()
    The text changed (for live validation; nothing is applied yet).
committed()
    The user finished editing (focus left, Enter, a choice picked): apply the value.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

from PySide6.QtCore import QDateTime, QEvent, QObject, QTimeZone, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDateTimeEdit,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QToolButton,
    QWidget,
)

from ndviewer.core.edit.forms import FormField
from ndviewer.core.edit.states import ABSENT, Link

DURATION_UNITS = (("days", "D"), ("weeks", "W"), ("months", "M"), ("years", "Y"))


class FieldEditor(QWidget):
    """Base class: ``set_value``/``value`` and the ``edited``/``committed`` signals."""

    edited = Signal()
    committed = Signal()

    def __init__(self, field: FormField, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.field = field
        self._layout = QHBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._layout.setSpacing(4)

    def set_value(self, value: Any) -> None:
        raise NotImplementedError

    def value(self) -> Any:
        raise NotImplementedError

    def set_read_only(self, read_only: bool) -> None:
        for child in self.findChildren(QWidget):
            if isinstance(child, QLineEdit | QPlainTextEdit):
                child.setReadOnly(read_only)
            elif isinstance(child, QComboBox | QToolButton | QCheckBox):
                child.setEnabled(not read_only)


class _CommitOnFocusOut(QObject):
    """Emit a callback when a text box loses focus (QPlainTextEdit has no editingFinished)."""

    def __init__(self, callback: Callable[[], None], parent: QObject) -> None:
        super().__init__(parent)
        self._callback = callback

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt API)
        if event.type() == QEvent.Type.FocusOut:
            self._callback()
        return False


class TextEditor(FieldEditor):
    """One line of text; Enter or leaving the field applies it."""

    def __init__(self, field: FormField, parent: QWidget | None = None) -> None:
        super().__init__(field, parent)
        self.line = QLineEdit(self)
        self.line.setPlaceholderText(field.placeholder)
        self.line.setClearButtonEnabled(True)
        self.line.textEdited.connect(lambda _text: self.edited.emit())
        self.line.editingFinished.connect(self._finish)
        self._layout.addWidget(self.line, 1)
        self._last = ""

    def _finish(self) -> None:
        if self.line.text() != self._last:
            self._last = self.line.text()
            self.committed.emit()

    def set_value(self, value: Any) -> None:
        text = self.field.format(value)
        self._last = text
        if self.line.text() != text:
            self.line.setText(text)

    def value(self) -> Any:
        return self.field.parse(self.line.text())


class MultilineEditor(FieldEditor):
    """Several lines of text (descriptions, notes); leaving the box applies it.

    Lists of strings use it too, one item per line.
    """

    def __init__(self, field: FormField, parent: QWidget | None = None) -> None:
        super().__init__(field, parent)
        self.box = QPlainTextEdit(self)
        self.box.setTabChangesFocus(True)
        placeholder = field.placeholder
        if field.is_list:
            placeholder = (placeholder + " — " if placeholder else "") + "one per line"
        self.box.setPlaceholderText(placeholder)
        lines = 2 if field.is_list else 3
        self.box.setFixedHeight(self.box.fontMetrics().lineSpacing() * lines + 14)
        self.box.textChanged.connect(self.edited.emit)
        self.box.installEventFilter(_CommitOnFocusOut(self._finish, self))
        self._layout.addWidget(self.box, 1)
        self._last = ""

    def _finish(self) -> None:
        if self.box.toPlainText() != self._last:
            self._last = self.box.toPlainText()
            self.committed.emit()

    def set_value(self, value: Any) -> None:
        text = self.field.format(value)
        self._last = text
        if self.box.toPlainText() != text:
            self.box.blockSignals(True)
            self.box.setPlainText(text)
            self.box.blockSignals(False)

    def value(self) -> Any:
        return self.field.parse(self.box.toPlainText())


class NumberEditor(TextEditor):
    """A number (or a short list of numbers) with its unit beside it."""

    def __init__(self, field: FormField, parent: QWidget | None = None) -> None:
        super().__init__(field, parent)
        if field.is_list:
            self.line.setPlaceholderText(field.placeholder or "e.g. 1.0, 2.0, 3.0")
        if field.unit:
            unit = QLabel(field.unit, self)
            unit.setStyleSheet("color: palette(placeholder-text);")
            unit.setMinimumWidth(24)
            self._layout.addWidget(unit)

    def set_value(self, value: Any) -> None:
        if isinstance(value, list):
            text = ", ".join(repr(v) if isinstance(v, float) else str(v) for v in value)
            self._last = text
            self.line.setText(text)
            return
        super().set_value(value)

    def value(self) -> Any:
        text = self.line.text().strip()
        if self.field.is_list and text and not text.startswith("["):
            text = "\n".join(part.strip() for part in text.split(","))
        return self.field.parse(text)


class _ComboEditor(FieldEditor):
    """Shared by choices and links: items map to Python values by position (QComboBox
    cannot compare arbitrary Python objects in ``findData``)."""

    def __init__(self, field: FormField, parent: QWidget | None = None) -> None:
        super().__init__(field, parent)
        self.combo = QComboBox(self)
        self.combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.combo.activated.connect(lambda _row: self.committed.emit())
        self._values: list[Any] = []
        self.add_item("— not set —", ABSENT)

    def add_item(self, text: str, value: Any) -> None:
        self.combo.addItem(text)
        self._values.append(value)

    def index_of(self, value: Any) -> int:
        for index, candidate in enumerate(self._values):
            if candidate is value or (type(candidate) is type(value) and candidate == value):
                return index
        return -1

    def item_values(self) -> list[Any]:
        return list(self._values)

    def select(self, value: Any) -> None:
        """Choose ``value`` as a user would (emits ``committed``)."""
        index = self.index_of(value)
        if index < 0:
            raise ValueError(f"{value!r} is not offered")
        self.combo.setCurrentIndex(index)
        self.committed.emit()

    def value(self) -> Any:
        index = self.combo.currentIndex()
        return self._values[index] if 0 <= index < len(self._values) else ABSENT


class ChoiceEditor(_ComboEditor):
    """A closed set of values (sex M/F/U/O, age reference, true/false); picking applies it."""

    def __init__(self, field: FormField, parent: QWidget | None = None) -> None:
        super().__init__(field, parent)
        labels = dict(field.choice_labels)
        choices: tuple[Any, ...] = (True, False) if field.widget == "bool" else field.choices
        for choice in choices:
            text = str(choice).lower() if isinstance(choice, bool) else str(choice)
            self.add_item(labels.get(choice, text), choice)
        self._layout.addWidget(self.combo)
        self._layout.addStretch(1)

    def set_value(self, value: Any) -> None:
        index = self.index_of(value)
        if index < 0:  # a value outside the choices (e.g. "male"): show it, flagged by the row
            self.add_item(f"{value} (not a valid choice)", value)
            index = self.combo.count() - 1
        self.combo.setCurrentIndex(index)


class ReferenceEditor(_ComboEditor):
    """A link to another object (ElectrodeGroup → Device): a picker plus "Go to"."""

    def __init__(
        self,
        field: FormField,
        candidates: list[str],
        open_path: Callable[[str], None] | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(field, parent)
        for path in candidates:
            self.add_item(path, Link(path))
        self._layout.addWidget(self.combo)
        if open_path is not None:
            go = QToolButton(self)
            go.setText("Go to")
            go.setToolTip("Show the linked object")
            go.clicked.connect(self._go)
            self._open_path = open_path
            self._layout.addWidget(go)
        self._layout.addStretch(1)

    def _go(self) -> None:
        value = self.value()
        if isinstance(value, Link):
            self._open_path(value.target)

    def set_value(self, value: Any) -> None:
        index = self.index_of(value)
        if index < 0 and isinstance(value, Link):
            self.add_item(value.target, value)
            index = self.combo.count() - 1
        self.combo.setCurrentIndex(max(index, 0))


class DateTimeEditor(TextEditor):
    """ISO 8601 date-time text plus a picker that always yields a timezone."""

    def __init__(self, field: FormField, parent: QWidget | None = None) -> None:
        super().__init__(field, parent)
        self.line.setPlaceholderText(field.placeholder or "e.g. 2024-01-05T14:30:00-05:00")
        pick = QToolButton(self)
        pick.setText("Pick…")
        pick.setToolTip("Choose a date, time and timezone")
        pick.clicked.connect(self._pick)
        self._layout.addWidget(pick)

    def _pick(self) -> None:
        dialog = DateTimeDialog(self.line.text(), self)
        if dialog.exec() == QDialog.DialogCode.Accepted:
            self.line.setText(dialog.iso_text())
            self.edited.emit()
            self._finish()


class DateTimeDialog(QDialog):
    """Date and time with an explicit UTC offset (NWB times need a timezone)."""

    def __init__(self, text: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Date and time")
        try:
            current = datetime.fromisoformat(text.strip()) if text.strip() else None
        except ValueError:
            current = None
        local = datetime.now().astimezone()
        current = current or local.replace(microsecond=0)
        offset = (current.utcoffset() if current.tzinfo else local.utcoffset()) or timedelta()
        self.when = QDateTimeEdit(self)
        self.when.setCalendarPopup(True)
        self.when.setDisplayFormat("yyyy-MM-dd HH:mm:ss")
        self.when.setTimeZone(QTimeZone.fromSecondsAheadOfUtc(0))
        naive = current.replace(tzinfo=None)
        self.when.setDateTime(
            QDateTime(naive.date(), naive.time(), QTimeZone.fromSecondsAheadOfUtc(0))
        )
        self.offset = QComboBox(self)
        for minutes in range(-12 * 60, 14 * 60 + 1, 30):
            self.offset.addItem(_offset_text(timedelta(minutes=minutes)), minutes)
        self.offset.setCurrentIndex(max(0, self.offset.findData(int(offset.total_seconds() // 60))))
        layout = QFormLayout(self)
        layout.addRow("Date and time:", self.when)
        layout.addRow("UTC offset:", self.offset)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addRow(buttons)

    def iso_text(self) -> str:
        value = self.when.dateTime()
        date, time = value.date(), value.time()
        tz = timezone(timedelta(minutes=self.offset.currentData()))
        return datetime(
            date.year(),
            date.month(),
            date.day(),
            time.hour(),
            time.minute(),
            time.second(),
            tzinfo=tz,
        ).isoformat()


def _offset_text(offset: timedelta) -> str:
    minutes = int(offset.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "−"
    return f"UTC{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


class DurationEditor(TextEditor):
    """ISO 8601 duration text with an age helper: "90 days" → P90D, ranges → P90D/P120D."""

    def __init__(self, field: FormField, parent: QWidget | None = None) -> None:
        super().__init__(field, parent)
        helper = QToolButton(self)
        helper.setText("Helper…")
        helper.setToolTip("Build an ISO 8601 duration from a number and a unit")
        helper.clicked.connect(self._help)
        self._layout.addWidget(helper)

    def _help(self) -> None:
        dialog = DurationDialog(self)
        if dialog.exec() == QDialog.DialogCode.Accepted:
            self.line.setText(dialog.iso_text())
            self.edited.emit()
            self._finish()


class DurationDialog(QDialog):
    """Number + unit (and optionally an upper bound) → ``P90D`` or ``P90D/P120D``."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Age as an ISO 8601 duration")
        self.amount = _amount_box(self, 90)
        self.unit = _unit_box(self)
        self.is_range = QCheckBox("Range: up to", self)
        self.upper = _amount_box(self, 120)
        self.upper_unit = _unit_box(self)
        self.is_range.toggled.connect(self._update)
        self.preview = QLabel(self)
        self.preview.setStyleSheet("font-family: monospace; font-weight: bold;")
        for widget in (self.amount, self.upper):
            widget.valueChanged.connect(self._update)
        for widget in (self.unit, self.upper_unit):
            widget.currentIndexChanged.connect(self._update)
        layout = QFormLayout(self)
        lower = QHBoxLayout()
        lower.addWidget(self.amount)
        lower.addWidget(self.unit)
        layout.addRow("Age:", lower)
        upper = QHBoxLayout()
        upper.addWidget(self.upper)
        upper.addWidget(self.upper_unit)
        layout.addRow(self.is_range, upper)
        layout.addRow("ISO 8601:", self.preview)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addRow(buttons)
        self._update()

    def _update(self) -> None:
        self.upper.setEnabled(self.is_range.isChecked())
        self.upper_unit.setEnabled(self.is_range.isChecked())
        self.preview.setText(self.iso_text())

    def iso_text(self) -> str:
        text = duration_text(self.amount.value(), self.unit.currentData())
        if self.is_range.isChecked():
            text += "/" + duration_text(self.upper.value(), self.upper_unit.currentData())
        return text


def duration_text(amount: float, unit: str) -> str:
    """``(90, "D")`` → ``P90D``; ``(1.5, "Y")`` → ``P1.5Y``."""
    number = f"{amount:g}"
    return f"P{number}{unit}"


def _amount_box(parent: QWidget, value: float) -> QDoubleSpinBox:
    box = QDoubleSpinBox(parent)
    box.setDecimals(1)
    box.setRange(0, 100000)
    box.setValue(value)
    return box


def _unit_box(parent: QWidget) -> QComboBox:
    box = QComboBox(parent)
    for name, code in DURATION_UNITS:
        box.addItem(name, code)
    return box


def make_editor(
    field: FormField,
    candidates: list[str] | None = None,
    open_path: Callable[[str], None] | None = None,
    parent: QWidget | None = None,
) -> FieldEditor:
    """The editor for ``field.widget``."""
    widget = field.widget
    if widget == "reference":
        return ReferenceEditor(field, candidates or [], open_path, parent)
    if widget in ("enum", "bool"):
        return ChoiceEditor(field, parent)
    if widget in ("multiline", "string_list"):
        return MultilineEditor(field, parent)
    if widget in ("number", "number_list"):
        return NumberEditor(field, parent)
    if widget == "datetime":
        return DateTimeEditor(field, parent)
    if widget == "duration":
        return DurationEditor(field, parent)
    return TextEditor(field, parent)
