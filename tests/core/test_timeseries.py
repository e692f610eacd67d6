"""TimeSeriesSource: time axes, physical units, channel labels, windowed reads.

The fixture file is written by pynwb and every expectation is read back through pynwb too.
"""

from __future__ import annotations

from types import SimpleNamespace

import h5py
import numpy as np
import pytest

from ndviewer.core.errors import NdviewerError
from ndviewer.core.model.files import open_nwb
from ndviewer.core.nwb.timeseries import (
    RegularTimeAxis,
    SampledTimeAxis,
    TimeSeriesSource,
    plottable_channels,
    si_prefix,
)
from ndviewer.core.signal.lod import TraceLod
from tests.core.traces_fixtures import RATE, write_traces_nwb


@pytest.fixture(scope="module")
def fixture_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("ts") / "traces.nwb"
    written = write_traces_nwb(path)
    from pynwb import NWBHDF5IO

    io = NWBHDF5IO(str(path), "r")
    nwb = io.read()
    h5 = h5py.File(path, "r")
    yield h5, nwb, written
    h5.close()
    io.close()


def test_regular_axis_matches_pynwb(fixture_file) -> None:
    h5, nwb, written = fixture_file
    es = nwb.acquisition["raw"]
    src = TimeSeriesSource(h5["acquisition/raw"])
    assert src.time_source == "rate"
    assert src.time_axis.rate == es.rate == RATE
    assert src.t_start == es.starting_time == 1.5
    assert src.t_stop == pytest.approx(1.5 + (written["raw"].shape[0] - 1) / RATE)
    np.testing.assert_allclose(src.time_axis.times(10, 15), es.get_timestamps()[10:15])
    # samples with 2.0 <= t < 2.01: indices 500..509
    assert src.time_axis.window(2.0, 2.01) == (500, 510)
    assert src.time_axis.index_at(2.0, "right") == 501
    assert src.time_axis.index_at(-5.0) == 0 and src.time_axis.index_at(1e9) == 5000


def test_regular_axis_index_is_exact_at_float_edges() -> None:
    axis = RegularTimeAxis(10_000_000, 30_000.0, 0.1)
    for i in (1, 29_999, 3_000_001, 9_999_999):
        t = float(axis.times(i, i + 1)[0])
        assert axis.index_at(t, "left") == i
        assert axis.index_at(t, "right") == i + 1


def test_timestamps_axis_matches_pynwb(fixture_file) -> None:
    h5, nwb, written = fixture_file
    lfp = nwb.processing["ecephys"]["LFP"].electrical_series["lfp"]
    src = TimeSeriesSource(h5["processing/ecephys/LFP/lfp"])
    assert src.time_source == "timestamps" and src.time_axis.rate is None
    times = np.asarray(lfp.timestamps[:])
    assert src.t_start == times[0] and src.t_stop == times[-1]
    i0, i1 = src.time_axis.window(1.0, 2.0)
    assert (i0, i1) == tuple(np.searchsorted(times, [1.0, 2.0]))
    t, v = src.samples(1.0, 2.0)
    np.testing.assert_array_equal(t, times[i0:i1])
    np.testing.assert_array_equal(v, np.asarray(lfp.data[i0:i1], dtype=np.float64))


def test_coarse_timestamp_index_for_long_series(tmp_path, monkeypatch) -> None:
    import ndviewer.core.nwb.timeseries as ts_module

    monkeypatch.setattr(ts_module, "_FULL_TIMESTAMPS", 1000)
    monkeypatch.setattr(ts_module, "_COARSE_POINTS", 97)
    times = np.cumsum(np.random.default_rng(1).uniform(0.1, 1.0, size=50_000))
    with h5py.File(tmp_path / "t.h5", "w") as f:
        f["ts"] = times
    with h5py.File(tmp_path / "t.h5", "r") as f:
        axis = SampledTimeAxis(f["ts"])
        assert axis._values is None  # really the coarse path
        probes = np.r_[times[::977], times[::977] + 1e-9, times[::977] - 1e-9, -1.0, 1e12]
        for t in probes:
            for side in ("left", "right"):
                assert axis.index_at(t, side) == np.searchsorted(times, t, side=side)
        np.testing.assert_array_equal(axis.times(100, 200), times[100:200])


