"""The trace panel's signal QC strip driven like a user: QC runs in the background, the
squares show each planted defect at its lane, the user overrides a verdict and marks a range,
"Write QC to file" goes into the edit session (undo, diff) and the save is what pynwb reads."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPointF, Qt

from ndviewer.core.model.files import open_nwb
from ndviewer.core.time_cursor import TimeCursor
from ndviewer.gui.panels.base import PanelContext
from ndviewer.gui.panels.traces.qc_strip import COLORS
from ndviewer.gui.panels.traces.trace_panel import TracePanel
from ndviewer.gui.workers import WorkerPool
from tests.core import qc_fixtures as fx
from tests.core.edit_fixtures import pynwb_errors, pynwb_read

SERIES = "/acquisition/ElectricalSeries"


@pytest.fixture(scope="module")
def defective_path(tmp_path_factory):
    folder = tmp_path_factory.mktemp("qc_strip")
    return fx.write_series_nwb(folder / "defective.nwb", fx.defective_recording())


@pytest.fixture
def panel(qtbot, defective_path, tmp_path):
    path = tmp_path / "copy.nwb"
    path.write_bytes(defective_path.read_bytes())
    context = PanelContext(file=open_nwb(path), time_cursor=TimeCursor(), pool=WorkerPool())
    panel = TracePanel(context, context.file.node(SERIES))
    qtbot.addWidget(panel)
    panel.resize(1200, 900)
    panel.show()
    qtbot.waitUntil(lambda: panel.signal_qc.result is not None, timeout=30_000)
    yield panel
    panel.shutdown()
    context.pool.shutdown()
    context.file.close()


def _brushes(panel) -> dict[int, str]:
    return {
        int(spot.data()): spot.brush().color().name() for spot in panel.signal_qc.squares.points()
    }


def test_strip_shows_each_planted_defect_at_its_lane(panel):
    strip = panel.signal_qc
    assert not strip.bar.isVisible() and not strip.cancel_button.isVisible()
    colors = _brushes(panel)
    assert len(colors) == len(panel.page_channels) == fx.CHANNELS
    assert colors[fx.FLAT] == COLORS["dead"]
    assert colors[fx.RAIL_CLIPPED] == colors[fx.PLATEAU_CLIPPED] == COLORS["saturated"]
    assert colors[fx.NOISY] == COLORS["noisy"]
    assert {colors[c] for c in fx.LINE_CHANNELS} == {COLORS["line_noise"]}
    assert colors[0] == COLORS["good"]
    assert [r.reason for r in strip.regions] == ["artefact", "dropout"]
    assert strip.regions[1].getRegion() == pytest.approx(fx.DROPOUT)
    assert panel.qc.lane_label(fx.FLAT).endswith("dead")
    assert "7 bad channels, 2 bad time ranges" in strip.summary.text()
    # a square sits on its lane: same scene height as the lane's centre in the traces
    spot = next(s for s in strip.squares.points() if s.data() == fx.NOISY)
    lane = panel.page_channels.index(fx.NOISY)
    y_traces = panel.view.mapViewToScene(QPointF(0, -lane)).y()
    y_strip = strip.box.mapViewToScene(spot.pos()).y()
    assert abs(y_traces - y_strip) < 1.5


def test_click_overrides_a_verdict_and_clicking_back_drops_it(panel, qtbot):
    strip = panel.signal_qc
    spot = next(s for s in strip.squares.points() if s.data() == fx.NOISY)
    strip._on_square_clicked(strip.squares, [spot])
    assert strip.overrides == {fx.NOISY: False}
    assert _brushes(panel)[fx.NOISY] == COLORS["good"]
    assert "reviewed" in strip.summary.text()
    spot = next(s for s in strip.squares.points() if s.data() == fx.NOISY)
    strip._on_square_clicked(strip.squares, [spot])
    assert strip.overrides == {}
    strip.set_verdict(0, True)
    assert panel.qc.lane_label(0).endswith("bad")


def test_cancel_stops_a_run(panel, qtbot):
    strip = panel.signal_qc
    strip.run()
    assert strip.cancel_button.isVisible() or strip.result is not None
    strip.cancel()
    assert not strip.cancel_button.isVisible()
    assert strip.run_button.isEnabled()


def test_write_goes_into_the_session_with_undo_and_saves_as_nwb(panel, qtbot):
    strip = panel.signal_qc
    strip.set_verdict(fx.NOISY, False)  # the user keeps the noisy channel
    strip.set_verdict(0, True)  # and rejects channel 0
    manual = strip.add_region(2.0, 2.5, "manual")
    manual.setRegion((2.0, 2.4))  # dragged into place
    strip._remove_region(strip.regions[0])  # the artefact is judged fine
    assert strip.write_to_session()
    session = panel.context.settings["edit_session"]
    diff = "\n".join(session.diff())
    assert "bad_channel" in diff and "/intervals/invalid_times" in diff
    assert strip.undo_button.isEnabled() and strip.save_button.isEnabled()
    strip._undo()
    assert not session.is_dirty and not strip.save_button.isEnabled()
    assert strip.write_to_session()
    assert strip.save(confirm=False)
    assert panel.context.file.is_open  # reopened after the write
    # writing the same review again changes nothing
    assert not strip.write_to_session()
    assert not session.is_dirty
    strip.run()  # QC again after the save (the file was reopened under the panel)
    qtbot.waitUntil(lambda: not strip.cancel_button.isVisible(), timeout=30_000)
    assert "QC failed" not in strip.summary.text()
    assert strip.result.channels[fx.NOISY].flags == ("noisy",)
    # the review by eye survives the re-run: same verdicts, same colours
    assert strip.overrides == {fx.NOISY: False, 0: True}
    assert _brushes(panel)[fx.NOISY] == COLORS["good"] and _brushes(panel)[0] == COLORS["dead"]
    path = panel.context.file.path
    panel.context.file.close()  # pynwb locks files: release the viewer's handle
    expected = sorted({0, fx.FLAT, fx.RAIL_CLIPPED, fx.PLATEAU_CLIPPED, *fx.LINE_CHANNELS})
    with pynwb_read(path) as nwb:
        bad = list(map(bool, nwb.electrodes["bad_channel"].data[:]))
        assert [k for k, b in enumerate(bad) if b] == expected
        assert "reviewed by hand" in nwb.electrodes["bad_channel"].description
        frame = nwb.invalid_times.to_dataframe()
        assert list(frame["reason"]) == ["manual", "dropout"]
        assert frame["start_time"].tolist() == pytest.approx([2.0, fx.DROPOUT[0]])
        assert frame["stop_time"].tolist() == pytest.approx([2.4, fx.DROPOUT[1]])
    assert pynwb_errors(path) == []


def test_right_click_removes_a_range(panel, qtbot):
    strip = panel.signal_qc
    region = strip.mark_window()
    t0, t1 = panel.state.window
    assert region.getRegion() == pytest.approx((t0 + (t1 - t0) / 3, t1 - (t1 - t0) / 3))

    class Click:
        accepted = False

        def button(self):
            return Qt.MouseButton.RightButton

        def accept(self):
            self.accepted = True

    click = Click()
    region.mouseClickEvent(click)
    assert click.accepted and region not in strip.regions
