"""The trace panel driven like a user: keys, wheel, channel pages, overlays, linked cursor."""

from __future__ import annotations

import dataclasses
import gc
import weakref

import h5py
import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import QApplication

from ndviewer.core.model.files import open_nwb
from ndviewer.core.model.registry import default_registry
from ndviewer.core.nwb.timeseries import TimeSeriesSource
from ndviewer.core.signal.lod import TraceLod, build_pyramid, minmax_bins
from ndviewer.core.time_cursor import TimeCursor
from ndviewer.gui.panels.base import PanelContext
from ndviewer.gui.panels.traces.frames import FrameRequest, coarse_columns, render_frame
from ndviewer.gui.panels.traces.trace_panel import TracePanel
from ndviewer.gui.workers import WorkerPool
from tests.core.traces_fixtures import write_traces_nwb

RAW = "/acquisition/raw"


@pytest.fixture(scope="module")
def traces_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("trace_panel") / "traces.nwb"
    write_traces_nwb(path)
    return path


@pytest.fixture(scope="module")
def long_path(tmp_path_factory):
    """A 300 000-sample, 4-channel ElectricalSeries-like group in NWB layout (h5py)."""
    path = tmp_path_factory.mktemp("trace_long") / "long.nwb"
    rng = np.random.default_rng(0)
    data = rng.integers(-100, 100, size=(300_000, 4)).astype(np.int16)
    data[123_456, 2] = 3000  # one spike the whole-recording view must keep
    with h5py.File(path, "w") as f:
        f.attrs["neurodata_type"] = "NWBFile"
        f.attrs["namespace"] = "core"
        f.attrs["nwb_version"] = "2.8.0"
        group = f.create_group("acquisition/long")
        group.attrs["neurodata_type"] = "TimeSeries"
        group.attrs["namespace"] = "core"
        ds = group.create_dataset("data", data=data, chunks=(10_000, 4))
        ds.attrs["unit"] = "volts"
        ds.attrs["conversion"] = 1.0
        st = group.create_dataset("starting_time", data=0.0)
        st.attrs["rate"] = 1000.0
    return path, data


def make_context(path):
    file = open_nwb(path)
    return PanelContext(file=file, time_cursor=TimeCursor(), pool=WorkerPool())


@pytest.fixture
def context(qtbot, traces_path):
    ctx = make_context(traces_path)
    yield ctx
    ctx.pool.shutdown()
    ctx.file.close()


def make_panel(qtbot, context, path=RAW) -> TracePanel:
    panel = TracePanel(context, context.file.node(path))
    qtbot.addWidget(panel)
    panel.resize(1200, 800)
    panel.show()
    wait_frame(qtbot, panel)
    return panel


def wait_frame(qtbot, panel: TracePanel) -> None:
    """Until the frame for the panel's current state is on screen."""
    qtbot.waitUntil(
        lambda: (
            not panel._resize_timer.isActive()
            and panel.shown_frame is not None
            and panel.shown_frame.request == panel.frames.wanted
        ),
        timeout=10_000,
    )


def test_registry_offers_traces_for_series_only(context) -> None:
    catalog = context.file.catalog
    choices = default_registry().choices("ElectricalSeries", catalog, "group")
    assert choices[0].panel == "ndviewer.gui.panels.traces.trace_panel:TracePanel"
    node = context.file.node(RAW)
    assert TracePanel.priority(node, catalog) == 100
    assert TracePanel.priority(context.file.node("/intervals/trials"), catalog) == -1
    assert TracePanel.priority(context.file.node(f"{RAW}/data"), catalog) == -1


def test_opens_with_first_window_and_all_channels(qtbot, context) -> None:
    panel = make_panel(qtbot, context)
    assert panel.window == (1.5, 4.5)  # 1 kHz: 3 s from starting_time
    assert panel.page_channels == list(range(8))
    frame = panel.shown_frame
    assert frame.request.channels == tuple(range(8))
    assert frame.image.shape[0] == frame.request.height
    assert frame.image.shape[1] <= frame.request.width
    assert (frame.image > 0).any()
    assert panel.first_paint_seconds is not None
    assert context.time_cursor.window == panel.window  # linked: announced


