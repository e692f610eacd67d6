""" "View as" picks are kept per type family: choosing Details on a recording once made every
later object (an image series too) open in Details."""

from __future__ import annotations

from ndviewer.gui.panels.details_panel import DetailsPanel
from ndviewer.gui.panels.images.image_panel import ImagePanel
from ndviewer.gui.panels.traces.trace_panel import TracePanel
from tests.gui.test_main_window import open_and_wait, window  # noqa: F401


def _show(qtbot, tab, path: str):
    tab.show_path(path)
    qtbot.waitUntil(lambda: tab.panel is not None and tab.panel.node.path == path)
    return tab.panel


def test_view_as_pick_is_kept_per_family(qtbot, window, demo_file):  # noqa: F811
    tab = open_and_wait(qtbot, window, demo_file, index=False)
    assert isinstance(_show(qtbot, tab, "/acquisition/ElectricalSeries"), TracePanel)
    row = tab.view_as.findText("Details")
    tab.view_as.setCurrentIndex(row)
    tab.view_as.activated.emit(row)  # what a user's pick in the combo box sends
    assert isinstance(tab.panel, DetailsPanel)
    # another family: its best view, not the pick made for recordings
    assert isinstance(_show(qtbot, tab, "/acquisition/TwoPhotonSeries"), ImagePanel)
    assert tab.view_as.currentText() == "Image"
    # the same family (ephys): the pick holds
    assert isinstance(_show(qtbot, tab, "/processing/ecephys/LFP/LFP"), DetailsPanel)
    assert tab.view_as.currentText() == "Details"
    # position is behaviour: traces again
    assert isinstance(_show(qtbot, tab, "/processing/behavior/Position/SpatialSeries"), TracePanel)
    assert tab.user_panel_picks == {"ephys": "ndviewer.gui.panels.details_panel:DetailsPanel"}
