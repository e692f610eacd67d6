"""The Units panel: spikes per unit in the raster window, pages, order and per-unit plots."""

from __future__ import annotations

import gc
import weakref

import numpy as np
import pyqtgraph as pg
import pytest

from ndviewer.core.model.files import open_nwb
from ndviewer.core.nwb.units import FIRING_RATE, SPIKE_COUNT
from ndviewer.core.time_cursor import TimeCursor
from ndviewer.gui.panels.base import PanelContext
from ndviewer.gui.panels.tables.psth_panel import PsthPanel, SeriesAlignment
from ndviewer.gui.panels.tables.units_panel import UnitsPanel, counts_to_image
from ndviewer.gui.workers import WorkerPool
from tests.core.tables_fixtures import UNIT_SPIKES, write_tables_file, write_units_h5

N_UNITS = 230
ELECTRODES = "/general/extracellular_ephys/electrodes"


@pytest.fixture(scope="module")
def rich_path(tmp_path_factory):
    return write_tables_file(tmp_path_factory.mktemp("units_panel") / "tables.nwb")


@pytest.fixture(scope="module")
def trains():
    rng = np.random.default_rng(11)
    return [np.sort(rng.uniform(0, 50, rng.integers(0, 400))) for _ in range(N_UNITS)]


@pytest.fixture(scope="module")
def many_path(tmp_path_factory, trains):
    depth = np.random.default_rng(2).uniform(0, 3000, N_UNITS)
    return write_units_h5(tmp_path_factory.mktemp("many_units") / "units.h5", trains, depth)


def _context(path):
    file = open_nwb(path)
    return PanelContext(file=file, time_cursor=TimeCursor(), pool=WorkerPool())


@pytest.fixture
def rich_context(qtbot, rich_path):
    context = _context(rich_path)
    yield context
    context.pool.shutdown()
    context.file.close()


@pytest.fixture
def many_context(qtbot, many_path):
    context = _context(many_path)
    yield context
    context.pool.shutdown()
    context.file.close()


def make_panel(qtbot, context, path="/units") -> UnitsPanel:
    panel = UnitsPanel(context, context.file.node(path))
    qtbot.addWidget(panel)
    panel.resize(1100, 650)
    panel.show()
    qtbot.waitUntil(lambda: panel.raster is not None and panel.details is not None, timeout=5000)
    return panel


def wait_raster(qtbot, panel, condition):
    qtbot.waitUntil(lambda: panel.raster is not None and condition(panel.raster), timeout=5000)


def expected_counts(trains, units, t0, t1):
    return {int(u): int(np.sum((trains[u] >= t0) & (trains[u] < t1))) for u in units}


def test_raster_shows_the_spikes_of_each_unit_in_the_window(qtbot, rich_context):
    panel = make_panel(qtbot, rich_context)
    raster = panel.raster
    assert raster.units.tolist() == [0, 1, 2, 3]
    assert panel.spikes_shown_per_unit() == expected_counts(
        UNIT_SPIKES, range(4), raster.t0, raster.t1
    )
    assert sum(panel.spikes_shown_per_unit().values()) == sum(len(s) for s in UNIT_SPIKES)
    panel.set_time_window(3.9, 4.6)
    wait_raster(qtbot, panel, lambda r: abs(r.t0 - 3.9) < 1e-9 and abs(r.t1 - 4.6) < 1e-9)
    assert panel.spikes_shown_per_unit() == {0: 0, 1: 28, 2: 0, 3: 4}
    assert panel.spikes_shown_per_unit() == expected_counts(UNIT_SPIKES, range(4), 3.9, 4.6)
    image = panel.image.image
    assert image.shape[1] == panel.raster.counts.shape[1]
    assert (image[:, :] > 0).any(axis=1).reshape(4, -1).any(axis=1).tolist() == [
        False,
        True,
        False,
        True,
    ]
    assert "32 spikes of 4 units" in panel.status_label.text()


def test_pages_and_window_on_many_units(qtbot, many_context, trains):
    panel = make_panel(qtbot, many_context)
    assert panel.n_pages == 3
    assert panel.page_label.text() == "units 1–100 of 230"
    panel.set_page(2)
    wait_raster(qtbot, panel, lambda r: r.units.tolist() == list(range(200, 230)))
    assert panel.page_label.text() == "units 201–230 of 230"
    assert not panel.next_button.isEnabled()
    panel.set_time_window(10.0, 20.0)
    wait_raster(qtbot, panel, lambda r: r.units[0] == 200 and abs(r.t1 - 20.0) < 1e-9)
    assert panel.spikes_shown_per_unit() == expected_counts(trains, range(200, 230), 10.0, 20.0)
    panel.set_page_size(500)
    wait_raster(qtbot, panel, lambda r: r.units.size == N_UNITS)
    assert panel.spikes_shown_per_unit() == expected_counts(trains, range(N_UNITS), 10.0, 20.0)
    assert panel.image.image.shape[0] == N_UNITS  # no gap rows above 200 units