def test_conversion_offset_and_channel_conversion(fixture_file) -> None:
    h5, nwb, written = fixture_file
    es = nwb.acquisition["raw"]
    src = TimeSeriesSource(h5["acquisition/raw"])
    assert (src.conversion, src.offset, src.unit) == (es.conversion, es.offset, "volts")
    np.testing.assert_allclose(src.channel_conversion, es.channel_conversion[:])
    expected = (
        np.asarray(es.data[100:200], dtype=np.float64)
        * es.conversion
        * np.asarray(es.channel_conversion[:], dtype=np.float64)
        + es.offset
    )
    np.testing.assert_allclose(src.read_physical(100, 200), expected, rtol=1e-12)
    np.testing.assert_allclose(
        src.read_physical(100, 200, np.array([6, 1])), expected[:, [6, 1]], rtol=1e-12
    )
    np.testing.assert_array_equal(src.read(0, 5000), written["raw"])  # gzip+shuffle direct path


def test_envelope_in_physical_units_matches_pynwb(fixture_file) -> None:
    h5, nwb, written = fixture_file
    es = nwb.acquisition["raw"]
    src = TimeSeriesSource(h5["acquisition/raw"])
    win = TraceLod(src).fetch(1.5, 6.5, np.arange(8), max_columns=100)
    assert win.kind == "envelope" and win.spc == 50
    phys = (
        np.asarray(es.data[:], dtype=np.float64) * es.conversion * es.channel_conversion[:]
        + es.offset
    )
    cols = phys.reshape(100, 50, 8)
    np.testing.assert_allclose(win.lo, cols.min(axis=1), rtol=1e-5)
    np.testing.assert_allclose(win.hi, cols.max(axis=1), rtol=1e-5)


def test_channel_labels_from_electrodes_table(fixture_file) -> None:
    h5, nwb, written = fixture_file
    table = nwb.electrodes.to_dataframe()
    src = TimeSeriesSource(h5["acquisition/raw"])
    assert [c.row_id for c in src.channels] == list(table.index)
    assert [c.location for c in src.channels] == list(table["location"])
    assert [c.group for c in src.channels] == [g.name for g in table["group"]]
    assert src.channels[5].label == "105"
    assert src.channels[5].describe() == "ch 5 · id 105 · DG · shank1"
    lfp = TimeSeriesSource(h5["processing/ecephys/LFP/lfp"])
    assert [c.row_id for c in lfp.channels] == [105, 102, 107]
    assert [c.location for c in lfp.channels] == ["DG", "CA1", "DG"]


def test_one_dimensional_empty_and_spatial_series(fixture_file) -> None:
    h5, nwb, written = fixture_file
    one = TimeSeriesSource(h5["acquisition/one_d"])
    assert (one.n_samples, one.n_channels, one.unit) == (1234, 1, "m")
    np.testing.assert_array_equal(one.read(0, 1234)[:, 0], written["one_d"])
    assert one.channels[0].label == "0" and one.channels[0].row_id is None
    empty = TimeSeriesSource(h5["acquisition/empty"])
    assert (empty.n_samples, empty.n_channels) == (0, 3)
    assert empty.t_start == empty.t_stop == 2.0
    assert empty.time_axis.window(0.0, 10.0) == (0, 0)
    win = TraceLod(empty).fetch(0.0, 10.0, np.arange(3), 100)
    assert win.kind == "samples" and win.values.shape == (0, 3)
    pos = TimeSeriesSource(h5["processing/behavior/Position/position"])
    assert (pos.n_samples, pos.n_channels, pos.neurodata_type) == (300, 2, "SpatialSeries")
    np.testing.assert_array_equal(pos.read_physical(0, 300), written["position"])


def test_nan_samples_and_robust_stats(fixture_file) -> None:
    h5, nwb, written = fixture_file
    lfp = TimeSeriesSource(h5["processing/ecephys/LFP/lfp"])
    data = written["lfp"].astype(np.float64)
    median, std = lfp.robust_stats(0, 600)
    for c in range(3):
        col = data[np.isfinite(data[:, c]), c]
        assert median[c] == pytest.approx(np.median(col))
        assert std[c] == pytest.approx(1.4826 * np.median(np.abs(col - np.median(col))))
    win = TraceLod(lfp).fetch(0.0, 4.0, np.arange(3), max_columns=50)
    assert win.kind == "envelope" and np.isfinite(win.lo[:, 1]).sum() > 0