def test_keyboard_pages_time_and_channels(qtbot, context) -> None:
    panel = make_panel(qtbot, context)
    panel.set_window(2.0, 3.0)
    wait_frame(qtbot, panel)
    qtbot.keyClick(panel, Qt.Key.Key_Right)
    assert panel.window == (3.0, 4.0)
    wait_frame(qtbot, panel)
    qtbot.keyClick(panel, Qt.Key.Key_Right, Qt.KeyboardModifier.ShiftModifier)
    assert panel.window == (3.5, 4.5)
    qtbot.keyClick(panel, Qt.Key.Key_Left)
    assert panel.window == (2.5, 3.5)
    qtbot.keyClick(panel, Qt.Key.Key_Plus)
    assert panel.window == (2.75, 3.25)
    qtbot.keyClick(panel, Qt.Key.Key_Minus)
    qtbot.keyClick(panel, Qt.Key.Key_Minus)
    assert panel.window == (2.0, 4.0)
    qtbot.keyClick(panel, Qt.Key.Key_End)
    assert panel.window == (4.5, 6.5)  # the recording ends at 1.5 + 5000/1000 s
    qtbot.keyClick(panel, Qt.Key.Key_Home)
    assert panel.window == (1.5, 3.5)
    qtbot.keyClick(panel, Qt.Key.Key_Left)
    assert panel.window == (1.5, 3.5)  # clamped at the start
    panel.set_page_size(3)
    assert panel.page_channels == [0, 1, 2]
    qtbot.keyClick(panel, Qt.Key.Key_Down)
    assert panel.page_channels == [3, 4, 5]
    qtbot.keyClick(panel, Qt.Key.Key_Down)
    assert panel.page_channels == [5, 6, 7]  # last page stays full
    qtbot.keyClick(panel, Qt.Key.Key_Up)
    assert panel.page_channels == [2, 3, 4]
    wait_frame(qtbot, panel)
    assert panel.shown_frame.request.channels == (2, 3, 4)
    assert panel.controls.page_label.text() == "3–5 of 8"
    # the keys also work when the plot has the focus
    panel.graphics.setFocus()
    qtbot.keyClick(panel.graphics, Qt.Key.Key_Right)
    assert panel.window == (3.5, 5.5)


def test_frame_pixels_follow_the_data(qtbot, context) -> None:
    panel = make_panel(qtbot, context)
    panel.set_page_size(1)
    panel.set_window(2.0, 5.0)  # 3000 samples: more than pixels, so min/max columns
    wait_frame(qtbot, panel)
    frame = panel.shown_frame
    src = panel.source
    spc = frame.spc
    assert frame.source == "raw" and spc >= 1
    # the drawn columns are the min/max of spc-sample bins in physical units
    raw = src.read_physical(0, src.n_samples, np.array([0]))
    first = round((frame.x0 - src.t_start) * 1000.0 / spc)
    _, lo, hi = minmax_bins(raw, 0, spc)
    ncols = frame.image.shape[1]
    rows_top = (
        0.5 - (hi[first : first + ncols, 0] - frame.request.baselines[0]) * frame.request.gains[0]
    ) * frame.request.height
    top_pixel = np.array([np.flatnonzero(frame.image[:, k])[0] for k in range(ncols)])
    # join with the left neighbour can only raise a column's top
    assert np.all(top_pixel <= np.clip(np.floor(rows_top), 0, frame.request.height - 1))


def test_page_steps_are_served_from_prefetched_frames(qtbot, context) -> None:
    panel = make_panel(qtbot, context)
    panel.set_window(2.0, 2.5)
    wait_frame(qtbot, panel)
    ahead = panel.shown_frame.request.shifted(0.5)
    qtbot.waitUntil(lambda: ahead in panel.frames.cache, timeout=5000)
    with qtbot.waitSignal(panel.frame_shown, timeout=1000) as blocker:
        qtbot.keyClick(panel, Qt.Key.Key_Right)
    assert blocker.args[0].request == ahead  # shown synchronously, from the cache