def test_order_by_column_rate_and_count(qtbot, many_context, trains):
    panel = make_panel(qtbot, many_context)
    depth = many_context.file.h5["/units/depth"][:]
    panel.sort_units("depth")
    wait_raster(qtbot, panel, lambda r: r.units[0] == int(np.argmin(depth)))
    np.testing.assert_array_equal(panel.order, np.argsort(depth, kind="stable"))
    assert panel.spikes_shown_per_unit() == expected_counts(
        trains, panel.page_units, panel.raster.t0, panel.raster.t1
    )
    counts = np.array([len(t) for t in trains])
    panel.sort_units(SPIKE_COUNT, descending=True)
    wait_raster(qtbot, panel, lambda r: counts[r.units[0]] == counts.max())
    assert np.all(np.diff(counts[panel.order]) <= 0)
    panel.sort_units(FIRING_RATE)
    wait_raster(qtbot, panel, lambda r: counts[r.units[0]] == counts.min())
    assert panel.descending_button.text() == "↑"


def test_selected_unit_plots(qtbot, rich_context):
    panel = make_panel(qtbot, rich_context)
    with qtbot.waitSignal(panel.unit_changed, timeout=5000):
        panel.select_unit(3)
    details = panel.details
    assert details.unit == 3 and details.n_spikes == 6
    intervals = np.diff(UNIT_SPIKES[3])
    np.testing.assert_array_equal(details.isi.counts, np.histogram(intervals, details.isi.edges)[0])
    x, y = panel.isi_bars.getData()
    np.testing.assert_array_equal(y, details.isi.counts)
    assert details.rate.rates.sum() * panel.rate_bin_spin.value() == pytest.approx(6)
    assert "unit 3" in panel.unit_label.text() and "6 spikes" in panel.unit_label.text()
    assert "40.00% ISIs" in panel.unit_label.text()
    assert panel.waveform_plot.isVisible()
    assert panel.waveform_note.text() == "mean ± sd per electrode"
    np.testing.assert_array_equal(details.waveform_mean, np.arange(40.0).reshape(4, 5, 2)[3])
    band = panel.selection_band.getRegion()
    assert band == (3.0, 4.0)


def test_without_waveforms_says_so(qtbot, many_context):
    panel = make_panel(qtbot, many_context)
    assert panel.details.waveform_mean is None
    assert "no waveform_mean" in panel.waveform_note.text()
    assert not panel.waveform_plot.isVisible()


def test_time_cursor_line_follows(qtbot, rich_context):
    panel = make_panel(qtbot, rich_context)
    rich_context.time_cursor.set_time(4.25)
    assert panel.cursor_line.value() == 4.25
    panel.shutdown()
    rich_context.time_cursor.set_time(1.0)
    assert panel.cursor_line.value() == 4.25  # unsubscribed


def test_counts_to_image():
    counts = np.array([[0, 1, 2, 50], [0, 0, 3, 0]])
    image = counts_to_image(counts, gaps=False)
    assert image[0, 0] == 0 and image[1, 0] == 0
    assert image[0, 1] == 1
    assert image[0, 3] == 255  # saturated
    assert 1 < image[0, 2] < image[1, 2] <= 255
    gapped = counts_to_image(counts, gaps=True)
    assert gapped.shape == (16, 4)
    assert (gapped[0] == 0).all() and (gapped[7] == 0).all()
    np.testing.assert_array_equal(gapped[1], image[0])
    np.testing.assert_array_equal(gapped[9], image[1])


def test_priority(rich_context):
    catalog = rich_context.file.catalog
    assert UnitsPanel.priority(rich_context.file.node("/units"), catalog) == 60
    assert UnitsPanel.priority(rich_context.file.node("/intervals/trials"), catalog) == -1


def test_panel_is_released(qtbot, rich_context):
    panel = UnitsPanel(rich_context, rich_context.file.node("/units"))
    qtbot.waitUntil(lambda p=panel: p.raster is not None, timeout=5000)
    ref = weakref.ref(panel)
    panel.shutdown()
    panel.deleteLater()
    del panel
    qtbot.wait(10)
    gc.collect()
    assert ref() is None


# -- PSTH / trial alignment ---------------------------------------------------------------------

TRIAL_STARTS = np.array([0.0, 2.0, 4.0, 6.0, 8.0])
CONDITIONS = ["left", "right", "left", "right", "left"]


def make_psth(qtbot, context, path) -> PsthPanel:
    panel = PsthPanel(context, context.file.node(path))
    qtbot.addWidget(panel)
    panel.resize(1100, 700)
    panel.show()
    qtbot.waitUntil(lambda: panel.result is not None, timeout=5000)
    return panel


def configure(qtbot, panel, **settings):
    with qtbot.waitSignal(panel.result_changed, timeout=5000):
        panel.configure(**settings)
    return panel.result


