"""Interval bands, spike rasters and event markers over a time window, against pynwb."""

from __future__ import annotations

import shutil

import h5py
import numpy as np
import pytest

from ndviewer.core.errors import NdviewerError
from ndviewer.core.model.files import open_nwb
from ndviewer.core.nwb.events import (
    EventSource,
    IntervalSource,
    SpikeTrainSource,
    find_time_overlays,
    has_trials_table,
    has_units_table,
    load_time_overlays,
)
from tests.core.traces_fixtures import write_traces_nwb


@pytest.fixture(scope="module")
def fixture_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("ev") / "events.nwb"
    written = write_traces_nwb(path, n_samples=500)
    from pynwb import NWBHDF5IO

    io = NWBHDF5IO(str(path), "r")
    nwb = io.read()
    h5 = h5py.File(path, "r")
    yield h5, nwb, written
    h5.close()
    io.close()


def test_find_time_overlays(fixture_file) -> None:
    h5, _, _ = fixture_file
    found = find_time_overlays(h5)
    assert found.intervals == [
        "/intervals/epochs",
        "/intervals/invalid_times",
        "/intervals/stimuli",
        "/intervals/trials",
    ]
    assert found.units == ["/units"]
    assert sorted(found.events) == ["/acquisition/laser", "/acquisition/notes", "/events/licks"]
    # an index's (path, type) pairs and the catalogue's is_a find extension subtypes
    entries = [("/x/mytrials", "MyTrials"), ("/y", "ElectricalSeries")]
    extended = find_time_overlays(
        h5, lambda t, base: t == base or (t, base) == ("MyTrials", "TimeIntervals"), entries
    )
    assert extended.intervals == ["/x/mytrials"] and not extended.units


def test_trials_query_matches_pynwb(fixture_file) -> None:
    h5, nwb, written = fixture_file
    trials = nwb.trials.to_dataframe()
    src = IntervalSource(h5["intervals/trials"])
    assert src.n_rows == len(trials) and src.label_column == "condition"
    np.testing.assert_array_equal(src.starts, trials["start_time"])
    batch = src.query(0.9, 3.0)  # overlaps rows 0 (0.5-1.0) and 1 (2.0-2.5); row 2 starts at 3.0
    assert batch.rows.tolist() == [0, 1]
    assert batch.labels == list(trials["condition"][:2])
    np.testing.assert_array_equal(batch.stops, trials["stop_time"][:2])
    assert src.query(1.01, 1.99).rows.tolist() == []
    assert src.query(4.4, 10).rows.tolist() == [2]


def test_tags_label_epochs_and_untagged_tables(fixture_file) -> None:
    h5, _, _ = fixture_file
    epochs = IntervalSource(h5["intervals/epochs"])
    assert epochs.label_column == "tags" and epochs.query(0, 1).labels == ["session"]
    invalid = IntervalSource(h5["intervals/invalid_times"])
    batch = invalid.query(0, 10)
    assert batch.starts.tolist() == [4.0] and batch.labels == [""]
    stimuli = IntervalSource(h5["intervals/stimuli"])
    assert stimuli.query(1.25, 1.26).labels == ["flash"]


def test_spike_trains_match_pynwb(fixture_file) -> None:
    h5, nwb, written = fixture_file
    units = nwb.units.to_dataframe()
    src = SpikeTrainSource(h5["units"])
    assert src.n_units == 4
    assert src.unit_ids.tolist() == list(units.index)
    for u in range(4):
        np.testing.assert_array_equal(src.train(u), units["spike_times"].iloc[u])
    trains = src.query(1.0, 3.0, range(1, 4))
    for u, got in zip(range(1, 4), trains, strict=True):
        all_spikes = np.asarray(units["spike_times"].iloc[u])
        np.testing.assert_array_equal(got, all_spikes[(all_spikes >= 1.0) & (all_spikes < 3.0)])
    assert trains[1].size == 0  # the unit without spikes


def test_spike_trains_lru_path(fixture_file, monkeypatch) -> None:
    import ndviewer.core.nwb.events as events_module

    monkeypatch.setattr(events_module, "_LOAD_ALL_SPIKES", 0)
    monkeypatch.setattr(events_module, "_SPIKE_CACHE_VALUES", 20)
    h5, _, written = fixture_file
    src = SpikeTrainSource(h5["units"])
    assert src._all is None
    for u in (0, 1, 3, 0):
        np.testing.assert_array_equal(src.train(u), written["spikes"][u])
    assert src._cached_values <= 30  # the LRU dropped older trains
    lo, hi = src.time_range
    every = np.concatenate(written["spikes"])
    assert (lo, hi) == (every.min(), every.max())


