"""The table panel: lazy rows, sort, filter, column chooser, jumps, preview and copy."""

from __future__ import annotations

import gc
import os
import time
import weakref

import h5py
import numpy as np
import pytest
from PySide6.QtCore import QItemSelectionModel, Qt, QUrl
from PySide6.QtGui import QGuiApplication

from ndviewer.core.model.files import open_nwb
from ndviewer.core.model.registry import default_registry
from ndviewer.core.nwb.table_view import table_tsv
from ndviewer.core.nwb.tables import Table
from ndviewer.core.time_cursor import TimeCursor
from ndviewer.gui.panels.base import PanelContext
from ndviewer.gui.panels.tables.table_model import BLOCK_ROWS, LOADING_TEXT, VALUE_ROLE
from ndviewer.gui.panels.tables.table_panel import TablePanel
from ndviewer.gui.workers import WorkerPool
from tests.core.tables_fixtures import write_tables_file

ELECTRODES = "/general/extracellular_ephys/electrodes"


@pytest.fixture(scope="module")
def tables_path(tmp_path_factory):
    return write_tables_file(tmp_path_factory.mktemp("table_panel") / "tables.nwb")


@pytest.fixture(scope="module")
def big_table_path(tmp_path_factory):
    """A 10^6-row DynamicTable in NWB layout, written with h5py (pynwb would take minutes)."""
    n = 1_000_000
    path = tmp_path_factory.mktemp("big_table") / "big.h5"
    rng = np.random.default_rng(0)
    with h5py.File(path, "w") as f:
        group = f.create_group("big")
        group.attrs["neurodata_type"] = "DynamicTable"
        group.attrs["namespace"] = "hdmf-common"
        group.attrs["colnames"] = np.array(["value", "count"], dtype=object)
        group.attrs["description"] = "a million rows"
        group.create_dataset("id", data=np.arange(n), chunks=(65536,))
        group.create_dataset("value", data=rng.normal(size=n), chunks=(65536,))
        group.create_dataset("count", data=(np.arange(n) % 7).astype(np.uint8), chunks=(65536,))
    return path


@pytest.fixture
def context(qtbot, tables_path):
    file = open_nwb(tables_path)
    pool = WorkerPool()
    opened: list[str] = []
    options: list[dict | None] = []

    def open_path(path, panel_options=None):
        opened.append(path)
        options.append(panel_options)

    ctx = PanelContext(file=file, time_cursor=TimeCursor(), pool=pool, open_path=open_path)
    ctx.options = options  # type: ignore[attr-defined]
    ctx.opened = opened  # type: ignore[attr-defined]
    yield ctx
    pool.shutdown()
    file.close()


def make_panel(qtbot, context, path) -> TablePanel:
    panel = TablePanel(context, context.file.node(path))
    qtbot.addWidget(panel)
    panel.resize(1000, 600)
    panel.show()
    return panel


def wait_loaded(qtbot, panel, row=0):
    panel.model.data(panel.model.index(row, 0))  # ask for the block if nobody did
    qtbot.waitUntil(lambda: panel.model.is_loaded(row), timeout=5000)


def cell_text(panel, row, name):
    section = panel.model.columns.index(name)
    return panel.model.data(panel.model.index(row, section))


def column_texts(panel, name):
    return [cell_text(panel, r, name) for r in range(panel.model.rowCount())]


def test_shows_every_column_with_readable_cells(qtbot, context):
    panel = make_panel(qtbot, context, "/units")
    assert panel.model.columns == ["id", *Table(context.file.h5["/units"]).column_names]
    wait_loaded(qtbot, panel)
    assert column_texts(panel, "quality") == ["good", "mua", "noise", "good"]
    assert column_texts(panel, "depth") == ["120", "80.5", "nan", "300"]
    assert cell_text(panel, 3, "spike_times") == "6 items: 4, 4.001, 4.0015, 4.5, 8, 8.25"
    assert cell_text(panel, 1, "electrodes") == "2 items: electrodes[1], electrodes[2]"
    assert cell_text(panel, 0, "waveforms") == "2 items"
    header = panel.model.headerData(
        panel.model.columns.index("waveform_mean"), Qt.Orientation.Horizontal
    )
    assert header == "waveform_mean (volts)"
    # times carry the unit the schema gives them, though the file stores none
    spikes = panel.model.headerData(
        panel.model.columns.index("spike_times"), Qt.Orientation.Horizontal
    )
    assert spikes == "spike_times (s)"
    assert "4 rows" in panel.status_label.text()