def test_held_key_ends_on_the_last_page(qtbot, context) -> None:
    panel = make_panel(qtbot, context)
    panel.set_window(1.5, 1.75)
    wait_frame(qtbot, panel)
    for _ in range(12):  # auto-repeat: faster than frames render
        qtbot.keyClick(panel, Qt.Key.Key_Right)
        qtbot.wait(5)
    assert panel.window == (4.5, 4.75)
    wait_frame(qtbot, panel)  # once the presses stop, the page they reached is drawn
    assert panel.shown_frame.request.t0 == 4.5


def test_ctrl_wheel_changes_gain_and_plain_wheel_zooms_time(qtbot, context) -> None:
    panel = make_panel(qtbot, context)
    viewport = panel.graphics.viewport()
    centre = panel.graphics.mapFromScene(panel.view.sceneBoundingRect().center())

    def wheel(modifiers) -> None:
        event = QWheelEvent(
            QPointF(centre),
            QPointF(viewport.mapToGlobal(centre)),
            QPoint(0, 0),
            QPoint(0, 120),
            Qt.MouseButton.NoButton,
            modifiers,
            Qt.ScrollPhase.NoScrollPhase,
            False,
        )
        QApplication.sendEvent(viewport, event)

    wheel(Qt.KeyboardModifier.ControlModifier)
    assert panel.gain == pytest.approx(1.25)
    wait_frame(qtbot, panel)
    assert panel.shown_frame.request.gains[0] == pytest.approx(1.25 / panel.spacing)
    before = panel.window[1] - panel.window[0]
    wheel(Qt.KeyboardModifier.NoModifier)
    assert panel.window[1] - panel.window[0] < before  # zoomed in on time only
    assert panel.view.viewRange()[1] == pytest.approx([-7.5, 0.5])


def test_select_channels_by_group_and_location(qtbot, context) -> None:
    panel = make_panel(qtbot, context)
    panel.select_channels("group", "shank1")
    assert panel.page_channels == [4, 5, 6, 7]
    panel.select_channels("location", "CA1")
    assert panel.page_channels == [0, 1, 2, 3]
    wait_frame(qtbot, panel)
    assert panel.shown_frame.request.channels == (0, 1, 2, 3)
    labels = [
        panel.controls.channel_combo.itemText(i)
        for i in range(panel.controls.channel_combo.count())
    ]
    assert labels[0] == "All channels (8)" and "group: shank0 (4)" in labels


def test_options_show_only_the_asked_channels(qtbot, context) -> None:
    """An ROI click opens its trace with {"channels": [column]}, before or after loading."""
    early = TracePanel(context, context.file.node(RAW))
    qtbot.addWidget(early)
    early.apply_options({"channels": [5]})  # the source is still loading
    early.resize(1200, 800)
    early.show()
    qtbot.waitUntil(lambda: early.page_channels == [5], timeout=10_000)
    wait_frame(qtbot, early)
    assert early.shown_frame.request.channels == (5,)
    early.apply_options({"channels": [2, 3, 99]})  # already loaded; 99 does not exist
    assert early.page_channels == [2, 3]
    early.shutdown()


