"""Tree names are never cut short: deep icephys names were elided behind wide type names."""

from __future__ import annotations

from PySide6.QtWidgets import QApplication

from tests.gui.test_main_window import open_and_wait, window  # noqa: F401


def test_icephys_names_fit_their_column(qtbot, window, icephys_file):  # noqa: F811
    window.resize(1400, 900)
    window.show()
    qtbot.waitExposed(window)
    tab = open_and_wait(qtbot, window, icephys_file, index=False)
    tab.tree.expandAll()
    QApplication.processEvents()
    qtbot.wait(50)
    header = tab.tree.header()
    assert header.sectionSize(0) >= tab.tree.sizeHintForColumn(0)
    for column in (1, 2, 3):
        assert header.sectionSize(column) >= tab.tree.sizeHintForColumn(column)
