"""Light/dark window chrome following the system or the user's choice (desktop issue #18)."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QSettings
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QApplication, QLabel

from ndviewer.gui import theme
from ndviewer.gui.html_style import PAGE_CSS, page_css
from ndviewer.gui.preferences import PreferencesDialog, load_preferences


def _luminance(color) -> float:
    return 0.2126 * color.redF() + 0.7152 * color.greenF() + 0.0722 * color.blueF()


@pytest.fixture
def app(qapp):
    yield qapp
    theme.apply_theme(qapp, "light")  # the palette is global: leave it as the suite expects


def test_dark_choice_draws_dark_surfaces_with_light_text(app, qtbot) -> None:
    assert theme.apply_theme(app, "dark") == "dark" and theme.is_dark()
    palette = app.palette()
    window = palette.color(QPalette.ColorRole.Window)
    text = palette.color(QPalette.ColorRole.WindowText)
    assert _luminance(window) < 0.25 and _luminance(text) > 0.8
    # muted labels use the palette, so they stay readable in both themes
    label = QLabel("3 rows")
    qtbot.addWidget(label)
    label.setStyleSheet("color: palette(placeholder-text);")
    label.ensurePolished()
    assert _luminance(label.palette().color(QPalette.ColorRole.WindowText)) > 0.4
    assert "#e6e9ee" in page_css() and "#1d2731" not in page_css()
    assert theme.apply_theme(app, "light") == "light"
    assert _luminance(app.palette().color(QPalette.ColorRole.Window)) > 0.8
    assert page_css() == PAGE_CSS


def test_system_choice_follows_the_desktop(app, monkeypatch) -> None:
    monkeypatch.setenv("NDVIEWER_THEME", "dark")  # what a dark desktop reports
    follower = theme.ThemeFollower(app, "system")
    assert theme.current() == "dark"
    seen: list[str] = []
    follower.changed.connect(seen.append)
    monkeypatch.setenv("NDVIEWER_THEME", "light")
    follower._system_changed()  # the desktop switched
    assert seen == ["light"] and theme.current() == "light"
    follower.set_choice("dark")  # an explicit choice wins over the desktop
    follower._system_changed()
    assert seen == ["light", "dark"] and theme.current() == "dark"
    follower.deleteLater()


def test_appearance_is_a_saved_preference(app, qtbot, tmp_path) -> None:
    settings = QSettings(str(tmp_path / "prefs.ini"), QSettings.Format.IniFormat)
    values = load_preferences(settings)
    assert values["theme"] == "system"
    dialog = PreferencesDialog(settings, values)
    qtbot.addWidget(dialog)
    combo = dialog.combos["theme"]
    assert [combo.itemData(k) for k in range(combo.count())] == ["system", "light", "dark"]
    combo.setCurrentIndex(combo.findData("dark"))
    dialog.accept()
    settings.sync()
    assert load_preferences(settings)["theme"] == "dark"
    settings.setValue("preferences/theme", "neon")  # a value we do not know
    assert load_preferences(settings)["theme"] == "system"
    assert isinstance(QApplication.instance(), QApplication)
