"""The generic array view: plain datasets of any rank as table, line or image, read lazily."""

from __future__ import annotations

import h5py
import numpy as np
import pytest
from PySide6.QtCore import Qt

from ndviewer.core.model.files import open_nwb
from ndviewer.core.time_cursor import TimeCursor
from ndviewer.gui.panels.arrays.array_panel import ArrayPanel
from ndviewer.gui.panels.arrays.block_model import BLOCK_ROWS
from ndviewer.gui.panels.base import PanelContext
from ndviewer.gui.workers import WorkerPool
from tests.gui.test_main_window import open_and_wait, window  # noqa: F401

CUBE = np.arange(5 * 1000 * 40, dtype=np.int32).reshape(5, 1000, 40)
IMAGE = np.add.outer(np.arange(64), np.arange(64) * 100).astype(np.uint16)


@pytest.fixture(scope="module")
def plain_path(tmp_path_factory):
    """A plain HDF5 file (no NWB types): a 64×64 image, a 5×1000×40 cube, a long line."""
    path = tmp_path_factory.mktemp("arrays") / "plain.h5"
    with h5py.File(path, "w") as f:
        f["image"] = IMAGE
        f.create_dataset("cube", data=CUBE, chunks=(1, 100, 40))
        f["trace"] = np.sin(np.arange(50_000) / 100.0)
        f["names"] = np.array([b"alpha", b"beta", b"gamma"])
        f["scalar"] = 7
    return path


@pytest.fixture
def make_panel(qtbot, plain_path):
    file = open_nwb(plain_path)
    pool = WorkerPool()
    context = PanelContext(file=file, time_cursor=TimeCursor(), pool=pool)
    panels = []

    def make(path: str) -> ArrayPanel:
        panel = ArrayPanel(context, file.node(path))
        qtbot.addWidget(panel)
        panel.resize(900, 600)
        panel.show()
        panels.append(panel)
        return panel

    yield make
    for panel in panels:
        panel.shutdown()
    pool.shutdown()
    file.close()


def _cell(panel: ArrayPanel, row: int, col: int) -> str:
    return panel.model.data(panel.model.index(row, col), Qt.ItemDataRole.DisplayRole)


def test_plain_datasets_open_in_the_array_view_first(qtbot, window, plain_path):  # noqa: F811
    tab = open_and_wait(qtbot, window, plain_path, index=False)
    for path in ("/image", "/cube", "/trace", "/names"):
        tab.show_path(path)
        qtbot.waitUntil(lambda p=path: tab.panel is not None and tab.panel.node.path == p)
        assert isinstance(tab.panel, ArrayPanel), path
        assert tab.view_as.currentText() == "Array"
        assert "Details" in [tab.view_as.itemText(i) for i in range(tab.view_as.count())]
    tab.show_path("/scalar")
    qtbot.waitUntil(lambda: tab.panel.node.path == "/scalar")
    assert not isinstance(tab.panel, ArrayPanel)  # a scalar is shown whole in Details


def test_two_d_image_shows_the_values(qtbot, make_panel):
    panel = make_panel("/image")
    assert panel.mode == "image" and panel.views == ["image", "table"]
    qtbot.waitUntil(lambda: panel.image is not None)
    np.testing.assert_array_equal(panel.image.pixels, IMAGE)
    assert panel.image_item.image.shape == (64, 64)
    assert tuple(panel.colorbar.levels()) == (0.0, float(IMAGE.max()))


def test_cube_table_reads_only_the_visible_blocks_of_the_chosen_slice(qtbot, make_panel):
    panel = make_panel("/cube")
    assert panel.choice.row_axis == 1 and panel.choice.col_axis == 2
    assert [a for a, s in panel.sliders.items() if s.isVisible()] == [0]
    panel.set_mode("table")
    panel.set_index(0, 3)
    qtbot.waitUntil(lambda: panel.model is not None and panel.model.has_block((0, 0)))
    assert panel.model.rowCount() == 1000 and panel.model.columnCount() == 40
    assert _cell(panel, 2, 5) == str(CUBE[3, 2, 5])
    assert not panel.model.has_block((1000 // BLOCK_ROWS, 0))  # far rows never read
    panel.table.scrollToBottom()
    qtbot.waitUntil(lambda: panel.model.has_block((999 // BLOCK_ROWS, 0)))
    assert _cell(panel, 999, 5) == str(CUBE[3, 999, 5])
    assert panel.model.n_blocks <= 4
    assert "axis 0 = 3" in panel.status.text()


def test_swapping_axes_transposes_the_table(qtbot, make_panel):
    panel = make_panel("/cube")
    panel.set_mode("table")
    panel.row_box.setCurrentIndex(2)  # rows = axis 2 → columns become axis 1
    assert (panel.choice.row_axis, panel.choice.col_axis) == (2, 1)
    qtbot.waitUntil(lambda: panel.model.has_block((0, 0)))
    assert panel.model.rowCount() == 40 and panel.model.columnCount() == 1000
    assert _cell(panel, 4, 7) == str(CUBE[0, 7, 4])


def test_long_line_is_read_to_the_plot_width(qtbot, make_panel):
    panel = make_panel("/trace")
    assert panel.mode == "line"
    qtbot.waitUntil(lambda: panel.line is not None)
    assert panel.line.step > 1 and len(panel.line.y) <= 2 * max(200, panel.plot.width())
    np.testing.assert_allclose(panel.line.y, np.sin(panel.line.x / 100.0))
    panel.plot.setXRange(100, 300, padding=0)
    qtbot.waitUntil(lambda: panel.line.step == 1 and panel.line.x[0] == 100)
    assert 200 <= len(panel.line.x) <= 202
    np.testing.assert_array_equal(panel.line.x, np.arange(100, 100 + len(panel.line.x)))
    np.testing.assert_allclose(panel.line.y, np.sin(panel.line.x / 100.0))


def test_text_dataset_is_a_table_of_strings(qtbot, make_panel):
    panel = make_panel("/names")
    assert panel.views == ["table"]
    qtbot.waitUntil(lambda: panel.model.has_block((0, 0)))
    assert [_cell(panel, r, 0) for r in range(3)] == ["alpha", "beta", "gamma"]


def test_spike_times_open_as_a_line_of_the_stored_values(qtbot, window, ecephys_file):  # noqa: F811
    tab = open_and_wait(qtbot, window, ecephys_file, index=False)
    tab.show_path("/units/spike_times")
    qtbot.waitUntil(lambda: tab.panel is not None and tab.panel.node.path == "/units/spike_times")
    panel = tab.panel
    assert isinstance(panel, ArrayPanel) and panel.mode == "line"
    qtbot.waitUntil(lambda: panel.line is not None)
    with h5py.File(ecephys_file, "r", locking=False) as f:
        stored = f["units/spike_times"][:]
    np.testing.assert_allclose(panel.line.y, stored[: len(panel.line.y)])
