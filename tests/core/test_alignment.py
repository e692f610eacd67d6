"""Trial alignment and PSTHs against brute-force loops over trials and events."""

from __future__ import annotations

import numpy as np
import pytest

from ndviewer.core.errors import NdviewerError
from ndviewer.core.model.files import open_nwb
from ndviewer.core.nwb.alignment import (
    align_events,
    align_samples,
    alignment_role,
    bin_edges,
    group_labels,
    group_means,
    group_trials,
    grouping_columns,
    psth,
    reference_times,
    time_columns,
)
from ndviewer.core.nwb.tables import Table
from ndviewer.core.nwb.timeseries import TimeSeriesSource
from tests.core.tables_fixtures import write_tables_file


@pytest.fixture(scope="module")
def tables_path(tmp_path_factory):
    return write_tables_file(tmp_path_factory.mktemp("alignment") / "tables.nwb")


@pytest.fixture(scope="module")
def trials(tables_path):
    with open_nwb(tables_path) as file:
        yield Table(file.h5["/intervals/trials"])


@pytest.fixture(scope="module")
def events():
    rng = np.random.default_rng(3)
    return rng.uniform(0, 60, 3000)  # deliberately unsorted


@pytest.fixture(scope="module")
def references():
    refs = np.arange(2.0, 58.0, 2.7)
    refs[4] = np.nan
    return refs


def test_align_events_matches_loop(events, references):
    aligned = align_events(events, references, (-0.4, 1.1))
    assert aligned.n_trials == references.size
    assert aligned.valid.tolist() == np.isfinite(references).tolist()
    for k, ref in enumerate(references):
        mine = np.sort(aligned.relative_times[aligned.trials == k])
        if np.isnan(ref):
            assert mine.size == 0
            continue
        expected = np.sort(events[(events >= ref - 0.4) & (events < ref + 1.1)] - ref)
        np.testing.assert_allclose(mine, expected, rtol=0, atol=1e-12)
    assert aligned.counts_per_trial().sum() == aligned.relative_times.size


def test_psth_matches_loop(events, references):
    groups = ["a" if k % 3 else "b" for k in range(references.size)]
    aligned = align_events(events, references, (-0.5, 1.0))
    result = psth(aligned, 0.25, groups)
    assert result.labels == ["a", "b"]
    np.testing.assert_allclose(result.edges, [-0.5, -0.25, 0.0, 0.25, 0.5, 0.75, 1.0])
    per_trial = np.zeros((references.size, 6))
    for k, ref in enumerate(references):
        if np.isfinite(ref):
            per_trial[k] = np.histogram(events - ref, bins=result.edges)[0]
    np.testing.assert_array_equal(result.trial_counts, per_trial)
    for g, label in enumerate(result.labels):
        members = np.array([grp == label for grp in groups]) & np.isfinite(references)
        rates = per_trial[members] / 0.25
        assert result.n_trials[g] == members.sum()
        np.testing.assert_allclose(result.rates[g], rates.mean(axis=0))
        np.testing.assert_allclose(
            result.sem[g], rates.std(axis=0, ddof=1) / np.sqrt(members.sum())
        )


def test_psth_single_group_and_include(events, references):
    aligned = align_events(events, references, (0.0, 1.0))
    include = np.arange(references.size) < 5
    result = psth(aligned, 0.5, include=include)
    assert result.labels == ["all trials"]
    assert result.n_trials.tolist() == [4]  # trials 0-4 minus the NaN one
    expected = result.trial_counts[[0, 1, 2, 3]].mean(axis=0) / 0.5
    np.testing.assert_allclose(result.rates[0], expected)


def test_group_trials_orders_numbers_numerically():
    names, group_of = group_trials([10, 2, 2.5, 10, True], 5)
    assert names == ["True", "2", "2.5", "10"]
    assert group_of.tolist() == [3, 1, 2, 3, 0]
    with pytest.raises(NdviewerError, match="3 group labels"):
        group_trials(["a", "b", "c"], 4)


