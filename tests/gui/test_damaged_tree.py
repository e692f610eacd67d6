"""Issue 23.10: a soft-link cycle or a damaged object is one red, explained row of the tree;
it never raises out of the model (which would leave the tree unshown)."""

from __future__ import annotations

import shutil

import h5py
from PySide6.QtCore import Qt

from ndviewer.core.model.files import open_nwb
from ndviewer.gui.tree_model import NAME, TYPE, FileTreeModel


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