def test_psth_of_a_unit_grouped_by_condition(qtbot, rich_context):
    panel = make_psth(qtbot, rich_context, "/intervals/trials")
    assert panel.trials_combo.currentText() == "/intervals/trials"
    assert panel.data_combo.currentText() == "/units"
    assert [panel.align_combo.itemText(i) for i in range(panel.align_combo.count())] == [
        "start_time",
        "stop_time",
        "cue_time",
    ]
    result = configure(qtbot, panel, group_by="condition", unit=1, window=(-0.5, 1.5), bin_size=0.1)
    spikes = UNIT_SPIKES[1]
    assert result.psth.labels == ["left", "right"]
    assert result.psth.n_trials.tolist() == [3, 2]
    edges = result.psth.edges
    np.testing.assert_allclose(edges, -0.5 + 0.1 * np.arange(21))
    for g, label in enumerate(["left", "right"]):
        starts = TRIAL_STARTS[[c == label for c in CONDITIONS]]
        per_trial = np.array([np.histogram(spikes - s, edges)[0] for s in starts]) / 0.1
        np.testing.assert_allclose(result.psth.rates[g], per_trial.mean(axis=0))
    expected_events = sum(
        int(np.sum((spikes >= s - 0.5) & (spikes < s + 1.5))) for s in TRIAL_STARTS
    )
    assert result.aligned.relative_times.size == expected_events
    assert f"{expected_events} spikes in 5 trials" in panel.status_label.text()
    # the raster draws one tick (two points) per aligned spike
    curves = [i for i in panel.raster_plot.getPlotItem().items if isinstance(i, pg.PlotCurveItem)]
    assert sum(c.getData()[0].size for c in curves) == 2 * expected_events
    assert "left (3 trials)" in panel.legend_label.text()
    # trials stacked by group: left trials 0, 2, 4 then right 1, 3
    assert result.trial_rows.tolist() == [0, 3, 1, 4, 2]


def test_align_to_cue_time_from_the_units_node(qtbot, rich_context):
    panel = make_psth(qtbot, rich_context, "/units")
    assert panel.data_combo.currentText() == "/units"
    assert panel.trials_combo.currentText() == "/intervals/trials"
    result = configure(
        qtbot, panel, align_to="cue_time", group_by="", unit=3, window=(-0.1, 0.1), bin_size=0.05
    )
    assert result.psth.labels == ["all trials"]
    # unit 3 fires at 4.0, 4.001, 4.0015 (cue of trial 2 is 4.5: outside +-0.1) and 8.5? no
    spikes = UNIT_SPIKES[3]
    cues = TRIAL_STARTS + 0.5
    expected = sum(int(np.sum((spikes >= c - 0.1) & (spikes < c + 0.1))) for c in cues)
    assert result.aligned.relative_times.size == expected == 1  # 4.5 is the cue of trial 2
    assert result.psth.trial_counts.sum() == 1


def test_align_a_time_series(qtbot, rich_context):
    panel = make_psth(qtbot, rich_context, "/intervals/trials")
    result = configure(
        qtbot,
        panel,
        data="/acquisition/lfp_like",
        group_by="correct",
        window=(-0.5, 1.0),
        bin_size=0.25,
    )
    assert isinstance(result, SeriesAlignment)
    assert panel.channel_spin.isVisible() and not panel.unit_combo.isVisible()
    times = np.arange(100) / 10.0
    data = np.arange(100.0)
    for k, start in enumerate(TRIAL_STARTS):
        for i in range(result.edges.size - 1):
            inside = (times >= start + result.edges[i]) & (times < start + result.edges[i + 1])
            expected = data[inside].mean() if inside.any() else np.nan
            np.testing.assert_allclose(result.values[k, i], expected)
    assert result.labels == ["False", "True"]
    assert result.n_trials.tolist() == [2, 3]
    np.testing.assert_allclose(result.means[1], np.nanmean(result.values[[1, 2, 4]], axis=0))


def test_psth_priority_and_sources(qtbot, rich_context):
    catalog = rich_context.file.catalog
    node = rich_context.file.node
    assert PsthPanel.priority(node("/intervals/trials"), catalog) == 40
    assert PsthPanel.priority(node("/units"), catalog) == 40
    assert PsthPanel.priority(node(ELECTRODES), catalog) == -1
    assert PsthPanel.priority(node("/acquisition/lfp_like"), catalog) == -1
    panel = make_psth(qtbot, rich_context, "/units")  # before the index: a shallow scan
    trials = [panel.trials_combo.itemText(i) for i in range(panel.trials_combo.count())]
    data = [panel.data_combo.itemText(i) for i in range(panel.data_combo.count())]
    assert trials == ["/intervals/trials"]
    assert data[0] == "/units" and "/acquisition/lfp_like" in data


def test_bad_window_is_reported(qtbot, rich_context):
    panel = make_psth(qtbot, rich_context, "/intervals/trials")
    panel.configure(window=(1.0, -1.0))
    qtbot.waitUntil(lambda: "must end after" in panel.status_label.text(), timeout=5000)
