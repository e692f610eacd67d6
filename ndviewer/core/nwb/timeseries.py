"""TimeSeries as a data source: time axis, physical units, channel labels, windowed reads.

Everything a trace view needs from any neurodata type that is a TimeSeries (ElectricalSeries,
RoiResponseSeries, SpatialSeries, extension series...), read lazily from the file:

- the time axis, from ``starting_time`` + ``rate`` or from ``timestamps`` (binary search for
  windows, without loading large timestamp arrays: a coarse index narrows the search to one
  short read);
- physical values ``data * conversion * channel_conversion[c] + offset`` and the unit label;
- channel labels from the table a ``DynamicTableRegion`` member points into (``electrodes``
  for ecephys: id, location, group; ``rois`` for ophys);
- 1-D (one channel), 2-D and higher (trailing dimensions flattened into channels) data, NaN
  and empty series.

Bulk samples are read through :mod:`ndviewer.core.signal.lod.blocks`, one storage-aligned unit at a
time.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import cache
from typing import Any

import h5py
import numpy as np

from ndviewer.core.errors import NdviewerError
from ndviewer.core.model.nodes import OpenFile, h5_object
from ndviewer.core.model.values import decode_text, decode_value
from ndviewer.core.signal.lod.blocks import ArrayBlockReader, H5BlockReader

__all__ = [
    "Channel",
    "RegularTimeAxis",
    "SampledTimeAxis",
    "TimeAxis",
    "TimeSeriesSource",
    "plottable_channels",
    "si_prefix",
]

#: Timestamp arrays up to this many samples are held in memory; longer ones get a coarse index.
_FULL_TIMESTAMPS = 4_000_000
_COARSE_POINTS = 1_000_000


def _attr(obj: h5py.HLObject, name: str, default: Any = None) -> Any:
    try:
        value = obj.attrs[name]
    except (KeyError, OSError):
        return default
    return decode_value(value)


def plottable_channels(obj: Any) -> int | None:
    """Channels a trace view would stack for ``obj`` (a ``Node`` or h5py object), or None
    when it is no plottable series: a group whose ``data`` is a numeric (``iufb``) dataset of
    ndim >= 1. Channels are the product of the trailing dimensions; only metadata is read."""
    group = h5_object(obj)
    if not isinstance(group, h5py.Group):
        return None
    data = group.get("data")
    if not isinstance(data, h5py.Dataset) or data.dtype.kind not in "iufb" or data.ndim < 1:
        return None
    return int(np.prod(data.shape[1:], dtype=np.int64)) if data.ndim > 1 else 1


# ---------------------------------------------------------------------------------------------
# time axes
# ---------------------------------------------------------------------------------------------
class TimeAxis:
    """Times of the samples of a series, in session seconds.

    Attributes
    ----------
    n : int
        Number of samples.
    rate : float or None
        Sampling rate in Hz for regular axes, None for timestamped ones.
    """

    n: int
    rate: float | None = None

    @property
    def is_regular(self) -> bool:
        return self.rate is not None

    @property
    def t_start(self) -> float:
        """Time of the first sample (``starting_time`` for an empty regular series)."""
        raise NotImplementedError

    @property
    def t_stop(self) -> float:
        """Time of the last sample (``t_start`` for an empty series)."""
        raise NotImplementedError

    def index_at(self, t: float, side: str = "left") -> int:
        """First sample whose time is ``>= t`` (``side="left"``) or ``> t`` (``"right"``)."""
        raise NotImplementedError

    def times(self, i0: int, i1: int) -> np.ndarray:
        """Times of samples ``[i0, i1)`` as float64."""
        raise NotImplementedError

    def window(self, t0: float, t1: float) -> tuple[int, int]:
        """Sample range ``[i0, i1)`` of the samples with ``t0 <= time < t1``."""
        i0 = self.index_at(t0, "left")
        return i0, max(i0, self.index_at(t1, "left"))

    def time_of(self, i: int) -> float:
        """Time of sample ``i`` (clamped to the series)."""
        if self.n == 0:
            return self.t_start
        i = min(max(int(i), 0), self.n - 1)
        return float(self.times(i, i + 1)[0])


class RegularTimeAxis(TimeAxis):
    """Samples at ``starting_time + i / rate``."""

    def __init__(self, n: int, rate: float, starting_time: float = 0.0) -> None:
        if not rate > 0 or not math.isfinite(rate):
            raise ValueError(f"sampling rate must be a positive number, got {rate}")
        self.n = int(n)
        self.rate = float(rate)
        self.starting_time = float(starting_time)

    @property
    def t_start(self) -> float:
        return self.starting_time

    @property
    def t_stop(self) -> float:
        return self.starting_time + max(self.n - 1, 0) / self.rate

    def index_at(self, t: float, side: str = "left") -> int:
        x = (float(t) - self.starting_time) * self.rate
        k = math.ceil(x) if side == "left" else math.floor(x) + 1
        # guard against rounding: confirm with the exact sample times
        while k > 0 and self._cmp(k - 1, t, side):
            k -= 1
        while k < self.n and not self._cmp(k, t, side):
            k += 1
        return min(max(k, 0), self.n)

    def _cmp(self, i: int, t: float, side: str) -> bool:
        ti = self.starting_time + i / self.rate
        return ti >= t if side == "left" else ti > t

    def times(self, i0: int, i1: int) -> np.ndarray:
        return self.starting_time + np.arange(i0, i1, dtype=np.float64) / self.rate


class SampledTimeAxis(TimeAxis):
    """Samples at explicit, non-decreasing ``timestamps`` (an array or an h5py dataset).

    Short arrays are loaded; long ones are searched through a coarse index of every k-th
    timestamp plus one read of at most k values, so memory stays bounded.
    """

    def __init__(self, timestamps: np.ndarray | h5py.Dataset) -> None:
        self.n = int(timestamps.shape[0])
        self.rate = None
        self._ds: h5py.Dataset | None = None
        self._values: np.ndarray | None = None
        if isinstance(timestamps, h5py.Dataset) and self.n > _FULL_TIMESTAMPS:
            self._ds = timestamps
            self._stride = -(-self.n // _COARSE_POINTS)
            self._coarse = self._build_coarse(timestamps, self._stride)
        else:
            self._values = np.asarray(timestamps[()] if self.n else np.empty(0), dtype=np.float64)
            self._stride = 1
            self._coarse = self._values

    @staticmethod
    def _build_coarse(ds: h5py.Dataset, stride: int) -> np.ndarray:
        block = stride * max(1, (8 << 20) // (8 * stride))
        parts = [
            np.asarray(ds[i : min(i + block, ds.shape[0])], dtype=np.float64)[::stride]
            for i in range(0, ds.shape[0], block)
        ]
        return np.concatenate(parts)

    @property
    def t_start(self) -> float:
        return float(self._coarse[0]) if self.n else 0.0

    @property
    def t_stop(self) -> float:
        return self.time_of(self.n - 1) if self.n else 0.0

    def index_at(self, t: float, side: str = "left") -> int:
        if self._values is not None:
            return int(np.searchsorted(self._values, t, side=side))
        # the answer lies after coarse point j-1 and at or before coarse point j
        j = int(np.searchsorted(self._coarse, t, side=side))
        if j == 0:
            return 0
        lo = (j - 1) * self._stride
        hi = min(self.n, j * self._stride + 1)
        segment = self.times(lo, hi)
        return lo + int(np.searchsorted(segment, t, side=side))

    def times(self, i0: int, i1: int) -> np.ndarray:
        i0, i1 = max(0, i0), min(self.n, i1)
        if i1 <= i0:
            return np.empty(0, dtype=np.float64)
        if self._values is not None:
            return self._values[i0:i1]
        assert self._ds is not None
        return np.asarray(self._ds[i0:i1], dtype=np.float64)


# ---------------------------------------------------------------------------------------------
# channels and units
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Channel:
    """One column of a series, with what the linked table says about it.

    Attributes
    ----------
    index : int
        Column in the data.
    label : str
        Short label for axes (the electrode/ROI id when known, else the column index).
    row_id : int or None
        ``id`` of the table row (electrode, ROI) the column records, if any.
    location, group : str or None
        Electrode location and electrode group name, when the table has them.
    """

    index: int
    label: str
    row_id: int | None = None
    location: str | None = None
    group: str | None = None

    def describe(self) -> str:
        """One line for tooltips: ``ch 3 · id 12 · CA1 · shank0``."""
        parts = [f"ch {self.index}"]
        if self.row_id is not None:
            parts.append(f"id {self.row_id}")
        parts += [p for p in (self.location, self.group) if p]
        return " · ".join(parts)


@cache
def _column_names_table() -> dict[str, list[str]]:
    from ndviewer.paths import spec_dir

    raw = json.loads((spec_dir() / "column_names.json").read_text(encoding="utf-8"))
    return dict(raw["types"])


def column_names(neurodata_type: str | None, hierarchy: list[str]) -> list[str] | None:
    """Names of a series' data columns that its type implies and the file does not store
    (a SpatialSeries' x, y, z), through ``hierarchy`` (the type's ancestry, nearest first);
    None when no ancestor is listed in ``spec/column_names.json``."""
    table = _column_names_table()
    for type_name in hierarchy or ([neurodata_type] if neurodata_type else []):
        if type_name in table:
            return list(table[type_name])
    return None


_SI = [(1e-12, "p"), (1e-9, "n"), (1e-6, "µ"), (1e-3, "m"), (1.0, ""), (1e3, "k"), (1e6, "M")]
_BASE_UNITS = {
    "volts": "V",
    "volt": "V",
    "v": "V",
    "amperes": "A",
    "amps": "A",
    "a": "A",
    "meters": "m",
    "m": "m",
    "seconds": "s",
    "s": "s",
}


def unit_symbol(unit: str) -> str:
    """The SI symbol of a base-unit name (``volts`` → ``V``), else ``unit`` unchanged."""
    return _BASE_UNITS.get(unit.strip().lower(), unit.strip())


def si_prefix(unit: str, magnitude: float) -> tuple[str, float]:
    """Unit label and factor that show values of about ``magnitude`` as numbers near 1-1000.

    Only SI base-unit names are prefixed (``volts`` with 3e-5 → ``("µV", 1e6)``); any other
    unit is returned unchanged with factor 1.
    """
    symbol = _BASE_UNITS.get(unit.strip().lower())
    if symbol is None or not magnitude or not math.isfinite(magnitude):
        return unit, 1.0
    for scale, prefix in reversed(_SI):
        if abs(magnitude) >= scale:
            return prefix + symbol, 1.0 / scale
    return "p" + symbol, 1e12


# ---------------------------------------------------------------------------------------------
# the source
# ---------------------------------------------------------------------------------------------
class TimeSeriesSource:
    """Read-only view of one TimeSeries for plotting.

    Parameters
    ----------
    group
        The TimeSeries group (an ``h5py.Group`` or a core ``Node``).

    Attributes
    ----------
    path, name, neurodata_type : str
        Where the series is and what it is.
    time_axis : TimeAxis
        Sample times in session seconds.
    n_samples, n_channels : int
        Data length along time and number of (flattened) channels.
    unit : str
        Unit of the physical values (the ``unit`` attribute of ``data``).
    conversion, offset : float
        ``physical = data * conversion * channel_conversion[c] + offset``.
    channel_conversion : numpy.ndarray or None
        Per-channel factors (ElectricalSeries), if present.
    channels : list of Channel
        One entry per channel, labelled from the linked table when there is one.
    time_source : str
        ``"rate"``, ``"timestamps"`` or ``"index"`` (no time information: sample numbers).
    reader
        The block reader over ``data`` used by :mod:`ndviewer.core.signal.lod`.
    """

    def __init__(self, group: Any) -> None:
        group = h5_object(group)
        if not isinstance(group, h5py.Group) or "data" not in group:
            where = getattr(group, "name", group)
            raise NdviewerError(f"{where} is not a TimeSeries with a data dataset.")
        self._group = group
        self.path: str = group.name or ""
        self.name = self.path.rsplit("/", 1)[-1]
        self.neurodata_type: str = str(
            _attr(group, "neurodata_type", None) or _attr(group, "data_type", "TimeSeries")
        )
        data = group["data"]
        if not isinstance(data, h5py.Dataset) or data.dtype.kind not in "iufb":
            raise NdviewerError(
                f"{self.path}/data holds {getattr(data, 'dtype', 'no')} values, not numbers to "
                "plot."
            )
        if data.ndim == 0:
            raise NdviewerError(f"{self.path}/data is a single value, not a series.")
        self.data_shape = tuple(int(s) for s in data.shape)
        self.reader = H5BlockReader(data)
        self.n_samples = self.reader.n_samples
        self.n_channels = self.reader.n_channels
        self.dtype = self.reader.dtype
        self.unit = str(_attr(data, "unit", "") or "")
        self.conversion = float(_attr(data, "conversion", 1.0))
        self.offset = float(_attr(data, "offset", 0.0))
        self.resolution = float(_attr(data, "resolution", -1.0))
        self.channel_conversion = self._read_channel_conversion(group)
        self.time_axis, self.time_source = self._read_time_axis(group)
        self.channel_kind = "channel"  # what a column is: "electrode", "ROI" or "channel"
        self.channels = self._read_channels(group)

    # -- construction helpers -----------------------------------------------------------------
    @classmethod
    def from_numpy(
        cls,
        data: np.ndarray,
        *,
        rate: float | None = None,
        starting_time: float = 0.0,
        timestamps: np.ndarray | None = None,
        conversion: float = 1.0,
        offset: float = 0.0,
        channel_conversion: np.ndarray | None = None,
        unit: str = "",
        channels: list[Channel] | None = None,
        name: str = "series",
    ) -> TimeSeriesSource:
        """A source over an in-memory array (tests, derived signals)."""
        self = cls.__new__(cls)
        self._group = None
        self.path = f"/{name}"
        self.name = name
        self.neurodata_type = "TimeSeries"
        arr = np.asarray(data)
        self.data_shape = tuple(arr.shape)
        self.reader = ArrayBlockReader(arr)
        self.n_samples = self.reader.n_samples
        self.n_channels = self.reader.n_channels
        self.dtype = self.reader.dtype
        self.unit = unit
        self.conversion = float(conversion)
        self.offset = float(offset)
        self.resolution = -1.0
        self.channel_conversion = (
            None if channel_conversion is None else np.asarray(channel_conversion, np.float64)
        )
        if timestamps is not None:
            self.time_axis, self.time_source = SampledTimeAxis(np.asarray(timestamps)), "timestamps"
        elif rate is not None:
            self.time_axis = RegularTimeAxis(self.n_samples, rate, starting_time)
            self.time_source = "rate"
        else:
            self.time_axis, self.time_source = RegularTimeAxis(self.n_samples, 1.0, 0.0), "index"
        self.channels = channels or [Channel(i, str(i)) for i in range(self.n_channels)]
        self.channel_kind = (
            "electrode" if any(c.row_id is not None for c in self.channels) else ("channel")
        )
        return self

    def name_columns(self, names: list[str]) -> None:
        """Label columns that no table describes with ``names`` (a SpatialSeries' x, y, z)."""
        if any(c.row_id is not None for c in self.channels) or len(names) < self.n_channels:
            return
        self.channels = [Channel(i, names[i]) for i in range(self.n_channels)]
        self.channel_kind = "coordinate"

    @classmethod
    def from_path(cls, file: OpenFile, path: str) -> TimeSeriesSource:
        """The source for the TimeSeries at ``path`` of an open file (links are followed).

        Raises ``NdviewerError`` when nothing is there or it is not a TimeSeries with data.
        """
        group = file.h5.get(path)
        if group is None:
            raise NdviewerError(f"{path} does not exist in {file.h5.filename}.")
        return cls(group)

    def _read_channel_conversion(self, group: h5py.Group) -> np.ndarray | None:
        ds = group.get("channel_conversion")
        if not isinstance(ds, h5py.Dataset):
            return None
        values = np.asarray(ds[()], dtype=np.float64).ravel()
        if values.shape[0] != self.n_channels:
            return None  # malformed: ignore rather than mis-scale
        return values

    def _read_time_axis(self, group: h5py.Group) -> tuple[TimeAxis, str]:
        ts = group.get("timestamps")
        if isinstance(ts, h5py.Dataset) and ts.ndim == 1:
            if ts.shape[0] != self.n_samples:
                raise NdviewerError(
                    f"{self.path} has {ts.shape[0]} timestamps for {self.n_samples} samples."
                )
            return SampledTimeAxis(ts), "timestamps"
        st = group.get("starting_time")
        if isinstance(st, h5py.Dataset):
            rate = _attr(st, "rate", None)
            if rate is not None and float(rate) > 0:
                return RegularTimeAxis(self.n_samples, float(rate), float(st[()])), "rate"
        return RegularTimeAxis(self.n_samples, 1.0, 0.0), "index"

    def _read_channels(self, group: h5py.Group) -> list[Channel]:
        default = [Channel(i, str(i)) for i in range(self.n_channels)]
        region = None
        for name in ("electrodes", "rois"):
            candidate = group.get(name)
            if isinstance(candidate, h5py.Dataset) and candidate.ndim == 1:
                region = candidate
                break
        if region is None or region.shape[0] != self.n_channels:
            return default
        kind = "electrode" if region.name.rsplit("/", 1)[-1] == "electrodes" else "ROI"
        try:
            table = group.file[region.attrs["table"]]
            rows = np.asarray(region[()], dtype=np.int64)
            ids = np.asarray(table["id"][()], dtype=np.int64)[rows] if "id" in table else rows
            locations = _column_text(table, "location", rows)
            groups = _column_text(table, "group_name", rows)
            if groups is None:
                groups = _column_refnames(table, "group", rows)
        except (KeyError, OSError, ValueError, IndexError, TypeError):
            return default
        self.channel_kind = kind
        return [
            Channel(
                i,
                str(int(ids[i])),
                int(ids[i]),
                locations[i] if locations is not None else None,
                groups[i] if groups is not None else None,
            )
            for i in range(self.n_channels)
        ]

    # -- reading ---------------------------------------------------------------------------------
    @property
    def t_start(self) -> float:
        return self.time_axis.t_start

    @property
    def t_stop(self) -> float:
        return self.time_axis.t_stop

    def scale(self, channels: np.ndarray | None = None) -> np.ndarray:
        """Per-channel factor from stored values to physical units (float64)."""
        idx = np.arange(self.n_channels) if channels is None else np.asarray(channels, np.int64)
        factor = np.full(idx.shape[0], self.conversion, dtype=np.float64)
        if self.channel_conversion is not None:
            factor *= self.channel_conversion[idx]
        return factor

    def to_physical(
        self, raw: np.ndarray, channels: np.ndarray | None = None, dtype: Any = np.float64
    ) -> np.ndarray:
        """``raw * conversion * channel_conversion + offset`` for columns ``channels``."""
        out = raw.astype(dtype, copy=True)
        out *= self.scale(channels).astype(dtype)
        if self.offset:
            out += np.asarray(self.offset, dtype=dtype)
        return out

    def _channel_span(self, channels: np.ndarray | None) -> tuple[int, int, np.ndarray]:
        if channels is None:
            idx = np.arange(self.n_channels)
        else:
            idx = np.asarray(channels, dtype=np.int64)
        if idx.size == 0:
            return 0, 0, idx
        if idx.min() < 0 or idx.max() >= self.n_channels:
            raise IndexError(f"channel out of range 0..{self.n_channels - 1} in {self.path}")
        return int(idx.min()), int(idx.max()) + 1, idx

    def read(self, i0: int, i1: int, channels: np.ndarray | None = None) -> np.ndarray:
        """Stored values of samples ``[i0, i1)`` for ``channels`` (default all), 2-D."""
        c0, c1, idx = self._channel_span(channels)
        block = self.reader.read(max(0, i0), min(self.n_samples, i1), c0, c1)
        if idx.size and not (idx.size == c1 - c0 and np.all(np.diff(idx) == 1)):
            block = block[:, idx - c0]
        return block

    def read_physical(self, i0: int, i1: int, channels: np.ndarray | None = None) -> np.ndarray:
        """Physical values (float64) of samples ``[i0, i1)`` for ``channels``."""
        _, _, idx = self._channel_span(channels)
        return self.to_physical(self.read(i0, i1, idx), idx)

    def samples(
        self, t0: float, t1: float, channels: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Times and physical values of the samples with ``t0 <= time < t1``."""
        i0, i1 = self.time_axis.window(t0, t1)
        return self.time_axis.times(i0, i1), self.read_physical(i0, i1, channels)

    def robust_stats(
        self, i0: int, i1: int, channels: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Per-channel median and robust standard deviation (1.4826 × MAD), physical units.

        NaN samples are ignored; a channel with no finite sample gets NaN for both.
        """
        if np.dtype(self.dtype).kind in "iu" and np.dtype(self.dtype).itemsize <= 4:
            # integers: order statistics of the stored values, then the affine map to physical
            # units (the median and MAD commute with it): half the time of float64 work
            _, _, idx = self._channel_span(channels)
            stored = self.read(i0, i1, idx)
            if stored.shape[0] == 0:
                nan = np.full(stored.shape[1], np.nan)
                return nan, nan.copy()
            median2, mad2 = _doubled_median_and_mad(stored)
            factor = self.scale(idx)
            median = median2 / 2 * factor + float(self.offset or 0.0)
            return median, 1.4826 * (mad2 / 2) * np.abs(factor)
        values = self.read_physical(i0, i1, channels)
        if values.shape[0] == 0:
            nan = np.full(values.shape[1], np.nan)
            return nan, nan.copy()
        finite = np.isfinite(values)
        if finite.all():
            median = np.median(values, axis=0)
            mad = np.median(np.abs(values - median), axis=0)
        else:
            median = np.full(values.shape[1], np.nan)
            mad = np.full(values.shape[1], np.nan)
            for c in range(values.shape[1]):
                col = values[finite[:, c], c]
                if col.size:
                    median[c] = np.median(col)
                    mad[c] = np.median(np.abs(col - median[c]))
        return median, 1.4826 * mad

    def close(self) -> None:
        """Release the reader's file descriptor."""
        close = getattr(self.reader, "close", None)
        if close is not None:
            close()

    def __repr__(self) -> str:
        return (
            f"TimeSeriesSource({self.path!r}, {self.n_samples} samples × "
            f"{self.n_channels} channels, {self.time_source})"
        )


def _column_text(table: h5py.Group, name: str, rows: np.ndarray) -> list[str] | None:
    ds = table.get(name)
    if not isinstance(ds, h5py.Dataset) or ds.ndim != 1 or ds.dtype.kind not in "OSU":
        return None
    values = ds[()]
    return [decode_text(values[r]) for r in rows]


def _column_refnames(table: h5py.Group, name: str, rows: np.ndarray) -> list[str] | None:
    ds = table.get(name)
    if not isinstance(ds, h5py.Dataset) or ds.ndim != 1:
        return None
    refs = ds[()]
    names: dict[Any, str] = {}
    out = []
    for r in rows:
        ref = refs[r]
        if ref not in names:
            try:
                names[ref] = (table.file[ref].name or "").rsplit("/", 1)[-1]
            except (KeyError, ValueError, OSError, TypeError):
                names[ref] = ""
        out.append(names[ref] or None)
    return out


def _doubled_median_and_mad(stored: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Twice the per-column median and twice the median absolute deviation of an integer
    ``(samples, channels)`` array, exactly (doubling keeps half-integer medians integral)."""
    # 8- and 16-bit samples: doubled deviations fit in int32, whose partitions are faster
    work = np.int32 if stored.dtype.itemsize <= 2 else np.int64
    values = np.ascontiguousarray(stored.T).astype(work)
    n = values.shape[1]
    k = n // 2

    def doubled_middle(a: np.ndarray) -> np.ndarray:
        if n % 2:
            return 2 * np.partition(a, k, axis=1)[:, k].astype(np.int64)
        part = np.partition(a, [k - 1, k], axis=1)
        return part[:, k - 1].astype(np.int64) + part[:, k]

    median2 = doubled_middle(values)
    values *= 2  # in place: the doubled deviations, |2v - 2·median|
    values -= median2.astype(work)[:, None]
    np.abs(values, out=values)
    mad4 = doubled_middle(values)  # twice the median of doubled deviations
    return median2.astype(np.float64), mad4.astype(np.float64) / 2
