"""Light or dark window chrome, following the system unless the user chose one.

Qt's Fusion style draws whatever palette it is given but does not pick a dark one by itself
on every platform (offscreen and plain X11 report no colour scheme at all), so the dark
palette is ours. The plots keep a white page in both themes, like the exported figures they
preview: traces, rasters and colour maps are tuned for it, and what users measure on screen
then looks the same in their paper.
"""

from __future__ import annotations

import os

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

#: Preference values, in the order the Preferences dialog lists them.
CHOICES = {"system": "Follow the system", "light": "Light", "dark": "Dark"}

_current = "light"


def current() -> str:
    """``"light"`` or ``"dark"``: the theme the window is drawn in now."""
    return _current


def is_dark() -> bool:
    return _current == "dark"


def system_scheme(app: QApplication) -> str:
    """What the desktop asks for; light when it says nothing (``NDVIEWER_THEME`` overrides)."""
    forced = os.environ.get("NDVIEWER_THEME", "").lower()
    if forced in ("light", "dark"):
        return forced
    scheme = app.styleHints().colorScheme()
    return "dark" if scheme == Qt.ColorScheme.Dark else "light"


def dark_palette() -> QPalette:
    """A calm dark palette: grey-blue surfaces, off-white text, the same blue highlight."""
    palette = QPalette()
    colors = {
        QPalette.ColorRole.Window: "#2b2f36",
        QPalette.ColorRole.WindowText: "#e6e9ee",
        QPalette.ColorRole.Base: "#1f2227",
        QPalette.ColorRole.AlternateBase: "#272b31",
        QPalette.ColorRole.ToolTipBase: "#353a42",
        QPalette.ColorRole.ToolTipText: "#e6e9ee",
        QPalette.ColorRole.PlaceholderText: "#8a93a0",
        QPalette.ColorRole.Text: "#e6e9ee",
        QPalette.ColorRole.Button: "#353a42",
        QPalette.ColorRole.ButtonText: "#e6e9ee",
        QPalette.ColorRole.BrightText: "#ff6b6b",
        QPalette.ColorRole.Light: "#4a505a",
        QPalette.ColorRole.Midlight: "#3e444d",
        QPalette.ColorRole.Mid: "#30353c",
        QPalette.ColorRole.Dark: "#1a1d21",
        QPalette.ColorRole.Shadow: "#111316",
        QPalette.ColorRole.Highlight: "#2f6fb3",
        QPalette.ColorRole.HighlightedText: "#ffffff",
        QPalette.ColorRole.Link: "#7fb2f0",
        QPalette.ColorRole.LinkVisited: "#b59ae6",
    }
    for role, name in colors.items():
        palette.setColor(role, QColor(name))
    disabled = QPalette.ColorGroup.Disabled
    for role in (
        QPalette.ColorRole.WindowText,
        QPalette.ColorRole.Text,
        QPalette.ColorRole.ButtonText,
    ):
        palette.setColor(disabled, role, QColor("#7b828c"))
    return palette


def apply_theme(app: QApplication, choice: str = "system") -> str:
    """Draw the application in ``choice`` (``system``, ``light`` or ``dark``); returns the
    theme applied."""
    global _current
    wanted = system_scheme(app) if choice not in ("light", "dark") else choice
    app.setPalette(dark_palette() if wanted == "dark" else app.style().standardPalette())
    _current = wanted
    return wanted


class ThemeFollower(QObject):
    """Re-applies the theme when the desktop switches between light and dark."""

    changed = Signal(str)

    def __init__(self, app: QApplication, choice: str = "system") -> None:
        super().__init__(app)
        self.app = app
        self.choice = choice
        app.styleHints().colorSchemeChanged.connect(self._system_changed)
        apply_theme(app, choice)

    def set_choice(self, choice: str) -> None:
        self.choice = choice
        self.changed.emit(apply_theme(self.app, choice))

    def _system_changed(self, *_args: object) -> None:
        if self.choice == "system":
            self.changed.emit(apply_theme(self.app, "system"))
