"""Issue 23.10: a soft-link cycle or a damaged object is one red, explained row of the tree;
it never raises out of the model (which would leave the tree unshown), and a read that hangs
never freezes it (the model reads nothing on the GUI thread)."""

from __future__ import annotations

import shutil

import h5py
from PySide6.QtCore import Qt

from ndviewer.core.model.files import open_nwb
from ndviewer.gui.tree_model import NAME, TYPE, FileTreeModel


def read_rows(qtbot, model, parent) -> None:
    """Ask for every row under ``parent`` (as painting does) and wait until they are read."""
    indexes = [model.index(row, NAME, parent) for row in range(model.rowCount(parent))]
    for index in indexes:
        model.data(index)
    qtbot.waitUntil(lambda: all(model.node(i).loaded for i in indexes), timeout=10000)
    qtbot.waitUntil(lambda: not model.reader._asked, timeout=10000)


def test_link_cycle_rows_are_shown_and_explained(qtbot, ecephys_file, tmp_path):
    path = tmp_path / "cycle.nwb"
    shutil.copyfile(ecephys_file, path)
    with h5py.File(path, "r+") as h5:
        h5["acquisition/cycle_a"] = h5py.SoftLink("/acquisition/cycle_b")
        h5["acquisition/cycle_b"] = h5py.SoftLink("/acquisition/cycle_a")
    with open_nwb(path) as file:
        model = FileTreeModel(file)
        acquisition = model.index_for_path("/acquisition")
        model.fetchMore(acquisition)
        read_rows(qtbot, model, acquisition)
        rows = {}
        for row in range(model.rowCount(acquisition)):
            index = model.index(row, NAME, acquisition)
            node = model.node(index)
            assert model.hasChildren(index) is (node.name == "raw")
            rows[node.name] = (
                model.data(index),
                model.data(model.index(row, TYPE, acquisition)),
                model.data(index, Qt.ItemDataRole.ToolTipRole),
            )
        name, type_text, tooltip = rows["cycle_a"]
        assert name.startswith("cycle_a")
        assert type_text in ("unreadable", "broken link")
        assert "/acquisition/cycle_a" in tooltip and ("links" in tooltip or "exist" in tooltip)
        assert rows["raw"][1] == "ElectricalSeries"


def test_a_hanging_read_does_not_freeze_the_tree(qtbot, ecephys_file, monkeypatch):
    """HDF5 spinning inside damaged metadata, simulated: reading one object never returns.
    The GUI thread keeps running, the other rows are shown, the hung one becomes an
    explained unreadable row once the timeout passes."""
    import threading
    import time

    from PySide6.QtWidgets import QTreeView

    from ndviewer.core.model import nodes

    release = threading.Event()
    real_read = nodes.Node._read_details
    gui_thread = threading.current_thread()
    reads_on_gui_thread: list[str] = []

    def read_details(node):
        if threading.current_thread() is gui_thread:
            reads_on_gui_thread.append(node.path)
        if node.path == "/acquisition":
            release.wait(60)  # hangs (until the test ends)
        return real_read(node)

    monkeypatch.setattr(nodes.Node, "_read_details", read_details)
    with open_nwb(ecephys_file) as file:
        model = FileTreeModel(file)
        model.reader.timeout = 0.5
        view = QTreeView()
        qtbot.addWidget(view)
        view.setModel(model)
        view.resize(600, 400)
        view.show()
        view.expand(model.root_index())
        started = time.monotonic()
        ticks: list[float] = []
        timer_started = time.monotonic()
        while time.monotonic() - timer_started < 1.5:  # the event loop keeps turning
            qtbot.wait(20)
            ticks.append(time.monotonic())
        assert max(b - a for a, b in zip([started, *ticks], ticks, strict=False)) < 0.4
        root = model.root_index()
        names = {
            model.node(model.index(r, NAME, root)).name: r for r in range(model.rowCount(root))
        }
        assert "acquisition" in names and "general" in names
        row = names["acquisition"]
        qtbot.waitUntil(
            lambda: model.data(model.index(row, TYPE, root)) == "unreadable", timeout=5000
        )
        tooltip = model.data(model.index(row, NAME, root), Qt.ItemDataRole.ToolTipRole)
        assert "more than 0.5 s" in tooltip
        general = model.index(names["general"], NAME, root)
        qtbot.waitUntil(lambda: model.node(general).loaded, timeout=5000)
        assert model.hasChildren(general)  # the rest of the file is shown
        assert reads_on_gui_thread == []
        release.set()