def test_event_markers(fixture_file) -> None:
    h5, nwb, _ = fixture_file
    notes = EventSource(h5["acquisition/notes"])
    assert notes.kind == "annotation"
    batch = notes.query(1.5, 3.0)
    assert batch.times.tolist() == [2.0] and batch.labels == ["stop"]
    assert np.isnan(batch.durations).all()
    laser = EventSource(h5["acquisition/laser"])
    assert laser.kind == "intervals"
    np.testing.assert_array_equal(laser.times, [1.0, 3.0])
    np.testing.assert_array_equal(laser.durations, [0.25, 0.5])
    assert laser.query(1.1, 2.0).times.tolist() == [1.0]  # still on at 1.1
    licks = EventSource(h5["events/licks"])
    assert licks.kind == "table"
    expected = nwb.events["licks"].to_dataframe()["timestamp"].tolist()
    assert licks.query(0, 10).times.tolist() == expected
    assert licks.query(2.25, 5.0).times.tolist() == [2.25]


@pytest.fixture
def nwb_file(fixture_file, tmp_path):
    """A copy of the fixture file opened as the application opens it (an NwbFile)."""
    h5, _, _ = fixture_file
    file = open_nwb(shutil.copy(h5.filename, tmp_path / "copy.nwb"))
    yield file
    file.close()


def test_load_time_overlays_opens_every_overlay_of_a_file(nwb_file) -> None:
    loaded = load_time_overlays(nwb_file)
    assert [s.name for s in loaded.intervals] == ["epochs", "invalid_times", "stimuli", "trials"]
    assert sorted(s.path for s in loaded.events) == [
        "/acquisition/laser",
        "/acquisition/notes",
        "/events/licks",
    ]
    assert {s.path: s.kind for s in loaded.events}["/acquisition/laser"] == "intervals"
    assert loaded.units is not None and loaded.units.path == "/units"
    assert loaded.units.unit_ids.tolist() == [10, 11, 12, 13]
    trials = next(s for s in loaded.intervals if s.name == "trials")
    assert trials.query(0.9, 3.0).labels == ["left", "right"]


def test_load_time_overlays_skips_what_cannot_be_read(nwb_file) -> None:
    entries = [
        ("/intervals/gone", "TimeIntervals"),  # no such object
        ("/acquisition/raw", "TimeIntervals"),  # no start_time column
        ("/intervals/trials", "TimeIntervals"),
        ("/acquisition/raw", "AnnotationSeries"),  # no event times (regular series)
        ("/acquisition/notes", "AnnotationSeries"),
        ("/intervals/trials", "Units"),  # no spike_times: the next Units table is used
        ("/units", "Units"),
        ("/acquisition/one_d", None),  # untyped entries are ignored
    ]
    loaded = load_time_overlays(nwb_file, entries=entries)
    assert [s.path for s in loaded.intervals] == ["/intervals/trials"]
    assert [s.path for s in loaded.events] == ["/acquisition/notes"]
    assert loaded.units is not None and loaded.units.path == "/units"
    assert load_time_overlays(nwb_file, entries=[("/x", "Units")]).units is None


def test_sources_from_file_and_path(nwb_file) -> None:
    trials = IntervalSource.from_path(nwb_file, "/intervals/trials")
    assert (trials.n_rows, trials.label_column) == (3, "condition")
    assert IntervalSource.from_path(nwb_file, "/intervals/trials", "tags").label_column == "tags"
    assert SpikeTrainSource.from_path(nwb_file, "/units").n_units == 4
    licks = EventSource.from_path(nwb_file, "/events/licks")
    assert licks.times.tolist() == [0.75, 2.25, 5.0]
    with pytest.raises(NdviewerError, match="has no object at /intervals/nope"):
        IntervalSource.from_path(nwb_file, "/intervals/nope")
    with pytest.raises(NdviewerError, match="has no spike_times"):
        SpikeTrainSource.from_path(nwb_file, "/intervals/trials")


def test_has_units_and_trials_tables(nwb_file, tmp_path) -> None:
    assert has_units_table(nwb_file) and has_trials_table(nwb_file)
    path = tmp_path / "bare.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("units", data=[1, 2, 3])  # a dataset, not the Units table
        f.create_group("intervals/epochs")
    bare = open_nwb(path)
    try:
        assert not has_units_table(bare) and not has_trials_table(bare)
    finally:
        bare.close()
