"""Help has a guide and there are preferences (Help once held a one-line About, and there
were no preferences); a preference reaches the views opened after it is set."""

from __future__ import annotations

from ndviewer.gui.panels.traces.trace_panel import TracePanel
from ndviewer.gui.preferences import load_preferences
from tests.gui.test_main_window import open_and_wait, window  # noqa: F401


def test_guide_names_the_views_and_keys(qtbot, window):  # noqa: F811
    titles = [a.text() for a in window.menuBar().actions()]
    help_menu = window.menuBar().actions()[titles.index("&Help")].menu()
    assert [a.text() for a in help_menu.actions()] == [
        "&Quick Guide",
        "&Keyboard Shortcuts",
        "&About ndviewer",
    ]
    dialog = window.show_guide()
    qtbot.addWidget(dialog)
    text = dialog.browser.toPlainText()
    for words in ("View as", "Array", "Keys in the traces", "Ctrl + wheel", "ndviewer info"):
        assert words in text
    dialog.close()


def test_preferences_are_saved_and_reach_new_trace_views(qtbot, window, demo_file):  # noqa: F811
    assert window.preferences == {"clip_lanes": True, "event_lines": False, "theme": "system"}
    dialog = window.show_preferences()
    qtbot.addWidget(dialog)
    dialog.boxes["clip_lanes"].setChecked(False)
    dialog.boxes["event_lines"].setChecked(True)
    dialog.accept()
    assert window.preferences == {"clip_lanes": False, "event_lines": True, "theme": "system"}
    assert load_preferences(window.settings) == window.preferences  # kept for next time
    tab = open_and_wait(qtbot, window, demo_file, index=False)
    tab.show_path("/acquisition/ElectricalSeries")
    qtbot.waitUntil(lambda: isinstance(tab.panel, TracePanel))
    panel = tab.panel
    assert panel.state.clip_lanes is False and not panel.controls.clip_box.isChecked()
    assert panel.overlays.event_lines is True