def test_bin_edges_and_bad_windows():
    np.testing.assert_allclose(bin_edges((-1.0, 1.0), 0.3), -1.0 + 0.3 * np.arange(8))
    with pytest.raises(NdviewerError, match="must end after"):
        align_events(np.zeros(3), np.zeros(2), (1.0, -1.0))
    with pytest.raises(NdviewerError, match="positive"):
        bin_edges((0.0, 1.0), 0.0)
    with pytest.raises(NdviewerError, match="larger bin size"):
        bin_edges((0.0, 1000.0), 1e-6)


def _brute_force_bins(times, values, refs, edges):
    out = np.full((refs.size, edges.size - 1), np.nan)
    for k, ref in enumerate(refs):
        for i in range(edges.size - 1):
            inside = (times >= ref + edges[i]) & (times < ref + edges[i + 1])
            if inside.any():
                out[k, i] = values[inside].mean()
    return out


@pytest.mark.parametrize("timestamped", [False, True])
def test_align_samples_matches_brute_force(timestamped):
    rate = 100.0
    n = 2000
    data = np.stack([np.sin(np.arange(n) / 7.0), np.arange(n, dtype=float)], axis=1)
    if timestamped:
        times = np.cumsum(np.random.default_rng(1).uniform(0.005, 0.015, n))
        source = TimeSeriesSource.from_numpy(data, timestamps=times, conversion=2.0)
    else:
        times = 0.5 + np.arange(n) / rate
        source = TimeSeriesSource.from_numpy(data, rate=rate, starting_time=0.5, conversion=2.0)
    refs = np.array([1.0, 4.33, np.nan, 12.0])
    result = align_samples(source, refs, (-0.2, 0.3), 0.05, channel=1)
    expected = _brute_force_bins(times, 2.0 * data[:, 1], refs, result.edges)
    np.testing.assert_allclose(result.values, expected, rtol=1e-12)
    assert np.isnan(result.values[2]).all()
    with pytest.raises(NdviewerError, match="Channel 5"):
        align_samples(source, refs, (-0.2, 0.3), 0.05, channel=5)


def test_group_means_ignore_nan():
    values = np.array([[1.0, np.nan], [3.0, 4.0], [5.0, 6.0]])
    labels, means, sems = group_means(values, ["x", "x", "y"])
    assert labels == ["x", "y"]
    np.testing.assert_allclose(means, [[2.0, 4.0], [5.0, 6.0]])
    np.testing.assert_allclose(sems[0, 0], np.std([1.0, 3.0], ddof=1) / np.sqrt(2))
    assert np.isnan(sems[0, 1]) and np.isnan(sems[1]).all()


def test_trial_table_columns(trials):
    assert time_columns(trials) == ["start_time", "stop_time", "cue_time"]
    assert grouping_columns(trials) == ["condition", "correct"]
    np.testing.assert_allclose(reference_times(trials, "cue_time"), [0.5, 2.5, 4.5, 6.5, 8.5])
    assert group_labels(trials, "condition") == ["left", "right", "left", "right", "left"]
    assert group_labels(trials, "correct") == [False, True, True, False, True]
    assert group_labels(trials, None) is None
    with pytest.raises(NdviewerError, match="one time per trial"):
        reference_times(trials, "condition")
    with pytest.raises(NdviewerError, match="cannot be grouped"):
        group_labels(trials, "tags")


def test_alignment_role_from_the_table_layout(tables_path):
    with open_nwb(tables_path) as file:
        roles = {
            path: alignment_role(file.node(path))
            for path in (
                "/units",
                "/intervals/trials",
                "/general/extracellular_ephys/electrodes",
                "/acquisition/lfp_like",
                "/acquisition",
            )
        }
        assert alignment_role(file.h5["/units"]) == "units"  # an h5py group does as well
    assert roles == {
        "/units": "units",
        "/intervals/trials": "trials",
        "/general/extracellular_ephys/electrodes": None,  # a table without times
        "/acquisition/lfp_like": None,  # not a table
        "/acquisition": None,
    }