def test_overlays_bands_raster_and_markers(qtbot, context) -> None:
    panel = make_panel(qtbot, context)
    qtbot.waitUntil(lambda: panel.overlays.units is not None, timeout=5000)
    panel.set_window(1.5, 4.5)
    qtbot.waitUntil(lambda: panel.overlays.raster_image.image is not None, timeout=5000)
    spans = sorted((b.start, b.stop) for b in panel.overlays.bands.bands)
    # trials 2.0-2.5 and 3.0-4.5 (0.5-1.0 is before the window... but starts 0.5 < 1.5? no:
    # stop 1.0 < 1.5), stimuli 1.2-1.3 (outside), invalid 4.0-4.2; epochs are off by default
    assert spans == [(2.0, 2.5), (3.0, 4.5), (4.0, 4.2)]
    # events are ticks on the track, not lines across the traces, unless asked for
    assert panel.overlays.markers.markers == []
    track_rows = panel.overlays.interval_track.rows
    event_names = [source.name for source in panel.overlays.events]
    ticks = sorted(b.start for name in event_names for b in track_rows[name])
    assert ticks == [2.0, 2.25, 3.0, 3.0]  # annotations 2.0, 3.0; lick 2.25; laser 3.0
    panel.overlays.toggle_event_lines(True)
    times = sorted(m.time for m in panel.overlays.markers.markers)
    assert times == [2.0, 2.25, 3.0, 3.0]
    panel.overlays.toggle_event_lines(False)
    raster = panel.overlays.raster_image.image
    assert raster.shape[0] > 0 and (raster > 0).any()
    n_units = panel.overlays.units.n_units
    assert panel.overlays.raster_plot.toolTip() == f"units 1–{n_units} of {n_units}"
    texts = sorted(item.textItem.toPlainText() for item in panel.overlays.labels)
    assert "trials: right" in texts and "reward" in texts
    # the interval track: one row of solid bars per shown table, named on the left
    track = panel.overlays.interval_track
    assert track.plot.isVisible()
    rows = {name: sorted((b.start, b.stop) for b in bands) for name, bands in track.rows.items()}
    assert rows["trials"] == [(2.0, 2.5), (3.0, 4.5)]
    assert rows["invalid_times"] == [(4.0, 4.2)]
    assert "epochs" not in rows  # off by default, as its background band
    assert all(b.color.alpha() == 255 for bands in track.rows.values() for b in bands)
    ticks = [name for _, name in track.plot.getAxis("left")._tickLevels[0]]
    assert ticks == list(track.rows)
    trials = next(s.path for s in panel.overlays.intervals if s.name == "trials")
    panel.overlays.toggle_interval(trials, False)
    assert "trials" not in track.rows and len(track.rows) == len(rows) - 1
    # every source has a toggle in the menu, and so do the labels
    toggles = [a.text() for a in panel.overlays.menu.actions() if a.isCheckable()]
    for source in panel.overlays.events:
        assert any(t.startswith(f"{source.name} (") for t in toggles)
    assert "labels" in toggles and "event lines across the traces" in toggles
    lick = next(
        s for s in panel.overlays.events if any(b.start == 2.25 for b in track.rows[s.name])
    )
    panel.overlays.toggle_events(lick.path, False)
    assert lick.name not in track.rows
    panel.set_window(*panel.state.bounds())  # the whole recording: labels only where room
    assert len({round(item.pos().y(), 6) for item in panel.overlays.labels}) <= 2
    panel.overlays.toggle_labels(False)
    assert panel.overlays.labels == []


def test_linked_cursor_moves_other_panels_until_unlinked(qtbot, context) -> None:
    first = make_panel(qtbot, context)
    second = make_panel(qtbot, context, "/processing/ecephys/LFP/lfp")
    first.set_window(2.0, 3.0)
    assert context.time_cursor.window == (2.0, 3.0)
    assert second.window == (2.0, 3.0)
    second.set_linked(False)
    first.set_window(2.5, 3.5)
    assert second.window == (2.0, 3.0)
    second.set_linked(True)  # relinking adopts the shared window
    assert second.window == (2.5, 3.5)


def test_spectrum_of_visible_window(qtbot, context) -> None:
    panel = make_panel(qtbot, context)
    panel.set_page_size(2)
    panel.controls.spectrum_button.setChecked(True)
    qtbot.waitUntil(lambda: panel.spectra.view.result is not None, timeout=5000)
    result = panel.spectra.view.result
    assert result.channels == (0, 1) and result.psd.shape[1] == 2
    assert result.freqs[-1] == pytest.approx(500.0)  # Nyquist of 1 kHz
    assert result.seconds == pytest.approx(3.0)
    # a unit, not "(x1e-06)": V²/Hz on a log axis, a colour bar in dB beside the spectrogram
    view = panel.spectra.view
    left = view.psd_plot.getAxis("left")
    assert left.labelText == "PSD (V²/Hz, log)" and left.labelUnits == ""
    assert not left.autoSIPrefix and left.logMode
    assert view.colorbar.axis.labelText == "dB re 1 V²/Hz"
    assert tuple(view.colorbar.levels()) == tuple(view.spec_image.levels)


