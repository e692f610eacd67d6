"""Tree names are never cut short: deep icephys names were elided behind wide type names."""

from __future__ import annotations

from PySide6.QtWidgets import QApplication

from tests.gui.test_main_window import open_and_wait, window  # noqa: F401


def test_icephys_names_fit_their_column(qtbot, window, icephys_file):  # noqa: F811
    window.resize(1400, 900)
    window.show()
    qtbot.waitExposed(window)
    tab = open_and_wait(qtbot, window, icephys_file, index=False)
    for _ in range(6):  # rows are read off the GUI thread: expand what came, wait, again
        tab.tree.expandAll()
        QApplication.processEvents()
        qtbot.waitUntil(lambda: not tab.model.reader.busy, timeout=10000)
        qtbot.wait(100)  # the columns are fitted 50 ms after the last rows arrived
    header = tab.tree.header()
    assert header.sectionSize(0) >= tab.tree.sizeHintForColumn(0)
    for column in (1, 2, 3):
        assert header.sectionSize(column) >= tab.tree.sizeHintForColumn(column)