def test_sort_by_header_and_back(qtbot, context):
    panel = make_panel(qtbot, context, "/units")
    section = panel.model.columns.index("depth")
    with qtbot.waitSignal(panel.view_changed, timeout=5000):
        panel.view.horizontalHeader().sectionClicked.emit(section)
    assert panel.model.view_rows.tolist() == [1, 0, 3, 2]
    wait_loaded(qtbot, panel)
    assert column_texts(panel, "depth") == ["80.5", "120", "300", "nan"]
    with qtbot.waitSignal(panel.view_changed, timeout=5000):
        panel.view.horizontalHeader().sectionClicked.emit(section)
    assert panel.model.view_rows.tolist() == [3, 0, 1, 2]
    assert "sorted by depth ↓" in panel.status_label.text()
    with qtbot.waitSignal(panel.view_changed, timeout=5000):
        panel.sort_by("spike_times", descending=True)  # ragged: by length
    assert panel.model.view_rows.tolist() == [1, 3, 0, 2]


def test_unsortable_column_says_why(qtbot, context):
    panel = make_panel(qtbot, context, "/units")
    panel.view.horizontalHeader().sectionClicked.emit(panel.model.columns.index("waveform_mean"))
    assert "cannot be sorted" in panel.status_label.text()
    assert panel.model.view_rows.tolist() == [0, 1, 2, 3]


def test_filter_then_sort(qtbot, context):
    panel = make_panel(qtbot, context, "/units")
    with qtbot.waitSignal(panel.view_changed, timeout=5000):
        panel.set_filter("quality", "good")
    assert panel.model.view_rows.tolist() == [0, 3]
    assert "2 of 4 rows" in panel.status_label.text()
    with qtbot.waitSignal(panel.view_changed, timeout=5000):
        panel.sort_by("depth", descending=True)
    assert panel.model.view_rows.tolist() == [3, 0]
    with qtbot.waitSignal(panel.view_changed, timeout=5000):
        panel.set_filter("spike_times", "> 5")
    assert panel.model.view_rows.tolist() == [3]
    with qtbot.waitSignal(panel.view_changed, timeout=5000):
        panel.clear_filters()
    assert panel.model.view_rows.tolist() == [3, 0, 1, 2]


def test_filter_typed_in_the_bar(qtbot, context):
    panel = make_panel(qtbot, context, "/intervals/trials")
    panel.filter_column.setCurrentText("condition")
    qtbot.keyClicks(panel.filter_edit, "right")
    with qtbot.waitSignal(panel.view_changed, timeout=5000):
        qtbot.keyClick(panel.filter_edit, Qt.Key.Key_Return)
    assert panel.model.view_rows.tolist() == [1, 3]


def test_bad_filter_shows_the_message(qtbot, context):
    panel = make_panel(qtbot, context, "/units")
    panel.set_filter("depth", "> deep")
    qtbot.waitUntil(lambda: "needs a number" in panel.status_label.text(), timeout=5000)
    assert panel.model.view_rows.tolist() == [0, 1, 2, 3]


def test_column_chooser(qtbot, context):
    panel = make_panel(qtbot, context, "/units")
    panel._column_actions["waveforms"].setChecked(False)
    assert "waveforms" not in panel.model.columns
    panel.set_visible_columns(["quality", "depth"])
    assert panel.model.columns == ["id", "quality", "depth"]
    assert not panel._column_actions["spike_times"].isChecked()
    wait_loaded(qtbot, panel)
    assert column_texts(panel, "depth")[0] == "120"


def test_region_cell_jumps_to_target_row(qtbot, context):
    electrodes = make_panel(qtbot, context, ELECTRODES)
    units = make_panel(qtbot, context, "/units")
    wait_loaded(qtbot, units)
    index = units.model.index(2, units.model.columns.index("electrodes"))
    units._cell_double_clicked(index)
    assert context.opened == [ELECTRODES]
    assert context.options == [{"row": 3}]  # unit 2's electrode is row 3
    electrodes.apply_options(context.options[0])  # what the window does with them
    qtbot.waitUntil(lambda: electrodes.view.currentIndex().row() == 3, timeout=5000)
    assert electrodes.view.selectionModel().isRowSelected(3)


