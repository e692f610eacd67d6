"""The main window over real pynwb files: tree, panels, filter through inheritance, links,
several files, bad files, drag and drop."""

from __future__ import annotations

import gc
import weakref
from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent

from ndviewer.gui.main_window import MainWindow
from ndviewer.gui.tree_model import NAME, SHAPE, TYPE
from tests.core import foundation_fixtures as ff


@pytest.fixture
def window(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("NDVIEWER_CONFIG_DIR", str(tmp_path / "config"))
    from ndviewer.gui.app import make_settings

    win = MainWindow(make_settings())
    qtbot.addWidget(win)
    yield win
    win.close()


def open_and_wait(qtbot, win: MainWindow, path: Path, index: bool = True):
    with qtbot.waitSignal(win.tree_shown, timeout=20000):
        tab = win.open_path(path)
    if index:
        qtbot.waitUntil(lambda: tab.context.index is not None, timeout=30000)
    return tab


def test_tree_shows_types_shapes_and_overview(qtbot, window, ecephys_file):
    tab = open_and_wait(qtbot, window, ecephys_file)
    model = tab.model
    root = model.root_index()
    assert model.data(root.siblingAtColumn(TYPE)) == "NWBFile"
    names = [model.data(model.index(r, NAME, root)) for r in range(model.rowCount(root))]
    assert {"acquisition", "general", "processing", "specifications", "units"} <= set(names)
    raw = model.index_for_path("/acquisition/raw")
    assert model.data(raw.siblingAtColumn(TYPE)) == "ElectricalSeries"
    data = model.index_for_path("/acquisition/raw/data")
    assert (
        model.data(data.siblingAtColumn(SHAPE))
        == f"({ff.ECEPHYS_SAMPLES:,}, {ff.ECEPHYS_CHANNELS})"
    )
    # the root shows the overview with counts from the background index
    assert type(tab.panel).__name__ == "OverviewPanel"
    html = tab.panel.html()
    assert "ElectricalSeries" in html and "Subject" in html


def test_tooltips_and_details_come_from_the_files_spec(qtbot, window, ecephys_file):
    tab = open_and_wait(qtbot, window, ecephys_file)
    catalog = tab.file.catalog
    tab.show_path("/acquisition/raw")
    assert "ElectricalSeries" in tab.title_label.text()
    titles = [tab.view_as.itemText(i) for i in range(tab.view_as.count())]
    assert "Details" in titles
    tab.view_as.setCurrentIndex(titles.index("Details"))
    tab.view_as.activated.emit(titles.index("Details"))
    html = tab.panel.html()
    assert catalog.doc("ElectricalSeries")[:40] in html.replace("\n", " ")
    assert "TimeSeries" in html  # inheritance chain
    data_index = tab.model.index_for_path("/acquisition/raw/data")
    tip = tab.model.data(data_index, Qt.ItemDataRole.ToolTipRole)
    expected = catalog.member("ElectricalSeries", "data").doc
    assert expected[:30] in tip


def test_filter_matches_types_through_inheritance(qtbot, window, ecephys_file):
    tab = open_and_wait(qtbot, window, ecephys_file)
    tab.filter_by_type("TimeSeries")
    paths = {e.path for e in tab.results_model.entries}
    assert "/acquisition/raw" in paths  # an ElectricalSeries is a TimeSeries
    assert "/processing/ecephys/lfp_power" in paths
    assert "/processing/ecephys/LFP/lfp" in paths
    tab.filter_by_type("ElectricalSeries")
    paths = {e.path for e in tab.results_model.entries}
    assert "/acquisition/raw" in paths and "/processing/ecephys/lfp_power" not in paths
    # clearing the filter brings the tree back
    tab.filter_edit.clear()
    tab._apply_filter()
    assert tab.left_stack.currentWidget() is tab.tree


def test_soft_link_shows_target_and_jumps(qtbot, window, ecephys_file):
    tab = open_and_wait(qtbot, window, ecephys_file)
    index = tab.model.index_for_path("/processing/ecephys/lfp_power/timestamps")
    text = tab.model.data(index)
    assert text == "timestamps → /processing/ecephys/LFP/lfp/timestamps"
    tab._on_tree_double_click(index)
    assert tab.panel.node.path == "/processing/ecephys/LFP/lfp/timestamps"


def test_bad_file_gets_a_message_and_other_files_keep_working(
    qtbot, window, ecephys_file, tmp_path
):
    tab = open_and_wait(qtbot, window, ecephys_file, index=False)
    bogus = tmp_path / "notes.nwb"
    bogus.write_text("this is not HDF5")
    with qtbot.waitSignal(window.file_failed, timeout=10000) as blocker:
        window.open_path(bogus)
    path, message = blocker.args
    assert str(bogus) in message and "not an HDF5 file" in message
    assert window.last_error == message
    assert window.tabs.count() == 1 and window.current_tab() is tab
    tab.show_path("/acquisition/raw")
    assert tab.panel.node.path == "/acquisition/raw"


def test_a_file_that_cannot_open_is_named_on_the_welcome_page(
    qtbot, window, ecephys_file, tmp_path
):
    """With no file open, the welcome page says which file failed and why (the message box
    is gone once answered); the note goes once a file opens."""
    missing = tmp_path / "moved away.nwb"
    with qtbot.waitSignal(window.file_failed, timeout=10000) as blocker:
        window.open_path(missing)
    _path, message = blocker.args
    assert window.stack.currentWidget() is window.welcome
    assert "moved away.nwb" in message and "does not exist" in message
    assert message in window.welcome.text() and "File → Open" in window.welcome.text()
    open_and_wait(qtbot, window, ecephys_file, index=False)
    window.close_tab(0)
    assert window.stack.currentWidget() is window.welcome
    assert "does not exist" not in window.welcome.text()


def test_several_files_and_no_duplicates(qtbot, window, ecephys_file, ophys_file):
    first = open_and_wait(qtbot, window, ecephys_file, index=False)
    second = open_and_wait(qtbot, window, ophys_file, index=False)
    assert window.tabs.count() == 2
    assert window.open_path(ecephys_file) is first
    assert window.tabs.count() == 2 and window.current_tab() is first
    window.close_tab(window.tabs.indexOf(second))
    assert window.tabs.count() == 1
    assert not second.file.is_open


def test_drop_opens_file(qtbot, window, behavior_file):
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(behavior_file))])
    event = QDropEvent(
        QPointF(10, 10),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    with qtbot.waitSignal(window.tree_shown, timeout=20000):
        window.dropEvent(event)
    assert window.current_tab().path == str(Path(behavior_file).resolve())


def test_panels_are_released(qtbot, window, ecephys_file):
    tab = open_and_wait(qtbot, window, ecephys_file)
    tab.show_path("/general")
    ref = weakref.ref(tab.panel)
    tab.show_path("/acquisition")
    qtbot.waitUntil(lambda: (gc.collect() or True) and ref() is None, timeout=5000)


def test_saving_metadata_in_the_window_reloads_tree_and_index(qtbot, window, tmp_path):
    from tests.core.edit_fixtures import pynwb_read, write_nwb

    path = write_nwb(tmp_path / "no_subject.nwb", subject=False)
    tab = open_and_wait(qtbot, window, path)
    assert not tab.model.index_for_path("/general/subject").isValid()
    titles = [tab.view_as.itemText(i) for i in range(tab.view_as.count())]
    tab.view_as.setCurrentIndex(titles.index("Metadata"))
    tab.view_as.activated.emit(titles.index("Metadata"))
    panel = tab.panel
    panel.confirm_save = False
    species = panel.view.row("/general/subject", "species")
    species.editor.line.setText("Mus musculus")
    qtbot.keyClick(species.editor.line, Qt.Key.Key_Return)
    assert tab.unsaved_changes() == 2  # the new Subject group and its species
    assert panel.save()
    assert tab.unsaved_changes() == 0
    # the tree is rebuilt from the saved file and the index is rebuilt (new identity)
    qtbot.waitUntil(lambda: tab.model.index_for_path("/general/subject").isValid(), timeout=5000)
    subject = tab.model.index_for_path("/general/subject")
    assert tab.model.data(subject.siblingAtColumn(TYPE)) == "Subject"
    qtbot.waitUntil(
        lambda: tab.context.index is not None and "/general/subject" in tab.context.index.by_path,
        timeout=30000,
    )
    assert tab.panel is panel  # the form that saved stays
    pool = tab.pool
    window.close_tab(window.tabs.indexOf(tab))
    # the background checks of the reloaded file (cancelled by the close) hold their own
    # read-only handle until they notice; pynwb, which locks, can open it once they have
    assert pool.wait(30_000)
    with pynwb_read(path) as nwbfile:
        assert nwbfile.subject.species == "Mus musculus"


def test_linked_panes_sit_beside_the_main_view(qtbot, window, ophys_file):
    tab = open_and_wait(qtbot, window, ophys_file, index=False)
    tab.show_path("/acquisition/two_photon")
    image_panel = tab.panel
    tab.open_linked("/processing/ophys/DfOverF/dff", {"channels": [2]})
    assert len(tab.pinned) == 1
    pane = tab.pinned[0]
    assert pane.panel.node.path == "/processing/ophys/DfOverF/dff"
    assert tab.panel is image_panel  # the image stays in the main view
    tab.open_linked("/processing/ophys/DfOverF/dff", {"channels": [3]})  # re-used, not doubled
    assert len(tab.pinned) == 1
    tab.pin_current()  # the image can be pinned too
    assert len(tab.pinned) == 2
    assert type(tab.pinned[1].panel) is type(image_panel)
    pane.closed.emit(pane)
    assert len(tab.pinned) == 1
    tab.show_path("/acquisition/two_photon/data")  # browsing keeps the pinned image
    assert len(tab.pinned) == 1


def test_overview_flags_what_dandi_requires(qtbot, window, demo_file):
    tab = open_and_wait(qtbot, window, demo_file)
    qtbot.waitUntil(lambda: "mouse-042" in tab.panel.html(), timeout=10000)
    html = tab.panel.html()
    # the demo subject has no age and no date of birth on purpose
    assert html.count("missing — DANDI requires") == 1
    assert "requires age or date_of_birth" in html


def test_a_macos_file_open_event_opens_a_tab(qtbot, window, ecephys_file):
    """A double-click on macOS arrives as a QFileOpenEvent to the running app."""
    from PySide6.QtCore import QCoreApplication
    from PySide6.QtGui import QFileOpenEvent
    from PySide6.QtWidgets import QApplication

    from ndviewer.gui.desktop import FileOpenFilter

    app = QApplication.instance()
    event_filter = FileOpenFilter(window.open_handed_over, app)
    app.installEventFilter(event_filter)
    try:
        with qtbot.waitSignal(window.tree_shown, timeout=20000):
            QCoreApplication.sendEvent(app, QFileOpenEvent(str(ecephys_file)))
        assert [tab.path for tab in window.open_tabs()] == [str(Path(ecephys_file).resolve())]
        qtbot.waitUntil(lambda: window.open_tabs()[0].context.index is not None, timeout=30000)
    finally:
        app.removeEventFilter(event_filter)


def test_window_geometry_splitter_and_last_folder_are_remembered(
    qtbot, tmp_path, monkeypatch, ecephys_file
):
    from PySide6.QtWidgets import QFileDialog

    from ndviewer.gui.app import make_settings

    monkeypatch.setenv("NDVIEWER_CONFIG_DIR", str(tmp_path / "config"))
    first = MainWindow(make_settings())
    qtbot.addWidget(first)
    first.resize(790, 500)  # within the offscreen 800x600 screen
    first.move(40, 30)
    first.show()
    qtbot.waitExposed(first)
    chosen = str(Path(ecephys_file).resolve())
    monkeypatch.setattr(QFileDialog, "getOpenFileNames", staticmethod(lambda *args: ([chosen], "")))
    tab = open_and_wait(qtbot, first, Path(ecephys_file))
    first._choose_files()
    tab.splitter.setSizes([350, 440])  # the left side (tree + checks) needs ~344 px
    sizes = tab.splitter.sizes()
    first.close()

    seen = {}

    def dialog(parent, caption, start, filters):
        seen["start"] = start
        return [], ""

    monkeypatch.setattr(QFileDialog, "getOpenFileNames", staticmethod(dialog))
    second = MainWindow(make_settings())
    qtbot.addWidget(second)
    assert (second.width(), second.height()) == (790, 500)
    second.show()
    qtbot.waitExposed(second)
    second_tab = open_and_wait(qtbot, second, Path(ecephys_file))
    assert sizes[0] < sizes[1]
    assert abs(second_tab.splitter.sizes()[0] - sizes[0]) <= 2
    second._choose_files()
    assert seen["start"] == str(Path(chosen).parent)
    second.close()


def test_a_remembered_window_larger_than_the_screen_is_fitted(qtbot, tmp_path, monkeypatch):
    from ndviewer.gui.app import make_settings

    monkeypatch.setenv("NDVIEWER_CONFIG_DIR", str(tmp_path / "config"))
    big = MainWindow(make_settings())
    qtbot.addWidget(big)
    big.resize(3000, 2000)  # saved on a large external monitor
    big.close()
    again = MainWindow(make_settings())
    qtbot.addWidget(again)
    screen = again.screen().availableGeometry()
    assert again.width() <= screen.width() and again.height() <= screen.height()
    again.close()


def test_help_lists_the_window_shortcuts_it_really_has_and_about_gives_versions(window):
    import h5py
    from PySide6.QtGui import QAction

    from ndviewer.gui.help_pages import SHORTCUTS, about_html

    bound = {
        action.shortcut().toString()  # the first, shown in the menu
        for action in window.findChildren(QAction)
        if not action.shortcut().isEmpty()
    }
    listed = {keys for keys, _what, where in SHORTCUTS if where == "window"}
    assert listed == bound  # every window shortcut listed, none invented
    page = about_html(Path("/tmp/ndviewer.log"))
    assert h5py.version.hdf5_version in page and "Qt" in page and "numpy" in page
    assert "/tmp/ndviewer.log" in page


def test_link_names_stay_readable_in_the_dark_theme(qtbot, window, ecephys_file, qapp):
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QPalette

    from ndviewer.gui import theme

    def luminance(color) -> float:
        return 0.2126 * color.redF() + 0.7152 * color.greenF() + 0.0722 * color.blueF()

    tab = open_and_wait(qtbot, window, ecephys_file)
    index = tab.model.index_for_path("/processing/ecephys/lfp_power/timestamps")
    role = Qt.ItemDataRole.ForegroundRole
    light_link = tab.model.data(index, role).color()
    try:
        theme.apply_theme(qapp, "dark")
        dark_link = tab.model.data(index, role).color()
        base = qapp.palette().color(QPalette.ColorRole.Base)
    finally:
        theme.apply_theme(qapp, "light")
    # the link blue is lighter on the dark base, with a clear luminance gap to it
    assert luminance(dark_link) > luminance(light_link)
    assert luminance(dark_link) - luminance(base) > 0.35
