"""Spike-train queries of a Units table against numpy on the spike times pynwb wrote."""

from __future__ import annotations

import datetime

import h5py
import numpy as np
import pytest

from ndviewer.core.errors import NdviewerError
from ndviewer.core.nwb import units as units_module
from ndviewer.core.nwb.units import FIRING_RATE, SPIKE_COUNT, UnitsTable
from tests.core.tables_fixtures import UNIT_SPIKES, write_tables_file

N_RANDOM_UNITS = 40


@pytest.fixture(scope="module")
def tables_file(tmp_path_factory):
    return write_tables_file(tmp_path_factory.mktemp("units") / "tables.nwb")


@pytest.fixture(scope="module")
def random_spikes():
    rng = np.random.default_rng(7)
    return [np.sort(rng.uniform(0, 100, rng.integers(0, 600))) for _ in range(N_RANDOM_UNITS)]


@pytest.fixture(scope="module")
def random_units_file(tmp_path_factory, random_spikes):
    from pynwb import NWBHDF5IO, NWBFile

    nwb = NWBFile("units", "units-1", datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC))
    for spikes in random_spikes:
        nwb.add_unit(spike_times=spikes)
    path = tmp_path_factory.mktemp("random_units") / "units.nwb"
    with NWBHDF5IO(str(path), "w") as io:
        io.write(nwb)
    return path


@pytest.fixture
def rich_units(tables_file):
    with h5py.File(tables_file, "r") as h5:
        yield UnitsTable.from_group(h5["/units"])


@pytest.fixture
def random_units(random_units_file):
    with h5py.File(random_units_file, "r") as h5:
        yield UnitsTable.from_group(h5["/units"])


def test_spike_times_match_pynwb(tables_file, rich_units):
    from pynwb import NWBHDF5IO

    with NWBHDF5IO(str(tables_file), "r") as io:
        expected = io.read().units.to_dataframe()["spike_times"].tolist()
    assert rich_units.n_units == len(expected)
    for unit, spikes in enumerate(expected):
        np.testing.assert_array_equal(rich_units.spike_times(unit), spikes)
    assert rich_units.spike_counts().tolist() == [len(s) for s in UNIT_SPIKES]


@pytest.mark.parametrize("chunk", [units_module.CHUNK_VALUES, 7, 1])
def test_spikes_in_window_match_numpy(random_units, random_spikes, monkeypatch, chunk):
    monkeypatch.setattr(units_module, "CHUNK_VALUES", chunk)
    order = [17, 3, 39, 0, 3, 22]  # any order, repeats allowed
    got = random_units.spikes_in_window(order, 12.5, 31.0)
    for unit, spikes in zip(order, got, strict=True):
        train = random_spikes[unit]
        np.testing.assert_array_equal(spikes, train[(train >= 12.5) & (train < 31.0)])


@pytest.mark.parametrize("chunk", [units_module.CHUNK_VALUES, 5])
def test_raster_counts_match_histogram(random_units, random_spikes, monkeypatch, chunk):
    monkeypatch.setattr(units_module, "CHUNK_VALUES", chunk)
    t0, t1, n_bins = 10.0, 90.0, 37
    counts = random_units.raster_counts(None, t0, t1, n_bins)
    assert counts.shape == (N_RANDOM_UNITS, n_bins)
    edges = np.linspace(t0, t1, n_bins + 1)
    for unit, train in enumerate(random_spikes):
        inside = train[(train >= t0) & (train < t1)]
        assert counts[unit].sum() == inside.size
        # bin of each spike as the reader computes it (exact edges differ only by rounding)
        expected = np.bincount(
            np.minimum(((inside - t0) * (n_bins / (t1 - t0))).astype(int), n_bins - 1),
            minlength=n_bins,
        )
        np.testing.assert_array_equal(counts[unit], expected)
        hist, _ = np.histogram(inside, edges)
        assert np.abs(hist - counts[unit]).sum() <= 2  # same as numpy up to edge rounding
    subset = random_units.raster_counts([5, 1], t0, t1, n_bins)
    np.testing.assert_array_equal(subset, counts[[5, 1]])


def test_time_range_and_rates(rich_units, random_units, random_spikes):
    assert rich_units.time_range() == (0.0, 10.0)  # from obs_intervals
    durations = rich_units.observed_durations()
    np.testing.assert_allclose(durations, [9.0, 9.0, 9.0, 10.0])
    np.testing.assert_allclose(
        rich_units.mean_firing_rates(),
        [len(s) / d for s, d in zip(UNIT_SPIKES, durations, strict=True)],
    )
    lo = min(s[0] for s in random_spikes if s.size)
    hi = max(s[-1] for s in random_spikes if s.size)
    assert random_units.time_range() == (lo, np.nextafter(hi, np.inf))
    total = sum(s.size for s in random_spikes)
    assert random_units.raster_counts(None, *random_units.time_range(), 50).sum() == total
    np.testing.assert_allclose(
        random_units.mean_firing_rates(), [s.size / (hi - lo) for s in random_spikes]
    )


def test_firing_rate_curve(rich_units):
    curve = rich_units.firing_rate(1, bin_size=0.5, t0=0.0, t1=10.0)
    assert curve.edges.size == 21
    train = UNIT_SPIKES[1]
    expected = np.array([np.sum((train >= a) & (train < a + 0.5)) for a in np.arange(0, 10, 0.5)])
    np.testing.assert_allclose(curve.rates, expected / 0.5)
    np.testing.assert_allclose(curve.centers[:2], [0.25, 0.75])
    with pytest.raises(NdviewerError, match="positive"):
        rich_units.firing_rate(1, bin_size=0)


