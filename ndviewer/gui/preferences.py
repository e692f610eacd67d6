"""Help ▸ Quick guide and Edit ▸ Preferences: what a first-time user looks for in the menus.

Help once held a one-line About and there were no preferences. The guide's text is data
(``resources/help/guide.html``); preferences are a few defaults kept in the application's
``QSettings`` and handed to panels through ``PanelContext.settings["preferences"]``.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from ndviewer.gui.theme import CHOICES
from ndviewer.paths import resources_dir

#: Preference key -> (default, label in the dialog).
PREFERENCES: dict[str, tuple[Any, str]] = {
    "clip_lanes": (True, "Clip each trace to its own lane in new trace views"),
    "event_lines": (False, "Draw events as lines across the traces (not only on their track)"),
    "theme": ("system", "Appearance"),
}
#: Preferences chosen from a list: key -> {value: label}.
PREFERENCE_CHOICES: dict[str, dict[str, str]] = {"theme": CHOICES}


def load_preferences(settings: QSettings | None) -> dict[str, Any]:
    """The saved preferences, defaults for those never set."""
    out = {key: default for key, (default, _label) in PREFERENCES.items()}
    if settings is not None:
        for key, (default, _label) in PREFERENCES.items():
            value = settings.value(f"preferences/{key}", default)
            if isinstance(default, bool):
                out[key] = value in (True, "true", "1", 1)
            elif key in PREFERENCE_CHOICES and value not in PREFERENCE_CHOICES[key]:
                out[key] = default  # a value an older or newer version wrote
            else:
                out[key] = value
    return out


class PreferencesDialog(QDialog):
    """One check box per preference; OK writes them to ``settings`` and to ``values``."""

    def __init__(
        self, settings: QSettings | None, values: dict[str, Any], parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Preferences")
        self.settings = settings
        self.values = values
        layout = QVBoxLayout(self)
        self.boxes: dict[str, QCheckBox] = {}
        self.combos: dict[str, QComboBox] = {}
        choices = QFormLayout()
        for key, (_default, label) in PREFERENCES.items():
            if key in PREFERENCE_CHOICES:
                combo = QComboBox(self)
                for value, text in PREFERENCE_CHOICES[key].items():
                    combo.addItem(text, value)
                combo.setCurrentIndex(max(0, combo.findData(values.get(key))))
                choices.addRow(label, combo)
                self.combos[key] = combo
                continue
            box = QCheckBox(label, self)
            box.setChecked(bool(values.get(key)))
            layout.addWidget(box)
            self.boxes[key] = box
        layout.addLayout(choices)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)

    def accept(self) -> None:
        for key, box in self.boxes.items():
            self.values[key] = box.isChecked()
            if self.settings is not None:
                self.settings.setValue(f"preferences/{key}", box.isChecked())
        for key, combo in self.combos.items():
            self.values[key] = combo.currentData()
            if self.settings is not None:
                self.settings.setValue(f"preferences/{key}", combo.currentData())
        super().accept()


class GuideDialog(QDialog):
    """The quick guide: views, keys and the command line."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("ndviewer quick guide")
        self.resize(640, 620)
        self.browser = QTextBrowser(self)
        self.browser.setOpenExternalLinks(True)
        self.browser.setHtml((resources_dir() / "help" / "guide.html").read_text("utf-8"))
        layout = QVBoxLayout(self)
        layout.addWidget(self.browser)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