def test_long_window_waits_for_pyramid_then_draws_it(qtbot, long_path, monkeypatch) -> None:
    import ndviewer.gui.panels.traces.pyramid as pyramid_module

    monkeypatch.setattr(pyramid_module, "PYRAMID_MIN_VALUES", 10**12)  # no automatic build
    path, data = long_path
    ctx = make_context(path)
    try:
        panel = make_panel(qtbot, ctx, "/acquisition/long")
        panel.lod.max_raw_values = 50_000  # force the pyramid for long windows
        panel.set_window(0.0, 300.0)
        qtbot.waitUntil(lambda: panel.shown_frame.source.startswith("pyramid"), timeout=20_000)
        frame = panel.shown_frame
        assert frame.request.t1 - frame.request.t0 == pytest.approx(300.0)
        spike_col = int((123.456 - frame.x0) / ((frame.x1 - frame.x0) / frame.image.shape[1]))
        lane_top = frame.request.height * 2 // 4  # channel 2 of 4: its lane starts here
        assert frame.image[:lane_top, spike_col].any()  # the spike reaches above its lane
        assert frame.request.channels == (0, 1, 2, 3)
        assert (frame.image > 0).sum() > 0
        qtbot.waitUntil(lambda: panel.overview.shown, timeout=5000)
    finally:
        ctx.pool.shutdown()
        ctx.file.close()


def test_coarse_frame_is_the_finest_pyramid_level(long_path, tmp_path) -> None:
    path, data = long_path
    file = open_nwb(path)
    try:
        source = TimeSeriesSource(file.node("/acquisition/long"))
        lod = TraceLod(source)
        request = FrameRequest(
            10.0, 20.0, (0, 1, 2, 3), 1000, 40, (0.0,) * 4, (0.01,) * 4, (1,) * 4
        )
        assert coarse_columns(lod, request) is None  # no pyramid yet: no stand-in
        lod.pyramid = build_pyramid(source.reader, tmp_path / "pyramid")
        assert coarse_columns(lod, request) == 10_000 // 64 + 1  # bins of 64 samples
        exact = render_frame(lod, request)
        coarse = render_frame(lod, request, coarse=True)
        assert (exact.coarse, exact.source) == (False, "raw")
        assert (coarse.coarse, coarse.source, coarse.spc) == (True, "pyramid L64", 64)
        # the same pixels as the min/max of 64-sample bins of the raw data, rasterised
        first, lo, hi = minmax_bins(data[10_000 - 10_000 % 64 : 20_032], 9_984, 64)
        assert first == 156 and coarse.x0 == pytest.approx(first * 64 / 1000.0)
        expected = render_frame(
            TraceLod(source),
            FrameRequest(
                coarse.x0,
                coarse.x1,
                (0, 1, 2, 3),
                lo.shape[0],
                40,
                (0.0,) * 4,
                (0.01,) * 4,
                (1,) * 4,
            ),
        )
        assert expected.spc == 64 and expected.source == "raw"
        np.testing.assert_array_equal(coarse.image, expected.image)
        # a window the pyramid already answers exactly has no coarser stand-in
        assert coarse_columns(lod, dataclasses.replace(request, t0=0.0, t1=300.0)) is None
    finally:
        file.close()