def test_isi_histogram(rich_units):
    hist = rich_units.isi_histogram(3, max_isi=0.01, bin_size=0.001, refractory=0.0015)
    intervals = np.diff(UNIT_SPIKES[3])
    expected, _ = np.histogram(intervals, bins=np.arange(11) * 0.001)
    np.testing.assert_array_equal(hist.counts, expected)
    assert hist.n_intervals == 5
    assert hist.n_violations == int(np.sum(intervals < 0.0015)) == 2
    assert hist.violation_fraction == pytest.approx(0.4)
    empty = rich_units.isi_histogram(2)
    assert empty.n_intervals == 0 and empty.violation_fraction == 0.0


def test_waveforms(rich_units):
    mean = rich_units.waveform_mean(2)
    np.testing.assert_array_equal(mean, np.arange(40.0).reshape(4, 5, 2)[2])
    np.testing.assert_array_equal(rich_units.waveform_sd(2), mean / 10.0)
    assert rich_units.waveform_sampling_rate() == 30000.0
    spikes = rich_units.waveforms(1)
    assert len(spikes) == 2
    np.testing.assert_array_equal(spikes[0], np.full((2, 5), 1.0))
    np.testing.assert_array_equal(spikes[1], np.full((2, 5), -1.0))


def test_units_without_waveforms(random_units):
    assert random_units.waveform_mean(0) is None
    assert random_units.waveforms(0) is None
    assert random_units.waveform_sampling_rate() is None


def test_sort_keys(rich_units):
    names = rich_units.sort_key_names()
    assert names[:3] == ["id", SPIKE_COUNT, FIRING_RATE]
    assert {"quality", "depth", "electrodes.y", "electrodes.label"} <= set(names)
    assert "spike_times" not in names
    assert rich_units.sort_keys(SPIKE_COUNT).tolist() == [5, 400, 0, 6]
    # first electrode of each unit: 0, 1, 3, 3 -> y = 10 * electrode
    np.testing.assert_array_equal(rich_units.sort_keys("electrodes.y"), [0.0, 10.0, 30.0, 30.0])
    assert rich_units.sort_keys("electrodes.label").tolist() == ["e0", "e1", "e3", "e3"]
    with pytest.raises(NdviewerError, match="no sort key"):
        rich_units.sort_keys("probe.y")


def test_not_a_units_table(tables_file):
    with h5py.File(tables_file, "r") as h5, pytest.raises(NdviewerError, match="spike_times"):
        UnitsTable.from_group(h5["/intervals/trials"])


def test_bad_queries_raise_readable_errors(rich_units):
    with pytest.raises(NdviewerError, match="Unit row 9"):
        rich_units.spike_times(9)
    with pytest.raises(NdviewerError, match="t1 > t0"):
        rich_units.raster_counts(None, 5.0, 5.0, 10)


@pytest.mark.parametrize("chunk", [units_module.CHUNK_VALUES, 5])
def test_raster_counts_of_unsorted_and_edge_spikes(tmp_path, monkeypatch, chunk):
    """Unsorted trains take the histogram path, sorted ones the binary search: same bins,
    including spikes exactly on t0, on bin boundaries and just below t1."""
    from pynwb import NWBHDF5IO, NWBFile

    monkeypatch.setattr(units_module, "CHUNK_VALUES", chunk)
    t0, t1, n_bins = 1.0, 4.0, 6
    trains = [
        np.array([1.0, 1.5, 2.0, 2.5, np.nextafter(4.0, 0.0), 4.0, 9.0]),  # sorted, on edges
        np.array([3.0, 0.5, 1.25, 3.75, 2.0]),  # unsorted
        np.array([]),
        np.array([0.1, 0.2]),  # all before t0
    ]
    nwb = NWBFile("units", "units-edge", datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC))
    for train in trains:
        nwb.add_unit(spike_times=train)
    path = tmp_path / "edge.nwb"
    with NWBHDF5IO(str(path), "w") as io:
        io.write(nwb)
    with h5py.File(path, "r") as h5:
        units = UnitsTable.from_group(h5["/units"])
        for order in (None, [1, 0, 1, 3], [2, 0]):
            rows = range(len(trains)) if order is None else order
            counts = units.raster_counts(order, t0, t1, n_bins)
            for line, unit in zip(counts, rows, strict=True):
                train = trains[unit]
                inside = train[(train >= t0) & (train < t1)]
                expected = np.bincount(
                    np.minimum(((inside - t0) * (n_bins / (t1 - t0))).astype(int), n_bins - 1),
                    minlength=n_bins,
                )
                np.testing.assert_array_equal(line, expected)


def test_raster_counts_on_two_threads_match_one(random_units, monkeypatch):
    t0, t1 = random_units.time_range()
    one = random_units.raster_counts(None, t0, t1, 64)
    monkeypatch.setattr(units_module, "CHUNK_VALUES", 97)
    monkeypatch.setattr(units_module, "PARALLEL_VALUES", 1)  # every raster on two threads
    np.testing.assert_array_equal(random_units.raster_counts(None, t0, t1, 64), one)
    np.testing.assert_array_equal(
        random_units.raster_counts([30, 2, 17], t0, t1, 64), one[[30, 2, 17]]
    )
