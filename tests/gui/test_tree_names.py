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


def test_columns_fit_the_rows_and_the_user_can_drag_them(qtbot, window, demo_file, monkeypatch):  # noqa: F811
    """The columns are fitted to the shown rows (not by Qt's ResizeToContents, which forbade
    dragging them); a column the user dragged keeps its width when rows arrive later."""
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QGuiApplication
    from PySide6.QtWidgets import QHeaderView

    window.resize(1400, 900)
    window.show()
    qtbot.waitExposed(window)
    tab = open_and_wait(qtbot, window, demo_file, index=False)
    header = tab.tree.header()
    assert header.sectionResizeMode(0) == QHeaderView.ResizeMode.Interactive
    tab.tree.expandAll()
    qtbot.waitUntil(lambda: not tab.model.reader.busy, timeout=10000)
    tab.columns.fit()
    name_width = header.sectionSize(0)
    assert tab.tree.sizeHintForColumn(0) <= name_width <= tab.tree.sizeHintForColumn(0) + 40
    monkeypatch.setattr(
        QGuiApplication, "mouseButtons", staticmethod(lambda: Qt.MouseButton.LeftButton)
    )
    header.resizeSection(0, 120)  # as a drag of the border does
    monkeypatch.undo()
    tab.tree.collapseAll()
    tab.tree.expandAll()
    tab.columns.fit()
    assert header.sectionSize(0) == 120
    assert header.sectionSize(1) >= tab.tree.sizeHintForColumn(1)