def test_jump_to_a_panel_built_later_selects_the_row(qtbot, context):
    units = make_panel(qtbot, context, "/units")
    wait_loaded(qtbot, units)
    built: list[TablePanel] = []

    def open_path(path, options=None):
        context.opened.append(path)
        built.append(make_panel(qtbot, context, path))
        built[-1].apply_options(options)

    context.open_path = open_path
    units._cell_double_clicked(units.model.index(1, units.model.columns.index("electrodes")))
    assert context.opened == [ELECTRODES]
    qtbot.waitUntil(lambda: built[0].view.currentIndex().row() == 1, timeout=5000)


def test_reference_cell_opens_the_object(qtbot, context):
    panel = make_panel(qtbot, context, ELECTRODES)
    wait_loaded(qtbot, panel)
    assert cell_text(panel, 4, "group") == "/general/extracellular_ephys/shank1"
    panel._cell_double_clicked(panel.model.index(4, panel.model.columns.index("group")))
    assert context.opened == ["/general/extracellular_ephys/shank1"]
    panel._cell_double_clicked(panel.model.index(4, panel.model.columns.index("x")))
    assert context.opened == ["/general/extracellular_ephys/shank1"]  # plain cell: no jump


def test_preview_shows_the_whole_cell_and_links(qtbot, context):
    panel = make_panel(qtbot, context, "/units")
    wait_loaded(qtbot, panel)
    # folded away until a cell is selected (empty, it took a quarter of the table's height)
    assert panel.preview.height() == 0 or not panel.preview.isVisible()
    assert panel.splitter.sizes()[1] == 0
    panel.view.setCurrentIndex(panel.model.index(1, panel.model.columns.index("spike_times")))
    qtbot.waitUntil(lambda: "[400 items]" in panel.preview.toPlainText(), timeout=5000)
    assert "9.99" in panel.preview.toPlainText()  # the last spike, far past the inline preview
    assert 100 <= panel.splitter.sizes()[1] <= 200
    panel.view.setCurrentIndex(panel.model.index(0, panel.model.columns.index("electrodes")))
    qtbot.waitUntil(lambda: "Go to:" in panel.preview.toPlainText(), timeout=5000)
    assert "electrodes row 1" in panel.preview.toPlainText()
    panel._preview_link_clicked(QUrl("jump:1"))
    assert context.opened[-1] == ELECTRODES


def test_copy_selection_as_tsv(qtbot, context):
    panel = make_panel(qtbot, context, "/units")
    wait_loaded(qtbot, panel)
    selection = panel.view.selectionModel()
    flags = QItemSelectionModel.SelectionFlag.Select
    for row in (0, 3):
        for name in ("id", "quality", "spike_times"):
            selection.select(panel.model.index(row, panel.model.columns.index(name)), flags)
    with qtbot.waitSignal(panel.copied, timeout=5000) as blocker:
        panel.copy_action.trigger()
    expected = table_tsv(panel.table, [0, 3], ["id", "quality", "spike_times"])
    assert blocker.args[0] == expected
    assert QGuiApplication.clipboard().text() == expected
    assert expected.splitlines()[2] == "3\tgood\t[4.0, 4.001, 4.0015, 4.5, 8.0, 8.25]"


def test_value_role_gives_the_raw_value(qtbot, context):
    panel = make_panel(qtbot, context, "/processing/analysis/awkward")
    wait_loaded(qtbot, panel)
    index = panel.model.index(4, panel.model.columns.index("cell_type"))
    assert panel.model.data(index, VALUE_ROLE) == "interneuron"
    assert cell_text(panel, 5, "best_electrode") == "electrodes[5]"
    assert cell_text(panel, 2, "nested") == "2 items"
    assert cell_text(panel, 2, "flag") == "False"


def test_aligned_table_shows_category_columns(qtbot, context):
    panel = make_panel(qtbot, context, "/general/intracellular_ephys/intracellular_recordings")
    wait_loaded(qtbot, panel)
    assert "responses/response" in panel.model.columns
    assert cell_text(panel, 0, "responses/response") == "(0, 3, /acquisition/resp)"


