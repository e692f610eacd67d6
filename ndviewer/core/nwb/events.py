"""Things that happen on a session's time axis, as Qt-free sources over a time window.

- :class:`IntervalSource` — a TimeIntervals table (trials, epochs, invalid_times, custom):
  start/stop times and a label per row, for shaded bands;
- :class:`SpikeTrainSource` — a Units table's ragged ``spike_times``, per unit, for rasters;
- :class:`EventSource` — point or short events: AnnotationSeries, IntervalSeries (on/off
  pairs), EventsTable (NWB 2.8+ core and ndx-events 0.4: ``timestamp`` and optional
  ``duration`` columns) and ndx-events 0.2 ``Events`` (timestamps only), for markers;
- :func:`find_time_overlays` — where those objects are in a file, and
  :func:`load_time_overlays` — all of them opened, from an :class:`NwbFile`;
- :func:`has_units_table`, :func:`has_trials_table` — whether a file has the usual ``/units``
  and ``/intervals/trials`` tables (one lookup, nothing read).

Every source can be built from an h5py group, a core ``Node`` or, with ``from_path``, an open
:class:`~ndviewer.core.model.files.NwbFile` and a path, so callers never handle h5py objects.

Every ``query(t0, t1)`` returns only what overlaps the window; memory holds the start/stop
columns of interval tables (small) and, for large Units tables, only the spike trains of the
units recently asked for.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import h5py
import numpy as np

from ndviewer.core.errors import NdviewerError
from ndviewer.core.model.files import NwbFile
from ndviewer.core.model.nodes import h5_object
from ndviewer.core.model.values import decode_text, decode_value

__all__ = [
    "EventBatch",
    "EventSource",
    "IntervalBatch",
    "IntervalSource",
    "SpikeTrainSource",
    "TimeOverlaySources",
    "TimeOverlays",
    "find_time_overlays",
    "has_trials_table",
    "has_units_table",
    "load_time_overlays",
]

#: Units tables with at most this many spikes are loaded whole; larger ones per unit, LRU.
_LOAD_ALL_SPIKES = 4_000_000
_SPIKE_CACHE_VALUES = 8_000_000


def _type_of(obj: h5py.HLObject) -> str | None:
    for key in ("neurodata_type", "data_type"):
        if key in obj.attrs:
            return decode_text(obj.attrs[key])
    return None


def _object_at(file: NwbFile, path: str) -> Any:
    """The object at ``path`` of an open file; NdviewerError naming both when there is none."""
    try:
        return file.h5[path]
    except KeyError:
        raise NdviewerError(f"{file.path} has no object at {path}.") from None


def _ragged_ends(group: h5py.Group, column: str) -> np.ndarray | None:
    """Exclusive end offsets of a ragged column (VectorIndex), as int64."""
    index = group.get(f"{column}_index")
    if not isinstance(index, h5py.Dataset):
        return None
    return np.asarray(index[()], dtype=np.int64)


def _text_column(group: h5py.Group, name: str, n_rows: int) -> list[str] | None:
    """A column as one string per row (ragged lists joined by ', ', numbers formatted)."""
    ds = group.get(name)
    if not isinstance(ds, h5py.Dataset) or ds.ndim != 1:
        return None
    values = ds[()]
    ends = _ragged_ends(group, name)
    if ends is not None:
        if ends.shape[0] != n_rows:
            return None
        starts = np.r_[0, ends[:-1]]
        return [
            ", ".join(str(decode_value(v)) for v in values[a:b])
            for a, b in zip(starts, ends, strict=True)
        ]
    if values.shape[0] != n_rows or values.dtype.kind == "V":
        return None
    if values.dtype.kind == "O" and values.size and isinstance(values[0], h5py.Reference):
        return None
    return [str(decode_value(v)) for v in values]


# ---------------------------------------------------------------------------------------------
# intervals
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class IntervalBatch:
    """Intervals overlapping a window: ``rows`` of the table, ``starts``, ``stops``, labels."""

    rows: np.ndarray
    starts: np.ndarray
    stops: np.ndarray
    labels: list[str] = field(default_factory=list)


class IntervalSource:
    """A TimeIntervals table as bands on the time axis.

    Parameters
    ----------
    group
        The TimeIntervals group (h5py group or core Node).
    label_column
        Column whose values label the bands; default: the first text column that is not
        ``tags`` or ``timeseries``, else ``tags``, else none.

    Attributes
    ----------
    path, name : str
    n_rows : int
    label_column : str or None
    starts, stops : numpy.ndarray
        All start/stop times (float64).
    """

    def __init__(self, group: Any, label_column: str | None = None) -> None:
        group = h5_object(group)
        if not isinstance(group, h5py.Group) or "start_time" not in group:
            raise NdviewerError(
                f"{getattr(group, 'name', group)} is not a table of time intervals."
            )
        self.path = group.name or ""
        self.name = self.path.rsplit("/", 1)[-1]
        self.starts = np.asarray(group["start_time"][()], dtype=np.float64).ravel()
        stops = group.get("stop_time")
        self.stops = (
            np.asarray(stops[()], dtype=np.float64).ravel()
            if isinstance(stops, h5py.Dataset)
            else self.starts.copy()
        )
        if self.stops.shape != self.starts.shape:
            raise NdviewerError(
                f"{self.path} has {self.starts.size} start times but {self.stops.size} stop times."
            )
        self.n_rows = int(self.starts.size)
        self.label_column = label_column or self._default_label_column(group)
        self._labels = (
            _text_column(group, self.label_column, self.n_rows) if self.label_column else None
        )
        # intervals sorted by start; the longest interval bounds how far back one can reach
        self._order = np.argsort(self.starts, kind="stable")
        self._sorted_starts = self.starts[self._order]
        durations = self.stops - self.starts
        self._max_duration = float(np.nan_to_num(durations, nan=0.0).max()) if self.n_rows else 0.0

    @classmethod
    def from_path(cls, file: NwbFile, path: str, label_column: str | None = None) -> IntervalSource:
        """The TimeIntervals table at ``path`` of an open file (NdviewerError if none)."""
        return cls(_object_at(file, path), label_column)

    @staticmethod
    def _default_label_column(group: h5py.Group) -> str | None:
        names = [decode_text(c) for c in np.atleast_1d(group.attrs.get("colnames", []))]
        skip = {"start_time", "stop_time", "tags", "timeseries"}
        for name in names:
            ds = group.get(name)
            if name in skip or not isinstance(ds, h5py.Dataset):
                continue
            if ds.dtype.kind in "OSU" and not h5py.check_dtype(ref=ds.dtype):
                return name
        return "tags" if "tags" in group else None

    def query(self, t0: float, t1: float) -> IntervalBatch:
        """Rows with ``start < t1`` and ``stop > t0`` (an instant at ``t0`` counts too)."""
        hi = int(np.searchsorted(self._sorted_starts, t1, side="left"))
        lo = int(np.searchsorted(self._sorted_starts, t0 - self._max_duration, side="left"))
        rows = self._order[lo:hi]
        keep = self.stops[rows] >= t0
        rows = np.sort(rows[keep])
        labels = [self._labels[r] for r in rows] if self._labels is not None else [""] * rows.size
        return IntervalBatch(rows, self.starts[rows], self.stops[rows], labels)


# ---------------------------------------------------------------------------------------------
# spikes
# ---------------------------------------------------------------------------------------------
class SpikeTrainSource:
    """A Units table's spike trains, queried per window and per range of units.

    Attributes
    ----------
    path : str
    n_units : int
    unit_ids : numpy.ndarray
        The table's ``id`` column.
    labels : list of str
        ``id`` plus, when the table has one, the ``quality`` or ``label`` text.
    """

    def __init__(self, group: Any) -> None:
        group = h5_object(group)
        if not isinstance(group, h5py.Group) or "spike_times" not in group:
            raise NdviewerError(f"{getattr(group, 'name', group)} has no spike_times column.")
        self.path = group.name or ""
        self._times_ds = group["spike_times"]
        ends = _ragged_ends(group, "spike_times")
        if ends is None:  # one spike per unit (not ragged)
            ends = np.arange(1, self._times_ds.shape[0] + 1, dtype=np.int64)
        self._ends = ends
        self._starts = np.r_[0, ends[:-1]].astype(np.int64)
        self.n_units = int(ends.shape[0])
        ids = group.get("id")
        self.unit_ids = (
            np.asarray(ids[()], dtype=np.int64)
            if isinstance(ids, h5py.Dataset)
            else np.arange(self.n_units)
        )
        extra = None
        for column in ("quality", "label"):
            extra = _text_column(group, column, self.n_units)
            if extra is not None:
                break
        self.labels = [
            f"{uid}" + (f" {extra[i]}" if extra is not None and extra[i] else "")
            for i, uid in enumerate(self.unit_ids)
        ]
        total = int(ends[-1]) if self.n_units else 0
        self._all = (
            np.asarray(self._times_ds[()], dtype=np.float64) if total <= _LOAD_ALL_SPIKES else None
        )
        self._cache: OrderedDict[int, np.ndarray] = OrderedDict()
        self._cached_values = 0
        self._lock = threading.Lock()

    @classmethod
    def from_path(cls, file: NwbFile, path: str) -> SpikeTrainSource:
        """The Units table at ``path`` of an open file (NdviewerError if none)."""
        return cls(_object_at(file, path))

    def train(self, unit: int) -> np.ndarray:
        """All spike times of unit ``unit`` (row index), sorted as stored."""
        a, b = int(self._starts[unit]), int(self._ends[unit])
        if self._all is not None:
            return self._all[a:b]
        with self._lock:
            cached = self._cache.get(unit)
            if cached is not None:
                self._cache.move_to_end(unit)
                return cached
        values = np.asarray(self._times_ds[a:b], dtype=np.float64)
        with self._lock:
            self._cache[unit] = values
            self._cached_values += values.size
            while self._cached_values > _SPIKE_CACHE_VALUES and len(self._cache) > 1:
                _, dropped = self._cache.popitem(last=False)
                self._cached_values -= dropped.size
        return values

    def query(self, t0: float, t1: float, units: Iterable[int] | None = None) -> list[np.ndarray]:
        """Spike times in ``[t0, t1)`` of each unit in ``units`` (default all), in order."""
        units = range(self.n_units) if units is None else units
        out = []
        for u in units:
            train = self.train(int(u))
            a, b = np.searchsorted(train, [t0, t1], side="left")
            out.append(train[a:b])
        return out

    @property
    def time_range(self) -> tuple[float, float] | None:
        """First and last spike time of the table (None when there are no spikes)."""
        if self._all is not None:
            return (float(self._all.min()), float(self._all.max())) if self._all.size else None
        firsts = [self.train(u)[:1] for u in range(self.n_units)]
        lasts = [self.train(u)[-1:] for u in range(self.n_units)]
        values = np.concatenate(firsts + lasts) if firsts else np.empty(0)
        return (float(values.min()), float(values.max())) if values.size else None


# ---------------------------------------------------------------------------------------------
# events
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class EventBatch:
    """Events in a window: times, durations (NaN for instants) and labels."""

    times: np.ndarray
    durations: np.ndarray
    labels: list[str] = field(default_factory=list)


class EventSource:
    """Markers from an AnnotationSeries, IntervalSeries, EventsTable or ndx-events Events.

    Attributes
    ----------
    path, name : str
    kind : str
        ``"annotation"``, ``"intervals"`` (IntervalSeries on/off pairs), ``"table"`` or
        ``"timestamps"``.
    times, durations : numpy.ndarray
        Sorted event times and their durations (NaN for instants).
    labels : list of str
    """

    def __init__(self, group: Any) -> None:
        group = h5_object(group)
        if not isinstance(group, h5py.Group):
            raise NdviewerError(f"{getattr(group, 'name', group)} is not a group of events.")
        self.path = group.name or ""
        self.name = self.path.rsplit("/", 1)[-1]
        neurodata_type = _type_of(group) or ""
        if "timestamp" in group:  # EventsTable (core 2.8+, ndx-events 0.4)
            self.kind = "table"
            times = np.asarray(group["timestamp"][()], dtype=np.float64)
            dur = group.get("duration")
            durations = (
                np.asarray(dur[()], dtype=np.float64)
                if isinstance(dur, h5py.Dataset) and dur.shape == times.shape
                else np.full(times.shape, np.nan)
            )
            labels = self._table_labels(group, times.size)
        elif "timestamps" in group:
            times = np.asarray(group["timestamps"][()], dtype=np.float64)
            data = group.get("data")
            values = data[()] if isinstance(data, h5py.Dataset) else None
            is_interval_series = values is not None and (
                neurodata_type == "IntervalSeries"
                or (
                    values.dtype.kind in "iu"
                    and values.shape == times.shape
                    and set(np.unique(values).tolist()) <= {-1, 1}
                )
            )
            if is_interval_series:
                self.kind = "intervals"
                times, durations, labels = self._pair_intervals(times, np.asarray(values))
            else:
                self.kind = "annotation" if values is not None else "timestamps"
                durations = np.full(times.shape, np.nan)
                if values is not None and values.shape[:1] == times.shape and values.ndim == 1:
                    labels = [str(decode_value(v)) for v in values]
                else:
                    labels = [""] * times.size
        else:
            raise NdviewerError(f"{self.path} has no event times (timestamp or timestamps).")
        order = np.argsort(times, kind="stable")
        self.times = times[order]
        self.durations = durations[order]
        self.labels = [labels[i] for i in order]
        finite = np.nan_to_num(self.durations, nan=0.0)
        self._max_duration = float(finite.max()) if finite.size else 0.0

    @classmethod
    def from_path(cls, file: NwbFile, path: str) -> EventSource:
        """The events object at ``path`` of an open file (NdviewerError if none)."""
        return cls(_object_at(file, path))

    @staticmethod
    def _table_labels(group: h5py.Group, n: int) -> list[str]:
        names = [decode_text(c) for c in np.atleast_1d(group.attrs.get("colnames", []))]
        for name in names:
            if name in ("timestamp", "duration"):
                continue
            labels = _text_column(group, name, n)
            if labels is not None:
                return labels
        return [""] * n

    @staticmethod
    def _pair_intervals(
        times: np.ndarray, values: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, list[str]]:
        """IntervalSeries: +1 marks a start, -1 the stop of the interval it opened."""
        starts, durations = [], []
        open_at: float | None = None
        for t, v in zip(times.tolist(), values.tolist(), strict=True):
            if v > 0:
                if open_at is not None:  # a start without stop: keep it as an instant
                    starts.append(open_at)
                    durations.append(np.nan)
                open_at = t
            elif v < 0 and open_at is not None:
                starts.append(open_at)
                durations.append(t - open_at)
                open_at = None
        if open_at is not None:
            starts.append(open_at)
            durations.append(np.nan)
        return np.asarray(starts, float), np.asarray(durations, float), [""] * len(starts)

    def query(self, t0: float, t1: float) -> EventBatch:
        """Events that start before ``t1`` and end (or happen) at or after ``t0``."""
        lo = int(np.searchsorted(self.times, t0 - self._max_duration, side="left"))
        hi = int(np.searchsorted(self.times, t1, side="left"))
        times = self.times[lo:hi]
        durations = self.durations[lo:hi]
        ends = times + np.nan_to_num(durations, nan=0.0)
        keep = ends >= t0
        idx = np.flatnonzero(keep) + lo
        return EventBatch(self.times[idx], self.durations[idx], [self.labels[i] for i in idx])


# ---------------------------------------------------------------------------------------------
# discovery
# ---------------------------------------------------------------------------------------------
@dataclass
class TimeOverlays:
    """Paths of the objects a trace view can overlay, by kind."""

    intervals: list[str] = field(default_factory=list)
    units: list[str] = field(default_factory=list)
    events: list[str] = field(default_factory=list)


_EVENT_TYPES = ("AnnotationSeries", "IntervalSeries", "EventsTable", "Events", "TTLs")


def find_time_overlays(
    h5: h5py.File,
    is_a: Callable[[str, str], bool] | None = None,
    entries: Iterable[tuple[str, str | None]] | None = None,
    max_groups: int = 20_000,
) -> TimeOverlays:
    """Find TimeIntervals, Units and event objects anywhere in a file.

    Parameters
    ----------
    h5
        The open file.
    is_a
        ``is_a(type, base)`` from the file's catalogue, so extension subtypes are found; by
        default a type matches only the base's own name.
    entries
        ``(path, neurodata_type)`` pairs of typed groups when an index is already at hand;
        otherwise the groups are walked (``specifications`` and ``general`` skipped; at most
        ``max_groups`` visited).
    """
    is_a = is_a or (lambda t, base: t == base)
    if entries is None:
        entries = _walk_typed_groups(h5, max_groups)
    found = TimeOverlays()
    for path, neurodata_type in entries:
        if not neurodata_type:
            continue
        if is_a(neurodata_type, "TimeIntervals"):
            found.intervals.append(path)
        elif is_a(neurodata_type, "Units"):
            found.units.append(path)
        elif any(is_a(neurodata_type, base) for base in _EVENT_TYPES):
            found.events.append(path)
    return found


@dataclass
class TimeOverlaySources:
    """The overlays of a file, opened: interval tables, event objects and one Units table."""

    intervals: list[IntervalSource] = field(default_factory=list)
    events: list[EventSource] = field(default_factory=list)
    units: SpikeTrainSource | None = None


#: What opening one overlay object may raise; such an object is skipped.
_UNREADABLE = (NdviewerError, KeyError, OSError, ValueError)


def load_time_overlays(
    file: NwbFile,
    is_a: Callable[[str, str], bool] | None = None,
    entries: Iterable[tuple[str, str | None]] | None = None,
) -> TimeOverlaySources:
    """Find (as :func:`find_time_overlays`) and open every overlay of an open file.

    Objects that cannot be read are skipped; of several Units tables the first readable one
    is used. ``is_a`` and ``entries`` are passed to :func:`find_time_overlays`.
    """
    found = find_time_overlays(file.h5, is_a, entries)
    loaded = TimeOverlaySources()
    for path in found.intervals:
        try:
            loaded.intervals.append(IntervalSource.from_path(file, path))
        except _UNREADABLE:
            continue
    for path in found.events:
        try:
            loaded.events.append(EventSource.from_path(file, path))
        except _UNREADABLE:
            continue
    for path in found.units:
        try:
            loaded.units = SpikeTrainSource.from_path(file, path)
            break
        except _UNREADABLE:
            continue
    return loaded


def _is_group(file: NwbFile, path: str) -> bool:
    """True when ``path`` of an open file is a group; False if absent or unreadable."""
    try:
        return isinstance(file.h5.get(path), h5py.Group)
    except (OSError, KeyError, ValueError):
        return False


def has_units_table(file: NwbFile) -> bool:
    """True when the file has the usual Units table, a group at ``/units`` (nothing is read)."""
    return _is_group(file, "/units")


def has_trials_table(file: NwbFile) -> bool:
    """True when the file has a trials table, a group at ``/intervals/trials`` (nothing read)."""
    return _is_group(file, "/intervals/trials")


def _walk_typed_groups(h5: h5py.File, max_groups: int) -> list[tuple[str, str | None]]:
    out: list[tuple[str, str | None]] = []
    queue = [h5]
    seen = 0
    while queue and seen < max_groups:
        group = queue.pop(0)
        for name in group:
            if group.name == "/" and name in ("specifications", "general"):
                continue
            try:
                obj = group.get(name)
            except (KeyError, OSError):
                continue
            if not isinstance(obj, h5py.Group):
                continue
            seen += 1
            neurodata_type = _type_of(obj)
            out.append((obj.name or "", neurodata_type))
            # descend into containers, not into the series and tables themselves
            if not any(key in obj for key in ("data", "id", "timestamps")):
                queue.append(obj)
    return out
