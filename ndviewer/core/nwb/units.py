"""Spike trains of a Units table: windowed raster queries, firing rates, ISIs and waveforms.

A Units table keeps every unit's spike times run together in one ``spike_times`` dataset, cut
per unit by ``spike_times_index``. A raster of 1 000 units and 10^7 spikes is therefore one
long read, which this module does in bounded chunks and reduces straight away to what a
display needs: spike counts per (unit, pixel column), or the spike times of a few units in a
window. Spike trains are assumed to be sorted within each unit (NWB best practice); queries
stay correct when they are not, only ``time_range`` then relies on the first and last spikes.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import h5py
import numpy as np

from ndviewer.core.errors import NdviewerError
from ndviewer.core.nwb.tables import REGION, Column, Table

#: Spikes are read and binned this many at a time, so memory stays flat whatever the file.
CHUNK_VALUES = 1 << 18
#: A raster of this many spikes or more is binned by two threads, half the reads each
#: (fewer: the threads cost more than they save; measured on 100 scattered units).
PARALLEL_VALUES = 4 * CHUNK_VALUES

#: Derived sort keys offered next to the table's own columns.
SPIKE_COUNT = "spike count"
FIRING_RATE = "firing rate (Hz)"


@dataclass(frozen=True)
class RateCurve:
    """Firing rate over time of one unit: ``rates[i]`` spikes/s in [edges[i], edges[i+1])."""

    edges: np.ndarray
    rates: np.ndarray

    @property
    def centers(self) -> np.ndarray:
        return (self.edges[:-1] + self.edges[1:]) / 2


@dataclass(frozen=True)
class IsiHistogram:
    """Inter-spike interval histogram of one unit, with refractory-period violations.

    Attributes
    ----------
    edges, counts : numpy.ndarray
        ``counts[i]`` intervals fall in [edges[i], edges[i+1]) seconds.
    n_intervals : int
        All intervals of the unit (also those beyond the last edge).
    n_violations : int
        Intervals shorter than ``refractory`` seconds.
    """

    edges: np.ndarray
    counts: np.ndarray
    n_intervals: int
    n_violations: int
    refractory: float

    @property
    def violation_fraction(self) -> float:
        return self.n_violations / self.n_intervals if self.n_intervals else 0.0


class UnitsTable:
    """Spike-train access to a Units table (or any table with a ragged ``spike_times``)."""

    def __init__(self, table: Table) -> None:
        if "spike_times" not in table.column_names:
            raise NdviewerError(f"Table {table.path} has no spike_times column.")
        spike_times = table.column("spike_times")
        if spike_times.ragged_depth != 1 or spike_times.element_shape:
            raise NdviewerError(
                f"The spike_times column of {table.path} is not a ragged list of times."
            )
        self.table = table
        self.spike_column: Column = spike_times
        self._starts, self._ends = spike_times.bounds()
        self._time_range: tuple[float, float] | None = None
        self._durations: np.ndarray | None = None

    @classmethod
    def from_group(cls, group: h5py.Group) -> UnitsTable:
        return cls(Table(group))

    @property
    def path(self) -> str:
        return self.table.path

    @property
    def n_units(self) -> int:
        return self.table.n_rows

    @property
    def ids(self) -> np.ndarray:
        return self.table.ids()

    def spike_counts(self) -> np.ndarray:
        """Number of spikes of every unit (from the index alone)."""
        return self._ends - self._starts

    def _units(self, units: Sequence[int] | np.ndarray | None) -> np.ndarray:
        if units is None:
            return np.arange(self.n_units, dtype=np.int64)
        array = np.asarray(units, dtype=np.int64).reshape(-1)
        if array.size and (array.min() < 0 or array.max() >= self.n_units):
            raise NdviewerError(
                f"Unit row {int(array.max())} does not exist in {self.path}, which has "
                f"{self.n_units} units."
            )
        return array

    def spike_times(self, unit: int) -> np.ndarray:
        """All spike times of one unit (table row ``unit``), in seconds."""
        (row,) = self._units([unit])
        return np.asarray(self.spike_column.read_values(self._starts[row], self._ends[row]))

    # -- window queries ----------------------------------------------------------------------
    def _ranges(self, units: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(starts, ends, positions in ``units``) of the non-empty trains, in file order."""
        starts, ends = self._starts[units], self._ends[units]
        order = np.argsort(starts, kind="stable")
        keep = ends[order] > starts[order]
        order = order[keep]
        return starts[order], ends[order], order

    def _windows(self, starts: np.ndarray, ends: np.ndarray) -> list[tuple[int, int]]:
        """The bounded reads [lo, hi) covering the sorted [start, end) ranges: spans of nearly
        contiguous ranges, each cut in pieces of at most CHUNK_VALUES."""
        spans: list[list[int]] = []
        for s, e in zip(starts.tolist(), ends.tolist(), strict=True):
            if spans and s - spans[-1][1] <= 4096:
                spans[-1][1] = max(spans[-1][1], e)
            else:
                spans.append([s, e])
        return [
            (lo, min(lo + CHUNK_VALUES, span_hi))
            for span_lo, span_hi in spans
            for lo in range(span_lo, span_hi, CHUNK_VALUES)
        ]

    def _chunks(self, starts: np.ndarray, ends: np.ndarray, windows=None):
        """Yield (ranks, values) per bounded read covering the sorted [start, end) ranges.

        ``ranks`` index ``starts``; within one chunk they form one contiguous run, so callers
        can accumulate into a slice instead of the whole output.
        """
        ranks = np.arange(starts.size)
        for lo, hi in self._windows(starts, ends) if windows is None else windows:
            a = np.maximum(starts, lo)
            b = np.minimum(ends, hi)
            inside = b > a
            if not inside.any():
                continue
            data = self.spike_column.read_values(lo, hi)
            pieces = [data[x - lo : y - lo] for x, y in zip(a[inside], b[inside], strict=True)]
            yield np.repeat(ranks[inside], (b - a)[inside]), np.concatenate(pieces)

    def spikes_in_window(
        self, units: Sequence[int] | np.ndarray | None, t0: float, t1: float
    ) -> list[np.ndarray]:
        """Spike times in [t0, t1) of each unit, in the order of ``units``."""
        selected = self._units(units)
        starts, ends, positions = self._ranges(selected)
        found: list[list[np.ndarray]] = [[] for _ in range(selected.size)]
        for ranks, values in self._chunks(starts, ends):
            inside = (values >= t0) & (values < t1)
            ranks, values = ranks[inside], values[inside]
            if not ranks.size:
                continue
            cuts = np.flatnonzero(np.diff(ranks)) + 1  # ranks come in runs, one per unit
            for piece_ranks, piece in zip(
                np.split(ranks, cuts), np.split(values, cuts), strict=True
            ):
                found[int(positions[piece_ranks[0]])].append(piece)
        empty = np.zeros(0, dtype=self.spike_column.dtype)
        return [np.concatenate(parts) if parts else empty for parts in found]

    def raster_counts(
        self, units: Sequence[int] | np.ndarray | None, t0: float, t1: float, n_bins: int
    ) -> np.ndarray:
        """Spike counts per unit and time bin: shape (len(units), n_bins), bins over [t0, t1).

        This is what a raster of many spikes draws: one image row per unit, one column per
        pixel, so the cost of drawing does not grow with the number of spikes.
        """
        selected = self._units(units)
        if n_bins < 1 or not t1 > t0:
            raise NdviewerError(f"A raster of {self.path} needs n_bins >= 1 and t1 > t0.")
        starts, ends, positions = self._ranges(selected)
        scale = n_bins / (t1 - t0)

        def count(windows: list[tuple[int, int]]) -> np.ndarray:
            by_rank = np.zeros((starts.size, n_bins), dtype=np.int64)
            for ranks, values in self._chunks(starts, ends, windows):
                inside = (values >= t0) & (values < t1)
                if not inside.any():
                    continue
                ranks = ranks[inside]
                bins = ((values[inside] - t0) * scale).astype(np.int64)
                np.minimum(bins, n_bins - 1, out=bins)  # rounding at t1 - epsilon
                first, last = int(ranks[0]), int(ranks[-1])
                local = np.bincount(
                    (ranks - first) * n_bins + bins, minlength=(last - first + 1) * n_bins
                )
                by_rank[first : last + 1] += local.reshape(-1, n_bins)
            return by_rank

        windows = self._windows(starts, ends)
        if len(windows) < 2 or sum(hi - lo for lo, hi in windows) < PARALLEL_VALUES:
            by_rank = count(windows)
        else:
            # Two halves on two threads: numpy lets go of the GIL while it bins, so the
            # binning of one half overlaps the reading of the other.
            half = len(windows) // 2
            with ThreadPoolExecutor(2, thread_name_prefix="raster") as pool:
                parts = list(pool.map(count, (windows[:half], windows[half:])))
            by_rank = parts[0]
            by_rank += parts[1]
        counts = np.zeros((selected.size, n_bins), dtype=np.int64)
        counts[positions] = by_rank
        return counts

    # -- summaries ---------------------------------------------------------------------------
    def time_range(self) -> tuple[float, float]:
        """Observed time span (t0, t1): obs_intervals and spikes, t1 past the last spike.

        Queries are half-open, [t0, t1), so t1 is the next float after the last spike when
        that spike ends the span: a raster over ``time_range()`` shows every spike.
        """
        if self._time_range is not None:
            return self._time_range
        lo, hi = np.inf, -np.inf
        if "obs_intervals" in self.table.column_names:
            column = self.table.column("obs_intervals")
            if column.ragged_depth == 1 and column.n_values:
                intervals = column.read_values(0, column.n_values)
                lo, hi = float(np.nanmin(intervals)), float(np.nanmax(intervals))
        counts = self.spike_counts()
        has_spikes = counts > 0
        if has_spikes.any():
            firsts = self.spike_column.take_values(self._starts[has_spikes])
            lasts = self.spike_column.take_values(self._ends[has_spikes] - 1)
            lo = min(lo, float(np.min(firsts)))
            last_spike = float(np.max(lasts))
            if last_spike >= hi:  # just past the last spike, so [t0, t1) holds every spike
                hi = float(np.nextafter(last_spike, np.inf))
        if not np.isfinite(lo):
            lo, hi = 0.0, 1.0
        if hi <= lo:
            hi = lo + 1.0
        self._time_range = (lo, hi)
        return self._time_range

    def observed_durations(self) -> np.ndarray:
        """Seconds each unit was observed: the sum of its obs_intervals, else the table span."""
        if self._durations is None:
            self._durations = self._read_durations()
            self._durations.setflags(write=False)
        return self._durations

    def _read_durations(self) -> np.ndarray:
        t0, t1 = self.time_range()
        durations = np.full(self.n_units, t1 - t0, dtype=float)
        if "obs_intervals" in self.table.column_names:
            column = self.table.column("obs_intervals")
            if column.ragged_depth == 1:
                for row, intervals in enumerate(column.read()):
                    intervals = np.asarray(intervals, dtype=float).reshape(-1, 2)
                    if intervals.size:
                        durations[row] = float(np.sum(intervals[:, 1] - intervals[:, 0]))
        return durations

    def mean_firing_rates(self) -> np.ndarray:
        """Spikes per second of observed time for every unit (NaN when never observed)."""
        durations = self.observed_durations()
        with np.errstate(divide="ignore", invalid="ignore"):
            rates = self.spike_counts() / durations
        rates[~(durations > 0)] = np.nan
        return rates

    def firing_rate(
        self, unit: int, bin_size: float, t0: float | None = None, t1: float | None = None
    ) -> RateCurve:
        """Firing rate of one unit in bins of ``bin_size`` seconds over [t0, t1)."""
        if not bin_size > 0:
            raise NdviewerError(f"The firing-rate bin of {self.path} must be positive.")
        span = self.time_range()
        t0 = span[0] if t0 is None else t0
        t1 = span[1] if t1 is None else t1
        n_bins = max(1, int(np.ceil((t1 - t0) / bin_size - 1e-9)))
        edges = t0 + np.arange(n_bins + 1) * bin_size
        counts = self.raster_counts([unit], t0, edges[-1], n_bins)[0]
        return RateCurve(edges, counts / bin_size)

    def isi_histogram(
        self, unit: int, max_isi: float = 0.1, bin_size: float = 0.001, refractory: float = 0.0015
    ) -> IsiHistogram:
        """Histogram of one unit's inter-spike intervals up to ``max_isi`` seconds."""
        if not (max_isi > 0 and bin_size > 0):
            raise NdviewerError(f"The ISI histogram of {self.path} needs positive bins.")
        intervals = np.diff(np.sort(self.spike_times(unit)))
        n_bins = max(1, int(round(max_isi / bin_size)))
        edges = np.arange(n_bins + 1) * (max_isi / n_bins)
        counts, _ = np.histogram(intervals, bins=edges)
        return IsiHistogram(
            edges, counts, int(intervals.size), int(np.sum(intervals < refractory)), refractory
        )

    # -- waveforms ---------------------------------------------------------------------------
    def _optional_column(self, name: str) -> Column | None:
        return self.table.column(name) if name in self.table.column_names else None

    def waveform_mean(self, unit: int) -> np.ndarray | None:
        """Mean waveform, (n_samples,) or (n_samples, n_electrodes); None when absent."""
        column = self._optional_column("waveform_mean")
        if column is None or column.is_ragged:
            return None
        return np.asarray(column.read([unit])[0], dtype=float)

    def waveform_sd(self, unit: int) -> np.ndarray | None:
        column = self._optional_column("waveform_sd")
        if column is None or column.is_ragged:
            return None
        return np.asarray(column.read([unit])[0], dtype=float)

    def waveforms(self, unit: int) -> list[np.ndarray] | None:
        """Individual waveforms: one (n_electrodes, n_samples) array per spike; None if absent."""
        column = self._optional_column("waveforms")
        if column is None or column.ragged_depth != 2:
            return None
        return [np.asarray(spike, dtype=float) for spike in column.read([unit])[0]]

    def waveform_sampling_rate(self) -> float | None:
        """Samples per second of the waveforms (``sampling_rate`` of the waveform columns)."""
        for name in ("waveform_mean", "waveform_sd", "waveforms"):
            column = self._optional_column(name)
            rate = column.attribute("sampling_rate") if column is not None else None
            if rate is not None:
                return float(rate)
        return None

    # -- sorting -----------------------------------------------------------------------------
    def _electrode_table(self) -> tuple[Column, Table] | None:
        column = self._optional_column("electrodes")
        if column is None or column.element_kind != REGION or not column.target_table:
            return None
        target = self.table.group.file.get(column.target_table)
        try:
            return column, Table(target)
        except (NdviewerError, TypeError, AttributeError):
            return None

    def sort_key_names(self) -> list[str]:
        """Everything units can be ordered by: id, their columns, derived values, electrodes."""
        names = ["id", SPIKE_COUNT, FIRING_RATE]
        names += [c.name for c in self.table.columns if c.sortable and c.name != "spike_times"]
        electrodes = self._electrode_table()
        if electrodes is not None:
            column, target = electrodes
            names += [
                f"{column.name}.{c.name}"
                for c in target.columns
                if c.sortable and not c.is_ragged and c.element_kind != REGION
            ]
        return names

    def sort_keys(self, name: str) -> np.ndarray:
        """One key per unit for ``name`` (see ``sort_key_names``).

        ``electrodes.<column>`` takes the value of the unit's first electrode, so units can be
        ordered by depth along the probe when only the electrodes table knows it.
        """
        if name == SPIKE_COUNT:
            return self.spike_counts()
        if name == FIRING_RATE:
            return self.mean_firing_rates()
        if "." in name and name not in self.table.column_names:
            electrodes = self._electrode_table()
            prefix, _, target_column = name.partition(".")
            if electrodes is None or electrodes[0].name != prefix:
                raise NdviewerError(f"Units table {self.path} has no sort key {name}.")
            column, target = electrodes
            keys = target.sort_keys(target_column)
            if keys.dtype.kind == "S":  # UTF-8 keys of a small table: as text
                keys = np.strings.decode(keys, "utf-8", "replace")
            first = _first_values(column)
            out: Any = np.full(self.n_units, np.nan if keys.dtype.kind != "U" else "", keys.dtype)
            if keys.dtype.kind not in "U":
                out = out.astype(float)
            valid = (first >= 0) & (first < len(keys))
            out[valid] = keys[first[valid]]
            return out
        return self.table.sort_keys(name)


def _first_values(column: Column) -> np.ndarray:
    """The first value of each cell of a region column (-1 for empty cells)."""
    if not column.is_ragged:
        return np.asarray(column.read(), dtype=np.int64)
    starts, ends = column.bounds()
    out = np.full(starts.size, -1, dtype=np.int64)
    nonempty = ends > starts
    if nonempty.any():
        out[nonempty] = column.take_values(starts[nonempty]).astype(np.int64)
    return out