def test_priority_and_registry(context):
    catalog = context.file.catalog
    units = context.file.node("/units")
    assert TablePanel.priority(units, catalog) == 100
    assert TablePanel.priority(context.file.node("/acquisition"), catalog) == -1
    registry = default_registry()
    for path in ("/units", "/processing/analysis/lab_trials", "/intervals/trials", ELECTRODES):
        node = context.file.node(path)
        choices = registry.choices(node.neurodata_type, catalog, "group")
        assert choices[0].panel == "ndviewer.gui.panels.tables.table_panel:TablePanel", path
    lab = context.file.node("/processing/analysis/lab_trials")
    assert lab.neurodata_type == "LabTrialTable"


def test_million_rows_load_lazily(qtbot, big_table_path):
    file = open_nwb(big_table_path)
    pool = WorkerPool()
    context = PanelContext(file=file, time_cursor=TimeCursor(), pool=pool)
    try:
        panel = make_panel(qtbot, context, "/big")
        assert panel.model.rowCount() == 1_000_000
        assert panel.model.data(panel.model.index(500_000, 1)) == LOADING_TEXT
        wait_loaded(qtbot, panel)
        values = file.h5["/big/value"]
        assert cell_text(panel, 0, "value") == f"{values[0]:.6g}"
        panel.view.scrollToBottom()
        last = 999_999
        wait_loaded(qtbot, panel, last)
        assert cell_text(panel, last, "count") == str(last % 7)
        assert len(panel.model._blocks) <= 4  # only blocks asked for or on screen were read
        with qtbot.waitSignal(panel.view_changed, timeout=20000):
            panel.sort_by("value", descending=True)
        assert panel.model.view_rows[0] == int(np.argmax(values[:]))
        wait_loaded(qtbot, panel)
        assert cell_text(panel, 0, "value") == f"{values[:].max():.6g}"
        with qtbot.waitSignal(panel.view_changed, timeout=20000):
            panel.set_filter("count", "6")
        assert panel.model.rowCount() == int(np.sum(np.arange(1_000_000) % 7 == 6))
        assert panel.model.rowCount() > BLOCK_ROWS
    finally:
        pool.shutdown()
        file.close()


def test_panel_is_released(qtbot, context):
    panel = TablePanel(context, context.file.node("/units"))
    wait_loaded(qtbot, panel)
    ref = weakref.ref(panel)
    panel.shutdown()
    panel.deleteLater()
    del panel
    qtbot.wait(10)
    gc.collect()
    assert ref() is None


def test_jump_in_the_main_window_selects_the_target_row(qtbot, tables_path, tmp_path, monkeypatch):
    """Through the real window: a region cell opens the electrodes table at the right row."""
    monkeypatch.setenv("NDVIEWER_CONFIG_DIR", str(tmp_path / "config"))
    from ndviewer.gui.app import make_settings
    from ndviewer.gui.main_window import MainWindow

    window = MainWindow(make_settings())
    qtbot.addWidget(window)
    with qtbot.waitSignal(window.tree_shown, timeout=20000):
        tab = window.open_path(tables_path)
    tab.show_path("/units")
    units = tab.panel
    assert isinstance(units, TablePanel) and units.table.path == "/units"
    wait_loaded(qtbot, units)
    units._cell_double_clicked(units.model.index(2, units.model.columns.index("electrodes")))
    electrodes = tab.panel
    assert isinstance(electrodes, TablePanel) and electrodes.table.path == ELECTRODES
    qtbot.waitUntil(lambda: electrodes.view.currentIndex().row() == 3, timeout=5000)
    window.close()


def test_slow_filter_shows_progress_and_cancel_keeps_the_rows(qtbot, big_table_path, monkeypatch):
    from ndviewer.core.nwb import table_view

    real_mask = table_view.filter_mask

    def slow_mask(keys, text):  # a slow disk: each block of keys takes 50 ms
        time.sleep(0.05)
        return real_mask(keys, text)

    monkeypatch.setattr(table_view, "KEY_BLOCK_ROWS", 1 << 14)
    monkeypatch.setattr(table_view, "filter_mask", slow_mask)
    file = open_nwb(big_table_path)
    pool = WorkerPool()
    context = PanelContext(file=file, time_cursor=TimeCursor(), pool=pool)
    try:
        panel = make_panel(qtbot, context, "/big")
        wait_loaded(qtbot, panel)
        changes: list[bool] = []
        panel.view_changed.connect(lambda: changes.append(True))
        panel.filter_column.setCurrentText("count")
        panel.set_filter("count", "6")
        qtbot.waitUntil(lambda: panel.rows_progress.isVisible(), timeout=5000)
        qtbot.waitUntil(lambda: panel.rows_progress.value() > 0, timeout=5000)
        assert panel.cancel_rows_button.isVisible()
        qtbot.mouseClick(panel.cancel_rows_button, Qt.MouseButton.LeftButton)
        assert not panel.rows_progress.isVisible()
        assert panel.filter_edit.text() == ""  # the filter shown is the one applied
        assert "cancelled" in panel.status_label.text()
        assert pool.wait(5000)  # the job stopped at its next block, long before the end
        qtbot.wait(50)
        assert not changes and panel.model.rowCount() == 1_000_000
    finally:
        pool.shutdown()
        file.close()


