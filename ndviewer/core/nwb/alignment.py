"""Trial alignment: spikes or samples around the times of a TimeIntervals table, and PSTHs.

A trial table gives one reference time per trial (``start_time``, ``stop_time`` or any other
time column such as ``cue_time``) and optionally a column to group trials by (condition,
correct, ...). Events are cut out of [reference + window[0], reference + window[1]) with two
binary searches per trial, so aligning 10^7 spikes to 1 000 trials costs 2 000 searches plus
the events that fall inside the windows, never a pass over all pairs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from ndviewer.core.errors import NdviewerError
from ndviewer.core.model.nodes import h5_object
from ndviewer.core.nwb.table_view import format_value
from ndviewer.core.nwb.tables import BOOL, ENUM, NUMBER, STRING, Table, is_table_group


@dataclass(frozen=True)
class AlignedEvents:
    """Events of all trials relative to each trial's reference time.

    Attributes
    ----------
    relative_times : numpy.ndarray
        Event time minus its trial's reference time, for every event in a window.
    trials : numpy.ndarray
        The trial (position in ``reference_times``) of each event.
    n_trials : int
        Number of reference times, including trials without events.
    window : tuple of float
        (before, after) in seconds relative to the reference, e.g. (-0.5, 1.0).
    valid : numpy.ndarray of bool
        Trials with a finite reference time (the others are left out of averages).
    """

    relative_times: np.ndarray
    trials: np.ndarray
    n_trials: int
    window: tuple[float, float]
    valid: np.ndarray

    def counts_per_trial(self) -> np.ndarray:
        return np.bincount(self.trials, minlength=self.n_trials)


@dataclass(frozen=True)
class Psth:
    """Peri-stimulus time histogram per trial group.

    Attributes
    ----------
    edges : numpy.ndarray
        Bin edges relative to the reference time (n_bins + 1).
    labels : list of str
        Group names (a single "all trials" group when there is no grouping).
    n_trials : numpy.ndarray
        Trials in each group.
    rates : numpy.ndarray
        (n_groups, n_bins) mean rate in events per second per trial.
    sem : numpy.ndarray
        (n_groups, n_bins) standard error of that mean across the group's trials.
    trial_counts : numpy.ndarray
        (n_trials, n_bins) event counts of each trial.
    """

    edges: np.ndarray
    labels: list[str]
    n_trials: np.ndarray
    rates: np.ndarray
    sem: np.ndarray
    trial_counts: np.ndarray

    @property
    def centers(self) -> np.ndarray:
        return (self.edges[:-1] + self.edges[1:]) / 2


@dataclass(frozen=True)
class AlignedSamples:
    """A sampled signal cut around each reference time and averaged in bins.

    ``values[k, i]`` is the mean of trial k's samples in [edges[i], edges[i+1]) (NaN when
    the bin holds no sample).
    """

    edges: np.ndarray
    values: np.ndarray

    @property
    def centers(self) -> np.ndarray:
        return (self.edges[:-1] + self.edges[1:]) / 2


class SampledSignal(Protocol):
    """What ``align_samples`` needs of a series (``timeseries.TimeSeriesSource`` has it)."""

    n_channels: int

    def samples(
        self, t0: float, t1: float, channels: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]: ...


def _check_window(window: tuple[float, float]) -> tuple[float, float]:
    before, after = float(window[0]), float(window[1])
    if not after > before:
        raise NdviewerError(
            f"The alignment window ({before:g} s, {after:g} s) must end after it starts."
        )
    return before, after


def bin_edges(window: tuple[float, float], bin_size: float) -> np.ndarray:
    """Edges from window[0] in steps of ``bin_size``; the last bin may end past window[1]."""
    before, after = _check_window(window)
    if not bin_size > 0:
        raise NdviewerError(f"The bin size must be positive (got {bin_size:g} s).")
    n_bins = max(1, int(np.ceil((after - before) / bin_size - 1e-9)))
    if n_bins > 100_000:
        raise NdviewerError(
            f"A {after - before:g} s window in {bin_size:g} s bins makes {n_bins} bins; "
            "choose a larger bin size."
        )
    return before + np.arange(n_bins + 1) * bin_size


def align_events(
    event_times: np.ndarray, reference_times: np.ndarray, window: tuple[float, float]
) -> AlignedEvents:
    """Events in [ref + window[0], ref + window[1]) of every reference time.

    Trials whose reference time is NaN get no events. ``event_times`` need not be sorted.
    """
    before, after = _check_window(window)
    events = np.asarray(event_times, dtype=float).ravel()
    if events.size > 1 and np.any(np.diff(events) < 0):
        events = np.sort(events)
    references = np.asarray(reference_times, dtype=float).ravel()
    valid = np.isfinite(references)
    lo = np.zeros(references.size, dtype=np.int64)
    hi = np.zeros(references.size, dtype=np.int64)
    lo[valid] = np.searchsorted(events, references[valid] + before, side="left")
    hi[valid] = np.searchsorted(events, references[valid] + after, side="left")
    lengths = hi - lo
    trials = np.repeat(np.arange(references.size), lengths)
    # positions lo[k], lo[k]+1, ..., hi[k]-1 for every trial, without a Python loop
    offsets = np.arange(trials.size) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    positions = np.repeat(lo, lengths) + offsets
    relative = events[positions] - references[trials]
    return AlignedEvents(relative, trials, int(references.size), (before, after), valid)


def group_trials(
    labels: Sequence[Any] | np.ndarray | None, n_trials: int
) -> tuple[list[str], np.ndarray]:
    """(group names, group of each trial): groups sorted by name, numbers numerically."""
    if labels is None:
        return ["all trials"], np.zeros(n_trials, dtype=np.int64)
    values = list(labels)
    if len(values) != n_trials:
        raise NdviewerError(f"{len(values)} group labels were given for {n_trials} trials.")
    numeric = all(
        isinstance(v, int | float | np.integer | np.floating | bool | np.bool_) for v in values
    )
    texts = [format_value(v) for v in values]
    if numeric:
        unique = sorted(set(zip((float(v) for v in values), texts, strict=True)))
        names = list(dict.fromkeys(text for _, text in unique))
    else:
        names = sorted(set(texts))
    index = {name: k for k, name in enumerate(names)}
    return names, np.array([index[t] for t in texts], dtype=np.int64)


def psth(
    aligned: AlignedEvents,
    bin_size: float,
    groups: Sequence[Any] | np.ndarray | None = None,
    include: np.ndarray | None = None,
) -> Psth:
    """Mean event rate per group of trials around the reference time.

    Parameters
    ----------
    aligned : AlignedEvents
        Events from ``align_events``.
    bin_size : float
        Bin width in seconds.
    groups : sequence, optional
        One label per trial (e.g. the ``condition`` column); one group when omitted.
    include : numpy.ndarray of bool, optional
        Trials to count; trials without a finite reference time are never counted.
    """
    edges = bin_edges(aligned.window, bin_size)
    n_bins = edges.size - 1
    # searchsorted, not floor division: an event on an edge goes to the bin it starts
    bins = np.searchsorted(edges, aligned.relative_times, side="right") - 1
    inside = (bins >= 0) & (bins < n_bins)
    bins = bins[inside]
    trial_counts = np.bincount(
        aligned.trials[inside] * n_bins + bins, minlength=aligned.n_trials * n_bins
    ).reshape(aligned.n_trials, n_bins)
    labels, group_of = group_trials(groups, aligned.n_trials)
    keep = aligned.valid.copy()
    if include is not None:
        keep &= np.asarray(include, dtype=bool)
    rates = np.full((len(labels), n_bins), np.nan)
    sem = np.full((len(labels), n_bins), np.nan)
    n_trials = np.zeros(len(labels), dtype=np.int64)
    for k in range(len(labels)):
        members = trial_counts[(group_of == k) & keep] / bin_size
        n_trials[k] = members.shape[0]
        if members.shape[0]:
            rates[k] = members.mean(axis=0)
        if members.shape[0] > 1:
            sem[k] = members.std(axis=0, ddof=1) / np.sqrt(members.shape[0])
    return Psth(edges, labels, n_trials, rates, sem, trial_counts)


def align_samples(
    signal: SampledSignal,
    reference_times: np.ndarray,
    window: tuple[float, float],
    bin_size: float,
    channel: int = 0,
) -> AlignedSamples:
    """Mean of ``channel``'s samples in each bin around every reference time.

    Only the samples inside each trial's window are read, so a long recording costs the
    windows, not its length.
    """
    edges = bin_edges(window, bin_size)
    references = np.asarray(reference_times, dtype=float).ravel()
    values = np.full((references.size, edges.size - 1), np.nan)
    if not 0 <= channel < signal.n_channels:
        raise NdviewerError(
            f"Channel {channel} does not exist (the series has {signal.n_channels})."
        )
    channels = np.array([channel])
    for k, reference in enumerate(references):
        if not np.isfinite(reference):
            continue
        times, samples = signal.samples(reference + edges[0], reference + edges[-1], channels)
        if not times.size:
            continue
        # searchsorted, not floor division: a sample on an edge goes to the bin it starts
        bins = np.searchsorted(reference + edges, times, side="right") - 1
        samples = np.asarray(samples, dtype=float).reshape(times.size, -1)[:, 0]
        finite = np.isfinite(samples) & (bins >= 0) & (bins < edges.size - 1)
        sums = np.bincount(bins[finite], samples[finite], minlength=edges.size - 1)
        counts = np.bincount(bins[finite], minlength=edges.size - 1)
        with np.errstate(invalid="ignore", divide="ignore"):
            values[k] = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
    return AlignedSamples(edges, values)


def group_means(
    values: np.ndarray, groups: Sequence[Any] | np.ndarray | None = None
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """(labels, mean, sem) per group over trials (rows of ``values``), ignoring NaN."""
    labels, group_of = group_trials(groups, values.shape[0])
    means = np.full((len(labels), values.shape[1]), np.nan)
    sems = np.full_like(means, np.nan)
    for k in range(len(labels)):
        members = values[group_of == k]
        finite = np.isfinite(members)
        n = finite.sum(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            total = np.where(finite, members, 0.0).sum(axis=0)
            means[k] = np.where(n > 0, total / np.maximum(n, 1), np.nan)
            squares = np.where(finite, (members - means[k]) ** 2, 0.0).sum(axis=0)
            sems[k] = np.where(n > 1, np.sqrt(squares / np.maximum(n - 1, 1)) / np.sqrt(n), np.nan)
    return labels, means, sems


# -- reading trial tables -------------------------------------------------------------------


def alignment_role(obj: Any) -> str | None:
    """What a table brings to a trial alignment, from its layout alone.

    ``"units"``: spike trains to align (a ragged ``spike_times``, i.e. a ``spike_times_index``);
    ``"trials"``: reference times (a ``start_time`` column); None for neither, and for anything
    that is not a DynamicTable. ``obj`` is a core ``Node`` or its h5py object.
    """
    group = h5_object(obj)
    if not is_table_group(group):
        return None
    if "spike_times_index" in group:
        return "units"
    if "start_time" in group:
        return "trials"
    return None


def time_columns(table: Table) -> list[str]:
    """Columns a trial can be aligned to: one number per row (start_time, stop_time, cue...)."""
    return [
        c.name
        for c in table.columns
        if c.element_kind == NUMBER
        and not c.is_ragged
        and not c.element_shape
        and c.dtype.kind == "f"
    ]


def grouping_columns(table: Table) -> list[str]:
    """Columns trials can be grouped by: one string, enum, bool or integer value per row."""
    names = []
    for c in table.columns:
        if c.is_ragged or c.element_shape:
            continue
        if c.element_kind in (STRING, ENUM, BOOL) or (
            c.element_kind == NUMBER and c.dtype.kind in "iu"
        ):
            names.append(c.name)
    return names


def reference_times(table: Table, column: str) -> np.ndarray:
    """One reference time per trial from ``column`` (float seconds; NaN where missing)."""
    if column not in time_columns(table):
        raise NdviewerError(f"Column {column} of {table.path} does not hold one time per trial.")
    return np.asarray(table.column(column).read(), dtype=float)


def group_labels(table: Table, column: str | None) -> list[Any] | None:
    """The grouping value of every trial, or None to put all trials in one group."""
    if column is None:
        return None
    if column not in grouping_columns(table):
        raise NdviewerError(f"Trials of {table.path} cannot be grouped by column {column}.")
    values = table.column(column).read()
    return [v.item() if isinstance(v, np.generic) else v for v in values]