@pytest.mark.parametrize("n", [1, 2, 7, 600])
@pytest.mark.parametrize("dtype", [np.int16, np.uint16, np.uint8, np.int32])
def test_integer_robust_stats_equal_float_order_statistics(n: int, dtype) -> None:
    rng = np.random.default_rng(n)
    info = np.iinfo(dtype)
    data = rng.integers(info.min, info.max, size=(n, 4), endpoint=True).astype(dtype)
    factor = np.array([1.0, -2.0, 0.5, 3.0])
    src = TimeSeriesSource.from_numpy(
        data, rate=10.0, conversion=0.25, offset=1.5, channel_conversion=factor
    )
    median, std = src.robust_stats(0, n, np.array([3, 1, 0]))
    physical = data[:, [3, 1, 0]].astype(np.float64) * 0.25 * factor[[3, 1, 0]] + 1.5
    expected = np.median(physical, axis=0)
    np.testing.assert_allclose(median, expected, rtol=1e-12)
    mad = np.median(np.abs(physical - expected), axis=0)
    np.testing.assert_allclose(std, 1.4826 * mad, rtol=1e-12, atol=1e-12)


def test_not_a_series_raises_readable_error(fixture_file) -> None:
    h5, _, _ = fixture_file
    with pytest.raises(NdviewerError, match="/intervals/trials is not a TimeSeries"):
        TimeSeriesSource(h5["intervals/trials"])


def test_from_path(fixture_file, tmp_path) -> None:
    h5, _, written = fixture_file
    file = SimpleNamespace(h5=h5)  # what the helpers need of an open file
    lfp = TimeSeriesSource.from_path(file, "/processing/ecephys/LFP/lfp")
    assert lfp.path == "/processing/ecephys/LFP/lfp" and lfp.n_channels == 3
    np.testing.assert_array_equal(lfp.read(0, 5), written["lfp"][:5])
    with pytest.raises(NdviewerError, match="/acquisition/nothing does not exist"):
        TimeSeriesSource.from_path(file, "/acquisition/nothing")
    with pytest.raises(NdviewerError, match="is not a TimeSeries"):
        TimeSeriesSource.from_path(file, "/intervals/trials")


def test_from_numpy_and_si_prefix() -> None:
    src = TimeSeriesSource.from_numpy(np.ones((10, 2), np.int16), rate=100.0, conversion=0.5)
    assert src.read_physical(0, 10).tolist() == [[0.5, 0.5]] * 10
    assert si_prefix("volts", 3e-5) == ("µV", 1e6)
    assert si_prefix("volts", 0.2) == ("mV", 1e3)
    assert si_prefix("V", 2.0) == ("V", 1.0)
    assert si_prefix("degrees", 1e-5) == ("degrees", 1.0)


def test_plottable_channels_of_series_and_other_objects(fixture_file, tmp_path) -> None:
    h5, _, written = fixture_file
    assert plottable_channels(h5["acquisition/raw"]) == written["raw"].shape[1] == 8
    assert plottable_channels(h5["acquisition/one_d"]) == 1
    assert plottable_channels(h5["acquisition/empty"]) == 3  # no samples, still a series
    assert plottable_channels(h5["processing/behavior/Position/position"]) == 2
    assert plottable_channels(h5["acquisition/notes"]) is None  # text data
    assert plottable_channels(h5["acquisition/raw/data"]) is None  # a dataset, not a series
    assert plottable_channels(h5["intervals/trials"]) is None  # no data member
    assert plottable_channels(None) is None  # e.g. a broken link's node
    path = tmp_path / "shapes.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("cube/data", data=np.zeros((5, 3, 4), np.float32))
        f.create_dataset("flags/data", data=np.zeros(5, bool))
        f.create_dataset("scalar/data", data=1.0)
        f.create_dataset("pairs/data", data=np.zeros(5, [("a", "i4"), ("b", "f8")]))
    file = open_nwb(path)
    try:  # core Nodes, as the registry passes them
        assert plottable_channels(file.node("/cube")) == 12
        assert plottable_channels(file.node("/flags")) == 1
        assert plottable_channels(file.node("/scalar")) is None  # ndim 0
        assert plottable_channels(file.node("/pairs")) is None  # compound
        assert plottable_channels(file.root) is None
    finally:
        file.close()