def test_text_keys_are_built_in_the_background(qtbot, context, monkeypatch):
    from ndviewer.gui.panels.tables import table_panel

    monkeypatch.setattr(table_panel, "PREPARE_MIN_ROWS", 0)
    panel = make_panel(qtbot, context, "/units")
    wait_loaded(qtbot, panel)  # started once the first rows are in
    qtbot.waitUntil(lambda: panel._preparing is not None, timeout=5000)
    qtbot.waitUntil(lambda: not panel._preparing.is_alive(), timeout=5000)
    assert "quality" in panel.table._keys  # the filter will only test the distinct labels
    with qtbot.waitSignal(panel.view_changed, timeout=5000):
        panel.set_filter("quality", "good")
    assert panel.model.view_rows.tolist() == [0, 3]


def test_closing_the_panel_stops_the_background_keys(qtbot, context, monkeypatch):
    from ndviewer.gui.panels.tables import table_panel

    monkeypatch.setattr(table_panel, "PREPARE_MIN_ROWS", 0)
    asked: list[str] = []

    def slow_prepare(self, name, stop, max_bytes):  # a build that only ends when told
        asked.append(name)
        deadline = time.monotonic() + 10
        while not stop() and time.monotonic() < deadline:
            time.sleep(0.001)
        return False

    monkeypatch.setattr(Table, "prepare_keys", slow_prepare)
    panel = make_panel(qtbot, context, ELECTRODES)  # three text columns
    qtbot.waitUntil(lambda: bool(asked), timeout=5000)
    started = time.monotonic()
    panel.shutdown()
    assert not panel._preparing.is_alive()
    assert time.monotonic() - started < 1
    assert asked == ["location"]  # the filter's column first; stopped before the next


def test_exit_with_background_keys_under_way_does_not_hang(tmp_path):
    """A script that opens a table panel and exits without closing it exits cleanly, with
    the background key build under way. (The hang this guards against, a daemon thread
    ended during finalization while holding h5py's lock, showed in the bench's first-rows
    child; this smaller script has not reproduced it without the fix: a smoke test.)"""
    import subprocess
    import sys
    import textwrap

    n = 400_000
    path = tmp_path / "labels.h5"
    with h5py.File(path, "w") as f:
        group = f.create_group("big")
        group.attrs["neurodata_type"] = "DynamicTable"
        group.attrs["namespace"] = "hdmf-common"
        group.attrs["colnames"] = np.array(["label"], dtype=object)
        group.attrs["description"] = "labels"
        group.create_dataset("id", data=np.arange(n), chunks=(65536,))
        labels = np.array([f"cell-{k % 5000}" for k in range(n)], dtype=object)
        group.create_dataset("label", data=labels, dtype=h5py.string_dtype(), chunks=(65536,))
    script = textwrap.dedent(
        f"""
        import time
        from PySide6.QtWidgets import QApplication
        from ndviewer.core.model.files import open_nwb
        from ndviewer.core.time_cursor import TimeCursor
        from ndviewer.gui.panels.base import PanelContext
        from ndviewer.gui.panels.tables import table_panel
        from ndviewer.gui.workers import WorkerPool

        def main():  # as the bench's children: the panel is dropped, not shut down
            app = QApplication.instance() or QApplication([])
            file = open_nwb({str(path)!r})
            context = PanelContext(file=file, time_cursor=TimeCursor(), pool=WorkerPool())
            panel = table_panel.TablePanel(context, file.node("/big"))
            panel.show()
            deadline = time.monotonic() + 20
            while panel._preparing is None and time.monotonic() < deadline:
                app.processEvents()
                time.sleep(0.001)
            return panel._preparing.is_alive()

        print("opened", main(), flush=True)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
    )
    assert done.returncode == 0, done.stderr
    assert "opened True" in done.stdout