def test_held_key_shows_coarse_frames_then_the_exact_one(qtbot, long_path, monkeypatch) -> None:
    import ndviewer.gui.panels.traces.pyramid as pyramid_module

    monkeypatch.setattr(pyramid_module, "PYRAMID_MIN_VALUES", 1)  # build it after first paint
    path, _ = long_path
    ctx = make_context(path)
    try:
        panel = make_panel(qtbot, ctx, "/acquisition/long")
        qtbot.waitUntil(lambda: panel.lod.pyramid is not None, timeout=20_000)
        panel.set_window(10.0, 20.0)
        wait_frame(qtbot, panel)
        shown = []
        panel.frame_shown.connect(shown.append)
        panel.frames.render_seconds = 1.0  # exact frames are slow: steps outpace them
        for _ in range(6):
            qtbot.keyClick(panel, Qt.Key.Key_Right)
            qtbot.wait(20)
        assert panel.window == (70.0, 80.0)
        qtbot.waitUntil(lambda: any(f.coarse for f in shown), timeout=5000)
        coarse = [f for f in shown if f.coarse]
        assert all(f.source == "pyramid L64" and f.image.shape[1] < 1000 for f in coarse)
        # once the presses stop, the exact frame of the page they reached replaces the stand-in
        qtbot.waitUntil(
            lambda: not panel.shown_frame.coarse and panel.shown_frame.request.t0 == 70.0,
            timeout=10_000,
        )
        assert panel.shown_frame.source == "raw"
        assert panel.shown_frame.request == panel.frames.wanted
    finally:
        ctx.pool.shutdown()
        ctx.file.close()


def test_panel_is_released_after_shutdown(qtbot, context) -> None:
    panel = make_panel(qtbot, context)
    ref = weakref.ref(panel)
    panel.shutdown()
    panel.close()
    panel.setParent(None)
    panel.deleteLater()
    del panel
    qtbot.wait(50)
    gc.collect()
    assert ref() is None


def test_channel_qc_flags_the_demo_dead_and_saturated_channels(qtbot, demo_file) -> None:
    from tests.core.foundation_fixtures import load_make_demo

    demo = load_make_demo()
    ctx = make_context(demo_file)
    try:
        panel = make_panel(qtbot, ctx, "/acquisition/ElectricalSeries")
        qtbot.waitUntil(lambda: panel.qc.label.text() != "", timeout=10_000)
        labels = [c.label for c in panel.source.channels]
        dead, saturated = labels[demo.DEAD_CHANNEL], labels[demo.SATURATED_CHANNEL]
        # names, not bare numbers that read as counts ("QC: 7 dead · 21 saturated")
        assert panel.qc.label.text() == f"QC: ch {dead} dead · ch {saturated} saturated"
        ticks = dict((k, text) for k, text in panel.plot.getAxis("left")._tickLevels[0])
        assert ticks[-demo.DEAD_CHANNEL] == f"{dead} dead"
        assert ticks[-demo.SATURATED_CHANNEL] == f"{saturated} sat"
        panel.shutdown()
    finally:
        ctx.pool.shutdown()
        ctx.file.close()


@pytest.mark.parametrize(
    "path",
    ["/processing/ecephys/LFP/LFP", "/processing/behavior/Position/SpatialSeries"],
)
def test_channel_qc_does_not_cry_wolf(qtbot, demo_file, path) -> None:
    """The demo's clean LFP and the position x/y were flagged saturated (≥ 1 % of a short
    window at its own extreme); QC now flags nothing on the LFP and does not run on
    behaviour."""
    ctx = make_context(demo_file)
    try:
        panel = make_panel(qtbot, ctx, path)
        behaviour = "behavior" in path
        assert panel.qc.enabled is not behaviour
        t0 = panel.state.window[0]
        panel.set_window(t0, t0 + 0.08)  # zoomed in: 80 samples of LFP, 8 of position
        wait_frame(qtbot, panel)
        panel.check_channels()
        ctx.pool.wait(10_000)
        qtbot.wait(50)
        if behaviour:
            assert panel.qc.result is None
        else:
            qtbot.waitUntil(lambda: panel.qc.result is not None, timeout=10_000)
            assert not panel.qc.result.saturated.any()
            lfp = [c for c in range(len(panel.qc.result.dead)) if panel.qc.result.dead[c]]
            assert lfp == [load_make_demo_dead()]
        assert "saturated" not in panel.qc.label.text()
        panel.shutdown()
    finally:
        ctx.pool.shutdown()
        ctx.file.close()


