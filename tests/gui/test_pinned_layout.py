"""Pinned panes share the window: with two pinned panes the window once grew to 1,500×1,292
on a 1,000 px screen (the image view's minimum height pushed it) and the main plot shrank."""

from __future__ import annotations

from PySide6.QtWidgets import QApplication

from ndviewer.gui.file_tab import PANE_MIN_HEIGHT
from tests.gui.test_main_window import open_and_wait, window  # noqa: F401


def _show(qtbot, tab, path: str) -> None:
    tab.show_path(path)
    qtbot.waitUntil(lambda: tab.panel is not None and tab.panel.node.path == path)


def test_two_pinned_panes_keep_the_window_size_and_share_the_height(
    qtbot,
    window,  # noqa: F811
    demo_file,
):
    window.resize(1600, 1000)
    window.show()
    qtbot.waitExposed(window)
    tab = open_and_wait(qtbot, window, demo_file, index=False)
    _show(qtbot, tab, "/acquisition/TwoPhotonSeries")
    tab.pin_current()
    _show(qtbot, tab, "/units")
    tab.pin_current()
    _show(qtbot, tab, "/acquisition/ElectricalSeries")
    QApplication.processEvents()
    qtbot.wait(100)
    assert len(tab.pinned) == 2
    assert (window.width(), window.height()) == (1600, 1000)
    assert window.minimumSizeHint().height() <= 1000
    sizes = tab.panes.sizes()
    assert len(sizes) == 3
    assert min(sizes) >= PANE_MIN_HEIGHT  # every pane keeps a usable height
    assert sizes[0] >= max(sizes[1:])  # the main view is not squeezed below its pins
    assert tab.panel.height() >= 250  # the main plot is a plot, not a 50 px strip