def load_make_demo_dead() -> int:
    from tests.core.foundation_fixtures import load_make_demo

    return load_make_demo().DEAD_CHANNEL


def test_a_saturated_channel_stays_in_its_lane_unless_clipping_is_off(qtbot, demo_file) -> None:
    """The demo's saturated channel was drawn across lanes 16-31, hiding fifteen channels."""
    from ndviewer.gui.panels.traces.state import TRACE_COLORS
    from tests.core.foundation_fixtures import load_make_demo

    loud = load_make_demo().SATURATED_CHANNEL
    ctx = make_context(demo_file)
    try:
        panel = make_panel(qtbot, ctx, "/acquisition/ElectricalSeries")
        assert panel.controls.clip_box.isChecked()
        panel.state.highlight = loud  # its own colour, so its pixels can be counted
        panel.refresh()
        wait_frame(qtbot, panel)

        def rows_of_loud() -> np.ndarray:
            frame = panel.shown_frame
            return np.flatnonzero((frame.image == len(TRACE_COLORS) + 1).any(axis=1))

        frame = panel.shown_frame
        lane = frame.request.height / len(frame.request.channels)
        k = frame.request.channels.index(loud)
        rows = rows_of_loud()
        assert rows.size and rows.min() >= k * lane - 1 and rows.max() <= (k + 1) * lane + 1
        panel.controls.clip_box.setChecked(False)
        wait_frame(qtbot, panel)
        assert panel.shown_frame.request.clip == 0.0
        assert rows_of_loud().max() - rows_of_loud().min() > 3 * lane  # drawn in full
        panel.shutdown()
    finally:
        ctx.pool.shutdown()
        ctx.file.close()


@pytest.mark.parametrize(
    ("path", "axis", "first_lanes"),
    [
        ("/acquisition/ElectricalSeries", "electrode", None),
        ("/processing/ophys/Fluorescence/RoiResponseSeries", "ROI", None),
        ("/processing/behavior/Position/SpatialSeries", "coordinate", ["x", "y"]),
    ],
)
def test_lanes_are_named_for_what_they_are(qtbot, demo_file, path, axis, first_lanes) -> None:
    """ROI traces' axis said "electrode" and a SpatialSeries' x/y showed as 0/1."""
    ctx = make_context(demo_file)
    try:
        panel = make_panel(qtbot, ctx, path)
        assert panel.plot.getAxis("left").labelText == axis
        if first_lanes is not None:
            ticks = [text for _, text in panel.plot.getAxis("left")._tickLevels[0]]
            assert ticks == first_lanes
        panel.shutdown()
    finally:
        ctx.pool.shutdown()
        ctx.file.close()


def test_a_long_qc_verdict_is_cut_before_the_channel_choice_is(qtbot):
    """The verdict beside the channel choice gives up its width first (the choice read
    "All channels (3" when the verdict named several channels in a 1,500 px window)."""
    from PySide6.QtWidgets import QComboBox, QHBoxLayout, QWidget

    from ndviewer.gui.panels.traces.controls import ElidedLabel

    row = QWidget()
    qtbot.addWidget(row)
    combo = QComboBox(row)
    combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
    combo.addItem("All channels (384)")
    verdict = ElidedLabel(row)
    layout = QHBoxLayout(row)
    layout.addWidget(combo)
    layout.addWidget(verdict, 1)
    verdict_text = "QC: " + " · ".join(f"ch {c} saturated" for c in range(6)) + " · +12 more"
    verdict.setText(verdict_text)
    row.resize(combo.sizeHint().width() + 120, 40)
    row.show()
    qtbot.waitExposed(row)
    assert combo.width() >= combo.sizeHint().width()
    assert verdict.text() == verdict.toolTip() == verdict_text
    shown = super(ElidedLabel, verdict).text()
    assert shown.endswith("…") and len(shown) < len(verdict_text)
    row.resize(combo.sizeHint().width() + 2000, 40)
    qtbot.waitUntil(lambda: super(ElidedLabel, verdict).text() == verdict_text)
